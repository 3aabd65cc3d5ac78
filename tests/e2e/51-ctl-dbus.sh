# porthole-ctl --dbus: the same subcommands through org.porthole.Host1 (real
# porthole-hostd, D-Bus activated on a private session bus) instead of the
# control sockets, checked against real VMs with real guest tools and against
# what the socket path says; `porthole-ctl monitor` following the signals.
. "$(dirname "$0")/private-bus.sh"

. "$here/lib.sh"
VERSION=$(cat "$here/../../VERSION")
logs=$BUILD/tests/e2e-51
rm -rf "$logs" && mkdir -p "$logs"
BG_PIDS=()
bus() { gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus "$@"; }
hostd_pid() { bus --method org.freedesktop.DBus.GetConnectionUnixProcessID org.porthole.Host1 2>/dev/null |
	sed -n 's/^(uint32 \([0-9]*\),)$/\1/p'; }
ctl_dbus_cleanup() {
	local p
	for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	# The activated hostd is the bus's child, not ours: stop it by its bus name.
	p=$(hostd_pid)
	[ -n "$p" ] && kill "$p" 2>/dev/null || true
	cleanup
}
trap ctl_dbus_cleanup EXIT

dctl() { "$BIN/porthole-ctl" --dbus "$@"; }
# wait_log SECONDS FILE REGEX
wait_log() { wait_until "$1" "/$3/ in $(basename "$2")" grep -Eq "$3" "$2"; }

# Activated services get the bus's environment: point it at this test's VMs.
bus --method org.freedesktop.DBus.UpdateActivationEnvironment "{'XDG_RUNTIME_DIR': '$XDG_RUNTIME_DIR'}" >/dev/null

# ---- activation: nothing serves org.porthole.Host1 until porthole-ctl asks ----
assert_eq "(false,)" "$(bus --method org.freedesktop.DBus.NameHasOwner org.porthole.Host1)" \
	"no porthole-hostd before the first call"
assert_eq "" "$(dctl list)" "--dbus list with no VM: nothing, exit 0"
assert_eq "(true,)" "$(bus --method org.freedesktop.DBus.NameHasOwner org.porthole.Host1)" \
	"--dbus list D-Bus-activated porthole-hostd"
ps -o args= -p "$(hostd_pid)" | grep -q "^$BIN/porthole-hostd" || die "org.porthole.Host1 is not this build's porthole-hostd"

"$BIN/porthole-ctl" monitor >"$logs/monitor.out" 2>"$logs/monitor.err" &
MON=$!
BG_PIDS+=($MON)
"$BIN/porthole-ctl" monitor --count 1 >"$logs/monitor1.out" 2>"$logs/monitor1.err" &
MON1=$!
BG_PIDS+=($MON1)
wait_log 10 "$logs/monitor.err" "monitoring org.porthole.Host1 \(0 VMs running\)"
wait_log 10 "$logs/monitor1.err" "monitoring org.porthole.Host1"
ok "porthole-ctl monitor is listening"

# ---- alpha: guestd (halting = ending pid 1, rebooting fails) ----
start_vm alpha "$logs/alpha.log" -- $GUEST_ENV sh -c "
	trap 'kill \$G 2>/dev/null; wait \$G; exit 0' TERM
	$BIN/porthole-guestd --halt-command 'kill 1' --reboot-command 'false' & G=\$!
	$BIN/porthole-rpc 'info-set guestinfo.porthole.screen 1024x768' >/dev/null
	until $BIN/porthole-rpc 'info-get guestinfo.ask' >/dev/null 2>&1; do sleep 0.1; done
	$BIN/porthole-rpc 'info-set guestinfo.fromguest yes' >/dev/null
	while :; do sleep 0.1; done"
ALPHA=$LAST_HV
wait_log 10 "$logs/monitor.out" "^VMAdded alpha /org/porthole/Host1/vm/alpha$"
ok "monitor prints VMAdded when a VM starts"
wait "$MON1" || die "monitor --count 1 exited with $?"
assert_eq "VMAdded alpha /org/porthole/Host1/vm/alpha" "$(cat "$logs/monitor1.out")" \
	"monitor --count 1 printed one signal and exited 0"

