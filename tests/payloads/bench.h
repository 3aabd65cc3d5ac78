/* SPDX-License-Identifier: MIT */
/*
 * The two timed loops of the KVM benchmarks, in assembly so they are the
 * same five instructions but for the I/O one: load EAX and ECX (the
 * backdoor's magic and GETVERSION), then either `out` to port 0x80, where
 * no device is (the exit floor), or the backdoor's `in` (a round trip).
 * Identical loop overhead matters where KVM emulates guest instructions.
 */
#ifndef PAYLOAD_BENCH_H
#define PAYLOAD_BENCH_H

#include "backdoor/proto.h"
#include "runtime.h"

/* TSC cycles for n exits with no device work. */
static inline uint64_t bench_floor(uint32_t n)
{
	uint64_t t0 = rdtsc();

	__asm__ __volatile__("1:\n\t"
			     "mov %[magic], %%eax\n\t"
			     "mov %[cmd], %%ecx\n\t"
			     "outb %%al, $0x80\n\t"
			     "dec %[n]\n\t"
			     "jnz 1b"
			     : [n] "+r"(n)
			     : [magic] "i"(BDOOR_MAGIC), [cmd] "i"(BDOOR_CMD_GETVERSION)
			     : "rax", "rcx", "memory", "cc");
	return rdtsc() - t0;
}

/* TSC cycles for n GETVERSION calls. */
static inline uint64_t bench_backdoor(uint32_t n)
{
	uint64_t t0 = rdtsc();

	__asm__ __volatile__("1:\n\t"
			     "mov %[magic], %%eax\n\t"
			     "mov %[cmd], %%ecx\n\t"
			     "inl %%dx, %%eax\n\t"
			     "dec %[n]\n\t"
			     "jnz 1b"
			     : [n] "+r"(n)
			     : [magic] "i"(BDOOR_MAGIC), [cmd] "i"(BDOOR_CMD_GETVERSION),
			       "d"(BDOOR_PORT_LB)
			     : "rax", "rbx", "rcx", "memory", "cc");
	return rdtsc() - t0;
}

#endif
