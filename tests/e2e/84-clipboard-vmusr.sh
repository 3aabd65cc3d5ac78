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
# --scale: the test resizes the guest itself (Resolution_Set below); a viewer
# in resize-guest mode would ask for its window's size meanwhile.
start_viewer vmusr --scale
hvlog=$BUILD/tests/e2e-vmusr-hv.log
trap 'kill $VIEWER 2>/dev/null; cp "$DESK/viewer.log" "$BUILD/tests/e2e-vmusr-viewer.log"; cp "$DESK/vmusr.log" "$BUILD/tests/e2e-vmusr-vmusr.log" 2>/dev/null; desktop_cleanup' EXIT

# vmusr logs at debug level into the shared directory.
printf '%s\n' '[logging]' 'log = true' 'vmusr.level = debug' 'vmusr.handler = file' \
	'vmusr.data = /x/vmusr.log' >"$DESK/tools.conf"
# Before vmusr starts the host pointer is over the viewer at (20,20): vmusr's
# pointer loop asks where (backdoor 4) and puts the guest pointer there.
guest_sh 'xdotool mousemove 500 400' >/dev/null
guest_sh 'vmtoolsd -n vmusr -c /x/tools.conf >/x/vmusr.out 2>&1 &' >/dev/null
wait_until 20 "vmusr registered copy/paste version 4" sh -c \
	"$BIN/porthole-ctl status vmusr --raw | grep -q '^clipboard.v4.version=4'"
ok "vmusr registers copy/paste version 4 (the host answered 4 and sent Set_Option copypaste 1)"
wait_until 20 "vmusr's ping" sh -c "$BIN/porthole-ctl status vmusr --raw | grep -q '^clipboard.v4.messages=[1-9]'"

