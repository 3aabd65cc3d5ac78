# The Debian packages and the tarball installer: build them from this build
# tree, check them with lintian, install them into a scratch root with dpkg,
# run what was installed, remove them and find nothing left behind.
. "$(dirname "$0")/lib.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
VERSION=$(cat "$top/VERSION")
ARCH=$(dpkg --print-architecture)
out=$BUILD/packages
make -s -C "$top/installer" BUILD="$BUILD" >"$BUILD/tests/e2e-60-make.log" 2>&1 ||
	die "make -C installer failed: $(tail -5 "$BUILD/tests/e2e-60-make.log")"
guest=$out/porthole-guest-additions_${VERSION}_$ARCH.deb
host=$out/porthole-host_${VERSION}_$ARCH.deb
[ -f "$guest" ] && [ -f "$host" ] || die "packages missing"
ok "make -C installer builds both packages at version $VERSION"
assert_eq "$VERSION" "$(dpkg-deb -f "$host" Version)" "the version comes from VERSION"
for deb in "$guest" "$host"; do
	assert_match "libx11-6" "$(dpkg-deb -f "$deb" Depends)" "$(dpkg-deb -f "$deb" Package) depends on the X libraries its binaries link (dpkg-shlibdeps)"
done

lint=$(lintian --fail-on warning "$guest" "$host" 2>&1) || die "lintian warnings or errors: $lint"
ok "lintian --fail-on warning: both packages clean"
for deb in "$guest" "$host"; do
	# dpkg-deb -c lists a directory as "./path/"; every one must hold something.
	dirs=$(dpkg-deb -c "$deb" | awk '{ print $6 }' | grep '/$' | sort)
	empty=$(comm -23 <(echo "$dirs") <(dpkg-deb -c "$deb" | awk '{ print $6 }' |
		sed -E 's|[^/]+/?$||' | sort -u) | grep -v '^\./$' || true)
	assert_eq "" "$empty" "$(dpkg-deb -f "$deb" Package) has no empty directories"
done

# Under the build tree, not /tmp: guests see the host's files but have their own /tmp.
root=$(mktemp -d "$BUILD/tests/pkgroot.XXXXXX")
trap 'rm -rf "$root"; cleanup' EXIT
mkdir -p "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/info"
: >"$root/var/lib/dpkg/status"
# The scratch root has no shell to chroot into: run maintainer scripts outside
# (they see DPKG_ROOT and leave the host's systemd alone); no deps in there.
dpkg_root() { dpkg --root="$root" --force-script-chrootless --force-depends --log=/dev/null "$@"; }
dpkg_root -i "$guest" "$host" >/dev/null 2>&1 || die "dpkg -i failed"
assert_eq "ii ii" "$(dpkg_root -l porthole-guest-additions porthole-host | awk '/^ii/ {print $1}' | xargs)" "dpkg --root installs both packages"
for b in porthole-hv porthole-ctl porthole-hostd porthole-tray porthole-vmci porthole-viewer \
	 porthole-guestd porthole-rpc porthole-agent; do
	[ -x "$root/usr/bin/$b" ] || die "$b not installed"
done
assert_match "porthole-hostd $VERSION" "$("$root/usr/bin/porthole-hostd" --version)" "the installed porthole-hostd runs"
assert_match "porthole-ctl $VERSION" "$("$root/usr/bin/porthole-ctl" --version)" "the installed porthole-ctl runs"
assert_match "Usage:" "$("$root/usr/bin/porthole-guestd" --help)" "the installed porthole-guestd runs"
assert_match "porthole-agent $VERSION" "$("$root/usr/bin/porthole-agent" --version)" "the installed porthole-agent runs"
assert_match "porthole-viewer $VERSION" "$("$root/usr/bin/porthole-viewer" --version)" "the installed porthole-viewer runs"
assert_eq "StartupWMClass=Porthole-viewer" "$(grep '^StartupWMClass=' "$root/usr/share/applications/porthole-viewer.desktop")" \
	"porthole-host installs the viewer's .desktop file, matching its windows' WM_CLASS"
