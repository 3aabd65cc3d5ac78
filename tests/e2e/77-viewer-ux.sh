# The viewer as a person meets it, on a 1920x1080 host display whose work
# area leaves a 40-pixel panel at the top: the first window fits the work
# area and the guest is resized to it; the window tells the desktop what it
# is (WM_CLASS, _NET_WM_PID, WM_CLIENT_MACHINE, _NET_WM_ICON, a title with
# the VM's state); scale mode shows all of a guest larger than the window,
# letterboxed, and maps the pointer back into guest pixels; full screen and
# back, without and with a window manager (openbox); a VM restarted under the
# viewer is told the window's size at once; a second viewer of the same VM
# says why it can't and exits 1.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/desktop.sh"

PROBE=$BUILD/tests/host/xwin-probe
VLOG=$BUILD/tests/e2e-ux-viewer.log
VLOG2=$BUILD/tests/e2e-ux-viewer2.log

ms() { date +%s%3N; }
gsize() { guest_sh 'xdpyinfo | sed -n "s/ *dimensions: *\([0-9x]*\) pixels.*/\1/p"'; }
# win_size: the viewer window's WxH; win_pos: its X Y on the screen.  (Each
# query bounded: a stuck one fails the test with the state it was in.)
win_size() { xwininfo -id "$win" | awk '/Width:/ { w = $2 } /Height:/ { h = $2 } END { print w "x" h }'; }
win_pos() { xwininfo -id "$win" | awk '/Absolute upper-left X:/ { x = $4 } /Absolute upper-left Y:/ { y = $4 } END { print x, y }'; }
title() { timeout 10 xprop -id "$win" _NET_WM_NAME | sed -n 's/^_NET_WM_NAME(UTF8_STRING) = "\(.*\)"$/\1/p'; }
pixel() { timeout 10 $PROBE pixel "$win" "$1" "$2"; }
xwininfo() { timeout 10 /usr/bin/xwininfo "$@"; }
win_is() { [ "$(win_size)" = "$1" ]; }
# wait_pixel X Y RRGGBB WHAT
wait_pixel() {
	local end=$((SECONDS + 5))
	until [ "$(pixel "$1" "$2")" = "$3" ]; do
		[ $SECONDS -lt $end ] || die "$4: window pixel $1,$2 is $(pixel "$1" "$2"), not $3" \
			"(window $(win_size); viewer log: $(tail -4 "$VLOG" | tr '\n' ' '))"
		sleep 0.1
	done
}
# wait_guest_size WxH SECONDS WHAT
wait_guest_size() {
	local end=$((SECONDS + $2))
	until [ "$(gsize)" = "$1" ]; do
		[ $SECONDS -lt $end ] || die "$3: the guest is $(gsize), not $1" \
			"(viewer log: $(grep -i 'resize\|guest screen' "$VLOG" | tail -3 | tr '\n' ' '))"
		sleep 0.1
	done
}

start_host_x
export DISPLAY=$HOST_DISPLAY
# The work area a window manager with a 40-pixel top panel would publish.
# (A client stays connected meanwhile: Xvfb resets, root properties and all,
# when its last client leaves.)
for i in $(seq 50); do
	xprop -root -spy _NET_WORKAREA >/dev/null 2>&1 &
	sleep 0.2
	kill -0 $! 2>/dev/null && break	# (it can't connect while the server resets)
done
xprop -root -f _NET_WORKAREA 32c -set _NET_WORKAREA "0, 40, 1920, 1040"
assert_eq "_NET_WORKAREA(CARDINAL) = 0, 40, 1920, 1040" "$(xprop -root _NET_WORKAREA)" "the host's work area is set"
start_desktop_vm ux
grep -q "resize: off" "$DESK/agent.log" && skip "the agent's resize module is off: $(grep 'resize: off' "$DESK/agent.log")"
# A guest screen larger than the host's.
wait_until 10 "the agent on its TCLO channel" sh -c "$BIN/porthole-ctl status ux --raw | grep -q 'tools.app=toolbox-dnd'"
assert_eq "OK " "$(ctl tclo ux 'toolbox-dnd:Resolution_Set 2400 1500')" "the guest screen is 2400x1500"

