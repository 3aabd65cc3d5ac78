# VMware's legacy backdoor copy/paste (commands 6-9, four bytes per call) as
# older guest tools use it: a raw guest program (tests/guest/legacy-copypaste)
# against the hypervisor's buffers (porthole-ctl clipboard-legacy), policy,
# size caps, hostile call sequences; then end to end through the host bridge
# (porthole-viewer, no guest agent) with xclip on the host.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/desktop.sh"

start_host_x
start_desktop_vm legacy --no-agent
trap 'cp "$DESK/viewer.log" "$BUILD/tests/e2e-legacy-viewer.log" 2>/dev/null; desktop_cleanup' EXIT
LC="$GUEST_ENV $GBIN/legacy-copypaste"
HVLOG=$BUILD/tests/e2e-legacy-hv.log
lc() { guest_sh "$LC $*"; }
serial() { ctl clipboard-legacy legacy get | head -1; }
# host_text FILE: what the guest last sent, as the host reads it (op 43).
host_text() { ctl clipboard-legacy legacy get | tail -n +2 >"$1"; }
# rand_text N: N printable bytes (reading all of base64's output: no SIGPIPE under pipefail).
rand_text() { head -c $(($1 + 4)) /dev/urandom | base64 -w 0 | { head -c "$1"; cat >/dev/null; }; }

assert_eq -1 "$(lc len)" "GETSELLENGTH before any host text: -1 (not ready)"

# Host -> guest, read four bytes at a time; lengths around the piece size.
printf 'grüße, 世界, 🙂 via the backdoor' >"$DESK/h2g"
ctl clipboard-legacy legacy set "$(cat "$DESK/h2g")"
assert_eq "len $(wc -c <"$DESK/h2g")" "$(lc get /x/got)" "GETSELLENGTH gives the byte length"
cmp -s "$DESK/h2g" "$DESK/got" || die "host -> guest UTF-8 text differs"
ok "multi-byte UTF-8 host -> guest, 4 bytes per GETNEXTPIECE"
for n in 1 2 3 4 5 65436; do
	rand_text $n >"$DESK/h2g"
	ctl clipboard-legacy legacy set "$(cat "$DESK/h2g")"
	lc get /x/got >/dev/null
	cmp -s "$DESK/h2g" "$DESK/got" || die "host -> guest $n bytes differ"
done
ok "host -> guest 1, 2, 3, 4, 5 and 65436 bytes"

# Guest -> host: SETSELLENGTH + SETNEXTPIECE, visible through op 43 with a new serial.
s0=$(serial)
printf 'grüße aus dem Gast, 世界 🙂' >"$DESK/g2h"
assert_eq 0 "$(lc set /x/g2h)" "SETSELLENGTH accepted"
host_text "$DESK/seen"
cmp -s "$DESK/g2h" "$DESK/seen" || die "guest -> host UTF-8 text differs"
assert_eq $((s0 + 1)) "$(serial)" "multi-byte UTF-8 guest -> host, serial bumped once"
for n in 1 3 4 5 65436; do
	rand_text $n >"$DESK/g2h"
	lc set /x/g2h >/dev/null
	host_text "$DESK/seen"
	cmp -s "$DESK/g2h" "$DESK/seen" || die "guest -> host $n bytes differ"
done
ok "guest -> host 1, 3, 4, 5 and 65436 bytes"
printf 'keep me' >"$DESK/keep"
lc set /x/keep >/dev/null
s1=$(serial)

# Policy, per direction.
ctl clipboard-policy legacy host-to-guest=off >/dev/null
assert_eq -2 "$(lc len)" "host-to-guest=off: GETSELLENGTH -2 (don't exchange)"
rc=0; out=$(ctl clipboard-legacy legacy set "x" 2>&1) || rc=$?
[ $rc != 0 ] && [[ $out == *"host-to-guest sharing is off"* ]] || die "host-to-guest=off: set accepted ($out)"
ok "host-to-guest=off: the host can't feed the legacy buffer"
ctl clipboard-policy legacy host-to-guest=on guest-to-host=off >/dev/null
printf 'secret' >"$DESK/secret"
assert_eq -2 "$(lc set /x/secret)" "guest-to-host=off: SETSELLENGTH -2"
rc=0; out=$(ctl clipboard-legacy legacy get 2>&1) || rc=$?
[ $rc != 0 ] && [[ $out == *"guest-to-host sharing is off"* ]] || die "guest-to-host=off: get answered ($out)"
ok "guest-to-host=off: the host can't read the guest's text"
ctl clipboard-policy legacy guest-to-host=on >/dev/null
assert_eq "$s1" "$(serial)" "the refused guest text never became visible"
host_text "$DESK/seen"; cmp -s "$DESK/keep" "$DESK/seen" || die "the last accepted text was lost"
ok "the last accepted guest text is kept"

