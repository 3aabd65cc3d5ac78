// SPDX-License-Identifier: MIT
/*
 * GuestRPC message channel, guest side (backdoor command 30).
 *
 * The sequences follow open-vm-tools lib/message/message.c (see
 * shared/notes/backdoor-guestrpc-vmmouse.md §3):
 *
 *   open:  OPEN(proto | COOKIE), and OPEN(proto) if that fails
 *          -> id in EDX high, cookies in ESI/EDI
 *   send:  SENDSIZE(len) -> HB status: one `rep outsb`
 *                        -> else SENDPAYLOAD, 4 bytes per call
 *   recv:  RECVSIZE -> DORECV clear: nothing; else EDX high = SENDSIZE,
 *          EBX = len -> HB status: one `rep insb`
 *                    -> else RECVPAYLOAD per 4 bytes (EDX high = SENDPAYLOAD)
 *          then RECVSTATUS(SUCCESS)
 *   close: CLOSE
 *
 * A checkpoint (MESSAGE_STATUS_CPT on a failed payload step) restarts the
 * whole send or receive; a host that keeps claiming checkpoints gets
 * MSGCHAN_MAX_RETRIES of them, not an endless loop.
 */
#include <stdlib.h>
#include <string.h>

#include "backdoor.h"
#include "msgchan.h"

#define MSGCHAN_MAX_RETRIES	16

/* A command-30 call on channel c: magic, ECX, id and cookies set. */
static void msg_prepare(const struct msgchan *c, struct bdoor_regs *r, uint32_t type)
{
	bdoor_lb_cmd(r, BDOOR_CMD_MESSAGE, type);
	r->dx = BDOOR_EDX(0, c->id);
	r->si = c->cookie_hi;
	r->di = c->cookie_lo;
}

static uint32_t lb_status(const struct bdoor_regs *r)
{
	return bdoor_hi16(r->cx);
}

static uint32_t hb_status(const struct bdoor_regs *r)
{
	return bdoor_hi16(r->bx);
}

/* A high-bandwidth message call on channel c: magic, EBX, count, id. */
static void hb_prepare(const struct msgchan *c, struct bdoor_regs *r, size_t len)
{
	bdoor_hb_cmd(r, BDOORHB_CMD_MESSAGE, MESSAGE_STATUS_SUCCESS);
	r->cx = len;
	r->dx = BDOOR_EDX(0, c->id);
}

static int fail(struct msgchan *c, const char *why)
{
	c->err = why;
	return -1;
}

int msgchan_open(struct msgchan *c, uint32_t proto)
{
	bool no_hb = c->no_hb;
	uint32_t flags = GUESTMSG_FLAG_COOKIE;
	struct bdoor_regs r;

	*c = (struct msgchan) { .no_hb = no_hb };
	for (;;) {
		bdoor_lb_cmd(&r, BDOOR_CMD_MESSAGE, MESSAGE_TYPE_OPEN);
		r.bx = proto | flags;
		bdoor_lb(&r);
		if (lb_status(&r) & MESSAGE_STATUS_SUCCESS)
			break;
		if (!flags)
			return fail(c, "unable to open the communication channel");
		flags = 0;	/* a host without cookie support */
	}

	/* Without cookie support the host leaves ESI/EDI alone (zero). */
	c->id = bdoor_hi16(r.dx);
	c->cookie_hi = bdoor_lo32(r.si);
	c->cookie_lo = bdoor_lo32(r.di);
	c->open = true;
	return 0;
}

