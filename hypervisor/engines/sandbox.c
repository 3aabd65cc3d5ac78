// SPDX-License-Identifier: MIT
/*
 * The guest sandbox of the trap engine.  See sandbox.h.
 *
 * Three processes and three user namespaces:
 *
 *   engine thread (host)
 *     `- helper: unshare(USER|NS) -> U1, maps "0 <our uid> 1"
 *          builds the guest root in U1's mount namespace:
 *            tmpfs on /tmp, host / rbound at /tmp/newroot, all of it made
 *            read-only, nosuid, nodev (mount_setattr AT_RECURSIVE), then
 *            fresh tmpfs on tmp, var/tmp, run, dev (with null, zero, full,
 *            random, urandom, tty bound in, a private devpts and shm), the
 *            --overlay tree laid over it (read-only overlayfs per
 *            directory), the shares bound read-write, and pivot_root into it;
 *          unshare(USER|NS|PID|NET|UTS|IPC|TIME) -> U2, maps "0 0 1":
 *            U1's mounts are now locked (MNT_LOCKED, MNT_LOCK_READONLY),
 *            so guest root can neither remount them writable nor unmount
 *            them to look underneath;
 *          forks (CLONE_UNTRACED: a debugger following our forks, strace -f,
 *          must leave pid 1 to the engine's PTRACE_SEIZE):
 *        `- guest pid 1: proc on /proc, sysfs on /sys (both read-only: the
 *             kernel insists, the host's are), hostname, lo up;
 *             unshare(USER|NS|UTS|IPC) -> U3, maps "0 0 1", which locks
 *             /proc too (else guest root could unmount it and find the
 *             host's /proc below);
 *             no_new_privs, seccomp filter, waits for the engine's
 *             PTRACE_SEIZE and go-ahead, closes every other fd, execvp.
 *
 * Guest root is root of U3 only: full capabilities over its own mounts,
 * hostname and IPC, none over the pid and net namespaces (owned by U2), so
 * it cannot mount another proc or sysfs.  Files it creates on shares belong
 * to the user running porthole-hv.
 *
 * Between fork and exec only async-signal-safe calls: errors go to stderr
 * with write(2), strings are prepared before fork.
 *
 * Start-up handshake, each message on a pipe of its own so that neither can
 * be taken for the other whatever order they come in: the helper writes pid
 * 1's host pid on `info`, pid 1 writes 'R' on `ready` once set up, the engine
 * seizes it and writes one byte on `go`.  The engine waits for each with a
 * deadline and a wake-up fd (trap_engine_stop()), and on any failure kills
 * the helper; pid 1 dies with it (PR_SET_PDEATHSIG), or at the latest reads
 * EOF on `go`.
 */
#define G_LOG_DOMAIN "porthole-hv"
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <asm/prctl.h>
#include <dirent.h>
#include <unistd.h>

#include "sandbox.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME	0x00000080
#endif
#ifndef __X32_SYSCALL_BIT
#define __X32_SYSCALL_BIT	0x40000000
#endif

/* Where the helper builds the guest root (in its own mount namespace only). */
#define STAGE		"/tmp"
#define NEWROOT		STAGE "/newroot"

#define EXIT_SETUP	125	/* helper or pid 1 could not set up the sandbox */

/* Everything the children need, prepared before fork. */
struct plan {
	char *const *argv;
	const char *hostname;
	const char *cwd;
	char uid_map[32], gid_map[32];
	size_t n_shares;
	const struct trap_share *shares;
	const char *overlay;
	/* NULL, or the guest vDSO's directory: its parent and its name in it */
	const char *vdso_dir, *vdso_parent, *vdso_dir_name;
	bool trace_exec_maps;	/* cpuid patching: stop mmap/mprotect with PROT_EXEC */
	int info_w, info_r, ready_w, ready_r, go_r, go_w;
	int alive_r;		/* pid 1's: EOF once the helper is gone */
};

/* ---- async-signal-safe helpers for the children ---- */

static void say(const char *a, const char *b, const char *c, int err)
{
	char buf[1024];
	size_t n = 0;
	const char *parts[] = { "porthole-hv: guest sandbox: ", a, b, c };

	for (size_t i = 0; i < G_N_ELEMENTS(parts); i++) {
		for (const char *p = parts[i]; p && *p && n < sizeof(buf) - 2; p++)
			buf[n++] = *p;
	}
	if (err) {
		const char *d = strerrordesc_np(err);

		for (const char *p = ": "; *p && n < sizeof(buf) - 2; p++)
			buf[n++] = *p;
		for (const char *p = d ? d : "error"; *p && n < sizeof(buf) - 2; p++)
			buf[n++] = *p;
	}
	buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, n) < 0) {
		/* nowhere left to report it */
	}
}

static void __attribute__((noreturn)) die(const char *a, const char *b, int err)
{
	say(a, b, NULL, err);
	_exit(EXIT_SETUP);
}

static int write_file_at(int dirfd, const char *path, const char *text)
{
	int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC);
	ssize_t len = (ssize_t)strlen(text), n;
	int err;

	if (fd < 0)
		return -errno;
	n = write(fd, text, (size_t)len);
	err = errno;
	close(fd);
	return n == len ? 0 : -(n < 0 ? err : EIO);
}

/*
 * Map root of the namespace just created onto our uid/gid in the parent.
 * Through `procfd`, a /proc opened before any of this: the /proc the
 * process can see by then is read-only.
 */
static void write_maps(int procfd, const char *uid_map, const char *gid_map)
{
	int err;

	err = write_file_at(procfd, "self/setgroups", "deny");
	if (err && err != -ENOENT)
		die("writing /proc/self/setgroups", NULL, -err);
	err = write_file_at(procfd, "self/uid_map", uid_map);
	if (err)
		die("writing /proc/self/uid_map", NULL, -err);
	err = write_file_at(procfd, "self/gid_map", gid_map);
	if (err)
		die("writing /proc/self/gid_map", NULL, -err);
}

static void set_pdeathsig(pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(EXIT_SETUP);
}

static void explain_userns_failure(int err)
{
	say("cannot create a user namespace", NULL, NULL, err);
	say("the trap engine needs unprivileged user namespaces: check sysctls ",
	    "user.max_user_namespaces (> 0), kernel.unprivileged_userns_clone (= 1, Debian) ",
	    "and kernel.apparmor_restrict_unprivileged_userns (= 0, Ubuntu)", 0);
}

/* ---- building the guest root (helper, in U1) ---- */

static int do_mount(const char *src, const char *dst, const char *type, unsigned long flags,
		    const char *data)
{
	if (mount(src, dst, type, flags, data)) {
		int err = errno;

		say("mount ", dst, NULL, err);
		return -1;
	}
	return 0;
}

