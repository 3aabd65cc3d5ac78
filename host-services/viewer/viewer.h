/* SPDX-License-Identifier: MIT */
/*
 * porthole-viewer: one VM's desktop on the host's X display.  main.c owns
 * the X connection, the VM connection (found by name, re-attached when the
 * VM comes back) and the main loop; the feature modules (display.c:
 * window and framebuffer, input.c: pointer and keys, clipboard.c: the host
 * clipboard bridge) register for what they need.
 *
 * The guest is hostile: every datagram is validated by the module that
 * receives it.  One viewer per VM (ph_viewer_lock): the guest's channels
 * each take one host binder.  The VM may vanish at any moment: modules drop everything
 * that refers to it in detach() and start over in attach().
 */
#ifndef PORTHOLE_VIEWER_H
#define PORTHOLE_VIEWER_H

#include <X11/Xlib.h>
#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "backdoor/desktop.h"
#include "host-services/lib/porthole-host.h"
#include "host-services/lib/vmci-host.h"

struct viewer;

/* How the window and the guest's screen fit (Ctrl+Alt+S switches). */
enum viewer_fit {
	VIEWER_FIT_RESIZE_GUEST,	/* the guest's screen follows the window */
	VIEWER_FIT_SCALE,		/* the guest keeps its size, scaled down to fit */
};

typedef bool (*viewer_x_handler)(struct viewer *v, XEvent *ev, void *opaque);
typedef void (*viewer_dg_handler)(struct viewer *v, const struct phh_dg *d, void *opaque);

struct viewer {
	char *vm_name;
	Display *dpy;			/* NULL when headless */
	int screen;
	GMainLoop *loop;
	bool headless;

	bool attached;			/* the VM is there and these are valid: */
	struct phh_vmci vmci;		/* datagrams, queue pairs, guest RAM */
	int ctl_fd;			/* requests (TCLO, pointer, ...) */
	guint vmci_watch;

	Window window;			/* display.c's window (None: headless) */
	int guest_width, guest_height;	/* the guest framebuffer shown (0: none) */
	enum viewer_fit fit;
	/* Where display.c shows the guest screen in the window (input.c maps back). */
	int view_x, view_y, view_width, view_height;
	char *refusal;			/* why this viewer can't show the VM, or NULL */

	GPtrArray *x_handlers;
	GPtrArray *dg_handlers;		/* cleared at every detach */

	/* Key and button presses delivered to the guest (viewer_user_pressed). */
	int64_t last_press_us;
	unsigned int press_credits;	/* guest clipboard reads they still allow */
};

/*
 * The guest may read the host clipboard only in answer to a paste the host
 * user made (README, security model): each key or button press the viewer
 * delivers to the guest allows one read, for this long.  A paste is always
 * such a press (Ctrl+V, Shift+Insert, a middle click) followed at once by
 * the guest application's request; 2 s leaves room for a loaded, nested
 * guest still starting the pasting program, and is short enough that a
 * guest polling in the background gets nothing the user did not paste.
 */
#define VIEWER_PASTE_WINDOW_MS	2000
/* Presses in quick succession (pasting twice) add up to this many reads. */
#define VIEWER_PASTE_CREDITS_MAX	4

/* Rate-limited log lines for what a guest makes us log (viewer_guest_log). */
struct viewer_log_limit {
	int64_t window_start_us;
	unsigned int in_window;
	uint64_t dropped;
};

void viewer_watch_x(struct viewer *v, viewer_x_handler fn, void *opaque);
/* Bind host resource {2, resource} for this attachment: 0 or -errno. */
int viewer_bind(struct viewer *v, uint32_t resource, viewer_dg_handler fn, void *opaque);
/* Send from {2, resource} to {guest, resource}: a VMCI result or -errno. */
int64_t viewer_send(struct viewer *v, uint32_t resource, const void *payload, size_t len);
/*
 * A control request on the VM (hypervisor/control-proto.h; a text payload,
 * NUL-terminated, or NULL): 0 with the
 * reply filled in (check reply->status), -1 when not attached or the
 * transport failed.  ph_reply_clear() after.
 */
int viewer_call(struct viewer *v, enum ph_ctl_op op, const char *payload,
		int timeout_ms, struct ph_reply *reply);
/* The same with `len` bytes of payload (binary ops). */
int viewer_call_len(struct viewer *v, enum ph_ctl_op op, const void *payload, size_t len,
		    int timeout_ms, struct ph_reply *reply);
/* XSync; the X error code of a request since `serial`, or 0. */
int viewer_x_error_since(struct viewer *v, unsigned long serial);
/*
 * Also receive the hypervisor's events for this connection (queue pair
 * detaches, sent to VMCI_EVENT_HANDLER) for this attachment.
 */
void viewer_watch_events(struct viewer *v, viewer_dg_handler fn, void *opaque);
/* input.c delivered a key or button press to the guest (see VIEWER_PASTE_WINDOW_MS). */
void viewer_user_pressed(struct viewer *v);
/* Take one clipboard read a recent press allows: false when there is none. */
bool viewer_take_user_press(struct viewer *v);
/*
 * A log line the guest caused: at most 5 per 10 s, each saying how many
 * were dropped before it.
 */
void viewer_guest_log(struct viewer_log_limit *l, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

struct viewer_module {
	const char *name;
	/* 0, or -errno when the module can't run (logged; the viewer goes on). */
	int (*init)(struct viewer *v, void **state);
	void (*attach)(struct viewer *v, void *state);	/* the VM is (back) */
	void (*detach)(struct viewer *v, void *state);	/* the VM went away */
	void (*user_press)(struct viewer *v, void *state);	/* see viewer_user_pressed */
	void (*fini)(struct viewer *v, void *state);
};

/* window.c: what the desktop reads from the window (display.c's helpers). */
/* A top-level window with WM_CLASS, WM_CLIENT_MACHINE, _NET_WM_PID, _NET_WM_ICON. */
Window viewer_window_create(struct viewer *v, int x, int y, int width, int height);
void viewer_window_title(struct viewer *v, const char *title);
/* The area a new window should fit in: _NET_WORKAREA less a frame, or the screen less a margin. */
void viewer_work_area(struct viewer *v, int *x, int *y, int *width, int *height);
/* Ask the window manager for (or out of) full screen: _NET_WM_STATE_FULLSCREEN. */
void viewer_wm_fullscreen(struct viewer *v, bool on);

/* resize.c: asking the guest's agent for a screen size (display.c's helper). */
struct guest_resize;
struct guest_resize *guest_resize_new(struct viewer *v);
/* Ask for WIDTHxHEIGHT after delay_ms of calm (0: now); the newest wish wins. */
void guest_resize_want(struct guest_resize *gr, int width, int height, unsigned int delay_ms);
/* The VM went away: drop the wish. */
void guest_resize_forget(struct guest_resize *gr);
/* Waits for a request in flight. */
void guest_resize_free(struct guest_resize *gr);

#endif
