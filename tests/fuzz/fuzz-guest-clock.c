// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the guest clock (hypervisor/guest-clock.c): what guest
 * processes pass to clock_gettime, clock_settime and adjtimex (every timex
 * field as the guest wrote it), mixed with the host's jumps, drift and
 * PH_CTL_CLOCK requests, on an explicit host timeline that only moves
 * forward.  Operations: opcode byte % 8, fields below.
 *
 * Checked: CLOCK_MONOTONIC, _RAW and BOOTTIME never go back and always
 * move when a microsecond of host time passed (the rate stays positive
 * whatever the guest asked); CLOCK_REALTIME moves with CLOCK_MONOTONIC
 * (same offset) until something steps it; timespecs are normalized;
 * adjtimex returns a clock state or -EINVAL and reports values inside the
 * kernel's clamps; a control request succeeds with "key=value" lines or
 * fails with a reason, changing nothing; the clock page a guest process
 * reads (backdoor/clock-page.h) gives every clock the same nanosecond as
 * the hypervisor's own read.
 */
#include <errno.h>
#include <string.h>

#include "backdoor/clock-page.h"
#include "hypervisor/guest-clock.h"
#include "fuzz-vm.h"

static const clockid_t clocks[] = {
	CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE,
	CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME, CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM,
	CLOCK_TAI, CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID, 99, -5,
};

/* The host's realtime clock (only reported: the host side's clocks are explicit here). */
#define HOST_RT	(1700000000LL * GUEST_CLOCK_NSEC)

struct harness {
	struct guest_clock *c;
	int64_t host;			/* the host's monotonic time now */
	int64_t last_host, last_mono, last_raw, last_boot;
	bool read;			/* the last_* are set */
	int64_t rt_minus_mono;		/* since the last step */
	bool offset_known;
};

static int64_t ns(const struct timespec *ts)
{
	FUZZ_CHECK(ts->tv_nsec >= 0 && ts->tv_nsec < GUEST_CLOCK_NSEC);
	return (int64_t)ts->tv_sec * GUEST_CLOCK_NSEC + ts->tv_nsec;
}

/* What guest processes read: rewritten by every change (no TSC here: explicit host times). */
static struct ph_clock_page page;

static int64_t read_clock(struct harness *h, clockid_t id)
{
	struct ph_clock_point pt;
	struct timespec ts;

	FUZZ_CHECK(guest_clock_gettime_at(h->c, id, h->host, &ts) == 0);
	FUZZ_CHECK(page.seq % 2 == 0);
	ph_clock_project(&page.piece, h->host, &pt);
	FUZZ_CHECK(ph_clock_value(&page.piece, &pt, (int)id) == ns(&ts));
	return ns(&ts);
}

static void read_all(struct harness *h, clockid_t extra)
{
	struct timespec ts;
	int64_t rt = read_clock(h, CLOCK_REALTIME), mono = read_clock(h, CLOCK_MONOTONIC);
	int64_t raw = read_clock(h, CLOCK_MONOTONIC_RAW), boot = read_clock(h, CLOCK_BOOTTIME);
	int ret = guest_clock_gettime_at(h->c, extra, h->host, &ts);

	FUZZ_CHECK(guest_clock_keeps(extra) ? ret == 0 : ret == -EINVAL);
	if (!ret)
		ns(&ts);
	if (h->read) {
		FUZZ_CHECK(mono >= h->last_mono && raw >= h->last_raw && boot >= h->last_boot);
		/* Rates stay positive: a microsecond of host time moves every clock. */
		if (h->host - h->last_host >= 1000)
			FUZZ_CHECK(mono > h->last_mono && raw > h->last_raw);
	}
	if (h->offset_known)
		FUZZ_CHECK(rt - mono == h->rt_minus_mono);
	h->rt_minus_mono = rt - mono;
	h->offset_known = true;
	h->last_host = h->host;
	h->last_mono = mono;
	h->last_raw = raw;
	h->last_boot = boot;
	h->read = true;
}

