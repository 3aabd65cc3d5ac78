/* SPDX-License-Identifier: MIT */
/* The control socket server (main thread, GLib main loop).  Protocol: control-proto.h. */
#ifndef PORTHOLE_HV_CONTROL_H
#define PORTHOLE_HV_CONTROL_H

#include <glib.h>

struct vm;
struct control;

/* Listen on the VM's socket; `stop` runs (main thread) when a client asks the VM to stop. */
struct control *control_start(struct vm *vm, void (*stop)(void *), void *stop_opaque,
			      GError **error);
void control_stop(struct control *ctl);
const char *control_socket_path(struct control *ctl);
/*
 * Stop reading requests (the VM is going away) but keep the clients, so
 * replies to requests already taken (a TCLO waiting for the guest) can still
 * be sent before control_stop().
 */
void control_quiesce(struct control *ctl);

/*
 * Serve a connected SOCK_SEQPACKET socket (takes `fd`): the listener calls
 * it for each client whose uid it accepted; tests and the fuzz target hand
 * in one end of a socketpair.
 */
void control_add_client(struct control *ctl, int fd);

/* Hand PH_CTL_CONSOLE the VM's console (before serving clients; it outlives them). */
struct console;
void control_set_console(struct control *ctl, struct console *con);

/* True for names usable as a socket file name: [A-Za-z0-9._-], not starting with '.'. */
gboolean control_valid_name(const char *name);

#endif
