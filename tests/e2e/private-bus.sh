# Sourced first by the D-Bus tests: re-runs the calling test inside
# dbus-run-session on a private session bus whose only activatable service is
# this build's porthole-hostd; the outer run exits with the inner's status.
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${PH_PRIVATE_BUS:-}" ]; then
	busdir=$(mktemp -d /tmp/porthole-bus.XXXXXX)
	sed "s|@bindir@|$BUILD/bin|" "$here/../../host-services/dbus/org.porthole.Host1.service.in" \
		>"$busdir/org.porthole.Host1.service"
	cat >"$busdir/session.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=$busdir</listen>
  <servicedir>$busdir</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
CONF
	rc=0
	PH_PRIVATE_BUS=1 dbus-run-session --config-file="$busdir/session.conf" -- bash "$0" || rc=$?
	rm -rf "$busdir"
	exit $rc
fi