tab=$'\t'
wait_until 10 "alpha's tools in --dbus list" sh -c "'$BIN/porthole-ctl' --dbus list | grep -q 'running${tab}running'"
assert_eq "alpha${tab}running${tab}running" "$(dctl list)" "--dbus list: name, state, tools status"
assert_eq "$(dctl list)" "$(PORTHOLE_CTL_DBUS=1 "$BIN/porthole-ctl" list)" "PORTHOLE_CTL_DBUS=1 does the same as --dbus"
assert_eq "$(dctl list)" "$(ctl list)" "without --dbus, list reads the sockets and prints the same"

# ---- status: as the socket's status prints it, where the API has the same facts ----
wait_until 10 "alpha's screen on D-Bus" sh -c "'$BIN/porthole-ctl' --dbus status alpha | grep -q '^Screen: *1024x768$'"
st=$(dctl status alpha)
echo "$st"
for f in VM Tools Capabilities; do
	assert_eq "$(ctl status alpha | grep "^$f:")" "$(grep "^$f:" <<<"$st")" "--dbus status: the $f line matches the socket's"
done
assert_match "State: +running \(trap engine\)" "$st" "--dbus status: state and engine"
assert_eq "$(ctl status alpha | grep '^CPUID:')" "$(grep '^CPUID:' <<<"$st")" \
	"--dbus status: the CPUID line (CpuidMode, CpuidReason) matches the socket's"
assert_match "Tools: +running, porthole-guestd $VERSION \(tools.set.version $VERSION\)" "$st" "--dbus status: tools and their version"
assert_match "Clipboard: +host-to-guest on, guest-to-host on, up to 67108864 bytes" "$st" "--dbus status: clipboard policy"
assert_match "D-Bus object: +/org/porthole/Host1/vm/alpha" "$st" "--dbus status: the object"
raw=$(dctl status alpha --raw)
for k in name engine state cpuid.mode cpuid.reason tools.status tools.version tools.description tools.capabilities; do
	assert_eq "$(status_field alpha "$k")" "$(sed -n "s/^$k=//p" <<<"$raw")" "--dbus status --raw: $k as the socket's"
done
grep -qx "guestinfo.vmtools.versionString=$VERSION" <<<"$raw" || die "no guestinfo in --dbus status --raw"
ok "--dbus status --raw lists the guestinfo"
grep -qx "screen=1024x768" <<<"$raw" || die "no screen in --dbus status --raw"
ok "--dbus status --raw: screen"

# ---- info-get from GuestInfo ----
ctl info-set alpha guestinfo.fromhost "hi there"
wait_until 10 "guestinfo.fromhost on D-Bus" sh -c "'$BIN/porthole-ctl' --dbus info-get alpha guestinfo.fromhost | grep -qx 'hi there'"
assert_eq "$(ctl info-get alpha guestinfo.fromhost)" "$(dctl info-get alpha guestinfo.fromhost)" "--dbus info-get: the socket's value"
assert_eq "$VERSION" "$(dctl info-get alpha guestinfo.vmtools.versionString)" "--dbus info-get: a value the guest set"
expect_fail 1 "alpha: no value for guestinfo.nothing" "--dbus info-get of a missing key" -- dctl info-get alpha guestinfo.nothing
wait_log 10 "$logs/monitor.out" "^PropertiesChanged alpha GuestInfo=\{.*'guestinfo.fromhost': 'hi there'"
ok "monitor shows the GuestInfo change (PropertiesChanged)"

