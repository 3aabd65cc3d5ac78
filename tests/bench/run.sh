#!/bin/bash
# make bench [BENCH=PATTERN]: run benchmarks in one VM per engine, print
# "bench NAME VALUE UNIT" lines (and ratios against baselines from the same run).
set -eu
build=$(cd "${1:-build}" && pwd)
pattern=${2:-}
export XDG_RUNTIME_DIR=$(mktemp -d /tmp/porthole-bench.XXXXXX)
trap 'rm -rf "$XDG_RUNTIME_DIR"' EXIT
# The benchmarks print from inside the guest: on porthole-hv's stdio, not a VM console.
export PORTHOLE_CONSOLE=stdio
echo "# trap engine: backdoor round trip, RPC throughput (progress on stderr)" >&2
"$build/bin/porthole-hv" run --name bench -- "$build/tests/guest/bench-guest" "$pattern" \
	2> >(grep -v '^porthole-hv-Message' >&2)

# ---- time sync (trap engine guest clock, porthole-guestd) ----
want() { [ -z "$pattern" ] || [[ "$1" == *$pattern* ]]; }
if want clock || want timesync || want gettimefull; then
	echo "# time sync: clock read costs, GETTIMEFULL, guestd convergence (~30 s)" >&2
	# Three host and guest runs interleaved, medians: this host's load changes by the second.
	hs=() gs=()
	for i in 1 2 3; do
		host=$("$build/tests/guest/clockwatch" bench host_clock_gettime)
		guest=$("$build/bin/porthole-hv" run --name bench-clock -- \
			"$build/tests/guest/clockwatch" bench \
			"$( [ $i = 3 ] && echo "$pattern" || echo guest_clock_gettime_realtime)" 2>/dev/null)
		hs+=("$(echo "$host" | awk '/host_clock_gettime_realtime/ { print $3 }')")
		gs+=("$(echo "$guest" | awk '/guest_clock_gettime_realtime/ { print $3 }')")
		echo "# clock run $i: host ${hs[-1]} ns, guest ${gs[-1]} ns" >&2
	done
	h=$(printf '%s\n' "${hs[@]}" | sort -g | sed -n 2p)
	g=$(printf '%s\n' "${gs[@]}" | sort -g | sed -n 2p)
	echo "bench host_clock_gettime_realtime $h ns"
	echo "$guest" | grep -v guest_clock_gettime_realtime || true
	echo "bench guest_clock_gettime_realtime $g ns"
	t=$(echo "$guest" | awk '/guest_clock_gettime_trapped/ { print $3 }')
	# guest.clock_gettime: the guest's libc call (clock page and vDSO; target <= 3x the host's)
	[ -n "$h" ] && [ -n "$g" ] && awk "BEGIN { printf \"bench guest.clock_gettime_vs_host ratio %.2f\n\", $g / $h }"
	# the same read trapped (PORTHOLE_GUEST_CLOCK=trap, or a host without the clock page)
	[ -n "$h" ] && [ -n "$t" ] && awk "BEGIN { printf \"bench guest.clock_gettime_trapped_vs_host ratio %.1f\n\", $t / $h }"
