// SPDX-License-Identifier: MIT
/*
 * Resize: the host's resolution requests, VMware-compatible.
 *
 * The agent has its own TCLO channel, as VMware's per-session vmusr does,
 * under the application name "toolbox-dnd" (PH_AGENT_TCLO_APP): the host
 * routes Resolution_Set and DisplayTopology_Set there once we advertised
 * `tools.capability.resolution_server toolbox-dnd 1`.
 *
 * The channel is polled like open-vm-tools' lib/rpcIn (and porthole-guestd,
 * guest-additions/guestd/tclo.c): every poll sends the previous reply and
 * asks for the next command; idle polls back off 10, 20, 40, 80, 100 ms.
 * A broken channel is reopened every second.
 *
 * Polling VMware's way costs ~10 trapped backdoor round trips a second for
 * nothing while the session is idle.  So, as a Porthole extension, we map
 * the VMCI resource PH_DESKTOP_RES_TCLO_WAKEUP (backdoor/desktop.h): the
 * hypervisor sends it a datagram whenever it queues a command for us.
 * While we hold it, the back-off goes on from 100 ms to one poll every
 * TCLO_IDLE_POLL_MS (a safety net for a lost wakeup or a channel the host
 * reset), and a wakeup polls at once; after a command the fast back-off
 * starts again (the reply goes out with the next poll, and the host's next
 * command often follows).  Without a VMCI device we poll as VMware does.
 *
 * A size is applied with XRandR 1.2: a CVT reduced-blanking mode named
 * "porthole-WxH" is created (or reused) and added to the output, the screen
 * grows first if it must, the CRTC switches to the mode, the screen then
 * shrinks to the exact size (so no CRTC ever lies outside the screen:
 * BadMatch), and our mode that was replaced is deleted.  The reply is "OK "
 * or "ERROR <what failed>".
 */
#define G_LOG_DOMAIN "porthole-agent"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <X11/extensions/Xrandr.h>

#include "agent.h"
#include "backdoor/backdoor.h"
#include "backdoor/msgchan.h"

#define TCLO_POLL_MAX_MS	100
#define TCLO_IDLE_POLL_MS	5000	/* with wakeups: the safety-net poll */
#define TCLO_RETRY_MS		1000
#define TCLO_RETRY_LOG_S	60

/* Accepted sizes, whatever the X server allows beyond them. */
#define RESIZE_MIN		1
#define RESIZE_MAX		8192
#define TOPOLOGY_MAX_MONITORS	16
#define MODE_PREFIX		"porthole-"
#define MODE_REFRESH_HZ		60.0

struct rect {
	long x, y, w, h;
};

struct resize {
	struct agent *agent;
	struct msgchan chan;
	char *result;		/* reply owed to the host (g_malloc) */
	unsigned int delay_ms;
	guint poll_src, retry_src;
	bool failing;
	bool wakeups;		/* we mapped PH_DESKTOP_RES_TCLO_WAKEUP */
	gint64 fail_logged_us;
};

/* ---- CVT reduced blanking (VESA CVT 1.1, "RB" timings) ---- */

/* CVT's vertical sync width encodes the aspect ratio. */
static unsigned int cvt_vsync_lines(unsigned long w, unsigned long h)
{
	if (w * 3 == h * 4)
		return 4;
	if (w * 9 == h * 16)
		return 5;
	if (w * 10 == h * 16)
		return 6;
	if (w * 4 == h * 5 || w * 9 == h * 15)
		return 7;
	return 10;
}

static void cvt_rb_mode(unsigned int w, unsigned int h, XRRModeInfo *mi)
{
	const double min_vblank_us = 460.0;	/* RB: minimum vertical blanking time */
	const unsigned int h_blank = 160, h_sync = 32, h_front = 48;
	const unsigned int v_front = 3, v_back_min = 6;
	unsigned int vsync = cvt_vsync_lines(w, h);
	double h_period_us = (1e6 / MODE_REFRESH_HZ - min_vblank_us) / h;
	unsigned int vbi = (unsigned int)(min_vblank_us / h_period_us) + 1;
	double clock;

	if (vbi < v_front + vsync + v_back_min)
		vbi = v_front + vsync + v_back_min;
	mi->width = w;
	mi->height = h;
	mi->hSyncStart = w + h_front;
	mi->hSyncEnd = mi->hSyncStart + h_sync;
	mi->hTotal = w + h_blank;
	mi->hSkew = 0;
	mi->vSyncStart = h + v_front;
	mi->vSyncEnd = mi->vSyncStart + vsync;
	mi->vTotal = h + vbi;
	clock = MODE_REFRESH_HZ * mi->hTotal * mi->vTotal;
	/* The pixel clock has 0.25 MHz steps, rounded down. */
	mi->dotClock = (unsigned long)(clock / 250000.0) * 250000ul;
	if (!mi->dotClock)
		mi->dotClock = 250000ul;
	mi->modeFlags = RR_HSyncPositive | RR_VSyncNegative;
}

