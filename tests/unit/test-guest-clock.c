// SPDX-License-Identifier: MIT
/* The guest clock's arithmetic: rates, slews, steps, monotonicity. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "backdoor/clock-page.h"
#include "hypervisor/guest-clock.h"

#define S	GUEST_CLOCK_NSEC
#define RT0	(1700000000LL * S)
#define MONO0	(1000LL * S)

static int64_t read_ns(struct guest_clock *c, clockid_t id, int64_t host)
{
	struct timespec ts;

	assert_int_equal(guest_clock_gettime_at(c, id, host, &ts), 0);
	return (int64_t)ts.tv_sec * S + ts.tv_nsec;
}

static void test_follows_host(void **state)
{
	struct guest_clock *c = guest_clock_new_at(RT0, MONO0);
	struct timespec ts;

	assert_int_equal(read_ns(c, CLOCK_REALTIME, MONO0 + 5 * S), RT0 + 5 * S);
	assert_int_equal(read_ns(c, CLOCK_MONOTONIC, MONO0 + 5 * S), MONO0 + 5 * S);
	assert_int_equal(guest_clock_gettime_at(c, CLOCK_PROCESS_CPUTIME_ID, MONO0, &ts), -EINVAL);
	guest_clock_free(c);
}

static void test_step_moves_realtime_only(void **state)
{
	struct guest_clock *c = guest_clock_new_at(RT0, MONO0);

	assert_int_equal(guest_clock_settime_at(c, RT0 - 30 * S, MONO0 + S), 0);
	assert_int_equal(read_ns(c, CLOCK_REALTIME, MONO0 + 2 * S), RT0 - 29 * S);
	assert_int_equal(read_ns(c, CLOCK_MONOTONIC, MONO0 + 2 * S), MONO0 + 2 * S);
	assert_int_equal(guest_clock_settime_at(c, -1, MONO0 + 2 * S), -EINVAL);
	guest_clock_free(c);
}

static void test_frequency_and_tick(void **state)
{
	struct guest_clock *c = guest_clock_new_at(RT0, MONO0);
	struct timex tx = { .modes = ADJ_FREQUENCY, .freq = 100L << 16 };	/* +100 ppm */

	assert_true(guest_clock_adjtimex_at(c, &tx, MONO0) >= 0);
	assert_int_equal(read_ns(c, CLOCK_REALTIME, MONO0 + 10 * S), RT0 + 10 * S + 1000000);
	/* The kernel clamps the frequency to ±500 ppm. */
	tx = (struct timex){ .modes = ADJ_FREQUENCY, .freq = 10000L << 16 };
	guest_clock_adjtimex_at(c, &tx, MONO0 + 10 * S);
	assert_int_equal(tx.freq, 500L << 16);
	/* Tick 10100 µs: +1 %; with +500 ppm from the frequency, 1.05 % over 10 s. */
	tx = (struct timex){ .modes = ADJ_TICK, .tick = 10100 };
	guest_clock_adjtimex_at(c, &tx, MONO0 + 10 * S);
	assert_int_equal(read_ns(c, CLOCK_MONOTONIC, MONO0 + 20 * S),
			 MONO0 + 20 * S + 1000000 + 105000000);
	/* Out-of-range ticks are refused, and change nothing. */
	tx = (struct timex){ .modes = ADJ_TICK, .tick = 8999 };
	assert_int_equal(guest_clock_adjtimex_at(c, &tx, MONO0 + 20 * S), -EINVAL);
	tx = (struct timex){ .modes = 0 };
	guest_clock_adjtimex_at(c, &tx, MONO0 + 20 * S);
	assert_int_equal(tx.tick, 10100);
	guest_clock_free(c);
}