/* /proc/self/mountinfo into buf, NUL-terminated: 0, or -1. */
static int read_mountinfo(char *buf, size_t size)
{
	int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	size_t len = 0;
	ssize_t n;

	if (fd < 0)
		return -1;
	while (len < size - 1 && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	return 0;
}

/*
 * The mount point of the mountinfo line at *cursor (its octal escapes
 * decoded) into `path`; moves *cursor to the next line.  False at the end.
 */
static bool next_mount_point(char **cursor, char *path, size_t size)
{
	while (*cursor && **cursor) {
		char *f = *cursor, *next = strchr(f, '\n');
		size_t plen = 0;

		if (next)
			*next++ = '\0';
		*cursor = next;
		/* id parent major:minor root mountpoint ... */
		for (int i = 0; i < 4 && f; i++) {
			f = strchr(f, ' ');
			if (f)
				f++;
		}
		if (!f)
			continue;
		for (; *f && *f != ' ' && plen < size - 1; f++) {
			if (f[0] == '\\' && f[1] >= '0' && f[1] <= '3' && f[2] && f[3]) {
				path[plen++] = (char)(((f[1] - '0') << 6) | ((f[2] - '0') << 3) |
						      (f[3] - '0'));
				f += 3;
			} else {
				path[plen++] = *f;
			}
		}
		path[plen] = '\0';
		return true;
	}
	return false;
}

/*
 * Fallback when mount_setattr() is missing: remount each mount under
 * NEWROOT read-only, keeping the flags the kernel would refuse to drop.
 */
static int remount_tree_readonly(void)
{
	char buf[65536], path[PATH_MAX], *cursor = buf;
	int bad = 0;

	if (read_mountinfo(buf, sizeof(buf)))
		return -1;
	while (next_mount_point(&cursor, path, sizeof(path))) {
		struct statvfs sv;
		unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV;

		if (strncmp(path, NEWROOT, strlen(NEWROOT)) ||
		    (path[strlen(NEWROOT)] != '\0' && path[strlen(NEWROOT)] != '/'))
			continue;
		if (statvfs(path, &sv) == 0) {
			if (sv.f_flag & ST_NOEXEC)
				flags |= MS_NOEXEC;
			if (sv.f_flag & ST_NOATIME)
				flags |= MS_NOATIME;
			if (sv.f_flag & ST_NODIRATIME)
				flags |= MS_NODIRATIME;
			if (sv.f_flag & ST_RELATIME)
				flags |= MS_RELATIME;
		}
		if (mount(NULL, path, NULL, flags, NULL) && errno != ENOENT && errno != EACCES) {
			say("remounting read-only: ", path, NULL, errno);
			bad = -1;
		}
	}
	return bad;
}

static int make_tree_readonly(void)
{
	struct mount_attr attr = {
		.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
	};

	if (syscall(SYS_mount_setattr, AT_FDCWD, NEWROOT, AT_RECURSIVE, &attr, sizeof(attr)) == 0)
		return 0;
	if (errno != ENOSYS && errno != EINVAL) {
		say("mount_setattr on the guest root", NULL, NULL, errno);
		return -1;
	}
	return remount_tree_readonly();
}

static int bind_fd(int src_fd, int dst_fd, const char *what)
{
	char src[64], dst[64];

	snprintf(src, sizeof(src), "/proc/self/fd/%d", src_fd);
	snprintf(dst, sizeof(dst), "/proc/self/fd/%d", dst_fd);
	if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL)) {
		say("binding ", what, NULL, errno);
		return -1;
	}
	return 0;
}

/* The guest root being built, NEWROOT (reopened when a mirror covers it). */
static int root_fd = -1;

static void root_open(void)
{
	if (root_fd >= 0)
		close(root_fd);
	root_fd = open(NEWROOT, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		die("open " NEWROOT, NULL, errno);
}

/*
 * openat2() confined to the guest root: symlinks and ".." resolve as they
 * will for the guest.  An fd, or -errno.
 */
static int in_root(const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, root_fd, path, &how, sizeof(how));

	return fd >= 0 ? fd : -errno;
}

/*
 * Directories of the read-only host view replaced by a writable mirror to
 * make room for a share's mount point; read-only again once every share is
 * in place.
 */
#define MIRROR_MAX		16
#define MIRROR_MAX_ENTRIES	1024
static char mirrors[MIRROR_MAX][PATH_MAX];
static int n_mirrors;

struct mirror_entry {
	char name[256];
	int fd;			/* O_PATH of the original; -1 for a symlink */
	char *link;
	bool dir;
};

/*
 * Cover directory `dir` of the guest root with a tmpfs holding the same
 * entries (each bind-mounted from the original, symlinks copied), so that a
 * new mount point can be made in it.
 */
static int mirror_dir(const char *dir)
{
	struct mirror_entry *ents;
	struct dirent *de;
	struct stat st;
	char data[64], at[64];
	int dfd, rd, nfd, n = 0, ret = -1;
	DIR *d;

	if (n_mirrors == MIRROR_MAX) {
		say("too many shares outside existing directories", NULL, NULL, 0);
		return -1;
	}
	dfd = in_root(dir, O_PATH | O_DIRECTORY);
	if (dfd < 0) {
		say("mirroring ", dir, NULL, -dfd);
		return -1;
	}
	rd = in_root(dir, O_RDONLY | O_DIRECTORY);
	if (rd < 0 || fstat(dfd, &st)) {
		say("mirroring ", dir, NULL, rd < 0 ? -rd : errno);
		close(dfd);
		return -1;
	}
	ents = calloc(MIRROR_MAX_ENTRIES, sizeof(*ents));
	d = fdopendir(rd);
	if (!ents || !d) {
		say("mirroring ", dir, NULL, ENOMEM);
		_exit(EXIT_SETUP);
	}
	while ((de = readdir(d))) {
		struct mirror_entry *e = &ents[n];
		struct stat est;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == MIRROR_MAX_ENTRIES) {
			say("a share's mount point would go in ", dir,
			    ", which has too many entries to mirror", 0);
			goto out;
		}
		if (fstatat(rd, de->d_name, &est, AT_SYMLINK_NOFOLLOW))
			continue;
		snprintf(e->name, sizeof(e->name), "%s", de->d_name);
		e->fd = -1;
		if (S_ISLNK(est.st_mode)) {
			char target[PATH_MAX];
			ssize_t len = readlinkat(rd, de->d_name, target, sizeof(target) - 1);

			if (len < 0)
				continue;
			target[len] = '\0';
			e->link = strdup(target);
			if (!e->link)
				continue;
		} else {
			e->fd = openat(rd, de->d_name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
			if (e->fd < 0)
				continue;
			e->dir = S_ISDIR(est.st_mode);
		}
		n++;
	}
	snprintf(data, sizeof(data), "mode=%o,size=1m", (unsigned int)(st.st_mode & 07777));
	snprintf(at, sizeof(at), "/proc/self/fd/%d", dfd);
	if (mount("tmpfs", at, "tmpfs", MS_NOSUID | MS_NODEV, data)) {
		say("tmpfs on ", dir, NULL, errno);
		goto out;
	}
	if (!strcmp(dir, "/"))
		root_open();	/* the old fd still names what is under the tmpfs */
	nfd = in_root(dir, O_PATH | O_DIRECTORY);
	if (nfd < 0)
		goto out;
	for (int i = 0; i < n; i++) {
		struct mirror_entry *e = &ents[i];
		int t;

		if (e->link) {
			if (symlinkat(e->link, nfd, e->name))
				say("mirroring ", dir, " (a symlink)", errno);
			continue;
		}
		if (e->dir) {
			mkdirat(nfd, e->name, 0755);
		} else {
			t = openat(nfd, e->name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
			if (t >= 0)
				close(t);
		}
		t = openat(nfd, e->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (t < 0 || bind_fd(e->fd, t, e->name)) {
			if (t >= 0)
				close(t);
			close(nfd);
			goto out;
		}
		close(t);
	}
	close(nfd);
	snprintf(mirrors[n_mirrors++], PATH_MAX, "%s", dir);
	ret = 0;
out:
	for (int i = 0; i < n; i++) {
		if (ents[i].fd >= 0)
			close(ents[i].fd);
		free(ents[i].link);
	}
	free(ents);
	closedir(d);
	close(dfd);
	return ret;
}

/* The mirrors were writable only while the shares' mount points were made. */
static void seal_mirrors(void)
{
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };

	for (int i = 0; i < n_mirrors; i++) {
		int fd = in_root(mirrors[i], O_PATH | O_DIRECTORY);

		if (fd < 0 ||
		    syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)))
			die("making read-only again: ", mirrors[i], fd < 0 ? -fd : errno);
		close(fd);
	}
}