/* ---- XRandR ---- */

static const XRRModeInfo *mode_by_id(const XRRScreenResources *res, RRMode id)
{
	for (int i = 0; i < res->nmode; i++)
		if (res->modes[i].id == id)
			return &res->modes[i];
	return NULL;
}

static bool is_our_mode(const XRRModeInfo *mi)
{
	return mi && mi->nameLength > strlen(MODE_PREFIX) &&
	       !strncmp(mi->name, MODE_PREFIX, strlen(MODE_PREFIX));
}

/* Our mode for w x h: the existing one, or a new one.  None on failure. */
static RRMode get_mode(struct resize *rs, XRRScreenResources *res, unsigned int w,
		       unsigned int h, bool *created, char *err, size_t errlen)
{
	struct agent *a = rs->agent;
	char name[64];
	XRRModeInfo mi = { 0 };
	unsigned long serial;
	RRMode id;
	int xerr;

	*created = false;
	snprintf(name, sizeof(name), MODE_PREFIX "%ux%u", w, h);
	for (int i = 0; i < res->nmode; i++)
		if (res->modes[i].nameLength == strlen(name) &&
		    !memcmp(res->modes[i].name, name, strlen(name)))
			return res->modes[i].id;
	cvt_rb_mode(w, h, &mi);
	mi.name = name;
	mi.nameLength = (unsigned int)strlen(name);
	serial = NextRequest(a->dpy);
	id = XRRCreateMode(a->dpy, a->root, &mi);
	xerr = agent_x_error_since(a, serial);
	if (xerr || !id) {
		snprintf(err, errlen, "RRCreateMode %s failed (X error %d)", name, xerr);
		return None;
	}
	*created = true;
	return id;
}

static bool output_has_mode(const XRROutputInfo *oi, RRMode m)
{
	for (int i = 0; i < oi->nmode; i++)
		if (oi->modes[i] == m)
			return true;
	return false;
}

/* Take a mode off every output that lists it, and destroy it. */
static void drop_mode(struct agent *a, XRRScreenResources *res, RRMode mode)
{
	for (int o = 0; o < res->noutput; o++) {
		XRROutputInfo *oi = XRRGetOutputInfo(a->dpy, res, res->outputs[o]);

		if (oi && output_has_mode(oi, mode))
			XRRDeleteOutputMode(a->dpy, res->outputs[o], mode);
		if (oi)
			XRRFreeOutputInfo(oi);
	}
	XRRDestroyMode(a->dpy, mode);
}

struct plan {
	RROutput output;
	RRCrtc crtc;
	RRMode mode;
	bool created;		/* by this request */
	struct rect r;
};

static bool set_screen_size(struct resize *rs, long w, long h, char *err, size_t errlen)
{
	struct agent *a = rs->agent;
	unsigned long serial = NextRequest(a->dpy);
	int xerr;
	/* Physical size for 96 DPI, as X servers default to. */
	int mm_w = (int)(w * 254 / 960), mm_h = (int)(h * 254 / 960);

	XRRSetScreenSize(a->dpy, a->root, (int)w, (int)h, mm_w > 0 ? mm_w : 1,
			 mm_h > 0 ? mm_h : 1);
	xerr = agent_x_error_since(a, serial);
	if (xerr) {
		char text[64];

		XGetErrorText(a->dpy, xerr, text, sizeof(text));
		snprintf(err, errlen, "RRSetScreenSize %ldx%ld failed: %s", w, h, text);
		return false;
	}
	return true;
}

