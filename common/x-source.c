// SPDX-License-Identifier: MIT
/* An X connection as a GLib source: see x-source.h. */
#include "x-source.h"

struct x_source {
	GSource source;
	Display *dpy;
	gpointer fd_tag;
	x_source_fn fn;
	void *ctx;
};

static gboolean x_source_prepare(GSource *src, gint *timeout)
{
	*timeout = -1;
	return XQLength(((struct x_source *)src)->dpy) > 0;
}

static gboolean x_source_check(GSource *src)
{
	struct x_source *xs = (struct x_source *)src;

	return XQLength(xs->dpy) > 0 ||
	       (g_source_query_unix_fd(src, xs->fd_tag) & (G_IO_IN | G_IO_HUP | G_IO_ERR));
}

static gboolean x_source_dispatch(GSource *src, GSourceFunc cb, gpointer data)
{
	struct x_source *xs = (struct x_source *)src;

	/* XPending also reads the socket, and fails over to the IO error handler. */
	while (XPending(xs->dpy)) {
		XEvent ev;

		XNextEvent(xs->dpy, &ev);
		xs->fn(&ev, xs->ctx);
	}
	return G_SOURCE_CONTINUE;
}

static GSourceFuncs x_source_funcs = {
	.prepare = x_source_prepare,
	.check = x_source_check,
	.dispatch = x_source_dispatch,
};

guint x_source_attach(Display *dpy, x_source_fn fn, void *ctx)
{
	GSource *src = g_source_new(&x_source_funcs, sizeof(struct x_source));
	struct x_source *xs = (struct x_source *)src;
	guint id;

	xs->dpy = dpy;
	xs->fn = fn;
	xs->ctx = ctx;
	xs->fd_tag = g_source_add_unix_fd(src, ConnectionNumber(dpy), G_IO_IN | G_IO_HUP | G_IO_ERR);
	id = g_source_attach(src, NULL);
	g_source_unref(src);
	return id;
}
