# VMware's absolute pointer (vmmouse) on the backdoor, driven by a raw guest
# program as a driver and as a hostile guest would: version id, absolute
# mode, packets queued by the host (porthole-ctl pointer), queue drain,
# bogus commands and reads from an empty queue, never a crash.
. "$(dirname "$0")/lib.sh"

log=$BUILD/tests/e2e-74-hv.log
start_vm mouse "$log" -- $GUEST_ENV sh -c "$GBIN/vmmouse-probe; echo exit=\$?; sleep 300"

wait_until 30 "the probe waits for events" grep -q '^# waiting for 2 events' "$log"
ctl pointer mouse 100 200 1 -1
ctl pointer mouse 65535 0 6 2
wait_until 30 "the probe finished" grep -q '^exit=' "$log"
grep -E '^(not )?ok ' "$log"
! grep -q '^not ok' "$log" || die "the vmmouse probe saw a wrong answer"
ok "vmmouse protocol answers as QEMU's does ($(grep -c '^ok ' "$log") checks)"
assert_eq exit=0 "$(grep '^exit=' "$log")" "the probe exited 0"

# Malformed host events are refused with a reason.
for bad in "65536 0" "-1 5" "1 2 8 0" "1 2 0 128" "1 2 0 0 9" "x y" "1 2 0 0x1"; do
	rc=0; ctl pointer mouse $bad 2>/dev/null || rc=$?
	[ $rc -ne 0 ] || die "host event '$bad' was accepted"
done
ok "malformed host pointer events are refused"
# Without a driver (the probe disabled it): events are accepted and dropped.
ctl pointer mouse 1 2
st=$(ctl pointer-status mouse)
assert_match 'pointer.events=2' "$st" "two events were queued"
assert_match 'pointer.dropped=1' "$st" "the event before the driver was dropped"
assert_match 'pointer.driver=off' "$st" "the probe disabled the pointer"
assert_eq running "$(status_field mouse state)" "hypervisor still running"