# ---- the first window fits the work area; the guest is resized to it ----
# (Emptied here: a background job opens its redirections after the shell
# moves on, and the waits below must not read the last run's log.)
: >"$VLOG"
$BIN/porthole-viewer ux >"$VLOG" 2>&1 &
viewer=$!
wait_until 10 "the viewer's window" grep -q "display: window 0x[0-9a-f]* " "$VLOG"
win=$(sed -n 's/.*display: window \(0x[0-9a-f]*\) .*/\1/p' "$VLOG" | head -1)
wait_until 20 "the guest screen in the viewer" grep -q "display: guest screen 2400x1500" "$VLOG"
end=$((SECONDS + 5))
until [[ $(win_size) =~ ^1[0-9]{3}x ]]; do
	[ $SECONDS -lt $end ] || die "the window $win is '$(win_size)', not sized for the guest" \
		"(viewer log: $(tail -3 "$VLOG" | tr '\n' ' '))"
	sleep 0.1
done
read -r ww wh <<<"$(win_size | tr x ' ')"
read -r wx wy <<<"$(win_pos)"
echo "# window ${ww}x${wh} at $wx,$wy"
[ "$wy" -ge 40 ] && [ $((wy + wh)) -le 1080 ] && [ $((wx + ww)) -le 1920 ] ||
	die "the window (${ww}x${wh} at $wx,$wy) does not fit the work area 0,40 1920x1040"
[ "$ww" -ge 1200 ] || die "the window (${ww}x${wh}) is much smaller than the work area"
ok "a 2400x1500 guest gets a ${ww}x${wh} window inside the 1920x1040 work area (aspect kept)"
t0=$(ms)
wait_guest_size "${ww}x${wh}" 10 "resize-guest mode"
ok "resize-guest (the default): the guest is resized to the window, ${ww}x${wh} ($(($(ms) - t0)) ms)"

# ---- what the desktop reads ----
props=$(host_x xprop -id "$win")
assert_match 'WM_CLASS\(STRING\) = "porthole-viewer", "Porthole-viewer"' "$props" "WM_CLASS is porthole-viewer, Porthole-viewer"
assert_match "_NET_WM_PID\(CARDINAL\) = $viewer" "$props" "_NET_WM_PID is the viewer's pid"
assert_match "WM_CLIENT_MACHINE\(STRING\) = \"$(hostname)\"" "$props" "WM_CLIENT_MACHINE is this host"
assert_match '_NET_WM_ICON\(CARDINAL\) = 	Icon \(32 x 32\)' "$props" "_NET_WM_ICON holds a 32x32 icon"
assert_eq "$((win))" "$(host_x xdotool search --pid "$viewer" | head -1)" "xdotool search --pid finds the window"
wait_until 5 "the title saying running" sh -c "xprop -id $win _NET_WM_NAME | grep -q running"
assert_eq "ux — running — Porthole" "$(title)" "the title names the VM and its state"
desktop=$(cd "$(dirname "$0")/../.." && pwd)/host-services/viewer/porthole-viewer.desktop
assert_eq "StartupWMClass=Porthole-viewer" "$(grep '^StartupWMClass=' "$desktop")" \
	"the .desktop file's StartupWMClass matches the window's class"

# ---- scale mode: the guest keeps its size, scaled down to fit ----
# Keys as a person types them (XTest), into the focused viewer.
host_x xdotool windowfocus --sync "$win"
host_x xdotool key ctrl+alt+s
wait_until 5 "scale mode" grep -q "display: scale mode" "$VLOG"
assert_eq "OK " "$(ctl tclo ux 'toolbox-dnd:Resolution_Set 2400 1500')" "the guest goes back to 2400x1500 by itself"
wait_until 10 "the viewer scaling" grep -q "display: scaling the 2400x1500 guest screen" "$VLOG"
sleep 1
assert_eq 2400x1500 "$(gsize)" "scale mode does not resize the guest"
read -r ww wh <<<"$(win_size | tr x ' ')"
guest_sh "$GUEST_ENV $GBIN/video-draw corners 808080 80" >/dev/null
wait_pixel 1 1 ff0000 "top-left corner"
wait_pixel $((ww - 2)) 1 00ff00 "top-right corner"
wait_pixel 1 $((wh - 2)) 0000ff "bottom-left corner"
wait_pixel $((ww - 2)) $((wh - 2)) ffff00 "bottom-right corner"
wait_pixel $((ww / 2)) $((wh / 2)) 808080 "middle"
ok "scale mode: all four corners of the 2400x1500 guest are in the ${ww}x${wh} window"

