/* SPDX-License-Identifier: MIT */
/*
 * PCI: bus 0 behind configuration mechanism #1 (ports 0xCF8 address,
 * 0xCFC-0xCFF data, any access size), with a host bridge at 00:00.0.
 * Devices of later issues register a function here and get a standard
 * type-0 configuration header emulated for them: identity registers,
 * command, BAR sizing and placement, interrupt line/pin.
 *
 * Only function 0 of each slot exists; empty slots and functions read all
 * ones, as on real hardware.  Everything runs with vm->lock held.
 */
#ifndef PORTHOLE_HV_PCI_H
#define PORTHOLE_HV_PCI_H

#include <stdbool.h>
#include <stdint.h>

struct vm;
struct pci_bus;
struct pci_dev;

#define PCI_NUM_BARS	6

#define PCI_COMMAND_IO		0x0001
#define PCI_COMMAND_MEMORY	0x0002
#define PCI_COMMAND_MASTER	0x0004

enum pci_bar_type {
	PCI_BAR_NONE = 0,
	PCI_BAR_IO,		/* I/O ports; size >= 4 */
	PCI_BAR_MEM32,		/* 32-bit memory; size >= 16 */
	PCI_BAR_MEM64,		/* 64-bit memory: takes this BAR and the next */
};

struct pci_bar_desc {
	enum pci_bar_type type;
	uint64_t size;		/* a power of two */
	bool prefetchable;
};

struct pci_dev_ops {
	/* Optional: device-specific registers at offsets 0x40-0xFF. */
	uint32_t (*cfg_read)(struct pci_dev *dev, unsigned int offset, unsigned int size);
	void (*cfg_write)(struct pci_dev *dev, unsigned int offset, unsigned int size,
			  uint32_t val);
	/*
	 * Optional: a BAR's decoding changed, because the guest moved it or
	 * flipped the I/O or memory enable in the command register.  `addr`
	 * means something only when `enabled`.
	 */
	void (*bar_update)(struct pci_dev *dev, int bar, uint64_t addr, bool enabled);
};

struct pci_dev_desc {
	const char *name;
	uint16_t vendor, device;
	uint16_t subsys_vendor, subsys_device;
	uint32_t class_code;	/* class << 16 | subclass << 8 | prog-if */
	uint8_t revision;
	uint8_t irq_pin;	/* 0: none, 1..4: INTA..INTD */
	uint8_t irq_line;	/* legacy IRQ the guest is told (the PIC input) */
	struct pci_bar_desc bars[PCI_NUM_BARS];
	const struct pci_dev_ops *ops;
	void *opaque;
};

/* devices/pci.c: the bus on the I/O ports plus the host bridge; sets vm->pci. */
int pci_init(struct vm *vm);

/*
 * Put a function in `slot` (1..31), or in the first free slot when slot < 0.
 * The descriptor is copied.  Returns the device (owned by the bus, freed
 * with the VM) or NULL when the slot is taken or the descriptor is invalid.
 */
struct pci_dev *pci_register(struct pci_bus *bus, const struct pci_dev_desc *desc, int slot);

void *pci_dev_opaque(const struct pci_dev *dev);
int pci_dev_slot(const struct pci_dev *dev);
uint16_t pci_dev_command(const struct pci_dev *dev);
/* Current address of a BAR (0 until the guest places it). */
uint64_t pci_bar_addr(const struct pci_dev *dev, int bar);
/* Drive the function's INTx pin (through its irq_line; INTx-disable honored). */
void pci_set_irq(struct pci_dev *dev, bool level);

#endif
