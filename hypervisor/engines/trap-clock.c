// SPDX-License-Identifier: MIT
/*
 * Clock syscalls of guest processes, carried out on the guest clock.  See
 * trap-clock.h.
 *
 * The seccomp filter (sandbox.c) returns SECCOMP_RET_TRACE for
 * clock_gettime (on the clocks the guest clock keeps), gettimeofday, time,
 * clock_settime, settimeofday, adjtimex and clock_adjtime; the engine gets a
 * PTRACE_EVENT_SECCOMP stop before the kernel runs the call.  Here the
 * arguments are read from the registers, the result computed and written to
 * the guest's memory, and the real call skipped: orig_rax = -1 makes the
 * kernel skip it, and RAX is what the guest sees returned.
 *
 * A bad pointer from the guest gets -EFAULT, as the kernel would give.
 */
#define G_LOG_DOMAIN "porthole-hv"
#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <sys/uio.h>
#include <sys/user.h>

#include "hypervisor/guest-clock.h"
#include "trap-clock.h"

/* How much of the new program's stack is read at a time while looking for auxv. */
#define STACK_WINDOW_WORDS	2048
/* argc + argv + envp pointers: beyond this the stack is not a fresh exec's. */
#define STACK_MAX_WORDS		(1u << 20)

struct stack_reader {
	pid_t tid;
	uint64_t sp;
	uint64_t first, count;		/* window: word indexes [first, first + count) */
	uint64_t words[STACK_WINDOW_WORDS];
};

/* Word `i` above the stack pointer; false if unreadable. */
static bool stack_word(struct stack_reader *r, uint64_t i, uint64_t *w)
{
	if (i < r->first || i >= r->first + r->count) {
		struct iovec local = { r->words, sizeof(r->words) };
		struct iovec remote = { (void *)(uintptr_t)(r->sp + i * 8), sizeof(r->words) };
		ssize_t n = process_vm_readv(r->tid, &local, 1, &remote, 1, 0);

		if (n < 8)
			return false;
		r->first = i;
		r->count = (uint64_t)n / 8;
	}
	*w = r->words[i - r->first];
	return true;
}

bool trap_clock_hide_vdso(pid_t tid)
{
	static struct stack_reader r;	/* engine thread only; 16 KiB off the stack */
	struct user_regs_struct regs;
	uint64_t argc, i, w, type;

	if (ptrace(PTRACE_GETREGS, tid, 0, &regs) < 0)
		return false;
	memset(&r, 0, sizeof(r));
	r.tid = tid;
	r.sp = regs.rsp;
	/* argc, argv[argc] NULL, envp... NULL, then (type, value) pairs to AT_NULL. */
	if (!stack_word(&r, 0, &argc) || argc > STACK_MAX_WORDS)
		return false;
	i = argc + 2;
	do {
		if (i > STACK_MAX_WORDS || !stack_word(&r, i++, &w))
			return false;
	} while (w);
	for (; i < STACK_MAX_WORDS; i += 2) {
		if (!stack_word(&r, i, &type))
			return false;
		if (type == AT_NULL)
			return false;
		if (type == AT_SYSINFO_EHDR) {
			uint64_t ignore = AT_IGNORE;
			struct iovec local = { &ignore, 8 };
			struct iovec remote = { (void *)(uintptr_t)(r.sp + i * 8), 8 };

			return process_vm_writev(tid, &local, 1, &remote, 1, 0) == 8;
		}
	}
	return false;
}

static int put(pid_t tid, uint64_t addr, const void *buf, size_t len)
{
	struct iovec local = { (void *)buf, len };
	struct iovec remote = { (void *)(uintptr_t)addr, len };

	return process_vm_writev(tid, &local, 1, &remote, 1, 0) == (ssize_t)len ? 0 : -EFAULT;
}

static int get(pid_t tid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { buf, len };
	struct iovec remote = { (void *)(uintptr_t)addr, len };

	return process_vm_readv(tid, &local, 1, &remote, 1, 0) == (ssize_t)len ? 0 : -EFAULT;
}

