// SPDX-License-Identifier: MIT
/* The VM console: see console.h. */
#define G_LOG_DOMAIN "porthole-hv"
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "console.h"

struct console {
	int master, slave, log_fd;
	char *log_path;
	guint src;
	unsigned int owner;	/* client holding the master, 0 for none */
	off_t log_size;
};

void console_escape(GString *out, const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c == '\r')
			continue;
		if (c == '\n' || c == '\t' || (c >= 0x20 && c < 0x7f && c != '\\'))
			g_string_append_c(out, (char)c);
		else
			g_string_append_printf(out, "\\x%02x", c);
	}
}

static void log_bytes(struct console *con, const char *buf, size_t len)
{
	GString *s = g_string_sized_new(len + 16);

	console_escape(s, buf, len);
	if (con->log_size + (off_t)s->len > CONSOLE_LOG_MAX) {
		/* O_APPEND: writes go to the new end. */
		if (ftruncate(con->log_fd, 0) == 0) {
			static const char mark[] = "[porthole: console log restarted, size cap]\n";

			con->log_size = 0;
			if (write(con->log_fd, mark, sizeof(mark) - 1) > 0)
				con->log_size = sizeof(mark) - 1;
		}
	}
	if (write(con->log_fd, s->str, s->len) > 0)
		con->log_size += (off_t)s->len;
	g_string_free(s, TRUE);
}

static gboolean on_output(gint fd, GIOCondition cond, gpointer p)
{
	struct console *con = p;
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n > 0) {
		log_bytes(con, buf, (size_t)n);
		return G_SOURCE_CONTINUE;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return G_SOURCE_CONTINUE;
	/* We hold the slave open, so EIO or EOF means the pty is broken: stop. */
	g_message("console: reading the pty: %s; no more console log",
		  n < 0 ? g_strerror(errno) : "end of file");
	con->src = 0;
	return G_SOURCE_REMOVE;
}

struct console *console_open(const char *log_path, GError **error)
{
	struct console *con = g_new0(struct console, 1);
	struct stat st;

	con->master = con->slave = con->log_fd = -1;
	con->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (con->master < 0 || grantpt(con->master) || unlockpt(con->master))
		goto fail;
	con->slave = ioctl(con->master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (con->slave < 0)
		goto fail;
	g_unix_set_fd_nonblocking(con->master, TRUE, NULL);
	con->log_path = g_strdup(log_path);
	con->log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (con->log_fd < 0 || fstat(con->log_fd, &st))
		goto fail;
	con->log_size = st.st_size;
	return con;
fail:
	g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno), "the VM console: %s%s%s",
		    con->log_path ? con->log_path : "", con->log_path ? ": " : "",
		    g_strerror(errno));
	console_close(con);
	return NULL;
}

void console_start(struct console *con)
{
	if (!con->src && !con->owner)
		con->src = g_unix_fd_add(con->master, G_IO_IN | G_IO_HUP | G_IO_ERR, on_output, con);
}

void console_drain(struct console *con)
{
	char buf[4096];
	ssize_t n;

	/* Bounded: the writers are gone, the pty buffer holds a few KiB at most. */
	for (int i = 0; !con->owner && i < 64 && (n = read(con->master, buf, sizeof(buf))) > 0; i++)
		log_bytes(con, buf, (size_t)n);
}

int console_attach(struct console *con, unsigned int owner)
{
	if (con->owner)
		return -EBUSY;
	con->owner = owner;
	if (con->src)
		g_source_remove(con->src);
	con->src = 0;
	g_message("console: a user attached");
	return con->master;
}

void console_detach(struct console *con, unsigned int owner)
{
	if (!con || !owner || con->owner != owner)
		return;
	con->owner = 0;
	g_message("console: the user detached");
	console_start(con);
}

int console_guest_fd(const struct console *con)
{
	return con->slave;
}

const char *console_log_path(const struct console *con)
{
	return con->log_path;
}

void console_close(struct console *con)
{
	if (!con)
		return;
	if (con->src)
		g_source_remove(con->src);
	if (con->master >= 0)
		close(con->master);
	if (con->slave >= 0)
		close(con->slave);
	if (con->log_fd >= 0)
		close(con->log_fd);
	g_free(con->log_path);
	g_free(con);
}
