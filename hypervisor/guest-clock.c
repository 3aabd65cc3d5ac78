// SPDX-License-Identifier: MIT
/*
 * The guest's clock.  See guest-clock.h.
 *
 * Differences from the kernel, on purpose: a pending ADJ_OFFSET (PLL mode
 * or ADJ_OFFSET_SINGLESHOT) is slewed away linearly at 500 ppm rather than
 * through the NTP PLL's exponential response; the PLL never changes the
 * frequency by itself; adjtimex is allowed to every guest process (they
 * are all root of the guest).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "backdoor/clock-page.h"
#include "guest-clock.h"

/* The kernel's ADJ_ADJTIME: part of ADJ_OFFSET_SINGLESHOT, what adjtime() sends. */
#define ADJ_ADJTIME_BIT	0x8000

struct guest_clock {
	pthread_mutex_t lock;
	/* The current piece: origin on the host's monotonic clock, and the guest's clocks there. */
	int64_t base_host;
	int64_t base_rt, base_mono, base_raw;
	int64_t boot_delta;		/* guest CLOCK_BOOTTIME - CLOCK_MONOTONIC */
	int64_t drift_ppb;
	/* The guest kernel's NTP state, as adjtimex sees it. */
	long freq;			/* ppm << 16 */
	long tick;			/* µs */
	int64_t slew_ns;		/* pending offset, slewed at GUEST_CLOCK_SLEW_PPB */
	bool slew_singleshot;		/* from ADJ_OFFSET_SINGLESHOT (adjtime) */
	int status;
	long maxerror, esterror, constant;
	int tai;
	uint64_t reads, steps, adjustments;
	/* The clock page guest processes read (NULL: none), rewritten on every change. */
	struct ph_clock_page *page;
	/*
	 * Set once by guest_clock_use_page(): host time is the TSC by the
	 * page's calibration, for the hypervisor's reads as for the guest's.
	 */
	atomic_bool tsc_on;
	uint64_t tsc_ref, tsc_mult;
	int64_t host_ref;
	uint32_t tsc_shift;
};

static int64_t host_now(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * GUEST_CLOCK_NSEC + ts.tv_nsec;
}

