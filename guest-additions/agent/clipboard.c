// SPDX-License-Identifier: MIT
/*
 * Clipboard sharing, guest side (protocol: backdoor/clipboard.h; X side:
 * common/xsel.h, shared with the host bridge).
 *
 *  - a guest application copies: xsel reports the formats, we send an
 *    OFFER; when the host pastes it sends a REQUEST, we read our X
 *    selection, create a queue pair, answer XFER, and once the host says
 *    READY (it attached) we stream the bytes;
 *  - the host copies: its OFFER makes us own the selection; a guest paste
 *    creates a queue pair, sends REQUEST and waits for the host's XFER,
 *    then reads the bytes and hands them to the application.
 * Every wait for the host has a deadline; a host that detaches mid-stream
 * ends the transfer with a refusal, never a truncated paste.
 */
#include <errno.h>
#include <string.h>

#include "agent.h"
#include "backdoor/clipboard.h"
#include "common/xsel.h"

/* How long the host may take to answer (it may be reading a slow owner). */
#define CLIP_REPLY_TIMEOUT_MS	20000
#define CLIP_MAX_TRANSFERS	8
/* A streamed paste moves on the host's doorbells; this tick covers a lost one and stalls. */
#define CLIP_STREAM_TICK_MS	100
/* Nothing sane is larger (4 GiB). */
#define CLIP_SIZE_ABSURD	(VMCI_QP_MAX_QUEUE_SIZE * 64)


/* One transfer through a queue pair. */
struct xfer {
	bool active;
	bool outgoing;			/* guest data to the host */
	uint32_t id;
	uint32_t req;			/* xsel request being answered (incoming) */
	unsigned int sel, format;
	uint64_t max_size;
	struct phg_qp qp;
	bool have_qp;
	GBytes *data;			/* outgoing: what we send once READY */
	guint timeout;
	/*
	 * Incoming, streamed (the host answered PH_CLIP_SIZE_STREAMED): the
	 * stream header, then chunks, each handed to X as it completes.
	 */
	bool streamed;
	struct ph_clip_rx rx;
	uint8_t *chunk;
	size_t off;
	int64_t progress_us;
	guint tick;
	/*
	 * Outgoing, streamed (the host asked, PH_CLIP_REQ_STREAMED): chunks of
	 * our X read framed in `out` from `out_off`, written once the host is
	 * READY; `read_ended` once the end chunk is in.
	 */
	GByteArray *out;
	size_t out_off;
	bool ready, read_ended;
};

struct clip {
	struct agent *a;
	struct xsel *xsel;
	uint32_t my_serial[PH_CLIP_SEL_COUNT];	/* of our offers */
	uint32_t my_formats[PH_CLIP_SEL_COUNT];
	uint32_t peer_serial[PH_CLIP_SEL_COUNT];
	uint32_t next_xfer;
	struct xfer xfers[CLIP_MAX_TRANSFERS];
};

static struct clip *the_clip;	/* for the timeout callbacks' sanity */

static void send_offer(struct clip *c, unsigned int sel)
{
	struct ph_clip_offer o = ph_clip_offer_make(sel, c->my_serial[sel], c->my_formats[sel]);

	agent_send(c->a, PH_DESKTOP_RES_CLIPBOARD, &o, sizeof(o));
}

static void send_xfer(struct clip *c, uint16_t type, uint32_t id, uint32_t status,
		      uint32_t format, uint32_t qp_resource, uint64_t size)
{
	struct ph_clip_xfer x = ph_clip_xfer_make(type, id, status, format, qp_resource, size);

	agent_send(c->a, PH_DESKTOP_RES_CLIPBOARD, &x, sizeof(x));
}

static struct xfer *xfer_new(struct clip *c)
{
	for (int i = 0; i < CLIP_MAX_TRANSFERS; i++)
		if (!c->xfers[i].active) {
			struct xfer *t = &c->xfers[i];

			memset(t, 0, sizeof(*t));
			t->active = true;
			t->id = ++c->next_xfer;
			return t;
		}
	return NULL;
}

static struct xfer *xfer_find(struct clip *c, uint32_t id, bool outgoing)
{
	for (int i = 0; i < CLIP_MAX_TRANSFERS; i++)
		if (c->xfers[i].active && c->xfers[i].id == id && c->xfers[i].outgoing == outgoing)
			return &c->xfers[i];
	return NULL;
}

