/* SPDX-License-Identifier: MIT */
/*
 * Queue-pair rings: the one implementation both the guest and host services
 * use on the shared pages.
 *
 * Layout.  A queue pair is two queues.  Each queue is one header page
 * followed by ceil(size / 4096) data pages; offset o of the queue's data
 * lives at data page o / 4096, byte o % 4096.  The PPN list the guest
 * registers is: produce header, produce data..., consume header, consume
 * data...  Mapped as one contiguous view (vmci_qp_view_init) that is
 *
 *   base + 0                          produce header page
 *   base + 4096                       produce data (produce_size bytes)
 *   base + 4096 * (1 + P)             consume header page
 *   base + 4096 * (2 + P)             consume data (consume_size bytes)
 *
 * with P = ceil(produce_size / 4096).  "Produce" is the guest's sending
 * direction; the host's view swaps the two queues.
 *
 * Header (VMCI's, first 24 bytes of each header page):
 *   u64 handle         the queue pair's {context, resource}
 *   u64 producer_tail  next byte the owner of this header writes to
 *                      THIS queue
 *   u64 consumer_head  next byte the owner of this header reads from the
 *                      OTHER queue (its consume queue)
 * then, Porthole, at byte 24: u32 waiting, VMCI_RING_WAIT_* bits: the owner
 * is about to sleep until data arrives in its consume queue or space frees
 * in its produce queue, so the peer must notify (doorbell) after it moves a
 * pointer; at byte 28: u32 wake_bytes, how much data (or space) the sleeper
 * needs before a doorbell is worth its cost (0: any).  Each endpoint writes
 * only its own produce queue's header.
 *
 * Discipline: offsets are in [0, size); tail == head is empty; one byte
 * stays free, so a queue holds size - 1 bytes.  The writer copies data,
 * then publishes producer_tail with a release store; the reader loads it
 * with acquire, copies, then publishes consumer_head with release.  An
 * offset >= size (a hostile or broken peer) reads as
 * VMCI_ERROR_INVALID_SIZE and nothing is copied: a ring can never make a
 * caller touch memory outside its view.
 */
#ifndef PORTHOLE_BACKDOOR_RING_H
#define PORTHOLE_BACKDOOR_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmci.h"

struct vmci_queue_header {
	uint64_t handle;
	uint64_t producer_tail;
	uint64_t consumer_head;
	uint32_t waiting;		/* Porthole: VMCI_RING_WAIT_* */
	uint32_t wake_bytes;		/* Porthole: wake me at this much; 0: any */
};

#define VMCI_RING_WAIT_DATA	0x1	/* sleeping until the consume queue has data */
#define VMCI_RING_WAIT_SPACE	0x2	/* sleeping until the produce queue has space */

/* One endpoint's view of a queue pair. */
struct vmci_qp_view {
	struct vmci_queue_header *produce_hdr;	/* ours: we write it */
	uint8_t *produce_data;
	uint64_t produce_size;
	struct vmci_queue_header *consume_hdr;	/* the peer's */
	uint8_t *consume_data;
	uint64_t consume_size;
};

/* Bytes a contiguous view of a queue pair spans. */
static inline uint64_t vmci_qp_span(uint64_t produce_size, uint64_t consume_size)
{
	return VMCI_PAGE_SIZE * (2 + VMCI_PAGES(produce_size) + VMCI_PAGES(consume_size));
}

/*
 * Point `v` at a contiguous view of the queue pair (layout above).
 * produce_size/consume_size as the guest registered them; `host` swaps the
 * queues (the host produces into the guest's consume queue).
 */
void vmci_qp_view_init(struct vmci_qp_view *v, void *base, uint64_t produce_size,
		       uint64_t consume_size, bool host);

/* Zero both headers and store the handle (the hypervisor does this at alloc). */
void vmci_qp_headers_init(void *base, uint64_t produce_size, uint64_t consume_size,
			  uint64_t handle);

