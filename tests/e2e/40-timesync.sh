# Time sync: porthole-guestd keeps the trap engine's guest clock on the
# host's.  Three VMs run side by side (the 60 s rate test sets the pace):
#   rate:  +200 ppm oscillator error, held within 1 ms for 60 s
#   steps: +30 s and -30 s jumps stepped away within one 2 s sync period;
#          Time_Synchronize; the capability
#   slew:  +200 ms slewed away, CLOCK_REALTIME never going back
# and the host's clock is checked untouched at the end.  Two more VMs read
# the clock without a trap (the clock page and the engine's vDSO), and with
# PORTHOLE_GUEST_CLOCK=trap as before:
#   page:  a million clock_gettime/gettimeofday/time calls, no trapped read; vDSO reads
#          bracket the hypervisor's (trapped) reads; a step and a rate
#          change from the guest seen by the next read; CLOCK_MONOTONIC
#          never back while the host changes rate and offset; guest root
#          can't write the page or remount it writable; a FIFO the
#          guest puts at the vDSO file's path neither hangs nor breaks it
. "$(dirname "$0")/lib.sh"

PERIOD=2
GUESTD="$BIN/porthole-guestd --sync-time --sync-period $PERIOD"
host_before=$("$GBIN/clockwatch" host-state)

# clock_field VM KEY: one value of `porthole-ctl clock VM --raw`.
clock_field() { ctl clock "$1" --raw | sed -n "s/^$2=//p"; }
abs() { local v=$1; echo "${v#-}"; }
# wait_offset_below VM NS SECONDS: wait for |guest - host| < NS; prints the seconds it took.
wait_offset_below() {
	local start=$(date +%s%N) off
	while :; do
		off=$(clock_field "$1" offset-ns)
		[ "$(abs "$off")" -lt "$2" ] && break
		[ $(( ($(date +%s%N) - start) / 1000000000 )) -lt "$3" ] || { echo "timeout(offset $off)"; return 0; }
		sleep 0.05
	done
	awk "BEGIN { printf \"%.2f\", ($(date +%s%N) - $start) / 1e9 }"
}
tools_running() { status_field "$1" tools.status | grep -q running; }

rate_log=$BUILD/tests/e2e-40-rate.log
steps_log=$BUILD/tests/e2e-40-steps.log
slew_log=$BUILD/tests/e2e-40-slew.log
start_vm ts-rate "$rate_log" -- $GUEST_ENV $GUESTD
RATE_HV=$LAST_HV
start_vm ts-steps "$steps_log" -- $GUEST_ENV $GUESTD
STEPS_HV=$LAST_HV
start_vm ts-slew "$slew_log" -- $GUEST_ENV sh -c "$GUESTD & $GBIN/clockwatch watch 25 2000; wait"
SLEW_HV=$LAST_HV
for vm in ts-rate ts-steps ts-slew; do wait_until 10 "$vm tools" tools_running $vm; done

# ---- guest clock reads without a trap ----
page_log=$BUILD/tests/e2e-40-page.log
trapclock_log=$BUILD/tests/e2e-40-trapclock.log
# The guest sees the host's tree read-only: files made here tell clockwatch when to go on.
sync=$BUILD/tests/e2e-40-sync
rm -f "$sync"-*
start_vm ts-page "$page_log" -- $GUEST_ENV sh -c "
	if echo x 2>/dev/null >/run/porthole-vdso; then echo page-WRITTEN; fi
	if mount -o remount,bind,rw /run/porthole-vdso 2>/dev/null; then echo page-REMOUNTED-RW; fi
	$GBIN/clockwatch check 1000000 $sync-page && $GBIN/clockwatch mono 8"