/* Create `name` in directory `dir` (a path in the guest root; "" is /). */
static int create_in(const char *dir, const char *name, bool as_file)
{
	const char *d = dir[0] ? dir : "/";

	for (int attempt = 0; attempt < 2; attempt++) {
		int pfd = in_root(d, O_PATH | O_DIRECTORY), err = 0;

		if (pfd < 0)
			return pfd;
		if (as_file) {
			int fd = openat(pfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC |
					O_NOFOLLOW, 0644);

			if (fd < 0)
				err = errno;
			else
				close(fd);
		} else if (mkdirat(pfd, name, 0755)) {
			err = errno;
		}
		close(pfd);
		if (!err || err == EEXIST)
			return 0;
		if (err != EROFS || attempt)
			return -err;
		/* Part of the read-only host view: mirror the directory, retry. */
		if (mirror_dir(d))
			return -EROFS;
	}
	return -EROFS;
}

/*
 * Open `path` (absolute) inside the guest root.  With `create`, missing
 * components are made as directories (the last one as a directory or, for
 * `as_file`, an empty file).
 */
static int open_in_root(const char *path, bool create, bool as_file)
{
	char prefix[PATH_MAX];
	size_t len = strlen(path);
	int fd;

	if (len >= sizeof(prefix))
		return -ENAMETOOLONG;
	fd = in_root(path, O_PATH);
	if (fd >= 0 || fd != -ENOENT || !create)
		return fd;

	for (size_t i = 1; i <= len; i++) {
		char *slash;
		int err;

		if (i < len && path[i] != '/')
			continue;
		if (path[i - 1] == '/')
			continue;	/* "//" or a trailing slash */
		memcpy(prefix, path, i);
		prefix[i] = '\0';
		fd = in_root(prefix, O_PATH);
		if (fd >= 0) {
			close(fd);
			continue;
		}
		if (fd != -ENOENT)
			return fd;
		slash = strrchr(prefix, '/');
		*slash = '\0';
		err = create_in(prefix, slash + 1, i == len && as_file);
		if (err)
			return err;
	}
	return in_root(path, O_PATH);
}

static int setup_dev(void)
{
	static const char *const nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };
	static const char *const links[][2] = {
		{ "/proc/self/fd", "fd" }, { "/proc/self/fd/0", "stdin" },
		{ "/proc/self/fd/1", "stdout" }, { "/proc/self/fd/2", "stderr" },
		{ "pts/ptmx", "ptmx" },
	};
	int devfd;

	if (do_mount("tmpfs", NEWROOT "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=1m"))
		return -1;
	devfd = open(NEWROOT "/dev", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (devfd < 0)
		return -1;
	for (size_t i = 0; i < G_N_ELEMENTS(nodes); i++) {
		char src[32], dst[64];
		int fd;

		snprintf(src, sizeof(src), "/dev/%s", nodes[i]);
		snprintf(dst, sizeof(dst), NEWROOT "/dev/%s", nodes[i]);
		fd = openat(devfd, nodes[i], O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666);
		if (fd >= 0)
			close(fd);
		if (access(src, F_OK))
			continue;
		if (mount(src, dst, NULL, MS_BIND, NULL)) {
			say("binding ", src, NULL, errno);
			close(devfd);
			return -1;
		}
	}
	for (size_t i = 0; i < G_N_ELEMENTS(links); i++) {
		if (symlinkat(links[i][0], devfd, links[i][1]) && errno != EEXIST) {
			say("/dev/", links[i][1], NULL, errno);
			close(devfd);
			return -1;
		}
	}
	mkdirat(devfd, "pts", 0755);
	mkdirat(devfd, "shm", 01777);
	close(devfd);
	if (mount("devpts", NEWROOT "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
		  "newinstance,ptmxmode=0666,mode=0620"))
		say("no private devpts (no ptys in the guest)", NULL, NULL, errno);
	if (do_mount("tmpfs", NEWROOT "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"))
		return -1;
	return 0;
}

static int setup_shares(const struct plan *p, const int *src_fds)
{
	for (size_t i = 0; i < p->n_shares; i++) {
		const struct trap_share *s = &p->shares[i];
		const char *guest = s->guest_dir ? s->guest_dir : s->host_dir;
		struct stat st;
		int dst;

		if (fstat(src_fds[i], &st)) {
			say("share ", s->host_dir, NULL, errno);
			return -1;
		}
		dst = open_in_root(guest, true, !S_ISDIR(st.st_mode));
		if (dst < 0) {
			say("share ", s->host_dir, NULL, 0);
			die("  no mount point at guest path ", guest, -dst);
		}
		if (bind_fd(src_fds[i], dst, guest)) {
			close(dst);
			return -1;
		}
		close(dst);
		/* The fd named what is now under the mount: look again, then harden. */
		dst = open_in_root(guest, false, false);
		if (dst >= 0) {
			struct mount_attr attr = {
				.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
			};

			syscall(SYS_mount_setattr, dst, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr,
				sizeof(attr));
			close(dst);
		}
		close(src_fds[i]);
	}
	return 0;
}

