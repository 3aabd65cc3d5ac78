# porthole-tray in a tray host people use, not one the project wrote:
# Debian's status-notifier-watcher (haskell-status-notifier-item-utils) and
# gtk-sni-tray-standalone (haskell-gtk-sni-tray-utils, a GTK panel that draws
# StatusNotifierItems and their dbusmenu menus) on a host Xvfb and a private
# session bus, with a real VM running porthole-guestd.  The icon must be drawn
# in the panel (a screenshot of the panel is kept in the log directory), the
# menu must open on a click and its "Sync time now" must reach guestd: the
# guest clock, set 30 s ahead, is stepped back.
. "$(dirname "$0")/private-bus.sh"

. "$here/lib.sh"
. "$here/desktop.sh"
for p in status-notifier-watcher gtk-sni-tray-standalone xdotool; do
	command -v $p >/dev/null || skip "$p is not installed (installer/deps.sh installs it)"
done
logs=$BUILD/tests/e2e-52
rm -rf "$logs" && mkdir -p "$logs"
BG_PIDS=()
tray_cleanup() {
	local p
	for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	# The activated hostd is the bus's child, not ours: stop it by its bus name.
	p=$(gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
		--method org.freedesktop.DBus.GetConnectionUnixProcessID org.porthole.Host1 2>/dev/null |
		sed -n 's/^(uint32 \([0-9]*\),)$/\1/p')
	[ -n "$p" ] && kill "$p" 2>/dev/null || true
	desktop_cleanup
}
trap tray_cleanup EXIT
gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
	--method org.freedesktop.DBus.UpdateActivationEnvironment "{'XDG_RUNTIME_DIR': '$XDG_RUNTIME_DIR'}" >/dev/null
wait_log() { wait_until "$1" "/$3/ in $(basename "$2")" grep -Eq "$3" "$2"; }
# top_windows: the tray host's visible windows but GTK's small helpers.
top_windows() {
	local w
	for w in $(xdotool search --onlyvisible --class gtk-sni-tray-standalone); do
		[ "$(xwininfo -id "$w" | sed -n 's/^  Width: //p')" -gt 20 ] && echo "$w"
	done | sort
}
# screenshot WIN NAME: NAME.ppm and NAME.png in the log directory.
screenshot() {
	"$BUILD/tests/host/x-screenshot" "$1" "$logs/$2.ppm"
	python3 - "$logs/$2.ppm" "$logs/$2.png" <<'PY'
import struct, sys, zlib
head, px = open(sys.argv[1], 'rb').read().split(b'\n255\n', 1)
w, h = map(int, head.split()[1:3])
rows = b''.join(b'\0' + px[y * w * 3:(y + 1) * w * 3] for y in range(h))
chunk = lambda t, b: struct.pack('>I', len(b)) + t + b + struct.pack('>I', zlib.crc32(t + b))
open(sys.argv[2], 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)) +
	chunk(b'IDAT', zlib.compress(rows)) + chunk(b'IEND', b''))
PY
}

# window_opened BEFORE: sets OPENED to a window that is not in BEFORE (a
# top_windows list); false while there is none.
window_opened() { OPENED=$(comm -13 <(echo "$1") <(top_windows) | head -1); [ -n "$OPENED" ]; }

# ---- a VM whose guestd syncs time only when asked (the period is an hour) ----
start_vm sni "$logs/vm.log" -- $GUEST_ENV "$BIN/porthole-guestd" --sync-time --sync-period 3600
wait_until 10 "sni's tools" sh -c "$BIN/porthole-ctl status sni --raw | grep -q '^tools.status=running'"

# ---- the tray host, then porthole-tray (panel at the bottom, icons from the left) ----
start_host_x
export DISPLAY=$HOST_DISPLAY
status-notifier-watcher >"$logs/watcher.log" 2>&1 &
BG_PIDS+=($!)
wait_until 10 "status-notifier-watcher on the bus" gdbus call --session --dest org.freedesktop.DBus \
	--object-path /org/freedesktop/DBus --method org.freedesktop.DBus.GetNameOwner org.kde.StatusNotifierWatcher
