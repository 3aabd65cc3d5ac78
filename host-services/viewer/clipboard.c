// SPDX-License-Identifier: MIT
/*
 * The host clipboard bridge (protocol: backdoor/clipboard.h; X side:
 * common/xsel.h, the same code the guest agent uses).  `porthole-viewer
 * --headless VM` runs only this.
 *
 *  - a host application copies: we OFFER it to the guest; when a guest
 *    application pastes, the agent sends REQUEST naming its queue pair; we
 *    check the VM's policy (PH_CTL_CLIPBOARD_POLICY_GET, asked before every
 *    transfer) and that the host user just pasted (a key or button press
 *    the viewer delivered, viewer_take_user_press), read our X selection,
 *    attach, answer XFER and write;
 *  - the guest copies: its OFFER makes us own the host selection; a host
 *    paste (policy permitting) sends REQUEST, the agent answers XFER with
 *    its queue pair, we attach, say READY, read, detach and say DONE.
 * Legacy guests (backdoor copy/paste, no agent): a host text copy is
 * pushed to the hypervisor (PH_CTL_CLIPBOARD_LEGACY_SET) at the next key or
 * button press the viewer delivers (the guest reads that buffer whenever it
 * likes, so it gets nothing before the user acts in the VM's window), and a
 * text the guest sent is polled for and owned here.  VMware's desktop tools
 * (vmusr, copy/paste v4) are served the same way and through the same two
 * control ops (PH_CTL_CLIPBOARD_HOST_TEXT / _GUEST_TEXT, in pieces: their
 * texts go up to 4 MiB); the hypervisor does the protocol.  Once a
 * porthole-agent answered, it alone has the guest's clipboard: the poll
 * stops and nothing is pushed, so two guest tools never bounce one copy
 * between them.
 * The bytes move through queue pairs without blocking (struct transfer:
 * driven by the guest's doorbells, its detach and a tick), so the viewer
 * keeps drawing and taking input while a guest is slow or hostile, and each
 * transfer is abandoned at a deadline fixed when it starts.
 */
#include <errno.h>
#include <string.h>

#include "viewer.h"
#include "backdoor/clipboard.h"
#include "backdoor/dndcp.h"
#include "common/xsel.h"
#include "hypervisor/control-proto.h"

#define CLIP_REPLY_TIMEOUT_MS	20000
#define CLIP_MAX_PASTES		8
#define CLIP_LEGACY_POLL_MS	1000
/* While a host paste waits for the agent: how often we check it still exists. */
#define CLIP_AGENT_CHECK_MS	300
/* Reads for the legacy push use cookies above this (pastes use small ids)... */
#define CLIP_LEGACY_COOKIE	0x80000000u
/* ... with this bit for the image, and the host copy's serial in the rest. */
#define CLIP_LEGACY_PNG		0x40000000u
#define CLIP_LEGACY_SERIAL	0x3FFFFFFFu
/* The longest host text for legacy and v4 tools (the hypervisor applies the policy). */
#define CLIP_HOST_TEXT_MAX	(DNDCP_MAX_BINARY - 128u)
/* Bytes per PH_CTL_CLIPBOARD_HOST_TEXT piece: a control packet holds 64 KiB. */
#define CLIP_HOST_TEXT_PIECE	60000u
/*
 * A queue pair transfer must be over by a deadline fixed when it starts:
 * 5 s plus its size at the slowest rate we wait for (1 MiB/s; the 10 MiB
 * pastes of tests/e2e/80-clipboard.sh move at well over 10 MiB/s even
 * under ASan here).  A guest trickling bytes holds that one paste for a
 * bounded time, and never the viewer.
 */
#define CLIP_DEADLINE_BASE_MS	5000
#define CLIP_MIN_BYTES_PER_MS	1024
/* The guest rings our doorbell when it moves; this tick only covers a lost one. */
#define CLIP_TRANSFER_TICK_MS	500

struct policy {
	bool host_to_guest, guest_to_host;
	uint64_t max_size;
};

struct transfer;

/* A host application pasting guest data. */
struct paste {
	bool active;
	uint32_t id, req;
	unsigned int sel, format;
	uint64_t max_size;
	guint timeout;
	struct transfer *t;		/* the bytes on their way (after the XFER) */
};

/*
 * The stream of one paste through the guest's queue pair, moved by
 * transfer_advance() whenever the guest may have moved (its doorbell, its
 * detach, a tick) and abandoned at `deadline`.
 */
struct transfer {
	struct clip *c;
	bool to_guest;
	uint32_t xfer, format;
	struct phh_qp qp;
	struct ph_clip_stream_hdr hdr;	/* ahead of the bytes in the ring */
	size_t hdr_off, body_off;
	uint8_t *body;			/* from the guest: ours; to it: `data`'s */
	uint64_t size;
	GBytes *data;			/* to the guest */
	/*
	 * Streamed to the guest (it asked, PH_CLIP_REQ_STREAMED): chunks as
	 * our X read delivers them, framed in `out` from `out_off`; `size`
	 * counts the bytes so far, `ended` once the end chunk is in.
	 */
	bool streamed, ended;
	GByteArray *out;
	size_t out_off;
	struct serve *serve;		/* the X read feeding it, while it runs */
	/* Streamed from the guest: its chunks, checked, to the host application as they come. */
	struct ph_clip_rx rx;
	size_t rx_off;
	struct paste *paste;		/* from the guest: the host paste it answers */
	int64_t started_us;
	guint deadline, tick;
};

/* A guest paste of host data, while we read our X selection. */
struct serve {
	uint32_t xfer, qp_resource, format;
	uint64_t max_size;
	bool streamed;
	struct transfer *t;		/* streamed: the bytes go out as they come (until it fails) */
};

static void serve_free(gpointer p)
{
	struct serve *s = p;

	if (s->t)
		s->t->serve = NULL;
	g_free(s);
}