/*
 * The guest vDSO file (trap-clock.h): bound read-only, so no guest process
 * can write the clock page the others read (the mount is locked read-only
 * once the guest's user namespace is made); executable, as the image in it
 * is mapped so.  Where that cannot be done (an --overlay tree covering
 * /run read-only, no mount_setattr), the guest goes without: the engine
 * finds no file and its processes' clock reads trap.
 */
static void setup_vdso_file(int src_fd)
{
	struct mount_attr attr = {
		.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
	};
	int dst = open_in_root(TRAP_VDSO_GUEST_PATH, true, true);
	bool readonly;

	if (dst < 0) {
		say("no mount point for the guest vDSO at ", TRAP_VDSO_GUEST_PATH, NULL, -dst);
		return;
	}
	if (bind_fd(src_fd, dst, TRAP_VDSO_GUEST_PATH)) {
		close(dst);
		return;
	}
	close(dst);
	/* The fd named what is now under the mount: look again. */
	dst = open_in_root(TRAP_VDSO_GUEST_PATH, false, false);
	readonly = dst >= 0 &&
		   (!syscall(SYS_mount_setattr, dst, "", AT_EMPTY_PATH, &attr, sizeof(attr)) ||
		    !mount(NULL, NEWROOT TRAP_VDSO_GUEST_PATH, NULL,
			   MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL));
	if (dst >= 0)
		close(dst);
	if (!readonly) {
		/* A writable clock page would let one guest process lie to the others: none. */
		say("making the guest vDSO read-only", NULL, NULL, errno);
		umount2(NEWROOT TRAP_VDSO_GUEST_PATH, MNT_DETACH);
	}
}

/* ---- --overlay: a host tree laid over the guest's directories ---- */

/* The overlay tree, bound here before the guest root hides the host's /tmp. */
#define OVERLAY_SRC		STAGE "/overlay"
#define OVERLAY_DEPTH_MAX	8

/*
 * Whether a mount lies strictly below `dir` (a path of this mount
 * namespace): an overlayfs on `dir` would hide it, since overlayfs layers
 * don't cross mount points.
 */
static bool mounts_below(const char *dir)
{
	static char buf[262144];
	char path[PATH_MAX], *cursor = buf;
	size_t dlen = strlen(dir);
	bool found = false;

	if (read_mountinfo(buf, sizeof(buf)))
		return false;
	while (!found && next_mount_point(&cursor, path, sizeof(path)))
		found = !strncmp(path, dir, dlen) && path[dlen] == '/';
	return found;
}

/* Bind `src_fd` (a file or directory of the tree) over guest path `guest`, read-only. */
static int overlay_bind(int src_fd, const char *guest, bool is_dir)
{
	struct mount_attr attr = {
		.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
	};
	int dst = open_in_root(guest, true, !is_dir);

	if (dst < 0) {
		say("--overlay: no mount point at guest path ", guest, NULL, -dst);
		return -1;
	}
	if (bind_fd(src_fd, dst, guest)) {
		close(dst);
		return -1;
	}
	close(dst);
	/* The fd named what is now under the mount: look again. */
	dst = open_in_root(guest, false, false);
	if (dst < 0 ||
	    syscall(SYS_mount_setattr, dst, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr))) {
		say("--overlay: making read-only: ", guest, NULL, dst < 0 ? -dst : errno);
		if (dst >= 0)
			close(dst);
		return -1;
	}
	close(dst);
	return 0;
}

/*
 * Lay directory `rel` of the tree ("" for its top, else "/a/b") over the
 * guest's.  Each subdirectory becomes a read-only overlayfs, the tree's on
 * top of the guest's, unless mounts lie below the guest's (they would
 * disappear under it): then it goes one level down, where files are bound
 * over the guest's one by one.  Directories the guest lacks are bound in.
 * Guest directories that are symlinks (merged /usr: /lib -> usr/lib) come
 * last, so that they land on top of the merged target, not under it.
 */
