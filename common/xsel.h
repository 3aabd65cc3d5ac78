/* SPDX-License-Identifier: MIT */
/*
 * X selections (CLIPBOARD, PRIMARY) for the clipboard bridges: one
 * implementation used by both porthole-agent (guest) and porthole-viewer
 * (host), so ICCCM handling cannot drift between them.
 *
 * Why common/: the code is plain Xlib + XFixes + GLib, knows nothing of
 * either side's transport (no hypervisor, VMCI or guest-additions
 * headers), and backdoor/ is for wire formats only.  The Makefile compiles
 * every .c file of common/ into both programs.
 *
 * What it does, from a private unmapped window:
 *  - watches CLIPBOARD and PRIMARY owners with XFixes; a new foreign owner
 *    is asked for TARGETS and reported as a format set (ops->offer); our
 *    own ownership is never reported (no loops with the peer or with
 *    clipboard managers);
 *  - owns a selection on the peer's behalf (xsel_own) and answers
 *    TARGETS, TIMESTAMP, and the data targets; data requests go to
 *    ops->request and are answered later (xsel_answer / xsel_refuse),
 *    with INCR above the request size limit;
 *  - reads the foreign owner's data (xsel_read), INCR included.
 * Requestors and owners may vanish at any time: X errors are checked, and
 * transfers that stop moving time out.
 */
#ifndef PORTHOLE_COMMON_XSEL_H
#define PORTHOLE_COMMON_XSEL_H

#include <X11/Xlib.h>
#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "backdoor/clipboard.h"

/* An INCR transfer (either way) with no progress for this long is dropped. */
#define XSEL_STALL_TIMEOUT_MS	10000

struct xsel;

struct xsel_ops {
	/* A foreign application owns `sel` now with these formats (0: no owner). */
	void (*offer)(void *opaque, unsigned int sel, uint32_t formats);
	/*
	 * An application pastes `sel` we own on the peer's behalf, as
	 * `format`: answer `req` later with xsel_answer() or xsel_refuse().
	 */
	void (*request)(void *opaque, uint32_t req, unsigned int sel, unsigned int format);
	/*
	 * xsel_read() finished: status PH_CLIP_OK with `data`, or why not.
	 * After xsel_read_stream(), `data` is NULL: the bytes went to
	 * read_chunk.
	 */
	void (*read_done)(void *opaque, uint32_t cookie, uint32_t status, GBytes *data);
	/* xsel_read_stream(): the next bytes, as the owner sends them (UTF-8 for text). */
	void (*read_chunk)(void *opaque, uint32_t cookie, const void *data, size_t len);
	/* XSync and the error code of a request since `serial`, or 0 (main.c's). */
	int (*x_error_since)(void *opaque, unsigned long serial);
};

/* NULL (logged) without XFixes. */
struct xsel *xsel_new(Display *dpy, Window root, const struct xsel_ops *ops, void *opaque);
void xsel_free(struct xsel *x);
/* Feed every X event; true when it was ours. */
bool xsel_event(struct xsel *x, XEvent *ev);

/* Own `sel` for the peer, offering `formats`; 0 formats lets go (if we own it). */
void xsel_own(struct xsel *x, unsigned int sel, uint32_t formats);
bool xsel_owned(struct xsel *x, unsigned int sel);

/* Answer a pending request (the bytes are copied) or refuse it (logged). */
void xsel_answer(struct xsel *x, uint32_t req, const void *data, size_t len);
void xsel_refuse(struct xsel *x, uint32_t req, const char *why);
/*
 * Answer a pending request piece by piece, as the bytes arrive: what fits
 * one property goes as one answer at the end; more starts INCR at once,
 * and each chunk goes when the application has taken the last.  False
 * when the request is gone (answered, timed out, requestor vanished): stop
 * sending.  xsel_stream_end() with PH_CLIP_OK ends it; with an error it is
 * refused if nothing went yet, else abandoned without the final empty
 * chunk (logged), so the application never takes a cut paste for whole.
 */
bool xsel_stream_push(struct xsel *x, uint32_t req, const void *data, size_t len);
void xsel_stream_end(struct xsel *x, uint32_t req, uint32_t status);

/*
 * Read the foreign owner's `sel` as `format` (at most max_size bytes:
 * PH_CLIP_ERR_TOO_LARGE beyond); ops->read_done(cookie, ...) follows.
 */
void xsel_read(struct xsel *x, unsigned int sel, unsigned int format, uint64_t max_size,
	       uint32_t cookie);
/* The same, with the bytes handed to ops->read_chunk as they come (no copy kept). */
void xsel_read_stream(struct xsel *x, unsigned int sel, unsigned int format, uint64_t max_size,
		      uint32_t cookie);

/* Ask the current owners again (at start, when the peer (re)appears). */
void xsel_rescan(struct xsel *x);

/* Events the engine counted (tests): foreign owner changes reported. */
unsigned int xsel_offers_reported(struct xsel *x);

#endif
