# Paravirtual video end to end: a guest Xorg (dummy) with porthole-agent, the
# host viewer on Xvfb.  What the guest draws shows up in the viewer window
# (read back from the host X server) within 100 ms; the viewer follows a
# guest resize, refuses hostile descriptors from a guest program, survives
# the VM going away, re-attaches when it comes back, and quits on
# WM_DELETE_WINDOW leaving the VM running, and paints with XPutImage where
# MIT-SHM can't be used.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/desktop.sh"

PROBE=$BUILD/tests/host/xwin-probe
VLOG=$BUILD/tests/e2e-vid-viewer.log

# guest_fill RRGGBB: fill the guest screen; prints the guest's clock (ns) just before.
guest_fill() { guest_sh "$GUEST_ENV $GBIN/video-draw fill $1"; }

# latency_of RRGGBB X Y: draw in the guest while the host watches the
# window; sets US to the microseconds from the guest's draw to the host seeing it.
latency_of() {
	local out=$BUILD/tests/e2e-vid-probe.out t0 t1 probe
	$PROBE wait "$win" "$2" "$3" "$1" 5000 >"$out" &
	probe=$!
	sleep 0.05
	t0=$(guest_fill "$1")
	wait $probe || die "colour $1 never reached the viewer window at $2,$3 (it shows" \
		"$($PROBE pixel "$win" "$2" "$3"); viewer log: $(tail -3 "$VLOG" | tr '\n' ' ')" \
		"agent log: $(tail -3 "$DESK/agent.log" | tr '\n' ' '));" \
		"window $win: $(xwininfo -id "${win:-0}" 2>&1 | grep -E 'Width|Height|Map State|error' | tr '\n' ' ')"
	t1=$(cat "$out")
	US=$(((t1 - t0) / 1000))
}

# A host screen the guest's 2048x1536 fits in, so the viewer shows it 1:1
# and leaves its size alone (77-viewer-ux.sh tests fitting a larger guest).
HOST_X_SIZE=2560x1600x24 start_host_x
export DISPLAY=$HOST_DISPLAY	# the host tools below (xwin-probe, xdotool)
start_desktop_vm vid
: >"$VLOG"	# (before the job opens it: the waits below must not read the last log)
$BIN/porthole-viewer vid >"$VLOG" 2>&1 &
viewer=$!
wait_until 10 "the viewer's window" grep -q "display: window 0x[0-9a-f]* " "$VLOG"
win=$(sed -n 's/.*display: window \(0x[0-9a-f]*\) .*/\1/p' "$VLOG" | head -1)
echo "# viewer window: $win"
[ -n "$win" ] || die "no window id in the viewer's log: $(cat "$VLOG")"
wait_until 20 "the guest framebuffer in the viewer" grep -q "display: guest screen" "$VLOG"
gsize=$(guest_sh 'xdpyinfo | sed -n "s/ *dimensions: *\([0-9x]*\) pixels.*/\1/p"')
assert_match "guest screen ${gsize} " "$(grep 'display: guest screen' "$VLOG" | tail -1)" \
	"the viewer maps the guest's ${gsize} framebuffer"

# Colour, drawn in the guest, read back from the host window.
# Three colours at three places: the median must be under 100 ms (the
# machine is shared: one slow draw out of three is the scheduler's), every
# one under a second.
lat=()
for c in "ff0000 10 10" "00ff00 300 200" "0000ff 1000 700"; do
	latency_of $c
	[ "$US" -lt 1000000 ] || die "colour ${c%% *} took ${US} us to reach the viewer"
	lat+=("$US")
done
median=$(printf '%s\n' "${lat[@]}" | sort -n | sed -n 2p)
echo "# guest draw -> viewer window: ${lat[*]} us"
[ "$median" -lt 100000 ] || die "a guest draw takes ${median} us (median) to reach the viewer (limit 100 ms)"
ok "a colour drawn in the guest is in the viewer window in $((median / 1000)) ms (median of ${lat[*]} us; < 100 ms)"
assert_eq "$gsize" "$(ctl info-get vid guestinfo.porthole.screen)" \
	"the agent reports the screen size as guestinfo.porthole.screen"

# Idle: nothing drawn, nothing runs (no timers, no datagrams).
agent=$(desktop_agent_pid) || die "the agent of the desktop VM was not found"
sleep 0.3
a0=$(cpu_us "$agent") v0=$(cpu_us "$viewer")
sleep 1
idle_us=$(( $(cpu_us "$agent") - a0 + $(cpu_us "$viewer") - v0 ))
[ "$idle_us" -lt 5000 ] || die "agent + viewer used ${idle_us} us of CPU in 1 s of idle screen"
ok "an idle screen costs the agent and the viewer nothing (${idle_us} us CPU in 1 s)"

# Guest resize: a new buffer, the window follows it, all of it is shown.
guest_sh 'xrandr --newmode v800 40 800 840 968 1056 600 601 605 628 &&
	xrandr --addmode DUMMY0 v800 && xrandr --output DUMMY0 --mode v800' >/dev/null ||
	die "xrandr could not resize the guest"