static int overlay_dir(const char *rel, int depth)
{
	char src[PATH_MAX], child[PATH_MAX], target[PATH_MAX], at[64], data[128];
	int ret = 0;

	snprintf(src, sizeof(src), OVERLAY_SRC "%s", rel);
	for (int pass = 0; pass < 2 && !ret; pass++) {
		struct dirent *de;
		DIR *d = opendir(src);

		if (!d) {
			say("--overlay: ", src, NULL, errno);
			return -1;
		}
		while (!ret && (de = readdir(d))) {
			struct stat sst, gst;
			bool guest_link;
			int sfd, gfd, tfd;
			ssize_t n;

			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if (strpbrk(de->d_name, ":,\\")) {
				say("--overlay: a name overlayfs cannot take: ", de->d_name, NULL, 0);
				ret = -1;
				break;
			}
			if (snprintf(child, sizeof(child), "%s/%s", rel, de->d_name) >=
			    (int)sizeof(child)) {
				say("--overlay: ", rel, NULL, ENAMETOOLONG);
				ret = -1;
				break;
			}
			gfd = in_root(child, O_PATH | O_NOFOLLOW);
			guest_link = gfd >= 0 && !fstat(gfd, &gst) && S_ISLNK(gst.st_mode);
			if (gfd >= 0)
				close(gfd);
			if (guest_link != (pass == 1))
				continue;
			sfd = openat(dirfd(d), de->d_name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
			if (sfd < 0 || fstat(sfd, &sst)) {
				say("--overlay: ", child, NULL, errno);
				if (sfd >= 0)
					close(sfd);
				ret = -1;
				break;
			}
			if (!S_ISDIR(sst.st_mode)) {
				if (S_ISREG(sst.st_mode))
					ret = overlay_bind(sfd, child, false);
				else
					say("--overlay: skipping ", child,
					    " (only files and directories go next to mounts)", 0);
				close(sfd);
				continue;
			}
			tfd = in_root(child, O_PATH | O_DIRECTORY);
			if (tfd == -ENOENT) {
				ret = overlay_bind(sfd, child, true);
				close(sfd);
				continue;
			}
			if (tfd < 0) {
				say("--overlay: guest path ", child, NULL, -tfd);
				close(sfd);
				ret = -1;
				break;
			}
			snprintf(at, sizeof(at), "/proc/self/fd/%d", tfd);
			n = readlink(at, target, sizeof(target) - 1);
			target[n > 0 ? n : 0] = '\0';
			if (depth < OVERLAY_DEPTH_MAX && n > 0 && mounts_below(target)) {
				ret = overlay_dir(child, depth + 1);
			} else {
				/* Both layers through fds: no path to quote, symlinks resolved. */
				snprintf(data, sizeof(data), "lowerdir=/proc/self/fd/%d:/proc/self/fd/%d",
					 sfd, tfd);
				if (mount("overlay", at, "overlay", MS_RDONLY | MS_NOSUID | MS_NODEV,
					  data)) {
					say("--overlay: overlayfs on guest ", child, NULL, errno);
					ret = -1;
				}
			}
			close(tfd);
			close(sfd);
		}
		closedir(d);
	}
	return ret;
}

/* `tree_fd` (O_PATH, or -1 for no --overlay): bind it at OVERLAY_SRC, lay it over. */
static int setup_overlay(int tree_fd)
{
	int dst;

	if (tree_fd < 0)
		return 0;
	if (mkdir(OVERLAY_SRC, 0700)) {
		say("mkdir " OVERLAY_SRC, NULL, NULL, errno);
		return -1;
	}
	dst = open(OVERLAY_SRC, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dst < 0 || bind_fd(tree_fd, dst, "the --overlay tree")) {
		if (dst >= 0)
			close(dst);
		return -1;
	}
	close(dst);
	close(tree_fd);
	return overlay_dir("", 0);
}

static void build_root(const struct plan *p)
{
	int *src_fds = NULL, tree, overlay_fd = -1, vdso_fd = -1, vdso_dir_fd = -1;
	int vdso_parent_fd = -1;

	/* Shares first: the tmpfs on STAGE may hide them. */
	if (p->n_shares) {
		src_fds = calloc(p->n_shares, sizeof(int));
		if (!src_fds)
			die("out of memory", NULL, 0);
	}
	for (size_t i = 0; i < p->n_shares; i++) {
		src_fds[i] = open(p->shares[i].host_dir, O_PATH | O_CLOEXEC);
		if (src_fds[i] < 0)
			die("share ", p->shares[i].host_dir, errno);
	}
	if (p->vdso_dir) {
		vdso_parent_fd = open(p->vdso_parent, O_PATH | O_DIRECTORY | O_CLOEXEC);
		vdso_dir_fd = open(p->vdso_dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (vdso_parent_fd < 0 || vdso_dir_fd < 0)
			die("the guest vDSO's directory ", p->vdso_dir, errno);
		vdso_fd = openat(vdso_dir_fd, TRAP_VDSO_FILE_NAME, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (vdso_fd < 0)
			die("the guest vDSO in ", p->vdso_dir, errno);
	}
	if (p->overlay) {
		overlay_fd = open(p->overlay, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (overlay_fd < 0)
			die("--overlay ", p->overlay, errno);
	}

	/*
	 * A detached copy of the host's tree, taken before the staging tmpfs
	 * exists so that it is not part of it (a plain rbind where
	 * open_tree() is missing).
	 */
	tree = (int)syscall(SYS_open_tree, AT_FDCWD, "/",
			    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (do_mount("tmpfs", STAGE, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700,size=1m"))
		_exit(EXIT_SETUP);
	if (mkdir(NEWROOT, 0755))
		die("mkdir " NEWROOT, NULL, errno);
	if (tree >= 0) {
		if (syscall(SYS_move_mount, tree, "", AT_FDCWD, NEWROOT, MOVE_MOUNT_F_EMPTY_PATH))
			die("attaching the copy of the host's tree", NULL, errno);
		close(tree);
	} else if (do_mount("/", NEWROOT, NULL, MS_BIND | MS_REC, NULL)) {
		_exit(EXIT_SETUP);
	}
	if (make_tree_readonly())
		die("cannot make the guest's view of the host read-only", NULL, 0);

	if (do_mount("tmpfs", NEWROOT "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") ||
	    do_mount("tmpfs", NEWROOT "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755"))
		_exit(EXIT_SETUP);
	if (access(NEWROOT "/var/tmp", F_OK) == 0 &&
	    do_mount("tmpfs", NEWROOT "/var/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"))
		_exit(EXIT_SETUP);
	root_open();
	if (setup_dev() || setup_overlay(overlay_fd) || setup_shares(p, src_fds))
		_exit(EXIT_SETUP);
	if (vdso_fd >= 0) {
		setup_vdso_file(vdso_fd);
		close(vdso_fd);
		/* Bound: the host needs neither file nor directory any more (the engine may not unlink). */
		if (unlinkat(vdso_dir_fd, TRAP_VDSO_FILE_NAME, 0) ||
		    unlinkat(vdso_parent_fd, p->vdso_dir_name, AT_REMOVEDIR))
			say("removing the guest vDSO's file from the host", NULL, NULL, errno);
		close(vdso_dir_fd);
		close(vdso_parent_fd);
	}
	seal_mirrors();
	close(root_fd);
	free(src_fds);

	if (chdir(NEWROOT))
		die("chdir " NEWROOT, NULL, errno);
	if (syscall(SYS_pivot_root, ".", "."))
		die("pivot_root", NULL, errno);
	if (umount2(".", MNT_DETACH))
		die("detaching the host root", NULL, errno);
	if (chdir("/"))
		die("chdir /", NULL, errno);
}

/* ---- the guest's pid 1, before exec ---- */

/* Filter offsets into struct seccomp_data. */
#define SD_NR		offsetof(struct seccomp_data, nr)
#define SD_ARCH		offsetof(struct seccomp_data, arch)
#define SD_ARG_LO(n)	(offsetof(struct seccomp_data, args) + 8 * (n))
#define SD_ARG_HI(n)	(offsetof(struct seccomp_data, args) + 8 * (n) + 4)

/* Instruction indexes, so jumps can be written as "to label". */
enum {
	F_LD_ARCH, F_ARCH, F_KILL, F_LD_NR, F_X32, F_CLONE3, F_PTRACE, F_CLONE, F_ARCH_PRCTL,
	F_IOCTL, F_CLOCK_GETTIME, F_GETTIMEOFDAY, F_TIME, F_CLOCK_SETTIME, F_SETTIMEOFDAY,
	F_ADJTIMEX, F_CLOCK_ADJTIME, F_MMAP, F_MPROTECT, F_PKEY_MPROTECT, F_SETGROUPS, F_ALLOW0,
	L_CLONE, L_CLONE_TEST,
	L_PROT, L_PROT_TEST, L_EXEC_MAP,
	L_ARCH, L_ARCH_TEST, L_ARCH_LO, L_ARCH_LO_TEST, L_ARCH_HI, L_ARCH_HI_TEST,
	L_IOCTL, L_IOCTL_STI, L_IOCTL_LINUX,
	L_CLOCKID, L_CLOCKID_MAX, L_CLOCKID_PROCESS, L_CLOCKID_THREAD,
	L_TRACE, L_ALLOW, L_EPERM, L_ENOSYS, L_NO_EFFECT, F_LEN
};
#define TO(from, to)	((to) - (from) - 1)

/*
 * Allow everything except what would let the guest out from under the
 * tracer or back to native CPUID:
 *  - any ABI but x86-64 (int 0x80 and x32 numbers would bypass the rest);
 *  - clone with CLONE_UNTRACED (no ptrace event: an untraced process);
 *    clone3 hides its flags in memory, so it is ENOSYS (glibc falls back);
 *  - ptrace (PTRACE_TRACEME etc.);
 *  - arch_prctl(ARCH_SET_CPUID, non-zero): turning CPUID faulting off;
 *  - ioctl TIOCSTI / TIOCLINUX: typing into the host terminal.
 * setgroups returns 0 without effect: the guest's supplementary group list is
 * empty and stays so (its user namespaces refuse setgroups, as any whose maps
 * an unprivileged user could write), which is never more than a caller asked
 * for; programs that set groups before running a command (xterm's
 * initgroups, su, login) would otherwise die on EPERM.
 * and hand the engine the syscalls that read or set the clock (RET_TRACE:
 * the guest has its own clock, trap-clock.c), clock_gettime only for the
 * clocks it keeps: ids 0..11 but the CPU-time clocks 2 and 3; and, when
 * cpuid is patched, those that make memory executable (mmap, mprotect,
 * pkey_mprotect with PROT_EXEC in their prot argument), so the engine can
 * patch what they mapped.  Every other call runs without a stop.
 */
static const struct sock_filter seccomp_insns[F_LEN] = {
	[F_LD_ARCH] = BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SD_ARCH),
	[F_ARCH] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64,
			    TO(F_ARCH, F_LD_NR), TO(F_ARCH, F_KILL)),
	[F_KILL] = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
	[F_LD_NR] = BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SD_NR),
	[F_X32] = BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, __X32_SYSCALL_BIT,
			   TO(F_X32, L_ENOSYS), 0),
	[F_CLONE3] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3,
			      TO(F_CLONE3, L_ENOSYS), 0),
	[F_PTRACE] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ptrace,
			      TO(F_PTRACE, L_EPERM), 0),
	[F_CLONE] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone,
			     TO(F_CLONE, L_CLONE), 0),
	[F_ARCH_PRCTL] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_arch_prctl,
				  TO(F_ARCH_PRCTL, L_ARCH), 0),
	[F_IOCTL] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl,
			     TO(F_IOCTL, L_IOCTL), 0),
	[F_CLOCK_GETTIME] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clock_gettime,
				     TO(F_CLOCK_GETTIME, L_CLOCKID), 0),
	[F_GETTIMEOFDAY] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_gettimeofday,
				    TO(F_GETTIMEOFDAY, L_TRACE), 0),
	[F_TIME] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_time, TO(F_TIME, L_TRACE), 0),
	[F_CLOCK_SETTIME] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clock_settime,
				     TO(F_CLOCK_SETTIME, L_TRACE), 0),
	[F_SETTIMEOFDAY] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_settimeofday,
				    TO(F_SETTIMEOFDAY, L_TRACE), 0),
	[F_ADJTIMEX] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_adjtimex,
				TO(F_ADJTIMEX, L_TRACE), 0),
	[F_CLOCK_ADJTIME] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clock_adjtime,
				     TO(F_CLOCK_ADJTIME, L_TRACE), 0),
	[F_MMAP] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mmap, TO(F_MMAP, L_PROT), 0),
	[F_MPROTECT] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mprotect,
				TO(F_MPROTECT, L_PROT), 0),
	[F_PKEY_MPROTECT] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_pkey_mprotect,
				     TO(F_PKEY_MPROTECT, L_PROT), 0),
	[F_SETGROUPS] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_setgroups,
				 TO(F_SETGROUPS, L_NO_EFFECT), 0),
	[F_ALLOW0] = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),

	/* prot is the third argument of all three */
	[L_PROT] = BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SD_ARG_LO(2)),
	[L_PROT_TEST] = BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, PROT_EXEC,
				 TO(L_PROT_TEST, L_EXEC_MAP), TO(L_PROT_TEST, L_ALLOW)),
	/* install_seccomp() makes this a stop when cpuid is patched */
	[L_EXEC_MAP] = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),

	[L_CLONE] = BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SD_ARG_LO(0)),
	[L_CLONE_TEST] = BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_UNTRACED,
				  TO(L_CLONE_TEST, L_EPERM), TO(L_CLONE_TEST, L_ALLOW)),

	[L_ARCH] = BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SD_ARG_LO(0)),
	[L_ARCH_TEST] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH_SET_CPUID,
				 0, TO(L_ARCH_TEST, L_ALLOW)),
	[L_ARCH_LO] = BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SD_ARG_LO(1)),
	[L_ARCH_LO_TEST] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, TO(L_ARCH_LO_TEST, L_EPERM)),
	[L_ARCH_HI] = BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SD_ARG_HI(1)),
	[L_ARCH_HI_TEST] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0,
				    TO(L_ARCH_HI_TEST, L_ALLOW), TO(L_ARCH_HI_TEST, L_EPERM)),

	[L_IOCTL] = BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SD_ARG_LO(1)),
	[L_IOCTL_STI] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCSTI, TO(L_IOCTL_STI, L_EPERM), 0),
	[L_IOCTL_LINUX] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCLINUX,
				   TO(L_IOCTL_LINUX, L_EPERM), TO(L_IOCTL_LINUX, L_ALLOW)),

	[L_CLOCKID] = BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SD_ARG_LO(0)),
	/* unsigned: negative ids (per-process CPU clocks, fd clocks) are >= 12 too */
	[L_CLOCKID_MAX] = BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, CLOCK_TAI + 1,
				   TO(L_CLOCKID_MAX, L_ALLOW), 0),
	[L_CLOCKID_PROCESS] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, CLOCK_PROCESS_CPUTIME_ID,
				       TO(L_CLOCKID_PROCESS, L_ALLOW), 0),
	[L_CLOCKID_THREAD] = BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, CLOCK_THREAD_CPUTIME_ID,
				      TO(L_CLOCKID_THREAD, L_ALLOW), TO(L_CLOCKID_THREAD, L_TRACE)),

	[L_TRACE] = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE | SECCOMP_DATA_CLOCK),

	[L_ALLOW] = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	[L_EPERM] = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	[L_ENOSYS] = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
	/* errno 0: the call returns 0 and is not run */
	[L_NO_EFFECT] = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 0),
};

