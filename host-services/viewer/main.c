// SPDX-License-Identifier: MIT
/*
 * porthole-viewer VM: the VM's desktop in a window on the host display,
 * plus the host end of clipboard sharing.  This file finds the VM, keeps
 * the connection (re-attaching when the VM comes back), runs the main loop
 * and dispatches X events and guest datagrams to the modules.
 */
#include <errno.h>
#include <glib-unix.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "viewer.h"
#include "common/x-errors.h"
#include "common/x-source.h"

struct viewer_x_hook {
	viewer_x_handler fn;
	void *opaque;
};

struct viewer_dg_hook {
	uint32_t resource;
	viewer_dg_handler fn;
	void *opaque;
};

/* The feature modules, in start order (display.c: viewer_display, ...). */
extern const struct viewer_module viewer_display, viewer_input, viewer_clipboard;
static const struct viewer_module *const modules[] = {
	&viewer_display,
	&viewer_input,
	&viewer_clipboard,
};
static void *module_state[G_N_ELEMENTS(modules)];

#define REATTACH_INTERVAL_MS	500
/* How long a viewer refused for another one's VM shows why (unless closed first). */
#define REFUSAL_SHOW_S		10

void viewer_watch_x(struct viewer *v, viewer_x_handler fn, void *opaque)
{
	struct viewer_x_hook *h = g_new0(struct viewer_x_hook, 1);

	h->fn = fn;
	h->opaque = opaque;
	g_ptr_array_add(v->x_handlers, h);
}

int viewer_bind(struct viewer *v, uint32_t resource, viewer_dg_handler fn, void *opaque)
{
	struct viewer_dg_hook *h;
	int r;

	if (!v->attached)
		return -ENOTCONN;
	r = phh_vmci_bind(&v->vmci, resource);
	if (r < 0)
		return r;
	h = g_new0(struct viewer_dg_hook, 1);
	h->resource = resource;
	h->fn = fn;
	h->opaque = opaque;
	g_ptr_array_add(v->dg_handlers, h);
	return 0;
}

int64_t viewer_send(struct viewer *v, uint32_t resource, const void *payload, size_t len)
{
	if (!v->attached)
		return -ENOTCONN;
	return phh_vmci_send(&v->vmci, resource, resource, payload, len);
}

int viewer_call(struct viewer *v, enum ph_ctl_op op, const char *payload,
		int timeout_ms, struct ph_reply *reply)
{
	return viewer_call_len(v, op, payload, payload ? strlen(payload) : 0, timeout_ms, reply);
}

int viewer_call_len(struct viewer *v, enum ph_ctl_op op, const void *payload, size_t len,
		    int timeout_ms, struct ph_reply *reply)
{
	GError *err = NULL;

	if (!v->attached || v->ctl_fd < 0) {
		reply->status = ENOTCONN;
		reply->data = g_string_new(NULL);
		reply->fd = -1;
		return -1;
	}
	if (ph_call_len(v->ctl_fd, op, payload, len, timeout_ms, reply, &err) < 0) {
		g_debug("control request %d: %s", op, err->message);
		g_error_free(err);
		return -1;
	}
	return 0;
}

int viewer_x_error_since(struct viewer *v, unsigned long serial)
{
	return x_error_since(v->dpy, serial);
}

void viewer_watch_events(struct viewer *v, viewer_dg_handler fn, void *opaque)
{
	struct viewer_dg_hook *h = g_new0(struct viewer_dg_hook, 1);

	h->resource = VMCI_EVENT_HANDLER;	/* not a bound resource: nothing to bind */
	h->fn = fn;
	h->opaque = opaque;
	g_ptr_array_add(v->dg_handlers, h);
}

void viewer_user_pressed(struct viewer *v)
{
	int64_t now = g_get_monotonic_time();

	if (now - v->last_press_us > VIEWER_PASTE_WINDOW_MS * 1000LL)
		v->press_credits = 0;
	v->press_credits = MIN(v->press_credits + 1, VIEWER_PASTE_CREDITS_MAX);
	v->last_press_us = now;
	for (size_t i = 0; i < G_N_ELEMENTS(modules); i++)
		if (module_state[i] && modules[i]->user_press)
			modules[i]->user_press(v, module_state[i]);
}

bool viewer_take_user_press(struct viewer *v)
{
	if (!v->press_credits ||
	    g_get_monotonic_time() - v->last_press_us > VIEWER_PASTE_WINDOW_MS * 1000LL)
		return false;
	v->press_credits--;
	return true;
}

#define GUEST_LOG_WINDOW_US	(10 * G_USEC_PER_SEC)
#define GUEST_LOG_BURST		5

void viewer_guest_log(struct viewer_log_limit *l, const char *fmt, ...)
{
	int64_t now = g_get_monotonic_time();
	va_list ap;
	char *text;

	if (now - l->window_start_us > GUEST_LOG_WINDOW_US) {
		l->window_start_us = now;
		l->in_window = 0;
	}
	if (l->in_window >= GUEST_LOG_BURST) {
		l->dropped++;
		return;
	}
	l->in_window++;
	va_start(ap, fmt);
	text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (l->dropped)
		g_message("%s (%llu similar lines dropped before this one)", text,
			  (unsigned long long)l->dropped);
	else
		g_message("%s", text);
	l->dropped = 0;
	g_free(text);
}

