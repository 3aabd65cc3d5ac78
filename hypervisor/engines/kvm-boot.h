/* SPDX-License-Identifier: MIT */
/*
 * Loading a guest into KVM guest RAM and the CPU state it starts in: a flat
 * payload, or a Linux kernel by the x86 64-bit boot protocol.  Internal to
 * the KVM engine (kvm.c); knows no device.
 *
 * Guest-physical layout, both paths:
 *   0x00500  GDT: 0x10 = 64-bit code, 0x18 = data (Linux's __BOOT_CS/DS)
 *   0x01000  PML4, 0x2000 PDPT, 0x3000-0x6FFF four page directories of
 *            2 MiB pages identity-mapping the first 4 GiB
 *   0x07000  Linux: boot_params (the "zero page")
 *   0x20000  Linux: kernel command line
 *   0x9F000  initial RSP (the stack grows down from here)
 *   0x100000 payload / protected-mode kernel
 */
#ifndef PORTHOLE_HV_KVM_BOOT_H
#define PORTHOLE_HV_KVM_BOOT_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#include "hypervisor/vm.h"

#define KVM_BOOT_LOAD_ADDR	0x100000ull
#define KVM_BOOT_STACK_TOP	0x9F000ull
#define KVM_LOW_RAM_MAX		(3ull << 30)	/* RAM above this goes to 4 GiB */
#define KVM_HIGH_RAM_BASE	(4ull << 30)

/*
 * Guest RAM as the engine maps it: [0, low) at GPA 0, the rest at GPA
 * 4 GiB.  `map` says the same for the device model (vm_set_ram_map()), so
 * the engine and devices translate guest-physical addresses alike.
 */
struct kvm_guest_ram {
	uint8_t *host;
	uint64_t size;
	uint64_t low;
	struct vm_ram_map map;
};

static inline void kvm_ram_layout(struct kvm_guest_ram *ram, uint8_t *host, uint64_t size)
{
	ram->host = host;
	ram->size = size;
	ram->low = size < KVM_LOW_RAM_MAX ? size : KVM_LOW_RAM_MAX;
	ram->map = (struct vm_ram_map){ 1, { { 0, ram->low } } };
	if (size > ram->low)
		ram->map.range[ram->map.n++] = (struct vm_ram_range){ KVM_HIGH_RAM_BASE,
								      size - ram->low };
}

/* Host pointer for [gpa, gpa + len), or NULL unless it all lies in one RAM range. */
static inline uint8_t *kvm_gpa(const struct kvm_guest_ram *ram, uint64_t gpa, uint64_t len)
{
	uint64_t offset;

	return vm_ram_map_translate(&ram->map, gpa, len, &offset) ? NULL : ram->host + offset;
}

/*
 * Each fills guest RAM and sets *regs and the fields of *sregs it owns
 * (segments, descriptor tables, control registers, EFER); the other sregs
 * fields keep what KVM_GET_SREGS returned.  0, or -1 after logging why.
 */
int kvm_boot_payload(const struct kvm_guest_ram *ram, const char *path, struct kvm_regs *regs,
		     struct kvm_sregs *sregs);
int kvm_boot_linux(const struct kvm_guest_ram *ram, const char *kernel, const char *initrd,
		   const char *cmdline, struct kvm_regs *regs, struct kvm_sregs *sregs);

#endif
