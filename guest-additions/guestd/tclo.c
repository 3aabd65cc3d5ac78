// SPDX-License-Identifier: MIT
/*
 * The TCLO channel, polled as open-vm-tools lib/rpcIn does:
 *
 *   every poll: send the reply to the previous command (an empty message
 *   the first time: it is how the host learns a tools daemon is there),
 *   then ask for the next command.
 *
 *   poll delay: 0 after a command; when idle 10, 20, 40, 80, then
 *   poll_max_ms (100 by default).
 *
 * Porthole extension (as the agent's, guest-additions/agent/resize.c):
 * where main.c could map PH_DESKTOP_RES_TOOLS_WAKEUP (a trap engine guest
 * with VMCI), the hypervisor sends us a datagram whenever it queues a
 * command for "toolbox", so after the back-off reaches poll_max_ms an idle
 * guestd polls only every GUESTD_WOKEN_POLL_MS (a safety net), and a
 * wakeup polls at once.  An idle VM then costs no traps at all instead of
 * ~10 polls a second.  Without VMCI (a KVM guest's user space, VMware)
 * the map fails and we poll VMware's way.
 *
 * Any channel error (the host closed or reset the channel, a failed send or
 * receive) closes our end, and we reopen every second, forever.  The first
 * failure is logged, then one line a minute while it lasts.
 */
#define G_LOG_DOMAIN "porthole-guestd"

#include <stdlib.h>

#include "backdoor/msgchan.h"
#include "guestd.h"

struct tclo {
	const struct guestd_opts *opts;
	struct guestd_state *state;
	GMainLoop *loop;

	struct msgchan chan;
	char *result;		/* reply to send at the next poll (g_malloc) */
	size_t result_len;
	unsigned int delay_ms;
	guint poll_src, retry_src;

	bool wakeups;		/* the hypervisor wakes us: slow idle polls */
	uint64_t wakeups_seen;

	bool once_done;		/* --once: the first reply went out */
	bool failing;		/* between a failure and the next good open */
	gint64 fail_logged_us;	/* when we last logged a failed reopen */
	unsigned int fail_count;
};

static gboolean tclo_poll(gpointer data);
static gboolean tclo_retry(gpointer data);

struct tclo *tclo_new(const struct guestd_opts *opts, struct guestd_state *state,
		      GMainLoop *loop)
{
	struct tclo *t = g_new0(struct tclo, 1);

	t->opts = opts;
	t->state = state;
	t->loop = loop;
	return t;
}

static void set_result(struct tclo *t, char *result, size_t len)
{
	g_free(t->result);
	t->result = result;
	t->result_len = len;
}

static void schedule_poll(struct tclo *t)
{
	if (t->poll_src)
		g_source_remove(t->poll_src);
	t->poll_src = g_timeout_add(t->delay_ms, tclo_poll, t);
}

static void schedule_retry(struct tclo *t)
{
	if (!t->retry_src)
		t->retry_src = g_timeout_add(GUESTD_RETRY_MS, tclo_retry, t);
}

/* Returns true when the channel is open and polling has started. */
static bool tclo_open(struct tclo *t)
{
	if (msgchan_open(&t->chan, TCLO_PROTOCOL_NUM)) {
		gint64 now = g_get_monotonic_time();
		gint64 quiet = (gint64)GUESTD_RETRY_LOG_S * G_USEC_PER_SEC;

		t->fail_count++;
		if (!t->failing || now - t->fail_logged_us >= quiet) {
			g_warning("cannot open the TCLO channel: %s (attempt %u; retrying every %d ms)",
				  t->chan.err ? t->chan.err : "unknown error", t->fail_count,
				  GUESTD_RETRY_MS);
			t->fail_logged_us = now;
		}
		t->failing = true;
		return false;
	}

	if (t->failing)
		g_message("TCLO channel %u open after %u failed attempt(s)",
			  t->chan.id, t->fail_count);
	else
		g_debug("TCLO channel %u open", t->chan.id);
	t->failing = false;
	t->fail_count = 0;

	/* First send: empty, "here I am". */
	set_result(t, NULL, 0);
	t->delay_ms = 0;
	guestd_announce();
	schedule_poll(t);
	return true;
}

