/* SPDX-License-Identifier: MIT */
/*
 * The KVM engine: the guest is a whole virtual machine on /dev/kvm, one
 * vCPU, guest RAM = the VM's memfd, in-kernel PIC/IOAPIC/LAPIC and PIT.
 * Port I/O exits go to the shared device model through vm_io(); string
 * instructions (`rep outsb`/`rep insb` on the backdoor's HB port) are
 * carried out whole from the registers, reading and writing guest memory
 * through the guest's page tables.  Details in kvm.c.
 *
 * The guest is either a flat 64-bit payload (`payload`) or a Linux kernel
 * (`kernel`, with optional `initrd` and `cmdline`); see kvm-boot.h.
 */
#ifndef PORTHOLE_HV_KVM_H
#define PORTHOLE_HV_KVM_H

struct vm;

struct kvm_options {
	const char *payload;			/* flat binary entered at 0x100000 */
	const char *kernel, *initrd, *cmdline;	/* Linux: bzImage or ELF vmlinux */
};

/*
 * Runs the guest to completion in the calling thread.  Returns its exit
 * status like a shell: the byte written to port 0xF4 (isa-debug-exit), 0
 * when it halts with interrupts disabled (or requests a reset through
 * 0xCF9), 128 + SIGKILL when stopped by kvm_engine_stop(), and -1 after a
 * clear report when KVM is unusable or the guest crashed (triple fault,
 * emulation failure, failed VM entry).  One engine per process at a time.
 */
int kvm_engine_run(struct vm *vm, const struct kvm_options *opt);

/*
 * Thread-safe: stop the guest.  Called before
 * kvm_engine_run(), it makes that return at once without running anything.
 */
void kvm_engine_stop(void);

#endif