static long do_gettimeofday(struct guest_clock *c, pid_t tid, uint64_t tv_addr, uint64_t tz_addr)
{
	struct timespec ts;

	if (tv_addr) {
		struct timeval tv;

		guest_clock_gettime(c, CLOCK_REALTIME, &ts);
		tv.tv_sec = ts.tv_sec;
		tv.tv_usec = ts.tv_nsec / 1000;
		if (put(tid, tv_addr, &tv, sizeof(tv)))
			return -EFAULT;
	}
	if (tz_addr) {
		struct timezone tz = { 0, 0 };	/* the kernel's sys_tz, never set here */

		if (put(tid, tz_addr, &tz, sizeof(tz)))
			return -EFAULT;
	}
	return 0;
}

static long do_settimeofday(struct guest_clock *c, pid_t tid, uint64_t tv_addr)
{
	struct timeval tv;

	if (!tv_addr)
		return 0;	/* time zone only: nothing the clock keeps */
	if (get(tid, tv_addr, &tv, sizeof(tv)))
		return -EFAULT;
	if (tv.tv_usec < 0 || tv.tv_usec >= 1000000 || tv.tv_sec < 0 ||
	    tv.tv_sec > GUEST_CLOCK_MAX_STEP_S)
		return -EINVAL;
	return guest_clock_settime(c, (int64_t)tv.tv_sec * GUEST_CLOCK_NSEC +
				      (int64_t)tv.tv_usec * 1000);
}

static long do_clock_settime(struct guest_clock *c, pid_t tid, clockid_t id, uint64_t ts_addr)
{
	struct timespec ts;

	if (get(tid, ts_addr, &ts, sizeof(ts)))
		return -EFAULT;
	if (id != CLOCK_REALTIME)
		return -EINVAL;
	if (ts.tv_nsec < 0 || ts.tv_nsec >= GUEST_CLOCK_NSEC || ts.tv_sec < 0 ||
	    ts.tv_sec > GUEST_CLOCK_MAX_STEP_S)
		return -EINVAL;
	return guest_clock_settime(c, (int64_t)ts.tv_sec * GUEST_CLOCK_NSEC + ts.tv_nsec);
}

static long do_adjtimex(struct guest_clock *c, pid_t tid, uint64_t tx_addr)
{
	struct timex tx;
	long ret;

	if (get(tid, tx_addr, &tx, sizeof(tx)))
		return -EFAULT;
	ret = guest_clock_adjtimex(c, &tx);
	if (ret >= 0 && put(tid, tx_addr, &tx, sizeof(tx)))
		return -EFAULT;
	return ret;
}

long trap_clock_syscall(struct guest_clock *c, pid_t tid)
{
	struct user_regs_struct r;
	struct timespec ts;
	long nr, ret;

	if (ptrace(PTRACE_GETREGS, tid, 0, &r) < 0)
		return -1;
	nr = (long)r.orig_rax;
	switch (nr) {
	case SYS_clock_gettime:
		ret = guest_clock_gettime(c, (clockid_t)r.rdi, &ts);
		if (ret == 0)
			ret = put(tid, r.rsi, &ts, sizeof(ts));
		else
			return -1;	/* not a clock we keep: the kernel answers */
		break;
	case SYS_gettimeofday:
		ret = do_gettimeofday(c, tid, r.rdi, r.rsi);
		break;
	case SYS_time:
		guest_clock_gettime(c, CLOCK_REALTIME, &ts);
		ret = (long)ts.tv_sec;
		if (r.rdi && put(tid, r.rdi, &ret, sizeof(ret)))
			ret = -EFAULT;
		break;
	case SYS_settimeofday:
		ret = do_settimeofday(c, tid, r.rdi);
		break;
	case SYS_clock_settime:
		ret = do_clock_settime(c, tid, (clockid_t)r.rdi, r.rsi);
		break;
	case SYS_adjtimex:
		ret = do_adjtimex(c, tid, r.rdi);
		break;
	case SYS_clock_adjtime:
		/* Only the system clock is adjustable (PTP clocks are the host's). */
		ret = (clockid_t)r.rdi == CLOCK_REALTIME ? do_adjtimex(c, tid, r.rsi) : -EINVAL;
		break;
	default:
		return -1;
	}
	r.orig_rax = (unsigned long long)-1;	/* skip the real call */
	r.rax = (unsigned long long)ret;
	if (ptrace(PTRACE_SETREGS, tid, 0, &r) < 0)
		return -1;
	return nr;
}
