/* SPDX-License-Identifier: MIT */
/*
 * The guest clock page: what the trap engine's guest processes read the
 * clock from without a trap (hypervisor/guest-clock.h keeps the clock,
 * hypervisor/vdso/ reads it inside the guest).
 *
 * The hypervisor writes the page; every guest process maps it read-only.
 * It describes the guest clock's current piece (guest-clock.c: an origin
 * on the host's clock, a steady rate, a pending slew) and how to turn the
 * TSC into the host's clock (one calibration, fixed for the life of the
 * hypervisor).  A writer makes `seq` odd, changes the rest, makes it even
 * again; a reader retries until it saw the same even `seq` before and
 * after, as with the kernel's vDSO data and kvmclock.
 *
 * One function computes the clock from a piece, ph_clock_project(), used by
 * the hypervisor's own reads (trapped calls, porthole-ctl clock) and by the
 * guest's: both get the same nanosecond.  64-bit integer arithmetic only
 * (the guest's reader is freestanding: no 128-bit division helpers).
 *
 * Nothing here is read back by the hypervisor: a page the guest could
 * change would only lie to the guest itself.
 */
#ifndef PORTHOLE_BACKDOOR_CLOCK_PAGE_H
#define PORTHOLE_BACKDOOR_CLOCK_PAGE_H

#include <stdint.h>

#define PH_CLOCK_PAGE_SIZE	4096
#define PH_CLOCK_PAGE_MAGIC	0x4b4c4350u	/* "PCLK" */
#define PH_CLOCK_NSEC		1000000000LL
/* flags: the TSC fields are valid; without it a reader makes the (trapped) syscall. */
#define PH_CLOCK_TSC		1u
/* The rate at which a pending offset is slewed away (the kernel's 500 ppm). */
#define PH_CLOCK_SLEW_PPB	500000LL

/* Clock ids, as <time.h> numbers them (the freestanding reader has no libc). */
#define PH_CLOCK_REALTIME		0
#define PH_CLOCK_MONOTONIC		1
#define PH_CLOCK_MONOTONIC_RAW		4
#define PH_CLOCK_REALTIME_COARSE	5
#define PH_CLOCK_MONOTONIC_COARSE	6
#define PH_CLOCK_BOOTTIME		7
#define PH_CLOCK_REALTIME_ALARM		8
#define PH_CLOCK_BOOTTIME_ALARM		9
#define PH_CLOCK_TAI			11

/* One linear piece of the guest clock (see guest-clock.c). */
struct ph_clock_piece {
	int64_t base_host;		/* origin, on the host's clock */
	int64_t base_rt, base_mono, base_raw;	/* the guest's clocks there */
	int64_t boot_delta;		/* CLOCK_BOOTTIME - CLOCK_MONOTONIC */
	int64_t tai_ns;			/* CLOCK_TAI - CLOCK_REALTIME */
	int64_t steady_ppb;		/* rate of realtime/monotonic beyond 1, without the slew */
	int64_t drift_ppb;		/* rate of monotonic_raw beyond 1 */
	int64_t slew_ns;		/* pending offset at the origin */
	int64_t slew_need;		/* host ns from the origin until it is slewed away */
};

struct ph_clock_page {
	uint32_t seq;
	uint32_t magic;
	uint32_t flags;
	uint32_t tsc_shift;
	/* host ns = host_ref + ((tsc - tsc_ref) * tsc_mult) >> tsc_shift */
	uint64_t tsc_ref;
	int64_t host_ref;
	uint64_t tsc_mult;
	struct ph_clock_piece piece;
	uint64_t writes;		/* how often the piece changed (for tests) */
};

struct ph_clock_point {
	int64_t rt, mono, raw, slew_left;
};

/* d * ppb / 1e9 truncated, for d >= 0 and |ppb| < 2^31, without 128 bits. */
static inline int64_t ph_clock_scale(int64_t d, int64_t ppb)
{
	return (d / PH_CLOCK_NSEC) * ppb + (d % PH_CLOCK_NSEC) * ppb / PH_CLOCK_NSEC;
}

/*
 * The guest's clocks at host time `h` (not before the piece's origin):
 * the steady rate plus the slew until the slew is used up, then the
 * steady rate alone.
 */
