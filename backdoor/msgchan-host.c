// SPDX-License-Identifier: MIT
/*
 * GuestRPC message channel, host side.  See msgchan-host.h.
 *
 * A channel carries one message at a time in each direction:
 *   guest->host: SENDSIZE, then SENDPAYLOAD pieces (or one HB rep outsb);
 *                the completed message goes to ops->received.
 *   host->guest: RECVSIZE, then RECVPAYLOAD pieces (or one HB rep insb),
 *                then RECVSTATUS acknowledges it.
 * Replies put the status in ECX high 16 (LB) or EBX high 16 (HB).
 */
#include <stdlib.h>
#include <string.h>

#include "msgchan-host.h"

struct chan {
	bool open;
	bool cookies;		/* opened with GUESTMSG_FLAG_COOKIE */
	uint32_t proto;
	uint32_t cookie_hi, cookie_lo;
	int owner;
	uint64_t last_used_ns;

	/* guest -> host message being assembled */
	bool in_active;
	uint8_t *in_buf;
	uint32_t in_size, in_pos;

	/* host -> guest message */
	enum { OUT_NONE, OUT_QUEUED, OUT_SENDING } out_state;
	uint8_t *out_buf;
	uint32_t out_size, out_pos;
};

struct msgchan_host {
	struct msgchan_host_config cfg;
	const struct msgchan_host_ops *ops;
	void *opaque;
	size_t buffered;
	/* A message being handed to ops->received: still charged to its owner. */
	size_t delivering;
	int delivering_owner;
	struct chan chans[GUESTMSG_MAX_CHANNEL];
};

#define LOG(h, ...) do { if ((h)->ops->log) (h)->ops->log((h)->opaque, __VA_ARGS__); } while (0)

struct msgchan_host *msgchan_host_new(const struct msgchan_host_config *cfg,
				      const struct msgchan_host_ops *ops, void *opaque)
{
	struct msgchan_host *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->cfg = *cfg;
	if (!h->cfg.max_message || h->cfg.max_message > GUESTMSG_MAX_SIZE)
		h->cfg.max_message = GUESTMSG_MAX_SIZE;
	if (!h->cfg.budget)
		h->cfg.budget = 4 * (size_t)GUESTMSG_MAX_SIZE;
	h->ops = ops;
	h->opaque = opaque;
	return h;
}

static void drop_in(struct msgchan_host *h, struct chan *c)
{
	h->buffered -= c->in_size;
	free(c->in_buf);
	c->in_buf = NULL;
	c->in_size = c->in_pos = 0;
	c->in_active = false;
}

static void drop_out(struct msgchan_host *h, struct chan *c)
{
	h->buffered -= c->out_size;
	free(c->out_buf);
	c->out_buf = NULL;
	c->out_size = c->out_pos = 0;
	c->out_state = OUT_NONE;
}

static void close_chan(struct msgchan_host *h, int id)
{
	struct chan *c = &h->chans[id];
	uint32_t proto = c->proto;

	if (!c->open)
		return;
	drop_in(h, c);
	drop_out(h, c);
	memset(c, 0, sizeof(*c));
	if (h->ops->closed)
		h->ops->closed(h->opaque, id, proto);
}

void msgchan_host_free(struct msgchan_host *h)
{
	if (!h)
		return;
	for (int i = 0; i < GUESTMSG_MAX_CHANNEL; i++) {
		drop_in(h, &h->chans[i]);
		drop_out(h, &h->chans[i]);
	}
	free(h);
}

static int owner_channels(const struct msgchan_host *h, int owner)
{
	int n = 0;

	for (int i = 0; i < GUESTMSG_MAX_CHANNEL; i++)
		n += h->chans[i].open && h->chans[i].owner == owner;
	return n;
}

static size_t owner_buffered(const struct msgchan_host *h, int owner)
{
	size_t n = h->delivering_owner == owner ? h->delivering : 0;

	for (int i = 0; i < GUESTMSG_MAX_CHANNEL; i++)
		if (h->chans[i].open && h->chans[i].owner == owner)
			n += h->chans[i].in_size + h->chans[i].out_size;
	return n;
}

