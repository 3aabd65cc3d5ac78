// SPDX-License-Identifier: MIT
/*
 * The host side of the GuestRPC message channel, driven register by register
 * the way a (possibly hostile) guest drives it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "backdoor/msgchan-host.h"

struct fake {
	char last[4096];
	size_t last_len;
	int received, closed, logged, polled;
	const char *auto_reply;	/* queued on receipt, like an RPCI endpoint */
	struct msgchan_host *h;
};

static struct fake F;

static void on_received(void *o, int chan, uint32_t proto, const char *msg, size_t len)
{
	F.received++;
	F.last_len = len < sizeof(F.last) ? len : sizeof(F.last);
	memcpy(F.last, msg, F.last_len);
	if (F.auto_reply)
		msgchan_host_reply(F.h, chan, F.auto_reply, strlen(F.auto_reply));
}

static void on_poll(void *o, int chan, uint32_t proto) { F.polled++; }
static void on_closed(void *o, int chan, uint32_t proto) { F.closed++; }
static void on_log(void *o, const char *fmt, ...) { F.logged++; }
static uint64_t on_random(void *o) { return 0x1122334455667788ull; }

/* "Guest memory" for the HB port is this process's memory, NULL-page excluded. */
static int mem_read(void *m, uint64_t addr, void *buf, size_t len)
{
	if (addr < 4096)
		return -1;
	memcpy(buf, (void *)(uintptr_t)addr, len);
	return 0;
}

static int mem_write(void *m, uint64_t addr, const void *buf, size_t len)
{
	if (addr < 4096)
		return -1;
	memcpy((void *)(uintptr_t)addr, buf, len);
	return 0;
}

static const struct msgchan_host_ops ops = {
	.received = on_received, .poll = on_poll, .closed = on_closed, .log = on_log,
	.random = on_random, .mem_read = mem_read, .mem_write = mem_write,
};

static int setup(void **state)
{
	struct msgchan_host_config cfg = {
		.offer_hb = true, .max_message = 65536, .budget = 200000,
		.owner_idle_ns = 1000,
	};

	memset(&F, 0, sizeof(F));
	F.h = msgchan_host_new(&cfg, &ops, NULL);
	return F.h ? 0 : -1;
}

static int teardown(void **state)
{
	msgchan_host_free(F.h);
	return 0;
}

struct gchan {
	int id;
	uint32_t hi, lo;
};

static uint32_t status_lb(const struct bdoor_regs *r)
{
	return (uint32_t)(r->cx >> 16);
}

static struct bdoor_regs call(const struct gchan *c, uint32_t type, uint32_t bx, int owner)
{
	struct bdoor_regs r = {
		.ax = BDOOR_MAGIC, .bx = bx, .cx = BDOOR_ECX(BDOOR_CMD_MESSAGE, type),
		.dx = BDOOR_EDX(BDOOR_PORT_LB, c ? c->id : 0),
		.si = c ? c->hi : 0, .di = c ? c->lo : 0,
	};

	msgchan_host_lb(F.h, &r, owner, 1000000);
	return r;
}

static struct gchan open_chan(uint32_t proto, int owner)
{
	struct bdoor_regs r = call(NULL, MESSAGE_TYPE_OPEN, proto | GUESTMSG_FLAG_COOKIE, owner);
	struct gchan c = { -1, 0, 0 };

	if (status_lb(&r) & MESSAGE_STATUS_SUCCESS) {
		c.id = (int)BDOOR_EDX_CHAN(r.dx);
		c.hi = (uint32_t)r.si;
		c.lo = (uint32_t)r.di;
	}
	return c;
}

