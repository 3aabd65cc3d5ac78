# No ownership ping-pong: counts of XFixes selection-owner changes on the host
# Xvfb and the guest Xorg (tests/host/xfixes-count, the same binary on both)
# after one copy on each side stay at exactly the expected number, and with a
# clipboard manager (xfixes-count --manager: re-owns CLIPBOARD with the same
# text on every change, as xclipboard/clipit do) they settle instead of growing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/desktop.sh"

start_host_x
start_desktop_vm pingpong
start_viewer pingpong
trap 'kill $VIEWER 2>/dev/null; cp "$DESK/viewer.log" "$BUILD/tests/e2e-pingpong-viewer.log"; desktop_cleanup' EXIT
sleep 1		# the agent's and the bridge's start-up offers are not counted
COUNT=$BUILD/tests/host/xfixes-count

# start_counters TAG [--manager]: counters on both displays, writing $DESK/{h,g}TAG.
start_counters() {
	host_x $COUNT ${2:-} 60 >"$DESK/h$1" 2>&1 &
	guest_sh "$GUEST_ENV $COUNT 60 >/x/g$1 2>&1 &" >/dev/null
	wait_until 10 "host counter listening" grep -q ready "$DESK/h$1"
	wait_until 10 "guest counter listening" grep -q ready "$DESK/g$1"
}
# counts TAG: "HOSTCLIP HOSTPRIMARY / GUESTCLIP GUESTPRIMARY" so far.
last() { awk '$1 == "count" { c = $2 " " $3 } END { print c ? c : "0 0" }' "$1"; }
counts() { echo "$(last "$DESK/h$1") / $(last "$DESK/g$1")"; }
guest_paste_is() {	# TEXT
	local end=$((SECONDS + 15))
	# A guest paste starts with the user's Ctrl+V in the viewer (README, security model).
	until user_press && [ "$(guest_sh 'xclip -selection clipboard -o 2>/dev/null')" = "$1" ]; do
		[ $SECONDS -lt $end ] || die "guest paste is not '$1'"
		sleep 0.2
	done
}
host_paste_is() {
	local end=$((SECONDS + 15))
	until [ "$(host_x timeout 5 xclip -selection clipboard -o 2>/dev/null)" = "$1" ]; do
		[ $SECONDS -lt $end ] || die "host paste is not '$1'"
		sleep 0.2
	done
}

start_counters 1
printf 'one copy on the host' | host_x xclip -selection clipboard -i >/dev/null 2>&1 &
guest_paste_is 'one copy on the host'
guest_sh "printf 'one copy in the guest' | xclip -selection clipboard -i >/dev/null 2>&1 &" >/dev/null
host_paste_is 'one copy in the guest'
c1=$(counts 1)
sleep 3
c2=$(counts 1)
assert_eq "$c1" "$c2" "owner changes stop after the copies (no ping-pong over 3 s)"
# Host: xclip, then the bridge owning the guest's copy.  Guest: the agent owning
# the host's copy, then xclip.  PRIMARY untouched.
assert_eq "2 0 / 2 0" "$c2" "exactly one owner change per copy per display"

# A clipboard manager on the host re-owns every copy with the same text.
start_counters 2 --manager
printf 'copied under a manager' | host_x xclip -selection clipboard -i >/dev/null 2>&1 &
guest_paste_is 'copied under a manager'
guest_sh "printf 'guest copy under a manager' | xclip -selection clipboard -i >/dev/null 2>&1 &" >/dev/null
host_paste_is 'guest copy under a manager'
sleep 1
c1=$(counts 2)
sleep 3
c2=$(counts 2)
assert_eq "$c1" "$c2" "with a host clipboard manager the counts settle (over 3 s)"
read -r hc _ _ gc _ <<<"$c2"
[ "$hc" -le 4 ] && [ "$gc" -le 4 ] || die "too many owner changes with a manager: $c2"
ok "with a manager: at most two owner changes per copy per display ($c2)"
guest_paste_is 'guest copy under a manager'
ok "the guest still pastes the manager's (same) text"