# The installed porthole-hv finds the guest image's recipe and init in the
# package (an unknown option: it must get as far as the recipe's own usage).
said=$("$root/usr/bin/porthole-hv" image create --no-such-option 2>&1) && die "image create accepted a bad option"
assert_match "build-image.sh: unknown option --no-such-option" "$said" \
	"the installed porthole-hv image create runs the packaged recipe (/usr/lib/porthole/image)"
start_vm pkg "$BUILD/tests/e2e-60-vm.log" -- $GUEST_ENV sh -c "$root/usr/bin/porthole-guestd & sleep 30"
wait_until 10 "installed guestd answers" sh -c "$BIN/porthole-ctl tclo pkg ping | grep -q '^OK'"
ok "the installed porthole-guestd answers the host inside a VM"
ctl stop pkg >/dev/null
wait_exit $LAST_HV

# As `make run` does: the guest package unpacked and laid over the guest's /.
ov=$root/overlay
mkdir -p "$ov" && dpkg-deb -x "$guest" "$ov"
start_vm ovl "$BUILD/tests/e2e-60-ovl.log" --overlay "$ov" -- $GUEST_ENV sh -c "
	f=\$(ls /usr/bin/porthole-agent /etc/xdg/autostart/porthole-agent.desktop /usr/share/porthole/xorg-dummy.conf \
		/lib/systemd/system/porthole-guestd.service | xargs)
	/usr/bin/porthole-rpc \"info-set guestinfo.files \$f\" >/dev/null
	if touch /usr/bin/porthole-agent 2>/dev/null; then w=writable; else w=read-only; fi
	/usr/bin/porthole-rpc \"info-set guestinfo.ro \$w \$(test -x /bin/sh && echo host-files-visible)\" >/dev/null
	/usr/bin/porthole-guestd & sleep 30"
wait_until 10 "overlay guestd answers" sh -c "$BIN/porthole-ctl tclo ovl ping | grep -q '^OK'"
assert_eq "/etc/xdg/autostart/porthole-agent.desktop /lib/systemd/system/porthole-guestd.service /usr/bin/porthole-agent /usr/share/porthole/xorg-dummy.conf" \
	"$(ctl info-get ovl guestinfo.files)" "porthole-hv --overlay: the package's files are at their installed paths in the guest"
assert_eq "read-only host-files-visible" "$(ctl info-get ovl guestinfo.ro)" "the overlay is read-only and the host's own files stay visible"
ok "the packaged porthole-guestd (/usr/bin in the overlay) answers the host"
ctl stop ovl >/dev/null
wait_exit $LAST_HV
rm -rf "$ov"
for m in man1/porthole-hv.1 man1/porthole-ctl.1 man1/porthole-hostd.1 man1/porthole-tray.1 man1/porthole-vmci.1 \
	 man1/porthole-viewer.1 man8/porthole-guestd.8 man1/porthole-rpc.1 man1/porthole-vmci-guest.1 \
	 man1/porthole-agent.1; do
	page=$root/usr/share/man/$m.gz
	[ -f "$page" ] || die "no man page $m"
	zcat "$page" | grep -q "^.SH NAME" || die "man page $m has no NAME"
done
if command -v man >/dev/null; then
	assert_match "porthole-hv - run a Porthole virtual machine" "$(MANWIDTH=100 man -l "$root/usr/share/man/man1/porthole-hv.1.gz" 2>/dev/null | col -b)" "man porthole-hv renders"
	assert_match "porthole-agent - Porthole desktop agent" "$(MANWIDTH=100 man -l "$root/usr/share/man/man1/porthole-agent.1.gz" 2>/dev/null | col -b)" "man porthole-agent renders"
	assert_match "porthole-viewer - show a Porthole VM's desktop" "$(MANWIDTH=100 man -l "$root/usr/share/man/man1/porthole-viewer.1.gz" 2>/dev/null | col -b)" "man porthole-viewer renders"
fi
assert_eq "Exec=/usr/bin/porthole-hostd" "$(grep ^Exec= "$root/usr/share/dbus-1/services/org.porthole.Host1.service")" "the D-Bus service file points at the installed hostd"
[ -f "$root/etc/xdg/autostart/porthole-tray.desktop" ] || die "no autostart entry for the tray"
assert_eq "Exec=porthole-agent" "$(grep ^Exec= "$root/etc/xdg/autostart/porthole-agent.desktop")" "the guest package starts porthole-agent at login (XDG autostart)"
[ -f "$root/lib/systemd/system/porthole-guestd.service" ] || die "no systemd unit"
ok "D-Bus service, introspection, autostart entry and systemd unit are installed"

