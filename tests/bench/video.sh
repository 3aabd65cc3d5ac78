#!/bin/bash
# Paravirtual video benchmark (make bench BENCH=video), from tests/bench/run.sh:
# a 1920x1080 guest screen (Xorg dummy in a trap-engine VM, porthole-agent)
# shown by porthole-viewer on a host Xvfb, against the naive baseline run in
# the same session: xcopy-baseline, a loop of XGetImage (guest display) +
# XPutImage (host display) of the whole screen.
#
# latency: a guest program fills the screen with a new colour every 40 ms
#   and notes the time; xwin-probe polls the host window (every ~0.2 ms)
#   and notes when each colour appears there.  Guest and host read the same
#   CLOCK_REALTIME (the trap engine's guest clock starts at the host's).
# rate: back-to-back full-screen fills; distinct frames the host window
#   showed per second.
# CPU per frame: time on CPU (/proc/PID/task/*/schedstat) over the rate run, of the
#   agent and the viewer (and of both X servers, which do the pixel copies
#   in both designs), divided by the frames shown.  The guest Xorg figure also
#   holds the drawing itself (every fill, shown or not).
# scaled: the same, with the viewer scaling the 1920x1080 screen into a
#   1280x720 window (--scale: XRender on the host X server); video_scaled_*.
# The host screen is 2560x1600, so the 1920x1080 guest fits the viewer's
# window 1:1 (on a 1920x1080 host the viewer would resize the guest to fit).
set -u
BUILD=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/e2e/lib.sh"
. "$here/e2e/desktop.sh"
set +e
PROBE=$BUILD/tests/host/xwin-probe
COPIER=$BUILD/tests/host/xcopy-baseline
TMPD=$(mktemp -d /tmp/porthole-vbench.XXXXXX)
LAT_FRAMES=${VIDEO_LAT_FRAMES:-100}
RATE_FRAMES=${VIDEO_RATE_FRAMES:-1200}
BASE_LINK=""
# The window pixel the probes watch: the middle of the guest screen as shown.
PX=960 PY=540
vbench_cleanup() {
	[ -n "$BASE_LINK" ] && rm -f "$BASE_LINK"
	rm -rf "$TMPD"
	desktop_cleanup
}
trap vbench_cleanup EXIT

# pid_under NAME ANCESTOR: the process called NAME that descends from ANCESTOR.
pid_under() {
	local p q
	for p in $(pgrep -x "$1"); do
		q=$p
		while [ "${q:-1}" -gt 1 ]; do
			[ "$q" = "$2" ] && { echo "$p"; return 0; }
			q=$(awk '{ print $4 }' "/proc/$q/stat" 2>/dev/null) || break
		done
	done
	return 1
}
# CPU time of all threads of a process, in microseconds (schedstat: ns on CPU).
cpu_us() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ t += $1 } END { printf "%d", t / 1000 }'; }

# latencies WIN: one line per guest frame, in ms (colours never seen: none).
latencies() {
	$PROBE watch "$1" $PX $PY $((LAT_FRAMES * 40 + 3000)) >"$TMPD/watch" &
	local probe=$!
	sleep 0.3
	guest_sh "$GUEST_ENV $GBIN/video-draw frames $LAT_FRAMES 40" >"$TMPD/draw"
	wait $probe
	awk 'NR == FNR { if (!($2 in seen)) seen[$2] = $1; next }
	     ($2 in seen) { printf "%.3f\n", (seen[$2] - $1) / 1e6 }' "$TMPD/watch" "$TMPD/draw" |
		sort -n >"$TMPD/lat"
	echo "# $(wc -l <"$TMPD/lat") of $LAT_FRAMES frames seen" >&2
}
pct() { awk -v p="$1" '{ a[NR] = $1 } END { if (NR) printf "%.2f", a[int(p * (NR - 1)) + 1]; else printf "nan" }' "$TMPD/lat"; }

