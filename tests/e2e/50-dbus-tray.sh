# The host D-Bus service (org.porthole.Host1, D-Bus activated porthole-hostd)
# and the tray (porthole-tray, a StatusNotifierItem with a dbusmenu menu), on a
# private session bus, with a StatusNotifierWatcher written to the spec
# (tests/host/sni-watcher.c), real VMs and real guest tools, and a host
# Xvfb for the viewer the tray opens.
. "$(dirname "$0")/private-bus.sh"

. "$here/lib.sh"
. "$here/desktop.sh"
VERSION=$(cat "$here/../../VERSION")
logs=$BUILD/tests/e2e-50
rm -rf "$logs" && mkdir -p "$logs"
BG_PIDS=()
dbus_cleanup() {
	local p
	for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	# The activated hostd is the bus's child, not ours: stop it by its bus name.
	p=$(gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
		--method org.freedesktop.DBus.GetConnectionUnixProcessID org.porthole.Host1 2>/dev/null |
		sed -n 's/^(uint32 \([0-9]*\),)$/\1/p')
	[ -n "$p" ] && kill "$p" 2>/dev/null || true
	desktop_cleanup
}
trap dbus_cleanup EXIT

bus() { gdbus call --session "$@"; }
host() { bus --dest org.porthole.Host1 "$@"; }
vmcall() { local vm=$1 m=$2; shift 2; host --object-path "/org/porthole/Host1/vm/$vm" --method "org.porthole.Host1.VM.$m" "$@"; }
vmprops() { host --object-path "/org/porthole/Host1/vm/$1" --method org.freedesktop.DBus.Properties.GetAll org.porthole.Host1.VM; }
# wait_log SECONDS FILE REGEX
wait_log() { wait_until "$1" "/$3/ in $(basename "$2")" grep -Eq "$3" "$2"; }

# Activated services get the bus's environment: point it at this test's VMs.
bus --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
	--method org.freedesktop.DBus.UpdateActivationEnvironment "{'XDG_RUNTIME_DIR': '$XDG_RUNTIME_DIR'}" >/dev/null

# ---- the tray, before any watcher exists (on a host display, for "Open viewer") ----
start_host_x
DISPLAY=$HOST_DISPLAY "$BIN/porthole-tray" >"$logs/tray.log" 2>&1 &
TRAY=$!
BG_PIDS+=($TRAY)
wait_log 10 "$logs/tray.log" "no org.kde.StatusNotifierWatcher"
wait_log 10 "$logs/tray.log" "org.porthole.Host1 is at"
ok "the tray starts without a watcher, says so, and D-Bus activates porthole-hostd"
gdbus monitor --session --dest org.porthole.Host1 >"$logs/host-signals.log" 2>&1 &
BG_PIDS+=($!)
wait_log 5 "$logs/host-signals.log" "is owned by"
ITEM=org.kde.StatusNotifierItem-$TRAY-1
sni() { bus --dest "$ITEM" --object-path /StatusNotifierItem --method org.freedesktop.DBus.Properties.Get org.kde.StatusNotifierItem "$1"; }
assert_eq "(<'Passive'>,)" "$(sni Status)" "no VM: the item is Passive"

"$BUILD/tests/host/sni-watcher" >"$logs/watcher.log" 2>"$logs/watcher.err" &
BG_PIDS+=($!)
wait_log 10 "$logs/watcher.log" "^registered $ITEM /StatusNotifierItem$"
ok "the tray registers with a watcher that appears later"
assert_eq 1 "$(grep -c 'no org.kde.StatusNotifierWatcher' "$logs/tray.log")" "the missing watcher was reported once"

# ---- VMs: alpha with guestd (halting = ending pid 1), beta whose tools come and go ----
start_vm alpha "$logs/alpha.log" -- $GUEST_ENV sh -c "
	trap 'kill \$G 2>/dev/null; wait \$G; exit 0' TERM
	$BIN/porthole-guestd --halt-command 'kill 1' --reboot-command 'false' & G=\$!
	$BIN/porthole-rpc 'info-set guestinfo.porthole.screen 1024x768' >/dev/null
	while :; do sleep 0.1; done"