static void install_seccomp(bool trace_exec_maps)
{
	struct sock_filter insns[F_LEN];
	struct sock_fprog prog = { .len = F_LEN, .filter = insns };

	memcpy(insns, seccomp_insns, sizeof(insns));
	if (trace_exec_maps)
		insns[L_EXEC_MAP] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
				SECCOMP_RET_TRACE | SECCOMP_DATA_EXEC_MAP);

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		die("PR_SET_NO_NEW_PRIVS", NULL, errno);
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog))
		die("installing the seccomp filter", NULL, errno);
}

static void loopback_up(void)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		die("socket", NULL, errno);
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "lo", 3);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		if (ioctl(s, SIOCSIFFLAGS, &ifr))
			say("bringing up lo", NULL, NULL, errno);
	}
	close(s);
}

static void mount_pseudo(const char *type, const char *dst, bool required)
{
	static const unsigned long base = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY;

	if (mount(type, dst, type, base, NULL) == 0)
		return;
	if (required)
		die("mounting the guest's ", dst, errno);
}

static void __attribute__((noreturn)) guest_pid1(const struct plan *p, int procfd)
{
	struct pollfd alive = { .fd = p->alive_r, .events = POLLIN };
	sigset_t none;
	char go;
	ssize_t n;

	/*
	 * Our parent is outside our pid namespace, so getppid() is 0 either
	 * way: the helper's end of `alive` tells whether it died before
	 * PDEATHSIG was armed.
	 */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (poll(&alive, 1, 0) != 0)
		_exit(EXIT_SETUP);
	close(p->alive_r);
	close(p->info_w);
	mount_pseudo("proc", "/proc", true);
	mount_pseudo("sysfs", "/sys", false);
	if (sethostname(p->hostname, strlen(p->hostname)))
		die("sethostname", NULL, errno);
	loopback_up();

	if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC))
		die("unshare (innermost)", NULL, errno);
	write_maps(procfd, "0 0 1", "0 0 1");
	close(procfd);

	if (!p->cwd || chdir(p->cwd)) {
		if (chdir("/"))
			die("chdir /", NULL, errno);
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	install_seccomp(p->trace_exec_maps);

	/* Ready; the engine seizes us, then says go. */
	if (write(p->ready_w, "R", 1) != 1)
		_exit(EXIT_SETUP);
	close(p->ready_w);
	do {
		n = read(p->go_r, &go, 1);
	} while (n < 0 && errno == EINTR);
	if (n != 1)
		_exit(EXIT_SETUP);	/* the engine went away */
	close_range(3, ~0u, 0);
	execvp(p->argv[0], p->argv);
	say("cannot run ", p->argv[0], NULL, errno);
	_exit(127);
}

