// SPDX-License-Identifier: MIT
/*
 * The trap-and-emulate engine.  See trap.h.
 *
 * The guest's processes run natively under ptrace (PTRACE_SEIZE with
 * EXITKILL and fork/vfork/clone/exec auto-attach).  In user mode `in`,
 * `out`, `ins` and `outs` raise #GP, and so does `cpuid` once CPUID
 * faulting is on (arch_prctl(ARCH_SET_CPUID, 0)): the kernel turns both
 * into SIGSEGV with si_code SI_KERNEL and si_addr 0.  At that
 * signal-delivery-stop the engine takes one register snapshot and one copy
 * of the instruction bytes, decodes the copy, and either carries the
 * instruction out through the device model and steps over it, or lets the
 * signal through unchanged, as the CPU would have delivered it.
 *
 * A trap costs: waitpid, PTRACE_GETSIGINFO, PTRACE_GETREGS, one
 * process_vm_readv, PTRACE_SETREGS, PTRACE_CONT (plus whatever guest memory
 * a string instruction moves).
 *
 * CPUID faulting is reset by execve, so at every PTRACE_EVENT_EXEC the
 * engine makes the new program call arch_prctl(ARCH_SET_CPUID, 0) itself:
 * it writes `mov $158, %eax; syscall; int3` over the first 8 bytes of the
 * page holding the entry point, runs it to the int3 and puts bytes and
 * registers back.  (A single-stepped bare `syscall` would not do: at the
 * exec stop execve has yet to return, and its return value overwrites RAX.)
 * The same way, before that, the new program maps the guest vDSO file
 * (trap-clock.h: the clock page and our vDSO image) and its auxiliary
 * vector is pointed at the image, so its clock reads need no trap.
 *
 * Where the CPU has no CPUID faulting (or --cpuid=patch), cpuid is patched
 * into ud2 instead (cpuid-patch.h): at exec, and after each mmap/mprotect
 * that makes memory executable, which the seccomp filter stops with
 * SECCOMP_DATA_EXEC_MAP (the engine lets the call run to its syscall-exit
 * stop, then scans what it mapped).  A SIGILL at a patched address is
 * emulated as a faulted cpuid; every other SIGILL is the guest's.
 *
 * The guest's pid 1 is the guest command itself.  The kernel drops signals
 * a pid-namespace init has no handler for, even faults when the init is
 * traced, which would leave a crashing pid 1 faulting forever; the engine
 * gives pid 1 ordinary-process semantics instead: a signal whose default
 * action is to terminate kills the guest, and the exit status says which
 * signal (so `sh -c 'kill -TERM $$'` ends with 143 as it would on a host).
 */
#define G_LOG_DOMAIN "porthole-hv"
#include <asm/prctl.h>
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backdoor/vmci.h"
#include "cpuid-patch.h"
#include "hypervisor/devices/vmci.h"
#include "hypervisor/thread-filter.h"
#include "hypervisor/vm.h"
#include "sandbox.h"
#include "trap-clock.h"
#include "trap.h"
#include "x86-decode.h"
#include "backdoor/clock-page.h"

#define USER_CS_64		0x33	/* __USER_CS: 64-bit user code */
#define SEIZE_OPTIONS		(PTRACE_O_EXITKILL | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | \
				 PTRACE_O_TRACEVFORK | PTRACE_O_TRACEEXEC | PTRACE_O_TRACESECCOMP | \
				 PTRACE_O_TRACEEXIT | PTRACE_O_TRACESYSGOOD)
#define SYSCALL_STOP		(SIGTRAP | 0x80)	/* PTRACE_O_TRACESYSGOOD */
#ifndef KCMP_VM
#define KCMP_VM			1
#endif
/*
 * A rep string instruction moves at most this many bytes per trap; the
 * rest happens when the instruction, still at RIP with RCX > 0, traps again
 * (a CPU takes interrupts between iterations the same way).  It bounds how
 * long the device model (and vm->lock) is busy with one guest instruction,
 * and is above GUESTMSG_MAX_SIZE so a backdoor message is never split.
 */
#define STRING_CHUNK_BYTES	(2u << 20)
#define REARM_MAX_STOPS		64

static atomic_int stop_requested;
static atomic_int stop_pidfd = -1;
static atomic_int stop_pid;
/*
 * While the sandbox is being set up: the helper, and an eventfd that cuts
 * the engine's start-up waits short.  trap_engine_stop() uses them only
 * while counted in stop_users, and the engine retires them (reaps the
 * helper, closes the eventfd) only once stop_users is 0 after unpublishing,
 * so a stop never signals a recycled pid or writes to a recycled fd.
 */
static atomic_int stop_helper;
static atomic_int stop_wake_fd = -1;
static atomic_int stop_users;

struct tracee {
	pid_t tid;
	pid_t tgid;		/* 0 until looked up */
	int pending_sig;	/* to deliver at the next resume */
	bool owner_noted;	/* tgid recorded in engine.owners */
	bool started;		/* its attach stop is behind it (else: a group-stop) */
	/* cpuid patching: what this thread's address space had patched */
	struct cpuid_aspace *aspace;
	/* between an exec-mapping syscall's seccomp stop and its exit stop */
	bool in_exec_map;
	long map_nr;
	uint64_t map_addr, map_len;
};

struct engine {
	struct vm *vm;
	GHashTable *tracees;	/* tid -> struct tracee */
	GHashTable *owners;	/* tgids that did port I/O (vcpu.owner) */
	GPtrArray *owner_watches;	/* GSource: pidfds of detached owners */
	pid_t helper, guest;
	bool guest_exited;
	int guest_status;	/* wait status */
	int guest_fatal_sig;	/* pid 1 killed for a signal it would have ignored */
	bool rearm_warned;
	unsigned long traps;
	enum trap_cpuid_mode cpuid;	/* resolved: FAULT, PATCH or OFF */
	char cpuid_why[160];		/* why that mode (shown by status) */
	struct cpuid_patcher *patcher;	/* PATCH only */
	unsigned long cpuid_traps;
	struct trap_vdso vdso;		/* guest clock reads without a trap, if vdso_on */
	bool vdso_on, vdso_warned;
};

/* ---- small helpers ---- */

static void __attribute__((format(printf, 2, 3))) guest_log(struct engine *e, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&e->vm->lock);
	vm_guest_log(e->vm, "%s", buf);
	pthread_mutex_unlock(&e->vm->lock);
}