ALPHA=$LAST_HV
wait_log 10 "$logs/host-signals.log" "VMAdded \('alpha', objectpath '/org/porthole/Host1/vm/alpha'\)"
ok "VMAdded when a VM starts"
wait_until 10 "alpha's tools on D-Bus" sh -c "gdbus call --session --dest org.porthole.Host1 --object-path /org/porthole/Host1/vm/alpha --method org.freedesktop.DBus.Properties.Get org.porthole.Host1.VM ToolsStatus | grep -q \"'running'\""
# "running" comes with the first TCLO poll; guestd registers its capabilities
# and guestinfo just after, in polls of their own.
wait_until 10 "alpha's capabilities and guestinfo on D-Bus" sh -c "gdbus call --session --dest org.porthole.Host1 --object-path /org/porthole/Host1/vm/alpha --method org.freedesktop.DBus.Properties.GetAll org.porthole.Host1.VM | grep \"'statechange'\" | grep -q \"'guestinfo.vmtools.versionString'\""
assert_eq "([objectpath '/org/porthole/Host1/vm/alpha'],)" \
	"$(host --object-path /org/porthole/Host1 --method org.porthole.Host1.ListVMs)" "ListVMs lists the running VM"
props=$(vmprops alpha)
echo "$props"
assert_match "'Name': <'alpha'>, 'Engine': <'trap'>, 'State': <'running'>, 'CpuidMode': <'$CPUID_MODE'>, 'CpuidReason': <'[^']+'>, 'ToolsStatus': <'running'>, 'ToolsVersion': <'$VERSION'>, 'ToolsDescription': <'porthole-guestd $VERSION'>" \
	"$props" "VM properties: name, engine, state, cpuid mode and reason, tools status, version, description"
assert_match "'Capabilities': <\[[^]]*'statechange'" "$props" "capabilities include statechange (guestd does power ops)"
assert_match "'guestinfo.vmtools.versionString': '$VERSION'" "$props" "GuestInfo carries the guest's guestinfo"
ctl info-set alpha guestinfo.fromhost "hi there"
wait_until 5 "GuestInfo update" sh -c "gdbus call --session --dest org.porthole.Host1 --object-path /org/porthole/Host1/vm/alpha --method org.freedesktop.DBus.Properties.Get org.porthole.Host1.VM GuestInfo | grep -q \"'guestinfo.fromhost': 'hi there'\""
ok "GuestInfo follows host-set values (PropertiesChanged)"
assert_eq "('OK ',)" "$(vmcall alpha SendRpc ping)" "SendRpc ping -> 'OK '"
assert_eq "('ERROR Unknown Command',)" "$(vmcall alpha SendRpc 'no_such_command')" "SendRpc passes the guest's error through"
assert_eq "()" "$(vmcall alpha SyncTime)" "SyncTime: guestd's Time_Synchronize"
out=$(vmcall alpha SetResolution 1024 768 2>&1) && die "SetResolution must fail without a desktop agent" || true
assert_match "Failed: .*not connected" "$out" "SetResolution fails at once when no desktop agent (toolbox-dnd) is attached"
vmprop() { host --object-path "/org/porthole/Host1/vm/$1" --method org.freedesktop.DBus.Properties.Get org.porthole.Host1.VM "$2"; }

# ---- ScreenSize: what the guest reports in guestinfo.porthole.screen ----
wait_until 10 "ScreenSize from the guest" sh -c "gdbus call --session --dest org.porthole.Host1 --object-path /org/porthole/Host1/vm/alpha --method org.freedesktop.DBus.Properties.Get org.porthole.Host1.VM ScreenSize | grep -qF '(<(uint32 1024, uint32 768)>,)'"
ok "ScreenSize (1024, 768), as a guest process set it with porthole-rpc info-set guestinfo.porthole.screen"
ctl info-set alpha guestinfo.porthole.screen "99999x1; rm -rf /" >/dev/null
wait_until 10 "ScreenSize unknown" sh -c "gdbus call --session --dest org.porthole.Host1 --object-path /org/porthole/Host1/vm/alpha --method org.freedesktop.DBus.Properties.Get org.porthole.Host1.VM ScreenSize | grep -qF '(<(uint32 0, uint32 0)>,)'"
ok "a malformed screen size reads as (0, 0), unknown"
wait_log 5 "$logs/host-signals.log" "/vm/alpha: org.freedesktop.DBus.Properties.PropertiesChanged .*'ScreenSize': <\(uint32 0, uint32 0\)>"
ok "ScreenSize changes are announced (PropertiesChanged)"

