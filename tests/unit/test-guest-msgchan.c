// SPDX-License-Identifier: MIT
/*
 * The guest side of the GuestRPC channel (backdoor/msgchan-guest.c), driven
 * through bdoor_set_transport() against a scripted host that lives in this
 * file.  The fake host checks every register the guest hands it (magic,
 * command, port, channel id, cookies, packing) and counts the calls, so the
 * tests can assert the exact sequence open-vm-tools would produce.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "backdoor/backdoor.h"
#include "backdoor/msgchan.h"

#define FAKE_ID		7
#define FAKE_COOKIE_HI	0x11223344u
#define FAKE_COOKIE_LO	0x55667788u

/* ---- the scripted host ---- */

struct fake_host {
	/* script */
	bool cookies;		/* accept GUESTMSG_FLAG_COOKIE on OPEN */
	bool refuse_open;	/* fail every OPEN */
	bool offer_hb;
	bool bad_recv_type;	/* RECVSIZE answers with the wrong EDX type */
	bool bad_payload_type;	/* RECVPAYLOAD answers with the wrong EDX type */
	int cpt_at;		/* fail payload step #cpt_at (1-based) with CPT */
	bool cpt_forever;	/* every payload step fails with CPT */
	uint32_t announce;	/* nonzero: RECVSIZE announces this size */
	unsigned char out[64];	/* host->guest message */
	size_t out_len;
	bool out_queued;

	/* state */
	bool open, with_cookies;
	uint32_t proto;
	unsigned char in[64];	/* guest->host message being assembled */
	size_t in_len, in_expect;
	bool sending;
	size_t recv_off;
	bool receiving;
	int payload_steps;

	/* record */
	unsigned char got[64];	/* last complete guest->host message */
	size_t got_len;
	int got_count;
	int n_open, n_open_cookie, n_sendsize, n_sendpayload, n_recvsize;
	int n_recvpayload, n_recvstatus, n_close, n_hb_out, n_hb_in, n_getversion;
	int n_abort;		/* RECVPAYLOAD/RECVSTATUS with EBX = 0 */
	int bad;		/* calls with wrong magic/port/id/cookies/packing */
	/* A list of replies for RPCI: each received message queues the next. */
	const char *const *replies;
	int reply_idx;
};

static struct fake_host H;

static uint32_t lo32(uint64_t v) { return (uint32_t)v; }
static uint32_t hi16(uint64_t v) { return ((uint32_t)v >> 16) & 0xFFFF; }

static void set_status(struct bdoor_regs *r, uint32_t st)
{
	r->cx = (r->cx & 0xFFFF) | (st << 16);
}

static void queue_out(const void *msg, size_t len)
{
	assert_true(len <= sizeof(H.out));
	memcpy(H.out, msg, len);
	H.out_len = len;
	H.out_queued = true;
}

/* A low-bandwidth call on an open channel: the right id and cookies. */
static bool check_chan(const struct bdoor_regs *r)
{
	if (!H.open || hi16(r->dx) != FAKE_ID)
		return false;
	return !H.with_cookies ||
	       (lo32(r->si) == FAKE_COOKIE_HI && lo32(r->di) == FAKE_COOKIE_LO);
}

static bool inject_cpt(void)
{
	H.payload_steps++;
	return H.cpt_forever || H.payload_steps == H.cpt_at;
}

static void message_done(void)
{
	memcpy(H.got, H.in, H.in_len);
	H.got_len = H.in_len;
	H.got_count++;
	H.sending = false;
	if (H.replies && H.replies[H.reply_idx]) {
		const char *rep = H.replies[H.reply_idx++];

		queue_out(rep, strlen(rep));
	}
}

