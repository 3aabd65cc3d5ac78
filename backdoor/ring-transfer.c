// SPDX-License-Identifier: MIT
/*
 * Whole transfers through a queue pair, the same for guest and host: copy
 * while the ring has room (or data), ring the peer's doorbell only when it
 * said it sleeps, spin briefly, then set our waiting flag and sleep until our
 * doorbell rings.  Hosted code only (errno values); payloads use ring.c.
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

static int transfer(struct vmci_qp_view *v, uint8_t *buf, size_t len, bool write,
		    const struct ring_side *side)
{
	/* What we wait for, and what the peer waits for when we make progress. */
	uint32_t ours = write ? VMCI_RING_WAIT_SPACE : VMCI_RING_WAIT_DATA;
	uint32_t theirs = write ? VMCI_RING_WAIT_DATA : VMCI_RING_WAIT_SPACE;
	size_t off = 0;
	int64_t stalled_since = -1;	/* read the clock only once we sleep */

	while (off < len) {
		int64_t n = write ? ring_write(v, buf + off, len - off)
				  : ring_read(v, buf + off, len - off);
		int r;

		if (n < 0)
			return -EPROTO;		/* the peer corrupted the ring header */
		if (n > 0) {
			off += (size_t)n;
			stalled_since = -1;
			if (ring_peer_waiting(v, theirs))
				side->notify(side->opaque);
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
		ring_set_waiting(v, ours);
		/* Re-check after publishing the flag: the peer may have moved meanwhile. */
		r = (write ? ring_free_space(v) : ring_ready(v)) == 0 ?
		    side->wait(side->opaque, 1000) : 0;
		ring_set_waiting(v, 0);
		if (r < 0)
			return r;
	}
	return 0;
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
