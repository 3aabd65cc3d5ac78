# Hostile guests against the host clipboard bridge: tests/guest/clip-hostile
# speaks the clipboard protocol itself (in a VM without an agent) to
# porthole-viewer with its window on the host Xvfb.
#  - Trickle: it answers a host paste by moving one byte every 4 s.  The
#    viewer keeps serving X meanwhile (TARGETS of PRIMARY, which it answers
#    itself, round trip measured) and abandons the transfer at its deadline
#    (5 s + size at 1 MiB/s, fixed at the start); the host paste gets nothing.
#  - Streamed answers that break the rules (a chunk over the limit, a data
#    chunk with a status, more than the policy's max-size): refused, said,
#    the guest told why.
#  - Background reads: the guest asks for the host's CLIPBOARD with no key or
#    button press in the viewer: refused (status 9), logged at a bounded
#    rate; right after Ctrl+V in the viewer's window one read is served and
#    the next refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/desktop.sh"

ms() { date +%s%3N; }
start_host_x
start_desktop_vm cliph --no-agent
start_viewer cliph
trap 'kill $VIEWER 2>/dev/null; cp "$DESK/viewer.log" "$BUILD/tests/e2e-cliph-viewer.log"; desktop_cleanup' EXIT
CH="$GUEST_ENV $GBIN/clip-hostile"

# ---- a guest that trickles its clipboard to a host paste ----
guest_sh "$CH trickle 1000 4000 >/x/trickle.out 2>&1 &" >/dev/null
wait_until 10 "the guest's offer" grep -q '^offered' "$DESK/trickle.out"
wait_until 10 "the bridge owns PRIMARY" sh -c \
	"DISPLAY=$HOST_DISPLAY timeout 5 xclip -selection primary -o -t TARGETS | grep -q UTF8_STRING"
t0=$(ms)
( rc=0; host_x timeout 60 xclip -selection clipboard -o >"$DESK/trickled" 2>/dev/null || rc=$?
  echo $rc >"$DESK/paste.rc" ) &
wait_until 10 "the trickle started" grep -q '^byte 1$' "$DESK/trickle.out"
worst=0
for i in 1 2 3 4 5 6; do
	t=$(ms)
	targets=$(host_x timeout 5 xclip -selection primary -o -t TARGETS 2>/dev/null || true)
	[[ $targets == *UTF8_STRING* ]] ||
		die "the viewer did not answer an X selection request during the trickle"
	d=$(($(ms) - t)); [ $d -gt $worst ] && worst=$d
	sleep 0.2
done
grep -q "abandoned at its deadline" "$DESK/viewer.log" &&
	die "the transfer ended before the responsiveness probes did"
echo "# during the trickle: slowest of 6 TARGETS round trips through the viewer ${worst} ms"
[ $worst -lt 1000 ] || die "the viewer took ${worst} ms to answer during the trickle"
ok "the viewer answers X requests during a trickling transfer (slowest ${worst} ms)"
wait_until 15 "the transfer abandoned" grep -q "abandoned at its deadline" "$DESK/viewer.log"
line=$(grep "abandoned at its deadline" "$DESK/viewer.log" | head -1)
secs=$(sed -n 's/.*failed after \([0-9.]*\) s.*/\1/p' <<<"$line")
echo "# $line"
awk -v s="$secs" 'BEGIN { exit !(s >= 4.9 && s <= 6.5) }' ||
	die "abandoned after '$secs' s, not at the 5 s deadline of a 1000-byte transfer"
ok "the trickling transfer is abandoned at its deadline (${secs} s; a byte every 4 s)"
wait_until 10 "the host paste returned" test -s "$DESK/paste.rc"
[ "$(cat "$DESK/paste.rc")" != 0 ] || die "the host paste of an abandoned transfer succeeded"
[ ! -s "$DESK/trickled" ] || die "the host paste got $(wc -c <"$DESK/trickled") bytes of a cut transfer"
ok "the host paste gets nothing from the abandoned transfer"
wait_until 10 "the guest heard" grep -Eq '^host-(done 6|detached)' "$DESK/trickle.out"
ok "the guest learns the host gave up ($(tail -1 "$DESK/trickle.out"))"
kill -0 $VIEWER || die "the viewer died"