/* ---- the VM connection ---- */

static gboolean try_attach(gpointer data);

static void detach(struct viewer *v, const char *why)
{
	if (!v->attached)
		return;
	g_message("VM '%s' went away (%s); waiting for it to come back", v->vm_name, why);
	for (size_t i = G_N_ELEMENTS(modules); i-- > 0;)
		if (module_state[i] && modules[i]->detach)
			modules[i]->detach(v, module_state[i]);
	if (v->vmci_watch)
		g_source_remove(v->vmci_watch);
	v->vmci_watch = 0;
	g_ptr_array_set_size(v->dg_handlers, 0);
	phh_vmci_close(&v->vmci);
	if (v->ctl_fd >= 0)
		close(v->ctl_fd);
	v->ctl_fd = -1;
	v->attached = false;
	g_timeout_add(REATTACH_INTERVAL_MS, try_attach, v);
}

static gboolean on_vmci_event(gint fd, GIOCondition cond, gpointer data)
{
	struct viewer *v = data;

	for (;;) {
		struct phh_dg d;
		int r = phh_vmci_recv(&v->vmci, &d, 0);

		if (r == -ETIMEDOUT)
			return G_SOURCE_CONTINUE;
		if (r < 0) {
			v->vmci_watch = 0;	/* removed by returning */
			detach(v, g_strerror(-r));
			return G_SOURCE_REMOVE;
		}
		for (guint i = 0; i < v->dg_handlers->len; i++) {
			struct viewer_dg_hook *h = g_ptr_array_index(v->dg_handlers, i);

			if (h->resource == d.hdr.dst.resource) {
				h->fn(v, &d, h->opaque);
				break;
			}
		}
		g_free(d.payload);
		if (!v->attached)	/* a handler found the VM gone */
			return G_SOURCE_REMOVE;
	}
}

static gboolean try_attach(gpointer data)
{
	static bool said_waiting;
	struct viewer *v = data;
	GError *err = NULL;

	if (phh_vmci_open(&v->vmci, v->vm_name, &err) < 0) {
		if (!said_waiting)
			g_message("VM '%s' is not running (%s); waiting for it", v->vm_name,
				  err->message);
		said_waiting = true;
		g_error_free(err);
		return G_SOURCE_CONTINUE;
	}
	v->ctl_fd = ph_connect(v->vm_name, &err);
	if (v->ctl_fd < 0) {
		g_message("VM '%s': %s", v->vm_name, err->message);
		g_error_free(err);
		phh_vmci_close(&v->vmci);
		return G_SOURCE_CONTINUE;
	}
	said_waiting = false;
	v->attached = true;
	v->vmci_watch = g_unix_fd_add(phh_vmci_event_fd(&v->vmci), G_IO_IN | G_IO_HUP | G_IO_ERR,
				      on_vmci_event, v);
	g_message("attached to VM '%s'", v->vm_name);
	for (size_t i = 0; i < G_N_ELEMENTS(modules); i++)
		if (module_state[i] && modules[i]->attach)
			modules[i]->attach(v, module_state[i]);
	return G_SOURCE_REMOVE;
}

/* ---- X events ---- */

/* One X event to the modules, in registration order, until one takes it. */
static void dispatch_x_event(XEvent *ev, void *ctx)
{
	struct viewer *v = ctx;

	for (guint i = 0; i < v->x_handlers->len; i++) {
		struct viewer_x_hook *h = g_ptr_array_index(v->x_handlers, i);

		if (h->fn(v, ev, h->opaque))
			break;
	}
}

static gboolean on_signal(gpointer data)
{
	g_main_loop_quit(data);
	return G_SOURCE_REMOVE;
}

/*
 * Another viewer has the VM: say so on stderr and, for a person who
 * clicked something, in a window for a while; the exit status is 1.
 */
static int refuse_second_viewer(struct viewer *v, const char *why)
{
	void *display_state = NULL;

	fprintf(stderr, "porthole-viewer: %s\n", why);
	v->refusal = g_strdup(why);
	if (!v->headless && modules[0]->init(v, &display_state) == 0) {
		x_source_attach(v->dpy, dispatch_x_event, v);
		g_timeout_add_seconds(REFUSAL_SHOW_S, on_signal, v->loop);
		g_main_loop_run(v->loop);
		modules[0]->fini(v, display_state);
	}
	g_free(v->refusal);
	return 1;
}

static char *pick_vm(void)
{
	GPtrArray *vms = ph_list_vms();
	char *name = NULL;

	if (vms->len == 1)
		name = g_strdup(g_ptr_array_index(vms, 0));
	else if (vms->len == 0)
		fprintf(stderr, "porthole-viewer: no VM is running; name one to wait for it\n");
	else
		fprintf(stderr, "porthole-viewer: several VMs are running; name one (porthole-ctl list)\n");
	g_ptr_array_free(vms, TRUE);
	return name;
}