struct clip {
	struct viewer *v;
	struct xsel *xsel;
	uint32_t my_serial[PH_CLIP_SEL_COUNT], my_formats[PH_CLIP_SEL_COUNT];
	uint32_t peer_serial[PH_CLIP_SEL_COUNT];
	uint32_t next_id;
	struct paste pastes[CLIP_MAX_PASTES];
	GHashTable *serves;		/* read cookie -> struct serve */
	uint32_t next_cookie;
	/* Legacy (or v4) guest text and image we own on the host, and the last serial seen. */
	GBytes *legacy_text, *legacy_png;
	bool legacy_owned;
	uint64_t legacy_serial;
	bool legacy_serial_known;
	guint legacy_poll;
	/* An agent answered since we attached: no need to feed the legacy channel. */
	bool agent_seen;
	guint agent_check;
	/* The formats of a host copy legacy/v4 tools don't have yet: pushed at the next press. */
	uint32_t legacy_push_pending;
	/* The last text pushed to them, and the host copy it came from (echo check). */
	GBytes *pushed_text;
	uint32_t pushed_copy;
	GList *transfers;		/* struct transfer * */
	struct viewer_log_limit refusals;	/* guest reads we refused */
};

static bool get_policy(struct clip *c, struct policy *p)
{
	struct ph_reply r;
	bool ok = false;

	*p = (struct policy){ false, false, 0 };
	if (viewer_call(c->v, PH_CTL_CLIPBOARD_POLICY_GET, NULL, 2000, &r) == 0 && !r.status) {
		gchar **lines = g_strsplit(r.data->str, "\n", -1);

		for (gchar **l = lines; *l; l++) {
			if (!strcmp(*l, "host-to-guest=on"))
				p->host_to_guest = true;
			else if (!strcmp(*l, "guest-to-host=on"))
				p->guest_to_host = true;
			else if (g_str_has_prefix(*l, "max-size="))
				p->max_size = g_ascii_strtoull(*l + 9, NULL, 10);
		}
		g_strfreev(lines);
		ok = true;
	}
	ph_reply_clear(&r);
	if (!ok)
		g_message("clipboard: cannot read the VM's clipboard policy; sharing nothing");
	return ok;
}

static void send_xfer(struct clip *c, uint16_t type, uint32_t id, uint32_t status,
		      uint32_t format, uint32_t qp_resource, uint64_t size)
{
	struct ph_clip_xfer x = ph_clip_xfer_make(type, id, status, format, qp_resource, size);

	viewer_send(c->v, PH_DESKTOP_RES_CLIPBOARD, &x, sizeof(x));
}

static void send_offer(struct clip *c, unsigned int sel)
{
	struct ph_clip_offer o = ph_clip_offer_make(sel, c->my_serial[sel], c->my_formats[sel]);

	viewer_send(c->v, PH_DESKTOP_RES_CLIPBOARD, &o, sizeof(o));
}

static void transfer_free(struct transfer *t);

static void paste_end(struct paste *p)
{
	if (p->timeout)
		g_source_remove(p->timeout);
	p->timeout = 0;
	if (p->t)
		transfer_free(p->t);
	p->t = NULL;
	p->active = false;
}

static struct paste *paste_find(struct clip *c, uint32_t id)
{
	for (int i = 0; i < CLIP_MAX_PASTES; i++)
		if (c->pastes[i].active && c->pastes[i].id == id)
			return &c->pastes[i];
	return NULL;
}

static struct clip *the_clip;

/* ---- queue pair transfers, off the main loop's critical path ---- */

static void transfer_free(struct transfer *t)
{
	struct clip *c = t->c;

	if (t->deadline)
		g_source_remove(t->deadline);
	if (t->tick)
		g_source_remove(t->tick);
	if (t->qp.base)
		phh_qp_detach(&c->v->vmci, &t->qp);
	if (t->paste)
		t->paste->t = NULL;
	if (t->serve)
		t->serve->t = NULL;
	if (t->out)
		g_byte_array_free(t->out, TRUE);
	if (t->data)
		g_bytes_unref(t->data);
	else
		g_free(t->body);
	c->transfers = g_list_remove(c->transfers, t);
	g_free(t);
}

/* Transfers to the guest that no serve counts already (a streamed one has its X read's serve). */
static unsigned int transfers_to_guest(struct clip *c)
{
	unsigned int n = 0;

	for (GList *l = c->transfers; l; l = l->next) {
		struct transfer *t = l->data;

		n += t->to_guest && !t->serve;
	}
	return n;
}