gtk-sni-tray-standalone --bottom --beginning --size 32 --color white >"$logs/gtk-sni-tray.log" 2>&1 &
BG_PIDS+=($!)
wait_until 20 "the gtk-sni-tray panel" window_opened ""
panel=$(top_windows)
[ "$(wc -w <<<"$panel")" = 1 ] || die "expected one panel window, got '$panel'"
ok "gtk-sni-tray-standalone shows its panel (window $panel)"
shot=$(screenshot "$panel" panel-empty)
assert_match "content none" "$shot" "the empty panel is plain background"

"$BIN/porthole-tray" >"$logs/tray.log" 2>&1 &
TRAY=$!
BG_PIDS+=($TRAY)
ITEM=org.kde.StatusNotifierItem-$TRAY-1
wait_log 10 "$logs/tray.log" "registered with org.kde.StatusNotifierWatcher"
assert_match "'$ITEM'" "$(gdbus call --session --dest org.kde.StatusNotifierWatcher --object-path /StatusNotifierWatcher \
	--method org.freedesktop.DBus.Properties.Get org.kde.StatusNotifierWatcher RegisteredStatusNotifierItems)" \
	"status-notifier-watcher lists porthole-tray's item"
wait_until 10 "the tray Active with sni's tools" sh -c "gdbus call --session --dest $ITEM --object-path /StatusNotifierItem \
	--method org.freedesktop.DBus.Properties.Get org.kde.StatusNotifierItem Status | grep -q Active"

# ---- the icon, in a screenshot of the panel ----
icon=""
for _ in $(seq 100); do
	shot=$(screenshot "$panel" panel)
	icon=$(sed -n 's/^content //p' <<<"$shot")
	[ "$icon" != none ] && break
	sleep 0.1
done
echo "panel: $shot (screenshot: $logs/panel.png)"
read -r ix iy iw ih <<<"$icon"
[ "$icon" != none ] && [ "$iw" -ge 8 ] && [ "$ih" -ge 8 ] && [ "$iw" -le 64 ] && [ "$ih" -le 32 ] ||
	die "no icon-sized drawing in the panel: '$shot'"
ok "the icon is drawn in the panel: ${iw}x$ih at $ix,$iy (screenshot in $logs/panel.png)"

# ---- its menu opens on a click, and "Sync time now" reaches guestd ----
ctl clock sni --offset +30s >/dev/null
before=$(top_windows)
xdotool mousemove --window "$panel" $((ix + iw / 2)) $((iy + ih / 2)) click 1
wait_until 5 "the tray's menu" window_opened "$before"
menu=$OPENED
screenshot "$menu" menu
ok "a click on the icon opens its menu (window $menu, screenshot in $logs/menu.png)"

# The menu holds a submenu per VM; the keyboard walks it as a user would:
# Down to the VM, Right into its submenu (on its first item), Down past the
# enabled items before "Sync time now", Return.
layout=$(gdbus call --session --dest "$ITEM" --object-path /MenuBar --method com.canonical.dbusmenu.GetLayout -- 0 -1 '[]')
echo "$layout"
items=$(grep -oE "\(([0-9]+), \{[^{}]*'label': <'[^']*'>[^{}]*\}, @av \[\]\)" <<<"$layout" | grep -v "'enabled': <false>" |
	grep -oE "'label': <'[^']*'>" | sed "s/'label': <'\(.*\)'>/\1/")
echo "enabled items of sni's submenu: $(echo "$items" | paste -sd,)"
downs=$(( $(grep -n '^Sync time now$' <<<"$items" | cut -d: -f1) - 1 ))
[ "$downs" -ge 0 ] || die "no enabled 'Sync time now' in the menu"
before=$(top_windows)
xdotool key Down Right
wait_until 5 "sni's submenu" window_opened "$before"
screenshot "$OPENED" submenu
ok "the VM's submenu opens from the keyboard (screenshot in $logs/submenu.png)"
steps0=$(ctl clock sni --raw | sed -n 's/^steps=//p')
for _ in $(seq "$downs"); do xdotool key Down; done
xdotool key Return
wait_log 10 "$logs/vm.log" "stepped the clock back by (29\.9|30\.0)"
assert_eq 1 $(( $(ctl clock sni --raw | sed -n 's/^steps=//p') - steps0 )) \
	"'Sync time now' chosen in gtk-sni-tray's menu: guestd got Time_Synchronize and stepped the guest clock back 30 s"

kill $TRAY
wait $TRAY || die "porthole-tray exited with $?"
ok "the tray stops cleanly on SIGTERM"
