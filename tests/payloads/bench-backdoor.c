// SPDX-License-Identifier: MIT
/*
 * Payload benchmark: a backdoor round trip (GETVERSION on the low-bandwidth
 * port) and its ratio to the exit floor.  The two loops (bench.h) alternate
 * in rounds of 500, so both see the same load on the host; each figure is
 * the median of 21 rounds, and the ratio is taken from those medians.
 */
#include "bench.h"

#define ROUNDS	21
#define ITERS	500

int payload_main(void)
{
	uint64_t fl[ROUNDS], bd[ROUNDS], f, b;

	bench_floor(100);
	bench_backdoor(100);
	for (int r = 0; r < ROUNDS; r++) {
		fl[r] = bench_floor(ITERS);
		bd[r] = bench_backdoor(ITERS);
	}
	f = median(fl, ROUNDS);
	b = median(bd, ROUNDS);
	print_bench("kvm.exit_floor_interleaved", tsc_to_ns(f) / ITERS, "us");
	print_bench("kvm.backdoor_roundtrip", tsc_to_ns(b) / ITERS, "us");
	print("bench kvm.backdoor_roundtrip_vs_exit_floor ratio %u.%03u\n",
	      (unsigned int)(b * 1000 / f / 1000), (unsigned int)(b * 1000 / f % 1000));
	return 0;
}
