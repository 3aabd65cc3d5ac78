// SPDX-License-Identifier: MIT
/*
 * One viewer per VM (see porthole-host.h).  The guest's video, input and
 * clipboard channels each take one host binder, so a second viewer could
 * only ever show a grey window; instead it learns who holds the VM.
 *
 * The lock is a POSIX record lock on <socket directory>/NAME.viewer: the
 * kernel drops it when the holder exits however it exits, and F_GETLK
 * names the holder's pid without taking the lock (so asking never makes a
 * starting viewer fail).  The file stays; it is empty and private.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "porthole-host.h"

#define PH_ERROR g_quark_from_static_string("porthole-host")
#define VIEWER_LOCK_SUFFIX ".viewer"

/* Open NAME's lock file (creating the private socket directory if needed); -1 with errno. */
static int open_lock(const char *name, bool create)
{
	char dir[108];
	char *path;
	int fd;

	if (!*name || strchr(name, '/') || ph_ctl_dir(dir, sizeof(dir))) {
		errno = EINVAL;
		return -1;
	}
	if (create && mkdir(dir, 0700) && errno != EEXIST)
		return -1;
	path = g_strconcat(dir, "/", name, VIEWER_LOCK_SUFFIX, NULL);
	fd = open(path, (create ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW, 0600);
	g_free(path);
	return fd;
}

/* The pid holding a write lock on fd, 0 when none (or unknown). */
static pid_t lock_holder(int fd)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	if (fcntl(fd, F_GETLK, &fl) || fl.l_type == F_UNLCK)
		return 0;
	return fl.l_pid;
}

int ph_viewer_lock(const char *name, pid_t *holder, GError **error)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int fd = open_lock(name, true);

	*holder = 0;
	if (fd < 0) {
		g_set_error(error, PH_ERROR, errno, "cannot open the viewer lock of VM '%s': %s",
			    name, g_strerror(errno));
		return -1;
	}
	if (fcntl(fd, F_SETLK, &fl) == 0)
		return fd;
	if (errno == EACCES || errno == EAGAIN) {
		*holder = lock_holder(fd);
		g_set_error(error, PH_ERROR, EBUSY, "VM %s already has a viewer (pid %ld)", name,
			    (long)*holder);
	} else {
		g_set_error(error, PH_ERROR, errno, "cannot lock the viewer lock of VM '%s': %s",
			    name, g_strerror(errno));
	}
	close(fd);
	return -1;
}

pid_t ph_viewer_holder(const char *name)
{
	int fd = open_lock(name, false);
	pid_t pid;

	if (fd < 0)
		return 0;
	pid = lock_holder(fd);
	close(fd);
	return pid;
}
