# The demo a new user meets (make run, i.e. tests/run-demo.sh) on a 1920x1080
# host display: its guest session has a terminal (xterm) next to the clock;
# typing in it through porthole-viewer reaches its shell, a host copy pastes
# into it, and `porthole-ctl shutdown` ends the demo.  What the terminal's
# shell does is checked by the files it writes in the demo's shared log
# directory (/var/log/porthole in the guest).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/desktop.sh"
command -v xterm >/dev/null || skip "xterm is not installed (installer/deps.sh installs it)"
top=$(cd "$(dirname "$0")/../.." && pwd)
vm=demo-e2e
demo=$BUILD/tests/e2e-72-demo
DEMO_PID=""
demo_cleanup() {
	[ -n "$DEMO_PID" ] && kill "$DEMO_PID" 2>/dev/null && wait "$DEMO_PID" 2>/dev/null
	desktop_cleanup
}
trap demo_cleanup EXIT

rm -rf "$demo"	# (the viewer log of an earlier run must not count)
start_host_x
# The demo brings up its own session bus and hostd when there is none.
env -u DBUS_SESSION_BUS_ADDRESS DISPLAY=$HOST_DISPLAY VM=$vm DEMO_DIR="$demo" RUN_SECONDS=600 \
	"$top/tests/run-demo.sh" "$BUILD" >"$BUILD/tests/e2e-72-run-demo.log" 2>&1 &
DEMO_PID=$!
wait_until 120 "the demo's viewer window" grep -q "display: window" "$demo/logs/viewer.log" 2>/dev/null
win=$(sed -n 's/.*display: window \(0x[0-9a-f]*\).*/\1/p' "$demo/logs/viewer.log" | head -1)
wait_until 30 "the guest's screen in the viewer" grep -q "display: guest screen" "$demo/logs/viewer.log"
ok "make run's demo shows the guest in porthole-viewer (window $win)"

# The terminal is at +40+320 in the guest; the viewer maps the pointer 1:1,
# and without a window manager the guest's keyboard follows its pointer.
read -r wx wy < <(host_x xdotool getwindowgeometry "$win" | sed -n 's/ *Position: \([0-9]*\),\([0-9]*\).*/\1 \2/p')
host_x xdotool mousemove $((wx + 200)) $((wy + 420))
# type_line TEXT: TEXT and Return in the terminal (Ctrl+U first: a line typed
# before the terminal was up is dropped, not prefixed).
type_line() { host_x xdotool key ctrl+u; host_x xdotool type --delay 30 "$1"; host_x xdotool key Return; }
typed=$demo/logs/typed
rm -f "$typed"
for try in 1 2 3 4 5 6; do
	type_line "echo typed-through-the-viewer >/var/log/porthole/typed"
	wait_until_quiet 5 grep -q '^typed-through-the-viewer$' "$typed" && break
	[ $try = 6 ] && die "the terminal's shell never wrote what was typed (session: $(cat "$demo/logs/session.log" "$demo/logs/clients.out" 2>/dev/null | tail -5))"
done
ok "typing in the demo terminal through the viewer reaches its shell (attempt $try)"

# A host copy (CLIPBOARD, as Ctrl+C in a host application makes) pasted
# with Shift+Insert in the terminal; Return runs it.
printf %s "echo pasted-from-the-host >/var/log/porthole/pasted" | host_x xclip -selection clipboard -i >/dev/null 2>&1 &
sleep 0.5
host_x xdotool key ctrl+u shift+Insert
sleep 1
host_x xdotool key Return
wait_until 10 "the pasted command's output" grep -q '^pasted-from-the-host$' "$demo/logs/pasted"
ok "a host copy pastes into the demo terminal (Shift+Insert) and reaches its shell"

"$BIN/porthole-ctl" shutdown $vm
wait_until 20 "the demo to end" sh -c "! kill -0 $DEMO_PID"
wait "$DEMO_PID" || die "run-demo.sh exited with $?"
DEMO_PID=""
ok "porthole-ctl shutdown $vm ends the demo"