static bool set_crtc(struct resize *rs, XRRScreenResources *res, RRCrtc crtc, RRMode mode,
		     long x, long y, RROutput *outputs, int noutputs, char *err, size_t errlen)
{
	struct agent *a = rs->agent;
	unsigned long serial = NextRequest(a->dpy);
	Status st;
	int xerr;

	st = XRRSetCrtcConfig(a->dpy, res, crtc, CurrentTime, (int)x, (int)y, mode, RR_Rotate_0,
			      outputs, noutputs);
	xerr = agent_x_error_since(a, serial);
	if (st != RRSetConfigSuccess || xerr) {
		char text[64] = "";

		if (xerr)
			XGetErrorText(a->dpy, xerr, text, sizeof(text));
		snprintf(err, errlen, "RRSetCrtcConfig %s failed: %s",
			 mode ? "mode" : "disable", xerr ? text : "status refused");
		return false;
	}
	return true;
}

/*
 * Apply a layout of n monitors (already normalized to a non-negative
 * origin).  true, or false with err set.
 */
static bool apply_layout(struct resize *rs, const struct rect *mon, int n, char *err,
			 size_t errlen)
{
	struct agent *a = rs->agent;
	XRRScreenResources *res;
	struct plan plan[TOPOLOGY_MAX_MONITORS] = { 0 };
	RRMode old_modes[64];
	int nold = 0, nplan = 0, minw, minh, maxw, maxh;
	long W = 0, H = 0, cur_w, cur_h, mid_w, mid_h;
	bool ok = false;

	for (int i = 0; i < n; i++) {
		W = MAX(W, mon[i].x + mon[i].w);
		H = MAX(H, mon[i].y + mon[i].h);
	}
	if (!XRRGetScreenSizeRange(a->dpy, a->root, &minw, &minh, &maxw, &maxh)) {
		snprintf(err, errlen, "RRGetScreenSizeRange failed");
		return false;
	}
	if (W < minw || H < minh || W > maxw || H > maxh || W > RESIZE_MAX || H > RESIZE_MAX) {
		snprintf(err, errlen, "screen size %ldx%ld outside %dx%d..%dx%d", W, H,
			 MAX(minw, RESIZE_MIN), MAX(minh, RESIZE_MIN), MIN(maxw, RESIZE_MAX),
			 MIN(maxh, RESIZE_MAX));
		return false;
	}
	res = XRRGetScreenResourcesCurrent(a->dpy, a->root);
	if (!res) {
		snprintf(err, errlen, "RRGetScreenResourcesCurrent failed");
		return false;
	}
	cur_w = DisplayWidth(a->dpy, a->screen);
	cur_h = DisplayHeight(a->dpy, a->screen);
	{
		/* The real current size (Xlib's copy lags until events are processed). */
		Window root_ret;
		int gx, gy;
		unsigned int gw, gh, bw, depth;

		if (XGetGeometry(a->dpy, a->root, &root_ret, &gx, &gy, &gw, &gh, &bw, &depth)) {
			cur_w = gw;
			cur_h = gh;
		}
	}
	mid_w = MAX(W, cur_w);
	mid_h = MAX(H, cur_h);

	/*
	 * Outputs: connected ones first, in server order.  One monitor per
	 * output; if there are fewer outputs than monitors, the bounding box
	 * goes on the first output.
	 */
	{
		RROutput order[64];
		int norder = 0;

		for (int pass = 0; pass < 2; pass++)
			for (int i = 0; i < res->noutput && norder < 64; i++) {
				XRROutputInfo *oi = XRRGetOutputInfo(a->dpy, res, res->outputs[i]);

				if (!oi)
					continue;
				if ((oi->connection == RR_Connected) == (pass == 0) && oi->ncrtc > 0)
					order[norder++] = res->outputs[i];
				XRRFreeOutputInfo(oi);
			}
		if (norder == 0) {
			snprintf(err, errlen, "the X server has no output with a CRTC");
			goto out;
		}
		if (n > norder) {
			plan[0].r = (struct rect){ 0, 0, W, H };
			plan[0].output = order[0];
			nplan = 1;
		} else {
			for (int i = 0; i < n; i++) {
				plan[i].r = mon[i];
				plan[i].output = order[i];
			}
			nplan = n;
		}
	}

	/* A CRTC for each output: its own, or a free one it can use. */
	for (int i = 0; i < nplan; i++) {
		XRROutputInfo *oi = XRRGetOutputInfo(a->dpy, res, plan[i].output);

		plan[i].crtc = None;
		if (!oi)
			continue;
		if (oi->crtc)
			plan[i].crtc = oi->crtc;
		for (int c = 0; !plan[i].crtc && c < oi->ncrtc; c++) {
			bool taken = false;

			for (int j = 0; j < nplan; j++)
				if (j != i && plan[j].crtc == oi->crtcs[c])
					taken = true;
			for (int o = 0; !taken && o < res->noutput; o++) {
				XRROutputInfo *other = XRRGetOutputInfo(a->dpy, res, res->outputs[o]);

				if (other && other->crtc == oi->crtcs[c])
					taken = true;
				if (other)
					XRRFreeOutputInfo(other);
			}
			if (!taken)
				plan[i].crtc = oi->crtcs[c];
		}
		XRRFreeOutputInfo(oi);
		if (!plan[i].crtc) {
			snprintf(err, errlen, "no free CRTC for output %d", i);
			goto out;
		}
	}

	/* Modes, created and added to their output. */
	for (int i = 0; i < nplan; i++) {
		XRROutputInfo *oi;

		plan[i].mode = get_mode(rs, res, (unsigned int)plan[i].r.w,
					(unsigned int)plan[i].r.h, &plan[i].created, err, errlen);
		if (!plan[i].mode)
			goto out;
		oi = XRRGetOutputInfo(a->dpy, res, plan[i].output);
		if (oi && !output_has_mode(oi, plan[i].mode)) {
			unsigned long serial = NextRequest(a->dpy);

			XRRAddOutputMode(a->dpy, plan[i].output, plan[i].mode);
			if (agent_x_error_since(a, serial)) {
				snprintf(err, errlen, "RRAddOutputMode %ldx%ld failed", plan[i].r.w,
					 plan[i].r.h);
				XRRFreeOutputInfo(oi);
				goto out;
			}
		}
		if (oi)
			XRRFreeOutputInfo(oi);
	}
	/* The new modes must be in `res` for XRRSetCrtcConfig's timestamps. */
	XRRFreeScreenResources(res);
	res = XRRGetScreenResourcesCurrent(a->dpy, a->root);
	if (!res) {
		snprintf(err, errlen, "RRGetScreenResourcesCurrent failed");
		return false;
	}

	/* Remember the modes being replaced; switch off CRTCs outside the plan. */
	for (int c = 0; c < res->ncrtc; c++) {
		XRRCrtcInfo *ci = XRRGetCrtcInfo(a->dpy, res, res->crtcs[c]);
		bool planned = false;

		if (!ci)
			continue;
		for (int i = 0; i < nplan; i++)
			planned |= plan[i].crtc == res->crtcs[c];
		if (ci->mode && nold < (int)G_N_ELEMENTS(old_modes))
			old_modes[nold++] = ci->mode;
		/* A CRTC that stays must fit the intermediate screen; others go dark. */
		if (ci->mode && !planned &&
		    !set_crtc(rs, res, res->crtcs[c], None, 0, 0, NULL, 0, err, errlen)) {
			XRRFreeCrtcInfo(ci);
			goto out;
		}
		XRRFreeCrtcInfo(ci);
	}

	/* Grow first: a CRTC must never reach outside the screen (BadMatch). */
	if ((mid_w != cur_w || mid_h != cur_h) && !set_screen_size(rs, mid_w, mid_h, err, errlen))
		goto out;
	for (int i = 0; i < nplan; i++) {
		if (!set_crtc(rs, res, plan[i].crtc, plan[i].mode, plan[i].r.x, plan[i].r.y,
			      &plan[i].output, 1, err, errlen))
			goto out;
	}
	/* Then shrink to the exact size, once no CRTC reaches past it. */
	if ((mid_w != W || mid_h != H) && !set_screen_size(rs, W, H, err, errlen))
		goto out;
	ok = true;

	/* Drop our modes nobody shows any more. */
	for (int k = 0; k < nold; k++) {
		const XRRModeInfo *mi = mode_by_id(res, old_modes[k]);
		bool used = false;

		if (!is_our_mode(mi))
			continue;
		for (int i = 0; i < nplan; i++)
			used |= plan[i].mode == old_modes[k];
		for (int j = 0; j < k; j++)
			used |= old_modes[j] == old_modes[k];	/* already handled */
		if (!used)
			drop_mode(a, res, old_modes[k]);
	}
out:
	/* A failed request leaves no mode of its own behind. */
	for (int i = 0; !ok && i < nplan; i++) {
		bool shown = false;

		if (!plan[i].created)
			continue;
		for (int c = 0; c < res->ncrtc; c++) {
			XRRCrtcInfo *ci = XRRGetCrtcInfo(a->dpy, res, res->crtcs[c]);

			shown |= ci && ci->mode == plan[i].mode;
			if (ci)
				XRRFreeCrtcInfo(ci);
		}
		if (!shown)
			drop_mode(a, res, plan[i].mode);
	}
	XSync(a->dpy, False);
	XRRFreeScreenResources(res);
	return ok;
}