static int send_lb(const struct gchan *c, const void *data, size_t len)
{
	const uint8_t *p = data;
	struct bdoor_regs r = call(c, MESSAGE_TYPE_SENDSIZE, (uint32_t)len, 1);

	if (!(status_lb(&r) & MESSAGE_STATUS_SUCCESS))
		return -1;
	for (size_t off = 0; off < len; off += 4) {
		uint32_t piece = 0;

		for (size_t i = 0; i < 4 && off + i < len; i++)
			piece |= (uint32_t)p[off + i] << (8 * i);
		r = call(c, MESSAGE_TYPE_SENDPAYLOAD, piece, 1);
		if (!(status_lb(&r) & MESSAGE_STATUS_SUCCESS))
			return -1;
	}
	return 0;
}

/* Receive over the LB port; returns the length or -1. */
static long recv_lb(const struct gchan *c, char *buf, size_t cap)
{
	struct bdoor_regs r = call(c, MESSAGE_TYPE_RECVSIZE, 0, 1);
	uint32_t size;

	if (!(status_lb(&r) & MESSAGE_STATUS_SUCCESS))
		return -1;
	if (!(status_lb(&r) & MESSAGE_STATUS_DORECV))
		return 0;
	assert_int_equal(BDOOR_EDX_CHAN(r.dx), MESSAGE_TYPE_SENDSIZE);
	size = (uint32_t)r.bx;
	assert_true(size <= cap);
	for (size_t off = 0; off < size; off += 4) {
		r = call(c, MESSAGE_TYPE_RECVPAYLOAD, MESSAGE_STATUS_SUCCESS, 1);
		if (!(status_lb(&r) & MESSAGE_STATUS_SUCCESS))
			return -1;
		assert_int_equal(BDOOR_EDX_CHAN(r.dx), MESSAGE_TYPE_SENDPAYLOAD);
		for (size_t i = 0; i < 4 && off + i < size; i++)
			buf[off + i] = (char)(r.bx >> (8 * i));
	}
	r = call(c, MESSAGE_TYPE_RECVSTATUS, MESSAGE_STATUS_SUCCESS, 1);
	assert_true(status_lb(&r) & MESSAGE_STATUS_SUCCESS);
	return size;
}

static void test_roundtrip_all_piece_lengths(void **state)
{
	struct gchan c = open_chan(RPCI_PROTOCOL_NUM, 1);
	char msg[16], got[64];

	assert_true(c.id >= 0);
	F.auto_reply = "1 pong";
	for (size_t len = 0; len <= 9; len++) {
		for (size_t i = 0; i < len; i++)
			msg[i] = (char)('a' + i);
		F.received = 0;
		assert_int_equal(send_lb(&c, msg, len), 0);
		assert_int_equal(F.received, 1);
		assert_int_equal(F.last_len, len);
		assert_memory_equal(F.last, msg, len);
		assert_int_equal(recv_lb(&c, got, sizeof(got)), 6);
		assert_memory_equal(got, "1 pong", 6);
	}
	assert_int_equal(msgchan_host_buffered(F.h), 0);
}

static void test_wrong_cookie_refused(void **state)
{
	struct gchan c = open_chan(RPCI_PROTOCOL_NUM, 1);
	struct gchan bad = c;
	struct bdoor_regs r;

	bad.lo ^= 1;
	r = call(&bad, MESSAGE_TYPE_SENDSIZE, 4, 1);
	assert_int_equal(status_lb(&r) & MESSAGE_STATUS_SUCCESS, 0);
	assert_true(F.logged > 0);
	/* The real owner is unaffected. */
	assert_int_equal(send_lb(&c, "ping", 4), 0);
	assert_int_equal(F.received, 1);
}

