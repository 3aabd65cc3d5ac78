// SPDX-License-Identifier: MIT
/*
 * Payload benchmark: why a KVM payload moves memory slowly on some hosts.
 * Separates what each memory operation costs from what any instruction
 * costs here: a register-only loop (no memory at all), the first write to
 * each 4 KiB page of a region never touched (the host maps it then), the
 * same writes again (mapped), a 1 MiB `rep movsq` (as the VMCI payload
 * copies) and a plain 8-byte load loop over 1 MiB.  If the register loop
 * is already far slower than the CPU runs it natively, the host executes
 * the guest's instructions itself (a nested or software-assisted KVM), and
 * memory is slow because everything is.
 */
#include "register-loop.h"
#include "runtime.h"

#define REGION		((uint8_t *)(64ull << 20))	/* above the payload and its heap */
#define REGION_SIZE	(16ull << 20)
#define COPY_SIZE	(1ull << 20)
#define ALU_ITERS	200000u

/* TSC cycles for n iterations of add/dec/jnz: no memory access. */
static uint64_t alu_loop(uint32_t n)
{
	uint64_t t0 = rdtsc();

	register_loop(n);
	return rdtsc() - t0;
}

/* TSC cycles to write one byte in each page of [base, base + size). */
static uint64_t touch(uint8_t *base, uint64_t size)
{
	uint64_t t0 = rdtsc();

	for (uint64_t off = 0; off < size; off += 4096)
		*(volatile uint8_t *)(base + off) = (uint8_t)off;
	return rdtsc() - t0;
}

static uint64_t copy(void *dst, const void *src, uint64_t bytes)
{
	uint64_t t0 = rdtsc(), n = bytes / 8;

	__asm__ __volatile__("cld; rep movsq" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
	return rdtsc() - t0;
}

static uint64_t load_loop(const uint64_t *p, uint64_t bytes, uint64_t *sum)
{
	uint64_t t0 = rdtsc(), s = 0;

	for (uint64_t i = 0; i < bytes / 8; i++)
		s += ((const volatile uint64_t *)p)[i];
	*sum = s;
	return rdtsc() - t0;
}

/* Thousandths of a nanosecond per item. */
static uint64_t ns_milli_per(uint64_t cycles, uint64_t items)
{
	return tsc_to_ns(cycles) * 1000 / items;
}

/* Thousandths of a MB/s (10^6 bytes) for `bytes` in `cycles`. */
static uint64_t mbps_milli(uint64_t cycles, uint64_t bytes)
{
	uint64_t ns = tsc_to_ns(cycles);

	return ns ? bytes * 1000000 / ns : 0;
}

int payload_main(void)
{
	uint64_t alu, first, again, cp, ld, sum;

	alu_loop(1000);
	alu = alu_loop(ALU_ITERS);
	first = touch(REGION, REGION_SIZE);
	again = touch(REGION, REGION_SIZE);
	copy(REGION + REGION_SIZE / 2, REGION, COPY_SIZE);	/* warm */
	cp = copy(REGION + REGION_SIZE / 2, REGION, COPY_SIZE);
	ld = load_loop((const uint64_t *)REGION, COPY_SIZE, &sum);
	print_bench("kvm.cpu.register_loop_iteration", ns_milli_per(alu, ALU_ITERS), "ns");
	print_bench("kvm.mem.first_touch_per_page", ns_milli_per(first, REGION_SIZE / 4096), "ns");
	print_bench("kvm.mem.touch_again_per_page", ns_milli_per(again, REGION_SIZE / 4096), "ns");
	print_bench("kvm.mem.rep_movsq_1MiB", mbps_milli(cp, COPY_SIZE), "MB/s");
	print_bench("kvm.mem.load_loop_1MiB", mbps_milli(ld, COPY_SIZE), "MB/s");
	print("# checksum %llu\n", (unsigned long long)sum);
	return 0;
}
