// SPDX-License-Identifier: MIT
/* The host's checks of guest framebuffer descriptors and dirty rectangles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "backdoor/video.h"

#define RAM_PAGES	(1024ull * 1024 * 1024 / VMCI_PAGE_SIZE)

static struct ph_video_fb good(void)
{
	return (struct ph_video_fb){ { PH_VIDEO_FB, 1 }, 1920, 1080, 7680,
				     PH_VIDEO_FORMAT_XRGB8888, 257, 2025 };
}

static int check(struct ph_video_fb fb)
{
	const char *why = NULL;
	int r = ph_video_fb_check(&fb, RAM_PAGES, &why);

	if (r)
		assert_non_null(why);
	return r;
}

static void test_fb_accepts_what_the_agent_sends(void **state)
{
	struct ph_video_fb fb = good();

	assert_int_equal(check(fb), 0);
	fb.width = fb.height = 1;
	fb.stride = 4;
	fb.npages = 1;
	assert_int_equal(check(fb), 0);
	fb = good();
	fb.first_ppn = RAM_PAGES - fb.npages;	/* the very last pages */
	assert_int_equal(check(fb), 0);
}

static void test_fb_refuses_hostile(void **state)
{
	struct ph_video_fb fb;

	fb = good(); fb.format = 2;			assert_int_equal(check(fb), -1);
	fb = good(); fb.width = 0;			assert_int_equal(check(fb), -1);
	fb = good(); fb.height = PH_VIDEO_MAX_DIM + 1;	assert_int_equal(check(fb), -1);
	fb = good(); fb.width = UINT32_MAX;		assert_int_equal(check(fb), -1);
	fb = good(); fb.stride = 7676;			assert_int_equal(check(fb), -1);
	fb = good(); fb.stride = 7682;			assert_int_equal(check(fb), -1);
	fb = good(); fb.stride = UINT32_MAX & ~3u;	assert_int_equal(check(fb), -1);
	fb = good(); fb.npages = 2024;			assert_int_equal(check(fb), -1);
	fb = good(); fb.npages = UINT64_MAX;		assert_int_equal(check(fb), -1);
	fb = good(); fb.first_ppn = RAM_PAGES;		assert_int_equal(check(fb), -1);
	fb = good(); fb.first_ppn = RAM_PAGES - 2024;	assert_int_equal(check(fb), -1);
	/* first_ppn + npages wraps around 2^64 */
	fb = good(); fb.first_ppn = UINT64_MAX - 10;	assert_int_equal(check(fb), -1);
}

static void test_rect_clip(void **state)
{
	struct ph_video_rect r = { 10, 20, 100, 100 };

	assert_true(ph_video_rect_clip(&r, 1920, 1080));
	assert_int_equal(r.width, 100);
	r = (struct ph_video_rect){ 1900, 1000, 100, 100 };
	assert_true(ph_video_rect_clip(&r, 1920, 1080));
	assert_int_equal(r.width, 20);
	assert_int_equal(r.height, 80);
	r = (struct ph_video_rect){ 5, 5, UINT32_MAX, UINT32_MAX };
	assert_true(ph_video_rect_clip(&r, 1920, 1080));
	assert_int_equal(r.width, 1915);
	assert_int_equal(r.height, 1075);
	r = (struct ph_video_rect){ 1920, 0, 1, 1 };
	assert_false(ph_video_rect_clip(&r, 1920, 1080));
	r = (struct ph_video_rect){ UINT32_MAX, UINT32_MAX, 2, 2 };
	assert_false(ph_video_rect_clip(&r, 1920, 1080));
	r = (struct ph_video_rect){ 0, 0, 0, 5 };
	assert_false(ph_video_rect_clip(&r, 1920, 1080));
}

static void test_parse_shapes(void **state)
{
	struct {
		struct ph_video_dirty h;
		struct ph_video_rect r[PH_VIDEO_MAX_RECTS + 1];
	} d = { { { PH_VIDEO_DIRTY, 3 }, 2, 0 }, { { 1, 2, 3, 4 }, { 5, 6, 7, 8 } } };
	struct ph_video_fb fb = good();
	union ph_video_msg m;
	const char *why = NULL;

	assert_int_equal(ph_video_parse(&fb, sizeof(fb), &m, &why), PH_VIDEO_FB);
	assert_int_equal(m.fb.stride, 7680);
	assert_int_equal(ph_video_parse(&fb, sizeof(fb) - 1, &m, &why), -1);
	assert_non_null(why);
	assert_int_equal(ph_video_parse(&d, sizeof(d.h) + 2 * 16, &m, &why), PH_VIDEO_DIRTY);
	assert_int_equal(m.dirty.count, 2);
	assert_int_equal(m.dirty.rects[1].height, 8);
	/* The count must match the size exactly, and stay within 1..64. */
	assert_int_equal(ph_video_parse(&d, sizeof(d.h) + 3 * 16, &m, &why), -1);
	d.h.count = 0;
	assert_int_equal(ph_video_parse(&d, sizeof(d.h), &m, &why), -1);
	d.h.count = PH_VIDEO_MAX_RECTS + 1;
	assert_int_equal(ph_video_parse(&d, sizeof(d), &m, &why), -1);
	/* The agent's messages: a header is enough; unknown types and short ones are refused. */
	d.h.hdr.type = PH_VIDEO_FB_ACK;
	assert_int_equal(ph_video_parse(&d, sizeof(d.h.hdr), &m, &why), PH_VIDEO_FB_ACK);
	assert_int_equal(m.hdr.generation, 3);
	d.h.hdr.type = 9;
	assert_int_equal(ph_video_parse(&d, sizeof(d), &m, &why), -1);
	assert_int_equal(ph_video_parse(&d, 7, &m, &why), -1);
}

static void test_pending_merges_when_full(void **state)
{
	struct ph_video_rect pending[PH_VIDEO_MAX_RECTS], r;
	uint32_t n = 0;

	for (uint32_t i = 0; i < PH_VIDEO_MAX_RECTS; i++) {
		r = (struct ph_video_rect){ 10 + i, 20, 1, 1 };
		ph_video_pending_add(pending, &n, &r);
	}
	assert_int_equal(n, PH_VIDEO_MAX_RECTS);
	r = (struct ph_video_rect){ 5, 100, 2, 3 };
	ph_video_pending_add(pending, &n, &r);
	assert_int_equal(n, 1);
	assert_int_equal(pending[0].x, 5);
	assert_int_equal(pending[0].y, 20);
	assert_int_equal(pending[0].width, 10 + PH_VIDEO_MAX_RECTS - 5);
	assert_int_equal(pending[0].height, 83);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fb_accepts_what_the_agent_sends),
		cmocka_unit_test(test_fb_refuses_hostile),
		cmocka_unit_test(test_rect_clip),
		cmocka_unit_test(test_parse_shapes),
		cmocka_unit_test(test_pending_merges_when_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
