// SPDX-License-Identifier: MIT
/*
 * PCI configuration mechanism #1 and bus 0.  See pci.h.
 *
 * 0xCF8 (32-bit accesses only) holds the address: bit 31 enable, bus in
 * bits 23:16, device 15:11, function 10:8, register 7:2.  0xCFC-0xCFF is a
 * window on that dword, so a byte at 0xCFE is register + 2.  Byte and word
 * accesses at 0xCF8-0xCFB are not the address register: 0xCF9 is the PC's
 * reset control, where a reset request ends the VM (we have no reboot).
 */
#define G_LOG_DOMAIN "porthole-hv"
#include <glib.h>
#include <string.h>

#include "devices.h"
#include "hypervisor/vm.h"
#include "pci.h"

#define PCI_CONF_ADDR		0xCF8
#define PCI_PORTS		8
#define PCI_SLOTS		32
#define PCI_RESET_CONTROL	0xCF9
#define RESET_CPU		0x04

#define CFG_VENDOR		0x00
#define CFG_COMMAND		0x04
#define CFG_STATUS		0x06
#define CFG_REVISION		0x08
#define CFG_CACHE_LINE		0x0C
#define CFG_LATENCY		0x0D
#define CFG_HEADER_TYPE		0x0E
#define CFG_BAR0		0x10
#define CFG_SUBSYS		0x2C
#define CFG_ROM			0x30
#define CFG_INT_LINE		0x3C
#define CFG_INT_PIN		0x3D
#define CFG_DEVICE_SPECIFIC	0x40

#define COMMAND_WRITABLE	0x0547	/* io, mem, master, parity, serr, intx-disable */
#define COMMAND_INTX_DISABLE	0x0400
#define STATUS_INTX		0x0008

struct pci_dev {
	struct pci_bus *bus;
	int slot;
	struct pci_dev_desc desc;
	uint8_t cfg[256];		/* standard header as the guest reads it */
	uint64_t bar_addr[PCI_NUM_BARS];
	bool bar_enabled[PCI_NUM_BARS];
	bool irq_level;
};