/* The end of a transfer: r is 0, or why it failed. */
static void transfer_finish(struct transfer *t, int r)
{
	struct clip *c = t->c;
	double secs = (g_get_monotonic_time() - t->started_us) / 1e6;
	const char *why = r == -EPIPE ? "the guest agent left" :
			  r == -ETIMEDOUT ? "abandoned at its deadline" : g_strerror(-r);
	struct paste *p = t->paste;

	if (t->qp.base)
		phh_qp_detach(&c->v->vmci, &t->qp);
	if (t->to_guest) {
		if (r)
			g_message("clipboard: sending %llu bytes to the guest failed after %.1f s "
				  "(%zu sent): %s", (unsigned long long)t->size, secs,
				  t->streamed ? t->out_off : t->body_off, why);
		else
			g_debug("clipboard: %llu bytes %s the guest in %.3f s",
				(unsigned long long)t->size, t->streamed ? "streamed to" : "to", secs);
		transfer_free(t);
		return;
	}
	if (t->streamed) {
		uint32_t st = r == -ETIMEDOUT ? PH_CLIP_ERR_TIMEOUT :
			      r == -EPROTO && t->rx.too_large ? PH_CLIP_ERR_TOO_LARGE :
			      r ? PH_CLIP_ERR_TRANSPORT : t->rx.end_status;

		if (r)
			g_message("clipboard: receiving from the guest failed after %.1f s (%llu "
				  "bytes): %s", secs, (unsigned long long)t->size,
				  r == -EPIPE ? "the guest agent died mid-transfer" :
				  r == -EPROTO && t->rx.too_large ? "over the policy's max-size" :
				  r == -EPROTO ? "malformed stream" :
				  r == -ECANCELED ? "the pasting application is gone" : why);
		else
			g_debug("clipboard: %llu bytes streamed from the guest in %.3f s",
				(unsigned long long)t->size, secs);
		xsel_stream_end(c->xsel, p->req, st);
		if (c->v->attached)
			send_xfer(c, PH_CLIP_DONE, t->xfer, st, t->format, t->qp.handle.resource,
				  t->size);
		paste_end(p);	/* frees t */
		return;
	}
	if (r) {
		g_message("clipboard: receiving %llu bytes from the guest failed after %.1f s "
			  "(%zu received): %s", (unsigned long long)t->size, secs, t->body_off,
			  r == -EPIPE ? "the guest agent died mid-transfer" : why);
		xsel_refuse(c->xsel, p->req, "the transfer from the guest failed");
	} else {
		g_debug("clipboard: %llu bytes from the guest in %.3f s",
			(unsigned long long)t->size, secs);
		xsel_answer(c->xsel, p->req, t->body, t->size);
	}
	if (c->v->attached)
		send_xfer(c, PH_CLIP_DONE, t->xfer,
			  !r ? PH_CLIP_OK : r == -ETIMEDOUT ? PH_CLIP_ERR_TIMEOUT : PH_CLIP_ERR_TRANSPORT,
			  t->format, t->qp.handle.resource, t->size);
	paste_end(p);		/* frees t */
}

/*
 * A streamed paste from the guest: each chunk to the host application as it
 * completes.  0 at the end (rx.end_status says how it went), -EAGAIN, or an
 * error (-EPROTO: malformed or over the policy's size; -ECANCELED: the
 * application is gone).
 */
static int stream_rx_pump(struct transfer *t)
{
	struct clip *c = t->c;

	for (;;) {
		void *buf;
		size_t len;
		int r;

		ph_clip_rx_next(&t->rx, &buf, &len);
		r = phh_qp_step(&c->v->vmci, &t->qp, buf, len, &t->rx_off, false);
		if (r)
			return r;
		t->rx_off = 0;
		switch (ph_clip_rx_filled(&t->rx)) {
		case PH_CLIP_RX_MORE:
			break;
		case PH_CLIP_RX_CHUNK:
			t->size = t->rx.total;
			if (!xsel_stream_push(c->xsel, t->paste->req, t->body, t->rx.chunk_len))
				return -ECANCELED;
			break;
		case PH_CLIP_RX_END:
			return 0;
		case PH_CLIP_RX_BAD:
			return -EPROTO;
		}
	}
}

/* Header, then bytes: 0 when all moved, -EAGAIN while the guest has to move, or an error. */
static int transfer_pump(struct transfer *t)
{
	struct phh_vmci *h = &t->c->v->vmci;
	int r;

	if (t->streamed && !t->to_guest)
		return stream_rx_pump(t);
	if (t->hdr_off < sizeof(t->hdr)) {
		r = phh_qp_step(h, &t->qp, &t->hdr, sizeof(t->hdr), &t->hdr_off, t->to_guest);
		if (r)
			return r;
		if (t->streamed)
			return transfer_pump(t);
		if (!t->to_guest) {
			/* Our copy of the header, checked once, against what the XFER announced. */
			if (t->hdr.magic != PH_CLIP_MAGIC || t->hdr.size != t->size ||
			    t->hdr.status != PH_CLIP_OK)
				return -EPROTO;
			t->body = g_try_malloc(t->size ? t->size : 1);
			if (!t->body)
				return -ENOMEM;
		}
	}
	if (t->streamed) {
		r = phh_qp_step(h, &t->qp, t->out->data, t->out->len, &t->out_off, true);
		if (r)
			return r;
		g_byte_array_set_size(t->out, 0);	/* all went: start the buffer over */
		t->out_off = 0;
		return t->ended ? 0 : -EAGAIN;	/* -EAGAIN: waiting for our X read */
	}
	return phh_qp_step(h, &t->qp, t->body, t->size, &t->body_off, t->to_guest);
}

static void transfer_advance(struct transfer *t)
{
	int r = transfer_pump(t);

	if (r != -EAGAIN)
		transfer_finish(t, r);
}

/* Every transfer `d` may concern (a doorbell names no transfer: try them all). */
static void transfers_on_event(struct clip *c, const struct phh_dg *d)
{
	GList *snapshot = g_list_copy(c->transfers);

	for (GList *l = snapshot; l; l = l->next)
		if (g_list_find(c->transfers, l->data) &&
		    phh_qp_event(&((struct transfer *)l->data)->qp, d))
			transfer_advance(l->data);
	g_list_free(snapshot);
}

static gboolean on_transfer_tick(gpointer data)
{
	struct transfer *t = data;
	int r = transfer_pump(t);

	if (r == -EAGAIN)
		return G_SOURCE_CONTINUE;
	t->tick = 0;	/* removed by returning */
	transfer_finish(t, r);
	return G_SOURCE_REMOVE;
}

static gboolean on_transfer_deadline(gpointer data)
{
	struct transfer *t = data;

	t->deadline = 0;	/* removed by returning */
	transfer_finish(t, -ETIMEDOUT);
	return G_SOURCE_REMOVE;
}

/* Start moving the bytes through the attached queue pair `qp` (taken over). */
/*
 * `size` bytes, or PH_CLIP_SIZE_STREAMED (to the guest) with `max_size`
 * the most it may grow to: the deadline is that of the largest allowed.
 */
