// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the paravirtual video datagrams (backdoor/video.c) as
 * the viewer (host-services/viewer/display.c) and the agent
 * (guest-additions/agent/video.c) take them: ph_video_parse, the
 * framebuffer check against guest RAM, rectangle clipping and the viewer's
 * queue of rectangles to paint.
 *
 * The input is a stream of datagrams (raw bytes, or descriptors and updates
 * built from fields so the fuzzer reaches accepted shapes quickly).  The
 * viewer's side keeps the framebuffer it accepted as a heap buffer of
 * exactly stride * height bytes and reads the first and last pixel of every
 * row range it would paint, so a rectangle or stride that reaches outside
 * the guest's framebuffer is an ASan report.  Invariants: a parsed message
 * has the size its type says; an accepted framebuffer lies inside guest RAM
 * with its pixels inside its pages; a clipped rectangle is non-empty and
 * inside the framebuffer; the paint queue never holds more than
 * PH_VIDEO_MAX_RECTS and always covers every rectangle queued since it was
 * painted; what the agent builds for any screen size is accepted.
 */
#include <stdlib.h>

#include "backdoor/video.h"
#include "fuzz-input.h"

#define MAX_RAM_PAGES	512

struct viewer_model {
	uint64_t ram_pages;
	bool have_fb;
	struct ph_video_fb fb;
	uint8_t *pixels;		/* stride * height bytes */
	struct ph_video_rect pending[PH_VIDEO_MAX_RECTS];
	uint32_t npending;
	struct ph_video_rect queued[256];	/* every rectangle since the last paint */
	uint32_t nqueued;
};

static void touch(const struct viewer_model *v, const struct ph_video_rect *r)
{
	const volatile uint8_t *p = v->pixels;
	uint64_t first = (uint64_t)r->y * v->fb.stride + (uint64_t)r->x * 4;
	uint64_t last = (uint64_t)(r->y + r->height - 1) * v->fb.stride +
			(uint64_t)(r->x + r->width) * 4 - 1;

	(void)p[first];
	(void)p[last];
}

static bool inside(const struct ph_video_rect *r, const struct ph_video_rect *box)
{
	return r->x >= box->x && r->y >= box->y &&
	       (uint64_t)r->x + r->width <= (uint64_t)box->x + box->width &&
	       (uint64_t)r->y + r->height <= (uint64_t)box->y + box->height;
}

/* What the viewer's paint_pending does: every queued rectangle is covered, then painted. */
static void paint(struct viewer_model *v)
{
	for (uint32_t i = 0; i < v->nqueued; i++) {
		bool covered = false;

		for (uint32_t j = 0; j < v->npending && !covered; j++)
			covered = inside(&v->queued[i], &v->pending[j]);
		FUZZ_CHECK(covered);
	}
	for (uint32_t j = 0; j < v->npending; j++)
		touch(v, &v->pending[j]);
	v->npending = v->nqueued = 0;
}

static void drop_fb(struct viewer_model *v)
{
	free(v->pixels);
	v->pixels = NULL;
	v->have_fb = false;
	v->npending = v->nqueued = 0;
}

static void viewer_fb(struct viewer_model *v, const struct ph_video_fb *fb)
{
	const char *why = NULL;
	uint64_t bytes;

	if (ph_video_fb_check(fb, v->ram_pages, &why) < 0) {
		FUZZ_CHECK(why);
		return;
	}
	bytes = (uint64_t)fb->stride * fb->height;
	FUZZ_CHECK(fb->width && fb->height && fb->stride >= fb->width * 4ull);
	FUZZ_CHECK(fb->first_ppn < v->ram_pages && fb->npages <= v->ram_pages - fb->first_ppn);
	FUZZ_CHECK(bytes <= fb->npages * VMCI_PAGE_SIZE);
	drop_fb(v);
	v->fb = *fb;
	v->pixels = malloc(bytes);
	v->have_fb = true;
}

static void viewer_dirty(struct viewer_model *v, const struct ph_video_update *u)
{
	if (!v->have_fb || u->hdr.generation != v->fb.hdr.generation)
		return;
	for (uint32_t i = 0; i < u->count; i++) {
		struct ph_video_rect r = u->rects[i];

		if (!ph_video_rect_clip(&r, v->fb.width, v->fb.height))
			continue;
		FUZZ_CHECK(r.width && r.height && r.x < v->fb.width && r.y < v->fb.height);
		FUZZ_CHECK(r.width <= v->fb.width - r.x && r.height <= v->fb.height - r.y);
		ph_video_pending_add(v->pending, &v->npending, &r);
		FUZZ_CHECK(v->npending >= 1 && v->npending <= PH_VIDEO_MAX_RECTS);
		if (v->nqueued == sizeof(v->queued) / sizeof(v->queued[0]))
			paint(v);
		else
			v->queued[v->nqueued++] = r;
	}
}