static void test_bad_channel_ids_and_types(void **state)
{
	struct gchan c = { 127, 0, 0 }, big = { 5000 & 0xFFFF, 0, 0 };
	struct bdoor_regs r;

	r = call(&c, MESSAGE_TYPE_SENDSIZE, 4, 1);	/* not open */
	assert_int_equal(status_lb(&r) & MESSAGE_STATUS_SUCCESS, 0);
	r = call(&big, MESSAGE_TYPE_RECVSIZE, 0, 1);	/* out of range */
	assert_int_equal(status_lb(&r) & MESSAGE_STATUS_SUCCESS, 0);
	c = open_chan(RPCI_PROTOCOL_NUM, 1);
	r = call(&c, 7, 0, 1);				/* no such subcommand */
	assert_int_equal(status_lb(&r) & MESSAGE_STATUS_SUCCESS, 0);
	r = call(&c, 0xFFFF, 0, 1);
	assert_int_equal(status_lb(&r) & MESSAGE_STATUS_SUCCESS, 0);
	r = call(NULL, MESSAGE_TYPE_OPEN, 0x12345678, 1);	/* unknown protocol */
	assert_int_equal(status_lb(&r) & MESSAGE_STATUS_SUCCESS, 0);
}

static void test_out_of_order_calls(void **state)
{
	struct gchan c = open_chan(RPCI_PROTOCOL_NUM, 1);
	struct bdoor_regs r;

	r = call(&c, MESSAGE_TYPE_SENDPAYLOAD, 0x41414141, 1);	/* no size first */
	assert_int_equal(status_lb(&r) & MESSAGE_STATUS_SUCCESS, 0);
	r = call(&c, MESSAGE_TYPE_RECVPAYLOAD, MESSAGE_STATUS_SUCCESS, 1);	/* nothing to get */
	assert_int_equal(status_lb(&r) & MESSAGE_STATUS_SUCCESS, 0);
	r = call(&c, MESSAGE_TYPE_RECVSTATUS, MESSAGE_STATUS_SUCCESS, 1);
	assert_int_equal(status_lb(&r) & MESSAGE_STATUS_SUCCESS, 0);
	/* Payload past the end of a queued message. */
	msgchan_host_reply(F.h, c.id, "abc", 3);
	r = call(&c, MESSAGE_TYPE_RECVSIZE, 0, 1);
	assert_int_equal((uint32_t)r.bx, 3);
	r = call(&c, MESSAGE_TYPE_RECVPAYLOAD, MESSAGE_STATUS_SUCCESS, 1);
	assert_true(status_lb(&r) & MESSAGE_STATUS_SUCCESS);
	r = call(&c, MESSAGE_TYPE_RECVPAYLOAD, MESSAGE_STATUS_SUCCESS, 1);
	assert_int_equal(status_lb(&r) & MESSAGE_STATUS_SUCCESS, 0);
	assert_int_equal(F.received, 0);
}

static void test_oversize_and_budget(void **state)
{
	struct gchan a = open_chan(RPCI_PROTOCOL_NUM, 1), b = open_chan(RPCI_PROTOCOL_NUM, 1);
	struct gchan d = open_chan(RPCI_PROTOCOL_NUM, 1), e = open_chan(RPCI_PROTOCOL_NUM, 1);
	struct bdoor_regs r;

	r = call(&a, MESSAGE_TYPE_SENDSIZE, 65537, 1);		/* over max_message */
	assert_int_equal(status_lb(&r) & MESSAGE_STATUS_SUCCESS, 0);
	r = call(&a, MESSAGE_TYPE_SENDSIZE, 0xFFFFFFFF, 1);
	assert_int_equal(status_lb(&r) & MESSAGE_STATUS_SUCCESS, 0);
	/* Three 65536-byte messages exceed the 200000-byte budget. */
	r = call(&a, MESSAGE_TYPE_SENDSIZE, 65536, 1);
	assert_true(status_lb(&r) & MESSAGE_STATUS_SUCCESS);
	r = call(&b, MESSAGE_TYPE_SENDSIZE, 65536, 1);
	assert_true(status_lb(&r) & MESSAGE_STATUS_SUCCESS);
	r = call(&d, MESSAGE_TYPE_SENDSIZE, 65536, 1);
	assert_true(status_lb(&r) & MESSAGE_STATUS_SUCCESS);
	r = call(&e, MESSAGE_TYPE_SENDSIZE, 65536, 1);
	assert_int_equal(status_lb(&r) & MESSAGE_STATUS_SUCCESS, 0);
	assert_int_equal(msgchan_host_buffered(F.h), 3 * 65536);
	/* A guest that dies mid-message gives everything back. */
	msgchan_host_close_owner(F.h, 1);
	assert_int_equal(msgchan_host_buffered(F.h), 0);
	assert_int_equal(msgchan_host_open_count(F.h), 0);
	assert_int_equal(F.closed, 4);
}

