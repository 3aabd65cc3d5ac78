// SPDX-License-Identifier: MIT
/*
 * The guest sandbox of the trap engine.  See sandbox.h.
 *
 * Three processes and three user namespaces:
 *
 *   engine thread (host)
 *     `- helper: opens the VM's cgroups (guest-cgroup.h) for pid 1 to
 *          join (it stays out: the OOM killer must not take it), drops
 *          root's supplementary groups, unshare(USER|NS) -> U1, mapped
 *            --host-root (or no id range): "0 <our uid> 1" by itself;
 *            --root: "0 <base> 65536" + "65536 <our uid> 1" by the engine
 *            (only a process privileged over the parent namespace may map
 *            ids beyond its own: root writes it, users' newuidmap); the
 *            helper then becomes U1's root, the guest root's host id;
 *            as root the engine also hands it id-mapped copies of the
 *            --root tree and the state dir (MOUNT_ATTR_IDMAP through U1);
 *          builds the guest root in U1's mount namespace:
 *            tmpfs on /tmp, host / rbound at /tmp/newroot, all of it made
 *            read-only, nosuid, nodev (mount_setattr AT_RECURSIVE) -- or
 *            with --root DIR an overlayfs at /tmp/newroot, DIR read-only
 *            below, the VM's upper layer (state dir, or a size-capped
 *            tmpfs for --snapshot) above, the host's /proc and /sys bound
 *            read-only at proc and sys only so that the kernel lets pid 1
 *            mount its own over them --, then
 *            fresh tmpfs on tmp, var/tmp, run, dev (with null, zero, full,
 *            random, urandom, tty bound in, /dev/console the VM console, a
 *            private devpts and shm), the --overlay tree laid over it
 *            (read-only overlayfs per directory), the shares bound
 *            read-write, and pivot_root into it;
 *          unshare(TIME) (for its children), then clones pid 1 into
 *          USER|NS|PID|NET|UTS|IPC -> U2 (CLONE_UNTRACED: a debugger
 *          following our forks, strace -f, must leave pid 1 to the engine's
 *          PTRACE_SEIZE) and maps U2 "0 0 N" from outside (N = 65536 with
 *          a range, else 1): U1's mounts are now locked (MNT_LOCKED,
 *          MNT_LOCK_READONLY), so guest root can neither remount them
 *          writable nor unmount them to look underneath; U1's id 65536
 *          (us) is not in U2;
 *        `- guest pid 1: joins the VM's cgroups, unshare(CGROUP);
 *             proc on /proc, sysfs on /sys (both read-only: the
 *             kernel insists, the host's are), its cgroup tree on
 *             /sys/fs/cgroup, hostname, lo up;
 *             unshare(USER|NS|UTS|IPC) -> U3, mapped "0 0 N" by a child
 *             left in U2 (again: from the parent namespace), which locks
 *             /proc too (else guest root could unmount it and find the
 *             host's /proc below);
 *             no_new_privs, seccomp filter, waits for the engine's
 *             PTRACE_SEIZE and go-ahead, takes the console as fds 0-2 and
 *             controlling terminal in a session of its own, closes every
 *             other fd, execvp.
 *
 * Guest root is root of U3 only: full capabilities over its own mounts,
 * hostname and IPC, none over the pid and net namespaces (owned by U2), so
 * it cannot mount another proc or sysfs.  Files it creates on shares belong
 * to the user running porthole-hv (--host-root), or to the guest's host id
 * range (--root).

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
#include <grp.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/loop.h>
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
#include <sys/file.h>
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

#include "../guest-cgroup.h"
#include "../host-lacks.h"
#include "guest-net.h"
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
	const char *root;	/* --root DIR, or NULL: the host's / read-only */
	const char *state_dir;	/* --root without --snapshot: upper/ and work/ live here */
	char rw_opts[64];	/* --snapshot: the tmpfs holding the upper layer */
	char tmp_opts[64], run_opts[64], shm_opts[64];
	char *const *envp;	/* NULL: the hypervisor's environment */
	int console_fd;		/* the guest's fds 0-2, or -1 for ours */
	/*
	 * Guest ids (see choose_ids()): `ranged`, U1 is mapped by the engine
	 * to a range of host ids and U2, U3 map 0..GUEST_IDS-1 through; else
	 * U1 maps guest root to us and U2, U3 only root.
	 */
	bool ranged;
	char inner_map[32];
	int map_sock;		/* ranged: the helper's end of the map handshake */
	int lower_tree, state_tree;	/* ranged as root: id-mapped copies, from the engine */
	int to_pid1_r, to_pid1_w;	/* the helper tells pid 1 that U2 is mapped */
	/* The VM's cgroups: the helper opens them, pid 1 joins them and mounts the delegated one. */
	int n_cgroups;
	char cgroup_procs[GUEST_CGROUP_MAX][PATH_MAX];
	int cgroup_fds[GUEST_CGROUP_MAX];
	enum { CG_NONE, CG_V1_SYSTEMD, CG_V2 } cgroup_mount;
	char console_path[64];	/* its /dev/pts path */
	/* NULL, or the guest vDSO's directory: its parent and its name in it */
	const char *vdso_dir, *vdso_parent, *vdso_dir_name;
	bool trace_exec_maps;	/* cpuid patching: stop mmap/mprotect with PROT_EXEC */
	int info_w, info_r, ready_w, ready_r, go_r, go_w;
	int alive_r;		/* pid 1's: EOF once the helper is gone */
};

/* ---- async-signal-safe helpers for the children ---- */

