// SPDX-License-Identifier: MIT
/*
 * Hostile paravirtual video messages from a real guest process: sent
 * straight to the viewer's resource {host, PH_DESKTOP_RES_VIDEO}, as a
 * compromised agent could.  The viewer must refuse each one with a log
 * line, never map memory outside guest RAM, never crash; the test then
 * checks the window still shows the guest.
 *
 *   video-hostile        send every case once; exits 0 when all were
 *                        delivered (what the viewer does is checked by
 *                        the test from its log and window)
 */
#include <stdio.h>
#include <string.h>

#include "backdoor/video.h"
#include "guest-additions/lib/vmci-guest.h"

static struct phg_vmci vmci;
static int n_sent, n_failed;

static void send_raw(const char *what, const void *msg, size_t len)
{
	struct vmci_handle dst = { VMCI_HOST_CONTEXT_ID, PH_DESKTOP_RES_VIDEO };
	int64_t r = phg_vmci_send(&vmci, dst, PH_DESKTOP_RES_VIDEO + 100, msg, len);

	n_sent++;
	if (r < 0) {
		n_failed++;
		printf("not ok %d - %s: send failed (%lld)\n", n_sent, what, (long long)r);
	} else {
		printf("ok %d - %s delivered\n", n_sent, what);
	}
}

static void send_fb(const char *what, uint32_t w, uint32_t h, uint32_t stride, uint32_t format,
		    uint64_t ppn, uint64_t npages)
{
	struct ph_video_fb fb = { { PH_VIDEO_FB, 0x7fff0000 }, w, h, stride, format, ppn, npages };

	send_raw(what, &fb, sizeof(fb));
}

int main(void)
{
	uint64_t ram_pages;
	int r = phg_vmci_open(&vmci);

	if (r < 0) {
		printf("not ok - no VMCI device (%s)\n", strerror(-r));
		return 1;
	}
	ram_pages = vmci.ram_size / VMCI_PAGE_SIZE;
	/* 64x64 needs 4 pages. */
	send_fb("pages past the end of guest RAM", 64, 64, 256, 1, ram_pages - 2, 4);
	send_fb("first page far outside guest RAM", 64, 64, 256, 1, 1ull << 40, 4);
	send_fb("page run wrapping around 2^64", 64, 64, 256, 1, UINT64_MAX - 1, 4);
	send_fb("absurd width", 100000, 64, 400000, 1, 0, 4);
	send_fb("absurd height", 64, 4000000000u, 256, 1, 0, 4);
	send_fb("zero width", 0, 64, 256, 1, 0, 4);
	send_fb("stride shorter than a row", 64, 64, 128, 1, 0, 4);
	send_fb("stride overflowing 32 bits", 8192, 8192, 0x80000000u, 1, 0, 65536);
	send_fb("page count too small for the size", 1920, 1080, 7680, 1, 0, 1);
	send_fb("page count absurd", 64, 64, 256, 1, 0, 1ull << 62);
	send_fb("unknown pixel format", 64, 64, 256, 99, 0, 4);
	{
		uint8_t shortfb[12] = { PH_VIDEO_FB };

		send_raw("truncated descriptor", shortfb, sizeof(shortfb));
	}
	{
		struct ph_video_dirty d = { { PH_VIDEO_DIRTY, 1 }, 1000000, 0 };

		send_raw("update claiming a million rectangles", &d, sizeof(d));
	}
	{
		struct {
			struct ph_video_dirty d;
			struct ph_video_rect r[2];
		} m = { { { PH_VIDEO_DIRTY, 1 }, 3, 0 }, { { 0, 0, 1, 1 }, { 0, 0, 1, 1 } } };

		send_raw("update shorter than its rectangle count", &m, sizeof(m));
	}
	{
		struct ph_video_hdr h = { 77, 0 };

		send_raw("unknown message type", &h, sizeof(h));
	}
	printf("%d sent, %d failed\n", n_sent, n_failed);
	phg_vmci_close(&vmci);
	return n_failed ? 1 : 0;
}