static void channel_error(struct tclo *t, const char *what)
{
	if (!t->failing)
		g_warning("TCLO channel lost (%s: %s); reopening every %d ms", what,
			  t->chan.err ? t->chan.err : "unknown error", GUESTD_RETRY_MS);
	/* Logged now; the reopen attempts log only from the next minute on. */
	t->failing = true;
	t->fail_logged_us = g_get_monotonic_time();
	t->fail_count = 0;
	msgchan_close(&t->chan);
	set_result(t, NULL, 0);
	if (t->poll_src) {
		g_source_remove(t->poll_src);
		t->poll_src = 0;
	}
	if (t->opts->once) {
		g_main_loop_quit(t->loop);
		return;
	}
	schedule_retry(t);
}

static gboolean tclo_retry(gpointer data)
{
	struct tclo *t = data;

	if (tclo_open(t)) {
		t->retry_src = 0;
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

static unsigned int backoff(unsigned int delay_ms, unsigned int max_ms)
{
	unsigned int next = delay_ms ? delay_ms * 2 : 10;

	return next < max_ms ? next : max_ms;
}

static gboolean tclo_poll(gpointer data)
{
	struct tclo *t = data;
	unsigned int old_delay = t->delay_ms;
	bool replied = t->result_len != 0;
	char *msg;
	size_t len;

	if (msgchan_send(&t->chan, t->result, t->result_len)) {
		t->poll_src = 0;
		if (replied)
			guestd_reply_done(t->state, false);
		channel_error(t, "send");
		return G_SOURCE_REMOVE;
	}
	set_result(t, NULL, 0);
	if (replied)
		guestd_reply_done(t->state, true);
	if (replied && t->opts->once) {
		t->once_done = true;
		t->poll_src = 0;
		g_main_loop_quit(t->loop);
		return G_SOURCE_REMOVE;
	}

	if (msgchan_recv(&t->chan, &msg, &len)) {
		t->poll_src = 0;
		channel_error(t, "receive");
		return G_SOURCE_REMOVE;
	}

	if (msg) {
		size_t rlen;
		char *reply = guestd_dispatch(t->state, msg, len, &rlen);

		free(msg);
		set_result(t, reply, rlen);
		t->delay_ms = 0;
	} else if (t->wakeups && t->delay_ms >= (unsigned int)t->opts->poll_max_ms) {
		t->delay_ms = GUESTD_WOKEN_POLL_MS;	/* idle: the host wakes us */
	} else {
		t->delay_ms = backoff(t->delay_ms, (unsigned int)t->opts->poll_max_ms);
	}

	if (t->delay_ms == old_delay)
		return G_SOURCE_CONTINUE;
	t->poll_src = g_timeout_add(t->delay_ms, tclo_poll, t);
	return G_SOURCE_REMOVE;
}

void tclo_start(struct tclo *t)
{
	if (!tclo_open(t)) {
		if (t->opts->once) {
			g_main_loop_quit(t->loop);
			return;
		}
		schedule_retry(t);
	}
}

void tclo_stop(struct tclo *t)
{
	if (t->poll_src) {
		g_source_remove(t->poll_src);
		t->poll_src = 0;
	}
	if (t->retry_src) {
		g_source_remove(t->retry_src);
		t->retry_src = 0;
	}
	if (t->chan.open) {
		/* A reply still owed to the host goes out before we leave. */
		if (t->result_len)
			msgchan_send(&t->chan, t->result, t->result_len);
		msgchan_close(&t->chan);
		g_debug("TCLO channel closed (%llu wakeups)",
			(unsigned long long)t->wakeups_seen);
	}
	set_result(t, NULL, 0);
}

void tclo_set_wakeups(struct tclo *t, bool on)
{
	t->wakeups = on;
	/* Back to VMware's polling: not after a slow safety-net delay. */
	if (!on && t->poll_src && t->delay_ms > (unsigned int)t->opts->poll_max_ms) {
		t->delay_ms = (unsigned int)t->opts->poll_max_ms;
		schedule_poll(t);
	}
}

void tclo_wakeup(struct tclo *t)
{
	t->wakeups_seen++;
	/* No channel (the retry timer reopens it), or a poll already due now. */
	if (!t->poll_src || t->delay_ms == 0)
		return;
	t->delay_ms = 0;
	schedule_poll(t);
}

bool tclo_once_done(const struct tclo *t)
{
	return t->once_done;
}

void tclo_free(struct tclo *t)
{
	if (!t)
		return;
	tclo_stop(t);
	g_free(t);
}
