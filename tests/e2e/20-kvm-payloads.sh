# The KVM engine with freestanding payloads (tests/payloads): real guest code
# in a real VM talks to the shared device model.  Skipped where /dev/kvm is
# absent or unusable.
. "$(dirname "$0")/lib.sh"

P=$BUILD/payloads
log=$BUILD/tests/e2e-20-hv.log
: >"$log"
work=$(mktemp -d)
trap 'rm -rf "$work"; cleanup' EXIT

if [ ! -e /dev/kvm ]; then
	skip "/dev/kvm is absent (no KVM on this host)"
fi
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	skip "/dev/kvm is not readable and writable by $(id -un)"
fi
[ -f "$P/getversion.bin" ] || die "no payloads in $P (the Makefile builds them with 'all')"

# Payload output is TAP-like too: indent it under ours.
show() { sed 's/^/    # /' <<<"$1"; }
# kvm NAME [options]: run a VM to completion; its serial console is our stdout.
kvm() { local n=$1; shift; "$BIN/porthole-hv" run --name "$n" --engine kvm "$@" 2>>"$log"; }

st=0; out=$(kvm probe --payload "$P/getversion.bin") || st=$?
if [ $st -ne 0 ] && grep -q "cannot use /dev/kvm" "$log"; then
	skip "KVM is unusable here: $(grep -m1 -o 'cannot use /dev/kvm.*' "$log")"
fi
show "$out"
assert_eq 0 "$st" "getversion payload: CPUID identification, GETVERSION/GETMHZ/GETMEMSIZE"
assert_match "vendor \"VMwareVMware\"" "$out" "the guest sees the VMware hypervisor leaf"

st=0; out=$(kvm clock --payload "$P/gettimefull.bin") || st=$?
show "$out"
assert_eq 0 "$st" "gettimefull payload: GETTIMEFULL and GETTIME"
guest_s=$(echo "$out" | sed -n 's/^gettimefull: host-seconds=//p')
delta=$(( $(date +%s) - guest_s ))
[ "${delta#-}" -le 5 ] && ok "GETTIMEFULL agrees with the host clock (${delta} s)" ||
	die "GETTIMEFULL is ${delta} s off the host clock"

st=0; out=$(kvm platform --payload "$P/platform.bin") || st=$?
show "$out"
assert_eq 0 "$st" "platform payload: PCI conf1, 16550 registers, unclaimed MMIO, CPUID leaves"

# Exit paths: port 0xF4, HLT with interrupts off, a fault.
printf '\xb0\x2a\xe6\xf4' >"$work/exit42.bin"		# mov $42,%al; out %al,$0xf4
st=0; kvm exit42 --payload "$work/exit42.bin" || st=$?
assert_eq 42 "$st" "a byte written to port 0xF4 is porthole-hv's exit status"
printf '\xfa\xf4' >"$work/hlt.bin"				# cli; hlt
st=0; SECONDS=0; kvm hlt --payload "$work/hlt.bin" || st=$?
assert_eq 0 "$st" "HLT with interrupts disabled ends the VM with status 0"
[ $SECONDS -le 5 ] && ok "and promptly (${SECONDS} s)" || die "HLT took ${SECONDS} s to notice"

st=0; out=$(kvm fault --payload "$P/fault.bin") || st=$?
show "$out"
assert_eq 1 "$st" "a guest fault ends the VM with a failure status"
grep -q "VM 'fault': triple fault" "$log" && ok "the triple fault is reported" ||
	die "no triple-fault report in $log"
grep -q "CR2 0000008000000000" "$log" && grep -q "code at RIP: 48 c7 00 01" "$log" &&
	ok "the report has the registers (CR2 = the faulting address) and the code at RIP" ||
	die "the fault report lacks CR2 or the code bytes"

st=0; kvm nofile --payload "$work/does-not-exist.bin" || st=$?
assert_eq 1 "$st" "a missing payload file fails cleanly"
st=0; "$BIN/porthole-hv" run --engine kvm 2>/dev/null || st=$?
assert_eq 2 "$st" "--engine kvm without --payload or --kernel is a usage error"