# The postinst enables the unit through deb-systemd-helper, which honours
# DPKG_ROOT: the link is in the scratch root (the host's /etc is untouched).
assert_eq "/lib/systemd/system/porthole-guestd.service" \
	"$(readlink "$root/etc/systemd/system/multi-user.target.wants/porthole-guestd.service")" \
	"the guest package enables porthole-guestd.service (deb-systemd-helper, in the package's root)"

dpkg_root --purge porthole-host porthole-guest-additions >/dev/null 2>&1 || die "dpkg --purge failed"
left=$(cd "$root" && find . ! -type d ! -path './var/lib/dpkg/*' | sort)
assert_eq "" "$left" "purging both packages leaves no files or links behind (enable links, deb-systemd-helper state)"

# ---- the tarball installer ----
rm -rf "$root"/* && mkdir -p "$root/unpack" "$root/target"
tar -C "$root/unpack" -xzf "$out/porthole-guest-additions-$VERSION.tar.gz"
"$root/unpack/porthole-guest-additions-$VERSION/install.sh" --root "$root/target" >/dev/null
"$root/target/usr/bin/porthole-rpc" --help >/dev/null 2>&1 || [ $? -le 2 ] || die "tarball porthole-rpc does not run"
[ -x "$root/target/usr/bin/porthole-guestd" ] || die "install.sh did not install porthole-guestd"
[ -x "$root/target/usr/bin/porthole-agent" ] && [ -f "$root/target/etc/xdg/autostart/porthole-agent.desktop" ] ||
	die "install.sh did not install porthole-agent and its autostart entry"
ok "install.sh installs the guest additions from the tarball"
"$root/unpack/porthole-guest-additions-$VERSION/install.sh" --root "$root/target" --uninstall >/dev/null
assert_eq "" "$(cd "$root/target" && find . -type f)" "install.sh --uninstall removes every file it installed"

# ---- make install / make uninstall (PREFIX, DESTDIR) ----
dest=$(mktemp -d "$BUILD/tests/destdir.XXXXXX")
make -s -C "$top" BUILD="$BUILD" install DESTDIR="$dest" PREFIX=/usr >"$BUILD/tests/e2e-60-install.log" 2>&1 ||
	die "make install failed: $(tail -5 "$BUILD/tests/e2e-60-install.log")"
assert_match "porthole-ctl $VERSION" "$("$dest/usr/bin/porthole-ctl" --version)" "make install DESTDIR PREFIX=/usr: the installed porthole-ctl runs"
assert_eq "Exec=/usr/bin/porthole-hostd" "$(grep ^Exec= "$dest/usr/share/dbus-1/services/org.porthole.Host1.service")" \
	"make install: the D-Bus service file points at PREFIX/bin"
assert_match "porthole-hv - run a Porthole virtual machine" \
	"$(MANWIDTH=100 man -l "$dest/usr/share/man/man1/porthole-hv.1" 2>/dev/null | col -b)" "make install: man pages under PREFIX/share/man"
[ -f "$dest/usr/share/applications/porthole-tray.desktop" ] || die "make install: no desktop entry for the tray"
[ -f "$dest/usr/share/man/man8/porthole-guestd.8" ] && [ -x "$dest/usr/bin/porthole-viewer" ] ||
	die "make install: porthole-guestd.8 or porthole-viewer missing"
[ ! -e "$dest/etc" ] && [ ! -e "$dest/lib" ] || die "make install wrote under /etc or /lib (autostart, systemd): $(cd "$dest" && find etc lib)"
ok "make install: programs, man pages, D-Bus files and desktop entries, nothing in /etc or /lib"
make -s -C "$top" BUILD="$BUILD" uninstall DESTDIR="$dest" PREFIX=/usr >>"$BUILD/tests/e2e-60-install.log" 2>&1 ||
	die "make uninstall failed"
assert_eq "" "$(cd "$dest" && find . ! -type d)" "make uninstall removes every file make install put"
rm -rf "$dest"
