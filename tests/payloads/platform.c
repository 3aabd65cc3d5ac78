// SPDX-License-Identifier: MIT
/*
 * Payload: the PC platform devices of the KVM engine seen from a guest.
 * PCI configuration mechanism #1 (host bridge, empty slots, byte access,
 * the disable bit), the 16550's registers as Linux's 8250 probe uses them,
 * unclaimed MMIO reading all ones, and KVM's CPUID leaves moved to
 * 0x40000100 behind the VMware ones.
 */
#include <cpuid.h>

#include "runtime.h"

#define COM1	0x3F8

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ __volatile__("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	__asm__ __volatile__("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static uint32_t pci_read(unsigned int dev, unsigned int reg)
{
	outl(0xCF8, 0x80000000u | dev << 11 | reg);
	return inl(0xCFC);
}

int payload_main(void)
{
	uint32_t v, a, b, c, d;

	v = pci_read(0, 0);
	check(v == 0x12378086, "PCI 00:00.0 is the host bridge (%x)", v);
	check(pci_read(0, 8) >> 8 == 0x060000, "host bridge class 06/00/00");
	check(pci_read(5, 0) == 0xFFFFFFFFu, "an empty slot reads all ones");
	outl(0xCF8, 0x80000000u | 2);	/* register 0, byte lane 2 */
	check(inb(0xCFE) == 0x37 && inb(0xCFC) == 0x86, "byte access through 0xCFC-0xCFF");
	outl(0xCF8, 0);
	check(inl(0xCFC) == 0xFFFFFFFFu, "no data with the enable bit clear");
	check(inl(0xCF8) == 0, "the address register reads back");

	outb(COM1 + 7, 0xA5);
	check(inb(COM1 + 7) == 0xA5, "16550 scratch register");
	/* Printing needs DLAB and loopback off: results first, report after. */
	{
		bool dlab, fifo, thre, loop_msr, loop_data;

		outb(COM1 + 3, 0x80);		/* DLAB */
		outb(COM1 + 0, 0x01);
		outb(COM1 + 1, 0x00);
		dlab = inb(COM1 + 0) == 0x01 && inb(COM1 + 1) == 0x00;
		outb(COM1 + 3, 0x03);		/* 8N1 */
		outb(COM1 + 2, 0x07);		/* FIFO on, cleared */
		fifo = (inb(COM1 + 2) & 0xC0) == 0xC0;
		thre = (inb(COM1 + 5) & 0x60) == 0x60;
		outb(COM1 + 4, 0x1A);		/* loopback, OUT2, RTS: the 8250 probe */
		loop_msr = (inb(COM1 + 6) & 0xF0) == 0x90;
		outb(COM1, 'Z');
		loop_data = (inb(COM1 + 5) & 1) && inb(COM1) == 'Z';
		outb(COM1 + 4, 0x03);
		check(dlab, "divisor latch (115200 baud)");
		check(fifo, "FIFO enabled shows in IIR (a 16550A)");
		check(thre, "LSR: transmitter empty");
		check(loop_msr, "loopback wires MCR to MSR (0x90)");
		check(loop_data, "loopback returns a transmitted byte");
	}
	check((inb(COM1 + 6) & 0xB0) == 0xB0, "modem status: DCD, DSR, CTS");

	v = *(volatile uint32_t *)0xC0000000ull;
	check(v == 0xFFFFFFFFu, "MMIO without a device reads all ones (%x)", v);

	__cpuid(0x40000100, a, b, c, d);
	if (!memcmp(&b, "KVMK", 4))
		check(a >= 0x40000101, "KVM's leaves at 0x40000100 (max 0x%x)", a);
	else
		print("# no KVM signature at 0x40000100 (KVM did not offer one)\n");
	return check_failures() ? 1 : 0;
}
