// SPDX-License-Identifier: MIT
/*
 * Paravirtual video, guest side: a copy of the X screen in guest pages that
 * the host viewer maps in place (backdoor/video.h), kept current from
 * XDamage and announced with dirty rectangles.
 *
 * Pixels: when the X server speaks MIT-SHM 1.2, the guest RAM file itself is
 * attached as a shared-memory segment and XShmGetImage writes each damaged
 * band straight into the framebuffer pages (no copy in the agent); otherwise
 * XGetImage and a row copy.  Bands are full rows: with stride == width * 4 a
 * band of rows is one contiguous run of the framebuffer, which is what
 * ShmGetImage can fill.
 *
 * Flow control: damage is reported NonEmpty (one event until we subtract),
 * so a busy screen costs one event per update, and updates go out at most
 * every MIN_UPDATE_INTERVAL_US; the first damage after a quiet spell goes
 * out at once.  With no viewer attached we don't subtract, so the X server
 * stops sending damage events: idle (or unwatched) means no CPU and no
 * datagrams.  Nothing runs on a timer unless an update is pending.
 *
 * Resize: a new buffer is allocated and filled before it is announced with
 * a new generation; the old one is freed when the host acknowledges the new
 * generation, or after PH_VIDEO_RETIRE_MS.
 *
 * The screen size also goes to the host as guestinfo.porthole.screen (RPCI
 * info-set), at start and after every change, VMCI or not.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <X11/Xlib-xcb.h>
#include <X11/extensions/Xdamage.h>
#include <X11/extensions/Xfixes.h>
#include <X11/extensions/Xrandr.h>
#include <xcb/shm.h>

#include "agent.h"
#include "backdoor/msgchan.h"
#include "backdoor/video.h"

/* At most one update datagram per 8 ms (125/s): the channel can't flood. */
#define MIN_UPDATE_INTERVAL_US	8000
/* Retry delay after the host's queue was full (VMCI_ERROR_NO_RESOURCES). */
#define RETRY_INTERVAL_MS	16

struct framebuffer {
	uint32_t generation;
	uint32_t width, height, stride;
	int64_t first_ppn;
	uint64_t npages;
	uint8_t *map;
	guint retire_timer;		/* retired buffers: the free timeout */
	struct video *owner;
};

struct video {
	struct agent *agent;
	int damage_event;
	int rr_event;			/* RandR's first event, or -1 */
	Damage damage;
	XserverRegion parts;		/* scratch region for XDamageSubtract */
	xcb_connection_t *xcb;
	xcb_shm_seg_t seg;		/* guest RAM attached to the X server, or 0 */
	uint64_t ram_size;

	struct framebuffer *fb;		/* the current buffer, or NULL */
	GSList *retired;		/* older buffers the host may still read */
	uint32_t generation;
	bool host_present;		/* a viewer said hello and takes datagrams */
	bool viewer_seen;		/* one took a datagram since the agent started */
	bool send_full;			/* the last update was lost: resend everything */
	guint flush_timer;
	int64_t last_flush_us;
	int screen_width, screen_height;	/* last size reported over RPCI */

	uint64_t updates_sent, log_budget;
};

static void report_screen_size(struct video *vd, int width, int height)
{
	char cmd[64];
	int r;

	if (width == vd->screen_width && height == vd->screen_height)
		return;
	vd->screen_width = width;
	vd->screen_height = height;
	snprintf(cmd, sizeof(cmd), "info-set guestinfo.porthole.screen %dx%d", width, height);
	r = rpci_send_one(cmd, strlen(cmd), NULL, NULL);
	if (r != 1)
		g_message("video: could not report the screen size to the host (%s)",
			  r < 0 ? "no backdoor" : "refused");
}

static void screen_size(struct video *vd, int *width, int *height)
{
	Window root_ret;
	int x, y;
	unsigned int w = 0, h = 0, border, depth;

	XGetGeometry(vd->agent->dpy, vd->agent->root, &root_ret, &x, &y, &w, &h, &border, &depth);
	*width = (int)w;
	*height = (int)h;
}

/* ---- framebuffers ---- */

static void fb_free(struct framebuffer *fb)
{
	struct video *vd = fb->owner;

	if (fb->retire_timer)
		g_source_remove(fb->retire_timer);
	phg_pages_free(&vd->agent->vmci, (uint64_t)fb->first_ppn, fb->npages, fb->map);
	g_free(fb);
}

