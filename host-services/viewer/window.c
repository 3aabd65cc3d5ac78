// SPDX-License-Identifier: MIT
/*
 * The viewer window's side that faces the desktop: what task bars, window
 * managers and tools read (ICCCM/EWMH: WM_CLASS, WM_CLIENT_MACHINE,
 * _NET_WM_PID, _NET_WM_NAME, _NET_WM_ICON), the host's work area that the
 * first window size must fit in, and full screen through the window
 * manager.  display.c owns the window; these are its helpers.
 */
#include <string.h>
#include <unistd.h>

#include <X11/Xatom.h>
#include <X11/Xutil.h>

#include "viewer.h"
#include "common/x-window.h"

/* What a title bar and borders take when no _NET_WORKAREA says better. */
#define NO_WORKAREA_MARGIN	64
/* Room left in the work area for the window manager's frame. */
#define FRAME_ALLOWANCE_W	16
#define FRAME_ALLOWANCE_H	48
#define ICON_SIZE		32

static Atom atom(Display *dpy, const char *name)
{
	return XInternAtom(dpy, name, False);
}

/*
 * The icon, drawn here so the viewer needs no installed file: a porthole,
 * a brass ring around blue glass with a highlight, ARGB as _NET_WM_ICON
 * wants it (one `long` per pixel, even where long is 64 bits).
 */
static void set_icon(Display *dpy, Window w)
{
	long data[2 + ICON_SIZE * ICON_SIZE];

	data[0] = data[1] = ICON_SIZE;
	for (int y = 0; y < ICON_SIZE; y++) {
		for (int x = 0; x < ICON_SIZE; x++) {
			/* Squared distances, in half pixels, from the centre and the highlight. */
			int dx = 2 * x - (ICON_SIZE - 1), dy = 2 * y - (ICON_SIZE - 1);
			int r2 = dx * dx + dy * dy;
			int h2 = (dx + 8) * (dx + 8) + (dy + 8) * (dy + 8);
			unsigned long argb = 0;	/* transparent outside the ring */

			if (r2 <= 31 * 31 && r2 > 23 * 23)
				argb = r2 > 29 * 29 ? 0xff6b4e2aUL : 0xffc08a3eUL;
			else if (r2 <= 23 * 23)
				argb = h2 < 7 * 7 ? 0xffd8ecffUL : 0xff2f6fbfUL;
			data[2 + y * ICON_SIZE + x] = (long)argb;
		}
	}
	XChangeProperty(dpy, w, atom(dpy, "_NET_WM_ICON"), XA_CARDINAL, 32, PropModeReplace,
			(unsigned char *)data, (int)G_N_ELEMENTS(data));
}

Window viewer_window_create(struct viewer *v, int x, int y, int width, int height)
{
	Display *dpy = v->dpy;
	Window w = XCreateSimpleWindow(dpy, RootWindow(dpy, v->screen), x, y, (unsigned)width,
				       (unsigned)height, 0, BlackPixel(dpy, v->screen),
				       BlackPixel(dpy, v->screen));
	XClassHint class = { .res_name = (char *)"porthole-viewer",
			      .res_class = (char *)"Porthole-viewer" };
	XSizeHints *size = XAllocSizeHints();
	long pid = getpid();
	char host[256] = "";
	char *hostp = host;
	XTextProperty machine;

	/* Placed where we say: inside the work area. */
	size->flags = PPosition | PSize;
	size->x = x;
	size->y = y;
	size->width = width;
	size->height = height;
	XSetWMNormalHints(dpy, w, size);
	XFree(size);
	XSetClassHint(dpy, w, &class);
	/* _NET_WM_PID means something only together with the machine it is on. */
	gethostname(host, sizeof(host) - 1);
	if (XStringListToTextProperty(&hostp, 1, &machine)) {
		XSetWMClientMachine(dpy, w, &machine);
		XFree(machine.value);
	}
	XChangeProperty(dpy, w, atom(dpy, "_NET_WM_PID"), XA_CARDINAL, 32, PropModeReplace,
			(unsigned char *)&pid, 1);
	set_icon(dpy, w);
	return w;
}

void viewer_window_title(struct viewer *v, const char *title)
{
	Display *dpy = v->dpy;

	/* WM_NAME is Latin-1 for old window managers; _NET_WM_NAME the real one. */
	XStoreName(dpy, v->window, title);
	XChangeProperty(dpy, v->window, atom(dpy, "_NET_WM_NAME"), atom(dpy, "UTF8_STRING"), 8,
			PropModeReplace, (const unsigned char *)title, (int)strlen(title));
}

/* A CARDINAL[] property of the root: its items (XFree them), or NULL. */
static long *root_cardinals(struct viewer *v, const char *name, unsigned long *n)
{
	Atom type;
	int format;
	unsigned long after;
	unsigned char *data = NULL;

	*n = 0;
	if (XGetWindowProperty(v->dpy, RootWindow(v->dpy, v->screen), atom(v->dpy, name), 0, 1024,
			       False, XA_CARDINAL, &type, &format, n, &after, &data) != Success ||
	    type != XA_CARDINAL || format != 32 || !data) {
		if (data)
			XFree(data);
		*n = 0;
		return NULL;
	}
	return (long *)data;
}

void viewer_work_area(struct viewer *v, int *x, int *y, int *width, int *height)
{
	int sw = DisplayWidth(v->dpy, v->screen), sh = DisplayHeight(v->dpy, v->screen);
	unsigned long n, ndesk;
	long *area = root_cardinals(v, "_NET_WORKAREA", &n);
	long *desk = root_cardinals(v, "_NET_CURRENT_DESKTOP", &ndesk);
	unsigned long i = desk && ndesk == 1 ? (unsigned long)desk[0] : 0;

	/* One x, y, w, h per desktop: the current one's, if it lies on the screen. */
	if (area && n >= 4 * (i + 1) && area[4 * i] >= 0 && area[4 * i + 1] >= 0 &&
	    area[4 * i + 2] > FRAME_ALLOWANCE_W && area[4 * i + 3] > FRAME_ALLOWANCE_H &&
	    area[4 * i] + area[4 * i + 2] <= sw && area[4 * i + 1] + area[4 * i + 3] <= sh) {
		*x = (int)area[4 * i];
		*y = (int)area[4 * i + 1];
		*width = (int)area[4 * i + 2] - FRAME_ALLOWANCE_W;
		*height = (int)area[4 * i + 3] - FRAME_ALLOWANCE_H;
	} else {
		*x = *y = 0;
		*width = MAX(sw - NO_WORKAREA_MARGIN, sw / 2);
		*height = MAX(sh - NO_WORKAREA_MARGIN, sh / 2);
	}
	if (area)
		XFree(area);
	if (desk)
		XFree(desk);
}

void viewer_wm_fullscreen(struct viewer *v, bool on)
{
	Display *dpy = v->dpy;
	XEvent ev = { .xclient = {
		.type = ClientMessage,
		.window = v->window,
		.message_type = atom(dpy, "_NET_WM_STATE"),
		.format = 32,
		.data.l = { on ? 1 : 0, (long)atom(dpy, "_NET_WM_STATE_FULLSCREEN"), 0, 1, 0 },
	} };

	/* source 1: an application's own request */
	XSendEvent(dpy, RootWindow(dpy, v->screen), False,
		   SubstructureRedirectMask | SubstructureNotifyMask, &ev);
}
