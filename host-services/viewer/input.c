// SPDX-License-Identifier: MIT
/*
 * Input: the viewer window's pointer and keys to the guest, and window
 * resizes to guest resolution requests.  No grab: the pointer is absolute.
 *
 *  - Pointer motion, buttons 1-3 and the wheel (buttons 4/5) over the
 *    window become PH_CTL_POINTER events ("X Y BUTTONS WHEEL", X and Y
 *    0..65535 over the guest screen; backdoor/input.h).  display.c shows
 *    the guest framebuffer 1:1 at the window's origin, so a window pixel is
 *    the same guest pixel (clamped to the guest screen).  Consecutive
 *    motion events are merged: only the newest position is sent.
 *  - Keys go as keysyms (what the host layout made of the key, modifiers
 *    included) with the host keycode as an id, in ph_input_msg datagrams on
 *    PH_DESKTOP_RES_INPUT; the agent picks guest keycodes.  Losing focus
 *    releases everything in the guest; while keys or buttons are held a heartbeat
 *    goes out every second, so a viewer that dies can't leave them stuck.
 *  - A window resized to another size than the guest's asks the guest for
 *    that size after 300 ms of calm: TCLO "Resolution_Set W H" to the
 *    agent ("toolbox-dnd"), sent from a worker thread with its own control
 *    connection so the window stays live while the guest switches modes.
 */
#define G_LOG_DOMAIN "porthole-viewer"
#include <errno.h>
#include <gio/gio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <X11/Xutil.h>

#include "backdoor/input.h"
#include "viewer.h"

#define RESIZE_DEBOUNCE_MS	300
#define RESIZE_TIMEOUT_MS	15000

struct input {
	struct viewer *v;
	bool bound;
	unsigned int buttons;		/* PH_POINTER_* held */
	int win_width, win_height;
	bool pressed[PH_INPUT_KEY_IDS];	/* host keycodes we reported down */
	unsigned int npressed;
	guint held_timer;

	guint resize_timer;
	bool resize_inflight;
	int resize_w, resize_h;		/* last size asked for */
	uint64_t pointer_events;
};

/* ---- pointer ---- */

static uint32_t to_abs(int pos, int size)
{
	if (size <= 1 || pos <= 0)
		return 0;
	if (pos >= size - 1)
		return VMMOUSE_ABS_MAX;
	return (uint32_t)(((uint64_t)pos * VMMOUSE_ABS_MAX + (uint64_t)(size - 1) / 2) /
			  (uint64_t)(size - 1));
}

/* True when the hypervisor took the event. */
static bool send_pointer(struct input *in, int x, int y, int wheel)
{
	struct viewer *v = in->v;
	/* The guest framebuffer sits 1:1 at the window origin; before one is known, the window. */
	int gw = v->guest_width > 0 ? v->guest_width : in->win_width;
	int gh = v->guest_height > 0 ? v->guest_height : in->win_height;
	struct ph_reply r;
	char buf[64];
	bool taken = false;

	if (!v->attached || gw <= 0 || gh <= 0)
		return false;
	snprintf(buf, sizeof(buf), "%u %u %u %d", to_abs(x, gw), to_abs(y, gh), in->buttons,
		 wheel);
	if (viewer_call(v, PH_CTL_POINTER, buf, 1000, &r) == 0) {
		if (r.status)
			g_debug("pointer event refused: %s", g_strerror(r.status));
		taken = !r.status;
		ph_reply_clear(&r);
	}
	in->pointer_events++;
	return taken;
}

static unsigned int button_bit(unsigned int b)
{
	switch (b) {
	case Button1:
		return PH_POINTER_LEFT;
	case Button2:
		return PH_POINTER_MIDDLE;
	case Button3:
		return PH_POINTER_RIGHT;
	}
	return 0;
}

/* ---- keys ---- */

/* True when the message reached the guest's input channel. */
static bool send_msg(struct input *in, uint32_t type, uint32_t keysym, uint32_t id,
		     uint32_t flags)
{
	struct ph_input_msg m = { type, keysym, id, flags };

	return in->bound && viewer_send(in->v, PH_DESKTOP_RES_INPUT, &m, sizeof(m)) >= 0;
}

static gboolean held_beat(gpointer data)
{
	struct input *in = data;

	if (!in->npressed && !in->buttons) {
		in->held_timer = 0;
		return G_SOURCE_REMOVE;
	}
	send_msg(in, PH_INPUT_KEYS_HELD, 0, 0, 0);
	return G_SOURCE_CONTINUE;
}