static void fake_lb(struct bdoor_regs *r, void *opaque)
{
	assert_ptr_equal(opaque, &H);
	if (lo32(r->ax) != BDOOR_MAGIC || (r->dx & 0xFFFF) != BDOOR_PORT_LB) {
		H.bad++;
		r->ax = BDOOR_UNSUPPORTED;
		return;
	}

	uint32_t cmd = BDOOR_ECX_CMD(r->cx), sub = BDOOR_ECX_SUB(r->cx);

	if (cmd == BDOOR_CMD_GETVERSION) {
		H.n_getversion++;
		r->ax = BDOOR_VERSION;
		r->bx = BDOOR_MAGIC;
		r->cx = BDOOR_VMX_TYPE_SCALABLE_SERVER;
		return;
	}
	if (cmd != BDOOR_CMD_MESSAGE) {
		r->ax = BDOOR_UNSUPPORTED;
		return;
	}

	if (sub != MESSAGE_TYPE_OPEN && !check_chan(r)) {
		H.bad++;
		set_status(r, 0);
		return;
	}

	switch (sub) {
	case MESSAGE_TYPE_OPEN: {
		bool ck = r->bx & GUESTMSG_FLAG_COOKIE;

		H.n_open++;
		H.n_open_cookie += ck;
		if (H.refuse_open || (ck && !H.cookies)) {
			set_status(r, 0);
			return;
		}
		H.open = true;
		H.with_cookies = ck;
		H.proto = lo32(r->bx) & ~GUESTMSG_FLAG_COOKIE;
		r->dx = (uint32_t)FAKE_ID << 16;
		if (ck) {
			r->si = FAKE_COOKIE_HI;
			r->di = FAKE_COOKIE_LO;
		}
		set_status(r, MESSAGE_STATUS_SUCCESS);
		return;
	}
	case MESSAGE_TYPE_SENDSIZE:
		H.n_sendsize++;
		if (lo32(r->bx) > sizeof(H.in)) {
			set_status(r, 0);
			return;
		}
		H.in_expect = lo32(r->bx);
		H.in_len = 0;
		H.sending = true;
		set_status(r, MESSAGE_STATUS_SUCCESS | (H.offer_hb ? MESSAGE_STATUS_HB : 0));
		if (H.in_expect == 0)
			message_done();
		return;
	case MESSAGE_TYPE_SENDPAYLOAD: {
		H.n_sendpayload++;
		if (!H.sending) {
			H.bad++;
			set_status(r, 0);
			return;
		}
		if (inject_cpt()) {
			H.sending = false;
			set_status(r, MESSAGE_STATUS_CPT);
			return;
		}
		size_t n = H.in_expect - H.in_len;
		uint32_t v = lo32(r->bx);

		if (n > 4)
			n = 4;
		/* The last piece carries only its bytes: the rest must be 0. */
		if (n < 4 && (v >> (8 * n)) != 0)
			H.bad++;
		for (size_t i = 0; i < n; i++)
			H.in[H.in_len++] = (unsigned char)(v >> (8 * i));
		set_status(r, MESSAGE_STATUS_SUCCESS);
		if (H.in_len == H.in_expect)
			message_done();
		return;
	}
	case MESSAGE_TYPE_RECVSIZE:
		H.n_recvsize++;
		H.receiving = false;
		if (!H.out_queued) {
			set_status(r, MESSAGE_STATUS_SUCCESS);
			return;
		}
		H.receiving = true;
		H.recv_off = 0;
		r->bx = H.announce ? H.announce : H.out_len;
		r->dx = (uint32_t)(H.bad_recv_type ? MESSAGE_TYPE_RECVSIZE :
				   MESSAGE_TYPE_SENDSIZE) << 16;
		set_status(r, MESSAGE_STATUS_SUCCESS | MESSAGE_STATUS_DORECV |
			   (H.offer_hb ? MESSAGE_STATUS_HB : 0));
		return;
	case MESSAGE_TYPE_RECVPAYLOAD: {
		H.n_recvpayload++;
		if (lo32(r->bx) != MESSAGE_STATUS_SUCCESS) {
			H.n_abort++;
			H.receiving = false;
			set_status(r, MESSAGE_STATUS_SUCCESS);
			return;
		}
		if (!H.receiving) {
			H.bad++;
			set_status(r, 0);
			return;
		}
		if (inject_cpt()) {
			H.receiving = false;
			set_status(r, MESSAGE_STATUS_CPT);
			return;
		}
		/* Garbage past the end: the guest must not store it. */
		uint32_t v = 0xA5A5A5A5u;

		for (size_t i = 0; i < 4 && H.recv_off < H.out_len; i++, H.recv_off++) {
			v &= ~(0xFFu << (8 * i));
			v |= (uint32_t)H.out[H.recv_off] << (8 * i);
		}
		r->bx = v;
		r->dx = (uint32_t)(H.bad_payload_type ? MESSAGE_TYPE_SENDSIZE :
				   MESSAGE_TYPE_SENDPAYLOAD) << 16;
		set_status(r, MESSAGE_STATUS_SUCCESS);
		return;
	}
	case MESSAGE_TYPE_RECVSTATUS:
		H.n_recvstatus++;
		if (lo32(r->bx) != MESSAGE_STATUS_SUCCESS) {
			H.n_abort++;
			H.receiving = false;
			set_status(r, MESSAGE_STATUS_SUCCESS);
			return;
		}
		if (!H.receiving || H.recv_off != H.out_len) {
			H.bad++;
			set_status(r, 0);
			return;
		}
		if (inject_cpt()) {
			H.receiving = false;
			set_status(r, MESSAGE_STATUS_CPT);
			return;
		}
		H.receiving = false;
		H.out_queued = false;
		set_status(r, MESSAGE_STATUS_SUCCESS);
		return;
	case MESSAGE_TYPE_CLOSE:
		H.n_close++;
		H.open = false;
		set_status(r, MESSAGE_STATUS_SUCCESS);
		return;
	default:
		H.bad++;
		set_status(r, 0);
	}
}

