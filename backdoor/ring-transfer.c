// SPDX-License-Identifier: MIT
/*
 * Whole transfers through a queue pair, the same for guest and host: copy
 * while the ring has room (or data), ring the peer's doorbell only when it
 * said it sleeps and what it waits for is there, spin briefly, then set our
 * waiting flag and sleep until our doorbell rings.  Hosted code only (errno
 * values); payloads use ring.c.
 *
 * A sleeper asks to be woken only once it can move a good share of the ring
 * (half of it, or all it still needs): woken for every few bytes, a writer
 * facing a reader that is descheduled now and then would sleep and wake per
 * read, and each round costs a doorbell through the hypervisor.  Both sides
 * cannot sleep at once: a writer sleeps with more than half the ring full,
 * which is at least what a sleeping reader asks for, and whoever moved last
 * sees the other's flag (set, then a full barrier, then the ring re-checked).
 */
#include <errno.h>
#include <time.h>

#include "ring.h"

static int64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The most one copy moves before the peer sees it (the tail or head is
 * published after each copy).  In steps this small the peer copies the
 * bytes out while they are still in this core's cache, and the two sides
 * overlap instead of taking turns over whole writes: 1 MiB writes through
 * a 4 MiB queue pair went from 6 to 13 GB/s on a 2-core EPYC (make bench
 * BENCH=vmci_qp), and the waits for the peer from ~250 to ~16 per GiB.
 */
#define RING_COPY_STEP	(64u << 10)

/*
 * Copy what the ring allows now, ringing the peer's doorbell when it said it
 * sleeps; how many bytes moved, or -EPROTO (the peer corrupted the header).
 */
static int64_t copy_available(struct vmci_qp_view *v, uint8_t *buf, size_t len, size_t *off,
			      bool write, const struct ring_side *side)
{
	uint32_t theirs = write ? VMCI_RING_WAIT_DATA : VMCI_RING_WAIT_SPACE;
	int64_t moved = 0;


	while (*off < len) {
		size_t step = len - *off < RING_COPY_STEP ? len - *off : RING_COPY_STEP;
		int64_t n = write ? ring_write(v, buf + *off, step) : ring_read(v, buf + *off, step);

		if (n < 0)
			return -EPROTO;
		if (n == 0)
			break;
		*off += (size_t)n;
		moved += n;
		if (ring_peer_wants_wakeup(v, theirs)) {
			side->notify(side->opaque);
			if (side->stats)
				side->stats->doorbells++;
		}
	}
	return moved;
}

/*
 * What we ask to be woken at: all we still need, at most half the queue,
 * at least a byte (a queue of one or two bytes has no half worth waiting
 * for; asking for nothing would never sleep).
 */
static uint64_t wake_threshold(const struct vmci_qp_view *v, size_t left, bool write)
{
	uint64_t half = ((write ? v->produce_size : v->consume_size) - 1) / 2;
	uint64_t want = left < half ? left : half;

	return want ? want : 1;
}

/* Room (write) or data (read) enough to be worth waking for? */
static bool enough_now(const struct vmci_qp_view *v, uint64_t want, bool write)
{
	int64_t n = write ? ring_free_space(v) : ring_ready(v);

	return n < 0 || (uint64_t)n >= want;
}

static int transfer(struct vmci_qp_view *v, uint8_t *buf, size_t len, bool write,
		    const struct ring_side *side)
{
	/* What we wait for. */
	uint32_t ours = write ? VMCI_RING_WAIT_SPACE : VMCI_RING_WAIT_DATA;
	size_t off = 0;
	int64_t stalled_since = -1;	/* read the clock only once we sleep */

	while (off < len) {
		int64_t n = copy_available(v, buf, len, &off, write, side);
		uint64_t want;
		int r;

		if (n < 0)
			return (int)n;
		if (n > 0) {
			stalled_since = -1;
			continue;
		}
		if (side->peer_gone(side->opaque))
			return -EPIPE;
		if (ring_spin_until(v, ours, RING_SPINS_DEFAULT))
			continue;
		if (side->stall_ms > 0) {
			int64_t now = monotonic_ms();

			if (stalled_since < 0)
				stalled_since = now;
			else if (now - stalled_since >= side->stall_ms)
				return -ETIMEDOUT;
		}
		want = wake_threshold(v, len - off, write);
		ring_set_waiting_for(v, ours, want);
		/* Re-check after publishing the flag: the peer may have moved meanwhile. */
		r = 0;
		if (!enough_now(v, want, write)) {
			r = side->wait(side->opaque, 1000);
			if (side->stats)
				side->stats->sleeps++;
		}
		ring_set_waiting(v, 0);
		if (r < 0)
			return r;
	}
	return 0;
}

int ring_transfer_step(struct vmci_qp_view *v, void *buf, size_t len, size_t *off, bool write,
		       const struct ring_side *side)
{
	uint32_t ours = write ? VMCI_RING_WAIT_SPACE : VMCI_RING_WAIT_DATA;

	ring_set_waiting(v, 0);
	for (;;) {
		int64_t n = copy_available(v, buf, len, off, write, side);
		uint64_t want;

		if (n < 0)
			return (int)n;
		if (*off >= len)
			return 0;
		if (side->peer_gone(side->opaque))
			return -EPIPE;
		want = wake_threshold(v, len - *off, write);
		ring_set_waiting_for(v, ours, want);
		/* Re-check after publishing the flag, as transfer() does before sleeping. */
		if (!enough_now(v, want, write))
			return -EAGAIN;
		ring_set_waiting(v, 0);
	}
}

int ring_write_all(struct vmci_qp_view *v, const void *buf, size_t len,
		   const struct ring_side *side)
{
	return transfer(v, (uint8_t *)buf, len, true, side);
}

int ring_read_all(struct vmci_qp_view *v, void *buf, size_t len, const struct ring_side *side)
{
	return transfer(v, buf, len, false, side);
}