fi
if want timesync; then
	ctl() { "$build/bin/porthole-ctl" "$@"; }
	offset() { ctl clock bench-ts --raw | sed -n 's/^offset-ns=//p'; }
	now_ns() { date +%s%N; }
	# converge: seconds until |offset| < 1 ms
	converge() {
		local start=$(now_ns) o
		while :; do
			o=$(offset); o=${o#-}
			[ "$o" -lt 1000000 ] && break
			[ $(( $(now_ns) - start )) -lt 30000000000 ] || { echo -1; return; }
			sleep 0.02
		done
		awk "BEGIN { printf \"%.3f\", ($(now_ns) - $start) / 1e9 }"
	}
	"$build/bin/porthole-hv" run --name bench-ts -- \
		"$build/bin/porthole-guestd" --sync-time --sync-period 1 >/dev/null 2>&1 &
	ts_hv=$!
	for _ in $(seq 50); do ctl clock bench-ts >/dev/null 2>&1 && break; sleep 0.1; done
	# Steady state with a +200 ppm oscillator error, after 5 s to learn it.
	ctl clock bench-ts --rate 200 >/dev/null
	sleep 5
	samples=$(for _ in $(seq 50); do offset; sleep 0.2; done)
	echo "$samples" | awk '{ print $1 < 0 ? -$1 : $1 }' | sort -n | awk '{ a[NR] = $1 }
		END { printf "bench timesync_steady_offset_median %.1f us\n", a[int((NR + 1) / 2)] / 1e3;
		      printf "bench timesync_steady_offset_worst %.1f us\n", a[NR] / 1e3 }'
	ctl clock bench-ts --offset +30s >/dev/null
	echo "bench timesync_converge_after_30s_jump $(converge) s"
	sleep 2
	ctl clock bench-ts --offset +200ms >/dev/null
	echo "bench timesync_converge_after_200ms_error $(converge) s"
	ctl stop bench-ts >/dev/null 2>&1 || true
	wait $ts_hv 2>/dev/null || true
fi

# ---- cpuid interception: exec, the guest Xorg's start, one cpuid per mode (tests/bench/cpuid.sh) ----
cpuid_any=false
for n in $(bash "$(dirname "$0")/cpuid.sh" --names); do want "$n" && cpuid_any=true; done
if $cpuid_any; then
	bash "$(dirname "$0")/cpuid.sh" "$build" "$pattern" || echo "# cpuid: FAILED (see above)" >&2
fi

# ---- the hypervisor threads' seccomp filters on the backdoor round trip ----
# Runs with and without the filters (--no-seccomp) alternate, which goes
# first alternating too, so drift and noise land on both; medians of 7 pairs.
if want backdoor_rt_seccomp_vs_none || want kvm.backdoor_rt_seccomp_vs_none; then
	echo "# seccomp: backdoor round trip with and without the hypervisor's filters, 7 interleaved pairs" >&2
	median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
	# rt_us ENGINE [--no-seccomp]: one VM's backdoor round trip (median inside the guest)
	rt_us() {
		local engine=$1; shift
		if [ "$engine" = trap ]; then
			"$build/bin/porthole-hv" run --name bench-sc "$@" -- \
				"$build/tests/guest/bench-guest" trap.backdoor_roundtrip 2>/dev/null |
				awk '$2 == "trap.backdoor_roundtrip" { print $3 }'
		else
			"$build/bin/porthole-hv" run --name bench-sc --engine kvm "$@" \
				--payload "$build/payloads/bench-backdoor.bin" 2>/dev/null |
				awk '$2 == "kvm.backdoor_roundtrip" { print $3 }'
		fi
	}
	engines=trap
	[ -r /dev/kvm ] && [ -w /dev/kvm ] && [ -f "$build/payloads/bench-backdoor.bin" ] &&
		want kvm.backdoor_rt_seccomp_vs_none && engines="trap kvm"
	for engine in $engines; do
		on=() off=()
		for i in 1 2 3 4 5 6 7; do
			if [ $((i % 2)) = 1 ]; then
				on+=("$(rt_us $engine)"); off+=("$(rt_us $engine --no-seccomp)")
			else
				off+=("$(rt_us $engine --no-seccomp)"); on+=("$(rt_us $engine)")
			fi
		done
		echo "# $engine: with filters ${on[*]} us; without ${off[*]} us" >&2
		m_on=$(median "${on[@]}"); m_off=$(median "${off[@]}")
		prefix=; [ $engine = kvm ] && prefix=kvm.
		echo "bench ${prefix}backdoor_rt_seccomp ${m_on:-0} us"
		echo "bench ${prefix}backdoor_rt_no_seccomp ${m_off:-0} us"
		awk "BEGIN { if (${m_off:-0} > 0) printf \"bench ${prefix}backdoor_rt_seccomp_vs_none ratio %.3f\n\", ${m_on:-0} / ${m_off:-0} }"
	done
fi

# ---- traps per GuestRPC call (trap engine): 2000 calls less none, each way ----
if want rpc || want traps; then
	echo "# traps per GuestRPC call (64-byte info-set, LB and HB)" >&2
	td=$(mktemp -d /tmp/porthole-bench-traps.XXXXXX)
	phases="lb-0 lb-2000 hb-0 hb-2000"
	"$build/bin/porthole-hv" run --name bench-traps --share "$td:/x" -- sh -c "
		for p in $phases; do
			while [ ! -e /x/go-\$p ]; do sleep 0.05; done
			$build/tests/guest/bench-guest --rpc-calls \${p#*-} \${p%-*} >/x/\$p.out 2>&1
			touch /x/done-\$p
		done
		sleep 300" >/dev/null 2>&1 &
	traps_hv=$!
	for _ in $(seq 100); do "$build/bin/porthole-ctl" status bench-traps >/dev/null 2>&1 && break; sleep 0.1; done
	ttraps() { "$build/bin/porthole-ctl" status bench-traps --raw | sed -n 's/^engine.traps=//p'; }
	declare -A tcount
	for p in $phases; do
		t0=$(ttraps)
		touch "$td/go-$p"
		for _ in $(seq 1200); do [ -e "$td/done-$p" ] && break; sleep 0.05; done
		tcount[$p]=$(( $(ttraps) - ${t0:-0} ))
	done
	for m in lb hb; do
		awk "BEGIN { printf \"bench rpc.$m.64B_traps_per_call %.2f traps\n\", (${tcount[$m-2000]} - ${tcount[$m-0]}) / 2000 }"
	done
	"$build/bin/porthole-ctl" stop bench-traps >/dev/null 2>&1 || true
	wait $traps_hv 2>/dev/null || true
	rm -rf "$td"
fi

# ---- VMCI queue pairs and datagrams (trap engine) ----
vmci_want() { [ -z "$pattern" ] || [[ "vmci_qp vmci_dg memcpy unix" == *$pattern* ]]; }
if vmci_want; then
	echo "# vmci: 1 GiB each way through a 4 MiB queue pair in 1 MiB writes (3 runs each way," \
	     "median; this machine's throughput varies run to run), datagram round trips" >&2
	vd=$(mktemp -d /tmp/porthole-bench-vmci.XXXXXX)
	GiB=1073741824
	G="$build/bin/porthole-vmci-guest"
	V() { "$build/bin/porthole-vmci" bench-vmci "$@"; }
	"$build/bin/porthole-hv" run --name bench-vmci --share "$vd:/x" -- sh -c "
		w() { while [ ! -e /x/go-\$1 ]; do sleep 0.05; done; }
		for i in 1 2 3; do
			w a\$i; $G stream-send 2001 20 -n $GiB -q 4194304 --raw >/x/a\$i.out 2>&1
			w b\$i; $G stream-recv 2002 21 -q 4194304 --raw >/x/b\$i.out 2>&1
		done
		w c; $G ping 2003 5000 >/x/c.out 2>&1
		w d; $build/tests/guest/bench-guest trap.raw_trap_floor >/x/floor.out 2>&1
		sleep 300" >/dev/null 2>&1 &
	vmci_hv=$!
	for _ in $(seq 100); do "$build/bin/porthole-ctl" status bench-vmci >/dev/null 2>&1 && break; sleep 0.1; done
	vfield() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" "$2" | head -1; }
	median3() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
	g2hs=() h2gs=() mcs=() mcolds=() uxs=() g2hsl=() h2gsl=()
	for i in 1 2 3; do
		V stream-recv 2001 --raw >"$vd/ha$i.out" 2>&1 & p=$!; sleep 0.3; touch "$vd/go-a$i"; wait $p || true
		V stream-send 2002 -n $GiB --raw >"$vd/hb$i.out" 2>&1 & p=$!; sleep 0.3; touch "$vd/go-b$i"; wait $p || true
		"$build/bin/porthole-vmci" - baseline $GiB >"$vd/base$i.out"
		g2hs+=("$(vfield gbps "$vd/ha$i.out")"); h2gs+=("$(vfield gbps "$vd/hb$i.out")")
		mcs+=("$(vfield memcpy-gbps "$vd/base$i.out")"); uxs+=("$(vfield unix-gbps "$vd/base$i.out")")
		mcolds+=("$(vfield memcpy-cold-gbps "$vd/base$i.out")")
		# Sleeps of the side that waited on the other (host reader, host writer), per GiB.
		g2hsl+=("$(vfield sleeps "$vd/ha$i.out")"); h2gsl+=("$(vfield sleeps "$vd/hb$i.out")")
		echo "# vmci run $i: guest->host ${g2hs[-1]} GB/s (host slept ${g2hsl[-1]} times)," \
		     "host->guest ${h2gs[-1]} GB/s (host slept ${h2gsl[-1]} times)," \
		     "memcpy ${mcs[-1]} GB/s in cache, ${mcolds[-1]} GB/s memory-bound," \
		     "AF_UNIX ${uxs[-1]} GB/s" >&2
	done
	vtraps() { "$build/bin/porthole-ctl" status bench-vmci --raw | sed -n 's/^engine.traps=//p'; }
	dg_traps0=$(vtraps)
	V echo 2003 5000 >"$vd/hc.out" 2>&1 & p=$!; sleep 0.3; touch "$vd/go-c"; wait $p || true
	for _ in $(seq 100); do [ -s "$vd/c.out" ] && break; sleep 0.1; done
	sleep 0.2	# the ping program's exit
	dg_traps=$(( $(vtraps) - ${dg_traps0:-0} ))
	touch "$vd/go-d"	# the trap floor, after the count
	g2h=$(median3 "${g2hs[@]}"); h2g=$(median3 "${h2gs[@]}")
	mc=$(median3 "${mcs[@]}"); ux=$(median3 "${uxs[@]}"); mcold=$(median3 "${mcolds[@]}")
	rtt=$(vfield rtt-us "$vd/c.out")
	for _ in $(seq 100); do grep -q raw_trap_floor "$vd/floor.out" 2>/dev/null && break; sleep 0.1; done
	floor=$(sed -n 's/^bench trap.raw_trap_floor \([0-9.]*\) us/\1/p' "$vd/floor.out" 2>/dev/null)
	echo "bench vmci_qp_guest_to_host_1MiB_writes ${g2h:-0} GB/s"
	echo "bench vmci_qp_host_to_guest_1MiB_writes ${h2g:-0} GB/s"
	echo "bench memcpy_1MiB ${mc:-0} GB/s"
	echo "bench memcpy_1MiB_memory_bound ${mcold:-0} GB/s"
	echo "bench vmci_qp_guest_to_host_host_sleeps_per_GiB $(median3 "${g2hsl[@]}") count"
	echo "bench vmci_qp_host_to_guest_host_sleeps_per_GiB $(median3 "${h2gsl[@]}") count"
	echo "bench unix_stream_socket_1MiB_writes ${ux:-0} GB/s"
	# _vs_memcpy: against memcpy in cache (the ring's 4 MiB stays cached);
	# _vs_memcpy_memory_bound: against memcpy through 256 MiB.
	awk "BEGIN { m = ${mc:-0}; u = ${ux:-0}; c = ${mcold:-0};
		if (m > 0) { printf \"bench vmci_qp_guest_to_host_vs_memcpy ratio %.2f\n\", ${g2h:-0} / m;
			     printf \"bench vmci_qp_host_to_guest_vs_memcpy ratio %.2f\n\", ${h2g:-0} / m }
		if (c > 0) { printf \"bench vmci_qp_guest_to_host_vs_memcpy_memory_bound ratio %.2f\n\", ${g2h:-0} / c;
			     printf \"bench vmci_qp_host_to_guest_vs_memcpy_memory_bound ratio %.2f\n\", ${h2g:-0} / c }
		if (u > 0) { printf \"bench vmci_qp_guest_to_host_vs_unix_socket ratio %.2f\n\", ${g2h:-0} / u;
			     printf \"bench vmci_qp_host_to_guest_vs_unix_socket ratio %.2f\n\", ${h2g:-0} / u } }"
	echo "bench vmci_dg_round_trip ${rtt:-0} us"
	# every trap of the guest's ping program (its start included) over its 5000 round trips
	awk "BEGIN { printf \"bench vmci_dg_round_trip_traps %.2f traps\n\", $dg_traps / 5000 }"
	# The floor: one bare trapped instruction, measured in the same VM right after.
	echo "bench vmci_dg_raw_trap_floor ${floor:-0} us"
	awk "BEGIN { if (${floor:-0} > 0) printf \"bench vmci_dg_round_trip_vs_raw_trap ratio %.2f\n\", ${rtt:-0} / ${floor:-0} }"
	"$build/bin/porthole-ctl" stop bench-vmci >/dev/null 2>&1 || true
	wait $vmci_hv 2>/dev/null || true
	rm -rf "$vd"
fi

# ---- KVM engine: exit floor, backdoor round trip, start to first backdoor call ----
kvm_want() { [ -z "$pattern" ] || [[ "$1" == *$pattern* ]]; }
kvm_names="kvm.exit_floor kvm.exit_floor_interleaved kvm.backdoor_roundtrip kvm.backdoor_roundtrip_vs_exit_floor kvm.start_to_first_backdoor"
kvm_any=false
for n in $kvm_names; do kvm_want "$n" && kvm_any=true; done
if $kvm_any; then
	if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ] || [ ! -f "$build/payloads/bench-backdoor.bin" ]; then
		echo "# kvm engine: skipped (no usable /dev/kvm, or no payloads in $build/payloads)" >&2
	else
		echo "# kvm engine: payloads in a KVM guest; the ratio is measured with both loops interleaved" >&2
		kvm_run() {
			"$build/bin/porthole-hv" run --name "$1" --engine kvm --payload "$build/payloads/$2.bin" \
				2>"$XDG_RUNTIME_DIR/$1.log"
		}
		kvm_filter() { while read -r b name rest; do [ "$b" = bench ] && kvm_want "$name" && echo "$b $name $rest"; done; }
		kvm_want kvm.exit_floor && { kvm_run bench-kvm-floor bench-exit-floor | kvm_filter || true; }
		if kvm_want kvm.backdoor_roundtrip || kvm_want kvm.backdoor_roundtrip_vs_exit_floor ||
			kvm_want kvm.exit_floor_interleaved; then
			kvm_run bench-kvm-backdoor bench-backdoor | kvm_filter || true
		fi
		if kvm_want kvm.start_to_first_backdoor; then
			# porthole-hv start (its first constructor) to the guest's first backdoor
			# access, as porthole-hv logs it; median of 5 runs of the getversion payload.
			for i in 1 2 3 4 5; do
				kvm_run "bench-kvm-start$i" getversion >/dev/null || true
				sed -n 's/.*first backdoor call \([0-9.]*\) ms after.*/\1/p' \
					"$XDG_RUNTIME_DIR/bench-kvm-start$i.log"
			done | sort -n | awk '{ a[NR] = $1 } END { if (NR)
				printf "bench kvm.start_to_first_backdoor %.1f ms\n", a[int((NR + 1) / 2)] }'
		fi
	fi
fi

# ---- why a KVM payload moves memory slowly here: instructions, not memory ----
if kvm_want kvm.mem || kvm_want kvm.cpu; then
	if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ] || [ ! -f "$build/payloads/bench-memory.bin" ]; then
		echo "# kvm memory: skipped (no usable /dev/kvm, or no payloads in $build/payloads)" >&2
	else
		echo "# kvm memory: a register-only loop, page touches and copies in a KVM payload," \
		     "the loop natively as the baseline" >&2
		out=$("$build/bin/porthole-hv" run --name bench-kvm-mem --engine kvm \
			--payload "$build/payloads/bench-memory.bin" 2>/dev/null | grep '^bench ' || true)
		host=$("$build/tests/host/register-loop")
		printf '%s\n%s\n' "$out" "$host"
		g=$(echo "$out" | sed -n 's/^bench kvm.cpu.register_loop_iteration \([0-9.]*\) ns/\1/p')
		h=$(echo "$host" | sed -n 's/^bench host.cpu.register_loop_iteration \([0-9.]*\) ns/\1/p')
		# Far above 1: KVM executes the guest's instructions itself (nested or
		# software-assisted), so every memory loop is slow for that reason.
		awk "BEGIN { if (${h:-0} > 0 && ${g:-0} > 0)
			printf \"bench kvm.cpu.register_loop_vs_host ratio %.0f\n\", $g / $h }"
	fi
fi

# ---- VMCI stream from a KVM guest (the payload of e2e test 31) ----
if kvm_want vmci_kvm_stream_1GiB; then
	if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ] || [ ! -f "$build/payloads/vmci.bin" ]; then
		echo "# vmci_kvm: skipped (no usable /dev/kvm, or no payloads in $build/payloads)" >&2
	else
		echo "# vmci_kvm: 1 GiB from a KVM payload through a 1 MiB queue pair, every byte" \
		     "checked on the host (~2 min where KVM emulates every instruction; progress below)" >&2
		vk=$XDG_RUNTIME_DIR/bench-vmci-kvm
		"$build/bin/porthole-hv" run --name bench-vmci-kvm --engine kvm \
			--payload "$build/payloads/vmci.bin" >"$vk.guest" 2>"$vk.log" &
		vk_hv=$!
		for _ in $(seq 100); do "$build/bin/porthole-ctl" status bench-vmci-kvm >/dev/null 2>&1 && break; sleep 0.1; done
		"$build/bin/porthole-vmci" bench-vmci-kvm stream-recv 2001 --blocks --await-full \
			--progress >"$vk.host" || true
		vk_status=0
		wait $vk_hv || vk_status=$?
		host=$(grep '^received=' "$vk.host" || true)
		gsum=$(sed -n 's/^sum=//p' "$vk.guest")
		if [ "$vk_status" = 0 ] && [[ "$host" == "received=1073741824 sum=$gsum pattern=ok "* ]]; then
			s=$(echo "$host" | sed -n 's/.*seconds=\([0-9.]*\).*/\1/p')
			floor=$(sed -n 's/^copy floor: .*(\([0-9]*\) KB\/s)/\1/p' "$vk.guest")
			echo "bench vmci_kvm_stream_1GiB $s s"
			awk "BEGIN { printf \"bench vmci_kvm_stream_1GiB_throughput %.4f GB/s\n\", 1073741824 / $s / 1e9
				if (${floor:-0} > 0) printf \"bench vmci_kvm_stream_vs_guest_rep_movsq_copy ratio %.2f\n\",
					1073741824 / $s / 1e3 / ${floor:-0} }"
		else
			echo "# vmci_kvm: FAILED (exit $vk_status): $host" >&2
			sed 's/^/#   /' "$vk.guest" >&2
		fi
	fi
