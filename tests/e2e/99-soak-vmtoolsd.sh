# The soak (issue 14): stock vmtoolsd has idled in a VM of its own since the
# start of this e2e pass (tests/run-e2e.sh starts it, niced, in the plain
# pass only).  Now, at the end: it is still running, and it sent no RPC the
# hypervisor refused more than twice within 5 minutes (a retry loop: the
# hypervisor keeps the span of each command's last three failures), and
# its log repeats no warning more than twice.
. "$(dirname "$0")/lib.sh"

[ -n "${PORTHOLE_SOAK_RUNTIME:-}" ] ||
	skip "no soak VM: tests/run-e2e.sh starts one in the plain pass when this suite runs"
soak_ctl() { XDG_RUNTIME_DIR=$PORTHOLE_SOAK_RUNTIME "$BIN/porthole-ctl" "$@"; }
elapsed=$(($(date +%s) - PORTHOLE_SOAK_START))
if [ "$elapsed" -lt 300 ]; then
	echo "# the e2e pass lasted only $elapsed s (not the 5 min the check is for): checking those $elapsed s"
else
	echo "# the soak ran $elapsed s"
fi
soak_ctl status e2e-soak >/dev/null || die "the soak VM is gone (see $PORTHOLE_SOAK_DIR/hv.log)"
# (Run alone, this suite comes right after the soak's start: vmtoolsd may still be attaching.)
wait_until 30 "vmtoolsd running in the soak VM" sh -c \
	"XDG_RUNTIME_DIR=$PORTHOLE_SOAK_RUNTIME '$BIN/porthole-ctl' status e2e-soak --raw | grep -qx tools.status=running"
ok "vmtoolsd still runs after $elapsed s"
st=$(soak_ctl status e2e-soak --raw)
rpci=$(sed -n 's/^rpc.rpci-count=//p' <<<"$st")
[ "${rpci:-0}" -gt 0 ] || die "vmtoolsd sent no RPC at all"
failures=$(sed -n 's/^rpc.failures=//p' <<<"$st")
echo "# $rpci RPCs; failed, as NAME:COUNT:SPAN-OF-LAST-3: ${failures:-none}"
# NAME:COUNT:SPAN: three failures within 300 s is more than twice in 5 minutes.
loops=$(tr ',' '\n' <<<"$failures" | awk -F: 'NF == 3 && $3 != "-" && $3 + 0 <= 300')
[ -z "$loops" ] || die "vmtoolsd resent failing RPCs (3 failures within 5 min): $loops"
ok "no RPC that failed was sent more than twice in 5 minutes ($rpci RPCs in $elapsed s)"
log=$PORTHOLE_SOAK_DIR/vmsvc.log
[ -s "$log" ] || die "vmtoolsd wrote no log ($log)"
# ("no VMCI socket family": vmtoolsd trying vsock before each backdoor RPC, as in 11-open-vm-tools.)
rep=$(grep -E '\[ *(warning|error|critical)\]' "$log" | sed 's/^\[[^]]*\] //' | sort | uniq -c |
	awk '$1 > 2' | grep -v 'Couldn.t get VMCI socket family' || true)
[ -z "$rep" ] || die "vmtoolsd repeated warnings: $rep"
ok "vmtoolsd's log repeats no warning more than twice"