static void release_all(struct input *in)
{
	if (in->npressed || in->buttons)
		send_msg(in, PH_INPUT_RELEASE_ALL, 0, 0, 0);
	memset(in->pressed, 0, sizeof(in->pressed));
	in->npressed = 0;
}

static void on_key(struct input *in, XKeyEvent *ev, bool down)
{
	KeySym ks = NoSymbol;
	char buf[16];
	unsigned int id = ev->keycode & 0xFF;

	/* The keysym the host layout gives this key with these modifiers. */
	XLookupString(ev, buf, sizeof(buf), &ks, NULL);
	if (down) {
		if (ks == NoSymbol)
			return;
		if (!in->pressed[id])
			in->npressed++;
		in->pressed[id] = true;
		if (!in->held_timer)
			in->held_timer = g_timeout_add(PH_INPUT_HELD_INTERVAL_MS, held_beat, in);
	} else {
		if (!in->pressed[id])
			return;
		in->pressed[id] = false;
		in->npressed--;
	}
	/*
	 * A key press the guest got may be a paste: it lets the guest read the
	 * host clipboard once.  Modifiers don't count (Ctrl+V is one paste).
	 */
	if (send_msg(in, PH_INPUT_KEY, (uint32_t)ks, id, down ? PH_INPUT_KEY_DOWN : 0) && down &&
	    !IsModifierKey(ks))
		viewer_user_pressed(in->v);
}

/* ---- resize ---- */

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
	int fd = ph_connect(j->vm, &err);

	if (fd < 0) {
		j->status = ENOTCONN;
		j->reply = g_strdup(err->message);
		g_error_free(err);
	} else if (ph_call(fd, PH_CTL_TCLO, j->cmd, RESIZE_TIMEOUT_MS, &r, &err) < 0) {
		j->status = ETIMEDOUT;
		j->reply = g_strdup(err->message);
		g_error_free(err);
	} else {
		j->status = r.status;
		j->reply = g_strndup(r.data->str, r.data->len);
		ph_reply_clear(&r);
	}
	if (fd >= 0)
		close(fd);
	j->us = g_get_monotonic_time() - t0;
	g_task_return_boolean(task, TRUE);
}

static void maybe_resize(struct input *in);

static void resize_done(GObject *src, GAsyncResult *res, gpointer data)
{
	struct input *in = data;
	struct resize_job *j = g_task_get_task_data(G_TASK(res));

	in->resize_inflight = false;
	if (j->status)
		g_message("guest resize to %dx%d: no answer (%s: %s)", j->w, j->h,
			  g_strerror(j->status), j->reply);
	else if (g_str_has_prefix(j->reply, "OK"))
		g_message("guest resized to %dx%d (%.0f ms)", j->w, j->h, j->us / 1000.0);
	else
		g_message("guest resize to %dx%d failed: %s", j->w, j->h, j->reply);
	/* The window may have changed again meanwhile. */
	maybe_resize(in);
}

static void maybe_resize(struct input *in)
{
	struct viewer *v = in->v;
	struct resize_job *j;
	GTask *task;
	int w = in->win_width, h = in->win_height;

	if (in->resize_inflight || !v->attached || w <= 0 || h <= 0)
		return;
	if ((w == v->guest_width && h == v->guest_height) ||
	    (w == in->resize_w && h == in->resize_h))
		return;
	in->resize_w = w;
	in->resize_h = h;
	j = g_new0(struct resize_job, 1);
	j->vm = g_strdup(v->vm_name);
	j->w = w;
	j->h = h;
	j->cmd = g_strdup_printf(PH_AGENT_TCLO_APP ":Resolution_Set %d %d", w, h);
	in->resize_inflight = true;
	task = g_task_new(NULL, NULL, resize_done, in);
	g_task_set_task_data(task, j, resize_job_free);
	g_task_run_in_thread(task, resize_thread);
	g_object_unref(task);
}

static gboolean resize_debounced(gpointer data)
{
	struct input *in = data;

	in->resize_timer = 0;
	maybe_resize(in);
	return G_SOURCE_REMOVE;
}

static void on_configure(struct input *in, int w, int h)
{
	struct viewer *v = in->v;

	in->win_width = w;
	in->win_height = h;
	if (in->resize_timer)
		g_source_remove(in->resize_timer);
	in->resize_timer = 0;
	/* Before the guest screen is known, or when the window fits it, nothing to ask. */
	if (v->guest_width <= 0 || (w == v->guest_width && h == v->guest_height))
		return;
	in->resize_timer = g_timeout_add(RESIZE_DEBOUNCE_MS, resize_debounced, in);
}

