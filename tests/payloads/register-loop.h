/* SPDX-License-Identifier: MIT */
/*
 * The register-only loop of `make bench BENCH=kvm.mem`: add/dec/jnz, no
 * memory access, the same instructions in the KVM payload
 * (bench-memory.c) and natively on the host (tests/host/register-loop.c).
 */
#ifndef PORTHOLE_PAYLOAD_REGISTER_LOOP_H
#define PORTHOLE_PAYLOAD_REGISTER_LOOP_H

#include <stdint.h>

static inline void register_loop(uint32_t n)
{
	uint64_t acc = 0;

	__asm__ __volatile__("1:\n\t"
			     "add %[n64], %[acc]\n\t"
			     "dec %[n]\n\t"
			     "jnz 1b"
			     : [n] "+r"(n), [acc] "+r"(acc)
			     : [n64] "r"((uint64_t)7)
			     : "cc");
}

#endif