/* What the engine reads of a thread's /proc/TID/status (0 where absent). */
struct proc_status {
	pid_t tgid, ppid;
	uint64_t sigign, sigcgt;
};

/* Returns 0, or -1 when the thread is gone. */
static int read_status(pid_t tid, struct proc_status *st)
{
	char path[64], buf[4096];
	ssize_t n;
	int fd;
	char *p;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strstr(buf, "\nTgid:");
	st->tgid = p ? (pid_t)strtol(p + 6, NULL, 10) : 0;
	p = strstr(buf, "\nPPid:");
	st->ppid = p ? (pid_t)strtol(p + 6, NULL, 10) : 0;
	p = strstr(buf, "\nSigIgn:");
	st->sigign = p ? strtoull(p + 8, NULL, 16) : 0;
	p = strstr(buf, "\nSigCgt:");
	st->sigcgt = p ? strtoull(p + 8, NULL, 16) : 0;
	return 0;
}

static pid_t tracee_tgid(struct tracee *t)
{
	struct proc_status st;

	if (!t->tgid)
		t->tgid = read_status(t->tid, &st) || st.tgid <= 0 ? t->tid : st.tgid;
	return t->tgid;
}

static struct tracee *tracee_add(struct engine *e, pid_t tid)
{
	struct tracee *t = g_new0(struct tracee, 1);

	t->tid = tid;
	g_hash_table_insert(e->tracees, GINT_TO_POINTER(tid), t);
	return t;
}

static void tracee_free(gpointer p)
{
	struct tracee *t = p;

	cpuid_aspace_unref(t->aspace);
	g_free(t);
}

static void tracee_exited(struct engine *e, pid_t tid, int st)
{
	g_hash_table_remove(e->tracees, GINT_TO_POINTER(tid));
	/* A thread group's leader is reported last: the process is gone. */
	if (g_hash_table_remove(e->owners, GINT_TO_POINTER(tid)))
		vm_owner_exited(e->vm, tid);
	if (tid == e->guest && !e->guest_exited) {
		int fd = atomic_exchange(&stop_pidfd, -1);

		atomic_store(&stop_pid, 0);
		if (fd >= 0)
			close(fd);
		e->guest_exited = true;
		e->guest_status = st;
	}
}

static bool fatal_by_default(int sig)
{
	switch (sig) {
	case SIGCHLD: case SIGCONT: case SIGURG: case SIGWINCH:		/* ignored */
	case SIGSTOP: case SIGTSTP: case SIGTTIN: case SIGTTOU:		/* stop */
		return false;
	default:
		return sig > 0 && sig < NSIG;
	}
}

static void kill_guest(struct engine *e)
{
	int fd = atomic_load(&stop_pidfd);

	if (fd >= 0)
		syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0);
	else if (!e->guest_exited && e->guest > 0)
		kill(e->guest, SIGKILL);
}

/*
 * Would the kernel drop `sig` because the thread belongs to the guest's
 * pid 1 and pid 1 has neither a handler for it nor ignores it?
 */
static bool pid1_would_drop(struct engine *e, struct tracee *t, int sig)
{
	uint64_t bit = 1ull << (sig - 1);
	struct proc_status st;

	if (e->guest_exited || (t->tgid && t->tgid != e->guest) || !fatal_by_default(sig))
		return false;
	if (read_status(t->tid, &st))
		return false;
	if (st.tgid > 0)
		t->tgid = st.tgid;
	return st.tgid == e->guest && !(st.sigign & bit) && !(st.sigcgt & bit);
}

/* Restart a stopped tracee, delivering `sig` (or what it has pending). */
static void resume(struct engine *e, struct tracee *t, int sig)
{
	if (!sig && t->pending_sig) {
		sig = t->pending_sig;
		t->pending_sig = 0;
	}
	if (sig && pid1_would_drop(e, t, sig)) {
		if (!e->guest_fatal_sig) {
			e->guest_fatal_sig = sig;
			guest_log(e, "guest pid 1 got signal %d with no handler: the guest ends",
				  sig);
		}
		kill_guest(e);
		sig = 0;
	}
	/* ESRCH: it died meanwhile; its exit status is on the way. */
	ptrace(PTRACE_CONT, t->tid, 0, (void *)(long)sig);
}

/* ---- guest memory, for string instructions ---- */

struct trap_mem {
	pid_t tid;
	uint64_t base;		/* segment base (an FS/GS override on outs) */
};

static int mem_read(void *opaque, uint64_t addr, void *buf, size_t len)
{
	struct trap_mem *m = opaque;
	struct iovec local = { buf, len };
	struct iovec remote = { (void *)(uintptr_t)(addr + m->base), len };

	if (!len)
		return 0;
	return process_vm_readv(m->tid, &local, 1, &remote, 1, 0) == (ssize_t)len ? 0 : -1;
}

static int mem_write(void *opaque, uint64_t addr, const void *buf, size_t len)
{
	struct trap_mem *m = opaque;
	struct iovec local = { (void *)buf, len };
	struct iovec remote = { (void *)(uintptr_t)(addr + m->base), len };

	if (!len)
		return 0;
	return process_vm_writev(m->tid, &local, 1, &remote, 1, 0) == (ssize_t)len ? 0 : -1;
}

/* Up to 15 bytes at `rip`; fewer at the end of the readable range. */
static ssize_t read_code(pid_t tid, uint64_t rip, uint8_t *code)
{
	struct iovec local = { code, X86_MAX_INSN_LEN };
	struct iovec remote = { (void *)(uintptr_t)rip, X86_MAX_INSN_LEN };
	ssize_t n = process_vm_readv(tid, &local, 1, &remote, 1, 0);
	long w;

	if (n > 0)
		return n;
	/* Execute-only code (protection keys): ptrace reads through it. */
	errno = 0;
	w = ptrace(PTRACE_PEEKTEXT, tid, (void *)(uintptr_t)rip, 0);
	if (errno)
		return -1;
	memcpy(code, &w, 8);
	errno = 0;
	w = ptrace(PTRACE_PEEKTEXT, tid, (void *)(uintptr_t)(rip + 8), 0);
	if (errno)
		return 8;
	memcpy(code + 8, &w, X86_MAX_INSN_LEN - 8);
	return X86_MAX_INSN_LEN;
}

