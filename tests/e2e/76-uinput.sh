# porthole-guestd --pointer uinput: the host's absolute pointer as a Linux
# input device, for guests without an X session.
#  1. Always: guestd in a trap engine guest drains the vmmouse on the
#     hypervisor's wakeup and writes the input events it gives uinput to an
#     event log on a share (--pointer-device FILE; the trap engine must not
#     get a host uinput device); the host decodes them (tests/host/evdump).
#     An agent-like claimer (tests/guest/pointer-claim) takes the pointer
#     over and guestd takes it back when it exits.
#  2. With a usable /dev/uinput: the real device, read back from the host's
#     /dev/input/eventN (a trap engine guest's uinput device is a host one).
. "$(dirname "$0")/lib.sh"

EVDUMP=$BUILD/tests/host/evdump
SHARE=$BUILD/tests/e2e-76-share
rm -rf "$SHARE"; mkdir -p "$SHARE"
log=$BUILD/tests/e2e-76-hv.log
# Unique, so pgrep finds this run's guestd and no other.
EV=events.$$
cat >"$SHARE/guest.sh" <<EOS
timeout 1 $BIN/porthole-guestd --no-timesync --pointer-device /x/auto-events >/x/auto.log 2>&1
$BIN/porthole-guestd --no-timesync --pointer uinput --pointer-device /x/$EV >/x/guestd.log 2>&1 &
while [ ! -e /x/claim ]; do sleep 0.1; done
$GUEST_ENV $GBIN/pointer-claim 3 >/x/claim.log 2>&1
echo claim-exit=\$? >>/x/claim.log
sleep 300
EOS
start_vm uin "$log" --share "$SHARE:/x" -- $GUEST_ENV sh /x/guest.sh
wait_until 20 "guestd drives the pointer" grep -q 'pointer: driving the pointer (event log, woken by the hypervisor)' "$SHARE/guestd.log"
ok "guestd --pointer uinput drives the pointer, woken by the hypervisor"
grep -q 'pointer: off: this is a trap engine guest' "$SHARE/auto.log" ||
	die "guestd's default (--pointer auto) did not refuse the trap engine: $(cat "$SHARE/auto.log")"
[ ! -e "$SHARE/auto-events" ] || die "--pointer auto opened its device in the trap engine"
ok "--pointer auto (the default) stays off in a trap engine guest"

ctl pointer uin 100 200 1 0
ctl pointer uin 65535 0 0 -1
ctl pointer uin 65535 0 4 2
expected="EV_ABS ABS_X 100
EV_ABS ABS_Y 200
EV_KEY BTN_LEFT 1
EV_SYN SYN_REPORT 0
EV_ABS ABS_X 65535
EV_ABS ABS_Y 0
EV_KEY BTN_LEFT 0
EV_REL REL_WHEEL 1
EV_SYN SYN_REPORT 0
EV_KEY BTN_RIGHT 1
EV_REL REL_WHEEL -2
EV_SYN SYN_REPORT 0"
wait_until 5 "12 input events" sh -c "[ \$($EVDUMP $SHARE/$EV | wc -l) -ge 12 ]"
assert_eq "$expected" "$($EVDUMP "$SHARE/$EV")" \
	"positions, edge-triggered buttons and wheel (REL_WHEEL = -z) as input events"
st=$(ctl pointer-status uin)
assert_match 'pointer.driver=active' "$st" "guestd enabled the absolute pointer"
assert_match 'pointer.mode=absolute' "$st" "in absolute mode"
assert_match 'pointer.queued-words=0' "$st" "and drained the queue"
# Idle costs nothing: no wakeups, no backdoor calls while nothing happens.
w0=$(echo "$st" | sed -n 's/^pointer.wakeups=//p')
t0=$(awk '{ print $14 + $15 }' /proc/$(pgrep -f -n "pointer-device /x/$EV")/stat)
sleep 1
t1=$(awk '{ print $14 + $15 }' /proc/$(pgrep -f -n "pointer-device /x/$EV")/stat)
echo "# guestd CPU over 1 s idle: $((t1 - t0)) ticks; wakeups for 3 events: $w0"
[ $((t1 - t0)) -le 2 ] || die "guestd used $((t1 - t0)) ticks in 1 s of idle"
ok "an idle guestd pointer uses no CPU"

