// SPDX-License-Identifier: MIT
/*
 * X selections for the clipboard bridges (see xsel.h).  ICCCM rules
 * followed here: replies go to the requestor's property (the target when
 * the property is None, for obsolete clients), data larger than one request
 * moves with INCR (the owner writes a chunk after each PropertyDelete and
 * ends with a zero-length one; the reader deletes after each
 * PropertyNewValue), ownership is taken with a real server timestamp,
 * which TIMESTAMP reports.
 */
#include <X11/Xatom.h>
#include <X11/extensions/Xfixes.h>
#include <stdio.h>
#include <string.h>

#include "xsel.h"

#define XSEL_READS_MAX		8
#define XSEL_CHUNK_MAX		(1u << 20)
/* A request the peer never answered is refused after this long. */
#define XSEL_ANSWER_TIMEOUT_MS	30000
enum {
	A_CLIPBOARD, A_TARGETS, A_TIMESTAMP, A_MULTIPLE, A_INCR, A_UTF8, A_TEXT,
	A_TEXT_PLAIN_UTF8, A_TEXT_HTML, A_IMAGE_PNG, A_PROP_TARGETS0, A_PROP_TARGETS1,
	A_PROP_TIME, A_PROP_DATA0, A_COUNT = A_PROP_DATA0 + XSEL_READS_MAX
};

static const char *const atom_names[A_PROP_DATA0] = {
	"CLIPBOARD", "TARGETS", "TIMESTAMP", "MULTIPLE", "INCR", "UTF8_STRING", "TEXT",
	"text/plain;charset=utf-8", "text/html", "image/png", "_PORTHOLE_TARGETS0",
	"_PORTHOLE_TARGETS1", "_PORTHOLE_TIME",
};

/* A paste by an application from a selection we own. */
struct serve {
	uint32_t id;
	Window requestor;
	Atom selection, target, property, type;
	unsigned int sel, format;
	Time time;
	int64_t started;
	/* INCR, after the answer */
	GBytes *data;
	size_t off;
	bool incr, done;
	int64_t progress;
	/* Answered piece by piece (xsel_stream_push): bytes not yet written from `pending_off`. */
	bool streamed, ended, wanting;
	GByteArray *pending;
	size_t pending_off;
};

/* A read of a foreign owner's selection. */
struct readop {
	bool active;
	uint32_t cookie;
	unsigned int sel, format;
	uint64_t max;
	Atom target;
	GByteArray *buf;	/* NULL when streamed: the bytes go to ops->read_chunk */
	uint64_t total;
	bool incr;
	/* Given up (too large) mid-INCR: keep deleting so the owner finishes. */
	bool draining;
	int64_t progress;
};

struct xsel {
	Display *dpy;
	Window root, win;
	const struct xsel_ops *ops;
	void *opaque;
	int fixes_event;
	Atom atoms[A_COUNT];
	Atom sel_atom[PH_CLIP_SEL_COUNT];
	size_t chunk;

	bool owned[PH_CLIP_SEL_COUNT];
	uint32_t owned_formats[PH_CLIP_SEL_COUNT];
	Time own_time[PH_CLIP_SEL_COUNT];
	int64_t lost_at[PH_CLIP_SEL_COUNT];

	Window foreign_owner[PH_CLIP_SEL_COUNT];
	Atom *foreign_targets[PH_CLIP_SEL_COUNT];
	unsigned long n_foreign_targets[PH_CLIP_SEL_COUNT];
	bool offered[PH_CLIP_SEL_COUNT];


	GHashTable *serves;		/* id -> struct serve */
	uint32_t next_serve;
	struct readop reads[XSEL_READS_MAX];
	guint timer;
	unsigned int offers_reported;
};

static int64_t now_us(void)
{
	return g_get_monotonic_time();
}

static int sel_index(struct xsel *x, Atom a)
{
	for (int i = 0; i < PH_CLIP_SEL_COUNT; i++)
		if (x->sel_atom[i] == a)
			return i;
	return -1;
}

/* The X targets of each format, in the order we prefer to read them. */
static int format_targets(struct xsel *x, unsigned int format, Atom out[4])
{
	switch (format) {
	case PH_CLIP_FMT_TEXT:
		out[0] = x->atoms[A_UTF8];
		out[1] = x->atoms[A_TEXT_PLAIN_UTF8];
		out[2] = XA_STRING;
		out[3] = x->atoms[A_TEXT];
		return 4;
	case PH_CLIP_FMT_HTML:
		out[0] = x->atoms[A_TEXT_HTML];
		return 1;
	case PH_CLIP_FMT_PNG:
		out[0] = x->atoms[A_IMAGE_PNG];
		return 1;
	}
	return 0;
}