wait_until 5 "the 800x600 framebuffer" grep -q "display: guest screen 800x600" "$VLOG"
guest_fill 804020 >/dev/null
wait_until 5 "brown bottom-right corner" sh -c "$PROBE pixel $win 799 599 | grep -qx 804020"
wait_until 5 "brown top-left corner" sh -c "$PROBE pixel $win 0 0 | grep -qx 804020"
assert_eq "800x600" "$(host_x xdotool getwindowgeometry "$win" | sed -n 's/ *Geometry: //p')" \
	"the viewer window follows the guest's new size and shows all of it"
wait_until 5 "guestinfo.porthole.screen 800x600" \
	sh -c "[ \"\$($BIN/porthole-ctl info-get vid guestinfo.porthole.screen)\" = 800x600 ]"
ok "the agent reports the new size over RPCI"

# The user resizes the viewer window: with the resize module (input.c sends
# Resolution_Set) the guest follows, and the viewer shows all of its new screen.
if grep -q "resize: off" "$DESK/agent.log"; then
	echo "# skip: window resize -> guest resize (the agent's resize module is off)"
else
	host_x xdotool windowsize "$win" 1000 700
	wait_until 5 "the guest following the window to 1000x700" \
		grep -q "display: guest screen 1000x700" "$VLOG"
	guest_fill 00ffff >/dev/null
	wait_until 5 "cyan bottom-right corner" sh -c "$PROBE pixel $win 999 699 | grep -qx 00ffff"
	ok "xdotool windowsize: the guest resized and the viewer shows the whole new screen"
fi

# Hostile descriptors from a guest program: refused, logged, no crash.
before=$(grep -c "refused" "$VLOG" || true)
guest_sh "$GUEST_ENV $GBIN/video-hostile" >"$BUILD/tests/e2e-vid-hostile.out" ||
	die "video-hostile could not send: $(cat "$BUILD/tests/e2e-vid-hostile.out")"
sleep 0.3
kill -0 $viewer || die "the viewer died on hostile video messages"
after=$(grep -c "refused" "$VLOG" || true)
[ $((after - before)) -ge 5 ] || die "hostile messages were not logged ($before -> $after)"
grep -q "pages outside guest RAM" "$VLOG" || die "no refusal for pages outside guest RAM"
ok "hostile framebuffer descriptors and updates are refused with a log line ($((after - before)) lines, rate-limited)"
latency_of ffff00 20 20
ok "the viewer still shows the real framebuffer after them (${US} us)"

# The VM goes away: the window stays, grey, saying so.
kill "$DESK_HV"; wait "$DESK_HV" 2>/dev/null || true
wait_until 5 "the viewer noticing" grep -q "went away" "$VLOG"
wait_until 5 "the grey waiting state" sh -c "$PROBE pixel $win 2 2 | grep -qx 606060"
kill -0 $viewer || die "the viewer exited with the VM"
ok "the viewer survives the VM going away and shows it is waiting"

# A VM with the same name comes back: the viewer re-attaches by itself (and,
# with the resize module, tells the new guest the window's size).
start_desktop_vm vid
wait_until 20 "the viewer re-attaching" sh -c "grep -c 'display: guest screen' '$VLOG' | grep -qv '^[12]$'"
if ! grep -q "resize: off" "$DESK/agent.log"; then
	wait_until 5 "the new guest at the window's 1000x700" sh -c "grep 'display: guest screen' '$VLOG' | tail -1 | grep -q 1000x700"
	# Known agent race: a draw in the first moments after a resize right at
	# the agent's start can be left out of the updates (the next one comes
	# through); draw once before timing one.
	guest_fill 000080 >/dev/null
	sleep 0.3
fi
latency_of ff00ff 10 10
ok "the viewer re-attached to the new VM and shows its screen (${US} us)"

# Closing the window quits the viewer; the VM keeps running.
$PROBE close "$win"
for i in $(seq 50); do kill -0 $viewer 2>/dev/null || break; sleep 0.1; done
kill -0 $viewer 2>/dev/null && die "the viewer ignored WM_DELETE_WINDOW"
wait $viewer || die "the viewer exited with status $?"
ctl status vid >/dev/null || die "the VM stopped with the viewer"
ok "closing the window quits the viewer and leaves the VM running"

# As on a remote display (no MIT-SHM): XPutImage from the mapped pages.
: >"$VLOG"	# (before the job opens it: the waits below must not read the last log)
PORTHOLE_VIEWER_NO_SHM=1 $BIN/porthole-viewer vid >"$VLOG" 2>&1 &
viewer=$!
wait_until 10 "the XPutImage viewer's window" grep -q "display: window .*XPutImage" "$VLOG"
win=$(sed -n 's/.*display: window \(0x[0-9a-f]*\) .*/\1/p' "$VLOG" | head -1)
wait_until 20 "the guest framebuffer in the XPutImage viewer" grep -q "display: guest screen" "$VLOG"
latency_of 123456 50 50
ok "without MIT-SHM the viewer paints with XPutImage ($((US / 1000)) ms)"
kill $viewer; wait $viewer || true

# --headless: no window at all.
: >"$VLOG"	# (before the job opens it: the waits below must not read the last log)
$BIN/porthole-viewer --headless vid >"$VLOG" 2>&1 &
viewer=$!
wait_until 10 "the headless viewer attaching" grep -q "attached to VM" "$VLOG"
host_x xdotool search --class "Porthole-viewer" >/dev/null && die "--headless opened a window"
kill $viewer; wait $viewer || true
ok "--headless opens no window"