static struct framebuffer *fb_alloc(struct video *vd, int width, int height)
{
	struct framebuffer *fb;
	uint64_t bytes;

	if (width <= 0 || height <= 0 || (uint32_t)width > PH_VIDEO_MAX_DIM ||
	    (uint32_t)height > PH_VIDEO_MAX_DIM) {
		g_warning("video: screen %dx%d is beyond what the host accepts", width, height);
		return NULL;
	}
	fb = g_new0(struct framebuffer, 1);
	fb->owner = vd;
	fb->width = (uint32_t)width;
	fb->height = (uint32_t)height;
	fb->stride = fb->width * 4;
	bytes = (uint64_t)fb->stride * fb->height;
	fb->npages = (bytes + VMCI_PAGE_SIZE - 1) / VMCI_PAGE_SIZE;
	fb->first_ppn = phg_pages_alloc(&vd->agent->vmci, fb->npages, (void **)&fb->map);
	if (fb->first_ppn < 0) {
		g_warning("video: no guest pages for a %dx%d framebuffer (VMCI error %lld)",
			  width, height, (long long)fb->first_ppn);
		g_free(fb);
		return NULL;
	}
	fb->generation = ++vd->generation;
	return fb;
}

/* Copy rows [y, y + h) of the screen into the buffer. */
static void fb_grab_rows(struct video *vd, struct framebuffer *fb, uint32_t y, uint32_t h)
{
	Display *dpy = vd->agent->dpy;
	uint64_t offset = (uint64_t)fb->first_ppn * VMCI_PAGE_SIZE + (uint64_t)y * fb->stride;
	XImage *img;

	if (vd->seg && offset + (uint64_t)h * fb->stride <= UINT32_MAX) {
		xcb_generic_error_t *err = NULL;
		xcb_shm_get_image_reply_t *rep = xcb_shm_get_image_reply(
			vd->xcb, xcb_shm_get_image(vd->xcb, vd->agent->root, 0, (int16_t)y,
						   (uint16_t)fb->width, (uint16_t)h, ~0u,
						   XCB_IMAGE_FORMAT_Z_PIXMAP, vd->seg,
						   (uint32_t)offset), &err);

		free(rep);
		/*
		 * Events that came in while xcb waited for the reply sit in xcb's
		 * queue, where main.c's X source (socket + Xlib's queue) can't see
		 * them: move them to Xlib's queue.
		 */
		XEventsQueued(dpy, QueuedAfterReading);
		if (!err)
			return;
		/* Mid-resize the screen can be smaller than the buffer for a moment. */
		if (vd->log_budget++ < 10)
			g_message("video: ShmGetImage of rows %u+%u failed (X error %d)", y, h,
				  err->error_code);
		free(err);
		return;
	}
	img = XGetImage(dpy, vd->agent->root, 0, (int)y, fb->width, h, AllPlanes, ZPixmap);
	if (!img)
		return;
	if (img->bits_per_pixel == 32)
		for (uint32_t row = 0; row < h; row++)
			memcpy(fb->map + (uint64_t)(y + row) * fb->stride,
			       img->data + (size_t)row * img->bytes_per_line, fb->width * 4);
	XDestroyImage(img);
}

/* ---- datagrams to the host ---- */

static gboolean on_flush_timer(gpointer data);

static void note_send_result(struct video *vd, int64_t r)
{
	if (r >= 0) {
		vd->viewer_seen = true;
		return;
	}
	if (r == VMCI_ERROR_NO_RESOURCES) {
		/* The host is behind: tell it everything again a bit later. */
		vd->send_full = true;
		if (!vd->flush_timer)
			vd->flush_timer = g_timeout_add(RETRY_INTERVAL_MS, on_flush_timer, vd);
		return;
	}
	/* The first send only probes for a viewer started before us: none is no news. */
	if (vd->host_present && vd->viewer_seen)
		g_message("video: the viewer went away (VMCI error %lld); idle until it says hello",
			  (long long)r);
	else if (vd->host_present)
		g_message("video: no viewer attached yet; waiting for one to say hello");
	vd->host_present = false;
}

