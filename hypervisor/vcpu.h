/* SPDX-License-Identifier: MIT */
/*
 * What an execution engine hands the device model: the registers of the
 * virtual CPU that trapped and a way to reach the guest memory that CPU
 * addresses.  Engines fill it; devices read and write it; neither knows the
 * other.
 */
#ifndef PORTHOLE_HV_VCPU_H
#define PORTHOLE_HV_VCPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;

struct vcpu_regs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp;
	uint64_t rip, rflags;
};

#define RFLAGS_DF	(1u << 10)

/*
 * Guest memory as the vCPU sees it: `addr` is whatever the string
 * instruction's address register holds (a process virtual address in the
 * trap engine, a guest virtual address walked through the guest's page
 * tables in KVM).  Both return 0 or -1 when any byte is not accessible the
 * way the CPU would need it (not mapped, not writable): the device then
 * reports a fault instead of touching anything.
 */
struct guest_mem {
	int (*read)(void *opaque, uint64_t addr, void *buf, size_t len);
	int (*write)(void *opaque, uint64_t addr, const void *buf, size_t len);
	void *opaque;
};

struct vcpu {
	struct vm *vm;
	int id;			/* trap engine: the guest thread id */
	int owner;		/* guest context: trap engine process id, 0 in KVM */
	struct vcpu_regs regs;
	struct guest_mem mem;
};

static inline int guest_read(struct vcpu *vcpu, uint64_t addr, void *buf, size_t len)
{
	return vcpu->mem.read(vcpu->mem.opaque, addr, buf, len);
}

static inline int guest_write(struct vcpu *vcpu, uint64_t addr, const void *buf, size_t len)
{
	return vcpu->mem.write(vcpu->mem.opaque, addr, buf, len);
}

#endif