/* ---- events ---- */

static bool on_x_event(struct viewer *v, XEvent *ev, void *opaque)
{
	struct input *in = opaque;

	if (!v->window || ev->xany.window != v->window)
		return false;
	switch (ev->type) {
	case MotionNotify: {
		XEvent newer;

		/* Only the newest position matters. */
		while (XCheckTypedWindowEvent(v->dpy, v->window, MotionNotify, &newer))
			*ev = newer;
		send_pointer(in, ev->xmotion.x, ev->xmotion.y, 0);
		return true;
	}
	case EnterNotify:
		send_pointer(in, ev->xcrossing.x, ev->xcrossing.y, 0);
		return false;
	case ButtonPress:
	case ButtonRelease: {
		unsigned int b = ev->xbutton.button, bit = button_bit(b);
		int wheel = 0;

		if (bit) {
			if (ev->type == ButtonPress)
				in->buttons |= bit;
			else
				in->buttons &= ~bit;
			/* The agent lets go of what we hold once the beat stops. */
			if (in->buttons && !in->held_timer)
				in->held_timer = g_timeout_add(PH_INPUT_HELD_INTERVAL_MS,
							       held_beat, in);
		} else if (ev->type == ButtonPress && (b == Button4 || b == Button5)) {
			wheel = b == Button4 ? -1 : 1;	/* up: away from the user */
		} else {
			return true;	/* horizontal wheel, extra buttons, wheel releases */
		}
		/* A button press (a middle-click paste, a menu's Paste) allows one clipboard read. */
		if (send_pointer(in, ev->xbutton.x, ev->xbutton.y, wheel) && bit &&
		    ev->type == ButtonPress)
			viewer_user_pressed(v);
		return true;
	}
	case KeyPress:
	case KeyRelease:
		on_key(in, &ev->xkey, ev->type == KeyPress);
		return true;
	case FocusOut:
		release_all(in);
		return false;
	case ConfigureNotify:
		on_configure(in, ev->xconfigure.width, ev->xconfigure.height);
		return false;	/* display.c wants it too */
	default:
		return false;
	}
}

static void on_guest_dg(struct viewer *v, const struct phh_dg *d, void *opaque)
{
	/* Nothing flows guest -> host on the input channel. */
}

static int input_init(struct viewer *v, void **state)
{
	struct input *in;

	if (v->headless)
		return -ENOTSUP;
	in = g_new0(struct input, 1);
	in->v = v;
	/* Pointer events before the first ConfigureNotify (none comes without a window manager). */
	if (v->window) {
		XWindowAttributes wa;

		if (XGetWindowAttributes(v->dpy, v->window, &wa)) {
			in->win_width = wa.width;
			in->win_height = wa.height;
		}
	}
	viewer_watch_x(v, on_x_event, in);
	*state = in;
	return 0;
}

static void input_attach(struct viewer *v, void *state)
{
	struct input *in = state;
	int r = viewer_bind(v, PH_DESKTOP_RES_INPUT, on_guest_dg, in);

	in->bound = r == 0;
	if (r < 0)
		g_message("input: cannot bind the input channel (%s): no keyboard",
			  g_strerror(-r));
	in->resize_w = in->resize_h = 0;
	/* A window resized while the VM was away still counts. */
	if (in->win_width > 0)
		on_configure(in, in->win_width, in->win_height);
}

static void input_detach(struct viewer *v, void *state)
{
	struct input *in = state;

	memset(in->pressed, 0, sizeof(in->pressed));
	in->npressed = 0;
	in->bound = false;
	in->buttons = 0;
	if (in->resize_timer)
		g_source_remove(in->resize_timer);
	in->resize_timer = 0;
}

static void input_fini(struct viewer *v, void *state)
{
	struct input *in = state;

	if (v->attached)
		release_all(in);
	if (in->held_timer)
		g_source_remove(in->held_timer);
	if (in->resize_timer)
		g_source_remove(in->resize_timer);
	/* A resize still in flight holds `in`: let it finish. */
	while (in->resize_inflight)
		g_main_context_iteration(NULL, TRUE);
	g_free(in);
}

const struct viewer_module viewer_input = {
	.name = "input",
	.init = input_init,
	.attach = input_attach,
	.detach = input_detach,
	.fini = input_fini,
};