static int target_format(struct xsel *x, Atom target)
{
	for (unsigned int f = 0; f < PH_CLIP_FMT_COUNT; f++) {
		Atom t[4];
		int n = format_targets(x, f, t);

		for (int i = 0; i < n; i++)
			if (t[i] == target)
				return (int)f;
	}
	return -1;
}

/* A server timestamp: a zero-length append makes the server send one. */
static Bool is_time_event(Display *dpy, XEvent *ev, XPointer p)
{
	struct xsel *x = (struct xsel *)p;

	return ev->type == PropertyNotify && ev->xproperty.window == x->win &&
	       ev->xproperty.atom == x->atoms[A_PROP_TIME];
}

static Time server_time(struct xsel *x)
{
	unsigned char none = 0;
	XEvent ev;

	XChangeProperty(x->dpy, x->win, x->atoms[A_PROP_TIME], XA_INTEGER, 8, PropModeAppend,
			&none, 0);
	XIfEvent(x->dpy, &ev, is_time_event, (XPointer)x);
	return ev.xproperty.time;
}

static void notify_requestor(struct xsel *x, Window requestor, Atom selection, Atom target,
			     Atom property, Time time)
{
	XEvent ev = { 0 };

	ev.xselection.type = SelectionNotify;
	ev.xselection.display = x->dpy;
	ev.xselection.requestor = requestor;
	ev.xselection.selection = selection;
	ev.xselection.target = target;
	ev.xselection.property = property;
	ev.xselection.time = time;
	XSendEvent(x->dpy, requestor, False, NoEventMask, &ev);
}

static void serve_free(gpointer p)
{
	struct serve *s = p;

	if (s->data)
		g_bytes_unref(s->data);
	if (s->pending)
		g_byte_array_free(s->pending, TRUE);
	g_free(s);
}

/* ---- reading a foreign selection ---- */

static void read_finish(struct xsel *x, struct readop *r, uint32_t status)
{
	GBytes *data = NULL;

	if (!r->active || r->draining)
		return;
	/* An owner in the middle of INCR waits for our deletes: let it finish. */
	r->draining = r->incr && status == PH_CLIP_ERR_TOO_LARGE;
	r->active = r->draining;
	if (status == PH_CLIP_OK && r->buf) {
		if (r->target == XA_STRING) {
			/* STRING is ISO 8859-1; the channel carries UTF-8. */
			gsize n = 0;
			gchar *u = g_convert((const gchar *)r->buf->data, r->buf->len, "UTF-8",
					     "ISO-8859-1", NULL, &n, NULL);

			data = u ? g_bytes_new_take(u, n) : g_bytes_new(NULL, 0);
		} else {
			data = g_byte_array_free_to_bytes(r->buf);
			r->buf = NULL;
		}
	}
	if (r->buf)
		g_byte_array_free(r->buf, TRUE);
	r->buf = NULL;
	if (!r->draining)
		XDeleteProperty(x->dpy, x->win, x->atoms[A_PROP_DATA0 + (r - x->reads)]);
	x->ops->read_done(x->opaque, r->cookie, status, data);
	if (data)
		g_bytes_unref(data);
}

/* The best target the owner listed for `format` (the first guess when it listed none). */
static Atom pick_target(struct xsel *x, unsigned int sel, unsigned int format)
{
	Atom t[4];
	int n = format_targets(x, format, t);

	if (!x->n_foreign_targets[sel])
		return n ? t[0] : None;
	for (int i = 0; i < n; i++)
		for (unsigned long j = 0; j < x->n_foreign_targets[sel]; j++)
			if (x->foreign_targets[sel][j] == t[i])
				return t[i];
	return None;
}

