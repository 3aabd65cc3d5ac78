// SPDX-License-Identifier: MIT
/* The guest's cgroups: see guest-cgroup.h. */
#define G_LOG_DOMAIN "porthole-hv"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest-cgroup.h"

/*
 * Where the hierarchies are mounted; PORTHOLE_CGROUP_ROOT moves it, for
 * tests: an empty directory (a host without cgroups), or a cgroup2 mount
 * such as a hybrid host's unified one (the v2 path on a v1 host).
 */
static const char *cgroup_root(void)
{
	const char *env = getenv("PORTHOLE_CGROUP_ROOT");

	return env && env[0] == '/' ? env : "/sys/fs/cgroup";
}

char *guest_cgroup_own_path(const char *text, const char *controller)
{
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

	for (char **l = lines; *l; l++) {
		/* hierarchy-id:controller,list:path */
		char *c = strchr(*l, ':'), *p = c ? strchr(c + 1, ':') : NULL;
		g_auto(GStrv) names = NULL;
		g_autofree char *list = NULL;

		if (!c || !p || p[1] != '/')
			continue;
		if (!*controller) {
			if (p == c + 1 && !strncmp(*l, "0:", 2))
				return g_strdup(p + 1);
			continue;
		}
		list = g_strndup(c + 1, (gsize)(p - c - 1));
		names = g_strsplit(list, ",", -1);
		for (char **n = names; *n; n++)
			if (!strcmp(*n, controller))
				return g_strdup(p + 1);
	}
	return NULL;
}

static int write_text(const char *dir, const char *file, const char *text)
{
	g_autofree char *path = g_build_filename(dir, file, NULL);
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;
	ssize_t len = (ssize_t)strlen(text);

	if (fd < 0)
		return errno;
	if (write(fd, text, (size_t)len) != len)
		err = errno ? errno : EIO;
	close(fd);
	return err;
}

/* mkdir `parent`/`leaf`: the new path, or NULL (errno set). */
static char *make_dir(const char *parent, const char *leaf)
{
	char *dir = g_build_filename(parent, leaf, NULL);

	if (mkdir(dir, 0755) && errno != EEXIST) {
		int err = errno;

		g_free(dir);
		errno = err;
		return NULL;
	}
	return dir;
}

static void add_dir(struct guest_cgroup *cg, char *dir)
{
	if (cg->n < GUEST_CGROUP_MAX)
		cg->dirs[cg->n++] = dir;
	else
		g_free(dir);
}

/*
 * rmdir `dir` and what the guest made below it; bounded depth.  `patient`:
 * retry a moment while the last guest processes are reaped.
 */
static void remove_tree(const char *dir, int depth, bool patient)
{
	DIR *d;
	struct dirent *de;

	if (depth < 16 && (d = opendir(dir))) {
		while ((de = readdir(d))) {
			g_autofree char *sub = NULL;

			if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") ||
			    !strcmp(de->d_name, ".."))
				continue;
			sub = g_build_filename(dir, de->d_name, NULL);
			remove_tree(sub, depth + 1, patient);
		}
		closedir(d);
	}
	/*
	 * unlinkat, not rmdir: the main thread's seccomp filter allows it.
	 * Briefly: a killed helper a debugger holds back keeps the cgroup
	 * busy, and a stop must not wait for that.
	 */
	for (int i = 0; i < (patient ? 10 : 1); i++) {
		if (!unlinkat(AT_FDCWD, dir, AT_REMOVEDIR) || errno == ENOENT)
			return;
		if (errno != EBUSY)
			break;
		if (patient)
			g_usleep(10000);	/* the last guest processes are still being reaped */
	}
	if (patient)
		g_message("cgroup: cannot remove %s: %s", dir, g_strerror(errno));
}

/*
 * The cgroups of VMs whose porthole-hv died without removing them (killed,
 * or stopped by its own seccomp filter): "porthole-NAME-PID" below `base`
 * where PID is no running porthole-hv.  Only empty cgroups can be removed,
 * so a live VM's are safe whatever its PID says.
 */
static void remove_stale(const char *base)
{
	DIR *d = opendir(base);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		const char *dash = strrchr(de->d_name, '-');
		g_autofree char *comm_path = NULL, *comm = NULL, *dir = NULL;
		guint64 pid;

		if (de->d_type != DT_DIR || !g_str_has_prefix(de->d_name, "porthole-") || !dash ||
		    !g_ascii_string_to_unsigned(dash + 1, 10, 1, G_MAXINT, &pid, NULL) ||
		    pid == (guint64)getpid())
			continue;
		comm_path = g_strdup_printf("/proc/%llu/comm", (unsigned long long)pid);
		if (g_file_get_contents(comm_path, &comm, NULL, NULL) &&
		    !strcmp(g_strstrip(comm), "porthole-hv"))
			continue;
		dir = g_build_filename(base, de->d_name, NULL);
		remove_tree(dir, 0, false);
	}
	closedir(d);
}

