# Trap-engine start-up cannot hang: the guest's pid and pid 1's ready byte
# never mix whatever order they come in, every start-up wait is bounded, and a
# stop (signal or porthole-ctl) at any stage ends the VM at once with nothing
# left behind.  strace slows chosen syscalls of the sandbox helper down.
. "$(dirname "$0")/lib.sh"

command -v strace >/dev/null || die "strace is missing (installer/deps.sh installs it)"
log=$BUILD/tests/e2e-14-hv.log
slog=$BUILD/tests/e2e-14-strace.log
: >"$log"

ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
# Live processes of VM $1: the hypervisor, its sandbox helper and the guest's
# pid 1 before exec all have the hypervisor's command line.
vm_procs() { pgrep -f "^$BIN/porthole-hv run --name $1( |\$)" || true; }
# gone PID...: none of these processes exists any more, not even as a zombie.
gone() { local p; for p in "$@"; do [ ! -e "/proc/$p" ] || return 1; done; }
# exited PID: gone, or a zombie waiting for its parent.
exited() { [ ! -e "/proc/$1" ] || [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" = Z ]; }
# in_unshare PID: stopped by strace in the (delayed) unshare syscall.
in_unshare() { [ "$(cut -d' ' -f1 "/proc/$1/syscall" 2>/dev/null)" = 272 ]; }
# porthole-hv under strace: LeakSanitizer cannot work in a traced process (the
# runs without strace below keep leak checking).
STRACE=(env ASAN_OPTIONS=detect_leaks=0 strace -f -qq -o "$slog")

# (1) The helper's fork returns 1 s late, so pid 1 is ready long before the
# helper reports its pid: this used to be read as the pid and hang all three.
t0=$(date +%s%N); st=0
timeout -k 2 20 "${STRACE[@]}" -e trace=clone \
	-e inject=clone:delay_exit=1000000:when=1 \
	"$BIN/porthole-hv" run --name race -- true 2>>"$log" || st=$?
ms=$(ms_since $t0)
[ $st -ne 124 ] || die "start-up hung when pid 1 was ready before the helper sent its pid"
assert_eq 0 "$st" "ready byte before the guest's pid: the guest (true) runs, exits 0, porthole-hv exits 0 (${ms} ms)"
grep -q 'CLONE_UNTRACED.*(DELAYED)' "$slog" || { cat "$slog"; die "strace did not delay the helper's fork of pid 1"; }
ok "and the helper's fork of pid 1 was indeed held back 1 s"
[ "$(vm_procs race)" = "" ] && ok "nothing of VM race left" || die "VM race left processes: $(vm_procs race)"

# (2, 3) A stop while the helper sits in a slow unshare (3 s).  strace holds
# the killed helper's exit back until its delay ends; porthole-hv must not
# wait for that.
stop_during_setup() {
	local name=$1 how=$2 sp hv helper t0 ms procs
	"${STRACE[@]}" -e trace=unshare -e inject=unshare:delay_enter=3000000 \
		"$BIN/porthole-hv" run --name "$name" -- true 2>>"$log" &
	sp=$!
	HV_PIDS+=($sp)
	wait_until 10 "VM $name answers" ctl status "$name"
	hv=$(pgrep -P $sp)
	wait_until 10 "the sandbox helper of $name" pgrep -P "$hv"
	helper=$(pgrep -P "$hv")
	wait_until 10 "the helper of $name in its delayed unshare" in_unshare "$helper"
	procs=$(vm_procs "$name" | tr '\n' ' ')
	t0=$(date +%s%N)
	case $how in
	SIGTERM) kill -TERM "$hv" ;;
	ctl) ctl stop "$name" >/dev/null || die "porthole-ctl stop $name failed" ;;
	esac
	wait_until 5 "porthole-hv $name exits" exited "$hv"
	ms=$(ms_since $t0)
	[ "$ms" -lt 2000 ] || die "$how during start-up: porthole-hv took $ms ms to exit"
	ok "$how while the sandbox is set up: porthole-hv exits in $ms ms"
	wait_exit $sp
	assert_eq 137 "$HV_STATUS" "$how during start-up: exit status 128 + SIGKILL"
	wait_until 5 "the processes of $name ($procs) are gone" gone $procs
	[ "$(vm_procs "$name")" = "" ] && [ ! -e "$XDG_RUNTIME_DIR/porthole/$name.sock" ] &&
		ok "$how during start-up: no process ($procs) nor control socket left" ||
		die "VM $name left something: $(vm_procs "$name")"
}
stop_during_setup term SIGTERM
stop_during_setup ctlstop ctl

