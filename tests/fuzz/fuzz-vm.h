/* SPDX-License-Identifier: MIT */
/*
 * What the device-model fuzz targets share: reading the fuzzer's bytes as
 * fields, a quiet environment, a real VM (vm_create: every device a
 * production VM registers), a guest memory that logs what the device model
 * touched, and the checks every target makes of host-visible output.
 */
#ifndef PORTHOLE_FUZZ_VM_H
#define PORTHOLE_FUZZ_VM_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "hypervisor/vm.h"

/* An invariant the code under test broke: say which, then crash for libFuzzer. */
#define FUZZ_CHECK(cond)                                                                  \
	do {                                                                              \
		if (!(cond)) {                                                            \
			fprintf(stderr, "invariant broken: %s (%s:%d)\n", #cond, __FILE__, \
				__LINE__);                                                \
			abort();                                                          \
		}                                                                         \
	} while (0)

/* The fuzzer's input, consumed front to back; reads past the end give zeros. */
struct fuzz_input {
	const uint8_t *p;
	size_t left;
};

/* `bytes` (0..8) bytes, little-endian. */
uint64_t fuzz_take(struct fuzz_input *in, unsigned int bytes);
/* Up to `max` bytes in place; returns how many (*out points at them). */
size_t fuzz_take_bytes(struct fuzz_input *in, size_t max, const uint8_t **out);

/* Each target defines this; fuzz-vm.c defines LLVMFuzzerInitialize (fuzz_init). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/*
 * Once per process: guest-triggered log lines are formatted but not
 * printed (warnings and criticals still abort: a guest must not cause
 * them), and sockets go to a private XDG_RUNTIME_DIR.
 */
void fuzz_init(void);

#define FUZZ_RAM_SIZE	(8u << 20)

/* A VM as porthole-hv makes it, with the trap engine or (kvm) the PC platform. */
struct vm *fuzz_vm_new(bool kvm);

/*
 * Guest memory for string I/O: `size` bytes at guest address `base`;
 * anything else is unmapped (the access faults).  It records the span of
 * guest addresses read and written since fuzz_mem_clear_log().
 */
struct fuzz_mem {
	uint8_t *buf;
	uint64_t base, size;
	bool read, written;
	uint64_t read_lo, read_hi, write_lo, write_hi;	/* [lo, hi) */
};

void fuzz_mem_init(struct fuzz_mem *m, uint64_t base, uint64_t size);
void fuzz_mem_free(struct fuzz_mem *m);
void fuzz_mem_clear_log(struct fuzz_mem *m);
struct guest_mem fuzz_mem_ops(struct fuzz_mem *m);

/*
 * One RPCI command from a guest process, through the VM's I/O bus on the
 * low-bandwidth port (four bytes a call); the reply is fetched and dropped.
 */
void fuzz_guest_rpci(struct vm *vm, const void *msg, size_t len);

/*
 * Host-visible text from the guest's state must be well formed: one
 * "key=value" per line, keys from [a-z0-9._-] and never repeated (but
 * tools.app, one per channel), values free of control bytes and valid
 * UTF-8, and the whole small enough for one control packet.
 */
void fuzz_check_status_text(const char *text, size_t len);
/* The same for what porthole-ctl status shows of `vm` (rpc, vmci, pointer). */
void fuzz_check_vm_status(struct vm *vm);

#endif
