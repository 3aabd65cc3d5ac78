#!/bin/bash
# make run: start a VM (trap engine) with the guest additions inside, show the
# host talking to it, and keep it running until Ctrl-C (or RUN_SECONDS).
set -eu
build=$(cd "${1:-build}" && pwd)
BIN=$build/bin
name=${VM:-demo}

if "$BIN/porthole-ctl" status "$name" >/dev/null 2>&1; then
	echo "A VM named '$name' is already running; stop it with: $BIN/porthole-ctl stop $name"
	exit 1
fi
# Guests have private /tmp, /var/tmp, /run: a build tree there must be shared in.
share=()
case "$(pwd -P)/" in /tmp/*|/var/tmp/*|/run/*|/dev/shm/*) share=(--share "$build") ;; esac
echo "== starting VM '$name': porthole-guestd inside, trap engine"
"$BIN/porthole-hv" run --name "$name" "${share[@]}" -- sh -c "
	$BIN/porthole-guestd &
	$BIN/porthole-rpc 'info-set guestinfo.hello from-the-guest' >/dev/null
	wait" &
hv=$!
stop() { kill $hv 2>/dev/null || true; wait $hv 2>/dev/null || true; }
trap stop EXIT
trap 'stop; exit 0' INT TERM

for _ in $(seq 100); do
	"$BIN/porthole-ctl" status "$name" --raw 2>/dev/null | grep -q '^tools.status=running' && break
	sleep 0.1
done
echo
echo "== \$ porthole-ctl status $name"
"$BIN/porthole-ctl" status "$name"
echo
echo "== \$ porthole-ctl info-get $name guestinfo.hello     (set by porthole-rpc in the guest)"
"$BIN/porthole-ctl" info-get "$name" guestinfo.hello
echo
echo "== \$ porthole-ctl tclo $name ping                    (answered by porthole-guestd)"
"$BIN/porthole-ctl" tclo "$name" ping
cat <<EOT

VM '$name' is running.  From another terminal, try:
  $BIN/porthole-ctl list
  $BIN/porthole-ctl status $name
  $BIN/porthole-ctl info-set $name guestinfo.color blue
  $BIN/porthole-ctl tclo $name 'Capabilities_Register'
  $BIN/porthole-ctl stop $name
Run a guest of your own:  $BIN/porthole-hv run -- vmware-checkvm
Press Ctrl-C to stop the VM.
EOT
if [ -n "${RUN_SECONDS:-}" ]; then
	sleep "$RUN_SECONDS"
	"$BIN/porthole-ctl" stop "$name" >/dev/null
fi
wait $hv || true
exit 0
