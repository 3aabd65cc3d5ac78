// SPDX-License-Identifier: MIT
/*
 * xwin-probe: read what a window shows on the host X server (the video
 * tests check the viewer's window with it).
 *
 *   xwin-probe pixel WIN X Y              print the pixel as RRGGBB
 *   xwin-probe wait WIN X Y RRGGBB MS     poll until the pixel has that colour:
 *                                         print CLOCK_REALTIME (ns) when seen;
 *                                         status 1 on timeout
 *   xwin-probe watch WIN X Y MS           poll for MS milliseconds; print
 *                                         "REALTIME_NS RRGGBB" at every change
 *   xwin-probe close WIN                  send WM_DELETE_WINDOW, as a window
 *                                         manager's close button does
 *
 * WIN is a window id (decimal or 0x hex, as xdotool prints it).  Polling
 * is one 1x1 GetImage round trip (tens of microseconds on a local server),
 * then a 200 µs pause, so a change is seen within about 0.3 ms.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <X11/Xlib.h>
#include <X11/Xutil.h>

static int64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int ignore_x_error(Display *dpy, XErrorEvent *e)
{
	return 0;
}

/* The pixel's 0xRRGGBB, or -1 when the window can't be read. */
static long read_pixel(Display *dpy, Window w, int x, int y)
{
	XImage *img = XGetImage(dpy, w, x, y, 1, 1, AllPlanes, ZPixmap);
	long p;

	if (!img)
		return -1;
	p = (long)(XGetPixel(img, 0, 0) & 0xffffff);
	XDestroyImage(img);
	return p;
}

static int usage(void)
{
	fprintf(stderr, "usage: xwin-probe pixel|wait|watch|close WIN ...\n");
	return 2;
}

static int probe(Display *dpy, int argc, char **argv)
{
	Window w;

	w = (Window)strtoul(argv[2], NULL, 0);
	if (!strcmp(argv[1], "pixel") && argc == 5) {
		long p = read_pixel(dpy, w, atoi(argv[3]), atoi(argv[4]));

		if (p < 0)
			return 1;
		printf("%06lx\n", p);
		return 0;
	}
	if (!strcmp(argv[1], "wait") && argc == 7) {
		long want = strtol(argv[5], NULL, 16);
		int64_t end = realtime_ns() + atoll(argv[6]) * 1000000;

		for (;;) {
			if (read_pixel(dpy, w, atoi(argv[3]), atoi(argv[4])) == want) {
				printf("%lld\n", (long long)realtime_ns());
				return 0;
			}
			if (realtime_ns() > end)
				return 1;
			usleep(200);
		}
	}
	if (!strcmp(argv[1], "watch") && argc == 6) {
		int64_t end = realtime_ns() + atoll(argv[5]) * 1000000;
		long last = -2;

		while (realtime_ns() < end) {
			long p = read_pixel(dpy, w, atoi(argv[3]), atoi(argv[4]));

			if (p != last) {
				printf("%lld %06lx\n", (long long)realtime_ns(), p);
				last = p;
			}
			usleep(200);
		}
		return 0;
	}
	if (!strcmp(argv[1], "close") && argc == 3) {
		XEvent ev = { 0 };

		ev.xclient.type = ClientMessage;
		ev.xclient.window = w;
		ev.xclient.message_type = XInternAtom(dpy, "WM_PROTOCOLS", False);
		ev.xclient.format = 32;
		ev.xclient.data.l[0] = (long)XInternAtom(dpy, "WM_DELETE_WINDOW", False);
		ev.xclient.data.l[1] = CurrentTime;
		XSendEvent(dpy, w, False, NoEventMask, &ev);
		XSync(dpy, False);
		return 0;
	}
	return usage();
}

int main(int argc, char **argv)
{
	Display *dpy;
	int rc;

	if (argc < 3)
		return usage();
	dpy = XOpenDisplay(NULL);
	if (!dpy) {
		fprintf(stderr, "xwin-probe: cannot open the display\n");
		return 2;
	}
	XSetErrorHandler(ignore_x_error);
	setvbuf(stdout, NULL, _IOLBF, 0);	/* `watch` may be stopped with a signal */
	rc = probe(dpy, argc, argv);
	XCloseDisplay(dpy);
	return rc;
}
