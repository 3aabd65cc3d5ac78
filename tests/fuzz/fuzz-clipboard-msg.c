// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the clipboard protocol (backdoor/clipboard.h) as the
 * guest agent (guest-additions/agent/clipboard.c) and the host bridge
 * (host-services/viewer/clipboard.c) run it.  Both modules are the real
 * code, linked as they are; what lies below them is replaced here: the X
 * selection engine (common/xsel.h), datagram sending and binding, control
 * requests (the VM's clipboard policy, the legacy text), and the queue pairs
 * (their bytes come from the input, a short stream is a peer that left).
 *
 * The input is a script: datagrams of any bytes (or built from fields) to
 * either side, X events on either side (a local copy, a local paste, the
 * X read of a selection finishing with any status and bytes), the viewer
 * detaching and re-attaching.  Invariants, checked as the modules call down:
 *  - every datagram a side sends is a well-formed message (ph_clip_parse);
 *  - every X paste request is answered or refused at most once, and only
 *    one that was made; an answer carries no more bytes than came in;
 *  - a side reads its X selection only for a format its local owner offered,
 *    and owns a selection only with known formats;
 *  - the host writes host data into a queue pair only when the policy it
 *    last read allows host-to-guest and within its max-size, and asks the
 *    guest for data only when it allows guest-to-host.
 */
#include <errno.h>
#include <stdlib.h>

#include "backdoor/clipboard.h"
#include "common/xsel.h"
#include "guest-additions/agent/agent.h"
#include "host-services/viewer/viewer.h"
#include "fuzz-input.h"

extern const struct agent_module agent_clipboard;
extern const struct viewer_module viewer_clipboard;

enum { AGENT, VIEWER, SIDES };

#define MAX_REQS	64

/* One side's X selection engine, as the module sees it. */
struct xsel {
	const struct xsel_ops *ops;
	void *opaque;
	uint32_t local_formats[PH_CLIP_SEL_COUNT];	/* what a local application offers */
	uint32_t owned[PH_CLIP_SEL_COUNT];		/* what we own for the peer */
	uint32_t reqs[MAX_REQS];			/* X paste requests not yet answered */
	unsigned int nreqs;
	uint32_t reads[MAX_REQS];			/* xsel_read cookies not yet done */
	bool read_h2g[MAX_REQS];			/* the policy when each read began */
	bool read_stream[MAX_REQS];			/* xsel_read_stream: bytes in pieces */
	uint64_t read_max_size[MAX_REQS];
	unsigned int nreads;
};

static struct {
	struct fuzz_input *in;
	struct xsel xs[SIDES];
	struct agent agent;
	struct viewer viewer;
	agent_dg_handler agent_dg;
	void *agent_dg_opaque;
	viewer_dg_handler viewer_dg;
	void *viewer_dg_opaque;
	viewer_dg_handler viewer_ev;	/* queue-pair events (viewer_watch_events) */
	void *viewer_ev_opaque;
	struct {			/* the policy of the paste a queue pair serves */
		bool h2g;
		uint64_t max_size;
	} qp_policy[256];
	uint64_t stream_bytes;		/* queue-pair bytes handed out so far */
	bool h2g, g2h;			/* the policy the viewer read last */
	uint64_t max_size;
	bool serving_h2g;		/* the policy of the guest paste being served */
	uint64_t serving_max_size;
	uint32_t next_req;
	bool in_read_done;		/* a viewer attach now serves the read just done */
} F;

static struct xsel *side_of(struct xsel *x)
{
	FUZZ_CHECK(x == &F.xs[AGENT] || x == &F.xs[VIEWER]);
	return x;
}

static bool take(uint32_t *set, unsigned int *n, uint32_t v)
{
	for (unsigned int i = 0; i < *n; i++)
		if (set[i] == v) {
			set[i] = set[--*n];
			return true;
		}
	return false;
}

/* A finished X read: the policy of the paste it serves. */
static void take_read(struct xsel *x, unsigned int i)
{
	F.serving_h2g = x->read_h2g[i];
	F.serving_max_size = x->read_max_size[i];
	x->nreads--;
	x->reads[i] = x->reads[x->nreads];
	x->read_h2g[i] = x->read_h2g[x->nreads];
	x->read_max_size[i] = x->read_max_size[x->nreads];
	x->read_stream[i] = x->read_stream[x->nreads];
}

/* ---- common/xsel.h ---- */

struct xsel *xsel_new(Display *dpy, Window root, const struct xsel_ops *ops, void *opaque)
{
	/* The agent's module starts first. */
	struct xsel *x = !F.xs[AGENT].ops ? &F.xs[AGENT] : &F.xs[VIEWER];

	memset(x, 0, sizeof(*x));
	x->ops = ops;
	x->opaque = opaque;
	return x;
}

void xsel_free(struct xsel *x)
{
	side_of(x)->ops = NULL;
}

bool xsel_event(struct xsel *x, XEvent *ev)
{
	return false;
}

void xsel_own(struct xsel *x, unsigned int sel, uint32_t formats)
{
	FUZZ_CHECK(sel < PH_CLIP_SEL_COUNT && !(formats & ~PH_CLIP_FMT_ALL));
	side_of(x)->owned[sel] = formats;
	if (formats)
		x->local_formats[sel] = 0;	/* the local application lost the selection */
}

bool xsel_owned(struct xsel *x, unsigned int sel)
{
	FUZZ_CHECK(sel < PH_CLIP_SEL_COUNT);
	return side_of(x)->owned[sel] != 0;
}

void xsel_answer(struct xsel *x, uint32_t req, const void *data, size_t len)
{
	const volatile uint8_t *p = data;

	FUZZ_CHECK(take(side_of(x)->reqs, &x->nreqs, req));
	FUZZ_CHECK(len <= F.stream_bytes || x == &F.xs[VIEWER]);	/* legacy text */
	if (len)
		(void)(p[0] + p[len - 1]);
}

void xsel_refuse(struct xsel *x, uint32_t req, const char *why)
{
	FUZZ_CHECK(take(side_of(x)->reqs, &x->nreqs, req));
	FUZZ_CHECK(why && *why);
}

static void read_begin(struct xsel *x, unsigned int sel, unsigned int format, uint32_t cookie,
		       bool stream)
{
	side_of(x);
	FUZZ_CHECK(sel < PH_CLIP_SEL_COUNT && format < PH_CLIP_FMT_COUNT);
	/* The legacy push (viewer) reads what it offered too. */
	FUZZ_CHECK(x->local_formats[sel] & PH_CLIP_FMT_BIT(format));
	if (x->nreads < MAX_REQS) {
		x->read_h2g[x->nreads] = F.h2g;
		x->read_max_size[x->nreads] = F.max_size;
		x->read_stream[x->nreads] = stream;
		x->reads[x->nreads++] = cookie;
	}
}

void xsel_read(struct xsel *x, unsigned int sel, unsigned int format, uint64_t max_size,
	       uint32_t cookie)
{
	read_begin(x, sel, format, cookie, false);
}

void xsel_read_stream(struct xsel *x, unsigned int sel, unsigned int format, uint64_t max_size,
		      uint32_t cookie)
{
	FUZZ_CHECK(x->ops->read_chunk);
	read_begin(x, sel, format, cookie, true);
}

/* A streamed answer's piece: only to a request still open, never more than came in. */
bool xsel_stream_push(struct xsel *x, uint32_t req, const void *data, size_t len)
{
	const volatile uint8_t *p = data;
	unsigned int i;

	for (i = 0; i < side_of(x)->nreqs && x->reqs[i] != req; i++)
		;
	FUZZ_CHECK(i < x->nreqs);
	FUZZ_CHECK(len && len <= PH_CLIP_CHUNK_MAX && len <= F.stream_bytes);
	(void)(p[0] + p[len - 1]);
	if (fuzz_u8(F.in) % 16 == 0) {	/* the application went away */
		take(x->reqs, &x->nreqs, req);
		return false;
	}
	return true;
}

void xsel_stream_end(struct xsel *x, uint32_t req, uint32_t status)
{
	FUZZ_CHECK(status < PH_CLIP_STATUS_COUNT);
	take(side_of(x)->reqs, &x->nreqs, req);	/* (it may be gone already) */
}

void xsel_rescan(struct xsel *x)
{
}

unsigned int xsel_offers_reported(struct xsel *x)
{
	return 0;
}

/* ---- the datagram channels ---- */

/* Every datagram a side sends must parse; the input says whether it arrived. */
static int64_t check_sent(uint32_t resource, const void *payload, size_t len)
{
	union ph_clip_msg m;
	int type;

	FUZZ_CHECK(resource == PH_DESKTOP_RES_CLIPBOARD);
	type = ph_clip_parse(payload, len, &m);
	FUZZ_CHECK(type > 0);
	return type;
}

static int64_t send_result(void)
{
	switch (fuzz_u8(F.in) % 8) {
	case 0:
		return VMCI_ERROR_DST_UNREACHABLE;
	case 1:
		return VMCI_ERROR_NO_RESOURCES;
	default:
		return 0;
	}
}

void agent_watch_x(struct agent *a, agent_x_handler fn, void *opaque)
{
}

int64_t agent_bind(struct agent *a, uint32_t resource, agent_dg_handler fn, void *opaque)
{
	FUZZ_CHECK(resource == PH_DESKTOP_RES_CLIPBOARD);
	F.agent_dg = fn;
	F.agent_dg_opaque = opaque;
	return 0;
}

int64_t agent_send(struct agent *a, uint32_t resource, const void *payload, size_t len)
{
	check_sent(resource, payload, len);
	return send_result();
}

int agent_x_error_since(struct agent *a, unsigned long serial)
{
	return 0;
}

void viewer_watch_x(struct viewer *v, viewer_x_handler fn, void *opaque)
{
}

int viewer_bind(struct viewer *v, uint32_t resource, viewer_dg_handler fn, void *opaque)
{
	FUZZ_CHECK(resource == PH_DESKTOP_RES_CLIPBOARD);
	F.viewer_dg = fn;
	F.viewer_dg_opaque = opaque;
	return 0;
}

int64_t viewer_send(struct viewer *v, uint32_t resource, const void *payload, size_t len)
{
	/* The host asks the guest for its data only when the policy lets it. */
	if (check_sent(resource, payload, len) == PH_CLIP_REQUEST)
		FUZZ_CHECK(F.g2h);
	return send_result();
}

int viewer_x_error_since(struct viewer *v, unsigned long serial)
{
	return 0;
}

/* Control requests: the policy and the legacy text, as the input says. */
int viewer_call(struct viewer *v, enum ph_ctl_op op, const char *payload, int timeout_ms,
		struct ph_reply *reply)
{
	uint8_t how = fuzz_u8(F.in);

	memset(reply, 0, sizeof(*reply));
	reply->fd = -1;
	if (how == 0xFF)
		return -1;
	reply->status = how == 0xFE ? EIO : 0;
	reply->data = g_string_new(NULL);
	if (op == PH_CTL_CLIPBOARD_POLICY_GET) {
		F.h2g = how & 1;
		F.g2h = how & 2;
		F.max_size = (how & 4) ? fuzz_u32(F.in) : PH_CLIP_DEFAULT_MAX_SIZE;
		if (reply->status) {
			F.h2g = F.g2h = false;
			F.max_size = 0;
		}
		g_string_append_printf(reply->data, "host-to-guest=%s\nguest-to-host=%s\nmax-size=%llu\n",
				       F.h2g ? "on" : "off", F.g2h ? "on" : "off",
				       (unsigned long long)F.max_size);
	} else if (op == PH_CTL_CLIPBOARD_LEGACY_GET || op == PH_CTL_CLIPBOARD_GUEST_TEXT) {
		size_t got;
		const uint8_t *p = fuzz_bytes(F.in, fuzz_u8(F.in), &got);

		g_string_append_len(reply->data, (const char *)p, (gssize)got);
	}
	return 0;
}

int viewer_call_len(struct viewer *v, enum ph_ctl_op op, const void *payload, size_t len,
		    int timeout_ms, struct ph_reply *reply)
{
	return viewer_call(v, op, NULL, timeout_ms, reply);
}

void ph_reply_clear(struct ph_reply *reply)
{
	if (reply->data)
		g_string_free(reply->data, TRUE);
	reply->data = NULL;
}

/* ---- queue pairs: the bytes come from the input ---- */

static int stream_read(void *buf, size_t len)
{
	size_t got;
	const uint8_t *p;

	if (fuzz_u8(F.in) % 8 == 0)
		return -EPIPE;
	p = fuzz_bytes(F.in, len, &got);
	memcpy(buf, p, got);
	F.stream_bytes += got;
	return got == len ? 0 : -EPIPE;
}

/* The header the writer puts first: it must say what the datagram announced. */
static int stream_write(const void *buf, size_t len)
{
	const volatile uint8_t *p = buf;

	if (len)
		(void)(p[0] + p[len - 1]);
	return fuzz_u8(F.in) % 8 == 0 ? -EPIPE : 0;
}

int64_t phg_qp_create(struct phg_vmci *v, struct phg_qp *qp, uint32_t resource,
		      uint64_t produce_size, uint64_t consume_size, struct vmci_handle peer)
{
	memset(qp, 0, sizeof(*qp));
	qp->handle = (struct vmci_handle){ VMCI_GUEST_CONTEXT_ID, resource };
	qp->produce_size = produce_size;
	qp->consume_size = consume_size;
	return fuzz_u8(F.in) % 16 == 0 ? VMCI_ERROR_NO_RESOURCES : 0;
}

int64_t phg_qp_destroy(struct phg_vmci *v, struct phg_qp *qp)
{
	return 0;
}

int phg_qp_write_all(struct phg_vmci *v, struct phg_qp *qp, const void *buf, size_t len)
{
	return stream_write(buf, len);
}

int phg_qp_read_all(struct phg_vmci *v, struct phg_qp *qp, void *buf, size_t len)
{
	return stream_read(buf, len);
}

/* The agent's streamed transfers move in steps too, as the input says. */
int phg_qp_step(struct phg_vmci *v, struct phg_qp *qp, void *buf, size_t len, size_t *off,
		bool write)
{
	uint8_t how = fuzz_u8(F.in);
	size_t n = len - *off;
	int r;

	FUZZ_CHECK(*off <= len);
	if (n && how % 4 == 0)
		return -EAGAIN;
	if (how % 4 == 1) {
		size_t some = fuzz_u16(F.in);

		n = MIN(n, some);
	}
	if (!n)
		return 0;
	r = write ? stream_write((uint8_t *)buf + *off, n) : stream_read((uint8_t *)buf + *off, n);
	if (r)
		return r;
	*off += n;
	return *off == len ? 0 : -EAGAIN;
}

int phh_qp_attach(struct phh_vmci *h, struct phh_qp *qp, uint32_t resource,
		  uint32_t doorbell_resource)
{
	uint8_t how = fuzz_u8(F.in);

	memset(qp, 0, sizeof(*qp));
	if (how % 8 == 0)
		return -EPROTO;
	qp->handle = (struct vmci_handle){ VMCI_GUEST_CONTEXT_ID, resource };
	qp->produce_size = qp->consume_size = (how & 8) ? VMCI_PAGE_SIZE : PH_CLIP_QP_SIZE;
	qp->base = &F;		/* attached */
	/*
	 * A host->guest transfer attaches right after the X read it sends, or,
	 * streamed, right after the policy read that allowed it.
	 */
	F.qp_policy[resource & 0xFF].h2g = F.in_read_done ? F.serving_h2g : F.h2g;
	F.qp_policy[resource & 0xFF].max_size = F.in_read_done ? F.serving_max_size : F.max_size;
	return 0;
}

int phh_qp_detach(struct phh_vmci *h, struct phh_qp *qp)
{
	FUZZ_CHECK(qp->base);
	qp->base = NULL;
	return 0;
}

int phh_qp_write_all(struct phh_vmci *vmci, struct phh_qp *qp, const void *buf, size_t len)
{
	/* Host data goes to the guest only as the policy read for this paste allows. */
	FUZZ_CHECK(qp->base && F.serving_h2g);
	if (len == sizeof(struct ph_clip_stream_hdr)) {
		struct ph_clip_stream_hdr h;

		memcpy(&h, buf, sizeof(h));
		FUZZ_CHECK(h.magic == PH_CLIP_MAGIC && h.size <= F.serving_max_size);
	}
	return stream_write(buf, len);
}

int phh_qp_read_all(struct phh_vmci *h, struct phh_qp *qp, void *buf, size_t len)
{
	FUZZ_CHECK(qp->base);
	return stream_read(buf, len);
}

/*
 * The viewer's transfers move in steps, driven by queue-pair events: the
 * input says how much each step moves (nothing, some, all that is left).
 */
int phh_qp_step(struct phh_vmci *h, struct phh_qp *qp, void *buf, size_t len, size_t *off,
		bool write)
{
	uint8_t how = fuzz_u8(F.in);
	size_t n = len - *off;
	int r;

	FUZZ_CHECK(qp->base && *off <= len);
	if (write) {
		/* Host data goes to the guest only as the policy read for this paste allows. */
		FUZZ_CHECK(F.qp_policy[qp->handle.resource & 0xFF].h2g);
		/* (a chunk header never starts with the magic: chunks are at most 1 MiB) */
		if (*off == 0 && len == sizeof(struct ph_clip_stream_hdr) &&
		    *(const uint32_t *)buf == PH_CLIP_MAGIC) {
			struct ph_clip_stream_hdr hdr;

			memcpy(&hdr, buf, sizeof(hdr));
			FUZZ_CHECK(hdr.size == PH_CLIP_SIZE_STREAMED ||
				   hdr.size <= F.qp_policy[qp->handle.resource & 0xFF].max_size);
		}
	}
	if (n && how % 4 == 0)
		return -EAGAIN;
	if (how % 4 == 1) {
		size_t some = fuzz_u16(F.in);	/* (MIN evaluates its arguments twice) */

		n = MIN(n, some);
	}
	if (!n)		/* (an empty paste: buf may be NULL) */
		return 0;
	r = write ? stream_write((uint8_t *)buf + *off, n) : stream_read((uint8_t *)buf + *off, n);
	if (r)
		return r;
	*off += n;
	return *off == len ? 0 : -EAGAIN;
}

bool phh_qp_event(struct phh_qp *qp, const struct phh_dg *d)
{
	uint8_t how = fuzz_u8(F.in);

	if (how % 16 == 0)
		qp->peer_detached = true;
	return how % 2;
}

void viewer_watch_events(struct viewer *v, viewer_dg_handler fn, void *opaque)
{
	F.viewer_ev = fn;
	F.viewer_ev_opaque = opaque;
}

/* The paste rule: whether the user just pressed a key or button in the viewer. */
bool viewer_take_user_press(struct viewer *v)
{
	return fuzz_u8(F.in) % 2;
}

void viewer_guest_log(struct viewer_log_limit *l, const char *fmt, ...)
{
}

/* ---- the script ---- */

/* A datagram: any bytes, or a message built from fields. */
static size_t datagram(uint8_t *buf, size_t cap)
{
	uint8_t how = fuzz_u8(F.in);
	union ph_clip_msg m;
	size_t got, len;
	const uint8_t *p;

	memset(&m, 0, sizeof(m));
	switch (how % 8) {
	case 0:
		m.offer = ph_clip_offer_make(fuzz_u8(F.in) % 3, fuzz_u8(F.in) % 4, fuzz_u8(F.in) % 16);
		len = sizeof(m.offer);
		break;
	case 1:
		ph_clip_hdr_init(&m.hdr, PH_CLIP_REQUEST);
		m.request.xfer = fuzz_u8(F.in) % 4;
		m.request.selection = fuzz_u8(F.in) % 3;
		m.request.serial = fuzz_u8(F.in) % 4;
		m.request.format = fuzz_u8(F.in) % 4;
		m.request.max_size = (how & 8) ? fuzz_u64(F.in) : UINT64_MAX;
		m.request.qp_resource = PH_CLIP_QP_BASE + m.request.xfer;
		m.request.flags = (how & 16) ? PH_CLIP_REQ_STREAMED : fuzz_u8(F.in) % 4;
		len = sizeof(m.request);
		break;
	case 2:
	case 3:
	case 4:
		m.xfer = ph_clip_xfer_make(how % 8 == 2 ? PH_CLIP_XFER : how % 8 == 3 ? PH_CLIP_READY :
					   PH_CLIP_DONE, fuzz_u8(F.in) % 4, fuzz_u8(F.in) % 10,
					   fuzz_u8(F.in) % 4, PH_CLIP_QP_BASE + fuzz_u8(F.in) % 4,
					   (how & 16) ? PH_CLIP_SIZE_STREAMED :
					   (how & 8) ? fuzz_u64(F.in) : fuzz_u8(F.in));
		len = sizeof(m.xfer);
		break;
	case 5:
		ph_clip_hdr_init(&m.hdr, (how & 8) ? PH_CLIP_HELLO : PH_CLIP_PING);
		len = sizeof(m.hdr);
		break;
	default:
		p = fuzz_bytes(F.in, fuzz_u8(F.in) % cap, &got);
		memcpy(buf, p, got);
		return got;
	}
	memcpy(buf, &m, len);
	return len;
}

static void deliver(int side)
{
	uint8_t buf[64];
	uint8_t from_other = fuzz_u8(F.in) % 16 == 0;	/* another context: to be ignored */
	size_t len = datagram(buf, sizeof(buf));
	struct vmci_dg_hdr hdr = { .payload_size = len };
	uint8_t *payload = g_malloc(len + 1);	/* as the libraries hand them out */

	memcpy(payload, buf, len);
	if (side == AGENT && F.agent_dg) {
		struct phg_dg d = { hdr, payload };

		d.hdr.src.context = from_other ? VMCI_HYPERVISOR_CONTEXT_ID : VMCI_HOST_CONTEXT_ID;
		F.agent_dg(&F.agent, &d, F.agent_dg_opaque);
	} else if (side == VIEWER && F.viewer_dg) {
		struct phh_dg d = { hdr, payload };

		d.hdr.src.context = from_other ? VMCI_HYPERVISOR_CONTEXT_ID : VMCI_GUEST_CONTEXT_ID;
		F.viewer_dg(&F.viewer, &d, F.viewer_dg_opaque);
	}
	g_free(payload);
}

static void x_event(struct xsel *x)
{
	uint8_t what = fuzz_u8(F.in);
	unsigned int sel = fuzz_u8(F.in) % PH_CLIP_SEL_COUNT;

	if (!x->ops)
		return;
	switch (what % 3) {
	case 0:		/* a local application copies */
		x->local_formats[sel] = fuzz_u8(F.in) & PH_CLIP_FMT_ALL;
		x->owned[sel] = 0;
		x->ops->offer(x->opaque, sel, x->local_formats[sel]);
		break;
	case 1:		/* a local application pastes what the peer offered */
		if (!x->owned[sel] || x->nreqs == MAX_REQS)
			break;
		x->reqs[x->nreqs++] = ++F.next_req;
		x->ops->request(x->opaque, F.next_req, sel, fuzz_u8(F.in) % PH_CLIP_FMT_COUNT);
		break;
	default:	/* the X read of our selection finished */
		if (x->nreads) {
			unsigned int i = fuzz_u8(F.in) % x->nreads;
			uint32_t cookie = x->reads[i];
			uint32_t status = fuzz_u8(F.in) % 3 ? PH_CLIP_OK : fuzz_u8(F.in) % 10;
			bool stream;
			size_t got;
			const uint8_t *p = fuzz_bytes(F.in, fuzz_u16(F.in) % 512, &got);
			GBytes *data = g_bytes_new(p, got);

			if (x->read_stream[i] && got && fuzz_u8(F.in) % 2) {
				/* a piece of a streamed read; it goes on */
				x->ops->read_chunk(x->opaque, cookie, p, got);
				g_bytes_unref(data);
				break;
			}
			stream = x->read_stream[i];
			take_read(x, i);
			F.in_read_done = true;
			x->ops->read_done(x->opaque, cookie, status, stream ? NULL : data);
			F.in_read_done = false;
			g_bytes_unref(data);
		}
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	static Screen screens[1];
	static typeof(*(_XPrivDisplay)0) display;
	void *astate = NULL, *vstate = NULL;

	memset(&F, 0, sizeof(F));
	F.in = &in;
	display.screens = screens;
	F.agent.dpy = F.viewer.dpy = (Display *)&display;
	F.agent.have_vmci = true;
	F.viewer.vm_name = "fuzz";
	F.viewer.attached = true;
	FUZZ_CHECK(agent_clipboard.init(&F.agent, &astate) == 0);
	FUZZ_CHECK(viewer_clipboard.init(&F.viewer, &vstate) == 0);
	viewer_clipboard.attach(&F.viewer, vstate);
	while (!fuzz_empty(&in)) {
		switch (fuzz_u8(&in) % 7) {
		case 0:
			deliver(AGENT);
			break;
		case 1:
			deliver(VIEWER);
			break;
		case 2:
			x_event(&F.xs[AGENT]);
			break;
		case 3:
			x_event(&F.xs[VIEWER]);
			break;
		case 4:		/* the VM goes away and comes back */
			viewer_clipboard.detach(&F.viewer, vstate);
			FUZZ_CHECK(!F.xs[VIEWER].owned[0] && !F.xs[VIEWER].owned[1]);
			FUZZ_CHECK(F.xs[VIEWER].nreqs == 0);
			F.viewer_dg = NULL;
			viewer_clipboard.attach(&F.viewer, vstate);
			break;
		case 6:		/* a VMCI wake-up in the agent (a queue pair's doorbell) */
			if (F.agent.vmci_woke)
				F.agent.vmci_woke(&F.agent, F.agent.vmci_woke_opaque);
			break;
		case 5:		/* a queue-pair event (doorbell, detach) for the viewer */
			if (F.viewer_ev) {
				struct phh_dg d = { { .payload_size = 0 }, NULL };

				F.viewer_ev(&F.viewer, &d, F.viewer_ev_opaque);
			}
			break;
		default:
			break;
		}
	}
	viewer_clipboard.detach(&F.viewer, vstate);
	viewer_clipboard.fini(&F.viewer, vstate);
	agent_clipboard.fini(&F.agent, astate);
	return 0;
}