/* Owner 0 is the whole guest (see msgchan-host.h): no quota of its own. */
static bool over_owner_budget(const struct msgchan_host *h, int owner, size_t len)
{
	return owner && h->cfg.owner_budget &&
	       owner_buffered(h, owner) + len > h->cfg.owner_budget;
}

/* Reserve `len` bytes of the shared budget for a message of channel `c`. */
static uint8_t *budget_alloc(struct msgchan_host *h, const struct chan *c, size_t len)
{
	uint8_t *p;

	if (len > h->cfg.max_message || h->buffered + len > h->cfg.budget)
		return NULL;
	if (over_owner_budget(h, c->owner, len)) {
		LOG(h, "guest process %d: %zu more message bytes refused (its quota is %zu)",
		    c->owner, len, h->cfg.owner_budget);
		return NULL;
	}
	p = malloc(len ? len : 1);
	if (p)
		h->buffered += len;
	return p;
}

static void set_lb_status(struct bdoor_regs *r, uint32_t status)
{
	r->cx = (uint64_t)status << 16;
}

static void set_hb_status(struct bdoor_regs *r, uint32_t status)
{
	r->bx = (uint64_t)status << 16;
}

/* The channel a call names, if it is open and the cookies match. */
static struct chan *lookup(struct msgchan_host *h, int id, uint32_t cookie_hi, uint32_t cookie_lo,
			   const char *what)
{
	struct chan *c;

	if (id < 0 || id >= GUESTMSG_MAX_CHANNEL) {
		LOG(h, "%s: channel %d out of range", what, id);
		return NULL;
	}
	c = &h->chans[id];
	if (!c->open) {
		LOG(h, "%s: channel %d is not open", what, id);
		return NULL;
	}
	if (c->cookies && (c->cookie_hi != cookie_hi || c->cookie_lo != cookie_lo)) {
		LOG(h, "%s: channel %d: wrong cookie", what, id);
		return NULL;
	}
	return c;
}

static void deliver(struct msgchan_host *h, int id, struct chan *c)
{
	uint8_t *buf = c->in_buf;
	uint32_t len = c->in_size;

	/* Detach first: the handler may queue a reply or even close the channel. */
	c->in_buf = NULL;
	c->in_size = c->in_pos = 0;
	c->in_active = false;
	h->delivering = len;
	h->delivering_owner = c->owner;
	h->ops->received(h->opaque, id, c->proto, (const char *)buf, len);
	h->delivering = 0;
	h->buffered -= len;
	free(buf);
}

static int find_free(struct msgchan_host *h, uint64_t now_ns)
{
	int oldest = -1;

	for (int i = 0; i < GUESTMSG_MAX_CHANNEL; i++) {
		if (!h->chans[i].open)
			return i;
		if (oldest < 0 || h->chans[i].last_used_ns < h->chans[oldest].last_used_ns)
			oldest = i;
	}
	/* Full: a guest that leaks channels must not lock out its own tools. */
	if (oldest >= 0 && now_ns - h->chans[oldest].last_used_ns >= h->cfg.owner_idle_ns) {
		LOG(h, "open: channel table full, reclaiming idle channel %d", oldest);
		close_chan(h, oldest);
		return oldest;
	}
	return -1;
}

