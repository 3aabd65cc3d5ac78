#!/bin/sh
# One line over test results: tests/summary.sh [-q] RESULTS_FILE...
# The runners (tests/run-unit.sh, tests/run-e2e.sh) write a results file with
# a line per test, the line they print: "PASS unit test-rpc",
# "FAIL e2e 12-hostile: ...", "SKIP e2e 20-kvm-payloads: ...".  `make check`
# adds "FAIL build ..." for a build that failed.  Prints
# "N passed, N failed, N skipped" (-q: nothing) and fails if a test failed or
# none ran: a run that tested nothing is no success.
set -u
quiet=
[ "${1:-}" = -q ] && { quiet=1; shift; }
# A missing file (a pass that never got to its tests) counts nothing: its
# failure is in another file.
set -- $(cat "$@" 2>/dev/null | awk '
	$1 == "PASS" { p++ } $1 == "FAIL" { f++ } $1 == "SKIP" { s++ }
	END { print p + 0, f + 0, s + 0 }')
[ -n "$quiet" ] || echo "$1 passed, $2 failed, $3 skipped"
[ $(($1 + $2 + $3)) -gt 0 ] || { echo "no tests ran" >&2; exit 1; }
[ "$2" -eq 0 ]
