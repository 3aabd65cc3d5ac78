# A trap guest on a root of its own (--root): nothing of the host visible,
# no way to the hypervisor's sockets, its stdio the VM console, uids that are
# not the host user's, and limits (memory, processes, disk) that fail inside
# the guest while the host stays responsive.  The root is built here from
# busybox-static in a second; the guest's checks are busybox shell.
# timeout: 240
. "$(dirname "$0")/lib.sh"

BUSYBOX=$(command -v busybox || true)
[ -n "$BUSYBOX" ] && file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' ||
	[ -x /bin/busybox ] || skip "busybox-static is missing (installer/deps.sh installs it)"
REPO=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "$BUILD/tests/e2e-18.XXXXXX")
# Our own state dir, so runs never see another's overlay.
export XDG_STATE_HOME=$work/state
# This suite is about the console: no stdio sharing (lib.sh's default for tests).
unset PORTHOLE_CONSOLE
trap 'cleanup; rm -rf "$work"' EXIT

root=$work/root
mkdir -p "$root/bin" "$root/etc"
cp "$BUSYBOX" "$root/bin/busybox"
for a in $("$root/bin/busybox" --list); do
	[ "$a" = busybox ] || ln -s busybox "$root/bin/$a"
done
echo "root:x:0:0::/root:/bin/sh" >"$root/etc/passwd"
share=$work/share
mkdir -m 0777 "$share"

# run_guest NAME [hv options] -- 'shell script': runs it as the guest (to
# completion), its console log in $work/NAME.console, the hypervisor's in
# $work/NAME.hv; the guest writes what the test checks to /share.
run_guest() {
	local name=$1; shift
	local st=0
	"$BIN/porthole-hv" run --name "$name" --share "$share:/share" "$@" >"$work/$name.hv" 2>&1 ||
		st=$?
	cp "$XDG_RUNTIME_DIR/porthole/$name.console.log" "$work/$name.console" 2>/dev/null || true
	return $st
}

