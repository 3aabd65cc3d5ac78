/* SPDX-License-Identifier: MIT */
/*
 * One virtual machine: its guest RAM (a memfd host services can map), its
 * I/O bus and devices, and the device-model state shared by every engine.
 *
 * Locking: engines call vm_io()/vm_cpuid() from their vCPU thread; the
 * control server runs in the main thread.  vm->lock serializes all device
 * state; devices run with it held.
 */
#ifndef PORTHOLE_HV_VM_H
#define PORTHOLE_HV_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "iobus.h"

#define VM_NAME_MAX	64

struct vm_config {
	const char *name;
	uint64_t ram_size;
	const char *cpuid_vendor;	/* 12 characters; default "VMwareVMware" */
	uint32_t vmx_type;		/* GETVERSION ECX; default ESX */
	uint32_t screen_width, screen_height;
	const char *engine;		/* "trap", later "kvm" */
	bool no_hb;			/* don't offer the high-bandwidth port */
};

struct rpc_state;

struct vm {
	char name[VM_NAME_MAX];
	char engine[16];
	pthread_mutex_t lock;
	struct iobus *iobus;

	int ram_fd;			/* memfd of ram_size bytes, sealed size */
	uint64_t ram_size;

	struct timespec started;	/* CLOCK_MONOTONIC */
	char cpuid_vendor[13];
	uint32_t vmx_type;
	uint8_t bios_uuid[16];
	uint32_t screen_width, screen_height;
	uint32_t tsc_khz;

	enum { VM_STARTING, VM_RUNNING, VM_STOPPED } state;
	int exit_status;

	struct rpc_state *rpc;		/* devices/rpc.c */
	bool offer_hb;

	/* vm_guest_log() rate limiting */
	int64_t log_window_us;
	unsigned int log_lines, log_suppressed;

	/* Called (vm->lock held) when something host services watch changed. */
	void (*notify)(struct vm *vm, const char *what);
	void *notify_opaque;
};

struct vm *vm_create(const struct vm_config *cfg);
void vm_destroy(struct vm *vm);

/* Engine entry points: run one trapped instruction through the device model. */
enum io_result vm_io(struct vm *vm, struct vcpu *vcpu, const struct io_access *io);
/* CPUID as the guest sees it: leaf in regs->rax, subleaf in regs->rcx. */
void vm_cpuid(struct vm *vm, struct vcpu_regs *regs);

double vm_uptime(const struct vm *vm);

/*
 * A log line caused by the guest.  Rate-limited (a guest must not be able to
 * flood the host's log): past the limit lines are counted, and the count is
 * reported when logging resumes.
 */
void vm_guest_log(struct vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A guest context (trap engine: a process) is gone: release what it held. */
void vm_owner_exited(struct vm *vm, int owner);

#endif