/* Where say() goes: porthole-hv's stderr, also once the guest's is the console. */
static int say_fd = STDERR_FILENO;

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
	if (write(say_fd, buf, n) < 0) {
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

static int setup_dev(const struct plan *p)
{
	static const char *const nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };
	static const char *const links[][2] = {
		{ "/proc/self/fd", "fd" }, { "/proc/self/fd/0", "stdin" },
		{ "/proc/self/fd/1", "stdout" }, { "/proc/self/fd/2", "stderr" },
		{ "pts/ptmx", "ptmx" },
	};
	char at[64];
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
	if (p->console_fd >= 0) {
		int fd = openat(devfd, "console", O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);

		if (fd >= 0) {
			close(fd);
			fd = openat(devfd, "console", O_PATH | O_NOFOLLOW | O_CLOEXEC);
		}
		/*
		 * By its path: the fd's mount is the host's, in another mount
		 * namespace, which a bind mount cannot take from.
		 */
		snprintf(at, sizeof(at), "/proc/self/fd/%d", fd);
		if (fd < 0 || mount(p->console_path, at, NULL, MS_BIND, NULL)) {
			say("binding /dev/console to ", p->console_path, NULL, errno);
			if (fd >= 0)
				close(fd);
			close(devfd);
			return -1;
		}
		close(fd);
	}
	close(devfd);
	if (mount("devpts", NEWROOT "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
		  "newinstance,ptmxmode=0666,mode=0620"))
		say("no private devpts (no ptys in the guest)", NULL, NULL, errno);
	if (do_mount("tmpfs", NEWROOT "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, p->shm_opts))
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

/* --root: the layers of the guest's root, in the staging tmpfs until pivot_root. */
#define LOWER		STAGE "/lower"
#define RW		STAGE "/rw"
/* Which detached trees the engine hands the helper (map_helper()). */
#define TREE_LOWER	0x1	/* the --root tree, id-mapped */
#define TREE_STATE	0x2	/* the upper layer's: the disk, or the state dir id-mapped */

/*
 * Mount the guest root at NEWROOT: `root_dir_fd` (--root DIR, O_PATH)
 * read-only as the lower layer of an overlayfs whose upper layer is in
 * `state_fd` (kept across runs) or, for -1 (--snapshot), on a size-capped
 * tmpfs that goes away with the guest.  userxattr: overlayfs in a user
 * namespace keeps its metadata in user.overlay.* (trusted.* needs the
 * initial namespace's CAP_SYS_ADMIN).
 */
/* A detached tree (the engine's id-mapped copies) mounted at `at`. */
static void attach_tree(int tree, const char *at)
{
	if (syscall(SYS_move_mount, tree, "", AT_FDCWD, at, MOVE_MOUNT_F_EMPTY_PATH))
		die("attaching an id-mapped tree at ", at, errno);
	close(tree);
}

static void mount_guest_root(const struct plan *p, int root_dir_fd, int state_fd,
			     const int *kernel_fds)
{
	static const char *const needed[] = { "proc", "sys", "dev", "tmp", "run" };
	struct mount_attr ro = {
		.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
	};
	int dst;

	if (mkdir(LOWER, 0755) || mkdir(RW, 0755))
		die("mkdir " STAGE "/...", NULL, errno);
	if (p->lower_tree >= 0) {
		attach_tree(p->lower_tree, LOWER);
	} else {
		dst = open(LOWER, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dst < 0 || bind_fd(root_dir_fd, dst, "the --root directory"))
			_exit(EXIT_SETUP);
		close(dst);
	}
	close(root_dir_fd);
	if (syscall(SYS_mount_setattr, AT_FDCWD, LOWER, AT_RECURSIVE, &ro, sizeof(ro)))
		die("making the --root directory read-only", NULL, errno);
	if (state_fd < 0) {
		if (do_mount("tmpfs", RW, "tmpfs", MS_NOSUID | MS_NODEV, p->rw_opts))
			_exit(EXIT_SETUP);
	} else if (p->state_tree >= 0) {
		attach_tree(p->state_tree, RW);
		close(state_fd);
	} else {
		dst = open(RW, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dst < 0 || bind_fd(state_fd, dst, "the VM's state directory"))
			_exit(EXIT_SETUP);
		close(dst);
		close(state_fd);
	}
	if ((mkdir(RW "/upper", 0755) && errno != EEXIST) ||
	    (mkdir(RW "/work", 0700) && errno != EEXIST))
		die("mkdir upper/work for the guest root's overlay", NULL, errno);
	if (do_mount("overlay", NEWROOT, "overlay", MS_NOSUID | MS_NODEV,
		     "lowerdir=" LOWER ",upperdir=" RW "/upper,workdir=" RW "/work,userxattr"))
		die("cannot lay a writable overlay over the --root directory", NULL, 0);
	/* A bare root may lack the mount points the sandbox needs. */
	for (size_t i = 0; i < G_N_ELEMENTS(needed); i++) {
		char path[64];

		snprintf(path, sizeof(path), NEWROOT "/%s", needed[i]);
		if (mkdir(path, 0755) && errno != EEXIST)
			die("mkdir in the guest root: ", path, errno);
	}
	/*
	 * The kernel lets a user namespace mount proc or sysfs only where
	 * one is fully visible already: the host's, read-only, to be
	 * covered by the guest's own (and locked under it, see the top).
	 */
	for (int i = 0; i < 2; i++) {
		const char *at = i ? NEWROOT "/sys" : NEWROOT "/proc";

		dst = open(at, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dst < 0 || bind_fd(kernel_fds[i], dst, at))
			_exit(EXIT_SETUP);
		close(dst);
		close(kernel_fds[i]);
		if (syscall(SYS_mount_setattr, AT_FDCWD, at, AT_RECURSIVE, &ro, sizeof(ro)))
			die("making read-only: ", at, errno);
	}
}

static void build_root(const struct plan *p)
{
	int *src_fds = NULL, tree = -1, overlay_fd = -1, root_dir_fd = -1, state_fd = -1;
	int kernel_fds[2] = { -1, -1 }, vdso_fd = -1, vdso_dir_fd = -1, vdso_parent_fd = -1;

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

	if (p->root) {
		/* Opened before the staging tmpfs can hide them (they may be under /tmp). */
		root_dir_fd = open(p->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (root_dir_fd < 0)
			die("--root ", p->root, errno);
		kernel_fds[0] = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
		kernel_fds[1] = open("/sys", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (kernel_fds[0] < 0 || kernel_fds[1] < 0)
			die("open /proc, /sys", NULL, errno);
		if (p->state_dir) {
			state_fd = open(p->state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (state_fd < 0)
				die("the VM's state directory ", p->state_dir, errno);
		}
	} else {
		/*
		 * A detached copy of the host's tree, taken before the staging
		 * tmpfs exists so that it is not part of it (a plain rbind
		 * where open_tree() is missing).
		 */
		tree = (int)syscall(SYS_open_tree, AT_FDCWD, "/",
				    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	}
	if (do_mount("tmpfs", STAGE, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700,size=1m"))
		_exit(EXIT_SETUP);
	if (mkdir(NEWROOT, 0755))
		die("mkdir " NEWROOT, NULL, errno);
	if (p->root) {
		mount_guest_root(p, root_dir_fd, state_fd, kernel_fds);
	} else {
		if (tree >= 0) {
			if (syscall(SYS_move_mount, tree, "", AT_FDCWD, NEWROOT,
				    MOVE_MOUNT_F_EMPTY_PATH))
				die("attaching the copy of the host's tree", NULL, errno);
			close(tree);
		} else if (do_mount("/", NEWROOT, NULL, MS_BIND | MS_REC, NULL)) {
			_exit(EXIT_SETUP);
		}
		if (make_tree_readonly())
			die("cannot make the guest's view of the host read-only", NULL, 0);
	}

	if (do_mount("tmpfs", NEWROOT "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, p->tmp_opts) ||
	    do_mount("tmpfs", NEWROOT "/run", "tmpfs", MS_NOSUID | MS_NODEV, p->run_opts))
		_exit(EXIT_SETUP);
	if (access(NEWROOT "/var/tmp", F_OK) == 0 &&
	    do_mount("tmpfs", NEWROOT "/var/tmp", "tmpfs", MS_NOSUID | MS_NODEV, p->tmp_opts))
		_exit(EXIT_SETUP);
	root_open();
	if (setup_dev(p) || setup_overlay(overlay_fd) || setup_shares(p, src_fds))
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

/*
 * Make the console the guest's fds 0-2 and controlling terminal, in a
 * session of its own (no way back to porthole-hv's terminal or log through
 * /proc/self/fd or /dev/tty), and close every other fd but a close-on-exec
 * copy of our stderr for say().
 */
static void attach_console(int console)
{
	int err_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);

	if (err_fd < 0)
		die("dup", NULL, errno);
	say_fd = err_fd;
	if (setsid() < 0)
		die("setsid", NULL, errno);
	for (int fd = 0; fd < 3; fd++) {
		if (dup2(console, fd) != fd)
			die("dup2 of the console", NULL, errno);
	}
	if (ioctl(STDIN_FILENO, TIOCSCTTY, 0))
		die("making the console the controlling terminal", NULL, errno);
	close_range(3, (unsigned int)err_fd - 1, 0);
	close_range((unsigned int)err_fd + 1, ~0u, 0);
}

/*
 * Pid 1: the guest's cgroup tree, rooted at the VM's cgroup (our cgroup
 * namespace), where an init looks for it.  Without it the guest runs
 * anyway, after a line.
 */
static void mount_cgroups(const struct plan *p)
{
	static const unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;

	if (p->cgroup_mount == CG_V2) {
		if (mount("cgroup2", "/sys/fs/cgroup", "cgroup2", flags, NULL))
			say("mounting the guest's cgroup2 tree", NULL, NULL, errno);
	} else if (p->cgroup_mount == CG_V1_SYSTEMD) {
		if (mount("tmpfs", "/sys/fs/cgroup", "tmpfs", flags, "mode=0755,size=64k") ||
		    mkdir("/sys/fs/cgroup/systemd", 0755) ||
		    mount("cgroup", "/sys/fs/cgroup/systemd", "cgroup", flags, "none,name=systemd"))
			say("mounting the guest's name=systemd cgroup tree", NULL, NULL, errno);
	}
}

/* Pid 1: wait until the helper has mapped U2; our pid as the host sees it. */
static pid_t await_map(const struct plan *p)
{
	pid_t host_pid = 0;
	ssize_t n;

	do {
		n = read(p->to_pid1_r, &host_pid, sizeof(host_pid));
	} while (n < 0 && errno == EINTR);
	if (n != sizeof(host_pid) || host_pid <= 0)
		_exit(EXIT_SETUP);	/* the helper failed, and said why */
	return host_pid;
}

/*
 * Pid 1: unshare U3 and have it mapped like U2 ("0 0 N"), by a child of
 * ours left in U2: only a process of the parent namespace may write a
 * namespace's map.
 */
static void enter_u3(const struct plan *p, int procfd, pid_t host_pid)
{
	char setgroups[64], uid_map[64], gid_map[64], c;
	int go[2], st;
	pid_t mapper;

	/* Through the host's /proc: ours is read-only. */
	snprintf(setgroups, sizeof(setgroups), "%d/setgroups", (int)host_pid);
	snprintf(uid_map, sizeof(uid_map), "%d/uid_map", (int)host_pid);
	snprintf(gid_map, sizeof(gid_map), "%d/gid_map", (int)host_pid);
	if (pipe2(go, O_CLOEXEC))
		die("pipe", NULL, errno);
	/*
	 * No exit signal: the engine has seized us by now and stops us for
	 * each signal, a SIGCHLD too, but waits for us only once we're ready.
	 */
	mapper = (pid_t)syscall(SYS_clone, CLONE_UNTRACED, NULL, NULL, NULL, NULL);
	if (mapper < 0)
		die("fork", NULL, errno);
	if (mapper == 0) {
		int err;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(EXIT_SETUP);
		err = write_file_at(procfd, setgroups, "deny");
		if (err && err != -ENOENT)
			die("writing the innermost setgroups", NULL, -err);
		err = write_file_at(procfd, uid_map, p->inner_map);
		if (!err)
			err = write_file_at(procfd, gid_map, p->inner_map);
		if (err)
			die("writing the innermost id maps", NULL, -err);
		_exit(0);
	}
	close(go[0]);
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC))
		die("unshare (innermost)", NULL, errno);
	if (write(go[1], "U", 1) != 1)
		die("starting the innermost mapper", NULL, errno);
	close(go[1]);
	while (waitpid(mapper, &st, __WALL) < 0) {
		if (errno != EINTR)
			die("waiting for the innermost mapper", NULL, errno);
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		_exit(EXIT_SETUP);	/* it said why */
}

/*
 * Pid 1: into the VM's cgroups (the helper opened their cgroup.procs for
 * us), then a cgroup namespace rooted there: what the guest's processes
 * see of cgroups starts at the VM's.
 */
static void join_cgroups(const struct plan *p)
{
	for (int i = 0; i < p->n_cgroups; i++) {
		if (write(p->cgroup_fds[i], "0", 1) != 1)
			die("joining the VM's cgroup ", p->cgroup_procs[i], errno);
		close(p->cgroup_fds[i]);
	}
	if (unshare(CLONE_NEWCGROUP))
		die("unshare (cgroup namespace)", NULL, errno);
}

static void __attribute__((noreturn)) guest_pid1(const struct plan *p, int procfd)
{
	pid_t host_pid;
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
	join_cgroups(p);
	close(p->to_pid1_w);
	host_pid = await_map(p);	/* of U2, by the helper */
	/*
	 * Dumpable, so that our /proc files are ours (U2 root's), not host
	 * root's: the mapper of U3 (a child, in U2) writes them.  exec resets it.
	 */
	prctl(PR_SET_DUMPABLE, 1);

	mount_pseudo("proc", "/proc", true);
	mount_pseudo("sysfs", "/sys", false);
	mount_cgroups(p);
	if (sethostname(p->hostname, strlen(p->hostname)))
		die("sethostname", NULL, errno);
	loopback_up();
	guest_net_setup();	/* eth0 for tools that report only real NICs (guest-net.c) */

	enter_u3(p, procfd, host_pid);
	close(procfd);
	close(p->to_pid1_r);

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
	if (p->console_fd >= 0)
		attach_console(p->console_fd);
	else
		close_range(3, ~0u, 0);
	if (p->envp)
		environ = (char **)p->envp;
	execvp(p->argv[0], p->argv);
	say("cannot run ", p->argv[0], NULL, errno);
	_exit(127);
}

/* Helper: map pid 1's user namespace (U2) and tell it. */
static void map_pid1(int procfd, pid_t pid1, const struct plan *p)
{
	char path[64];
	int err;

	snprintf(path, sizeof(path), "%d/setgroups", (int)pid1);
	err = write_file_at(procfd, path, "deny");
	if (err && err != -ENOENT)
		die("writing the guest's setgroups", NULL, -err);
	snprintf(path, sizeof(path), "%d/uid_map", (int)pid1);
	err = write_file_at(procfd, path, p->inner_map);
	if (err)
		die("writing the guest's uid_map", NULL, -err);
	snprintf(path, sizeof(path), "%d/gid_map", (int)pid1);
	err = write_file_at(procfd, path, p->inner_map);
	if (err)
		die("writing the guest's gid_map", NULL, -err);
	if (write(p->to_pid1_w, &pid1, sizeof(pid1)) != sizeof(pid1))
		_exit(EXIT_SETUP);
}

/*
 * Helper, ranged: the engine maps U1 (we cannot: see map_helper()), then
 * hands over id-mapped copies of the --root and state trees if it made
 * them, or the disk (id-mapped where the host can).  We become U1's root,
 * the guest root's host id: what we create (the overlay's upper layer) is
 * the guest's.
 */
static void receive_outer_map(struct plan *p)
{
	int fds[2];
	union {
		char buf[CMSG_SPACE(sizeof(fds))];
		struct cmsghdr align;
	} cm;
	char c[2] = { 0, 0 };	/* 'M' and which trees (map_helper()) */
	struct iovec iov = { c, sizeof(c) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
			      .msg_controllen = sizeof(cm.buf) };
	struct cmsghdr *cmsg;
	ssize_t n;

	if (write(p->map_sock, "U", 1) != 1)
		_exit(EXIT_SETUP);
	do {
		n = recvmsg(p->map_sock, &msg, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(c) || c[0] != 'M')
		_exit(EXIT_SETUP);	/* the engine said why */
	/* None, the --root tree, the state tree, or both, as c[1] says. */
	cmsg = CMSG_FIRSTHDR(&msg);
	if (cmsg && cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS &&
	    cmsg->cmsg_len >= CMSG_LEN(sizeof(int)) && cmsg->cmsg_len <= CMSG_LEN(sizeof(fds))) {
		size_t nfds = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int), i = 0;

		memcpy(fds, CMSG_DATA(cmsg), nfds * sizeof(int));
		if (c[1] & TREE_LOWER)
			p->lower_tree = fds[i++];
		if ((c[1] & TREE_STATE) && i < nfds)
			p->state_tree = fds[i];
	}
	close(p->map_sock);
	if (setresgid(0, 0, 0) || setresuid(0, 0, 0))
		die("becoming the guest root's host id", NULL, errno);
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

	/*
	 * Opened while we may, for pid 1 to join: the kernel checks the
	 * opener's credentials.  We stay out: the memory cgroup's OOM killer
	 * must never take us (pid 1 would die with us, and the VM).
	 */
	for (int i = 0; i < p->n_cgroups; i++) {
		p->cgroup_fds[i] = open(p->cgroup_procs[i], O_WRONLY | O_CLOEXEC);
		if (p->cgroup_fds[i] < 0)
			die("opening the VM's cgroup ", p->cgroup_procs[i], errno);
	}
	/* Root's supplementary groups (gid 0 among them) must not follow the guest. */
	if (geteuid() == 0 && setgroups(0, NULL))
		die("setgroups", NULL, errno);
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS)) {
		explain_userns_failure(errno);
		_exit(EXIT_SETUP);
	}
	if (p->ranged) {
		receive_outer_map(p);
	} else {
		write_maps(procfd, p->uid_map, p->gid_map);
	}
	set_pdeathsig(engine);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		die("making mounts private", NULL, errno);
	build_root(p);

	/* Time namespaces are for children only, and clone() has no flag for one. */
	if (unshare(CLONE_NEWTIME)) {
		if (errno != EINVAL)
			die("unshare (time namespace)", NULL, errno);
		say("no time namespace on this kernel; continuing without", NULL, NULL, 0);
	}
	if (pipe2(alive, O_CLOEXEC))
		die("pipe", NULL, errno);
	p->alive_r = alive[0];
	/*
	 * Pid 1 in U2 and the rest of the guest's namespaces, without the
	 * tracer's auto-attach (see the top of the file).  We map U2 (and U3
	 * once pid 1 made it): from outside, as ids beyond our own can only
	 * be mapped by a process privileged over the parent namespace.
	 */
	flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWUTS |
		CLONE_NEWIPC;
	pid1 = (pid_t)syscall(SYS_clone, flags | CLONE_UNTRACED | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid1 < 0)
		die("clone (guest namespaces)", NULL, errno);
	if (pid1 == 0) {
		close(alive[1]);
		guest_pid1(p, procfd);
	}
	/* alive[1] stays open until we exit. */
	close(alive[0]);
	close(p->ready_w);
	close(p->go_r);
	close(p->to_pid1_r);
	map_pid1(procfd, pid1, p);
	close(p->to_pid1_w);
	close(procfd);
	if (write(p->info_w, &pid1, sizeof(pid1)) != sizeof(pid1))
		_exit(EXIT_SETUP);
	close(p->info_w);
	while (waitpid(pid1, &st, 0) < 0 && errno == EINTR)
		;
	_exit(0);
}

/* ---- engine side ---- */

/* ---- guest ids (--root): U1 maps them to a range of host ids ---- */

static int read_until(int fd, void *buf, size_t len, int wake_fd, gint64 deadline);

/* Guest ids 0..GUEST_IDS-1 exist; the ids of a Debian system fit. */
#define GUEST_IDS		65536u
/*
 * Root's ranges when /etc/subuid has none for it: slot N (a lock held
 * while the VM runs) is DEFAULT_ID_BASE + N * GUEST_IDS, above the ids
 * useradd hands out as subordinate ids (from 100000) and systemd-nspawn's
 * (up to 0x6FFFFFFF).
 */
#define DEFAULT_ID_BASE		0x70000000u
#define ID_SLOTS		1024u
#define ID_SLOT_DIR		"/run/porthole-ids"

enum id_method {
	IDS_SINGLE,	/* guest root is us: U1 "0 <our uid> 1", written by the helper */
	IDS_DIRECT,	/* we are root: the engine writes U1's map */
	IDS_NEWIDMAP,	/* newuidmap/newgidmap write it, from /etc/subuid and /etc/subgid */
};

struct id_plan {
	enum id_method how;
	unsigned int uid_base, gid_base;
};

/* The first range of at least GUEST_IDS ids for `user` (or its id `id`) in subid file `path`. */
static bool subid_range(const char *path, const char *user, unsigned int id, unsigned int *base)
{
	g_autofree char *text = NULL;
	g_auto(GStrv) lines = NULL;
	char idstr[16];

	if (!g_file_get_contents(path, &text, NULL, NULL))
		return false;
	snprintf(idstr, sizeof(idstr), "%u", id);
	lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l; l++) {
		g_auto(GStrv) f = g_strsplit(*l, ":", 3);
		guint64 start, count;

		if (g_strv_length(f) != 3 || (strcmp(f[0], user) && strcmp(f[0], idstr)))
			continue;
		if (!g_ascii_string_to_unsigned(f[1], 10, 0, G_MAXUINT32, &start, NULL) ||
		    !g_ascii_string_to_unsigned(f[2], 10, 0, G_MAXUINT32, &count, NULL) ||
		    count < GUEST_IDS || start + GUEST_IDS > G_MAXUINT32)
			continue;
		*base = (unsigned int)start;
		return true;
	}
	return false;
}

/* Root without subordinate ids: a free default range, ours while this process lives. */
static int claim_id_slot(unsigned int *base)
{
	static int held = -1;	/* one engine per process: kept across its runs */
	static unsigned int held_base;

	if (held >= 0) {
		*base = held_base;
		return 0;
	}
	if (mkdir(ID_SLOT_DIR, 0700) && errno != EEXIST)
		return -errno;
	for (unsigned int i = 0; i < ID_SLOTS; i++) {
		char path[64];
		int fd;

		snprintf(path, sizeof(path), ID_SLOT_DIR "/%u.lock", i);
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0 && (errno == EACCES || errno == ELOOP))
			continue;	/* one bad lock file is not the end of the slots */
		if (fd < 0)
			return -errno;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			held = fd;
			held_base = DEFAULT_ID_BASE + i * GUEST_IDS;
			*base = held_base;
			return 0;
		}
		close(fd);
	}
	return -EBUSY;
}

/*
 * How the guest's ids map to the host's.  --host-root: guest root is us
 * (the guest sees our files anyway).  --root: a range that is not ours,
 * or (no range, or PORTHOLE_GUEST_IDS=single, for tests) guest root is us
 * after one line saying so.
 */
static void choose_ids(const struct trap_options *opt, struct id_plan *ids)
{
	const char *force = getenv("PORTHOLE_GUEST_IDS");
	const char *user = g_get_user_name();
	unsigned int uid = (unsigned int)geteuid();
	g_autofree char *newuidmap = NULL, *newgidmap = NULL;
	int err;

	memset(ids, 0, sizeof(*ids));
	ids->how = IDS_SINGLE;
	if (!opt->root)
		return;
	if (force && !strcmp(force, "single")) {
		g_message("guest ids: PORTHOLE_GUEST_IDS=single: the guest's root is you (uid %u)",
			  uid);
		return;
	}
	if (uid == 0) {
		if (!subid_range("/etc/subuid", "root", 0, &ids->uid_base) ||
		    !subid_range("/etc/subgid", "root", 0, &ids->gid_base)) {
			err = claim_id_slot(&ids->uid_base);
			if (err) {
				g_warning("guest ids: no free range in " ID_SLOT_DIR " (%s): the "
					  "guest's root is host root", g_strerror(-err));
				return;
			}
			ids->gid_base = ids->uid_base;
		}
		ids->how = IDS_DIRECT;
	} else {
		newuidmap = g_find_program_in_path("newuidmap");
		newgidmap = g_find_program_in_path("newgidmap");
		if (!newuidmap || !newgidmap ||
		    !subid_range("/etc/subuid", user, uid, &ids->uid_base) ||
		    !subid_range("/etc/subgid", user, uid, &ids->gid_base)) {
			g_warning("guest ids: %s: the guest's root is you (uid %u)",
				  !newuidmap || !newgidmap ?
				  "no newuidmap/newgidmap (apt install uidmap)" :
				  "no range of 65536 ids for you in /etc/subuid and /etc/subgid",
				  uid);
			return;
		}
		ids->how = IDS_NEWIDMAP;
	}
	g_message("guest ids: 0-%u are host uids %u-%u, gids %u-%u", GUEST_IDS - 1,
		  ids->uid_base, ids->uid_base + GUEST_IDS - 1, ids->gid_base,
		  ids->gid_base + GUEST_IDS - 1);
}

static int write_proc(pid_t pid, const char *name, const char *text)
{
	g_autofree char *path = g_strdup_printf("/proc/%d/%s", (int)pid, name);
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;
	size_t len = strlen(text);

	if (fd < 0)
		return errno;
	if (write(fd, text, len) != (ssize_t)len)
		err = errno ? errno : EIO;
	close(fd);
	return err;
}

static int run_idmap_tool(const char *tool, pid_t pid, unsigned int base, unsigned int own)
{
	g_autofree char *spid = g_strdup_printf("%d", (int)pid);
	g_autofree char *sbase = g_strdup_printf("%u", base);
	g_autofree char *scount = g_strdup_printf("%u", GUEST_IDS);
	g_autofree char *sown = g_strdup_printf("%u", own);
	g_autofree char *out = NULL;
	g_autoptr(GError) err = NULL;
	char *argv[] = { (char *)tool, spid, "0", sbase, scount, scount, sown, "1", NULL };
	int status;

	if (!g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
			  NULL, NULL, NULL, &out, &status, &err) ||
	    !g_spawn_check_wait_status(status, NULL)) {
		g_warning("guest ids: %s: %s", tool, err ? err->message : g_strstrip(out));
		return -1;
	}
	return 0;
}

/*
 * Make detached mount `tree`'s files' ids 0..GUEST_IDS-1 the guest's
 * (MOUNT_ATTR_IDMAP through the helper's U1).  0, or -1 with errno set
 * (EOPNOTSUPP where PORTHOLE_HOST_LACKS has idmap).
 */
static int idmap_tree(int tree, int userns, unsigned int flags)
{
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns };

	if (host_lacks(HOST_IDMAP)) {
		errno = EOPNOTSUPP;
		return -1;
	}
	return (int)syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | flags, &attr,
			    sizeof(attr));
}

/* Why an id-mapped mount failed, errno from idmap_tree(). */
static const char *idmap_failure(int err)
{
	return host_lacks(HOST_IDMAP) ? HOST_LACKS_WHY : g_strerror(err);
}

/*
 * A copy of host tree `path` whose files' ids 0..GUEST_IDS-1 are the
 * guest's: an image built by root, and the upper layer, read the same
 * whatever range this run got.  -1 where the file system cannot (said
 * once).
 */
static int idmapped_tree(const char *path, int userns)
{
	int tree = (int)syscall(SYS_open_tree, AT_FDCWD, path,
				OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);

	if (tree < 0 || idmap_tree(tree, userns, AT_RECURSIVE)) {
		g_warning("guest ids: no id-mapped mount of %s (%s): its files owned by host "
			  "root are nobody's in the guest", path, idmap_failure(errno));
		if (tree >= 0)
			close(tree);
		return -1;
	}
	return tree;
}

/* ---- the persistent upper layer's disk (root) ---- */

#define DISK_IMAGE	"disk.img"

/* Make `img` hold a file system of `size` bytes: new, or grown (never shrunk). 0 or -1. */
static int prepare_disk_image(const char *img, uint64_t size)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *out = NULL;
	struct stat st;
	int fd, status;
	bool fresh = false;

	fd = open(img, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || fstat(fd, &st)) {
		g_warning("disk: %s: %s", img, g_strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	fresh = st.st_size == 0;
	if ((uint64_t)st.st_size > size) {
		g_message("disk: %s holds %llu MiB; --disk-size does not shrink it (remove it to "
			  "start afresh)", img, (unsigned long long)(st.st_size >> 20));
		close(fd);
		return 0;
	}
	if ((uint64_t)st.st_size < size && ftruncate(fd, (off_t)size)) {
		g_warning("disk: growing %s: %s", img, g_strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	if ((uint64_t)st.st_size == size)
		return 0;
	{
		/* Sparse: it takes the space the guest writes, up to the cap. */
		char *mkfs[] = { "mkfs.ext4", "-q", "-F", "-m", "0", "-E",
				 "lazy_itable_init=1,lazy_journal_init=1", (char *)img, NULL };
		char *grow[] = { "resize2fs", "-f", (char *)img, NULL };

		if (!g_spawn_sync(NULL, fresh ? mkfs : grow, NULL,
				  G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
				  &out, &status, &err) ||
		    !g_spawn_check_wait_status(status, NULL)) {
			g_warning("disk: %s %s: %s", fresh ? "mkfs.ext4" : "resize2fs", img,
				  err ? err->message : g_strstrip(out));
			/*
			 * Back to what it was: left at the new size, the next run
			 * would take the file's size for the filesystem's and
			 * never grow it.
			 */
			if (fresh)
				unlink(img);
			else if (truncate(img, st.st_size))
				g_warning("disk: %s: %s", img, g_strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* A loop device on `img` (freed with its last user): its fd, or -1. */
static int attach_loop(const char *img)
{
	struct loop_config cfg = { .info.lo_flags = LO_FLAGS_AUTOCLEAR };
	int ctl, ret = -1;

	/* A host without loop devices, for tests: as if there were no free one. */
	if (host_lacks(HOST_LOOP)) {
		g_warning("disk: no loop device for %s: " HOST_LACKS_WHY, img);
		return -1;
	}
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	cfg.fd = (uint32_t)open(img, O_RDWR | O_CLOEXEC);
	if (ctl < 0 || (int)cfg.fd < 0) {
		g_warning("disk: %s: %s", ctl < 0 ? "/dev/loop-control" : img, g_strerror(errno));
		goto out;
	}
	/* Another process may take the free device first: try again. */
	for (int attempt = 0; attempt < 8 && ret < 0; attempt++) {
		char dev[32];
		int n = ioctl(ctl, LOOP_CTL_GET_FREE), fd;

		if (n < 0)
			break;
		snprintf(dev, sizeof(dev), "/dev/loop%d", n);
		fd = open(dev, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (ioctl(fd, LOOP_CONFIGURE, &cfg) == 0)
			ret = fd;
		else
			close(fd);
	}
	if (ret < 0)
		g_warning("disk: no loop device for %s: %s", img, g_strerror(errno));
out:
	if (ctl >= 0)
		close(ctl);
	if ((int)cfg.fd >= 0)
		close((int)cfg.fd);
	return ret;
}

/*
 * The persistent upper layer's file system: `state_dir`/disk.img, an ext4
 * image of --disk-size on a loop device, mounted detached (never in the
 * host's tree) and id-mapped through `userns` (-1: the host has no
 * id-mapped mounts, its files keep the host ids of this run's range, as
 * the state dir's would).  Capped, and as crash-safe as ext4's journal.
 * A mount fd, or -1 after saying why (the state dir itself is used then,
 * uncapped).
 */
static int disk_tree(const char *state_dir, uint64_t size, int userns)
{
	g_autofree char *img = g_build_filename(state_dir, DISK_IMAGE, NULL);
	char dev[64];
	int loop, fs, mnt = -1;

	if (prepare_disk_image(img, size))
		return -1;
	loop = attach_loop(img);
	if (loop < 0)
		return -1;
	snprintf(dev, sizeof(dev), "/proc/self/fd/%d", loop);
	fs = (int)syscall(SYS_fsopen, "ext4", FSOPEN_CLOEXEC);
	if (fs < 0 || syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "source", dev, 0) ||
	    syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) ||
	    (mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC,
				MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)) < 0 ||
	    (userns >= 0 && idmap_tree(mnt, userns, 0))) {
		g_warning("disk: mounting %s: %s", img,
			  mnt >= 0 ? idmap_failure(errno) : g_strerror(errno));
		if (mnt >= 0)
			close(mnt);
		mnt = -1;
	}
	if (fs >= 0)
		close(fs);
	close(loop);	/* the mount holds the device now */
	return mnt;
}

/*
 * The engine's part of IDS_DIRECT and IDS_NEWIDMAP: once the helper made
 * U1, map it: guest ids to the range, and our own id to GUEST_IDS, which
 * U2 leaves out (the helper needs it for our files: state dir, shares);
 * then hand the helper id-mapped trees if we can make them, and the disk
 * (capped) if we can make it.  0 or -1.
 */
static int map_helper(const struct trap_options *opt, const struct id_plan *ids, pid_t helper,
		      int sock, int timeout_s)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_s * G_USEC_PER_SEC;
	g_autofree char *uid_map = NULL, *gid_map = NULL;
	int trees[2], n_trees = 0, userns = -1, ret = -1, err;
	union {
		char buf[CMSG_SPACE(sizeof(trees))];
		struct cmsghdr align;
	} cm;
	/* 'M', then which trees come, in this order: TREE_LOWER, TREE_STATE. */
	char which[2] = { 'M', 0 };
	struct iovec iov = { which, sizeof(which) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	char c = 0;

	err = read_until(sock, &c, 1, -1, deadline);
	if (err || c != 'U') {
		g_warning("the guest sandbox could not be set up (see the messages above)");
		return -1;
	}
	if (ids->how == IDS_DIRECT) {
		uid_map = g_strdup_printf("0 %u %u\n%u %u 1\n", ids->uid_base, GUEST_IDS,
					  GUEST_IDS, (unsigned int)geteuid());
		gid_map = g_strdup_printf("0 %u %u\n%u %u 1\n", ids->gid_base, GUEST_IDS,
					  GUEST_IDS, (unsigned int)getegid());
		err = write_proc(helper, "setgroups", "deny");
		if (!err)
			err = write_proc(helper, "uid_map", uid_map);
		if (!err)
			err = write_proc(helper, "gid_map", gid_map);
		if (err) {
			g_warning("guest ids: mapping the sandbox's user namespace: %s",
				  g_strerror(err));
			return -1;
		}
	} else if (run_idmap_tool("newuidmap", helper, ids->uid_base, (unsigned int)getuid()) ||
		   run_idmap_tool("newgidmap", helper, ids->gid_base, (unsigned int)getgid())) {
		return -1;
	}
	if (ids->how == IDS_DIRECT && opt->root) {
		g_autofree char *ns = g_strdup_printf("/proc/%d/ns/user", (int)helper);
		int lower;

		userns = open(ns, O_RDONLY | O_CLOEXEC);
		lower = userns >= 0 ? idmapped_tree(opt->root, userns) : -1;
		if (lower >= 0) {
			trees[n_trees++] = lower;
			which[1] |= TREE_LOWER;
		}
		/*
		 * The disk needs no id-mapped mount: without one its files keep
		 * the host ids, as the state dir's would, and it stays capped.
		 */
		if (!opt->snapshot && opt->state_dir) {
			int state = disk_tree(opt->state_dir, opt->disk_size,
					      lower >= 0 ? userns : -1);

			if (state < 0) {
				g_warning("disk: the guest's writes go to %s, without a cap",
					  opt->state_dir);
				if (lower >= 0)
					state = idmapped_tree(opt->state_dir, userns);
			}
			if (state >= 0) {
				trees[n_trees++] = state;
				which[1] |= TREE_STATE;
			}
		}
	}
	if (n_trees) {
		struct cmsghdr *cmsg;

		memset(&cm, 0, sizeof(cm));
		msg.msg_control = cm.buf;
		msg.msg_controllen = CMSG_SPACE((size_t)n_trees * sizeof(int));
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN((size_t)n_trees * sizeof(int));
		memcpy(CMSG_DATA(cmsg), trees, (size_t)n_trees * sizeof(int));
	}
	if (sendmsg(sock, &msg, MSG_NOSIGNAL) == (ssize_t)sizeof(which))
		ret = 0;
	else
		g_warning("guest ids: the sandbox helper went away");
	for (int i = 0; i < n_trees; i++)
		close(trees[i]);
	if (userns >= 0)
		close(userns);
	return ret;
}

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

/*
 * The sizes of the guest's tmpfs mounts, from its RAM as a machine of that
 * size would have them (half of it for /tmp, /var/tmp and /dev/shm each,
 * a fifth for /run, as systemd does); their pages count against the VM's
 * memory cgroup too.
 */
static void plan_sizes(struct plan *p, const struct trap_options *opt)
{
	unsigned long long ram = opt->ram_size ? opt->ram_size : 1ull << 30;
	unsigned long long disk = opt->disk_size ? opt->disk_size : SANDBOX_DEFAULT_DISK_SIZE;

	snprintf(p->tmp_opts, sizeof(p->tmp_opts), "mode=1777,size=%llu", ram / 2);
	snprintf(p->shm_opts, sizeof(p->shm_opts), "mode=1777,size=%llu", ram / 2);
	snprintf(p->run_opts, sizeof(p->run_opts), "mode=0755,size=%llu", ram / 5);
	snprintf(p->rw_opts, sizeof(p->rw_opts), "mode=0755,size=%llu", disk);
}

/*
 * The cgroups the helper joins, and the delegated one made the guest
 * root's: the directory and the files that move processes and hand
 * controllers down, never the limits (v2's delegation model; v1's
 * name=systemd has no limits).
 */
static void plan_cgroups(struct plan *p, const struct guest_cgroup *cg, const struct id_plan *ids)
{
	static const char *const owned[] = { "", "cgroup.procs", "cgroup.threads",
					     "cgroup.subtree_control", "tasks" };

	p->n_cgroups = 0;
	p->cgroup_mount = CG_NONE;
	if (!cg)
		return;
	for (int i = 0; i < cg->n && i < GUEST_CGROUP_MAX; i++) {
		snprintf(p->cgroup_procs[i], sizeof(p->cgroup_procs[i]), "%s/cgroup.procs",
			 cg->dirs[i]);
		p->n_cgroups++;
	}
	if (!cg->delegated)
		return;
	p->cgroup_mount = cg->v2 ? CG_V2 : CG_V1_SYSTEMD;
	if (ids->how != IDS_DIRECT)
		return;	/* guest root is us, or files can't be given away (newuidmap) */
	for (size_t i = 0; i < G_N_ELEMENTS(owned); i++) {
		g_autofree char *path = g_build_filename(cg->delegated, owned[i], NULL);

		if (chown(path, ids->uid_base, ids->gid_base) && errno != ENOENT)
			g_message("cgroup: chown %s to the guest's root: %s", path,
				  g_strerror(errno));
	}
}

/*
 * A clean environment for a guest on a root of its own: what a container
 * manager gives its init (container= tells systemd where it runs).
 */
static char *const *guest_environment(void)
{
	static char term[64];
	static char *envp[] = {
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/root", "container=porthole", term, NULL,
	};
	const char *t = getenv("TERM");

	snprintf(term, sizeof(term), "TERM=%s",
		 t && *t && strlen(t) < 32 && !strpbrk(t, "/ ") ? t : "vt220");
	return envp;
}

int sandbox_spawn(const struct trap_options *opt, struct sandbox *sb)
{
	static struct plan plan;	/* the fork copies it; static keeps it off a small stack */
	int info[2] = { -1, -1 }, ready[2] = { -1, -1 }, go[2] = { -1, -1 };
	int to_pid1[2] = { -1, -1 }, map_sv[2] = { -1, -1 };
	pid_t engine = getpid();
	struct id_plan ids;
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
	if (opt->root && (opt->root[0] != '/' || !g_file_test(opt->root, G_FILE_TEST_IS_DIR))) {
		g_warning("--root %s: needs the absolute path of a directory", opt->root);
		return -1;
	}
	if (opt->root && !opt->snapshot && !opt->state_dir) {
		g_warning("--root without --snapshot needs the VM's state directory");
		return -1;
	}
	if (opt->overlay && (opt->overlay[0] != '/' || !g_file_test(opt->overlay, G_FILE_TEST_IS_DIR))) {
		g_warning("--overlay %s: needs the absolute path of a directory", opt->overlay);
		return -1;
	}
	choose_ids(opt, &ids);
	if (opt->root && !opt->snapshot && ids.how != IDS_DIRECT)
		g_message("disk: the guest's writes go to %s without a cap (a capped disk image "
			  "needs porthole-hv to run as root; --snapshot is capped)", opt->state_dir);
	if (pipe2(info, O_CLOEXEC) || pipe2(ready, O_CLOEXEC) || pipe2(go, O_CLOEXEC) ||
	    pipe2(to_pid1, O_CLOEXEC) ||
	    (ids.how != IDS_SINGLE &&
	     socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, map_sv))) {
		g_warning("pipe: %s", g_strerror(errno));
		goto fail;
	}
	memset(&plan, 0, sizeof(plan));
	cwd = g_get_current_dir();
	plan.argv = opt->argv;
	plan.hostname = opt->hostname && opt->hostname[0] ? opt->hostname : "porthole";
	plan.cwd = cwd;
	plan.shares = opt->shares;
	plan.n_shares = opt->n_shares;
	plan.overlay = opt->overlay;
	plan.root = opt->root;
	plan.console_fd = opt->console_fd;
	if (opt->console_fd >= 0) {
		g_autofree char *fdpath = g_strdup_printf("/proc/self/fd/%d", opt->console_fd);
		g_autofree char *name = g_file_read_link(fdpath, NULL);

		if (!name || !g_str_has_prefix(name, "/dev/pts/") ||
		    strlen(name) >= sizeof(plan.console_path)) {
			g_warning("the console pty has no name in /dev/pts");
			g_free(cwd);
			goto fail;
		}
		strcpy(plan.console_path, name);
		/* The guest's root may reopen it (/dev/console), as on a machine. */
		if (ids.how == IDS_DIRECT &&
		    fchown(opt->console_fd, ids.uid_base, ids.gid_base))
			g_message("console: chown to the guest's root: %s", g_strerror(errno));
	}
	plan.state_dir = opt->snapshot ? NULL : opt->state_dir;
	plan_sizes(&plan, opt);
	/* The host's working directory and environment mean nothing in a root of its own. */
	if (opt->root) {
		g_free(cwd);
		cwd = NULL;
		plan.envp = guest_environment();
	}
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
	plan_cgroups(&plan, opt->cgroup, &ids);
	plan.ranged = ids.how != IDS_SINGLE;
	snprintf(plan.inner_map, sizeof(plan.inner_map), "0 0 %u", plan.ranged ? GUEST_IDS : 1);
	plan.map_sock = map_sv[1];
	plan.lower_tree = plan.state_tree = -1;
	plan.to_pid1_r = to_pid1[0];
	plan.to_pid1_w = to_pid1[1];

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
	close_fd(&to_pid1[0]);
	close_fd(&to_pid1[1]);
	close_fd(&map_sv[1]);
	if (ids.how != IDS_SINGLE && map_helper(opt, &ids, sb->helper, map_sv[0], sb->timeout_s)) {
		close_fd(&map_sv[0]);
		sandbox_abort(sb);
		return -1;
	}
	close_fd(&map_sv[0]);
	return 0;

fail:
	for (int i = 0; i < 2; i++) {
		close_fd(&info[i]);
		close_fd(&ready[i]);
		close_fd(&go[i]);
		close_fd(&to_pid1[i]);
		close_fd(&map_sv[i]);
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