static bool check_hb(const struct bdoor_regs *r, uint64_t ck_hi, uint64_t ck_lo)
{
	if (lo32(r->ax) != BDOOR_MAGIC || (r->dx & 0xFFFF) != BDOOR_PORT_HB ||
	    (r->bx & 0xFFFF) != BDOORHB_CMD_MESSAGE || hi16(r->bx) != MESSAGE_STATUS_SUCCESS ||
	    !H.open || hi16(r->dx) != FAKE_ID)
		return false;
	return !H.with_cookies ||
	       (lo32(ck_hi) == FAKE_COOKIE_HI && lo32(ck_lo) == FAKE_COOKIE_LO);
}

static void hb_set_status(struct bdoor_regs *r, uint32_t st)
{
	r->bx = (r->bx & 0xFFFF) | (st << 16);
}

static void fake_hb_out(struct bdoor_regs *r, void *opaque)
{
	H.n_hb_out++;
	/* The HB port exists only after the host offered it. */
	if (!H.offer_hb || !H.sending || !check_hb(r, r->bp, r->di) ||
	    r->cx != H.in_expect) {
		H.bad++;
		hb_set_status(r, 0);
		return;
	}
	if (inject_cpt()) {
		H.sending = false;
		hb_set_status(r, MESSAGE_STATUS_CPT);
		return;
	}
	memcpy(H.in, (const void *)(uintptr_t)r->si, r->cx);
	H.in_len = r->cx;
	r->si += r->cx;
	r->cx = 0;
	hb_set_status(r, MESSAGE_STATUS_SUCCESS);
	message_done();
}

static void fake_hb_in(struct bdoor_regs *r, void *opaque)
{
	H.n_hb_in++;
	if (!H.offer_hb || !H.receiving || !check_hb(r, r->si, r->bp) ||
	    r->cx != H.out_len) {
		H.bad++;
		hb_set_status(r, 0);
		return;
	}
	if (inject_cpt()) {
		H.receiving = false;
		hb_set_status(r, MESSAGE_STATUS_CPT);
		return;
	}
	memcpy((void *)(uintptr_t)r->di, H.out, r->cx);
	H.recv_off = r->cx;
	r->di += r->cx;
	r->cx = 0;
	hb_set_status(r, MESSAGE_STATUS_SUCCESS);
}

static const struct bdoor_transport fake_transport = {
	.lb = fake_lb,
	.hb_out = fake_hb_out,
	.hb_in = fake_hb_in,
	.opaque = &H,
};

