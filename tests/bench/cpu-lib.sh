# CPU-time helpers for the benchmarks (sourced by idle.sh and image.sh).
# SAMPLE_S: the measuring window of ms_per_s, in seconds.
# cpu_ns PID...: CPU time of these processes and all their descendants (live ones).
cpu_ns() {
	local all p
	all=" $* "
	# Descendants: repeat until no new child of a listed process appears.
	local grew=1
	while [ $grew = 1 ]; do
		grew=0
		for p in /proc/[0-9]*; do
			p=${p#/proc/}
			[[ "$all" == *" $p "* ]] && continue
			local pp
			pp=$(awk '{ sub(/^.*\) /, ""); print $2 }' "/proc/$p/stat" 2>/dev/null) || continue
			[[ "$all" == *" $pp "* ]] && { all="$all$p "; grew=1; }
		done
	done
	# The process CPU clock of pid P is ((~P) << 3) | 2 (CPUCLOCK_SCHED).
	python3 -c '
import sys, time
t = 0
for p in sys.argv[1:]:
	try:
		t += time.clock_gettime_ns(((~int(p)) << 3) | 2)
	except OSError:
		pass	# gone meanwhile
print(t)' $all
}
# ms_per_s PID...: CPU of those processes (and descendants) over SAMPLE_S, in ms/s.
ms_per_s() {
	local a b
	a=$(cpu_ns "$@")
	sleep "$SAMPLE_S"
	b=$(cpu_ns "$@")
	awk "BEGIN { printf \"%.3f\", ($b - $a) / 1e6 / $SAMPLE_S }"
}