# ---- hostd is told of changes (PH_CTL_SUBSCRIBE) instead of polling each VM ----
assert_eq 1 "$(status_field alpha control.subscribers)" "porthole-hostd subscribed to alpha's status events"
s0=$(status_field alpha control.status-reads)
sleep 3
s1=$(status_field alpha control.status-reads)
echo "alpha status reads: $s0 -> $s1"
# Our own second read is one; hostd's old 1 s poll would add three more.
[ $((s1 - s0)) -le 1 ] || die "alpha's status was read $((s1 - s0 - 1)) times in 3 s by someone else: hostd polls"
ok "an idle porthole-hostd does not read alpha's status (was: every second)"
t0=$(date +%s%N)
ctl info-set alpha guestinfo.ask 1 >/dev/null
wait_log 10 "$logs/monitor.out" "^PropertiesChanged alpha GuestInfo=\{.*'guestinfo.fromguest': 'yes'"
ms=$((($(date +%s%N) - t0) / 1000000))
echo "guest info-set -> PropertiesChanged: $ms ms (including the guest's 0.1 s wait loop)"
[ "$ms" -lt 1000 ] || die "PropertiesChanged came $ms ms after the guest's change"
ok "PropertiesChanged within 1 s of the guest's info-set ($ms ms), without polling"

# ---- tclo (SendRpc), sync-time, resolution ----
assert_eq "OK " "$(dctl tclo alpha ping)" "--dbus tclo ping: the guest's reply"
expect_fail 1 "^porthole-ctl: alpha: ERROR Unknown Command$" "--dbus tclo with a command the tools don't know" \
	-- dctl tclo alpha no_such_command
assert_eq "$(ctl tclo alpha no_such_command 2>&1)" "$(dctl tclo alpha no_such_command 2>&1)" \
	"--dbus tclo passes the guest's error through as the socket does"
assert_eq "alpha: guest clock stepped to the host's" "$(dctl sync-time alpha)" \
	"--dbus sync-time: guestd's Time_Synchronize answered OK, and ctl says so"
assert_eq "$(dctl sync-time alpha)" "$(ctl sync-time alpha)" "sync-time over the socket says the same"
# No desktop agent in this guest: the service's error, by its D-Bus name.
expect_fail 1 "^porthole-ctl: alpha: org.porthole.Host1.Error.Failed: .*not connected" \
	"--dbus resolution without a desktop agent" -- dctl resolution alpha 1024 768
expect_fail 2 "^porthole-ctl: resolution: width '0' is not a number from 1 to 16384" \
	"--dbus resolution 0x768" -- dctl resolution alpha 0 768
expect_fail 2 "^porthole-ctl: resolution: height 'big' is not a number from 1 to 16384.*usage: porthole-ctl resolution VM WIDTH HEIGHT" \
	"--dbus resolution with a non-number" -- dctl resolution alpha 768 big
expect_fail 1 "^porthole-ctl: alpha: .*not connected" "socket resolution without a desktop agent" -- ctl resolution alpha 1024 768

# ---- errors: the service's, printed as-is; subcommands D-Bus lacks ----
expect_fail 1 "^porthole-ctl: nosuch: org.porthole.Host1.Error.NoSuchVM: no running VM of that name$" \
	"--dbus status of a VM that does not run" -- dctl status nosuch
expect_fail 1 "org.porthole.Host1.Error.NoSuchVM" "--dbus tclo to a VM that does not run" -- dctl tclo nosuch ping
expect_fail 2 "'stop' has no D-Bus equivalent in org.porthole.Host1.*without --dbus" "--dbus stop" -- dctl stop alpha
expect_fail 2 "'memory' has no D-Bus equivalent" "PORTHOLE_CTL_DBUS=1 memory" -- env PORTHOLE_CTL_DBUS=1 "$BIN/porthole-ctl" memory alpha
expect_fail 2 "'info-set' has no D-Bus equivalent" "--dbus info-set" -- dctl info-set alpha guestinfo.x y

# ---- clipboard-policy: the ClipboardPolicy property and SetClipboardPolicy ----
assert_eq "$(ctl clipboard-policy alpha)" "$(dctl clipboard-policy alpha)" "--dbus clipboard-policy shows the socket's policy"
assert_eq "host-to-guest=on guest-to-host=off max-size=4096" \
	"$(dctl clipboard-policy alpha guest-to-host=off max-size=4096 | xargs)" "--dbus clipboard-policy sets and prints the new policy"
assert_eq "host-to-guest=on guest-to-host=off max-size=4096" "$(ctl clipboard-policy alpha | xargs)" \
	"the hypervisor enforces the policy set through D-Bus"