struct pci_bus {
	struct io_device dev;
	struct vm *vm;
	uint32_t addr;
	struct pci_dev *slots[PCI_SLOTS];
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool bar_valid(const struct pci_dev_desc *d, int i)
{
	const struct pci_bar_desc *b = &d->bars[i];

	if (b->type == PCI_BAR_NONE)
		return true;
	if (!b->size || (b->size & (b->size - 1)))
		return false;
	switch (b->type) {
	case PCI_BAR_IO:
		return b->size >= 4 && b->size <= 256;
	case PCI_BAR_MEM32:
		return b->size >= 16 && b->size <= (1ull << 31);
	case PCI_BAR_MEM64:
		return b->size >= 16 && i + 1 < PCI_NUM_BARS &&
		       d->bars[i + 1].type == PCI_BAR_NONE;
	default:
		return false;
	}
}

/* The low flag bits of a BAR register. */
static uint32_t bar_flags(const struct pci_bar_desc *b)
{
	switch (b->type) {
	case PCI_BAR_IO:
		return 0x1;
	case PCI_BAR_MEM64:
		return 0x4 | (b->prefetchable ? 0x8 : 0);
	case PCI_BAR_MEM32:
		return b->prefetchable ? 0x8 : 0;
	default:
		return 0;
	}
}

static void refresh_bars(struct pci_dev *d)
{
	uint16_t cmd = (uint16_t)(d->cfg[CFG_COMMAND] | d->cfg[CFG_COMMAND + 1] << 8);

	for (int i = 0; i < PCI_NUM_BARS; i++) {
		const struct pci_bar_desc *b = &d->desc.bars[i];
		uint64_t addr;
		bool on;

		if (b->type == PCI_BAR_NONE)
			continue;
		addr = get32(&d->cfg[CFG_BAR0 + 4 * i]) & ~(uint64_t)(b->type == PCI_BAR_IO ? 3 : 15);
		if (b->type == PCI_BAR_MEM64)
			addr |= (uint64_t)get32(&d->cfg[CFG_BAR0 + 4 * (i + 1)]) << 32;
		on = (b->type == PCI_BAR_IO ? (cmd & PCI_COMMAND_IO) : (cmd & PCI_COMMAND_MEMORY)) &&
		     addr != 0;
		if (addr != d->bar_addr[i] || on != d->bar_enabled[i]) {
			d->bar_addr[i] = addr;
			d->bar_enabled[i] = on;
			if (d->desc.ops && d->desc.ops->bar_update)
				d->desc.ops->bar_update(d, i, addr, on);
		}
		if (b->type == PCI_BAR_MEM64)
			i++;
	}
}

/* A dword write to a BAR register: keep the size-aligned address bits. */
static void write_bar(struct pci_dev *d, unsigned int reg, uint32_t val)
{
	int i = (int)(reg - CFG_BAR0) / 4;
	const struct pci_bar_desc *b = &d->desc.bars[i];

	if (b->type == PCI_BAR_NONE) {
		/* The upper half of a 64-bit BAR? */
		if (i > 0 && d->desc.bars[i - 1].type == PCI_BAR_MEM64) {
			uint64_t size = d->desc.bars[i - 1].size;

			put32(&d->cfg[reg], val & (uint32_t)(~(size - 1) >> 32));
		}
		return;
	}
	put32(&d->cfg[reg], (val & (uint32_t)~(b->size - 1)) | bar_flags(b));
}

static void dev_write(struct pci_dev *d, unsigned int off, unsigned int size, uint32_t val)
{
	if (off >= CFG_DEVICE_SPECIFIC) {
		if (d->desc.ops && d->desc.ops->cfg_write)
			d->desc.ops->cfg_write(d, off, size, val);
		return;
	}
	for (unsigned int i = 0; i < size; i++) {
		unsigned int reg = off + i;
		uint8_t byte = (uint8_t)(val >> (8 * i));

		if (reg == CFG_COMMAND || reg == CFG_COMMAND + 1) {
			uint8_t mask = (uint8_t)(COMMAND_WRITABLE >> (8 * (reg - CFG_COMMAND)));

			d->cfg[reg] = (uint8_t)((d->cfg[reg] & ~mask) | (byte & mask));
		} else if (reg == CFG_CACHE_LINE || reg == CFG_LATENCY || reg == CFG_INT_LINE) {
			d->cfg[reg] = byte;
		}
	}
	/* BARs take dword writes; a narrower one updates the bytes it covers. */
	if (off >= CFG_BAR0 && off < CFG_BAR0 + 4 * PCI_NUM_BARS) {
		unsigned int reg = off & ~3u;
		uint32_t cur = get32(&d->cfg[reg]);
		unsigned int shift = 8 * (off & 3);
		uint32_t mask = size >= 4 ? ~0u : ((1u << (8 * size)) - 1) << shift;

		write_bar(d, reg, (cur & ~mask) | ((val << shift) & mask));
	}
	/* The expansion ROM BAR is not implemented: it stays 0. */
	refresh_bars(d);
	if (off <= CFG_COMMAND + 1 && off + size > CFG_COMMAND && d->irq_level)
		pci_set_irq(d, true);	/* re-evaluate INTx-disable */
}

static uint32_t dev_read(struct pci_dev *d, unsigned int off, unsigned int size)
{
	uint32_t v = 0;

	if (off >= CFG_DEVICE_SPECIFIC) {
		if (d->desc.ops && d->desc.ops->cfg_read)
			return d->desc.ops->cfg_read(d, off, size);
		return 0;
	}
	for (unsigned int i = 0; i < size; i++)
		v |= (uint32_t)d->cfg[off + i] << (8 * i);
	return v;
}

static struct pci_dev *addressed(struct pci_bus *bus, unsigned int *reg)
{
	uint32_t a = bus->addr;

	if (!(a & 0x80000000u))
		return NULL;
	*reg = a & 0xFC;
	/* Bus 0, function 0 only. */
	if (((a >> 16) & 0xFF) || ((a >> 8) & 7))
		return NULL;
	return bus->slots[(a >> 11) & 0x1F];
}

static enum io_result pci_io(struct io_device *dev, struct vcpu *vcpu, const struct io_access *io,
			     uint32_t *val)
{
	struct pci_bus *bus = dev->opaque;
	unsigned int off = io->port - PCI_CONF_ADDR;

	if (off < 4) {
		if (io->size == 4 && off == 0) {
			if (io->in)
				*val = bus->addr;
			else
				bus->addr = *val & 0x80FFFFFCu;
		} else if (io->in) {
			*val = io->port == PCI_RESET_CONTROL ? 0 : 0xFFFFFFFFu;
		} else if (io->port == PCI_RESET_CONTROL && io->size == 1 && (*val & RESET_CPU)) {
			vm_guest_log(bus->vm, "reset requested (port 0xCF9): ending the VM");
			vm_request_exit(bus->vm, 0);
		}
		return IO_DONE;
	}

	/* Data window: register + (port - 0xCFC), never past the dword. */
	off -= 4;
	{
		unsigned int reg;
		struct pci_dev *d = addressed(bus, &reg);

		if (!d || off + io->size > 4) {
			if (io->in)
				*val = 0xFFFFFFFFu;
			return IO_DONE;
		}
		if (io->in)
			*val = dev_read(d, reg + off, io->size);
		else
			dev_write(d, reg + off, io->size, *val);
	}
	return IO_DONE;
}

static void pci_release(struct io_device *dev)
{
	struct pci_bus *bus = dev->opaque;

	for (int i = 0; i < PCI_SLOTS; i++)
		g_free(bus->slots[i]);
	if (bus->vm->pci == bus)
		bus->vm->pci = NULL;
	g_free(bus);
}

static const struct io_device_ops pci_ops = { .io = pci_io, .release = pci_release };

struct pci_dev *pci_register(struct pci_bus *bus, const struct pci_dev_desc *desc, int slot)
{
	struct pci_dev *d;