# GuestRPC from a payload while host tools watch: low and high bandwidth.
for path in lb hb; do
	name=rpc-$path
	start_vm "$name" "$BUILD/tests/e2e-20-$name.log" --engine kvm --payload "$P/$name.bin"
	hv=$LAST_HV
	wait_until 20 "$name: guestinfo.payload_answer" ctl info-get "$name" guestinfo.payload_answer
	assert_eq 42 "$(ctl info-get "$name" guestinfo.payload_answer)" \
		"$name: the payload's info-set is seen by porthole-ctl info-get"
	st=$(ctl status "$name")
	assert_match "State: +running \(kvm engine\)" "$st" "$name: porthole-ctl status shows the KVM engine"
	assert_eq kvm "$(status_field "$name" engine)" "$name: status --raw engine=kvm"
	fb=$(status_field "$name" first-backdoor-ms)
	assert_match "^[0-9]+\.[0-9]$" "$fb" "$name: status reports first-backdoor-ms ($fb)"
	ctl info-set "$name" guestinfo.payload_go 1
	wait_exit $hv
	assert_eq 0 "$HV_STATUS" "$name: the payload saw the host's info-set and passed"
	show "$(grep "^ok\|^not ok" "$BUILD/tests/e2e-20-$name.log")"
	! grep -q "^not ok" "$BUILD/tests/e2e-20-$name.log" || die "$name: a payload check failed"
done
grep -q "guest buffer 0x8000040000+4 not writable" "$BUILD/tests/e2e-20-rpc-hb.log" &&
	ok "rpc-hb: the hypervisor refused to write a read-only guest page" ||
	die "rpc-hb: no 'not writable' report"

# porthole-ctl stop on a spinning guest.
printf '\xeb\xfe' >"$work/spin.bin"				# jmp .
start_vm spin "$BUILD/tests/e2e-20-spin.log" --engine kvm --payload "$work/spin.bin"
ctl stop spin
wait_exit $LAST_HV
assert_eq 137 "$HV_STATUS" "porthole-ctl stop ends a KVM guest (128 + SIGKILL)"

# The Linux boot protocol, with boot-check as the "kernel": ELF vmlinux and bzImage.
python3 - "$work" "$P/boot-check-bz.bin" <<'EOF'
import os, struct, sys
work, bz = sys.argv[1], sys.argv[2]
rd = b"PORTHOLE-INITRD" + os.urandom(20000 - 15)
open(f"{work}/initrd", "wb").write(rd)
open(f"{work}/initrd.sum", "w").write(str(sum(rd)))
# A minimal bzImage: one setup sector after the boot sector, then the
# protected-mode part, whose 64-bit entry is 0x200 bytes in.
hdr = bytearray(1024)
hdr[0x1F1] = 1
struct.pack_into("<H", hdr, 0x1FE, 0xAA55)
hdr[0x200:0x202] = b"\xeb\x66"			# header ends at 0x268
hdr[0x202:0x206] = b"HdrS"
struct.pack_into("<H", hdr, 0x206, 0x020F)	# protocol 2.15
hdr[0x211] = 0x01				# LOADED_HIGH
struct.pack_into("<I", hdr, 0x214, 0x100000)
struct.pack_into("<I", hdr, 0x22C, 0x7FFFFFFF)	# initrd_addr_max
struct.pack_into("<I", hdr, 0x230, 0x200000)
hdr[0x234] = 1
struct.pack_into("<H", hdr, 0x236, 0x1)	# XLF_KERNEL_64
struct.pack_into("<I", hdr, 0x238, 2047)	# cmdline_size
struct.pack_into("<Q", hdr, 0x258, 0x1000000)	# pref_address
struct.pack_into("<I", hdr, 0x260, 0x400000)	# init_size
open(f"{work}/bzImage", "wb").write(bytes(hdr) + bytes(0x200) + open(bz, "rb").read())
EOF
sum=$(cat "$work/initrd.sum")
for k in "boot-check.elf:4G" "bzImage:256M"; do
	img=${k%%:*} ram=${k##*:}
	[ "$img" = bzImage ] && file=$work/bzImage || file=$P/$img
	st=0; out=$(kvm "boot-$ram" --ram "$ram" --kernel "$file" --initrd "$work/initrd" \
		--cmdline "console=ttyS0 porthole.test=boot-check") || st=$?
	show "$out"
	assert_eq 0 "$st" "$img as a Linux kernel ($ram RAM): boot_params, e820, cmdline, initrd"
	assert_match "initrd-size=20000 initrd-sum=$sum" "$out" "$img: the initrd arrived intact"
done
assert_match "e820 0000000100000000-000000013fffffff type 1" "$(kvm boot-4g --ram 4G \
	--kernel "$P/boot-check.elf" --cmdline porthole.test=boot-check)" \
	"RAM past 3 GiB is mapped above 4 GiB and in the e820 map"
