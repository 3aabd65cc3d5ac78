#!/bin/bash
# Idle costs (tests/bench/run.sh runs this): what an idle VM and an idle
# porthole-hostd take: each process's CPU clock (clock_getcpuclockid's
# clock, in ns, exited threads included; /proc/PID/stat's 10 ms ticks are
# too coarse for 0.5 ms/s) over SAMPLE_S.
#   bench idle_guestd_vm_cpu MS ms/s   porthole-hv and its guest (only guestd)
#   bench hostd_idle_cpu_1vm MS ms/s   porthole-hostd watching 1 idle VM
#   bench hostd_idle_cpu_32vm MS ms/s  ... 32 idle VMs
#   bench hostd_idle_cpu_32vm_vs_1vm ratio R   flat (~1) when hostd is told of changes
# usage: idle.sh BUILD [PATTERN]; re-runs itself on a private session bus.
set -eu
build=$(cd "$1" && pwd)
pattern=${2:-}
SAMPLE_S=${SAMPLE_S:-10}
if [ -z "${PH_IDLE_BUS:-}" ]; then
	PH_IDLE_BUS=1 exec dbus-run-session -- bash "$0" "$@" \
		2> >(grep -v 'Failed to set fd limit' >&2)
fi
want() { [ -z "$pattern" ] || [[ "$1" == *$pattern* ]]; }
ctl() { "$build/bin/porthole-ctl" "$@"; }
HVS=()
HOSTD=
cleanup() {
	local p
	[ -n "$HOSTD" ] && kill "$HOSTD" 2>/dev/null
	for p in "${HVS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

. "$(dirname "$0")/cpu-lib.sh"
# start_idle_vm NAME GUEST-COMMAND: a trap engine VM in the background; its pid in HVS.
start_idle_vm() {
	"$build/bin/porthole-hv" run --name "$1" -- sh -c "$2" >/dev/null 2>&1 &
	HVS+=($!)
	local end=$((SECONDS + 30))
	until ctl status "$1" >/dev/null 2>&1; do
		[ $SECONDS -lt $end ] || { echo "# idle: VM $1 did not start" >&2; exit 1; }
		sleep 0.1
	done
}

if want idle_guestd_vm_cpu; then
	start_idle_vm idle-guestd "$build/bin/porthole-guestd & wait"
	end=$((SECONDS + 30))
	until ctl status idle-guestd --raw | grep -q '^tools.status=running'; do
		[ $SECONDS -lt $end ] || { echo "# idle: guestd never ran" >&2; exit 1; }
		sleep 0.1
	done
	sleep 2		# start-up: time sync, capabilities, the back-off
	echo "bench idle_guestd_vm_cpu $(ms_per_s "${HVS[0]}") ms/s"
	kill "${HVS[0]}"
	wait "${HVS[0]}" 2>/dev/null || true
	HVS=()
fi

if want hostd_idle_cpu; then
	vms_seen() {
		gdbus call --session --dest org.porthole.Host1 --object-path /org/porthole/Host1 \
			--method org.porthole.Host1.ListVMs 2>/dev/null | grep -o "/vm/" | wc -l
	}
	# hostd_with N: start VMs up to N, (re)start hostd, wait for it to list
	# them, measure into IDLE_MS (no $(...): the VMs and hostd must stay ours).
	hostd_with() {
		local i end
		for ((i = ${#HVS[@]}; i < $1; i++)); do
			start_idle_vm "idle-vm$i" "exec sleep 100000"
		done
		[ -n "$HOSTD" ] && { kill "$HOSTD"; wait "$HOSTD" 2>/dev/null || true; }
		"$build/bin/porthole-hostd" >/dev/null 2>&1 &
		HOSTD=$!
		end=$((SECONDS + 30))
		until [ "$(vms_seen)" = "$1" ]; do
			[ $SECONDS -lt $end ] || { echo "# idle: hostd lists $(vms_seen) of $1 VMs" >&2; exit 1; }
			sleep 0.2
		done
		sleep 1
		IDLE_MS=$(ms_per_s "$HOSTD")
	}
	hostd_with 1
	one=$IDLE_MS
	echo "bench hostd_idle_cpu_1vm $one ms/s"
	hostd_with 32
	many=$IDLE_MS
	echo "bench hostd_idle_cpu_32vm $many ms/s"
	# Each against a floor of 0.05 ms/s (this machine's noise between two
	# samples of a process that does nothing), so 0.000 vs 0.011 reads flat.
	echo "# hostd idle ratio: each figure floored at 0.05 ms/s" >&2
	awk "BEGIN { f = 0.05; a = $one < f ? f : $one; b = $many < f ? f : $many;
		printf \"bench hostd_idle_cpu_32vm_vs_1vm ratio %.2f\n\", b / a }"
fi
