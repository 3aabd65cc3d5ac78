#!/bin/sh
# Install the Porthole guest additions from this unpacked tarball, on guests
# without dpkg, or remove them again:
#   ./install.sh [--root DIR]              install (DIR: default /)
#   ./install.sh [--root DIR] --uninstall  remove exactly what was installed
# The list of installed files is kept in DIR/var/lib/porthole/guest-additions.files.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=/
action=install
while [ $# -gt 0 ]; do
	case $1 in
	--root) root=$2; shift 2 ;;
	--uninstall) action=uninstall; shift ;;
	-h|--help) sed -n '2,7p' "$0"; exit 0 ;;
	*) echo "install.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
root=${root%/}
list=$root/var/lib/porthole/guest-additions.files
systemd=""
[ -z "$root" ] && [ -d /run/systemd/system ] && systemd=yes

if [ $action = uninstall ]; then
	[ -f "$list" ] || { echo "install.sh: nothing installed under ${root:-/}" >&2; exit 1; }
	[ -n "$systemd" ] && systemctl disable --now porthole-guestd.service >/dev/null 2>&1 || true
	while read -r f; do rm -f "$root/$f"; done <"$list"
	rm -f "$list"
	rmdir "$root/var/lib/porthole" 2>/dev/null || true
	[ -n "$systemd" ] && systemctl daemon-reload || true
	echo "Porthole guest additions removed from ${root:-/}"
	exit 0
fi

mkdir -p "$root/var/lib/porthole"
: >"$list.new"
cd "$here"
find usr lib etc -type f | sort | while read -r f; do
	mode=0644
	case $f in usr/bin/*) mode=0755 ;; esac
	install -D -m $mode "$f" "$root/$f"
	echo "$f" >>"$list.new"
done
mv "$list.new" "$list"
if [ -n "$systemd" ]; then
	systemctl daemon-reload
	systemctl enable --now porthole-guestd.service
fi
echo "Porthole guest additions installed under ${root:-/} ($(wc -l <"$list") files)"
