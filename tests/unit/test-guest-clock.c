// SPDX-License-Identifier: MIT
/* The guest clock's arithmetic: rates, slews, steps, monotonicity. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
