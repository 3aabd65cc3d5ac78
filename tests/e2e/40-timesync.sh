# Time sync: porthole-guestd keeps the trap engine's guest clock on the
# host's.  Three VMs run side by side (the 60 s rate test sets the pace):
#   rate:  +200 ppm oscillator error, held within 1 ms for 60 s
#   steps: +30 s and -30 s jumps stepped away within one 2 s sync period;
#          Time_Synchronize; the capability
#   slew:  +200 ms slewed away, CLOCK_REALTIME never going back
# and the host's clock is checked untouched at the end.
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

# Sampled from the moment the error starts, alongside the other tests.
ctl clock ts-rate --rate 200 >/dev/null
rate_samples=$BUILD/tests/e2e-40-rate.samples
(
	end=$((SECONDS + 60))
	while [ $SECONDS -lt $end ]; do clock_field ts-rate offset-ns; sleep 0.2; done
) >"$rate_samples" &
RATE_SAMPLER=$!

# ---- steps ----
ctl clock ts-steps --offset +30s >/dev/null
steps0=$(clock_field ts-steps steps)
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