static void regs_from_user(struct vcpu_regs *v, const struct user_regs_struct *u)
{
	*v = (struct vcpu_regs){
		.rax = u->rax, .rbx = u->rbx, .rcx = u->rcx, .rdx = u->rdx,
		.rsi = u->rsi, .rdi = u->rdi, .rbp = u->rbp, .rsp = u->rsp,
		.rip = u->rip, .rflags = u->eflags,
	};
}

static void regs_to_user(struct user_regs_struct *u, const struct vcpu_regs *v)
{
	u->rax = v->rax;
	u->rbx = v->rbx;
	u->rcx = v->rcx;
	u->rdx = v->rdx;
	u->rsi = v->rsi;
	u->rdi = v->rdi;
	u->rbp = v->rbp;
	u->rsp = v->rsp;
	u->eflags = v->rflags;
}

/* ---- the trap ---- */

static void publish_cpuid_status(struct engine *e);

/*
 * One more emulated cpuid.  The status text is refreshed for the first
 * ones, then every 64th and at every exec, so `porthole-ctl status` follows
 * along without a string rebuilt on every trap.
 */
static void count_cpuid_trap(struct engine *e)
{
	e->cpuid_traps++;
	if (e->cpuid_traps <= 64 || !(e->cpuid_traps & 63))
		publish_cpuid_status(e);
}

/*
 * The cpuid of `len` bytes at RIP, however it trapped (#GP with CPUID
 * faulting, the SIGILL of the ud2 patched over it): the device model's
 * answer in EAX..EDX, RIP past it, the tracee resumed.
 */
static void emulate_cpuid(struct engine *e, struct tracee *t, struct user_regs_struct *ur,
			  unsigned int len)
{
	struct vcpu_regs r;

	e->traps++;
	atomic_fetch_add_explicit(&e->vm->traps, 1, memory_order_relaxed);
	count_cpuid_trap(e);
	regs_from_user(&r, ur);
	vm_cpuid(e->vm, &r);
	ur->rax = r.rax;
	ur->rbx = r.rbx;
	ur->rcx = r.rcx;
	ur->rdx = r.rdx;
	ur->rip += len;
	if (ptrace(PTRACE_SETREGS, t->tid, 0, ur) < 0)
		return;
	resume(e, t, 0);
}

static void emulate_io(struct engine *e, struct tracee *t, struct user_regs_struct *ur,
		       const struct x86_insn *insn)
{
	struct trap_mem mem = { .tid = t->tid };
	struct vcpu vcpu = {
		.vm = e->vm,
		.id = t->tid,
		.owner = tracee_tgid(t),
		.mem = { mem_read, mem_write, &mem },
	};
	struct io_access io = {
		.port = insn->port_dx ? (uint16_t)ur->rdx : insn->port,
		.size = insn->size,
		.in = insn->in,
		.string = insn->string,
		.rep = insn->rep,
		.addr_size = insn->addr_size,
	};
	uint64_t rip = ur->rip, mask = io_addr_mask(insn->addr_size), left = 0;
	enum io_result res;
	bool complete;

	if (insn->seg == X86_SEG_FS)
		mem.base = ur->fs_base;
	else if (insn->seg == X86_SEG_GS)
		mem.base = ur->gs_base;
	regs_from_user(&vcpu.regs, ur);
	if (insn->rep) {
		uint64_t count = ur->rcx & mask, chunk = STRING_CHUNK_BYTES / insn->size;

		if (count > chunk) {
			left = count - chunk;
			vcpu.regs.rcx = (ur->rcx & ~mask) | chunk;
		}
	}

	res = vm_io(e->vm, &vcpu, &io);
	if (!t->owner_noted) {
		g_hash_table_add(e->owners, GINT_TO_POINTER(vcpu.owner));
		t->owner_noted = true;
	}

	if (left) {
		left += vcpu.regs.rcx & mask;
		vcpu.regs.rcx = (vcpu.regs.rcx & ~mask) | (left & mask);
	}
	regs_to_user(ur, &vcpu.regs);
	/*
	 * A rep instruction is complete when RCX reaches 0; until then RIP
	 * stays on it and it traps again for the rest (our chunks, or a bus
	 * that moved only part of it).
	 */
	complete = res == IO_DONE && (!insn->rep || !(vcpu.regs.rcx & mask));
	ur->rip = complete ? rip + insn->len : rip;
	if (ptrace(PTRACE_SETREGS, t->tid, 0, ur) < 0)
		return;
	resume(e, t, res == IO_FAULT ? SIGSEGV : 0);
}

static void handle_sigsegv(struct engine *e, struct tracee *t)
{
	struct user_regs_struct ur;
	uint8_t code[X86_MAX_INSN_LEN];
	struct x86_insn insn;
	siginfo_t si;
	ssize_t n;

	if (ptrace(PTRACE_GETSIGINFO, t->tid, 0, &si) < 0)
		return;
	/* #GP from user mode; anything else (a page fault, kill -SEGV) is the guest's. */
	if (si.si_code != SI_KERNEL || si.si_addr)
		goto deliver;
	if (ptrace(PTRACE_GETREGS, t->tid, 0, &ur) < 0)
		return;
	if (ur.cs != USER_CS_64)
		goto deliver;	/* 32-bit code: not decoded */
	n = read_code(t->tid, ur.rip, code);
	if (n <= 0 || x86_decode_io(code, (size_t)n, &insn) < 0)
		goto deliver;
	if (insn.kind == X86_INSN_CPUID) {
		emulate_cpuid(e, t, &ur, insn.len);
		return;
	}
	e->traps++;
	atomic_fetch_add_explicit(&e->vm->traps, 1, memory_order_relaxed);
	emulate_io(e, t, &ur, &insn);
	return;

deliver:
	resume(e, t, SIGSEGV);
}

/* ---- cpuid by patching (cpuid-patch.h) ---- */

