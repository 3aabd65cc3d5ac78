// SPDX-License-Identifier: MIT
/*
 * Guest-physical page numbers through the VM's memory map: the translation
 * itself over a layout with a hole, the checks on a layout an engine hands
 * in, and a VMCI queue pair registered by a KVM guest above the 32-bit PCI
 * hole (its pages live in the RAM file at 3 GiB, not at 4 GiB), through
 * vm_io() as the engine delivers the hypercall.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <unistd.h>

#include "backdoor/ring.h"
#include "backdoor/vmci.h"
#include "hypervisor/engines/kvm-boot.h"
#include "hypervisor/vm.h"

#define GiB	(1ull << 30)
#define MiB	(1ull << 20)

/* 3 pages at 0, a hole, 2 pages at 0x10000. */
static const struct vm_ram_map holed = { 2, { { 0, 0x3000 }, { 0x10000, 0x2000 } } };

static void test_translate(void **state)
{
	uint64_t off = 99;

	assert_int_equal(vm_ram_map_translate(&holed, 0x2000, 0x1000, &off), 0);
	assert_int_equal(off, 0x2000);
	assert_int_equal(vm_ram_map_translate(&holed, 0x10000, 0x1000, &off), 0);
	assert_int_equal(off, 0x3000);	/* the second range follows the first in the file */
	assert_int_equal(vm_ram_map_translate(&holed, 0x11fff, 1, &off), 0);
	assert_int_equal(off, 0x4fff);
	/* The hole, past the end, across the end of a range, wrapping: not RAM. */
	assert_int_equal(vm_ram_map_translate(&holed, 0x3000, 1, &off), -1);
	assert_int_equal(vm_ram_map_translate(&holed, 0xf000, 0x1000, &off), -1);
	assert_int_equal(vm_ram_map_translate(&holed, 0x12000, 1, &off), -1);
	assert_int_equal(vm_ram_map_translate(&holed, 0x2800, 0x1000, &off), -1);
	assert_int_equal(vm_ram_map_translate(&holed, 0x11000, 0x1001, &off), -1);
	assert_int_equal(vm_ram_map_translate(&holed, UINT64_MAX, 2, &off), -1);
	assert_int_equal(off, 0x4fff);	/* untouched by a refusal */
}

static void test_set_map_checks(void **state)
{
	struct vm_config cfg = { .name = "unit-gpa", .ram_size = 0x5000, .engine = "kvm" };
	struct vm *vm = vm_create(&cfg);
	struct vm_ram_map bad;
	uint64_t off;

	assert_non_null(vm);
	/* Before an engine says otherwise, RAM is the file: identity. */
	assert_int_equal(vm_gpa_to_ram(vm, 0x4000, 0x1000, &off), 0);
	assert_int_equal(off, 0x4000);
	bad = (struct vm_ram_map){ 2, { { 0, 0x3000 }, { 0x10000, 0x1000 } } };
	assert_int_equal(vm_set_ram_map(vm, &bad), -1);		/* covers less than RAM */
	bad = (struct vm_ram_map){ 2, { { 0, 0x3000 }, { 0x2000, 0x2000 } } };
	assert_int_equal(vm_set_ram_map(vm, &bad), -1);		/* overlapping */
	bad = (struct vm_ram_map){ 2, { { 0x10000, 0x2000 }, { 0, 0x3000 } } };
	assert_int_equal(vm_set_ram_map(vm, &bad), -1);		/* not ascending */
	bad = (struct vm_ram_map){ 2, { { 0, 0x5000 }, { 0x10000, 0 } } };
	assert_int_equal(vm_set_ram_map(vm, &bad), -1);		/* an empty range */
	bad = (struct vm_ram_map){ 2, { { 0, 0x3000 }, { UINT64_MAX - 0xfff, 0x2000 } } };
	assert_int_equal(vm_set_ram_map(vm, &bad), -1);		/* wraps */
	assert_int_equal(vm_gpa_to_ram(vm, 0x4000, 0x1000, &off), 0);
	assert_int_equal(off, 0x4000);				/* nothing changed */
	assert_int_equal(vm_set_ram_map(vm, &holed), 0);
	assert_int_equal(vm_gpa_to_ram(vm, 0x4000, 0x1000, &off), -1);
	assert_int_equal(vm_gpa_to_ram(vm, 0x11000, 0x1000, &off), 0);
	assert_int_equal(off, 0x4000);
	vm_destroy(vm);
}

/* "Guest memory" of the hypercall: this process's memory. */
static int mem_read(void *opaque, uint64_t addr, void *buf, size_t len)
{
	memcpy(buf, (const void *)(uintptr_t)addr, len);
	return 0;
}

static int mem_write(void *opaque, uint64_t addr, const void *buf, size_t len)
{
	memcpy((void *)(uintptr_t)addr, buf, len);
	return 0;
}