int main(int argc, char **argv)
{
	static struct viewer viewer;
	struct viewer *v = &viewer;
	gboolean headless = FALSE, verbose = FALSE, version = FALSE, scale = FALSE;
	gboolean resize_guest = FALSE;
	gchar *display = NULL;
	GError *err = NULL;
	pid_t holder;
	int lock_fd;
	GOptionEntry entries[] = {
		{ "display", 'd', 0, G_OPTION_ARG_STRING, &display,
		  "host X display (default: $DISPLAY)", "NAME" },
		{ "headless", 0, 0, G_OPTION_ARG_NONE, &headless,
		  "no window: only the clipboard bridge (still needs an X display)", NULL },
		{ "scale", 0, 0, G_OPTION_ARG_NONE, &scale,
		  "keep the guest's screen size, scaled down to fit the window (Ctrl+Alt+S)",
		  NULL },
		{ "resize-guest", 0, 0, G_OPTION_ARG_NONE, &resize_guest,
		  "resize the guest's screen to the window (the default)", NULL },
		{ "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "debug messages", NULL },
		{ "version", 0, 0, G_OPTION_ARG_NONE, &version, "print the version", NULL },
		{ NULL }
	};
	GOptionContext *ctx = g_option_context_new("[VM] - show a Porthole VM's desktop");
	int r;

	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
		fprintf(stderr, "porthole-viewer: %s\n", err->message);
		return 2;
	}
	g_option_context_free(ctx);
	if (version) {
		printf("porthole-viewer %s\n", PORTHOLE_VERSION);
		return 0;
	}
	if (verbose)
		g_setenv("G_MESSAGES_DEBUG", "all", TRUE);
	if (scale && resize_guest) {
		fprintf(stderr, "porthole-viewer: --scale and --resize-guest exclude each other\n");
		return 2;
	}
	if (argc > 2) {
		fprintf(stderr, "porthole-viewer: one VM at a time\n");
		return 2;
	}
	v->vm_name = argc == 2 ? g_strdup(argv[1]) : pick_vm();
	if (!v->vm_name)
		return 1;
	v->headless = headless;
	v->fit = scale ? VIEWER_FIT_SCALE : VIEWER_FIT_RESIZE_GUEST;
	v->ctl_fd = -1;

	if (!display && !g_getenv("DISPLAY")) {
		fprintf(stderr,
			"porthole-viewer: no X display ($DISPLAY is not set).\n"
			"Run it from a desktop session, or start a virtual one, e.g.:\n"
			"  Xvfb :5 -screen 0 1920x1080x24 & DISPLAY=:5 porthole-viewer %s\n",
			v->vm_name);
		return 1;
	}
	v->dpy = XOpenDisplay(display);
	if (!v->dpy) {
		fprintf(stderr, "porthole-viewer: cannot open X display '%s'\n",
			display ? display : g_getenv("DISPLAY"));
		return 1;
	}
	x_errors_install("host X display closed; exiting (the VM keeps running)");
	v->screen = DefaultScreen(v->dpy);
	v->x_handlers = g_ptr_array_new_with_free_func(g_free);
	v->dg_handlers = g_ptr_array_new_with_free_func(g_free);
	v->loop = g_main_loop_new(NULL, FALSE);
	g_unix_signal_add(SIGTERM, on_signal, v->loop);
	g_unix_signal_add(SIGINT, on_signal, v->loop);
	/* Kept open (never closed) while we run: the lock lives as long as the fd. */
	lock_fd = ph_viewer_lock(v->vm_name, &holder, &err);
	if (lock_fd < 0) {
		r = refuse_second_viewer(v, err->message);
		g_error_free(err);
		return r;
	}

	for (size_t i = 0; i < G_N_ELEMENTS(modules); i++) {
		r = modules[i]->init(v, &module_state[i]);
		if (r < 0) {
			g_message("%s: off (%s)", modules[i]->name, g_strerror(-r));
			module_state[i] = NULL;
		}
	}
	x_source_attach(v->dpy, dispatch_x_event, v);
	if (try_attach(v) == G_SOURCE_CONTINUE)
		g_timeout_add(REATTACH_INTERVAL_MS, try_attach, v);

	g_main_loop_run(v->loop);

	if (v->attached) {
		for (size_t i = G_N_ELEMENTS(modules); i-- > 0;)
			if (module_state[i] && modules[i]->detach)
				modules[i]->detach(v, module_state[i]);
		phh_vmci_close(&v->vmci);
		if (v->ctl_fd >= 0)
			close(v->ctl_fd);
	}
	for (size_t i = G_N_ELEMENTS(modules); i-- > 0;)
		if (module_state[i])
			modules[i]->fini(v, module_state[i]);
	XCloseDisplay(v->dpy);
	g_main_loop_unref(v->loop);
	g_ptr_array_free(v->x_handlers, TRUE);
	g_ptr_array_free(v->dg_handlers, TRUE);
	g_free(v->vm_name);
	g_free(display);
	close(lock_fd);
	return 0;
}
