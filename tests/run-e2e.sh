#!/bin/bash
# Run every end-to-end test against a build tree: tests/run-e2e.sh BUILD_DIR [PATTERN]
# Each test is a script in tests/e2e/ that starts real VMs with real guest programs.
set -u
build=$(cd "${1:-build}" && pwd)
pattern=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
case "$(cd "$build" && pwd -P)/" in /tmp/*|/var/tmp/*|/run/*|/dev/shm/*)
	echo "error: $build is under a directory every guest gets privately (/tmp, /var/tmp," \
	     "/run, /dev/shm), so guest programs can't run from it; use a checkout elsewhere" >&2
	exit 1 ;;
esac
fail=0 ran=0
for t in "$here"/e2e/[0-9]*.sh; do
	name=$(basename "$t" .sh)
	[ -n "$pattern" ] && [[ "$name" != *$pattern* ]] && continue
	log="$build/tests/e2e-$name.log"
	mkdir -p "$build/tests"
	start=$(date +%s.%N)
	# A test may ask for more time with a "# timeout: SECONDS" line.
	limit=$(sed -n 's/^# timeout: *\([0-9]*\).*/\1/p' "$t" | head -1)
	if BUILD="$build" timeout -k 5 "${limit:-300}" bash "$t" >"$log" 2>&1; then
		printf "PASS e2e %s (%.1f s)\n" "$name" "$(awk "BEGIN { print $(date +%s.%N) - $start }")"
	else
		echo "FAIL e2e $name"; sed 's/^/    /' "$log" | tail -60; fail=1
	fi
	ran=$((ran + 1))
done
[ $ran -gt 0 ] || { echo "no e2e tests matched"; exit 1; }
exit $fail