static void read_start(struct xsel *x, unsigned int sel, unsigned int format, uint64_t max_size,
		       uint32_t cookie, bool stream)
{
	struct readop *r = NULL;
	Atom target;

	for (int i = 0; i < XSEL_READS_MAX; i++)
		if (!x->reads[i].active) {
			r = &x->reads[i];
			break;
		}
	if (sel >= PH_CLIP_SEL_COUNT || format >= PH_CLIP_FMT_COUNT) {
		x->ops->read_done(x->opaque, cookie, PH_CLIP_ERR_CONVERT, NULL);
		return;
	}
	if (!r) {
		x->ops->read_done(x->opaque, cookie, PH_CLIP_ERR_BUSY, NULL);
		return;
	}
	if (XGetSelectionOwner(x->dpy, x->sel_atom[sel]) == None) {
		x->ops->read_done(x->opaque, cookie, PH_CLIP_ERR_NO_OWNER, NULL);
		return;
	}
	target = pick_target(x, sel, format);
	if (target == None) {
		x->ops->read_done(x->opaque, cookie, PH_CLIP_ERR_CONVERT, NULL);
		return;
	}
	*r = (struct readop){ .active = true, .cookie = cookie, .sel = sel, .format = format,
			      .max = max_size, .target = target,
			      .buf = stream ? NULL : g_byte_array_new(), .progress = now_us() };
	XConvertSelection(x->dpy, x->sel_atom[sel], target,
			  x->atoms[A_PROP_DATA0 + (r - x->reads)], x->win, CurrentTime);
	XFlush(x->dpy);
}

void xsel_read(struct xsel *x, unsigned int sel, unsigned int format, uint64_t max_size,
	       uint32_t cookie)
{
	read_start(x, sel, format, max_size, cookie, false);
}

void xsel_read_stream(struct xsel *x, unsigned int sel, unsigned int format, uint64_t max_size,
		      uint32_t cookie)
{
	read_start(x, sel, format, max_size, cookie, true);
}

/* Bytes of the owner's answer: kept, or handed on (streamed; STRING as UTF-8). */
static void read_take(struct xsel *x, struct readop *r, const unsigned char *data,
		      unsigned long bytes)
{
	gchar *u;
	gsize n = 0;

	r->total += bytes;
	if (r->buf) {
		g_byte_array_append(r->buf, data, (guint)bytes);
		return;
	}
	if (!bytes)
		return;
	if (r->target != XA_STRING) {
		x->ops->read_chunk(x->opaque, r->cookie, data, bytes);
		return;
	}
	/* ISO 8859-1 is a byte per character: each piece converts on its own. */
	u = g_convert((const gchar *)data, (gssize)bytes, "UTF-8", "ISO-8859-1", NULL, &n, NULL);
	if (u && n)
		x->ops->read_chunk(x->opaque, r->cookie, u, n);
	g_free(u);
}

/* Take the property's value (deleting it): false when it is gone or malformed. */
static bool take_property(struct xsel *x, Atom prop, Atom *type, int *fmt, unsigned char **data,
			  unsigned long *bytes)
{
	unsigned long n = 0, after = 0;

	*data = NULL;
	if (XGetWindowProperty(x->dpy, x->win, prop, 0, 0x1FFFFFFF, True, AnyPropertyType, type,
			       fmt, &n, &after, data) != Success || *type == None)
		return false;
	*bytes = n * (*fmt == 32 ? sizeof(long) : (unsigned long)*fmt / 8);
	return true;
}

static void read_chunk(struct xsel *x, struct readop *r, Atom prop, bool first)
{
	unsigned char *data;
	unsigned long bytes;
	Atom type;
	int fmt;

	if (!take_property(x, prop, &type, &fmt, &data, &bytes)) {
		if (!first)
			return;		/* a PropertyNotify for our own delete: wait */
		read_finish(x, r, PH_CLIP_ERR_NO_OWNER);
		return;
	}
	r->progress = now_us();
	if (r->draining) {
		XFree(data);
		if (bytes == 0)
			r->active = r->draining = false;
		return;
	}
	if (first && type == x->atoms[A_INCR]) {
		/* The owner's lower bound on the size; our delete above starts the flow. */
		unsigned long size = bytes >= sizeof(long) ? *(unsigned long *)data : 0;

		XFree(data);
		r->incr = true;
		if (size > r->max)
			read_finish(x, r, PH_CLIP_ERR_TOO_LARGE);
		return;
	}
	if (r->total + (uint64_t)bytes > r->max) {
		XFree(data);
		read_finish(x, r, PH_CLIP_ERR_TOO_LARGE);
		return;
	}
	if (fmt != 8 && bytes) {
		XFree(data);
		read_finish(x, r, PH_CLIP_ERR_CONVERT);	/* text and images are 8-bit */
		return;
	}
	read_take(x, r, data, bytes);
	XFree(data);
	if (!r->incr || bytes == 0)
		read_finish(x, r, PH_CLIP_OK);
}

/* ---- TARGETS of a new foreign owner ---- */

static void report_offer(struct xsel *x, unsigned int sel, uint32_t formats)
{
	if (!formats && !x->offered[sel])
		return;
	x->offered[sel] = formats != 0;
	x->offers_reported++;
	x->ops->offer(x->opaque, sel, formats);
}