static void adjtimex_op(struct harness *h, struct fuzz_input *in)
{
	struct timex tx = { 0 };
	int ret;

	tx.modes = (unsigned int)fuzz_take(in, 4);
	tx.offset = (long)fuzz_take(in, 8);
	tx.freq = (long)fuzz_take(in, 8);
	tx.maxerror = (long)fuzz_take(in, 4);
	tx.esterror = (long)fuzz_take(in, 4);
	tx.status = (int)fuzz_take(in, 4);
	tx.constant = (long)fuzz_take(in, 8);
	tx.tick = (long)fuzz_take(in, 8);
	tx.time.tv_sec = (time_t)fuzz_take(in, 8);
	tx.time.tv_usec = (long)fuzz_take(in, 8);
	ret = guest_clock_adjtimex_at(h->c, &tx, h->host);
	FUZZ_CHECK(ret == TIME_OK || ret == TIME_ERROR || ret == -EINVAL);
	if (ret < 0)
		return;
	/* A slew moves both clocks alike; only a step moves CLOCK_REALTIME alone. */
	if ((tx.modes & ADJ_SETOFFSET) && !(tx.modes & 0x8000))
		h->offset_known = false;
	if (tx.modes & 0x8000)
		return;		/* adjtime() reports only the offset */
	FUZZ_CHECK(tx.freq >= -(GUEST_CLOCK_MAX_FREQ_PPB << 16) / 1000 &&
		   tx.freq <= (GUEST_CLOCK_MAX_FREQ_PPB << 16) / 1000);
	FUZZ_CHECK(tx.tick >= GUEST_CLOCK_TICK_MIN && tx.tick <= GUEST_CLOCK_TICK_MAX);
	FUZZ_CHECK(tx.maxerror >= 0 && tx.esterror >= 0 && tx.constant >= 0);
	FUZZ_CHECK(tx.time.tv_usec >= 0 && tx.time.tv_usec < GUEST_CLOCK_NSEC);
}

static void control_op(struct harness *h, struct fuzz_input *in)
{
	const uint8_t *bytes;
	size_t len = fuzz_take_bytes(in, fuzz_take(in, 1), &bytes);
	char *req = g_strndup((const char *)bytes, len);
	GString *reply = g_string_new(NULL);
	int status = guest_clock_control_at(h->c, req, reply, HOST_RT, h->host);

	FUZZ_CHECK(status == 0 || status == EINVAL || status == ERANGE);
	if (status == 0)
		fuzz_check_status_text(reply->str, reply->len);
	else
		FUZZ_CHECK(reply->len > 0);	/* a reason */
	if (strstr(req, "offset") || strstr(req, "rate"))
		h->offset_known = false;
	g_string_free(reply, TRUE);
	g_free(req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	int64_t start = 1000 * GUEST_CLOCK_NSEC;	/* the host's monotonic clock at boot */
	struct harness h = { .c = guest_clock_new_at(HOST_RT, start),
			     .host = start };
	unsigned int steps = 0;

	guest_clock_use_page(h.c, &page, false);
	while (in.left && steps++ < 1024) {
		unsigned int op = (unsigned int)fuzz_take(&in, 1);
		int ret;

		switch (op % 8) {
		case 0: {	/* host time passes: u32 ns << (op >> 3) % 24, 73 years at most */
			int64_t d = (int64_t)(fuzz_take(&in, 4) << ((op >> 3) % 24));

			if (h.host - start + d < (1LL << 61))
				h.host += d;
			break;
		}
		case 1:
			read_all(&h, clocks[(op >> 3) % G_N_ELEMENTS(clocks)]);
			break;
		case 2:
			ret = guest_clock_settime_at(h.c, (int64_t)fuzz_take(&in, 8), h.host);
			FUZZ_CHECK(ret == 0 || ret == -EINVAL);
			if (!ret)
				h.offset_known = false;
			break;
		case 3:
			adjtimex_op(&h, &in);
			break;
		case 4:
			guest_clock_jump_at(h.c, (int64_t)fuzz_take(&in, 8), h.host);
			h.offset_known = false;
			break;
		case 5:
			ret = guest_clock_set_drift_at(h.c, (int64_t)fuzz_take(&in, 8), h.host);
			FUZZ_CHECK(ret == 0 || ret == -ERANGE);
			break;
		case 6:
			control_op(&h, &in);
			break;
		case 7: {
			struct guest_clock_info info;

			guest_clock_info_at(h.c, HOST_RT, h.host, &info);
			FUZZ_CHECK(GUEST_CLOCK_NSEC + info.rate_ppb > 0);
			FUZZ_CHECK(info.tick >= GUEST_CLOCK_TICK_MIN &&
				   info.tick <= GUEST_CLOCK_TICK_MAX);
			break;
		}
		}
	}
	guest_clock_free(h.c);
	return 0;
}
