#!/bin/sh
# Print the path of a Linux kernel for tests/e2e/21-kvm-linux.sh: $PORTHOLE_TEST_KERNEL,
# else an installed /boot/vmlinuz-*, else Debian's cloud kernel fetched once with
# `apt-get download` into ~/.cache/porthole/linux.  Exit 1 when there is none.
set -eu
if [ -n "${PORTHOLE_TEST_KERNEL:-}" ]; then
	echo "$PORTHOLE_TEST_KERNEL"
	exit 0
fi
cache=${PORTHOLE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/porthole}/linux
for k in "/boot/vmlinuz-$(uname -r)" /boot/vmlinuz-* "$cache"/vmlinuz-*; do
	if [ -f "$k" ] && [ -r "$k" ]; then
		echo "$k"
		exit 0
	fi
done
command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1 || exit 1
pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
	awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
[ -n "$pkg" ] || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && timeout 120 apt-get download -qq "$pkg") >/dev/null 2>&1 || exit 1
dpkg-deb -x "$tmp"/*.deb "$tmp/x"
mkdir -p "$cache"
cp "$tmp"/x/boot/vmlinuz-* "$cache/"
for k in "$cache"/vmlinuz-*; do
	echo "$k"
	exit 0
done
exit 1
