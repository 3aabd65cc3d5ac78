// SPDX-License-Identifier: MIT
/* X errors: logged, remembered, never fatal (see x-errors.h). */
#include <glib.h>
#include <stdlib.h>

#include "x-errors.h"

static unsigned long last_serial;
static int last_code;
static const char *gone;

static int on_x_error(Display *dpy, XErrorEvent *e)
{
	char text[128];

	XGetErrorText(dpy, e->error_code, text, sizeof(text));
	g_debug("X error: %s (request %u.%u, serial %lu)", text, e->request_code,
		e->minor_code, e->serial);
	last_code = e->error_code;
	last_serial = e->serial;
	return 0;
}

static int on_x_io_error(Display *dpy)
{
	g_message("%s", gone);
	exit(0);
}

void x_errors_install(const char *gone_message)
{
	gone = gone_message;
	XSetErrorHandler(on_x_error);
	XSetIOErrorHandler(on_x_io_error);
}

int x_error_since(Display *dpy, unsigned long serial)
{
	XSync(dpy, False);
	if (last_code && last_serial >= serial)
		return last_code;
	return 0;
}