static void __attribute__((noreturn)) helper(struct plan *p, pid_t engine)
{
	int procfd, flags, st, alive[2];
	pid_t pid1;
	struct sigaction dfl = { .sa_handler = SIG_DFL };

	set_pdeathsig(engine);
	/* The guest inherits ignored signals and the mask through exec: start clean. */
	for (int sig = 1; sig < NSIG; sig++) {
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &dfl, NULL);
	}
	close(p->info_r);
	close(p->ready_r);
	close(p->go_w);
	procfd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (procfd < 0)
		die("open /proc", NULL, errno);

	if (unshare(CLONE_NEWUSER | CLONE_NEWNS)) {
		explain_userns_failure(errno);
		_exit(EXIT_SETUP);
	}
	write_maps(procfd, p->uid_map, p->gid_map);
	set_pdeathsig(engine);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		die("making mounts private", NULL, errno);
	build_root(p);

	flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWUTS |
		CLONE_NEWIPC | CLONE_NEWTIME;
	if (unshare(flags)) {
		if (errno != EINVAL || unshare(flags & ~CLONE_NEWTIME))
			die("unshare (guest namespaces)", NULL, errno);
		say("no time namespace on this kernel; continuing without", NULL, NULL, 0);
	}
	write_maps(procfd, "0 0 1", "0 0 1");
	set_pdeathsig(engine);

	if (pipe2(alive, O_CLOEXEC))
		die("pipe", NULL, errno);
	p->alive_r = alive[0];
	/* fork() without the tracer's auto-attach (see the top of the file). */
	pid1 = (pid_t)syscall(SYS_clone, CLONE_UNTRACED | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid1 < 0)
		die("fork", NULL, errno);
	if (pid1 == 0) {
		close(alive[1]);
		guest_pid1(p, procfd);
	}
	/* alive[1] stays open until we exit. */
	close(alive[0]);
	close(procfd);
	close(p->ready_w);
	close(p->go_r);
	if (write(p->info_w, &pid1, sizeof(pid1)) != sizeof(pid1))
		_exit(EXIT_SETUP);
	close(p->info_w);
	while (waitpid(pid1, &st, 0) < 0 && errno == EINTR)
		;
	_exit(0);
}

/* ---- engine side ---- */

static int check_shares(const struct trap_options *opt)
{
	for (size_t i = 0; i < opt->n_shares; i++) {
		const struct trap_share *s = &opt->shares[i];
		const char *guest = s->guest_dir ? s->guest_dir : s->host_dir;
		struct stat st;

		if (!s->host_dir || s->host_dir[0] != '/') {
			g_warning("--share %s: the host path must be absolute",
				  s->host_dir ? s->host_dir : "(null)");
			return -1;
		}
		if (!guest[0] || guest[0] != '/') {
			g_warning("--share %s:%s: the guest path must be absolute", s->host_dir,
				  guest);
			return -1;
		}
		if (strstr(guest, "/../") || g_str_has_suffix(guest, "/..") ||
		    strlen(guest) >= PATH_MAX) {
			g_warning("--share %s:%s: bad guest path", s->host_dir, guest);
			return -1;
		}
		if (stat(s->host_dir, &st)) {
			g_warning("--share %s: %s", s->host_dir, g_strerror(errno));
			return -1;
		}
		if (!strcmp(guest, "/")) {
			g_warning("--share %s:/: cannot replace the guest's root", s->host_dir);
			return -1;
		}
	}
	return 0;
}

/*
 * How long each start-up stage may take: generous, a loaded machine with a
 * big --overlay takes seconds, not minutes.  PORTHOLE_STARTUP_TIMEOUT
 * (seconds) changes it, for tests and very slow machines.
 */
static int stage_timeout_s(void)
{
	const char *env = getenv("PORTHOLE_STARTUP_TIMEOUT");
	long v = env ? strtol(env, NULL, 10) : 0;

	return v > 0 && v <= 3600 ? (int)v : SANDBOX_STAGE_TIMEOUT_S;
}

/* How long sandbox_abort() waits for the killed helper to be reapable. */
#define SANDBOX_REAP_MS		500

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

