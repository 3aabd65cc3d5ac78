// SPDX-License-Identifier: MIT
/*
 * Input: the host's pointer and keyboard in this X session, with XTest.
 *
 * Pointer: the hypervisor's absolute pointer (VMware's vmmouse on the
 * backdoor, backdoor/input.h).  We enable it as a driver does (READ_ID,
 * check the version id, REQUEST_ABSOLUTE), then drain its queue whenever
 * the hypervisor's wakeup datagram arrives on PH_DESKTOP_RES_INPUT: no
 * polling, so an idle session costs nothing.  Packets become XTest motion
 * (0..65535 scaled to the screen), buttons 1-3, and wheel buttons 4/5.
 *
 * Keyboard: the viewer sends keysyms (what the host's layout produced).
 * We look for the guest keycode and shift level that produce the same
 * keysym in the guest's layout, adding or lifting Shift around the key
 * when the guest's modifier state disagrees; a keysym the guest layout
 * lacks goes on a spare keycode we remap (as xdotool does).  Every key we
 * press is remembered by the host's key id, so its release finds it even
 * if the modifiers changed meanwhile; all of them are released when the
 * host says so (focus lost), or when it has said nothing for
 * PH_INPUT_HELD_TIMEOUT_MS while keys or buttons are held (a viewer that
 * died): mouse buttons pressed through the vmmouse are let go then too.
 *
 * The vmmouse driver itself (enable, drain, decode) is shared with
 * porthole-guestd's uinput pointer (guest-additions/lib/vmmouse-guest.h):
 * guestd may be driving the pointer when we start, so we claim it first
 * (its claim socket) and hold the claim while we run.
 */
#define G_LOG_DOMAIN "porthole-agent"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <X11/XKBlib.h>
#include <X11/extensions/XTest.h>
#include <X11/keysym.h>

#include "agent.h"
#include "backdoor/backdoor.h"
#include "backdoor/input.h"
#include "guest-additions/lib/vmmouse-guest.h"

#define SPARE_KEYCODES_MAX	8
#define DRAIN_MAX_READS		4096	/* per wakeup: the queue holds 1024 words */
#define DRAIN_RETRY_MS		10

struct spare {
	KeyCode keycode;
	KeySym keysym;		/* mapped there now, or NoSymbol */
};

struct input {
	struct agent *agent;
	bool mouse_on;
	unsigned int buttons;	/* VMMOUSE_*_BUTTON held in the guest */
	int last_x, last_y;
	guint drain_retry;
	uint64_t packets;
	int claim_fd;		/* our claim on the pointer against guestd, or -1 */

	KeyCode pressed[PH_INPUT_KEY_IDS];	/* by host key id: the guest keycode */
	unsigned int npressed;
	guint held_timer;
	struct spare spare[SPARE_KEYCODES_MAX];
	unsigned int nspare, next_spare;
};

/* ---- vmmouse ---- */

static void screen_size(struct input *in, int *w, int *h)
{
	struct agent *a = in->agent;
	Window root;
	int x, y;
	unsigned int gw, gh, bw, depth;

	/* Asked each time: a resize may not have reached Xlib's copy yet. */
	if (XGetGeometry(a->dpy, a->root, &root, &x, &y, &gw, &gh, &bw, &depth)) {
		*w = (int)gw;
		*h = (int)gh;
	} else {
		*w = DisplayWidth(a->dpy, a->screen);
		*h = DisplayHeight(a->dpy, a->screen);
	}
}

static void button(struct input *in, unsigned int flags, uint32_t bit, unsigned int x_button)
{
	if ((flags ^ in->buttons) & bit)
		XTestFakeButtonEvent(in->agent->dpy, x_button, (flags & bit) != 0, CurrentTime);
}

struct drain_ctx {
	struct input *in;
	int sw, sh;		/* the screen, asked for at the first packet */
};

static void arm_held_timer(struct input *in);

