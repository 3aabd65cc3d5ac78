// SPDX-License-Identifier: MIT
/*
 * Clock syscalls of guest processes, carried out on the guest clock, and
 * the guest vDSO file that spares most of them.  See trap-clock.h.
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
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <sys/uio.h>
#include <sys/user.h>

#include "backdoor/clock-page.h"
#include "hypervisor/guest-clock.h"
#include "hypervisor/host-lacks.h"
#include "trap-clock.h"
#include "trap.h"

G_STATIC_ASSERT((O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY) == 0x80900);

/* The vDSO image (Makefile: $(VDSO)), between these two symbols. */
__asm__(".section .rodata\n"
	"porthole_vdso_image:\n"
	".incbin \"" PORTHOLE_VDSO_IMAGE "\"\n"
	"porthole_vdso_image_end:\n"
	".previous\n");
extern const uint8_t porthole_vdso_image[], porthole_vdso_image_end[];

/*
 * The mapping stub, run by the new program at its exec stop (trap.c):
 *   fd = openat(AT_FDCWD, TRAP_VDSO_GUEST_PATH, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
 *   base = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
 *   mprotect(base + 4096, len - 4096, PROT_READ | PROT_EXEC)	(else munmap)
 *   close(fd); RAX = base or -errno; int3
 * Only data here: the hypervisor never runs it.  `len` is filled in.
 * The engine waits for the stub: the open must not block, whatever the
 * guest put at that path (a FIFO it mounted there), nor make a terminal
 * the process's own.
 */
__asm__(".section .rodata\n"
	".balign 8\n"
	"vdso_stub:\n"
	"	mov $257, %eax\n"
	"	mov $-100, %rdi\n"
	"	lea vdso_stub_path(%rip), %rsi\n"
	"	mov $0x80900, %edx\n"
	"	syscall\n"
	"	mov %rax, %rbx\n"
	"	test %rax, %rax\n"
	"	js 9f\n"
	"	mov %rax, %r8\n"
	"	mov $9, %eax\n"
	"	xor %edi, %edi\n"
	"	mov vdso_stub_len(%rip), %rsi\n"
	"	mov $1, %edx\n"
	"	mov $1, %r10d\n"
	"	xor %r9d, %r9d\n"
	"	syscall\n"
	"	mov %rax, %rbx\n"
	"	cmp $-4095, %rax\n"
	"	jae 8f\n"
	"	mov $10, %eax\n"
	"	lea 4096(%rbx), %rdi\n"
	"	mov vdso_stub_len(%rip), %rsi\n"
	"	sub $4096, %rsi\n"
	"	mov $5, %edx\n"
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jz 8f\n"
	"	mov %rax, %r12\n"
	"	mov $11, %eax\n"
	"	mov %rbx, %rdi\n"
	"	mov vdso_stub_len(%rip), %rsi\n"
	"	syscall\n"
	"	mov %r12, %rbx\n"
	"8:	mov $3, %eax\n"
	"	mov %r8, %rdi\n"
	"	syscall\n"
	"9:	mov %rbx, %rax\n"
	"	int3\n"
	"vdso_stub_done:\n"
	"vdso_stub_path:\n"
	"	.asciz \"" TRAP_VDSO_GUEST_PATH "\"\n"
	"	.balign 8\n"
	"vdso_stub_len:\n"
	"	.quad 0\n"
	"vdso_stub_end:\n"
	".previous\n");
extern const uint8_t vdso_stub[], vdso_stub_done[], vdso_stub_len[], vdso_stub_end[];

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

bool trap_clock_set_vdso(pid_t tid, uint64_t ehdr)
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
			uint64_t pair[2] = { ehdr ? AT_SYSINFO_EHDR : AT_IGNORE, ehdr };
			struct iovec local = { pair, sizeof(pair) };
			struct iovec remote = { (void *)(uintptr_t)(r.sp + i * 8), sizeof(pair) };

			return process_vm_writev(tid, &local, 1, &remote, 1, 0) == sizeof(pair);
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