static void send_fb(struct video *vd)
{
	struct framebuffer *fb = vd->fb;
	struct ph_video_fb m = {
		.hdr = { PH_VIDEO_FB, fb->generation },
		.width = fb->width, .height = fb->height, .stride = fb->stride,
		.format = PH_VIDEO_FORMAT_XRGB8888,
		.first_ppn = (uint64_t)fb->first_ppn, .npages = fb->npages,
	};

	note_send_result(vd, agent_send(vd->agent, PH_DESKTOP_RES_VIDEO, &m, sizeof(m)));
}

static void send_rects(struct video *vd, const struct ph_video_rect *rects, uint32_t n)
{
	struct {
		struct ph_video_dirty d;
		struct ph_video_rect r[PH_VIDEO_MAX_RECTS];
	} m = { .d = { .hdr = { PH_VIDEO_DIRTY, vd->fb->generation }, .count = n } };

	memcpy(m.r, rects, n * sizeof(*rects));
	note_send_result(vd, agent_send(vd->agent, PH_DESKTOP_RES_VIDEO, &m,
					sizeof(m.d) + n * sizeof(*rects)));
	vd->updates_sent++;
}

/* Fill the whole current buffer (unless just done) and say it all changed. */
static void send_full_update(struct video *vd, bool grab)
{
	struct ph_video_rect all = { 0, 0, vd->fb->width, vd->fb->height };

	vd->send_full = false;
	if (grab) {
		XDamageSubtract(vd->agent->dpy, vd->damage, None, None);
		fb_grab_rows(vd, vd->fb, 0, vd->fb->height);
	}
	send_rects(vd, &all, 1);
}

/* ---- damage -> rectangles -> update ---- */

static int cmp_rect_y(const void *a, const void *b)
{
	const struct ph_video_rect *ra = a, *rb = b;

	return ra->y < rb->y ? -1 : ra->y > rb->y;
}

static void flush_damage(struct video *vd)
{
	struct framebuffer *fb = vd->fb;
	struct ph_video_rect rects[PH_VIDEO_MAX_RECTS];
	XRectangle *xr, bounds;
	uint32_t n = 0, band_y = 0, band_end = 0;
	int nx = 0;

	vd->last_flush_us = g_get_monotonic_time();
	if (!fb || !vd->host_present)
		return;
	if (vd->send_full) {
		send_full_update(vd, true);
		return;
	}
	XDamageSubtract(vd->agent->dpy, vd->damage, None, vd->parts);
	xr = XFixesFetchRegionAndBounds(vd->agent->dpy, vd->parts, &nx, &bounds);
	if (nx > (int)PH_VIDEO_MAX_RECTS) {
		/* Too many pieces: one rectangle around all of them. */
		nx = 1;
		xr[0] = bounds;
	}
	for (int i = 0; i < nx; i++) {
		int64_t x0 = MAX(xr[i].x, 0), y0 = MAX(xr[i].y, 0);
		int64_t x1 = MIN((int64_t)xr[i].x + xr[i].width, (int64_t)fb->width);
		int64_t y1 = MIN((int64_t)xr[i].y + xr[i].height, (int64_t)fb->height);

		if (x1 <= x0 || y1 <= y0)
			continue;
		rects[n++] = (struct ph_video_rect){ (uint32_t)x0, (uint32_t)y0,
						     (uint32_t)(x1 - x0), (uint32_t)(y1 - y0) };
	}
	if (xr)
		XFree(xr);
	if (!n)
		return;
	/* Grab each run of rows once, even where rectangles share rows. */
	qsort(rects, n, sizeof(rects[0]), cmp_rect_y);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t y0 = rects[i].y, y1 = rects[i].y + rects[i].height;

		if (band_end > band_y && y0 <= band_end) {
			band_end = MAX(band_end, y1);
			continue;
		}
		if (band_end > band_y)
			fb_grab_rows(vd, fb, band_y, band_end - band_y);
		band_y = y0;
		band_end = y1;
	}
	fb_grab_rows(vd, fb, band_y, band_end - band_y);
	send_rects(vd, rects, n);
}

static gboolean on_flush_timer(gpointer data)
{
	struct video *vd = data;

	vd->flush_timer = 0;
	flush_damage(vd);
	return G_SOURCE_REMOVE;	/* flush_damage() may have armed a new one */
}

static void schedule_flush(struct video *vd)
{
	int64_t wait_us;

	if (vd->flush_timer)
		return;
	wait_us = vd->last_flush_us + MIN_UPDATE_INTERVAL_US - g_get_monotonic_time();
	if (wait_us <= 0) {
		flush_damage(vd);	/* a lost update arms the retry timer */
		return;
	}
	vd->flush_timer = g_timeout_add(MAX((guint)(wait_us / 1000), 1u), on_flush_timer, vd);
}

