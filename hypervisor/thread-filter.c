// SPDX-License-Identifier: MIT
/*
 * Per-thread seccomp filters for porthole-hv.  See thread-filter.h.
 *
 * How a refusal ends: SECCOMP_RET_TRAP and a SIGSYS handler that writes one
 * line and exits, rather than SECCOMP_RET_KILL_PROCESS.  A killed process
 * says nothing (the user sees a VM vanish), and a monitor process to log
 * for it would be one more process to start, keep alive and reap.  The
 * handler needs no help to be trusted: it never returns to the refused
 * call, a thread cannot replace it (rt_sigaction on SIGSYS is itself
 * refused), and a thread that blocks or ignores SIGSYS does not escape
 * either: the kernel then kills the process with SIGSYS (only the line is
 * lost).
 *
 * Why per thread, each installing its own (no SECCOMP_FILTER_FLAG_TSYNC):
 * the threads' jobs differ (only the trap engine may ptrace, only the KVM
 * engine needs ioctl on its KVM fds, only the control thread accepts
 * connections), and each thread knows when its own start-up is over.
 * Filters are inherited by threads created later, so a thread installs
 * before creating helpers of its own (the watchdog narrows what it got
 * from the KVM engine) and after creating any that need more than it has
 * (the main thread starts the engine before filtering itself).
 *
 * What no thread may do after start-up: run a program (execve), start a
 * process (fork, or clone without CLONE_THREAD), open or connect a network
 * socket or any socket to another program, bind or listen, open a file for
 * writing (but the trap engine's /proc/PID/mem), ptrace (but the trap
 * engine), mount, unshare, setns, load BPF or kernel modules.  The lists
 * are generous within each job: a missing rare path (an error path, a log
 * line, the sanitizer runtime under build/san) kills real users.
 */
#define G_LOG_DOMAIN "porthole-hv"
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <linux/kvm.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "thread-filter.h"

#define SYSCALL_NAMES	512	/* x86-64 numbers in use are below this */
#define EXIT_SIGSYS	(128 + SIGSYS)

static const char *const thread_names[HV_THREAD_KINDS] = {
	[HV_THREAD_CONTROL] = "control",
	[HV_THREAD_TRAP_ENGINE] = "trap-engine",
	[HV_THREAD_KVM_ENGINE] = "kvm-engine",
	[HV_THREAD_KVM_WATCHDOG] = "kvm-watchdog",
};

/* What every thread may do once started: memory, time, locks, logging, its own signals. */
static const char *const common_calls[] = {
	"read", "readv", "pread64", "preadv", "preadv2", "write", "writev", "pwrite64",
	"pwritev", "pwritev2", "close", "lseek", "fstat", "newfstatat", "statx", "fcntl",
	"dup", "dup3", "pipe2", "eventfd2", "readlink", "readlinkat", "getdents", "getdents64",
	"getcwd",
	"poll", "ppoll", "select", "pselect6",
	"futex", "futex_waitv", "get_robust_list", "set_robust_list", "rseq", "membarrier",
	"restart_syscall", "sched_yield", "sched_getaffinity",
	"clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time",
	"getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid", "getresuid",
	"getresgid", "getgroups", "uname", "sysinfo", "getrlimit", "prlimit64", "getrusage",
	"getrandom",
	"mmap", "munmap", "mprotect", "madvise", "mremap", "brk", "msync", "mincore",
	"rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigtimedwait", "sigaltstack",
	"tgkill",	/* raise(), abort() */
	/* glib logs to journald, when that is stderr, through a datagram socket of its own */
	"sendmsg", "sendto", "sendmmsg", "recvmsg", "recvfrom", "recvmmsg", "shutdown",
	"getsockopt", "getsockname", "getpeername",
	/* more filters only ever narrow (the watchdog adds one); names for threads */
	"prctl", "seccomp",
	"exit", "exit_group",
};

/* The main loop: control clients, the host side of VMCI, stopping the engine. */
static const char *const control_calls[] = {
	"accept", "accept4", "setsockopt", "fallocate", "ftruncate",
	"fdatasync",	/* the namespace database's file, opened at start */
	"unlink", "unlinkat",	/* the control and VMCI sockets, at exit */
	"kill", "tkill", "pidfd_open", "pidfd_send_signal", "wait4", "waitid",
};

/* The ptrace tracer, with the device model and the cpuid patcher. */
static const char *const trap_engine_calls[] = {
	"ptrace", "wait4", "waitid", "kill", "tkill", "pidfd_open", "pidfd_send_signal",
	"process_vm_readv", "process_vm_writev", "kcmp", "fallocate", "ftruncate",
	"openat2",	/* the patcher opens mapped files inside the guest's root */
};

