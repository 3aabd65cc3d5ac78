/* SPDX-License-Identifier: MIT */
/*
 * The trap engine's half of the guest clock (hypervisor/guest-clock.h):
 * guest processes' clock syscalls, and the vDSO that would answer them
 * without one.
 */
#ifndef PORTHOLE_HV_TRAP_CLOCK_H
#define PORTHOLE_HV_TRAP_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct guest_clock;
struct ph_clock_page;

/*
 * The guest vDSO file: one page of clock (backdoor/clock-page.h), then the
 * vDSO image (hypervisor/vdso/), made by the engine on the host, bound
 * read-only into the guest at TRAP_VDSO_GUEST_PATH, and mapped by each new
 * program (trap.c injects the mmap at exec) one page below the image.
 */
struct trap_vdso {
	char *dir, *path;		/* on the host, until trap_vdso_unlink() */
	int fd;
	size_t size;			/* what a process maps: page + image, page-rounded */
	struct ph_clock_page *page;	/* our writable mapping of the clock page */
	struct guest_clock *clock;
};

/*
 * Make the file and attach its page to `c`, if clock reads can go without
 * a trap here: a TSC that runs at a constant rate through sleep states and
 * that the host's kernel trusts as its clocksource, and no
 * PORTHOLE_GUEST_CLOCK=trap in the environment.  Returns false (after
 * saying why in `why`) when guest clock reads are to trap instead.
 */
bool trap_vdso_create(struct trap_vdso *v, struct guest_clock *c, char *why, size_t why_len);
/*
 * Remove the file from the host, where no sandbox was made to do so; once
 * one was, forget its name (the sandbox removes it; trap_vdso_cleanup()
 * does if the sandbox was stopped first).  Destroy: drop the page from the
 * clock, close (it never unlinks: the engine thread's filter forbids it).
 */
void trap_vdso_unlink(struct trap_vdso *v);
void trap_vdso_forget_path(struct trap_vdso *v);
void trap_vdso_destroy(struct trap_vdso *v);
/* After the engine thread ended, from a thread that may unlink: what a stopped sandbox left. */
void trap_vdso_cleanup(void);

/*
 * The code the engine runs in a new program to map the file: it leaves
 * the address of the mapping (the clock page) in RAX, or -errno; the
 * image is one page above.  trap_vdso_stub() fills `buf` (8-byte
 * multiple, at most TRAP_VDSO_STUB_MAX) and returns its length, and where
 * RIP is once the stub has run, as an offset from its start.
 */
#define TRAP_VDSO_STUB_MAX	256
size_t trap_vdso_stub(const struct trap_vdso *v, uint8_t *buf, size_t *done_offset);

/*
 * At PTRACE_EVENT_EXEC: point AT_SYSINFO_EHDR in the new program's
 * auxiliary vector at `ehdr` (our image, mapped), or with 0 turn it into
 * AT_IGNORE, so its C library finds no vDSO and makes real syscalls for
 * the clock (which the seccomp filter hands to the engine).  Returns true
 * if there was a vDSO entry and it was changed.
 */
bool trap_clock_set_vdso(pid_t tid, uint64_t ehdr);

/*
 * At PTRACE_EVENT_SECCOMP for one of the clock syscalls: carry it out on
 * the guest clock and skip the real one.  Returns the syscall number
 * handled, or -1 (tracee gone, or a syscall that is not ours: it runs).
 */
long trap_clock_syscall(struct guest_clock *c, pid_t tid);

#endif