# Max size: the policy's, and the legacy channel's own (65436).
ctl clipboard-policy legacy max-size=10 >/dev/null
rc=0; ctl clipboard-legacy legacy set "01234567890" >/dev/null 2>&1 || rc=$?
[ $rc != 0 ] || die "max-size=10: 11 host bytes accepted"
printf '01234567890' >"$DESK/eleven"; printf '0123456789' >"$DESK/ten"
assert_eq -1 "$(lc set /x/eleven)" "max-size=10: an 11-byte guest copy is refused"
assert_eq 0 "$(lc set /x/ten)" "max-size=10: a 10-byte guest copy is taken"
ctl clipboard-policy legacy max-size=67108864 >/dev/null
head -c 65437 /dev/zero | tr '\0' a >"$DESK/over"
rc=0; ctl clipboard-legacy legacy set "$(cat "$DESK/over")" >/dev/null 2>&1 || rc=$?
[ $rc != 0 ] || die "65437 host bytes accepted"
assert_eq -1 "$(lc set /x/over)" "65437 guest bytes refused (legacy cap 65436)"
ok "the legacy cap holds in both directions"

# Hostile sequences: errors, nothing half-sent visible, no crash.
s2=$(serial)
assert_eq -1 "$(lc set-len 4294967295)" "SETSELLENGTH 0xFFFFFFFF refused"
lc pieces 100 0x41414141 >/dev/null
assert_eq -1 "$(lc set-len 0x80000000)" "SETSELLENGTH 2 GiB refused"
lc pieces 10 0x42424242 >/dev/null
assert_eq "$s2" "$(serial)" "pieces after a refused length or without SETSELLENGTH go nowhere"
lc set-len 100 >/dev/null; lc pieces 2 0x44444444 >/dev/null
assert_eq "$s2" "$(serial)" "a half-sent text is never visible"
lc set-len 8 >/dev/null; lc pieces 5 0x43434343 >/dev/null
assert_eq $((s2 + 1)) "$(serial)" "pieces past the announced length: one text, once"
host_text "$DESK/seen"
assert_eq CCCCCCCC "$(cat "$DESK/seen")" "pieces past the announced length are dropped"
ctl clipboard-legacy legacy set "abcdefg"
lc len >/dev/null
assert_eq 2 "$(lc drain 20000)" "GETNEXTPIECE past the end gives zeros"
lc garbage >/dev/null
kill -0 "$DESK_HV" || die "the hypervisor died"
ctl status legacy >/dev/null || die "the hypervisor stopped answering"
grep -q "legacy guest copy of 4294967295 bytes refused" "$HVLOG" || die "no log line for the huge length"
ok "hostile legacy calls: errors and log lines, hypervisor healthy"

# End to end through the host bridge (porthole-viewer, no agent in the guest).
start_viewer legacy
trap 'kill $VIEWER 2>/dev/null; cp "$DESK/viewer.log" "$BUILD/tests/e2e-legacy-viewer.log"; desktop_cleanup' EXIT
printf 'von xclip auf dem Host: 日本語 ✓' >"$DESK/xh"
host_x xclip -selection clipboard -i "$DESK/xh" >/dev/null 2>&1 &
sleep 2
lc get /x/got >/dev/null 2>&1 || true
! cmp -s "$DESK/xh" "$DESK/got" || die "a host copy reached the legacy guest with no key press in the viewer"
ok "a host copy is not pushed to legacy tools before the user acts in the viewer"
# The legacy buffer is pushed at the next key or button press the viewer delivers;
# legacy tools (no agent) get no key messages, so the press is a click.
user_press click
end=$((SECONDS + 10))
until lc get /x/got >/dev/null 2>&1 && cmp -s "$DESK/xh" "$DESK/got"; do
	[ $SECONDS -lt $end ] || die "host xclip copy never reached the legacy guest"
	sleep 0.2
done
ok "host xclip copy -> bridge -> (a click in the viewer) -> legacy guest reads it through the backdoor"
printf 'from old guest tools: ½ ∞ 🙂' >"$DESK/xg"
lc set /x/xg >/dev/null
end=$((SECONDS + 10))
until host_x timeout 5 xclip -selection clipboard -o >"$DESK/xo" 2>/dev/null && cmp -s "$DESK/xg" "$DESK/xo"; do
	[ $SECONDS -lt $end ] || die "legacy guest text never reached host xclip -o"
	sleep 0.2
done
ok "legacy guest copy -> bridge owns the host CLIPBOARD -> xclip -o shows it"
kill -0 $VIEWER || die "the viewer died"