# ---- ClipboardPolicy: the hypervisor's policy, read and set through D-Bus ----
assert_eq "(<{'host-to-guest': <true>, 'guest-to-host': <true>, 'max-size': <uint64 67108864>}>,)" \
	"$(vmprop alpha ClipboardPolicy)" "ClipboardPolicy: the hypervisor's default (on, on, 64 MiB)"
assert_eq "()" "$(vmcall alpha SetClipboardPolicy "{'guest-to-host': <false>, 'max-size': <uint64 4096>}")" \
	"SetClipboardPolicy with a subset of the keys"
assert_eq "host-to-guest=on guest-to-host=off max-size=4096" "$("$BIN/porthole-ctl" clipboard-policy alpha | xargs)" \
	"the hypervisor enforces the policy set over D-Bus (porthole-ctl clipboard-policy)"
assert_eq "(<{'host-to-guest': <true>, 'guest-to-host': <false>, 'max-size': <uint64 4096>}>,)" \
	"$(vmprop alpha ClipboardPolicy)" "ClipboardPolicy shows the new policy at once"
wait_log 5 "$logs/host-signals.log" "/vm/alpha: org.freedesktop.DBus.Properties.PropertiesChanged .*'ClipboardPolicy': <\{'host-to-guest': <true>, 'guest-to-host': <false>"
ok "the policy change is announced (PropertiesChanged)"
"$BIN/porthole-ctl" clipboard-policy alpha max-size=8192 >/dev/null
wait_until 5 "ClipboardPolicy follows porthole-ctl" sh -c "gdbus call --session --dest org.porthole.Host1 --object-path /org/porthole/Host1/vm/alpha --method org.freedesktop.DBus.Properties.Get org.porthole.Host1.VM ClipboardPolicy | grep -qF 'uint64 8192'"
ok "ClipboardPolicy follows changes made by other clients"
for bad in "{'bogus': <true>}" "{'max-size': <'big'>}" "{'host-to-guest': <uint64 1>}" "@a{sv} {}"; do
	out=$(vmcall alpha SetClipboardPolicy "$bad" 2>&1) && die "SetClipboardPolicy $bad must fail"
	assert_match "org.porthole.Host1.Error.InvalidArgs" "$out" "SetClipboardPolicy $bad: InvalidArgs"
done

out=$(vmcall alpha Reboot 2>&1) && die "Reboot must fail (guestd's reboot command fails): $out"
assert_match "org.porthole.Host1.Error.GuestError: .*reboot command failed" "$out" \
	"Reboot fails with GuestError when the guest's reboot command fails"
wait_until 10 "reboot status" sh -c "$BIN/porthole-ctl status alpha --raw | grep -q '^tools.statechange=2 failure'"
ok "Reboot reaches guestd, which reports the failed reboot command (statechange 2 failure)"

start_vm beta "$logs/beta.log" -- $GUEST_ENV sh -c "
	until $BIN/porthole-rpc 'info-get guestinfo.go' >/dev/null 2>&1; do sleep 0.1; done
	$BIN/porthole-guestd & G=\$!
	until $BIN/porthole-rpc 'info-get guestinfo.stop' >/dev/null 2>&1; do sleep 0.1; done
	kill \$G; wait \$G
	while :; do sleep 0.1; done"
BETA=$LAST_HV
wait_log 10 "$logs/host-signals.log" "VMAdded \('beta'"
wait_until 10 "tray shows a VM without tools" sh -c "gdbus call --session --dest $ITEM --object-path /StatusNotifierItem --method org.freedesktop.DBus.Properties.Get org.kde.StatusNotifierItem IconName | grep -q dialog-information"
ok "a VM without guest tools: the tray's icon says tools missing"
layout=$(bus --dest "$ITEM" --object-path /MenuBar --method com.canonical.dbusmenu.GetLayout 0 1 '[]')
echo "$layout"
assert_eq 2 "$(grep -oE "'label': <'(alpha|beta): " <<<"$layout" | wc -l)" "the menu has one entry per running VM"

