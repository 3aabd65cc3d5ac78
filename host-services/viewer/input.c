// SPDX-License-Identifier: MIT
/*
 * Input: the viewer window's pointer and keys to the guest.  No pointer
 * grab: the pointer is absolute.  (Window resizes become guest resolution
 * requests in display.c.)
 *
 *  - Pointer motion, buttons 1-3 and the wheel (buttons 4/5) over the
 *    window become PH_CTL_POINTER events ("X Y BUTTONS WHEEL", X and Y
 *    0..65535 over the guest screen; backdoor/input.h).  display.c says
 *    where in the window it shows the guest screen, 1:1 or scaled
 *    (v->view_*): a window pixel maps back to the guest pixel under it,
 *    clamped to the guest screen.  Consecutive motion events are merged:
 *    only the newest position is sent.
 *  - Keys go as keysyms (what the host layout made of the key, modifiers
 *    included) with the host keycode as an id, in ph_input_msg datagrams on
 *    PH_DESKTOP_RES_INPUT; the agent picks guest keycodes.  Losing focus
 *    releases everything in the guest; while keys or buttons are held a heartbeat
 *    goes out every second, so a viewer that dies can't leave them stuck.
 */
#define G_LOG_DOMAIN "porthole-viewer"
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <X11/Xutil.h>

#include "backdoor/input.h"
#include "viewer.h"

struct input {
	struct viewer *v;
	bool bound;
	unsigned int buttons;		/* PH_POINTER_* held */
	bool pressed[PH_INPUT_KEY_IDS];	/* host keycodes we reported down */
	unsigned int npressed;
	guint held_timer;
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
	struct ph_reply r;
	char buf[64];
	bool taken = false;

	/* Scaled or not, the shown rectangle spans the guest screen's 0..65535. */
	if (!v->attached || v->view_width <= 0 || v->view_height <= 0)
		return false;
	snprintf(buf, sizeof(buf), "%u %u %u %d", to_abs(x - v->view_x, v->view_width),
		 to_abs(y - v->view_y, v->view_height), in->buttons, wheel);
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
}

static void input_detach(struct viewer *v, void *state)
{
	struct input *in = state;

	memset(in->pressed, 0, sizeof(in->pressed));
	in->npressed = 0;
	in->bound = false;
	in->buttons = 0;
}

static void input_fini(struct viewer *v, void *state)
{
	struct input *in = state;

	if (v->attached)
		release_all(in);
	if (in->held_timer)
		g_source_remove(in->held_timer);
	g_free(in);
}

const struct viewer_module viewer_input = {
	.name = "input",
	.init = input_init,
	.attach = input_attach,
	.detach = input_detach,
	.fini = input_fini,
};