/* v2: our cgroup's controllers for a child; a cgroup with processes can't give them. */
static int enable_controllers(const char *base, const char *leaf)
{
	int err = write_text(base, "cgroup.subtree_control", "+memory +pids");
	g_autofree char *own = NULL, *pid = NULL;

	if (err != EBUSY)
		return err;
	/* "No internal processes": move ourselves to a leaf first, as systemd does. */
	own = make_dir(base, "porthole-hv");
	if (!own)
		return errno;
	pid = g_strdup_printf("%d", (int)getpid());
	err = write_text(own, "cgroup.procs", pid);
	return err ? err : write_text(base, "cgroup.subtree_control", "+memory +pids");
}

static void create_v2(struct guest_cgroup *cg, const char *own, const char *leaf, uint64_t ram,
		      unsigned int pids)
{
	g_autofree char *base = g_build_filename(cgroup_root(), own, NULL);
	char *dir;
	int err = enable_controllers(base, leaf);

	if (err)
		g_warning("cgroup: cannot enable memory and pids for guests below %s (%s): "
			  "--ram and --pids are not enforced", base, g_strerror(err));
	remove_stale(base);
	dir = make_dir(base, leaf);
	if (!dir) {
		g_warning("cgroup: mkdir in %s: %s: the guest runs without limits", base,
			  g_strerror(errno));
		return;
	}
	if (!err) {
		g_autofree char *max = g_strdup_printf("%llu", (unsigned long long)ram);
		g_autofree char *npids = g_strdup_printf("%u", pids);

		err = write_text(dir, "memory.max", max);
		if (!err)
			write_text(dir, "memory.swap.max", "0");	/* absent without swap */
		if (err || (err = write_text(dir, "pids.max", npids)))
			g_warning("cgroup: setting limits in %s: %s", dir, g_strerror(err));
	}
	cg->v2 = true;
	add_dir(cg, dir);
	cg->delegated = dir;
}

/* v1: one hierarchy; `limit` and `value` the cap to set, or NULL. */
static char *create_v1(const char *text, const char *controller, const char *mount,
		       const char *leaf, const char *limit, const char *value, const char *what)
{
	g_autofree char *own = guest_cgroup_own_path(text, controller);
	g_autofree char *base = NULL;
	char *dir;
	int err;

	if (!own || access(mount, F_OK)) {
		g_warning("cgroup: no %s hierarchy (v1) on this host: %s", controller, what);
		return NULL;
	}
	base = g_build_filename(mount, own, NULL);
	remove_stale(base);
	dir = make_dir(base, leaf);
	if (!dir) {
		g_warning("cgroup: mkdir in %s: %s: %s", base, g_strerror(errno), what);
		return NULL;
	}
	if (limit && (err = write_text(dir, limit, value)))
		g_warning("cgroup: %s/%s: %s: %s", dir, limit, g_strerror(err), what);
	return dir;
}

void guest_cgroup_create(struct guest_cgroup *cg, const char *name, uint64_t ram,
			 unsigned int pids)
{
	g_autofree char *text = NULL, *leaf = NULL, *max = NULL, *npids = NULL, *own2 = NULL;
	g_autofree char *controllers = g_build_filename(cgroup_root(), "cgroup.controllers", NULL);
	g_autofree char *memory = g_build_filename(cgroup_root(), "memory", NULL);
	g_autofree char *pids_mount = g_build_filename(cgroup_root(), "pids", NULL);
	g_autofree char *systemd = g_build_filename(cgroup_root(), "systemd", NULL);
	char *dir;

	memset(cg, 0, sizeof(*cg));
	if (!g_file_get_contents("/proc/self/cgroup", &text, NULL, NULL)) {
		g_warning("cgroup: cannot read /proc/self/cgroup: the guest runs without limits");
		return;
	}
	leaf = g_strdup_printf("porthole-%s-%d", name, (int)getpid());

	if (!access(controllers, F_OK)) {
		own2 = guest_cgroup_own_path(text, "");
		create_v2(cg, own2 ? own2 : "/", leaf, ram, pids);
		return;
	}
	max = g_strdup_printf("%llu", (unsigned long long)ram);
	npids = g_strdup_printf("%u", pids);
	dir = create_v1(text, "memory", memory, leaf, "memory.limit_in_bytes", max,
			"--ram does not cap the guest's memory");
	if (dir) {
		/* Swap counts too where the kernel accounts it (else the file is absent). */
		write_text(dir, "memory.memsw.limit_in_bytes", max);
		add_dir(cg, dir);
	}
	dir = create_v1(text, "pids", pids_mount, leaf, "pids.max", npids,
			"--pids does not cap the guest's processes");
	if (dir)
		add_dir(cg, dir);
	dir = create_v1(text, "name=systemd", systemd, leaf, NULL, NULL,
			"systemd cannot run as the guest's init");
	if (dir) {
		add_dir(cg, dir);
		cg->delegated = dir;
	}
}

void guest_cgroup_destroy(struct guest_cgroup *cg)
{
	for (int i = 0; i < cg->n; i++) {
		remove_tree(cg->dirs[i], 0, true);
		g_free(cg->dirs[i]);
	}
	memset(cg, 0, sizeof(*cg));
}