ctl info-set beta guestinfo.go 1
wait_log 10 "$logs/host-signals.log" "/vm/beta: org.porthole.Host1.VM.ToolsStatusChanged \('running',\)"
ok "ToolsStatusChanged('running') when guestd starts"
ctl info-set beta guestinfo.stop 1
wait_log 10 "$logs/host-signals.log" "/vm/beta: org.porthole.Host1.VM.ToolsStatusChanged \('not-running',\)"
ok "ToolsStatusChanged('not-running') when guestd stops"
wait_log 10 "$logs/watcher.log" "^signal .* NewStatus \('NeedsAttention',\)"
ok "the tray signals NewStatus(NeedsAttention) when a VM's tools go away"
tip=$(sni ToolTip)
assert_match "beta \(running\): tools stopped" "$tip" "the tooltip tells which VM lost its tools"
assert_match "alpha \(running\): tools running \(porthole-guestd $VERSION\)" "$tip" "the tooltip shows the tools of the other VM"
# Under each VM, the OS and IP addresses its tools report (guestd: eth0's 10.0.2.15).
tip_has() { sni ToolTip | grep -q "$1"; }
wait_until 40 "the tooltip shows alpha's IP address" tip_has "IP 10\.0\.2\.15"
tip=$(sni ToolTip | sed 's/\\n/\n/g')
pretty=$(. /etc/os-release && echo "$PRETTY_NAME")
nl=$'\n'
assert_match "alpha \(running\): tools running \(porthole-guestd $VERSION\)$nl  [^$nl]*${pretty//[()]/.}[^$nl]*, IP 10\.0\.2\.15($nl|'|,)" \
	"$tip" "the tooltip shows alpha's OS and IP address on the line under it"

ctl stop beta
wait_exit $BETA
wait_log 10 "$logs/host-signals.log" "VMRemoved \('beta', objectpath '/org/porthole/Host1/vm/beta'\)"
ok "VMRemoved when a VM stops"
wait_log 10 "$logs/watcher.log" "^signal .* NewStatus \('Active',\)"
ok "the tray is Active again once the VM needing attention is gone"
assert_eq "(<objectpath '/MenuBar'>,)" "$(sni Menu)" "the item's Menu is the dbusmenu object"

# ---- "Clipboard sharing" and "Open viewer" in the tray's menu ----
layout=$(bus --dest "$ITEM" --object-path /MenuBar --method com.canonical.dbusmenu.GetLayout -- 0 -1 '[]')
echo "$layout"
assert_eq 1 "$(grep -oE "'label': <'(alpha|beta): " <<<"$layout" | wc -l)" "one menu entry per VM after beta left"
menu_item() { grep -oE "\(([0-9]+), \{[^{}]*'label': <'$1'>[^{}]*\}" <<<"$2"; }
item=$(menu_item "Clipboard sharing" "$layout")
assert_match "'toggle-type': <'checkmark'>" "$item" "the menu has a 'Clipboard sharing' checkbox"
assert_match "'toggle-state': <0>" "$item" "unchecked while guest-to-host is off"
id=$(grep -oE '^\([0-9]+' <<<"$item" | tr -d '(')
bus --dest "$ITEM" --object-path /MenuBar --method com.canonical.dbusmenu.Event "$id" clicked '<0>' 0 >/dev/null
wait_until 10 "clipboard on both ways" sh -c "$BIN/porthole-ctl clipboard-policy alpha | grep -q '^guest-to-host=on'"
assert_eq "host-to-guest=on guest-to-host=on max-size=8192" "$("$BIN/porthole-ctl" clipboard-policy alpha | xargs)" \
	"clicking 'Clipboard sharing' turns sharing on both ways in the hypervisor"
