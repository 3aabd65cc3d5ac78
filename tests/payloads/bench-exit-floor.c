// SPDX-License-Identifier: MIT
/*
 * Payload benchmark: the cost of an I/O exit with no device work (an
 * `out` to port 0x80, where nothing is), as the median of 15 rounds of 500.
 */
#include "bench.h"

#define ROUNDS	15
#define ITERS	500

int payload_main(void)
{
	uint64_t per[ROUNDS];

	bench_floor(100);
	for (int r = 0; r < ROUNDS; r++)
		per[r] = bench_floor(ITERS);
	/* ns per exit = thousandths of a µs */
	print_bench("kvm.exit_floor", tsc_to_ns(median(per, ROUNDS)) / ITERS, "us");
	return 0;
}