static void got_targets(struct xsel *x, unsigned int sel)
{
	unsigned char *data;
	unsigned long bytes;
	Atom type;
	int fmt;
	uint32_t formats = 0;

	g_free(x->foreign_targets[sel]);
	x->foreign_targets[sel] = NULL;
	x->n_foreign_targets[sel] = 0;
	if (XGetSelectionOwner(x->dpy, x->sel_atom[sel]) == x->win)
		return;		/* we took it back meanwhile */
	if (take_property(x, x->atoms[A_PROP_TARGETS0 + sel], &type, &fmt, &data, &bytes)) {
		if (type == XA_ATOM && fmt == 32) {
			unsigned long n = bytes / sizeof(long);

			x->foreign_targets[sel] = g_new(Atom, n ? n : 1);
			for (unsigned long i = 0; i < n; i++) {
				Atom a = ((unsigned long *)data)[i];
				int f = target_format(x, a);

				x->foreign_targets[sel][i] = a;
				if (f >= 0)
					formats |= PH_CLIP_FMT_BIT(f);
			}
			x->n_foreign_targets[sel] = n;
		}
		XFree(data);
	} else {
		/* No TARGETS support: assume text, the one thing every owner has. */
		formats = PH_CLIP_FMT_BIT(PH_CLIP_FMT_TEXT);
	}
	report_offer(x, sel, formats);
}

static void owner_changed(struct xsel *x, XFixesSelectionNotifyEvent *e)
{
	int sel = sel_index(x, e->selection);

	if (sel < 0)
		return;
	if (e->owner == x->win)
		return;		/* our own ownership: never echoed to the peer */
	if (x->owned[sel]) {
		x->owned[sel] = false;
		x->lost_at[sel] = now_us();
	}
	x->foreign_owner[sel] = e->owner;
	if (e->owner == None) {
		report_offer(x, sel, 0);
		return;
	}
	XConvertSelection(x->dpy, x->sel_atom[sel], x->atoms[A_TARGETS],
			  x->atoms[A_PROP_TARGETS0 + sel], x->win, e->selection_timestamp);
	XFlush(x->dpy);
}

/* ---- serving applications that paste what we own ---- */

void xsel_own(struct xsel *x, unsigned int sel, uint32_t formats)
{
	if (sel >= PH_CLIP_SEL_COUNT)
		return;
	formats &= PH_CLIP_FMT_ALL;
	if (!formats) {
		if (x->owned[sel] && XGetSelectionOwner(x->dpy, x->sel_atom[sel]) == x->win)
			XSetSelectionOwner(x->dpy, x->sel_atom[sel], None, x->own_time[sel]);
		x->owned[sel] = false;
		XFlush(x->dpy);
		return;
	}
	x->own_time[sel] = server_time(x);
	XSetSelectionOwner(x->dpy, x->sel_atom[sel], x->win, x->own_time[sel]);
	x->owned[sel] = XGetSelectionOwner(x->dpy, x->sel_atom[sel]) == x->win;
	x->owned_formats[sel] = formats;
	/* What a foreign owner offered is gone now. */
	x->offered[sel] = false;
	x->foreign_owner[sel] = None;
	if (!x->owned[sel])
		g_message("could not own the %s selection", sel ? "PRIMARY" : "CLIPBOARD");
}

bool xsel_owned(struct xsel *x, unsigned int sel)
{
	return sel < PH_CLIP_SEL_COUNT && x->owned[sel];
}

static void answer_targets(struct xsel *x, XSelectionRequestEvent *rq, unsigned int sel,
			   Atom property)
{
	Atom list[4 + 6];
	int n = 0;

	list[n++] = x->atoms[A_TARGETS];
	list[n++] = x->atoms[A_TIMESTAMP];
	for (unsigned int f = 0; f < PH_CLIP_FMT_COUNT; f++) {
		Atom t[4];
		int k = format_targets(x, f, t);

		if (x->owned_formats[sel] & PH_CLIP_FMT_BIT(f))
			for (int i = 0; i < k && n < (int)G_N_ELEMENTS(list); i++)
				list[n++] = t[i];
	}
	XChangeProperty(x->dpy, rq->requestor, property, XA_ATOM, 32, PropModeReplace,
			(unsigned char *)list, n);
	notify_requestor(x, rq->requestor, rq->selection, rq->target, property, rq->time);
}

