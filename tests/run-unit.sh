#!/bin/sh
# Run every cmocka unit test of a build tree: tests/run-unit.sh BUILD_DIR
# Each test binary is one result: PASS, FAIL (with the failed tests and its
# output) or SKIP when cmocka skipped any of its tests (skip()): a binary that
# didn't run everything must not read as a pass.  A test may print
# "SKIP: reason" before skip() to say why.  Results also go to
# BUILD_DIR/tests/results-unit, for `make check`'s summary (tests/summary.sh);
# the runner prints its own summary line unless PORTHOLE_TEST_SUMMARY=no.
set -u
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
results=$build/tests/results-unit
mkdir -p "$build/tests"
: >"$results"

# record LINE: one test's result, for the reader and for the summary.
record() { echo "$1"; echo "$1" >>"$results"; }

for t in "$build"/tests/test-*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	st=0
	# Each test its own runtime directory: tests that start a device model
	# name their VM 'unit', and two runs at once (another checkout) must
	# not meet at its socket.
	rt=$(mktemp -d "${TMPDIR:-/tmp}/porthole-unit.XXXXXX")
	XDG_RUNTIME_DIR=$rt "$t" >"$t.log" 2>&1 || st=$?
	rm -rf "$rt"
	# cmocka lists each failed or skipped test as "[  FAILED  ] name" or
	# "[  SKIPPED ] name" (twice: as it runs, and in its closing summary).
	failed=$(sed -n 's/^\[  FAILED  \] \([^ ]*\)$/\1/p' "$t.log" | sort -u | paste -sd, - | sed 's/,/, /g')
	skipped=$(sed -n 's/^\[  SKIPPED \] \([^ ]*\)$/\1/p' "$t.log" | sort -u | paste -sd, - | sed 's/,/, /g')
	if [ $st -ne 0 ]; then
		if [ -n "$failed" ]; then why="failed: $failed"
		elif [ $st -gt 128 ]; then why="killed by signal $((st - 128))"
		else why="exited with $st"; fi
		record "FAIL unit $name: $why"; sed 's/^/    /' "$t.log"
	elif [ -n "$skipped" ]; then
		total=$(sed -n 's/^\[==========\] Running \([0-9]*\) test(s)\.$/\1/p' "$t.log" | head -1)
		n=$(echo "$skipped" | tr ',' '\n' | wc -l)
		reason=$(sed -n 's/^SKIP: //p' "$t.log" | paste -sd';' - | sed 's/;/; /g')
		record "SKIP unit $name: $n of ${total:-?} tests skipped ($skipped)${reason:+: $reason}"
	else
		record "PASS unit $name"
	fi
done
# The summary line, unless `make check` prints one over everything it ran.
[ "${PORTHOLE_TEST_SUMMARY:-}" = no ] && q=-q || q=
exec "$here/summary.sh" $q "$results"