wait_log 10 "$logs/monitor.out" "^PropertiesChanged alpha ClipboardPolicy=\{'host-to-guest': <true>, 'guest-to-host': <false>, 'max-size': <uint64 4096>\}$"
ok "monitor shows the policy change"
expect_fail 1 "^porthole-ctl: alpha: org.porthole.Host1.Error.InvalidArgs: policy keys" \
	"--dbus clipboard-policy with an unknown key" -- dctl clipboard-policy alpha bogus=on
expect_fail 1 "org.porthole.Host1.Error.InvalidArgs" "--dbus clipboard-policy guest-to-host=maybe" -- dctl clipboard-policy alpha guest-to-host=maybe
expect_fail 2 "not KEY=VALUE" "--dbus clipboard-policy with a bare word" -- dctl clipboard-policy alpha on

# ---- beta: guest tools that come and go -> ToolsStatusChanged ----
start_vm beta "$logs/beta.log" -- $GUEST_ENV sh -c "
	until $BIN/porthole-rpc 'info-get guestinfo.go' >/dev/null 2>&1; do sleep 0.1; done
	$BIN/porthole-guestd & G=\$!
	until $BIN/porthole-rpc 'info-get guestinfo.stop' >/dev/null 2>&1; do sleep 0.1; done
	kill \$G; wait \$G
	while :; do sleep 0.1; done"
BETA=$LAST_HV
wait_log 10 "$logs/monitor.out" "^VMAdded beta /org/porthole/Host1/vm/beta$"
wait_until 10 "beta in --dbus list" sh -c "'$BIN/porthole-ctl' --dbus list | grep -q '^beta${tab}running${tab}not-running$'"
assert_eq 2 "$(dctl list | wc -l)" "--dbus list: both VMs"
ctl info-set beta guestinfo.go 1
wait_log 10 "$logs/monitor.out" "^ToolsStatusChanged beta running$"
ok "monitor prints ToolsStatusChanged when guestd starts"
# (Two signals when guestd sets its description after hostd saw it running:
# events are coalesced per 100 ms, not per guest RPC.)
wait_log 10 "$logs/monitor.out" "^PropertiesChanged beta (.* )?ToolsStatus=running( |$)"
wait_log 10 "$logs/monitor.out" "^PropertiesChanged beta (.* )?ToolsDescription='porthole-guestd $VERSION'"
ok "monitor prints PropertiesChanged: plain words bare, other strings quoted"
ctl info-set beta guestinfo.stop 1
wait_log 10 "$logs/monitor.out" "^ToolsStatusChanged beta not-running$"
ok "monitor prints ToolsStatusChanged when guestd stops"
ctl stop beta
wait_exit $BETA
wait_log 10 "$logs/monitor.out" "^VMRemoved beta /org/porthole/Host1/vm/beta$"
ok "monitor prints VMRemoved when a VM stops"

# ---- power: reboot (guestd's command fails, and says so), shutdown ----
out=$(dctl reboot alpha 2>&1) && die "--dbus reboot must fail (guestd's reboot command fails): $out"
assert_match "org.porthole.Host1.Error.GuestError: .*reboot command failed" "$out" \
	"--dbus reboot fails (exit 1) when the guest's reboot command fails"
wait_until 10 "reboot status" sh -c "'$BIN/porthole-ctl' status alpha --raw | grep -q '^tools.statechange=2 failure'"
ok "--dbus reboot reaches guestd, which reports its failed reboot command"
dctl shutdown alpha || die "--dbus shutdown failed"
wait_exit $ALPHA
assert_eq 0 "$HV_STATUS" "--dbus shutdown: guestd ran the halt command, the guest ended cleanly"
wait_log 10 "$logs/monitor.out" "^VMRemoved alpha /org/porthole/Host1/vm/alpha$"
ok "monitor prints VMRemoved when the guest shuts down"
assert_eq "" "$(dctl list)" "--dbus list: no VM left"

kill -INT $MON
rc=0
wait $MON || rc=$?
assert_eq 0 "$rc" "monitor stops cleanly on Ctrl-C (SIGINT)"
cat "$logs/monitor.out"