static void selection_request(struct xsel *x, XSelectionRequestEvent *rq)
{
	int sel = sel_index(x, rq->selection);
	Atom property = rq->property != None ? rq->property : rq->target;
	unsigned long serial = NextRequest(x->dpy);
	int fmt;

	if (sel < 0 || !x->owned[sel] || rq->owner != x->win ||
	    (rq->time != CurrentTime && rq->time < x->own_time[sel])) {
		notify_requestor(x, rq->requestor, rq->selection, rq->target, None, rq->time);
		goto check;
	}
	if (rq->target == x->atoms[A_TARGETS]) {
		answer_targets(x, rq, (unsigned int)sel, property);
		goto check;
	}
	if (rq->target == x->atoms[A_TIMESTAMP]) {
		long t = (long)x->own_time[sel];

		XChangeProperty(x->dpy, rq->requestor, property, XA_INTEGER, 32, PropModeReplace,
				(unsigned char *)&t, 1);
		notify_requestor(x, rq->requestor, rq->selection, rq->target, property, rq->time);
		goto check;
	}
	fmt = target_format(x, rq->target);
	if (fmt < 0 || !(x->owned_formats[sel] & PH_CLIP_FMT_BIT(fmt))) {
		/* MULTIPLE and unknown targets: refused, as ICCCM allows. */
		notify_requestor(x, rq->requestor, rq->selection, rq->target, None, rq->time);
		goto check;
	} else {
		struct serve *s = g_new0(struct serve, 1);

		s->id = ++x->next_serve;
		s->requestor = rq->requestor;
		s->selection = rq->selection;
		s->target = rq->target;
		s->property = property;
		s->type = rq->target == x->atoms[A_TEXT] ? x->atoms[A_UTF8] : rq->target;
		s->sel = (unsigned int)sel;
		s->format = (unsigned int)fmt;
		s->time = rq->time;
		s->started = s->progress = now_us();
		g_hash_table_insert(x->serves, GUINT_TO_POINTER(s->id), s);
		x->ops->request(x->opaque, s->id, s->sel, s->format);
		return;
	}
check:
	if (x->ops->x_error_since(x->opaque, serial))
		g_debug("requestor 0x%lx vanished before the answer", rq->requestor);
}

void xsel_refuse(struct xsel *x, uint32_t req, const char *why)
{
	struct serve *s = g_hash_table_lookup(x->serves, GUINT_TO_POINTER(req));

	if (!s || s->incr)
		return;
	g_message("paste of the %s selection refused: %s", s->sel ? "PRIMARY" : "CLIPBOARD", why);
	notify_requestor(x, s->requestor, s->selection, s->target, None, s->time);
	x->ops->x_error_since(x->opaque, 0);
	g_hash_table_remove(x->serves, GUINT_TO_POINTER(req));
}

/* Write the next INCR chunk (an empty one ends it). */
static void incr_next(struct xsel *x, struct serve *s)
{
	gsize len;
	const uint8_t *p = g_bytes_get_data(s->data, &len);
	size_t n = MIN(len - s->off, x->chunk);
	unsigned long serial = NextRequest(x->dpy);

	XChangeProperty(x->dpy, s->requestor, s->property, s->type, 8, PropModeReplace,
			p ? p + s->off : (const uint8_t *)"", (int)n);
	s->off += n;
	s->progress = now_us();
	if (n == 0) {
		s->done = true;
		XSelectInput(x->dpy, s->requestor, NoEventMask);
	}
	if (x->ops->x_error_since(x->opaque, serial)) {
		g_message("paste of %zu bytes abandoned: the requestor vanished", len);
		s->done = true;
	}
	if (s->done)
		g_hash_table_remove(x->serves, GUINT_TO_POINTER(s->id));
}

void xsel_answer(struct xsel *x, uint32_t req, const void *data, size_t len)
{
	struct serve *s = g_hash_table_lookup(x->serves, GUINT_TO_POINTER(req));
	unsigned long serial = NextRequest(x->dpy);
	gchar *latin1 = NULL;

	if (!s || s->incr)
		return;
	if (s->target == XA_STRING) {
		gsize n = 0;

		/* The application asked for ISO 8859-1. */
		latin1 = g_convert_with_fallback(data, (gssize)len, "ISO-8859-1", "UTF-8", "?",
						 NULL, &n, NULL);
		if (latin1) {
			data = latin1;
			len = n;
		}
	}
	if (len <= x->chunk) {
		XChangeProperty(x->dpy, s->requestor, s->property, s->type, 8, PropModeReplace,
				len ? data : (const void *)"", (int)len);
		notify_requestor(x, s->requestor, s->selection, s->target, s->property, s->time);
		if (x->ops->x_error_since(x->opaque, serial))
			g_message("paste of %zu bytes lost: the requestor vanished", len);
		g_hash_table_remove(x->serves, GUINT_TO_POINTER(req));
	} else {
		long size = (long)len;

		s->incr = true;
		s->data = g_bytes_new(data, len);
		s->progress = now_us();
		XSelectInput(x->dpy, s->requestor, PropertyChangeMask);
		XChangeProperty(x->dpy, s->requestor, s->property, x->atoms[A_INCR], 32,
				PropModeReplace, (unsigned char *)&size, 1);
		notify_requestor(x, s->requestor, s->selection, s->target, s->property, s->time);
		if (x->ops->x_error_since(x->opaque, serial)) {
			g_message("paste of %zu bytes lost: the requestor vanished", len);
			g_hash_table_remove(x->serves, GUINT_TO_POINTER(req));
		}
	}
	g_free(latin1);
}

