#!/bin/bash
# Guest information end to end (tests/bench/run.sh runs this): seconds from
# the start of the guest tools to the guest's OS name and IP address being
# visible on D-Bus (org.porthole.Host1's OsName and IpAddresses, served by
# porthole-hostd), with each tools' own defaults:
#   bench guestinfo_dbus_vmtoolsd S s   stock vmtoolsd (its guestInfo plugin)
#   bench guestinfo_dbus_guestd S s     porthole-guestd
# The median of RUNS (3) starts each.  Polled with gdbus every 50 ms (about
# 10 ms a call), so figures are good to about 0.06 s.
# usage: guestinfo.sh BUILD [PATTERN]; re-runs itself on a private session bus.
set -eu
build=$(cd "$1" && pwd)
pattern=${2:-}
RUNS=${RUNS:-3}
if [ -z "${PH_GI_BUS:-}" ]; then
	PH_GI_BUS=1 exec dbus-run-session -- bash "$0" "$@" \
		2> >(grep -v 'Failed to set fd limit' >&2)
fi
want() { [ -z "$pattern" ] || [[ "$1" == *$pattern* ]]; }
HOSTD= HV=
cleanup() {
	[ -n "$HOSTD" ] && kill "$HOSTD" 2>/dev/null
	[ -n "$HV" ] && kill "$HV" 2>/dev/null
	wait 2>/dev/null || true
}
trap cleanup EXIT
"$build/bin/porthole-hostd" >/dev/null 2>&1 &
HOSTD=$!

now_ns() { date +%s%N; }
prop() {
	gdbus call --session --dest org.porthole.Host1 --object-path "/org/porthole/Host1/vm/$1" \
		--method org.freedesktop.DBus.Properties.Get org.porthole.Host1.VM "$2" 2>/dev/null
}
# seconds_to_info VM CMD...: start VM running CMD, print the seconds until
# D-Bus shows its OS name and eth0's address (-1 after 60 s).
seconds_to_info() {
	local vm=$1 start; shift
	start=$(now_ns)
	"$build/bin/porthole-hv" run --name "$vm" --state-dir none -- "$@" >/dev/null 2>&1 &
	HV=$!
	while :; do
		if prop "$vm" IpAddresses | grep -q "10\.0\.2\.15/" &&
		   ! prop "$vm" OsName | grep -qx "(<''>,)"; then
			break
		fi
		[ $(( $(now_ns) - start )) -lt 60000000000 ] || { echo -1; break; }
		sleep 0.05
	done
	[ "$(( $(now_ns) - start ))" -ge 60000000000 ] ||
		awk "BEGIN { printf \"%.2f\", ($(now_ns) - $start) / 1e9 }"
	"$build/bin/porthole-ctl" stop "$vm" >/dev/null 2>&1 || true
	wait "$HV" 2>/dev/null || true
	HV=
}
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
bench() {
	local name=$1 samples=() i; shift
	for i in $(seq "$RUNS"); do
		samples+=("$(seconds_to_info "benchgi$i" "$@")")
	done
	echo "bench $name $(median "${samples[@]}") s"
	echo "# $name: runs ${samples[*]} s" >&2
}
if want guestinfo_dbus_vmtoolsd; then
	if command -v vmtoolsd >/dev/null; then
		bench guestinfo_dbus_vmtoolsd vmtoolsd
	else
		echo "# guestinfo_dbus_vmtoolsd: skipped (open-vm-tools is not installed)" >&2
	fi
fi
want guestinfo_dbus_guestd && bench guestinfo_dbus_guestd "$build/bin/porthole-guestd"
exit 0
