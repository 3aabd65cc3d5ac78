// SPDX-License-Identifier: MIT
/*
 * Payload booted as a Linux kernel (--kernel): as an ELF "vmlinux"
 * (boot-check.elf) or inside a minimal bzImage whose 64-bit entry is at
 * +0x200 (boot-check-bz.elf, wrapped by the e2e test).  Checks what the
 * x86 64-bit boot protocol promises: RSI = boot_params with the setup
 * header, the loader's fields, the command line, an e820 map that covers
 * the RAM the backdoor reports, and the initrd, whose bytes it sums so the
 * test can compare.
 */
#include "backdoor/backdoor.h"
#include "runtime.h"

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
	return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static bool contains(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay; hay++)
		if (!strncmp(hay, needle, n))
			return true;
	return false;
}

int payload_main(void)
{
	const uint8_t *bp = (const uint8_t *)(uintptr_t)boot_rsi;
	uint64_t rsp, ram = 0, initrd, initrd_size, sum = 0;
	struct bdoor_regs r;
	const char *cmdline;
	unsigned int n;

	__asm__ __volatile__("mov %%rsp, %0" : "=r"(rsp));
	print("# boot_params at %p, version 0x%x\n", (void *)bp,
	      bp ? (unsigned int)(bp[0x206] | bp[0x207] << 8) : 0);
	if (!check(bp && !memcmp(bp + 0x202, "HdrS", 4) && bp[0x1FE] == 0x55 && bp[0x1FF] == 0xAA,
		   "RSI points to boot_params with a setup header"))
		return 1;
	check(rsp < 0x100000, "the stack is below 1 MiB (RSP %p)", (void *)rsp);
	check(bp[0x210] == 0xFF && (bp[0x211] & 1), "type_of_loader 0xff, LOADED_HIGH");

	cmdline = (const char *)(uintptr_t)rd32(bp + 0x228);
	print("boot-check: cmdline=%s\n", cmdline ? cmdline : "");
	check(cmdline && contains(cmdline, "porthole.test=boot-check"),
	      "the command line arrived");

	n = bp[0x1E8];
	for (unsigned int i = 0; i < n; i++) {
		const uint8_t *e = bp + 0x2D0 + 20 * i;

		print("# e820 %016lx-%016lx type %u\n", rd64(e), rd64(e) + rd64(e + 8) - 1,
		      rd32(e + 16));
		if (rd32(e + 16) == 1)
			ram += rd64(e + 8);
	}
	bdoor_lb_cmd(&r, BDOOR_CMD_GETMEMSIZE, 0);
	bdoor_lb(&r);
	check(n >= 3 && ram >> 20 <= (uint32_t)r.ax && (ram >> 20) + 1 >= (uint32_t)r.ax,
	      "e820: %u entries, %u MiB of RAM for a %u MiB VM", n, (unsigned int)(ram >> 20),
	      (uint32_t)r.ax);

	initrd = rd32(bp + 0x218) | (uint64_t)rd32(bp + 0x0C0) << 32;
	initrd_size = rd32(bp + 0x21C) | (uint64_t)rd32(bp + 0x0C4) << 32;
	if (initrd_size) {
		const uint8_t *p = (const uint8_t *)(uintptr_t)initrd;

		for (uint64_t i = 0; i < initrd_size; i++)
			sum += p[i];
		check(!(initrd & 0xFFF) && initrd >= 0x100000 && !memcmp(p, "PORTHOLE-INITRD", 15),
		      "initrd of %u bytes at %p", (unsigned int)initrd_size, (void *)p);
	}
	print("boot-check: initrd-size=%u initrd-sum=%u\n", (unsigned int)initrd_size,
	      (unsigned int)sum);
	return check_failures() ? 1 : 0;
}