static void do_open(struct msgchan_host *h, struct bdoor_regs *r, int owner, uint64_t now_ns)
{
	uint32_t arg = (uint32_t)r->bx;
	uint32_t proto = arg & ~GUESTMSG_FLAG_COOKIE;
	struct chan *c;
	int id;

	if (proto != RPCI_PROTOCOL_NUM && proto != TCLO_PROTOCOL_NUM) {
		LOG(h, "open: unknown protocol 0x%08x", proto);
		set_lb_status(r, 0);
		return;
	}
	if (owner && h->cfg.owner_channels && owner_channels(h, owner) >= h->cfg.owner_channels) {
		LOG(h, "open: guest process %d already holds %d channels (its quota)", owner,
		    h->cfg.owner_channels);
		set_lb_status(r, 0);
		return;
	}
	id = find_free(h, now_ns);
	if (id < 0) {
		LOG(h, "open: all %d channels in use", GUESTMSG_MAX_CHANNEL);
		set_lb_status(r, 0);
		return;
	}
	c = &h->chans[id];
	memset(c, 0, sizeof(*c));
	c->open = true;
	c->proto = proto;
	c->owner = owner;
	c->last_used_ns = now_ns;
	if (arg & GUESTMSG_FLAG_COOKIE) {
		uint64_t rnd = h->ops->random(h->opaque);

		c->cookies = true;
		c->cookie_hi = (uint32_t)(rnd >> 32);
		c->cookie_lo = (uint32_t)rnd;
	}
	r->dx = (uint64_t)id << 16;
	r->si = c->cookie_hi;
	r->di = c->cookie_lo;
	set_lb_status(r, MESSAGE_STATUS_SUCCESS);
	if (h->ops->opened)
		h->ops->opened(h->opaque, id, proto);
}

static uint32_t do_sendsize(struct msgchan_host *h, int id, struct chan *c, uint32_t size)
{
	if (c->in_active)
		drop_in(h, c);	/* a new message abandons the unfinished one */
	c->in_buf = budget_alloc(h, c, size);
	if (!c->in_buf) {
		LOG(h, "send: channel %d: message of %u bytes refused (limit %zu, %zu buffered)",
		    id, size, h->cfg.max_message, h->buffered);
		return 0;
	}
	c->in_size = size;
	c->in_pos = 0;
	c->in_active = true;
	if (size == 0) {
		deliver(h, id, c);
		return MESSAGE_STATUS_SUCCESS;
	}
	return MESSAGE_STATUS_SUCCESS | (h->cfg.offer_hb ? MESSAGE_STATUS_HB : 0);
}

static uint32_t do_sendpayload(struct msgchan_host *h, int id, struct chan *c, uint32_t piece)
{
	uint32_t n;

	if (!c->in_active) {
		LOG(h, "send: channel %d: payload without a size", id);
		return 0;
	}
	n = c->in_size - c->in_pos;
	if (n > 4)
		n = 4;
	for (uint32_t i = 0; i < n; i++)
		c->in_buf[c->in_pos++] = (uint8_t)(piece >> (8 * i));
	if (c->in_pos == c->in_size)
		deliver(h, id, c);
	return MESSAGE_STATUS_SUCCESS;
}

static void do_recvsize(struct msgchan_host *h, struct bdoor_regs *r, int id, struct chan *c)
{
	if (c->out_state == OUT_NONE && h->ops->poll)
		h->ops->poll(h->opaque, id, c->proto);
	if (!c->open || c->out_state == OUT_NONE) {
		set_lb_status(r, c->open ? MESSAGE_STATUS_SUCCESS : 0);
		return;
	}
	/* A re-asked size restarts the transfer: the guest lost its place. */
	c->out_state = OUT_SENDING;
	c->out_pos = 0;
	r->bx = c->out_size;
	r->dx = (uint64_t)MESSAGE_TYPE_SENDSIZE << 16;
	set_lb_status(r, MESSAGE_STATUS_SUCCESS | MESSAGE_STATUS_DORECV |
			 (h->cfg.offer_hb && c->out_size ? MESSAGE_STATUS_HB : 0));
}

