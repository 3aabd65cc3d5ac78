# Sourced (after private-bus.sh and lib.sh) by the tests whose guest tools
# report guest information with VMware's guestInfo protocol (stock vmtoolsd,
# porthole-guestd): what the host shows of a VM, through `porthole-ctl
# status`/`guest-info` and as org.porthole.Host1 properties, checked against
# what the guest itself sees.

gi_hostd_pid() {
	gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
		--method org.freedesktop.DBus.GetConnectionUnixProcessID org.porthole.Host1 2>/dev/null |
		sed -n 's/^(uint32 \([0-9]*\),)$/\1/p'
}
gi_cleanup() {
	local p
	[ -n "${GI_MON:-}" ] && kill "$GI_MON" 2>/dev/null || true
	# The activated hostd is the bus's child, not ours: stop it by its bus name.
	p=$(gi_hostd_pid)
	[ -n "$p" ] && kill "$p" 2>/dev/null || true
	cleanup
}

# gi_monitor LOG: porthole-hostd activated for this test's VMs, `porthole-ctl
# monitor` writing its signals to LOG.
gi_monitor() {
	GI_MONLOG=$1
	trap gi_cleanup EXIT
	gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
		--method org.freedesktop.DBus.UpdateActivationEnvironment \
		"{'XDG_RUNTIME_DIR': '$XDG_RUNTIME_DIR'}" >/dev/null
	"$BIN/porthole-ctl" monitor >"$GI_MONLOG" 2>"$GI_MONLOG.err" &
	GI_MON=$!
	wait_until 10 "porthole-ctl monitor listening" grep -q "monitoring org.porthole.Host1" "$GI_MONLOG.err"
}

gi_prop() {
	gdbus call --session --dest org.porthole.Host1 --object-path "/org/porthole/Host1/vm/$1" \
		--method org.freedesktop.DBus.Properties.Get org.porthole.Host1.VM "$2"
}

# check_guest_info VM WHAT NICS: what VM's tools (called WHAT) reported is
# shown, and is what the guest sees: its host name (the VM's name), the OS of
# /etc/os-release, NICS network interfaces and their addresses (a regex the
# guest-info address lines must match, "" for none), the root filesystem's
# size.  Waits up to 90 s (vmtoolsd gathers every 30 s) for the information,
# and 40 s for a PropertiesChanged of a later report.
check_guest_info() {
	local vm=$1 what=$2 nics=$3 gi root_size ips pretty
	wait_until 90 "$what's guest info (disks, NICs)" sh -c \
		"'$BIN/porthole-ctl' status $vm --raw | grep -q '^guest.disks=' &&
		 '$BIN/porthole-ctl' status $vm --raw | grep -q '^guest.nics='"
	gi=$(ctl guest-info "$vm")
	echo "$gi"
	gi_val() { sed -n "s/^$1=//p" <<<"$gi"; }
	assert_eq "$vm" "$(gi_val hostname)" "$what: guest-info shows the guest's host name"
	pretty=$(. /etc/os-release && echo "$PRETTY_NAME")
	assert_match "${pretty//[()]/.}" "$(gi_val os.full)" "$what: guest-info shows the OS full name ($pretty)"
	assert_match "^[a-z]" "$(gi_val os)" "$what: guest-info shows the OS short name"
	assert_eq "$nics" "$(gi_val nics)" "$what: guest-info counts the guest's $nics reported network interfaces"
	ips=$(sed -n 's/^nic\.[0-9]*\.ip=//p' <<<"$gi" | paste -sd, -)
	[ "$nics" = 0 ] || assert_match "$4" "$ips" "$what: guest-info shows the guest's IP addresses"
	[ "$nics" = 0 ] || assert_match "NIC [0-9 ]+ .*$4" "$(ctl status "$vm")" "$what: porthole-ctl status shows the guest's IP addresses"
	root_size=$(stat -f -c '%S*%b' / | bc)
	grep -A2 -x 'disk\.[0-9]*\.name=/' <<<"$gi" | grep -qx "disk\.[0-9]*\.size=$root_size" ||
		die "$what: guest-info has no root filesystem of $root_size bytes"
	ok "$what: guest-info shows the root filesystem and its size ($root_size bytes)"
	assert_match "Guest: .*${pretty//[()]/.}.*host name $vm" "$(ctl status "$vm")" "$what: porthole-ctl status has a Guest line"

	# The same on D-Bus, typed, and announced.
	wait_until 15 "HostName on D-Bus" sh -c "$(declare -f gi_prop); BIN='$BIN'; gi_prop $vm HostName | grep -q \"'$vm'\""
	assert_eq "(<'$vm'>,)" "$(gi_prop "$vm" HostName)" "$what: D-Bus HostName"
	assert_match "^\(<'.*${pretty//[()]/.}.*'>,\)$" "$(gi_prop "$vm" OsName)" "$what: D-Bus OsName"
	assert_match "^\(<uint64 [1-9][0-9]*>,\)$" "$(gi_prop "$vm" GuestUptime)" "$what: D-Bus GuestUptime"
	assert_match "\('/', uint64 $root_size, uint64 [0-9]+\)" "$(gi_prop "$vm" Disks)" "$what: D-Bus Disks (mount point, size, free)"
	if [ "$nics" = 0 ]; then
		assert_match "^\(<@a\{sas\} \{\}>,\)$" "$(gi_prop "$vm" IpAddresses)" "$what: D-Bus IpAddresses: none, as the guest reported"
	else
		assert_match "$4" "$(gi_prop "$vm" IpAddresses)" "$what: D-Bus IpAddresses"
	fi
	# Each report carries the uptime: the next one changes GuestUptime (tools
	# report every 30 s; vmtoolsd's second round already came while we waited).
	wait_until 40 "PropertiesChanged with GuestUptime" grep -Eq "^PropertiesChanged $vm .*GuestUptime=[1-9]" "$GI_MONLOG"
	ok "$what: PropertiesChanged announces the guest's new uptime"
}
