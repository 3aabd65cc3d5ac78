/* SPDX-License-Identifier: MIT */
/*
 * The guest's clock (trap engine): what guest processes read and set with
 * clock_gettime, gettimeofday, time, clock_settime, settimeofday, adjtimex
 * and clock_adjtime, instead of the host's clock.
 *
 * It runs off the host's CLOCK_MONOTONIC: piecewise linear, each piece an
 * origin (host time -> guest realtime, monotonic, raw) and a rate.  The rate
 * is the simulated oscillator error (`drift`, set from the host with
 * porthole-ctl clock --rate) plus what the guest asked for with adjtimex:
 * ADJ_FREQUENCY, ADJ_TICK and a pending ADJ_OFFSET being slewed away at
 * 500 ppm.  Every clamp keeps the rate above zero, and every change of rate
 * starts a new piece where the old one ends, so CLOCK_MONOTONIC (and
 * CLOCK_REALTIME between steps) never goes backwards.  Steps
 * (settimeofday, clock_settime, ADJ_SETOFFSET, porthole-ctl clock --offset)
 * move CLOCK_REALTIME only, as on a real kernel.
 *
 * Thread-safe: the engine thread reads and adjusts, the control thread
 * injects offsets and drift.  The *_at() forms take the host's monotonic
 * time explicitly (unit tests); the others read it.
 */
#ifndef PORTHOLE_HV_GUEST_CLOCK_H
#define PORTHOLE_HV_GUEST_CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/timex.h>
#include <time.h>

#include <glib.h>

#define GUEST_CLOCK_NSEC		1000000000LL
/* USER_HZ 100: a tick is nominally 10000 µs; the kernel accepts ±10 %. */
#define GUEST_CLOCK_TICK_NOMINAL	10000
#define GUEST_CLOCK_TICK_MIN		9000
#define GUEST_CLOCK_TICK_MAX		11000
/* The kernel's MAXFREQ (500 ppm) for ADJ_FREQUENCY, and its slew rate for offsets. */
#define GUEST_CLOCK_MAX_FREQ_PPB	500000LL
#define GUEST_CLOCK_SLEW_PPB		500000LL
/* The kernel's MAXPHASE: ADJ_OFFSET is clamped to ±0.5 s. */
#define GUEST_CLOCK_MAX_PHASE_NS	500000000LL
/* What the host may inject as oscillator error (porthole-ctl clock --rate). */
#define GUEST_CLOCK_MAX_DRIFT_PPB	100000000LL	/* 10 % */
/* Times and steps beyond this many seconds (136 years) are refused: sums never overflow. */
#define GUEST_CLOCK_MAX_STEP_S		(1LL << 32)

struct guest_clock;

struct guest_clock_info {
	int64_t realtime_ns;		/* guest CLOCK_REALTIME now */
	int64_t monotonic_ns;		/* guest CLOCK_MONOTONIC now */
	int64_t host_realtime_ns;	/* host CLOCK_REALTIME at the same moment */
	int64_t offset_ns;		/* realtime_ns - host_realtime_ns */
	int64_t drift_ppb;		/* injected oscillator error */
	int64_t rate_ppb;		/* total: drift + frequency + tick + slew */
	long freq;			/* adjtimex frequency, ppm << 16 */
	long tick;			/* adjtimex tick, µs */
	int64_t slew_left_ns;		/* pending ADJ_OFFSET still to slew */
	uint64_t reads, steps, adjustments;
};

/* host_rt_ns, host_mono_ns: the host's clocks now; the guest starts on them. */
struct guest_clock *guest_clock_new_at(int64_t host_rt_ns, int64_t host_mono_ns);
struct guest_clock *guest_clock_new(void);
void guest_clock_free(struct guest_clock *c);

/*
 * clock_gettime for the guest: 0, or -EINVAL for a clock it does not keep
 * (CPU-time clocks and other ids are the kernel's).
 */
int guest_clock_gettime_at(struct guest_clock *c, clockid_t id, int64_t host_mono_ns,
			   struct timespec *ts);
int guest_clock_gettime(struct guest_clock *c, clockid_t id, struct timespec *ts);
/* True for the clock ids guest_clock_gettime() answers. */
bool guest_clock_keeps(clockid_t id);

/* Step CLOCK_REALTIME to `rt_ns` (settimeofday, clock_settime). 0 or -EINVAL. */
int guest_clock_settime_at(struct guest_clock *c, int64_t rt_ns, int64_t host_mono_ns);
int guest_clock_settime(struct guest_clock *c, int64_t rt_ns);

/*
 * adjtimex for the guest, with the kernel's validation and clamps.  Reads
 * and updates `tx` as the kernel does; returns the clock state (TIME_OK,
 * TIME_ERROR) or -errno.
 */
int guest_clock_adjtimex_at(struct guest_clock *c, struct timex *tx, int64_t host_mono_ns);
int guest_clock_adjtimex(struct guest_clock *c, struct timex *tx);

/* From the host: jump CLOCK_REALTIME by `delta_ns`, and set the oscillator error. */
void guest_clock_jump_at(struct guest_clock *c, int64_t delta_ns, int64_t host_mono_ns);
void guest_clock_jump(struct guest_clock *c, int64_t delta_ns);
int guest_clock_set_drift_at(struct guest_clock *c, int64_t drift_ppb, int64_t host_mono_ns);
int guest_clock_set_drift(struct guest_clock *c, int64_t drift_ppb);

void guest_clock_info_at(struct guest_clock *c, int64_t host_rt_ns, int64_t host_mono_ns,
			 struct guest_clock_info *info);
void guest_clock_info(struct guest_clock *c, struct guest_clock_info *info);

/*
 * The control socket's PH_CTL_CLOCK request: "" (report), or any of
 * "offset <±ns>" and "rate <ppm>".  Appends "key=value\n" lines to `reply`;
 * returns 0 or a positive errno (the reason in `reply`).
 */
int guest_clock_control_at(struct guest_clock *c, const char *request, GString *reply,
			   int64_t host_rt_ns, int64_t host_mono_ns);
int guest_clock_control(struct guest_clock *c, const char *request, GString *reply);

/*
 * The clock page guest processes read (backdoor/clock-page.h): filled now
 * and rewritten on every change until guest_clock_drop_page().  With
 * `use_tsc`, the TSC is calibrated (once per process, 50 ms) and from then
 * on host time is the TSC's for every read of this clock, the
 * hypervisor's as the guest's, so both get the same nanosecond.  Returns
 * whether the page carries a TSC calibration (without one, guest readers
 * make the trapped syscall).
 */
struct ph_clock_page;
bool guest_clock_use_page(struct guest_clock *c, struct ph_clock_page *page, bool use_tsc);
void guest_clock_drop_page(struct guest_clock *c);

#endif
