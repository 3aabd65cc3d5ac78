// SPDX-License-Identifier: MIT
/*
 * The KVM engine's PC platform devices through vm_io(), as an engine
 * delivers port accesses: PCI configuration mechanism #1 with a device
 * that has BARs (sizing, placement, enable, INTx), the 0xCF9 reset,
 * isa-debug-exit, and the 16550's interrupt logic through vm_set_irq().
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "hypervisor/devices/pci.h"
#include "hypervisor/vm.h"

static struct vm *vm;
static int irq_changes, irq_last, irq_level;

static void irq_line(void *opaque, unsigned int irq, bool level)
{
	irq_changes++;
	irq_last = (int)irq;
	irq_level = level;
}

static int setup(void **state)
{
	struct vm_config cfg = { .name = "unit-pc", .ram_size = 1 << 20, .engine = "kvm" };

	vm = vm_create(&cfg);
	if (!vm)
		return -1;
	vm->irq_line = irq_line;
	irq_changes = irq_last = irq_level = 0;
	return 0;
}

static int teardown(void **state)
{
	vm_destroy(vm);
	return 0;
}

static uint32_t port_io(uint16_t port, uint8_t size, bool in, uint32_t val)
{
	struct vcpu v = { .vm = vm, .regs = { .rax = val } };
	struct io_access io = { .port = port, .size = size, .in = in, .addr_size = 8 };

	assert_int_equal(vm_io(vm, &v, &io), IO_DONE);
	return (uint32_t)v.regs.rax;
}

static uint32_t cfg_read(int slot, unsigned int reg)
{
	port_io(0xCF8, 4, false, 0x80000000u | (uint32_t)slot << 11 | reg);
	return port_io(0xCFC, 4, true, 0);
}

static void cfg_write(int slot, unsigned int reg, uint32_t val)
{
	port_io(0xCF8, 4, false, 0x80000000u | (uint32_t)slot << 11 | reg);
	port_io(0xCFC, 4, false, val);
}

static int bar_updates;
static uint64_t bar_addr[PCI_NUM_BARS];
static bool bar_on[PCI_NUM_BARS];

static void bar_update(struct pci_dev *dev, int bar, uint64_t addr, bool enabled)
{
	bar_updates++;
	bar_addr[bar] = addr;
	bar_on[bar] = enabled;
}

static const struct pci_dev_ops test_ops = { .bar_update = bar_update };

static struct pci_dev *add_test_device(void)
{
	struct pci_dev_desc d = {
		.name = "test", .vendor = 0x1234, .device = 0x5678, .class_code = 0xFF0000,
		.revision = 3, .irq_pin = 1, .irq_line = 11, .ops = &test_ops,
		.bars = {
			[0] = { PCI_BAR_IO, 32, false },
			[1] = { PCI_BAR_MEM32, 4096, false },
			[2] = { PCI_BAR_MEM64, 1 << 20, true },
		},
	};

	memset(bar_addr, 0, sizeof(bar_addr));
	memset(bar_on, 0, sizeof(bar_on));
	bar_updates = 0;
	return pci_register(vm->pci, &d, 3);
}

static void test_host_bridge_and_empty_slots(void **state)
{
	assert_non_null(vm->pci);
	assert_int_equal(cfg_read(0, 0), 0x12378086);
	assert_int_equal(cfg_read(0, 8) >> 8, 0x060000);
	assert_int_equal(cfg_read(7, 0), 0xFFFFFFFFu);
	/* Function 1 and bus 1 are empty too. */
	port_io(0xCF8, 4, false, 0x80000100u);
	assert_int_equal(port_io(0xCFC, 4, true, 0), 0xFFFFFFFFu);
	port_io(0xCF8, 4, false, 0x80010000u);
	assert_int_equal(port_io(0xCFC, 4, true, 0), 0xFFFFFFFFu);
	/* Word access at 0xCFE is the device id. */
	port_io(0xCF8, 4, false, 0x80000000u);
	assert_int_equal(port_io(0xCFE, 2, true, 0), 0x1237);
}

