// SPDX-License-Identifier: MIT
/*
 * Benchmarks run from inside a guest: backdoor round trip against the raw
 * trap floor, and GuestRPC throughput over the low- and high-bandwidth paths
 * against an AF_UNIX socket baseline in the same process.
 *
 *   bench-guest [PATTERN]     prints "bench NAME VALUE UNIT" lines
 *   bench-guest --cpuid       one cpuid next to the raw trap floor, as
 *                             "cpuid_us=C floor_us=F": the same loop under
 *                             each --cpuid mode (tests/bench/cpuid.sh)
 */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "backdoor/backdoor.h"
#include "backdoor/msgchan.h"

static const char *pattern;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

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

/* An `out` to port 0x80, which has no device: the cost of trapping alone. */
static double trap_floor_us(int iters)
{
	double t = now_s();

	for (int i = 0; i < iters; i++)
		__asm__ __volatile__("outb %%al, $0x80" : : "a"(0));
	return (now_s() - t) * 1e6 / iters;
}

/*
 * cpuid of the hypervisor leaf: trapped by CPUID faulting, or the ud2 the
 * patching mode wrote over it at exec (the engine decodes this file then),
 * or run natively with --cpuid=off.
 */
static double cpuid_us(int iters)
{
	double t = now_s();

	for (int i = 0; i < iters; i++) {
		unsigned int a = 0x40000000, b, c = 0, d;

		__asm__ __volatile__("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
	}
	return (now_s() - t) * 1e6 / iters;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * Both loops in alternating rounds, median of each: this machine is shared,
 * and a burst of other work should land on both sides of the ratio alike.
 */
static int cpuid_vs_floor(void)
{
	enum { ROUNDS = 7, ITERS = 2000 };
	double c[ROUNDS], f[ROUNDS];

	cpuid_us(200);	/* warm up */
	trap_floor_us(200);
	for (int r = 0; r < ROUNDS; r++) {
		c[r] = cpuid_us(ITERS);
		f[r] = trap_floor_us(ITERS);
	}
	qsort(c, ROUNDS, sizeof(c[0]), cmp_double);
	qsort(f, ROUNDS, sizeof(f[0]), cmp_double);
	printf("cpuid_us=%.3f floor_us=%.3f\n", c[ROUNDS / 2], f[ROUNDS / 2]);
	return 0;
}

static double getversion_us(int iters)
{
	double t = now_s();

	for (int i = 0; i < iters; i++) {
		struct bdoor_regs r;

		bdoor_lb_cmd(&r, BDOOR_CMD_GETVERSION, 0);
		bdoor_lb(&r);
	}
	return (now_s() - t) * 1e6 / iters;
}

static char *make_cmd(size_t payload, size_t *len)
{
	static const char prefix[] = "info-set guestinfo.bench ";
	char *cmd = malloc(sizeof(prefix) + payload);

	memcpy(cmd, prefix, sizeof(prefix) - 1);
	memset(cmd + sizeof(prefix) - 1, 'b', payload);
	*len = sizeof(prefix) - 1 + payload;
	return cmd;
}

/*
 * How many operations to run before the next look at the clock, `done`
 * done so far: 1, 1, 2, 4, ... up to 256, so a loop reads the clock for
 * under 1 % of its operations (a clock read may trap: PORTHOLE_GUEST_CLOCK=trap,
 * or a host without the clock page) yet stops close to its time.
 */
static int batch(int done)
{
	return done < 1 ? 1 : done > 256 ? 256 : done;
}

/* Messages per second of one RPCI info-set carrying `payload` bytes. */
static double rpc_rate(size_t payload, int hb, double min_secs, int max_iters)
{
	struct msgchan c = { 0 };
	size_t len;
	char *cmd = make_cmd(payload, &len);
	int n = 0;
	double t;

	if (msgchan_open(&c, RPCI_PROTOCOL_NUM)) {
		fprintf(stderr, "bench: cannot open a channel\n");
		exit(1);
	}
	msgchan_set_hb(&c, hb);
	t = now_s();
	do {
		for (int i = batch(n); i > 0 && n < max_iters; i--) {
			char *reply = NULL;

			if (rpci_send(&c, cmd, len, &reply, NULL) != 1) {
				fprintf(stderr, "bench: info-set of %zu bytes failed\n", payload);
				exit(1);
			}
			free(reply);
			n++;
		}
		if (payload >= 65536)
			fprintf(stderr, "  %zu-byte message %d done (%.1f s)\n", payload, n, now_s() - t);
	} while (n < max_iters && now_s() - t < min_secs);
	t = now_s() - t;
	msgchan_close(&c);
	free(cmd);
	return n / t;
}

/* Exactly `n` 64-byte info-sets on one channel. */
static int rpc_calls(int n, int hb)
{
	struct msgchan c = { 0 };
	size_t len;
	char *cmd = make_cmd(64, &len);

	if (msgchan_open(&c, RPCI_PROTOCOL_NUM)) {
		fprintf(stderr, "bench: cannot open a channel\n");
		return 1;
	}
	msgchan_set_hb(&c, hb);
	for (int i = 0; i < n; i++) {
		char *reply = NULL;

		if (rpci_send(&c, cmd, len, &reply, NULL) != 1) {
			fprintf(stderr, "bench: info-set failed\n");
			return 1;
		}
		free(reply);
	}
	msgchan_close(&c);
	free(cmd);
	printf("calls=%d\n", n);
	return 0;
}

/* The same request/reply shape over an AF_UNIX socketpair, echo by a child. */
static double unix_rate(size_t payload, double min_secs)
{
	int sv[2], n = 0;
	char *buf = malloc(payload + 64);
	double t;
	pid_t pid;

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		for (;;) {
			size_t got = 0;

			while (got < payload) {
				ssize_t r = read(sv[1], buf, payload - got);

				if (r <= 0)
					_exit(0);
				got += (size_t)r;
			}
			if (write(sv[1], "1 ", 2) != 2)
				_exit(0);
		}
	}
	close(sv[1]);
	memset(buf, 'b', payload);
	t = now_s();
	do {
		/* The clock between batches only: a baseline must not pay for clock reads. */
		for (int i = batch(n); i > 0; i--) {
			char ack[2];

			if (write(sv[0], buf, payload) != (ssize_t)payload || read(sv[0], ack, 2) != 2)
				goto out;
			n++;
		}
	} while (now_s() - t < min_secs);
out:
	t = now_s() - t;
	close(sv[0]);
	free(buf);
	return n / t;
}

int main(int argc, char **argv)
{
	static const struct { const char *name; size_t size; int lb_iters; } sizes[] = {
		{ "64B", 64, 1000 }, { "4KiB", 4096, 100 }, { "1MiB", 1 << 20, 1 },
	};
	struct bdoor_info info;

	pattern = argc > 1 ? argv[1] : NULL;
	if (!bdoor_detect(&info)) {
		fprintf(stderr, "bench-guest: not inside a Porthole/VMware VM\n");
		return 1;
	}
	if (pattern && !strcmp(pattern, "--cpuid"))
		return cpuid_vs_floor();
	/* --rpc-calls N lb|hb: N 64-byte info-sets and nothing else (make bench counts their traps) */
	if (argc == 4 && !strcmp(argv[1], "--rpc-calls"))
		return rpc_calls(atoi(argv[2]), !strcmp(argv[3], "hb"));
	if (want("trap.backdoor_roundtrip") || want("trap.raw_trap_floor")) {
		double floor_us, rt_us;

		trap_floor_us(200);	/* warm up */
		floor_us = trap_floor_us(5000);
		rt_us = getversion_us(5000);
		report("trap.raw_trap_floor", floor_us, "us");
		report("trap.backdoor_roundtrip", rt_us, "us");
		report("trap.backdoor_roundtrip_vs_floor", rt_us / floor_us, "ratio");
	}
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char name[96];
		double base = 0;

		snprintf(name, sizeof(name), "rpc.unix_socket_baseline.%s", sizes[i].name);
		if (want(name) || want("rpc.")) {
			base = unix_rate(sizes[i].size, 0.5);
			report(name, base * sizes[i].size / 1e6, "MB/s");
		}
		for (int hb = 0; hb <= 1; hb++) {
			double rate;

			snprintf(name, sizeof(name), "rpc.%s.%s", hb ? "hb" : "lb", sizes[i].name);
			if (!want(name))
				continue;
			rate = rpc_rate(sizes[i].size, hb, sizes[i].size > 65536 ? 0 : 2.0,
					hb ? 1000000 : sizes[i].lb_iters);
			report(name, rate * sizes[i].size / 1e6, "MB/s");
			snprintf(name, sizeof(name), "rpc.%s.%s.msgs", hb ? "hb" : "lb", sizes[i].name);
			report(name, rate, "msg/s");
			if (base > 0) {
				snprintf(name, sizeof(name), "rpc.%s.%s_vs_unix_socket", hb ? "hb" : "lb",
					 sizes[i].name);
				printf("bench %s ratio %.4f\n", name, rate / base);
			}
		}
	}
	return 0;
}
