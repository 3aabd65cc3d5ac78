# Desktop test helpers (sourced after lib.sh): a host X server (Xvfb), and a
# VM whose guest runs a real X server (Xorg, dummy driver) with the guest
# additions, plus a way to run commands inside that guest session.
#
#   start_host_x                 Xvfb on a free display; sets HOST_DISPLAY
#   start_desktop_vm NAME [--no-agent] [--agent-args "..."] [hv options]
#                                the guest: Xorg :0, porthole-guestd,
#                                porthole-agent; sets DESK (shared dir, /x in
#                                the guest) and DESK_HV (the hypervisor pid)
#   guest_sh 'COMMAND'           run COMMAND with bash in the guest session
#                                (DISPLAY=:0); prints its output, returns
#                                its status
#   host_x CMD...                run CMD against the host display

# The guest package ships it too (/usr/share/porthole/xorg-dummy.conf).
XORG_CONF=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../installer" && pwd)/xorg-dummy.conf
HOST_X_PID=""
DESK=""

desktop_cleanup() {
	cleanup
	[ -n "$HOST_X_PID" ] && kill "$HOST_X_PID" 2>/dev/null
	[ -n "$DESK" ] && rm -rf "$DESK"
	return 0
}
trap desktop_cleanup EXIT

start_host_x() {
	local n
	for n in $(seq $((20 + RANDOM % 60)) 99); do
		[ -e /tmp/.X11-unix/X$n ] || [ -e /tmp/.X$n-lock ] && continue
		Xvfb :$n -screen 0 "${HOST_X_SIZE:-1920x1080x24}" -nolisten tcp >/dev/null 2>&1 &
		HOST_X_PID=$!
		HOST_DISPLAY=:$n
		if wait_until_quiet 10 xdpyinfo -display $HOST_DISPLAY; then
			return 0
		fi
		kill $HOST_X_PID 2>/dev/null
	done
	die "could not start Xvfb"
}

# wait_until_quiet SECONDS CMD...: like wait_until, but returns 1 instead of dying.
wait_until_quiet() {
	local end=$((SECONDS + $1)); shift
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.1
	done
}

host_x() { DISPLAY=$HOST_DISPLAY "$@"; }

start_desktop_vm() {
	local name=$1 agent=1 agent_args=""; shift
	while [ $# -gt 0 ]; do
		case $1 in
		--no-agent) agent=0; shift ;;
		--agent-args) agent_args=$2; shift 2 ;;
		*) break ;;
		esac
	done
	DESK=$(mktemp -d /tmp/porthole-desk.XXXXXX)
	local agent_cmd=":"
	[ $agent = 1 ] && agent_cmd="$GUEST_ENV $BIN/porthole-agent --wait-display 20 $agent_args >/x/agent.log 2>&1 &"
	start_vm "$name" "$BUILD/tests/e2e-$name-hv.log" --share "$DESK:/x" "$@" -- bash -c "
		export DISPLAY=:0
		Xorg :0 -config $XORG_CONF -noreset -nolisten tcp -novtswitch -sharevts \
			-logfile /tmp/xorg.log >/x/xorg.out 2>&1 &
		for i in \$(seq 200); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done
		$GUEST_ENV $BIN/porthole-guestd >/x/guestd.log 2>&1 &
		$agent_cmd
		touch /x/ready
		# Run commands the test hands over: /x/cmd.N -> /x/out.N, /x/rc.N.
		n=1
		while :; do
			if [ -e /x/cmd.\$n ]; then
				bash /x/cmd.\$n >/x/out.\$n 2>&1; echo \$? >/x/rc.\$n.tmp
				mv /x/rc.\$n.tmp /x/rc.\$n; n=\$((n + 1))
			else
				sleep 0.02
			fi
		done"
	DESK_HV=$LAST_HV
	wait_until 30 "guest X session of $name" test -e "$DESK/ready"
	echo 0 >"$DESK/.n"
}