# A stage that takes too long ends with a message naming it.
t0=$(date +%s%N); st=0
PORTHOLE_STARTUP_TIMEOUT=1 timeout -k 2 30 "${STRACE[@]}" -e trace=unshare \
	-e inject=unshare:delay_enter=3000000 \
	"$BIN/porthole-hv" run --name slow -- true 2>"$BUILD/tests/e2e-14-slow.log" || st=$?
ms=$(ms_since $t0)
cat "$BUILD/tests/e2e-14-slow.log" >>"$log"
[ $st -ne 0 ] && [ $st -ne 124 ] || die "a start-up stage past its deadline: status $st"
assert_match "guest sandbox was not set up within 1 s \(the helper was still creating the namespaces" \
	"$(cat "$BUILD/tests/e2e-14-slow.log")" "a stage past its deadline fails with a message naming it (${ms} ms)"
[ "$(vm_procs slow)" = "" ] && ok "and leaves no process behind" || die "VM slow left processes"

# Stops at random points of an ordinary start-up (pid 1 setting itself up,
# seized, exec'ing): each VM ends at once, guest included.
worst=0
for i in $(seq 1 30); do
	"$BIN/porthole-hv" run --name "r$i" -- sleep 31.4159 2>>"$log" &
	p=$!
	HV_PIDS+=($p)
	sleep "0.0$((i % 10))$((i * 7 % 10))"
	t0=$(date +%s%N)
	kill -TERM $p
	wait_exit $p
	ms=$(ms_since $t0)
	[ $ms -gt $worst ] && worst=$ms
	case $HV_STATUS in 137|143) ;; *) die "VM r$i stopped with status $HV_STATUS" ;; esac
done
[ $worst -lt 1000 ] || die "a VM stopped during start-up took $worst ms to exit"
# The guest vDSO file (made before the sandbox, removed by its helper once bound).
left=$(find "$XDG_RUNTIME_DIR" -maxdepth 1 -name 'porthole-vdso-*' | wc -l)
assert_eq 0 "$left" "VMs stopped during start-up leave no guest vDSO file behind"
ok "30 VMs stopped at random points of start-up: each exits within $worst ms"
sleep 0.2
left=$(pgrep -f "^$BIN/porthole-hv run --name r[0-9]+ |^sleep 31\.4159" || true)
[ -z "$left" ] && ok "no process of theirs left" || die "stopped VMs left processes: $left"
socks=$(ls "$XDG_RUNTIME_DIR/porthole" 2>/dev/null | grep -c '^r[0-9]*\.sock' || true)
assert_eq 0 "$socks" "no control socket of theirs left"

# (4) 20 VMs start at once on a busy machine: each comes up and exits 0, or
# fails with a clear error; none hangs.
for i in 1 2; do
	(while :; do :; done) &
	HV_PIDS+=($!)
	busy[$i]=$!
done
t0=$(date +%s%N)
pids=()
for i in $(seq -w 1 20); do
	timeout -k 2 100 "$BIN/porthole-hv" run --name "s$i" -- true \
		>"$BUILD/tests/e2e-14-s$i.log" 2>&1 &
	pids+=($!)
done
n_ok=0 n_err=0
for i in $(seq 0 19); do
	wait_exit ${pids[$i]}
	name=s$(printf %02d $((i + 1)))
	case $HV_STATUS in
	0) n_ok=$((n_ok + 1)) ;;
	124|137) die "VM $name hung (killed by timeout)" ;;
	*)
		grep -q "WARNING" "$BUILD/tests/e2e-14-$name.log" ||
			die "VM $name failed ($HV_STATUS) with no error message"
		n_err=$((n_err + 1)) ;;
	esac
done
ms=$(ms_since $t0)
kill "${busy[@]}"
cat "$BUILD"/tests/e2e-14-s*.log >>"$log"
ok "20 concurrent starts under load: $n_ok exited 0, $n_err failed with an error, none hung ($ms ms)"
assert_eq 20 "$n_ok" "all 20 concurrent VMs ran their guest"
left=$(pgrep -f "^$BIN/porthole-hv run --name s[0-9]+ " || true)
[ -z "$left" ] && ok "no process of theirs left" || die "concurrent VMs left processes: $left"
