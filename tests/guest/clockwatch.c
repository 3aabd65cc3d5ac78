// SPDX-License-Identifier: MIT
/*
 * clockwatch: watch a clock for tests and benchmarks.
 *
 *   clockwatch watch SECONDS [INTERVAL_US]
 *	sample CLOCK_REALTIME every INTERVAL_US (default 1000) for SECONDS of
 *	CLOCK_MONOTONIC; report every backward jump, then one summary line:
 *	"clockwatch samples=N backward=K max_backward_ns=B"
 *   clockwatch host-state
 *	the clock state a test compares before and after: CLOCK_REALTIME minus
 *	CLOCK_MONOTONIC, and adjtimex's tick, freq, offset and status
 *   clockwatch check LOOPS [SYNC]
 *	the guest clock read without a trap (trap engine): which vDSO the
 *	process has; reads through it against the same clocks read by a raw
 *	(trapped) syscall; a step and a rate change made with a syscall seen
 *	by the very next read.  Prints "ready", runs LOOPS clock_gettime calls
 *	(the test counts the hypervisor's trapped reads meanwhile), "done",
 *	then "clockwatch check NAME ok|FAIL ..." lines.  It waits after
 *	"ready" and after "done": 2 s, or with SYNC (a host path the guest
 *	sees) until SYNC.start, then SYNC.end exist
 *   clockwatch mono SECONDS
 *	read CLOCK_MONOTONIC back to back (short pauses) for SECONDS; one
 *	line: "clockwatch mono samples=N backward=K max_backward_ns=B"
 *   clockwatch bench [PATTERN]
 *	"bench NAME VALUE UNIT" lines: clock_gettime(CLOCK_REALTIME), and in a
 *	VM the same as a raw (trapped) syscall and the GETTIMEFULL round trip
 */
#include <fnmatch.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>
#include <sys/timex.h>
#include <time.h>

#include "backdoor/backdoor.h"
#include "backdoor/proto.h"

static int64_t now_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int watch(double seconds, long interval_us)
{
	struct timespec pause = { interval_us / 1000000, (interval_us % 1000000) * 1000 };
	int64_t end = now_ns(CLOCK_MONOTONIC) + (int64_t)(seconds * 1e9);
	int64_t last = now_ns(CLOCK_REALTIME), worst = 0;
	unsigned long samples = 1, backward = 0;

	while (now_ns(CLOCK_MONOTONIC) < end) {
		int64_t t = now_ns(CLOCK_REALTIME);

		samples++;
		if (t < last) {
			backward++;
			if (last - t > worst)
				worst = last - t;
			if (backward <= 10)
				printf("clockwatch: CLOCK_REALTIME went back %lld ns\n",
				       (long long)(last - t));
		}
		last = t;
		if (interval_us)
			nanosleep(&pause, NULL);
	}
	printf("clockwatch samples=%lu backward=%lu max_backward_ns=%lld\n", samples, backward,
	       (long long)worst);
	fflush(stdout);
	return 0;
}

static int host_state(void)
{
	struct timex tx = { .modes = 0 };
	int state = adjtimex(&tx);

	if (state < 0) {
		perror("adjtimex");
		return 1;
	}
	printf("rt_minus_mono_ns=%lld\n",
	       (long long)(now_ns(CLOCK_REALTIME) - now_ns(CLOCK_MONOTONIC)));
	printf("adjtimex tick=%ld freq=%ld offset=%ld status=%d state=%d\n", tx.tick, tx.freq,
	       tx.offset, tx.status, state);
	return 0;
}

/* ---- the clock page ---- */

