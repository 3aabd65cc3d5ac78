// SPDX-License-Identifier: MIT
/*
 * x-screenshot: save what a window shows as a PPM image and say where its
 * content is (the tray test keeps a picture of a third-party tray host and
 * finds the icon in it).
 *
 *   x-screenshot WIN FILE.ppm
 *
 * prints "WIDTHxHEIGHT" of the window, then "content X Y W H": the bounding
 * box of the pixels that differ from the window's top-left pixel (taken as
 * its background), or "content none".  Status 1 when the window can't be
 * read, 2 on bad arguments.  WIN is a window id (decimal or 0x hex, as
 * xdotool prints it).
 */
#include <stdio.h>
#include <stdlib.h>

#include <X11/Xlib.h>
#include <X11/Xutil.h>

static int ignore_x_error(Display *dpy, XErrorEvent *e)
{
	return 0;
}

/* Writes IMG as a binary PPM (P6) to PATH; prints the content's box. */
static int save_and_measure(XImage *img, const char *path)
{
	unsigned long background = XGetPixel(img, 0, 0) & 0xffffff;
	int min_x = img->width, min_y = img->height, max_x = -1, max_y = -1;
	FILE *f = fopen(path, "wb");

	if (!f) {
		perror(path);
		return 1;
	}
	fprintf(f, "P6\n%d %d\n255\n", img->width, img->height);
	for (int y = 0; y < img->height; y++) {
		for (int x = 0; x < img->width; x++) {
			unsigned long p = XGetPixel(img, x, y) & 0xffffff;

			fputc((int)(p >> 16) & 0xff, f);
			fputc((int)(p >> 8) & 0xff, f);
			fputc((int)p & 0xff, f);
			if (p == background)
				continue;
			if (x < min_x)
				min_x = x;
			if (x > max_x)
				max_x = x;
			if (y < min_y)
				min_y = y;
			if (y > max_y)
				max_y = y;
		}
	}
	if (fclose(f)) {
		perror(path);
		return 1;
	}
	printf("%dx%d\n", img->width, img->height);
	if (max_x < 0)
		printf("content none\n");
	else
		printf("content %d %d %d %d\n", min_x, min_y, max_x - min_x + 1, max_y - min_y + 1);
	return 0;
}

int main(int argc, char **argv)
{
	XWindowAttributes attr;
	Display *dpy;
	XImage *img;
	Window w;
	int rc = 1;

	if (argc != 3) {
		fprintf(stderr, "usage: x-screenshot WIN FILE.ppm\n");
		return 2;
	}
	w = (Window)strtoul(argv[1], NULL, 0);
	dpy = XOpenDisplay(NULL);
	if (!dpy) {
		fprintf(stderr, "x-screenshot: cannot open the display\n");
		return 1;
	}
	XSetErrorHandler(ignore_x_error);
	if (XGetWindowAttributes(dpy, w, &attr) &&
	    (img = XGetImage(dpy, w, 0, 0, (unsigned int)attr.width, (unsigned int)attr.height,
			     AllPlanes, ZPixmap))) {
		rc = save_and_measure(img, argv[2]);
		XDestroyImage(img);
	} else {
		fprintf(stderr, "x-screenshot: cannot read window %s\n", argv[1]);
	}
	XCloseDisplay(dpy);
	return rc;
}