static void packet(const struct vmmouse_packet *p, void *opaque)
{
	struct drain_ctx *c = opaque;
	struct input *in = c->in;
	Display *dpy = in->agent->dpy;

	if (p->relative) {
		XTestFakeRelativeMotionEvent(dpy, p->x, p->y, CurrentTime);
	} else {
		int x, y;

		if (!c->sw)
			screen_size(in, &c->sw, &c->sh);
		x = (int)(((uint64_t)p->x * (uint64_t)(c->sw - 1) + VMMOUSE_ABS_MAX / 2) /
			  VMMOUSE_ABS_MAX);
		y = (int)(((uint64_t)p->y * (uint64_t)(c->sh - 1) + VMMOUSE_ABS_MAX / 2) /
			  VMMOUSE_ABS_MAX);
		if (x != in->last_x || y != in->last_y)
			XTestFakeMotionEvent(dpy, in->agent->screen, x, y, CurrentTime);
		in->last_x = x;
		in->last_y = y;
	}
	button(in, p->buttons, VMMOUSE_LEFT_BUTTON, 1);
	button(in, p->buttons, VMMOUSE_MIDDLE_BUTTON, 2);
	button(in, p->buttons, VMMOUSE_RIGHT_BUTTON, 3);
	if (p->buttons != in->buttons) {
		in->buttons = p->buttons;
		/* A button held by a viewer that dies must not stay down. */
		arm_held_timer(in);
	}
	/* Positive z is towards the user: X button 5 ("down"). */
	for (int i = 0; i < (p->wheel < 0 ? -p->wheel : p->wheel); i++) {
		unsigned int b = p->wheel < 0 ? 4 : 5;

		XTestFakeButtonEvent(dpy, b, True, CurrentTime);
		XTestFakeButtonEvent(dpy, b, False, CurrentTime);
	}
	in->packets++;
}

static gboolean drain_retry(gpointer data);

static void mouse_drain(struct input *in)
{
	struct drain_ctx c = { .in = in };
	enum vmmouse_drain_result r = vmmouse_drain(DRAIN_MAX_READS, packet, &c, NULL);

	if (r == VMMOUSE_DRAIN_OFF) {
		in->mouse_on = false;
		g_warning("input: the absolute pointer is in its error state");
	}
	XFlush(in->agent->dpy);
	/* Something left (the read cap): come back soon, the wakeup won't repeat. */
	if (r == VMMOUSE_DRAIN_MORE && !in->drain_retry)
		in->drain_retry = g_timeout_add(DRAIN_RETRY_MS, drain_retry, in);
}

static gboolean drain_retry(gpointer data)
{
	struct input *in = data;

	in->drain_retry = 0;
	mouse_drain(in);
	return G_SOURCE_REMOVE;
}

/* ---- keyboard ---- */

static void release_all(struct input *in, const char *why)
{
	Display *dpy = in->agent->dpy;

	if (!in->npressed && !in->buttons)
		return;
	g_message("input: releasing %u held key(s) and buttons 0x%x: %s", in->npressed,
		  in->buttons, why);
	for (unsigned int i = 0; i < PH_INPUT_KEY_IDS; i++)
		if (in->pressed[i]) {
			XTestFakeKeyEvent(dpy, in->pressed[i], False, CurrentTime);
			in->pressed[i] = 0;
		}
	in->npressed = 0;
	button(in, 0, VMMOUSE_LEFT_BUTTON, 1);
	button(in, 0, VMMOUSE_MIDDLE_BUTTON, 2);
	button(in, 0, VMMOUSE_RIGHT_BUTTON, 3);
	in->buttons = 0;
	XFlush(dpy);
}

static gboolean held_timeout(gpointer data)
{
	struct input *in = data;

	in->held_timer = 0;
	release_all(in, "the host went quiet");
	return G_SOURCE_REMOVE;
}

static void arm_held_timer(struct input *in)
{
	if (in->held_timer)
		g_source_remove(in->held_timer);
	in->held_timer = in->npressed || in->buttons ?
		g_timeout_add(PH_INPUT_HELD_TIMEOUT_MS, held_timeout, in) : 0;
}

static void find_spare_keycodes(struct input *in)
{
	Display *dpy = in->agent->dpy;
	int min, max, per;
	KeySym *map;

	XDisplayKeycodes(dpy, &min, &max);
	map = XGetKeyboardMapping(dpy, (KeyCode)min, max - min + 1, &per);
	if (!map)
		return;
	/* From the top: low unused keycodes may belong to real (absent) keys. */
	for (int kc = max; kc >= min && in->nspare < SPARE_KEYCODES_MAX; kc--) {
		bool empty = true;

		for (int l = 0; l < per; l++)
			empty &= map[(kc - min) * per + l] == NoSymbol;
		if (empty)
			in->spare[in->nspare++] = (struct spare){ (KeyCode)kc, NoSymbol };
	}
	XFree(map);
}