static void test_close_owner_only_closes_its_channels(void **state)
{
	struct gchan a = open_chan(TCLO_PROTOCOL_NUM, 7);
	struct gchan b = open_chan(RPCI_PROTOCOL_NUM, 8);

	msgchan_host_close_owner(F.h, 7);
	assert_false(msgchan_host_is_open(F.h, a.id));
	assert_true(msgchan_host_is_open(F.h, b.id));
}

static void test_closed_channel_refuses(void **state)
{
	struct gchan c = open_chan(RPCI_PROTOCOL_NUM, 1);
	struct bdoor_regs r = call(&c, MESSAGE_TYPE_CLOSE, 0, 1);

	assert_true(status_lb(&r) & MESSAGE_STATUS_SUCCESS);
	assert_int_equal(F.closed, 1);
	r = call(&c, MESSAGE_TYPE_SENDSIZE, 1, 1);
	assert_int_equal(status_lb(&r) & MESSAGE_STATUS_SUCCESS, 0);
	r = call(&c, MESSAGE_TYPE_CLOSE, 0, 1);
	assert_int_equal(status_lb(&r) & MESSAGE_STATUS_SUCCESS, 0);
}

static void test_table_full_then_reclaim(void **state)
{
	struct gchan c;

	for (int i = 0; i < GUESTMSG_MAX_CHANNEL; i++)
		assert_true(open_chan(RPCI_PROTOCOL_NUM, 1).id >= 0);
	/* All used at t=1ms: the next open at the same time fails... */
	c = open_chan(RPCI_PROTOCOL_NUM, 1);
	assert_int_equal(c.id, -1);
	/* ...and one later than owner_idle_ns reclaims the stalest. */
	{
		struct bdoor_regs r = {
			.ax = BDOOR_MAGIC, .bx = RPCI_PROTOCOL_NUM,
			.cx = BDOOR_ECX(BDOOR_CMD_MESSAGE, MESSAGE_TYPE_OPEN),
		};

		msgchan_host_lb(F.h, &r, 1, 5000000);
		assert_true(status_lb(&r) & MESSAGE_STATUS_SUCCESS);
	}
	assert_int_equal(F.closed, 1);
}

