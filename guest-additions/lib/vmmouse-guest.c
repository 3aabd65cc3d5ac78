// SPDX-License-Identifier: MIT
/*
 * The vmmouse driver part shared by porthole-agent and porthole-guestd
 * (vmmouse-guest.h).  The protocol as QEMU's hw/input/vmmouse.c answers
 * it and Linux's drivers/input/mouse/vmmouse.c drives it.
 */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "backdoor/backdoor.h"
#include "vmmouse-guest.h"

static uint32_t abspointer(uint32_t cmd, uint32_t arg, struct bdoor_regs *out)
{
	struct bdoor_regs r;

	bdoor_lb_cmd(&r, cmd, 0);
	r.bx = arg;
	bdoor_lb(&r);
	if (out)
		*out = r;
	return (uint32_t)r.ax;
}

void vmmouse_decode(const uint32_t w[VMMOUSE_PACKET_WORDS], struct vmmouse_packet *p)
{
	p->relative = (w[0] & VMMOUSE_RELATIVE_PACKET) != 0;
	p->buttons = w[0] & (VMMOUSE_LEFT_BUTTON | VMMOUSE_MIDDLE_BUTTON | VMMOUSE_RIGHT_BUTTON);
	if (p->relative) {
		p->x = (int32_t)w[1];
		p->y = (int32_t)w[2];
	} else {
		/* A hypervisor may send anything: keep it on the screen. */
		p->x = (int32_t)(w[1] < VMMOUSE_ABS_MAX ? w[1] : VMMOUSE_ABS_MAX);
		p->y = (int32_t)(w[2] < VMMOUSE_ABS_MAX ? w[2] : VMMOUSE_ABS_MAX);
	}
	p->wheel = (int8_t)(w[3] & 0xFF);	/* as Linux reads it: s8 */
}

bool vmmouse_enable(void)
{
	uint32_t status, n;

	abspointer(BDOOR_CMD_ABSPOINTER_COMMAND, VMMOUSE_CMD_READ_ID, NULL);
	status = abspointer(BDOOR_CMD_ABSPOINTER_STATUS, 0, NULL);
	if ((status & 0xFFFF0000u) == VMMOUSE_ERROR || !(status & 0xFFFFu))
		return false;
	/* Packets of an earlier driver may precede the id: skip to it. */
	for (n = status & 0xFFFFu; n > 0; n--)
		if (abspointer(BDOOR_CMD_ABSPOINTER_DATA, 1, NULL) == VMMOUSE_VERSION_ID)
			break;
	if (!n)
		return false;
	vmmouse_request_absolute();
	return true;
}

void vmmouse_disable(void)
{
	abspointer(BDOOR_CMD_ABSPOINTER_COMMAND, VMMOUSE_CMD_DISABLE, NULL);
}

void vmmouse_request_absolute(void)
{
	abspointer(BDOOR_CMD_ABSPOINTER_COMMAND, VMMOUSE_CMD_REQUEST_ABSOLUTE, NULL);
}

enum vmmouse_drain_result vmmouse_drain(unsigned int max_reads, vmmouse_packet_fn fn,
					void *opaque, unsigned int *packets)
{
	unsigned int reads = 0, got = 0;
	enum vmmouse_drain_result res = VMMOUSE_DRAINED;
	bool reenabled = false;

	for (;;) {
		uint32_t status = abspointer(BDOOR_CMD_ABSPOINTER_STATUS, 0, NULL);
		uint32_t queued = status & 0xFFFFu;
		struct vmmouse_packet p;
		struct bdoor_regs r;
		uint32_t w[VMMOUSE_PACKET_WORDS];

		if ((status & 0xFFFF0000u) == VMMOUSE_ERROR) {
			/* Someone (another guest process?) broke the protocol: start over once. */
			if (reenabled || !vmmouse_enable()) {
				res = VMMOUSE_DRAIN_OFF;
				break;
			}
			reenabled = true;
			continue;
		}
		if (queued == 0)
			break;
		if (++reads > max_reads) {
			res = VMMOUSE_DRAIN_MORE;
			break;
		}
		if (queued % VMMOUSE_PACKET_WORDS) {
			/* A stray word (a version id) ahead of the packets: drop it. */
			abspointer(BDOOR_CMD_ABSPOINTER_DATA, queued % VMMOUSE_PACKET_WORDS, NULL);
			continue;
		}
		abspointer(BDOOR_CMD_ABSPOINTER_DATA, VMMOUSE_PACKET_WORDS, &r);
		w[0] = (uint32_t)r.ax;
		w[1] = (uint32_t)r.bx;
		w[2] = (uint32_t)r.cx;
		w[3] = (uint32_t)r.dx;
		vmmouse_decode(w, &p);
		fn(&p, opaque);
		got++;
	}
	if (packets)
		*packets = got;
	return res;
}

int vmmouse_claim(int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
				    strlen(VMMOUSE_CLAIM_SOCKET));
	struct pollfd pfd;
	char ack;
	int fd, r;

	memcpy(sa.sun_path + 1, VMMOUSE_CLAIM_SOCKET, strlen(VMMOUSE_CLAIM_SOCKET));
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, len)) {
		r = -errno;
		close(fd);
		return r;
	}
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	do {
		r = poll(&pfd, 1, timeout_ms);
	} while (r < 0 && errno == EINTR);
	if (r == 0) {
		close(fd);
		return -ETIMEDOUT;
	}
	if (r < 0 || recv(fd, &ack, 1, 0) != 1) {
		r = r < 0 ? -errno : -EPROTO;
		close(fd);
		return r;
	}
	return fd;
}
