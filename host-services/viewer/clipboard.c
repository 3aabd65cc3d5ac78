// SPDX-License-Identifier: MIT
/*
 * The host clipboard bridge (protocol: backdoor/clipboard.h; X side:
 * common/xsel.h, the same code the guest agent uses).  `porthole-viewer
 * --headless VM` runs only this.
 *
 *  - a host application copies: we OFFER it to the guest; when a guest
 *    application pastes, the agent sends REQUEST naming its queue pair; we
 *    check the VM's policy (PH_CTL_CLIPBOARD_POLICY_GET, asked before every
 *    transfer), read our X selection, attach, answer XFER and write;
 *  - the guest copies: its OFFER makes us own the host selection; a host
 *    paste (policy permitting) sends REQUEST, the agent answers XFER with
 *    its queue pair, we attach, say READY, read, detach and say DONE.
 * Legacy guests (backdoor copy/paste, no agent): host text copies are
 * pushed to the hypervisor (PH_CTL_CLIPBOARD_LEGACY_SET), and a text the
 * guest sent is polled for (PH_CTL_CLIPBOARD_LEGACY_GET) and owned here.
 */
#include <errno.h>
#include <string.h>

#include "viewer.h"
#include "backdoor/clipboard.h"
#include "common/xsel.h"
#include "hypervisor/control-proto.h"

#define CLIP_REPLY_TIMEOUT_MS	20000
#define CLIP_MAX_PASTES		8
#define CLIP_LEGACY_POLL_MS	1000
/* While a host paste waits for the agent: how often we check it still exists. */
#define CLIP_AGENT_CHECK_MS	300
/* Reads for the legacy push use cookies above this (pastes use small ids). */
#define CLIP_LEGACY_COOKIE	0x80000000u

struct policy {
	bool host_to_guest, guest_to_host;
	uint64_t max_size;
};

/* A host application pasting guest data. */
struct paste {
	bool active;
	uint32_t id, req;
	unsigned int sel, format;
	uint64_t max_size;
	guint timeout;
};

/* A guest paste of host data, while we read our X selection. */
struct serve {
	uint32_t xfer, qp_resource, format;
	uint64_t max_size;
};