static int setup(void **state)
{
	memset(&H, 0, sizeof(H));
	H.cookies = true;
	bdoor_set_transport(&fake_transport);
	return 0;
}

static int teardown(void **state)
{
	bdoor_set_transport(NULL);
	return 0;
}

static void open_chan(struct msgchan *c)
{
	assert_int_equal(msgchan_open(c, RPCI_PROTOCOL_NUM), 0);
	assert_true(c->open);
}

/*
 * A copy of `src` that ends exactly at a PROT_NONE page: any read past the
 * last byte faults, with or without ASan.
 */
struct guarded {
	void *map;
	size_t size;
	unsigned char *buf;
};

static void guarded_copy(struct guarded *g, const void *src, size_t len)
{
	long page = sysconf(_SC_PAGESIZE);

	g->size = 2 * page;
	g->map = mmap(NULL, g->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(g->map != MAP_FAILED);
	assert_int_equal(mprotect((char *)g->map + page, page, PROT_NONE), 0);
	g->buf = (unsigned char *)g->map + page - len;
	memcpy(g->buf, src, len);
}

static void guarded_free(struct guarded *g)
{
	munmap(g->map, g->size);
}

static const unsigned char pattern[] = "0123456789abcdefghij";

/* ---- tests ---- */

static void test_open_with_cookies(void **state)
{
	struct msgchan c = { 0 };

	open_chan(&c);
	assert_int_equal(H.n_open, 1);
	assert_int_equal(H.n_open_cookie, 1);
	assert_int_equal(H.proto, RPCI_PROTOCOL_NUM);
	assert_int_equal(c.id, FAKE_ID);
	assert_int_equal(c.cookie_hi, FAKE_COOKIE_HI);
	assert_int_equal(c.cookie_lo, FAKE_COOKIE_LO);
	msgchan_close(&c);
	assert_false(c.open);
	assert_int_equal(H.n_close, 1);
	msgchan_close(&c);	/* idempotent */
	assert_int_equal(H.n_close, 1);
	assert_int_equal(H.bad, 0);
}

static void test_open_retries_without_cookie(void **state)
{
	struct msgchan c = { 0 };

	H.cookies = false;
	assert_int_equal(msgchan_open(&c, TCLO_PROTOCOL_NUM), 0);
	assert_int_equal(H.n_open, 2);
	assert_int_equal(H.n_open_cookie, 1);	/* first with, then without */
	assert_false(H.with_cookies);
	assert_int_equal(H.proto, TCLO_PROTOCOL_NUM);
	assert_int_equal(c.id, FAKE_ID);

	/* The channel works without cookies too. */
	assert_int_equal(msgchan_send(&c, "abc", 3), 0);
	assert_int_equal(H.got_len, 3);
	msgchan_close(&c);
	assert_int_equal(H.bad, 0);
}

static void test_open_refused(void **state)
{
	struct msgchan c = { 0 };

	H.refuse_open = true;
	assert_int_equal(msgchan_open(&c, RPCI_PROTOCOL_NUM), -1);
	assert_false(c.open);
	assert_non_null(c.err);
	assert_int_equal(H.n_open, 2);
	assert_int_equal(msgchan_send(&c, "x", 1), -1);
	msgchan_close(&c);
	assert_int_equal(H.n_close, 0);
}

static void test_send_lb_pieces(void **state)
{
	for (size_t len = 0; len <= 9; len++) {
		struct msgchan c = { 0 };
		struct guarded g;

		setup(state);
		guarded_copy(&g, pattern, len);
		open_chan(&c);
		assert_int_equal(msgchan_send(&c, g.buf, len), 0);
		assert_int_equal(H.n_sendsize, 1);
		assert_int_equal(H.n_sendpayload, (int)((len + 3) / 4));
		assert_int_equal(H.got_count, 1);
		assert_int_equal(H.got_len, len);
		assert_memory_equal(H.got, pattern, len);
		assert_int_equal(H.n_hb_out, 0);
		assert_int_equal(H.bad, 0);
		msgchan_close(&c);
		guarded_free(&g);
	}
}

static void test_recv_lb_pieces(void **state)
{
	for (size_t len = 0; len <= 9; len++) {
		struct msgchan c = { 0 };
		char *buf;
		size_t n;

		setup(state);
		queue_out(pattern, len);
		open_chan(&c);
		assert_int_equal(msgchan_recv(&c, &buf, &n), 0);
		assert_non_null(buf);	/* an empty message is still a message */
		assert_int_equal(n, len);
		assert_memory_equal(buf, pattern, len);
		assert_int_equal(buf[len], '\0');
		assert_int_equal(H.n_recvpayload, (int)((len + 3) / 4));
		assert_int_equal(H.n_recvstatus, 1);
		assert_false(H.out_queued);
		assert_int_equal(H.n_hb_in, 0);
		assert_int_equal(H.bad, 0);
		free(buf);
		msgchan_close(&c);
	}
}

static void test_recv_nothing(void **state)
{
	struct msgchan c = { 0 };
	char *buf = (char *)1;
	size_t n = 99;

	open_chan(&c);
	assert_int_equal(msgchan_recv(&c, &buf, &n), 0);
	assert_null(buf);
	assert_int_equal(n, 0);
	assert_int_equal(H.n_recvsize, 1);
	assert_int_equal(H.n_recvpayload, 0);
	assert_int_equal(H.n_recvstatus, 0);
	msgchan_close(&c);
}

static void test_recv_bad_types(void **state)
{
	struct msgchan c = { 0 };
	char *buf;
	size_t n;

	open_chan(&c);
	queue_out("hello", 5);
	H.bad_recv_type = true;
	assert_int_equal(msgchan_recv(&c, &buf, &n), -1);
	assert_null(buf);
	assert_int_equal(H.n_recvpayload, 0);

	H.bad_recv_type = false;
	H.bad_payload_type = true;
	assert_int_equal(msgchan_recv(&c, &buf, &n), -1);
	assert_null(buf);
	assert_int_equal(H.n_abort, 1);
	msgchan_close(&c);
}

static void test_recv_oversized(void **state)
{
	static const uint32_t sizes[] = { GUESTMSG_MAX_SIZE + 1, 0x7FFFFFFFu, 0xFFFFFFFFu };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct msgchan c = { 0 };
		char *buf;
		size_t n;

		setup(state);
		open_chan(&c);
		queue_out("hi", 2);
		H.announce = sizes[i];
		assert_int_equal(msgchan_recv(&c, &buf, &n), -1);
		assert_null(buf);
		assert_int_equal(n, 0);
		assert_non_null(c.err);
		/* Nothing fetched; the host is told the reception failed. */
		assert_int_equal(H.n_recvpayload, 1);
		assert_int_equal(H.n_abort, 1);
		assert_int_equal(H.n_recvstatus, 0);
		msgchan_close(&c);
	}
}

