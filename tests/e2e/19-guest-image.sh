#!/bin/bash
# The Debian guest image (installer/image/, porthole-hv image create) booted
# with --root: porthole-init is pid 1 and starts the enabled units; the
# guest additions .deb, shared in, is installed by dpkg inside the guest and
# its units run (porthole-guestd from its systemd unit, porthole-agent from
# its XDG autostart entry in the image's X session); porthole-ctl shutdown
# and reboot end or restart the VM and say so by their exit status, also
# with stock vmtoolsd (open-vm-tools.service) as the guest tools; a guest
# that does not stop makes shutdown fail after --timeout, and --force then
# powers it off hard.
# The image is built once (about a minute, needs deb.debian.org) and cached
# in ~/.cache/porthole/images; without mmdebstrap or the network this skips.
. "$(dirname "$0")/lib.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
logs=$BUILD/tests/e2e-19
rm -rf "$logs" && mkdir -p "$logs"

command -v mmdebstrap >/dev/null || skip "mmdebstrap is not installed (installer/deps.sh installs it)"
if ! "$BIN/porthole-hv" image create >"$logs/image.out" 2>"$logs/image.log"; then
	skip "the guest image cannot be built here: $(tail -1 "$logs/image.log")"
fi
image=$(tail -1 "$logs/image.out")
[ -x "$image/usr/sbin/porthole-init" ] || die "image $image has no porthole-init"
ok "guest image: $image ($(grep -o 'built in [0-9]* s' "$logs/image.log" || echo cached))"

# The guest additions package, offered to the guest as make run offers it.
make -s -C "$top/installer" BUILD="$BUILD" >"$logs/packages.log" 2>&1 ||
	die "make -C installer failed: $(tail -3 "$logs/packages.log")"
offer=$logs/offer
mkdir -p "$offer"
cp "$BUILD"/packages/porthole-guest-additions_*.deb "$offer/"

tools_running() { [ "$(status_field "$1" tools.status)" = running ]; }
boots() { status_field "$1" boots; }

# ---- porthole-guestd, installed by dpkg in the guest ----
log=$logs/guestd.log
# The image's X session logs to /var/log/porthole; the guest's ids are a host
# range that is not ours.
mkdir -p "$logs/guest" && chmod 0777 "$logs/guest"
start_vm img-guestd "$log" --root "$image" --snapshot --share "$offer:/media/porthole-additions" \
	--share "$logs/guest:/var/log/porthole"
hv=$LAST_HV
wait_until 60 "guest tools running" tools_running img-guestd
grep -q '^porthole-init: booting (pid 1)' "$log" || die "porthole-init did not boot as pid 1: $(head -5 "$log")"
ok "porthole-init runs as the guest's pid 1"
grep -q 'Setting up porthole-guest-additions' "$log" ||
	die "dpkg did not install the additions: $(grep -i 'additions\|dpkg' "$log" | head -5)"
grep -q 'Created symlink /etc/systemd/system/multi-user.target.wants/porthole-guestd.service' "$log" ||
	die "the package's maintainer scripts did not enable porthole-guestd.service"
ok "dpkg -i in the guest installed the additions; their postinst enabled porthole-guestd.service"
for unit in porthole-guestd.service porthole-session.service; do
	grep -q "^porthole-init: starting $unit" "$log" || die "init did not start $unit"
done
if grep -q '^porthole-init: starting open-vm-tools.service' "$log"; then
	die "open-vm-tools.service started next to porthole-guestd"
fi
ok "init started the enabled units (porthole-guestd, the X session), not the disabled vmtoolsd"
assert_match '^porthole-guestd ' "$(status_field img-guestd tools.description)" \
	"porthole-ctl status shows porthole-guestd as the guest tools"
# The X session's XDG autostart runs porthole-agent, which reports the screen.
wait_until 30 "porthole-agent reports the guest screen" ctl info-get img-guestd guestinfo.porthole.screen
assert_match '^[0-9]+x[0-9]+$' "$(ctl info-get img-guestd guestinfo.porthole.screen)" \
	"porthole-agent runs in the guest's X session (XDG autostart)"
if grep -q 'no VMCI channel' "$logs/guest/session.log"; then
	die "the agent has no VMCI channel: $(grep 'no VMCI channel' "$logs/guest/session.log")"
fi
ok "the agent reaches the VMCI device (video, input, clipboard) from the guest's id range"

assert_eq 1 "$(boots img-guestd)" "first boot"
out=$(ctl reboot img-guestd --timeout 60) || die "reboot failed: $out"
assert_match 'restarted \(boot 2\)' "$out" "porthole-ctl reboot returns once the guest restarted"
wait_until 60 "guest tools running after the reboot" tools_running img-guestd
ok "the guest tools run again after the reboot"
kill -0 "$hv" || die "porthole-hv ended at the reboot"

out=$(ctl shutdown img-guestd --timeout 60) || die "shutdown failed: $out"
assert_match 'the VM has stopped' "$out" "porthole-ctl shutdown returns once the VM stopped"
wait_exit "$hv"
assert_eq 0 "$HV_STATUS" "a guest that powered itself off: porthole-hv exits 0"

# ---- a guest that does not stop ----
refuse=$logs/refuse
mkdir -p "$refuse"
printf '[Service]\nExecStart=\nExecStart=/usr/bin/porthole-guestd --halt-command /bin/true\n' \
	>"$refuse/ignore-halt.conf"
log=$logs/refuse.log
start_vm img-refuse "$log" --root "$image" --snapshot --share "$offer:/media/porthole-additions" \
	--share "$refuse:/etc/systemd/system/porthole-guestd.service.d"
hv=$LAST_HV
wait_until 60 "guest tools running" tools_running img-refuse
start=$SECONDS
expect_fail 1 'did not stop within 3 s' "a guest that does not stop: shutdown fails after --timeout" \
	-- ctl shutdown img-refuse --timeout 3
[ $((SECONDS - start)) -le 10 ] || die "shutdown --timeout 3 took $((SECONDS - start)) s"
kill -0 "$hv" || die "the VM ended although the guest did not stop"
ok "the VM still runs"
expect_fail 3 'powered off hard' "shutdown --force then powers it off hard (exit 3)" \
	-- ctl shutdown img-refuse --timeout 2 --force
wait_exit "$hv"
assert_eq 137 "$HV_STATUS" "the hard power-off killed the guest"

# ---- stock open-vm-tools (vmtoolsd.service) as the guest tools ----
log=$logs/vmtoolsd.log
start_vm img-vmtools "$log" --root "$image" --snapshot
hv=$LAST_HV
wait_until 60 "vmtoolsd running" tools_running img-vmtools
assert_match '^open-vm-tools ' "$(status_field img-vmtools tools.description)" \
	"open-vm-tools.service started stock vmtoolsd"
out=$(ctl reboot img-vmtools --timeout 60) || die "reboot (vmtoolsd) failed: $out"
assert_match 'restarted \(boot 2\)' "$out" "vmtoolsd's 'shutdown -r now' restarts the VM"
wait_until 60 "vmtoolsd running after the reboot" tools_running img-vmtools
out=$(ctl shutdown img-vmtools --timeout 60) || die "shutdown (vmtoolsd) failed: $out"
assert_match 'the VM has stopped' "$out" "vmtoolsd's 'shutdown -h now' powers the VM off"
wait_exit "$hv"
assert_eq 0 "$HV_STATUS" "porthole-hv exits 0 after vmtoolsd's shutdown"
