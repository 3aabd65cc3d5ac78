/* SPDX-License-Identifier: MIT */
/*
 * porthole-agent: the per-session desktop agent.  One process per X
 * session; main.c owns the X connection, the VMCI handle and the GLib main
 * loop, and hands events to the feature modules (video.c, resize.c,
 * input.c, clipboard.c), which register for what they need.
 *
 * Every module must survive a hostile or absent host: no VMCI device,
 * no viewer attached, malformed datagrams.  X errors are logged, never
 * fatal (agent_x_error tells a module whether its last request failed).
 */
#ifndef PORTHOLE_AGENT_H
#define PORTHOLE_AGENT_H

#include <X11/Xlib.h>
#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "backdoor/desktop.h"
#include "guest-additions/lib/vmci-guest.h"

struct agent;

/* Return true when the event was this module's (stops dispatch). */
typedef bool (*agent_x_handler)(struct agent *a, XEvent *ev, void *opaque);
/* A datagram for a resource the module bound; d->payload is freed after. */
typedef void (*agent_dg_handler)(struct agent *a, const struct phg_dg *d, void *opaque);

struct agent {
	Display *dpy;
	int screen;
	Window root;
	struct phg_vmci vmci;
	bool have_vmci;			/* false: no VMCI device in this guest */
	GMainLoop *loop;
	GPtrArray *x_handlers;		/* struct agent_x_hook * */
	GPtrArray *dg_handlers;		/* struct agent_dg_hook * */
	/* Called after each VMCI wake-up (a queue pair's doorbell among them). */
	void (*vmci_woke)(struct agent *a, void *opaque);
	void *vmci_woke_opaque;
};

/* Receive every X event (in registration order) until a handler takes it. */
void agent_watch_x(struct agent *a, agent_x_handler fn, void *opaque);
/*
 * Receive host datagrams sent to {cid, resource}: maps the resource to this
 * process.  0, or a negative VMCI error (no device, resource taken).
 */
int64_t agent_bind(struct agent *a, uint32_t resource, agent_dg_handler fn, void *opaque);
/* Send a datagram from {cid, resource} to {host, resource}. */
int64_t agent_send(struct agent *a, uint32_t resource, const void *payload, size_t len);
/*
 * XSync and report whether any request since `serial` (NextRequest before
 * the calls) failed; the error code, or 0.
 */
int agent_x_error_since(struct agent *a, unsigned long serial);

/*
 * Feature modules.  init returns 0, or a negative errno when the module
 * cannot run here (it has logged why; the agent goes on without it).
 */
struct agent_module {
	const char *name;
	int (*init)(struct agent *a, void **state);
	void (*fini)(struct agent *a, void *state);
};

#endif