/* ---- TCLO commands ---- */

/* Strict unsigned/signed decimal token, at most 6 digits; advances *p. */
static bool next_long(const char **p, bool allow_sign, long *out)
{
	const char *s = *p;
	bool neg = false;
	long v = 0;
	int digits = 0;

	while (*s == ' ' || *s == '\t')
		s++;
	if (allow_sign && (*s == '-' || *s == '+'))
		neg = *s++ == '-';
	while (*s >= '0' && *s <= '9') {
		if (++digits > 6)
			return false;
		v = v * 10 + (*s++ - '0');
	}
	if (!digits || (*s && *s != ' ' && *s != '\t' && *s != ','))
		return false;
	*out = neg ? -v : v;
	*p = s;
	return true;
}

static bool at_end(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return !*p;
}

static bool valid_size(long w, long h)
{
	return w >= RESIZE_MIN && w <= RESIZE_MAX && h >= RESIZE_MIN && h <= RESIZE_MAX;
}

static char *do_layout(struct resize *rs, struct rect *mon, int n)
{
	char err[256];
	long minx = mon[0].x, miny = mon[0].y;
	gint64 t0 = g_get_monotonic_time();

	/* The host's origin may be anywhere ("display_global_offset"): ours is 0,0. */
	for (int i = 1; i < n; i++) {
		minx = MIN(minx, mon[i].x);
		miny = MIN(miny, mon[i].y);
	}
	for (int i = 0; i < n; i++) {
		mon[i].x -= minx;
		mon[i].y -= miny;
	}
	if (!apply_layout(rs, mon, n, err, sizeof(err))) {
		g_message("resize: %s", err);
		return g_strdup_printf(TCLO_FAILURE_PREFIX "%s", err);
	}
	g_message("resize: screen now %ldx%ld%s (%.1f ms)", mon[0].x + mon[0].w,
		  mon[0].y + mon[0].h, n > 1 ? " (first monitor)" : "",
		  (double)(g_get_monotonic_time() - t0) / 1000.0);
	return g_strdup(TCLO_SUCCESS_PREFIX);
}

