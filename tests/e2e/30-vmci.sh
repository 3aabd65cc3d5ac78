# The VMCI channel end to end: datagrams both ways, queue-pair streams both
# ways with wrap-around (files compared byte for byte), 1 GiB checksummed,
# detach by either side, a guest process killed with a queue pair attached,
# and every validation failure from a real guest program.  Guest steps wait
# for a go file in a shared directory, so the host end is always listening.
. "$(dirname "$0")/lib.sh"

D=$(mktemp -d /tmp/porthole-vmci-e2e.XXXXXX)
trap 'cleanup; rm -rf "$D"' EXIT
G="$GUEST_ENV $BIN/porthole-vmci-guest"
log=$BUILD/tests/e2e-30-hv.log
head -c 20000000 /dev/urandom >"$D/data"
GiB=1073741824

start_vm vmci "$log" --share "$D:/x" -- sh -c "
	w() { while [ ! -e /x/go-\$1 ]; do sleep 0.05; done; }
	w a; $G send 2000 hello-from-guest >/x/a.out 2>&1
	w b; $G recv 3000 20000 >/x/b.out 2>&1
	w c; $G stream-send 2001 7 /x/data -q 65536 >/x/c.out 2>&1
	w d; $G stream-recv 2002 8 -o /x/d.data -q 65536 >/x/d.out 2>&1
	w e; $G stream-send 2001 9 -n $GiB >/x/e.out 2>&1
	w f; $G stream-send 2001 10 -n 100000000 --detach-after 8388608 >/x/f.out 2>&1
	w g; $G stream-send 2001 11 -n 100000000 >/x/g.out 2>&1
	w h; $G stream-send 2001 12 -n 100000000 --die-after 4194304 >/x/h.out 2>&1
	w i; $GUEST_ENV $GBIN/vmci-hostile >/x/i.out 2>&1; echo exit=\$? >>/x/i.out
	touch /x/done; sleep 300"

V="$BIN/porthole-vmci vmci"
# host_start OUT COMMAND...: a host endpoint in the background, once it is bound.
host_start() {
	local out=$1; shift
	"$@" >"$out" 2>&1 &
	HOST_PID=$!
	wait_until 10 "host endpoint bound ($*)" grep -q ready "$out"
}
go() { touch "$D/go-$1"; }
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" "$2" | head -1; }

# Datagram guest -> host.
host_start "$D/ha.out" $V recv 2000 1
go a
wait $HOST_PID || die "host receive failed: $(cat "$D/ha.out")"
assert_eq "from=3:1024 len=16 data=hello-from-guest" "$(tail -1 "$D/ha.out")" \
	"datagram guest -> host, source is the guest context"
# The host may have the datagram before the guest has printed its result.
wait_until 10 "guest send result" grep -q result= "$D/a.out"
assert_eq "result=40" "$(cat "$D/a.out")" "the guest's send returns the datagram size"

# Datagram host -> guest.
go b
wait_until 10 "guest mapped resource 3000" grep -q ready "$D/b.out"
# The receiving process took the mailbox (one trap a round trip, backdoor/vmci.h).
assert_match "vmci.mailboxes=[1-9]" "$("$BIN/porthole-ctl" status vmci --raw)" \
	"the guest library registered its mailbox"
assert_eq "result=39" "$($V send 2003 3000 hello-from-host)" "host send returns the datagram size"
wait_until 10 "guest received" grep -q from= "$D/b.out"
assert_eq "from=2:2003 len=15 data=hello-from-host" "$(tail -1 "$D/b.out")" "datagram host -> guest"
assert_match "result=-10" "$($V send 2003 3999 nobody-home)" \
	"a host datagram to an unmapped guest resource is unreachable"

# Streams through a 64 KiB queue: 20 MB wraps it ~300 times.
host_start "$D/hc.out" $V stream-recv 2001 -o "$D/c.data"
go c
wait $HOST_PID || die "host stream-recv: $(cat "$D/hc.out")"
cmp "$D/data" "$D/c.data" || die "guest -> host stream corrupted"
ok "20 MB file guest -> host through a 64 KiB queue pair, identical"
wait_until 10 "guest c done" grep -q sent= "$D/c.out"
assert_eq "$(field sum "$D/c.out")" "$(field sum "$D/hc.out")" "both ends agree on the checksum"

host_start "$D/hd.out" $V stream-send 2002 "$D/data"
go d
wait $HOST_PID || die "host stream-send: $(cat "$D/hd.out")"
wait_until 10 "guest d done" grep -q received= "$D/d.out"
cmp "$D/data" "$D/d.data" || die "host -> guest stream corrupted"
ok "20 MB file host -> guest through a 64 KiB queue pair, identical"

# 1 GiB, checksummed (the issue's bar).
host_start "$D/he.out" $V stream-recv 2001
go e
wait $HOST_PID || die "1 GiB stream: $(cat "$D/he.out")"
wait_until 30 "guest e done" grep -q sent= "$D/e.out"
assert_eq $GiB "$(field received "$D/he.out")" "1 GiB arrived"
assert_eq "$(field sum "$D/e.out")" "$(field sum "$D/he.out")" \
	"1 GiB guest -> host intact ($(field gbps "$D/he.out") GB/s)"

# The guest detaches part way: the host sees it.
host_start "$D/hf.out" $V stream-recv 2001
go f
wait $HOST_PID && die "host did not notice the guest's detach"
assert_match "peer-detached" "$(cat "$D/hf.out")" "guest detach mid-stream reaches the host"

# The host detaches part way: the guest sees it.
host_start "$D/hg.out" $V stream-recv 2001 --detach-after 4194304
go g
wait $HOST_PID || true
wait_until 10 "guest g done" grep -q error= "$D/g.out"
assert_match "peer-detached" "$(cat "$D/g.out")" "host detach mid-stream reaches the guest"

# A guest process killed with its queue pair attached.
host_start "$D/hh.out" $V stream-recv 2001
go h
wait $HOST_PID && die "host did not notice the guest process dying"
assert_match "peer-detached" "$(cat "$D/hh.out")" "a killed guest process detaches its queue pair"
wait_until 10 "pages of the dead process freed" test "$(status_field vmci vmci.pages)" = 0
assert_eq 0 "$(status_field vmci vmci.queue-pairs)" "no queue pair left behind"
ok "the dead process's pages went back to the allocator"

# Every validation failure, from a real guest program.
go i
wait_until 30 "hostile VMCI guest done" grep -q exit= "$D/i.out"
grep -E '^(not )?ok ' "$D/i.out"
! grep -q '^not ok' "$D/i.out" || die "a hostile VMCI call got a wrong answer"
assert_eq exit=0 "$(tail -1 "$D/i.out")" "every hostile VMCI call got a clean error ($(grep -c '^ok ' "$D/i.out") checks)"
grep -q "refused: error -14" "$log" && ok "refusals are logged" || die "no log line for a refusal"

wait_until 10 "guest done" test -e "$D/done"
assert_eq 0 "$(status_field vmci vmci.pages)" "no guest pages left allocated"
assert_eq 0 "$(status_field vmci vmci.host-bound)" "host endpoints unbound when their tools exit"
assert_eq running "$(status_field vmci state)" "hypervisor still running"