static void test_singleshot_slew(void **state)
{
	struct guest_clock *c = guest_clock_new_at(RT0, MONO0);
	struct timex tx = { .modes = ADJ_OFFSET_SINGLESHOT, .offset = -200000 };	/* -200 ms */
	struct guest_clock_info info;

	guest_clock_adjtimex_at(c, &tx, MONO0);
	/* At 500 ppm: after 100 s, 50 ms absorbed; done after 400 s, then plain rate. */
	assert_int_equal(read_ns(c, CLOCK_REALTIME, MONO0 + 100 * S), RT0 + 100 * S - 50000000);
	guest_clock_info_at(c, RT0 + 100 * S, MONO0 + 100 * S, &info);
	assert_int_equal(info.slew_left_ns, -150000000);
	assert_int_equal(info.rate_ppb, -GUEST_CLOCK_SLEW_PPB);
	assert_int_equal(read_ns(c, CLOCK_REALTIME, MONO0 + 1000 * S), RT0 + 1000 * S - 200000000);
	/* adjtime() reports what was left: query with ADJ_OFFSET_SS_READ. */
	tx = (struct timex){ .modes = ADJ_OFFSET_SS_READ };
	guest_clock_adjtimex_at(c, &tx, MONO0 + 1000 * S);
	assert_int_equal(tx.offset, 0);
	guest_clock_free(c);
}

static void test_pll_offset_needs_sta_pll(void **state)
{
	struct guest_clock *c = guest_clock_new_at(RT0, MONO0);
	struct timex tx = { .modes = ADJ_OFFSET, .offset = 1000 };	/* 1 ms */

	guest_clock_adjtimex_at(c, &tx, MONO0);
	assert_int_equal(read_ns(c, CLOCK_REALTIME, MONO0 + 10 * S), RT0 + 10 * S);
	tx = (struct timex){ .modes = ADJ_STATUS | ADJ_OFFSET, .status = STA_PLL,
			     .offset = 900000000 };	/* clamped to MAXPHASE 0.5 s */
	guest_clock_adjtimex_at(c, &tx, MONO0 + 10 * S);
	assert_int_equal(tx.offset, 500000);
	guest_clock_free(c);
}

static void test_setoffset(void **state)
{
	struct guest_clock *c = guest_clock_new_at(RT0, MONO0);
	struct timex tx = { .modes = ADJ_SETOFFSET | ADJ_NANO,
			    .time = { .tv_sec = -2, .tv_usec = 500000000 } };

	assert_true(guest_clock_adjtimex_at(c, &tx, MONO0) >= 0);
	assert_int_equal(read_ns(c, CLOCK_REALTIME, MONO0), RT0 - 1500000000);
	tx = (struct timex){ .modes = ADJ_SETOFFSET, .time = { .tv_sec = 1, .tv_usec = 1000000 } };
	assert_int_equal(guest_clock_adjtimex_at(c, &tx, MONO0), -EINVAL);
	/* Hostile sizes are refused or clamped, never overflowed. */
	tx = (struct timex){ .modes = ADJ_SETOFFSET, .time = { .tv_sec = LONG_MAX } };
	assert_int_equal(guest_clock_adjtimex_at(c, &tx, MONO0), -EINVAL);
	tx = (struct timex){ .modes = ADJ_OFFSET_SINGLESHOT, .offset = LONG_MIN };
	assert_true(guest_clock_adjtimex_at(c, &tx, MONO0) >= 0);
	tx = (struct timex){ .modes = ADJ_STATUS | ADJ_OFFSET | ADJ_NANO, .status = STA_PLL,
			     .offset = LONG_MAX };
	assert_true(guest_clock_adjtimex_at(c, &tx, MONO0) >= 0);
	assert_int_equal(tx.offset, GUEST_CLOCK_MAX_PHASE_NS);
	assert_int_equal(guest_clock_settime_at(c, INT64_MAX, MONO0), -EINVAL);
	guest_clock_free(c);
}

