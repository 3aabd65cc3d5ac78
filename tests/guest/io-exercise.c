// SPDX-License-Identifier: MIT
/*
 * A guest program for the trap engine: every form of in/out/ins/outs, cpuid,
 * faults, and what the sandbox forbids, checked against testdev
 * (hypervisor/devices/testdev.c).  TAP output; exit 1 on any failure.
 *
 *   porthole-hv run -- build/tests/guest/io-exercise [--vendor STRING]
 *   porthole-hv run -- build/tests/guest/io-exercise --bench N
 *
 * Run natively it stops at the first `in` ("Bail out!").
 */
#include <asm/prctl.h>
#include <cpuid.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "tap.h"

/* testdev ports */
#define TD_SCRATCH	0xE0
#define TD_FIFO		0xE4
#define TD_FIFOCNT	0xE5
#define TD_COUNTER	0xE8
#define PORT_NONE	0x80	/* no device: reads all ones */

static const char *vendor = "VMwareVMware";

/* ---- port access ---- */

static inline void outb_dx(uint16_t port, uint8_t v)
{
	asm volatile("outb %%al, %%dx" : : "a"(v), "d"(port));
}

static inline void outw_dx(uint16_t port, uint16_t v)
{
	asm volatile("outw %%ax, %%dx" : : "a"(v), "d"(port));
}

static inline void outl_dx(uint16_t port, uint32_t v)
{
	asm volatile("outl %%eax, %%dx" : : "a"(v), "d"(port));
}

static inline uint8_t inb_dx(uint16_t port)
{
	uint8_t v;

	asm volatile("inb %%dx, %%al" : "=a"(v) : "d"(port));
	return v;
}

static inline uint16_t inw_dx(uint16_t port)
{
	uint16_t v;

	asm volatile("inw %%dx, %%ax" : "=a"(v) : "d"(port));
	return v;
}

static inline uint32_t inl_dx(uint16_t port)
{
	uint32_t v;

	asm volatile("inl %%dx, %%eax" : "=a"(v) : "d"(port));
	return v;
}

static void fifo_clear(void)
{
	outb_dx(TD_FIFOCNT, 0);
}

static uint32_t fifo_count(void)
{
	return inl_dx(TD_FIFOCNT);
}

/* rep ins/outs with explicit registers in and out; df sets the direction flag. */
#define INS_OP(fn, mn)								\
static void fn(uint16_t port, uint64_t *rdi, uint64_t *rcx, bool df)		\
{										\
	uint64_t d = *rdi, c = *rcx;						\
	if (df)									\
		asm volatile("std\n\trep " mn "\n\tcld"				\
			     : "+D"(d), "+c"(c) : "d"(port) : "memory", "cc");	\
	else									\
		asm volatile("rep " mn : "+D"(d), "+c"(c) : "d"(port) : "memory"); \
	*rdi = d;								\
	*rcx = c;								\
}
#define OUTS_OP(fn, mn)								\
static void fn(uint16_t port, uint64_t *rsi, uint64_t *rcx, bool df)		\
{										\
	uint64_t s = *rsi, c = *rcx;						\
	if (df)									\
		asm volatile("std\n\trep " mn "\n\tcld"				\
			     : "+S"(s), "+c"(c) : "d"(port) : "memory", "cc");	\
	else									\
		asm volatile("rep " mn : "+S"(s), "+c"(c) : "d"(port) : "memory"); \
	*rsi = s;								\
	*rcx = c;								\
}
INS_OP(rep_insb, "insb")
INS_OP(rep_insw, "insw")
INS_OP(rep_insl, "insl")
OUTS_OP(rep_outsb, "outsb")
OUTS_OP(rep_outsw, "outsw")
OUTS_OP(rep_outsl, "outsl")

/* ---- faults ---- */

static sigjmp_buf fault_env;
static volatile sig_atomic_t fault_armed;
static struct {
	int signo, code;
	void *addr;
	uint64_t rip, rsi, rdi, rcx;
} fault;