/* "Resolution_Set <w> <h>" */
static char *resolution_set(struct resize *rs, const char *args)
{
	struct rect r = { 0, 0, 0, 0 };

	if (!next_long(&args, false, &r.w) || !next_long(&args, false, &r.h) || !at_end(args) ||
	    !valid_size(r.w, r.h))
		return g_strdup_printf(TCLO_FAILURE_PREFIX
				       "Invalid arguments: expected \"Resolution_Set <width> "
				       "<height>\", each %d..%d", RESIZE_MIN, RESIZE_MAX);
	return do_layout(rs, &r, 1);
}

/* "DisplayTopology_Set <n> , <x> <y> <w> <h> , ..." */
static char *topology_set(struct resize *rs, const char *args)
{
	struct rect mon[TOPOLOGY_MAX_MONITORS];
	long n;

	if (!next_long(&args, false, &n) || n < 1 || n > TOPOLOGY_MAX_MONITORS)
		goto bad;
	for (long i = 0; i < n; i++) {
		while (*args == ' ' || *args == '\t')
			args++;
		if (*args++ != ',')
			goto bad;
		if (!next_long(&args, true, &mon[i].x) || !next_long(&args, true, &mon[i].y) ||
		    !next_long(&args, false, &mon[i].w) || !next_long(&args, false, &mon[i].h) ||
		    !valid_size(mon[i].w, mon[i].h) || labs(mon[i].x) > RESIZE_MAX ||
		    labs(mon[i].y) > RESIZE_MAX)
			goto bad;
	}
	if (!at_end(args))
		goto bad;
	return do_layout(rs, mon, (int)n);
bad:
	return g_strdup_printf(TCLO_FAILURE_PREFIX
			       "Invalid arguments: expected \"DisplayTopology_Set <n> , <x> <y> "
			       "<w> <h> , ...\" with 1..%d monitors of %d..%d pixels",
			       TOPOLOGY_MAX_MONITORS, RESIZE_MIN, RESIZE_MAX);
}

