# The foundation's main path: porthole-guestd in a guest, porthole-rpc from
# the guest, porthole-ctl from the host.
# cpuid-dependent: guest programs detect the hypervisor through cpuid
. "$(dirname "$0")/private-bus.sh"
. "$here/lib.sh"
. "$here/guest-info.sh"

log=$BUILD/tests/e2e-10-hv.log
gi_monitor "$BUILD/tests/e2e-10-monitor.log"
# The guest: the daemon in the background, then an RPCI from a guest process.
start_vm demo "$log" -- $GUEST_ENV sh -c "
	$BIN/porthole-guestd &
	$BIN/porthole-rpc 'info-set guestinfo.answer 42' || exit 3
	$BIN/porthole-rpc 'tools.capability.porthole_test 1' || exit 4
	echo rpc-done > /tmp/marker
	wait"

wait_until 10 "guestinfo.answer" ctl info-get demo guestinfo.answer
assert_eq 42 "$(ctl info-get demo guestinfo.answer)" "guest porthole-rpc info-set seen by porthole-ctl info-get"

wait_until 10 "tools running" sh -c "$BIN/porthole-ctl status demo --raw | grep -q '^tools.status=running'"
# (porthole-rpc registers porthole_test after the info-set waited for above.)
wait_until 10 "porthole_test registered" sh -c "$BIN/porthole-ctl status demo --raw | grep -q 'porthole_test:1'"
st=$(ctl status demo)
echo "$st"
assert_match "Tools: +running, porthole-guestd $(cat VERSION)" "$st" "status shows porthole-guestd running with its version"
assert_match "tools.set.version $(cat VERSION)" "$st" "status shows the tools.set.version number decoded"
assert_match "Capabilities: .*porthole_test:1" "$st" "status lists the capabilities the guest registered"
assert_match "State: +running \(trap engine\)" "$st" "status shows state and engine"
assert_match "CPUID: +$CPUID_MODE \(" "$st" "status shows how cpuid is intercepted, and why"

# Guest information (the guestInfo protocol, as vmtoolsd sends it): every
# interface the guest has, loopback included, and its addresses.
guest_nics=$("$BIN/porthole-hv" run --name demo-nics -- sh -c 'ls /sys/class/net | wc -l' 2>/dev/null)
# guestd reports again when the host registers the tools: a new uptime for
# PropertiesChanged without waiting for its 30 s period.
sleep 1.1
ctl tclo demo Capabilities_Register >/dev/null
check_guest_info demo porthole-guestd "$guest_nics" "10\.0\.2\.15/24"

assert_eq "OK " "$(ctl tclo demo ping)" "TCLO ping answered by guestd"

# Idle guestd waits for the hypervisor's wakeup datagram instead of polling
# TCLO ~10 times a second (each poll: port traps, and clock reads for its timer).
sleep 1		# the fast back-off after the ping ends within 0.2 s
clock_reads() { ctl clock demo --raw | sed -n 's/^reads=//p'; }
p0=$(status_field demo rpc.tclo-polls); r0=$(clock_reads)
sleep 5
p1=$(status_field demo rpc.tclo-polls); r1=$(clock_reads)
echo "idle guestd over 5 s: $((p1 - p0)) TCLO polls, $((r1 - r0)) guest clock reads"
[ $((p1 - p0)) -le 2 ] || die "idle guestd polled TCLO $((p1 - p0)) times in 5 s (woken by the hypervisor: at most its 10 s safety net)"
ok "idle guestd: at most 2 TCLO polls in 5 s"
[ $((r1 - r0)) -le 10 ] || die "idle guestd's VM read the clock $((r1 - r0)) times in 5 s"
ok "idle guestd's VM: at most 10 clock reads in 5 s"
assert_eq running "$(status_field demo tools.status)" "an idle guestd that polls every 10 s still counts as running"
w0=$(status_field demo rpc.tclo-wakeups)
t0=$(date +%s%N)
assert_eq "OK " "$(ctl tclo demo ping)" "TCLO ping answered after idling"
ms=$((($(date +%s%N) - t0) / 1000000))
echo "ping after idling: $ms ms"
[ "$ms" -lt 1000 ] || die "TCLO ping after idling took $ms ms (the wakeup should poll at once)"
ok "TCLO ping after idling answered in under 1 s ($ms ms)"
assert_eq $((w0 + 1)) "$(status_field demo rpc.tclo-wakeups)" "the ping sent guestd one wakeup datagram"
expect_fail 1 "^porthole-ctl: demo: ERROR Unknown Command$" "unknown TCLO command: guestd's error, exit 1" \
	-- ctl tclo demo 'no_such_thing 1'
