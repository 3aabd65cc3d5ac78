// SPDX-License-Identifier: MIT
/*
 * evdump FILE [IDLE_MS]: print the struct input_event records in FILE (an
 * event log written by porthole-guestd --pointer-device, or a
 * /dev/input/eventN) one per line as "TYPE CODE VALUE" with the names the
 * pointer uses.  A regular file is read to its end; anything else until
 * nothing came for IDLE_MS (default 1000).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/input.h>

static const char *type_name(unsigned int t)
{
	switch (t) {
	case EV_SYN: return "EV_SYN";
	case EV_KEY: return "EV_KEY";
	case EV_REL: return "EV_REL";
	case EV_ABS: return "EV_ABS";
	case EV_MSC: return "EV_MSC";
	}
	return NULL;
}

static const char *code_name(unsigned int t, unsigned int c)
{
	if (t == EV_SYN && c == SYN_REPORT)
		return "SYN_REPORT";
	if (t == EV_ABS && c == ABS_X)
		return "ABS_X";
	if (t == EV_ABS && c == ABS_Y)
		return "ABS_Y";
	if (t == EV_REL && c == REL_WHEEL)
		return "REL_WHEEL";
	if (t == EV_REL && c == REL_WHEEL_HI_RES)
		return "REL_WHEEL_HI_RES";
	if (t == EV_KEY && c == BTN_LEFT)
		return "BTN_LEFT";
	if (t == EV_KEY && c == BTN_RIGHT)
		return "BTN_RIGHT";
	if (t == EV_KEY && c == BTN_MIDDLE)
		return "BTN_MIDDLE";
	return NULL;
}

int main(int argc, char **argv)
{
	int idle_ms = argc > 2 ? atoi(argv[2]) : 1000;
	struct input_event ev;
	struct stat st;
	bool regular;
	int fd;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: evdump FILE [IDLE_MS]\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		perror(argv[1]);
		return 1;
	}
	regular = S_ISREG(st.st_mode);
	for (;;) {
		ssize_t n;

		if (!regular) {
			struct pollfd p = { .fd = fd, .events = POLLIN };

			if (poll(&p, 1, idle_ms) <= 0)
				break;
		}
		n = read(fd, &ev, sizeof(ev));
		if (n == 0)
			break;
		if (n != (ssize_t)sizeof(ev)) {
			fprintf(stderr, "evdump: short or failed read (%zd): %s\n", n,
				n < 0 ? "error" : "truncated record");
			return 1;
		}
		const char *t = type_name(ev.type), *c = code_name(ev.type, ev.code);

		if (t)
			printf("%s ", t);
		else
			printf("%u ", ev.type);
		if (c)
			printf("%s %d\n", c, ev.value);
		else
			printf("%u %d\n", ev.code, ev.value);
		fflush(stdout);
	}
	return 0;
}