static void publish_cpuid_status(struct engine *e)
{
	struct cpuid_patch_stats st = { 0 };
	char buf[1024];

	if (e->patcher)
		cpuid_patcher_stats(e->patcher, &st);
	snprintf(buf, sizeof(buf),
		 "cpuid.mode=%s\ncpuid.reason=%s\ncpuid.traps=%lu\ncpuid.files-decoded=%" PRIu64
		 "\ncpuid.cache-hits=%" PRIu64 "\ncpuid.bytes-decoded=%" PRIu64
		 "\ncpuid.regions-scanned=%" PRIu64 "\ncpuid.sites-patched=%" PRIu64
		 "\ncpuid.skipped=%" PRIu64 "\n",
		 trap_cpuid_mode_name(e->cpuid), e->cpuid_why, e->cpuid_traps, st.files_decoded,
		 st.cache_hits, st.bytes_decoded, st.regions_scanned, st.sites_patched, st.skipped);
	vm_set_engine_status(e->vm, buf);
}

static struct cpuid_aspace *tracee_aspace(struct tracee *t)
{
	if (!t->aspace)
		t->aspace = cpuid_aspace_new();
	return t->aspace;
}

/* Patch what is executable in [start, end) of tracee `t` (all of it: 0, UINT64_MAX). */
static void patch_tracee(struct engine *e, struct tracee *t, uint64_t start, uint64_t end,
			 bool fresh)
{
	struct cpuid_patch_stats before, after;

	cpuid_patcher_stats(e->patcher, &before);
	if (cpuid_patch_range(e->patcher, tracee_aspace(t), t->tid, start, end, fresh) < 0 &&
	    !e->rearm_warned) {
		e->rearm_warned = true;
		guest_log(e, "cannot patch cpuid in guest process %d (%s): cpuid may run natively "
			  "there", (int)t->tid, g_strerror(errno));
	}
	cpuid_patcher_stats(e->patcher, &after);
	/* Nothing left unpatched goes unsaid (a few lines a minute: each process may have it). */
	if (after.skipped > before.skipped)
		vm_guest_log_per(e->vm, VM_GUEST_LOG_CPUID_SKIPPED, "cpuid patching left %" PRIu64
				 " executable mapping(s) of guest process %d alone (shared, too "
				 "large, or too many cpuid sites): cpuid runs natively there",
				 after.skipped - before.skipped, (int)t->tid);
	publish_cpuid_status(e);
}

/*
 * A new thread or process `child` of `parent` (a fork, vfork or clone
 * event): threads share the parent's patches; a forked process has a copy
 * of its memory, so of its patches too.
 */
static void inherit_aspace(struct engine *e, struct tracee *parent, pid_t child_tid, int event)
{
	struct tracee *child = g_hash_table_lookup(e->tracees, GINT_TO_POINTER(child_tid));
	long same;

	if (!e->patcher)
		return;
	if (!child)
		child = tracee_add(e, child_tid);	/* its attach stop is still to come */
	else if (child->aspace)
		return;		/* its attach stop came first: adopt_aspace() saw to it */
	same = syscall(SYS_kcmp, parent->tid, child_tid, KCMP_VM, 0, 0);
	if (same < 0)	/* no kcmp (CONFIG_KCMP off): clone shares, fork copies */
		same = event == PTRACE_EVENT_FORK;
	cpuid_aspace_unref(child->aspace);
	child->aspace = same == 0 ? cpuid_aspace_ref(tracee_aspace(parent))
				  : cpuid_aspace_copy(tracee_aspace(parent));
}

/*
 * A new tracee's attach stop came before its creator's fork or clone event:
 * take the patches of its thread group (a thread) or of its parent (a
 * process: a copy, as fork copied its memory) before it runs any code.
 */
static void adopt_aspace(struct engine *e, struct tracee *t)
{
	struct proc_status st;
	struct tracee *from;

	if (read_status(t->tid, &st))
		return;
	if (st.tgid > 0 && st.tgid != t->tid) {
		from = g_hash_table_lookup(e->tracees, GINT_TO_POINTER(st.tgid));
		if (from)
			t->aspace = cpuid_aspace_ref(tracee_aspace(from));
		return;
	}
	from = st.ppid > 0 ? g_hash_table_lookup(e->tracees, GINT_TO_POINTER(st.ppid)) : NULL;
	if (from)
		t->aspace = cpuid_aspace_copy(tracee_aspace(from));
}

/* The seccomp filter stopped an mmap/mprotect that maps executable memory. */
static void exec_map_enter(struct engine *e, struct tracee *t)
{
	struct user_regs_struct ur;

	if (ptrace(PTRACE_GETREGS, t->tid, 0, &ur) < 0)
		return;
	t->in_exec_map = true;
	t->map_nr = (long)ur.orig_rax;
	t->map_addr = ur.rdi;
	t->map_len = ur.rsi;
	/* Run the call to its syscall-exit stop: only then is the mapping there. */
	if (ptrace(PTRACE_SYSCALL, t->tid, 0, 0) < 0)
		t->in_exec_map = false;
}

static void exec_map_exit(struct engine *e, struct tracee *t)
{
	struct user_regs_struct ur;
	uint64_t start, len;

	t->in_exec_map = false;
	if (ptrace(PTRACE_GETREGS, t->tid, 0, &ur) < 0)
		return;
	if ((unsigned long long)ur.rax >= (unsigned long long)-4095)
		goto out;	/* the call failed: nothing new is executable */
	start = t->map_nr == SYS_mmap ? ur.rax : t->map_addr;
	len = (t->map_len + 4095) & ~4095ull;
	if (len && start + len > start)
		patch_tracee(e, t, start, start + len, t->map_nr == SYS_mmap);
out:
	resume(e, t, 0);
}

/*
 * SIGILL: a ud2 we wrote over a cpuid is emulated as that cpuid, anything
 * else (a real ud2, an illegal opcode, kill -ILL) goes to the guest.
 */
static void handle_sigill(struct engine *e, struct tracee *t)
{
	struct user_regs_struct ur;
	uint8_t code[X86_MAX_INSN_LEN];
	unsigned int len;
	siginfo_t si;
	ssize_t n;

	if (!e->patcher)
		goto deliver;
	if (ptrace(PTRACE_GETSIGINFO, t->tid, 0, &si) < 0)
		return;
	if (si.si_code != ILL_ILLOPN)
		goto deliver;
	if (ptrace(PTRACE_GETREGS, t->tid, 0, &ur) < 0)
		return;
	if (ur.cs != USER_CS_64)
		goto deliver;
	len = cpuid_patched_at(t->aspace, ur.rip);
	if (!len)
		len = cpuid_patch_recover(e->patcher, tracee_aspace(t), t->tid, ur.rip);
	if (!len)
		goto deliver;
	/* Still our ud2 (the guest may have rewritten its code since). */
	n = read_code(t->tid, ur.rip, code);
	if (n < (ssize_t)len || code[len - 2] != 0x0F || code[len - 1] != 0x0B)
		goto deliver;
	emulate_cpuid(e, t, &ur, len);
	return;
deliver:
	resume(e, t, SIGILL);
}