/* The vCPU, with the device model: ioctls on its KVM fds, VMCI's RAM. */
static const char *const kvm_engine_calls[] = {
	"ioctl", "fallocate", "ftruncate",
};

/* The terminal and socket ioctls glib and libc use, for threads without KVM fds. */
static const unsigned long plain_ioctls[] = {
	TCGETS, TIOCGWINSZ, FIONREAD, FIONBIO, FIOCLEX, FIONCLEX,
};

/* The host side of a device (VMCI's doorbells) raises the KVM guest's interrupt line. */
static const unsigned long control_ioctls[] = { KVM_IRQ_LINE, KVM_IRQ_LINE_STATUS };

static enum thread_filter_mode filter_mode = THREAD_FILTER_OFF;
/* Filled before any filter exists, so the SIGSYS handler only reads. */
static char *syscall_names[SYSCALL_NAMES];
static __thread const char *my_thread_name;
static __thread int my_thread_kind = -1;
static atomic_uint test_armed;	/* bit per enum hv_thread */

int thread_filter_mode_parse(const char *s)
{
	if (!s || !strcmp(s, "on"))
		return THREAD_FILTER_ON;
	if (!strcmp(s, "off"))
		return THREAD_FILTER_OFF;
	if (!strcmp(s, "log"))
		return THREAD_FILTER_LOG;
	return -1;
}

const char *thread_filter_thread_name(enum hv_thread kind)
{
	return (unsigned int)kind < HV_THREAD_KINDS ? thread_names[kind] : "?";
}

int thread_filter_thread_parse(const char *s)
{
	for (int i = 0; i < HV_THREAD_KINDS; i++) {
		if (s && !strcmp(s, thread_names[i]))
			return i;
	}
	return -1;
}

/* ---- the SIGSYS handler: async-signal-safe, never returns ---- */

static size_t put_str(char *buf, size_t at, size_t size, const char *s)
{
	while (*s && at < size)
		buf[at++] = *s++;
	return at;
}

static size_t put_uint(char *buf, size_t at, size_t size, unsigned int v)
{
	char digits[12];
	size_t n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n && at < size)
		buf[at++] = digits[--n];
	return at;
}

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	unsigned int nr = (unsigned int)si->si_syscall;
	const char *name = nr < SYSCALL_NAMES ? syscall_names[nr] : NULL;
	char line[160];
	size_t n = 0;

	n = put_str(line, n, sizeof(line), "porthole-hv: thread ");
	n = put_str(line, n, sizeof(line), my_thread_name ? my_thread_name : "(unfiltered)");
	n = put_str(line, n, sizeof(line), " made forbidden syscall ");
	n = put_uint(line, n, sizeof(line), nr);
	n = put_str(line, n, sizeof(line), " (");
	n = put_str(line, n, sizeof(line), name ? name : "unknown");
	n = put_str(line, n, sizeof(line), "); stopping\n");
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nowhere left to say it */
	}
	_exit(EXIT_SIGSYS);
}

int thread_filter_setup(enum thread_filter_mode mode)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };

	filter_mode = mode;
	if (mode == THREAD_FILTER_OFF) {
		g_message("seccomp: off (--no-seccomp or PORTHOLE_SECCOMP=off): the hypervisor's "
			  "threads run unfiltered");
		return 0;
	}
	for (int nr = 0; nr < SYSCALL_NAMES; nr++)
		syscall_names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL)) {
		g_warning("seccomp: SIGSYS handler: %s", g_strerror(errno));
		return -1;
	}
	if (mode == THREAD_FILTER_LOG)
		g_message("seccomp: log only: nothing is refused, the kernel's audit log (dmesg) "
			  "names each call a filter would refuse");
	return 0;
}

/* ---- building a thread's filter ---- */

static int allow_all(scmp_filter_ctx ctx, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);
		int r;

		if (nr == __NR_SCMP_ERROR)
			continue;	/* not on this architecture */
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (r) {
			g_warning("seccomp: allowing %s: %s", names[i], g_strerror(-r));
			return -1;
		}
	}
	return 0;
}