# Letterboxed: a wide window shows the guest centred, black either side.
host_x xdotool windowsize "$win" 1200 400
wait_until 5 "the 1200x400 window" win_is 1200x400
# 2400x1500 in 1200x400: 640x400, from x = 280.
wait_pixel 100 200 000000 "left letterbox"
wait_pixel 1100 200 000000 "right letterbox"
wait_pixel 281 1 ff0000 "top-left corner, letterboxed"
wait_pixel 918 398 ffff00 "bottom-right corner, letterboxed"
wait_pixel 600 200 808080 "middle, letterboxed"
assert_eq 2400x1500 "$(gsize)" "resizing the window in scale mode leaves the guest alone"
ok "letterbox: a 1200x400 window shows the guest at 640x400, centred"

# The pointer over the scaled picture lands on the guest pixel under it.
guest_sh "nohup $GBIN/x-probe >/x/probe.out 2>&1 &"
wait_until 10 "x-probe window" grep -q '^ready' "$DESK/probe.out"
read -r wx wy <<<"$(win_pos)"
host_x xdotool mousemove $((wx + 280 + 639)) $((wy + 399))
wait_until 5 "guest pointer at the bottom-right guest pixel" grep -q '^motion 2399 1499 @' "$DESK/probe.out"
host_x xdotool mousemove $((wx + 280 + 320)) $((wy + 200))
# window 320,200 of the 640x400 picture is guest 320 * 2399 / 639 = 1201, 200 * 1499 / 399 = 751
wait_until 5 "guest pointer near 1201,751" grep -qE '^motion 120[0-2] 75[0-2] @' "$DESK/probe.out"
host_x xdotool mousemove $((wx + 280)) $((wy + 0)) click 1
wait_until 5 "a click at the guest's top-left pixel" grep -q '^release 1 0 0 @' "$DESK/probe.out"
ok "the pointer maps back through the scaling: the picture's corners and middle land on the guest's"
host_x xdotool mousemove $((wx + 50)) $((wy + 200))
wait_until 5 "the left letterbox clamped to the guest's left edge" grep -qE '^motion 0 75[0-2] @' "$DESK/probe.out"
ok "over the letterbox the pointer stays on the guest's edge"
guest_sh 'pkill -x x-probe' >/dev/null || true

# ---- back to resize-guest: the guest takes the window's size at once ----
host_x xdotool key ctrl+alt+s
t0=$(ms)
wait_guest_size 1200x400 5 "back in resize-guest mode"
ok "Ctrl+Alt+S back to resize-guest: the guest is the window's 1200x400 in $(($(ms) - t0)) ms"

# ---- full screen and back ----
host_x xdotool key F11
wait_until 5 "the full-screen window" win_is 1920x1080
wait_guest_size 1920x1080 5 "full screen"
assert_match "press Ctrl\+Alt to release the keyboard" "$(title)" "full screen grabs the keyboard and the title says how to let go"
host_x xdotool key ctrl+alt
wait_until 5 "the keyboard released" sh -c "! xprop -id $win _NET_WM_NAME | grep -q 'release'"
ok "F11: full screen (the guest follows to 1920x1080); Ctrl+Alt releases the keyboard"
host_x xdotool key ctrl+alt+f
wait_until 5 "the window back to 1200x400" win_is 1200x400
wait_guest_size 1200x400 5 "out of full screen"
ok "Ctrl+Alt+F: back to the 1200x400 window, and the guest with it"

# ---- a second viewer of the same VM says why not, and exits 1 ----
rc=0
$BIN/porthole-viewer --headless ux >"$VLOG2" 2>&1 || rc=$?
assert_eq 1 "$rc" "a second (headless) viewer exits 1"
assert_match "VM ux already has a viewer \(pid $viewer\)" "$(cat "$VLOG2")" "and says which viewer has the VM"
: >"$VLOG2"
$BIN/porthole-viewer ux >"$VLOG2" 2>&1 &
second=$!
wait_until 10 "the second viewer's window" sh -c "xdotool search --pid $second | grep -q ."
win2=$(host_x xdotool search --pid "$second" | head -1)
wait_until 5 "its title" sh -c "xprop -id $win2 _NET_WM_NAME | grep -q 'already has a viewer'"
assert_match "VM ux already has a viewer \(pid $viewer\)" "$(host_x xprop -id "$win2" _NET_WM_NAME)" \
	"a second viewer with a window says so in its title"
