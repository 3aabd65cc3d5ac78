#!/bin/sh
# Run every cmocka unit test of a build tree: tests/run-unit.sh BUILD_DIR
set -u
build=${1:-build}
fail=0
for t in "$build"/tests/test-*; do
	[ -x "$t" ] || continue
	if "$t" >"$t.log" 2>&1; then
		echo "PASS unit $(basename "$t")"
	else
		echo "FAIL unit $(basename "$t")"; cat "$t.log"; fail=1
	fi
done
exit $fail
