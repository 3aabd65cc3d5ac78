# The VMCI device in the KVM engine, from a freestanding payload: PCI
# function 15AD:0740 with INTA, the probe hypercalls, a queue pair in the
# guest's own RAM read in place by a host program, detach.  The payload
# streams 64 MiB through a 1 MiB queue (64 times round it; make bench streams
# 1 GiB): the block pattern of
# backdoor/vmci-stream.h, written by the guest's CPU into the produce queue
# (a `rep movsq` per 64 KiB chunk, each chunk with its own sequence word).
# The host checks every byte against the pattern and computes the word
# checksum over everything it read; the guest computes the same checksum
# algebraically and prints it.  The host holds off reading until the guest
# has filled the queue and said it sleeps (`sti; hlt` on INTA), so the
# wakeup by the host's doorbell is exercised every run.
# About 15 s where KVM emulates every guest instruction (nested, as
# here: ~1 us per 8 bytes copied).  Skipped where /dev/kvm is absent or
# unusable.  Then 16 MiB the same way from a queue pair above 4 GiB.
# timeout: 300
. "$(dirname "$0")/lib.sh"

if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	skip "no usable /dev/kvm"
fi

# stream NAME PAYLOAD BYTES [porthole-hv options]: run the payload, read its
# stream of BYTES on the host, check both sides.
stream() {
	local name=$1 P=$2 bytes=$3 hv host gsum
	local log=$BUILD/tests/e2e-31-$name-hv.log out=$BUILD/tests/e2e-31-$name-guest.out
	local hostout=$BUILD/tests/e2e-31-$name-host.out
	shift 3
	[ -f "$P" ] || die "no $P (the Makefile builds payloads with 'all')"
	"$BIN/porthole-hv" run --name "$name" --engine kvm --payload "$P" "$@" >"$out" 2>"$log" &
	hv=$!
	HV_PIDS+=($hv)
	wait_until 10 "VM $name answers" ctl status "$name"
	if grep -q "cannot use /dev/kvm" "$log"; then
		skip "KVM is unusable here"
	fi
	# Progress (every 64 MiB) goes to stderr, into this test's log.
	"$BIN/porthole-vmci" "$name" stream-recv 2001 --blocks --await-full --progress >"$hostout"
	host=$(grep '^received=' "$hostout")
	# A lost wakeup would leave the guest asleep with interrupts on: don't wait forever.
	timeout 60 tail --pid="$hv" -f /dev/null || kill "$hv" 2>/dev/null
	wait_exit $hv
	sed 's/^/    # /' "$out"
	echo "    # host: $host"
	assert_eq 0 "$HV_STATUS" "$name: the payload's checks passed (VM exit status)"
	assert_eq "sender-asleep=yes" "$(grep '^sender-asleep=' "$hostout")" \
		"the guest filled the queue and slept on the device interrupt before the host read"
	assert_match "^received=$bytes " "$host" "the host read $bytes bytes from the guest's queue pair in place"
	assert_match " pattern=ok " "$host" "every byte matched the block pattern (sequence words in order)"
	gsum=$(sed -n 's/^sum=//p' "$out")
	assert_match '^[0-9a-f]{32}$' "$gsum" "the guest reported its checksum"
	assert_eq "$gsum" "$(echo "$host" | sed -n 's/.*sum=\([0-9a-f]*\).*/\1/p')" \
		"the host's checksum over every word equals the guest's"
}

stream vmci-kvm "$BUILD/payloads/vmci-64m.bin" $((64 << 20))
# The queue pair above 4 GiB, where RAM past the 32-bit PCI hole lives: the
# guest's page numbers are guest-physical addresses, 1 GiB past their place
# in the RAM file; the device and the host program must both find the pages
# the guest wrote (they used to take the page number for a file offset).
stream vmci-kvm-high "$BUILD/payloads/vmci-high.bin" $((16 << 20)) --ram 3200M