wait_until 5 "the refusal painted" sh -c "$PROBE pixel $win2 2 2 | grep -qx 606060"
$PROBE close "$win2"
rc=0
wait $second || rc=$?
assert_eq 1 "$rc" "and exits 1 when its window is closed"
assert_match "VM ux already has a viewer \(pid $viewer\)" "$(cat "$VLOG2")" "the message is on its stderr too"
kill -0 $viewer || die "the first viewer died"
grep -q "Address already in use" "$VLOG" "$VLOG2" && die "a viewer tried to bind a taken channel"
ok "the first viewer is untouched"

# ---- the VM restarts: the guest comes up at the window's size ----
ctl stop ux >/dev/null
wait_exit "$DESK_HV"
wait_until 5 "the viewer noticing" grep -q "went away" "$VLOG"
wait_until 5 "the title saying disconnected" sh -c "xprop -id $win _NET_WM_NAME | grep -q disconnected"
assert_eq "ux — (disconnected) — Porthole" "$(title)" "the title says the VM is away"
screens=$(grep -c "display: guest screen" "$VLOG")
start_desktop_vm ux
wait_until 30 "the restarted guest's screen" sh -c "[ \$(grep -c 'display: guest screen' '$VLOG') -gt $screens ]"
first=$(grep "display: guest screen" "$VLOG" | sed -n "$((screens + 1))p")
echo "# the restarted guest's first screen: ${first##*display: }"
wait_until 5 "the restarted guest at 1200x400" sh -c "grep 'display: guest screen' '$VLOG' | tail -n +$((screens + 1)) | grep -q 'screen 1200x400 '"
fitted=$(grep "display: guest screen" "$VLOG" | tail -n +$((screens + 1)) | grep -m1 'screen 1200x400 ')
assert_eq 1200x400 "$(gsize)" "the restarted guest is told the window's size"
# From the viewer's own clock (its log lines' HH:MM:SS.mmm).
log_ms() { sed -n 's/.* \([0-9][0-9]\):\([0-9][0-9]\):\([0-9][0-9]\)\.\([0-9][0-9][0-9]\): .*/\1 \2 \3 \4/p' <<<"$1" |
	awk '{ print (($1 * 60 + $2) * 60 + $3) * 1000 + $4 }'; }
took=$(($(log_ms "$fitted") - $(log_ms "$first")))
[ "$took" -lt 2000 ] || die "the restarted guest took $took ms to take the window's size"
ok "after porthole-ctl stop and a restart the guest shows at the window's 1200x400 $took ms after its first screen"
assert_eq "ux — running — Porthole" "$(title)" "the title says running again"

# ---- under a window manager (openbox): full screen through EWMH ----
openbox >"$BUILD/tests/e2e-ux-openbox.log" 2>&1 &
wait_until 10 "openbox managing the screen" sh -c "xprop -root _NET_SUPPORTING_WM_CHECK | grep -q 'window id'"
wait_until 10 "the viewer's window framed" sh -c "xprop -id $win _NET_FRAME_EXTENTS | grep -q CARDINAL"
host_x xdotool windowfocus --sync "$win"
host_x xdotool key F11
wait_until 5 "_NET_WM_STATE_FULLSCREEN" sh -c "xprop -id $win _NET_WM_STATE | grep -q _NET_WM_STATE_FULLSCREEN"
wait_until 5 "the full-screen window" win_is 1920x1080
wait_guest_size 1920x1080 5 "full screen under openbox"
ok "under openbox, F11 asks the window manager for full screen (_NET_WM_STATE_FULLSCREEN) and the guest follows"
host_x xdotool key ctrl+alt+f
wait_until 5 "full screen off" sh -c "! xprop -id $win _NET_WM_STATE | grep -q _NET_WM_STATE_FULLSCREEN"
wait_guest_size 1200x400 5 "out of full screen under openbox"
ok "Ctrl+Alt+F: the window manager puts the 1200x400 window back, and the guest follows"

# Closing the window quits the viewer; the VM's viewer lock goes with it.
$PROBE close "$win"
wait $viewer || die "the viewer exited with status $?"
: >"$VLOG2"
$BIN/porthole-viewer --headless ux >"$VLOG2" 2>&1 &
second=$!
wait_until 10 "a new viewer attaching" grep -q "attached to VM" "$VLOG2"
kill $second; wait $second || true
ok "once the viewer is gone another one can take the VM"
