// SPDX-License-Identifier: MIT
/*
 * A guest program for cpuid interception in the trap engine, by CPUID
 * faulting or by patching (hypervisor/engines/cpuid-patch.h): every place a
 * cpuid can come from must answer as the hypervisor does, and nothing that
 * merely looks like one may change.  TAP output; exit 1 on any failure.
 *
 *   porthole-hv run [--cpuid MODE] -- cpuid-cases [--vendor STRING] [--lib FILE.so]
 *   cpuid-cases --exec-child VENDOR   (what the exec test runs: exit 0 if it sees VENDOR)
 *
 * Built twice: dynamically, and static as cpuid-cases-static (-static: glibc
 * runs its own cpuid before main, with no interpreter to scan).
 */
#include <cpuid.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"

static const char *vendor = "VMwareVMware";

/* The hypervisor vendor leaf, as 12 characters. */
static void hv_vendor(char out[13])
{
	unsigned int a, b, c, d;

	__cpuid(0x40000000, a, b, c, d);
	memcpy(out, &b, 4);
	memcpy(out + 4, &c, 4);
	memcpy(out + 8, &d, 4);
	out[12] = '\0';
}

static bool vendor_ok(void)
{
	char v[13];

	hv_vendor(v);
	return !strcmp(v, vendor);
}

/*
 * Bytes 0F A2 that are not a cpuid: in read-only data, and inside an
 * instruction (the immediate of a mov).  Neither may be patched.
 */
static const volatile uint8_t data_bytes[8] = { 0x0F, 0xA2, 0x0F, 0xA2, 0x90, 0x0F, 0xA2, 0xC3 };

static uint32_t __attribute__((noinline)) imm_holding_cpuid_bytes(void)
{
	uint32_t v;

	/* b8 0f a2 0f a2: mov $0xa20fa20f, %eax */
	__asm__ volatile(".byte 0xb8, 0x0f, 0xa2, 0x0f, 0xa2" : "=a"(v));
	return v;
}

/* A cpuid with a prefix (66 0F A2): the ud2 goes over its last two bytes. */
static bool prefixed_cpuid_ok(void)
{
	unsigned int a = 0x40000000, b, c = 0, d;
	char v[13];

	__asm__ volatile(".byte 0x66, 0x0f, 0xa2" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
	memcpy(v, &b, 4);
	memcpy(v + 4, &c, 4);
	memcpy(v + 8, &d, 4);
	v[12] = '\0';
	return !strcmp(v, vendor);
}

static void test_plain(void)
{
	unsigned int a, b, c, d;

	check(vendor_ok(), "cpuid 0x40000000 in the program says \"%s\"", vendor);
	__cpuid(1, a, b, c, d);
	check(c & (1u << 31), "cpuid 1: the hypervisor-present bit");
	check(prefixed_cpuid_ok(), "a cpuid with a 66 prefix is emulated too");
}

static void test_not_cpuid(void)
{
	static const uint8_t want[8] = { 0x0F, 0xA2, 0x0F, 0xA2, 0x90, 0x0F, 0xA2, 0xC3 };
	const uint8_t *code = (const uint8_t *)(uintptr_t)imm_holding_cpuid_bytes;
	uint8_t now[8];
	bool imm_intact = false;

	for (int i = 0; i < 8; i++)
		now[i] = data_bytes[i];
	check(!memcmp(now, want, 8), "0F A2 bytes in read-only data are left alone");
	check(imm_holding_cpuid_bytes() == 0xA20FA20F,
	      "a mov whose immediate holds 0F A2 still loads 0xa20fa20f");
	for (int i = 0; i < 32; i++) {
		if (code[i] == 0xB8 && code[i + 1] == 0x0F && code[i + 2] == 0xA2 &&
		    code[i + 3] == 0x0F && code[i + 4] == 0xA2)
			imm_intact = true;
	}
	check(imm_intact, "... and its code bytes are unchanged");
}

/* ---- code generated at run time ---- */

/* cpuid; ret, called as uint64_t f(leaf) returning ebx:ecx low halves. */
static const uint8_t jit_code[] = {
	0x53,			/* push rbx */
	0x89, 0xF8,		/* mov eax, edi */
	0x31, 0xC9,		/* xor ecx, ecx */
	0x0F, 0xA2,		/* cpuid */
	0x89, 0xD8,		/* mov eax, ebx */
	0x5B,			/* pop rbx */
	0xC3,			/* ret */
};

static void test_jit(void)
{
	uint8_t *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint32_t (*f)(uint32_t);
	uint32_t ebx;

	if (p == MAP_FAILED) {
		check(false, "JIT: mmap: %s", strerror(errno));
		return;
	}
	/* Some filler first, so the code isn't at the region's start. */
	memset(p, 0x90, 4096);
	memcpy(p + 100, jit_code, sizeof(jit_code));
	if (mprotect(p, 4096, PROT_READ | PROT_EXEC)) {
		check(false, "JIT: mprotect: %s", strerror(errno));
		return;
	}
	f = (uint32_t (*)(uint32_t))(void *)(p + 100);
	ebx = f(0x40000000);
	check(!memcmp(&ebx, vendor, 4),
	      "JIT: code written, then mprotect(PROT_EXEC): its cpuid is emulated");
	/* Made writable and executable again, rewritten: the new code is scanned too. */
	if (mprotect(p, 4096, PROT_READ | PROT_WRITE) == 0) {
		memcpy(p + 2000, jit_code, sizeof(jit_code));
		mprotect(p, 4096, PROT_READ | PROT_EXEC);
		f = (uint32_t (*)(uint32_t))(void *)(p + 2000);
		ebx = f(0x40000000);
		check(!memcmp(&ebx, vendor, 4), "JIT: rewritten and re-protected: emulated");
	}
	munmap(p, 4096);
}

/* ---- a program's own SIGILL handler ---- */

static sigjmp_buf ill_jmp;
static volatile sig_atomic_t ill_seen;
static volatile int ill_code;

static void on_sigill(int sig, siginfo_t *si, void *uc)
{
	ill_seen++;
	ill_code = si->si_code;
	siglongjmp(ill_jmp, 1);
}

static void test_sigill(void)
{
	struct sigaction sa = { .sa_sigaction = on_sigill, .sa_flags = SA_SIGINFO };
	struct sigaction old;

	sigaction(SIGILL, &sa, &old);
	ill_seen = 0;
	if (!sigsetjmp(ill_jmp, 1))
		__asm__ volatile("ud2");
	check(ill_seen == 1 && ill_code == ILL_ILLOPN,
	      "a real ud2 reaches the program's SIGILL handler (ILL_ILLOPN)");
	ill_seen = 0;
	if (!sigsetjmp(ill_jmp, 1))
		raise(SIGILL);
	check(ill_seen == 1 && ill_code == SI_TKILL, "raise(SIGILL) reaches it too");
	ill_seen = 0;
	check(vendor_ok() && !ill_seen, "cpuid with a SIGILL handler installed: emulated, "
	      "the handler never sees it");
	sigaction(SIGILL, &old, NULL);
}

/* ---- threads, fork, exec, dlopen ---- */

static void *thread_main(void *arg)
{
	int ok = 0;

	for (int i = 0; i < 50; i++)
		ok += vendor_ok();
	return (void *)(intptr_t)ok;
}

static void test_threads(void)
{
	pthread_t t[4];
	intptr_t total = 0;

	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, thread_main, NULL);
	for (int i = 0; i < 4; i++) {
		void *r;

		pthread_join(t[i], &r);
		total += (intptr_t)r;
	}
	check(total == 200, "4 threads x 50 cpuid: all emulated (%ld)", (long)total);
}