/* ---- resize ---- */

static gboolean on_retire_timeout(gpointer data)
{
	struct framebuffer *fb = data;
	struct video *vd = fb->owner;

	fb->retire_timer = 0;
	vd->retired = g_slist_remove(vd->retired, fb);
	fb_free(fb);
	return G_SOURCE_REMOVE;
}

/* The host switched to `generation`: buffers older than it are unused. */
static void free_retired_before(struct video *vd, uint32_t generation)
{
	for (GSList *l = vd->retired; l;) {
		struct framebuffer *fb = l->data;

		l = l->next;
		if ((int32_t)(fb->generation - generation) < 0) {
			vd->retired = g_slist_remove(vd->retired, fb);
			fb_free(fb);
		}
	}
}

static void screen_changed(struct video *vd)
{
	struct framebuffer *old = vd->fb, *fb;
	int width, height;

	screen_size(vd, &width, &height);
	report_screen_size(vd, width, height);
	if (!vd->damage || (old && old->width == (uint32_t)width && old->height == (uint32_t)height))
		return;
	fb = fb_alloc(vd, width, height);
	if (!fb)
		return;		/* keep showing the old buffer */
	vd->fb = fb;
	g_message("video: screen is %dx%d now (generation %u)", width, height, fb->generation);
	if (vd->host_present) {
		/* Fill, then announce: the host never sees a half-made buffer. */
		XDamageSubtract(vd->agent->dpy, vd->damage, None, None);
		fb_grab_rows(vd, fb, 0, fb->height);
		send_fb(vd);
		if (vd->host_present)
			send_full_update(vd, false);
	}
	if (!old)
		return;
	if (!vd->host_present) {
		fb_free(old);
		return;
	}
	old->retire_timer = g_timeout_add(PH_VIDEO_RETIRE_MS, on_retire_timeout, old);
	vd->retired = g_slist_prepend(vd->retired, old);
}

/* ---- event handlers ---- */

static bool on_x_event(struct agent *a, XEvent *ev, void *opaque)
{
	struct video *vd = opaque;

	if (vd->damage && ev->type == vd->damage_event + XDamageNotify) {
		if (vd->host_present)
			schedule_flush(vd);
		return true;
	}
	if (ev->type == ConfigureNotify && ev->xconfigure.window == a->root) {
		screen_changed(vd);
		return false;	/* the resize module may want it too */
	}
	return false;
}

static bool on_rr_event(struct agent *a, XEvent *ev, void *opaque)
{
	struct video *vd = opaque;

	if (ev->type == vd->rr_event + RRScreenChangeNotify) {
		XRRUpdateConfiguration(ev);
		screen_changed(vd);
	}
	return false;
}

static void on_datagram(struct agent *a, const struct phg_dg *d, void *opaque)
{
	struct video *vd = opaque;
	union ph_video_msg m;
	const char *why = NULL;

	if (d->hdr.src.context != VMCI_HOST_CONTEXT_ID) {
		g_debug("video: datagram from context %u dropped", d->hdr.src.context);
		return;
	}
	switch (ph_video_parse(d->payload, d->hdr.payload_size, &m, &why)) {
	case PH_VIDEO_HELLO:
		if (!vd->fb)
			return;
		if (!vd->host_present)
			g_message("video: a viewer attached");
		vd->host_present = true;
		XDamageSubtract(a->dpy, vd->damage, None, None);
		fb_grab_rows(vd, vd->fb, 0, vd->fb->height);
		send_fb(vd);
		if (vd->host_present)
			send_full_update(vd, false);
		break;
	case PH_VIDEO_FB_ACK:
		free_retired_before(vd, m.hdr.generation);
		break;
	case -1:
		g_debug("video: %s dropped", why);
		break;
	default:
		g_debug("video: message type %u is not for the guest; dropped", m.hdr.type);
	}
}

