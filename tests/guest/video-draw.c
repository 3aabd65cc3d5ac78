// SPDX-License-Identifier: MIT
/*
 * video-draw: draw on the guest's X screen and say when (the video tests
 * and the benchmark measure how long until the host viewer shows it).
 *
 *   video-draw fill RRGGBB          fill the whole root window; print the
 *                                   CLOCK_REALTIME (ns) taken just before
 *   video-draw frames N MS          N full-screen fills, colour 0x400000 + i,
 *                                   MS milliseconds apart (0: back to back,
 *                                   each one finished by the X server before
 *                                   the next); print "REALTIME_NS RRGGBB" each
 *   video-draw corners RRGGBB N     fill with RRGGBB, then N x N squares in the
 *                                   corners: ff0000 top left, 00ff00 top right,
 *                                   0000ff bottom left, ffff00 bottom right
 *                                   (the viewer tests check all of the guest
 *                                   screen is shown); print the screen size
 *
 * The clock is read once per frame (a trapped syscall in the trap engine).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <X11/Xlib.h>

static long long realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void fill(Display *dpy, GC gc, unsigned long colour)
{
	Window root = DefaultRootWindow(dpy);

	XSetForeground(dpy, gc, colour);
	XFillRectangle(dpy, root, gc, 0, 0, (unsigned)DisplayWidth(dpy, DefaultScreen(dpy)),
		       (unsigned)DisplayHeight(dpy, DefaultScreen(dpy)));
	XSync(dpy, False);
}

int main(int argc, char **argv)
{
	Display *dpy = XOpenDisplay(NULL);
	XGCValues gv = { .subwindow_mode = IncludeInferiors };
	GC gc;

	if (!dpy) {
		fprintf(stderr, "video-draw: cannot open the display\n");
		return 2;
	}
	gc = XCreateGC(dpy, DefaultRootWindow(dpy), GCSubwindowMode, &gv);
	XSync(dpy, False);	/* connection set up before the clock starts */
	if (argc == 3 && !strcmp(argv[1], "fill")) {
		long long t = realtime_ns();

		fill(dpy, gc, strtoul(argv[2], NULL, 16));
		printf("%lld\n", t);
		XCloseDisplay(dpy);
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "frames")) {
		int n = atoi(argv[2]), ms = atoi(argv[3]);

		for (int i = 0; i < n; i++) {
			unsigned long colour = 0x400000ul + (unsigned long)i;
			long long t = realtime_ns();

			fill(dpy, gc, colour);
			printf("%lld %06lx\n", t, colour);
			if (ms)
				usleep((useconds_t)ms * 1000);
		}
		XCloseDisplay(dpy);
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "corners")) {
		int scr = DefaultScreen(dpy), n = atoi(argv[3]);
		int w = DisplayWidth(dpy, scr), h = DisplayHeight(dpy, scr);
		const struct { unsigned long colour; int x, y; } corner[] = {
			{ 0xff0000, 0, 0 }, { 0x00ff00, w - n, 0 },
			{ 0x0000ff, 0, h - n }, { 0xffff00, w - n, h - n },
		};

		fill(dpy, gc, strtoul(argv[2], NULL, 16));
		for (size_t i = 0; i < sizeof(corner) / sizeof(corner[0]); i++) {
			XSetForeground(dpy, gc, corner[i].colour);
			XFillRectangle(dpy, DefaultRootWindow(dpy), gc, corner[i].x, corner[i].y,
				       (unsigned)n, (unsigned)n);
		}
		XSync(dpy, False);
		printf("%dx%d\n", w, h);
		XCloseDisplay(dpy);
		return 0;
	}
	fprintf(stderr, "usage: video-draw fill RRGGBB | frames N MS | corners RRGGBB N\n");
	return 2;
}
