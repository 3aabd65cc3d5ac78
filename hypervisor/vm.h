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

#include <glib.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "iobus.h"

#define VM_NAME_MAX	64

/*
 * Where guest RAM appears in the guest-physical address space: ranges in
 * ascending address order, whose bytes follow one another in the RAM memfd
 * from offset 0.  The trap engine's guests see the file itself (one range
 * at 0); the KVM engine puts what does not fit below the 32-bit PCI hole at
 * 4 GiB (kvm.c: setup_ram).
 */
#define VM_RAM_RANGES_MAX	4

struct vm_ram_range {
	uint64_t gpa, size;
};

struct vm_ram_map {
	unsigned int n;
	struct vm_ram_range range[VM_RAM_RANGES_MAX];
};

/*
 * The RAM memfd offset of guest-physical [gpa, gpa + len): 0 and *offset,
 * or -1 when any byte of it is not RAM (a hole, past the end) or it spans
 * two ranges.
 */
int vm_ram_map_translate(const struct vm_ram_map *map, uint64_t gpa, uint64_t len,
			 uint64_t *offset);

struct vm_config {
	const char *name;
	uint64_t ram_size;
	const char *cpuid_vendor;	/* 12 characters; default "VMwareVMware" */
	uint32_t vmx_type;		/* GETVERSION ECX; default ESX */
	uint32_t screen_width, screen_height;
	const char *engine;		/* "trap", later "kvm" */
	bool no_hb;			/* don't offer the high-bandwidth port */
	bool testdev;			/* engine test device on 0xE0-0xEF (tests only) */
	bool sync_time;			/* the tools keep the guest clock in sync (synctime) */
	/* Where the namespace database is persisted (NAME.nsdb); NULL: memory only. */
	const char *state_dir;
};

struct rpc_state;
struct vmci_state;
struct vmmouse;
struct copypaste_state;
struct pci_bus;
struct guest_clock;
struct tools_options;
struct guestinfo;
struct namespace_db;

/*
 * Kinds for vm_guest_log_per(): a backdoor command's number (0..255,
 * larger ones as 255), or one of these.
 */
enum vm_guest_log_kind {
	VM_GUEST_LOG_CLIPBOARD_V4 = 256,	/* copy/paste v4 refusals (devices/copypaste.c) */
	VM_GUEST_LOG_CLIPBOARD_QUEUE,		/* v4 packets that found no channel */
	VM_GUEST_LOG_CLIPBOARD_VERSION,		/* copy/paste version registrations */
	VM_GUEST_LOG_CPUID_SKIPPED,		/* mappings the cpuid patcher left alone */
	VM_GUEST_LOG_KINDS
};
#define VM_GUEST_LOG_KIND_PER_MINUTE	3

struct vm {
	char name[VM_NAME_MAX];
	char engine[16];
	pthread_mutex_t lock;
	struct iobus *iobus;

	int ram_fd;			/* memfd of ram_size bytes, sealed size */
	uint64_t ram_size;
	struct vm_ram_map ram_map;	/* vm_set_ram_map(); identity until then */

	struct timespec started;	/* CLOCK_MONOTONIC */
	char cpuid_vendor[13];
	uint32_t vmx_type;
	uint8_t bios_uuid[16];
	uint32_t screen_width, screen_height;
	uint32_t tsc_khz;

	enum { VM_STARTING, VM_RUNNING, VM_STOPPED } state;
	int exit_status;
	/* Guest starts: 1 at the first, one more at each reset (a guest reboot). */
	unsigned int boots;

	struct rpc_state *rpc;		/* devices/rpc.c */
	struct vmci_state *vmci;	/* devices/vmci.c */
	struct vmmouse *vmmouse;		/* devices/vmmouse.c (created by backdoor_init) */
	struct copypaste_state *copypaste;	/* devices/copypaste.c, made on first use */
	struct tools_options *tools_options;	/* devices/tools-options.c */
	struct guestinfo *guestinfo;		/* devices/guestinfo.c, made on first use */
	struct namespace_db *namespace_db;	/* devices/namespace-db.c */
	bool offer_hb;