/* ---- answering piece by piece ---- */

/* The INCR header: the bytes so far are the size's lower bound.  False when the requestor is gone. */
static bool stream_start_incr(struct xsel *x, struct serve *s)
{
	unsigned long serial = NextRequest(x->dpy);
	long size = (long)(s->pending->len - s->pending_off);

	s->incr = true;
	s->progress = now_us();
	XSelectInput(x->dpy, s->requestor, PropertyChangeMask);
	XChangeProperty(x->dpy, s->requestor, s->property, x->atoms[A_INCR], 32, PropModeReplace,
			(unsigned char *)&size, 1);
	notify_requestor(x, s->requestor, s->selection, s->target, s->property, s->time);
	if (x->ops->x_error_since(x->opaque, serial)) {
		g_message("streamed paste lost: the requestor vanished");
		g_hash_table_remove(x->serves, GUINT_TO_POINTER(s->id));
		return false;
	}
	return true;
}

/* The requestor took the last chunk: write the next, the end, or wait for bytes. */
static void stream_next(struct xsel *x, struct serve *s)
{
	size_t n = MIN(s->pending->len - s->pending_off, x->chunk);
	unsigned long serial = NextRequest(x->dpy);

	if (!n && !s->ended) {
		s->wanting = true;
		return;
	}
	s->wanting = false;
	XChangeProperty(x->dpy, s->requestor, s->property, s->type, 8, PropModeReplace,
			n ? s->pending->data + s->pending_off : (const guint8 *)"", (int)n);
	s->pending_off += n;
	s->progress = now_us();
	/* Drop what went, once it is a good part of the buffer (no memmove per chunk). */
	if (s->pending_off == s->pending->len || s->pending_off > s->pending->len / 2) {
		g_byte_array_remove_range(s->pending, 0, (guint)s->pending_off);
		s->pending_off = 0;
	}
	if (n == 0) {
		s->done = true;
		XSelectInput(x->dpy, s->requestor, NoEventMask);
	}
	if (x->ops->x_error_since(x->opaque, serial)) {
		g_message("streamed paste abandoned: the requestor vanished");
		s->done = true;
	}
	if (s->done)
		g_hash_table_remove(x->serves, GUINT_TO_POINTER(s->id));
}

bool xsel_stream_push(struct xsel *x, uint32_t req, const void *data, size_t len)
{
	struct serve *s = g_hash_table_lookup(x->serves, GUINT_TO_POINTER(req));

	if (!s || s->ended || (s->incr && !s->streamed))
		return false;
	s->streamed = true;
	if (!s->pending)
		s->pending = g_byte_array_new();
	g_byte_array_append(s->pending, data, (guint)len);
	s->progress = now_us();
	/* STRING is converted from UTF-8 as a whole, at the end: a chunk may split a character. */
	if (!s->incr && s->target != XA_STRING && s->pending->len > x->chunk)
		return stream_start_incr(x, s);
	if (s->incr && s->wanting)
		stream_next(x, s);
	return g_hash_table_lookup(x->serves, GUINT_TO_POINTER(req)) != NULL;
}