# ---- nothing of the host ----
rm -f "$share"/*
run_guest iso --root "$root" --snapshot -- /bin/sh -c "
	cat /etc/shadow >/dev/null 2>&1 && echo shadow-readable >>/share/out
	[ -e '$REPO' ] && echo checkout-visible >>/share/out
	[ -e '$XDG_RUNTIME_DIR' ] && echo runtime-dir-visible >>/share/out
	ls / >/share/ls
	grep -c . /proc/net/unix >/share/unix-lines
	grep -E 'porthole|\\.sock|@' /proc/net/unix >>/share/out
	echo done >>/share/out"
assert_eq done "$(cat "$share/out")" "the guest sees neither the host's /etc/shadow, the checkout, the runtime dir nor a host socket"
assert_eq "bin dev etc proc run share sys tmp" "$(tr '\n' ' ' <"$share/ls" | sed 's/ $//')" \
	"the guest's / is the --root tree and the mount points the sandbox makes"
assert_eq 1 "$(cat "$share/unix-lines")" "/proc/net/unix lists no socket at all (header only): nothing to scan for"
rm -f "$share"/*

# ---- the console ----
run_guest con --root "$root" --snapshot -- /bin/sh -c '
	for fd in 0 1 2; do [ -t $fd ] || echo "fd $fd is not a terminal" >>/share/out; done
	[ "$(readlink /proc/self/fd/0)" = "$(readlink /proc/self/fd/2)" ] || echo fds-differ >>/share/out
	[ -c /dev/console ] || echo no-dev-console >>/share/out
	echo FORGED-HV-LINE >>/proc/self/fd/1
	echo "porthole-hv-Message: forged" >/dev/console
	echo console-checked >>/share/out'
assert_eq console-checked "$(cat "$share/out")" "fds 0-2 are one terminal and /dev/console exists"
grep -q 'FORGED-HV-LINE' "$work/con.console" && ok "what the guest writes to /proc/self/fd/1 lands in the console log" ||
	die "the guest's output is not in the console log"
! grep -q 'FORGED\|forged' "$work/con.hv" && ok "... never in porthole-hv's own output" ||
	die "the guest wrote into porthole-hv's log"
rm -f "$share"/*

# porthole-ctl console: a script's input reaches the guest's shell, its answer comes back.
start_vm conctl "$work/conctl.hv" --root "$root" --snapshot -- /bin/sh -i
out=$(printf 'echo answer-$((6 * 7))\n' | ctl console conctl)
assert_match 'answer-42' "$out" "porthole-ctl console: input reaches the guest, its output comes back"
out=$(printf 'echo second\n' | ctl console conctl)
assert_match 'second' "$out" "... and again after a detach"
# From a terminal (script(1) makes one): raw mode, what was typed before it
# kept, Ctrl-] detaches with status 0.
st=0
out=$( (printf 'echo tty-$((2 * 3))\r'; sleep 1; printf '\035'; sleep 0.5) |
	timeout 10 script -qfec "$BIN/porthole-ctl console conctl" /dev/null) || st=$?
assert_eq 0 "$st" "porthole-ctl console in a terminal: Ctrl-] detaches, status 0"
assert_match 'tty-6' "$out" "... after the guest's shell ran what was typed"
assert_match 'console detached' "$out" "... and it says it detached"
ctl stop conctl >/dev/null
wait_exit "$LAST_HV"

# ---- uids ----
run_guest ids --root "$root" --snapshot -- /bin/sh -c 'touch /share/by-guest-root; id -u >/share/id'
range=$(sed -n 's/.*guest ids: 0-65535 are host uids \([0-9]*\)-.*/\1/p' "$work/ids.hv")
[ -n "$range" ] || die "no 'guest ids' line in the log: $(cat "$work/ids.hv")"
assert_eq 0 "$(cat "$share/id")" "the guest runs as its root"
owner=$(stat -c %u "$share/by-guest-root")
[ "$owner" = "$range" ] && [ "$owner" != "$(id -u)" ] &&
	ok "a file guest root made on a share is owned by host uid $owner (the guest range), not by $(id -u)" ||
	die "guest root's file is owned by $owner (range $range, host user $(id -u))"