/* The same clock, through the kernel's syscall path: trapped, answered by the hypervisor. */
static int64_t trapped_ns(clockid_t id)
{
	struct timespec ts;

	syscall(SYS_clock_gettime, id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int failures;

static void __attribute__((format(printf, 3, 4))) verdict(const char *name, int good,
							   const char *fmt, ...)
{
	va_list ap;

	printf("clockwatch check %s %s ", name, good ? "ok" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	failures += !good;
}

static bool has_porthole_vdso(void)
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	bool found = false;

	while (f && fgets(line, sizeof(line), f))
		found |= strstr(line, "/run/porthole-vdso") != NULL;
	if (f)
		fclose(f);
	return found;
}

/* Wait for the test: `path` appearing (up to 60 s), or without one 2 s. */
static void wait_for(const char *sync, const char *suffix)
{
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	char path[4096];

	if (!sync) {
		pause.tv_sec = 2;
		pause.tv_nsec = 0;
		nanosleep(&pause, NULL);
		return;
	}
	snprintf(path, sizeof(path), "%s%s", sync, suffix);
	for (int i = 0; i < 3000 && access(path, F_OK); i++)
		nanosleep(&pause, NULL);
}

static int check(long loops, const char *sync)
{
	static const clockid_t ids[] = { CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW,
					 CLOCK_BOOTTIME, CLOCK_TAI };
	struct timespec ts;
	int64_t last, back = 0, t0, t1;
	long outside = 0, worst = 0;
	struct timex tx;

	printf("clockwatch vdso=%s\n", has_porthole_vdso() ? "porthole" : "none");
	printf("clockwatch ready\n");
	fflush(stdout);
	wait_for(sync, ".start");
	last = now_ns(CLOCK_MONOTONIC);
	for (long i = 0; i < loops; i++) {
		struct timeval tv;
		int64_t t;

		/* gettimeofday and time go through the vDSO too: none of the three may trap */
		if (i % 8 == 6) {
			gettimeofday(&tv, NULL);
			continue;
		}
		if (i % 8 == 7) {
			time(NULL);
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		t = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
		if (t < last && last - t > back)
			back = last - t;
		last = t;
	}
	printf("clockwatch done\n");
	fflush(stdout);
	wait_for(sync, ".end");
	verdict("loop-monotonic", back == 0, "max_backward_ns=%lld loops=%ld", (long long)back, loops);

	/* A read through the vDSO, a trapped one, a vDSO one again: in that order. */
	for (int i = 0; i < 200; i++) {
		clockid_t id = ids[i % 5];
		int64_t a = now_ns(id), b = trapped_ns(id), c = now_ns(id);

		if (b < a || b > c) {
			outside++;
			if (labs((long)(b < a ? a - b : b - c)) > worst)
				worst = labs((long)(b < a ? a - b : b - c));
		}
	}
	verdict("agree-with-hypervisor", outside == 0, "outside=%ld worst_ns=%ld", outside, worst);

	/* gettimeofday and time between two clock_gettime(CLOCK_REALTIME) */
	outside = 0;
	for (int i = 0; i < 200; i++) {
		struct timeval tv;
		int64_t a = now_ns(CLOCK_REALTIME), b, c;
		time_t secs;

		gettimeofday(&tv, NULL);
		secs = time(NULL);
		c = now_ns(CLOCK_REALTIME);
		b = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
		outside += b < a / 1000 || b > c / 1000 || secs < a / 1000000000 ||
			   secs > c / 1000000000;
	}
	verdict("gettimeofday-time-agree", outside == 0, "outside=%ld", outside);

	/* A step (trapped: the hypervisor rewrites the page) is seen by the next read. */
	t0 = now_ns(CLOCK_REALTIME);
	ts = (struct timespec){ t0 / 1000000000 + 100, t0 % 1000000000 };
	if (clock_settime(CLOCK_REALTIME, &ts))
		perror("clock_settime");
	t1 = now_ns(CLOCK_REALTIME);
	verdict("step-seen-by-next-read", t1 - t0 >= 100000000000LL && t1 - t0 < 101000000000LL,
		"step_ns=%lld want=%lld", (long long)(t1 - t0), 100000000000LL);
	ts = (struct timespec){ (t1 - 100000000000LL) / 1000000000, t1 % 1000000000 };
	clock_settime(CLOCK_REALTIME, &ts);

	/* A rate change (tick +10 %) is seen by the next reads, and monotonic holds. */
	t0 = now_ns(CLOCK_MONOTONIC);
	tx = (struct timex){ .modes = ADJ_TICK, .tick = 11000 };
	adjtimex(&tx);
	{
		int64_t m0 = now_ns(CLOCK_MONOTONIC), r0 = trapped_ns(CLOCK_MONOTONIC_RAW), m1, r1;
		struct timespec p = { 0, 200 * 1000 * 1000 };

		nanosleep(&p, NULL);
		m1 = now_ns(CLOCK_MONOTONIC);
		r1 = trapped_ns(CLOCK_MONOTONIC_RAW);
		/* MONOTONIC runs 10 % faster than MONOTONIC_RAW (no drift injected here). */
		verdict("rate-seen-by-next-read",
			m0 >= t0 && (m1 - m0) * 100 > (r1 - r0) * 108 && (m1 - m0) * 100 < (r1 - r0) * 112,
			"mono_ns=%lld raw_ns=%lld", (long long)(m1 - m0), (long long)(r1 - r0));
	}
	tx = (struct timex){ .modes = ADJ_TICK, .tick = 10000 };
	adjtimex(&tx);
	fflush(stdout);
	return failures ? 1 : 0;
}

static int mono(double seconds)
{
	struct timespec pause = { 0, 100 * 1000 };
	int64_t end = now_ns(CLOCK_MONOTONIC) + (int64_t)(seconds * 1e9);
	int64_t last = now_ns(CLOCK_MONOTONIC), worst = 0, t = last;
	unsigned long samples = 0, backward = 0;

	while (t < end) {
		for (int i = 0; i < 1000; i++) {
			t = now_ns(CLOCK_MONOTONIC);
			samples++;
			if (t < last) {
				backward++;
				if (last - t > worst)
					worst = last - t;
			}
			last = t;
		}
		nanosleep(&pause, NULL);
	}
	printf("clockwatch mono samples=%lu backward=%lu max_backward_ns=%lld\n", samples, backward,
	       (long long)worst);
	fflush(stdout);
	return 0;
}

/* ---- bench ---- */

static const char *pattern;

static int want(const char *name)
{
	char glob[256];

	if (!pattern || !*pattern)
		return 1;
	snprintf(glob, sizeof(glob), "*%s*", pattern);
	return fnmatch(glob, name, 0) == 0;
}

static void report(const char *name, double value, const char *unit)
{
	printf("bench %s %.3f %s\n", name, value, unit);
	fflush(stdout);
}

static double clock_gettime_ns(int iters)
{
	struct timespec ts;
	int64_t t = now_ns(CLOCK_MONOTONIC);

	for (int i = 0; i < iters; i++)
		clock_gettime(CLOCK_REALTIME, &ts);
	return (double)(now_ns(CLOCK_MONOTONIC) - t) / iters;
}

static double gettimefull_us(int iters)
{
	int64_t t = now_ns(CLOCK_MONOTONIC);

	for (int i = 0; i < iters; i++) {
		struct bdoor_regs r;

		bdoor_lb_cmd(&r, BDOOR_CMD_GETTIMEFULL, 0);
		bdoor_lb(&r);
		if ((uint32_t)r.ax != BDOOR_MAGIC)
			return -1;
	}
	return (double)(now_ns(CLOCK_MONOTONIC) - t) / 1e3 / iters;
}

/* clock_gettime as a raw syscall: in a trap-engine guest, the trapped path. */
static double trapped_clock_gettime_ns(int iters)
{
	int64_t t = now_ns(CLOCK_MONOTONIC);

	for (int i = 0; i < iters; i++)
		trapped_ns(CLOCK_REALTIME);
	return (double)(now_ns(CLOCK_MONOTONIC) - t) / iters;
}

static int bench(void)
{
	struct bdoor_info info;
	int in_vm = bdoor_detect(&info);
	const char *who = in_vm ? "guest" : "host";
	char name[64];

	snprintf(name, sizeof(name), "%s_clock_gettime_realtime", who);
	/* 2 million reads, or 20000 where each one traps (tens of µs each) */
	if (want(name))
		report(name, clock_gettime_ns(clock_gettime_ns(1000) > 1000 ? 20000 : 2000000), "ns");
	/* Through the vDSO in a trap-engine guest: the clock page, or a trap without one. */
	if (in_vm && want("guest_clock_gettime_trapped"))
		report("guest_clock_gettime_trapped", trapped_clock_gettime_ns(5000), "ns");
	if (in_vm && want("gettimefull_round_trip"))
		report("gettimefull_round_trip", gettimefull_us(20000), "us");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "watch"))
		return watch(atof(argv[2]), argc > 3 ? atol(argv[3]) : 1000);
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "check"))
		return check(atol(argv[2]), argc == 4 ? argv[3] : NULL);
	if (argc == 3 && !strcmp(argv[1], "mono"))
		return mono(atof(argv[2]));
	if (argc == 2 && !strcmp(argv[1], "host-state"))
		return host_state();
	if (argc >= 2 && !strcmp(argv[1], "bench")) {
		pattern = argc > 2 ? argv[2] : NULL;
		return bench();
	}
	fprintf(stderr, "usage: clockwatch watch SECONDS [INTERVAL_US] | check LOOPS [SYNC] |\n"
		"       mono SECONDS | host-state | bench [PATTERN]\n");
	return 2;
}
