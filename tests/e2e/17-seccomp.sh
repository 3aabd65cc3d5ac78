# The hypervisor's own threads run under seccomp filters (hypervisor/thread-filter.c):
# a forbidden system call from any of them stops the process with exit
# 128+SIGSYS and one clear line naming the thread and the call; the opt-out
# (--no-seccomp, PORTHOLE_SECCOMP=off) is logged and really lets the call
# through.  The forbidden call comes from the test hook (PORTHOLE_TEST_HOOKS=1
# in the hypervisor's environment, then SIGUSR1; PORTHOLE_TEST_FORBID names
# the thread), which nothing in a guest can reach.  The KVM half is skipped
# where /dev/kvm is unusable.
. "$(dirname "$0")/lib.sh"

log=$BUILD/tests/e2e-17-hv.log
: >"$log"
SIGSYS_EXIT=$((128 + 31))
# A guest that keeps making backdoor calls, so the engine thread keeps passing its poll.
BUSY_GUEST=(/bin/sh -c "while :; do $BIN/porthole-rpc info-get guestinfo.none >/dev/null 2>&1; sleep 0.05; done")

# forbid THREAD CALL NAME LOG [hv options] -- guest: a VM whose THREAD makes a
# forbidden call on SIGUSR1; it must die of it with the line.
forbid() {
	local thread=$1 call=$2 name=$3 vlog=$4 pid; shift 4
	PORTHOLE_TEST_HOOKS=1 PORTHOLE_TEST_FORBID=$thread start_vm "$name" "$vlog" "$@"
	pid=$LAST_HV
	kill -USR1 "$pid"
	wait_exit "$pid"
	cat "$vlog" >>"$log"
	assert_eq "$SIGSYS_EXIT" "$HV_STATUS" "$thread: a forbidden $call stops porthole-hv (exit 128+SIGSYS)"
	grep -Eq "^porthole-hv: thread $thread made forbidden syscall [0-9]+ \($call\); stopping\$" "$vlog" ||
		die "$thread: no clear line for the forbidden $call in $vlog: $(tail -3 "$vlog")"
	ok "$thread: the log names the thread and the call ($(grep -m1 '^porthole-hv: thread' "$vlog"))"
	[ -z "$(ctl list 2>/dev/null | grep -w "$name" || true)" ] || die "$name is still listed"
}

# all_filtered PID: every thread of the process runs under a seccomp filter
# (no GLib helper thread left out); the thread count goes to $THREADS.
all_filtered() {
	local t n=0
	for t in /proc/$1/task/*; do
		grep -q '^Seccomp:[[:space:]]*2$' "$t/status" 2>/dev/null || return 1
		n=$((n + 1))
	done
	THREADS=$n
	[ $n -ge 2 ]
}

# (0) a VM runs under the filters, every thread of it filtered, and stops cleanly.
start_vm sc-run "$XDG_RUNTIME_DIR/run.log" -- "${BUSY_GUEST[@]}"
pid=$LAST_HV
wait_until 10 "every thread of porthole-hv filtered" all_filtered "$pid"
all_filtered "$pid"
ok "trap engine: all $THREADS threads of porthole-hv run under seccomp filters"
assert_eq running "$(status_field sc-run state)" "trap engine: the VM answers status under the filters"
ctl stop sc-run >/dev/null
wait_exit "$pid"
cat "$XDG_RUNTIME_DIR/run.log" >>"$log"
assert_eq 137 "$HV_STATUS" "trap engine: stopped through the control socket, not by a filter"

# (1) trap engine: the control thread (network socket) and the engine thread (execve).
forbid control socket sc-control "$XDG_RUNTIME_DIR/control.log" -- "${BUSY_GUEST[@]}"
forbid trap-engine execve sc-trap "$XDG_RUNTIME_DIR/trap.log" -- "${BUSY_GUEST[@]}"

# (2) the opt-outs: logged, and the hook's call goes through (the VM lives on).
for how in flag env; do
	vlog=$XDG_RUNTIME_DIR/off-$how.log
	if [ $how = flag ]; then
		PORTHOLE_TEST_HOOKS=1 PORTHOLE_TEST_FORBID=trap-engine \
			start_vm sc-off-$how "$vlog" --no-seccomp -- "${BUSY_GUEST[@]}"
	else
		PORTHOLE_SECCOMP=off PORTHOLE_TEST_HOOKS=1 PORTHOLE_TEST_FORBID=trap-engine \
			start_vm sc-off-$how "$vlog" -- "${BUSY_GUEST[@]}"
	fi
	pid=$LAST_HV
	grep -q "seccomp: off" "$vlog" || die "opt-out ($how) not logged: $(cat "$vlog")"
	ok "opt-out ($how) is logged"
	kill -USR1 "$pid"
	wait_until 10 "the hook's execve ran unfiltered ($how)" grep -q "forbidden syscall returned" "$vlog"
	assert_eq running "$(status_field sc-off-$how state)" "opt-out ($how): the VM lives on"
	ctl stop sc-off-$how >/dev/null
	wait_exit "$pid"
	cat "$vlog" >>"$log"
done

# (3) without PORTHOLE_TEST_HOOKS=1 there is no hook: SIGUSR1 is just a signal.
start_vm sc-nohooks "$XDG_RUNTIME_DIR/nohooks.log" -- "${BUSY_GUEST[@]}"
pid=$LAST_HV
kill -USR1 "$pid"
wait_exit "$pid"
cat "$XDG_RUNTIME_DIR/nohooks.log" >>"$log"
! grep -q "test hook" "$XDG_RUNTIME_DIR/nohooks.log" || die "a test hook ran without PORTHOLE_TEST_HOOKS=1"
assert_eq $((128 + 10)) "$HV_STATUS" "without PORTHOLE_TEST_HOOKS=1, SIGUSR1 reaches no hook"

# (4) KVM engine: the vCPU thread and its watchdog, with a payload that makes
# backdoor calls for about a second (the hook waits, armed, for the thread's poll).
P=$BUILD/payloads/bench-backdoor.bin
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	echo "# KVM: skipped (no usable /dev/kvm)"
	exit 0
fi
[ -f "$P" ] || die "no $P (the Makefile builds payloads with 'all')"
st=0; "$BIN/porthole-hv" run --name sc-kvm-probe --engine kvm --payload "$P" \
	>/dev/null 2>"$XDG_RUNTIME_DIR/kvm-probe.log" || st=$?
cat "$XDG_RUNTIME_DIR/kvm-probe.log" >>"$log"
if [ $st -ne 0 ] && grep -q "cannot use /dev/kvm" "$XDG_RUNTIME_DIR/kvm-probe.log"; then
	echo "# KVM: skipped ($(grep -m1 -o 'cannot use /dev/kvm.*' "$XDG_RUNTIME_DIR/kvm-probe.log"))"
	exit 0
fi
assert_eq 0 "$st" "KVM: a payload runs to its end under the filters"
forbid kvm-engine execve sc-kvm "$XDG_RUNTIME_DIR/kvm.log" --engine kvm --payload "$P"
forbid kvm-watchdog execve sc-kvm-wd "$XDG_RUNTIME_DIR/kvm-wd.log" --engine kvm --payload "$P"