/* ---- exec: CPUID faulting again, the guest vDSO ---- */

/*
 * Run `len` bytes of code (`stub`, an 8-byte multiple) inside tracee `t`,
 * stopped at PTRACE_EVENT_EXEC, with registers `in` (RIP set here), until
 * RIP is `done_offset` bytes into it (just past its int3).  The code goes
 * over the start of the page holding the entry point.  Returns -1 if the
 * tracee died meanwhile (its exit has been handled and `t` is gone); 1 with
 * the registers at the end in `out`, or 0 with the reason in `why`;
 * either way `t` is stopped, registers and code as they were, signals that
 * arrived meanwhile in t->pending_sig.  (A single-stepped bare `syscall`
 * would not do: at the exec stop execve has yet to return, and its return
 * value overwrites RAX.)
 */
static int run_stub(struct engine *e, struct tracee *t, const uint8_t *stub, size_t len,
		    size_t done_offset, const struct user_regs_struct *in,
		    struct user_regs_struct *out, const char **why)
{
	uint8_t orig[TRAP_VDSO_STUB_MAX];
	struct user_regs_struct saved, r;
	pid_t tid = t->tid;
	bool done = false, written = false;
	char path[64];
	uint64_t page;
	int mem;

	*why = NULL;
	if (len % 8 || len > sizeof(orig)) {
		*why = "the injected code is too long";
		return 0;
	}
	if (ptrace(PTRACE_GETREGS, tid, 0, &saved) < 0)
		return 0;
	page = saved.rip & ~0xFFFull;
	/* /proc/PID/mem writes read-only text (the process's private copy): 3 calls, not 3 per word */
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)tid);
	mem = open(path, O_RDWR | O_CLOEXEC);
	if (mem < 0) {
		*why = errno == ENOENT ? NULL : "cannot open its memory";
		return 0;
	}
	if (pread(mem, orig, len, (off_t)page) != (ssize_t)len) {
		*why = "cannot read its code";
		goto restore;
	}
	written = true;
	if (pwrite(mem, stub, len, (off_t)page) != (ssize_t)len) {
		*why = "cannot write its code";
		goto restore;
	}
	r = *in;
	r.rip = page;
	if (ptrace(PTRACE_SETREGS, tid, 0, &r) < 0) {
		*why = errno == ESRCH ? NULL : "cannot set its registers";
		goto restore;
	}
	for (int i = 0; i < REARM_MAX_STOPS && !done; i++) {
		int st, sig;

		if (ptrace(PTRACE_CONT, tid, 0, 0) < 0)
			break;
		while (waitpid(tid, &st, __WALL) < 0) {
			if (errno != EINTR) {
				/* Put its code and registers back all the same, as far as it goes. */
				*why = "lost track of it while the injected code ran";
				goto restore;
			}
		}
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			close(mem);
			tracee_exited(e, tid, st);
			return -1;
		}
		if (!WIFSTOPPED(st) || (st >> 16))
			continue;	/* an event stop (a seccomp stop of the stub's calls): go on */
		sig = WSTOPSIG(st);
		if (sig == SIGTRAP) {
			if (ptrace(PTRACE_GETREGS, tid, 0, &r) < 0)
				break;
			if (r.rip == page + done_offset) {
				done = true;
				*out = r;
				break;
			}
		}
		/* A signal before our code ran: hold it for later. */
		if (!t->pending_sig)
			t->pending_sig = sig;
		else if (sig != t->pending_sig)
			syscall(SYS_tgkill, tracee_tgid(t), tid, sig);
	}
	if (!done)
		*why = "the injected code did not complete";

restore:
	if (written && pwrite(mem, orig, len, (off_t)page) != (ssize_t)len)
		g_warning("guest process %d: cannot put its code back after an injected call",
			  (int)tid);
	close(mem);
	saved.rax = 0;			/* what execve returned */
	saved.orig_rax = (unsigned long long)-1;
	ptrace(PTRACE_SETREGS, tid, 0, &saved);
	return done;
}

/* Run arch_prctl(ARCH_SET_CPUID, 0) inside `t`.  False if the tracee died meanwhile. */
static bool rearm_cpuid(struct engine *e, struct tracee *t, const struct user_regs_struct *regs)
{
	static const uint8_t stub[8] = {
		0xB8, SYS_arch_prctl, 0x00, 0x00, 0x00,	/* mov $SYS_arch_prctl, %eax */
		0x0F, 0x05,				/* syscall */
		0xCC,					/* int3 */
	};
	struct user_regs_struct in = *regs, out;
	const char *why = NULL;
	int ran;

	in.rdi = ARCH_SET_CPUID;
	in.rsi = 0;
	ran = run_stub(e, t, stub, sizeof(stub), sizeof(stub), &in, &out, &why);
	if (ran < 0)
		return false;
	if (ran && (long)out.rax != 0)
		why = g_strerror((int)-(long)out.rax);
	if (why && !e->rearm_warned) {
		e->rearm_warned = true;
		guest_log(e, "cannot turn CPUID faulting on in guest process %d (%s): cpuid runs "
			  "natively there", (int)t->tid, why);
	}
	return true;
}

/*
 * Map the guest vDSO file into `t` (trap-clock.h) and point its auxiliary
 * vector at the image; where that fails, hide the vDSO (its clock reads
 * trap).  False if the tracee died meanwhile.
 */
static bool map_vdso(struct engine *e, struct tracee *t, const struct user_regs_struct *regs)
{
	uint8_t stub[TRAP_VDSO_STUB_MAX];
	struct user_regs_struct out;
	size_t len = 0, done_offset = 0;
	const char *why = "no vDSO file";
	uint64_t ehdr = 0;
	int ran;

	if (e->vdso_on)
		len = trap_vdso_stub(&e->vdso, stub, &done_offset);
	if (len) {
		ran = run_stub(e, t, stub, len, done_offset, regs, &out, &why);
		if (ran < 0)
			return false;
		if (ran && (long long)out.rax < 0 && (long long)out.rax > -4096)
			why = g_strerror((int)-(long long)out.rax);
		else if (ran)
			ehdr = out.rax + PH_CLOCK_PAGE_SIZE;
	}
	if (!trap_clock_set_vdso(t->tid, ehdr) && ehdr)
		why = "its auxiliary vector has no vDSO entry";
	else if (ehdr)
		why = NULL;
	if (why && e->vdso_on && !e->vdso_warned) {
		e->vdso_warned = true;
		guest_log(e, "cannot map the guest vDSO into guest process %d (%s): its clock reads "
			  "trap", (int)t->tid, why);
	}
	return true;
}