assert_eq "OK " "$(ctl tclo demo 'Capabilities_Register')" "TCLO Capabilities_Register"
out=$(ctl tclo demo 'toolbox-dnd:ping' 2>&1) && die "a TCLO for an absent app must fail" || true
assert_match "not connected" "$out" "a TCLO command for a session app that isn't attached fails at once"

# Host-set guestinfo read by the guest.
assert_eq "demo: guestinfo.fromhost set" "$(ctl info-set demo guestinfo.fromhost "hello guest")" \
	"info-set says what it did"
out=$("$BIN/porthole-ctl" info-get demo guestinfo.fromhost)
assert_eq "hello guest" "$out" "host info-set readable back"

# Channel reset: guestd notices and reconnects.
assert_match "^demo: guest RPC channels closed" "$(ctl reset-channels demo)" "reset-channels says what it did"
sleep 0.3
wait_until 10 "tools running after reset" sh -c "$BIN/porthole-ctl status demo --raw | grep -q '^tools.status=running'"
assert_eq "OK " "$(ctl tclo demo ping)" "guestd reconnected after a channel reset"

assert_eq "demo	running	running" "$(ctl list | grep '^demo	')" "porthole-ctl list shows the VM, its state and its tools"

# Bad input: exit 2, the argument and why, then the subcommand's synopsis.
expect_fail 2 "^porthole-ctl: resolution: width '0' is not a number from 1 to 16384.usage: porthole-ctl resolution VM WIDTH HEIGHT$" \
	"resolution 0 0" -- ctl resolution demo 0 0
expect_fail 2 "^porthole-ctl: resolution: width 'abc' is not a number" "resolution abc 720" -- ctl resolution demo abc 720
expect_fail 2 "^porthole-ctl: resolution: missing HEIGHT" "resolution without a height" -- ctl resolution demo 1024
expect_fail 2 "^porthole-ctl: resolution: unexpected argument '9'" "resolution with one number too many" -- ctl resolution demo 1 2 9
expect_fail 2 "^porthole-ctl: tclo: missing 'COMMAND'" "tclo without a command" -- ctl tclo demo
expect_fail 2 "^porthole-ctl: status: unknown option '--bogus'" "status --bogus" -- ctl status demo --bogus
expect_fail 2 "^porthole-ctl: clock: 'soon' is not a duration" "clock --offset soon" -- ctl clock demo --offset soon
expect_fail 2 "^porthole-ctl: clipboard-policy: 'on' is not KEY=VALUE" "clipboard-policy on" -- ctl clipboard-policy demo on
expect_fail 2 "^porthole-ctl: unknown command 'frobnicate'" "an unknown subcommand" -- ctl frobnicate demo
expect_fail 2 "^porthole-ctl: pointer: X .70000. is not a number from 0 to 65535" "pointer with an out-of-range X" -- ctl pointer demo 70000 0
expect_fail 1 "^porthole-ctl: no running VM named 'nosuch'" "a VM that does not run: exit 1" -- ctl status nosuch
mem=$(ctl memory demo)
assert_match "^ram 0x0-0x3fffffff \(1024 MiB\)" "$mem" "guest RAM memfd mapped by a host process"

assert_eq "demo: stopped" "$(ctl stop demo)" "stop says what it did"
wait_exit $LAST_HV
assert_eq 137 "$HV_STATUS" "VM stops on request (guest killed: 128 + SIGKILL)"
assert_eq "0" "$(ctl list | grep -c '^demo$' || true)" "a stopped VM leaves the list"
