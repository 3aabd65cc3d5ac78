/* SPDX-License-Identifier: MIT */
/*
 * The trap engine's guest sandbox: the guest's first process, started in
 * its own user, mount, pid, net, uts, ipc and time namespaces, on a
 * read-only view of the host's root (or, with --root, a directory of its
 * own under a writable overlay) with private /tmp, /var/tmp, /run,
 * /dev, an optional --overlay tree merged read-only over it, and the
 * shares bind-mounted read-write, under a seccomp filter
 * that keeps it traceable.  See sandbox.c for the layering.
 *
 * The calling thread forks a helper (a direct child); the helper forks the
 * guest's first process ("pid 1" inside), which waits for a go-ahead
 * before it execs the guest command, so the engine can PTRACE_SEIZE it
 * first.  Every wait of the start-up is bounded and can be cut short.
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

/* --disk-size when none is given: the cap on a --root guest's writes. */
#define SANDBOX_DEFAULT_DISK_SIZE	(4ull << 30)

/* Default bound on each start-up wait, in seconds. */
#define SANDBOX_STAGE_TIMEOUT_S	60

struct sandbox {
	pid_t helper;		/* our child; exits once the guest's pid 1 is gone */
	pid_t guest;		/* the guest's pid 1, as the host sees it */
	int info_fd;		/* read: the guest's pid, from the helper */
	int ready_fd;		/* read: 'R' from pid 1 once it is set up */
	int go_fd;		/* write: one byte lets pid 1 exec the guest command */
	int timeout_s;		/* bound on each wait below */
};

/*
 * Fork the helper (sb->helper set), which goes on setting up the sandbox
 * in the background.  0, or -1 after logging why (nothing left to clean up).
 */
int sandbox_spawn(const struct trap_options *opt, struct sandbox *sb);
/*
 * Wait until the guest's pid 1 exists (sb->guest set) and is setting
 * itself up.  The waits here give up after sb->timeout_s, or as soon as
 * `wake_fd` (if >= 0) turns readable.  0, -ECANCELED when woken, or -1
 * after logging why (a timeout, or the helper failed: its own message is
 * on stderr).  Call sandbox_abort() after a failure.
 */
int sandbox_wait_guest(struct sandbox *sb, int wake_fd);
/*
 * Wait until pid 1 finished setting itself up.  0, -ECANCELED, or -1
 * after logging why (it died, or took too long).
 */
int sandbox_wait_ready(struct sandbox *sb, int wake_fd);
/* Let pid 1 exec the guest command.  0 or -1. */
int sandbox_go(struct sandbox *sb);
/* Close the pipes (idempotent). */
void sandbox_close(struct sandbox *sb);
/*
 * Give up on a sandbox whose pid 1 the caller has not traced: kill the
 * helper (pid 1 dies with it), close the pipes, reap the helper.
 */
void sandbox_abort(struct sandbox *sb);

#endif