static void do_recvpayload(struct msgchan_host *h, struct bdoor_regs *r, int id, struct chan *c)
{
	uint32_t piece = 0, n;

	if (c->out_state != OUT_SENDING) {
		LOG(h, "receive: channel %d: payload requested with no message", id);
		set_lb_status(r, 0);
		return;
	}
	if (!((uint32_t)r->bx & MESSAGE_STATUS_GUEST_MASK)) {
		/* The guest failed to take the last piece: start over on RECVSIZE. */
		c->out_state = OUT_QUEUED;
		c->out_pos = 0;
		set_lb_status(r, MESSAGE_STATUS_SUCCESS);
		return;
	}
	n = c->out_size - c->out_pos;
	if (n == 0) {
		LOG(h, "receive: channel %d: payload requested past the end", id);
		set_lb_status(r, 0);
		return;
	}
	if (n > 4)
		n = 4;
	for (uint32_t i = 0; i < n; i++)
		piece |= (uint32_t)c->out_buf[c->out_pos++] << (8 * i);
	r->bx = piece;
	r->dx = (uint64_t)MESSAGE_TYPE_SENDPAYLOAD << 16;
	set_lb_status(r, MESSAGE_STATUS_SUCCESS);
}

static void do_recvstatus(struct msgchan_host *h, struct bdoor_regs *r, int id, struct chan *c)
{
	if (c->out_state != OUT_SENDING) {
		LOG(h, "receive: channel %d: status with no message", id);
		set_lb_status(r, 0);
		return;
	}
	if ((uint32_t)r->bx & MESSAGE_STATUS_GUEST_MASK) {
		drop_out(h, c);
	} else {
		c->out_state = OUT_QUEUED;	/* keep it for another try */
		c->out_pos = 0;
	}
	set_lb_status(r, MESSAGE_STATUS_SUCCESS);
}

void msgchan_host_lb(struct msgchan_host *h, struct bdoor_regs *r, int owner, uint64_t now_ns)
{
	uint32_t type = BDOOR_ECX_SUB(r->cx);
	int id = (int)BDOOR_EDX_CHAN(r->dx);
	struct chan *c;

	if (type == MESSAGE_TYPE_OPEN) {
		do_open(h, r, owner, now_ns);
		return;
	}
	if (type > MESSAGE_TYPE_CLOSE) {
		LOG(h, "message: unknown type %u", type);
		set_lb_status(r, 0);
		return;
	}
	c = lookup(h, id, (uint32_t)r->si, (uint32_t)r->di, "message");
	if (!c) {
		set_lb_status(r, 0);
		return;
	}
	c->last_used_ns = now_ns;
	switch (type) {
	case MESSAGE_TYPE_SENDSIZE:
		set_lb_status(r, do_sendsize(h, id, c, (uint32_t)r->bx));
		break;
	case MESSAGE_TYPE_SENDPAYLOAD:
		set_lb_status(r, do_sendpayload(h, id, c, (uint32_t)r->bx));
		break;
	case MESSAGE_TYPE_RECVSIZE:
		do_recvsize(h, r, id, c);
		break;
	case MESSAGE_TYPE_RECVPAYLOAD:
		do_recvpayload(h, r, id, c);
		break;
	case MESSAGE_TYPE_RECVSTATUS:
		do_recvstatus(h, r, id, c);
		break;
	case MESSAGE_TYPE_CLOSE:
		close_chan(h, id);
		set_lb_status(r, MESSAGE_STATUS_SUCCESS);
		break;
	}
}

void msgchan_host_hb_send(struct msgchan_host *h, struct bdoor_regs *r, uint64_t count,
			  void *mem_opaque, uint64_t now_ns)
{
	int id = (int)BDOOR_EDX_CHAN(r->dx);
	/* HB send: cookie high in EBP, cookie low in EDI. */
	struct chan *c = lookup(h, id, (uint32_t)r->bp, (uint32_t)r->di, "hb send");
	uint32_t cmd = (uint32_t)r->bx & 0xFFFF;

	if (!c || cmd != BDOORHB_CMD_MESSAGE) {
		if (c)
			LOG(h, "hb send: unknown command %u", cmd);
		set_hb_status(r, 0);
		return;
	}
	c->last_used_ns = now_ns;
	if (!c->in_active || c->in_pos != 0 || count != c->in_size) {
		LOG(h, "hb send: channel %d: %llu bytes do not match the announced size %u",
		    id, (unsigned long long)count, c->in_size);
		drop_in(h, c);
		set_hb_status(r, 0);
		return;
	}
	if (h->ops->mem_read(mem_opaque, r->si, c->in_buf, c->in_size)) {
		LOG(h, "hb send: channel %d: guest buffer 0x%llx+%u not readable", id,
		    (unsigned long long)r->si, c->in_size);
		drop_in(h, c);
		set_hb_status(r, 0);
		return;
	}
	deliver(h, id, c);
	set_hb_status(r, MESSAGE_STATUS_SUCCESS);
}

