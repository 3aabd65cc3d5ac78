# Guest cpuid, by CPUID faulting where this host has it and by code patching
# always (hypervisor/engines/cpuid-patch.h): a dynamic and a static program,
# dlopen'ed code, code generated at run time, data and immediates that hold
# the bytes 0F A2, a program's own SIGILL handler, threads, fork and exec;
# the per-file cache; patches that never reach a file; hostile ELF files.
. "$(dirname "$0")/lib.sh"

hv() { "$BIN/porthole-hv" run "$@" 2>>"$BUILD/tests/e2e-15-hv.log"; }
: >"$BUILD/tests/e2e-15-hv.log"
probe=$("$BIN/porthole-hv" probe)
echo "# $probe"
lib="$GBIN/libcpuid-probe.so"

modes="patch"
if [[ "$probe" == *cpuid-faulting=yes* ]]; then
	modes="fault patch"
else
	echo "# no CPUID faulting here: only the patching path can run"
	assert_match "cpuid-auto=patch" "$probe" "auto picks patching where the CPU can't fault cpuid"
fi

for mode in $modes; do
	for prog in cpuid-cases cpuid-cases-static; do
		out=$(hv --cpuid "$mode" --name "c-$mode" -- $GUEST_ENV "$GBIN/$prog" --lib "$lib") ||
			{ echo "$out"; die "$prog failed with --cpuid $mode"; }
		echo "$out" | sed "s/^/# $mode $prog: /"
		n=$(echo "$out" | grep -c '^ok')
		[ "$n" -ge 17 ] || die "$prog with --cpuid $mode ran only $n checks"
		ok "--cpuid $mode: $prog passes all $n checks (plain, prefixed, data/immediate bytes, JIT, SIGILL handler, threads, fork, exec, dlopen)"
	done
	out=$(hv --cpuid "$mode" --name "c-$mode" -- vmware-checkvm)
	assert_eq "VMware software version 6 (good)" "$out" "--cpuid $mode: stock vmware-checkvm sees VMware"
	start_vm "count-$mode" "$BUILD/tests/e2e-15-count.log" --cpuid "$mode" -- \
		sh -c 'vmware-checkvm >/dev/null; exec sleep 30'
	wait_until 10 "cpuid traps counted" sh -c "[ \"\$('$BIN/porthole-ctl' status count-$mode --raw |
		sed -n 's/^cpuid.traps=//p')\" -gt 64 ]"
	ok "--cpuid $mode: status counts the emulated cpuid ($(status_field "count-$mode" cpuid.traps))"
	ctl stop "count-$mode" >/dev/null
	out=$(hv --cpuid "$mode" --name "c-$mode" -- vmware-rpctool 'info-set guestinfo.cpuid-test hi' 2>&1 || true)
	assert_eq "" "$out" "--cpuid $mode: stock vmware-rpctool talks GuestRPC"
done

# What status says, and the cache: a second exec of the same programs decodes nothing.
share=$(mktemp -d /var/tmp/porthole-15.XXXXXX)
trap 'rm -rf "$share"; cleanup' EXIT
start_vm cache "$BUILD/tests/e2e-15-cache.log" --cpuid patch --share "$share:/x" -- sh -c '
	vmware-checkvm >/dev/null; touch /x/one
	while [ ! -e /x/go ]; do sleep 0.05; done
	vmware-checkvm >/dev/null; touch /x/two; sleep 30'
wait_until 10 "the first vmware-checkvm" test -e "$share/one"
assert_eq patch "$(status_field cache cpuid.mode)" "status shows the cpuid mode..."
assert_match "^asked for; CPUID faulting " "$(status_field cache cpuid.reason)" "... and why"
decoded1=$(status_field cache cpuid.files-decoded)
hits1=$(status_field cache cpuid.cache-hits)
sites=$(status_field cache cpuid.sites-patched)
traps=$(status_field cache cpuid.traps)
[ "$decoded1" -ge 3 ] && [ "$sites" -gt 0 ] && [ "$traps" -gt 0 ] ||
	die "counters after one program: decoded $decoded1, sites $sites, traps $traps"