static void test_bar_sizing_and_placement(void **state)
{
	struct pci_dev *d = add_test_device();

	assert_non_null(d);
	assert_null(add_test_device());		/* slot 3 is taken */
	assert_int_equal(cfg_read(3, 0), 0x56781234);
	assert_int_equal(cfg_read(3, 0x3C) & 0xFFFF, 0x010B);	/* INTA, line 11 */

	/* Sizing: write all ones, read the size mask back with the flag bits. */
	cfg_write(3, 0x10, 0xFFFFFFFF);
	assert_int_equal(cfg_read(3, 0x10), 0xFFFFFFE1u);
	cfg_write(3, 0x14, 0xFFFFFFFF);
	assert_int_equal(cfg_read(3, 0x14), 0xFFFFF000u);
	cfg_write(3, 0x18, 0xFFFFFFFF);
	cfg_write(3, 0x1C, 0xFFFFFFFF);
	assert_int_equal(cfg_read(3, 0x18), 0xFFF0000Cu);	/* 64-bit, prefetchable */
	assert_int_equal(cfg_read(3, 0x1C), 0xFFFFFFFFu);

	/* Placement, then decoding on: the device hears about it. */
	cfg_write(3, 0x10, 0xC000);
	cfg_write(3, 0x14, 0xE0000000);
	cfg_write(3, 0x18, 0x00100000);
	cfg_write(3, 0x1C, 0x1);
	assert_false(bar_on[0] || bar_on[1] || bar_on[2]);
	cfg_write(3, 0x04, 0x3);
	assert_true(bar_on[0] && bar_on[1] && bar_on[2]);
	assert_int_equal(bar_addr[0], 0xC000);
	assert_int_equal(bar_addr[1], 0xE0000000u);
	assert_int_equal(bar_addr[2], 0x100100000ull);
	assert_int_equal(pci_bar_addr(d, 2), 0x100100000ull);
	assert_int_equal(cfg_read(3, 0x10), 0xC001);
	cfg_write(3, 0x04, 0x2);			/* I/O decoding off */
	assert_false(bar_on[0]);
	assert_true(bar_on[1]);
	/* The ROM BAR is not implemented and stays 0. */
	cfg_write(3, 0x30, 0xFFFFFFFF);
	assert_int_equal(cfg_read(3, 0x30), 0);
}

static void test_intx(void **state)
{
	struct pci_dev *d = add_test_device();

	pci_set_irq(d, true);
	assert_int_equal(irq_last, 11);
	assert_true(irq_level);
	assert_true(cfg_read(3, 0x04) & (0x0008u << 16));	/* status: INTx pending */
	cfg_write(3, 0x04, 0x0400);			/* INTx disable lowers the line */
	assert_false(irq_level);
	cfg_write(3, 0x04, 0);
	assert_true(irq_level);
	pci_set_irq(d, false);
	assert_false(irq_level);
}

static void test_reset_and_debug_exit(void **state)
{
	port_io(0xCF9, 1, false, 0x02);
	assert_false(vm->exit_requested);
	port_io(0xCF9, 1, false, 0x0E);
	assert_true(vm->exit_requested);
	assert_int_equal(vm->exit_request_status, 0);
	vm->exit_requested = false;
	port_io(0xF4, 1, false, 0x2A);
	assert_true(vm->exit_requested);
	assert_int_equal(vm->exit_request_status, 42);
	port_io(0xF4, 1, false, 0x07);			/* the first request wins */
	assert_int_equal(vm->exit_request_status, 42);
}

static void test_serial_interrupts(void **state)
{
	const uint16_t com1 = 0x3F8;

	assert_int_equal(port_io(com1 + 2, 1, true, 0) & 0x0F, 0x01);	/* none pending */
	port_io(com1 + 4, 1, false, 0x08);		/* OUT2: IRQ enabled */
	port_io(com1 + 1, 1, false, 0x02);		/* THR-empty interrupt on */
	assert_int_equal(irq_last, 4);
	assert_true(irq_level);
	assert_int_equal(port_io(com1 + 2, 1, true, 0) & 0x0F, 0x02);	/* THRE, acknowledged */
	assert_false(irq_level);
	port_io(com1, 1, false, '\n');			/* transmit: empty again at once */
	assert_true(irq_level);
	port_io(com1 + 1, 1, false, 0x00);
	assert_false(irq_level);
	/* Loopback with the receive interrupt. */
	port_io(com1 + 4, 1, false, 0x18);
	port_io(com1 + 1, 1, false, 0x01);
	port_io(com1, 1, false, 'x');
	assert_true(irq_level);
	assert_int_equal(port_io(com1 + 2, 1, true, 0) & 0x0F, 0x04);
	assert_int_equal(port_io(com1 + 5, 1, true, 0) & 0x61, 0x61);
	assert_int_equal(port_io(com1, 1, true, 0) & 0xFF, 'x');
	assert_false(irq_level);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_host_bridge_and_empty_slots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bar_sizing_and_placement, setup, teardown),
		cmocka_unit_test_setup_teardown(test_intx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_and_debug_exit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_serial_interrupts, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
