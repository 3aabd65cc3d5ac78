// SPDX-License-Identifier: MIT
/*
 * Time synchronization: keep the guest's clock on the host's, the way
 * open-vm-tools' timeSync plugin does.
 *
 * Reading the host: GETTIMEFULL_WITH_LAG, else GETTIMEFULL, else GETTIME
 * (the first that works is kept).  For the FULL commands success is EAX
 * still holding the magic.  ECX is the host's maximum time lag; with
 * WITH_LAG, EDI is the interrupt lag, which the guest clock is expected to
 * be behind by ("apparent error").  A sample is host read, guest read, host
 * read; of up to TIMESYNC_MAX_SAMPLES the one with the shortest round trip
 * is kept, stopping early at one under TIMESYNC_GOOD_SAMPLE_US.  The host
 * time is the midpoint of its pair.
 *
 * Correcting: an error above the step threshold (the host's max lag unless
 * configured) is stepped with clock_settime, then STOPCATCHUP is sent; a
 * guest ahead of the host is stepped back only if backward steps are
 * allowed.  Anything else is slewed with adjtimex:
 *  - in the periodic loop, the rate that absorbs the error over one period
 *    (ADJ_TICK for the coarse part, ±10 %; ADJ_FREQUENCY for the rest) plus
 *    an integral term that learns the oscillator's frequency error (only
 *    from errors under TIMESYNC_PLL_ACTIVATE_US, so a big error does not
 *    wind it up; half of the remaining error per period);
 *  - in a one-time sync with no loop running, adjtime()'s single-shot
 *    offset, which stops by itself.
 */
#define G_LOG_DOMAIN "porthole-guestd"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <time.h>

#include "backdoor/backdoor.h"
#include "backdoor/proto.h"
#include "guestd.h"

#define TIMESYNC_MAX_SAMPLES		4
#define TIMESYNC_GOOD_SAMPLE_US		2000
#define TIMESYNC_PLL_ACTIVATE_US	30000
#define TIMESYNC_MAX_FREQ_PPM		500.0
#define TICK_NOMINAL			10000
#define TICK_MIN			9000
#define TICK_MAX			11000
#define PPM_PER_TICK_US			100.0	/* 1 µs of a 10000 µs tick */
#define INTEGRAL_GAIN			0.5
/* Learning moves by at most this per sync: one bad sample must not swing it. */
#define INTEGRAL_STEP_MAX_PPM		50.0

struct timesync {
	struct timesync_opts opts;
	int host_cmd;			/* the command that works; 0 until found */
	guint timer;
	bool loop_running;
	bool startup_done;
	bool startup_backward;		/* time.synchronize.tools.startup.backward */
	double freq_ppm;		/* learned frequency correction (integral term) */
	bool read_failed_logged;
};

struct host_time {
	int64_t us;			/* host CLOCK_REALTIME */
	int64_t max_lag_us;
	int64_t apparent_error_us;	/* what the guest is expected to lag by */
};

/* One host read with `cmd`; false if the host does not implement it. */
static bool host_read(int cmd, struct host_time *t)
{
	struct bdoor_regs r;
	int64_t secs;

	bdoor_lb_cmd(&r, (uint32_t)cmd, 0);
	bdoor_lb(&r);
	if (cmd == BDOOR_CMD_GETTIME) {
		if ((uint32_t)r.ax == BDOOR_UNSUPPORTED)
			return false;
		secs = (uint32_t)r.ax;
		t->apparent_error_us = 0;
	} else {
		if ((uint32_t)r.ax != BDOOR_MAGIC)
			return false;
		secs = (int64_t)(((uint64_t)(uint32_t)r.si << 32) | (uint32_t)r.dx);
		t->apparent_error_us = cmd == BDOOR_CMD_GETTIMEFULL_WITH_LAG ?
				       -(int64_t)(uint32_t)r.di : 0;
	}
	if (secs <= 0 || (uint32_t)r.bx >= 1000000)
		return false;	/* "Invalid host OS time" */
	t->us = secs * 1000000 + (uint32_t)r.bx;
	t->max_lag_us = (uint32_t)r.cx;
	return true;
}

static int64_t guest_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * The guest's error against the host (positive: the guest is ahead), from
 * the best of up to TIMESYNC_MAX_SAMPLES samples.  False if the host's
 * clock cannot be read.
 */