/* ---- the guest vDSO file ---- */

/* Whether the first "flags" line of /proc/cpuinfo names `flag` (a whole word). */
static bool cpu_flag(const char *cpuinfo, const char *flag)
{
	const char *line = strstr(cpuinfo, "\nflags");
	g_auto(GStrv) words = NULL;
	g_autofree char *flags = NULL;
	const char *colon, *end;

	if (!line || !(colon = strchr(line + 1, ':')))
		return false;
	end = strchr(colon, '\n');
	flags = end ? g_strndup(colon + 1, (gsize)(end - colon - 1)) : g_strdup(colon + 1);
	words = g_strsplit(flags, " ", -1);
	return g_strv_contains((const char *const *)words, flag);
}

/* Whether guest clock reads may skip the trap here; if not, why. */
static bool tsc_usable(char *why, size_t why_len)
{
	g_autofree char *source = NULL, *cpuinfo = NULL;
	const char *mode = g_getenv("PORTHOLE_GUEST_CLOCK");

	if (mode && !strcmp(mode, "trap")) {
		snprintf(why, why_len, "PORTHOLE_GUEST_CLOCK=trap");
		return false;
	}
	/*
	 * The page extrapolates the TSC, so the host's clock must be the TSC
	 * or a clock KVM derives from it (kvm-clock: a nested or microVM host,
	 * whose TSC the flags below still vouch for).  hpet, acpi_pm and the
	 * like mean the kernel found the TSC unfit.
	 */
	if (!g_file_get_contents("/sys/devices/system/clocksource/clocksource0/current_clocksource",
				 &source, NULL, NULL) ||
	    (strcmp(g_strstrip(source), "tsc") && strcmp(source, "kvm-clock"))) {
		snprintf(why, why_len, "the host's clocksource is %s, not the TSC or kvm-clock",
			 source ? source : "unknown");
		return false;
	}
	/* Every CPU lists the same flags: the first "flags" line is enough. */
	if (!g_file_get_contents("/proc/cpuinfo", &cpuinfo, NULL, NULL) ||
	    !cpu_flag(cpuinfo, "constant_tsc") || !cpu_flag(cpuinfo, "nonstop_tsc")) {
		snprintf(why, why_len, "the TSC is not invariant (no constant_tsc, nonstop_tsc)");
		return false;
	}
	return true;
}

/*
 * A new 0700 directory for the file, on a filesystem mounted without
 * noexec: the guest's bind of the file keeps the host mount's flags (it
 * may not clear them), and the image in it is mapped executable.  NULL
 * with why not in `why`.  PORTHOLE_HOST_LACKS=vdso-dir takes every
 * candidate as noexec.
 */
static char *make_private_dir(char *why, size_t why_len)
{
	const char *bases[] = { g_getenv("XDG_RUNTIME_DIR"), g_get_tmp_dir(), "/dev/shm" };
	bool forced = host_lacks(HOST_VDSO_DIR);

	snprintf(why, why_len, "%s", forced ? HOST_LACKS_WHY : "all noexec");
	for (size_t i = 0; i < G_N_ELEMENTS(bases); i++) {
		struct statvfs st;
		char *dir;

		if (!bases[i] || bases[i][0] != '/' || statvfs(bases[i], &st) ||
		    (st.f_flag & ST_NOEXEC) || forced)
			continue;
		dir = g_build_filename(bases[i], "porthole-vdso-XXXXXX", NULL);
		if (g_mkdtemp_full(dir, 0700))
			return dir;
		snprintf(why, why_len, "%s: %s", dir, g_strerror(errno));
		g_free(dir);
	}
	return NULL;
}