fi

# ---- paravirtual video: 1920x1080 guest screen -> porthole-viewer (tests/bench/video.sh) ----
if want video; then
	if ! command -v Xvfb >/dev/null || ! command -v Xorg >/dev/null; then
		echo "# video: skipped (needs Xvfb and Xorg with the dummy driver: installer/deps.sh)" >&2
	else
		bash "$(dirname "$0")/video.sh" "$build" || echo "# video: FAILED (see above)" >&2
	fi
fi

# ---- clipboard: 10 MiB pastes both ways vs xclip on one X server, agent idle CPU (tests/bench/clipboard.sh) ----
if want clipboard || want agent_idle; then
	if ! command -v Xvfb >/dev/null || ! command -v Xorg >/dev/null || ! command -v xclip >/dev/null; then
		echo "# clipboard: skipped (needs Xvfb, Xorg with the dummy driver and xclip: installer/deps.sh)" >&2
	else
		bash "$(dirname "$0")/clipboard.sh" "$build" || echo "# clipboard: FAILED (see above)" >&2
	fi
fi

# ---- the Debian guest image: boot to tools, idle CPU of the booted guest (tests/bench/image.sh) ----
if want image; then
	echo "# image: boot to guest tools (3 boots) and idle CPU over 10 s (~30 s; builds the image once)" >&2
	bash "$(dirname "$0")/image.sh" "$build" || echo "# image: FAILED (see above)" >&2
