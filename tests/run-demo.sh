#!/bin/bash
# make run: a demo VM set up the way a user's would be.  By default the VM is
# Porthole's Debian 12 guest image (porthole-hv image create: built once,
# cached in ~/.cache/porthole/images) booted with its own init
# (porthole-init) on --root, with the guest additions package (make
# packages) shared in: the image's first-boot unit installs it with dpkg -i,
# whose postinst enables porthole-guestd.service; the image's X session
# (Xorg with the dummy driver, xclock and an xterm to type and paste into)
# starts porthole-agent from the package's XDG autostart entry.  --snapshot:
# the guest's writes are thrown away when the demo ends.
# DEMO_ROOT=host runs the older demo instead: the host's own / with the
# unpacked package laid over it (porthole-hv run --host-root --overlay) and
# a shell script as the session.
# On the host: porthole-hostd on the session bus (a private bus when there is
# none) and porthole-viewer on $DISPLAY; without a display the VM runs
# headless and this says how to get one.
# Runs until Ctrl-C, or RUN_SECONDS seconds.  VM=NAME names the VM (demo);
# DEMO_DIR is where the offered package and the guest logs go (BUILD/demo).
set -eu
build=$(cd "${1:-build}" && pwd)
top=$(cd "$(dirname "$0")/.." && pwd)
BIN=$build/bin
name=${VM:-demo}
demo=${DEMO_DIR:-$build/demo}
version=$(cat "$top/VERSION")
arch=$(dpkg --print-architecture)

if "$BIN/porthole-ctl" status "$name" >/dev/null 2>&1; then
	echo "A VM named '$name' is already running; stop it with: $BIN/porthole-ctl stop $name"
	exit 1
fi

echo "== building the guest additions package (make packages)"
make -s -C "$top/installer" BUILD="$build" >/dev/null
deb=$build/packages/porthole-guest-additions_${version}_$arch.deb
rm -rf "$demo" && mkdir -p "$demo/root" "$demo/logs" "$demo/offer"
if [ "${DEMO_ROOT:-image}" = host ]; then
	dpkg-deb -x "$deb" "$demo/root"
	# On a merged-/usr guest (/lib -> usr/lib) dpkg would put lib/ under usr/lib:
	# do the same, so that one overlay on /usr carries all of it.
	for d in lib lib64 bin sbin; do
		if [ -L "/$d" ] && [ -d "$demo/root/$d" ]; then
			mkdir -p "$demo/root/usr/$d"
			cp -a "$demo/root/$d/." "$demo/root/usr/$d/"
			rm -rf "${demo:?}/root/$d"
		fi
	done
	echo "   $(basename "$deb") unpacked in $demo/root, laid over the guest's /"
else
	echo "== the guest image (porthole-hv image create; built once, then cached)"
	image=$("$BIN/porthole-hv" image create | tail -1)
	cp "$deb" "$demo/offer/"
	# The guest's ids are a host range that is not ours (chosen at run
	# time): it may write the shared log directory only if everyone may.
	chmod 0777 "$demo/logs"
	echo "   $image; $(basename "$deb") offered to the guest's first-boot dpkg -i"
fi

