// SPDX-License-Identifier: MIT
/* Top-level windows as the desktop sees them (see x-window.h). */
#include <string.h>

#include <X11/Xatom.h>
#include <X11/Xutil.h>

#include "x-window.h"

/* Top-level windows sit at most this deep under the root (frames of reparenting managers). */
#define MAX_FRAME_DEPTH	3

/* A one-item property of type `type` (format 32), or false. */
static bool get_long(Display *dpy, Window w, const char *name, Atom type, long *value)
{
	Atom got;
	int format;
	unsigned long n, after;
	unsigned char *data = NULL;
	bool ok = XGetWindowProperty(dpy, w, XInternAtom(dpy, name, False), 0, 1, False, type,
				     &got, &format, &n, &after, &data) == Success &&
		  got == type && format == 32 && n == 1 && data;

	if (ok)
		*value = *(long *)data;
	if (data)
		XFree(data);
	return ok;
}

bool x_wm_running(Display *dpy, int screen)
{
	long check;

	return get_long(dpy, RootWindow(dpy, screen), "_NET_SUPPORTING_WM_CHECK", XA_WINDOW,
			&check) && check != None;
}

static bool is_window_of(Display *dpy, Window w, pid_t pid, const char *res_name)
{
	XClassHint class = { 0 };
	long wpid;
	bool match;

	if (!get_long(dpy, w, "_NET_WM_PID", XA_CARDINAL, &wpid) || wpid != pid ||
	    !XGetClassHint(dpy, w, &class))
		return false;
	match = class.res_name && !strcmp(class.res_name, res_name);
	XFree(class.res_name);
	XFree(class.res_class);
	return match;
}

static Window search(Display *dpy, Window parent, pid_t pid, const char *res_name, int depth)
{
	Window root, up, *kids = NULL, found = None;
	unsigned int n = 0;

	if (!XQueryTree(dpy, parent, &root, &up, &kids, &n))
		return None;
	for (unsigned int i = 0; i < n && !found; i++)
		if (is_window_of(dpy, kids[i], pid, res_name))
			found = kids[i];
	for (unsigned int i = 0; i < n && !found && depth < MAX_FRAME_DEPTH; i++)
		found = search(dpy, kids[i], pid, res_name, depth + 1);
	if (kids)
		XFree(kids);
	return found;
}

Window x_find_window(Display *dpy, int screen, pid_t pid, const char *res_name)
{
	return search(dpy, RootWindow(dpy, screen), pid, res_name, 1);
}

void x_activate_window(Display *dpy, int screen, Window w)
{
	Window root = RootWindow(dpy, screen);

	if (x_wm_running(dpy, screen)) {
		XEvent ev = { .xclient = {
			.type = ClientMessage,
			.window = w,
			.message_type = XInternAtom(dpy, "_NET_ACTIVE_WINDOW", False),
			.format = 32,
			.data.l = { 2, CurrentTime, 0, 0, 0 },	/* 2: a pager's request */
		} };

		XSendEvent(dpy, root, False, SubstructureRedirectMask | SubstructureNotifyMask,
			   &ev);
	} else {
		XMapRaised(dpy, w);
		XSetInputFocus(dpy, w, RevertToPointerRoot, CurrentTime);
	}
	XFlush(dpy);
}
