// SPDX-License-Identifier: MIT
/*
 * porthole-agent: the desktop agent of one X session.  It owns the X
 * connection, the VMCI handle and the main loop; the feature modules in
 * this directory do the work.  Where X events and host datagrams go:
 * agent_watch_x() / agent_bind() registrations, dispatched below.
 */
#include <errno.h>
#include <glib-unix.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "common/x-errors.h"
#include "common/x-source.h"

struct agent_x_hook {
	agent_x_handler fn;
	void *opaque;
};

struct agent_dg_hook {
	uint32_t resource;
	agent_dg_handler fn;
	void *opaque;
};

/*
 * The feature modules, in start order.  Each file defines its
 * `struct agent_module` (video.c: agent_video, ...).
 */
extern const struct agent_module agent_video, agent_resize, agent_input, agent_clipboard;
static const struct agent_module *const modules[] = {
	&agent_video,
	&agent_resize,
	&agent_input,
	&agent_clipboard,
};

void agent_watch_x(struct agent *a, agent_x_handler fn, void *opaque)
{
	struct agent_x_hook *h = g_new0(struct agent_x_hook, 1);

	h->fn = fn;
	h->opaque = opaque;
	g_ptr_array_add(a->x_handlers, h);
}

int64_t agent_bind(struct agent *a, uint32_t resource, agent_dg_handler fn, void *opaque)
{
	struct agent_dg_hook *h;
	int64_t r;

	if (!a->have_vmci)
		return VMCI_ERROR_DST_UNREACHABLE;
	r = phg_vmci_map(resource);
	if (r < 0)
		return r;
	h = g_new0(struct agent_dg_hook, 1);
	h->resource = resource;
	h->fn = fn;
	h->opaque = opaque;
	g_ptr_array_add(a->dg_handlers, h);
	return 0;
}

int64_t agent_send(struct agent *a, uint32_t resource, const void *payload, size_t len)
{
	struct vmci_handle dst = { VMCI_HOST_CONTEXT_ID, resource };

	if (!a->have_vmci)
		return VMCI_ERROR_DST_UNREACHABLE;
	return phg_vmci_send(&a->vmci, dst, resource, payload, len);
}

int agent_x_error_since(struct agent *a, unsigned long serial)
{
	return x_error_since(a->dpy, serial);
}

/* One X event to the modules, in registration order, until one takes it. */
static void dispatch_x_event(XEvent *ev, void *ctx)
{
	struct agent *a = ctx;

	for (guint i = 0; i < a->x_handlers->len; i++) {
		struct agent_x_hook *h = g_ptr_array_index(a->x_handlers, i);

		if (h->fn(a, ev, h->opaque))
			break;
	}
}

static gboolean on_vmci_readable(gint fd, GIOCondition cond, gpointer data)
{
	struct agent *a = data;
	struct phg_dg d;
	int r;

	r = phg_vmci_wait(&a->vmci, 0);
	if (r < 0 && r != -ETIMEDOUT) {
		g_warning("VMCI connection failed (%s); desktop channels are off", g_strerror(-r));
		a->have_vmci = false;
		return G_SOURCE_REMOVE;
	}
	while (phg_vmci_take(&a->vmci, &d)) {
		bool taken = false;

		for (guint i = 0; i < a->dg_handlers->len; i++) {
			struct agent_dg_hook *h = g_ptr_array_index(a->dg_handlers, i);

			if (h->resource == d.hdr.dst.resource) {
				h->fn(a, &d, h->opaque);
				taken = true;
				break;
			}
		}
		if (!taken)
			g_debug("datagram for unbound resource %u dropped", d.hdr.dst.resource);
		free(d.payload);
	}
	/* Doorbells name no datagram: whoever waits on a queue pair looks again. */
	if (a->vmci_woke)
		a->vmci_woke(a, a->vmci_woke_opaque);
	return G_SOURCE_CONTINUE;
}

