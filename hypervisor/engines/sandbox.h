/* SPDX-License-Identifier: MIT */
/*
 * The trap engine's guest sandbox: the guest's first process, started in
 * its own user, mount, pid, net, uts, ipc and time namespaces, on a
 * read-only view of the host's root with private /tmp, /var/tmp, /run,
 * /dev, an optional --overlay tree merged read-only over it, and the
 * shares bind-mounted read-write, under a seccomp filter
 * that keeps it traceable.  See sandbox.c for the layering.
 *
 * The calling thread forks a helper (a direct child); the helper forks the
 * guest's first process ("pid 1" inside), which waits for a go-ahead
 * before it execs the guest command, so the engine can PTRACE_SEIZE it
 * first.
 */
#ifndef PORTHOLE_HV_SANDBOX_H
#define PORTHOLE_HV_SANDBOX_H

#include <stddef.h>
#include <sys/types.h>

#include "trap.h"

/*
 * SECCOMP_RET_TRACE data of the filter's stops (PTRACE_GETEVENTMSG): a
 * clock call, or (--cpuid=patch only) an mmap, mprotect or pkey_mprotect
 * with PROT_EXEC.
 */
#define SECCOMP_DATA_CLOCK	0
#define SECCOMP_DATA_EXEC_MAP	1

struct sandbox {
	pid_t helper;		/* our child; exits once the guest's pid 1 is gone */
	pid_t guest;		/* the guest's pid 1, as the host sees it */
	int info_fd;		/* read: guest pid (from the helper), then 'R' (from pid 1) */
	int go_fd;		/* write: one byte lets pid 1 exec the guest command */
};

/*
 * Fork the helper and return once the guest's pid 1 exists (sb->guest set)
 * and is waiting for the go-ahead.  0, or -1 after logging why (the helper
 * is reaped then).
 */
int sandbox_start(const struct trap_options *opt, struct sandbox *sb);
/*
 * Wait until pid 1 finished setting itself up.  0, or -1 when it died
 * instead (its own message is on stderr).
 */
int sandbox_wait_ready(struct sandbox *sb);
/* Let pid 1 exec the guest command.  0 or -1. */
int sandbox_go(struct sandbox *sb);
/* Close the pipes (idempotent). */
void sandbox_close(struct sandbox *sb);

#endif
