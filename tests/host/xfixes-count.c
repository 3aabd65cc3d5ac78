// SPDX-License-Identifier: MIT
/*
 * xfixes-count: counts selection owner changes on an X display, to show
 * that clipboard sharing does not ping-pong ownership between host and
 * guest.  Runs on the host display and, the same binary, inside a guest
 * (which sees the host filesystem).
 *
 *   xfixes-count [--manager] SECONDS
 *
 * Counts XFixesSetSelectionOwnerNotify events for CLIPBOARD and PRIMARY on
 * $DISPLAY for SECONDS, then prints "clipboard N" and "primary M".  Prints
 * "ready" once it listens, so a caller knows when counting started, and
 * "count C P" (the totals so far) after each event, so a caller can sample.
 *
 * --manager also behaves like a simple clipboard manager (xclipboard,
 * clipit): whenever someone else takes CLIPBOARD it reads UTF8_STRING and
 * takes ownership itself with the same text, serving TARGETS and
 * UTF8_STRING; it prints "takeovers K" at the end.  Small texts only (no
 * INCR), which is all the test copies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <poll.h>

#include <X11/Xatom.h>
#include <X11/Xlib.h>
#include <X11/extensions/Xfixes.h>

static Atom a_clipboard, a_utf8, a_targets, a_prop;
static unsigned char *kept;
static unsigned long kept_len;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void serve(Display *dpy, XSelectionRequestEvent *rq)
{
	XSelectionEvent ev = {
		.type = SelectionNotify, .display = dpy, .requestor = rq->requestor,
		.selection = rq->selection, .target = rq->target, .time = rq->time,
		.property = rq->property ? rq->property : rq->target,
	};

	if (rq->target == a_targets) {
		Atom t[2] = { a_targets, a_utf8 };

		XChangeProperty(dpy, rq->requestor, ev.property, XA_ATOM, 32, PropModeReplace,
				(unsigned char *)t, 2);
	} else if (rq->target == a_utf8 && kept) {
		XChangeProperty(dpy, rq->requestor, ev.property, a_utf8, 8, PropModeReplace,
				kept, (int)kept_len);
	} else {
		ev.property = None;
	}
	XSendEvent(dpy, rq->requestor, False, 0, (XEvent *)&ev);
}

int main(int argc, char **argv)
{
	int manager = argc > 1 && !strcmp(argv[1], "--manager");
	int ev_base, err_base, fd;
	long clipboard = 0, primary = 0, takeovers = 0;
	double end;
	Display *dpy;
	Window win;

	if (argc != 2 + manager) {
		fprintf(stderr, "usage: xfixes-count [--manager] SECONDS\n");
		return 2;
	}
	end = now() + atof(argv[1 + manager]);
	dpy = XOpenDisplay(NULL);
	if (!dpy || !XFixesQueryExtension(dpy, &ev_base, &err_base)) {
		fprintf(stderr, "xfixes-count: no display or no XFixes\n");
		return 1;
	}
	a_clipboard = XInternAtom(dpy, "CLIPBOARD", False);
	a_utf8 = XInternAtom(dpy, "UTF8_STRING", False);
	a_targets = XInternAtom(dpy, "TARGETS", False);
	a_prop = XInternAtom(dpy, "XFIXES_COUNT_DATA", False);
	win = XCreateSimpleWindow(dpy, DefaultRootWindow(dpy), 0, 0, 1, 1, 0, 0, 0);
	XFixesSelectSelectionInput(dpy, win, a_clipboard, XFixesSetSelectionOwnerNotifyMask);
	XFixesSelectSelectionInput(dpy, win, XA_PRIMARY, XFixesSetSelectionOwnerNotifyMask);
	XSync(dpy, False);
	printf("ready\n");
	fflush(stdout);
	fd = ConnectionNumber(dpy);
	for (;;) {
		double left = end - now();
		struct pollfd p = { fd, POLLIN, 0 };

		if (left <= 0)
			break;
		if (!XPending(dpy)) {
			poll(&p, 1, (int)(left * 1000) + 1);
			continue;
		}
		XEvent ev;

		XNextEvent(dpy, &ev);
		if (ev.type == ev_base + XFixesSelectionNotify) {
			XFixesSelectionNotifyEvent *s = (XFixesSelectionNotifyEvent *)&ev;

			if (s->subtype != XFixesSetSelectionOwnerNotify)
				continue;
			if (s->selection == a_clipboard)
				clipboard++;
			else if (s->selection == XA_PRIMARY)
				primary++;
			printf("count %ld %ld\n", clipboard, primary);
			fflush(stdout);
			/* A manager reacts to others' copies, never to its own. */
			if (manager && s->selection == a_clipboard && s->owner != win &&
			    s->owner != None)
				XConvertSelection(dpy, a_clipboard, a_utf8, a_prop, win,
						  s->selection_timestamp);
		} else if (ev.type == SelectionNotify && manager) {
			Atom type;
			int format;
			unsigned long n, after;
			unsigned char *data = NULL;

			if (ev.xselection.property == None)
				continue;
			if (XGetWindowProperty(dpy, win, a_prop, 0, 1 << 20, True, AnyPropertyType,
					       &type, &format, &n, &after, &data) != Success)
				continue;
			XFree(kept);
			kept = data;
			kept_len = n;
			XSetSelectionOwner(dpy, a_clipboard, win, ev.xselection.time);
			takeovers++;
		} else if (ev.type == SelectionRequest) {
			serve(dpy, &ev.xselectionrequest);
		}
	}
	printf("clipboard %ld\nprimary %ld\n", clipboard, primary);
	if (manager)
		printf("takeovers %ld\n", takeovers);
	XFree(kept);
	XCloseDisplay(dpy);
	return 0;
}
