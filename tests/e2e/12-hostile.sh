# Bad input from a real guest never crashes or hangs the hypervisor: unknown
# commands and ports, wrong cookies, oversize and truncated messages, closed
# channels, bad guest buffers, processes dying mid-message, one process
# trying to take every channel, message byte and VMCI resource.
# cpuid-dependent: guest programs detect the hypervisor through cpuid
. "$(dirname "$0")/lib.sh"

log=$BUILD/tests/e2e-12-hv.log
start_vm hostile "$log" -- $GUEST_ENV sh -c "$GBIN/hostile > /tmp/out; echo \$? >> /tmp/out; cat /tmp/out; sleep 300"

# The hostile guest's own checks (TAP), printed by the hypervisor's stdout.
wait_until 60 "hostile guest done" grep -q '^1\.\.' "$log"
sleep 0.2
grep -E '^(not )?ok ' "$log"
! grep -q '^not ok' "$log" || die "the hostile guest saw a wrong answer"
ok "every hostile call got a clean error ($(grep -c '^ok ' "$log") checks)"
assert_eq 0 "$(grep -A1 '^1\.\.' "$log" | tail -1)" "the hostile guest exited 0"

# The hypervisor is alive and answers; the dead processes' channels are gone.
assert_eq running "$(status_field hostile state)" "hypervisor still running"
assert_eq 0 "$(status_field hostile rpc.buffered)" "no message bytes left buffered"
chans=$(status_field hostile rpc.channels)
[ "$chans" -le 1 ] || die "channels of dead guest processes stay open: $chans"
ok "channels of dead guest processes were closed ($chans open)"
grep -q "wrong cookie" "$log" && ok "a wrong cookie is logged" || die "no log line for a wrong cookie"

# Attaching to TCLO and leaving, 2000 times: the host log lines this causes
# are rate-limited like every guest-triggered line (50 a second), with a
# count of what was dropped.
churn_log=$BUILD/tests/e2e-12-churn.log
t0=$(date +%s)
"$BIN/porthole-hv" run --name churn -- $GUEST_ENV "$GBIN/hostile" --tclo-churn 2000 >"$churn_log" 2>&1 ||
	{ tail -5 "$churn_log"; die "the TCLO churn guest failed"; }
secs=$(( $(date +%s) - t0 + 1 ))
lines=$(grep -c 'on TCLO channel' "$churn_log" || true)
[ "$lines" -le $(( 50 * (secs + 1) )) ] || die "$lines TCLO attach/leave log lines in $secs s"
ok "4000 TCLO attaches and leaves: $lines log lines in $secs s (rate-limited)"
[ "$secs" -gt 40 ] || grep -q 'guest log lines suppressed' "$churn_log" ||
	die "no count of the suppressed lines"
ok "... and the hypervisor says how many it dropped"

# Guest text can't forge status lines, and can't make status too big to send:
# a description and a capability with newlines, and 255 capabilities of
# ~500 bytes (130 KiB) against a 64 KiB control packet.
start_vm spoof "$BUILD/tests/e2e-12-hv3.log" -- $GUEST_ENV sh -c "$GBIN/hostile --spoof; sleep 300"
wait_until 60 "the spoofing guest done" grep -q "^spoof " "$BUILD/tests/e2e-12-hv3.log"
assert_eq "spoof sent" "$(grep '^spoof ' "$BUILD/tests/e2e-12-hv3.log")" "the guest's calls were all taken"
raw=$(ctl status spoof --raw)
assert_eq "state=running" "$(grep '^state=' <<<"$raw")" "guest newlines forge no state line"
assert_eq "engine=trap" "$(grep '^engine=' <<<"$raw")" "... nor an engine line"
assert_eq "name=spoof" "$(grep '^name=' <<<"$raw")" "... nor a name line"
assert_match 'tools.description=evil\\x0astate=hijacked' "$(grep '^tools.description=' <<<"$raw")" \
	"the guest's newlines show as \\x0a"
[ "${#raw}" -lt 65536 ] || die "status is ${#raw} bytes"
assert_match '\.\.\.\(\+[0-9]+ more\)' "$(grep '^tools.capabilities=' <<<"$raw")" \
	"255 big capabilities: status stays under 64 KiB (${#raw} bytes), the list says how many more"