bool trap_vdso_create(struct trap_vdso *v, struct guest_clock *c, char *why, size_t why_len)
{
	size_t image = (size_t)(porthole_vdso_image_end - porthole_vdso_image);
	char dir_why[256];
	void *page;

	memset(v, 0, sizeof(*v));
	v->fd = -1;
	if (!tsc_usable(why, why_len))
		return false;
	v->size = PH_CLOCK_PAGE_SIZE + ((image + 4095) & ~(size_t)4095);
	/* A private directory: nobody else on the host can swap the file under us. */
	v->dir = make_private_dir(dir_why, sizeof(dir_why));
	if (!v->dir) {
		snprintf(why, why_len, "no exec-capable directory to make its file in: %s",
			 dir_why);
		return false;
	}
	v->path = g_build_filename(v->dir, TRAP_VDSO_FILE_NAME, NULL);
	v->fd = open(v->path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
	if (v->fd < 0 || ftruncate(v->fd, (off_t)v->size) ||
	    pwrite(v->fd, porthole_vdso_image, image, PH_CLOCK_PAGE_SIZE) != (ssize_t)image) {
		snprintf(why, why_len, "cannot write %s: %s", v->path, g_strerror(errno));
		trap_vdso_unlink(v);
		trap_vdso_destroy(v);
		return false;
	}
	page = mmap(NULL, PH_CLOCK_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (page == MAP_FAILED) {
		snprintf(why, why_len, "cannot map %s: %s", v->path, g_strerror(errno));
		trap_vdso_unlink(v);
		trap_vdso_destroy(v);
		return false;
	}
	v->page = page;
	v->clock = c;
	if (!guest_clock_use_page(c, v->page, true)) {
		snprintf(why, why_len, "the TSC could not be calibrated");
		trap_vdso_unlink(v);
		trap_vdso_destroy(v);
		return false;
	}
	return true;
}

void trap_vdso_unlink(struct trap_vdso *v)
{
	if (v->path)
		g_unlink(v->path);
	if (v->dir)
		g_rmdir(v->dir);
	g_clear_pointer(&v->path, g_free);
	g_clear_pointer(&v->dir, g_free);
}

/*
 * The directory of the last file the sandbox was to remove, for
 * trap_vdso_cleanup(): a sandbox stopped before it got there leaves it.
 * Set by the engine thread, read once it is joined.
 */
static char *left_dir;

void trap_vdso_forget_path(struct trap_vdso *v)
{
	if (v->dir) {
		g_free(left_dir);
		left_dir = g_steal_pointer(&v->dir);
	}
	g_clear_pointer(&v->path, g_free);
}

void trap_vdso_cleanup(void)
{
	g_autofree char *file = NULL;

	if (!left_dir)
		return;
	/* unlinkat: what the control thread's filter allows (no rmdir); gone already is fine */
	file = g_build_filename(left_dir, TRAP_VDSO_FILE_NAME, NULL);
	unlinkat(AT_FDCWD, file, 0);
	unlinkat(AT_FDCWD, left_dir, AT_REMOVEDIR);
	g_clear_pointer(&left_dir, g_free);
}

void trap_vdso_destroy(struct trap_vdso *v)
{
	if (v->clock)
		guest_clock_drop_page(v->clock);
	if (v->page)
		munmap(v->page, PH_CLOCK_PAGE_SIZE);
	if (v->fd >= 0)
		close(v->fd);
	trap_vdso_forget_path(v);
	memset(v, 0, sizeof(*v));
	v->fd = -1;
}

size_t trap_vdso_stub(const struct trap_vdso *v, uint8_t *buf, size_t *done_offset)
{
	size_t len = (size_t)(vdso_stub_end - vdso_stub);
	uint64_t map_len = v->size;

	G_STATIC_ASSERT(TRAP_VDSO_STUB_MAX % 8 == 0);
	if (len > TRAP_VDSO_STUB_MAX || len % 8)
		return 0;
	memcpy(buf, vdso_stub, len);
	memcpy(buf + (vdso_stub_len - vdso_stub), &map_len, sizeof(map_len));
	*done_offset = (size_t)(vdso_stub_done - vdso_stub);
	return len;
}
