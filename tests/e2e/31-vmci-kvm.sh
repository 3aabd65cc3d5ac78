# The VMCI device in the KVM engine, from a freestanding payload: PCI
# function 15AD:0740 with INTA, the probe hypercalls, a queue pair in the
# guest's own RAM read in place by a host program, detach.  The payload
# streams 4 MiB through a 16 KiB queue, sleeping on INTA (`sti; hlt`)
# whenever it is full until the host's doorbell wakes it; both ends
# checksum.  (4 MiB: KVM here emulates every guest instruction, see
# tests/payloads/vmci.c.)
# Skipped where /dev/kvm is absent or unusable.
. "$(dirname "$0")/lib.sh"

P=$BUILD/payloads/vmci.bin
log=$BUILD/tests/e2e-31-hv.log
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	echo "ok - SKIP: no usable /dev/kvm"
	exit 0
fi
[ -f "$P" ] || die "no $P (the Makefile builds payloads with 'all')"

out=$BUILD/tests/e2e-31-guest.out
"$BIN/porthole-hv" run --name vmci-kvm --engine kvm --payload "$P" >"$out" 2>"$log" &
hv=$!
HV_PIDS+=($hv)
wait_until 10 "VM vmci-kvm answers" ctl status vmci-kvm
if grep -q "cannot use /dev/kvm" "$log"; then
	echo "ok - SKIP: KVM is unusable here"
	exit 0
fi
host=$("$BIN/porthole-vmci" vmci-kvm stream-recv 2001 | tail -1)
# A lost wakeup would leave the guest asleep with interrupts on: don't wait forever.
timeout 60 tail --pid="$hv" -f /dev/null || kill "$hv" 2>/dev/null
wait_exit $hv
sed 's/^/    # /' "$out"
assert_eq 0 "$HV_STATUS" "the payload's checks passed (VM exit status)"
assert_match "received=4194304 " "$host" "the host read 4 MiB from the guest's queue pair in place"
assert_eq "$(sed -n 's/^sum=//p' "$out")" "$(echo "$host" | sed -n 's/.*sum=\([0-9a-f]*\).*/\1/p')" \
	"checksums agree"
