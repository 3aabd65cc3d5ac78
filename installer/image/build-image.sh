#!/bin/bash
# Builds Porthole's guest image: a minimal Debian 12 root (mmdebstrap,
# variant minbase, plus installer/image/packages) with porthole-init as its
# init.  Usage: build-image.sh --init PATH [--force] [DIR]
# DIR defaults to the cache, ${XDG_CACHE_HOME:-~/.cache}/porthole/images/
# debian12-HASH, HASH naming this recipe (this directory's files and the
# init's source): a complete image there is reused.  Prints the image's
# directory as the last line of stdout.  (porthole-hv image create runs this.)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
init="" force=0 dir=""
while [ $# -gt 0 ]; do
	case $1 in
	--init) init=$2; shift 2 ;;
	--force) force=1; shift ;;
	-*) echo "build-image.sh: unknown option $1" >&2; exit 2 ;;
	*) dir=$1; shift ;;
	esac
done
# Xorg's configuration is the guest additions' (installer/xorg-dummy.conf);
# an installed recipe (make install) has its copy next to it.
xorg=xorg-dummy.conf
[ -f "$here/$xorg" ] || xorg=../xorg-dummy.conf
recipe=(build-image.sh customize.sh packages porthole-init.c porthole-session
	porthole-session.service porthole-additions porthole-additions.service "$xorg")
hash=$(cd "$here" && cat "${recipe[@]}" | sha256sum | cut -c1-12)
[ -n "$init" ] && [ -x "$init" ] || { echo "build-image.sh: --init PATH (porthole-init) is needed" >&2; exit 2; }
if [ -z "$dir" ]; then
	dir=${XDG_CACHE_HOME:-$HOME/.cache}/porthole/images/debian12-$hash
fi
stamp=$dir/.porthole-image
if [ $force = 0 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ]; then
	echo "image: $dir (built before, recipe $hash)" >&2
	echo "$dir"
	exit 0
fi
command -v mmdebstrap >/dev/null || {
	echo "build-image.sh: mmdebstrap is missing (installer/deps.sh installs it)" >&2; exit 1; }
mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock 9
# Another build of the same recipe may have finished while we waited.
if [ $force = 0 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ]; then
	echo "image: $dir (built meanwhile, recipe $hash)" >&2
	echo "$dir"
	exit 0
fi
tmp=$dir.tmp-$$
rm -rf "$tmp"
trap 'rm -rf "$tmp"' EXIT
include=$(grep -v '^#' "$here/packages" | grep . | paste -sd, -)
start=$SECONDS
echo "image: building Debian 12 (bookworm) in $dir, recipe $hash; takes about a minute" >&2
# mmdebstrap reports each stage ("I: downloading packages...") on stderr.
PORTHOLE_IMAGE_INIT=$init mmdebstrap --variant=minbase --include="$include" \
	--customize-hook="\"$here/customize.sh\" \"\$1\"" \
	bookworm "$tmp" >&2
echo "$hash" >"$tmp/.porthole-image"
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
echo "image: built in $((SECONDS - start)) s: $dir ($(du -sh "$dir" | cut -f1))" >&2
echo "$dir"