static void xfer_end(struct clip *c, struct xfer *t)
{
	if (t->timeout)
		g_source_remove(t->timeout);
	if (t->tick)
		g_source_remove(t->tick);
	if (t->have_qp)
		phg_qp_destroy(&c->a->vmci, &t->qp);
	if (t->data)
		g_bytes_unref(t->data);
	g_free(t->chunk);
	if (t->out)
		g_byte_array_free(t->out, TRUE);
	t->out = NULL;
	t->active = false;
	t->have_qp = false;
	t->data = NULL;
	t->chunk = NULL;
	t->timeout = 0;
	t->tick = 0;
	t->streamed = false;
}

static gboolean on_xfer_timeout(gpointer p)
{
	struct xfer *t = p;
	struct clip *c = the_clip;

	t->timeout = 0;
	if (!t->active)
		return G_SOURCE_REMOVE;
	g_message("clipboard: transfer %u: no answer from the host in %d s; abandoned", t->id,
		  CLIP_REPLY_TIMEOUT_MS / 1000);
	if (!t->outgoing)
		xsel_refuse(c->xsel, t->req, "the host did not answer");
	xfer_end(c, t);
	return G_SOURCE_REMOVE;
}

static int create_qp(struct clip *c, struct xfer *t, uint64_t produce, uint64_t consume)
{
	uint32_t res = PH_CLIP_QP_BASE + (t->outgoing ? 0x10000 : 0) + (t->id & 0xFFFF);
	/* The host bridge waits for our doorbells on its channel endpoint. */
	struct vmci_handle peer = { VMCI_HOST_CONTEXT_ID, PH_DESKTOP_RES_CLIPBOARD };
	int64_t r = phg_qp_create(&c->a->vmci, &t->qp, res, produce, consume, peer);

	if (r < 0) {
		g_message("clipboard: cannot create a queue pair (VMCI error %lld)", (long long)r);
		return -1;
	}
	t->have_qp = true;
	t->qp.stall_ms = PH_CLIP_STALL_MS;
	return 0;
}

/* ---- xsel callbacks ---- */

static void on_x_offer(void *opaque, unsigned int sel, uint32_t formats)
{
	struct clip *c = opaque;

	c->my_serial[sel]++;
	c->my_formats[sel] = formats;
	g_debug("clipboard: guest %s offers formats 0x%x (serial %u)", sel ? "PRIMARY" : "CLIPBOARD",
		formats, c->my_serial[sel]);
	send_offer(c, sel);
}

/* A guest application pastes what the host offered. */
static void on_x_request(void *opaque, uint32_t req, unsigned int sel, unsigned int format)
{
	struct clip *c = opaque;
	struct xfer *t = xfer_new(c);
	struct ph_clip_request r = { 0 };

	if (!t) {
		xsel_refuse(c->xsel, req, "too many transfers at once");
		return;
	}
	t->req = req;
	t->sel = sel;
	t->format = format;
	if (create_qp(c, t, VMCI_PAGE_SIZE, PH_CLIP_QP_SIZE) < 0) {
		xsel_refuse(c->xsel, req, "no queue pair for the transfer");
		xfer_end(c, t);
		return;
	}
	ph_clip_hdr_init(&r.hdr, PH_CLIP_REQUEST);
	r.xfer = t->id;
	r.selection = sel;
	r.serial = c->peer_serial[sel];
	r.format = format;
	r.max_size = UINT64_MAX;	/* the host applies the VM's policy */
	r.qp_resource = t->qp.handle.resource;
	r.flags = PH_CLIP_REQ_STREAMED;
	if (agent_send(c->a, PH_DESKTOP_RES_CLIPBOARD, &r, sizeof(r)) < 0) {
		xsel_refuse(c->xsel, req, "the host is not listening");
		xfer_end(c, t);
		return;
	}
	t->timeout = g_timeout_add(CLIP_REPLY_TIMEOUT_MS, on_xfer_timeout, t);
}

static void stream_out_pump(struct clip *c, struct xfer *t);

static void put_bytes(void *out, const void *p, size_t n)
{
	g_byte_array_append(out, p, (guint)n);
}

/* Bytes of our X selection for a streamed host paste: framed, sent once the host is READY. */
static void on_x_read_chunk(void *opaque, uint32_t cookie, const void *data, size_t len)
{
	struct clip *c = opaque;
	struct xfer *t = xfer_find(c, cookie, true);

	if (!t || !t->out)
		return;
	ph_clip_frame(data, len, put_bytes, t->out);
	if (t->ready)
		stream_out_pump(c, t);
}

