#!/bin/sh
# Install the Debian packages Porthole builds and tests with, when missing.
# Used by `make check`, `make run` and .ci/run.  The list lives here only.
set -eu

PACKAGES="build-essential pkg-config libglib2.0-dev libcmocka-dev libzydis-dev libseccomp-dev
clang libclang-rt-14-dev mmdebstrap
open-vm-tools open-vm-tools-desktop procps iproute2 python3 lintian man-db strace
libdbusmenu-glib-dev dbus-daemon libglib2.0-bin
libx11-dev libxext-dev libxrandr-dev libxdamage-dev libxfixes-dev libxtst-dev
libx11-xcb-dev libxcb1-dev libxcb-shm0-dev libxrender-dev
xserver-xorg-core xserver-xorg-video-dummy xvfb x11-utils x11-xserver-utils
xdotool xclip xauth x11-apps openbox
xterm busybox-static uidmap
haskell-status-notifier-item-utils haskell-gtk-sni-tray-utils"

missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "installing Debian packages:$missing"
if [ "$(id -u)" = 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "error: missing packages:$missing (run as root or install sudo)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || echo "warning: apt-get update failed; trying the cached lists" >&2
# open-vm-tools is only a test peer here: keep its services from starting.
$SUDO apt-get install -y -qq --no-install-recommends $missing