/* Whatever the guest and the host do to the rate, CLOCK_MONOTONIC never goes back. */
static void test_monotonic_never_backwards(void **state)
{
	struct guest_clock *c = guest_clock_new_at(RT0, MONO0);
	int64_t host = MONO0, last = read_ns(c, CLOCK_MONOTONIC, host);
	uint32_t rnd = 12345;

	for (int i = 0; i < 20000; i++) {
		struct timex tx = { 0 };
		int64_t now;

		rnd = rnd * 1103515245u + 12345u;
		host += rnd % 3 ? (int64_t)(rnd >> 8) % 5000000 : 0;
		switch ((rnd >> 4) % 6) {
		case 0:
			tx.modes = ADJ_TICK;
			tx.tick = GUEST_CLOCK_TICK_MIN + (long)((rnd >> 9) % 2001);
			break;
		case 1:
			tx.modes = ADJ_FREQUENCY;
			tx.freq = (long)((int32_t)rnd) * 16;
			break;
		case 2:
			tx.modes = ADJ_OFFSET_SINGLESHOT;
			tx.offset = (long)((int32_t)rnd % 3000000);
			break;
		case 3:
			guest_clock_settime_at(c, RT0 + (int64_t)(rnd % 100) * S, host);
			break;
		default:
			break;
		}
		if (tx.modes)
			guest_clock_adjtimex_at(c, &tx, host);
		now = read_ns(c, CLOCK_MONOTONIC, host);
		assert_true(now >= last);
		last = now;
		/* A host time before the current piece reads as its start, never earlier. */
		assert_true(read_ns(c, CLOCK_MONOTONIC, host - S) <= now);
	}
	guest_clock_free(c);
}

static void test_control(void **state)
{
	struct guest_clock *c = guest_clock_new();
	GString *out = g_string_new(NULL);
	struct guest_clock_info info;

	assert_int_equal(guest_clock_control(c, "offset 30000000000 rate 200", out), 0);
	guest_clock_info(c, &info);
	assert_true(info.offset_ns > 29990000000LL && info.offset_ns < 30010000000LL);
	assert_int_equal(info.drift_ppb, 200000);
	assert_non_null(strstr(out->str, "drift-ppb=200000\n"));
	g_string_truncate(out, 0);
	assert_int_equal(guest_clock_control(c, "rate 1e9", out), EINVAL);
	assert_int_equal(guest_clock_control(c, "offset", out), EINVAL);
	assert_int_equal(guest_clock_control(c, "offset 12x", out), EINVAL);
	assert_int_equal(guest_clock_control(c, "bogus 1", out), EINVAL);
	guest_clock_info(c, &info);
	assert_int_equal(info.drift_ppb, 200000);	/* bad requests change nothing */
	g_string_free(out, TRUE);
	guest_clock_free(c);
}

/* ---- the clock page (backdoor/clock-page.h) ---- */

static const clockid_t kept[] = { CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW,
				  CLOCK_BOOTTIME, CLOCK_TAI, CLOCK_REALTIME_COARSE };

/* What a guest reader computes from the page at host time `host`. */
static int64_t page_ns(const struct ph_clock_page *page, clockid_t id, int64_t host)
{
	struct ph_clock_point pt;

	assert_int_equal(page->seq & 1, 0);
	ph_clock_project(&page->piece, host, &pt);
	return ph_clock_value(&page->piece, &pt, (int)id);
}

static void assert_page_agrees(struct guest_clock *c, const struct ph_clock_page *page,
			       int64_t host)
{
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		assert_int_equal(page_ns(page, kept[i], host), read_ns(c, kept[i], host));
}

