/* SPDX-License-Identifier: MIT */
/*
 * X errors for porthole-agent and porthole-viewer: expected, never fatal.
 * Requestors vanish and windows die under us; an error is logged at debug
 * level and remembered, so code that cares asks x_error_since() about its
 * own requests.  One X connection per process.
 */
#ifndef PORTHOLE_COMMON_X_ERRORS_H
#define PORTHOLE_COMMON_X_ERRORS_H

#include <X11/Xlib.h>

/*
 * Install the handlers.  When the connection itself breaks (the server
 * went away), log `gone_message` and exit(0): there is nothing left to do.
 */
void x_errors_install(const char *gone_message);
/*
 * XSync, then the error code of a request at or after `serial` (take it
 * with NextRequest() before the calls), or 0.
 */
int x_error_since(Display *dpy, unsigned long serial);

#endif