static inline void ph_clock_project(const struct ph_clock_piece *p, int64_t h,
				    struct ph_clock_point *out)
{
	int64_t d = h > p->base_host ? h - p->base_host : 0;
	int64_t adv = 0;

	out->slew_left = p->slew_ns;
	if (p->slew_ns) {
		int64_t sign = p->slew_ns > 0 ? 1 : -1;

		if (d >= p->slew_need) {
			adv = p->slew_ns;
			out->slew_left = 0;
		} else {
			adv = sign * ph_clock_scale(d, PH_CLOCK_SLEW_PPB);
			out->slew_left = p->slew_ns - adv;
		}
	}
	adv += d + ph_clock_scale(d, p->steady_ppb);
	out->rt = p->base_rt + adv;
	out->mono = p->base_mono + adv;
	out->raw = p->base_raw + d + ph_clock_scale(d, p->drift_ppb);
}

/* 1 for the clock ids the guest clock keeps (the others are the kernel's). */
static inline int ph_clock_keeps(int id)
{
	switch (id) {
	case PH_CLOCK_REALTIME: case PH_CLOCK_MONOTONIC: case PH_CLOCK_MONOTONIC_RAW:
	case PH_CLOCK_REALTIME_COARSE: case PH_CLOCK_MONOTONIC_COARSE: case PH_CLOCK_BOOTTIME:
	case PH_CLOCK_REALTIME_ALARM: case PH_CLOCK_BOOTTIME_ALARM: case PH_CLOCK_TAI:
		return 1;
	default:
		return 0;
	}
}

/* Clock `id` (one ph_clock_keeps() accepts) at a projected point. */
static inline int64_t ph_clock_value(const struct ph_clock_piece *p,
				     const struct ph_clock_point *pt, int id)
{
	switch (id) {
	case PH_CLOCK_MONOTONIC: case PH_CLOCK_MONOTONIC_COARSE:
		return pt->mono;
	case PH_CLOCK_MONOTONIC_RAW:
		return pt->raw;
	case PH_CLOCK_BOOTTIME: case PH_CLOCK_BOOTTIME_ALARM:
		return pt->mono + p->boot_delta;
	case PH_CLOCK_TAI:
		return pt->rt + p->tai_ns;
	default:
		return pt->rt;
	}
}

/* The host's clock at TSC value `tsc`, by the page's calibration. */
static inline int64_t ph_clock_tsc_to_host(uint64_t tsc_ref, int64_t host_ref, uint64_t mult,
					   uint32_t shift, uint64_t tsc)
{
	unsigned __int128 d = (unsigned __int128)(tsc - tsc_ref) * mult;

	return host_ref + (int64_t)(uint64_t)(d >> shift);
}

/* The TSC, not read before the loads that precede it (as the kernel's rdtsc_ordered). */
static inline uint64_t ph_clock_rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ __volatile__("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return (uint64_t)hi << 32 | lo;
}

/*
 * Read clock `id` from a page without leaving user mode: 0 and *ns, or -1
 * when the page cannot answer (no TSC calibration, not a clock it keeps,
 * not a page at all), and the caller makes the syscall.
 */
static inline int ph_clock_page_read(const volatile struct ph_clock_page *page, int id,
				     int64_t *ns)
{
	struct ph_clock_piece piece;
	struct ph_clock_point pt;
	uint64_t tsc_ref, mult;
	int64_t host_ref;
	uint32_t seq, shift;

	if (!ph_clock_keeps(id))
		return -1;
	do {
		seq = page->seq;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (page->magic != PH_CLOCK_PAGE_MAGIC || !(page->flags & PH_CLOCK_TSC))
			return -1;
		tsc_ref = page->tsc_ref;
		host_ref = page->host_ref;
		mult = page->tsc_mult;
		shift = page->tsc_shift & 63;
		piece = *(const struct ph_clock_piece *)&page->piece;
		/* ordered after the loads above, and before the seq check below */
		pt.rt = ph_clock_tsc_to_host(tsc_ref, host_ref, mult, shift, ph_clock_rdtsc());
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	} while ((seq & 1) || seq != page->seq);
	ph_clock_project(&piece, pt.rt, &pt);
	*ns = ph_clock_value(&piece, &pt, id);
	return 0;
}

#endif