static void send_rpci(const char *cmd)
{
	if (rpci_send_one(cmd, strlen(cmd), NULL, NULL) != 1)
		g_debug("RPCI '%s' was refused", cmd);
}

/* What VMware's resolutionSet plugin advertises (topology before resolution_set). */
static void register_capabilities(struct resize *rs)
{
	int minw = RESIZE_MIN, minh = RESIZE_MIN, maxw, maxh;
	char *min;

	XRRGetScreenSizeRange(rs->agent->dpy, rs->agent->root, &minw, &minh, &maxw, &maxh);
	send_rpci("tools.capability.display_topology_set 2");
	send_rpci("tools.capability.display_global_offset 1");
	send_rpci("tools.capability.resolution_set 1");
	send_rpci("tools.capability.resolution_server " PH_AGENT_TCLO_APP " 1");
	min = g_strdup_printf("tools.capability.resolution_min %d %d", MAX(minw, RESIZE_MIN),
			      MAX(minh, RESIZE_MIN));
	send_rpci(min);
	g_free(min);
}

static char *dispatch(struct resize *rs, const char *msg)
{
	size_t n = strcspn(msg, " ");
	const char *args = msg[n] ? msg + n + 1 : "";

	if (n == 5 && !strncmp(msg, "reset", n))
		return g_strdup(TCLO_SUCCESS_PREFIX "ATR " PH_AGENT_TCLO_APP);
	if (n == 4 && !strncmp(msg, "ping", n))
		return g_strdup(TCLO_SUCCESS_PREFIX);
	if (n == 21 && !strncmp(msg, "Capabilities_Register", n)) {
		register_capabilities(rs);
		return g_strdup(TCLO_SUCCESS_PREFIX);
	}
	if (n == 14 && !strncmp(msg, "Resolution_Set", n))
		return resolution_set(rs, args);
	if (n == 19 && !strncmp(msg, "DisplayTopology_Set", n))
		return topology_set(rs, args);
	return g_strdup(TCLO_FAILURE_PREFIX TCLO_UNKNOWN_COMMAND);
}

/* ---- the TCLO loop ---- */

static gboolean tclo_poll(gpointer data);
static gboolean tclo_retry(gpointer data);

static void channel_lost(struct resize *rs, const char *what)
{
	if (!rs->failing)
		g_warning("resize: TCLO channel lost (%s: %s); reopening every %d ms", what,
			  rs->chan.err ? rs->chan.err : "unknown error", TCLO_RETRY_MS);
	rs->failing = true;
	rs->fail_logged_us = g_get_monotonic_time();
	msgchan_close(&rs->chan);
	g_clear_pointer(&rs->result, g_free);
	rs->poll_src = 0;
	if (!rs->retry_src)
		rs->retry_src = g_timeout_add(TCLO_RETRY_MS, tclo_retry, rs);
}

static bool tclo_open(struct resize *rs)
{
	if (msgchan_open(&rs->chan, TCLO_PROTOCOL_NUM)) {
		gint64 now = g_get_monotonic_time();

		if (!rs->failing || now - rs->fail_logged_us >= TCLO_RETRY_LOG_S * G_USEC_PER_SEC) {
			g_warning("resize: cannot open a TCLO channel: %s (retrying every %d ms)",
				  rs->chan.err ? rs->chan.err : "unknown error", TCLO_RETRY_MS);
			rs->fail_logged_us = now;
		}
		rs->failing = true;
		return false;
	}
	if (rs->failing)
		g_message("resize: TCLO channel %u open again", rs->chan.id);
	rs->failing = false;
	rs->delay_ms = 0;
	g_clear_pointer(&rs->result, g_free);
	rs->poll_src = g_timeout_add(0, tclo_poll, rs);
	return true;
}