PAGE_HV=$LAST_HV
export PORTHOLE_GUEST_CLOCK=trap
start_vm ts-trapclock "$trapclock_log" -- $GUEST_ENV "$GBIN/clockwatch" check 2000 "$sync-trap"
TRAPCLOCK_HV=$LAST_HV
unset PORTHOLE_GUEST_CLOCK
# trapped_reads VM LOG SYNC: the hypervisor's trapped clock reads during clockwatch's loop.
trapped_reads() {
	local r0
	wait_until 15 "$1 ready" grep -q "^clockwatch ready" "$2"
	r0=$(clock_field "$1" reads)
	touch "$3.start"
	wait_until 60 "$1 done" grep -q "^clockwatch done" "$2"
	echo $(( $(clock_field "$1" reads) - r0 ))
	touch "$3.end"
}
n=$(trapped_reads ts-page "$page_log" "$sync-page")
echo "# page: $n trapped clock reads during 1000000 clock reads"
grep -q "^clockwatch vdso=porthole" "$page_log" || die "the guest process has no Porthole vDSO"
grep -q "guest clock: read from a clock page" "$page_log" || die "the hypervisor did not say the clock page is in use"
[ "$n" -lt 100 ] || die "page: $n trapped clock reads during 1000000 clock reads"
ok "page: 1000000 clock_gettime/gettimeofday/time calls, $n trapped reads"
! grep -q "^page-" "$page_log" || die "guest root could write the clock page: $(grep "^page-" "$page_log")"
ok "guest root can neither write the clock page nor remount it writable"
n=$(trapped_reads ts-trapclock "$trapclock_log" "$sync-trap")
echo "# forced trap: $n trapped clock reads during 2000 clock_gettime calls"
grep -q "^clockwatch vdso=none" "$trapclock_log" || die "PORTHOLE_GUEST_CLOCK=trap: the guest still has a vDSO"
[ "$n" -ge 2000 ] || die "PORTHOLE_GUEST_CLOCK=trap: only $n trapped reads for 2000 calls"
ok "PORTHOLE_GUEST_CLOCK=trap: every read traps ($n for 2000 calls)"
for log in "$page_log" "$trapclock_log"; do
	wait_until 20 "check results in $log" grep -q "check rate-seen-by-next-read" "$log"
	for c in loop-monotonic agree-with-hypervisor gettimeofday-time-agree step-seen-by-next-read \
		 rate-seen-by-next-read; do
		line=$(grep "^clockwatch check $c " "$log")
		echo "# $(basename "$log"): $line"
		assert_match " ok " "$line" "$(basename "$log" .log): $c"
	done
done
# While the page VM reads CLOCK_MONOTONIC back to back, the host changes rate and offset.
wait_until 10 "mono phase" grep -q "check rate-seen-by-next-read" "$page_log"
for change in "--rate 50000" "--offset +5s" "--rate -50000" "--offset -3s" "--rate 0"; do
	ctl clock ts-page $change >/dev/null
	sleep 1
done
wait_until 20 "mono summary" grep -q "^clockwatch mono " "$page_log"
sum=$(grep "^clockwatch mono " "$page_log")
echo "# $sum"
assert_match "backward=0 " "$sum" "CLOCK_MONOTONIC never went back across the host's rate and offset changes"
wait_exit $PAGE_HV
assert_eq 0 "$HV_STATUS" "the page VM's checks passed"
wait_exit $TRAPCLOCK_HV
assert_eq 0 "$HV_STATUS" "the forced-trap VM's checks passed"
rm -f "$sync"-*

# A guest that puts a FIFO where the vDSO file was: its new programs read the
# clock through traps, and the engine, which waits for the mapping code it
# runs in each new program, is not stuck in that open.
fifo_log=$BUILD/tests/e2e-40-fifo.log
start_vm ts-fifo "$fifo_log" -- $GUEST_ENV sh -c "mount -t tmpfs none /run && mkfifo /run/porthole-vdso &&
	$GBIN/clockwatch check 10; echo fifo-exit=\$?"
FIFO_HV=$LAST_HV
wait_until 30 "the FIFO guest's clockwatch" grep -q "^fifo-exit=" "$fifo_log"
assert_eq "fifo-exit=0" "$(grep "^fifo-exit=" "$fifo_log")" "a FIFO at the vDSO's path: clockwatch ran"
grep -q "^clockwatch vdso=none" "$fifo_log" || die "a FIFO at the vDSO's path: the process still got a vDSO"
grep -q "cannot map the guest vDSO into guest process" "$fifo_log" ||
	die "a FIFO at the vDSO's path: no log line"
ok "a FIFO at the vDSO's path: trapped clock reads, one log line"
wait_exit $FIFO_HV

# Sampled from the moment the error starts, alongside the other tests.
ctl clock ts-rate --rate 200 >/dev/null
rate_samples=$BUILD/tests/e2e-40-rate.samples
(
	end=$((SECONDS + 60))
	while [ $SECONDS -lt $end ]; do clock_field ts-rate offset-ns; sleep 0.2; done
) >"$rate_samples" &
RATE_SAMPLER=$!