/* The agent's framebuffer for a screen of width x height (fb_alloc) must pass the host's check. */
static void agent_fb(struct fuzz_input *in, uint64_t ram_pages)
{
	uint32_t width = fuzz_u16(in) % PH_VIDEO_MAX_DIM + 1;
	uint32_t height = fuzz_u16(in) % PH_VIDEO_MAX_DIM + 1;
	struct ph_video_fb fb = {
		{ PH_VIDEO_FB, fuzz_u32(in) }, width, height, width * 4, PH_VIDEO_FORMAT_XRGB8888,
		0, ((uint64_t)width * 4 * height + VMCI_PAGE_SIZE - 1) / VMCI_PAGE_SIZE,
	};
	const char *why = NULL;

	fb.first_ppn = fuzz_u32(in) % (ram_pages * 64);
	FUZZ_CHECK(ph_video_fb_check(&fb, UINT64_MAX / 2, &why) == 0);
	if (fb.first_ppn + fb.npages <= ram_pages)
		FUZZ_CHECK(ph_video_fb_check(&fb, ram_pages, &why) == 0);
	else
		FUZZ_CHECK(ph_video_fb_check(&fb, ram_pages, &why) < 0);
}

/* A datagram from the input: raw, or built from fields. */
static size_t next_datagram(struct fuzz_input *in, uint8_t *buf, size_t cap)
{
	uint8_t how = fuzz_u8(in);
	size_t len, got;
	const uint8_t *p;

	switch (how % 4) {
	case 0: {	/* a descriptor from fields, near what an agent sends */
		struct ph_video_fb fb = { .hdr = { PH_VIDEO_FB, fuzz_u8(in) % 4 } };

		fb.width = (how & 16) ? fuzz_u32(in) : fuzz_u16(in) % 2048;
		fb.height = (how & 16) ? fuzz_u32(in) : fuzz_u16(in) % 2048;
		fb.stride = (how & 32) ? fuzz_u32(in) : fb.width * 4 + fuzz_u8(in) % 3 * 4;
		fb.format = (how & 64) ? fuzz_u32(in) : PH_VIDEO_FORMAT_XRGB8888;
		fb.first_ppn = (how & 128) ? fuzz_u64(in) : fuzz_u16(in) % 1024;
		fb.npages = (how & 8) ? fuzz_u64(in) :
			    ((uint64_t)fb.stride * fb.height + VMCI_PAGE_SIZE - 1) / VMCI_PAGE_SIZE +
			    fuzz_u8(in) % 2;
		memcpy(buf, &fb, sizeof(fb));
		return sizeof(fb);
	}
	case 1: {	/* an update from fields */
		struct ph_video_dirty h = { .hdr = { PH_VIDEO_DIRTY, fuzz_u8(in) % 4 } };
		uint32_t n = fuzz_u8(in) % (PH_VIDEO_MAX_RECTS + 2);

		h.count = (how & 16) ? fuzz_u32(in) : n;
		memcpy(buf, &h, sizeof(h));
		len = sizeof(h);
		for (uint32_t i = 0; i < n && len + 16 <= cap; i++, len += 16) {
			struct ph_video_rect r;

			if (how & 32) {
				r = (struct ph_video_rect){ fuzz_u32(in), fuzz_u32(in), fuzz_u32(in),
							    fuzz_u32(in) };
			} else {
				r = (struct ph_video_rect){ fuzz_u16(in) % 2100, fuzz_u16(in) % 2100,
							    fuzz_u16(in) % 2100, fuzz_u16(in) % 2100 };
			}
			memcpy(buf + len, &r, sizeof(r));
		}
		return len;
	}
	default:	/* raw bytes */
		p = fuzz_bytes(in, fuzz_u16(in) % cap, &got);
		memcpy(buf, p, got);
		return got;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	static struct viewer_model v;
	static uint8_t buf[sizeof(struct ph_video_dirty) + 16 * (PH_VIDEO_MAX_RECTS + 4)];

	memset(&v, 0, sizeof(v));
	v.ram_pages = fuzz_u16(&in) % MAX_RAM_PAGES + 1;
	while (!fuzz_empty(&in)) {
		uint8_t op = fuzz_u8(&in);
		union ph_video_msg m;
		const char *why = NULL;
		size_t len;
		int type;

		if (op % 8 == 6) {
			paint(&v);
			continue;
		}
		if (op % 8 == 7) {
			agent_fb(&in, v.ram_pages);
			continue;
		}
		len = next_datagram(&in, buf, sizeof(buf));
		type = ph_video_parse(buf, len, &m, &why);
		if (type < 0) {
			FUZZ_CHECK(type == -1 && why);
			continue;
		}
		FUZZ_CHECK((uint32_t)type == m.hdr.type && len >= sizeof(m.hdr));
		switch (type) {
		case PH_VIDEO_FB:
			FUZZ_CHECK(len == sizeof(struct ph_video_fb));
			viewer_fb(&v, &m.fb);
			break;
		case PH_VIDEO_DIRTY:
			FUZZ_CHECK(m.dirty.count >= 1 && m.dirty.count <= PH_VIDEO_MAX_RECTS);
			FUZZ_CHECK(len == sizeof(struct ph_video_dirty) + 16ull * m.dirty.count);
			viewer_dirty(&v, &m.dirty);
			break;
		default:	/* HELLO, FB_ACK: the agent's; the viewer refuses them */
			FUZZ_CHECK(type == PH_VIDEO_HELLO || type == PH_VIDEO_FB_ACK);
			break;
		}
	}
	paint(&v);
	drop_fb(&v);
	return 0;
}