static gboolean tclo_retry(gpointer data)
{
	struct resize *rs = data;

	if (!tclo_open(rs))
		return G_SOURCE_CONTINUE;
	rs->retry_src = 0;
	return G_SOURCE_REMOVE;
}

static gboolean tclo_poll(gpointer data)
{
	struct resize *rs = data;
	unsigned int old_delay = rs->delay_ms;
	size_t rlen = rs->result ? strlen(rs->result) : 0;
	char *msg = NULL;
	size_t len;

	/* The first send is empty: "here I am". */
	if (msgchan_send(&rs->chan, rs->result, rlen)) {
		channel_lost(rs, "send");
		return G_SOURCE_REMOVE;
	}
	g_clear_pointer(&rs->result, g_free);
	if (msgchan_recv(&rs->chan, &msg, &len)) {
		channel_lost(rs, "receive");
		return G_SOURCE_REMOVE;
	}
	if (msg) {
		if (strlen(msg) != len) {
			rs->result = g_strdup(TCLO_FAILURE_PREFIX "NUL byte in the command");
		} else {
			g_debug("TCLO: %s", msg);
			rs->result = dispatch(rs, msg);
		}
		free(msg);
		rs->delay_ms = 0;
	} else if (rs->delay_ms >= TCLO_POLL_MAX_MS && rs->wakeups && rs->agent->have_vmci) {
		/* Idle: the host wakes us when it has a command. */
		rs->delay_ms = TCLO_IDLE_POLL_MS;
	} else {
		rs->delay_ms = rs->delay_ms ? MIN(rs->delay_ms * 2, TCLO_POLL_MAX_MS) : 10;
	}
	if (rs->delay_ms == old_delay)
		return G_SOURCE_CONTINUE;
	rs->poll_src = g_timeout_add(rs->delay_ms, tclo_poll, rs);
	return G_SOURCE_REMOVE;
}

/* A wakeup datagram: the hypervisor queued a command for us; poll now. */
static void on_wakeup(struct agent *a, const struct phg_dg *d, void *opaque)
{
	struct resize *rs = opaque;

	(void)a;
	if (d->hdr.src.context != VMCI_HYPERVISOR_CONTEXT_ID) {
		g_debug("resize: wakeup from context %u ignored", d->hdr.src.context);
		return;
	}
	/* No channel (the retry timer reopens it), or a poll already due now. */
	if (!rs->poll_src || rs->delay_ms == 0)
		return;
	g_source_remove(rs->poll_src);
	rs->delay_ms = 0;
	rs->poll_src = g_timeout_add(0, tclo_poll, rs);
}

/* ---- module ---- */

static int resize_init(struct agent *a, void **state)
{
	struct resize *rs;
	int event_base, error_base, major = 0, minor = 0;
	int64_t r;

	if (!XRRQueryExtension(a->dpy, &event_base, &error_base) ||
	    !XRRQueryVersion(a->dpy, &major, &minor) || major < 1 ||
	    (major == 1 && minor < 2)) {
		g_message("resize: the X server has no RandR 1.2 (%d.%d)", major, minor);
		return -EOPNOTSUPP;
	}
	if (!bdoor_detect(NULL)) {
		g_message("resize: no VMware backdoor: not in a Porthole/VMware VM");
		return -ENODEV;
	}
	rs = g_new0(struct resize, 1);
	rs->agent = a;
	r = agent_bind(a, PH_DESKTOP_RES_TCLO_WAKEUP, on_wakeup, rs);
	rs->wakeups = r == 0;
	if (!rs->wakeups)
		g_message("resize: no TCLO wakeups (VMCI %lld): polling VMware's way",
			  (long long)r);
	if (!tclo_open(rs))
		rs->retry_src = g_timeout_add(TCLO_RETRY_MS, tclo_retry, rs);
	*state = rs;
	return 0;
}

static void resize_fini(struct agent *a, void *state)
{
	struct resize *rs = state;

	if (rs->poll_src)
		g_source_remove(rs->poll_src);
	if (rs->retry_src)
		g_source_remove(rs->retry_src);
	if (rs->chan.open) {
		if (rs->result)
			msgchan_send(&rs->chan, rs->result, strlen(rs->result));
		msgchan_close(&rs->chan);
	}
	g_free(rs->result);
	g_free(rs);
}

const struct agent_module agent_resize = {
	.name = "resize",
	.init = resize_init,
	.fini = resize_fini,
};
