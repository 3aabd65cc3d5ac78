# The trap-and-emulate engine: instruction emulation, isolation, exit status,
# faults delivered as the CPU would.
# cpuid-dependent: guest programs detect the hypervisor through cpuid
. "$(dirname "$0")/lib.sh"

hv() { "$BIN/porthole-hv" run "$@" 2>>"$BUILD/tests/e2e-13-hv.log"; }

out=$(hv --name io --testdev -- $GUEST_ENV CPUID_MODE="$CPUID_MODE" "$GBIN/io-exercise") ||
	{ echo "$out"; die "io-exercise failed"; }
echo "$out"
ok "in/out/ins/outs in every size and form, cpuid, exec re-arm ($(echo "$out" | grep -c '^ok') checks)"

st=0; hv --name ex -- sh -c 'exit 7' || st=$?
assert_eq 7 "$st" "the guest's exit status becomes porthole-hv's"
st=0; hv --name sig -- sh -c 'kill -TERM $$; sleep 5' || st=$?
assert_eq 143 "$st" "a guest killed by a signal: 128 + signal"
st=0; hv --name segv -- python3 -c 'import ctypes; ctypes.string_at(0)' 2>/dev/null || st=$?
assert_eq 139 "$st" "a real segfault is delivered to the guest (SIGSEGV)"

assert_eq 1 "$(hv --name pid1 -- sh -c 'echo $$')" "the guest command is pid 1 of its namespace"
assert_eq pid1 "$(hv --name pid1 -- hostname)" "the guest's hostname is the VM name"
# eth0's veth peer is in the guest's namespace too (guest-net.c): nothing leads out.
assert_eq "eth0 eth0-peer lo" \
	"$(hv --name net -- sh -c "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '" | sort | xargs)" \
	"the guest's network is its own: loopback, and eth0 with both ends inside the guest"
assert_eq "" "$(hv --name net -- sh -c "tail -n +2 /proc/net/route | awk '\$2 == \"00000000\"'")" \
	"the guest has no default route"
assert_eq "UP" "$(hv --name net -- sh -c 'cat /sys/class/net/lo/operstate 2>/dev/null || echo UP' | tr a-z A-Z | sed 's/UNKNOWN/UP/')" \
	"loopback is up"

out=$(hv --name ro -- sh -c 'touch /etc/porthole-test 2>&1; echo rc=$?')
assert_match "rc=1" "$out" "the host tree is read-only in the guest"
[ ! -e /etc/porthole-test ] && ok "and the host file was not created"
out=$(hv --name rw -- sh -c 'echo hi > /tmp/x && cat /tmp/x && ls /tmp | wc -l')
assert_eq "hi
1" "$out" "the guest has its own empty, writable /tmp"
out=$(hv --name rw -- sh -c 'touch /run/a /var/tmp/b && echo ok')
assert_eq ok "$out" "/run and /var/tmp are writable and private"

share=$(mktemp -d)
hv --name share --share "$share" -- sh -c "echo from-guest > $share/f"
assert_eq from-guest "$(cat "$share/f")" "--share HOST_DIR is writable by the guest"
hv --name share --share "$share:/run/data" -- sh -c "echo mapped > /run/data/g"
assert_eq mapped "$(cat "$share/g")" "--share HOST_DIR:GUEST_DIR maps it elsewhere"
rm -rf "$share"
st=0; hv --name share --share relative/dir -- true || st=$?
[ $st -ne 0 ] && ok "a bad --share is refused" || die "a bad --share was accepted"

# open-vm-tools' VmCheck_IsVirtualWorld refuses a KVM signature at CPUID 0x40000000.
out=$(hv --name vendor -- vmware-toolbox-cmd -v 2>&1 || true)
assert_match "^[0-9]+\.[0-9]+" "$out" "vmware-toolbox-cmd accepts the default VMwareVMware CPUID vendor"
out=$(hv --name vendor --cpuid-vendor KVMKVMKVM -- sh -c 'vmware-toolbox-cmd -v 2>&1' || true)
assert_match "must be run inside a virtual machine" "$out" "the CPUID vendor is configurable (KVMKVMKVM is refused by VMware's tools)"

# Threads and many processes are all traced.
out=$(hv --name threads -- python3 -c '
import threading, subprocess
r = []
def work(): r.append(subprocess.run(["vmware-checkvm"], capture_output=True).returncode)
ts = [threading.Thread(target=work) for _ in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
print(r)')
assert_eq "[0, 0, 0, 0, 0, 0, 0, 0]" "$out" "backdoor calls from 8 threads' children all emulated"

# A child is reapable as soon as its pidfd says it exited (GLib, systemd wait that way).
out=$(hv --name pidfd -- $GUEST_ENV "$GBIN/pidfd-wait" 100) || { echo "$out"; die "pidfd waits saw no status"; }
assert_eq "100 of 100 children reapable when their pidfd said so" "$out" "pidfd-based child waits get the real exit status"

# Killing the hypervisor kills the guest: no guest process escapes.
start_vm orphan "$BUILD/tests/e2e-13-orphan.log" -- sh -c 'sleep 4242 & sleep 4243'
kill -9 $LAST_HV
sleep 0.5
pgrep -f "sleep 424[23]" && die "guest processes survived the hypervisor" || ok "guest processes die with the hypervisor"
