/* SPDX-License-Identifier: MIT */
/*
 * porthole-guestd: the guest daemon that answers the host's TCLO commands.
 *
 *   main.c      options, VM detection, signals, the GLib main loop
 *   tclo.c      the TCLO channel: poll loop, back-off, reconnect
 *   handlers.c  what each TCLO command does, and the RPCIs we send
 */
#ifndef PORTHOLE_GUESTD_H
#define PORTHOLE_GUESTD_H

#include <stdbool.h>
#include <stddef.h>

#include <glib.h>

#define GUESTD_NAME		"porthole-guestd"
#define GUESTD_POLL_MAX_MS	100	/* open-vm-tools: RPCIN_MAX_DELAY * 10 ms */
#define GUESTD_RETRY_MS		1000	/* reopen a lost channel this often */
#define GUESTD_RETRY_LOG_S	60	/* log repeated reopen failures this often */

struct guestd_opts {
	bool verbose;
	int poll_max_ms;
	bool once;		/* quit after the first command's reply is sent */
};

/* ---- handlers.c ---- */

struct guestd_state;

struct guestd_state *guestd_state_new(void);
void guestd_state_free(struct guestd_state *s);

/*
 * Run one TCLO command.  Returns the whole reply ("OK ..." / "ERROR ..."),
 * g_malloc'd, with its length in *reply_len (no NUL counted).
 */
char *guestd_dispatch(struct guestd_state *s, const char *msg, size_t len, size_t *reply_len);

/* The RPCIs sent whenever the TCLO channel (re)opens. */
void guestd_announce(void);

/* Value of an option the host set with Set_Option, or NULL. */
const char *guestd_option(struct guestd_state *s, const char *name);

/* ---- tclo.c ---- */

struct tclo;

struct tclo *tclo_new(const struct guestd_opts *opts, struct guestd_state *state,
		      GMainLoop *loop);
/* Open the channel (or start retrying) and begin polling. */
void tclo_start(struct tclo *t);
/* Send a pending reply, close the channel, stop the timers. */
void tclo_stop(struct tclo *t);
void tclo_free(struct tclo *t);
/* --once: whether the reply to the first command was sent. */
bool tclo_once_done(const struct tclo *t);

#endif