	/* vm_guest_log() rate limiting */
	int64_t log_window_us;
	unsigned int log_lines, log_suppressed;
	/* vm_guest_log_per(): per kind (a backdoor command's number), per minute */
	struct guest_log_kind {
		int64_t window_us;
		unsigned int lines, dropped;
	} log_kinds[VM_GUEST_LOG_KINDS];

	/* Called (vm->lock held) when something host services watch changed. */
	void (*notify)(struct vm *vm, const char *what);
	void *notify_opaque;

	/* vm_request_exit(): a device ended the VM; engines poll after vm_io(). */
	bool exit_requested;
	int exit_request_status;
	/* vm_set_irq() goes here; set by an engine with an interrupt controller. */
	void (*irq_line)(void *opaque, unsigned int irq, bool level);
	void *irq_opaque;
	struct pci_bus *pci;		/* devices/pci.c (KVM engine), or NULL */
	int64_t first_backdoor_us;	/* CLOCK_MONOTONIC µs of the first backdoor access */
	/* The clock guest processes read and set (trap engine); its own lock. */
	struct guest_clock *clock;
	/*
	 * "key=value" lines the engine publishes for `porthole-ctl status`
	 * (how cpuid is intercepted, its counters); vm_set_engine_status().
	 */
	char *engine_status;
	/*
	 * Trap engine: every stop that cost a guest thread a round trip to
	 * the engine (port I/O, cpuid, clock syscalls), for `porthole-ctl
	 * status` (engine.traps) and the per-operation counts of `make bench`.
	 */
	_Atomic unsigned long long traps;
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
/*
 * The same, and at most VM_GUEST_LOG_KIND_PER_MINUTE lines a minute of one
 * kind (`kind` < VM_GUEST_LOG_KINDS; larger ones share the last): a guest
 * that repeats one thing (polling a command we don't have) says it a few
 * times, and the next line of that kind says how many were dropped.
 */
void vm_guest_log_per(struct vm *vm, unsigned int kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * The engine's guest-physical layout of the RAM file (takes vm->lock).
 * The ranges must cover ram_size bytes exactly, in ascending, disjoint
 * order; 0, or -1 (nothing changed).
 */
int vm_set_ram_map(struct vm *vm, const struct vm_ram_map *map);

/*
 * A guest-physical address as devices get it (a VMCI page number times the
 * page size) to an offset in the RAM memfd, through the engine's layout
 * (vm->lock held).  0, or -1 when [gpa, gpa + len) is not all RAM.
 */
int vm_gpa_to_ram(const struct vm *vm, uint64_t gpa, uint64_t len, uint64_t *offset);

/* A guest context (trap engine: a process) is gone: release what it held. */
void vm_owner_exited(struct vm *vm, int owner);

/*
 * Guest text into host output (status replies, logs), by one rule: at
 * most `max` bytes of `s`, each control byte (C0, DEL, C1), backslash, byte
 * of `also` and byte of a broken UTF-8 sequence written as \xHH, and "..."
 * when cut.  Host tools may show the result as it is: it is valid UTF-8 and
 * can never start a line or a field of its own.
 */
void vm_append_guest_text(GString *out, const char *s, size_t max, const char *also);

/* Replace the engine's status lines (takes vm->lock). */
void vm_set_engine_status(struct vm *vm, const char *lines);

/*
 * The hypervisor leaves 0x40000000-0x4FFFFFFF of CPUID: out[] = EAX, EBX,
 * ECX, EDX for `leaf` (zeros for leaves we don't define).  vm_cpuid() uses
 * it; the KVM engine builds its CPUID table from it.
 */
void vm_cpuid_hv(struct vm *vm, uint32_t leaf, uint32_t out[4]);

/*
 * A device ends the VM with exit `status` (vm->lock held).  The engine sees
 * vm->exit_requested after the vm_io() call that set it and stops the guest;
 * a request made outside vm_io() takes effect at the guest's next exit.
 */
void vm_request_exit(struct vm *vm, int status);

/* A device drives interrupt line `irq` (vm->lock held); no-op without irq_line. */
void vm_set_irq(struct vm *vm, unsigned int irq, bool level);

/* Milliseconds from this process's start to CLOCK_MONOTONIC time `mono_us`. */
double vm_ms_since_process_start(int64_t mono_us);

#endif