ok "first exec: $decoded1 files decoded, $sites cpuid sites patched, $traps emulated"
touch "$share/go"
wait_until 10 "the second vmware-checkvm" test -e "$share/two"
decoded2=$(status_field cache cpuid.files-decoded)
hits2=$(status_field cache cpuid.cache-hits)
assert_eq "$decoded1" "$decoded2" "a second exec of the same programs decodes no file"
[ "$hits2" -gt "$hits1" ] || die "cache hits did not grow ($hits1 -> $hits2)"
ok "... its mappings come from the cache ($hits1 -> $hits2 hits)"
ctl stop cache >/dev/null

# Patches go to the process's private copy only; a shared mapping is never
# written; ELF headers that lie are survived.  The guest writes the files.
cat >"$share/maps.py" <<'EOF'
import mmap, os, struct, sys
def elf(text, shoff=None, shnum=2, secsize=None):
    text_off = 64
    sh_off = (text_off + len(text) + 7) & ~7
    eh = b'\x7fELF' + bytes([2, 1, 1]) + bytes(9)
    eh += struct.pack('<HHIQQQIHHHHHH', 2, 62, 1, 0, 0, sh_off if shoff is None else shoff,
                      0, 64, 56, 0, 64, shnum, 0)
    sec = struct.pack('<IIQQQQIIQQ', 0, 1, 6, 0, text_off,
                      len(text) if secsize is None else secsize, 0, 0, 16, 0)
    body = eh + text
    return body + bytes(sh_off - len(body)) + bytes(64) + sec
code = b'\x90\x0f\xa2\xc3'          # nop; cpuid; ret
def mapped(name, data, flags):
    path = '/tmp/' + name
    with open(path, 'wb') as f:
        f.write(data)
    fd = os.open(path, os.O_RDWR if flags == mmap.MAP_SHARED else os.O_RDONLY)
    m = mmap.mmap(fd, len(data), flags=flags, prot=mmap.PROT_READ | mmap.PROT_EXEC)
    mem = m[65:67].hex()
    m.close(); os.close(fd)
    with open(path, 'rb') as f:
        disk = f.read()[65:67].hex()
    print(name, mem, disk)
mapped('private', elf(code), mmap.MAP_PRIVATE)
mapped('shared', elf(code), mmap.MAP_SHARED)
mapped('shoff-past-eof', elf(code, shoff=1 << 62), mmap.MAP_PRIVATE)
mapped('huge-section', elf(code, secsize=1 << 62), mmap.MAP_PRIVATE)
mapped('many-sections', elf(code, shnum=65535), mmap.MAP_PRIVATE)
mapped('truncated', elf(code)[:40], mmap.MAP_PRIVATE)
print('alive')
EOF
for mode in $modes; do
	out=$(hv --cpuid "$mode" --name "maps-$mode" --share "$share:/x" -- python3 /x/maps.py)
	echo "$out" | sed "s/^/# $mode: /"
	assert_match "alive" "$out" "--cpuid $mode: hostile ELF headers in executable mappings are survived"
	if [ "$mode" = patch ]; then
		assert_match "private 0f0b 0fa2" "$out" "a private executable mapping is patched in memory, the file keeps 0F A2"
	else
		assert_match "private 0fa2 0fa2" "$out" "with CPUID faulting nothing is patched"
	fi
	assert_match "shared 0fa2 0fa2" "$out" "--cpuid $mode: a shared executable mapping is never written"
done
grep -q "\[maps-patch\] cpuid patching left 1 executable mapping(s) of guest process [0-9]* alone" \
	"$BUILD/tests/e2e-15-hv.log" || die "the unpatched shared mapping was not logged"
ok "... and the hypervisor log says it was left alone"