/* Bytes ring_write could put in our produce queue now, or a negative VMCI error. */
int64_t ring_free_space(const struct vmci_qp_view *v);
/* Bytes ready in our consume queue, or a negative VMCI error. */
int64_t ring_ready(const struct vmci_qp_view *v);
/* Copy up to len bytes in (wrapping); the count, or a negative VMCI error. */
int64_t ring_write(struct vmci_qp_view *v, const void *buf, size_t len);
/* Copy up to len bytes out (wrapping); the count, or a negative VMCI error. */
int64_t ring_read(struct vmci_qp_view *v, void *buf, size_t len);

/*
 * Announce that we are about to sleep waiting for `what` (VMCI_RING_WAIT_*)
 * or clear it (0).  Full barrier after: re-check the ring before sleeping.
 */
void ring_set_waiting(struct vmci_qp_view *v, uint32_t what);
/*
 * The same, asking to be woken only once `bytes` of data (or space) are
 * there: a sleeper woken for a few bytes sleeps again at once, and every
 * sleep costs a doorbell through the hypervisor (traps, for a guest).
 */
void ring_set_waiting_for(struct vmci_qp_view *v, uint32_t what, uint64_t bytes);
/* Does the peer wait for `what`?  Call after moving a pointer (full barrier before). */
bool ring_peer_waiting(const struct vmci_qp_view *v, uint32_t what);
/*
 * Does the peer wait for `what` and is there now as much as it asked for
 * (ring_set_waiting_for)?  Then ring its doorbell.  A wake_bytes beyond what
 * the queue can ever hold counts as "a full queue"; an index out of range
 * (a broken peer) as "yes": a spurious doorbell is harmless.
 */
bool ring_peer_wants_wakeup(const struct vmci_qp_view *v, uint32_t what);

/*
 * Before sleeping: watch the ring for up to `spins` pause instructions
 * (about a microsecond per 20-100) for `what` (data ready / space free, or
 * an error) to come true.  A peer that is running refills or drains a ring
 * faster than a sleep/wakeup round trip through the hypervisor; a bounded
 * spin never replaces the sleep.  True when it came true.
 */
#define RING_SPINS_DEFAULT	4000
bool ring_spin_until(const struct vmci_qp_view *v, uint32_t what, unsigned int spins);

/* How one side of a queue pair learns of its peer (ring-transfer.c, hosted code). */
struct ring_side {
	bool (*peer_gone)(void *opaque);		/* the peer detached */
	void (*notify)(void *opaque);			/* ring the peer's doorbell */
	int (*wait)(void *opaque, int timeout_ms);	/* sleep for our doorbell; <0 error */
	void *opaque;
	/*
	 * 0: wait for a live but stopped peer forever; else give up with
	 * -ETIMEDOUT after this long without a byte moving (a peer that is
	 * SIGSTOPped or wedged must not block a main loop for good).
	 */
	int stall_ms;
	struct ring_stats *stats;	/* NULL, or counters to add to */
};

/* What a transfer cost in sleeps and doorbells (for benchmarks and tests). */
struct ring_stats {
	uint64_t sleeps;	/* times we waited for our doorbell */
	uint64_t doorbells;	/* times we rang the peer's */
};

/*
 * Move all `len` bytes through the queue pair, sleeping when the ring is full
 * (write) or empty (read).  0, -EPIPE when the peer detached, -EPROTO when the
 * ring header is corrupt, -ETIMEDOUT when stalled for side->stall_ms, or the
 * wait callback's error.
 */
int ring_write_all(struct vmci_qp_view *v, const void *buf, size_t len,
		   const struct ring_side *side);
int ring_read_all(struct vmci_qp_view *v, void *buf, size_t len, const struct ring_side *side);

/*
 * The same without blocking, for callers driven by an event loop: move what
 * the ring allows now from/to buf[*off..len) (advancing *off).  0 once all
 * `len` bytes moved; -EAGAIN when the ring is full (write) or empty (read):
 * our waiting flag is then set, so the peer rings our doorbell when it moves
 * (call again then, or on a timer); -EPIPE, -EPROTO as above.  side->wait and
 * side->stall_ms are not used: the caller owns the clock.
 */
int ring_transfer_step(struct vmci_qp_view *v, void *buf, size_t len, size_t *off, bool write,
		       const struct ring_side *side);

#endif
