// SPDX-License-Identifier: MIT
/* Checks of the paravirtual video messages (backdoor/video.h). */
#include <string.h>

#include "backdoor/video.h"

int ph_video_fb_check(const struct ph_video_fb *fb, uint64_t ram_pages, const char **why)
{
	uint64_t bytes;

	if (fb->format != PH_VIDEO_FORMAT_XRGB8888) {
		*why = "unknown pixel format";
		return -1;
	}
	if (!fb->width || !fb->height || fb->width > PH_VIDEO_MAX_DIM ||
	    fb->height > PH_VIDEO_MAX_DIM) {
		*why = "width or height out of range";
		return -1;
	}
	/* width <= 8192, so width * 4 can't overflow; stride is bounded the same way. */
	if (fb->stride < fb->width * 4 || fb->stride % 4 || fb->stride > PH_VIDEO_MAX_DIM * 4) {
		*why = "bad stride";
		return -1;
	}
	bytes = (uint64_t)fb->stride * fb->height;	/* <= 2^28: no overflow */
	if (fb->npages < (bytes + VMCI_PAGE_SIZE - 1) / VMCI_PAGE_SIZE ||
	    fb->npages > (bytes + VMCI_PAGE_SIZE - 1) / VMCI_PAGE_SIZE + 1) {
		*why = "page count does not match the size";
		return -1;
	}
	if (fb->first_ppn >= ram_pages || fb->npages > ram_pages - fb->first_ppn) {
		*why = "pages outside guest RAM";
		return -1;
	}
	return 0;
}

bool ph_video_rect_clip(struct ph_video_rect *r, uint32_t width, uint32_t height)
{
	if (r->x >= width || r->y >= height || !r->width || !r->height)
		return false;
	if (r->width > width - r->x)
		r->width = width - r->x;
	if (r->height > height - r->y)
		r->height = height - r->y;
	return true;
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static uint32_t max_u32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

int ph_video_parse(const void *buf, size_t len, union ph_video_msg *m, const char **why)
{
	struct ph_video_dirty dh;

	if (len < sizeof(m->hdr)) {
		*why = "a message shorter than its header";
		return -1;
	}
	memset(m, 0, sizeof(*m));
	memcpy(&m->hdr, buf, sizeof(m->hdr));
	switch (m->hdr.type) {
	case PH_VIDEO_HELLO:
	case PH_VIDEO_FB_ACK:
		return (int)m->hdr.type;
	case PH_VIDEO_FB:
		if (len != sizeof(m->fb)) {
			*why = "a framebuffer descriptor of the wrong size";
			return -1;
		}
		memcpy(&m->fb, buf, sizeof(m->fb));
		return PH_VIDEO_FB;
	case PH_VIDEO_DIRTY:
		if (len < sizeof(dh)) {
			*why = "a short update";
			return -1;
		}
		memcpy(&dh, buf, sizeof(dh));
		if (!dh.count || dh.count > PH_VIDEO_MAX_RECTS ||
		    len != sizeof(dh) + (size_t)dh.count * sizeof(struct ph_video_rect)) {
			*why = "an update whose rectangle count does not match its size";
			return -1;
		}
		m->dirty.count = dh.count;
		memcpy(m->dirty.rects, (const uint8_t *)buf + sizeof(dh),
		       dh.count * sizeof(struct ph_video_rect));
		return PH_VIDEO_DIRTY;
	default:
		*why = "an unknown message type";
		return -1;
	}
}

void ph_video_pending_add(struct ph_video_rect *pending, uint32_t *npending,
			  const struct ph_video_rect *r)
{
	uint32_t x0, y0, x1, y1;

	if (*npending < PH_VIDEO_MAX_RECTS) {
		pending[(*npending)++] = *r;
		return;
	}
	/* Clipped rectangles end inside an 8192-pixel buffer: no sum overflows. */
	x0 = r->x, y0 = r->y, x1 = r->x + r->width, y1 = r->y + r->height;
	for (uint32_t i = 0; i < *npending; i++) {
		x0 = min_u32(x0, pending[i].x);
		y0 = min_u32(y0, pending[i].y);
		x1 = max_u32(x1, pending[i].x + pending[i].width);
		y1 = max_u32(y1, pending[i].y + pending[i].height);
	}
	pending[0] = (struct ph_video_rect){ x0, y0, x1 - x0, y1 - y0 };
	*npending = 1;
}