# As an unprivileged user the patcher can't open /proc/PID/map_files (it needs
# CAP_SYS_ADMIN) and opens the mapped file by its path inside the guest's root.
# The build may be where nobody can read (CI's is under /root): the two
# programs run from a copy nobody can read, shared into the guest.
if [ "$(id -u)" = 0 ] && command -v runuser >/dev/null; then
	nb=$(mktemp -d /var/tmp/porthole-15-nobody.XXXXXX)
	chmod 755 "$nb"
	mkdir -m 700 "$nb/run"
	chown nobody "$nb/run"
	cp "$BIN/porthole-hv" "$GBIN/cpuid-cases" "$nb/"
	out=$(runuser -u nobody -- env XDG_RUNTIME_DIR="$nb/run" "$nb/porthole-hv" run --cpuid patch \
		--name nobody --share "$nb:/x" -- $GUEST_ENV /x/cpuid-cases \
		2>>"$BUILD/tests/e2e-15-hv.log") || true
	rm -rf "$nb"
	[ "$(echo "$out" | grep -c '^ok')" -ge 16 ] && ! echo "$out" | grep -q '^not ok' ||
		{ echo "$out"; die "cpuid-cases as user nobody"; }
	ok "--cpuid patch as an unprivileged user (files opened by path in the guest's root)"
else
	echo "# skip: the unprivileged run (needs root to switch to user nobody)"
fi

# A host without CPUID faulting, as tests/host/no-cpuid-faulting makes one: auto patches.
out=$("$BUILD/tests/host/no-cpuid-faulting" "$BIN/porthole-hv" probe)
assert_match "cpuid-faulting=no \(ENODEV" "$out" "without CPUID faulting, probe says so (ENODEV)"
out=$("$BUILD/tests/host/no-cpuid-faulting" "$BIN/porthole-hv" run --cpuid auto --name amd -- \
	vmware-checkvm 2>"$share/amd.err")
assert_eq "VMware software version 6 (good)" "$out" "--cpuid auto without CPUID faulting: vmware-checkvm sees VMware"
assert_eq 1 "$(grep -c 'cpuid: patch (CPUID faulting unavailable: ENODEV)' "$share/amd.err")" \
	"... and the log says patch, and why, once"
# ... and a kernel without kcmp: threads and forks are told apart by the ptrace event.
out=$("$BUILD/tests/host/no-cpuid-faulting" --no-kcmp "$BIN/porthole-hv" run --cpuid auto \
	--name nokcmp -- $GUEST_ENV "$GBIN/cpuid-cases" --lib "$lib" 2>>"$BUILD/tests/e2e-15-hv.log") ||
	{ echo "$out"; die "cpuid-cases without CPUID faulting and kcmp"; }
[ "$(echo "$out" | grep -c '^ok')" -ge 17 ] || { echo "$out"; die "cpuid-cases: too few checks"; }
ok "without CPUID faulting and without kcmp: cpuid-cases passes (threads, forks, exec)"
# (Whether stock vmware-checkvm then refuses depends on the host's own
# hypervisor signature: it refuses KVM's, but takes bhyve's, as a Firecracker
# host shows, and trusts the backdoor.  So ask cpuid itself.)
st=0; "$BUILD/tests/host/no-cpuid-faulting" "$BIN/porthole-hv" run --cpuid fault --name amd -- \
	$GUEST_ENV "$GBIN/io-exercise" --cpuid-child VMwareVMware 2>"$share/amd.err" || st=$?
assert_eq 1 "$st" "--cpuid fault where the CPU can't: cpuid runs natively (no VMwareVMware signature)..."
assert_match "WARNING.*cpuid: fault \(asked for; CPUID faulting unavailable: ENODEV, so cpuid runs natively\)" \
	"$(cat "$share/amd.err")" "... with a warning that says so"

# Asking for what can't be, and nonsense.
st=0; "$BIN/porthole-hv" run --cpuid sometimes --name bad -- true 2>"$share/err" || st=$?
assert_eq 2 "$st" "--cpuid with an unknown mode is refused"
assert_match "auto, fault, patch or off" "$(cat "$share/err")" "... saying which modes there are"
st=0; hv --cpuid off --name off -- $GUEST_ENV "$GBIN/io-exercise" --cpuid-child VMwareVMware || st=$?
assert_eq 1 "$st" "--cpuid off: the guest sees the host's CPU (no VMwareVMware signature)"
