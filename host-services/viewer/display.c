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
 * Fitting (virt-viewer's habits): the window's first size fits the host's
 * work area.  In resize-guest mode (the default) the guest is asked for the
 * window's size: after a user resize (300 ms of calm), at once when a
 * restarted VM comes back into a window that already showed one, and when a
 * guest larger than the work area first shows up.  Otherwise the window
 * follows the guest's own size changes, within the work area.  Whatever the
 * mode, a guest screen larger than the window is scaled down to fit, aspect
 * kept (letterboxed, centred), and shown 1:1 when it fits: XRender scales
 * from a copy of the guest screen on the X server (the dirty rectangles go
 * there instead of to the window), with a bilinear filter.  v->view_* says
 * where the picture is, for input.c's pointer mapping.
 *
 * Keys: F11 or Ctrl+Alt+F toggles full screen (EWMH, or by hand without a
 * window manager), which grabs the keyboard so the desktop's shortcuts go to
 * the guest; Ctrl+Alt (pressed and released alone) lets it go, as the title
 * says.  Ctrl+Alt+S switches between resizing the guest and scaling.
 *
 * The guest is hostile: descriptors are checked (ph_video_fb_check) before
 * anything is mapped, rectangles are clipped, datagrams must have their
 * exact size, and what is refused is logged at a bounded rate.  Reading
 * pages the guest changes under us only ever costs a torn picture.
 *
 * Without the VM the window stays, grey, saying so (and "(disconnected)" in
 * the title); closing the window quits the viewer and leaves the VM running.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <X11/Xlib-xcb.h>
#include <X11/Xutil.h>
#include <X11/extensions/Xrender.h>
#include <X11/keysym.h>
#include <xcb/shm.h>

#include "backdoor/video.h"
#include "viewer.h"
#include "common/x-window.h"

/* The first window, before any guest screen, within the work area. */
#define INITIAL_WIDTH	1024
#define INITIAL_HEIGHT	768
#define RESIZE_DEBOUNCE_MS	300
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
	bool shown_a_guest;		/* this window showed a guest screen before */
	bool fb_since_attach;		/* this attachment's guest sent its screen */
	bool window_decides;		/* until the guest has the window's size */
	struct guest_resize *resize;

	/* Scaling: the guest screen copied to the X server, when it's larger than the window. */
	bool have_render;
	Picture win_pict;
	Pixmap copy;			/* None while shown 1:1 */
	Picture copy_pict;

	bool fullscreen;
	bool wm_fullscreen;		/* the window manager does it (else we did) */
	int saved_x, saved_y, saved_w, saved_h;	/* the window before full screen */
	bool grabbed;			/* the keyboard */
	bool ctrl_alt_alone;		/* Ctrl+Alt down, nothing else since */

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

/* Guest pixels of a rectangle already clipped to the framebuffer, to (dx, dy) of `to`. */
static void put_rect(struct display *d, const struct ph_video_rect *r, Drawable to, int dx, int dy)
{
	uint64_t offset = d->fb.first_ppn * VMCI_PAGE_SIZE;

	if (d->seg && offset <= UINT32_MAX - (uint64_t)d->fb.stride * d->fb.height) {
		xcb_shm_put_image(d->xcb, (xcb_drawable_t)to,
				  (xcb_gcontext_t)XGContextFromGC(d->shm_gc),
				  (uint16_t)(d->fb.stride / 4), (uint16_t)d->fb.height,
				  (uint16_t)r->x, (uint16_t)r->y, (uint16_t)r->width,
				  (uint16_t)r->height, (int16_t)dx, (int16_t)dy, 24,
				  XCB_IMAGE_FORMAT_Z_PIXMAP, 0, d->seg, (uint32_t)offset);
		return;
	}
	XPutImage(d->v->dpy, to, d->gc, d->image, (int)r->x, (int)r->y, dx, dy, r->width,
		  r->height);
}

/* Window pixels of the view (already inside it) from the scaled copy. */
static void composite_area(struct display *d, int x, int y, int w, int h)
{
	struct viewer *v = d->v;

	XRenderComposite(v->dpy, PictOpSrc, d->copy_pict, None, d->win_pict, x - v->view_x,
			 y - v->view_y, 0, 0, x, y, (unsigned)w, (unsigned)h);
}

/* A dirty framebuffer rectangle (clipped) to the window, 1:1 or scaled. */
static void show_rect(struct display *d, const struct ph_video_rect *r)
{
	struct viewer *v = d->v;
	uint64_t fw = d->fb.width, fh = d->fb.height;
	uint64_t vw = (uint64_t)v->view_width, vh = (uint64_t)v->view_height;
	int x0, y0, x1, y1;

	if (!d->copy) {
		put_rect(d, r, v->window, v->view_x + (int)r->x, v->view_y + (int)r->y);
		return;
	}
	put_rect(d, r, d->copy, (int)r->x, (int)r->y);
	/* Its image in the window, a pixel wider each way for the filter's reach. */
	x0 = MAX((int)(r->x * vw / fw) - 1, 0);
	y0 = MAX((int)(r->y * vh / fh) - 1, 0);
	x1 = MIN((int)(((r->x + r->width) * vw + fw - 1) / fw) + 1, (int)vw);
	y1 = MIN((int)(((r->y + r->height) * vh + fh - 1) / fh) + 1, (int)vh);
	if (x1 > x0 && y1 > y0)
		composite_area(d, v->view_x + x0, v->view_y + y0, x1 - x0, y1 - y0);
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

/* Repaint a window area: the guest screen where the view is, black around it. */
static void paint_area(struct display *d, int x, int y, int w, int h)
{
	struct viewer *v = d->v;
	int vx1 = v->view_x + v->view_width, vy1 = v->view_y + v->view_height;
	int ix0, iy0, ix1, iy1;

	if (!d->have_fb) {
		char *text = v->refusal ? g_strdup(v->refusal) :
			     v->attached && !d->vm_gone ?
			g_strdup_printf("VM '%s': waiting for the guest's screen (porthole-agent)",
					v->vm_name) :
			g_strdup_printf("VM '%s' is not running - waiting", v->vm_name);

		paint_waiting(d, text);
		g_free(text);
		return;
	}
	if (w <= 0 || h <= 0)
		return;
	/* The letterbox: above, below, left and right of the view. */
	ix0 = MAX(x, v->view_x);
	iy0 = MAX(y, v->view_y);
	ix1 = MIN(x + w, vx1);
	iy1 = MIN(y + h, vy1);
	fill(d, d->black, x, y, w, MIN(y + h, v->view_y) - y);
	fill(d, d->black, x, MAX(y, vy1), w, y + h - MAX(y, vy1));
	fill(d, d->black, x, iy0, MIN(x + w, v->view_x) - x, iy1 - iy0);
	fill(d, d->black, MAX(x, vx1), iy0, x + w - MAX(x, vx1), iy1 - iy0);
	if (ix1 <= ix0 || iy1 <= iy0)
		return;
	if (d->copy) {
		composite_area(d, ix0, iy0, ix1 - ix0, iy1 - iy0);
	} else {
		struct ph_video_rect r = { (uint32_t)(ix0 - v->view_x), (uint32_t)(iy0 - v->view_y),
					   (uint32_t)(ix1 - ix0), (uint32_t)(iy1 - iy0) };

		if (ph_video_rect_clip(&r, d->fb.width, d->fb.height))
			put_rect(d, &r, v->window, v->view_x + (int)r.x, v->view_y + (int)r.y);
	}
}

static void repaint_all(struct display *d)
{
	if (!d->v->window)
		return;
	paint_area(d, 0, 0, d->win_width, d->win_height);
	XFlush(d->v->dpy);
}

/* ---- where the guest screen goes in the window ---- */

static void drop_copy(struct display *d)
{
	if (!d->copy)
		return;
	XRenderFreePicture(d->v->dpy, d->copy_pict);
	XFreePixmap(d->v->dpy, d->copy);
	d->copy = None;
	d->copy_pict = None;
}

/* The copy to scale from, filled with the whole guest screen; false when the server can't. */
static bool make_copy(struct display *d)
{
	struct viewer *v = d->v;
	XRenderPictureAttributes pa = { .repeat = RepeatPad };	/* no dark seam at the edges */
	struct ph_video_rect all = { 0, 0, d->fb.width, d->fb.height };
	unsigned long serial = NextRequest(v->dpy);
	int err;

	d->copy = XCreatePixmap(v->dpy, v->window, d->fb.width, d->fb.height, 24);
	d->copy_pict = XRenderCreatePicture(v->dpy, d->copy,
					    XRenderFindStandardFormat(v->dpy, PictStandardRGB24),
					    CPRepeat, &pa);
	XRenderSetPictureFilter(v->dpy, d->copy_pict, FilterBilinear, NULL, 0);
	/* A guest screen of up to 8192x8192 is 256 MiB on the server: it may say no. */
	err = viewer_x_error_since(v, serial);
	if (err) {
		g_warning("display: no room on the X server to scale a %ux%u screen (X error %d);"
			  " showing it unscaled", d->fb.width, d->fb.height, err);
		drop_copy(d);
		return false;
	}
	put_rect(d, &all, d->copy, 0, 0);
	return true;
}

/* Place the guest screen in the window: 1:1 when it fits, else scaled down, centred. */
static void update_view(struct display *d)
{
	struct viewer *v = d->v;
	uint64_t fw = d->fb.width, fh = d->fb.height;
	uint64_t ww = (uint64_t)MAX(d->win_width, 1), wh = (uint64_t)MAX(d->win_height, 1);
	int vw, vh;

	if (!d->have_fb) {
		drop_copy(d);
		v->view_x = v->view_y = 0;
		v->view_width = d->win_width;
		v->view_height = d->win_height;
		return;
	}
	if ((fw <= ww && fh <= wh) || !d->have_render) {
		vw = (int)fw;
		vh = (int)fh;
	} else if (ww * fh <= wh * fw) {	/* the width limits */
		vw = (int)ww;
		vh = (int)MAX(ww * fh / fw, 1);
	} else {
		vh = (int)wh;
		vw = (int)MAX(wh * fw / fh, 1);
	}
	if (vw != (int)fw || vh != (int)fh) {
		bool fresh = !d->copy;
		XTransform t = { { { XDoubleToFixed((double)fw / vw), 0, 0 },
				   { 0, XDoubleToFixed((double)fh / vh), 0 },
				   { 0, 0, XDoubleToFixed(1) } } };

		if (fresh && !make_copy(d)) {
			vw = (int)fw;
			vh = (int)fh;
		} else {
			XRenderSetPictureTransform(v->dpy, d->copy_pict, &t);
			if (fresh)
				g_message("display: scaling the %ux%u guest screen to %dx%d",
					  d->fb.width, d->fb.height, vw, vh);
		}
	} else {
		drop_copy(d);
	}
	v->view_width = vw;
	v->view_height = vh;
	v->view_x = MAX(d->win_width - vw, 0) / 2;
	v->view_y = MAX(d->win_height - vh, 0) / 2;
}

/* ---- the title, keys and full screen ---- */

static void update_title(struct display *d)
{
	struct viewer *v = d->v;
	const char *state = v->refusal ? v->refusal :
			    v->attached && !d->vm_gone ? "running" : "(disconnected)";
	char *name = g_utf8_make_valid(v->vm_name, -1);
	char *title = g_strdup_printf("%s \u2014 %s%s \u2014 Porthole", name, state,
				      d->grabbed ? " (press Ctrl+Alt to release the keyboard)" :
				      "");

	viewer_window_title(v, title);
	g_free(title);
	g_free(name);
}

static void grab_keyboard(struct display *d, bool on)
{
	Display *dpy = d->v->dpy;

	if (on && !d->grabbed) {
		d->grabbed = XGrabKeyboard(dpy, d->v->window, True, GrabModeAsync, GrabModeAsync,
					   CurrentTime) == GrabSuccess;
		if (!d->grabbed)
			g_message("display: could not grab the keyboard");
	} else if (!on && d->grabbed) {
		XUngrabKeyboard(dpy, CurrentTime);
		d->grabbed = false;
	}
	d->ctrl_alt_alone = false;
	update_title(d);
}

static void set_fullscreen(struct display *d, bool on)
{
	struct viewer *v = d->v;
	Display *dpy = v->dpy;

	if (on == d->fullscreen)
		return;
	d->fullscreen = on;
	if (on) {
		Window child;
		unsigned int w, h, border, depth;
		Window root;
		int x, y;

		d->wm_fullscreen = x_wm_running(dpy, v->screen);
		XGetGeometry(dpy, v->window, &root, &x, &y, &w, &h, &border, &depth);
		XTranslateCoordinates(dpy, v->window, root, 0, 0, &d->saved_x, &d->saved_y, &child);
		d->saved_w = (int)w;
		d->saved_h = (int)h;
	}
	g_message("display: full screen %s%s", on ? "on" : "off",
		  d->wm_fullscreen ? "" : " (no window manager: by hand)");
	if (d->wm_fullscreen) {
		viewer_wm_fullscreen(v, on);
	} else if (on) {
		d->asked_width = DisplayWidth(dpy, v->screen);
		d->asked_height = DisplayHeight(dpy, v->screen);
		XMoveResizeWindow(dpy, v->window, 0, 0, (unsigned)d->asked_width,
				  (unsigned)d->asked_height);
		XRaiseWindow(dpy, v->window);
	} else {
		d->asked_width = d->saved_w;
		d->asked_height = d->saved_h;
		XMoveResizeWindow(dpy, v->window, d->saved_x, d->saved_y, (unsigned)d->saved_w,
				  (unsigned)d->saved_h);
	}
	/* Full screen takes the desktop's shortcuts too; Ctrl+Alt gives them back. */
	grab_keyboard(d, on);
	XFlush(dpy);
}

static void set_fit(struct display *d, enum viewer_fit fit)
{
	struct viewer *v = d->v;

	v->fit = fit;
	g_message("display: %s", fit == VIEWER_FIT_SCALE ?
		  "scale mode: the guest keeps its size, scaled down to fit the window" :
		  "resize-guest mode: the guest follows the window");
	if (fit == VIEWER_FIT_RESIZE_GUEST && d->have_fb)
		guest_resize_want(d->resize, d->win_width, d->win_height, 0);
}

/* The viewer's own keys: true when the key was one (the guest doesn't get it). */
static bool on_key(struct display *d, XKeyEvent *ev, bool down)
{
	KeySym ks = XLookupKeysym(ev, 0);
	unsigned int mods = ev->state & (ControlMask | Mod1Mask | ShiftMask);
	bool ctrl = ks == XK_Control_L || ks == XK_Control_R;
	bool alt = ks == XK_Alt_L || ks == XK_Alt_R || ks == XK_Meta_L || ks == XK_Meta_R;

	if (!down) {
		/* Ctrl+Alt pressed and let go with nothing in between: release the keyboard. */
		if ((ctrl || alt) && d->ctrl_alt_alone && d->grabbed) {
			g_message("display: Ctrl+Alt: keyboard released");
			grab_keyboard(d, false);
		}
		return false;
	}
	if ((ctrl && (ev->state & Mod1Mask)) || (alt && (ev->state & ControlMask))) {
		d->ctrl_alt_alone = true;
		return false;
	}
	d->ctrl_alt_alone = false;
	if ((ks == XK_F11 && !mods) || (ks == XK_f && mods == (ControlMask | Mod1Mask))) {
		set_fullscreen(d, !d->fullscreen);
		return true;
	}
	if (ks == XK_s && mods == (ControlMask | Mod1Mask)) {
		set_fit(d, d->v->fit == VIEWER_FIT_SCALE ? VIEWER_FIT_RESIZE_GUEST :
							   VIEWER_FIT_SCALE);
		return true;
	}
	return false;
}

/* ---- the framebuffer ---- */

static void drop_fb(struct display *d)
{
	d->npending = 0;	/* rectangles of the old buffer */
	drop_copy(d);
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

/* w x h shrunk, aspect kept, to fit max_w x max_h. */
static void fit_inside(int *w, int *h, int max_w, int max_h)
{
	if (*w <= max_w && *h <= max_h)
		return;
	if ((int64_t)max_w * *h <= (int64_t)max_h * *w) {
		*h = (int)MAX((int64_t)max_w * *h / *w, 1);
		*w = max_w;
	} else {
		*w = (int)MAX((int64_t)max_h * *w / *h, 1);
		*h = max_h;
	}
}

/* A new guest screen: does the window follow it, or the guest the window? */
static void fit_window(struct display *d)
{
	struct viewer *v = d->v;
	int w = (int)d->fb.width, h = (int)d->fb.height, ax, ay, aw, ah;

	/*
	 * A restarted VM comes up at its own size: tell it the window's at once,
	 * and don't follow what it shows until then (the agent may announce its
	 * first screen twice).
	 */
	if (!d->fb_since_attach && (d->shown_a_guest || d->user_sized || d->fullscreen))
		d->window_decides = true;
	d->fb_since_attach = d->shown_a_guest = true;
	if (w == d->win_width && h == d->win_height)
		d->window_decides = false;
	if (v->fit == VIEWER_FIT_RESIZE_GUEST && d->window_decides) {
		guest_resize_want(d->resize, d->win_width, d->win_height, 0);
		return;
	}
	if (d->user_sized || d->fullscreen)
		return;
	viewer_work_area(v, &ax, &ay, &aw, &ah);
	fit_inside(&w, &h, aw, ah);
	if (w != d->win_width || h != d->win_height) {
		/* The ConfigureNotify asks the guest for the window's size if it must. */
		d->asked_width = w;
		d->asked_height = h;
		XResizeWindow(v->dpy, v->window, (unsigned)w, (unsigned)h);
	} else if (v->fit == VIEWER_FIT_RESIZE_GUEST &&
		   (w != (int)d->fb.width || h != (int)d->fb.height)) {
		guest_resize_want(d->resize, w, h, 0);
	}
}

static gboolean paint_pending(gpointer data)
{
	struct display *d = data;

	d->paint_source = 0;
	if (d->have_fb)
		for (uint32_t i = 0; i < d->npending; i++)
			show_rect(d, &d->pending[i]);
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
	update_view(d);
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
	d->fb_since_attach = d->window_decides = false;
	attach_ram_segment(d);
	update_title(d);
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
	guest_resize_forget(d->resize);
	update_view(d);
	update_title(d);
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
	case ConfigureNotify: {
		int w = ev->xconfigure.width, h = ev->xconfigure.height;

		if (w == d->win_width && h == d->win_height)
			return true;	/* moved, not resized */
		if (!d->fullscreen && (w != d->asked_width || h != d->asked_height))
			d->user_sized = true;
		d->win_width = w;
		d->win_height = h;
		update_view(d);
		repaint_all(d);
		/* After 300 ms of calm: a window being dragged asks once. */
		if (v->fit == VIEWER_FIT_RESIZE_GUEST && d->have_fb &&
		    (w != v->guest_width || h != v->guest_height))
			guest_resize_want(d->resize, w, h, RESIZE_DEBOUNCE_MS);
		return true;
	}
	case KeyPress:
	case KeyRelease:
		return on_key(d, &ev->xkey, ev->type == KeyPress);
	case ButtonPress:
		/* Back into a full-screen guest: its keyboard again. */
		if (d->fullscreen && !d->grabbed)
			grab_keyboard(d, true);
		return false;	/* input.c sends the click */
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
	xcb_shm_query_version_reply_t *ver;
	int ax, ay, aw, ah, event_base, error_base;

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
	d->have_render = XRenderQueryExtension(dpy, &event_base, &error_base);
	viewer_work_area(v, &ax, &ay, &aw, &ah);
	d->win_width = d->asked_width = MIN(INITIAL_WIDTH, aw);
	d->win_height = d->asked_height = MIN(INITIAL_HEIGHT, ah);
	v->window = viewer_window_create(v, ax, ay, d->win_width, d->win_height);
	/* We paint every exposed pixel: no background clear, no flicker. */
	XSetWindowBackgroundPixmap(dpy, v->window, None);
	update_title(d);
	if (d->have_render)
		d->win_pict = XRenderCreatePicture(dpy, v->window,
			XRenderFindVisualFormat(dpy, DefaultVisual(dpy, v->screen)), 0, NULL);
	else
		g_message("display: no XRender on the host display: a guest screen larger than"
			  " the window is cropped, not scaled");
	d->resize = guest_resize_new(v);
	update_view(d);
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
	g_message("display: window 0x%lx (%s) %dx%d in a %dx%d work area, %s", v->window,
		  d->shm_capable ? "MIT-SHM from guest RAM when local" : "XPutImage",
		  d->win_width, d->win_height, aw, ah,
		  v->fit == VIEWER_FIT_SCALE ? "scale mode" : "resize-guest mode");
	return 0;
}

static void display_fini(struct viewer *v, void *state)
{
	struct display *d = state;

	drop_fb(d);
	if (d->paint_source)
		g_source_remove(d->paint_source);
	guest_resize_free(d->resize);
	if (v->window) {
		if (d->grabbed)
			XUngrabKeyboard(v->dpy, CurrentTime);
		if (d->win_pict)
			XRenderFreePicture(v->dpy, d->win_pict);
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