	if (slot < 0) {
		for (slot = 1; slot < PCI_SLOTS && bus->slots[slot]; slot++)
			;
	}
	if (slot >= PCI_SLOTS || bus->slots[slot] || desc->irq_pin > 4)
		return NULL;
	for (int i = 0; i < PCI_NUM_BARS; i++)
		if (!bar_valid(desc, i))
			return NULL;

	d = g_new0(struct pci_dev, 1);
	d->bus = bus;
	d->slot = slot;
	d->desc = *desc;
	put16(&d->cfg[CFG_VENDOR], desc->vendor);
	put16(&d->cfg[CFG_VENDOR + 2], desc->device);
	d->cfg[CFG_REVISION] = desc->revision;
	d->cfg[CFG_REVISION + 1] = (uint8_t)desc->class_code;
	d->cfg[CFG_REVISION + 2] = (uint8_t)(desc->class_code >> 8);
	d->cfg[CFG_REVISION + 3] = (uint8_t)(desc->class_code >> 16);
	d->cfg[CFG_HEADER_TYPE] = 0;
	put16(&d->cfg[CFG_SUBSYS], desc->subsys_vendor);
	put16(&d->cfg[CFG_SUBSYS + 2], desc->subsys_device);
	d->cfg[CFG_INT_PIN] = desc->irq_pin;
	d->cfg[CFG_INT_LINE] = desc->irq_pin ? desc->irq_line : 0xFF;
	for (int i = 0; i < PCI_NUM_BARS; i++)
		if (desc->bars[i].type != PCI_BAR_NONE)
			put32(&d->cfg[CFG_BAR0 + 4 * i], bar_flags(&desc->bars[i]));
	bus->slots[slot] = d;
	return d;
}

void *pci_dev_opaque(const struct pci_dev *dev)
{
	return dev->desc.opaque;
}

int pci_dev_slot(const struct pci_dev *dev)
{
	return dev->slot;
}

uint16_t pci_dev_command(const struct pci_dev *dev)
{
	return (uint16_t)(dev->cfg[CFG_COMMAND] | dev->cfg[CFG_COMMAND + 1] << 8);
}

uint64_t pci_bar_addr(const struct pci_dev *dev, int bar)
{
	return bar >= 0 && bar < PCI_NUM_BARS ? dev->bar_addr[bar] : 0;
}

void pci_set_irq(struct pci_dev *dev, bool level)
{
	bool out;

	dev->irq_level = level;
	if (level)
		dev->cfg[CFG_STATUS] |= STATUS_INTX;
	else
		dev->cfg[CFG_STATUS] &= (uint8_t)~STATUS_INTX;
	if (!dev->desc.irq_pin)
		return;
	out = level && !(pci_dev_command(dev) & COMMAND_INTX_DISABLE);
	vm_set_irq(dev->bus->vm, dev->cfg[CFG_INT_LINE], out);
}

int pci_init(struct vm *vm)
{
	struct pci_bus *bus = g_new0(struct pci_bus, 1);
	/* An i440FX host bridge, what Linux expects to find at 00:00.0. */
	const struct pci_dev_desc bridge = {
		.name = "host-bridge", .vendor = 0x8086, .device = 0x1237,
		.class_code = 0x060000, .revision = 0x02,
	};

	bus->vm = vm;
	bus->dev = (struct io_device){ "pci", PCI_CONF_ADDR, PCI_PORTS, &pci_ops, bus };
	if (iobus_register(vm->iobus, &bus->dev)) {
		g_free(bus);
		return -1;
	}
	vm->pci = bus;
	return pci_register(bus, &bridge, 0) ? 0 : -1;
}