static void test_page_follows_every_change(void **state)
{
	struct guest_clock *c = guest_clock_new_at(RT0, MONO0);
	static struct ph_clock_page page;
	struct timex tx;
	uint64_t writes;

	assert_false(guest_clock_use_page(c, &page, false));	/* no TSC asked: readers trap */
	assert_int_equal(page.magic, PH_CLOCK_PAGE_MAGIC);
	assert_page_agrees(c, &page, MONO0 + 3 * S);

	writes = page.writes;
	assert_int_equal(guest_clock_set_drift_at(c, 250000, MONO0 + 4 * S), 0);
	assert_true(page.writes > writes);
	assert_page_agrees(c, &page, MONO0 + 9 * S);

	tx = (struct timex){ .modes = ADJ_OFFSET_SINGLESHOT, .offset = 300000 };
	guest_clock_adjtimex_at(c, &tx, MONO0 + 10 * S);
	/* while the slew runs, at its end, and long after */
	assert_page_agrees(c, &page, MONO0 + 11 * S);
	assert_page_agrees(c, &page, MONO0 + 10 * S + 600 * S);
	assert_page_agrees(c, &page, MONO0 + 10 * S + 601 * S + 7);

	/* A read (modes 0) changes nothing: the page is not rewritten (readers don't retry). */
	writes = page.writes;
	tx = (struct timex){ .modes = 0 };
	assert_true(guest_clock_adjtimex_at(c, &tx, MONO0 + 12 * S) >= 0);
	assert_int_equal(page.writes, writes);
	assert_int_equal(page.seq & 1, 0);
	assert_int_equal(tx.tick, 10000);
	assert_page_agrees(c, &page, MONO0 + 13 * S);

	tx = (struct timex){ .modes = ADJ_TICK | ADJ_FREQUENCY, .tick = 9500, .freq = -(200L << 16) };
	guest_clock_adjtimex_at(c, &tx, MONO0 + 700 * S);
	assert_page_agrees(c, &page, MONO0 + 701 * S + 123456789);

	assert_int_equal(guest_clock_settime_at(c, RT0 - 5 * S, MONO0 + 800 * S), 0);
	guest_clock_jump_at(c, -7 * S, MONO0 + 801 * S);
	tx = (struct timex){ .modes = ADJ_TAI, .constant = 37 };
	guest_clock_adjtimex_at(c, &tx, MONO0 + 802 * S);
	assert_page_agrees(c, &page, MONO0 + 900 * S);
	assert_int_equal(page_ns(&page, CLOCK_TAI, MONO0 + 900 * S) -
			 page_ns(&page, CLOCK_REALTIME, MONO0 + 900 * S), 37 * S);

	/* Dropped: changes no longer reach it. */
	guest_clock_drop_page(c);
	writes = page.writes;
	guest_clock_jump_at(c, S, MONO0 + 901 * S);
	assert_int_equal(page.writes, writes);
	guest_clock_free(c);
}

/*
 * A reader that saw the old piece at host time h1 and the new one at
 * h2 >= h1 (the change made at some h between them) never sees
 * CLOCK_MONOTONIC go back, whatever the change.
 */
static void test_page_monotonic_across_changes(void **state)
{
	struct guest_clock *c = guest_clock_new_at(RT0, MONO0);
	static struct ph_clock_page page;
	static const int64_t drifts[] = { 100000000, -100000000, 0, 37, -99999999, 50000 };
	int64_t h = MONO0;

	guest_clock_use_page(c, &page, false);
	for (int i = 0; i < 600; i++) {
		struct ph_clock_page old = page;
		int64_t before, after;
		struct timex tx;

		h += 1 + (i * 7919) % 3000000007LL;
		before = page_ns(&old, CLOCK_MONOTONIC, h);
		switch (i % 4) {
		case 0:
			guest_clock_set_drift_at(c, drifts[i % 6], h);
			break;
		case 1:
			tx = (struct timex){ .modes = ADJ_OFFSET_SINGLESHOT, .offset = (i % 2 ? 1 : -1) * 1000L * i };
			guest_clock_adjtimex_at(c, &tx, h);
			break;
		case 2:
			tx = (struct timex){ .modes = ADJ_TICK, .tick = 9000 + (i * 13) % 2001 };
			guest_clock_adjtimex_at(c, &tx, h);
			break;
		default:
			guest_clock_jump_at(c, (i % 3 - 1) * 10 * S, h);	/* realtime only */
			break;
		}
		after = page_ns(&page, CLOCK_MONOTONIC, h);
		assert_true(after >= before);
		assert_true(page_ns(&page, CLOCK_MONOTONIC, h + 1000) >= after);
	}
	guest_clock_free(c);
}