int sandbox_spawn(const struct trap_options *opt, struct sandbox *sb)
{
	static struct plan plan;	/* the fork copies it; static keeps it off a small stack */
	int info[2] = { -1, -1 }, ready[2] = { -1, -1 }, go[2] = { -1, -1 };
	pid_t engine = getpid();
	char *cwd;
	g_autofree char *vdso_parent = NULL, *vdso_dir_name = NULL;

	memset(sb, 0, sizeof(*sb));
	sb->info_fd = sb->ready_fd = sb->go_fd = -1;
	sb->timeout_s = stage_timeout_s();
	if (!opt->argv || !opt->argv[0]) {
		g_warning("no guest command");
		return -1;
	}
	if (check_shares(opt))
		return -1;
	if (opt->overlay && (opt->overlay[0] != '/' || !g_file_test(opt->overlay, G_FILE_TEST_IS_DIR))) {
		g_warning("--overlay %s: needs the absolute path of a directory", opt->overlay);
		return -1;
	}
	if (pipe2(info, O_CLOEXEC) || pipe2(ready, O_CLOEXEC) || pipe2(go, O_CLOEXEC)) {
		g_warning("pipe: %s", g_strerror(errno));
		goto fail;
	}
	cwd = g_get_current_dir();
	memset(&plan, 0, sizeof(plan));
	plan.argv = opt->argv;
	plan.hostname = opt->hostname && opt->hostname[0] ? opt->hostname : "porthole";
	plan.cwd = cwd;
	plan.shares = opt->shares;
	plan.n_shares = opt->n_shares;
	plan.overlay = opt->overlay;
	if (opt->vdso_dir) {
		plan.vdso_dir = opt->vdso_dir;
		plan.vdso_parent = vdso_parent = g_path_get_dirname(opt->vdso_dir);
		plan.vdso_dir_name = vdso_dir_name = g_path_get_basename(opt->vdso_dir);
	}
	plan.trace_exec_maps = opt->cpuid == TRAP_CPUID_PATCH;
	snprintf(plan.uid_map, sizeof(plan.uid_map), "0 %u 1", (unsigned int)geteuid());
	snprintf(plan.gid_map, sizeof(plan.gid_map), "0 %u 1", (unsigned int)getegid());
	plan.info_r = info[0];
	plan.info_w = info[1];
	plan.ready_r = ready[0];
	plan.ready_w = ready[1];
	plan.go_r = go[0];
	plan.go_w = go[1];
	plan.alive_r = -1;

	/* getppid() in the child names the process; PDEATHSIG follows this thread. */
	sb->helper = fork();
	if (sb->helper < 0) {
		g_warning("fork: %s", g_strerror(errno));
		sb->helper = 0;
		g_free(cwd);
		goto fail;
	}
	if (sb->helper == 0)
		helper(&plan, engine);

	g_free(cwd);
	close(info[1]);
	close(ready[1]);
	close(go[0]);
	sb->info_fd = info[0];
	sb->ready_fd = ready[0];
	sb->go_fd = go[1];
	return 0;

fail:
	for (int i = 0; i < 2; i++) {
		close_fd(&info[i]);
		close_fd(&ready[i]);
		close_fd(&go[i]);
	}
	return -1;
}

/*
 * Read `len` bytes from `fd`, giving up at `deadline` (g_get_monotonic_time)
 * or as soon as `wake_fd` (if >= 0) is readable.  0, or -ECANCELED (woken),
 * -ETIMEDOUT, -EPIPE (EOF first), -errno.
 */
static int read_until(int fd, void *buf, size_t len, int wake_fd, gint64 deadline)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd pfd[2] = {
			{ .fd = wake_fd, .events = POLLIN },
			{ .fd = fd, .events = POLLIN },
		};
		gint64 left = deadline - g_get_monotonic_time();
		ssize_t n;

		if (left <= 0)
			return -ETIMEDOUT;
		/* A negative fd is skipped by poll(). */
		if (poll(pfd, 2, (int)MIN((left + 999) / 1000, G_MAXINT)) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		/* A stop wins over whatever else is ready. */
		if (pfd[0].revents)
			return -ECANCELED;
		if (!pfd[1].revents)
			continue;
		n = read(fd, (char *)buf + got, len - got);
		if (n == 0)
			return -EPIPE;
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return -errno;
		if (n > 0)
			got += (size_t)n;
	}
	return 0;
}

/*
 * How a start-up stage's read ended, said once for both stages: 0 (done),
 * -ECANCELED (stopped: nothing to say), or -1 after the warning.  `who` is
 * what was awaited, `late` and `failed` what it did not do, `busy` what it
 * was doing meanwhile.
 */
static int stage_result(const struct sandbox *sb, int err, const char *who, const char *late,
			const char *failed, const char *busy)
{
	switch (err) {
	case 0:
	case -ECANCELED:
		return err;
	case -ETIMEDOUT:
		g_warning("%s %s within %d s (%s): giving up", who, late, sb->timeout_s, busy);
		return -1;
	case -EPIPE:
	case -EPROTO:
		g_warning("%s %s (see the messages above)", who, failed);
		return -1;
	default:
		g_warning("waiting for %s: %s", who, g_strerror(-err));
		return -1;
	}
}

int sandbox_wait_guest(struct sandbox *sb, int wake_fd)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)sb->timeout_s * G_USEC_PER_SEC;
	pid_t pid1 = 0;
	int err = read_until(sb->info_fd, &pid1, sizeof(pid1), wake_fd, deadline);

	if (!err && pid1 <= 0)
		err = -EPROTO;
	err = stage_result(sb, err, "the guest sandbox", "was not set up", "could not be set up",
			   "the helper was still creating the namespaces and the guest root");
	if (!err) {
		close_fd(&sb->info_fd);
		sb->guest = pid1;
	}
	return err;
}

int sandbox_wait_ready(struct sandbox *sb, int wake_fd)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)sb->timeout_s * G_USEC_PER_SEC;
	char c = 0;
	int err = read_until(sb->ready_fd, &c, 1, wake_fd, deadline);

	if (!err && c != 'R')
		err = -EPROTO;
	err = stage_result(sb, err, "the guest's first process", "did not set itself up",
			   "could not set itself up", "/proc, hostname, its own namespaces, seccomp");
	if (!err)
		close_fd(&sb->ready_fd);
	return err;
}

int sandbox_go(struct sandbox *sb)
{
	ssize_t n;

	/* One byte into an empty pipe: never blocks. */
	do {
		n = write(sb->go_fd, "G", 1);
	} while (n < 0 && errno == EINTR);
	close_fd(&sb->go_fd);
	return n == 1 ? 0 : -1;
}

void sandbox_close(struct sandbox *sb)
{
	close_fd(&sb->info_fd);
	close_fd(&sb->ready_fd);
	close_fd(&sb->go_fd);
}

void sandbox_abort(struct sandbox *sb)
{
	gint64 deadline = g_get_monotonic_time() + SANDBOX_REAP_MS * 1000;
	gulong nap = 1000;
	int st;

	/* Killed first: a helper waiting on pid 1, which waits on us, never exits. */
	if (sb->helper > 0)
		kill(sb->helper, SIGKILL);
	sandbox_close(sb);
	/*
	 * Dead at once, but reapable only once a tracer of its own (strace -f
	 * on us) has seen it go, which may take a while: past the deadline
	 * the zombie is left to whoever inherits it when we exit.
	 */
	while (sb->helper > 0) {
		pid_t r = waitpid(sb->helper, &st, __WALL | WNOHANG);

		if (r == sb->helper || (r < 0 && errno != EINTR))
			break;
		if (g_get_monotonic_time() >= deadline) {
			g_debug("sandbox helper %d not reaped yet; leaving it", (int)sb->helper);
			break;
		}
		g_usleep(nap);
		nap = MIN(nap * 2, 50000);
	}
	sb->helper = 0;
	sb->guest = 0;
}