static bool measure(struct timesync *ts, int64_t *error_us, struct host_time *best_out)
{
	static const int cmds[] = { BDOOR_CMD_GETTIMEFULL_WITH_LAG, BDOOR_CMD_GETTIMEFULL,
				    BDOOR_CMD_GETTIME };
	int64_t best_rtt = INT64_MAX;
	bool have = false;

	if (!ts->host_cmd) {
		struct host_time probe;

		for (size_t i = 0; i < G_N_ELEMENTS(cmds) && !ts->host_cmd; i++) {
			if (host_read(cmds[i], &probe))
				ts->host_cmd = cmds[i];
		}
		if (!ts->host_cmd) {
			if (!ts->read_failed_logged)
				g_warning("time sync: the host does not give its time "
					  "(GETTIMEFULL_WITH_LAG, GETTIMEFULL, GETTIME all failed)");
			ts->read_failed_logged = true;
			return false;
		}
		g_debug("time sync: host time from backdoor command %d", ts->host_cmd);
	}
	for (int i = 0; i < TIMESYNC_MAX_SAMPLES; i++) {
		struct host_time a, b;
		int64_t guest, rtt;

		if (!host_read(ts->host_cmd, &a))
			break;
		guest = guest_now_us();
		if (!host_read(ts->host_cmd, &b))
			break;
		rtt = b.us - a.us;
		if (rtt < 0)
			continue;	/* the host's clock stepped between the reads */
		if (rtt < best_rtt) {
			best_rtt = rtt;
			*best_out = b;
			best_out->us = a.us + rtt / 2;
			*error_us = guest - best_out->us - b.apparent_error_us;
			have = true;
		}
		if (rtt < TIMESYNC_GOOD_SAMPLE_US)
			break;
	}
	if (!have && !ts->read_failed_logged) {
		g_warning("time sync: no usable host time sample");
		ts->read_failed_logged = true;
	}
	return have;
}

static int set_rate(long tick, double freq_ppm)
{
	struct timex tx = {
		.modes = ADJ_TICK | ADJ_FREQUENCY,
		.tick = tick,
		.freq = (long)(freq_ppm * 65536.0),
	};

	return adjtimex(&tx) < 0 ? -errno : 0;
}

/* Slewing back to the learned frequency only (before a step, when the loop stops). */
static void reset_slew(struct timesync *ts)
{
	struct timex cancel = { .modes = ADJ_OFFSET_SINGLESHOT, .offset = 0 };
	int err = set_rate(TICK_NOMINAL, ts->freq_ppm);

	/* and a one-time sync's adjtime() still under way */
	if (!err && adjtimex(&cancel) < 0)
		err = -errno;

	if (err)
		g_warning("time sync: adjtimex: %s", g_strerror(-err));
}

static bool step(struct timesync *ts, int64_t error_us)
{
	struct timespec now;
	struct bdoor_regs r;
	int64_t ns;

	reset_slew(ts);
	clock_gettime(CLOCK_REALTIME, &now);
	ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec - error_us * 1000;
	now.tv_sec = ns / 1000000000;
	now.tv_nsec = ns % 1000000000;
	if (clock_settime(CLOCK_REALTIME, &now)) {
		g_warning("time sync: cannot step the clock: %s", g_strerror(errno));
		return false;
	}
	/* The host's time tracker need not catch up on the time we just skipped. */
	bdoor_lb_cmd(&r, BDOOR_CMD_STOPCATCHUP, 0);
	bdoor_lb(&r);
	g_message("time sync: stepped the clock %s by %.6f s (guest was %s the host)",
		  error_us > 0 ? "back" : "forward", (double)llabs(error_us) / 1e6,
		  error_us > 0 ? "ahead of" : "behind");
	return true;
}

/* The loop's slew: absorb `error_us` over one period, and learn the frequency error. */
static bool slew_periodic(struct timesync *ts, int64_t error_us)
{
	double period_s = ts->opts.period_s, x, p_ppm, total, freq, ticks;
	long tick;
	int err;

	/*
	 * The period is timed on our own (slewed) clock: running at 1 + r,
	 * we gain r / (1 + r) on the host per second of ours, so absorbing
	 * x = -error / period takes r = x / (1 - x).
	 */
	x = -(double)error_us / 1e6 / period_s;
	x = CLAMP(x, -0.5, 0.5);
	p_ppm = x / (1.0 - x) * 1e6;
	if (llabs(error_us) < TIMESYNC_PLL_ACTIVATE_US)
		ts->freq_ppm += CLAMP(INTEGRAL_GAIN * p_ppm, -INTEGRAL_STEP_MAX_PPM,
				      INTEGRAL_STEP_MAX_PPM);
	ts->freq_ppm = CLAMP(ts->freq_ppm, -TIMESYNC_MAX_FREQ_PPM, TIMESYNC_MAX_FREQ_PPM);
	total = p_ppm + ts->freq_ppm;
	ticks = total / PPM_PER_TICK_US;
	tick = TICK_NOMINAL + (long)(ticks < 0 ? ticks - 0.5 : ticks + 0.5);
	tick = CLAMP(tick, TICK_MIN, TICK_MAX);
	freq = CLAMP(total - (double)(tick - TICK_NOMINAL) * PPM_PER_TICK_US,
		     -TIMESYNC_MAX_FREQ_PPM, TIMESYNC_MAX_FREQ_PPM);
	err = set_rate(tick, freq);
	if (err) {
		g_warning("time sync: adjtimex: %s", g_strerror(-err));
		return false;
	}
	g_message("time sync: guest %s by %.3f ms: slewing over %d s (tick %ld us, "
		  "freq %+.3f ppm, learned %+.3f ppm)", error_us > 0 ? "ahead" : "behind",
		  (double)llabs(error_us) / 1e3, ts->opts.period_s, tick, freq, ts->freq_ppm);
	return true;
}