static void handle_exec(struct engine *e, struct tracee *t)
{
	struct user_regs_struct regs;
	unsigned long former = 0;
	bool native;

	/* A non-leader thread exec'd: it now has the leader's tid, its own is gone. */
	if (ptrace(PTRACE_GETEVENTMSG, t->tid, 0, &former) == 0 && (pid_t)former != t->tid)
		g_hash_table_remove(e->tracees, GINT_TO_POINTER((pid_t)former));
	t->tgid = t->tid;
	t->pending_sig = 0;
	t->in_exec_map = false;
	/* A 32-bit program: the seccomp filter stops it anyway. */
	native = ptrace(PTRACE_GETREGS, t->tid, 0, &regs) == 0 && regs.cs == USER_CS_64;
	/* Clock reads must reach the guest clock: its page and our vDSO, or a trap. */
	if (native && !map_vdso(e, t, &regs))
		return;
	switch (e->cpuid) {
	case TRAP_CPUID_FAULT:
		publish_cpuid_status(e);
		if (native && !rearm_cpuid(e, t, &regs))
			return;
		break;
	case TRAP_CPUID_PATCH:
		/* A new program: a new address space, the program and its interpreter mapped. */
		cpuid_aspace_unref(t->aspace);
		t->aspace = cpuid_aspace_new();
		patch_tracee(e, t, 0, UINT64_MAX, true);
		break;
	default:
		break;
	}
	resume(e, t, 0);
}

/* ---- the loop ---- */

/* A detached guest process that did port I/O: release its resources once it is gone. */
struct owner_watch {
	struct vm *vm;
	pid_t tgid;
	int pidfd;
};

static gboolean owner_gone(gint fd, GIOCondition cond, gpointer p)
{
	struct owner_watch *w = p;

	vm_owner_exited(w->vm, w->tgid);
	return G_SOURCE_REMOVE;
}

static void owner_watch_free(gpointer p)
{
	struct owner_watch *w = p;

	close(w->pidfd);
	g_free(w);
}

static void watch_owner(struct engine *e, pid_t tgid)
{
	struct owner_watch *w;
	GSource *src;
	int fd = (int)syscall(SYS_pidfd_open, tgid, 0);

	if (fd < 0) {
		vm_owner_exited(e->vm, tgid);	/* can't watch: release now */
		return;
	}
	w = g_new0(struct owner_watch, 1);
	*w = (struct owner_watch){ e->vm, tgid, fd };
	/* A leader's pidfd turns readable when its whole thread group has exited. */
	src = g_unix_fd_source_new(fd, G_IO_IN);
	g_source_set_callback(src, G_SOURCE_FUNC(owner_gone), w, owner_watch_free);
	g_source_attach(src, NULL);	/* the main loop's context; thread-safe */
	g_ptr_array_add(e->owner_watches, src);
}

/*
 * A guest thread is exiting (PTRACE_EVENT_EXIT: it runs no more code), so let
 * it go.  While we trace it, its real parent cannot reap it, yet its pidfd
 * already reads as exited: pidfd-based waiters (GLib's child watch, systemd)
 * would then see a bogus status.  Detached, it becomes reapable the moment it
 * is a zombie, as on real hardware.  The guest's pid 1 stays traced: its
 * exit status is the VM's and its parent is our sandbox helper.
 */
static void handle_exit_event(struct engine *e, struct tracee *t)
{
	pid_t tid = t->tid;

	if (tid == e->guest) {
		resume(e, t, 0);
		return;
	}
	/* owners holds thread-group leaders (tgids) that did port I/O. */
	if (g_hash_table_remove(e->owners, GINT_TO_POINTER(tid)))
		watch_owner(e, tid);
	g_hash_table_remove(e->tracees, GINT_TO_POINTER(tid));
	ptrace(PTRACE_DETACH, tid, 0, 0);
}

static void handle_stop(struct engine *e, pid_t tid, int st)
{
	struct tracee *t = g_hash_table_lookup(e->tracees, GINT_TO_POINTER(tid));
	int sig = WSTOPSIG(st), event = (unsigned int)st >> 16;

	if (!t)
		t = tracee_add(e, tid);
	switch (event) {
	case 0:		/* signal-delivery-stop, or the syscall-exit stop of an exec mapping */
		if (sig == SIGSEGV)
			handle_sigsegv(e, t);
		else if (sig == SIGILL)
			handle_sigill(e, t);
		else if (sig == SYSCALL_STOP && t->in_exec_map)
			exec_map_exit(e, t);
		else if (sig == SYSCALL_STOP)
			resume(e, t, 0);
		else
			resume(e, t, sig);
		break;
	case PTRACE_EVENT_EXEC:
		handle_exec(e, t);
		break;
	case PTRACE_EVENT_EXIT:
		handle_exit_event(e, t);
		break;
	case PTRACE_EVENT_SECCOMP: {	/* sandbox.c's filter: a clock call or an exec mapping */
		unsigned long data = 0;

		ptrace(PTRACE_GETEVENTMSG, tid, 0, &data);
		if (data == SECCOMP_DATA_EXEC_MAP && e->patcher) {
			exec_map_enter(e, t);
			break;
		}
		atomic_fetch_add_explicit(&e->vm->traps, 1, memory_order_relaxed);
		trap_clock_syscall(e->vm->clock, tid);
		resume(e, t, 0);
		break;
	}
	case PTRACE_EVENT_STOP:
		/*
		 * A new auto-attached tracee's first stop (it may come before
		 * its parent's fork event), or a group-stop: stay stopped,
		 * but keep reporting (PTRACE_LISTEN) until SIGCONT.
		 */
		if (t->started &&
		    (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU)) {
			ptrace(PTRACE_LISTEN, tid, 0, 0);
		} else {
			t->started = true;
			if (e->patcher && !t->aspace)
				adopt_aspace(e, t);
			resume(e, t, 0);
		}
		break;
	default: {	/* FORK, VFORK, CLONE: the child shows up on its own */
		unsigned long child = 0;

		if (ptrace(PTRACE_GETEVENTMSG, tid, 0, &child) == 0 && child > 0)
			inherit_aspace(e, t, (pid_t)child, event);
		resume(e, t, 0);
		break;
	}
	}
}

