# Unmodified programs written to VMware's protocol, from Debian's
# open-vm-tools, run as guests and get VMware's answers.
# cpuid-dependent: guest programs detect the hypervisor through cpuid
. "$(dirname "$0")/private-bus.sh"
. "$here/lib.sh"
. "$here/guest-info.sh"

command -v vmware-checkvm >/dev/null || die "open-vm-tools is not installed (installer/deps.sh installs it)"
hvlog=$BUILD/tests/e2e-11-hv.log
hv() { "$BIN/porthole-hv" run "$@" 2>>"$hvlog"; }

out=$(hv --name ovt1 -- vmware-checkvm)
assert_match "^VMware software version 6 \(good\)$" "$out" "vmware-checkvm reports a VMware hypervisor"
out=$(hv --name ovt1 -- vmware-checkvm -p)
assert_match "ESX" "$out" "vmware-checkvm -p names the product from the VMX type"

# porthole-rpc sets a value; the stock vmware-rpctool reads it back.
out=$(hv --name ovt2 -- sh -c "$GUEST_ENV $BIN/porthole-rpc 'info-set guestinfo.answer 42' >/dev/null &&
	vmware-rpctool 'info-get guestinfo.answer'")
assert_eq 42 "$out" "vmware-rpctool info-get prints the value set before"

start_vm ovt3 "$BUILD/tests/e2e-11-hv3.log" -- sh -c 'vmware-rpctool "info-set guestinfo.answer 41" && sleep 300'
wait_until 10 "guestinfo.answer" ctl info-get ovt3 guestinfo.answer
assert_eq 41 "$(ctl info-get ovt3 guestinfo.answer)" "vmware-rpctool info-set reaches porthole-ctl info-get"
ctl stop ovt3; wait_exit $LAST_HV

out=$(hv --name ovt4 -- sh -c 'vmware-rpctool "no.such.cmd" 2>&1; echo "exit=$?"')
assert_match "Unknown command" "$out" "vmware-rpctool shows our 'Unknown command' reply"
assert_match "exit=1" "$out" "and exits 1 as on VMware"

# The stock tools daemon itself: it attaches, registers, and answers TCLO.
gi_monitor "$BUILD/tests/e2e-11-monitor.log"
# Its guestInfo plugin gathers every 30 s by default: every 2 s here, so the
# test waits seconds, not minutes, for a first and a later report.  (Shared
# under /run, not /etc: a file shared into a host directory makes each of its
# entries a mount, 145 for /etc, more "disks" than a record may hold.)
conf5=$BUILD/tests/e2e-11-tools5.conf
printf '%s\n' '[guestinfo]' 'poll-interval = 2' >"$conf5"
start_vm ovt5 "$BUILD/tests/e2e-11-hv5.log" --share "$conf5:/run/porthole-e2e-tools5.conf" -- \
	vmtoolsd -c /run/porthole-e2e-tools5.conf
wait_until 15 "vmtoolsd running" sh -c "$BIN/porthole-ctl status ovt5 --raw | grep -q '^tools.status=running'"
st=$(ctl status ovt5)
echo "$st"
assert_match "Tools: +running, open-vm-tools [0-9.]+ build" "$st" "vmtoolsd runs as a guest and reports its version"
assert_match "guest_conf_directory" "$st" "vmtoolsd's capabilities are registered"
assert_eq "OK " "$(ctl tclo ovt5 ping)" "vmtoolsd answers a TCLO ping"
# Its guestInfo plugin leaves loopback out of what it reports: the trap
# engine's guest has eth0 (10.0.2.15/24) and its veth peer besides.
guest_nics=$(hv --name ovt6 -- sh -c 'ls /sys/class/net | grep -vcx lo' || true)
check_guest_info ovt5 vmtoolsd "$guest_nics" "10\.0\.2\.15/24"
refused=$(grep -h "guestinfo: .* refused\|embedded NUL" "$BUILD/tests/e2e-11-hv5.log" || true)
[ -z "$refused" ] || die "the hypervisor refused some of vmtoolsd's guest info: $refused"
ok "the hypervisor took all of vmtoolsd's guest info (no refusal logged)"
ctl stop ovt5; wait_exit $LAST_HV

# ---- What a VMware host pushes and answers at tools start (issue 14) ----
# vmtoolsd logs at debug level to a file the script prints at the end; the
# guest waits for the host's go-ahead (a file it sees through the
# read-only host tree) so the host can put its clock 30 s ahead first.
conf=$BUILD/tests/e2e-11-tools.conf
go=$BUILD/tests/e2e-11-go
log6=$BUILD/tests/e2e-11-hv6.log
rm -f "$go"
printf '%s\n' '[logging]' 'log = true' 'vmsvc.level = debug' 'vmsvc.handler = file' \
	'vmsvc.data = /tmp/vmsvc.log' >"$conf"
start_vm ovt6 "$log6" --share "$conf:/etc/porthole-e2e-tools.conf" -- sh -c "
	vmtoolsd -c /etc/porthole-e2e-tools.conf & tools=\$!
	while [ ! -e '$go' ]; do sleep 0.1; done
	for c in 'timesync status' 'timesync enable' 'timesync status' 'stat sessionid' \
		'stat speed' 'stat hosttime' 'stat memlimit' 'stat balloon' 'device list' \
		'timesync disable' 'timesync status'; do
		echo \"== \$c\"; vmware-toolbox-cmd \$c; echo \"exit=\$?\"
	done
	echo '== log'; cat /tmp/vmsvc.log; echo '== end'
	kill \$tools; sleep 300"
wait_until 15 "vmtoolsd running" sh -c "$BIN/porthole-ctl status ovt6 --raw | grep -q '^tools.status=running'"
assert_eq 0 "$(status_field ovt6 tools.synctime)" "synctime is off unless the VM runs with --sync-time"
ctl clock ovt6 --offset +30s >/dev/null
touch "$go"
wait_until 60 "the guest's toolbox commands ran" grep -q '^== end' "$log6"
# (The hypervisor's own messages share the log: left out.)
out=$(sed -n '/^== timesync status/,/^== log/p' "$log6" | grep -v '^porthole-hv-')
echo "$out"
vlog=$(sed -n '/^== log/,/^== end/p' "$log6")
# "== NAME\n<output>\nexit=N": the output and exit status of one command (the first of that name).
result() { awk -v c="== $1" '$0 == c { on = 1; next } on && /^exit=/ { print; exit } on { print }' <<<"$out" | head -${2:-2}; }
assert_eq "$(printf 'Disabled\nexit=69')" "$(result 'timesync status')" "timesync status says Disabled before enable (exit 69 as on VMware)"
assert_eq "$(printf 'Enabled\nexit=0')" "$(result 'timesync enable')" "timesync enable succeeds (vmx.set_option synctime 0 1)"
assert_match "== timesync enable
Enabled
exit=0
== timesync status
Enabled
exit=0" "$out" "timesync status then says Enabled"
assert_match "== timesync disable
Disabled
exit=0
== timesync status
Disabled
exit=69" "$out" "timesync disable, then status says Disabled"
assert_match "^0x[0-9a-f]+
exit=0$" "$(result 'stat sessionid')" "stat sessionid prints the session id (guestlib V3)"
assert_match "^[1-9][0-9]* MHz
exit=0$" "$(result 'stat speed')" "stat speed prints the MHz"
assert_match "^[0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8}
exit=0$" "$(result 'stat hosttime')" "stat hosttime prints the host's time"
assert_match "^1024 MB
exit=0$" "$(result 'stat memlimit')" "stat memlimit prints the guest RAM (1 GiB)"
assert_match "^0 MB
exit=0$" "$(result 'stat balloon')" "stat balloon prints 0 MB (no balloon)"
assert_match "^vmci0: Enabled
exit=0$" "$(result 'device list')" "device list prints the VM's devices (backdoor command 11)"
# The options went out as VMware sends them, and the enable came back as Set_Option synctime 1.
for o in "broadcastIP' to '1" "synctime' to '0" "time.synchronize.tools.startup' to '1" \
	"time.synchronize.tools.slewCorrection' to '1" "time.synchronize.tools.percentCorrection' to '50" \
	"time.synchronize.tools.enable' to '1" "synctime' to '1"; do
	grep -qF "Setting option '$o'" <<<"$vlog" || die "vmtoolsd never got Set_Option ${o%%\'*}"
done
ok "vmtoolsd got broadcastIP, synctime and the time.synchronize.tools options, and synctime 1 after enable"
# The clock the host put 30 s ahead was stepped back when time sync came on.
off=$(ctl clock ovt6 --raw | sed -n 's/^offset-ns=//p')
[ "${off#-}" -lt 1000000000 ] || die "the guest clock is still off by $off ns after timesync enable"
ok "a guest clock 30 s ahead is stepped back when time sync is enabled (offset now $off ns)"
# No retry loop: no warning repeated more than twice ("no VMCI socket family"
# is vmtoolsd trying vsock, which guests here lack, before each backdoor RPC:
# no host reply involved), and no RPC failed three times (rpc.failures).
rep=$(grep -E '\[ *(warning|error|critical)\]' <<<"$vlog" |
	sed 's/^\[[^]]*\] //' | sort | uniq -c | awk '$1 > 2' | grep -v 'Couldn.t get VMCI socket family' || true)
[ -z "$rep" ] || die "vmtoolsd repeated errors: $rep"
ok "vmtoolsd's log shows no error repeated more than twice"
loops=$(status_field ovt6 rpc.failures | tr ',' '\n' | awk -F: 'NF == 3 && $3 != "-"')
[ -z "$loops" ] || die "RPCs of vmtoolsd failed three times or more: $loops"
ok "no RPC of vmtoolsd failed three times"
grep -q "rpci: unknown command 'vmx.set_option'\|rpci: unknown command 'guestlib" "$log6" &&
	die "the hypervisor called vmx.set_option or guestlib unknown"
ok "vmx.set_option and guestlib.* are known commands"
ctl stop ovt6; wait_exit $LAST_HV

# --sync-time: the VM starts with time sync on, and GETGUIOPTIONS says so.
out=$(hv --name ovt7 --sync-time -- vmware-toolbox-cmd timesync status)
assert_eq Enabled "$out" "porthole-hv run --sync-time: timesync status says Enabled"
# porthole-guestd --sync-time is the guest's choice: it tells the host (vmx.set_option),
# so the stock toolbox sees time sync on, and the host's synctime push keeps guestd syncing.
out=$(hv --name ovt8 -- sh -c "$GUEST_ENV $BIN/porthole-guestd --sync-time 2>/dev/null & sleep 2
	vmware-toolbox-cmd timesync status; kill \$!")
assert_eq Enabled "$out" "porthole-guestd --sync-time turns the VM's synctime on (timesync status: Enabled)"

# ---- The namespace database (vmware-namespace-cmd), kept with the VM ----
# set-key, get-value, a failed compare-and-set (-o) and delete-key, as the
# stock tool sends them (NUL-separated fields), then read from the host.
start_vm ovt9 "$BUILD/tests/e2e-11-hv9.log" -- sh -c '
	vmware-namespace-cmd set-key demo -k color -v blue && echo "set=$?"
	vmware-namespace-cmd set-key demo -k gone -v soon && vmware-namespace-cmd delete-key demo -k gone
	echo "get=$(vmware-namespace-cmd get-value demo -k color)"
	vmware-namespace-cmd set-key demo -k color -v red -o green 2>&1; echo "cas=$?"
	vmware-namespace-cmd get-value demo -k gone 2>&1; echo "gone=$?"
	echo ns-done; sleep 300'
wait_until 20 "the guest's namespace commands" grep -q '^ns-done' "$BUILD/tests/e2e-11-hv9.log"
nslog=$(grep -v '^porthole-hv-' "$BUILD/tests/e2e-11-hv9.log")
echo "$nslog"
assert_match "set=0" "$nslog" "vmware-namespace-cmd set-key succeeds"
assert_match "get=blue" "$nslog" "vmware-namespace-cmd get-value prints the value set"
assert_match "failure: Value changed.*
cas=1" "$nslog" "set-key -o with a wrong old value fails and changes nothing"
assert_match "failure: Key does not exist
gone=1" "$nslog" "a deleted key is gone"
assert_eq blue "$(ctl namespace ovt9 demo color)" "porthole-ctl namespace VM NS KEY reads the guest's value"
assert_eq "color=blue" "$(ctl namespace ovt9 demo)" "porthole-ctl namespace VM NS lists its keys"
assert_match "^demo keys=1 bytes=" "$(ctl namespace ovt9)" "porthole-ctl namespace VM lists the namespaces"
assert_eq "({'color': 'blue'},)" "$(gdbus call --session --dest org.porthole.Host1 \
	--object-path /org/porthole/Host1/vm/ovt9 --method org.porthole.Host1.VM.GetNamespace demo)" \
	"D-Bus GetNamespace returns the guest's keys"
assert_eq "(['demo'],)" "$(gdbus call --session --dest org.porthole.Host1 \
	--object-path /org/porthole/Host1/vm/ovt9 --method org.porthole.Host1.VM.ListNamespaces)" \
	"D-Bus ListNamespaces names it"
ctl stop ovt9; wait_exit $LAST_HV
# Persisted with the VM: the next VM of that name reads it.
out=$(hv --name ovt9 -- vmware-namespace-cmd get-value demo -k color)
assert_eq blue "$out" "the namespace database outlives the VM (same name, next run)"
out=$(hv --name ovt10 -- sh -c 'vmware-namespace-cmd get-value demo -k color 2>&1; echo "exit=$?"')
assert_match "Namespace does not exist
exit=1" "$out" "another VM has its own namespace database"

# ---- Periodic time sync switched from the host (ctl and D-Bus) ----
# The stock tools get Set_Option synctime and GETGUIOPTIONS says so: the
# guest's `vmware-toolbox-cmd timesync status` (polled into a shared file) flips.
tsdir=$BUILD/tests/e2e-11-ts
rm -rf "$tsdir"; mkdir -p "$tsdir"
conf11=$BUILD/tests/e2e-11-tools11.conf
printf '%s\n' '[logging]' 'log = true' 'vmsvc.level = debug' 'vmsvc.handler = file' \
	'vmsvc.data = /run/ts/vmsvc.log' >"$conf11"
start_vm ovt11 "$BUILD/tests/e2e-11-hv11.log" --share "$conf11:/run/porthole-e2e-tools11.conf" \
	--share "$tsdir:/run/ts" -- sh -c '
	vmtoolsd -c /run/porthole-e2e-tools11.conf &
	while :; do vmware-toolbox-cmd timesync status >/run/ts/status.new; mv /run/ts/status.new /run/ts/status
		sleep 0.3; done'
wait_until 15 "vmtoolsd running" sh -c "$BIN/porthole-ctl status ovt11 --raw | grep -q '^tools.status=running'"
wait_until 10 "timesync status Disabled" grep -qx Disabled "$tsdir/status"
ctl sync-time ovt11 on
wait_until 10 "timesync status Enabled after porthole-ctl sync-time on" grep -qx Enabled "$tsdir/status"
ok "porthole-ctl sync-time VM on: the guest's timesync status says Enabled"
assert_eq 1 "$(status_field ovt11 tools.synctime)" "status shows tools.synctime=1"
wait_until 10 "PeriodicTimeSync true on D-Bus" sh -c "$(declare -f gi_prop); gi_prop ovt11 PeriodicTimeSync | grep -q true"
ok "D-Bus PeriodicTimeSync is true"
gdbus call --session --dest org.porthole.Host1 --object-path /org/porthole/Host1/vm/ovt11 \
	--method org.porthole.Host1.VM.SetPeriodicTimeSync false >/dev/null
wait_until 10 "timesync status Disabled after SetPeriodicTimeSync false" grep -qx Disabled "$tsdir/status"
ok "D-Bus SetPeriodicTimeSync(false): the guest's timesync status says Disabled"
assert_eq "(<false>,)" "$(gi_prop ovt11 PeriodicTimeSync)" "D-Bus PeriodicTimeSync is false again"
grep -qF "Setting option 'synctime' to '1'" "$tsdir/vmsvc.log" &&
	grep -qF "Setting option 'synctime' to '0'" "$tsdir/vmsvc.log" ||
	die "vmtoolsd's log has no Set_Option synctime 1 and 0"
ok "vmtoolsd got Set_Option synctime 1, then 0, from the host"
ctl stop ovt11; wait_exit $LAST_HV
