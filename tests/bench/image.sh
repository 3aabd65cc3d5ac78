#!/bin/bash
# The Debian guest image (tests/bench/run.sh runs this): boot to guest tools,
# and what the booted guest costs when idle.
#   bench image_boot_to_tools_ms MS ms   porthole-hv run --root IMAGE until
#       porthole-ctl status shows the tools running: porthole-init, the
#       first-boot dpkg -i of the guest additions, porthole-guestd (median of 3)
#   bench image_idle_cpu MS ms/s         porthole-hv and every guest process
#       (init, guestd, Xorg, xclock, xterm, porthole-agent) over SAMPLE_S
# usage: image.sh BUILD
set -eu
build=$(cd "$1" && pwd)
top=$(cd "$(dirname "$0")/../.." && pwd)
SAMPLE_S=${SAMPLE_S:-10}
. "$(dirname "$0")/cpu-lib.sh"
ctl() { "$build/bin/porthole-ctl" "$@"; }
HV=
cleanup() {
	[ -n "$HV" ] && kill "$HV" 2>/dev/null
	wait 2>/dev/null || true
	rm -rf "${offer:-}"
}
trap cleanup EXIT

image=$("$build/bin/porthole-hv" image create 2>/dev/null | tail -1) || {
	echo "# image: skipped (the guest image cannot be built here: porthole-hv image create)" >&2
	exit 0
}
make -s -C "$top/installer" BUILD="$build" >/dev/null
offer=$(mktemp -d "$build/bench-offer.XXXXXX")
chmod 0755 "$offer"	# the guest's ids are a host range that is not ours
cp "$build"/packages/porthole-guest-additions_*.deb "$offer/"

# boot: starts the VM and waits for its tools; BOOT_MS says how long it took
# (no $(...): the VM must stay our child).
boot() {
	local start end
	start=$(date +%s%N)
	"$build/bin/porthole-hv" run --name bench-image --root "$image" --snapshot \
		--share "$offer:/media/porthole-additions" >/dev/null 2>&1 &
	HV=$!
	end=$((SECONDS + 120))
	until ctl status bench-image --raw 2>/dev/null | grep -q '^tools.status=running'; do
		[ $SECONDS -lt $end ] || { echo "# image: the tools never ran" >&2; exit 1; }
		sleep 0.02
	done
	BOOT_MS=$((($(date +%s%N) - start) / 1000000))
}
stop_vm() {
	ctl stop bench-image >/dev/null 2>&1 || true
	wait "$HV" 2>/dev/null || true
	HV=
}

times=()
for _ in 1 2 3; do
	boot
	times+=("$BOOT_MS")
	stop_vm
done
echo "bench image_boot_to_tools_ms $(printf '%s\n' "${times[@]}" | sort -n | sed -n 2p) ms"
boot
sleep 5		# the X session and the agent settle
echo "bench image_idle_cpu $(ms_per_s "$HV") ms/s"
stop_vm
