# The VMCI device in the KVM engine, from a freestanding payload: PCI
# function 15AD:0740 with INTA, the probe hypercalls, a queue pair in the
# guest's own RAM read in place by a host program (checksummed), detach.
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
wait_exit $hv
sed 's/^/    # /' "$out"
assert_eq 0 "$HV_STATUS" "the payload's checks passed (VM exit status)"
assert_match "received=1048576 " "$host" "the host read 1 MiB from the guest's queue pair in place"
assert_eq "$(sed -n 's/^sum=//p' "$out")" "$(echo "$host" | sed -n 's/.*sum=\([0-9a-f]*\).*/\1/p')" \
	"checksums agree"