# An agent takes the pointer: guestd lifts the held right button and lets go.
n0=$($EVDUMP "$SHARE/$EV" | wc -l)
touch "$SHARE/claim"
wait_until 10 "the claimer mapped the input channel" grep -q '^mapped' "$SHARE/claim.log"
grep -q 'let go of the pointer: an X session.s agent claimed it' "$SHARE/guestd.log" ||
	die "guestd did not log the claim"
assert_eq "EV_KEY BTN_RIGHT 0
EV_SYN SYN_REPORT 0" "$($EVDUMP "$SHARE/$EV" | tail -n +$((n0 + 1)))" \
	"guestd released the held button when it gave the pointer up"
ctl pointer uin 300 400 2 0
wait_until 5 "the claimer got the packet" grep -q '^packet 300 400 8 0' "$SHARE/claim.log"
n1=$($EVDUMP "$SHARE/$EV" | wc -l)
assert_eq $((n0 + 2)) "$n1" "guestd wrote nothing while the claim was held"
wait_until 10 "the claimer exited" grep -q '^claim-exit=0' "$SHARE/claim.log"
wait_until 10 "guestd took the pointer back" sh -c \
	"[ \$(grep -c 'pointer: driving the pointer' $SHARE/guestd.log) -ge 2 ]"
ctl pointer uin 500 600 0 0
wait_until 5 "the event after the take-back" sh -c "$EVDUMP $SHARE/$EV | grep -q 'ABS_X 500'"
assert_eq "EV_ABS ABS_X 500
EV_ABS ABS_Y 600
EV_SYN SYN_REPORT 0" "$($EVDUMP "$SHARE/$EV" | tail -n +$((n1 + 1)))" \
	"after the claimer exited, guestd drives the pointer again"
assert_eq running "$(status_field uin state)" "hypervisor still running"

# ---- 2. the real uinput device ----
why=
if [ ! -e /dev/uinput ]; then
	if [ -d /sys/module/uinput ] || [ -e /sys/class/misc/uinput ]; then
		why="the kernel has uinput but there is no /dev/uinput node"
	elif [ ! -d /lib/modules/$(uname -r) ]; then
		why="no such device node; kernel $(uname -r) has no uinput and no modules directory to load it from"
	else
		why="no such device node; the uinput module is not loaded (modprobe uinput)"
	fi
elif [ ! -c /dev/uinput ]; then
	why="/dev/uinput is not a character device"
elif ! { exec 3<>/dev/uinput; } 2>/dev/null; then
	why="/dev/uinput can't be opened read-write by $(id -un)"
fi
if [ -n "$why" ]; then
	skip "part 1 passed; part 2 needs a usable /dev/uinput: $why"
fi
exec 3>&-
start_vm uin2 "$BUILD/tests/e2e-76-hv2.log" --share /dev/uinput:/dev/uinput --share "$SHARE:/x" -- \
	$GUEST_ENV sh -c "$BIN/porthole-guestd --no-timesync --pointer uinput >/x/guestd2.log 2>&1; sleep 300"
wait_until 20 "guestd started its pointer" grep -q 'pointer: \(driving\|off\)' "$SHARE/guestd2.log"
if ! grep -q 'pointer: driving the pointer (uinput' "$SHARE/guestd2.log"; then
	# The trap engine mounts --share nosuid,nodev: a device node shared in can't be opened.
	skip "part 1 passed; part 2: the guest can't open the shared /dev/uinput (the trap" \
	     "engine's shares are nodev): $(grep -m1 -o 'pointer: off.*' "$SHARE/guestd2.log")"
fi
dev=
for n in /sys/class/input/event*; do
	[ "$(cat "$n/device/name" 2>/dev/null)" = "Porthole absolute pointer" ] && dev=/dev/input/$(basename "$n")
done
[ -n "$dev" ] || die "no /sys/class/input/event* named 'Porthole absolute pointer'"
ok "guestd created $dev ('Porthole absolute pointer') through /dev/uinput"
$EVDUMP "$dev" 2000 >"$SHARE/dev-events" &
dump=$!
sleep 0.3
ctl pointer uin2 1234 4321 1 0
ctl pointer uin2 1234 4321 0 1
wait "$dump" || true
got=$(grep -v '^EV_MSC' "$SHARE/dev-events")
assert_eq "EV_ABS ABS_X 1234
EV_ABS ABS_Y 4321
EV_KEY BTN_LEFT 1
EV_SYN SYN_REPORT 0
EV_KEY BTN_LEFT 0
EV_REL REL_WHEEL -1
EV_SYN SYN_REPORT 0" "$(echo "$got" | grep -v HI_RES)" "the host's input device reports the pointer"
