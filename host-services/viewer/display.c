// SPDX-License-Identifier: MIT
/*
 * The viewer's window: the guest framebuffer (backdoor/video.h), mapped
 * straight from guest RAM, repainted a dirty rectangle at a time.
 *
 * Painting: when the host X server speaks MIT-SHM 1.2 (a local display),
 * the guest RAM file is attached to it once per attachment as a read-only
 * shared-memory segment and every dirty rectangle is one ShmPutImage at the
 * framebuffer's offset: no copy in the viewer at all.  Otherwise (a remote
 * display, or a framebuffer above 4 GiB, where ShmPutImage's 32-bit offset
 * can't reach) XPutImage from an XImage laid over the mapped pages.
 *
 * The guest is hostile: descriptors are checked (ph_video_fb_check) before
 * anything is mapped, rectangles are clipped, datagrams must have their
 * exact size, and what is refused is logged at a bounded rate.  Reading
 * pages the guest changes under us only ever costs a torn picture.
 *
 * Without the VM the window stays, grey, saying so; closing the window
 * quits the viewer and leaves the VM running.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <X11/Xlib-xcb.h>
#include <X11/Xutil.h>
#include <xcb/shm.h>

#include "backdoor/video.h"
#include "viewer.h"

#define INITIAL_WIDTH	1024
#define INITIAL_HEIGHT	768
/* Refusals logged per LOG_WINDOW_US; the rest are counted. */
#define LOG_BURST	5
#define LOG_WINDOW_US	(10 * G_USEC_PER_SEC)

struct display {
	struct viewer *v;
	GC gc;				/* fills and XPutImage (Xlib) */
	GC shm_gc;			/* ShmPutImage only: never changed through Xlib */
	Atom wm_protocols, wm_delete;
	xcb_connection_t *xcb;
	bool shm_capable;		/* MIT-SHM 1.2 and a 24-bit 32 bpp LSB visual */
	xcb_shm_seg_t seg;		/* this attachment's guest RAM, or 0 */
	unsigned long grey, black, white;
	XFontStruct *font;		/* for the waiting text, or NULL */
	bool vm_gone;			/* detached (main.c clears `attached` after us) */

	bool have_fb;
	struct ph_video_fb fb;		/* validated descriptor */
	uint8_t *map;			/* the mapped pages */
	size_t map_len;
	XImage *image;			/* over `map`, for XPutImage */

	int win_width, win_height;
	int asked_width, asked_height;	/* our last XResizeWindow */
	bool user_sized;		/* someone else resized the window */

	/*
	 * Rectangles to paint once the datagrams queued now are read: a burst
	 * (a guest flooding, or a backlog after a stall) is painted once.
	 */
	struct ph_video_rect pending[PH_VIDEO_MAX_RECTS];
	uint32_t npending;
	guint paint_source;

	uint64_t updates, refused, log_window_start;
	unsigned int logged_in_window;
};

