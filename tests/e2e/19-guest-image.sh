#!/bin/bash
# The Debian guest image (installer/image/, porthole-hv image create) booted
# with --root: porthole-init is pid 1 and starts the enabled units; the
# guest additions .deb, shared in, is installed by dpkg inside the guest and
# its units run (porthole-guestd from its systemd unit, porthole-agent from
# its XDG autostart entry in the image's X session); porthole-ctl shutdown
# and reboot end or restart the VM and say so by their exit status, also
# with stock vmtoolsd (open-vm-tools.service) as the guest tools; a guest
# that does not stop makes shutdown fail after --timeout, and --force then
# powers it off hard; vmtoolsd refusing (its poweroff script fails) makes it
# fail at once, and porthole-ctl poweroff ends that VM.
# The image is built once (about a minute, needs deb.debian.org) and cached
# in ~/.cache/porthole/images; without mmdebstrap or the network this skips.
# The D-Bus methods (porthole-hostd, activated on a private session bus, as
# the tray calls them) wait the same way: Reboot and Shutdown with vmtoolsd,
# Timeout from a guest that does not stop.
. "$(dirname "$0")/private-bus.sh"

. "$here/lib.sh"
top=$(cd "$here/../.." && pwd)
bus() { gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus "$@"; }
image_cleanup() {
	local p
	# The activated hostd is the bus's child, not ours: stop it by its bus name.
	p=$(bus --method org.freedesktop.DBus.GetConnectionUnixProcessID org.porthole.Host1 2>/dev/null |
		sed -n 's/^(uint32 \([0-9]*\),)$/\1/p' || true)
	[ -n "$p" ] && kill "$p" 2>/dev/null || true
	cleanup
}
trap image_cleanup EXIT
# Activated services get the bus's environment: point it at this test's VMs.
bus --method org.freedesktop.DBus.UpdateActivationEnvironment "{'XDG_RUNTIME_DIR': '$XDG_RUNTIME_DIR'}" >/dev/null
dctl() { "$BIN/porthole-ctl" --dbus "$@"; }
logs=$BUILD/tests/e2e-19
rm -rf "$logs" && mkdir -p "$logs"
# A VM without --snapshot keeps its writes in its state dir: a private one.
export XDG_STATE_HOME=$logs/state

command -v mmdebstrap >/dev/null || skip "mmdebstrap is not installed (installer/deps.sh installs it)"
if ! "$BIN/porthole-hv" image create >"$logs/image.out" 2>"$logs/image.log"; then
	skip "the guest image cannot be built here: $(tail -1 "$logs/image.log")"
fi
image=$(tail -1 "$logs/image.out")
[ -x "$image/usr/sbin/porthole-init" ] || die "image $image has no porthole-init"
ok "guest image: $image ($(grep -o 'built in [0-9]* s' "$logs/image.log" || echo cached))"

# The guest additions package, offered to the guest as make run offers it.
# The sanitizer pass's package needs libasan, which users' guests (and the
# image) have not: that pass offers the plain build's package, and tests its
# own host side (porthole-hv, porthole-ctl, porthole-hostd).
pkg_build=$BUILD
if [ "$(cd "$BUILD" && pwd -P)" != "$(cd "$top" && pwd -P)/build" ]; then
	pkg_build=$top/build
	make -s -C "$top" packages >"$logs/packages.log" 2>&1 ||
		die "make packages (plain build) failed: $(tail -3 "$logs/packages.log")"
else
	make -s -C "$top/installer" BUILD="$BUILD" >"$logs/packages.log" 2>&1 ||
		die "make -C installer failed: $(tail -3 "$logs/packages.log")"
fi
offer=$logs/offer
mkdir -p "$offer"
cp "$pkg_build"/packages/porthole-guest-additions_*.deb "$offer/"

tools_running() { [ "$(status_field "$1" tools.status)" = running ]; }
boots() { status_field "$1" boots; }

# ---- porthole-guestd, installed by dpkg in the guest ----
log=$logs/guestd.log
# The image's X session logs to /var/log/porthole; the guest's ids are a host
# range that is not ours.
mkdir -p "$logs/guest" && chmod 0777 "$logs/guest"
# Its writes kept (no --snapshot): they outlive the reboot below.
start_vm img-guestd "$log" --root "$image" --share "$offer:/media/porthole-additions" \
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
grep -q 'porthole-additions: porthole-guest-additions_.*installed already' "$log" ||
	die "the second boot installed the additions again: the guest's writes did not outlive the reset"
ok "the guest's writes outlive its reboot (the first-boot step finds the additions installed)"
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
expect_fail 1 'org.porthole.Host1.Error.Timeout: the guest did not stop within 20 s' \
	"a guest that does not stop: the D-Bus Shutdown fails with Timeout" -- dctl shutdown img-refuse
[ $((SECONDS - start)) -le 30 ] || die "the D-Bus Shutdown took $((SECONDS - start)) s"
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
out=$(dctl reboot img-vmtools) || die "--dbus reboot (vmtoolsd) failed: $out"
assert_eq 3 "$(boots img-vmtools)" "the D-Bus Reboot returns once the VM restarted (boot 3)"
wait_until 60 "vmtoolsd running after the second reboot" tools_running img-vmtools
out=$(dctl shutdown img-vmtools) || die "--dbus shutdown (vmtoolsd) failed: $out"
state=$(ctl status img-vmtools --raw 2>/dev/null | sed -n 's/^state=//p' || true)
[ -z "$state" ] || [ "$state" = stopped ] || die "the VM is $state after the D-Bus Shutdown returned"
ok "vmtoolsd's 'shutdown -h now': the D-Bus Shutdown returns once the VM stopped"
wait_exit "$hv"
assert_eq 0 "$HV_STATUS" "porthole-hv exits 0 after vmtoolsd's shutdown"

# ---- stock vmtoolsd refusing: its pre-poweroff script fails ----
vmconf=$logs/vmware-tools
mkdir -p "$vmconf"
printf '[powerops]\npoweroff-script=/etc/vmware-tools/refuse.sh\n' >"$vmconf/tools.conf"
printf '#!/bin/sh\necho "refusing to power off"\nexit 1\n' >"$vmconf/refuse.sh"
chmod 0755 "$vmconf" "$vmconf/refuse.sh"
chmod 0644 "$vmconf/tools.conf"
log=$logs/vmtools-refuse.log
start_vm img-vmrefuse "$log" --root "$image" --snapshot --share "$vmconf:/etc/vmware-tools"
hv=$LAST_HV
wait_until 60 "vmtoolsd running" tools_running img-vmrefuse
expect_fail 1 "the guest refused shutdown: ERROR the guest tools report that the guest's halt command failed" \
	"vmtoolsd whose poweroff script fails: shutdown fails (exit 1)" -- ctl shutdown img-vmrefuse --timeout 30
grep -q 'Script exit code: 1' "$log" || die "vmtoolsd did not run the poweroff script"
kill -0 "$hv" || die "the VM ended although vmtoolsd refused"
ok "the VM still runs"
out=$(ctl poweroff img-vmrefuse) || die "poweroff failed: $out"
wait_exit "$hv"
assert_eq 137 "$HV_STATUS" "porthole-ctl poweroff powers it off hard"
