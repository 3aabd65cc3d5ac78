// SPDX-License-Identifier: MIT
/* Checks of the paravirtual video messages (backdoor/video.h). */
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