/* Our X selection was read for a host paste. */
static void on_x_read_done(void *opaque, uint32_t cookie, uint32_t status, GBytes *data)
{
	struct clip *c = opaque;
	struct xfer *t = xfer_find(c, cookie, true);
	gsize len = data ? g_bytes_get_size(data) : 0;

	if (!t)
		return;
	if (t->out) {
		struct ph_clip_chunk end = { 0, status };

		if (status != PH_CLIP_OK)
			g_message("clipboard: host paste ended early: %s", ph_clip_status_text(status));
		g_byte_array_append(t->out, (const guint8 *)&end, sizeof(end));
		t->read_ended = true;
		if (t->ready)
			stream_out_pump(c, t);
		return;
	}
	if (status == PH_CLIP_OK && len > t->max_size)
		status = PH_CLIP_ERR_TOO_LARGE;
	if (status != PH_CLIP_OK) {
		g_message("clipboard: host paste refused: %s", ph_clip_status_text(status));
		send_xfer(c, PH_CLIP_XFER, t->id, status, t->format, 0, len);
		xfer_end(c, t);
		return;
	}
	if (create_qp(c, t, PH_CLIP_QP_SIZE, VMCI_PAGE_SIZE) < 0) {
		send_xfer(c, PH_CLIP_XFER, t->id, PH_CLIP_ERR_TRANSPORT, t->format, 0, len);
		xfer_end(c, t);
		return;
	}
	t->data = g_bytes_ref(data);
	send_xfer(c, PH_CLIP_XFER, t->id, PH_CLIP_OK, t->format, t->qp.handle.resource, len);
	/* The bytes move once the host attached (READY): a host that never does times out. */
	t->timeout = g_timeout_add(CLIP_REPLY_TIMEOUT_MS, on_xfer_timeout, t);
}

static int agent_x_error_cb(void *opaque, unsigned long serial)
{
	return agent_x_error_since(((struct clip *)opaque)->a, serial);
}

static const struct xsel_ops xsel_ops = {
	.offer = on_x_offer,
	.request = on_x_request,
	.read_done = on_x_read_done,
	.read_chunk = on_x_read_chunk,
	.x_error_since = agent_x_error_cb,
};

/* ---- host datagrams ---- */

/* The host attached to our queue pair: stream the bytes (blocking, until the host has them). */
static void stream_out(struct clip *c, struct xfer *t)
{
	gsize len;
	const void *p = g_bytes_get_data(t->data, &len);
	struct ph_clip_stream_hdr h = { PH_CLIP_MAGIC, PH_CLIP_OK, t->format, t->id, len };
	int r = phg_qp_write_all(&c->a->vmci, &t->qp, &h, sizeof(h));

	if (!r && len)
		r = phg_qp_write_all(&c->a->vmci, &t->qp, p, len);
	if (r)
		g_message("clipboard: sending %zu bytes to the host failed: %s", len,
			  r == -EPIPE ? "the host left" : g_strerror(-r));
	/* The queue pair stays until the host says DONE (it may still be reading). */
	if (r)
		xfer_end(c, t);
}

/* Write what is framed so far; the queue pair stays until the host says DONE. */
static void stream_out_pump(struct clip *c, struct xfer *t)
{
	size_t before = t->out_off;
	int r = phg_qp_step(&c->a->vmci, &t->qp, t->out->data, t->out->len, &t->out_off, true);

	if (t->out_off != before)
		t->progress_us = g_get_monotonic_time();
	if (r == -EAGAIN)
		return;
	if (r) {
		g_message("clipboard: sending to the host failed: %s",
			  r == -EPIPE ? "the host left" : g_strerror(-r));
		xfer_end(c, t);
		return;
	}
	g_byte_array_set_size(t->out, 0);	/* all went: start the buffer over */
	t->out_off = 0;
	if (t->read_ended && t->tick) {
		g_source_remove(t->tick);	/* all written: DONE (or its timeout) ends it */
		t->tick = 0;
		t->timeout = g_timeout_add(CLIP_REPLY_TIMEOUT_MS, on_xfer_timeout, t);
	}
}

