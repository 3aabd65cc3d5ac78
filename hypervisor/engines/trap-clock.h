/* SPDX-License-Identifier: MIT */
/*
 * The trap engine's half of the guest clock (hypervisor/guest-clock.h):
 * guest processes' clock syscalls, and the vDSO that would answer them
 * without one.
 */
#ifndef PORTHOLE_HV_TRAP_CLOCK_H
#define PORTHOLE_HV_TRAP_CLOCK_H

#include <stdbool.h>
#include <sys/types.h>

struct guest_clock;

/*
 * At PTRACE_EVENT_EXEC: turn AT_SYSINFO_EHDR in the new program's auxiliary
 * vector into AT_IGNORE, so its C library finds no vDSO and makes real
 * syscalls for the clock (which the seccomp filter hands to the engine).
 * Returns true if there was a vDSO entry and it is gone.
 */
bool trap_clock_hide_vdso(pid_t tid);

/*
 * At PTRACE_EVENT_SECCOMP for one of the clock syscalls: carry it out on
 * the guest clock and skip the real one.  Returns the syscall number
 * handled, or -1 (tracee gone, or a syscall that is not ours: it runs).
 */
long trap_clock_syscall(struct guest_clock *c, pid_t tid);

#endif
