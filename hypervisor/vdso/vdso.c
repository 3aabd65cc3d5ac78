// SPDX-License-Identifier: MIT
/*
 * The guest's vDSO (trap engine): a small ELF shared object the engine maps
 * into every guest process in place of the kernel's, with the functions
 * glibc looks up there (LINUX_2.6 versions, as the kernel's x86-64 vDSO
 * exports them).  Clock reads come from the clock page
 * (backdoor/clock-page.h), mapped read-only one page below this image, so
 * they cost an rdtsc and some arithmetic instead of a ptrace stop.  What the
 * page cannot answer (no TSC calibration, clocks the guest clock does not
 * keep) is the real syscall, which the seccomp filter hands to the engine
 * or the kernel as before.
 *
 * Freestanding and position-independent, no relocations (glibc does not
 * relocate a vDSO): the page is reached PC-relative through a symbol the
 * linker script (vdso.lds) places one page before the image.
 */
#include <stddef.h>
#include <stdint.h>

#include "backdoor/clock-page.h"

#define NR_gettimeofday		96
#define NR_time			201
#define NR_clock_gettime	228
#define NR_clock_getres		229
#define NR_getcpu		309

struct vdso_timespec {
	int64_t tv_sec, tv_nsec;
};

struct vdso_timeval {
	int64_t tv_sec, tv_usec;
};

extern const volatile struct ph_clock_page ph_clock_page __attribute__((visibility("hidden")));

static long vdso_syscall3(long nr, long a, long b, long c)
{
	long ret;

	__asm__ __volatile__("syscall"
			     : "=a"(ret)
			     : "a"(nr), "D"(a), "S"(b), "d"(c)
			     : "rcx", "r11", "memory");
	return ret;
}

static void split(int64_t ns, int64_t *sec, int64_t *nsec)
{
	*sec = ns / PH_CLOCK_NSEC;
	*nsec = ns % PH_CLOCK_NSEC;
	if (*nsec < 0) {
		(*sec)--;
		*nsec += PH_CLOCK_NSEC;
	}
}

int __vdso_clock_gettime(int id, struct vdso_timespec *ts)
{
	int64_t ns;

	if (ph_clock_page_read(&ph_clock_page, id, &ns))
		return (int)vdso_syscall3(NR_clock_gettime, id, (long)ts, 0);
	split(ns, &ts->tv_sec, &ts->tv_nsec);
	return 0;
}

int __vdso_gettimeofday(struct vdso_timeval *tv, void *tz)
{
	int64_t ns, nsec;

	/* A time zone is asked for (the kernel's, never set in a guest): the syscall. */
	if (tz || ph_clock_page_read(&ph_clock_page, PH_CLOCK_REALTIME, &ns))
		return (int)vdso_syscall3(NR_gettimeofday, (long)tv, (long)tz, 0);
	if (tv) {
		split(ns, &tv->tv_sec, &nsec);
		tv->tv_usec = nsec / 1000;
	}
	return 0;
}

int64_t __vdso_time(int64_t *t)
{
	int64_t ns, sec, nsec;

	if (ph_clock_page_read(&ph_clock_page, PH_CLOCK_REALTIME, &ns))
		return vdso_syscall3(NR_time, (long)t, 0, 0);
	split(ns, &sec, &nsec);
	if (t)
		*t = sec;
	return sec;
}

/* The kernel's answers (resolution, CPU number) are not the guest clock's business. */
int __vdso_clock_getres(int id, struct vdso_timespec *res)
{
	return (int)vdso_syscall3(NR_clock_getres, id, (long)res, 0);
}

long __vdso_getcpu(unsigned int *cpu, unsigned int *node, void *unused)
{
	return vdso_syscall3(NR_getcpu, (long)cpu, (long)node, (long)unused);
}

int clock_gettime(int, struct vdso_timespec *) __attribute__((weak, alias("__vdso_clock_gettime")));
int gettimeofday(struct vdso_timeval *, void *) __attribute__((weak, alias("__vdso_gettimeofday")));
int64_t time(int64_t *) __attribute__((weak, alias("__vdso_time")));
int clock_getres(int, struct vdso_timespec *) __attribute__((weak, alias("__vdso_clock_getres")));
long getcpu(unsigned int *, unsigned int *, void *) __attribute__((weak, alias("__vdso_getcpu")));
