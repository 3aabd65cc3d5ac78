// SPDX-License-Identifier: MIT
/* Clipboard datagrams: what ph_clip_parse() lets through from a peer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "backdoor/clipboard.h"

static void test_round_trip(void **state)
{
	struct ph_clip_offer o = ph_clip_offer_make(PH_CLIP_SEL_PRIMARY, 7, PH_CLIP_FMT_ALL);
	struct ph_clip_xfer x = ph_clip_xfer_make(PH_CLIP_DONE, 3, PH_CLIP_OK, PH_CLIP_FMT_PNG, 9, 42);
	struct ph_clip_hdr hello;
	union ph_clip_msg m;

	assert_int_equal(ph_clip_parse(&o, sizeof(o), &m), PH_CLIP_OFFER);
	assert_int_equal(m.offer.selection, PH_CLIP_SEL_PRIMARY);
	assert_int_equal(m.offer.serial, 7);
	assert_int_equal(ph_clip_parse(&x, sizeof(x), &m), PH_CLIP_DONE);
	assert_int_equal(m.xfer.size, 42);
	assert_int_equal(m.xfer.qp_resource, 9);
	ph_clip_hdr_init(&hello, PH_CLIP_HELLO);
	assert_int_equal(ph_clip_parse(&hello, sizeof(hello), &m), PH_CLIP_HELLO);
}

static void test_refused(void **state)
{
	struct ph_clip_offer o = ph_clip_offer_make(PH_CLIP_SEL_CLIPBOARD, 1, 1);
	struct ph_clip_offer bad;
	uint8_t big[sizeof(o) + 8] = { 0 };
	union ph_clip_msg m;

	assert_int_equal(ph_clip_parse(&o, 0, &m), -1);
	assert_int_equal(ph_clip_parse(&o, sizeof(o.hdr) - 1, &m), -1);
	assert_int_equal(ph_clip_parse(&o, sizeof(o) - 1, &m), -1);	/* short for its type */
	memcpy(big, &o, sizeof(o));
	assert_int_equal(ph_clip_parse(big, sizeof(big), &m), -1);	/* long for its type */
	bad = o;
	bad.hdr.magic ^= 1;
	assert_int_equal(ph_clip_parse(&bad, sizeof(bad), &m), -1);
	bad = o;
	bad.hdr.version = PH_CLIP_VERSION + 1;
	assert_int_equal(ph_clip_parse(&bad, sizeof(bad), &m), -1);
	bad = o;
	bad.hdr.type = 999;
	assert_int_equal(ph_clip_parse(&bad, sizeof(bad), &m), -1);
	bad = o;
	bad.selection = PH_CLIP_SEL_COUNT;
	assert_int_equal(ph_clip_parse(&bad, sizeof(bad), &m), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