struct clip {
	struct viewer *v;
	struct xsel *xsel;
	uint32_t my_serial[PH_CLIP_SEL_COUNT], my_formats[PH_CLIP_SEL_COUNT];
	uint32_t peer_serial[PH_CLIP_SEL_COUNT];
	uint32_t next_id;
	struct paste pastes[CLIP_MAX_PASTES];
	GHashTable *serves;		/* read cookie -> struct serve */
	uint32_t next_cookie;
	/* Legacy guest text we own on the host, and the last serial seen. */
	GBytes *legacy_text;
	bool legacy_owned;
	uint64_t legacy_serial;
	bool legacy_serial_known;
	guint legacy_poll;
	/* An agent answered since we attached: no need to feed the legacy channel. */
	bool agent_seen;
	guint agent_check;
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

static void paste_end(struct paste *p)
{
	if (p->timeout)
		g_source_remove(p->timeout);
	p->timeout = 0;
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
	/* Older guest tools read text through the backdoor: keep theirs current. */
	if (!c->agent_seen && sel == PH_CLIP_SEL_CLIPBOARD &&
	    (formats & PH_CLIP_FMT_BIT(PH_CLIP_FMT_TEXT)))
		xsel_read(c->xsel, sel, PH_CLIP_FMT_TEXT, PH_CLIP_LEGACY_MAX,
			  CLIP_LEGACY_COOKIE | c->my_serial[sel]);
}

/* A host application pastes what the guest offered. */
static void on_x_request(void *opaque, uint32_t req, unsigned int sel, unsigned int format)
{
	struct clip *c = opaque;
	struct ph_clip_request r = { 0 };
	struct paste *p = NULL;
	struct policy pol;
	int64_t sent;

	if (sel == PH_CLIP_SEL_CLIPBOARD && c->legacy_owned && c->legacy_text) {
		gsize n;
		const void *d = g_bytes_get_data(c->legacy_text, &n);

		xsel_answer(c->xsel, req, d, n);
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

/* Our X selection was read: for a guest paste, or for the legacy push. */
static void on_x_read_done(void *opaque, uint32_t cookie, uint32_t status, GBytes *data)
{
	struct clip *c = opaque;
	struct serve *s;
	struct phh_qp qp;
	gsize len = data ? g_bytes_get_size(data) : 0;
	int r;

	if (cookie & CLIP_LEGACY_COOKIE) {
		if (status == PH_CLIP_OK && c->v->attached) {
			gchar *text = g_strndup(g_bytes_get_data(data, NULL), len);
			struct ph_reply rep;

			/* A refusal (policy off) is the hypervisor's to log; nothing to do here. */
			if (viewer_call(c->v, PH_CTL_CLIPBOARD_LEGACY_SET, text, 2000, &rep) == 0)
				ph_reply_clear(&rep);
			g_free(text);
		}
		return;
	}
	s = g_hash_table_lookup(c->serves, GUINT_TO_POINTER(cookie));
	if (!s)
		return;
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
	/* Attach first: from here a dead agent shows up as a detach, never a hang. */
	r = phh_qp_attach(&c->v->vmci, &qp, s->qp_resource, PH_DESKTOP_RES_CLIPBOARD);
	if (r < 0) {
		g_message("clipboard: cannot attach the guest's queue pair: %s", g_strerror(-r));
		send_xfer(c, PH_CLIP_XFER, s->xfer, PH_CLIP_ERR_TRANSPORT, s->format, 0, len);
		g_hash_table_remove(c->serves, GUINT_TO_POINTER(cookie));
		return;
	}
	qp.stall_ms = PH_CLIP_STALL_MS;
	if (qp.consume_size < PH_CLIP_QP_SIZE / 16) {
		g_message("clipboard: the guest's queue pair is too small");
		phh_qp_detach(&c->v->vmci, &qp);
		send_xfer(c, PH_CLIP_XFER, s->xfer, PH_CLIP_ERR_TRANSPORT, s->format, 0, len);
		g_hash_table_remove(c->serves, GUINT_TO_POINTER(cookie));
		return;
	}
	send_xfer(c, PH_CLIP_XFER, s->xfer, PH_CLIP_OK, s->format, s->qp_resource, len);
	{
		struct ph_clip_stream_hdr h = { PH_CLIP_MAGIC, PH_CLIP_OK, s->format, s->xfer, len };

		r = phh_qp_write_all(&c->v->vmci, &qp, &h, sizeof(h));
		if (!r && len)
			r = phh_qp_write_all(&c->v->vmci, &qp, g_bytes_get_data(data, NULL), len);
	}
	if (r)
		g_message("clipboard: sending %zu bytes to the guest failed: %s", len,
			  r == -EPIPE ? "the guest agent left" : g_strerror(-r));
	else
		g_debug("clipboard: %zu bytes to the guest", len);
	phh_qp_detach(&c->v->vmci, &qp);
	g_hash_table_remove(c->serves, GUINT_TO_POINTER(cookie));
}

static int viewer_x_error_cb(void *opaque, unsigned long serial)
{
	return viewer_x_error_since(((struct clip *)opaque)->v, serial);
}

static const struct xsel_ops xsel_ops = {
	.offer = on_x_offer,
	.request = on_x_request,
	.read_done = on_x_read_done,
	.x_error_since = viewer_x_error_cb,
};

/* ---- guest datagrams ---- */

/* A guest application pastes what the host offered. */
static void on_request(struct clip *c, const struct ph_clip_request *r)
{
	struct policy pol;
	struct serve *s;

	if (r->selection >= PH_CLIP_SEL_COUNT || r->format >= PH_CLIP_FMT_COUNT) {
		send_xfer(c, PH_CLIP_XFER, r->xfer, PH_CLIP_ERR_CONVERT, r->format, 0, 0);
		return;
	}
	if (!get_policy(c, &pol) || !pol.host_to_guest) {
		g_message("clipboard: guest paste refused: %s",
			  ph_clip_status_text(PH_CLIP_ERR_POLICY));
		send_xfer(c, PH_CLIP_XFER, r->xfer, PH_CLIP_ERR_POLICY, r->format, 0, 0);
		return;
	}
	if (r->serial != c->my_serial[r->selection] ||
	    !(c->my_formats[r->selection] & PH_CLIP_FMT_BIT(r->format))) {
		send_xfer(c, PH_CLIP_XFER, r->xfer, PH_CLIP_ERR_STALE, r->format, 0, 0);
		return;
	}
	if (g_hash_table_size(c->serves) >= CLIP_MAX_PASTES) {
		send_xfer(c, PH_CLIP_XFER, r->xfer, PH_CLIP_ERR_BUSY, r->format, 0, 0);
		return;
	}
	s = g_new0(struct serve, 1);
	s->xfer = r->xfer;
	s->qp_resource = r->qp_resource;
	s->format = r->format;
	s->max_size = MIN(pol.max_size, r->max_size);
	c->next_cookie = (c->next_cookie + 1) & ~CLIP_LEGACY_COOKIE;
	g_hash_table_insert(c->serves, GUINT_TO_POINTER(c->next_cookie), s);
	xsel_read(c->xsel, r->selection, r->format, s->max_size, c->next_cookie);
}

/* The agent's answer to our REQUEST. */
static void on_xfer(struct clip *c, const struct ph_clip_xfer *x)
{
	struct paste *p = paste_find(c, x->xfer);
	struct ph_clip_stream_hdr h;
	struct phh_qp qp;
	uint8_t *buf = NULL;
	int r;

	if (!p)
		return;
	if (x->status != PH_CLIP_OK) {
		xsel_refuse(c->xsel, p->req, ph_clip_status_text(x->status));
		paste_end(p);
		return;
	}
	if (x->size > p->max_size) {
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
	qp.stall_ms = PH_CLIP_STALL_MS;
	send_xfer(c, PH_CLIP_READY, x->xfer, PH_CLIP_OK, x->format, x->qp_resource, x->size);
	r = phh_qp_read_all(&c->v->vmci, &qp, &h, sizeof(h));
	if (!r && (h.magic != PH_CLIP_MAGIC || h.size != x->size || h.status != PH_CLIP_OK))
		r = -EPROTO;
	if (!r) {
		buf = g_try_malloc(x->size ? x->size : 1);
		r = buf ? phh_qp_read_all(&c->v->vmci, &qp, buf, x->size) : -ENOMEM;
	}
	phh_qp_detach(&c->v->vmci, &qp);
	if (r) {
		g_message("clipboard: receiving %llu bytes from the guest failed: %s",
			  (unsigned long long)x->size,
			  r == -EPIPE ? "the guest agent died mid-transfer" : g_strerror(-r));
		xsel_refuse(c->xsel, p->req, "the transfer from the guest failed");
	} else {
		g_debug("clipboard: %llu bytes from the guest", (unsigned long long)x->size);
		xsel_answer(c->xsel, p->req, buf, x->size);
	}
	if (c->v->attached)
		send_xfer(c, PH_CLIP_DONE, x->xfer, r ? PH_CLIP_ERR_TRANSPORT : PH_CLIP_OK, x->format,
			  x->qp_resource, x->size);
	g_free(buf);
	paste_end(p);
}

static void on_datagram(struct viewer *v, const struct phh_dg *d, void *opaque)
{
	struct clip *c = opaque;
	union ph_clip_msg m;
	int type;

	if (d->hdr.src.context == VMCI_HYPERVISOR_CONTEXT_ID)
		return;		/* doorbell events of finished transfers land here too */
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

static gboolean on_legacy_poll(gpointer data)
{
	struct clip *c = data;
	struct ph_reply r;
	char *nl;

	if (!c->v->attached)
		return G_SOURCE_CONTINUE;
	if (viewer_call(c->v, PH_CTL_CLIPBOARD_LEGACY_GET, NULL, 1000, &r) == 0 && !r.status &&
	    (nl = memchr(r.data->str, '\n', r.data->len))) {
		uint64_t serial = g_ascii_strtoull(r.data->str, NULL, 10);

		/* The first answer is the state before we came: not a new copy. */
		if (c->legacy_serial_known && serial != c->legacy_serial) {
			size_t off = (size_t)(nl + 1 - r.data->str);

			if (c->legacy_text)
				g_bytes_unref(c->legacy_text);
			c->legacy_text = g_bytes_new(r.data->str + off, r.data->len - off);
			g_message("clipboard: %zu bytes of text from legacy guest tools",
				  r.data->len - off);
			xsel_own(c->xsel, PH_CLIP_SEL_CLIPBOARD, PH_CLIP_FMT_BIT(PH_CLIP_FMT_TEXT));
			c->legacy_owned = true;
		}
		c->legacy_serial = serial;
		c->legacy_serial_known = true;
	}
	ph_reply_clear(&r);
	return G_SOURCE_CONTINUE;
}

/* ---- module ---- */

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
	c->serves = g_hash_table_new_full(NULL, NULL, NULL, g_free);
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
	for (unsigned int sel = 0; sel < PH_CLIP_SEL_COUNT; sel++)
		if (xsel_owned(c->xsel, sel))
			xsel_own(c->xsel, sel, 0);
}

static void clipboard_fini(struct viewer *v, void *state)
{
	struct clip *c = state;

	for (int i = 0; i < CLIP_MAX_PASTES; i++)
		paste_end(&c->pastes[i]);
	g_source_remove(c->legacy_poll);
	if (c->agent_check)
		g_source_remove(c->agent_check);
	g_hash_table_destroy(c->serves);
	if (c->legacy_text)
		g_bytes_unref(c->legacy_text);
	xsel_free(c->xsel);
	the_clip = NULL;
	g_free(c);
}

const struct viewer_module viewer_clipboard = {
	.name = "clipboard",
	.init = clipboard_init,
	.attach = clipboard_attach,
	.detach = clipboard_detach,
	.fini = clipboard_fini,
};