static void on_fault(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;

	if (!fault_armed) {
		signal(sig, SIG_DFL);
		return;		/* re-executes and dies the default way */
	}
	fault.signo = sig;
	fault.code = si->si_code;
	fault.addr = si->si_addr;
	fault.rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
	fault.rsi = (uint64_t)uc->uc_mcontext.gregs[REG_RSI];
	fault.rdi = (uint64_t)uc->uc_mcontext.gregs[REG_RDI];
	fault.rcx = (uint64_t)uc->uc_mcontext.gregs[REG_RCX];
	fault_armed = 0;
	siglongjmp(fault_env, 1);
}

#define TRY_FAULT()	(memset(&fault, 0, sizeof(fault)), fault_armed = 1, sigsetjmp(fault_env, 1))
#define END_TRY()	(fault_armed = 0)

/* ---- cpuid ---- */

static bool cpuid_vendor_is(const char *want)
{
	unsigned int a, b, c, d;
	char v[13];

	__cpuid(0x40000000, a, b, c, d);
	memcpy(v, &b, 4);
	memcpy(v + 4, &c, 4);
	memcpy(v + 8, &d, 4);
	v[12] = '\0';
	return !strcmp(v, want) && a >= 0x40000000;
}

static bool cpuid_hv_bit(void)
{
	unsigned int a, b, c, d;

	__cpuid(1, a, b, c, d);
	return c & (1u << 31);
}

/* ---- tests ---- */

static void test_scratch(void)
{
	uint64_t rax;
	uint32_t v;

	asm volatile("outl %%eax, $0xE0" : : "a"(0xDEADBEEFu));
	asm volatile("inl $0xE0, %%eax" : "=a"(v));
	check(v == 0xDEADBEEF, "outl/inl imm8 round trip (0x%08x)", v);

	rax = 0x1122334455667788ull;
	asm volatile("inb $0xE0, %%al" : "+a"(rax));
	check(rax == 0x11223344556677EFull, "inb imm8 merges into AL only (0x%016llx)",
	      (unsigned long long)rax);
	rax = 0x1122334455667788ull;
	asm volatile("inw $0xE0, %%ax" : "+a"(rax));
	check(rax == 0x112233445566BEEFull, "inw imm8 merges into AX only (0x%016llx)",
	      (unsigned long long)rax);
	rax = 0x1122334455667788ull;
	asm volatile("inl $0xE0, %%eax" : "+a"(rax));
	check(rax == 0xDEADBEEFull, "inl imm8 zero-extends RAX (0x%016llx)",
	      (unsigned long long)rax);

	asm volatile("outw %%ax, $0xE0" : : "a"(0x1234));
	check(inl_dx(TD_SCRATCH) == 0xDEAD1234, "outw imm8 writes the low 16 bits");
	asm volatile("outb %%al, $0xE0" : : "a"(0x56));
	check(inl_dx(TD_SCRATCH) == 0xDEAD1256, "outb imm8 writes the low 8 bits");

	outl_dx(TD_SCRATCH, 0x11223344);
	check(inb_dx(TD_SCRATCH + 2) == 0x22, "inb dx reads a byte lane");
	outb_dx(TD_SCRATCH + 1, 0xAA);
	check(inl_dx(TD_SCRATCH) == 0x1122AA44, "outb dx writes a byte lane");
	check(inw_dx(TD_SCRATCH + 2) == 0x1122, "inw dx at an odd lane");
	outw_dx(TD_SCRATCH, 0xBEEF);
	check(inl_dx(TD_SCRATCH) == 0x1122BEEF, "outw dx");
	rax = 0xFFFFFFFFFFFFFFFFull;
	asm volatile("inw %%dx, %%ax" : "+a"(rax) : "d"((uint16_t)TD_SCRATCH));
	check(rax == 0xFFFFFFFFFFFFBEEFull, "inw dx merges into AX only");
}

static void test_no_device(void)
{
	uint8_t b;
	uint32_t l;

	asm volatile("inb $0x80, %%al" : "=a"(b));
	check(b == 0xFF, "inb from a port without a device reads 0xff");
	l = inl_dx(0x1234);
	check(l == 0xFFFFFFFF, "inl dx from a port without a device reads all ones");
	asm volatile("outb %%al, $0x80" : : "a"(0));
	outl_dx(0x1234, 0);
	check(true, "out to a port without a device is dropped");
}