static struct transfer *transfer_start(struct clip *c, const struct phh_qp *qp, bool to_guest,
				       uint32_t xfer, uint32_t format, uint64_t size,
				       uint64_t max_size)
{
	struct transfer *t = g_new0(struct transfer, 1);
	uint64_t deadline_ms = CLIP_DEADLINE_BASE_MS +
			       MIN(size, max_size) / CLIP_MIN_BYTES_PER_MS;

	t->c = c;
	t->qp = *qp;
	t->to_guest = to_guest;
	t->xfer = xfer;
	t->format = format;
	t->size = size;
	t->started_us = g_get_monotonic_time();
	if (to_guest)
		t->hdr = (struct ph_clip_stream_hdr){ PH_CLIP_MAGIC, PH_CLIP_OK, format, xfer, size };
	if (size == PH_CLIP_SIZE_STREAMED) {
		t->streamed = true;
		t->size = 0;
		if (to_guest) {
			t->out = g_byte_array_new();
		} else {
			t->body = g_malloc(PH_CLIP_CHUNK_MAX);
			ph_clip_rx_init(&t->rx, xfer, format, max_size, t->body);
		}
	}
	t->deadline = g_timeout_add((guint)MIN(deadline_ms, G_MAXUINT), on_transfer_deadline, t);
	t->tick = g_timeout_add(CLIP_TRANSFER_TICK_MS, on_transfer_tick, t);
	c->transfers = g_list_prepend(c->transfers, t);
	return t;
}

/*
 * The agent's channel is gone (the hypervisor dropped its datagram mapping:
 * the process died): refuse the pastes waiting for it now rather than at
 * their timeout, and stop offering host applications what it had.
 */
static void agent_gone(struct clip *c)
{
	g_message("clipboard: the guest agent is gone; refusing its pending pastes and "
		  "dropping its offers");
	for (int i = 0; i < CLIP_MAX_PASTES; i++)
		if (c->pastes[i].active) {
			xsel_refuse(c->xsel, c->pastes[i].req, "the guest agent is gone");
			paste_end(&c->pastes[i]);
		}
	for (unsigned int sel = 0; sel < PH_CLIP_SEL_COUNT; sel++)
		if (xsel_owned(c->xsel, sel) && !(sel == PH_CLIP_SEL_CLIPBOARD && c->legacy_owned))
			xsel_own(c->xsel, sel, 0);
	c->agent_seen = false;	/* legacy tools may take over: feed them again */
}

static bool agent_unreachable(int64_t r)
{
	return r == VMCI_ERROR_DST_UNREACHABLE || r == -ENOTCONN;
}

