# Clipboard sharing between a guest X session (Xorg dummy + porthole-agent)
# and the host (Xvfb + porthole-viewer), with xclip on both sides.  Every
# paste in the guest starts with Ctrl+V typed into the viewer's window, as a
# user's does: without it the guest may not read the host clipboard.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/desktop.sh"

start_host_x
start_desktop_vm clip --agent-args -v
start_viewer clip
trap 'kill $VIEWER 2>/dev/null; cp "$DESK/agent.log" "$BUILD/tests/e2e-clip-agent.log"; cp "$DESK/viewer.log" "$BUILD/tests/e2e-clip-viewer.log"; desktop_cleanup' EXIT
sleep 1

guest_copy() { guest_sh "xclip -selection $1 -i ${3:+-t $3} $2 >/dev/null 2>&1 &" >/dev/null; }

printf 'hello from the host' >"$DESK/ascii"
host_copy clipboard "$DESK/ascii"
guest_paste_eq clipboard "$DESK/ascii" "ASCII host -> guest"

printf 'grüße, 世界, 🙂 from the guest' >"$DESK/utf8"
guest_copy clipboard /x/utf8
host_paste_eq clipboard "$DESK/utf8" "multi-byte UTF-8 guest -> host"

printf '' >"$DESK/empty"
host_copy clipboard "$DESK/empty"
guest_paste_eq clipboard "$DESK/empty" "empty host -> guest"

printf 'primary selection text' >"$DESK/prim"
guest_copy primary /x/prim
host_paste_eq primary "$DESK/prim" "PRIMARY guest -> host"

# PNGs made here (python3: zlib + struct), moved byte for byte both ways.
# Each way moves bytes the host does not hold already: a paste that read the
# old owner (the bridge had not taken the selection yet) can't pass.
for size in "64 48 img.png" "40 30 img2.png"; do
	read -r w h f <<<"$size"
	python3 - "$DESK/$f" "$w" "$h" <<'PY'
import struct, sys, zlib
w, h = int(sys.argv[2]), int(sys.argv[3])
raw = b"".join(b"\0" + bytes(v for x in range(w) for v in (x * 4 % 256, y * 5 % 256, (x ^ y) % 256)) for y in range(h))
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
PY
done
host_copy clipboard "$DESK/img.png" image/png
guest_paste_eq clipboard "$DESK/img.png" "PNG image host -> guest, byte for byte" image/png
guest_copy clipboard /x/img2.png image/png
host_paste_eq clipboard "$DESK/img2.png" "PNG image guest -> host, byte for byte" image/png

# 10 MiB of text both ways (INCR on both X servers, queue pair in between).
head -c 7864320 /dev/urandom | base64 -w 0 >"$DESK/big"	# exactly 10 MiB
head -c 7864320 /dev/urandom | base64 -w 0 >"$DESK/big2"
host_copy clipboard "$DESK/big"
guest_paste_eq clipboard "$DESK/big" "10 MiB host -> guest"
guest_copy clipboard /x/big2
host_paste_eq clipboard "$DESK/big2" "10 MiB guest -> host"
# Both moved as streams: the queue pair carried the bytes while the X reads ran.
grep -q "10485760 bytes streamed to the guest" "$DESK/viewer.log" ||
	die "the 10 MiB host -> guest paste was not streamed"
grep -q "10485760 bytes streamed from the guest" "$DESK/viewer.log" ||
	die "the 10 MiB guest -> host paste was not streamed"
ok "both 10 MiB pastes streamed (bytes moved while the X transfers ran)"

# Policy: off in one direction refuses with a reason; max-size refuses larger data.
ctl clipboard-policy clip guest-to-host=off >/dev/null
printf 'secret' >"$DESK/secret"
guest_copy clipboard /x/secret
sleep 1
rc=0; host_x timeout 10 xclip -selection clipboard -o >/dev/null 2>&1 || rc=$?
[ $rc != 0 ] || die "guest-to-host=off still pasted"
wait_until 5 "the refusal is logged" grep -q "guest-to-host sharing is off" "$DESK/viewer.log"
ok "guest-to-host=off refuses with a reason"
ctl clipboard-policy clip guest-to-host=on max-size=1000 >/dev/null
host_copy clipboard "$DESK/big"
sleep 1
user_press
rc=0; guest_sh 'timeout 10 xclip -selection clipboard -o >/dev/null 2>&1' || rc=$?
[ $rc != 0 ] || die "max-size did not refuse"
wait_until 5 "the size refusal is logged" grep -q "larger than the policy's max-size" "$DESK/viewer.log"
ok "max-size refuses larger data with a reason"
assert_match 'max-size=1000' "$(ctl clipboard-policy clip)" "porthole-ctl clipboard-policy shows the policy"
ctl clipboard-policy clip max-size=67108864 >/dev/null

# The agent dies mid-transfer: the host refuses that paste, survives, and the next copy works.
guest_copy clipboard /x/big
sleep 1
# (cut mid-stream, the paste waits for its end until this timeout: no truncated whole)
( host_x timeout 8 xclip -selection clipboard -o >"$DESK/cut" 2>/dev/null ) &
paster=$!
guest_sh 'for i in $(seq 100); do grep -q "" /proc/$(pgrep -f porthole-agent | head -1)/stat && break; done; sleep 0.05; pkill -9 -f porthole-agent' >/dev/null || true
rc=0; wait $paster || rc=$?
[ $rc != 0 ] || cmp -s "$DESK/big" "$DESK/cut" || die "a cut-off transfer was pasted truncated"
kill -0 $VIEWER || die "the viewer died with the agent"
ok "agent killed mid-transfer: no truncated paste, viewer alive"
guest_sh "$GUEST_ENV $BIN/porthole-agent -v >/x/agent2.log 2>&1 &" >/dev/null
sleep 1
printf 'after the restart' >"$DESK/after"
host_copy clipboard "$DESK/after"
guest_paste_eq clipboard "$DESK/after" "next copy works after the agent restarts"

# A host paste waiting on an agent that then dies is refused at once (the bridge
# notices the agent's channel is gone), not at the 20 s reply timeout.
guest_copy clipboard /x/after
host_paste_eq clipboard "$DESK/after" "guest copy after the restart reaches the host"
guest_sh 'kill -STOP $(pgrep -x porthole-agent)' || die "cannot stop the agent"
t0=$SECONDS
( host_x timeout 20 xclip -selection clipboard -o >/dev/null 2>&1 ) &
paster=$!
sleep 1
guest_sh 'kill -9 $(pgrep -x porthole-agent)' || die "cannot kill the agent"
rc=0; wait $paster || rc=$?
[ $rc != 0 ] || die "a paste from a dead agent succeeded"
[ $((SECONDS - t0)) -le 6 ] || die "the refusal took $((SECONDS - t0)) s"
wait_until 5 "the bridge noticed" grep -q "the guest agent is gone" "$DESK/viewer.log"
ok "paste waiting on an agent that dies: refused within seconds"
