# Shared helpers for end-to-end tests (sourced).  Every test runs real VMs:
# porthole-hv with real guest processes, and host tools talking to it.
#
# A test's outcome is its exit status, which tests/run-e2e.sh reads:
#   0   passed; "ok N - ..." lines say what was checked
#   77  skipped (the automake convention); skip "REASON" prints "SKIP: REASON",
#       which the runner shows
#   else failed; a "not ok - ..." line says what failed (die, the assert_*
#       helpers, or the ERR trap below for a command that failed under set -e)
# -E (errtrace): functions and subshells inherit the ERR trap.
set -Eeuo pipefail

BIN=$BUILD/bin
GBIN=$BUILD/tests/guest
# A private socket directory per test, so tests never see each other's VMs.
export XDG_RUNTIME_DIR=$(mktemp -d /tmp/porthole-test.XXXXXX)
chmod 700 "$XDG_RUNTIME_DIR"
# porthole-hv keeps per-VM state (the namespace database) there: per test too.
export XDG_STATE_HOME=$XDG_RUNTIME_DIR/state
# Guest processes are ptrace'd by the engine, so LeakSanitizer (which ptraces)
# can't run inside them; the hypervisor itself keeps leak checking.
GUEST_ENV="env ASAN_OPTIONS=detect_leaks=0"
# Tests read what guest commands print from porthole-hv's own stdout and
# stderr: guests share them (--console stdio) unless a test asks for the VM
# console (--console pty, 18-guest-root.sh).
export PORTHOLE_CONSOLE=stdio
# How the trap engine intercepts guest cpuid in this run: PORTHOLE_CPUID
# when set (run-e2e.sh's forced-patch pass sets it), else what auto picks here.
CPUID_MODE=${PORTHOLE_CPUID:-$("$BIN/porthole-hv" probe | sed -n 's/^cpuid-auto=//p')}
HV_PIDS=()
TEST_N=0

cleanup() {
	local p
	for p in "${HV_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${HV_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$XDG_RUNTIME_DIR"
}
trap cleanup EXIT

ok() { TEST_N=$((TEST_N + 1)); echo "ok $TEST_N - $*"; }
# (to the test's own stdout: a helper's may be redirected, as start_vm's is)
die() { echo "not ok - $*" >&"${TEST_OUT:-1}"; exit 1; }
# skip REASON: the test can't run here (no KVM, no device...); not a pass.
skip() { echo "SKIP: $*"; exit 77; }

# set -e alone ends a test silently when a command fails; this says which one:
#   not ok - line 42: grep -q ready "$log" exited with 1
#   not ok - line 17: "$BIN/porthole-ctl" "$@" exited with 1 (in ctl at lib.sh:88)
# (line is the test's; "in" names the functions the command ran in, innermost first)
# Bash runs the ERR trap exactly where set -e would exit, so commands whose
# failure is handled (if, until, while, ||, &&, !) never get here.  Only the
# test's own shell reports: a failing subshell or pipeline element is reported
# by the command that ran it, and background jobs (a reader expected to fail,
# a viewer that is killed) stay quiet.  The report goes to the test's own
# stdout (the log), saved here, as the failing command's may be redirected
# (status_field ... >/dev/null).
exec {TEST_OUT}>&1
on_err() {
	local st=$? pipe="${PIPESTATUS[*]}"
	[ "$BASHPID" = "$$" ] && [[ $- == *e* ]] || return $st
	trap - ERR
	local cmd=${BASH_COMMAND//[$'\n\t']/ } where="" i n=$((${#FUNCNAME[@]} - 1))
	# FUNCNAME[i] was running in BASH_SOURCE[i] at line BASH_LINENO[i-1].
	for ((i = 1; i < n; i++)); do
		where+="${where:+, from }${FUNCNAME[i]} at $(basename "${BASH_SOURCE[i]}"):${BASH_LINENO[i - 1]}"
	done
	[ "$pipe" = "${pipe% *}" ] || cmd="a pipeline ending in '$cmd' (statuses $pipe)"
	echo "not ok - line ${BASH_LINENO[n - 1]}: $cmd exited with $st${where:+ (in $where)}" >&$TEST_OUT
	exit $st
}
trap on_err ERR

# assert_eq EXPECTED ACTUAL MESSAGE
assert_eq() { [ "$1" = "$2" ] || die "$3: expected '$1', got '$2'"; ok "$3"; }
# assert_match REGEX TEXT MESSAGE
assert_match() { [[ "$2" =~ $1 ]] || die "$3: '$2' does not match /$1/"; ok "$3"; }
# expect_fail STATUS OUTPUT-REGEX MESSAGE -- COMMAND...: fails with that status and message.
expect_fail() {
	local want=$1 re=$2 msg=$3 out rc=0; shift 4
	out=$("$@" 2>&1) || rc=$?
	assert_eq "$want" "$rc" "$msg: exit status"
	assert_match "$re" "$out" "$msg: message"
}

# start_vm NAME LOG [hv options] -- guest command...: runs porthole-hv in the background.
start_vm() {
	local name=$1 log=$2; shift 2
	"$BIN/porthole-hv" run --name "$name" "$@" >"$log" 2>&1 &
	HV_PIDS+=($!)
	LAST_HV=$!
	wait_until 10 "VM $name answers" "$BIN/porthole-ctl" status "$name" >/dev/null
}

# wait_until SECONDS WHAT COMMAND...: retry a command until it succeeds.
wait_until() {
	local secs=$1 what=$2; shift 2
	local end=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $end ] || die "timed out after ${secs}s waiting for: $what"
		sleep 0.1
	done
}

ctl() { "$BIN/porthole-ctl" "$@"; }

# status_field VM KEY: one line of `porthole-ctl status --raw`.
status_field() { ctl status "$1" --raw | sed -n "s/^$2=//p" | head -1; }

# wait_exit PID: wait for a hypervisor started by start_vm; its status goes to HV_STATUS.
# (Not in $(...): a subshell can't wait for its parent's children.)
wait_exit() { HV_STATUS=0; wait "$1" || HV_STATUS=$?; }
