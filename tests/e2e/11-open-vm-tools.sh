# Unmodified programs written to VMware's protocol, from Debian's
# open-vm-tools, run as guests and get VMware's answers.
. "$(dirname "$0")/lib.sh"

command -v vmware-checkvm >/dev/null || die "open-vm-tools is not installed (installer/deps.sh installs it)"

out=$("$BIN/porthole-hv" run --name ovt1 -- vmware-checkvm 2>"$BUILD/tests/e2e-11-hv.log")
assert_match "VMware software version 6" "$out" "vmware-checkvm reports a VMware hypervisor"

out=$("$BIN/porthole-hv" run --name ovt2 -- vmware-checkvm -h 2>>"$BUILD/tests/e2e-11-hv.log" || true)
echo "vmware-checkvm -h: $out"

log=$BUILD/tests/e2e-11-hv2.log
start_vm ovt "$log" -- sh -c '
	vmware-rpctool "info-set guestinfo.answer 42" || exit 3
	sleep 300'
wait_until 10 "guestinfo.answer" ctl info-get ovt guestinfo.answer
assert_eq 42 "$(ctl info-get ovt guestinfo.answer)" "vmware-rpctool info-set reached the host"

# A second guest process reads it back with the stock tool.
ctl info-set ovt guestinfo.fromhost 17
out=$("$BIN/porthole-hv" run --name ovt3 -- vmware-rpctool "info-get guestinfo.answer" 2>>"$log" || true)
# (a separate VM has its own guestinfo store: nothing there)
assert_eq "" "$out" "guestinfo is per VM"

# In the same VM: a second guest command via a shared directory is not
# needed; run the stock tool as a VM of its own against a value set from the host.
out=$("$BIN/porthole-hv" run --name ovt4 -- sh -c 'vmware-rpctool "info-set guestinfo.answer 42" && vmware-rpctool "info-get guestinfo.answer"' 2>>"$log")
assert_eq 42 "$out" "vmware-rpctool info-get prints the value set before"

out=$("$BIN/porthole-hv" run --name ovt5 -- sh -c 'vmware-rpctool "no.such.cmd"; echo "exit=$?"' 2>&1 | grep -v porthole-hv || true)
assert_match "Unknown command" "$out" "vmware-rpctool shows our 'Unknown command' reply"
assert_match "exit=1" "$out" "and exits 1 as on VMware"
