#!/bin/bash
# cpuid interception benchmarks (make bench BENCH=cpuid), from tests/bench/run.sh:
# what the trap engine's --cpuid modes cost (hypervisor/engines/cpuid-patch.h).
#   exec_true:   fork + exec + wait of /bin/true inside one guest, timed there by
#                a static program (tests/guest/exec-timer.c): the first exec of
#                a fresh patching VM (cold cache: it decodes ld.so, libc and
#                true), the later ones (cached), and the same with --cpuid=fault
#                and --cpuid=off (no interception: the floor).
#   xorg_start:  VM start to the guest Xorg (dummy driver, as the desktop tests
#                run it) answering xdpyinfo, timed on the host; then the same X
#                server started again in that VM (timed in the guest: the
#                patching cache is warm).
#   emulated:    one cpuid (leaf 0x40000000) per mode, and run natively
#                (--cpuid=off), next to the raw trap floor (an out to port
#                0x80), the two loops alternating in one guest per mode
#                (bench-guest --cpuid).
# Each VM runs RUNS times, fresh, and the medians are reported.  Where the CPU
# has no CPUID faulting (AMD), the fault-mode baselines are skipped with a
# "# SKIP" line on stderr.  Progress on stderr; ~40 s.
set -u
# Every name this prints (run.sh asks for them to match BENCH against).
exec_names="cpuid.exec_true_patch_first cpuid.exec_true_patch_cached cpuid.exec_true_fault
	cpuid.exec_true_off cpuid.exec_true_patch_cached_vs_fault cpuid.exec_true_patch_first_vs_cached
	cpuid.exec_true_patch_cached_vs_off"
xorg_names="cpuid.xorg_start_patch cpuid.xorg_start_fault cpuid.xorg_start_patch_vs_fault
	cpuid.xorg_start_patch_files_decoded cpuid.xorg_start_patch_bytes_decoded
	cpuid.xorg_restart_patch cpuid.xorg_restart_fault cpuid.xorg_restart_patch_vs_fault"
emu_names="cpuid.emulated_patch cpuid.emulated_fault cpuid.native_off cpuid.raw_trap_floor
	cpuid.raw_trap_floor_fault cpuid.emulated_patch_vs_trap_floor cpuid.emulated_fault_vs_trap_floor
	cpuid.raw_trap_floor_fault_vs_off cpuid.emulated_patch_vs_fault"
if [ "${1:-}" = --names ]; then
	echo $exec_names $xorg_names $emu_names
	exit 0
fi
build=$(cd "${1:-build}" && pwd)
pattern=${2:-}
here=$(cd "$(dirname "$0")/../.." && pwd)
[ -n "${XDG_RUNTIME_DIR:-}" ] || export XDG_RUNTIME_DIR=$(mktemp -d /tmp/porthole-bench.XXXXXX)
work=$(mktemp -d "$XDG_RUNTIME_DIR/cpuid.XXXXXX")
hv_pids=()
cleanup() {
	local p
	for p in "${hv_pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${hv_pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
RUNS=3
want() { [ -z "$pattern" ] || [[ "$1" == *$pattern* ]]; }
want_any() { local n; for n; do want "$n" && return 0; done; return 1; }
# The guest prints its measurements on porthole-hv's stdio, not a VM console.
hv() { "$build/bin/porthole-hv" run --console stdio "$@" 2>>"$work/hv.log"; }
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)] }'; }
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" | head -1; }
# each_vm LABEL MODE GUEST...: the guest's output from $RUNS fresh VMs with
# --cpuid MODE, one after the other; a failed run is said on stderr and left out.
each_vm() {
	local label=$1 mode=$2 i out; shift 2
	for i in $(seq $RUNS); do
		out=$(hv --name "bench-$label-$mode-$i" --cpuid "$mode" -- "$@") ||
			{ echo "# cpuid: $label failed with --cpuid=$mode: $out" >&2
			  tail -5 "$work/hv.log" | sed 's/^/#   /' >&2; continue; }
		echo "$out"
	done
}
# values KEY: KEY's value on each line of each_vm's output.
values() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }
# ratio NAME A B: "bench NAME ratio A/B", if both are there.
ratio() { [ -n "$2" ] && [ -n "$3" ] && awk "BEGIN { if ($3 > 0) printf \"bench $1 ratio %.2f\n\", $2 / $3 }"; }

