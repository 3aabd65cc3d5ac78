# The desktop test harness itself: a guest X server (Xorg, dummy driver)
# inside a trap-engine VM that RandR can add modes to, a host Xvfb, and
# commands run inside the guest session.
# cpuid-dependent: guest programs detect the hypervisor through cpuid
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/desktop.sh"

start_host_x
start_desktop_vm desk --no-agent
size=$(guest_sh 'xdpyinfo | sed -n "s/ *dimensions: *\([0-9x]*\) pixels.*/\1/p"')
assert_match '^[0-9]+x[0-9]+$' "$size" "the guest X server answers ($size)"
guest_sh 'xrandr --newmode m1234 60 1234 1300 1400 1500 777 800 810 820 &&
	xrandr --addmode DUMMY0 m1234 && xrandr --output DUMMY0 --mode m1234' >/dev/null ||
	die "xrandr could not add a mode in the guest"
size=$(guest_sh 'xdpyinfo | sed -n "s/ *dimensions: *\([0-9x]*\) pixels.*/\1/p"')
assert_eq 1234x777 "$size" "RandR resized the guest screen to a new mode"
rc=0; guest_sh 'exit 3' >/dev/null || rc=$?
assert_eq 3 "$rc" "guest command status comes back"
host=$(host_x xdpyinfo | sed -n 's/ *dimensions: *\([0-9x]*\) pixels.*/\1/p')
assert_eq 1920x1080 "$host" "the host Xvfb runs"
