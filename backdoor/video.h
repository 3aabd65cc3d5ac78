/* SPDX-License-Identifier: MIT */
/*
 * Paravirtual video: the datagrams between the guest agent (porthole-agent,
 * guest-additions/agent/video.c) and the host viewer (porthole-viewer,
 * host-services/viewer/display.c) on resource PH_DESKTOP_RES_VIDEO.
 *
 * The guest keeps a copy of its X screen in guest pages (one contiguous run
 * from the hypervisor's page allocator) and describes it with PH_VIDEO_FB;
 * the host maps those pages in place and repaints the rectangles that
 * PH_VIDEO_DIRTY names.  No pixels travel in datagrams.
 *
 *   host  -> guest  PH_VIDEO_HELLO   "a viewer is (back): describe yourself"
 *   guest -> host   PH_VIDEO_FB      a framebuffer (new generation)
 *   host  -> guest  PH_VIDEO_FB_ACK  "I switched to generation g" (the guest
 *                                    may free older buffers)
 *   guest -> host   PH_VIDEO_DIRTY   rectangles of generation g that changed
 *
 * Ordering: the guest fills a buffer completely before it announces it, and
 * frees an older buffer only after the host acknowledged a newer
 * generation (or after PH_VIDEO_RETIRE_MS without a viewer), so the host
 * never reads a half-registered buffer.  Rectangles of any other generation
 * than the host's current one are ignored.
 *
 * The host validates everything (the guest is hostile): exact datagram
 * sizes, the format, 1 <= width/height <= PH_VIDEO_MAX_DIM, stride, the page
 * run inside guest RAM, rectangles clipped to the buffer.
 * All fields little-endian (both ends are x86).
 */
#ifndef PORTHOLE_BACKDOOR_VIDEO_H
#define PORTHOLE_BACKDOOR_VIDEO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backdoor/desktop.h"

enum ph_video_msg_type {
	PH_VIDEO_HELLO = 1,
	PH_VIDEO_FB = 2,
	PH_VIDEO_FB_ACK = 3,
	PH_VIDEO_DIRTY = 4,
};

/* 32 bits per pixel, bytes B, G, R, unused in memory (X's 24-bit TrueColor). */
#define PH_VIDEO_FORMAT_XRGB8888	1u

/* Largest width or height either side accepts (RandR's own limit is 32767). */
#define PH_VIDEO_MAX_DIM		8192u
/* Rectangles per PH_VIDEO_DIRTY; more dirty areas are merged by the guest. */
#define PH_VIDEO_MAX_RECTS		64u
/* The guest frees a replaced buffer this long after announcing the new one
 * when no host acknowledged it (nobody is reading it then). */
#define PH_VIDEO_RETIRE_MS		2000u

struct ph_video_hdr {
	uint32_t type;			/* enum ph_video_msg_type */
	uint32_t generation;		/* HELLO: 0 */
};

struct ph_video_fb {
	struct ph_video_hdr hdr;	/* PH_VIDEO_FB */
	uint32_t width, height;		/* pixels */
	uint32_t stride;		/* bytes per row, >= width * 4, multiple of 4 */
	uint32_t format;		/* PH_VIDEO_FORMAT_* */
	uint64_t first_ppn;		/* guest-physical page of pixel (0, 0) */
	uint64_t npages;		/* pages in the run; stride * height fits */
};

struct ph_video_rect {
	uint32_t x, y, width, height;
};

struct ph_video_dirty {
	struct ph_video_hdr hdr;	/* PH_VIDEO_DIRTY */
	uint32_t count;			/* 1..PH_VIDEO_MAX_RECTS */
	uint32_t pad;
	struct ph_video_rect rects[];	/* exactly `count` of them */
};

_Static_assert(sizeof(struct ph_video_hdr) == 8, "video header is 8 bytes");
_Static_assert(sizeof(struct ph_video_fb) == 40, "framebuffer descriptor is 40 bytes");
_Static_assert(sizeof(struct ph_video_dirty) == 16, "dirty header is 16 bytes");

/* A PH_VIDEO_DIRTY as received: its rectangles copied out of the datagram. */
struct ph_video_update {
	struct ph_video_hdr hdr;
	uint32_t count;
	struct ph_video_rect rects[PH_VIDEO_MAX_RECTS];
};

/* Any video datagram, as ph_video_parse() copies it. */
union ph_video_msg {
	struct ph_video_hdr hdr;	/* HELLO, FB_ACK */
	struct ph_video_fb fb;		/* FB: still to be checked with ph_video_fb_check() */
	struct ph_video_update dirty;	/* DIRTY */
};

/*
 * Both sides: copy a received datagram into *m once (the sender may change
 * its buffer meanwhile) and check its shape: a known type; FB exactly its
 * size; DIRTY 1..PH_VIDEO_MAX_RECTS rectangles and exactly their size;
 * HELLO and FB_ACK a header (what follows is ignored).  The type, or -1
 * with *why set to a static text.
 */
int ph_video_parse(const void *buf, size_t len, union ph_video_msg *m, const char **why);

/*
 * Host side: queue a (clipped) rectangle for painting in pending[], which
 * holds *npending of PH_VIDEO_MAX_RECTS; when full, everything queued and
 * `r` become one box around all.
 */
void ph_video_pending_add(struct ph_video_rect *pending, uint32_t *npending,
			  const struct ph_video_rect *r);

/*
 * Host side: is this descriptor safe to map and read?  `ram_pages` is the
 * size of guest RAM in pages.  0, or -1 with *why set to a static text.
 * Overflow-safe for any field values.
 */
int ph_video_fb_check(const struct ph_video_fb *fb, uint64_t ram_pages, const char **why);

/*
 * Clip `r` to a width x height buffer: false when nothing is left.
 * Overflow-safe for any field values.
 */
bool ph_video_rect_clip(struct ph_video_rect *r, uint32_t width, uint32_t height);

#endif
