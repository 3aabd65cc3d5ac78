/* SPDX-License-Identifier: MIT */
/*
 * cpuid by code patching, for hosts whose CPU cannot fault cpuid in user
 * mode (no CPUID faulting: most AMD hosts, many nested ones).
 *
 * Every cpuid instruction in a guest process's executable mappings is found
 * by decoding (x86-decode.h: a linear sweep over the ELF file's code
 * sections, never a byte search) and its last two bytes, 0F A2, are
 * overwritten in the process's private copy with 0F 0B: ud2, which raises
 * SIGILL.  The engine emulates a SIGILL at a patched address as a faulted
 * cpuid and delivers every other SIGILL untouched.
 *
 * Where mappings are scanned: at exec (the program and its interpreter),
 * and after every mmap/mprotect that makes memory executable (the seccomp
 * filter stops only those).  What a file holds is decoded once per file
 * (device, inode, size, mtime) and cached for the VM's life.
 *
 * The hole: code written into memory that is already executable (a JIT
 * using RWX memory) is never rescanned, so a cpuid it writes runs natively.
 *
 * All of it runs on the engine thread.
 */
#ifndef PORTHOLE_HV_CPUID_PATCH_H
#define PORTHOLE_HV_CPUID_PATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <glib.h>

/* The VM-wide part: the per-file cache and counters. */
struct cpuid_patcher;
/* One guest address space: the addresses patched in it. */
struct cpuid_aspace;

struct cpuid_patch_stats {
	uint64_t files_decoded;		/* files whose code was decoded */
	uint64_t cache_hits;		/* mappings of an already decoded file */
	uint64_t bytes_decoded;		/* code bytes walked (up to the last 0F A2) */
	uint64_t regions_scanned;	/* anonymous executable regions read and decoded */
	uint64_t sites_patched;		/* cpuid instructions turned into ud2 */
	uint64_t skipped;		/* mappings left alone (shared, unreadable, too big) */
};

struct cpuid_patcher *cpuid_patcher_new(void);
void cpuid_patcher_free(struct cpuid_patcher *p);
/*
 * The engine maps this file (the guest vDSO: a shared executable mapping,
 * with no cpuid) into every guest process: left alone without counting it
 * as skipped (which would log a line per process).
 */
void cpuid_patcher_own_file(struct cpuid_patcher *p, dev_t dev, ino_t ino);
void cpuid_patcher_stats(const struct cpuid_patcher *p, struct cpuid_patch_stats *out);

struct cpuid_aspace *cpuid_aspace_new(void);
struct cpuid_aspace *cpuid_aspace_ref(struct cpuid_aspace *as);
/* fork(): the child's memory is a copy of the parent's, patches included. */
struct cpuid_aspace *cpuid_aspace_copy(const struct cpuid_aspace *as);
void cpuid_aspace_unref(struct cpuid_aspace *as);

/*
 * Patch every cpuid in the executable mappings of process `tid` that
 * overlap [start, end) (0, UINT64_MAX: all of them).  `fresh`: the range
 * was just mapped anew, so what was patched there before is gone.  Returns
 * the number of sites patched by this call, or -1 if the process is gone.
 */
int cpuid_patch_range(struct cpuid_patcher *p, struct cpuid_aspace *as, pid_t tid,
		      uint64_t start, uint64_t end, bool fresh);

/*
 * A SIGILL at `rip`: the length of the cpuid patched there (to step over),
 * or 0 if `rip` is not a site this address space had patched.
 */
unsigned int cpuid_patched_at(const struct cpuid_aspace *as, uint64_t rip);

/*
 * The slow path of the same question, for a ud2 this address space has no
 * record of (a process that ran before the engine saw the fork that made
 * it): is `rip` a cpuid site of the file mapped there?  Then it is recorded
 * and its length returned; else 0.  The caller checks the ud2 is still there.
 */
unsigned int cpuid_patch_recover(struct cpuid_patcher *p, struct cpuid_aspace *as, pid_t tid,
				 uint64_t rip);

/* ---- the file part, exposed for the unit test and the fuzz target ---- */

/* Reads len bytes at off of a file; 0, or -1 if they are not all there. */
typedef int (*cpuid_read_fn)(void *opaque, uint64_t off, void *buf, size_t len);

/* A file already in memory, and its cpuid_read_fn (opaque: the struct). */
struct cpuid_mem_file {
	const uint8_t *data;
	size_t len;
};
int cpuid_mem_read(void *opaque, uint64_t off, void *buf, size_t len);

/* A cpuid in a file: its file offset and length (prefixes included). */
struct cpuid_site {
	uint64_t off;
	uint32_t len;
};

/*
 * Decode the executable sections of an ELF64 x86-64 file of `size` bytes
 * (SHF_EXECINSTR sections; the PF_X segments when it has no section
 * headers) and append each cpuid's site to `sites` (a GArray of struct
 * cpuid_site), in file order.  At most `max_code` bytes of code are read.
 * Returns the number of code bytes decoded, or -1 if it is not such a file
 * (or is malformed).
 */
long long cpuid_sites_in_elf(cpuid_read_fn rd, void *opaque, uint64_t size, uint64_t max_code,
			     GArray *sites);

#endif