probe=$("$build/bin/porthole-hv" probe)
faulting=$(echo "$probe" | sed -n 's/^cpuid-faulting=//p')
echo "# cpuid: porthole-hv probe: cpuid-faulting=$faulting" >&2
if [ "$faulting" = yes ]; then
	modes="patch fault off"
else
	modes="patch off"
	no_fault="no CPUID faulting on this CPU (porthole-hv probe: cpuid-faulting=$faulting)"
fi
# skip NAME...: the fault-mode baselines this host can't measure.
skip() { local n; for n; do want "$n" && echo "# SKIP $n: $no_fault" >&2; done; return 0; }

# ---- exec of /bin/true ----
if want_any $exec_names; then
	N=31
	echo "# cpuid: exec of /bin/true, $N fork+exec+wait in one guest, $RUNS fresh VMs per mode" >&2
	declare -A first=() later=()
	for mode in $modes; do
		outs=$(each_vm exec "$mode" "$build/tests/guest/exec-timer-static" $N /bin/true)
		[ -n "$outs" ] || continue
		first[$mode]=$(values first_us <<<"$outs" | median)
		later[$mode]=$(values median_us <<<"$outs" | median)
		echo "# cpuid: --cpuid=$mode: first exec ${first[$mode]} us, later ${later[$mode]} us" \
		     "(medians of $RUNS VMs: first $(values first_us <<<"$outs" | xargs)," \
		     "later $(values median_us <<<"$outs" | xargs))" >&2
	done
	ms2() { [ -n "$2" ] && awk "BEGIN { printf \"bench $1 %.2f ms\n\", $2 / 1000 }"; }
	pf=${first[patch]:-} pc=${later[patch]:-} fc=${later[fault]:-} oc=${later[off]:-}
	want cpuid.exec_true_patch_first && ms2 cpuid.exec_true_patch_first "$pf"
	want cpuid.exec_true_patch_cached && ms2 cpuid.exec_true_patch_cached "$pc"
	want cpuid.exec_true_fault && ms2 cpuid.exec_true_fault "$fc"
	want cpuid.exec_true_off && ms2 cpuid.exec_true_off "$oc"
	want cpuid.exec_true_patch_cached_vs_fault && ratio cpuid.exec_true_patch_cached_vs_fault "$pc" "$fc"
	want cpuid.exec_true_patch_first_vs_cached && ratio cpuid.exec_true_patch_first_vs_cached "$pf" "$pc"
	want cpuid.exec_true_patch_cached_vs_off && ratio cpuid.exec_true_patch_cached_vs_off "$pc" "$oc"
	[ -n "${no_fault:-}" ] && skip cpuid.exec_true_fault cpuid.exec_true_patch_cached_vs_fault
fi