/* The host's clock the guest clock runs on: CLOCK_MONOTONIC, or the TSC once calibrated. */
static int64_t clock_host_now(struct guest_clock *c)
{
	if (atomic_load_explicit(&c->tsc_on, memory_order_acquire))
		return ph_clock_tsc_to_host(c->tsc_ref, c->host_ref, c->tsc_mult, c->tsc_shift,
					    ph_clock_rdtsc());
	return host_now(CLOCK_MONOTONIC);
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* The rate of CLOCK_REALTIME/MONOTONIC, without the slew, in ppb. */
static int64_t steady_ppb(const struct guest_clock *c)
{
	int64_t freq_ppb = ((int64_t)c->freq * 1000) >> 16;
	int64_t tick_ppb = (int64_t)(c->tick - GUEST_CLOCK_TICK_NOMINAL) * 100000;

	return c->drift_ppb + freq_ppb + tick_ppb;
}

/* The current piece, as the clock page describes it (backdoor/clock-page.h). */
static void current_piece(const struct guest_clock *c, struct ph_clock_piece *p)
{
	int64_t mag = c->slew_ns < 0 ? -c->slew_ns : c->slew_ns;

	*p = (struct ph_clock_piece){
		.base_host = c->base_host,
		.base_rt = c->base_rt,
		.base_mono = c->base_mono,
		.base_raw = c->base_raw,
		.boot_delta = c->boot_delta,
		.tai_ns = (int64_t)c->tai * GUEST_CLOCK_NSEC,
		.steady_ppb = steady_ppb(c),
		.drift_ppb = c->drift_ppb,
		.slew_ns = c->slew_ns,
		/* host ns until |slew| is absorbed at SLEW_PPB */
		.slew_need = (int64_t)(((__int128)mag * GUEST_CLOCK_NSEC + GUEST_CLOCK_SLEW_PPB - 1) /
				       GUEST_CLOCK_SLEW_PPB),
	};
}

/*
 * Where the guest's clocks are at host time `h` (not before the current
 * piece's origin), without changing anything: the same arithmetic as the
 * guest's own reads from the clock page.
 */
static void project(const struct guest_clock *c, int64_t h, struct ph_clock_point *p)
{
	struct ph_clock_piece piece;

	current_piece(c, &piece);
	ph_clock_project(&piece, h, p);
}

/*
 * A change of the clock, under the lock: the page is marked as being
 * written (odd seq) before the host time of the change is read, so a
 * guest read that still saw the old piece read the TSC before that time,
 * and the new piece, which starts where the old one is then, never gives
 * it a smaller value.  `h` is the host time, or HOST_NOW for "read it now".
 */
#define HOST_NOW	INT64_MIN

static int64_t write_begin(struct guest_clock *c, int64_t h)
{
	if (c->page) {
		__atomic_store_n(&c->page->seq, c->page->seq + 1, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	}
	return h == HOST_NOW ? clock_host_now(c) : h;
}

/* The new piece to the page, seq even again. */
static void write_end(struct guest_clock *c)
{
	struct ph_clock_piece piece;

	if (!c->page)
		return;
	current_piece(c, &piece);
	c->page->piece = piece;
	c->page->writes++;
	__atomic_store_n(&c->page->seq, (c->page->seq + 1) & ~1u, __ATOMIC_RELEASE);
}

/* Start a new piece at host time `h` (before any change of rate). */
static void rebase(struct guest_clock *c, int64_t h)
{
	struct ph_clock_point p;

	if (h < c->base_host)
		h = c->base_host;
	project(c, h, &p);
	c->base_host = h;
	c->base_rt = p.rt;
	c->base_mono = p.mono;
	c->base_raw = p.raw;
	c->slew_ns = p.slew_left;
}

struct guest_clock *guest_clock_new_at(int64_t host_rt_ns, int64_t host_mono_ns)
{
	struct guest_clock *c = g_new0(struct guest_clock, 1);

	pthread_mutex_init(&c->lock, NULL);
	c->base_host = host_mono_ns;
	c->base_rt = host_rt_ns;
	c->base_mono = host_mono_ns;
	c->base_raw = host_mono_ns;
	c->tick = GUEST_CLOCK_TICK_NOMINAL;
	/* A kernel boots unsynchronized, with the largest error estimates. */
	c->status = STA_UNSYNC;
	c->maxerror = c->esterror = 16000000;
	return c;
}

struct guest_clock *guest_clock_new(void)
{
	struct guest_clock *c = guest_clock_new_at(host_now(CLOCK_REALTIME), host_now(CLOCK_MONOTONIC));

	c->boot_delta = host_now(CLOCK_BOOTTIME) - host_now(CLOCK_MONOTONIC);
	if (c->boot_delta < 0)
		c->boot_delta = 0;
	return c;
}

void guest_clock_free(struct guest_clock *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->lock);
	g_free(c);
}

bool guest_clock_keeps(clockid_t id)
{
	return ph_clock_keeps((int)id);
}

static struct timespec to_ts(int64_t ns)
{
	struct timespec ts = { ns / GUEST_CLOCK_NSEC, ns % GUEST_CLOCK_NSEC };

	if (ts.tv_nsec < 0) {
		ts.tv_sec--;
		ts.tv_nsec += GUEST_CLOCK_NSEC;
	}
	return ts;
}

int guest_clock_gettime_at(struct guest_clock *c, clockid_t id, int64_t host_mono_ns,
			   struct timespec *ts)
{
	struct ph_clock_piece piece;
	struct ph_clock_point p;
	int64_t v;

	if (!guest_clock_keeps(id))
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	current_piece(c, &piece);
	ph_clock_project(&piece, host_mono_ns, &p);
	c->reads++;
	v = ph_clock_value(&piece, &p, (int)id);
	pthread_mutex_unlock(&c->lock);
	*ts = to_ts(v);
	return 0;
}

int guest_clock_gettime(struct guest_clock *c, clockid_t id, struct timespec *ts)
{
	return guest_clock_gettime_at(c, id, clock_host_now(c), ts);
}

static void step_locked(struct guest_clock *c, int64_t rt_ns, int64_t h)
{
	rebase(c, h);
	c->base_rt = rt_ns;
	c->steps++;
}

int guest_clock_settime_at(struct guest_clock *c, int64_t rt_ns, int64_t host_mono_ns)
{
	if (rt_ns < 0 || rt_ns > GUEST_CLOCK_MAX_STEP_S * GUEST_CLOCK_NSEC)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	host_mono_ns = write_begin(c, host_mono_ns);
	step_locked(c, rt_ns, host_mono_ns);
	write_end(c);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

int guest_clock_settime(struct guest_clock *c, int64_t rt_ns)
{
	return guest_clock_settime_at(c, rt_ns, HOST_NOW);
}

/* The kernel's checks (timekeeping_validate_timex), before anything changes. */
static int validate_timex(const struct timex *tx)
{
	if ((tx->modes & ADJ_ADJTIME_BIT) &&
	    (tx->modes & ADJ_OFFSET_SINGLESHOT) != ADJ_OFFSET_SINGLESHOT)
		return -EINVAL;
	if (!(tx->modes & ADJ_ADJTIME_BIT) && (tx->modes & ADJ_TICK) &&
	    (tx->tick < GUEST_CLOCK_TICK_MIN || tx->tick > GUEST_CLOCK_TICK_MAX))
		return -EINVAL;
	if (!(tx->modes & ADJ_ADJTIME_BIT) && (tx->modes & ADJ_SETOFFSET)) {
		long limit = (tx->modes & ADJ_NANO) ? GUEST_CLOCK_NSEC : 1000000;

		if (tx->time.tv_usec < 0 || tx->time.tv_usec >= limit ||
		    tx->time.tv_sec > GUEST_CLOCK_MAX_STEP_S || tx->time.tv_sec < -GUEST_CLOCK_MAX_STEP_S)
			return -EINVAL;
	}
	return 0;
}

int guest_clock_adjtimex_at(struct guest_clock *c, struct timex *tx, int64_t host_mono_ns)
{
	unsigned int modes = tx->modes;
	int err = validate_timex(tx), state;
	struct ph_clock_point p;

	if (err)
		return err;
	pthread_mutex_lock(&c->lock);
	if (modes) {
		host_mono_ns = write_begin(c, host_mono_ns);
		c->adjustments++;
		/* Every change below may change the rate: start a new piece first. */
		rebase(c, host_mono_ns);
	} else if (host_mono_ns == HOST_NOW) {
		/* A read (chronyd, ntpd and vmtoolsd poll so): the page is left as it is. */
		host_mono_ns = clock_host_now(c);
	}

	if (modes & ADJ_ADJTIME_BIT) {
		/* adjtime(): slew by tx->offset µs, report what was still pending. */
		long old = (long)(c->slew_singleshot ? c->slew_ns / 1000 : 0);

		if (modes != ADJ_OFFSET_SS_READ) {
			/* clamped before scaling: a hostile value must not overflow */
			c->slew_ns = clamp64(tx->offset, -2000000000LL, 2000000000LL) * 1000;
			c->slew_singleshot = true;
		}
		state = (c->status & (STA_UNSYNC | STA_CLOCKERR)) ? TIME_ERROR : TIME_OK;
		tx->offset = old;
		write_end(c);
		pthread_mutex_unlock(&c->lock);
		return state;
	}

	if (modes & ADJ_SETOFFSET) {
		int64_t scale_ns = (modes & ADJ_NANO) ? 1 : 1000;
		int64_t delta = (int64_t)tx->time.tv_sec * GUEST_CLOCK_NSEC +
				(int64_t)tx->time.tv_usec * scale_ns;

		step_locked(c, clamp64(c->base_rt + delta, 0, GUEST_CLOCK_MAX_STEP_S * GUEST_CLOCK_NSEC),
			    host_mono_ns);
	}
	if (modes & ADJ_STATUS)
		c->status = (c->status & (STA_PPSSIGNAL | STA_PPSJITTER | STA_PPSWANDER |
					  STA_PPSERROR | STA_CLOCKERR | STA_NANO | STA_MODE |
					  STA_CLK)) |
			    (tx->status & ~(STA_PPSSIGNAL | STA_PPSJITTER | STA_PPSWANDER |
					    STA_PPSERROR | STA_CLOCKERR | STA_NANO | STA_MODE |
					    STA_CLK));
	if (modes & ADJ_NANO)
		c->status |= STA_NANO;
	if (modes & ADJ_MICRO)
		c->status &= ~STA_NANO;
	if (modes & ADJ_FREQUENCY)
		c->freq = (long)clamp64(tx->freq, -(GUEST_CLOCK_MAX_FREQ_PPB << 16) / 1000,
					(GUEST_CLOCK_MAX_FREQ_PPB << 16) / 1000);
	if (modes & ADJ_MAXERROR)
		c->maxerror = (long)clamp64(tx->maxerror, 0, 16000000);
	if (modes & ADJ_ESTERROR)
		c->esterror = (long)clamp64(tx->esterror, 0, 16000000);
	if (modes & ADJ_TIMECONST)
		c->constant = (long)clamp64(tx->constant, 0, 10);
	if ((modes & ADJ_TAI) && tx->constant >= 0)
		c->tai = (int)clamp64(tx->constant, 0, 1000);
	if ((modes & ADJ_OFFSET) && (c->status & STA_PLL)) {
		int64_t unit = (c->status & STA_NANO) ? 1 : 1000;

		c->slew_ns = clamp64(clamp64(tx->offset, -GUEST_CLOCK_MAX_PHASE_NS,
					     GUEST_CLOCK_MAX_PHASE_NS) * unit,
				     -GUEST_CLOCK_MAX_PHASE_NS, GUEST_CLOCK_MAX_PHASE_NS);
		c->slew_singleshot = false;
	}
	if (modes & ADJ_TICK)
		c->tick = tx->tick;

	/* What the kernel reports back. */
	project(c, host_mono_ns, &p);
	tx->offset = (long)(c->slew_singleshot ? 0 :
			    (c->status & STA_NANO) ? c->slew_ns : c->slew_ns / 1000);
	tx->freq = c->freq;
	tx->maxerror = c->maxerror;
	tx->esterror = c->esterror;
	tx->status = c->status;
	tx->constant = c->constant;
	tx->precision = 1;
	tx->tolerance = (long)((GUEST_CLOCK_MAX_FREQ_PPB << 16) / 1000);
	tx->tick = c->tick;
	tx->tai = c->tai;
	tx->time.tv_sec = p.rt / GUEST_CLOCK_NSEC;
	tx->time.tv_usec = p.rt % GUEST_CLOCK_NSEC;
	if (!(c->status & STA_NANO))
		tx->time.tv_usec /= 1000;
	state = (c->status & (STA_UNSYNC | STA_CLOCKERR)) ? TIME_ERROR : TIME_OK;
	if (modes)
		write_end(c);
	pthread_mutex_unlock(&c->lock);
	return state;
}

int guest_clock_adjtimex(struct guest_clock *c, struct timex *tx)
{
	return guest_clock_adjtimex_at(c, tx, HOST_NOW);
}

void guest_clock_jump_at(struct guest_clock *c, int64_t delta_ns, int64_t host_mono_ns)
{
	pthread_mutex_lock(&c->lock);
	host_mono_ns = write_begin(c, host_mono_ns);
	rebase(c, host_mono_ns);
	c->base_rt = clamp64(c->base_rt + clamp64(delta_ns, -GUEST_CLOCK_MAX_STEP_S * GUEST_CLOCK_NSEC,
						  GUEST_CLOCK_MAX_STEP_S * GUEST_CLOCK_NSEC),
			     0, GUEST_CLOCK_MAX_STEP_S * GUEST_CLOCK_NSEC);
	write_end(c);
	pthread_mutex_unlock(&c->lock);
}

void guest_clock_jump(struct guest_clock *c, int64_t delta_ns)
{
	guest_clock_jump_at(c, delta_ns, HOST_NOW);
}

int guest_clock_set_drift_at(struct guest_clock *c, int64_t drift_ppb, int64_t host_mono_ns)
{
	if (drift_ppb < -GUEST_CLOCK_MAX_DRIFT_PPB || drift_ppb > GUEST_CLOCK_MAX_DRIFT_PPB)
		return -ERANGE;
	pthread_mutex_lock(&c->lock);
	host_mono_ns = write_begin(c, host_mono_ns);
	rebase(c, host_mono_ns);
	c->drift_ppb = drift_ppb;
	write_end(c);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

int guest_clock_set_drift(struct guest_clock *c, int64_t drift_ppb)
{
	return guest_clock_set_drift_at(c, drift_ppb, HOST_NOW);
}

void guest_clock_info_at(struct guest_clock *c, int64_t host_rt_ns, int64_t host_mono_ns,
			 struct guest_clock_info *info)
{
	struct ph_clock_point p;

	pthread_mutex_lock(&c->lock);
	project(c, host_mono_ns, &p);
	*info = (struct guest_clock_info){
		.realtime_ns = p.rt,
		.monotonic_ns = p.mono,
		.host_realtime_ns = host_rt_ns,
		.offset_ns = p.rt - host_rt_ns,
		.drift_ppb = c->drift_ppb,
		.rate_ppb = steady_ppb(c) + (p.slew_left > 0 ? GUEST_CLOCK_SLEW_PPB :
					     p.slew_left < 0 ? -GUEST_CLOCK_SLEW_PPB : 0),
		.freq = c->freq,
		.tick = c->tick,
		.slew_left_ns = p.slew_left,
		.reads = c->reads,
		.steps = c->steps,
		.adjustments = c->adjustments,
	};
	pthread_mutex_unlock(&c->lock);
}

void guest_clock_info(struct guest_clock *c, struct guest_clock_info *info)
{
	/* The two host clocks read back to back: their gap is the error of offset_ns. */
	int64_t rt = host_now(CLOCK_REALTIME), mono = clock_host_now(c);

	guest_clock_info_at(c, rt, mono, info);
}

int guest_clock_control(struct guest_clock *c, const char *request, GString *reply)
{
	/* Changes read the host's time as write_begin() does; the report after them. */
	return guest_clock_control_at(c, request, reply, 0, HOST_NOW);
}

int guest_clock_control_at(struct guest_clock *c, const char *request, GString *reply,
			   int64_t host_rt_ns, int64_t host_mono_ns)
{
	g_auto(GStrv) words = g_strsplit_set(request, " \t\n", -1);
	struct guest_clock_info info;
	int64_t jump = 0, drift = 0;
	bool have_jump = false, have_drift = false;
	char **w = words;

	/* Parse everything first: a bad request changes nothing. */
	while (*w) {
		char *end = NULL, *key = *w++;

		if (!*key)
			continue;
		if (!*w) {
			g_string_append_printf(reply, "'%s' needs a value\n", key);
			return EINVAL;
		}
		if (!strcmp(key, "offset")) {
			errno = 0;
			jump = g_ascii_strtoll(*w, &end, 10);
			if (errno || end == *w || *end ||
			    jump > GUEST_CLOCK_MAX_STEP_S * GUEST_CLOCK_NSEC ||
			    jump < -GUEST_CLOCK_MAX_STEP_S * GUEST_CLOCK_NSEC) {
				g_string_append_printf(reply, "bad offset '%s' (nanoseconds)\n", *w);
				return EINVAL;
			}
			have_jump = true;
		} else if (!strcmp(key, "rate")) {
			double ppm = g_ascii_strtod(*w, &end);

			if (end == *w || *end || !(ppm >= -100000.0 && ppm <= 100000.0)) {
				g_string_append_printf(reply, "bad rate '%s' (ppm, within ±100000)\n",
						       *w);
				return EINVAL;
			}
			drift = (int64_t)(ppm * 1000.0);
			have_drift = true;
		} else {
			g_string_append_printf(reply, "unknown setting '%s'\n", key);
			return EINVAL;
		}
		w++;
	}
	if (have_drift && guest_clock_set_drift_at(c, drift, host_mono_ns)) {
		g_string_append(reply, "rate out of range\n");
		return ERANGE;
	}
	if (have_jump)
		guest_clock_jump_at(c, jump, host_mono_ns);
	if (host_mono_ns == HOST_NOW) {
		/* The two host clocks read back to back, as guest_clock_info() does. */
		host_rt_ns = host_now(CLOCK_REALTIME);
		host_mono_ns = clock_host_now(c);
	}

	guest_clock_info_at(c, host_rt_ns, host_mono_ns, &info);
	g_string_append_printf(reply,
			       "realtime-ns=%" G_GINT64_FORMAT "\n"
			       "monotonic-ns=%" G_GINT64_FORMAT "\n"
			       "host-realtime-ns=%" G_GINT64_FORMAT "\n"
			       "offset-ns=%" G_GINT64_FORMAT "\n"
			       "drift-ppb=%" G_GINT64_FORMAT "\n"
			       "rate-ppb=%" G_GINT64_FORMAT "\n"
			       "adjtimex-freq=%ld\n"
			       "adjtimex-tick=%ld\n"
			       "slew-left-ns=%" G_GINT64_FORMAT "\n"
			       "reads=%" G_GUINT64_FORMAT "\n"
			       "steps=%" G_GUINT64_FORMAT "\n"
			       "adjustments=%" G_GUINT64_FORMAT "\n",
			       info.realtime_ns, info.monotonic_ns, info.host_realtime_ns,
			       info.offset_ns, info.drift_ppb, info.rate_ppb, info.freq, info.tick,
			       info.slew_left_ns, info.reads, info.steps, info.adjustments);
	return 0;
}

/* ---- the clock page ---- */

/* One (TSC, CLOCK_MONOTONIC) pair, the TSC read on both sides: false if preempted between. */
static bool tsc_sample(uint64_t *tsc, int64_t *ns)
{
	uint64_t best = UINT64_MAX;

	for (int i = 0; i < 8; i++) {
		uint64_t t0 = ph_clock_rdtsc();
		int64_t h = host_now(CLOCK_MONOTONIC);
		uint64_t t1 = ph_clock_rdtsc();

		if (t1 > t0 && t1 - t0 < best) {
			best = t1 - t0;
			*tsc = t0 + (t1 - t0) / 2;
			*ns = h;
		}
	}
	return best < UINT64_MAX;
}

/*
 * The TSC's rate against CLOCK_MONOTONIC, measured over 50 ms, as a
 * multiplier with a 32-bit shift: the error is the bracket of the two
 * samples (a few hundred cycles) over 50 ms, a few ppm, which time sync
 * corrects like any oscillator error.  Once per process.
 */
static uint64_t tsc_mult_q32(void)
{
	static gsize mult;

	if (g_once_init_enter(&mult)) {
		struct timespec pause = { 0, 50 * 1000 * 1000 };
		uint64_t t0 = 0, t1 = 0, m = 0;
		int64_t h0 = 0, h1 = 0;

		if (tsc_sample(&t0, &h0)) {
			nanosleep(&pause, NULL);
			if (tsc_sample(&t1, &h1) && t1 > t0 && h1 > h0)
				m = (uint64_t)(((unsigned __int128)(h1 - h0) << 32) / (t1 - t0));
		}
		g_once_init_leave(&mult, m ? m : 1);	/* 1: no usable TSC */
	}
	return mult > 1 ? mult : 0;
}

bool guest_clock_use_page(struct guest_clock *c, struct ph_clock_page *page, bool use_tsc)
{
	uint64_t mult = use_tsc ? tsc_mult_q32() : 0;
	uint64_t tsc = 0;
	int64_t h = 0;

	pthread_mutex_lock(&c->lock);
	memset(page, 0, sizeof(*page));
	page->magic = PH_CLOCK_PAGE_MAGIC;
	if (mult && !atomic_load(&c->tsc_on) && tsc_sample(&tsc, &h)) {
		/*
		 * From here host time is the TSC's, starting at CLOCK_MONOTONIC
		 * now: the current piece's origin stays in the past.
		 */
		c->tsc_ref = tsc;
		c->host_ref = h;
		c->tsc_mult = mult;
		c->tsc_shift = 32;
		atomic_store_explicit(&c->tsc_on, true, memory_order_release);
	}
	if (atomic_load(&c->tsc_on)) {
		page->flags = PH_CLOCK_TSC;
		page->tsc_ref = c->tsc_ref;
		page->host_ref = c->host_ref;
		page->tsc_mult = c->tsc_mult;
		page->tsc_shift = c->tsc_shift;
	}
	c->page = page;
	write_begin(c, 0);
	write_end(c);
	pthread_mutex_unlock(&c->lock);
	return page->flags & PH_CLOCK_TSC;
}

void guest_clock_drop_page(struct guest_clock *c)
{
	pthread_mutex_lock(&c->lock);
	c->page = NULL;
	pthread_mutex_unlock(&c->lock);
}