/* Little-endian packing of the 1..4 bytes at p, never reading past p[n-1]. */
static uint32_t piece_load(const unsigned char *p, size_t n)
{
	uint32_t v = 0;

	for (size_t i = 0; i < n; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static void piece_store(unsigned char *p, size_t n, uint32_t v)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

int msgchan_send(struct msgchan *c, const void *buf, size_t len)
{
	struct bdoor_regs r;
	int tries = 0;

	if (!c->open)
		return fail(c, "channel not open");
	if (len > GUESTMSG_MAX_SIZE)
		return fail(c, "message too large");
	if (len && !buf)
		return fail(c, "no message buffer");

retry:
	if (tries++ > MSGCHAN_MAX_RETRIES)
		return fail(c, "too many checkpoint retries");

	msg_prepare(c, &r, MESSAGE_TYPE_SENDSIZE);
	r.bx = len;
	bdoor_lb(&r);
	uint32_t st = lb_status(&r);

	if (!(st & MESSAGE_STATUS_SUCCESS))
		return fail(c, "host refused the message");

	if ((st & MESSAGE_STATUS_HB) && !c->no_hb) {
		if (!len)
			return 0;
		/* Note the cookie registers: EBP = high, EDI = low. */
		hb_prepare(c, &r, len);
		r.si = (uintptr_t)buf;
		r.bp = c->cookie_hi;
		r.di = c->cookie_lo;
		bdoor_hb_out(&r);
		st = hb_status(&r);
		if (!(st & MESSAGE_STATUS_SUCCESS)) {
			if (st & MESSAGE_STATUS_CPT)
				goto retry;
			return fail(c, "unable to send the message");
		}
		return 0;
	}

	const unsigned char *p = buf;
	size_t left = len;

	while (left) {
		size_t n = left < 4 ? left : 4;

		msg_prepare(c, &r, MESSAGE_TYPE_SENDPAYLOAD);
		r.bx = piece_load(p, n);
		bdoor_lb(&r);
		st = lb_status(&r);
		if (!(st & MESSAGE_STATUS_SUCCESS)) {
			if (st & MESSAGE_STATUS_CPT)
				goto retry;
			return fail(c, "unable to send the message");
		}
		p += n;
		left -= n;
	}
	return 0;
}

/*
 * Tell the host the reception failed: RECVPAYLOAD(0) while bytes are still
 * due, RECVSTATUS(0) once they all came, as message.c does.
 */
static void recv_abort(struct msgchan *c, size_t left)
{
	struct bdoor_regs r;

	msg_prepare(c, &r, left ? MESSAGE_TYPE_RECVPAYLOAD : MESSAGE_TYPE_RECVSTATUS);
	r.bx = 0;
	bdoor_lb(&r);
}

int msgchan_recv(struct msgchan *c, char **buf, size_t *len)
{
	struct bdoor_regs r;
	unsigned char *mem = NULL;
	size_t size, left;
	int tries = 0;
	uint32_t st;

	*buf = NULL;
	*len = 0;
	if (!c->open)
		return fail(c, "channel not open");

retry:
	free(mem);
	mem = NULL;
	if (tries++ > MSGCHAN_MAX_RETRIES)
		return fail(c, "too many checkpoint retries");

	msg_prepare(c, &r, MESSAGE_TYPE_RECVSIZE);
	bdoor_lb(&r);
	st = lb_status(&r);
	if (!(st & MESSAGE_STATUS_SUCCESS))
		return fail(c, "unable to poll for messages");
	if (!(st & MESSAGE_STATUS_DORECV))
		return 0;
	if (bdoor_hi16(r.dx) != MESSAGE_TYPE_SENDSIZE)
		return fail(c, "protocol error: expected SENDSIZE from the host");

	size = left = bdoor_lo32(r.bx);
	if (size > GUESTMSG_MAX_SIZE) {
		c->err = "host announced an oversized message";
		goto abort;
	}
	mem = malloc(size + 1);
	if (!mem) {
		c->err = "out of memory";
		goto abort;
	}

	if ((st & MESSAGE_STATUS_HB) && !c->no_hb) {
		if (size) {
			/* Note the cookie registers: ESI = high, EBP = low. */
			hb_prepare(c, &r, size);
			r.di = (uintptr_t)mem;
			r.si = c->cookie_hi;
			r.bp = c->cookie_lo;
			bdoor_hb_in(&r);
			st = hb_status(&r);
			if (!(st & MESSAGE_STATUS_SUCCESS)) {
				if (st & MESSAGE_STATUS_CPT)
					goto retry;
				c->err = "unable to receive the message";
				goto abort;
			}
			left = 0;
		}
	} else {
		unsigned char *p = mem;

		while (left) {
			size_t n = left < 4 ? left : 4;

			msg_prepare(c, &r, MESSAGE_TYPE_RECVPAYLOAD);
			r.bx = MESSAGE_STATUS_SUCCESS;
			bdoor_lb(&r);
			st = lb_status(&r);
			if (!(st & MESSAGE_STATUS_SUCCESS)) {
				if (st & MESSAGE_STATUS_CPT)
					goto retry;
				c->err = "unable to receive the message";
				goto abort;
			}
			if (bdoor_hi16(r.dx) != MESSAGE_TYPE_SENDPAYLOAD) {
				c->err = "protocol error: expected SENDPAYLOAD from the host";
				goto abort;
			}
			piece_store(p, n, bdoor_lo32(r.bx));
			p += n;
			left -= n;
		}
	}
	mem[size] = '\0';

	msg_prepare(c, &r, MESSAGE_TYPE_RECVSTATUS);
	r.bx = MESSAGE_STATUS_SUCCESS;
	bdoor_lb(&r);
	st = lb_status(&r);
	if (!(st & MESSAGE_STATUS_SUCCESS)) {
		if (st & MESSAGE_STATUS_CPT)
			goto retry;
		c->err = "unable to acknowledge the message";
		goto abort;
	}

	*buf = (char *)mem;
	*len = size;
	return 0;

abort:
	free(mem);
	recv_abort(c, left);
	return -1;
}

void msgchan_close(struct msgchan *c)
{
	struct bdoor_regs r;

	if (!c->open)
		return;
	msg_prepare(c, &r, MESSAGE_TYPE_CLOSE);
	bdoor_lb(&r);
	c->open = false;
}

int rpci_send(struct msgchan *c, const char *cmd, size_t len, char **reply, size_t *reply_len)
{
	char *req = NULL, *rep;
	size_t rlen;
	int ret;

	if (reply)
		*reply = NULL;
	if (reply_len)
		*reply_len = 0;

	/* Old hosts expect "cmd " even when there are no arguments. */
	if (!len || !memchr(cmd, ' ', len)) {
		if (len >= GUESTMSG_MAX_SIZE)
			return fail(c, "message too large");
		req = malloc(len + 1);
		if (!req)
			return fail(c, "out of memory");
		if (len)
			memcpy(req, cmd, len);
		req[len++] = ' ';
		cmd = req;
	}
	ret = msgchan_send(c, cmd, len);
	free(req);
	if (ret)
		return -1;

	if (msgchan_recv(c, &rep, &rlen))
		return -1;
	if (!rep)
		return fail(c, "no reply from the host");
	if (rlen < 2 || rep[1] != ' ' || (rep[0] != '0' && rep[0] != '1')) {
		free(rep);
		return fail(c, "invalid format for the result of the RPCI command");
	}

	ret = rep[0] == '1';
	rlen -= 2;
	if (reply) {
		memmove(rep, rep + 2, rlen + 1);	/* keeps the NUL */
		*reply = rep;
	} else {
		free(rep);
	}
	if (reply_len)
		*reply_len = rlen;
	return ret;
}

int rpci_send_one(const char *cmd, size_t len, char **reply, size_t *reply_len)
{
	struct msgchan c = { 0 };
	int ret;

	if (reply)
		*reply = NULL;
	if (reply_len)
		*reply_len = 0;
	if (msgchan_open(&c, RPCI_PROTOCOL_NUM))
		return -1;
	ret = rpci_send(&c, cmd, len, reply, reply_len);
	msgchan_close(&c);
	return ret;
}
