// SPDX-License-Identifier: MIT
/*
 * porthole-ctl console VM: the user's terminal on the VM console.
 *
 * The hypervisor hands over its console pty's master (PH_CTL_CONSOLE); we
 * copy between it and our stdin/stdout until Ctrl-] (CONSOLE_ESCAPE) or
 * the guest side goes away, with the terminal in raw mode so that keys
 * reach the guest as typed, and the guest's window size kept to ours.
 * Without a terminal (a script), stdin's end detaches once the guest has
 * been quiet for CONSOLE_LINGER_MS, so that its answer is printed.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "host-services/ctl/console.h"
#include "host-services/lib/porthole-host.h"

#define CONSOLE_ESCAPE		0x1d	/* Ctrl-] */
#define CONSOLE_LINGER_MS	1000

static volatile sig_atomic_t winch = 1;	/* set: copy the size once at the start */

static void on_winch(int sig)
{
	winch = 1;
}

/* Everything of buf to fd, waiting when it is full (the master is non-blocking). */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EAGAIN) {
			struct pollfd p = { fd, POLLOUT, 0 };

			poll(&p, 1, 1000);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Copy until detach: 0, or 1 when the console broke. */
static int relay(int master, bool tty)
{
	struct pollfd p[2] = { { STDIN_FILENO, POLLIN, 0 }, { master, POLLIN, 0 } };
	char buf[4096];
	bool stdin_open = true;

	for (;;) {
		int timeout = stdin_open ? -1 : CONSOLE_LINGER_MS;
		int r;
		ssize_t n;

		if (tty && winch) {
			struct winsize ws;

			winch = 0;
			if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
				ioctl(master, TIOCSWINSZ, &ws);
		}
		p[0].fd = stdin_open ? STDIN_FILENO : -1;
		r = poll(p, 2, timeout);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return 1;
		if (r == 0)
			return 0;	/* stdin ended and the guest is quiet */
		if (p[1].revents) {
			n = read(master, buf, sizeof(buf));
			if (n > 0 && write_all(STDOUT_FILENO, buf, (size_t)n))
				return 1;
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
				fprintf(stderr, "\r\nporthole-ctl: the console went away\r\n");
				return 1;
			}
		}
		if (p[0].revents) {
			n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (n <= 0) {
				stdin_open = false;
				continue;
			}
			if (tty) {
				char *esc = memchr(buf, CONSOLE_ESCAPE, (size_t)n);

				if (esc) {
					write_all(master, buf, (size_t)(esc - buf));
					return 0;
				}
			}
			if (write_all(master, buf, (size_t)n))
				return 1;
		}
	}
}

int ctl_console(const char *vm)
{
	g_autoptr(GError) err = NULL;
	struct ph_reply r = { 0 };
	struct termios saved, raw;
	struct sigaction sa = { .sa_handler = on_winch };
	bool tty = isatty(STDIN_FILENO);
	int fd = ph_connect(vm, &err), ret;

	if (fd < 0 || ph_call(fd, PH_CTL_CONSOLE, NULL, 5000, &r, &err)) {
		fprintf(stderr, "porthole-ctl: %s\n", err->message);
		if (fd >= 0)
			close(fd);
		return 1;
	}
	if (r.status || r.fd < 0) {
		fprintf(stderr, "porthole-ctl: %s: %s\n", vm,
			r.status == EBUSY ? "someone else is attached to the console" :
			r.status == ENODEV ? "this VM has no console (KVM engine, or --console stdio)" :
			r.status ? g_strerror(r.status) : "the VM sent no console");
		ph_reply_clear(&r);
		close(fd);
		return 1;
	}
	if (tty) {
		fprintf(stderr, "porthole-ctl: %s: console attached; Ctrl-] detaches\r\n", vm);
		tcgetattr(STDIN_FILENO, &saved);
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);	/* keep what was typed ahead */
		sigemptyset(&sa.sa_mask);
		sigaction(SIGWINCH, &sa, NULL);
	}
	ret = relay(r.fd, tty);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSADRAIN, &saved);
		fprintf(stderr, "\nporthole-ctl: %s: console detached\n", vm);
	}
	/* Closing the connection gives the console back to the hypervisor's log. */
	ph_reply_clear(&r);
	close(fd);
	return ret;
}