void xsel_stream_end(struct xsel *x, uint32_t req, uint32_t status)
{
	struct serve *s = g_hash_table_lookup(x->serves, GUINT_TO_POINTER(req));
	GByteArray *all;

	if (!s || s->ended || (s->incr && !s->streamed))
		return;
	if (status != PH_CLIP_OK && !s->incr) {
		xsel_refuse(x, req, ph_clip_status_text(status));
		return;
	}
	if (status != PH_CLIP_OK) {
		g_message("paste of the %s selection abandoned mid-way: %s (no end is sent, so the "
			  "application does not take it for whole)", s->sel ? "PRIMARY" : "CLIPBOARD",
			  ph_clip_status_text(status));
		XSelectInput(x->dpy, s->requestor, NoEventMask);
		g_hash_table_remove(x->serves, GUINT_TO_POINTER(req));
		return;
	}
	if (!s->incr) {
		/* All of it came before the application had any: one answer, as xsel_answer(). */
		all = s->pending;
		s->pending = NULL;
		s->streamed = false;
		xsel_answer(x, req, all ? (const void *)(all->data + s->pending_off) : "",
			    all ? all->len - s->pending_off : 0);
		if (all)
			g_byte_array_free(all, TRUE);
		return;
	}
	s->ended = true;
	if (s->wanting)
		stream_next(x, s);
}

static bool requestor_property(struct xsel *x, XPropertyEvent *pe)
{
	GHashTableIter it;
	gpointer k, v;

	if (pe->state != PropertyDelete)
		return false;
	g_hash_table_iter_init(&it, x->serves);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		struct serve *s = v;

		if (s->incr && s->requestor == pe->window && s->property == pe->atom) {
			if (s->streamed)
				stream_next(x, s);
			else
				incr_next(x, s);
			return true;
		}
	}
	return false;
}

/* ---- timeouts ---- */

static gboolean on_tick(gpointer p)
{
	struct xsel *x = p;
	int64_t now = now_us();
	GHashTableIter it;
	gpointer k, v;
	GPtrArray *refuse = g_ptr_array_new();

	for (int i = 0; i < XSEL_READS_MAX; i++) {
		struct readop *r = &x->reads[i];

		if (r->active && r->draining &&
		    now - r->progress > XSEL_STALL_TIMEOUT_MS * 1000ll) {
			r->active = r->draining = false;
		} else if (r->active && now - r->progress > XSEL_STALL_TIMEOUT_MS * 1000ll) {
			g_message("reading the %s selection: the owner stopped answering",
				  r->sel ? "PRIMARY" : "CLIPBOARD");
			read_finish(x, r, PH_CLIP_ERR_TIMEOUT);
		}
	}
	g_hash_table_iter_init(&it, x->serves);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		struct serve *s = v;

		if (s->incr && now - s->progress > XSEL_STALL_TIMEOUT_MS * 1000ll) {
			g_message("INCR paste stalled (requestor 0x%lx gone?); dropped", s->requestor);
			XSelectInput(x->dpy, s->requestor, NoEventMask);
			g_hash_table_iter_remove(&it);
		} else if (!s->incr && now - s->started > XSEL_ANSWER_TIMEOUT_MS * 1000ll) {
			g_ptr_array_add(refuse, k);
		}
	}
	for (guint i = 0; i < refuse->len; i++)
		xsel_refuse(x, GPOINTER_TO_UINT(refuse->pdata[i]), "no answer from the other side");
	g_ptr_array_free(refuse, TRUE);
	x->ops->x_error_since(x->opaque, 0);	/* flush, collect stray errors */
	return G_SOURCE_CONTINUE;
}

/* ---- events ---- */

bool xsel_event(struct xsel *x, XEvent *ev)
{
	if (ev->type == x->fixes_event + XFixesSelectionNotify) {
		XFixesSelectionNotifyEvent *e = (XFixesSelectionNotifyEvent *)ev;

		if (e->window != x->root)
			return false;
		owner_changed(x, e);
		return true;
	}
	switch (ev->type) {
	case SelectionRequest:
		if (ev->xselectionrequest.owner != x->win)
			return false;
		selection_request(x, &ev->xselectionrequest);
		return true;
	case SelectionClear:
		if (ev->xselectionclear.window != x->win)
			return false;
		{
			int sel = sel_index(x, ev->xselectionclear.selection);

			if (sel >= 0 && x->owned[sel]) {
				x->owned[sel] = false;
				x->lost_at[sel] = now_us();
			}
		}
		return true;
	case SelectionNotify: {
		XSelectionEvent *se = &ev->xselection;
		int sel = sel_index(x, se->selection);

		if (se->requestor != x->win)
			return false;
		if (sel < 0)
			return true;
		if (se->target == x->atoms[A_TARGETS]) {
			if (se->property == None) {
				report_offer(x, (unsigned int)sel, PH_CLIP_FMT_BIT(PH_CLIP_FMT_TEXT));
				return true;
			}
			got_targets(x, (unsigned int)sel);
			return true;
		}
		for (int i = 0; i < XSEL_READS_MAX; i++) {
			struct readop *r = &x->reads[i];

			if (!r->active || r->sel != (unsigned int)sel || r->target != se->target ||
			    r->incr)
				continue;
			if (se->property == None)
				read_finish(x, r, PH_CLIP_ERR_CONVERT);
			else
				read_chunk(x, r, se->property, true);
			break;
		}
		return true;
	}
	case PropertyNotify: {
		XPropertyEvent *pe = &ev->xproperty;

		if (pe->window != x->win)
			return requestor_property(x, pe);
		for (int i = 0; i < XSEL_READS_MAX; i++) {
			struct readop *r = &x->reads[i];

			if (r->active && r->incr && pe->state == PropertyNewValue &&
			    pe->atom == x->atoms[A_PROP_DATA0 + i])
				read_chunk(x, r, pe->atom, false);
		}
		return true;
	}
	}
	return false;
}

