// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: both ends of the GuestRPC message channel.  The first
 * byte picks the scene:
 *
 *  0  a hostile guest drives the host side (backdoor/msgchan-host.c) with
 *     any register values on the low-bandwidth port and any `rep outsb` /
 *     `rep insb` on the high-bandwidth one, while the host replies, resets
 *     and closes owners in between.  The host may only touch guest memory
 *     inside the guest's buffer, hand over messages within its limit, keep
 *     its byte budget, and account every buffered byte (after a reset
 *     nothing is left).
 *  1  a hostile host answers the guest side (backdoor/msgchan-guest.c):
 *     every register it returns comes from the input.  Received messages
 *     must be NUL-terminated and within GUESTMSG_MAX_SIZE, HB buffers the
 *     guest hands out must be as long as it says, and a host that stops
 *     answering must make the guest give up within a few calls.
 *  2  the real guest side against the real host side: RPCI requests of
 *     any bytes come back intact from an echoing host, or fail cleanly
 *     when over the host's limit.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "backdoor/backdoor.h"
#include "backdoor/msgchan.h"
#include "backdoor/msgchan-host.h"
#include "fuzz-input.h"

/* ---- the host side's callbacks ---- */

#define GUEST_BASE	0x10000ull
#define GUEST_SIZE	(64 * 1024)

struct host_scene {
	struct fuzz_input *in;
	struct msgchan_host *h;
	struct msgchan_host_config cfg;
	size_t max_message, budget;	/* as msgchan_host_new() settles them */
	uint8_t guest_mem[GUEST_SIZE];
	bool echo;			/* scene 2: answer "1 " + the request */
	int in_handler;
};

static void on_received(void *opaque, int chan, uint32_t proto, const char *msg, size_t len)
{
	struct host_scene *s = opaque;
	static char reply[4096 + 2];

	FUZZ_CHECK(len <= s->max_message);
	FUZZ_CHECK(chan >= 0 && chan < GUESTMSG_MAX_CHANNEL);
	FUZZ_CHECK(proto == RPCI_PROTOCOL_NUM || proto == TCLO_PROTOCOL_NUM);
	if (s->echo) {
		size_t n = len < sizeof(reply) - 2 ? len : sizeof(reply) - 2;

		memcpy(reply, "1 ", 2);
		memcpy(reply + 2, msg, n);
		msgchan_host_reply(s->h, chan, reply, n + 2);
		return;
	}
	/* What the hypervisor's handlers may do from here: answer, or tear down. */
	switch (fuzz_u8(s->in) % 4) {
	case 0: {
		size_t got;
		const uint8_t *p = fuzz_bytes(s->in, fuzz_u16(s->in) % 512, &got);

		msgchan_host_reply(s->h, chan, p, got);
		break;
	}
	case 1:
		msgchan_host_reset(s->h);
		break;
	case 2:
		msgchan_host_close_owner(s->h, fuzz_u8(s->in) % 4);
		break;
	default:
		break;
	}
}