rm -f "$share"/*
PORTHOLE_GUEST_IDS=single run_guest ids1 --root "$root" --snapshot -- /bin/sh -c 'touch /share/single'
grep -q "guest ids: PORTHOLE_GUEST_IDS=single: the guest's root is you" "$work/ids1.hv" &&
	ok "forced fallback to a single mapping says so in one line" || die "no fallback line"
assert_eq "$(id -u)" "$(stat -c %u "$share/single")" "... and guest root is then the host user"
rm -f "$share"/*

# The control socket by path, from a guest whose uid is ours and which sees
# it (--host-root: the host's tree, with a runtime dir outside the private
# /tmp): refused for its user namespace.
(
	export XDG_RUNTIME_DIR=$work/run
	mkdir -m 0700 "$XDG_RUNTIME_DIR"
	start_vm hostroot "$work/hostroot.hv" --host-root -- sleep 60
	run_guest probe --host-root -- /bin/sh -c \
		"'$BIN/porthole-ctl' status hostroot >/share/ctl-out 2>&1; echo \$? >/share/ctl-st"
	ctl stop hostroot >/dev/null
	wait_exit "$LAST_HV"
)
[ "$(cat "$share/ctl-st")" != 0 ] && ok "a guest that reaches a control socket by path gets no answer" ||
	die "a guest talked to VM hostroot: $(cat "$share/ctl-out")"
grep -q 'refusing process .* another user namespace' "$work/hostroot.hv" &&
	ok "... refused for its user namespace, and logged" || die "no refusal logged"
rm -f "$share"/*

# ---- the overlay: kept across runs, or thrown away; capped with --snapshot ----
run_guest keep --root "$root" -- /bin/sh -c 'echo kept >/etc/motd'
run_guest keep --root "$root" -- /bin/sh -c 'cat /etc/motd >/share/motd'
assert_eq kept "$(cat "$share/motd")" "the guest's writes to / are kept across runs"
[ ! -e "$root/etc/motd" ] && ok "... in the VM's overlay, not in the --root tree" || die "the --root tree was written"
run_guest snap --root "$root" --snapshot -- /bin/sh -c 'echo x >/etc/motd'
run_guest snap --root "$root" --snapshot -- /bin/sh -c 'cat /etc/motd >/share/motd2 2>&1 || echo gone >/share/motd2'
assert_eq gone "$(cat "$share/motd2")" "--snapshot throws the writes away"
for keep in --snapshot ""; do
	run_guest full --root "$root" $keep --disk-size 16M -- /bin/sh -c \
		'dd if=/dev/zero of=/big bs=1M count=32 2>/share/dd-err; echo $? >/share/dd-st'
	[ "$(cat "$share/dd-st")" != 0 ] && grep -q 'No space left' "$share/dd-err" &&
		ok "--disk-size 16M ${keep:-(kept)}: writing 32 MiB fails in the guest (ENOSPC)" ||
		die "the disk cap ${keep:-(kept)} did not hold: $(cat "$share/dd-err")"
	rm -f "$share"/*
done
[ -z "$(losetup -j "$XDG_STATE_HOME/porthole/vms/full/disk.img" 2>/dev/null)" ] &&
	ok "the kept disk's loop device is gone with the VM" || die "loop device left behind"
run_guest full --root "$root" --disk-size 32M -- /bin/sh -c 'ls -l /big | cut -c1 >/share/big; df -k / | tail -1 >/share/df'
assert_eq - "$(cat "$share/big")" "what was written to the kept disk is there next run"
size=$(awk '{ print $2 }' "$share/df")
[ "$size" -gt 20000 ] && ok "--disk-size 32M grows the kept disk (${size} KiB)" || die "disk not grown: $(cat "$share/df")"
rm -f "$share"/*

# ---- limits ----
run_guest mem --root "$root" --snapshot --ram 64M -- /bin/sh -c \
	'dd if=/dev/zero of=/dev/null bs=128M count=1 2>/dev/null; echo $? >/share/mem-st'
st=$(cat "$share/mem-st")
[ "$st" != 0 ] && ok "--ram 64M: a 128 MiB allocation fails in the guest (status $st)" ||
	die "the guest allocated 2x --ram"
grep -q 'cgroup:' "$work/mem.hv" && die "cgroup trouble: $(grep cgroup: "$work/mem.hv")"
ok "the memory and pids cgroups were set up without complaint"

start_vm bomb "$work/bomb.hv" --root "$root" --snapshot --pids 64 -- /bin/sh -c \
	'b() { b | b & }; b; exec sleep 60'
sleep 3
t0=$(date +%s%N)
ctl status bomb >/dev/null
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ $ms -lt 5000 ] && ok "the host answers during a fork bomb in the guest (porthole-ctl status in $ms ms)" ||
	die "porthole-ctl status took $ms ms during the fork bomb"
cg=$(sed -n 's/^[0-9]*:pids:\(.*\)/\1/p' /proc/self/cgroup)
n=$(cat /sys/fs/cgroup/pids$cg/porthole-bomb-*/pids.current 2>/dev/null || echo none)
[ "$n" != none ] && [ "$n" -le 64 ] && ok "the fork bomb stops at the pids cap ($n tasks of 64)" ||
	die "pids in the guest's cgroup: $n"
# A --root VM runs each boot in a child of porthole-hv (it restarts the guest
# at a reset): the helper is that child's child.
boot_hv=$(pgrep -P "$LAST_HV" -x porthole-hv | head -1)
helper=$(pgrep -P "${boot_hv:-$LAST_HV}" | head -1)
pid1=$(pgrep -P "$helper" | head -1)
grep -q ':memory:.*/porthole-bomb-' "/proc/$pid1/cgroup" && ok "the guest's pid 1 is in the VM's memory cgroup" ||
	die "pid 1 is not in the VM's memory cgroup: $(cat "/proc/$pid1/cgroup")"