static void run_loop(struct engine *e)
{
	for (;;) {
		int st;
		pid_t pid = waitpid(-1, &st, __WALL | __WNOTHREAD);

		thread_filter_test_poll();
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			if (errno != ECHILD)
				g_warning("waitpid: %s", g_strerror(errno));
			return;
		}
		if (pid == e->helper) {
			if (WIFEXITED(st) || WIFSIGNALED(st))
				e->helper = 0;
			continue;
		}
		if (WIFEXITED(st) || WIFSIGNALED(st))
			tracee_exited(e, pid, st);
		else if (WIFSTOPPED(st))
			handle_stop(e, pid, st);
	}
}

static void publish_guest(pid_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	atomic_store(&stop_pid, pid);
	atomic_store(&stop_pidfd, fd);
	if (atomic_load(&stop_requested))
		trap_engine_stop();
}

static void unpublish_guest(void)
{
	int fd = atomic_exchange(&stop_pidfd, -1);

	atomic_store(&stop_pid, 0);
	if (fd >= 0)
		close(fd);
}

/* Until this returns, a trap_engine_stop() may still use what was unpublished. */
static void stop_quiesce(void)
{
	while (atomic_load(&stop_users))
		sched_yield();
}

static void publish_helper(pid_t pid)
{
	atomic_store(&stop_helper, pid);
	if (atomic_load(&stop_requested))
		trap_engine_stop();
}

/* Before the helper is reaped. */
static void unpublish_helper(void)
{
	atomic_store(&stop_helper, 0);
	stop_quiesce();
}

/* 0, or -1 when a stop came first (the eventfd is closed again then). */
static int publish_wake(int fd)
{
	atomic_store(&stop_wake_fd, fd);
	if (!atomic_load(&stop_requested))
		return 0;
	atomic_store(&stop_wake_fd, -1);
	stop_quiesce();
	close(fd);
	return -1;
}

static void unpublish_wake(int fd)
{
	atomic_store(&stop_wake_fd, -1);
	stop_quiesce();
	close(fd);
}

void trap_engine_stop(void)
{
	static const uint64_t one = 1;
	int fd, pid;

	atomic_store(&stop_requested, 1);
	atomic_fetch_add(&stop_users, 1);
	/* During start-up: pid 1 dies with the helper (PR_SET_PDEATHSIG). */
	pid = atomic_load(&stop_helper);
	if (pid > 0)
		kill(pid, SIGKILL);
	fd = atomic_load(&stop_wake_fd);
	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: woken already */
	}
	atomic_fetch_sub(&stop_users, 1);

	fd = atomic_load(&stop_pidfd);
	pid = atomic_load(&stop_pid);
	if (fd >= 0)
		syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0);
	else if (pid > 0)
		kill(pid, SIGKILL);	/* no pidfd_open (Linux < 5.3) */
}

static int exit_code(const struct engine *e)
{
	bool killed = !e->guest_fatal_sig && WIFSIGNALED(e->guest_status);

	if (!e->guest_exited)
		return -1;
	/* A stop (porthole-ctl stop, a signal to us) is SIGKILL: never a reset. */
	if (e->guest_fatal_sig == SIGHUP || (killed && WTERMSIG(e->guest_status) == SIGHUP))
		return TRAP_GUEST_RESET;
	if (killed && WTERMSIG(e->guest_status) == SIGINT)
		return 0;	/* reboot(2) POWER_OFF/HALT: powered off */
	if (e->guest_fatal_sig)
		return 128 + e->guest_fatal_sig;
	if (WIFEXITED(e->guest_status))
		return WEXITSTATUS(e->guest_status);
	if (WIFSIGNALED(e->guest_status))
		return 128 + WTERMSIG(e->guest_status);
	return -1;
}

/* ---- choosing how cpuid is intercepted ---- */

static const char *const cpuid_mode_names[] = {
	[TRAP_CPUID_AUTO] = "auto", [TRAP_CPUID_FAULT] = "fault",
	[TRAP_CPUID_PATCH] = "patch", [TRAP_CPUID_OFF] = "off",
};

int trap_cpuid_mode_parse(const char *s)
{
	for (size_t i = 0; i < G_N_ELEMENTS(cpuid_mode_names); i++) {
		if (s && !strcmp(s, cpuid_mode_names[i]))
			return (int)i;
	}
	return -1;
}

const char *trap_cpuid_mode_name(enum trap_cpuid_mode m)
{
	return (size_t)m < G_N_ELEMENTS(cpuid_mode_names) ? cpuid_mode_names[m] : "?";
}

/* Faulting is per-thread state, and the hypervisor's own cpuid must stay native. */
int trap_probe_cpuid_faulting(void)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return errno;
	if (pid == 0)
		_exit(syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0) ? (errno & 0xFF) : 0);
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR)
			return ECHILD;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : ECHILD;
}

static void choose_cpuid_mode(struct engine *e, enum trap_cpuid_mode asked)
{
	int err = asked == TRAP_CPUID_OFF ? 0 : trap_probe_cpuid_faulting();
	const char *errname = err ? strerrorname_np(err) : NULL;

	switch (asked) {
	case TRAP_CPUID_AUTO:
		e->cpuid = err ? TRAP_CPUID_PATCH : TRAP_CPUID_FAULT;
		if (err)
			snprintf(e->cpuid_why, sizeof(e->cpuid_why),
				 "CPUID faulting unavailable: %s", errname ? errname : "?");
		else
			snprintf(e->cpuid_why, sizeof(e->cpuid_why), "CPUID faulting available");
		break;
	case TRAP_CPUID_FAULT:
		e->cpuid = TRAP_CPUID_FAULT;
		snprintf(e->cpuid_why, sizeof(e->cpuid_why), err ?
			 "asked for; CPUID faulting unavailable: %s, so cpuid runs natively" :
			 "asked for", errname ? errname : "?");
		break;
	case TRAP_CPUID_PATCH:
		e->cpuid = TRAP_CPUID_PATCH;
		snprintf(e->cpuid_why, sizeof(e->cpuid_why), "asked for; CPUID faulting %s%s",
			 err ? "unavailable: " : "available", err && errname ? errname : "");
		break;
	default:
		e->cpuid = TRAP_CPUID_OFF;
		snprintf(e->cpuid_why, sizeof(e->cpuid_why),
			 "asked for: the guest sees the host's CPU");
		break;
	}
	if (e->cpuid == TRAP_CPUID_FAULT && err)
		g_warning("cpuid: fault (%s)", e->cpuid_why);
	else
		g_message("cpuid: %s (%s)", trap_cpuid_mode_name(e->cpuid), e->cpuid_why);
	publish_cpuid_status(e);
}