/* A keycode that types `ks` at level 0: a spare one, remapped if needed. */
static KeyCode spare_for(struct input *in, KeySym ks)
{
	Display *dpy = in->agent->dpy;
	KeySym syms[2] = { ks, ks };
	struct spare *s;

	for (unsigned int i = 0; i < in->nspare; i++)
		if (in->spare[i].keysym == ks)
			return in->spare[i].keycode;
	if (!in->nspare)
		return 0;
	/* Round robin; a spare still held down is left alone. */
	for (unsigned int tries = 0; tries < in->nspare; tries++) {
		bool held = false;

		s = &in->spare[in->next_spare];
		in->next_spare = (in->next_spare + 1) % in->nspare;
		for (unsigned int k = 0; k < PH_INPUT_KEY_IDS; k++)
			held |= in->pressed[k] == s->keycode;
		if (held)
			continue;
		XChangeKeyboardMapping(dpy, s->keycode, 2, syms, 1);
		XSync(dpy, False);
		s->keysym = ks;
		return s->keycode;
	}
	return 0;
}

static bool shift_down(struct input *in)
{
	XkbStateRec st;

	if (XkbGetState(in->agent->dpy, XkbUseCoreKbd, &st) != Success)
		return false;
	return (st.mods & ShiftMask) != 0;
}

/* The Shift keys down right now (to lift them around a key that must not see them). */
static int held_shift_keys(struct input *in, KeyCode out[8])
{
	Display *dpy = in->agent->dpy;
	XModifierKeymap *mm = XGetModifierMapping(dpy);
	char keys[32];
	int n = 0;

	if (!mm)
		return 0;
	XQueryKeymap(dpy, keys);
	for (int i = 0; i < mm->max_keypermod && n < 8; i++) {
		KeyCode kc = mm->modifiermap[ShiftMapIndex * mm->max_keypermod + i];

		if (kc && (keys[kc / 8] & (1 << (kc % 8))))
			out[n++] = kc;
	}
	XFreeModifiermap(mm);
	return n;
}

static void key_press(struct input *in, KeySym ks, unsigned int id)
{
	Display *dpy = in->agent->dpy;
	KeyCode kc = XKeysymToKeycode(dpy, ks);
	int level = -1;

	if (kc) {
		if (XkbKeycodeToKeysym(dpy, kc, 0, 0) == ks)
			level = 0;
		else if (XkbKeycodeToKeysym(dpy, kc, 0, 1) == ks)
			level = 1;
	}
	if (level < 0) {
		/* Not on this layout, or only behind AltGr: a key of its own. */
		kc = spare_for(in, ks);
		level = 0;
		if (!kc) {
			g_message("input: keysym 0x%lx has no key and no spare keycode is left",
				  (unsigned long)ks);
			return;
		}
	}
	if (in->pressed[id]) {
		XTestFakeKeyEvent(dpy, in->pressed[id], False, CurrentTime);
		in->npressed--;
	}
	if (level == 1 && !shift_down(in)) {
		KeyCode shift = XKeysymToKeycode(dpy, XK_Shift_L);

		XTestFakeKeyEvent(dpy, shift, True, CurrentTime);
		XTestFakeKeyEvent(dpy, kc, True, CurrentTime);
		XTestFakeKeyEvent(dpy, shift, False, CurrentTime);
	} else if (level == 0 && XkbKeycodeToKeysym(dpy, kc, 0, 1) != NoSymbol &&
		   XkbKeycodeToKeysym(dpy, kc, 0, 1) != ks && shift_down(in)) {
		KeyCode held[8];
		int n = held_shift_keys(in, held);

		for (int i = 0; i < n; i++)
			XTestFakeKeyEvent(dpy, held[i], False, CurrentTime);
		XTestFakeKeyEvent(dpy, kc, True, CurrentTime);
		for (int i = 0; i < n; i++)
			XTestFakeKeyEvent(dpy, held[i], True, CurrentTime);
	} else {
		XTestFakeKeyEvent(dpy, kc, True, CurrentTime);
	}
	in->pressed[id] = kc;
	in->npressed++;
}

static void key_release(struct input *in, unsigned int id)
{
	if (!in->pressed[id])
		return;		/* its press never reached us: nothing to undo */
	XTestFakeKeyEvent(in->agent->dpy, in->pressed[id], False, CurrentTime);
	in->pressed[id] = 0;
	in->npressed--;
}

/* ---- datagrams and X events ---- */