static void test_send_cpt_retry(void **state)
{
	struct msgchan c = { 0 };

	open_chan(&c);
	H.cpt_at = 2;
	assert_int_equal(msgchan_send(&c, pattern, 10), 0);
	assert_int_equal(H.n_sendsize, 2);		/* restarted from SENDSIZE */
	assert_int_equal(H.n_sendpayload, 2 + 3);	/* 1 ok + 1 CPT, then 3 */
	assert_int_equal(H.got_count, 1);
	assert_int_equal(H.got_len, 10);
	assert_memory_equal(H.got, pattern, 10);
	assert_int_equal(H.bad, 0);
	msgchan_close(&c);
}

static void test_recv_cpt_retry(void **state)
{
	struct msgchan c = { 0 };
	char *buf;
	size_t n;

	open_chan(&c);
	queue_out(pattern, 10);
	H.cpt_at = 3;
	assert_int_equal(msgchan_recv(&c, &buf, &n), 0);
	assert_int_equal(n, 10);
	assert_memory_equal(buf, pattern, 10);
	assert_int_equal(H.n_recvsize, 2);
	assert_int_equal(H.n_recvpayload, 3 + 3);
	assert_int_equal(H.bad, 0);
	free(buf);

	/* A CPT on the final RECVSTATUS restarts the receive too. */
	queue_out(pattern, 4);
	H.payload_steps = 0;
	H.cpt_at = 2;
	H.n_recvsize = 0;
	assert_int_equal(msgchan_recv(&c, &buf, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(H.n_recvsize, 2);
	free(buf);
	msgchan_close(&c);
}

static void test_cpt_forever_is_bounded(void **state)
{
	struct msgchan c = { 0 };
	char *buf;
	size_t n;

	open_chan(&c);
	H.cpt_forever = true;
	assert_int_equal(msgchan_send(&c, pattern, 5), -1);
	queue_out(pattern, 5);
	assert_int_equal(msgchan_recv(&c, &buf, &n), -1);
	assert_null(buf);
	msgchan_close(&c);
}

static void test_hb_used_when_offered(void **state)
{
	struct msgchan c = { 0 };
	struct guarded g;
	char *buf;
	size_t n;

	H.offer_hb = true;
	open_chan(&c);
	guarded_copy(&g, pattern, 9);
	assert_int_equal(msgchan_send(&c, g.buf, 9), 0);
	assert_int_equal(H.n_hb_out, 1);
	assert_int_equal(H.n_sendpayload, 0);
	assert_memory_equal(H.got, pattern, 9);
	guarded_free(&g);

	/* An empty message needs no payload call at all. */
	assert_int_equal(msgchan_send(&c, "", 0), 0);
	assert_int_equal(H.n_hb_out, 1);
	assert_int_equal(H.got_count, 2);

	queue_out(pattern, 7);
	assert_int_equal(msgchan_recv(&c, &buf, &n), 0);
	assert_int_equal(H.n_hb_in, 1);
	assert_int_equal(H.n_recvpayload, 0);
	assert_int_equal(H.n_recvstatus, 1);
	assert_int_equal(n, 7);
	assert_memory_equal(buf, pattern, 7);
	assert_int_equal(buf[7], '\0');
	free(buf);

	/* HB checkpoint: retried from SENDSIZE. */
	H.payload_steps = 0;
	H.cpt_at = 1;
	assert_int_equal(msgchan_send(&c, pattern, 6), 0);
	assert_int_equal(H.n_hb_out, 3);
	assert_int_equal(H.got_len, 6);
	assert_int_equal(H.bad, 0);
	msgchan_close(&c);
}

static void test_hb_not_used_without_offer(void **state)
{
	struct msgchan c = { 0 };
	char *buf;
	size_t n;

	open_chan(&c);
	assert_int_equal(msgchan_send(&c, pattern, 9), 0);
	queue_out(pattern, 9);
	assert_int_equal(msgchan_recv(&c, &buf, &n), 0);
	free(buf);
	assert_int_equal(H.n_hb_out, 0);
	assert_int_equal(H.n_hb_in, 0);
	assert_int_equal(H.bad, 0);
	msgchan_close(&c);
}

static void test_hb_forced_off(void **state)
{
	struct msgchan c = { 0 };
	char *buf;
	size_t n;

	H.offer_hb = true;
	msgchan_set_hb(&c, false);
	open_chan(&c);
	assert_true(c.no_hb);	/* survives open */
	assert_int_equal(msgchan_send(&c, pattern, 9), 0);
	assert_int_equal(H.n_sendpayload, 3);
	queue_out(pattern, 9);
	assert_int_equal(msgchan_recv(&c, &buf, &n), 0);
	assert_int_equal(H.n_recvpayload, 3);
	assert_memory_equal(buf, pattern, 9);
	free(buf);
	assert_int_equal(H.n_hb_out, 0);
	assert_int_equal(H.n_hb_in, 0);
	assert_int_equal(H.bad, 0);
	msgchan_close(&c);
}

static void test_send_too_large(void **state)
{
	struct msgchan c = { 0 };

	open_chan(&c);
	assert_int_equal(msgchan_send(&c, pattern, (size_t)GUESTMSG_MAX_SIZE + 1), -1);
	assert_int_equal(H.n_sendsize, 0);
	msgchan_close(&c);
}

static void test_rpci(void **state)
{
	static const char *const replies[] = {
		"1 value", "0 No value found", "1 ", "garbage", "", "1", NULL,
	};
	char *reply;
	size_t n;

	H.replies = replies;

	/* No space: one is appended. */
	assert_int_equal(rpci_send_one("info-get", 8, &reply, &n), 1);
	assert_int_equal(H.got_len, 9);
	assert_memory_equal(H.got, "info-get ", 9);
	assert_string_equal(reply, "value");
	assert_int_equal(n, 5);
	free(reply);
	assert_int_equal(H.n_close, 1);
	assert_int_equal(H.proto, RPCI_PROTOCOL_NUM);

	/* With a space: sent unchanged. */
	assert_int_equal(rpci_send_one("info-get x", 10, &reply, &n), 0);
	assert_int_equal(H.got_len, 10);
	assert_memory_equal(H.got, "info-get x", 10);
	assert_string_equal(reply, "No value found");
	free(reply);

	assert_int_equal(rpci_send_one("a b", 3, &reply, &n), 1);
	assert_string_equal(reply, "");
	assert_int_equal(n, 0);
	free(reply);

	/* Malformed replies. */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(rpci_send_one("a b", 3, &reply, &n), -1);
		assert_null(reply);
	}

	/* No reply at all. */
	assert_int_equal(rpci_send_one("a b", 3, NULL, NULL), -1);

	/* Host refuses the channel. */
	H.refuse_open = true;
	assert_int_equal(rpci_send_one("a b", 3, &reply, &n), -1);
	assert_null(reply);
	assert_int_equal(H.bad, 0);
}

static void test_detect_via_transport(void **state)
{
	struct bdoor_info info;

	assert_true(bdoor_detect(&info));
	assert_int_equal(H.n_getversion, 1);
	assert_int_equal(info.version, BDOOR_VERSION);
	assert_int_equal(info.vmx_type, BDOOR_VMX_TYPE_SCALABLE_SERVER);
	assert_int_equal(strlen(info.vendor) <= 12, 1);
}

static void lb_unsupported(struct bdoor_regs *r, void *opaque)
{
	r->ax = BDOOR_UNSUPPORTED;
}

static void test_detect_unsupported(void **state)
{
	const struct bdoor_transport t = { .lb = lb_unsupported };
	struct bdoor_info info;

	bdoor_set_transport(&t);
	assert_false(bdoor_detect(&info));
	assert_false(bdoor_detect(NULL));
}

/*
 * The real instruction.  Outside a VM it faults and detection must just say
 * no; inside one it may say yes.  Either way: no crash, and the process's
 * signal handlers and mask are as they were.
 */
static void test_detect_real(void **state)
{
	struct sigaction before, after;
	sigset_t m1, m2;

	bdoor_set_transport(NULL);
	sigaction(SIGSEGV, NULL, &before);
	sigprocmask(SIG_SETMASK, NULL, &m1);
	(void)bdoor_detect(NULL);
	(void)bdoor_detect(NULL);
	sigaction(SIGSEGV, NULL, &after);
	sigprocmask(SIG_SETMASK, NULL, &m2);
	assert_ptr_equal(before.sa_handler, after.sa_handler);
	assert_int_equal(sigismember(&m1, SIGSEGV), sigismember(&m2, SIGSEGV));
	assert_int_equal(sigismember(&m1, SIGUSR1), sigismember(&m2, SIGUSR1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_with_cookies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_retries_without_cookie, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_lb_pieces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recv_lb_pieces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recv_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recv_bad_types, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recv_oversized, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_cpt_retry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recv_cpt_retry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cpt_forever_is_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hb_used_when_offered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hb_not_used_without_offer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hb_forced_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_too_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rpci, setup, teardown),
		cmocka_unit_test_setup_teardown(test_detect_via_transport, setup, teardown),
		cmocka_unit_test_setup_teardown(test_detect_unsupported, setup, teardown),
		cmocka_unit_test_setup_teardown(test_detect_real, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