/* sandbox_spawn(), with the VMCI device's guest socket added to the shares. */
static int spawn_sandbox(struct vm *vm, const struct trap_options *opt, struct sandbox *sb)
{
	struct trap_share *shares;
	struct trap_options o = *opt;
	int err;

	if (!vmci_guest_socket_path(vm->vmci))
		return sandbox_spawn(opt, sb);
	/* It appears in the guest's /dev, like a share. */
	shares = g_new0(struct trap_share, opt->n_shares + 1);
	if (opt->n_shares)
		memcpy(shares, opt->shares, opt->n_shares * sizeof(*shares));
	shares[opt->n_shares] = (struct trap_share){ vmci_guest_socket_path(vm->vmci),
						     VMCI_GUEST_SOCKET };
	o.shares = shares;
	o.n_shares = opt->n_shares + 1;
	err = sandbox_spawn(&o, sb);
	g_free(shares);
	return err;
}

void trap_engine_cleanup(void)
{
	trap_vdso_cleanup();
}

int trap_engine_run(struct vm *vm, const struct trap_options *opt)
{
	struct engine e = { .vm = vm };
	struct trap_options resolved = *opt;
	struct sandbox sb;
	int ret = -1, wake;
	char why[160];

	/*
	 * Every start-up wait also polls `wake`, which trap_engine_stop()
	 * writes: a stop ends the start-up at any stage.
	 */
	wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (wake < 0) {
		g_warning("eventfd: %s", g_strerror(errno));
		return -1;
	}
	if (publish_wake(wake)) {
		atomic_store(&stop_requested, 0);
		return 128 + SIGKILL;
	}
	/* The sandbox's seccomp filter depends on the mode: decide it first. */
	choose_cpuid_mode(&e, opt->cpuid);
	resolved.cpuid = e.cpuid;
	opt = &resolved;
	e.patcher = e.cpuid == TRAP_CPUID_PATCH ? cpuid_patcher_new() : NULL;
	e.tracees = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, tracee_free);
	e.owners = g_hash_table_new(g_direct_hash, g_direct_equal);
	e.owner_watches = g_ptr_array_new();
	e.vdso_on = trap_vdso_create(&e.vdso, vm->clock, why, sizeof(why));
	if (e.vdso_on) {
		struct stat vst;

		resolved.vdso_dir = e.vdso.dir;
		if (e.patcher && !fstat(e.vdso.fd, &vst))
			cpuid_patcher_own_file(e.patcher, vst.st_dev, vst.st_ino);
		g_message("guest clock: read from a clock page, without a trap");
	} else {
		g_message("guest clock: every read traps (%s)", why);
	}
	if (spawn_sandbox(vm, opt, &sb)) {
		trap_vdso_unlink(&e.vdso);	/* the sandbox never got to it */
		goto out;
	}
	/* The sandbox removes the file from the host once bound (we may not unlink). */
	trap_vdso_forget_path(&e.vdso);
	e.helper = sb.helper;
	publish_helper(sb.helper);
	/* The guest's processes are forked: from here on the engine only traces and emulates. */
	if (thread_filter_install(HV_THREAD_TRAP_ENGINE)) {
		unpublish_helper();
		sandbox_abort(&sb);
		goto out;
	}

	if (sandbox_wait_guest(&sb, wake)) {
		unpublish_helper();
		sandbox_abort(&sb);
		goto out;
	}
	e.guest = sb.guest;
	/* pid 1 waits for `go`: alive and unreaped, its pid is its own until we seize it. */
	if (ptrace(PTRACE_SEIZE, sb.guest, 0, (void *)(long)SEIZE_OPTIONS)) {
		int err = errno;

		g_warning("cannot trace the guest (PTRACE_SEIZE: %s)%s", g_strerror(err),
			  err == EPERM ? ": is ptrace restricted (kernel.yama.ptrace_scope = 3, "
					 "a container without CAP_SYS_PTRACE)?" : "");
		unpublish_helper();
		sandbox_abort(&sb);
		goto out;
	}
	/* Traced now: its exit is ours to reap first, so its pid stays valid. */
	tracee_add(&e, sb.guest)->started = true;	/* seized: no attach stop */
	publish_guest(sb.guest);
	if (sandbox_wait_ready(&sb, wake) || sandbox_go(&sb)) {
		unpublish_helper();
		kill_guest(&e);
		sandbox_close(&sb);
		run_loop(&e);	/* reaps pid 1, then the helper */
		goto out;
	}
	unpublish_helper();
	g_debug("guest pid 1 is host pid %d", (int)sb.guest);
	run_loop(&e);
	ret = exit_code(&e);
	if (ret == -1)
		g_warning("the guest's first process vanished without an exit status");
	g_debug("guest done: %lu instructions emulated", e.traps);
out:
	/* Stopped while it was being set up (or resetting): killed, not broken. */
	if (ret < 0 && atomic_load(&stop_requested))
		ret = 128 + SIGKILL;
	unpublish_guest();
	unpublish_wake(wake);
	atomic_store(&stop_requested, 0);
	g_hash_table_destroy(e.tracees);
	g_hash_table_destroy(e.owners);
	/* The VM is going away: no owner cleanup may run after this. */
	for (guint i = 0; i < e.owner_watches->len; i++) {
		g_source_destroy(e.owner_watches->pdata[i]);
		g_source_unref(e.owner_watches->pdata[i]);
	}
	g_ptr_array_free(e.owner_watches, TRUE);
	cpuid_patcher_free(e.patcher);
	trap_vdso_destroy(&e.vdso);
	return ret;
}
