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
start_vm ovt5 "$BUILD/tests/e2e-11-hv5.log" -- vmtoolsd
wait_until 15 "vmtoolsd running" sh -c "$BIN/porthole-ctl status ovt5 --raw | grep -q '^tools.status=running'"
st=$(ctl status ovt5)
echo "$st"
assert_match "Tools: +running, open-vm-tools [0-9.]+ build" "$st" "vmtoolsd runs as a guest and reports its version"
assert_match "guest_conf_directory" "$st" "vmtoolsd's capabilities are registered"
assert_eq "OK " "$(ctl tclo ovt5 ping)" "vmtoolsd answers a TCLO ping"
# Its guestInfo plugin: the trap engine's guest has only a loopback
# interface, which vmtoolsd leaves out of what it reports (so: no NICs).
guest_nics=$(hv --name ovt6 -- sh -c 'ls /sys/class/net | grep -vcx lo' || true)
check_guest_info ovt5 vmtoolsd "$guest_nics" ""
refused=$(grep -h "guestinfo: .* refused\|embedded NUL" "$BUILD/tests/e2e-11-hv5.log" || true)
[ -z "$refused" ] || die "the hypervisor refused some of vmtoolsd's guest info: $refused"
ok "the hypervisor took all of vmtoolsd's guest info (no refusal logged)"
ctl stop ovt5; wait_exit $LAST_HV