wait_until 10 "checkbox checked" sh -c "gdbus call --session --dest $ITEM --object-path /MenuBar --method com.canonical.dbusmenu.GetLayout -- 0 -1 '[]' | grep -qE \"'label': <'Clipboard sharing'>[^{}]*'toggle-state': <1>|'toggle-state': <1>[^{}]*'label': <'Clipboard sharing'>\""
ok "the checkbox follows the policy (checked)"
# The menu was rebuilt for the new state: new ids.
id=$(menu_item "Clipboard sharing" "$(bus --dest "$ITEM" --object-path /MenuBar --method com.canonical.dbusmenu.GetLayout -- 0 -1 '[]')" | grep -oE '^\([0-9]+' | tr -d '(')
bus --dest "$ITEM" --object-path /MenuBar --method com.canonical.dbusmenu.Event "$id" clicked '<0>' 0 >/dev/null
wait_until 10 "clipboard off" sh -c "$BIN/porthole-ctl clipboard-policy alpha | xargs | grep -q 'host-to-guest=off guest-to-host=off'"
ok "clicking it again turns sharing off both ways"

layout=$(bus --dest "$ITEM" --object-path /MenuBar --method com.canonical.dbusmenu.GetLayout -- 0 -1 '[]')
id=$(menu_item "Open viewer" "$layout" | grep -oE '^\([0-9]+' | tr -d '(')
[ -n "$id" ] || die "no 'Open viewer' item in the menu"
bus --dest "$ITEM" --object-path /MenuBar --method com.canonical.dbusmenu.Event "$id" clicked '<0>' 0 >/dev/null
wait_until 10 "the viewer's window" sh -c "DISPLAY=$HOST_DISPLAY xwininfo -root -tree | grep -q '\"alpha'"
ok "'Open viewer' starts porthole-viewer alpha: its window is on the host display"
viewer=$(pgrep -f "^$BIN/porthole-viewer alpha\$" || true)
[ -n "$viewer" ] || die "no porthole-viewer alpha process"
# Clicked again: the viewer that is open (one per VM) comes to the front and
# gets the focus (no window manager here: the tray does it by hand); no
# second one starts.
wait_until 10 "the viewer's window by pid" sh -c "DISPLAY=$HOST_DISPLAY xdotool search --pid $viewer | grep -q ."
vwin=$(DISPLAY=$HOST_DISPLAY xdotool search --pid "$viewer" | head -1)
[ "$(DISPLAY=$HOST_DISPLAY xdotool getwindowfocus 2>/dev/null)" != "$vwin" ] || die "the viewer has the focus already"
bus --dest "$ITEM" --object-path /MenuBar --method com.canonical.dbusmenu.Event "$id" clicked '<0>' 0 >/dev/null
wait_until 5 "the viewer focused" sh -c "[ \$(DISPLAY=$HOST_DISPLAY xdotool getwindowfocus) = $vwin ]"
sleep 0.5
assert_eq "$viewer" "$(pgrep -f "^$BIN/porthole-viewer alpha\$" | xargs)" "'Open viewer' again starts no second viewer"
wait_log 10 "$logs/tray.log" "the viewer of alpha \(pid $viewer\) is open: window"
ok "'Open viewer' again raises and focuses the open viewer's window"
kill $viewer

# ---- "Shut down guest" from the tray's menu ends alpha's guest cleanly ----
id=$(grep -oE "\(([0-9]+), \{[^{}]*'label': <'Shut down guest'>" <<<"$layout" | grep -oE '^\([0-9]+' | tr -d '(')
[ -n "$id" ] || die "no 'Shut down guest' item in the menu"
bus --dest "$ITEM" --object-path /MenuBar --method com.canonical.dbusmenu.Event "$id" clicked '<0>' 0 >/dev/null
wait_exit $ALPHA
assert_eq 0 "$HV_STATUS" "the menu's 'Shut down guest' ran guestd's halt command: the guest ended cleanly"
grep -q "guest tools report state change 1: success" "$logs/alpha.log" || die "no statechange report in the VM log"
ok "guestd reported the halt (tools.os.statechange.status 1 1) before the guest ended"
wait_log 10 "$logs/host-signals.log" "VMRemoved \('alpha'"
wait_log 10 "$logs/watcher.log" "^signal .* NewStatus \('Passive',\)"
ok "no VM left: the tray goes Passive"

kill $TRAY
wait $TRAY || die "porthole-tray exited with $?"
ok "the tray stops cleanly on SIGTERM"