void msgchan_host_hb_recv(struct msgchan_host *h, struct bdoor_regs *r, uint64_t count,
			  void *mem_opaque, uint64_t now_ns)
{
	int id = (int)BDOOR_EDX_CHAN(r->dx);
	/* HB receive: cookie high in ESI, cookie low in EBP. */
	struct chan *c = lookup(h, id, (uint32_t)r->si, (uint32_t)r->bp, "hb receive");
	uint32_t cmd = (uint32_t)r->bx & 0xFFFF;

	if (!c || cmd != BDOORHB_CMD_MESSAGE) {
		if (c)
			LOG(h, "hb receive: unknown command %u", cmd);
		set_hb_status(r, 0);
		return;
	}
	c->last_used_ns = now_ns;
	if (c->out_state != OUT_SENDING || c->out_pos != 0 || count != c->out_size) {
		LOG(h, "hb receive: channel %d: %llu bytes asked, message has %u", id,
		    (unsigned long long)count, c->out_size);
		set_hb_status(r, 0);
		return;
	}
	if (h->ops->mem_write(mem_opaque, r->di, c->out_buf, c->out_size)) {
		LOG(h, "hb receive: channel %d: guest buffer 0x%llx+%u not writable", id,
		    (unsigned long long)r->di, c->out_size);
		set_hb_status(r, 0);
		return;
	}
	c->out_pos = c->out_size;
	set_hb_status(r, MESSAGE_STATUS_SUCCESS);
}

int msgchan_host_reply(struct msgchan_host *h, int id, const void *msg, size_t len)
{
	struct chan *c;
	uint8_t *buf;

	if (id < 0 || id >= GUESTMSG_MAX_CHANNEL || !h->chans[id].open)
		return -1;
	c = &h->chans[id];
	drop_out(h, c);
	buf = budget_alloc(h, c, len);
	if (!buf)
		return -1;
	if (len)
		memcpy(buf, msg, len);
	c->out_buf = buf;
	c->out_size = (uint32_t)len;
	c->out_pos = 0;
	c->out_state = OUT_QUEUED;
	return 0;
}

void msgchan_host_close_owner(struct msgchan_host *h, int owner)
{
	for (int i = 0; i < GUESTMSG_MAX_CHANNEL; i++)
		if (h->chans[i].open && h->chans[i].owner == owner)
			close_chan(h, i);
}

void msgchan_host_reset(struct msgchan_host *h)
{
	for (int i = 0; i < GUESTMSG_MAX_CHANNEL; i++)
		close_chan(h, i);
}

bool msgchan_host_is_open(const struct msgchan_host *h, int chan)
{
	return chan >= 0 && chan < GUESTMSG_MAX_CHANNEL && h->chans[chan].open;
}

int msgchan_host_owner(const struct msgchan_host *h, int chan)
{
	return msgchan_host_is_open(h, chan) ? h->chans[chan].owner : -1;
}

int msgchan_host_open_count(const struct msgchan_host *h)
{
	int n = 0;

	for (int i = 0; i < GUESTMSG_MAX_CHANNEL; i++)
		n += h->chans[i].open;
	return n;
}

size_t msgchan_host_buffered(const struct msgchan_host *h)
{
	return h->buffered;
}