static gboolean on_stream_out_tick(gpointer p)
{
	struct xfer *t = p;
	struct clip *c = the_clip;

	if (!t->active || !c) {
		t->tick = 0;
		return G_SOURCE_REMOVE;
	}
	/* Bytes waiting for room the host does not make: it stopped reading. */
	if (t->out_off < t->out->len &&
	    g_get_monotonic_time() - t->progress_us > PH_CLIP_STALL_MS * 1000ll) {
		g_message("clipboard: the host stopped reading our data; transfer dropped");
		t->tick = 0;	/* removed by returning */
		xfer_end(c, t);
		return G_SOURCE_REMOVE;
	}
	stream_out_pump(c, t);
	return t->tick ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* The host attached to our queue pair: from now on the bytes go as they come. */
static void stream_out_start(struct clip *c, struct xfer *t)
{
	if (t->timeout)
		g_source_remove(t->timeout);
	t->timeout = 0;
	t->ready = true;
	t->progress_us = g_get_monotonic_time();
	t->tick = g_timeout_add(CLIP_STREAM_TICK_MS, on_stream_out_tick, t);
	stream_out_pump(c, t);
}

static void on_request(struct clip *c, const struct ph_clip_request *r)
{
	struct xfer *t;

	if (r->selection >= PH_CLIP_SEL_COUNT || r->format >= PH_CLIP_FMT_COUNT) {
		send_xfer(c, PH_CLIP_XFER, r->xfer, PH_CLIP_ERR_CONVERT, r->format, 0, 0);
		return;
	}
	if (r->serial != c->my_serial[r->selection] ||
	    !(c->my_formats[r->selection] & PH_CLIP_FMT_BIT(r->format))) {
		send_xfer(c, PH_CLIP_XFER, r->xfer, PH_CLIP_ERR_STALE, r->format, 0, 0);
		return;
	}
	t = xfer_new(c);
	if (!t) {
		send_xfer(c, PH_CLIP_XFER, r->xfer, PH_CLIP_ERR_BUSY, r->format, 0, 0);
		return;
	}
	/* Outgoing transfers carry the host's id (its namespace; ours are for incoming). */
	t->id = r->xfer;
	t->outgoing = true;
	t->sel = r->selection;
	t->format = r->format;
	t->max_size = r->max_size;
	if (xfer_find(c, r->xfer, true) != t) {	/* the host reused a live id */
		t->active = false;
		send_xfer(c, PH_CLIP_XFER, r->xfer, PH_CLIP_ERR_BUSY, r->format, 0, 0);
		return;
	}
	if (!(r->flags & PH_CLIP_REQ_STREAMED)) {
		xsel_read(c->xsel, r->selection, r->format, r->max_size, t->id);
		return;
	}
	/* The host takes the bytes as our X read delivers them: the queue pair now. */
	if (create_qp(c, t, PH_CLIP_QP_SIZE, VMCI_PAGE_SIZE) < 0) {
		send_xfer(c, PH_CLIP_XFER, t->id, PH_CLIP_ERR_TRANSPORT, t->format, 0, 0);
		xfer_end(c, t);
		return;
	}
	t->out = g_byte_array_new();
	{
		struct ph_clip_stream_hdr h = { PH_CLIP_MAGIC, PH_CLIP_OK, t->format, t->id,
						PH_CLIP_SIZE_STREAMED };

		g_byte_array_append(t->out, (const guint8 *)&h, sizeof(h));
	}
	send_xfer(c, PH_CLIP_XFER, t->id, PH_CLIP_OK, t->format, t->qp.handle.resource,
		  PH_CLIP_SIZE_STREAMED);
	t->timeout = g_timeout_add(CLIP_REPLY_TIMEOUT_MS, on_xfer_timeout, t);
	xsel_read_stream(c->xsel, r->selection, r->format, r->max_size, t->id);
}

/* ---- a streamed paste from the host ---- */

static void stream_in_fail(struct clip *c, struct xfer *t, int r)
{
	g_message("clipboard: receiving from the host failed after %llu bytes: %s",
		  (unsigned long long)t->rx.total,
		  r == -EPIPE ? "the host left" : r == -ETIMEDOUT ? "it stopped sending" :
		  r == -EPROTO ? "malformed stream" : g_strerror(-r));
	xsel_stream_end(c->xsel, t->req, PH_CLIP_ERR_TRANSPORT);
	xfer_end(c, t);
}

/* Take what the host has written so far: stream header, chunk headers, chunks to X. */
static void stream_in_pump(struct clip *c, struct xfer *t)
{
	for (;;) {
		size_t before = t->off, len;
		void *buf;
		int r;

		ph_clip_rx_next(&t->rx, &buf, &len);
		r = phg_qp_step(&c->a->vmci, &t->qp, buf, len, &t->off, false);
		if (t->off != before)
			t->progress_us = g_get_monotonic_time();
		if (r == -EAGAIN)
			return;
		if (r) {
			stream_in_fail(c, t, r);
			return;
		}
		t->off = 0;
		switch (ph_clip_rx_filled(&t->rx)) {
		case PH_CLIP_RX_MORE:
			break;
		case PH_CLIP_RX_CHUNK:
			if (!xsel_stream_push(c->xsel, t->req, t->chunk, t->rx.chunk_len)) {
				g_message("clipboard: the pasting application is gone; the rest from "
					  "the host is dropped");
				xfer_end(c, t);
				return;
			}
			break;
		case PH_CLIP_RX_END:
			if (t->rx.end_status != PH_CLIP_OK)
				g_message("clipboard: paste from the host ended after %llu bytes: %s",
					  (unsigned long long)t->rx.total,
					  ph_clip_status_text(t->rx.end_status));
			xsel_stream_end(c->xsel, t->req, t->rx.end_status);
			xfer_end(c, t);
			return;
		case PH_CLIP_RX_BAD:
			stream_in_fail(c, t, -EPROTO);
			return;
		}
	}
}

static gboolean on_stream_tick(gpointer p)
{
	struct xfer *t = p;
	struct clip *c = the_clip;

	if (!t->active || !c) {
		t->tick = 0;
		return G_SOURCE_REMOVE;
	}
	if (g_get_monotonic_time() - t->progress_us > PH_CLIP_STALL_MS * 1000ll) {
		t->tick = 0;	/* removed by returning */
		stream_in_fail(c, t, -ETIMEDOUT);
		return G_SOURCE_REMOVE;
	}
	stream_in_pump(c, t);
	return G_SOURCE_CONTINUE;
}

/* Any VMCI wake-up may be the host's doorbell for a streamed paste. */
static void on_vmci_woke(struct agent *a, void *opaque)
{
	struct clip *c = opaque;

	for (int i = 0; i < CLIP_MAX_TRANSFERS; i++) {
		struct xfer *t = &c->xfers[i];

		if (t->active && t->streamed)
			stream_in_pump(c, t);
		else if (t->active && t->out && t->ready && t->out_off < t->out->len)
			stream_out_pump(c, t);
	}
}

static void stream_in_start(struct clip *c, struct xfer *t)
{
	if (t->timeout)
		g_source_remove(t->timeout);
	t->timeout = 0;
	t->streamed = true;
	t->off = 0;
	t->chunk = g_malloc(PH_CLIP_CHUNK_MAX);
	ph_clip_rx_init(&t->rx, t->id, t->format, CLIP_SIZE_ABSURD, t->chunk);
	t->progress_us = g_get_monotonic_time();
	t->tick = g_timeout_add(CLIP_STREAM_TICK_MS, on_stream_tick, t);
	stream_in_pump(c, t);
}

/* The host's answer to our REQUEST: the bytes wait in our queue pair. */
static void on_xfer(struct clip *c, const struct ph_clip_xfer *x)
{
	struct xfer *t = xfer_find(c, x->xfer, false);
	struct ph_clip_stream_hdr h;
	uint8_t *buf;
	int r;

	if (!t || t->streamed)
		return;		/* (a second XFER for a stream under way: the first one counts) */
	if (x->status != PH_CLIP_OK) {
		g_message("clipboard: paste from the host refused: %s",
			  ph_clip_status_text(x->status));
		xsel_refuse(c->xsel, t->req, ph_clip_status_text(x->status));
		xfer_end(c, t);
		return;
	}
	if (x->size == PH_CLIP_SIZE_STREAMED) {
		stream_in_start(c, t);
		return;
	}
	if (x->size > CLIP_SIZE_ABSURD) {
		xsel_refuse(c->xsel, t->req, "the host announced an absurd size");
		xfer_end(c, t);
		return;
	}
	r = phg_qp_read_all(&c->a->vmci, &t->qp, &h, sizeof(h));
	if (!r && (h.magic != PH_CLIP_MAGIC || h.size != x->size || h.status != PH_CLIP_OK)) {
		xsel_refuse(c->xsel, t->req, "malformed transfer header");
		xfer_end(c, t);
		return;
	}
	buf = r ? NULL : g_try_malloc(x->size ? x->size : 1);
	if (!r && !buf)
		r = -ENOMEM;
	if (!r)
		r = phg_qp_read_all(&c->a->vmci, &t->qp, buf, x->size);
	if (r) {
		g_message("clipboard: receiving %llu bytes from the host failed: %s",
			  (unsigned long long)x->size, r == -EPIPE ? "the host left" : g_strerror(-r));
		xsel_refuse(c->xsel, t->req, "the transfer from the host failed");
	} else {
		xsel_answer(c->xsel, t->req, buf, x->size);
	}
	g_free(buf);
	xfer_end(c, t);
}

static void on_datagram(struct agent *a, const struct phg_dg *d, void *opaque)
{
	struct clip *c = opaque;
	union ph_clip_msg m;
	struct xfer *t;
	int type;

	if (d->hdr.src.context != VMCI_HOST_CONTEXT_ID)
		return;
	type = ph_clip_parse(d->payload, d->hdr.payload_size, &m);
	switch (type) {
	case PH_CLIP_HELLO:
		/* A (new) host bridge: tell it what the guest has. */
		for (unsigned int sel = 0; sel < PH_CLIP_SEL_COUNT; sel++)
			send_offer(c, sel);	/* also says "an agent is here" */
		xsel_rescan(c->xsel);
		break;
	case PH_CLIP_OFFER:
		c->peer_serial[m.offer.selection] = m.offer.serial;
		if (m.offer.formats & PH_CLIP_FMT_ALL) {
			c->my_formats[m.offer.selection] = 0;	/* the host's copy replaces ours */
			xsel_own(c->xsel, m.offer.selection, m.offer.formats & PH_CLIP_FMT_ALL);
		} else if (xsel_owned(c->xsel, m.offer.selection)) {
			xsel_own(c->xsel, m.offer.selection, 0);
		}
		break;
	case PH_CLIP_REQUEST:
		on_request(c, &m.request);
		break;
	case PH_CLIP_XFER:
		on_xfer(c, &m.xfer);
		break;
	case PH_CLIP_READY:
	case PH_CLIP_DONE:
		t = xfer_find(c, m.xfer.xfer, true);
		if (!t)
			break;
		if (type == PH_CLIP_READY && t->out && t->have_qp && !t->ready) {
			stream_out_start(c, t);
		} else if (type == PH_CLIP_READY && t->data && t->have_qp) {
			stream_out(c, t);
		} else if (type == PH_CLIP_DONE) {
			if (m.xfer.status != PH_CLIP_OK)
				g_message("clipboard: the host refused our data: %s",
					  ph_clip_status_text(m.xfer.status));
			xfer_end(c, t);
		}
		break;
	}
}

static bool on_x_event(struct agent *a, XEvent *ev, void *opaque)
{
	return xsel_event(((struct clip *)opaque)->xsel, ev);
}

static int clipboard_init(struct agent *a, void **state)
{
	struct clip *c;
	int64_t r;

	if (!a->have_vmci)
		return -ENODEV;
	c = g_new0(struct clip, 1);
	c->a = a;
	c->xsel = xsel_new(a->dpy, a->root, &xsel_ops, c);
	if (!c->xsel) {
		g_free(c);
		return -ENOTSUP;
	}
	r = agent_bind(a, PH_DESKTOP_RES_CLIPBOARD, on_datagram, c);
	if (r < 0) {
		g_message("clipboard: cannot bind the clipboard channel (VMCI error %lld)",
			  (long long)r);
		xsel_free(c->xsel);
		g_free(c);
		return -EADDRINUSE;
	}
	agent_watch_x(a, on_x_event, c);
	a->vmci_woke = on_vmci_woke;
	a->vmci_woke_opaque = c;
	xsel_rescan(c->xsel);
	the_clip = c;
	*state = c;
	return 0;
}

static void clipboard_fini(struct agent *a, void *state)
{
	struct clip *c = state;

	for (int i = 0; i < CLIP_MAX_TRANSFERS; i++)
		if (c->xfers[i].active)
			xfer_end(c, &c->xfers[i]);
	a->vmci_woke = NULL;
	xsel_free(c->xsel);
	the_clip = NULL;
	g_free(c);
}

const struct agent_module agent_clipboard = {
	.name = "clipboard",
	.init = clipboard_init,
	.fini = clipboard_fini,
};