! grep -q 'porthole-bomb-' "/proc/$helper/cgroup" && ok "the sandbox helper is not (the OOM killer must never take it)" ||
	die "the sandbox helper is in the VM's cgroups"
ctl stop bomb >/dev/null
wait_exit "$LAST_HV"
[ -z "$(ls -d /sys/fs/cgroup/pids$cg/porthole-bomb-* 2>/dev/null)" ] &&
	ok "the VM's cgroup is removed when it stops" || die "cgroup left behind"
# One a killed porthole-hv left behind goes with the next VM's start.
true & dead=$!
wait $dead
mkdir "/sys/fs/cgroup/pids$cg/porthole-stale-$dead"
run_guest stale --root "$root" --snapshot -- /bin/true
[ ! -e "/sys/fs/cgroup/pids$cg/porthole-stale-$dead" ] &&
	ok "a dead porthole-hv's leftover cgroup is removed at the next start" || die "stale cgroup kept"

# systemd's requirement: a cgroup tree of its own it may write.
run_guest cgw --root "$root" --snapshot -- /bin/sh -c '
	if [ -e /sys/fs/cgroup/cgroup.controllers ]; then d=/sys/fs/cgroup; else d=/sys/fs/cgroup/systemd; fi
	mkdir $d/init.scope && echo $$ >$d/init.scope/cgroup.procs && grep -c init.scope /proc/self/cgroup >/share/cgw'
assert_eq 1 "$(cat "$share/cgw" 2>/dev/null)" "the guest's root may make cgroups in its own tree and move into them"

# Forced: a host without cgroup hierarchies: one line for each missing cap, and the guest runs.
mkdir "$work/no-cgroups"
PORTHOLE_CGROUP_ROOT=$work/no-cgroups run_guest nocg --root "$root" --snapshot -- /bin/sh -c 'echo ran >/share/ran'
assert_eq ran "$(cat "$share/ran")" "without cgroups the guest still runs"
assert_eq 3 "$(grep -c 'cgroup: no .* hierarchy (v1) on this host: ' "$work/nocg.hv")" \
	"... after one line for each missing hierarchy (memory, pids, name=systemd)"