# ---- streamed answers that break the rules (the host asked for a stream) ----
# Each: the host paste gets nothing, the viewer says why and tells the guest
# (DONE with the status), and goes on.
stream_bad() {	# KIND COUNT WANT_STATUS WANT_LOG
	local out=/x/stream-$1.out rc
	guest_sh "$CH stream $1 $2 >$out 2>&1 &" >/dev/null
	wait_until 10 "the guest's offer ($1)" grep -q '^offered' "$DESK/stream-$1.out"
	wait_until 10 "the bridge owns CLIPBOARD ($1)" sh -c \
		"DISPLAY=$HOST_DISPLAY timeout 5 xclip -selection clipboard -o -t TARGETS | grep -q UTF8_STRING"
	rc=0; host_x timeout 20 xclip -selection clipboard -o >"$DESK/streamed-$1" 2>/dev/null || rc=$?
	[ $rc != 0 ] || die "$1: the host paste of a broken stream succeeded"
	[ ! -s "$DESK/streamed-$1" ] || die "$1: the host paste got $(wc -c <"$DESK/streamed-$1") bytes"
	wait_until 10 "the guest heard ($1)" grep -Eq '^host-(done|detached)' "$DESK/stream-$1.out"
	assert_eq "host-done $3" "$(grep '^host-' "$DESK/stream-$1.out")" \
		"streamed $1: the host paste gets nothing and the guest is told status $3"
	grep -q "receiving from the guest failed .*$4" "$DESK/viewer.log" ||
		die "streamed $1: no log line saying '$4'"
	kill -0 $VIEWER || die "the viewer died"
}
stream_bad badchunk 1 7 "malformed stream"
stream_bad datastatus 1 7 "malformed stream"
ctl clipboard-policy cliph max-size=2500 >/dev/null
stream_bad overmax 3 2 "over the policy's max-size"
ctl clipboard-policy cliph max-size=67108864 >/dev/null
ok "the viewer refuses streamed answers that break the rules and goes on"

# ---- a guest reading the host clipboard with no paste by the user ----
guest_sh "$CH fetch /x/go 12 >/x/fetch1.out 2>&1 &" >/dev/null
wait_until 10 "the reader listens" grep -q '^listening' "$DESK/fetch1.out"
printf 'copied on the host, never pasted' | host_x xclip -selection clipboard -i >/dev/null 2>&1 &
wait_until 10 "the host's offer reached the guest" grep -q '^offer ' "$DESK/fetch1.out"
touch "$DESK/go"
wait_until 30 "twelve answers" grep -q '^xfer 12 ' "$DESK/fetch1.out"
assert_eq 12 "$(grep -c '^xfer [0-9]* status 9 size 0$' "$DESK/fetch1.out")" \
	"12 background reads with no key or button press: all refused (no paste by the host user)"
grep -q '^data' "$DESK/fetch1.out" && die "a background read got the host's data"
n=$(grep -c "no key or button press in the viewer" "$DESK/viewer.log")
[ "$n" -ge 1 ] && [ "$n" -le 5 ] || die "$n log lines for 12 refusals (want 1..5: rate-limited)"
ok "the refusals are logged, rate-limited ($n lines for 12)"

# ---- Ctrl+V in the viewer's window: one read ----
rm -f "$DESK/go"
guest_sh "$CH fetch /x/go 2 >/x/fetch2.out 2>&1 &" >/dev/null
wait_until 10 "the reader listens" grep -q '^listening' "$DESK/fetch2.out"
printf 'pasted by the user' | host_x xclip -selection clipboard -i >/dev/null 2>&1 &
wait_until 10 "the host's offer reached the guest" grep -q '^offer ' "$DESK/fetch2.out"
user_press ctrl+v
touch "$DESK/go"
wait_until 20 "two answers" grep -q '^xfer 2 ' "$DESK/fetch2.out"
assert_match 'xfer 1 status 0 size 18' "$(cat "$DESK/fetch2.out")" "the read right after Ctrl+V in the viewer is served"
grep -q '^data 18$' "$DESK/fetch2.out" || die "the served read did not get its 18 bytes"
assert_match 'xfer 2 status 9 size 0' "$(cat "$DESK/fetch2.out")" "the next read, with no new press, is refused"
kill -0 $VIEWER || die "the viewer died"
