#!/bin/bash
# Run every end-to-end test against a build tree: tests/run-e2e.sh BUILD_DIR [PATTERN]
# Each test is a script in tests/e2e/ that starts real VMs with real guest programs.
# A script passes with exit 0, skips with 77 after printing "SKIP: reason"
# (lib.sh's skip), and fails otherwise, having said why in a "not ok" line.
# Each result is a line here and in BUILD_DIR/tests/results-e2e, for `make
# check`'s summary (tests/summary.sh); the runner prints its own summary line
# unless PORTHOLE_TEST_SUMMARY=no.
set -u
build=$(cd "${1:-build}" && pwd)
pattern=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
results=$build/tests/results-e2e
mkdir -p "$build/tests"
: >"$results"

# record LINE: one test's result, for the reader and for the summary.
record() { echo "$1"; echo "$1" >>"$results"; }

case "$(cd "$build" && pwd -P)/" in /tmp/*|/var/tmp/*|/run/*|/dev/shm/*)
	echo "error: $build is under a directory every guest gets privately (/tmp, /var/tmp," \
	     "/run, /dev/shm), so guest programs can't run from it; use a checkout elsewhere" >&2
	# Recorded too, so that `make check` counts the tests that couldn't run.
	echo "FAIL e2e (all): the build tree is under a directory guests get privately" >>"$results"
	exit 1 ;;
esac

# run_one NAME SCRIPT [--wrap COMMAND] [VAR=VALUE...]: run one test script,
# with VAR=VALUE in its environment (and under COMMAND), as test NAME (its
# log is BUILD_DIR/tests/e2e-NAME.log); prints and records its result.
# Running a script again under other settings is one more call, e.g.
# run_one "$name[knob=on]" "$t" PORTHOLE_KNOB=on.
run_one() {
	local name=$1 t=$2 wrap=; shift 2
	[ "${1:-}" = --wrap ] && { wrap=$2; shift 2; }
	local file=${name//\[/.} start limit st=0 secs why
	# "11-open-vm-tools[cpuid=patch]" logs to e2e-11-open-vm-tools.cpuid=patch.log.
	file=${file//\]/}
	local log="$build/tests/e2e-${file//[^A-Za-z0-9._=+-]/_}.log"
	start=$(date +%s.%N)
	# A test may ask for more time with a "# timeout: SECONDS" line.
	limit=$(sed -n 's/^# timeout: *\([0-9]*\).*/\1/p' "$t" | head -1)
	env "$@" BUILD="$build" timeout -k 5 "${limit:-300}" $wrap bash "$t" >"$log" 2>&1 || st=$?
	secs=$(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $start }")
	case $st in
	0)
		record "PASS e2e $name ($secs s)"
		return ;;
	77)
		why=$(sed -n 's/^SKIP: //p' "$log" | head -1)
		if [ -n "$why" ]; then
			record "SKIP e2e $name: $why"
			return
		fi
		why="exited 77 (skip) without saying why (a \"SKIP: reason\" line)" ;;
	124|137)
		why="timed out after ${limit:-300} s" ;;
	*)
		# The first "not ok" is what ended the test (die, an assert, the ERR trap).
		why=$(sed -n 's/^not ok[ 0-9]*- //p' "$log" | head -1)
		[ -n "$why" ] || why="exited with $st without a \"not ok\" line" ;;
	esac
	record "FAIL e2e $name: $why ($secs s)"
	sed 's/^/    /' "$log" | tail -60
}

# The soak (issue 14): stock vmtoolsd idles in a VM of its own for the whole
# plain pass, niced; the last suite, 99-soak-vmtoolsd, checks that it resent
# nothing that failed.  Not in the sanitizer pass (its build's porthole-hv
# has ASan), and only when that suite runs.
soak_vm=e2e-soak
soak_hv=
soak_start() {
	local dir=$build/tests/soak
	grep -qa __asan_init "$build/bin/porthole-hv" && return
	[ -n "$pattern" ] && [[ 99-soak-vmtoolsd != *$pattern* ]] && return
	command -v vmtoolsd >/dev/null || return
	rm -rf "$dir"; mkdir -p "$dir"
	printf '%s\n' '[logging]' 'log = true' 'vmsvc.level = info' 'vmsvc.handler = file' \
		'vmsvc.data = /run/soak/vmsvc.log' >"$dir/tools.conf"
	export PORTHOLE_SOAK_RUNTIME=$(mktemp -d /tmp/porthole-soak.XXXXXX)
	chmod 700 "$PORTHOLE_SOAK_RUNTIME"
	export PORTHOLE_SOAK_START=$(date +%s) PORTHOLE_SOAK_DIR=$dir
	XDG_RUNTIME_DIR=$PORTHOLE_SOAK_RUNTIME nice -n 19 "$build/bin/porthole-hv" run \
		--name "$soak_vm" --state-dir none --share "$dir:/run/soak" -- \
		vmtoolsd -c /run/soak/tools.conf >"$dir/hv.log" 2>&1 &
	soak_hv=$!
}
soak_stop() {
	[ -n "$soak_hv" ] || return 0
	XDG_RUNTIME_DIR=$PORTHOLE_SOAK_RUNTIME "$build/bin/porthole-ctl" stop "$soak_vm" \
		>/dev/null 2>&1 || kill "$soak_hv" 2>/dev/null
	wait "$soak_hv" 2>/dev/null
	rm -rf "$PORTHOLE_SOAK_RUNTIME"
	soak_hv=
}
trap soak_stop EXIT
soak_start

# Where the CPU can fault cpuid, the engine's auto mode never patches it; so
# there, the suites marked "# cpuid-dependent" run once more on a host
# without CPUID faulting, as tests/host/no-cpuid-faulting makes it (where the
# CPU can't, auto patches and the first run covers it).
faulting=$("$build/bin/porthole-hv" probe 2>/dev/null | sed -n 's/^cpuid-faulting=//p')
for t in "$here"/e2e/[0-9]*.sh; do
	name=$(basename "$t" .sh)
	[ -n "$pattern" ] && [[ "$name" != *$pattern* ]] && continue
	run_one "$name" "$t"
	if [ "$faulting" = yes ] && [ -z "${PORTHOLE_CPUID:-}" ] &&
	   grep -q '^# cpuid-dependent' "$t"; then
		run_one "$name[no-cpuid-faulting]" "$t" --wrap "$build/tests/host/no-cpuid-faulting"
	fi
done
soak_stop
[ -s "$results" ] || { echo "no e2e tests matched"; exit 1; }
# The summary line, unless `make check` prints one over everything it ran.
[ "${PORTHOLE_TEST_SUMMARY:-}" = no ] && q=-q || q=
exec "$here/summary.sh" $q "$results"