/* Attach the guest RAM file to the X server as a MIT-SHM 1.2 segment. */
static void attach_ram_segment(struct video *vd)
{
	xcb_shm_query_version_reply_t *ver;
	xcb_generic_error_t *err;
	int fd;

	vd->xcb = XGetXCBConnection(vd->agent->dpy);
	ver = xcb_shm_query_version_reply(vd->xcb, xcb_shm_query_version(vd->xcb), NULL);
	if (!ver || ver->major_version < 1 || (ver->major_version == 1 && ver->minor_version < 2)) {
		g_message("video: X server without MIT-SHM 1.2; copying with XGetImage");
		free(ver);
		return;
	}
	free(ver);
	fd = dup(vd->agent->vmci.ram_fd);	/* xcb closes the one it sends */
	if (fd < 0)
		return;
	vd->seg = xcb_generate_id(vd->xcb);
	err = xcb_request_check(vd->xcb, xcb_shm_attach_fd_checked(vd->xcb, vd->seg, fd, 0));
	if (err) {
		g_message("video: X server refused the guest RAM segment (X error %d); "
			  "copying with XGetImage", err->error_code);
		free(err);
		vd->seg = 0;
	}
	XEventsQueued(vd->agent->dpy, QueuedAfterReading);	/* see fb_grab_rows() */
}

static int video_init(struct agent *a, void **state)
{
	struct video *vd = g_new0(struct video, 1);
	XWindowAttributes attrs;
	int damage_error, fixes_event, fixes_error, width, height;

	vd->agent = a;
	vd->damage_event = vd->rr_event = -1;
	*state = vd;
	/* Size changes: root ConfigureNotify, and RandR's own event. */
	XGetWindowAttributes(a->dpy, a->root, &attrs);
	XSelectInput(a->dpy, a->root, attrs.your_event_mask | StructureNotifyMask);
	if (XRRQueryExtension(a->dpy, &vd->rr_event, &damage_error)) {
		XRRSelectInput(a->dpy, a->root, RRScreenChangeNotifyMask);
		agent_watch_x(a, on_rr_event, vd);
	}
	screen_size(vd, &width, &height);
	report_screen_size(vd, width, height);
	agent_watch_x(a, on_x_event, vd);

	if (!a->have_vmci) {
		g_message("video: no VMCI channel; only reporting the screen size");
		return 0;
	}
	if (DefaultDepth(a->dpy, a->screen) != 24 ||
	    !XDamageQueryExtension(a->dpy, &vd->damage_event, &damage_error) ||
	    !XFixesQueryExtension(a->dpy, &fixes_event, &fixes_error)) {
		g_message("video: needs a 24-bit screen, XDamage and XFixes; only reporting the "
			  "screen size");
		return 0;
	}
	vd->ram_size = a->vmci.ram_size;
	attach_ram_segment(vd);
	vd->fb = fb_alloc(vd, width, height);
	if (!vd->fb)
		return 0;
	if (agent_bind(a, PH_DESKTOP_RES_VIDEO, on_datagram, vd) < 0) {
		g_message("video: resource %u is taken (another agent?); video is off",
			  PH_DESKTOP_RES_VIDEO);
		fb_free(vd->fb);
		vd->fb = NULL;
		return 0;
	}
	/* Track damage before the first grab, so nothing drawn in between is lost. */
	vd->damage = XDamageCreate(a->dpy, a->root, XDamageReportNonEmpty);
	vd->parts = XFixesCreateRegion(a->dpy, NULL, 0);
	/* A viewer that is already there gets the screen now; otherwise at its hello. */
	vd->host_present = true;
	fb_grab_rows(vd, vd->fb, 0, vd->fb->height);
	send_fb(vd);
	if (vd->host_present)
		send_full_update(vd, false);
	g_message("video: %dx%d framebuffer at guest page %lld (%s)", width, height,
		  (long long)vd->fb->first_ppn, vd->seg ? "MIT-SHM into guest RAM" : "XGetImage");
	return 0;
}

static void video_fini(struct agent *a, void *state)
{
	struct video *vd = state;

	if (vd->flush_timer)
		g_source_remove(vd->flush_timer);
	if (vd->damage) {
		XDamageDestroy(a->dpy, vd->damage);
		XFixesDestroyRegion(a->dpy, vd->parts);
	}
	if (vd->seg)
		xcb_shm_detach(vd->xcb, vd->seg);
	g_slist_free_full(vd->retired, (GDestroyNotify)fb_free);
	if (vd->fb)
		fb_free(vd->fb);
	g_message("video: %llu updates sent", (unsigned long long)vd->updates_sent);
	g_free(vd);
}

const struct agent_module agent_video = {
	.name = "video",
	.init = video_init,
	.fini = video_fini,
};