ctl status spoof >/dev/null && ok "porthole-ctl status still works"
ctl stop spoof

# One guest process can't lock the others out: it takes all it can get of
# the GuestRPC channels and message bytes, the VMCI device connections,
# queue pairs, doorbells and datagram maps, and each time a second process
# still gets one.  Its refusals are logged naming it; all it held goes when
# it exits.
hog_log=$BUILD/tests/e2e-12-hog.log
start_vm hog "$hog_log" -- $GUEST_ENV sh -c "$GBIN/hostile --hog; echo hog-rpc=\$?;
	$GBIN/vmci-hostile --hog; echo hog-vmci=\$?; sleep 300"
wait_until 60 "the hogging guest done" grep -q '^hog-vmci=' "$hog_log"
grep -E '^(not )?ok |^hog' "$hog_log"
assert_eq "hog-rpc=0" "$(grep '^hog-rpc=' "$hog_log")" \
	"one process holds at most its quota of channels and message bytes; another still gets RPCI"
assert_eq "hog-vmci=0" "$(grep '^hog-vmci=' "$hog_log")" \
	"... and of VMCI connections, queue pairs, doorbells, datagram maps"
for line in 'guest process [0-9]+ already holds 32 channels' \
	    'guest process [0-9]+: [0-9]+ more message bytes refused' \
	    'vmci: connection of guest process [0-9]+ refused \([0-9]+ open, 64 its own\)' \
	    'vmci: guest process [0-9]+ holds 16 queue pairs' \
	    'vmci: guest process [0-9]+ holds 256 doorbells' \
	    'vmci: guest process [0-9]+ holds 256 datagram maps'; do
	grep -qE "$line" "$hog_log" || die "no log line /$line/"
done
ok "each refusal is logged with the guest process's pid"
assert_eq 0 "$(status_field hog rpc.channels)" "the hogging processes' channels were closed at exit"
assert_eq 0 "$(status_field hog rpc.buffered)" "... and their message bytes freed"
assert_eq 0 "$(status_field hog vmci.queue-pairs)" "... and their queue pairs"
assert_eq 0 "$(status_field hog vmci.doorbells)" "... and doorbells"
assert_eq 0 "$(status_field hog vmci.guest-connections)" "... and device connections"
ctl stop hog

# A guest process killed in the middle of an RPC.
ctl stop hostile
wait_exit $LAST_HV

start_vm kill "$BUILD/tests/e2e-12-hv2.log" -- $GUEST_ENV sh -c "
	for i in 1 2 3 4 5 6 7 8; do
		$BIN/porthole-rpc --lb 'info-set guestinfo.big $(head -c 60000 /dev/zero | tr '\0' x)' & p=\$!
		sleep 0.0\$i; kill -9 \$p
	done
	$BIN/porthole-rpc 'info-set guestinfo.after yes'
	sleep 300"
wait_until 30 "RPC after kills" ctl info-get kill guestinfo.after
assert_eq yes "$(ctl info-get kill guestinfo.after)" "RPC works after guests were killed mid-message"
assert_eq 0 "$(status_field kill rpc.buffered)" "nothing left buffered by the killed processes"

# Garbage on the control socket doesn't hurt either.
python3 - "$XDG_RUNTIME_DIR/porthole/kill.sock" <<'PY'
import socket, sys, struct
for payload in [b"", b"x", b"\0" * 10, struct.pack("<IHHIiI", 0x50484354, 1, 4, 1, 0, 999999),
                struct.pack("<IHHIiI", 0x50484354, 1, 99, 1, 0, 0),
                struct.pack("<IHHIiI", 0x50484354, 1, 2, 1, 0, 3) + b"a\0b"]:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(sys.argv[1]); s.settimeout(2)
    s.send(payload)
    try: s.recv(100)
    except Exception: pass
    s.close()
PY
assert_eq running "$(status_field kill state)" "malformed control requests are refused, hypervisor fine"

