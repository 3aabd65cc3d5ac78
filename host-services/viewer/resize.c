// SPDX-License-Identifier: MIT
/*
 * Asking the guest for a screen size: TCLO "Resolution_Set W H" to the
 * agent ("toolbox-dnd"), sent from a worker thread with its own control
 * connection so the window stays live while the guest switches modes.
 * display.c says what it wants (the window's size) and when; the newest
 * wish wins, one request is in flight at a time.
 *
 * The agent opens its TCLO channel a moment after it sent its first screen,
 * so "no such channel" (ENOTCONN) is retried for a while; a real answer
 * (OK or ERROR) is final for that size: an agent that can't resize is not
 * asked again until the wish changes, and the viewer scales instead.
 */
#define G_LOG_DOMAIN "porthole-viewer"
#include <errno.h>
#include <gio/gio.h>

#include "viewer.h"

#define RESIZE_TIMEOUT_MS	15000
#define RESIZE_RETRY_MS		200
#define RESIZE_RETRIES		50	/* 10 s of an agent without its channel */

struct guest_resize {
	struct viewer *v;
	int want_w, want_h;		/* what display.c wants (0: nothing) */
	int asked_w, asked_h;		/* answered for this size: don't ask again */
	guint timer;
	unsigned int retries;
	bool inflight;
};

struct resize_job {
	char *vm;
	char *cmd;
	int w, h;
	int status;		/* errno, or 0 */
	char *reply;
	gint64 us;
};

static void resize_job_free(gpointer p)
{
	struct resize_job *j = p;

	g_free(j->vm);
	g_free(j->cmd);
	g_free(j->reply);
	g_free(j);
}

static void resize_thread(GTask *task, gpointer src, gpointer data, GCancellable *c)
{
	struct resize_job *j = data;
	GError *err = NULL;
	struct ph_reply r;
	gint64 t0 = g_get_monotonic_time();

	if (ph_call_once(j->vm, PH_CTL_TCLO, j->cmd, RESIZE_TIMEOUT_MS, &r, &err) < 0) {
		/* The VM went away, or the guest never answered. */
		j->status = ETIMEDOUT;
		j->reply = g_strdup(err->message);
		g_error_free(err);
	} else {
		j->status = r.status;
		j->reply = g_strndup(r.data->str, r.data->len);
		ph_reply_clear(&r);
	}
	j->us = g_get_monotonic_time() - t0;
	g_task_return_boolean(task, TRUE);
}

static void send_wish(struct guest_resize *gr);

static gboolean on_timer(gpointer data)
{
	struct guest_resize *gr = data;

	gr->timer = 0;
	send_wish(gr);
	return G_SOURCE_REMOVE;
}

static void resize_done(GObject *src, GAsyncResult *res, gpointer data)
{
	struct guest_resize *gr = data;
	struct resize_job *j = g_task_get_task_data(G_TASK(res));

	gr->inflight = false;
	if (j->status == ENOTCONN && gr->v->attached && gr->retries < RESIZE_RETRIES &&
	    j->w == gr->want_w && j->h == gr->want_h) {
		/* The agent is not on its channel (yet): ask again soon. */
		gr->retries++;
		if (!gr->timer)
			gr->timer = g_timeout_add(RESIZE_RETRY_MS, on_timer, gr);
		return;
	}
	gr->asked_w = j->w;
	gr->asked_h = j->h;
	if (j->status)
		g_message("guest resize to %dx%d: no answer (%s: %s)", j->w, j->h,
			  g_strerror(j->status), j->reply);
	else if (g_str_has_prefix(j->reply, "OK"))
		g_message("guest resized to %dx%d (%.0f ms)", j->w, j->h, j->us / 1000.0);
	else
		g_message("guest resize to %dx%d failed: %s", j->w, j->h, j->reply);
	/* The wish may have changed meanwhile. */
	send_wish(gr);
}

static void send_wish(struct guest_resize *gr)
{
	struct viewer *v = gr->v;
	int w = gr->want_w, h = gr->want_h;
	struct resize_job *j;
	GTask *task;

	if (gr->inflight || gr->timer || !v->attached || w <= 0 || h <= 0)
		return;
	if ((w == v->guest_width && h == v->guest_height) || (w == gr->asked_w && h == gr->asked_h))
		return;
	j = g_new0(struct resize_job, 1);
	j->vm = g_strdup(v->vm_name);
	j->w = w;
	j->h = h;
	j->cmd = g_strdup_printf(PH_AGENT_TCLO_APP ":Resolution_Set %d %d", w, h);
	gr->inflight = true;
	task = g_task_new(NULL, NULL, resize_done, gr);
	g_task_set_task_data(task, j, resize_job_free);
	g_task_run_in_thread(task, resize_thread);
	g_object_unref(task);
}

struct guest_resize *guest_resize_new(struct viewer *v)
{
	struct guest_resize *gr = g_new0(struct guest_resize, 1);

	gr->v = v;
	return gr;
}

void guest_resize_want(struct guest_resize *gr, int width, int height, unsigned int delay_ms)
{
	if (gr->timer)
		g_source_remove(gr->timer);
	gr->timer = 0;
	gr->want_w = width;
	gr->want_h = height;
	gr->asked_w = gr->asked_h = 0;
	gr->retries = 0;
	if (delay_ms)
		gr->timer = g_timeout_add(delay_ms, on_timer, gr);
	else
		send_wish(gr);
}

void guest_resize_forget(struct guest_resize *gr)
{
	if (gr->timer)
		g_source_remove(gr->timer);
	gr->timer = 0;
	gr->want_w = gr->want_h = 0;
	gr->asked_w = gr->asked_h = 0;
}

void guest_resize_free(struct guest_resize *gr)
{
	guest_resize_forget(gr);
	/* A request still in flight holds `gr`: let it finish. */
	while (gr->inflight)
		g_main_context_iteration(NULL, TRUE);
	g_free(gr);
}