# ---- steps ----
# (steps0 first: the tools may step the clock before the next ctl call returns)
steps0=$(clock_field ts-steps steps)
ctl clock ts-steps --offset +30s >/dev/null
t=$(wait_offset_below ts-steps 1000000 10)
echo "# +30 s corrected in ${t}s"
[[ $t =~ ^[0-9.]+$ ]] && awk "BEGIN { exit !($t <= $PERIOD + 0.5) }" || die "+30 s not corrected within one period ($t)"
ok "+30 s offset stepped back within one ${PERIOD}s sync period (${t}s)"
assert_eq 1 $(( $(clock_field ts-steps steps) - steps0 )) "the +30 s correction was one step"
ctl clock ts-steps --offset -30s >/dev/null
t=$(wait_offset_below ts-steps 1000000 10)
echo "# -30 s corrected in ${t}s"
[[ $t =~ ^[0-9.]+$ ]] && awk "BEGIN { exit !($t <= $PERIOD + 0.5) }" || die "-30 s not corrected within one period ($t)"
ok "-30 s offset stepped forward within one ${PERIOD}s sync period (${t}s)"
grep -aEq "stepped the clock back by (29\.9|30\.0)" "$steps_log" || die "guestd did not log the backward step"
grep -aEq "stepped the clock forward by (29\.9|30\.0)" "$steps_log" || die "guestd did not log the forward step"
ok "guestd logged both steps"
assert_match "porthole_timesync:1" "$(ctl status ts-steps)" "guestd advertises time sync over RPCI"
# Resume: the host jumps the clock and says so; the sync is immediate.
ctl clock ts-steps --offset -5s >/dev/null
assert_eq "OK " "$(ctl tclo ts-steps 'Time_Synchronize 0')" "TCLO Time_Synchronize answered"
off=$(clock_field ts-steps offset-ns)
[ "$(abs "$off")" -lt 1000000 ] || die "Time_Synchronize left an offset of $off ns"
ok "Time_Synchronize corrects at once (offset now $off ns)"
out=$(ctl clock ts-steps --offset 12parsecs 2>&1) && die "a bad duration must be refused" || true
assert_match "is not a duration" "$out" "porthole-ctl clock refuses a bad duration"

# ---- slew ----
ctl clock ts-slew --offset +200ms >/dev/null
steps0=$(clock_field ts-slew steps)
t=$(wait_offset_below ts-slew 1000000 15)
echo "# +200 ms slewed away in ${t}s"
[[ $t =~ ^[0-9.]+$ ]] || die "+200 ms not removed ($t)"
ok "+200 ms offset removed in ${t}s"
assert_eq "$steps0" "$(clock_field ts-slew steps)" "the 200 ms were slewed, not stepped"
grep -aEq "ahead by (199|200)\.[0-9]+ ms: slewing" "$slew_log" || die "guestd did not log the slew"
ok "guestd logged the slew"
wait_until 30 "clockwatch summary" grep -q "^clockwatch samples=" "$slew_log"
sum=$(grep "^clockwatch samples=" "$slew_log")
echo "# $sum"
assert_match "backward=0 " "$sum" "guest CLOCK_REALTIME never went back while slewing"

# ---- rate: +200 ppm held within 1 ms for 60 s ----
wait $RATE_SAMPLER
n=$(grep -c . "$rate_samples")
worst=$(awk '{ v = $1 < 0 ? -$1 : $1; if (v > w) w = v } END { print w + 0 }' "$rate_samples")
echo "# +200 ppm: worst |offset| in $n samples over 60 s: $worst ns"
[ "$n" -ge 100 ] || die "+200 ppm: only $n offset samples"
[ "$worst" -lt 1000000 ] || die "+200 ppm: offset reached $worst ns"
ok "+200 ppm rate error held within 1 ms over 60 s (worst $worst ns)"
assert_match "^-?[0-9]+$" "$(clock_field ts-rate adjtimex-freq)" "the guest learned a frequency correction"

for vm in ts-rate ts-steps ts-slew; do ctl stop $vm; done
for p in $RATE_HV $STEPS_HV $SLEW_HV; do wait_exit $p; done

# ---- the host's clock: untouched ----
host_after=$("$GBIN/clockwatch" host-state)
assert_eq "$(echo "$host_before" | grep adjtimex | sed 's/ offset=[-0-9]*//')" \
	"$(echo "$host_after" | grep adjtimex | sed 's/ offset=[-0-9]*//')" "the host's adjtimex state is unchanged"
d=$(( $(echo "$host_after" | sed -n 's/rt_minus_mono_ns=//p') - $(echo "$host_before" | sed -n 's/rt_minus_mono_ns=//p') ))
echo "# host CLOCK_REALTIME - CLOCK_MONOTONIC moved by $d ns"
[ "$(abs $d)" -lt 10000000 ] || die "the host's CLOCK_REALTIME moved by $d ns against CLOCK_MONOTONIC"
ok "the host's CLOCK_REALTIME did not move against CLOCK_MONOTONIC"