# rate WIN PIDS...: back-to-back frames; sets FPS, FRAMES and CPU_MS[i] (ms per frame) per pid.
rate() {
	local win=$1; shift
	local before=() i=0 p
	for p in "$@"; do before+=("$(cpu_us "$p")"); done
	$PROBE watch "$win" $PX $PY 8000 >"$TMPD/rwatch" &
	local probe=$!
	sleep 0.3
	guest_sh "$GUEST_ENV $GBIN/video-draw frames $RATE_FRAMES 0" >"$TMPD/rdraw"
	local after=()
	for p in "$@"; do after+=("$(cpu_us "$p")"); done
	kill $probe 2>/dev/null; wait $probe 2>/dev/null
	# Frames of this run seen by the host, and the time between the first and last.
	FRAMES=$(awk 'NR == FNR { mine[$2] = 1; next }
		($2 in mine) && !($2 in seen) { seen[$2] = 1; n++ } END { print n + 0 }' \
		"$TMPD/rdraw" "$TMPD/rwatch")
	FPS=$(awk 'NR == FNR { mine[$2] = 1; next }
		($2 in mine) && !($2 in seen) { seen[$2] = 1; n++; if (n == 1) t0 = $1; t1 = $1 }
		END { if (n > 1) printf "%.1f", (n - 1) / ((t1 - t0) / 1e9); else print 0 }' \
		"$TMPD/rdraw" "$TMPD/rwatch")
	echo "# $FRAMES of $RATE_FRAMES back-to-back frames shown" >&2
	CPU_MS=()
	for p in "$@"; do
		CPU_MS+=("$(awk -v d=$((after[i] - before[i])) -v n="$FRAMES" \
			'BEGIN { printf "%.3f", d / 1000 / (n > 0 ? n : 1) }')")
		i=$((i + 1))
	done
}

echo "# video: 1920x1080 guest screen -> porthole-viewer on Xvfb, vs XGetImage+XPutImage (~40 s)" >&2
HOST_X_SIZE=2560x1600x24 start_host_x
export DISPLAY=$HOST_DISPLAY
start_desktop_vm benchvid
guest_sh 'xrandr --newmode b1080 138.50 1920 1968 2000 2080 1080 1083 1088 1111 +hsync -vsync &&
	xrandr --addmode DUMMY0 b1080 && xrandr --output DUMMY0 --mode b1080' >/dev/null ||
	die "could not set the guest screen to 1920x1080"
$BIN/porthole-viewer benchvid >"$TMPD/viewer.log" 2>&1 &
viewer=$!
wait_until 20 "the viewer showing 1920x1080" grep -q "guest screen 1920x1080" "$TMPD/viewer.log"
win=$(sed -n 's/.*display: window \(0x[0-9a-f]*\) .*/\1/p' "$TMPD/viewer.log" | head -1)
agent=$(pid_under porthole-agent "$DESK_HV")
xorg=$(pid_under Xorg "$DESK_HV")
[ -n "$agent" ] && [ -n "$xorg" ] || die "agent or guest Xorg not found"
echo "# viewer: $(grep -o 'MIT-SHM[^)]*\|XPutImage' "$TMPD/viewer.log" | head -1); agent: $(grep -o 'MIT-SHM into guest RAM\|XGetImage' "$DESK/agent.log" | head -1)" >&2

latencies "$win"
pv50=$(pct 0.50); pv99=$(pct 0.99)
echo "bench video_latency_p50 $pv50 ms"
echo "bench video_latency_p99 $pv99 ms"
rate "$win" "$agent" "$viewer" "$xorg" "$HOST_X_PID"
v_fps=$FPS v_frames=$FRAMES
v_agent=${CPU_MS[0]} v_viewer=${CPU_MS[1]} v_xorg=${CPU_MS[2]} v_xvfb=${CPU_MS[3]}
echo "bench video_fullscreen_rate $v_fps frames/s"
echo "bench video_guest_agent_cpu_per_frame $v_agent ms"
echo "bench video_host_viewer_cpu_per_frame $v_viewer ms"
echo "bench video_guest_xorg_cpu_per_frame $v_xorg ms"
echo "bench video_host_xvfb_cpu_per_frame $v_xvfb ms"

# Idle: after the drawing stops, nothing runs and nothing is sent.
sleep 0.5
a0=$(cpu_us "$agent") w0=$(cpu_us "$viewer")
sleep 2
echo "bench video_idle_cpu_agent_plus_viewer $(awk "BEGIN { printf \"%.3f\", ($(cpu_us "$agent") - $a0 + $(cpu_us "$viewer") - $w0) / 1000 / 2 }") ms/s"

# ---- scaled: the viewer shows the 1920x1080 screen in a 1280x720 window ----
kill "$viewer"; wait "$viewer" 2>/dev/null
$BIN/porthole-viewer --scale benchvid >"$TMPD/viewer.log" 2>&1 &
viewer=$!
wait_until 20 "the viewer showing 1920x1080" grep -q "guest screen 1920x1080" "$TMPD/viewer.log"
win=$(sed -n 's/.*display: window \(0x[0-9a-f]*\) .*/\1/p' "$TMPD/viewer.log" | head -1)
host_x xdotool windowsize "$win" 1280 720
wait_until 10 "the viewer scaling to 1280x720" grep -q "scaling the 1920x1080 guest screen to 1280x720" "$TMPD/viewer.log"
PX=640 PY=360
latencies "$win"
echo "bench video_scaled_latency_p50 $(pct 0.50) ms"
echo "bench video_scaled_latency_p99 $(pct 0.99) ms"
rate "$win" "$viewer" "$HOST_X_PID"
echo "bench video_scaled_fullscreen_rate $FPS frames/s"
echo "bench video_scaled_host_viewer_cpu_per_frame ${CPU_MS[0]} ms"
echo "bench video_scaled_host_xvfb_cpu_per_frame ${CPU_MS[1]} ms"
PX=960 PY=540

# ---- baseline: the viewer goes, the naive copier comes ----
kill "$viewer"; wait "$viewer" 2>/dev/null
for n in $(seq 90 99); do
	[ -e /tmp/.X11-unix/X$n ] || [ -e /tmp/.X$n-lock ] || { BASE_LINK=/tmp/.X11-unix/X$n; break; }
done
# The guest's X socket, reached through the X server's root directory.
ln -s "/proc/$xorg/root/tmp/.X11-unix/X0" "$BASE_LINK"
$COPIER ":${BASE_LINK##*X}" "$HOST_DISPLAY" $((LAT_FRAMES * 40 / 1000 + 16)) >"$TMPD/copier" &
copier=$!
wait_until 10 "the baseline window" grep -q "^window" "$TMPD/copier"
bwin=$(awk '/^window/ { print $2 }' "$TMPD/copier")
latencies "$bwin"
pb50=$(pct 0.50); pb99=$(pct 0.99)
echo "bench baseline_xgetimage_latency_p50 $pb50 ms"
echo "bench baseline_xgetimage_latency_p99 $pb99 ms"
rate "$bwin" "$copier" "$xorg" "$HOST_X_PID"
b_fps=$FPS b_copier=${CPU_MS[0]} b_xorg=${CPU_MS[1]} b_xvfb=${CPU_MS[2]}
echo "bench baseline_xgetimage_fullscreen_rate $b_fps frames/s"
echo "bench baseline_xgetimage_copier_cpu_per_frame $b_copier ms"
echo "bench baseline_xgetimage_guest_xorg_cpu_per_frame $b_xorg ms"
echo "bench baseline_xgetimage_host_xvfb_cpu_per_frame $b_xvfb ms"
kill "$copier" 2>/dev/null; wait "$copier" 2>/dev/null

# r NAME OURS BASELINE: how many times better ours is (baseline / ours).
r() { awk -v name="$1" "BEGIN { o = $2; b = $3; if (o > 0) printf \"bench %s ratio %.2f\\n\", name, b / o; else printf \"bench %s ratio nan\\n\", name }"; }
r video_vs_baseline_latency_p50 "$pv50" "$pb50"
r video_vs_baseline_latency_p99 "$pv99" "$pb99"
r video_vs_baseline_fullscreen_rate "$b_fps" "$v_fps"	# ours / baseline
r video_vs_baseline_cpu_per_frame_agent_viewer_vs_copier "$v_agent + $v_viewer" "$b_copier"
r video_vs_baseline_cpu_per_frame_all "$v_agent + $v_viewer + $v_xorg + $v_xvfb" "$b_copier + $b_xorg + $b_xvfb"