fi

# ---- guest information: tools start to OS and IP on D-Bus (tests/bench/guestinfo.sh) ----
if want guestinfo_dbus; then
	if ! command -v dbus-run-session >/dev/null; then
		echo "# guestinfo: skipped (needs dbus-run-session: installer/deps.sh)" >&2
	else
		echo "# guestinfo: tools start to guest info on D-Bus, vmtoolsd and guestd (~1 min)" >&2
		bash "$(dirname "$0")/guestinfo.sh" "$build" "$pattern" ||
			echo "# guestinfo: FAILED (see above)" >&2
	fi
fi

# ---- VMware's desktop tools (vmusr) next to porthole-agent (tests/bench/clipboard-vmusr.sh) ----
if want vmusr; then
	if [ ! -e /usr/lib/x86_64-linux-gnu/open-vm-tools/plugins/vmusr/libdndcp.so ]; then
		echo "# clipboard-vmusr: skipped (needs open-vm-tools-desktop: installer/deps.sh)" >&2
	else
		bash "$(dirname "$0")/clipboard-vmusr.sh" "$build" || echo "# clipboard-vmusr: FAILED (see above)" >&2
	fi
fi

# ---- idle costs: a guestd-only VM, porthole-hostd with 1 and 32 VMs (tests/bench/idle.sh) ----
if want idle_guestd_vm_cpu || want hostd_idle_cpu; then
	if ! command -v dbus-run-session >/dev/null; then
		echo "# idle: skipped (needs dbus-run-session: installer/deps.sh)" >&2
	else
		echo "# idle: guestd VM and porthole-hostd CPU over 10 s samples (~1 min)" >&2
		bash "$(dirname "$0")/idle.sh" "$build" "$pattern" || echo "# idle: FAILED (see above)" >&2
	fi
fi