/* Formatted as the hypervisor would: the arguments must match the format. */
static void on_log(void *opaque, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void on_log(void *opaque, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
}

static uint64_t on_random(void *opaque)
{
	return 0x1122334455667788ull;
}

/* Scene 0: the guest's memory is guest_mem at GUEST_BASE, nothing else. */
static int guest_read(void *mem, uint64_t addr, void *buf, size_t len)
{
	struct host_scene *s = mem;

	FUZZ_CHECK(len <= s->max_message);
	if (addr < GUEST_BASE || addr - GUEST_BASE > GUEST_SIZE || len > GUEST_SIZE - (addr - GUEST_BASE))
		return -1;
	memcpy(buf, s->guest_mem + (addr - GUEST_BASE), len);
	return 0;
}

static int guest_write(void *mem, uint64_t addr, const void *buf, size_t len)
{
	struct host_scene *s = mem;

	FUZZ_CHECK(len <= s->max_message);
	if (addr < GUEST_BASE || addr - GUEST_BASE > GUEST_SIZE || len > GUEST_SIZE - (addr - GUEST_BASE))
		return -1;
	memcpy(s->guest_mem + (addr - GUEST_BASE), buf, len);
	return 0;
}

/* Scene 2: the guest is this process; its pointers are real. */
static int self_read(void *mem, uint64_t addr, void *buf, size_t len)
{
	memcpy(buf, (const void *)(uintptr_t)addr, len);
	return 0;
}

static int self_write(void *mem, uint64_t addr, const void *buf, size_t len)
{
	memcpy((void *)(uintptr_t)addr, buf, len);
	return 0;
}

static const struct msgchan_host_ops hostile_guest_ops = {
	.received = on_received, .log = on_log, .random = on_random,
	.mem_read = guest_read, .mem_write = guest_write,
};

static const struct msgchan_host_ops loopback_ops = {
	.received = on_received, .log = on_log, .random = on_random,
	.mem_read = self_read, .mem_write = self_write,
};

static void host_new(struct host_scene *s, const struct msgchan_host_ops *ops)
{
	static const size_t max_messages[] = { 0, 1, 64, 4096, 65536 };
	static const size_t budgets[] = { 0, 100, 5000, 200000 };
	uint8_t cfg = fuzz_u8(s->in);

	s->cfg.offer_hb = cfg & 1;
	s->cfg.max_message = max_messages[(cfg >> 1) % 5];
	s->cfg.budget = budgets[(cfg >> 4) % 4];
	s->cfg.owner_idle_ns = (cfg & 0x40) ? 1000 : UINT64_MAX;
	s->max_message = s->cfg.max_message ? s->cfg.max_message : GUESTMSG_MAX_SIZE;
	s->budget = s->cfg.budget ? s->cfg.budget : 4 * (size_t)GUESTMSG_MAX_SIZE;
	s->h = msgchan_host_new(&s->cfg, ops, s);
	FUZZ_CHECK(s->h);
}

/* Bookkeeping holds between any two calls; after a reset nothing is buffered. */
static void host_check(struct host_scene *s)
{
	int open = 0;

	FUZZ_CHECK(msgchan_host_buffered(s->h) <= s->budget);
	for (int i = 0; i < GUESTMSG_MAX_CHANNEL; i++)
		open += msgchan_host_is_open(s->h, i);
	FUZZ_CHECK(open == msgchan_host_open_count(s->h));
}

static void host_free(struct host_scene *s)
{
	host_check(s);
	msgchan_host_reset(s->h);
	FUZZ_CHECK(msgchan_host_open_count(s->h) == 0);
	FUZZ_CHECK(msgchan_host_buffered(s->h) == 0);
	msgchan_host_free(s->h);
}

/* ---- scene 0: a hostile guest ---- */

static void hostile_guest(struct fuzz_input *in)
{
	static struct host_scene s;
	uint32_t cookie_hi = 0, cookie_lo = 0;	/* of the last channel opened */
	uint64_t now = 0;

	memset(&s, 0, sizeof(s));
	s.in = in;
	host_new(&s, &hostile_guest_ops);
	while (!fuzz_empty(in)) {
		uint8_t op = fuzz_u8(in);
		uint8_t flags = fuzz_u8(in);
		struct bdoor_regs r = {
			.ax = BDOOR_MAGIC,
			.dx = BDOOR_EDX(0, fuzz_u8(in) % (GUESTMSG_MAX_CHANNEL + 2)),
		};
		int owner = flags & 3;

		/* Right cookies most of the time, so the fuzzer gets past the lookup. */
		r.si = (flags & 4) ? fuzz_u32(in) : cookie_hi;
		r.di = (flags & 4) ? fuzz_u32(in) : cookie_lo;
		now += (flags & 8) ? 1000 : 1;
		switch (op % 8) {
		case 0:		/* command 30, any subcommand */
		case 1: {
			uint32_t type = fuzz_u8(in) % 9;

			r.cx = BDOOR_ECX(BDOOR_CMD_MESSAGE, type);
			r.bx = (flags & 16) ? fuzz_u32(in) : RPCI_PROTOCOL_NUM | GUESTMSG_FLAG_COOKIE;
			if (flags & 32)
				r.bx = fuzz_u16(in);	/* a small size or piece */
			msgchan_host_lb(s.h, &r, owner, now);
			/* Note the cookies an OPEN hands out. */
			if (type == MESSAGE_TYPE_OPEN && (bdoor_hi16(r.cx) & MESSAGE_STATUS_SUCCESS)) {
				cookie_hi = (uint32_t)r.si;
				cookie_lo = (uint32_t)r.di;
			}
			break;
		}
		case 2:		/* rep outsb: HB send, cookies in EBP/EDI */
		case 3: {	/* rep insb: HB receive, cookies in ESI/EBP */
			uint64_t count = fuzz_u16(in);
			uint64_t buf = GUEST_BASE + fuzz_u16(in) * 4ull - 0x100;

			r.bx = (flags & 16) ? fuzz_u32(in) : BDOORHB_CMD_MESSAGE;
			if (op % 8 == 2) {
				r.bp = r.si;
				r.si = buf;
				msgchan_host_hb_send(s.h, &r, count, &s, now);
			} else {
				r.bp = r.di;
				r.di = buf;
				msgchan_host_hb_recv(s.h, &r, count, &s, now);
			}
			break;
		}
		case 4: {	/* the host queues a reply (TCLO commands, RPCI answers) */
			size_t got;
			int chan = (int)BDOOR_EDX_CHAN(r.dx);
			const uint8_t *p = fuzz_bytes(in, fuzz_u16(in) % 2048, &got);

			msgchan_host_reply(s.h, chan, p, got);
			break;
		}
		case 5:
			msgchan_host_close_owner(s.h, owner);
			break;
		case 6:
			msgchan_host_reset(s.h);
			break;
		default: {	/* guest memory changes (what HB send reads) */
			size_t got, off = fuzz_u16(in) % GUEST_SIZE;
			const uint8_t *p = fuzz_bytes(in, GUEST_SIZE - off < 64 ? GUEST_SIZE - off : 64, &got);

			memcpy(s.guest_mem + off, p, got);
			break;
		}
		}
		host_check(&s);
	}
	host_free(&s);
}

/* ---- scene 1: a hostile host ---- */

struct hostile_host {
	struct fuzz_input *in;
	unsigned int calls_after_end;	/* backdoor calls once the host went silent */
};

static struct hostile_host HH;

/* Overwrite the registers the input's mask names; a silent host answers status 0. */
static void host_answers(struct bdoor_regs *r)
{
	uint8_t mask;

	if (fuzz_empty(HH.in)) {
		HH.calls_after_end++;
		r->bx = r->cx = 0;
		return;
	}
	mask = fuzz_u8(HH.in);
	if (mask & 1)
		r->ax = fuzz_u32(HH.in);
	if (mask & 2)
		r->bx = fuzz_u32(HH.in);
	if (mask & 4)
		r->cx = fuzz_u32(HH.in);
	if (mask & 8)
		r->dx = fuzz_u32(HH.in);
	if (mask & 16)
		r->si = fuzz_u32(HH.in);
	if (mask & 32)
		r->di = fuzz_u32(HH.in);
	/* Shorthands for what a host says most: success with the flags given. */
	if (mask & 64)
		r->cx = (uint32_t)(MESSAGE_STATUS_SUCCESS | (fuzz_u8(HH.in) & 0xFE)) << 16;
	if (mask & 128)
		r->dx = (uint32_t)MESSAGE_TYPE_SENDPAYLOAD << 16;
}

static void hostile_lb(struct bdoor_regs *r, void *opaque)
{
	host_answers(r);
}

static void hostile_hb_out(struct bdoor_regs *r, void *opaque)
{
	/* The guest promises r->cx readable bytes at r->si: read them all (ASan checks). */
	const volatile uint8_t *p = (const volatile uint8_t *)(uintptr_t)r->si;
	uint8_t sum = 0;

	FUZZ_CHECK(r->cx <= GUESTMSG_MAX_SIZE);
	for (uint64_t i = 0; i < r->cx; i++)
		sum ^= p[i];
	(void)sum;
	host_answers(r);
}

static void hostile_hb_in(struct bdoor_regs *r, void *opaque)
{
	/* A host writes at most r->cx bytes at r->di: fill them all (ASan checks). */
	uint8_t *p = (uint8_t *)(uintptr_t)r->di;
	size_t got;
	const uint8_t *src;

	FUZZ_CHECK(r->cx <= GUESTMSG_MAX_SIZE);
	memset(p, 'x', r->cx);
	src = fuzz_bytes(HH.in, r->cx, &got);
	memcpy(p, src, got);
	host_answers(r);
}

static const struct bdoor_transport hostile_transport = {
	.lb = hostile_lb, .hb_out = hostile_hb_out, .hb_in = hostile_hb_in,
};

static void check_received(int r, char *buf, size_t len)
{
	if (r == 0 && buf) {
		FUZZ_CHECK(len <= GUESTMSG_MAX_SIZE);
		FUZZ_CHECK(buf[len] == '\0');
	} else {
		FUZZ_CHECK(!buf && !len);
	}
	free(buf);
}

static void hostile_host(struct fuzz_input *in)
{
	struct msgchan c = { 0 };

	memset(&HH, 0, sizeof(HH));
	HH.in = in;
	bdoor_set_transport(&hostile_transport);
	msgchan_set_hb(&c, fuzz_u8(in) & 1);
	for (int step = 0; step < 64; step++) {
		uint8_t op = fuzz_u8(in);
		char *buf = NULL;
		size_t len = 0, got;
		const uint8_t *p;
		int r;

		HH.calls_after_end = 0;
		switch (op % 5) {
		case 0:
			msgchan_open(&c, (op & 8) ? TCLO_PROTOCOL_NUM : RPCI_PROTOCOL_NUM);
			break;
		case 1:
			p = fuzz_bytes(in, fuzz_u16(in) % 512, &got);
			msgchan_send(&c, p, got);
			break;
		case 2:
			r = msgchan_recv(&c, &buf, &len);
			check_received(r, buf, len);
			break;
		case 3:
			p = fuzz_bytes(in, fuzz_u8(in), &got);
			r = rpci_send(&c, (const char *)p, got, &buf, &len);
			FUZZ_CHECK(r >= -1 && r <= 1);
			check_received(r < 0 ? -1 : 0, buf, len);
			break;
		default:
			msgchan_close(&c);
			break;
		}
		/* A host that fell silent gets a failure noticed, not a retry loop. */
		FUZZ_CHECK(HH.calls_after_end <= 4);
		if (fuzz_empty(in))
			break;
	}
	msgchan_close(&c);
	bdoor_set_transport(NULL);
}

/* ---- scene 2: the real guest side against the real host side ---- */

static struct host_scene LOOP;

static void loop_lb(struct bdoor_regs *r, void *opaque)
{
	msgchan_host_lb(LOOP.h, r, 1, 0);
}

static void loop_hb_out(struct bdoor_regs *r, void *opaque)
{
	msgchan_host_hb_send(LOOP.h, r, r->cx, NULL, 0);
}

static void loop_hb_in(struct bdoor_regs *r, void *opaque)
{
	msgchan_host_hb_recv(LOOP.h, r, r->cx, NULL, 0);
}

static const struct bdoor_transport loop_transport = {
	.lb = loop_lb, .hb_out = loop_hb_out, .hb_in = loop_hb_in,
};

static void loopback(struct fuzz_input *in)
{
	struct msgchan c = { 0 };

	memset(&LOOP, 0, sizeof(LOOP));
	LOOP.in = in;
	LOOP.echo = true;
	host_new(&LOOP, &loopback_ops);
	bdoor_set_transport(&loop_transport);
	msgchan_set_hb(&c, fuzz_u8(in) & 1);
	FUZZ_CHECK(msgchan_open(&c, RPCI_PROTOCOL_NUM) == 0);
	while (!fuzz_empty(in)) {
		uint8_t op = fuzz_u8(in);
		size_t got, len = 0, want;
		const uint8_t *p = fuzz_bytes(in, fuzz_u16(in) % 4095, &got);
		char *reply = NULL;
		int r;

		if (op % 8 == 7) {	/* the host drops every channel (a VM reset) */
			msgchan_host_reset(LOOP.h);
			FUZZ_CHECK(rpci_send(&c, (const char *)p, got, &reply, &len) == -1);
			FUZZ_CHECK(msgchan_open(&c, RPCI_PROTOCOL_NUM) == 0);
			continue;
		}
		r = rpci_send(&c, (const char *)p, got, &reply, &len);
		/*
		 * rpci_send adds a trailing space to a command with no space; the
		 * echo ("1 " + request) is queued while the request is still
		 * buffered, so both must fit the budget.
		 */
		want = got + (got && memchr(p, ' ', got) ? 0 : 1);
		if (want + 2 <= LOOP.max_message && 2 * want + 2 <= LOOP.budget) {
			FUZZ_CHECK(r == 1);
			FUZZ_CHECK(len == want && !memcmp(reply, p, got));
			FUZZ_CHECK(reply[len] == '\0');
		} else if (r < 0) {
			FUZZ_CHECK(!reply);
			/* A refused request leaves the channel usable... or closed: reopen. */
			msgchan_close(&c);
			FUZZ_CHECK(msgchan_open(&c, RPCI_PROTOCOL_NUM) == 0);
		}
		free(reply);
		host_check(&LOOP);
	}
	msgchan_close(&c);
	bdoor_set_transport(NULL);
	host_free(&LOOP);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };

	switch (fuzz_u8(&in) % 3) {
	case 0:
		hostile_guest(&in);
		break;
	case 1:
		hostile_host(&in);
		break;
	default:
		loopback(&in);
		break;
	}
	return 0;
}
