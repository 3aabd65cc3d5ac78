// SPDX-License-Identifier: MIT
/*
 * A shared library that cpuid-cases dlopen()s: its cpuid is mapped only at
 * run time, by the guest's mmap(PROT_EXEC), never at exec.
 */
#include <cpuid.h>
#include <stdint.h>

uint32_t cpuid_ebx(uint32_t leaf);

uint32_t cpuid_ebx(uint32_t leaf)
{
	unsigned int a, b, c, d;

	__cpuid_count(leaf, 0, a, b, c, d);
	return b;
}