/* A one-time sync's slew with no loop to end it: adjtime() stops by itself. */
static bool slew_once(int64_t error_us)
{
	struct timex tx = { .modes = ADJ_OFFSET_SINGLESHOT, .offset = (long)-error_us };

	if (adjtimex(&tx) < 0) {
		g_warning("time sync: adjtime: %s", g_strerror(errno));
		return false;
	}
	g_message("time sync: guest %s by %.3f ms: slewing it away at 500 ppm",
		  error_us > 0 ? "ahead" : "behind", (double)llabs(error_us) / 1e3);
	return true;
}

static bool do_sync(struct timesync *ts, bool allow_backward)
{
	struct host_time host;
	int64_t error_us, threshold;

	if (!measure(ts, &error_us, &host))
		return false;
	ts->read_failed_logged = false;
	threshold = ts->opts.step_threshold_ms > 0 ? (int64_t)ts->opts.step_threshold_ms * 1000 :
		    host.max_lag_us > 0 ? host.max_lag_us : 1000000;
	if (error_us < -threshold || (error_us > threshold && allow_backward))
		return step(ts, error_us);
	return ts->loop_running ? slew_periodic(ts, error_us) : slew_once(error_us);
}

static gboolean on_period(gpointer data)
{
	struct timesync *ts = data;

	do_sync(ts, ts->opts.allow_backward);
	return G_SOURCE_CONTINUE;
}

static void loop_stop(struct timesync *ts)
{
	if (!ts->loop_running)
		return;
	g_source_remove(ts->timer);
	ts->timer = 0;
	ts->loop_running = false;
	reset_slew(ts);
	g_message("time sync: periodic sync stopped");
}

static void loop_start(struct timesync *ts)
{
	if (ts->loop_running)
		return;
	ts->loop_running = true;
	ts->timer = g_timeout_add((guint)ts->opts.period_s * 1000, on_period, ts);
	g_message("time sync: syncing every %d s", ts->opts.period_s);
	do_sync(ts, ts->opts.allow_backward);
}

struct timesync *timesync_new(const struct timesync_opts *opts)
{
	struct timesync *ts = g_new0(struct timesync, 1);

	ts->opts = *opts;
	if (ts->opts.period_s <= 0)
		ts->opts.period_s = TIMESYNC_PERIOD_DEFAULT_S;
	return ts;
}

void timesync_start(struct timesync *ts)
{
	if (ts->opts.startup) {
		ts->startup_done = true;
		do_sync(ts, ts->opts.allow_backward);
	}
	if (ts->opts.periodic)
		loop_start(ts);
}

bool timesync_now(struct timesync *ts, bool allow_backward)
{
	return do_sync(ts, allow_backward);
}

static bool parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "1") || !g_ascii_strcasecmp(v, "true"))
		*out = true;
	else if (!strcmp(v, "0") || !g_ascii_strcasecmp(v, "false"))
		*out = false;
	else
		return false;
	return true;
}

bool timesync_periodic_requested(const struct timesync *ts)
{
	return ts->opts.periodic;
}

int timesync_set_option(struct timesync *ts, const char *name, const char *value)
{
	bool on;

	if (!strcmp(name, "synctime")) {
		if (!parse_bool(value, &on))
			return -EINVAL;
		if (on)
			loop_start(ts);
		else
			loop_stop(ts);
	} else if (!strcmp(name, "synctime.period")) {
		char *end = NULL;
		long period = strtol(value, &end, 10);

		if (end == value || *end || period < 0 || period > 86400)
			return -EINVAL;
		if (!period)
			period = TIMESYNC_PERIOD_DEFAULT_S;
		if (period != ts->opts.period_s) {
			bool running = ts->loop_running;

			loop_stop(ts);
			ts->opts.period_s = (int)period;
			if (running)
				loop_start(ts);
		}
	} else if (!strcmp(name, "time.synchronize.tools.startup.backward")) {
		if (!parse_bool(value, &ts->startup_backward))
			return -EINVAL;
	} else if (!strcmp(name, "time.synchronize.tools.startup")) {
		if (!parse_bool(value, &on))
			return -EINVAL;
		if (on && !ts->startup_done) {
			ts->startup_done = true;
			do_sync(ts, ts->startup_backward);
		}
	} else {
		return 1;	/* not ours */
	}
	return 0;
}

void timesync_free(struct timesync *ts)
{
	if (!ts)
		return;
	/* A slew left behind would run on without us. */
	loop_stop(ts);
	g_free(ts);
}