static void on_datagram(struct agent *a, const struct phg_dg *d, void *opaque)
{
	struct input *in = opaque;
	struct ph_input_msg m;

	if (d->hdr.payload_size != sizeof(m)) {
		g_debug("input: datagram of %llu bytes dropped",
			(unsigned long long)d->hdr.payload_size);
		return;
	}
	memcpy(&m, d->payload, sizeof(m));
	if (m.type == PH_INPUT_POINTER_WAKE) {
		if (in->mouse_on)
			mouse_drain(in);
		return;
	}
	if (d->hdr.src.context != VMCI_HOST_CONTEXT_ID) {
		g_debug("input: key message from context %u dropped", d->hdr.src.context);
		return;
	}
	switch (m.type) {
	case PH_INPUT_KEY:
		if (m.key_id >= PH_INPUT_KEY_IDS || m.keysym == NoSymbol ||
		    m.keysym > 0x1FFFFFFFu || (m.flags & ~PH_INPUT_KEY_DOWN)) {
			g_debug("input: malformed key message dropped");
			return;
		}
		if (m.flags & PH_INPUT_KEY_DOWN)
			key_press(in, m.keysym, m.key_id);
		else
			key_release(in, m.key_id);
		XFlush(a->dpy);
		break;
	case PH_INPUT_RELEASE_ALL:
		release_all(in, "the host lost focus or detached");
		break;
	case PH_INPUT_KEYS_HELD:
		break;
	default:
		g_debug("input: message type %u dropped", m.type);
		return;
	}
	arm_held_timer(in);
}

static bool on_x_event(struct agent *a, XEvent *ev, void *opaque)
{
	/* Keep Xlib's keysym -> keycode cache right after any remap (ours too). */
	if (ev->type == MappingNotify)
		XRefreshKeyboardMapping(&ev->xmapping);
	return false;
}

static int input_init(struct agent *a, void **state)
{
	struct input *in;
	int ev, err, major, minor;
	int64_t r;

	if (!XTestQueryExtension(a->dpy, &ev, &err, &major, &minor)) {
		g_message("input: the X server has no XTEST extension");
		return -EOPNOTSUPP;
	}
	if (!bdoor_detect(NULL)) {
		g_message("input: no VMware backdoor: not in a Porthole/VMware VM");
		return -ENODEV;
	}
	in = g_new0(struct input, 1);
	in->agent = a;
	in->last_x = in->last_y = -1;
	/* porthole-guestd may hold the pointer (its uinput device): take it over. */
	in->claim_fd = vmmouse_claim(VMMOUSE_CLAIM_WAIT_MS);
	if (in->claim_fd >= 0)
		g_message("input: took the pointer over from porthole-guestd");
	else if (in->claim_fd != -ECONNREFUSED && in->claim_fd != -ENOENT)
		g_message("input: claiming the pointer from porthole-guestd failed: %s",
			  g_strerror(-in->claim_fd));
	/* The grab-free pointer needs the wakeup; without VMCI there is none. */
	r = agent_bind(a, PH_DESKTOP_RES_INPUT, on_datagram, in);
	if (r < 0) {
		g_message("input: cannot bind the input channel (VMCI error %lld): off",
			  (long long)r);
		if (in->claim_fd >= 0)
			close(in->claim_fd);
		g_free(in);
		return -ENODEV;
	}
	in->mouse_on = vmmouse_enable();
	if (!in->mouse_on)
		g_message("input: the hypervisor offers no absolute pointer; keyboard only");
	else
		mouse_drain(in);	/* anything queued before we bound */
	find_spare_keycodes(in);
	agent_watch_x(a, on_x_event, in);
	*state = in;
	return 0;
}

static void input_fini(struct agent *a, void *state)
{
	struct input *in = state;

	release_all(in, "the agent stops");
	if (in->held_timer)
		g_source_remove(in->held_timer);
	if (in->drain_retry)
		g_source_remove(in->drain_retry);
	for (unsigned int i = 0; i < in->nspare; i++)
		if (in->spare[i].keysym != NoSymbol) {
			KeySym none[2] = { NoSymbol, NoSymbol };

			XChangeKeyboardMapping(a->dpy, in->spare[i].keycode, 2, none, 1);
		}
	if (in->mouse_on)
		vmmouse_disable();
	XSync(a->dpy, False);
	/* After the disable: guestd takes the pointer back once we let go. */
	if (in->claim_fd >= 0)
		close(in->claim_fd);
	g_free(in);
}

const struct agent_module agent_input = {
	.name = "input",
	.init = input_init,
	.fini = input_fini,
};
