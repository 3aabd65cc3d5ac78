#!/bin/bash
# Clipboard benchmark (make bench BENCH=clipboard), from tests/bench/run.sh:
# pasting 10 MiB of text host -> guest and guest -> host (xclip -o timed on
# the pasting side, from the paste request to the last byte; the offer has
# already arrived), against the same 10 MiB copied and pasted with xclip on
# one X server (the host Xvfb) in the same run, and within the guest's own X
# server (secondary selection, which the bridges leave alone); and porthole-agent's CPU use
# while idle (utime + stime from the guest's /proc/PID/stat over 5 s).
# Median of 3 pastes each.  Progress on stderr.
set -u
BUILD=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/e2e/lib.sh"
. "$here/e2e/desktop.sh"
set +e
die() { echo "# clipboard: $*" >&2; exit 1; }
RUNS=3

start_host_x
start_desktop_vm bench-clip
start_viewer bench-clip	# a window: guest pastes start with Ctrl+V in it (user_press)
trap 'kill $VIEWER 2>/dev/null; desktop_cleanup' EXIT
head -c 7864320 /dev/urandom | base64 -w 0 >"$DESK/big"	# 10 MiB of text
SIZE=$(wc -c <"$DESK/big")
median() { sort -n | awk '{ a[NR] = $1 } END { printf "%.1f", a[int((NR + 1) / 2)] }'; }

# Host -> guest: a host xclip owns it, the guest pastes.
echo "# clipboard: 10 MiB host -> guest ($RUNS pastes)" >&2
host_x xclip -selection clipboard -i "$DESK/big" >/dev/null 2>&1 &
wait_until 20 "the host offer in the guest" guest_sh 'xclip -selection clipboard -o -t TARGETS | grep -q UTF8_STRING'
h2g=$(for i in $(seq $RUNS); do
	user_press
	guest_sh 's=$(date +%s%N); xclip -selection clipboard -o >/tmp/pasted; e=$(date +%s%N)
		[ "$(wc -c </tmp/pasted)" = '"$SIZE"' ] && echo $(((e - s) / 1000))'
done | median)
# Guest -> host.
echo "# clipboard: 10 MiB guest -> host ($RUNS pastes)" >&2
guest_sh 'xclip -selection clipboard -i /x/big >/dev/null 2>&1 &' >/dev/null
wait_until 20 "the guest offer on the host" \
	bash -c "DISPLAY=$HOST_DISPLAY xclip -selection clipboard -o -t TARGETS | grep -q UTF8_STRING"
paste_host_us() {
	local s e
	s=$(date +%s%N)
	host_x xclip -selection clipboard -o >"$DESK/pasted"
	e=$(date +%s%N)
	[ "$(wc -c <"$DESK/pasted")" = "$SIZE" ] && echo $(((e - s) / 1000))
}
g2h=$(for i in $(seq $RUNS); do paste_host_us; done | median)
# Baseline: copy and paste on the host Xvfb alone (the bridge is stopped first,
# so it doesn't also read the selection).
echo "# clipboard: baseline, 10 MiB through xclip on one X server" >&2
kill $VIEWER 2>/dev/null; wait $VIEWER 2>/dev/null
host_x xclip -selection clipboard -i "$DESK/big" >/dev/null 2>&1 &
wait_until 10 "host xclip owns" bash -c "DISPLAY=$HOST_DISPLAY xclip -selection clipboard -o -t TARGETS | grep -q UTF8_STRING"
base=$(for i in $(seq $RUNS); do paste_host_us; done | median)
# The guest's own X server alone (a guest xclip pastes what a guest xclip
# copied, timed the same way): what a host-to-guest paste can't beat.
echo "# clipboard: guest baseline, 10 MiB through xclip on the guest's X server" >&2
guest_sh 'xclip -selection secondary -i /x/big >/dev/null 2>&1 &' >/dev/null
sleep 1
gbase=$(for i in $(seq $RUNS); do
	guest_sh 's=$(date +%s%N); xclip -selection secondary -o >/tmp/pasted2; e=$(date +%s%N)
		[ "$(wc -c </tmp/pasted2)" = '"$SIZE"' ] && echo $(((e - s) / 1000))'
done | median)
[ -n "$h2g" ] && [ -n "$g2h" ] && [ -n "$base" ] && [ -n "$gbase" ] ||
	die "a paste failed (h2g='$h2g' g2h='$g2h' base='$base' gbase='$gbase')"
awk "BEGIN { printf \"bench clipboard_paste_10MiB_host_to_guest %.1f ms\n\", $h2g / 1000
	printf \"bench clipboard_paste_10MiB_guest_to_host %.1f ms\n\", $g2h / 1000
	printf \"bench xclip_paste_10MiB_one_x_server %.1f ms\n\", $base / 1000
	printf \"bench clipboard_host_to_guest_vs_one_x_server ratio %.2f\n\", $h2g / $base
	printf \"bench clipboard_guest_to_host_vs_one_x_server ratio %.2f\n\", $g2h / $base
	printf \"bench xclip_paste_10MiB_guest_x_server %.1f ms\n\", $gbase / 1000
	printf \"bench clipboard_host_to_guest_vs_guest_x_server ratio %.2f\n\", $h2g / $gbase }"

# The agent idle: its CPU time over 5 s, read from the guest's own /proc.
echo "# clipboard: porthole-agent CPU while idle (5 s)" >&2
idle=$(guest_sh 'p=$(pgrep -x porthole-agent | head -1); [ -n "$p" ] || exit 1
	t() { awk "{ print \$14 + \$15 }" /proc/$p/stat; }
	a=$(t); sleep 5; b=$(t)
	echo "$a $b $(getconf CLK_TCK)"')
read -r a b hz <<<"$idle"
[ -n "${hz:-}" ] || die "could not read the agent's CPU time ($idle)"
awk "BEGIN { printf \"bench agent_idle_cpu %.2f %%\n\", ($b - $a) / $hz / 5 * 100 }"
