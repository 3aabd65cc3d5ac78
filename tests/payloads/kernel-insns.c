// SPDX-License-Identifier: MIT
/*
 * Payload booted with --kernel and --cmdline "insn=NAME": executes one
 * instruction a stock Linux kernel needs early, to learn quickly whether
 * this KVM can run one.  Nested KVM that emulates every guest instruction
 * (as on the project's machines) cannot emulate these and ends the VM
 * with an emulation failure; real VT-x/AMD-V runs them natively.
 *   cmpxchg16b  lock cmpxchg16b on an aligned 16-byte value (SLUB uses it)
 *   xrstor      enable XSAVE (CR4.OSXSAVE, XCR0 = x87|SSE), xrstor the init state
 *   int3        a breakpoint, caught by an IDT entry (text_poke uses int3)
 */
#include <cpuid.h>

#include "runtime.h"

static uint8_t xsave_area[4096] __attribute__((aligned(64)));
static unsigned __int128 pair __attribute__((aligned(16)));
static uint64_t idt[512] __attribute__((aligned(16)));	/* 256 gates of 16 bytes */
static volatile int breakpoints;

void bp_handler(void);
__asm__(".text\n"
	".globl bp_handler\n"
	"bp_handler:\n\t"
	"lock incl breakpoints(%rip)\n\t"
	"iretq\n");

static bool arg_is(const char *cmdline, const char *want)
{
	size_t n = strlen(want);

	for (const char *p = cmdline; *p; p++)
		if (!strncmp(p, "insn=", 5) && !strncmp(p + 5, want, n) &&
		    (p[5 + n] == ' ' || !p[5 + n]))
			return true;
	return false;
}

static int do_cmpxchg16b(void)
{
	uint64_t lo = 0, hi = 0;
	uint8_t ok;

	pair = 0;
	__asm__ __volatile__("lock cmpxchg16b %[m]; sete %[ok]"
			     : [m] "+m"(pair), "+a"(lo), "+d"(hi), [ok] "=q"(ok)
			     : "b"(1ull), "c"(2ull) : "memory", "cc");
	return check(ok && pair == ((unsigned __int128)2 << 64 | 1), "lock cmpxchg16b") ? 0 : 1;
}

static int do_xrstor(void)
{
	uint32_t a, b, c, d;
	uint64_t cr4;

	__cpuid(1, a, b, c, d);
	if (!(c & (1u << 26))) {
		print("# no XSAVE on this CPU\n");
		return 0;
	}
	__asm__ __volatile__("mov %%cr4, %0" : "=r"(cr4));
	__asm__ __volatile__("mov %0, %%cr4" : : "r"(cr4 | (1ull << 18)));	/* OSXSAVE */
	__asm__ __volatile__("xsetbv" : : "c"(0), "a"(3), "d"(0));		/* x87 | SSE */
	memset(xsave_area, 0, sizeof(xsave_area));
	__asm__ __volatile__("xrstor %0" : : "m"(xsave_area), "a"(3), "d"(0) : "memory");
	return check(true, "xrstor") ? 0 : 1;
}

static int do_int3(void)
{
	uint64_t h = (uintptr_t)bp_handler;
	struct __attribute__((packed)) {
		uint16_t limit;
		uint64_t base;
	} idtr = { sizeof(idt) - 1, (uintptr_t)idt };

	/* Gate 3: 64-bit interrupt gate, present, DPL 0, selector 0x10. */
	idt[6] = (h & 0xFFFF) | (0x10ull << 16) | (0x8Eull << 40) | ((h >> 16) & 0xFFFF) << 48;
	idt[7] = h >> 32;
	__asm__ __volatile__("lidt %0" : : "m"(idtr));
	__asm__ __volatile__("int3" : : : "memory");
	return check(breakpoints == 1, "int3 caught by the IDT") ? 0 : 1;
}

int payload_main(void)
{
	const uint8_t *bp = (const uint8_t *)(uintptr_t)boot_rsi;
	const char *cmdline = "";

	if (bp)
		cmdline = (const char *)(uintptr_t)(bp[0x228] | bp[0x229] << 8 | bp[0x22A] << 16 |
						    (uint32_t)bp[0x22B] << 24);
	if (arg_is(cmdline, "cmpxchg16b"))
		return do_cmpxchg16b();
	if (arg_is(cmdline, "xrstor"))
		return do_xrstor();
	if (arg_is(cmdline, "int3"))
		return do_int3();
	print("kernel-insns: say insn=cmpxchg16b, insn=xrstor or insn=int3\n");
	return 2;
}