/* Memory-checking builds: LeakSanitizer's exit-time check runs a tracer task. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZER_BUILD	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZER_BUILD	1
#endif
#endif
#ifndef SANITIZER_BUILD
#define SANITIZER_BUILD	0
#endif

static int add_rules(scmp_filter_ctx ctx, enum hv_thread kind)
{
	int r = 0;

	if (allow_all(ctx, common_calls, G_N_ELEMENTS(common_calls)))
		return -1;
	/* Nobody replaces the SIGSYS handler that reports refusals. */
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(rt_sigaction), 1,
			      SCMP_A0(SCMP_CMP_NE, SIGSYS));
	/* Threads (which inherit the filter), never processes; clone3 can't be inspected. */
	r |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (kind == HV_THREAD_CONTROL && SANITIZER_BUILD)
		r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 0);
	else
		r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
				      SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
	/* Sockets of its own only to send log lines to journald; connect is refused. */
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
			      SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	if (kind == HV_THREAD_TRAP_ENGINE) {
		/* /proc/PID/mem, for the cpuid patcher */
		r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 0);
		r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(open), 0);
	} else {
		r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
				      SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC,
					      O_RDONLY));
		r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(open), 1,
				      SCMP_A1(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC,
					      O_RDONLY));
	}
	if (kind != HV_THREAD_KVM_ENGINE) {
		for (size_t i = 0; i < G_N_ELEMENTS(plain_ioctls); i++)
			r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
					      SCMP_A1(SCMP_CMP_EQ, plain_ioctls[i]));
	}
	if (kind == HV_THREAD_CONTROL) {
		for (size_t i = 0; i < G_N_ELEMENTS(control_ioctls); i++)
			r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
					      SCMP_A1(SCMP_CMP_EQ, control_ioctls[i]));
	}
	if (r) {
		g_warning("seccomp: building the %s filter failed", thread_names[kind]);
		return -1;
	}
	switch (kind) {
	case HV_THREAD_CONTROL:
		if (SANITIZER_BUILD && seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ptrace), 0))
			return -1;
		return allow_all(ctx, control_calls, G_N_ELEMENTS(control_calls));
	case HV_THREAD_TRAP_ENGINE:
		return allow_all(ctx, trap_engine_calls, G_N_ELEMENTS(trap_engine_calls));
	case HV_THREAD_KVM_ENGINE:
		return allow_all(ctx, kvm_engine_calls, G_N_ELEMENTS(kvm_engine_calls));
	default:
		return 0;
	}
}

int thread_filter_install(enum hv_thread kind)
{
	uint32_t deflt = filter_mode == THREAD_FILTER_LOG ? SCMP_ACT_LOG : SCMP_ACT_TRAP;
	scmp_filter_ctx ctx;
	int r;

	if ((unsigned int)kind >= HV_THREAD_KINDS)
		return -1;
	my_thread_kind = kind;
	if (filter_mode == THREAD_FILTER_OFF)
		return 0;
	ctx = seccomp_init(deflt);
	if (!ctx) {
		g_warning("seccomp: cannot start the %s filter", thread_names[kind]);
		return -1;
	}
	/* Calls of another ABI (int $0x80, x32) are refused the same way. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, deflt);
	/* This thread only, with no_new_privs set on it first (libseccomp does both). */
	r = r ? r : seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 0);
	r = r ? r : seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1);
	/* A binary search over syscall numbers: the engines' hot calls pay a few compares. */
	r = r ? r : seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (r || add_rules(ctx, kind)) {
		seccomp_release(ctx);
		g_warning("seccomp: cannot build the %s filter", thread_names[kind]);
		return -1;
	}
	r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r) {
		g_warning("seccomp: installing the %s filter: %s (try --no-seccomp to run without)",
			  thread_names[kind], g_strerror(-r));
		return -1;
	}
	my_thread_name = thread_names[kind];
	g_debug("seccomp: thread %s filtered", thread_names[kind]);
	return 0;
}

/* ---- test hooks ---- */

void thread_filter_test_arm(enum hv_thread kind)
{
	if ((unsigned int)kind < HV_THREAD_KINDS)
		atomic_fetch_or(&test_armed, 1u << kind);
}

void thread_filter_test_poll(void)
{
	unsigned int bit;
	long r;

	if (G_LIKELY(!atomic_load_explicit(&test_armed, memory_order_relaxed)) ||
	    my_thread_kind < 0)
		return;
	bit = 1u << my_thread_kind;
	if (!(atomic_fetch_and(&test_armed, ~bit) & bit))
		return;
	g_message("test hook: thread %s makes a forbidden syscall", thread_names[my_thread_kind]);
	if (my_thread_kind == HV_THREAD_CONTROL) {
		/* A network socket; harmless (closed) where the filter is off. */
		r = syscall(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (r >= 0)
			close((int)r);
	} else {
		/* Fails with EFAULT where the filter is off: nothing runs. */
		r = syscall(SYS_execve, NULL, NULL, NULL);
	}
	g_message("test hook: thread %s: the forbidden syscall returned %ld (filter off?)",
		  thread_names[my_thread_kind], r);
}