static void test_hb_send_and_receive(void **state)
{
	struct gchan c = open_chan(RPCI_PROTOCOL_NUM, 1);
	static char big[50000], back[50000];
	struct bdoor_regs r;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7);
	r = call(&c, MESSAGE_TYPE_SENDSIZE, sizeof(big), 1);
	assert_true(status_lb(&r) & MESSAGE_STATUS_HB);
	/* Wrong count: refused, and the half-started message is dropped. */
	r = (struct bdoor_regs){ .ax = BDOOR_MAGIC, .bx = MESSAGE_STATUS_SUCCESS << 16,
				 .dx = BDOOR_EDX(BDOOR_PORT_HB, c.id),
				 .si = (uintptr_t)big, .bp = c.hi, .di = c.lo };
	msgchan_host_hb_send(F.h, &r, sizeof(big) - 1, NULL, 1);
	assert_int_equal((r.bx >> 16) & MESSAGE_STATUS_SUCCESS, 0);
	assert_int_equal(msgchan_host_buffered(F.h), 0);

	/* Right count, but an unreadable buffer. */
	call(&c, MESSAGE_TYPE_SENDSIZE, sizeof(big), 1);
	r.bx = MESSAGE_STATUS_SUCCESS << 16;
	r.si = 16;
	msgchan_host_hb_send(F.h, &r, sizeof(big), NULL, 1);
	assert_int_equal((r.bx >> 16) & MESSAGE_STATUS_SUCCESS, 0);

	/* The real thing, echoed back. */
	F.auto_reply = NULL;
	call(&c, MESSAGE_TYPE_SENDSIZE, sizeof(big), 1);
	r.bx = MESSAGE_STATUS_SUCCESS << 16;
	r.si = (uintptr_t)big;
	msgchan_host_hb_send(F.h, &r, sizeof(big), NULL, 1);
	assert_true((r.bx >> 16) & MESSAGE_STATUS_SUCCESS);
	assert_int_equal(F.received, 1);
	msgchan_host_reply(F.h, c.id, big, sizeof(big));
	r = call(&c, MESSAGE_TYPE_RECVSIZE, 0, 1);
	assert_true(status_lb(&r) & MESSAGE_STATUS_HB);
	assert_int_equal((uint32_t)r.bx, sizeof(big));
	/* HB receive: cookie high in ESI, low in EBP (note: not the send layout). */
	r = (struct bdoor_regs){ .ax = BDOOR_MAGIC, .bx = MESSAGE_STATUS_SUCCESS << 16,
				 .dx = BDOOR_EDX(BDOOR_PORT_HB, c.id),
				 .si = c.lo, .bp = c.hi, .di = (uintptr_t)back };
	msgchan_host_hb_recv(F.h, &r, sizeof(back), NULL, 1);
	assert_int_equal((r.bx >> 16) & MESSAGE_STATUS_SUCCESS, 0);	/* swapped cookies */
	r.si = c.hi;
	r.bp = c.lo;
	r.bx = MESSAGE_STATUS_SUCCESS << 16;
	msgchan_host_hb_recv(F.h, &r, sizeof(back), NULL, 1);
	assert_true((r.bx >> 16) & MESSAGE_STATUS_SUCCESS);
	assert_memory_equal(back, big, sizeof(big));
	r = call(&c, MESSAGE_TYPE_RECVSTATUS, MESSAGE_STATUS_SUCCESS, 1);
	assert_true(status_lb(&r) & MESSAGE_STATUS_SUCCESS);
	assert_int_equal(msgchan_host_buffered(F.h), 0);
}

static void test_failed_piece_restarts_transfer(void **state)
{
	struct gchan c = open_chan(TCLO_PROTOCOL_NUM, 1);
	char got[16];
	struct bdoor_regs r;

	msgchan_host_reply(F.h, c.id, "reset", 5);
	r = call(&c, MESSAGE_TYPE_RECVSIZE, 0, 1);
	assert_int_equal((uint32_t)r.bx, 5);
	r = call(&c, MESSAGE_TYPE_RECVPAYLOAD, MESSAGE_STATUS_SUCCESS, 1);
	/* The guest reports failure: the message stays for another try. */
	r = call(&c, MESSAGE_TYPE_RECVSTATUS, 0, 1);
	assert_int_equal(recv_lb(&c, got, sizeof(got)), 5);
	assert_memory_equal(got, "reset", 5);
	assert_int_equal(recv_lb(&c, got, sizeof(got)), 0);	/* and then it's gone */
	assert_true(F.polled >= 1);
}

static void test_reset_closes_everything(void **state)
{
	open_chan(TCLO_PROTOCOL_NUM, 1);
	open_chan(RPCI_PROTOCOL_NUM, 2);
	msgchan_host_reset(F.h);
	assert_int_equal(msgchan_host_open_count(F.h), 0);
	assert_int_equal(F.closed, 2);
}

/* Quotas: 4 channels and 100000 bytes per guest process, owner 0 exempt. */
static int setup_quota(void **state)
{
	struct msgchan_host_config cfg = {
		.offer_hb = true, .max_message = 65536, .budget = 200000,
		.owner_idle_ns = 1000, .owner_channels = 4, .owner_budget = 100000,
	};

	memset(&F, 0, sizeof(F));
	F.h = msgchan_host_new(&cfg, &ops, NULL);
	return F.h ? 0 : -1;
}

