#!/bin/sh
# mmdebstrap's customize hook for Porthole's guest image: $1 is the new root.
# Run by build-image.sh (as root, or as root of mmdebstrap's user namespace).
set -eu
root=$1
here=$(dirname "$0")
init=$PORTHOLE_IMAGE_INIT

# The init, and the power commands that ask it (no systemd-sysv here).
install -m 0755 "$init" "$root/usr/sbin/porthole-init"
for cmd in init poweroff halt reboot shutdown; do
	ln -sf porthole-init "$root/usr/sbin/$cmd"
done
install -d "$root/usr/libexec/porthole-image" "$root/media/porthole-additions" \
	"$root/var/lib/porthole-image"
install -m 0755 "$here/porthole-session" "$here/porthole-additions" "$root/usr/libexec/porthole-image/"
# Enabled as `systemctl enable` would: a symlink in the target's wants.
for unit in porthole-additions.service:multi-user.target porthole-session.service:graphical.target; do
	name=${unit%%:*} target=${unit#*:}
	install -m 0644 "$here/$name" "$root/etc/systemd/system/$name"
	mkdir -p "$root/etc/systemd/system/$target.wants"
	ln -sf "/etc/systemd/system/$name" "$root/etc/systemd/system/$target.wants/$name"
done
# ext4 snapshot reaping has nothing to do in a VM without disks.
rm -f "$root/etc/systemd/system/multi-user.target.wants/e2scrub_reap.service"
# Xorg's configuration: the dummy driver (no display device in this VM).
xorg=$here/xorg-dummy.conf
[ -f "$xorg" ] || xorg=$here/../xorg-dummy.conf
install -m 0644 "$xorg" "$root/etc/X11/xorg.conf"
echo porthole-guest >"$root/etc/hostname"
