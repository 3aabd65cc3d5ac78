/* SPDX-License-Identifier: MIT */
/*
 * An X connection as a GLib main-loop source, for porthole-agent and
 * porthole-viewer.  It watches the socket *and* Xlib's event queue: a
 * round trip (XSync, XGetImage, an xcb reply) can read events into the
 * queue and leave the socket quiet, and a plain fd watch would then sleep
 * on them.
 */
#ifndef PORTHOLE_COMMON_X_SOURCE_H
#define PORTHOLE_COMMON_X_SOURCE_H

#include <X11/Xlib.h>
#include <glib.h>

typedef void (*x_source_fn)(XEvent *ev, void *ctx);

/* Call fn for each event of dpy from the default main context; the source id. */
guint x_source_attach(Display *dpy, x_source_fn fn, void *ctx);

#endif