# Guests have private /tmp, /var/tmp, /run: a build tree there must be shared in.
share=()
case "$(pwd -P)/" in /tmp/*|/var/tmp/*|/run/*|/dev/shm/*) share=(--share "$build") ;; esac

# Kill what we started, by pid, on the way out.
pids=()
hv=""
stop() {
	local p
	[ -n "$hv" ] && kill "$hv" 2>/dev/null || true
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	[ -n "$hv" ] && wait "$hv" 2>/dev/null || true
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap stop EXIT
trap 'stop; exit 0' INT TERM

if [ "${DEMO_ROOT:-image}" != host ]; then
	echo "== starting VM '$name' (trap engine): the Debian image, porthole-init as pid 1"
	"$BIN/porthole-hv" run --name "$name" --root "$image" --snapshot \
		--share "$demo/offer:/media/porthole-additions" --share "$demo/logs:/var/log/porthole" \
		>"$demo/logs/hv.log" 2>&1 &
else
	echo "== starting VM '$name' (trap engine): Xorg :0, xclock, xeyes, xterm, porthole-guestd, porthole-agent"
	# The guest session, as a desktop login would start it: X, a client, then the
	# tools: guestd as its systemd unit would, the agent as the autostart entry says.
	"$BIN/porthole-hv" run --name "$name" --overlay "$demo/root" --share "$demo/logs:/var/log/porthole" \
		"${share[@]}" -- env ASAN_OPTIONS=detect_leaks=0 bash -c '
		export DISPLAY=:0
		log=/var/log/porthole
		Xorg :0 -config /usr/share/porthole/xorg-dummy.conf -noreset -nolisten tcp \
			-novtswitch -sharevts -logfile /tmp/xorg.log >$log/xorg.out 2>&1 &
		for i in $(seq 200); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done
		xsetroot -solid "#35556f"
		# Clients to look at, click, type and paste into.  The terminal pastes
		# CLIPBOARD (else PRIMARY) on Shift+Insert and Ctrl+Shift+V, copies the
		# selection to CLIPBOARD on Ctrl+Shift+C, as desktop terminals do.
		xclock -update 1 -geometry 240x240+40+40 >$log/clients.out 2>&1 &
		xeyes -geometry 240x160+320+40 >>$log/clients.out 2>&1 &
		xterm -geometry 80x24+40+320 -T "demo terminal" -xrm "XTerm*VT100.translations: #override \\n\
			Shift <Key>Insert: insert-selection(CLIPBOARD, PRIMARY) \\n\
			Ctrl Shift <Key>V: insert-selection(CLIPBOARD, PRIMARY) \\n\
			Ctrl Shift <Key>C: copy-selection(CLIPBOARD)" -e bash >>$log/clients.out 2>&1 &
		# No init in this guest: its pid 1 is this script, and a halt ends it,
		# and with it the VM (porthole-ctl shutdown, "Shut down guest" in the tray).
		trap "exit 0" TERM
		/usr/bin/porthole-guestd --halt-command "kill -TERM 1" >$log/guestd.log 2>&1 &
		agent=$(sed -n "s/^Exec=//p" /etc/xdg/autostart/porthole-agent.desktop)
		$agent >$log/agent.log 2>&1 &
		/usr/bin/porthole-rpc "info-set guestinfo.hello from-the-guest" >/dev/null
		wait' >"$demo/logs/hv.log" 2>&1 &
fi
hv=$!

# The image's first boot installs the package: give it a minute.
for _ in $(seq 600); do
	"$BIN/porthole-ctl" status "$name" --raw 2>/dev/null | grep -q '^tools.status=running' && break
	kill -0 $hv 2>/dev/null || { echo "the VM ended early:"; tail -20 "$demo/logs/hv.log"; exit 1; }
	sleep 0.1
done
echo
echo "== \$ porthole-ctl status $name"
"$BIN/porthole-ctl" status "$name"
echo
if [ "${DEMO_ROOT:-image}" = host ]; then
	echo "== \$ porthole-ctl info-get $name guestinfo.hello     (set by /usr/bin/porthole-rpc in the guest)"
	"$BIN/porthole-ctl" info-get "$name" guestinfo.hello || true
	echo
fi
echo "== \$ porthole-ctl tclo $name ping                    (answered by /usr/bin/porthole-guestd)"
"$BIN/porthole-ctl" tclo "$name" ping || true

# ---- host services: porthole-hostd on the session bus ----
if [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ] && command -v dbus-daemon >/dev/null; then
	dbus-daemon --session --nofork --print-address=3 3>"$demo/bus" >/dev/null 2>&1 &
	pids+=($!)
	for _ in $(seq 50); do [ -s "$demo/bus" ] && break; sleep 0.1; done
	DBUS_SESSION_BUS_ADDRESS=$(head -1 "$demo/bus")
	export DBUS_SESSION_BUS_ADDRESS
	echo
	echo "== no session bus: started a private one for porthole-hostd:"
	echo "   export DBUS_SESSION_BUS_ADDRESS='$DBUS_SESSION_BUS_ADDRESS'"
fi
vm_path=/org/porthole/Host1/vm/$name
if [ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ]; then
	if ! gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
		--method org.freedesktop.DBus.NameHasOwner org.porthole.Host1 2>/dev/null | grep -q true; then
		"$BIN/porthole-hostd" >"$demo/logs/hostd.log" 2>&1 &
		pids+=($!)
	fi
	for _ in $(seq 50); do
		gdbus call --session --dest org.porthole.Host1 --object-path "$vm_path" \
			--method org.freedesktop.DBus.Properties.Get org.porthole.Host1.VM State \
			>/dev/null 2>&1 && break
		sleep 0.1
	done
	echo
	echo "== \$ gdbus call --session --dest org.porthole.Host1 --object-path $vm_path \\"
	echo "       --method org.freedesktop.DBus.Properties.GetAll org.porthole.Host1.VM"
	gdbus call --session --dest org.porthole.Host1 --object-path "$vm_path" \
		--method org.freedesktop.DBus.Properties.GetAll org.porthole.Host1.VM | fold -w 100 || true
fi

# ---- the viewer on the host's display ----
echo
if [ -n "${DISPLAY:-}" ] && xdpyinfo >/dev/null 2>&1; then
	echo "== porthole-viewer $name on $DISPLAY (log: $demo/logs/viewer.log)"
	"$BIN/porthole-viewer" "$name" >"$demo/logs/viewer.log" 2>&1 &
	pids+=($!)
else
	if [ -n "${DISPLAY:-}" ]; then
		echo "== cannot open the X display '$DISPLAY': the VM runs headless."
	else
		echo "== no X display (\$DISPLAY is not set): the VM runs headless."
	fi
	cat <<EOT
   To see the guest's desktop, run from a desktop session, or start a virtual display:
     Xvfb :5 -screen 0 1920x1080x24 &  DISPLAY=:5 make run
   (and watch it with e.g. x11vnc -display :5, or xwd -root -display :5 | convert xwd:- shot.png)
   or open a viewer later:  DISPLAY=... $BIN/porthole-viewer $name
EOT
fi
cat <<EOT

VM '$name' is running; guest logs in $demo/logs.  From another terminal, try:
  $BIN/porthole-ctl list
  $BIN/porthole-ctl status $name
  $BIN/porthole-ctl info-set $name guestinfo.color blue
  $BIN/porthole-ctl tclo $name 'Capabilities_Register'
  $BIN/porthole-ctl console $name       (the VM console; Ctrl-] detaches)
  $BIN/porthole-ctl reboot $name
  $BIN/porthole-ctl shutdown $name
  $BIN/porthole-ctl stop $name
Run a guest of your own:  $BIN/porthole-hv run -- vmware-checkvm
Press Ctrl-C to stop the VM.
EOT
if [ -n "${RUN_SECONDS:-}" ]; then
	# Until the time is up or the VM ends by itself, whichever comes first.
	end=$((SECONDS + RUN_SECONDS))
	while [ $SECONDS -lt $end ] && kill -0 "$hv" 2>/dev/null; do sleep 1; done
	kill -0 "$hv" 2>/dev/null && { "$BIN/porthole-ctl" stop "$name" >/dev/null || true; }
fi
wait $hv || true
hv=""
exit 0
