// SPDX-License-Identifier: MIT
/*
 * xcopy-baseline: the naive way to show a guest screen on the host, for the
 * video benchmark to compare against: a loop of XGetImage of the whole
 * guest root window (over the guest X server's socket) and XPutImage of it
 * into a window on the host display.  No damage tracking, no shared memory.
 *
 *   xcopy-baseline GUEST_DISPLAY HOST_DISPLAY SECONDS
 *
 * Prints "window 0x..." once the window is up, then at the end
 * "frames N", "seconds S" and "cpu_ms C" (its own user + system time).
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include <X11/Xlib.h>
#include <X11/Xutil.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	Display *guest, *host;
	Window root, win;
	XWindowAttributes ga;
	struct rusage ru;
	double start, secs;
	long frames = 0;
	GC gc;

	if (argc != 4) {
		fprintf(stderr, "usage: xcopy-baseline GUEST_DISPLAY HOST_DISPLAY SECONDS\n");
		return 2;
	}
	guest = XOpenDisplay(argv[1]);
	host = XOpenDisplay(argv[2]);
	if (!guest || !host) {
		fprintf(stderr, "xcopy-baseline: cannot open %s\n", guest ? argv[2] : argv[1]);
		return 1;
	}
	secs = atof(argv[3]);
	root = DefaultRootWindow(guest);
	XGetWindowAttributes(guest, root, &ga);
	win = XCreateSimpleWindow(host, DefaultRootWindow(host), 0, 0, (unsigned)ga.width,
				  (unsigned)ga.height, 0, 0, 0);
	XStoreName(host, win, "xcopy-baseline");
	XMapWindow(host, win);
	gc = XCreateGC(host, win, 0, NULL);
	XSync(host, False);
	printf("window 0x%lx\n", win);
	fflush(stdout);
	start = now_s();
	while (now_s() - start < secs) {
		XImage *img = XGetImage(guest, root, 0, 0, (unsigned)ga.width, (unsigned)ga.height,
					AllPlanes, ZPixmap);

		if (!img)
			break;
		XPutImage(host, win, gc, img, 0, 0, 0, 0, (unsigned)ga.width, (unsigned)ga.height);
		XSync(host, False);
		XDestroyImage(img);
		frames++;
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("frames %ld\nseconds %.3f\ncpu_ms %.1f\n", frames, now_s() - start,
	       (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3);
	XFreeGC(host, gc);
	XCloseDisplay(guest);
	XCloseDisplay(host);
	return 0;
}