# Shared memory is read once: a second guest thread flips lengths, counts,
# page numbers and ring indices between a valid and a hostile value while
# the hypervisor (datagram headers, queue-pair allocation) and a host
# service (porthole-vmci reading a queue pair's ring) parse them.  Each
# reader acts on the one copy it checked: taken whole or refused with a log
# line, never a read out of bounds (the sanitizer build would abort), and
# both stay up (tests/guest/vmci-flip.c).
flip_log=$BUILD/tests/e2e-12-flip.log
flip_host=$BUILD/tests/e2e-12-flip-host.log
rounds=50
start_vm flip "$flip_log" -- $GUEST_ENV sh -c "$GBIN/vmci-flip 2 $rounds >/tmp/out 2>&1; echo exit=\$? >>/tmp/out; cat /tmp/out; sleep 300"
"$BIN/porthole-vmci" flip stream-recv 2001 --blocks --chunk 4096 --count $((rounds + 1)) >"$flip_host" 2>&1 && st=0 || st=$?
kill -0 $LAST_HV 2>/dev/null || die "the hypervisor died: $(tail -2 "$flip_log")"
wait_until 30 "the flipping guest done" grep -q '^exit=' "$flip_log"
grep -E '^(not )?ok ' "$flip_log"
! grep -q '^not ok' "$flip_log" || die "a reader acted on a flipped field (see above)"
assert_eq exit=0 "$(grep '^exit=' "$flip_log")" "every flipped read was taken whole or refused"
! grep -Eq 'Sanitizer|runtime error' "$flip_host" "$flip_log" || die "a sanitizer report: $(grep -m1 -E 'Sanitizer|runtime error' "$flip_host" "$flip_log")"
[ "$st" -le 1 ] || die "porthole-vmci died (exit $st): $(tail -3 "$flip_host")"
assert_eq $rounds "$(grep -c '^error=-71 .* pattern=ok$' "$flip_host")" \
	"porthole-vmci refused all $rounds hostile rings, and every byte it took before was the stream's"
grep -q "ring header holds an index outside the queue; read refused" "$flip_host" &&
	ok "... each with a log line" || die "no log line for a refused ring"
assert_match '^received=1048576 sum=[0-9a-f]+ pattern=ok ' "$(tail -1 "$flip_host")" \
	"... and then took an honest 1 MiB stream intact"
grep -q "datagram header says" "$flip_log" && ok "refused datagrams are logged" ||
	die "no log line for a refused datagram"
assert_eq running "$(status_field flip state)" "hypervisor still running"
assert_eq 0 "$(status_field flip vmci.queue-pairs)" "no queue pair left behind"
ctl stop flip

# Guest information records from a hostile guest (tests/guest/guestinfo-hostile.c):
# each refused with a clean error, the log rate-limited, the last good record shown.
gi_log=$BUILD/tests/e2e-12-guestinfo.log
start_vm gi-hostile "$gi_log" -- $GUEST_ENV sh -c "$GBIN/guestinfo-hostile; echo exit=\$?; sleep 300"
wait_until 60 "guestinfo-hostile done" grep -q '^exit=' "$gi_log"
grep -E '^(not )?ok ' "$gi_log"
! grep -q '^not ok' "$gi_log" || die "the guest info hostile guest saw a wrong answer"
assert_eq "exit=0" "$(grep '^exit=' "$gi_log")" "guestinfo-hostile: every bad record refused, the good one taken"
assert_eq running "$(status_field gi-hostile state)" "hypervisor still running after the bad guest info"
assert_eq "10.1.2.3/24" "$(status_field gi-hostile guest.nic.0.ip)" "the good NIC record is shown"
assert_eq "" "$(status_field gi-hostile guest.hostname)" "the host name with a newline was not stored"
ctl stop gi-hostile; wait_exit $LAST_HV
# (The count of suppressed lines is logged when logging resumes, or at the VM's end.)
refusals=$(grep -c "guestinfo: .* refused" "$gi_log" || true)
[ "$refusals" -lt 400 ] && grep -q "guest log lines suppressed" "$gi_log" ||
	die "refusals not rate-limited: $refusals log lines for 505 bad records"
ok "the refusals' log lines are rate-limited ($refusals lines for 505 bad records)"