static void test_counter(void)
{
	uint32_t a = inl_dx(TD_COUNTER), b;

	b = inl_dx(TD_COUNTER);
	check(b == a + 1, "the access counter counts (%u -> %u)", a, b);
	outl_dx(TD_COUNTER, 1000);
	b = inl_dx(TD_COUNTER);
	check(b == 1000, "the access counter can be set");
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

static void test_strings(void)
{
	static uint8_t src[4096], dst[4096];
	uint64_t s, d, c;

	fifo_clear();
	fill(src, sizeof(src), 1);

	/* byte, DF=0 */
	s = (uint64_t)src;
	c = 100;
	rep_outsb(TD_FIFO, &s, &c, false);
	check(c == 0 && s == (uint64_t)src + 100, "rep outsb: RCX 0, RSI advanced");
	check(fifo_count() == 100, "rep outsb moved 100 bytes");
	memset(dst, 0, sizeof(dst));
	d = (uint64_t)dst;
	c = 100;
	rep_insb(TD_FIFO, &d, &c, false);
	check(c == 0 && d == (uint64_t)dst + 100, "rep insb: RCX 0, RDI advanced");
	check(!memcmp(src, dst, 100) && dst[100] == 0, "rep insb read back what outsb wrote");

	/* word */
	s = (uint64_t)src;
	c = 50;
	rep_outsw(TD_FIFO, &s, &c, false);
	check(c == 0 && s == (uint64_t)src + 100 && fifo_count() == 100, "rep outsw");
	memset(dst, 0, sizeof(dst));
	d = (uint64_t)dst;
	c = 50;
	rep_insw(TD_FIFO, &d, &c, false);
	check(c == 0 && d == (uint64_t)dst + 100 && !memcmp(src, dst, 100), "rep insw");

	/* dword, large */
	s = (uint64_t)src;
	c = 1024;
	rep_outsl(TD_FIFO, &s, &c, false);
	check(c == 0 && s == (uint64_t)src + 4096 && fifo_count() == 4096, "rep outsl x1024");
	memset(dst, 0, sizeof(dst));
	d = (uint64_t)dst;
	c = 1024;
	rep_insl(TD_FIFO, &d, &c, false);
	check(c == 0 && d == (uint64_t)dst + 4096 && !memcmp(src, dst, 4096), "rep insl x1024");

	/* single elements, no rep */
	s = (uint64_t)src;
	asm volatile("outsb" : "+S"(s) : "d"((uint16_t)TD_FIFO) : "memory");
	asm volatile("outsl" : "+S"(s) : "d"((uint16_t)TD_FIFO) : "memory");
	check(s == (uint64_t)src + 5 && fifo_count() == 5, "outsb, outsl without rep");
	d = (uint64_t)dst;
	asm volatile("insl" : "+D"(d) : "d"((uint16_t)TD_FIFO) : "memory");
	asm volatile("insb" : "+D"(d) : "d"((uint16_t)TD_FIFO) : "memory");
	check(d == (uint64_t)dst + 5 && !memcmp(src, dst, 5) && fifo_count() == 0,
	      "insl, insb without rep");

	/* DF=1: backwards */
	s = (uint64_t)src + 99;
	c = 100;
	rep_outsb(TD_FIFO, &s, &c, true);
	check(c == 0 && s == (uint64_t)src - 1, "std; rep outsb: RSI moves down");
	memset(dst, 0, sizeof(dst));
	d = (uint64_t)dst;
	c = 100;
	rep_insb(TD_FIFO, &d, &c, false);
	{
		bool rev = true;

		for (int i = 0; i < 100; i++)
			rev &= dst[i] == src[99 - i];
		check(rev, "std; rep outsb sent the bytes last to first");
	}
	s = (uint64_t)src;
	c = 8;
	rep_outsw(TD_FIFO, &s, &c, false);
	memset(dst, 0, sizeof(dst));
	d = (uint64_t)dst + 14;
	c = 8;
	rep_insw(TD_FIFO, &d, &c, true);
	{
		bool rev = true;
		uint16_t *sw = (uint16_t *)src, *dw = (uint16_t *)dst;

		for (int i = 0; i < 8; i++)
			rev &= dw[i] == sw[7 - i];
		check(rev && c == 0 && d == (uint64_t)dst - 2, "std; rep insw fills last to first");
	}
	s = (uint64_t)src + 12;
	c = 4;
	rep_outsl(TD_FIFO, &s, &c, true);
	d = (uint64_t)dst + 12;
	c = 4;
	rep_insl(TD_FIFO, &d, &c, true);
	check(c == 0 && d == (uint64_t)dst - 4 && !memcmp(src, dst, 16),
	      "std; rep outsl + std; rep insl round trip");
	{
		uint64_t fl;

		asm volatile("pushfq; popq %0" : "=r"(fl));
		check(!(fl & (1u << 10)), "DF is clear again");
	}

	/* RCX = 0: nothing happens */
	outb_dx(TD_FIFO, 0x5A);
	memset(dst, 0, sizeof(dst));
	d = (uint64_t)dst;
	c = 0;
	rep_insb(TD_FIFO, &d, &c, false);
	check(c == 0 && d == (uint64_t)dst && dst[0] == 0 && fifo_count() == 1,
	      "rep insb with RCX = 0 does nothing");
	s = (uint64_t)src;
	c = 0;
	rep_outsl(TD_FIFO, &s, &c, false);
	check(s == (uint64_t)src && fifo_count() == 1, "rep outsl with RCX = 0 does nothing");
	fifo_clear();
}

static void test_addr32(void)
{
	uint8_t *low = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	uint64_t d, c;

	if (low == MAP_FAILED) {
		check(false, "mmap MAP_32BIT: %s", strerror(errno));
		return;
	}
	fifo_clear();
	for (int i = 0; i < 5; i++)
		outb_dx(TD_FIFO, (uint8_t)(0x30 + i));
	d = (uint64_t)low;
	c = (1ull << 32) | 3;	/* with 0x67 only ECX counts */
	asm volatile(".byte 0x67\n\trep insb" : "+D"(d), "+c"(c) : "d"((uint16_t)TD_FIFO)
		     : "memory");
	check(low[0] == 0x30 && low[1] == 0x31 && low[2] == 0x32 && low[3] == 0,
	      "addr32 rep insb moved ECX = 3 bytes, not RCX");
	check((uint32_t)c == 0 && (uint32_t)d == (uint32_t)(uint64_t)low + 3,
	      "addr32 rep insb: ECX 0, EDI advanced");
	check(fifo_count() == 2, "two bytes left in the FIFO");
	{
		uint64_t s = (uint64_t)low;

		c = 2;
		asm volatile(".byte 0x67\n\trep outsb" : "+S"(s), "+c"(c)
			     : "d"((uint16_t)TD_FIFO) : "memory");
		check((uint32_t)c == 0 && fifo_count() == 4, "addr32 rep outsb");
	}
	fifo_clear();
	munmap(low, 4096);
}

static __thread uint8_t tls_bytes[8] = { 0xF5, 0xF5, 0xF5, 0xF5, 0xF5, 0xF5, 0xF5, 0xF5 };

static void test_fs_override(void)
{
	uint64_t fsbase, off, c = 8;
	uint8_t back[8] = { 0 };
	uint64_t d = (uint64_t)back, c2 = 8;

	for (int i = 0; i < 8; i++)
		tls_bytes[i] = (uint8_t)(0x70 + i);
	asm volatile("movq %%fs:0, %0" : "=r"(fsbase));
	off = (uint64_t)tls_bytes - fsbase;
	fifo_clear();
	asm volatile("rep outsb %%fs:(%%rsi), (%%dx)" : "+S"(off), "+c"(c)
		     : "d"((uint16_t)TD_FIFO) : "memory");
	rep_insb(TD_FIFO, &d, &c2, false);
	check(c == 0 && !memcmp(back, tls_bytes, 8),
	      "rep outsb with an FS override reads fs:[rsi]");
}

/* Hidden from the compiler (and UBSan), which would otherwise not emit the store. */
static int *volatile null_ptr;

static void test_faults(void)
{
	uint8_t *volatile p;
	long pg = sysconf(_SC_PAGESIZE);

	/* outs from an unmapped page */
	p = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(p, (size_t)pg);
	fifo_clear();
	if (!TRY_FAULT()) {
		uint64_t s = (uint64_t)p, c = 4;

		asm volatile("rep outsb" : "+S"(s), "+c"(c) : "d"((uint16_t)TD_FIFO) : "memory");
		END_TRY();
		check(false, "rep outsb from an unmapped page faults");
	} else {
		const uint8_t *ip = (const uint8_t *)fault.rip;

		check(fault.signo == SIGSEGV, "rep outsb from an unmapped page: SIGSEGV");
		check(fault.rcx == 4 && fault.rsi == (uint64_t)p, "  with no progress (RCX %llu)",
		      (unsigned long long)fault.rcx);
		check(ip[0] == 0xF3 && ip[1] == 0x6E, "  and RIP on the instruction");
		check(fifo_count() == 0, "  and nothing sent");
	}

	/* rep insb running into a read-only page */
	p = mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(p, 0, 2 * (size_t)pg);
	mprotect(p + pg, (size_t)pg, PROT_READ);
	fifo_clear();
	for (int i = 0; i < 10; i++)
		outb_dx(TD_FIFO, (uint8_t)(0x10 + i));
	if (!TRY_FAULT()) {
		uint64_t d = (uint64_t)(p + pg - 3), c = 10;

		asm volatile("rep insb" : "+D"(d), "+c"(c) : "d"((uint16_t)TD_FIFO) : "memory");
		END_TRY();
		check(false, "rep insb into a read-only page faults");
	} else {
		uint32_t left = fifo_count();

		check(fault.signo == SIGSEGV, "rep insb into a read-only page: SIGSEGV");
		check(fault.rcx == 7 && fault.rdi == (uint64_t)(p + pg),
		      "  after 3 bytes: RCX 7, RDI at the read-only page (RCX %llu)",
		      (unsigned long long)fault.rcx);
		check(p[pg - 3] == 0x10 && p[pg - 2] == 0x11 && p[pg - 1] == 0x12 && p[pg] == 0,
		      "  the 3 bytes landed, the read-only page is untouched");
		check(left == 7 || left == 6, "  the FIFO holds the rest (%u bytes)", left);
	}
	munmap(p, 2 * (size_t)pg);
	fifo_clear();

	/* Real faults still reach the program the way the CPU reports them. */
	if (!TRY_FAULT()) {
		asm volatile("movl $1, (%0)" : : "r"(null_ptr) : "memory");
		END_TRY();
		check(false, "a null-pointer write faults");
	} else {
		check(fault.signo == SIGSEGV && fault.code == SEGV_MAPERR && fault.addr == NULL,
		      "a null-pointer write: SIGSEGV, SEGV_MAPERR, si_addr 0 (code %d)",
		      fault.code);
	}
	if (!TRY_FAULT()) {
		kill(getpid(), SIGSEGV);
		END_TRY();
		check(false, "kill(self, SIGSEGV) arrives");
	} else {
		check(fault.signo == SIGSEGV && fault.code == SI_USER,
		      "kill(self, SIGSEGV) arrives as SI_USER (code %d)", fault.code);
	}
	if (!TRY_FAULT()) {
		asm volatile("hlt");
		END_TRY();
		check(false, "hlt faults");
	} else {
		check(fault.signo == SIGSEGV && fault.code == SI_KERNEL,
		      "hlt (not emulated) faults as SI_KERNEL, as natively");
	}
}

static void test_cpuid(void)
{
	pid_t pid;
	int st;

	check(cpuid_vendor_is(vendor), "cpuid 0x40000000 says \"%s\"", vendor);
	check(cpuid_hv_bit(), "cpuid 1: ECX bit 31 (hypervisor present)");
	/* CPUID_MODE (set by the test): how the engine intercepts cpuid in this run. */
	if (getenv("CPUID_MODE") && !strcmp(getenv("CPUID_MODE"), "patch"))
		check(syscall(SYS_arch_prctl, ARCH_GET_CPUID, 0) == 1,
		      "CPUID faulting is off (cpuid is patched, yet emulated)");
	else
		check(syscall(SYS_arch_prctl, ARCH_GET_CPUID, 0) == 0, "CPUID faulting is on");

	pid = fork();
	if (pid == 0)
		_exit(cpuid_vendor_is(vendor) ? 0 : 1);
	check(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "a forked child sees the emulated cpuid");

	pid = fork();
	if (pid == 0) {
		execl("/proc/self/exe", "io-exercise", "--cpuid-child", vendor, (char *)NULL);
		_exit(2);
	}
	check(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "a fork+exec'd child sees the emulated cpuid (status %d)",
	      WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static void *thread_io(void *arg)
{
	for (int i = 0; i < 500; i++)
		(void)inl_dx(TD_COUNTER);
	return arg;
}

static void test_threads(void)
{
	pthread_t th[4];
	uint32_t a, b;

	a = inl_dx(TD_COUNTER);
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, thread_io, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	b = inl_dx(TD_COUNTER);
	check(b - a == 2001, "4 threads x 500 in: every one emulated (%u)", b - a);
}

static void test_sandbox(void)
{
	long r;

	errno = 0;
	r = ptrace(PTRACE_TRACEME, 0, NULL, NULL);
	check(r == -1 && errno == EPERM, "sandbox: ptrace is refused");
	errno = 0;
	r = syscall(SYS_arch_prctl, ARCH_SET_CPUID, 1);
	check(r == -1 && errno == EPERM, "sandbox: CPUID faulting cannot be turned off");
	errno = 0;
	r = syscall(SYS_arch_prctl, ARCH_SET_CPUID, 1ull << 32);
	check(r == -1 && errno == EPERM, "sandbox: ... not even with only high bits set");
	errno = 0;
	r = syscall(SYS_clone, CLONE_UNTRACED | SIGCHLD, 0, 0, 0, 0);
	if (r == 0)
		_exit(0);
	check(r == -1 && errno == EPERM, "sandbox: clone(CLONE_UNTRACED) is refused");
	errno = 0;
	r = syscall(SYS_clone3, NULL, 0);
	check(r == -1 && errno == ENOSYS, "sandbox: clone3 is ENOSYS (glibc falls back to clone)");
	check(getpid() == 1 || getppid() != 0, "sandbox: in a pid namespace (pid %d)", getpid());
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int bench(long n)
{
	double t0, t1, t2, t3;

	t0 = now();
	for (long i = 0; i < n; i++)
		asm volatile("outb %%al, $0x80" : : "a"(0));
	t1 = now();
	for (long i = 0; i < n; i++)
		(void)inl_dx(TD_COUNTER);
	t2 = now();
	for (long i = 0; i < n; i++) {
		unsigned int a, b, c, d;

		__cpuid(0, a, b, c, d);
		asm volatile("" : : "r"(a), "r"(b), "r"(c), "r"(d));
	}
	t3 = now();
	printf("out 0x80 (no device): %ld traps, %.1f us each\n", n, (t1 - t0) / (double)n * 1e6);
	printf("in 0xE8 (testdev):    %ld traps, %.1f us each\n", n, (t2 - t1) / (double)n * 1e6);
	printf("cpuid:                %ld traps, %.1f us each\n", n, (t3 - t2) / (double)n * 1e6);
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_sigaction = on_fault, .sa_flags = SA_SIGINFO | SA_NODEFER };

	if (argc == 3 && !strcmp(argv[1], "--cpuid-child"))
		return cpuid_vendor_is(argv[2]) ? 0 : 1;
	if (argc == 3 && !strcmp(argv[1], "--vendor"))
		vendor = argv[2];

	sigaction(SIGSEGV, &sa, NULL);
	if (!TRY_FAULT()) {
		(void)inl_dx(TD_COUNTER);
		END_TRY();
	} else {
		printf("Bail out! `in` faults: not running under porthole-hv\n");
		return 1;
	}
	if (argc == 3 && !strcmp(argv[1], "--bench"))
		return bench(atol(argv[2]));

	test_scratch();
	test_no_device();
	test_counter();
	test_strings();
	test_addr32();
	test_fs_override();
	test_faults();
	test_cpuid();
	test_threads();
	test_sandbox();
	return tap_done();
}
