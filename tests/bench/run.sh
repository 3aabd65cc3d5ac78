#!/bin/bash
# make bench [BENCH=PATTERN]: run benchmarks in one VM per engine, print
# "bench NAME VALUE UNIT" lines (and ratios against baselines from the same run).
set -eu
build=$(cd "${1:-build}" && pwd)
pattern=${2:-}
export XDG_RUNTIME_DIR=$(mktemp -d /tmp/porthole-bench.XXXXXX)
trap 'rm -rf "$XDG_RUNTIME_DIR"' EXIT
echo "# trap engine: backdoor round trip, RPC throughput (progress on stderr)" >&2
"$build/bin/porthole-hv" run --name bench -- "$build/tests/guest/bench-guest" "$pattern" \
	2> >(grep -v '^porthole-hv-Message' >&2)