/* The reader's integer arithmetic: d * ppb / 1e9 without 128 bits, the TSC conversion. */
static void test_page_arithmetic(void **state)
{
	uint64_t x = 88172645463325252ull;

	for (int i = 0; i < 100000; i++) {
		int64_t d, ppb;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		d = (int64_t)(x >> 2);		/* up to 2^62 ns: 146 years */
		ppb = (int64_t)(x % 401000001ull) - 200500000;
		if (i % 3 == 0)
			d %= 10 * S;
		assert_int_equal(ph_clock_scale(d, ppb), (int64_t)((__int128)d * ppb / S));
	}
	/* 2 GHz: mult 0.5 << 32; 2e9 ticks are one second, from any origin. */
	assert_int_equal(ph_clock_tsc_to_host(1000, 5, 1ull << 31, 32, 1000 + 2000000000ull), S + 5);
	/* A day of a 4 GHz TSC does not overflow. */
	assert_int_equal(ph_clock_tsc_to_host(0, 0, 1ull << 30, 32, 4000000000ull * 86400),
			 86400 * S);
	/* Clocks the page does not keep, and a page that has no TSC, send readers to the syscall. */
	{
		static struct ph_clock_page page = { .magic = PH_CLOCK_PAGE_MAGIC };
		int64_t ns;

		assert_int_equal(ph_clock_page_read(&page, CLOCK_REALTIME, &ns), -1);
		page.flags = PH_CLOCK_TSC;
		page.tsc_mult = 1ull << 32;
		assert_int_equal(ph_clock_page_read(&page, CLOCK_PROCESS_CPUTIME_ID, &ns), -1);
		assert_int_equal(ph_clock_page_read(&page, CLOCK_THREAD_CPUTIME_ID, &ns), -1);
		assert_int_equal(ph_clock_page_read(&page, 12, &ns), -1);
		assert_int_equal(ph_clock_page_read(&page, -6, &ns), -1);
		assert_int_equal(ph_clock_page_read(&page, CLOCK_MONOTONIC, &ns), 0);
		page.magic = 0;
		assert_int_equal(ph_clock_page_read(&page, CLOCK_MONOTONIC, &ns), -1);
	}
}

/*
 * On this host, with the TSC: a guest's read of the page lies between two
 * of the hypervisor's own reads, for every clock.
 */
static void test_page_read_with_tsc(void **state)
{
	struct guest_clock *c = guest_clock_new();
	static struct ph_clock_page page;

	if (!guest_clock_use_page(c, &page, true)) {
		guest_clock_free(c);
		skip();
	}
	guest_clock_set_drift(c, 12345678);
	for (int i = 0; i < 1000; i++) {
		clockid_t id = kept[i % (sizeof(kept) / sizeof(kept[0]))];
		struct timespec a, b;
		int64_t ns;

		assert_int_equal(guest_clock_gettime(c, id, &a), 0);
		assert_int_equal(ph_clock_page_read(&page, (int)id, &ns), 0);
		assert_int_equal(guest_clock_gettime(c, id, &b), 0);
		assert_true(ns >= (int64_t)a.tv_sec * S + a.tv_nsec);
		assert_true(ns <= (int64_t)b.tv_sec * S + b.tv_nsec);
	}
	guest_clock_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_follows_host),
		cmocka_unit_test(test_step_moves_realtime_only),
		cmocka_unit_test(test_frequency_and_tick),
		cmocka_unit_test(test_singleshot_slew),
		cmocka_unit_test(test_pll_offset_needs_sta_pll),
		cmocka_unit_test(test_setoffset),
		cmocka_unit_test(test_monotonic_never_backwards),
		cmocka_unit_test(test_control),
		cmocka_unit_test(test_page_follows_every_change),
		cmocka_unit_test(test_page_monotonic_across_changes),
		cmocka_unit_test(test_page_arithmetic),
		cmocka_unit_test(test_page_read_with_tsc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