guest_sh() {
	# The counter lives in a file: callers often run this in $(...).
	local n=$(($(cat "$DESK/.n") + 1))
	echo $n >"$DESK/.n"
	printf 'export DISPLAY=:0\n%s\n' "$1" >"$DESK/cmd.$n.tmp"
	mv "$DESK/cmd.$n.tmp" "$DESK/cmd.$n"
	local end=$((SECONDS + ${GUEST_SH_TIMEOUT:-60}))
	until [ -e "$DESK/rc.$n" ]; do
		[ $SECONDS -lt $end ] || die "guest command timed out: $1"
		sleep 0.02
	done
	cat "$DESK/out.$n"
	return "$(cat "$DESK/rc.$n")"
}

# cpu_us PID: CPU time of all its threads so far, in µs (schedstat: finer
# than the 10 ms ticks of /proc/PID/stat).
cpu_us() { cat /proc/"$1"/task/*/schedstat | awk '{ t += $1 } END { printf "%d", t / 1000 }'; }

# desktop_agent_pid: the host pid of the porthole-agent of the VM started by
# start_desktop_vm (a descendant of DESK_HV; other tests' agents come and go).
desktop_agent_pid() {
	local p q
	for p in $(pgrep -x porthole-agent || true); do
		q=$p
		while [ "${q:-1}" -gt 1 ]; do
			[ "$q" = "$DESK_HV" ] && { echo "$p"; return 0; }
			q=$(awk '{ print $4 }' "/proc/$q/stat" 2>/dev/null || true)
		done
	done
	die "the agent of the desktop VM was not found"
}

# start_viewer VM: porthole-viewer with its window on the host display (log
# $DESK/viewer.log, pid VIEWER, window VIEWER_WIN), the host pointer over it so
# that keys typed on the host go to it, as a user working in the VM's window.
start_viewer() {	# NAME [VIEWER OPTIONS...]
	local name=$1; shift
	host_x "$BIN/porthole-viewer" -v "$@" "$name" >"$DESK/viewer.log" 2>&1 &
	VIEWER=$!
	wait_until 10 "viewer attached" grep -q "attached to VM" "$DESK/viewer.log"
	wait_until 10 "the viewer's window" grep -q "display: window" "$DESK/viewer.log"
	VIEWER_WIN=$(sed -n 's/.*display: window \(0x[0-9a-f]*\).*/\1/p' "$DESK/viewer.log" | head -1)
	host_x xdotool mousemove --window "$VIEWER_WIN" 20 20
}

# user_press [KEYS]: the host user presses KEYS (default ctrl+v) in the viewer's
# window, or clicks (KEYS "click").  A guest may read the host clipboard only
# right after such a press (README, security model), so every paste in the
# guest starts with one, as a real paste does.
user_press() {
	if [ "${1:-ctrl+v}" = click ]; then
		host_x xdotool click 1
	else
		host_x xdotool key "${1:-ctrl+v}"
	fi
}

# ---- clipboard checks with xclip on both sides ----
# host_copy SEL FILE [TYPE]: a host application owns SEL with FILE's bytes.
host_copy() { host_x xclip -selection "$1" -i ${3:+-t "$3"} "$2" >/dev/null 2>&1 & }
# guest_paste_eq SEL FILE WHAT [TYPE]: the user presses in the viewer
# (PASTE_PRESS: user_press's argument, default ctrl+v) and a guest application
# pastes FILE's bytes; retried while the offer travels (CLIP_WAIT s, default 20).
guest_paste_eq() {
	local end=$((SECONDS + ${CLIP_WAIT:-20}))
	until user_press ${PASTE_PRESS:-} && guest_sh "xclip -selection $1 -o ${4:+-t $4} >/x/pasted 2>/dev/null" >/dev/null &&
		cmp -s "$2" "$DESK/pasted"; do
		[ $SECONDS -lt $end ] || die "$3: guest paste differs ($(wc -c <"$DESK/pasted") bytes)"
		sleep 0.2
	done
	ok "$3"
}
# host_paste_eq SEL FILE WHAT [TYPE]: a host application pastes FILE's bytes.
host_paste_eq() {
	local end=$((SECONDS + ${CLIP_WAIT:-20}))
	until host_x xclip -selection "$1" -o ${4:+-t "$4"} >"$DESK/hpasted" 2>/dev/null &&
		cmp -s "$2" "$DESK/hpasted"; do
		[ $SECONDS -lt $end ] || die "$3: host paste differs ($(wc -c <"$DESK/hpasted") bytes)"
		sleep 0.2
	done
	ok "$3"
}
