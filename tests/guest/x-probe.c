// SPDX-License-Identifier: MIT
/*
 * A guest X client for the input tests: a window over the whole screen that
 * prints, one line each (flushed), what reaches it:
 *   ready
 *   motion X Y
 *   press BUTTON X Y / release BUTTON X Y
 *   key KEYSYM-NAME "TEXT" / keyup KEYSYM-NAME
 *   size W H          (the window followed a screen resize)
 * each followed by " @T", T the CLOCK_REALTIME microseconds at receipt
 * (the trap engine's guest clock is the host's), for latency measurements.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <X11/Xlib.h>
#include <X11/Xutil.h>

int main(void)
{
	Display *dpy = XOpenDisplay(NULL);
	XSetWindowAttributes attr = { .override_redirect = True };
	Window w;
	int scr;

	if (!dpy) {
		fprintf(stderr, "x-probe: no display\n");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	scr = DefaultScreen(dpy);
	w = XCreateWindow(dpy, RootWindow(dpy, scr), 0, 0, (unsigned)DisplayWidth(dpy, scr),
			  (unsigned)DisplayHeight(dpy, scr), 0, CopyFromParent, InputOutput,
			  CopyFromParent, CWOverrideRedirect, &attr);
	XSelectInput(dpy, w, PointerMotionMask | ButtonPressMask | ButtonReleaseMask |
		     KeyPressMask | KeyReleaseMask | ExposureMask | StructureNotifyMask);
	XMapRaised(dpy, w);
	for (;;) {
		XEvent ev;
		char text[32] = "";
		KeySym ks;
		int len;
		struct timespec now;
		long long us;

		XNextEvent(dpy, &ev);
		clock_gettime(CLOCK_REALTIME, &now);
		us = (long long)now.tv_sec * 1000000 + now.tv_nsec / 1000;
		switch (ev.type) {
		case MapNotify:
			XSetInputFocus(dpy, w, RevertToParent, CurrentTime);
			printf("ready\n");
			break;
		case MotionNotify:
			printf("motion %d %d @%lld\n", ev.xmotion.x, ev.xmotion.y, us);
			break;
		case ButtonPress:
		case ButtonRelease:
			printf("%s %u %d %d @%lld\n", ev.type == ButtonPress ? "press" : "release",
			       ev.xbutton.button, ev.xbutton.x, ev.xbutton.y, us);
			break;
		case KeyPress:
			len = XLookupString(&ev.xkey, text, sizeof(text) - 1, &ks, NULL);
			text[len > 0 ? len : 0] = '\0';
			printf("key %s \"%s\" @%lld\n", XKeysymToString(ks) ? XKeysymToString(ks) : "?",
			       text, us);
			break;
		case KeyRelease:
			XLookupString(&ev.xkey, text, sizeof(text) - 1, &ks, NULL);
			printf("keyup %s @%lld\n", XKeysymToString(ks) ? XKeysymToString(ks) : "?",
			       us);
			break;
		case ConfigureNotify:
			printf("size %d %d @%lld\n", ev.xconfigure.width, ev.xconfigure.height, us);
			break;
		}
	}
}
