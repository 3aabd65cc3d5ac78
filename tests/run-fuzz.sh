#!/bin/bash
# Run every libFuzzer target for a while: tests/run-fuzz.sh BUILD_DIR SECONDS
# A smoke test in `make check` (each guest-facing parser gets SECONDS of
# fresh inputs from a small seed corpus); a campaign is the same binary run
# by hand for longer.  Results go to BUILD_DIR/tests/results-fuzz, one line
# per target, for tests/summary.sh; a crash leaves its input in
# BUILD_DIR/tests/fuzz-crashes/.
set -u
build=${1:-build}
secs=${2:-10}
results=$build/tests/results-fuzz
mkdir -p "$build/tests/fuzz-crashes"
: >"$results"
record() { echo "$1"; echo "$1" >>"$results"; }

# Seeds: real ELF files (a program, a shared library, our own code) and a few
# instruction encodings, so the fuzzer starts from valid structure.
seeds=$(mktemp -d /tmp/porthole-fuzz.XXXXXX)
trap 'rm -rf "$seeds"' EXIT
mkdir -p "$seeds/fuzz-cpuid-elf" "$seeds/fuzz-x86-decode"
for f in /bin/true "$build/tests/guest/libcpuid-probe.so" "$build/tests/guest/cpuid-cases"; do
	[ -f "$f" ] && head -c 65536 "$f" >"$seeds/fuzz-cpuid-elf/$(basename "$f")"
done
for hex in 0fa2 660fa2 ec 66ed 6648ed f3666f 6765f36e e410 b80fa20000 480fa2c3; do
	printf "$(echo "$hex" | sed 's/../\\x&/g')" >"$seeds/fuzz-x86-decode/$hex"
done

for bin in "$build"/fuzz/fuzz-*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	log=$build/tests/$name.log
	mkdir -p "$seeds/$name"
	# The in-tree corpus (tests/fuzz/corpus/NAME) holds every input that once
	# found a bug: each run starts by replaying them.
	corpus=$(dirname "$0")/fuzz/corpus/$name
	[ -d "$corpus" ] || corpus=
	if "$bin" -max_total_time="$secs" -max_len=65536 -print_final_stats=1 \
		-artifact_prefix="$build/tests/fuzz-crashes/$name-" "$seeds/$name" $corpus \
		>"$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		record "PASS fuzz $name (${runs:-?} inputs in $secs s)"
	else
		record "FAIL fuzz $name: $(grep -m1 -E 'ERROR|SUMMARY|deadly' "$log" || echo "exited non-zero")"
		tail -30 "$log" | sed 's/^/    /'
	fi
done
[ -s "$results" ] || record "FAIL fuzz (none): no fuzz target built in $build/fuzz"
[ "${PORTHOLE_TEST_SUMMARY:-}" = no ] && exit 0
exec "$(dirname "$0")/summary.sh" "$results"