static void refuse(struct display *d, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* A log line for a refused guest message, at a bounded rate. */
static void refuse(struct display *d, const char *fmt, ...)
{
	int64_t now = g_get_monotonic_time();
	va_list ap;
	char *text;

	d->refused++;
	if (now - (int64_t)d->log_window_start > LOG_WINDOW_US) {
		d->log_window_start = (uint64_t)now;
		d->logged_in_window = 0;
	}
	if (d->logged_in_window++ >= LOG_BURST)
		return;
	va_start(ap, fmt);
	text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_warning("display: VM '%s': refused %s (%llu refused so far)", d->v->vm_name, text,
		  (unsigned long long)d->refused);
	g_free(text);
}

/* ---- painting ---- */

static void fill(struct display *d, unsigned long pixel, int x, int y, int w, int h)
{
	if (w <= 0 || h <= 0)
		return;
	XSetForeground(d->v->dpy, d->gc, pixel);
	XFillRectangle(d->v->dpy, d->v->window, d->gc, x, y, (unsigned)w, (unsigned)h);
}

/* Guest pixels of a rectangle already clipped to the framebuffer. */
static void put_rect(struct display *d, const struct ph_video_rect *r)
{
	uint64_t offset = d->fb.first_ppn * VMCI_PAGE_SIZE;

	if (d->seg && offset <= UINT32_MAX - (uint64_t)d->fb.stride * d->fb.height) {
		xcb_shm_put_image(d->xcb, (xcb_drawable_t)d->v->window,
				  (xcb_gcontext_t)XGContextFromGC(d->shm_gc),
				  (uint16_t)(d->fb.stride / 4), (uint16_t)d->fb.height,
				  (uint16_t)r->x, (uint16_t)r->y, (uint16_t)r->width,
				  (uint16_t)r->height, (int16_t)r->x, (int16_t)r->y, 24,
				  XCB_IMAGE_FORMAT_Z_PIXMAP, 0, d->seg, (uint32_t)offset);
		return;
	}
	XPutImage(d->v->dpy, d->v->window, d->gc, d->image, (int)r->x, (int)r->y, (int)r->x,
		  (int)r->y, r->width, r->height);
}

static void paint_waiting(struct display *d, const char *text)
{
	Display *dpy = d->v->dpy;
	int tw = d->font ? XTextWidth(d->font, text, (int)strlen(text)) : 0;

	fill(d, d->grey, 0, 0, d->win_width, d->win_height);
	XSetForeground(dpy, d->gc, d->white);
	XDrawString(dpy, d->v->window, d->gc, MAX((d->win_width - tw) / 2, 4),
		    d->win_height / 2, text, (int)strlen(text));
}

/* Repaint a window area from the framebuffer (black outside it). */
static void paint_area(struct display *d, int x, int y, int w, int h)
{
	if (!d->have_fb) {
		char *text = d->v->attached && !d->vm_gone ?
			g_strdup_printf("VM '%s': waiting for the guest's screen (porthole-agent)",
					d->v->vm_name) :
			g_strdup_printf("VM '%s' is not running - waiting", d->v->vm_name);

		paint_waiting(d, text);
		g_free(text);
		return;
	}
	if (x < 0 || y < 0 || w <= 0 || h <= 0)
		return;
	{
		struct ph_video_rect r = { (uint32_t)x, (uint32_t)y, (uint32_t)w, (uint32_t)h };

		if (ph_video_rect_clip(&r, d->fb.width, d->fb.height))
			put_rect(d, &r);
	}
	/* The window beyond the guest screen, right and below. */
	fill(d, d->black, MAX(x, (int)d->fb.width), y, x + w - MAX(x, (int)d->fb.width), h);
	fill(d, d->black, x, MAX(y, (int)d->fb.height), MIN(x + w, (int)d->fb.width) - x,
	     y + h - MAX(y, (int)d->fb.height));
}

static void repaint_all(struct display *d)
{
	if (!d->v->window)
		return;
	/* The window may have grown since: paint at least all of it. */
	paint_area(d, 0, 0, MAX(d->win_width, (int)d->fb.width),
		   MAX(d->win_height, (int)d->fb.height));
	XFlush(d->v->dpy);
}

/* ---- the framebuffer ---- */

static void drop_fb(struct display *d)
{
	d->npending = 0;	/* rectangles of the old buffer */
	if (d->image) {
		d->image->data = NULL;	/* the pages aren't Xlib's to free */
		XDestroyImage(d->image);
		d->image = NULL;
	}
	if (d->map)
		munmap(d->map, d->map_len);
	d->map = NULL;
	d->have_fb = false;
	d->v->guest_width = d->v->guest_height = 0;
}

static void fit_window(struct display *d)
{
	int w = (int)d->fb.width, h = (int)d->fb.height;

	if (d->user_sized || (w == d->win_width && h == d->win_height))
		return;
	d->asked_width = w;
	d->asked_height = h;
	XResizeWindow(d->v->dpy, d->v->window, (unsigned)w, (unsigned)h);
}

static gboolean paint_pending(gpointer data)
{
	struct display *d = data;

	d->paint_source = 0;
	if (d->have_fb)
		for (uint32_t i = 0; i < d->npending; i++)
			put_rect(d, &d->pending[i]);
	d->npending = 0;
	XFlush(d->v->dpy);
	return G_SOURCE_REMOVE;
}

/* Queue a clipped rectangle for painting right after this batch of datagrams. */
static void add_pending(struct display *d, const struct ph_video_rect *r)
{
	ph_video_pending_add(d->pending, &d->npending, r);
	/* Same priority as the datagram watch: runs right after this batch. */
	if (!d->paint_source)
		d->paint_source = g_idle_add_full(G_PRIORITY_DEFAULT, paint_pending, d, NULL);
}

static void on_fb(struct display *d, const struct ph_video_fb *desc)
{
	struct viewer *v = d->v;
	uint64_t ram_pages = v->vmci.ram.size / VMCI_PAGE_SIZE;
	struct ph_video_hdr ack = { PH_VIDEO_FB_ACK, 0 };
	struct ph_video_fb fb = *desc;
	const char *why = NULL;
	uint64_t *ppns;
	uint8_t *map;

	if (ph_video_fb_check(&fb, ram_pages, &why) < 0) {
		refuse(d, "framebuffer %ux%u stride %u format %u pages %llu+%llu: %s", fb.width,
		       fb.height, fb.stride, fb.format, (unsigned long long)fb.first_ppn,
		       (unsigned long long)fb.npages, why);
		return;
	}
	ppns = g_new(uint64_t, fb.npages);
	for (uint64_t i = 0; i < fb.npages; i++)
		ppns[i] = fb.first_ppn + i;
	map = phh_map_ppns(v->vmci.ram.fd, v->vmci.ram.size, ppns, fb.npages);
	g_free(ppns);
	if (!map) {
		refuse(d, "framebuffer pages %llu+%llu: cannot map them",
		       (unsigned long long)fb.first_ppn, (unsigned long long)fb.npages);
		return;
	}
	drop_fb(d);
	d->fb = fb;
	d->map = map;
	d->map_len = fb.npages * VMCI_PAGE_SIZE;
	d->image = XCreateImage(v->dpy, DefaultVisual(v->dpy, v->screen), 24, ZPixmap, 0,
				(char *)map, fb.width, fb.height, 32, (int)fb.stride);
	if (d->image) {
		d->image->byte_order = LSBFirst;	/* XRGB8888 in memory: B G R X */
		XInitImage(d->image);
	}
	d->have_fb = d->image != NULL;
	v->guest_width = (int)fb.width;
	v->guest_height = (int)fb.height;
	g_message("display: guest screen %ux%u (generation %u)", fb.width, fb.height,
		  fb.hdr.generation);
	ack.generation = fb.hdr.generation;
	viewer_send(v, PH_DESKTOP_RES_VIDEO, &ack, sizeof(ack));
	fit_window(d);
	repaint_all(d);
}

static void on_dirty(struct display *d, const struct ph_video_update *u)
{
	if (!d->have_fb || u->hdr.generation != d->fb.hdr.generation)
		return;		/* for a buffer we no longer (or don't yet) show */
	for (uint32_t i = 0; i < u->count; i++) {
		struct ph_video_rect r = u->rects[i];

		if (ph_video_rect_clip(&r, d->fb.width, d->fb.height))
			add_pending(d, &r);
	}
	d->updates++;
}

static void on_datagram(struct viewer *v, const struct phh_dg *dg, void *opaque)
{
	struct display *d = opaque;
	union ph_video_msg m;
	const char *why = NULL;

	if (dg->hdr.src.context != VMCI_GUEST_CONTEXT_ID)
		return;
	switch (ph_video_parse(dg->payload, dg->hdr.payload_size, &m, &why)) {
	case PH_VIDEO_FB:
		on_fb(d, &m.fb);
		break;
	case PH_VIDEO_DIRTY:
		on_dirty(d, &m.dirty);
		break;
	case -1:
		refuse(d, "%s (%llu bytes)", why, (unsigned long long)dg->hdr.payload_size);
		break;
	default:
		refuse(d, "video message type %u", m.hdr.type);
	}
}

/* ---- the VM comes and goes ---- */

static void attach_ram_segment(struct display *d)
{
	xcb_generic_error_t *err;
	int fd;

	if (!d->shm_capable)
		return;
	fd = dup(d->v->vmci.ram.fd);	/* xcb closes the one it sends */
	if (fd < 0)
		return;
	d->seg = xcb_generate_id(d->xcb);
	err = xcb_request_check(d->xcb, xcb_shm_attach_fd_checked(d->xcb, d->seg, fd, 1));
	if (err) {
		/* A remote display can't take a file descriptor: XPutImage then. */
		g_message("display: X server can't attach guest RAM (X error %d); using XPutImage",
			  err->error_code);
		free(err);
		d->seg = 0;
	}
	/* Events read while xcb waited are in xcb's queue: hand them to Xlib's. */
	XEventsQueued(d->v->dpy, QueuedAfterReading);
}

static void display_attach(struct viewer *v, void *state)
{
	struct display *d = state;
	struct ph_video_hdr hello = { PH_VIDEO_HELLO, 0 };
	int r;

	if (!v->window)
		return;
	r = viewer_bind(v, PH_DESKTOP_RES_VIDEO, on_datagram, d);
	if (r < 0) {
		g_warning("display: cannot bind the video resource (%s)", g_strerror(-r));
		return;
	}
	d->vm_gone = false;
	attach_ram_segment(d);
	repaint_all(d);
	/* The agent answers with its framebuffer and a full update. */
	viewer_send(v, PH_DESKTOP_RES_VIDEO, &hello, sizeof(hello));
}

static void display_detach(struct viewer *v, void *state)
{
	struct display *d = state;

	if (!v->window)
		return;
	drop_fb(d);
	if (d->seg)
		xcb_shm_detach(d->xcb, d->seg);
	d->seg = 0;
	d->vm_gone = true;
	repaint_all(d);
}

/* ---- the window ---- */

static bool on_x_event(struct viewer *v, XEvent *ev, void *opaque)
{
	struct display *d = opaque;

	if (ev->xany.window != v->window)
		return false;
	switch (ev->type) {
	case Expose:
		paint_area(d, ev->xexpose.x, ev->xexpose.y, ev->xexpose.width, ev->xexpose.height);
		if (!ev->xexpose.count)
			XFlush(v->dpy);
		return true;
	case ConfigureNotify:
		if (ev->xconfigure.width != d->win_width || ev->xconfigure.height != d->win_height) {
			if (ev->xconfigure.width != d->asked_width ||
			    ev->xconfigure.height != d->asked_height)
				d->user_sized = true;
			d->win_width = ev->xconfigure.width;
			d->win_height = ev->xconfigure.height;
			if (!d->have_fb)
				repaint_all(d);
		}
		return false;	/* input.c turns user resizes into guest resizes */
	case ClientMessage:
		if (ev->xclient.message_type == d->wm_protocols &&
		    (Atom)ev->xclient.data.l[0] == d->wm_delete) {
			g_message("window closed; VM '%s' keeps running", v->vm_name);
			g_main_loop_quit(v->loop);
			return true;
		}
		return false;
	case DestroyNotify:
		g_message("window destroyed; VM '%s' keeps running", v->vm_name);
		v->window = None;
		g_main_loop_quit(v->loop);
		return true;
	default:
		return false;
	}
}

/* Can ShmPutImage show XRGB8888 pages as they are? */
static bool host_visual_matches(Display *dpy, int screen)
{
	Visual *vis = DefaultVisual(dpy, screen);
	int n = 0, bpp = 0;
	XPixmapFormatValues *f = XListPixmapFormats(dpy, &n);

	for (int i = 0; i < n; i++)
		if (f[i].depth == 24)
			bpp = f[i].bits_per_pixel;
	if (f)
		XFree(f);
	return DefaultDepth(dpy, screen) == 24 && bpp == 32 && ImageByteOrder(dpy) == LSBFirst &&
	       vis->red_mask == 0xff0000 && vis->green_mask == 0xff00 && vis->blue_mask == 0xff;
}

static int display_init(struct viewer *v, void **state)
{
	struct display *d;
	Display *dpy = v->dpy;
	char *title;
	xcb_shm_query_version_reply_t *ver;

	if (v->headless || !dpy) {
		g_message("display: headless, no window");
		return -ENOTSUP;	/* main.c adds "display: off" */
	}
	if (DefaultDepth(dpy, v->screen) != 24) {
		g_warning("display: the host screen must be 24-bit (it is %d-bit)",
			  DefaultDepth(dpy, v->screen));
		return -ENOTSUP;
	}
	d = g_new0(struct display, 1);
	d->v = v;
	d->xcb = XGetXCBConnection(dpy);
	ver = xcb_shm_query_version_reply(d->xcb, xcb_shm_query_version(d->xcb), NULL);
	/* PORTHOLE_VIEWER_NO_SHM=1: paint as for a remote display (tests). */
	d->shm_capable = ver && (ver->major_version > 1 ||
				 (ver->major_version == 1 && ver->minor_version >= 2)) &&
			 host_visual_matches(dpy, v->screen) &&
			 g_strcmp0(g_getenv("PORTHOLE_VIEWER_NO_SHM"), "1") != 0;
	free(ver);
	XEventsQueued(dpy, QueuedAfterReading);	/* as in attach_ram_segment() */
	d->black = BlackPixel(dpy, v->screen);
	d->white = WhitePixel(dpy, v->screen);
	d->grey = 0x606060;
	d->win_width = d->asked_width = INITIAL_WIDTH;
	d->win_height = d->asked_height = INITIAL_HEIGHT;
	v->window = XCreateSimpleWindow(dpy, RootWindow(dpy, v->screen), 0, 0, INITIAL_WIDTH,
					INITIAL_HEIGHT, 0, d->black, d->black);
	/* We paint every exposed pixel: no background clear, no flicker. */
	XSetWindowBackgroundPixmap(dpy, v->window, None);
	title = g_strdup_printf("%s - Porthole", v->vm_name);
	XStoreName(dpy, v->window, title);
	XChangeProperty(dpy, v->window, XInternAtom(dpy, "_NET_WM_NAME", False),
			XInternAtom(dpy, "UTF8_STRING", False), 8, PropModeReplace,
			(unsigned char *)title, (int)strlen(title));
	g_free(title);
	d->wm_protocols = XInternAtom(dpy, "WM_PROTOCOLS", False);
	d->wm_delete = XInternAtom(dpy, "WM_DELETE_WINDOW", False);
	XSetWMProtocols(dpy, v->window, &d->wm_delete, 1);
	XSelectInput(dpy, v->window,
		     ExposureMask | StructureNotifyMask | PointerMotionMask | ButtonPressMask |
		     ButtonReleaseMask | KeyPressMask | KeyReleaseMask | EnterWindowMask |
		     LeaveWindowMask | FocusChangeMask);
	d->gc = XCreateGC(dpy, v->window, 0, NULL);
	d->font = XLoadQueryFont(dpy, "fixed");
	if (d->font)
		XSetFont(dpy, d->gc, d->font->fid);
	d->shm_gc = XCreateGC(dpy, v->window, 0, NULL);
	XMapWindow(dpy, v->window);
	XFlush(dpy);
	viewer_watch_x(v, on_x_event, d);
	*state = d;
	g_message("display: window 0x%lx (%s)", v->window,
		  d->shm_capable ? "MIT-SHM from guest RAM when local" : "XPutImage");
	return 0;
}

static void display_fini(struct viewer *v, void *state)
{
	struct display *d = state;

	drop_fb(d);
	if (d->paint_source)
		g_source_remove(d->paint_source);
	if (v->window) {
		XFreeGC(v->dpy, d->gc);
		XFreeGC(v->dpy, d->shm_gc);
		if (d->font)
			XFreeFont(v->dpy, d->font);
		XDestroyWindow(v->dpy, v->window);
		v->window = None;
	}
	g_message("display: %llu updates shown, %llu guest messages refused",
		  (unsigned long long)d->updates, (unsigned long long)d->refused);
	g_free(d);
}

const struct viewer_module viewer_display = {
	.name = "display",
	.init = display_init,
	.attach = display_attach,
	.detach = display_detach,
	.fini = display_fini,
};
