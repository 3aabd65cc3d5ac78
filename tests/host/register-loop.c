// SPDX-License-Identifier: MIT
/*
 * The KVM memory bench's register-only loop (tests/payloads/bench-memory.c)
 * run natively: its baseline, so the bench can say how much slower the same
 * three instructions run inside a KVM guest on this host.  Prints
 * "bench host.cpu.register_loop_iteration NS ns" (median of 5 runs).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tests/payloads/register-loop.h"

static double loop_ns(uint32_t n)
{
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	register_loop(n);
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(void)
{
	const uint32_t iters = 50000000;
	double v[5];

	loop_ns(1000000);
	for (int i = 0; i < 5; i++)
		v[i] = loop_ns(iters) / iters;
	qsort(v, 5, sizeof(v[0]), cmp);
	printf("bench host.cpu.register_loop_iteration %.3f ns\n", v[2]);
	return 0;
}