static Display *open_display(const char *name, int wait_s)
{
	for (int i = 0;; i++) {
		Display *dpy = XOpenDisplay(name);

		if (dpy || i >= wait_s * 10)
			return dpy;
		g_usleep(100 * 1000);
	}
}

static gboolean on_signal(gpointer data)
{
	g_main_loop_quit(data);
	return G_SOURCE_REMOVE;
}

int main(int argc, char **argv)
{
	static struct agent agent;
	struct agent *a = &agent;
	gchar *display = NULL;
	gint wait_display = 0;
	gboolean verbose = FALSE, version = FALSE;
	void *state[G_N_ELEMENTS(modules)] = { 0 };
	GError *err = NULL;
	GOptionEntry entries[] = {
		{ "display", 'd', 0, G_OPTION_ARG_STRING, &display,
		  "X display (default: $DISPLAY)", "NAME" },
		{ "wait-display", 'w', 0, G_OPTION_ARG_INT, &wait_display,
		  "wait up to SECONDS for the X server to accept connections", "SECONDS" },
		{ "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "debug messages", NULL },
		{ "version", 0, 0, G_OPTION_ARG_NONE, &version, "print the version", NULL },
		{ NULL }
	};
	GOptionContext *ctx = g_option_context_new("- Porthole desktop agent (per X session)");
	int r;

	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
		fprintf(stderr, "porthole-agent: %s\n", err->message);
		return 2;
	}
	g_option_context_free(ctx);
	if (version) {
		printf("porthole-agent %s\n", PORTHOLE_VERSION);
		return 0;
	}
	if (verbose)
		g_setenv("G_MESSAGES_DEBUG", "all", TRUE);

	XInitThreads();
	a->dpy = open_display(display, wait_display);
	if (!a->dpy) {
		fprintf(stderr, "porthole-agent: cannot open X display '%s'\n",
			display ? display : g_getenv("DISPLAY") ? g_getenv("DISPLAY") : "");
		return 1;
	}
	/* X errors never end the agent; the X server going away ends the session, and the agent. */
	x_errors_install("X display closed; exiting");
	a->screen = DefaultScreen(a->dpy);
	a->root = RootWindow(a->dpy, a->screen);
	a->x_handlers = g_ptr_array_new_with_free_func(g_free);
	a->dg_handlers = g_ptr_array_new_with_free_func(g_free);
	a->loop = g_main_loop_new(NULL, FALSE);

	r = phg_vmci_open(&a->vmci);
	a->have_vmci = r == 0;
	if (r < 0)
		g_message("no VMCI channel (%s): video and clipboard are off",
			  r == -ENODEV ? "not a Porthole guest" : g_strerror(-r));
	else
		g_unix_fd_add(a->vmci.sock, G_IO_IN | G_IO_HUP | G_IO_ERR, on_vmci_readable, a);

	for (size_t i = 0; i < G_N_ELEMENTS(modules); i++) {
		r = modules[i]->init(a, &state[i]);
		if (r < 0) {
			g_message("%s: off (%s)", modules[i]->name, g_strerror(-r));
			state[i] = NULL;
		} else {
			g_debug("%s: on", modules[i]->name);
		}
	}
	x_source_attach(a->dpy, dispatch_x_event, a);
	g_unix_signal_add(SIGTERM, on_signal, a->loop);
	g_unix_signal_add(SIGINT, on_signal, a->loop);

	g_main_loop_run(a->loop);

	for (size_t i = G_N_ELEMENTS(modules); i-- > 0;)
		if (state[i])
			modules[i]->fini(a, state[i]);
	if (a->have_vmci)
		phg_vmci_close(&a->vmci);
	XCloseDisplay(a->dpy);
	g_main_loop_unref(a->loop);
	g_ptr_array_free(a->x_handlers, TRUE);
	g_ptr_array_free(a->dg_handlers, TRUE);
	g_free(display);
	return 0;
}