static uint32_t port_in(struct vm *vm, unsigned int reg)
{
	struct vcpu v = { .vm = vm };
	struct io_access io = { .port = VMCI_PORT_BASE + reg, .size = 4, .in = true,
				.addr_size = 8 };

	assert_int_equal(vm_io(vm, &v, &io), IO_DONE);
	return (uint32_t)v.regs.rax;
}

/* QUEUEPAIR_ALLOC of one page each way, pages first_ppn.. in a row: the result. */
static int64_t qp_alloc(struct vm *vm, uint32_t rid, uint64_t first_ppn)
{
	struct {
		struct vmci_dg_hdr h;
		struct vmci_qp_alloc a;
		uint64_t ppns[4];
	} __attribute__((packed)) dg = {
		.h = { { VMCI_HYPERVISOR_CONTEXT_ID, VMCI_QUEUEPAIR_ALLOC }, { VMCI_INVALID_ID, 0 },
		       sizeof(dg) - sizeof(dg.h) },
		.a = { .handle = { VMCI_GUEST_CONTEXT_ID, rid }, .peer = VMCI_HOST_CONTEXT_ID,
		       .produce_size = VMCI_PAGE_SIZE, .consume_size = VMCI_PAGE_SIZE,
		       .num_ppns = 4 },
		.ppns = { first_ppn, first_ppn + 1, first_ppn + 2, first_ppn + 3 },
	};
	struct vcpu v = {
		.vm = vm, .mem = { mem_read, mem_write, NULL },
		.regs = { .rsi = (uintptr_t)&dg, .rcx = sizeof(dg) },
	};
	struct io_access io = { .port = VMCI_PORT_BASE + VMCI_REG_DATA_OUT, .size = 1,
				.string = true, .rep = true, .addr_size = 8 };

	assert_int_equal(vm_io(vm, &v, &io), IO_DONE);
	return (int64_t)((uint64_t)port_in(vm, VMCI_REG_RESULT_HIGH) << 32 |
			 port_in(vm, VMCI_REG_RESULT_LOW));
}

static void test_kvm_queue_pair_above_4g(void **state)
{
	struct vm_config cfg = { .name = "unit-gpa-kvm", .ram_size = 4 * GiB, .engine = "kvm" };
	struct vm *vm = vm_create(&cfg);
	struct kvm_guest_ram ram;
	struct vmci_queue_header qh;
	uint64_t expect = (uint64_t)VMCI_GUEST_CONTEXT_ID | (uint64_t)60 << 32;

	assert_non_null(vm);
	kvm_ram_layout(&ram, NULL, vm->ram_size);	/* what the KVM engine hands in */
	assert_int_equal(ram.map.n, 2);
	assert_int_equal(vm_set_ram_map(vm, &ram.map), 0);

	/* 4 GiB + 1 MiB: RAM file offset 3 GiB + 1 MiB, where the engine maps it. */
	assert_int_equal(qp_alloc(vm, 60, (4 * GiB + MiB) / VMCI_PAGE_SIZE),
			 VMCI_SUCCESS_QUEUEPAIR_CREATE);
	assert_int_equal(pread(vm->ram_fd, &qh, sizeof(qh), (off_t)(3 * GiB + MiB)), sizeof(qh));
	assert_int_equal(qh.handle, expect);
	/* (Not at file offset 4 GiB: that is past the file, guest-physical 5 GiB.) */

	/* In the PCI hole (3.25 GiB) there is no RAM, though the file is that big. */
	assert_int_equal(qp_alloc(vm, 61, (3 * GiB + GiB / 4) / VMCI_PAGE_SIZE),
			 VMCI_ERROR_CANNOT_SHARE_PAGE);
	/* Past the high range: 5 GiB. */
	assert_int_equal(qp_alloc(vm, 62, 5 * GiB / VMCI_PAGE_SIZE - 2),
			 VMCI_ERROR_CANNOT_SHARE_PAGE);
	/* Below the hole nothing changes: page n is file page n. */
	assert_int_equal(qp_alloc(vm, 63, 2 * MiB / VMCI_PAGE_SIZE),
			 VMCI_SUCCESS_QUEUEPAIR_CREATE);
	assert_int_equal(pread(vm->ram_fd, &qh, sizeof(qh), (off_t)(2 * MiB)), sizeof(qh));
	assert_int_equal(qh.handle, (uint64_t)VMCI_GUEST_CONTEXT_ID | (uint64_t)63 << 32);
	vm_destroy(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_translate),
		cmocka_unit_test(test_set_map_checks),
		cmocka_unit_test(test_kvm_queue_pair_above_4g),
	};

	return cmocka_run_group_tests_name("vmci-gpa", tests, NULL, NULL);
}
