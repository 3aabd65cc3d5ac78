#!/bin/bash
# Run the libFuzzer targets of a build tree (as many at once as CPUs):
#
#   tests/run-fuzz.sh [--campaign] BUILD_DIR SECONDS [PATTERN]
#
# Without --campaign (`make check`): each target replays its in-tree corpus
# (tests/fuzz/corpus/NAME: seeds, and every input that once found a bug),
# then gets SECONDS of fresh inputs in a scratch directory; nothing is kept.
# With --campaign (`make fuzz`): the working corpus is BUILD_DIR/fuzz/corpus/NAME
# (seeded from the in-tree one, kept, so a later run goes on from there),
# progress is shown while a target runs, and crashes are kept in
# BUILD_DIR/fuzz/crashes/ with the command that reproduces them.
#
# PATTERN picks the targets whose names contain it.  tests/fuzz/NAME.options,
# if there, holds extra libFuzzer flags for NAME (e.g. -max_len=65536).
# Every target ends with one line, "PASS|FAIL fuzz NAME: execs, execs/s, cov,
# ft", also written to BUILD_DIR/tests/results-fuzz for tests/summary.sh.
set -u
campaign=
[ "${1:-}" = --campaign ] && { campaign=1; shift; }
build=${1:-build}
secs=${2:-10}
pattern=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
results=$build/tests/results-fuzz
mkdir -p "$build/tests"
: >"$results"
record() { echo "$1"; echo "$1" >>"$results"; }

scratch=$(mktemp -d /tmp/porthole-fuzz.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

# Seeds that are build products, not files in the tree: real ELF programs
# and libraries for the cpuid patcher's parser.
extra_seeds() {
	case $1 in
	fuzz-cpuid-elf)
		for f in /bin/true "$build/tests/guest/libcpuid-probe.so" \
			 "$build/tests/guest/cpuid-cases"; do
			[ -f "$f" ] && head -c 65536 "$f" >"$2/seed-$(basename "$f")"
		done ;;
	esac
}

# The last libFuzzer status line ("#N ... cov: C ft: F ... exec/s: E") of a log.
last_stats() {
	grep -aE '^#[0-9]+' "$1" | tail -1
}
field() {	# field NAME LINE: the number after "NAME:"
	echo "$2" | sed -n "s|.* $1: *\([0-9]*\).*|\1|p"
}

# finish BIN NAME LOG INTREE PID: wait for one target and record its line.
finish() {
	local bin=$1 name=$2 log=$3 intree=$4 pid=$5 st s runs rate nums crash

	wait "$pid"
	st=$?
	s=$(last_stats "$log")
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	nums="${runs:-?} execs, ${rate:-?} execs/s, cov ${s:+$(field cov "$s")}, ft ${s:+$(field ft "$s")}"
	if [ $st -eq 0 ]; then
		record "PASS fuzz $name: $nums in $secs s"
	else
		record "FAIL fuzz $name: $(grep -am1 -E 'ERROR|SUMMARY|deadly' "$log" || echo "exited $st") ($nums)"
		tail -30 "$log" | sed 's/^/    /'
		crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
		if [ -n "$crash" ]; then
			echo "    input kept: $crash"
			echo "    reproduce:  $bin $crash"
			echo "    (keep it as a test: cp $crash $intree/)"
		fi
	fi
}

# `make check` runs as many targets at once as there are CPUs: each is one
# single-threaded process, so each still gets a CPU of its own for its
# SECONDS (a campaign runs them one by one, showing progress).
jobs=1
[ -z "$campaign" ] && jobs=$(nproc 2>/dev/null || echo 1)
running=()	# "bin|name|log|intree|pid", oldest first

for bin in "$build"/fuzz/fuzz-*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	case $name in *"$pattern"*) ;; *) continue ;; esac
	log=$build/tests/$name.log
	intree=$here/fuzz/corpus/$name
	opts=
	[ -f "$here/fuzz/$name.options" ] && opts=$(cat "$here/fuzz/$name.options")
	if [ -n "$campaign" ]; then
		work=$build/fuzz/corpus/$name
		crashes=$build/fuzz/crashes
	else
		work=$scratch/$name
		crashes=$build/tests/fuzz-crashes
	fi
	mkdir -p "$work" "$crashes"
	extra_seeds "$name" "$work"
	dirs=$work
	[ -d "$intree" ] && dirs="$work $intree"
	[ -n "$campaign" ] && echo "== $name: $secs s (corpus $work)"
	# -timeout: one input taking 10 s is a hang (bounded work per request).
	# shellcheck disable=SC2086
	"$bin" -max_total_time="$secs" -timeout=10 -print_final_stats=1 $opts \
		-artifact_prefix="$crashes/$name-" $dirs >"$log" 2>&1 &
	pid=$!
	if [ -n "$campaign" ]; then
		start=$SECONDS
		next=30
		while kill -0 $pid 2>/dev/null; do
			sleep 1
			el=$((SECONDS - start))
			[ $el -ge $next ] || continue
			next=$((next + 30))
			s=$(last_stats "$log")
			echo "   $name ${el}/${secs} s: $(field cov "$s") cov, $(field ft "$s") ft," \
				"$(field corp "$s") inputs, $(field exec/s "$s") execs/s"
		done
	fi
	running+=("$bin|$name|$log|$intree|$pid")
	if [ ${#running[@]} -ge "$jobs" ]; then
		IFS='|' read -r b n l i p <<<"${running[0]}"
		running=("${running[@]:1}")
		finish "$b" "$n" "$l" "$i" "$p"
	fi
done
for r in "${running[@]}"; do
	IFS='|' read -r b n l i p <<<"$r"
	finish "$b" "$n" "$l" "$i" "$p"
done
[ -s "$results" ] || record "FAIL fuzz (none): no fuzz target${pattern:+ matching '$pattern'} in $build/fuzz"
[ "${PORTHOLE_TEST_SUMMARY:-}" = no ] && exit 0
exec "$here/summary.sh" "$results"