# Without porthole-agent the viewer's keys reach no one: the user's press is a
# click (delivered through the absolute pointer).
PASTE_PRESS=click
CLIP_WAIT=30
# A guest copy as a user makes one: the text selected (PRIMARY) and copied
# (CLIPBOARD).  vmusr sends the newer of the two by their TIMESTAMP, which
# xclip doesn't answer, so with CLIPBOARD alone it would prefer its own
# PRIMARY (the host's last text).
guest_copy() {
	guest_sh "xclip -selection primary -i $2 >/dev/null 2>&1 & xclip -selection $1 -i $2 >/dev/null 2>&1 &" >/dev/null
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
# (Other bytes the other way: the host still holds the first.)
head -c 786432 /dev/urandom | base64 -w 0 >"$DESK/big2"
guest_copy clipboard /x/big2
host_paste_eq clipboard "$DESK/big2" "1 MiB guest -> host through vmusr, whole"
# The host's own text, sent back by vmusr (it prefers its own PRIMARY over
# xclip's selection that has no TIMESTAMP), is no guest copy: the host
# clipboard stays with the host application that has it.
printf 'host original' >"$DESK/orig"
host_copy clipboard "$DESK/orig"
guest_paste_eq clipboard "$DESK/orig" "text host -> guest before an echo"
takes() { grep -c 'bytes of text, .* of image from' "$DESK/viewer.log"; }
before=$(takes)
guest_sh 'xclip -selection clipboard -i /dev/null >/dev/null 2>&1 &' >/dev/null
sleep 4
[ "$(takes)" = "$before" ] ||
	die "the viewer took vmusr's echo of the host's text as a guest copy: $(grep 'of image from' "$DESK/viewer.log" | tail -1)"
cmp -s "$DESK/orig" <(host_x xclip -selection clipboard -o 2>/dev/null) ||
	die "the host clipboard changed after the guest sent the host's own text back"
ok "the host's own text sent back by vmusr is not taken as a guest copy"

# The VM's policy holds for vmusr as for the agent: nothing crosses a
# direction that is off, and the refusal is logged.
ctl clipboard-policy vmusr guest-to-host=off >/dev/null
printf 'guest secret' >"$DESK/secret"
guest_copy clipboard /x/secret
sleep 3
! cmp -s "$DESK/secret" <(host_x xclip -selection clipboard -o 2>/dev/null) ||
	die "guest-to-host=off: vmusr's copy reached the host"
ctl clipboard-policy vmusr guest-to-host=on host-to-guest=off >/dev/null
printf 'host secret' >"$DESK/hsecret"
host_copy clipboard "$DESK/hsecret"
sleep 1
user_press click
sleep 2
! guest_sh 'xclip -selection clipboard -o 2>/dev/null' | cmp -s - "$DESK/hsecret" ||
	die "host-to-guest=off: the host's copy reached vmusr"
ctl clipboard-policy vmusr host-to-guest=on >/dev/null
ok "the VM's clipboard policy holds for vmusr both ways"

# A PNG both ways.  vmusr hands images to GTK, which encodes them again: the
# pixels must be the same, not the bytes.
python3 - "$DESK/img.png" <<'PY'
import struct, sys, zlib
w, h = 64, 48
raw = b"".join(b"\0" + bytes(v for x in range(w) for v in (x * 4 % 256, y * 5 % 256, (x ^ y) % 256)) for y in range(h))
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
PY
# same_pixels A B: both PNGs (8-bit RGB or RGBA, not interlaced) have the same size and RGB.
same_pixels() {
	python3 - "$1" "$2" <<'PY'
import struct, sys, zlib
def rgb(path):
    d = open(path, "rb").read()
    assert d[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(d):
        n, t = struct.unpack(">I4s", d[pos:pos + 8])
        body = d[pos + 8:pos + 8 + n]
        if t == b"IHDR":
            w, h, depth, ctype, _, _, lace = struct.unpack(">IIBBBBB", body)
        elif t == b"IDAT":
            idat += body
        pos += 12 + n
    assert depth == 8 and ctype in (2, 6) and lace == 0, (depth, ctype, lace)
    bpp = 3 if ctype == 2 else 4
    raw, stride, prev, out = zlib.decompress(idat), w * bpp, bytearray(w * bpp), []
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out += [bytes(line[x * bpp:x * bpp + 3]) for x in range(w)]
        prev = line
    return w, h, out
sys.exit(0 if rgb(sys.argv[1]) == rgb(sys.argv[2]) else 1)
PY
}
host_x xclip -selection clipboard -t image/png -i "$DESK/img.png" >/dev/null 2>&1 &
end=$((SECONDS + 30))
until user_press click && guest_sh "xclip -selection clipboard -t image/png -o >/x/gimg.png 2>/dev/null" >/dev/null &&
	same_pixels "$DESK/img.png" "$DESK/gimg.png" 2>/dev/null; do
	[ $SECONDS -lt $end ] || die "PNG host -> guest through vmusr: the guest's image differs"
	sleep 0.5
done
ok "PNG image host -> guest through vmusr (the same pixels)"
guest_sh "xclip -selection primary -t image/png -i /x/img.png >/dev/null 2>&1 &
	xclip -selection clipboard -t image/png -i /x/img.png >/dev/null 2>&1 &" >/dev/null
end=$((SECONDS + 30))
until host_x xclip -selection clipboard -t image/png -o >"$DESK/himg.png" 2>/dev/null &&
	same_pixels "$DESK/img.png" "$DESK/himg.png" 2>/dev/null; do
	[ $SECONDS -lt $end ] || die "PNG guest -> host through vmusr: the host's image differs"
	sleep 0.5
done
ok "PNG image guest -> host through vmusr (the same pixels)"

# The pointer: vmusr put the guest pointer where the viewer's is, never at (0,0).
loc=$(guest_sh 'xdotool getmouselocation --shell' | tr '\n' ' ')
x=$(echo "$loc" | sed -n 's/.*X=\([0-9]*\).*/\1/p'); y=$(echo "$loc" | sed -n 's/.*Y=\([0-9]*\).*/\1/p')
[ "$x" != 0 ] || [ "$y" != 0 ] || die "vmusr warped the guest pointer to (0,0)"
[ "$x" -ge 17 ] && [ "$x" -le 22 ] && [ "$y" -ge 17 ] && [ "$y" -le 22 ] ||
	die "the guest pointer is at ($x,$y), not where the viewer's is (20,20)"
ok "the guest pointer follows the viewer's (GETPTRLOCATION: ($x,$y)), never warped to (0,0)"
assert_match "pointer.location-gets=[1-9]" "$(ctl pointer-status vmusr)" "vmusr asked where the pointer is (backdoor 4)"

# Idle: the hypervisor's log grows by fewer than 10 lines a minute (30 s here).
before=$(wc -l <"$hvlog")
sleep 30
after=$(wc -l <"$hvlog")
[ $((after - before)) -lt 5 ] || { tail -n $((after - before)) "$hvlog"; die "idle vmusr: $((after - before)) log lines in 30 s"; }
ok "idle vmusr: $((after - before)) hypervisor log lines in 30 s (< 10 a minute)"

# Resizing with vmusr alone: it registered no resolution capability (no
# VMware display driver: README), so a resize is refused at once, as a VMware
# host never sends it, and the guest screen stays as it is.
size=$(guest_sh 'xdpyinfo | grep dimensions')
expect_fail 1 'not supported' "Resolution_Set with vmusr alone is refused (no resolution capability)" -- \
	ctl tclo vmusr 'toolbox-dnd:Resolution_Set 1366 700'
assert_eq "$size" "$(guest_sh 'xdpyinfo | grep dimensions')" "the guest screen is unchanged"

# porthole-agent joins: it serves the clipboard and resizing; vmusr keeps its own channel.
guest_sh "$GUEST_ENV $BIN/porthole-agent --wait-display 20 -v >/x/agent.log 2>&1 &" >/dev/null
wait_until 20 "two desktop channels" sh -c \
	"[ \$($BIN/porthole-ctl status vmusr --raw | grep -c '^tools.app=toolbox-dnd ') = 2 ]"
ok "porthole-agent and vmusr each have their own toolbox-dnd channel"
# A size in no mode list: the agent makes it, vmusr would answer "ERROR Invalid arguments".
assert_eq "OK " "$(ctl tclo vmusr 'toolbox-dnd:Resolution_Set 1366 700')" \
	"Resolution_Set goes to porthole-agent, not to vmusr"
assert_match "dimensions: +1366x700 pixels" "$(guest_sh 'xdpyinfo | grep dimensions')" \
	"the guest screen is 1366x700 exactly"
assert_match "clipboard.v4.version=4" "$(ctl status vmusr --raw)" "vmusr's copy/paste registration is kept"
printf 'host text with both tools' >"$DESK/both"
host_copy clipboard "$DESK/both"
guest_paste_eq clipboard "$DESK/both" "text host -> guest with porthole-agent and vmusr both running"
printf 'guest text with both tools' >"$DESK/both2"
guest_copy clipboard /x/both2
host_paste_eq clipboard "$DESK/both2" "text guest -> host with both running"
head -c 786432 /dev/urandom | base64 -w 0 >"$DESK/big3"
guest_copy clipboard /x/big3
host_paste_eq clipboard "$DESK/big3" "1 MiB guest -> host with both running"

# porthole-agent alone (vmusr stopped).
guest_sh 'pkill -x vmtoolsd -U 0 -f "vmtoolsd -n vmusr" || pkill -f "vmtoolsd -n vmusr"' >/dev/null || true
wait_until 10 "one desktop channel" sh -c \
	"[ \$($BIN/porthole-ctl status vmusr --raw | grep -c '^tools.app=toolbox-dnd ') = 1 ]"
printf 'agent alone' >"$DESK/alone"
host_copy clipboard "$DESK/alone"
guest_paste_eq clipboard "$DESK/alone" "text host -> guest with porthole-agent alone"
guest_copy clipboard /x/utf8
host_paste_eq clipboard "$DESK/utf8" "text guest -> host with porthole-agent alone"