static gboolean on_agent_check(gpointer data)
{
	struct clip *c = data;
	struct ph_clip_hdr ping;
	bool waiting = false;

	for (int i = 0; i < CLIP_MAX_PASTES; i++)
		waiting |= c->pastes[i].active;
	if (!waiting || !c->v->attached) {
		c->agent_check = 0;
		return G_SOURCE_REMOVE;
	}
	ph_clip_hdr_init(&ping, PH_CLIP_PING);
	if (agent_unreachable(viewer_send(c->v, PH_DESKTOP_RES_CLIPBOARD, &ping, sizeof(ping)))) {
		agent_gone(c);
		c->agent_check = 0;
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

static gboolean on_paste_timeout(gpointer data)
{
	struct paste *p = data;

	p->timeout = 0;
	if (p->active && the_clip) {
		g_message("clipboard: the guest did not answer a paste in %d s",
			  CLIP_REPLY_TIMEOUT_MS / 1000);
		xsel_refuse(the_clip->xsel, p->req, "the guest did not answer");
		paste_end(p);
	}
	return G_SOURCE_REMOVE;
}

/* ---- xsel callbacks ---- */

static void on_x_offer(void *opaque, unsigned int sel, uint32_t formats)
{
	struct clip *c = opaque;

	c->my_serial[sel]++;
	c->my_formats[sel] = formats;
	c->legacy_owned = c->legacy_owned && sel != PH_CLIP_SEL_CLIPBOARD;
	if (!c->v->attached)
		return;
	send_offer(c, sel);
	/*
	 * Older guest tools read text through the backdoor whenever they like:
	 * they get it at the user's next key or button press in the VM's window.
	 */
	if (sel == PH_CLIP_SEL_CLIPBOARD)
		c->legacy_push_pending = formats & (PH_CLIP_FMT_BIT(PH_CLIP_FMT_TEXT) |
						    PH_CLIP_FMT_BIT(PH_CLIP_FMT_PNG));
}

/* The viewer delivered a key or button press: legacy tools may have the host's text now. */
static void clipboard_user_press(struct viewer *v, void *state)
{
	struct clip *c = state;

	uint32_t serial;

	if (!c->legacy_push_pending || c->agent_seen || !v->attached)
		return;
	serial = CLIP_LEGACY_COOKIE | (c->my_serial[PH_CLIP_SEL_CLIPBOARD] & CLIP_LEGACY_SERIAL);
	if (c->legacy_push_pending & PH_CLIP_FMT_BIT(PH_CLIP_FMT_TEXT))
		xsel_read(c->xsel, PH_CLIP_SEL_CLIPBOARD, PH_CLIP_FMT_TEXT, CLIP_HOST_TEXT_MAX, serial);
	if (c->legacy_push_pending & PH_CLIP_FMT_BIT(PH_CLIP_FMT_PNG))
		xsel_read(c->xsel, PH_CLIP_SEL_CLIPBOARD, PH_CLIP_FMT_PNG, CLIP_HOST_TEXT_MAX,
			  serial | CLIP_LEGACY_PNG);
	c->legacy_push_pending = 0;
}

/* A host application pastes what the guest offered. */
static void on_x_request(void *opaque, uint32_t req, unsigned int sel, unsigned int format)
{
	struct clip *c = opaque;
	struct ph_clip_request r = { 0 };
	struct paste *p = NULL;
	struct policy pol;
	int64_t sent;

	if (sel == PH_CLIP_SEL_CLIPBOARD && c->legacy_owned) {
		GBytes *b = format == PH_CLIP_FMT_PNG ? c->legacy_png :
			    format == PH_CLIP_FMT_TEXT ? c->legacy_text : NULL;
		gsize n;
		const void *d = b ? g_bytes_get_data(b, &n) : NULL;

		if (b)
			xsel_answer(c->xsel, req, d, n);
		else
			xsel_refuse(c->xsel, req, "the guest tools did not copy that format");
		return;
	}
	if (!get_policy(c, &pol)) {
		xsel_refuse(c->xsel, req, "the VM's clipboard policy is unavailable");
		return;
	}
	if (!pol.guest_to_host) {
		xsel_refuse(c->xsel, req, "guest-to-host sharing is off (policy)");
		return;
	}
	for (int i = 0; i < CLIP_MAX_PASTES; i++)
		if (!c->pastes[i].active) {
			p = &c->pastes[i];
			break;
		}
	if (!p) {
		xsel_refuse(c->xsel, req, "too many pastes at once");
		return;
	}
	*p = (struct paste){ .active = true, .id = ++c->next_id, .req = req, .sel = sel,
			     .format = format, .max_size = pol.max_size };
	ph_clip_hdr_init(&r.hdr, PH_CLIP_REQUEST);
	r.xfer = p->id;
	r.selection = sel;
	r.serial = c->peer_serial[sel];
	r.format = format;
	r.max_size = pol.max_size;
	r.flags = PH_CLIP_REQ_STREAMED;
	sent = viewer_send(c->v, PH_DESKTOP_RES_CLIPBOARD, &r, sizeof(r));
	if (sent < 0) {
		xsel_refuse(c->xsel, req, "the guest agent is not reachable");
		paste_end(p);
		if (agent_unreachable(sent))
			agent_gone(c);
		return;
	}
	p->timeout = g_timeout_add(CLIP_REPLY_TIMEOUT_MS, on_paste_timeout, p);
	if (!c->agent_check)
		c->agent_check = g_timeout_add(CLIP_AGENT_CHECK_MS, on_agent_check, c);
}

/*
 * The host's text or image (host copy `copy`) to legacy and v4 guest
 * tools, in pieces (PH_CTL_CLIPBOARD_HOST_TEXT).
 */
static void push_host_data(struct clip *c, const char *data, size_t len, bool png, uint32_t copy)
{
	size_t total = png ? len : strnlen(data, len), off = 0;
	struct ph_reply rep;

	do {
		size_t piece = MIN(total - off, (size_t)CLIP_HOST_TEXT_PIECE);
		GString *p = g_string_sized_new(piece + 64);
		int r;

		g_string_printf(p, "%zu %zu %s %u\n", off, total, png ? "png" : "text", copy);
		g_string_append_len(p, data + off, (gssize)piece);
		r = viewer_call_len(c->v, PH_CTL_CLIPBOARD_HOST_TEXT, p->str, p->len, 2000, &rep);
		g_string_free(p, TRUE);
		/* A refusal (policy off, too large) is the hypervisor's to log. */
		if (r == 0) {
			r = rep.status;
			ph_reply_clear(&rep);
		}
		if (r)
			return;
		off += piece;
	} while (off < total);
	if (!png) {
		if (c->pushed_text)
			g_bytes_unref(c->pushed_text);
		c->pushed_text = g_bytes_new(data, total);
		c->pushed_copy = copy;
	}
}

/*
 * No loop: v4 tools own the selections the host's text was pushed into
 * and may send it back when asked (vmusr prefers its own PRIMARY over an
 * owner that can't say when it copied).  While the host has made no other
 * copy since that push, the same text coming back is no guest copy.
 */
static bool is_echo(struct clip *c, GBytes *text, GBytes *png)
{
	return text && !png && c->pushed_text && g_bytes_equal(text, c->pushed_text) &&
	       c->pushed_copy == (c->my_serial[PH_CLIP_SEL_CLIPBOARD] & CLIP_LEGACY_SERIAL);
}

/*
 * Attach the queue pair the guest named for `s` (first: from then on a dead
 * agent shows up as a detach, never a hang).  On failure the guest is told
 * (XFER) and false.
 */
static bool attach_for_serve(struct clip *c, struct serve *s, struct phh_qp *qp, uint64_t len)
{
	int r = phh_qp_attach(&c->v->vmci, qp, s->qp_resource, PH_DESKTOP_RES_CLIPBOARD);

	if (r < 0) {
		g_message("clipboard: cannot attach the guest's queue pair: %s", g_strerror(-r));
		send_xfer(c, PH_CLIP_XFER, s->xfer, PH_CLIP_ERR_TRANSPORT, s->format, 0, len);
		return false;
	}
	if (qp->consume_size < PH_CLIP_QP_SIZE / 16) {
		g_message("clipboard: the guest's queue pair is too small");
		phh_qp_detach(&c->v->vmci, qp);
		send_xfer(c, PH_CLIP_XFER, s->xfer, PH_CLIP_ERR_TRANSPORT, s->format, 0, len);
		return false;
	}
	return true;
}

static void put_bytes(void *out, const void *p, size_t n)
{
	g_byte_array_append(out, p, (guint)n);
}

/* Bytes of our X selection for a streamed guest paste: framed into its transfer. */
static void on_x_read_chunk(void *opaque, uint32_t cookie, const void *data, size_t len)
{
	struct clip *c = opaque;
	struct serve *s = g_hash_table_lookup(c->serves, GUINT_TO_POINTER(cookie));
	struct transfer *t = s ? s->t : NULL;

	if (!t)
		return;		/* the transfer failed (logged): the rest of the read goes nowhere */
	ph_clip_frame(data, len, put_bytes, t->out);
	t->size += len;
	transfer_advance(t);
}

/* The end of a streamed guest paste's X read: the end chunk says how it went. */
static void streamed_read_done(struct clip *c, uint32_t cookie, struct serve *s, uint32_t status)
{
	struct transfer *t = s->t;

	if (t) {
		struct ph_clip_chunk end = { 0, status };

		if (status != PH_CLIP_OK)
			g_message("clipboard: guest paste ended after %llu bytes: %s",
				  (unsigned long long)t->size, ph_clip_status_text(status));
		g_byte_array_append(t->out, (const guint8 *)&end, sizeof(end));
		t->ended = true;
	}
	g_hash_table_remove(c->serves, GUINT_TO_POINTER(cookie));
	if (t)
		transfer_advance(t);
}

/* Our X selection was read: for a guest paste, or for the legacy push. */
static void on_x_read_done(void *opaque, uint32_t cookie, uint32_t status, GBytes *data)
{
	struct clip *c = opaque;
	struct serve *s;
	struct transfer *t;
	struct phh_qp qp;
	gsize len = data ? g_bytes_get_size(data) : 0;

	if (cookie & CLIP_LEGACY_COOKIE) {
		if (status == PH_CLIP_OK && c->v->attached)
			push_host_data(c, g_bytes_get_data(data, NULL), len,
				       cookie & CLIP_LEGACY_PNG, cookie & CLIP_LEGACY_SERIAL);
		return;
	}
	s = g_hash_table_lookup(c->serves, GUINT_TO_POINTER(cookie));
	if (!s)
		return;
	if (s->streamed) {
		streamed_read_done(c, cookie, s, status);
		return;
	}
	if (!c->v->attached) {
		g_hash_table_remove(c->serves, GUINT_TO_POINTER(cookie));
		return;
	}
	if (status == PH_CLIP_OK && len > s->max_size)
		status = PH_CLIP_ERR_TOO_LARGE;
	if (status != PH_CLIP_OK) {
		g_message("clipboard: guest paste refused: %s (%zu bytes)",
			  ph_clip_status_text(status), len);
		send_xfer(c, PH_CLIP_XFER, s->xfer, status, s->format, 0, len);
		g_hash_table_remove(c->serves, GUINT_TO_POINTER(cookie));
		return;
	}
	if (!attach_for_serve(c, s, &qp, len)) {
		g_hash_table_remove(c->serves, GUINT_TO_POINTER(cookie));
		return;
	}
	send_xfer(c, PH_CLIP_XFER, s->xfer, PH_CLIP_OK, s->format, s->qp_resource, len);
	t = transfer_start(c, &qp, true, s->xfer, s->format, len, len);
	t->data = g_bytes_ref(data);
	t->body = (uint8_t *)g_bytes_get_data(data, NULL);
	g_hash_table_remove(c->serves, GUINT_TO_POINTER(cookie));
	transfer_advance(t);
}

static int viewer_x_error_cb(void *opaque, unsigned long serial)
{
	return viewer_x_error_since(((struct clip *)opaque)->v, serial);
}

static const struct xsel_ops xsel_ops = {
	.offer = on_x_offer,
	.request = on_x_request,
	.read_done = on_x_read_done,
	.read_chunk = on_x_read_chunk,
	.x_error_since = viewer_x_error_cb,
};

/* ---- guest datagrams ---- */

/* A guest application pastes what the host offered. */
static void on_request(struct clip *c, const struct ph_clip_request *r)
{
	struct policy pol;
	struct serve *s;
	struct phh_qp qp;

	if (r->selection >= PH_CLIP_SEL_COUNT || r->format >= PH_CLIP_FMT_COUNT) {
		send_xfer(c, PH_CLIP_XFER, r->xfer, PH_CLIP_ERR_CONVERT, r->format, 0, 0);
		return;
	}
	if (!get_policy(c, &pol) || !pol.host_to_guest) {
		viewer_guest_log(&c->refusals, "clipboard: guest paste refused: %s",
				 ph_clip_status_text(PH_CLIP_ERR_POLICY));
		send_xfer(c, PH_CLIP_XFER, r->xfer, PH_CLIP_ERR_POLICY, r->format, 0, 0);
		return;
	}
	if (r->serial != c->my_serial[r->selection] ||
	    !(c->my_formats[r->selection] & PH_CLIP_FMT_BIT(r->format))) {
		send_xfer(c, PH_CLIP_XFER, r->xfer, PH_CLIP_ERR_STALE, r->format, 0, 0);
		return;
	}
	if (g_hash_table_size(c->serves) + transfers_to_guest(c) >= CLIP_MAX_PASTES) {
		send_xfer(c, PH_CLIP_XFER, r->xfer, PH_CLIP_ERR_BUSY, r->format, 0, 0);
		return;
	}
	/* Last, so that only a request we would serve uses up the user's press. */
	if (!viewer_take_user_press(c->v)) {
		viewer_guest_log(&c->refusals, "clipboard: guest read of the host clipboard "
				 "refused: no key or button press in the viewer in the last %d ms",
				 VIEWER_PASTE_WINDOW_MS);
		send_xfer(c, PH_CLIP_XFER, r->xfer, PH_CLIP_ERR_NO_INPUT, r->format, 0, 0);
		return;
	}
	s = g_new0(struct serve, 1);
	s->xfer = r->xfer;
	s->qp_resource = r->qp_resource;
	s->format = r->format;
	s->max_size = MIN(pol.max_size, r->max_size);
	c->next_cookie = (c->next_cookie + 1) & ~CLIP_LEGACY_COOKIE;
	if (!(r->flags & PH_CLIP_REQ_STREAMED)) {
		g_hash_table_insert(c->serves, GUINT_TO_POINTER(c->next_cookie), s);
		xsel_read(c->xsel, r->selection, r->format, s->max_size, c->next_cookie);
		return;
	}
	/* The agent takes the bytes as our X read delivers them: attach and answer now. */
	if (!attach_for_serve(c, s, &qp, 0)) {
		g_free(s);
		return;
	}
	send_xfer(c, PH_CLIP_XFER, s->xfer, PH_CLIP_OK, s->format, s->qp_resource,
		  PH_CLIP_SIZE_STREAMED);
	s->streamed = true;
	s->t = transfer_start(c, &qp, true, s->xfer, s->format, PH_CLIP_SIZE_STREAMED, s->max_size);
	s->t->serve = s;
	g_hash_table_insert(c->serves, GUINT_TO_POINTER(c->next_cookie), s);
	transfer_advance(s->t);		/* the stream header */
	xsel_read_stream(c->xsel, r->selection, r->format, s->max_size, c->next_cookie);
}

/* The agent's answer to our REQUEST: attach its queue pair and start reading. */
static void on_xfer(struct clip *c, const struct ph_clip_xfer *x)
{
	struct paste *p = paste_find(c, x->xfer);
	struct phh_qp qp;
	int r;

	if (!p || p->t)
		return;
	if (x->status != PH_CLIP_OK) {
		xsel_refuse(c->xsel, p->req, ph_clip_status_text(x->status));
		paste_end(p);
		return;
	}
	if (x->size > p->max_size && x->size != PH_CLIP_SIZE_STREAMED) {
		g_message("clipboard: guest data of %llu bytes is over the limit",
			  (unsigned long long)x->size);
		send_xfer(c, PH_CLIP_DONE, x->xfer, PH_CLIP_ERR_TOO_LARGE, x->format, x->qp_resource,
			  x->size);
		xsel_refuse(c->xsel, p->req, ph_clip_status_text(PH_CLIP_ERR_TOO_LARGE));
		paste_end(p);
		return;
	}
	r = phh_qp_attach(&c->v->vmci, &qp, x->qp_resource, PH_DESKTOP_RES_CLIPBOARD);
	if (r < 0) {
		send_xfer(c, PH_CLIP_DONE, x->xfer, PH_CLIP_ERR_TRANSPORT, x->format, x->qp_resource,
			  x->size);
		xsel_refuse(c->xsel, p->req, "cannot attach the guest's queue pair");
		paste_end(p);
		return;
	}
	/* From here the transfer's deadline, not the reply timeout, bounds the paste. */
	if (p->timeout)
		g_source_remove(p->timeout);
	p->timeout = 0;
	/* (A streamed answer is checked against p->max_size chunk by chunk.) */
	p->t = transfer_start(c, &qp, false, x->xfer, x->format, x->size, p->max_size);
	p->t->paste = p;
	send_xfer(c, PH_CLIP_READY, x->xfer, PH_CLIP_OK, x->format, x->qp_resource, x->size);
	transfer_advance(p->t);
}

static void on_datagram(struct viewer *v, const struct phh_dg *d, void *opaque)
{
	struct clip *c = opaque;
	union ph_clip_msg m;
	int type;

	if (d->hdr.src.context == VMCI_HYPERVISOR_CONTEXT_ID) {
		transfers_on_event(c, d);	/* the guest's doorbells for our transfers */
		return;
	}
	type = ph_clip_parse(d->payload, d->hdr.payload_size, &m);
	g_debug("clipboard: guest message type %d (%llu bytes)", type,
		(unsigned long long)d->hdr.payload_size);
	if (type < 0)
		return;
	c->agent_seen = true;
	if (type == PH_CLIP_OFFER) {
		c->peer_serial[m.offer.selection] = m.offer.serial;
		if (m.offer.formats & PH_CLIP_FMT_ALL) {
			c->my_formats[m.offer.selection] = 0;
			if (m.offer.selection == PH_CLIP_SEL_CLIPBOARD)
				c->legacy_owned = false;
			xsel_own(c->xsel, m.offer.selection, m.offer.formats & PH_CLIP_FMT_ALL);
		} else if (xsel_owned(c->xsel, m.offer.selection)) {
			xsel_own(c->xsel, m.offer.selection, 0);
		}
	} else if (type == PH_CLIP_REQUEST) {
		on_request(c, &m.request);
	} else if (type == PH_CLIP_XFER) {
		on_xfer(c, &m.xfer);
	}
}

/* ---- legacy guests: poll what they sent through the backdoor ---- */

/*
 * One piece of the guest's text (or image) from `offset`: its serial,
 * total and the formats the guest has, the bytes appended to `text` (NULL:
 * only the header).  False on any failure.
 */
static bool guest_text_piece(struct clip *c, size_t offset, bool png, uint64_t *serial,
			     size_t *total, uint32_t *formats, GByteArray *text)
{
	char arg[32];
	struct ph_reply r;
	uint64_t t = 0;
	bool ok;

	g_snprintf(arg, sizeof(arg), "%zu%s", offset, png ? " png" : "");
	ok = viewer_call(c->v, PH_CTL_CLIPBOARD_GUEST_TEXT, arg, 1000, &r) == 0 && !r.status &&
	     ph_guest_text_piece(&r, CLIP_HOST_TEXT_MAX + 128u, serial, &t, formats, text);
	*total = (size_t)t;
	*formats &= PH_CLIP_FMT_BIT(PH_CLIP_FMT_TEXT) | PH_CLIP_FMT_BIT(PH_CLIP_FMT_PNG);
	ph_reply_clear(&r);
	return ok;
}

/* All of one format of guest clipboard `serial`; NULL when it changed meanwhile or failed. */
static GBytes *guest_data(struct clip *c, bool png, uint64_t serial)
{
	GByteArray *data = g_byte_array_new();
	uint64_t again;
	size_t total = 0;
	uint32_t formats;

	do {
		if (!guest_text_piece(c, data->len, png, &again, &total, &formats, data) ||
		    again != serial) {
			g_byte_array_free(data, TRUE);
			return NULL;
		}
	} while (data->len < total);
	return g_byte_array_free_to_bytes(data);
}

static gboolean on_legacy_poll(gpointer data)
{
	struct clip *c = data;
	GBytes *text = NULL, *png = NULL;
	uint64_t serial;
	uint32_t formats;
	size_t total;

	/* With porthole-agent in the guest, it alone serves the guest's clipboard. */
	if (!c->v->attached || c->agent_seen)
		return G_SOURCE_CONTINUE;
	if (!guest_text_piece(c, 0, false, &serial, &total, &formats, NULL))
		return G_SOURCE_CONTINUE;
	/* The first answer is the state before we came: not a new copy. */
	if (c->legacy_serial_known && serial != c->legacy_serial && formats) {
		if ((formats & PH_CLIP_FMT_BIT(PH_CLIP_FMT_TEXT)) && !(text = guest_data(c, false, serial)))
			return G_SOURCE_CONTINUE;	/* changed meanwhile: next poll */
		if ((formats & PH_CLIP_FMT_BIT(PH_CLIP_FMT_PNG)) && !(png = guest_data(c, true, serial))) {
			if (text)
				g_bytes_unref(text);
			return G_SOURCE_CONTINUE;
		}
		if (is_echo(c, text, png)) {
			g_debug("clipboard: the guest tools sent back the host's own text");
			g_bytes_unref(text);
			goto done;
		}
		if (c->legacy_text)
			g_bytes_unref(c->legacy_text);
		if (c->legacy_png)
			g_bytes_unref(c->legacy_png);
		c->legacy_text = text;
		c->legacy_png = png;
		g_message("clipboard: %zu bytes of text, %zu of image from legacy or VMware desktop "
			  "guest tools", text ? g_bytes_get_size(text) : 0,
			  png ? g_bytes_get_size(png) : 0);
		xsel_own(c->xsel, PH_CLIP_SEL_CLIPBOARD, formats);
		c->legacy_owned = true;
	}
done:
	c->legacy_serial = serial;
	c->legacy_serial_known = true;
	return G_SOURCE_CONTINUE;
}

/* ---- module ---- */

/* Hypervisor events (a guest queue pair's detach): the transfers on it end. */
static void on_event(struct viewer *v, const struct phh_dg *d, void *opaque)
{
	transfers_on_event(opaque, d);
}

static bool on_x_event(struct viewer *v, XEvent *ev, void *opaque)
{
	return xsel_event(((struct clip *)opaque)->xsel, ev);
}

static int clipboard_init(struct viewer *v, void **state)
{
	struct clip *c = g_new0(struct clip, 1);

	c->v = v;
	c->xsel = xsel_new(v->dpy, RootWindow(v->dpy, v->screen), &xsel_ops, c);
	if (!c->xsel) {
		g_free(c);
		return -ENOTSUP;
	}
	c->serves = g_hash_table_new_full(NULL, NULL, NULL, serve_free);
	viewer_watch_x(v, on_x_event, c);
	c->legacy_poll = g_timeout_add(CLIP_LEGACY_POLL_MS, on_legacy_poll, c);
	the_clip = c;
	*state = c;
	return 0;
}

static void clipboard_attach(struct viewer *v, void *state)
{
	struct clip *c = state;
	struct ph_clip_hdr hello;
	int r = viewer_bind(v, PH_DESKTOP_RES_CLIPBOARD, on_datagram, c);

	if (r < 0) {
		g_message("clipboard: cannot bind the clipboard channel: %s", g_strerror(-r));
		return;
	}
	viewer_watch_events(v, on_event, c);
	c->legacy_serial_known = false;
	c->agent_seen = false;
	/* The legacy text already there is the state before we came: note it now, so a
	 * guest copy made before the first poll counts as new. */
	on_legacy_poll(c);
	/* Ask the agent for its offers, and send ours. */
	ph_clip_hdr_init(&hello, PH_CLIP_HELLO);
	viewer_send(v, PH_DESKTOP_RES_CLIPBOARD, &hello, sizeof(hello));
	xsel_rescan(c->xsel);
}

static void clipboard_detach(struct viewer *v, void *state)
{
	struct clip *c = state;

	/* Nothing of the old VM may be pasted or answered. */
	for (int i = 0; i < CLIP_MAX_PASTES; i++)
		if (c->pastes[i].active) {
			xsel_refuse(c->xsel, c->pastes[i].req, "the VM went away");
			paste_end(&c->pastes[i]);
		}
	g_hash_table_remove_all(c->serves);
	while (c->transfers)
		transfer_free(c->transfers->data);
	for (unsigned int sel = 0; sel < PH_CLIP_SEL_COUNT; sel++)
		if (xsel_owned(c->xsel, sel))
			xsel_own(c->xsel, sel, 0);
}

static void clipboard_fini(struct viewer *v, void *state)
{
	struct clip *c = state;

	for (int i = 0; i < CLIP_MAX_PASTES; i++)
		paste_end(&c->pastes[i]);
	while (c->transfers)
		transfer_free(c->transfers->data);
	g_source_remove(c->legacy_poll);
	if (c->agent_check)
		g_source_remove(c->agent_check);
	g_hash_table_destroy(c->serves);
	if (c->legacy_text)
		g_bytes_unref(c->legacy_text);
	if (c->legacy_png)
		g_bytes_unref(c->legacy_png);
	if (c->pushed_text)
		g_bytes_unref(c->pushed_text);
	xsel_free(c->xsel);
	the_clip = NULL;
	g_free(c);
}

const struct viewer_module viewer_clipboard = {
	.name = "clipboard",
	.init = clipboard_init,
	.attach = clipboard_attach,
	.detach = clipboard_detach,
	.user_press = clipboard_user_press,
	.fini = clipboard_fini,
};