/* ---- setup ---- */

struct xsel *xsel_new(Display *dpy, Window root, const struct xsel_ops *ops, void *opaque)
{
	struct xsel *x;
	int error_base;
	long max_req;
	XSetWindowAttributes wa = { .event_mask = PropertyChangeMask };
	const char *names[A_COUNT];
	char data_names[XSEL_READS_MAX][32];

	if (!XFixesQueryExtension(dpy, &error_base, &error_base)) {
		g_message("no XFixes extension: clipboard owners can't be watched");
		return NULL;
	}
	x = g_new0(struct xsel, 1);
	XFixesQueryExtension(dpy, &x->fixes_event, &error_base);
	x->dpy = dpy;
	x->root = root;
	x->ops = ops;
	x->opaque = opaque;
	for (int i = 0; i < A_PROP_DATA0; i++)
		names[i] = atom_names[i];
	for (int i = 0; i < XSEL_READS_MAX; i++) {
		snprintf(data_names[i], sizeof(data_names[i]), "_PORTHOLE_DATA%d", i);
		names[A_PROP_DATA0 + i] = data_names[i];
	}
	XInternAtoms(dpy, (char **)names, A_COUNT, False, x->atoms);
	x->sel_atom[PH_CLIP_SEL_CLIPBOARD] = x->atoms[A_CLIPBOARD];
	x->sel_atom[PH_CLIP_SEL_PRIMARY] = XA_PRIMARY;
	/* One property write must fit one request: the rest goes INCR. */
	max_req = XExtendedMaxRequestSize(dpy);
	if (max_req <= 0)
		max_req = XMaxRequestSize(dpy);
	x->chunk = MIN((size_t)max_req * 4 - 256, (size_t)XSEL_CHUNK_MAX);
	x->win = XCreateWindow(dpy, root, -10, -10, 1, 1, 0, CopyFromParent, InputOnly,
			       CopyFromParent, CWEventMask, &wa);
	XStoreName(dpy, x->win, "porthole clipboard");
	for (int i = 0; i < PH_CLIP_SEL_COUNT; i++)
		XFixesSelectSelectionInput(dpy, root, x->sel_atom[i],
					   XFixesSetSelectionOwnerNotifyMask |
					   XFixesSelectionWindowDestroyNotifyMask |
					   XFixesSelectionClientCloseNotifyMask);
	x->serves = g_hash_table_new_full(NULL, NULL, NULL, serve_free);
	x->timer = g_timeout_add(1000, on_tick, x);
	XFlush(dpy);
	return x;
}

void xsel_free(struct xsel *x)
{
	if (!x)
		return;
	g_source_remove(x->timer);
	for (int i = 0; i < XSEL_READS_MAX; i++)
		if (x->reads[i].buf)
			g_byte_array_free(x->reads[i].buf, TRUE);
	for (int i = 0; i < PH_CLIP_SEL_COUNT; i++)
		g_free(x->foreign_targets[i]);
	g_hash_table_destroy(x->serves);
	XDestroyWindow(x->dpy, x->win);
	g_free(x);
}

void xsel_rescan(struct xsel *x)
{
	for (unsigned int sel = 0; sel < PH_CLIP_SEL_COUNT; sel++) {
		Window owner = XGetSelectionOwner(x->dpy, x->sel_atom[sel]);

		if (owner == None || owner == x->win)
			continue;
		x->foreign_owner[sel] = owner;
		XConvertSelection(x->dpy, x->sel_atom[sel], x->atoms[A_TARGETS],
				  x->atoms[A_PROP_TARGETS0 + sel], x->win, CurrentTime);
	}
	XFlush(x->dpy);
}

unsigned int xsel_offers_reported(struct xsel *x)
{
	return x->offers_reported;
}