static bool sendsize_ok(const struct gchan *c, uint32_t size)
{
	struct bdoor_regs r = call(c, MESSAGE_TYPE_SENDSIZE, size, 0);

	return status_lb(&r) & MESSAGE_STATUS_SUCCESS;
}

static void test_owner_channel_quota(void **state)
{
	struct gchan hog[4], other;

	for (int i = 0; i < 4; i++) {
		hog[i] = open_chan(RPCI_PROTOCOL_NUM, 7);
		assert_true(hog[i].id >= 0);
	}
	F.logged = 0;
	assert_int_equal(open_chan(TCLO_PROTOCOL_NUM, 7).id, -1);
	assert_true(F.logged > 0);
	other = open_chan(RPCI_PROTOCOL_NUM, 8);
	assert_true(other.id >= 0);
	/* Owner 0, a KVM guest as a whole, has only the global limit. */
	for (int i = 0; i < 10; i++)
		assert_true(open_chan(RPCI_PROTOCOL_NUM, 0).id >= 0);
	/* A closed channel (or a dead process's) gives its place back. */
	call(&hog[0], MESSAGE_TYPE_CLOSE, 0, 7);
	assert_true(open_chan(RPCI_PROTOCOL_NUM, 7).id >= 0);
	msgchan_host_close_owner(F.h, 7);
	for (int i = 0; i < 4; i++)
		assert_true(open_chan(RPCI_PROTOCOL_NUM, 7).id >= 0);
}

static void test_owner_byte_quota(void **state)
{
	struct gchan a = open_chan(RPCI_PROTOCOL_NUM, 7), b = open_chan(RPCI_PROTOCOL_NUM, 7);
	struct gchan c = open_chan(RPCI_PROTOCOL_NUM, 8), d = open_chan(RPCI_PROTOCOL_NUM, 0);
	static char big[60000];
	char back[16];

	assert_true(sendsize_ok(&a, 65536));
	F.logged = 0;
	assert_false(sendsize_ok(&b, 65536));	/* 131072 > 100000 for owner 7 */
	assert_true(F.logged > 0);
	assert_true(sendsize_ok(&b, 30000));	/* what is left of its quota */
	assert_true(sendsize_ok(&c, 65536));	/* another process is not affected */
	assert_false(sendsize_ok(&d, 65536));	/* global budget 200000 reached */
	/* Abandoning the big message frees its quota. */
	call(&a, MESSAGE_TYPE_CLOSE, 0, 7);
	assert_true(sendsize_ok(&b, 65536));
	call(&b, MESSAGE_TYPE_CLOSE, 0, 7);

	/*
	 * A message being handled still counts: the reply to a 60000-byte
	 * message may not take the owner past its quota.
	 */
	a = open_chan(RPCI_PROTOCOL_NUM, 7);
	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	F.auto_reply = big;
	assert_int_equal(send_lb(&a, big, sizeof(big)), 0);
	assert_int_equal(recv_lb(&a, back, 0), 0);	/* 60000 + 59999: no reply queued */
	F.auto_reply = "ok";
	assert_int_equal(send_lb(&a, big, 100), 0);
	assert_int_equal(recv_lb(&a, back, sizeof(back)), 2);
	assert_int_equal(msgchan_host_buffered(F.h), 65536);	/* owner 8's message */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip_all_piece_lengths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_cookie_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_channel_ids_and_types, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_order_calls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversize_and_budget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_owner_only_closes_its_channels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_closed_channel_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_table_full_then_reclaim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hb_send_and_receive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_piece_restarts_transfer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_closes_everything, setup, teardown),
		cmocka_unit_test_setup_teardown(test_owner_channel_quota, setup_quota, teardown),
		cmocka_unit_test_setup_teardown(test_owner_byte_quota, setup_quota, teardown),
	};

	return cmocka_run_group_tests_name("msgchan-host", tests, NULL, NULL);
}