static void test_fork_exec(const char *self)
{
	pid_t pid;
	int st = -1;

	pid = fork();
	if (pid == 0)
		_exit(vendor_ok() ? 0 : 1);
	check(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "a forked child's cpuid is emulated");
	pid = fork();
	if (pid == 0) {
		/* A grandchild after the child mapped more code: its patches are its own. */
		void *h = dlopen("libm.so.6", RTLD_NOW);

		pid_t g = fork();

		if (g == 0)
			_exit(vendor_ok() ? 0 : 1);
		waitpid(g, &st, 0);
		if (h)
			dlclose(h);
		_exit(WIFEXITED(st) && WEXITSTATUS(st) == 0 && vendor_ok() ? 0 : 1);
	}
	check(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "fork, dlopen, fork again: emulated in both");
	pid = fork();
	if (pid == 0) {
		execl(self, self, "--exec-child", vendor, (char *)NULL);
		_exit(127);
	}
	check(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "fork + exec of a program: its cpuid is emulated (status %d)",
	      WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	pid = vfork();
	if (pid == 0) {
		execl(self, self, "--exec-child", vendor, (char *)NULL);
		_exit(127);
	}
	check(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "vfork + exec: emulated");
}

static void test_dlopen(const char *lib)
{
	void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	uint32_t (*f)(uint32_t);
	uint32_t ebx;

	if (!h) {
		check(false, "dlopen %s: %s", lib, dlerror());
		return;
	}
	f = (uint32_t (*)(uint32_t))dlsym(h, "cpuid_ebx");
	if (!f) {
		check(false, "dlsym cpuid_ebx: %s", dlerror());
		dlclose(h);
		return;
	}
	ebx = f(0x40000000);
	check(!memcmp(&ebx, vendor, 4), "a dlopen'ed library's cpuid is emulated");
	dlclose(h);
}

int main(int argc, char **argv)
{
	const char *lib = NULL;

	if (argc == 3 && !strcmp(argv[1], "--exec-child")) {
		vendor = argv[2];
		return vendor_ok() ? 0 : 1;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--vendor") && i + 1 < argc)
			vendor = argv[++i];
		else if (!strcmp(argv[i], "--lib") && i + 1 < argc)
			lib = argv[++i];
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_plain();
	test_not_cpuid();
	test_jit();
	test_sigill();
	test_threads();
	test_fork_exec("/proc/self/exe");
	if (lib)
		test_dlopen(lib);
	return tap_done();
}
