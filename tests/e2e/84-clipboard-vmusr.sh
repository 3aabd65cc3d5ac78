# VMware's own desktop tools, Debian's open-vm-tools-desktop (`vmtoolsd -n
# vmusr`), in a guest X session next to porthole-viewer on the host, as on a
# VMware host: copy/paste version 4 both ways (text, 1 MiB whole), the
# pointer never warped to (0,0), a quiet hypervisor log while idle; then the
# same guest with porthole-agent too (the agent serves the clipboard and
# resizing, vmusr's channel stays its own).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/desktop.sh"

[ -e /usr/lib/x86_64-linux-gnu/open-vm-tools/plugins/vmusr/libdndcp.so ] ||
	die "open-vm-tools-desktop is not installed (installer/deps.sh installs it)"

start_host_x
start_desktop_vm vmusr --no-agent
start_viewer vmusr
hvlog=$BUILD/tests/e2e-vmusr-hv.log
trap 'kill $VIEWER 2>/dev/null; cp "$DESK/viewer.log" "$BUILD/tests/e2e-vmusr-viewer.log"; cp "$DESK/vmusr.log" "$BUILD/tests/e2e-vmusr-vmusr.log" 2>/dev/null; desktop_cleanup' EXIT

# vmusr logs at debug level into the shared directory.
printf '%s\n' '[logging]' 'log = true' 'vmusr.level = debug' 'vmusr.handler = file' \
	'vmusr.data = /x/vmusr.log' >"$DESK/tools.conf"
guest_sh 'vmtoolsd -n vmusr -c /x/tools.conf >/x/vmusr.out 2>&1 &' >/dev/null
wait_until 20 "vmusr registered copy/paste version 4" sh -c \
	"$BIN/porthole-ctl status vmusr --raw | grep -q '^clipboard.v4.version=4'"
ok "vmusr registers copy/paste version 4 (the host answered 4 and sent Set_Option copypaste 1)"
wait_until 20 "vmusr's ping" sh -c "$BIN/porthole-ctl status vmusr --raw | grep -q '^clipboard.v4.messages=[1-9]'"

host_copy() { host_x xclip -selection "$1" -i ${3:+-t "$3"} "$2" >/dev/null 2>&1 & }
guest_copy() { guest_sh "xclip -selection $1 -i ${3:+-t $3} $2 >/dev/null 2>&1 &" >/dev/null; }
guest_paste_eq() {	# SEL FILE WHAT
	local end=$((SECONDS + 30))
	until user_press click && guest_sh "xclip -selection $1 -o >/x/pasted 2>/dev/null" >/dev/null &&
		cmp -s "$2" "$DESK/pasted"; do
		[ $SECONDS -lt $end ] || die "$3: guest paste differs ($(wc -c <"$DESK/pasted") bytes)"
		sleep 0.5
	done
	ok "$3"
}
host_paste_eq() {
	local end=$((SECONDS + 30))
	until host_x xclip -selection "$1" -o >"$DESK/hpasted" 2>/dev/null &&
		cmp -s "$2" "$DESK/hpasted"; do
		[ $SECONDS -lt $end ] || die "$3: host paste differs ($(wc -c <"$DESK/hpasted") bytes)"
		sleep 0.5
	done
	ok "$3"
}

printf 'hello vmusr from the host' >"$DESK/ascii"
host_copy clipboard "$DESK/ascii"
guest_paste_eq clipboard "$DESK/ascii" "text host -> guest through vmusr (copy/paste v4)"

printf 'grüße from the guest, through vmusr' >"$DESK/utf8"
guest_copy clipboard /x/utf8
host_paste_eq clipboard "$DESK/utf8" "UTF-8 text guest -> host through vmusr"

head -c 786432 /dev/urandom | base64 -w 0 >"$DESK/big"	# exactly 1 MiB
host_copy clipboard "$DESK/big"
guest_paste_eq clipboard "$DESK/big" "1 MiB host -> guest through vmusr, whole"
guest_copy clipboard /x/big
host_paste_eq clipboard "$DESK/big" "1 MiB guest -> host through vmusr, whole"