rm -f "$share"/*

# The v2 path on this v1 host: a hybrid host's unified hierarchy is a cgroup2
# mount (without controllers): the guest gets a cgroup2 tree of its own to write.
if [ -e /sys/fs/cgroup/unified/cgroup.controllers ]; then
	PORTHOLE_CGROUP_ROOT=/sys/fs/cgroup/unified run_guest cg2 --root "$root" --snapshot -- /bin/sh -c '
		[ -e /sys/fs/cgroup/cgroup.controllers ] && grep -q "^0::/$" /proc/self/cgroup &&
		mkdir /sys/fs/cgroup/init.scope && echo $$ >/sys/fs/cgroup/init.scope/cgroup.procs &&
		grep -q "^0::/init.scope$" /proc/self/cgroup && echo v2-ok >/share/cg2'
	assert_eq v2-ok "$(cat "$share/cg2" 2>/dev/null)" \
		"cgroup v2: the guest's cgroup namespace is rooted at its cgroup, mounted at /sys/fs/cgroup, and writable"
	grep -q 'cannot enable memory and pids' "$work/cg2.hv" &&
		ok "... and a v2 hierarchy without the controllers is said once" || die "no line about the missing v2 controllers"
	[ -z "$(ls -d /sys/fs/cgroup/unified/porthole-cg2-* 2>/dev/null)" ] &&
		ok "... and its cgroup (with what the guest made in it) is removed" || die "v2 cgroup left behind"
else
	ok "# SKIP no cgroup2 mount on this host to try the v2 path on"
fi

# ---- forced: a host without loop devices, id-mapped mounts, veth, or a directory for the vDSO ----
# PORTHOLE_HOST_LACKS takes each as missing where this host has it: the guest
# runs on all four fallbacks at once, each said in one line with why.  The
# loop device and the id-mapped mounts are root's (a capped disk and ranged
# ids need it).
if [ "$(id -u)" = 0 ]; then
	rm -f "$share"/*
	PORTHOLE_HOST_LACKS=loop,idmap,veth,vdso-dir start_vm lacks "$work/lacks.hv" --root "$root" \
		--share "$share:/share" -- /bin/sh -c '
		cat /proc/net/dev >/share/netdev
		grep -c porthole-vdso /proc/self/maps >/share/maps
		stat -c %u /bin/busybox >/share/owner
		echo kept >/kept
		until [ -e /share/go ]; do sleep 1; done
		i=0
		while [ $i -lt 200 ]; do date >/dev/null; i=$((i + 1)); done
		cat /kept >/share/ran
		until [ -e /share/end ]; do sleep 1; done'
	r0=$(ctl clock lacks --raw | sed -n 's/^reads=//p')
	touch "$share/go"
	wait_until 120 "the guest's 200 date calls" test -s "$share/ran"
	r1=$(ctl clock lacks --raw | sed -n 's/^reads=//p')
	touch "$share/end"
	wait_exit "$LAST_HV"
	assert_eq 0 "$HV_STATUS" "PORTHOLE_HOST_LACKS=loop,idmap,veth,vdso-dir: the VM ran its guest command"
	assert_eq kept "$(cat "$share/ran" 2>/dev/null)" "... which wrote to its / and read it back"
	assert_eq 4 "$(grep -c 'forced by PORTHOLE_HOST_LACKS' "$work/lacks.hv")" \
		"... after one line with the reason for each forced feature"
	grep -q "disk: no loop device for .*: forced by PORTHOLE_HOST_LACKS" "$work/lacks.hv" &&
		grep -q "disk: the guest's writes go to .*, without a cap" "$work/lacks.hv" &&
		ok "loop: no loop device, said, and the kept overlay is uncapped, said" ||
		die "no lines about the missing loop device and the uncapped overlay: $(cat "$work/lacks.hv")"
	grep -q "guest ids: no id-mapped mount of $root (forced by PORTHOLE_HOST_LACKS): its files owned by host root are nobody's" \
		"$work/lacks.hv" && ok "idmap: no id-mapped mount of the --root tree, said" ||
		die "no line about the missing id-mapped mount: $(cat "$work/lacks.hv")"
	assert_eq "$(cat /proc/sys/kernel/overflowuid)" "$(cat "$share/owner")" \
		"... and the tree's files (host root's) are nobody's in the guest"
	grep -q "guest network: creating the veth pair eth0: forced by PORTHOLE_HOST_LACKS; the guest has loopback only" \
		"$work/lacks.hv" && ok "veth: no veth pair, said: loopback only" ||
		die "no line about the missing veth pair: $(cat "$work/lacks.hv")"
	grep -q '^ *lo:' "$share/netdev" && ! grep -q 'eth0' "$share/netdev" &&
		ok "... and the guest's /proc/net/dev lists lo and no eth0" ||
		die "the guest's interfaces: $(cat "$share/netdev")"
	grep -q "guest clock: every read traps (no exec-capable directory .*: forced by PORTHOLE_HOST_LACKS)" \
		"$work/lacks.hv" && ok "vdso-dir: no directory for the vDSO file, said: every guest clock read traps" ||
		die "no line about the missing vDSO directory: $(cat "$work/lacks.hv")"
	assert_eq 0 "$(cat "$share/maps")" "... and the guest's processes map no Porthole vDSO"
	[ $((r1 - r0)) -ge 200 ] && ok "... and 200 date calls made $((r1 - r0)) trapped clock reads" ||
		die "200 date calls made $((r1 - r0)) trapped clock reads"
	rm -f "$share"/*

	# Without id-mapped mounts the kept overlay is still the capped disk image.
	PORTHOLE_HOST_LACKS=idmap run_guest noidmap --root "$root" --disk-size 16M -- /bin/sh -c \
		'dd if=/dev/zero of=/big bs=1M count=32 2>/share/dd-err; echo $? >/share/dd-st'
	[ "$(cat "$share/dd-st")" != 0 ] && grep -q 'No space left' "$share/dd-err" &&
		ok "PORTHOLE_HOST_LACKS=idmap: --disk-size 16M still holds (writing 32 MiB fails: ENOSPC)" ||
		die "the disk cap did not hold without id-mapped mounts: $(cat "$share/dd-err") $(cat "$work/noidmap.hv")"
	rm -f "$share"/*
else
	ok "# SKIP not root: the loop device and id-mapped mounts are root's"
fi
expect_fail 2 "'floppy' in PORTHOLE_HOST_LACKS .*loop, idmap, veth, vdso-dir" "PORTHOLE_HOST_LACKS=loop,floppy" -- \
	env PORTHOLE_HOST_LACKS=loop,floppy "$BIN/porthole-hv" run --name bad --root "$root" -- true

# Bad options get a clear refusal before anything starts.
expect_fail 2 "not the absolute path of a directory" "--root with a relative path" -- \
	"$BIN/porthole-hv" run --name bad --root relative/dir -- true
expect_fail 2 "go with --root" "--snapshot without --root" -- "$BIN/porthole-hv" run --name bad --snapshot -- true
expect_fail 2 "exclude each other" "--root with --host-root" -- \
	"$BIN/porthole-hv" run --name bad --root "$root" --host-root -- true
expect_fail 2 "16 to 4194304" "--pids 5" -- "$BIN/porthole-hv" run --name bad --pids 5 -- true
expect_fail 2 "bad --console" "--console tty" -- "$BIN/porthole-hv" run --name bad --console tty -- true

# --overlay still lays a tree over a --root guest's /.
mkdir -p "$work/ov/opt"
echo laid-over >"$work/ov/opt/x"
run_guest ov --root "$root" --snapshot --overlay "$work/ov" -- /bin/sh -c 'cat /opt/x >/share/ov'
assert_eq laid-over "$(cat "$share/ov")" "--overlay works over a --root guest"
rm -f "$share"/*

# Unprivileged, without subordinate ids (nobody has none): the guest still
# runs, on a single mapping and an uncapped kept overlay, each said in a line.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	# All of it where nobody can reach it (the checkout may be under a 0700 home).
	nob=$(mktemp -d /var/tmp/porthole-18-nobody.XXXXXX)
	chmod 0755 "$nob"
	cp "$BIN/porthole-hv" "$nob/"
	cp -a "$root" "$nob/root"
	mkdir -m 0755 "$nob/share"
	chown nobody "$nob/share"
	as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
	mkdir -m 0700 "$nob/run"
	chown nobody "$nob/run"
	as_nobody env XDG_RUNTIME_DIR="$nob/run" XDG_STATE_HOME="$nob/run/state" \
		"$nob/porthole-hv" run --name nob --root "$nob/root" --share "$nob/share:/share" -- \
		/bin/sh -c 'id -u >/share/nob-id' >"$work/nob.hv" 2>&1 || {
		rm -rf "$nob"
		die "an unprivileged --root guest failed: $(tail -5 "$work/nob.hv")"
	}
	assert_eq 0 "$(cat "$nob/share/nob-id")" "unprivileged: the guest runs as its root"
	rm -rf "$nob"
	grep -q "guest ids: no range of 65536 ids for you in /etc/subuid" "$work/nob.hv" &&
		ok "... after a line saying there is no id range for the user" || die "no line about the missing id range"
	grep -q "disk: the guest's writes go to .* without a cap" "$work/nob.hv" &&
		ok "... and one saying the kept overlay is uncapped" || die "no line about the uncapped overlay"
	rm -f "$share"/*
else
	ok "# SKIP not root: the unprivileged run is the only one here"
fi