# ---- the guest Xorg: VM start to its first answer ----
if want_any $xorg_names; then
	if ! command -v Xorg >/dev/null || ! command -v xdpyinfo >/dev/null; then
		echo "# SKIP cpuid.xorg_*: needs Xorg with the dummy driver and xdpyinfo (installer/deps.sh)" >&2
	else
		echo "# cpuid: guest Xorg start (dummy driver), $RUNS fresh VMs per mode" >&2
		conf=$here/installer/xorg-dummy.conf
		# The guest's waits are bash builtins (test -S, read -t on a fifo), not
		# sleep(1): every program it execs is more to decode, and time.  Xorg
		# is started twice: the second start is the one with a warm cache.
		guest="
			x() { Xorg :\$1 -config $conf -noreset -nolisten tcp -novtswitch -sharevts \
				-logfile /tmp/xorg\$1.log >/dev/null 2>&1 & }
			mkfifo /tmp/tick; exec 3<>/tmp/tick
			up() { until [ -S /tmp/.X11-unix/X\$1 ] && xdpyinfo -display :\$1 >/dev/null 2>&1; do
				read -t 0.02 -u 3 || true; done; }
			x 0; up 0; echo ready
			kill %1; wait
			s=\$EPOCHREALTIME; x 1; up 1; e=\$EPOCHREALTIME
			echo again_us=\$(( (\${e/[.,]/} - \${s/[.,]/}) ))
			wait"
		declare -A start=() restart=()
		decoded=() bytes=()
		for mode in $modes; do
			[ "$mode" = off ] && continue	# Xorg with no interception at all is just the host's
			s=() r=()
			for i in $(seq $RUNS); do
				name=bench-xorg-$mode-$i
				rm -f "$work/out"; mkfifo "$work/out"
				t0=$(date +%s%N)
				hv --name "$name" --cpuid "$mode" -- bash -c "$guest" >"$work/out" &
				hv_pids+=($!)
				exec {out}<"$work/out"
				if ! read -t 60 -r line <&$out || [ "$line" != ready ]; then
					echo "# cpuid: the guest Xorg did not answer with --cpuid=$mode:" >&2
					tail -5 "$work/hv.log" | sed 's/^/#   /' >&2
					exec {out}<&-
					"$build/bin/porthole-ctl" stop "$name" >/dev/null 2>&1
					continue
				fi
				t1=$(date +%s%N)
				s+=($(( (t1 - t0) / 1000 )))
				if [ "$mode" = patch ]; then
					st=$("$build/bin/porthole-ctl" status "$name" --raw)
					decoded+=("$(echo "$st" | sed -n 's/^cpuid.files-decoded=//p')")
					bytes+=("$(echo "$st" | sed -n 's/^cpuid.bytes-decoded=//p')")
				fi
				again=""
				read -t 60 -r line <&$out && again=$(echo "$line" | field again_us)
				[ -n "$again" ] && r+=("$again")
				exec {out}<&-
				"$build/bin/porthole-ctl" stop "$name" >/dev/null 2>&1
				wait "${hv_pids[-1]}" 2>/dev/null
				echo "# cpuid: --cpuid=$mode run $i: Xorg answered after $(( ${s[-1]} / 1000 )) ms," \
				     "again after $(( ${again:-0} / 1000 )) ms" >&2
			done
			[ ${#s[@]} -gt 0 ] && start[$mode]=$(printf '%s\n' "${s[@]}" | median)
			[ ${#r[@]} -gt 0 ] && restart[$mode]=$(printf '%s\n' "${r[@]}" | median)
		done
		ms() { [ -n "$2" ] && awk "BEGIN { printf \"bench $1 %.0f ms\n\", $2 / 1000 }"; }
		want cpuid.xorg_start_patch && ms cpuid.xorg_start_patch "${start[patch]:-}"
		want cpuid.xorg_start_fault && ms cpuid.xorg_start_fault "${start[fault]:-}"
		want cpuid.xorg_start_patch_vs_fault &&
			ratio cpuid.xorg_start_patch_vs_fault "${start[patch]:-}" "${start[fault]:-}"
		d=$(printf '%s\n' "${decoded[@]}" | median) b=$(printf '%s\n' "${bytes[@]}" | median)
		want cpuid.xorg_start_patch_files_decoded && [ -n "$d" ] &&
			echo "bench cpuid.xorg_start_patch_files_decoded $d files"
		want cpuid.xorg_start_patch_bytes_decoded && [ -n "$b" ] &&
			awk "BEGIN { printf \"bench cpuid.xorg_start_patch_bytes_decoded %.1f MB\n\", $b / 1e6 }"
		want cpuid.xorg_restart_patch && ms cpuid.xorg_restart_patch "${restart[patch]:-}"
		want cpuid.xorg_restart_fault && ms cpuid.xorg_restart_fault "${restart[fault]:-}"
		want cpuid.xorg_restart_patch_vs_fault &&
			ratio cpuid.xorg_restart_patch_vs_fault "${restart[patch]:-}" "${restart[fault]:-}"
		[ -n "${no_fault:-}" ] && skip cpuid.xorg_start_fault cpuid.xorg_start_patch_vs_fault \
			cpuid.xorg_restart_fault cpuid.xorg_restart_patch_vs_fault
	fi
fi

# ---- one emulated cpuid, per mode, next to the raw trap floor ----
if want_any $emu_names; then
	echo "# cpuid: a loop of cpuid (leaf 0x40000000) and one of out to port 0x80 (the trap" \
	     "floor), alternating in one guest per mode, $RUNS VMs per mode" >&2
	declare -A cu=() fl=()
	for mode in $modes; do
		outs=$(each_vm emu "$mode" "$build/tests/guest/bench-guest" --cpuid)
		[ -n "$outs" ] || continue
		cu[$mode]=$(values cpuid_us <<<"$outs" | median)
		fl[$mode]=$(values floor_us <<<"$outs" | median)
		echo "# cpuid: --cpuid=$mode: cpuid ${cu[$mode]} us, trap floor in that VM ${fl[$mode]} us" \
		     "(runs: cpuid $(values cpuid_us <<<"$outs" | xargs);" \
		     "floor $(values floor_us <<<"$outs" | xargs))" >&2
	done
	us() { [ -n "$2" ] && awk "BEGIN { printf \"bench $1 %.2f us\n\", $2 }"; }
	want cpuid.emulated_patch && us cpuid.emulated_patch "${cu[patch]:-}"
	want cpuid.emulated_fault && us cpuid.emulated_fault "${cu[fault]:-}"
	# --cpuid=off: the instruction itself, where the host's CPU (or its own
	# hypervisor, if it is a VM) runs it.
	# --cpuid=off: the instruction itself, where the host's CPU (or its own
	# hypervisor, if the host is a VM) runs it.
	want cpuid.native_off && us cpuid.native_off "${cu[off]:-}"
	# The floor is the trap alone, measured where nothing intercepts cpuid.
	# With CPUID faulting on, the same trap can cost more (the guest's
	# context switches toggle the faulting MSR), so that floor is shown too;
	# the ratios are against the plain floor: what one cpuid costs in all.
	want cpuid.raw_trap_floor && us cpuid.raw_trap_floor "${fl[off]:-}"
	want cpuid.raw_trap_floor_fault && us cpuid.raw_trap_floor_fault "${fl[fault]:-}"
	want cpuid.emulated_patch_vs_trap_floor &&
		ratio cpuid.emulated_patch_vs_trap_floor "${cu[patch]:-}" "${fl[off]:-}"
	want cpuid.emulated_fault_vs_trap_floor &&
		ratio cpuid.emulated_fault_vs_trap_floor "${cu[fault]:-}" "${fl[off]:-}"
	want cpuid.raw_trap_floor_fault_vs_off &&
		ratio cpuid.raw_trap_floor_fault_vs_off "${fl[fault]:-}" "${fl[off]:-}"
	want cpuid.emulated_patch_vs_fault &&
		ratio cpuid.emulated_patch_vs_fault "${cu[patch]:-}" "${cu[fault]:-}"
	[ -n "${no_fault:-}" ] && skip cpuid.emulated_fault cpuid.emulated_fault_vs_trap_floor \
		cpuid.raw_trap_floor_fault cpuid.raw_trap_floor_fault_vs_off cpuid.emulated_patch_vs_fault
fi
exit 0
