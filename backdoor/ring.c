// SPDX-License-Identifier: MIT
/*
 * Queue-pair rings over shared pages.  See ring.h for the layout and the
 * ordering rules.  No libc beyond memcpy/memset: guest and host both link it.
 */
#include <string.h>

#include "ring.h"

void vmci_qp_view_init(struct vmci_qp_view *v, void *base, uint64_t produce_size,
		       uint64_t consume_size, bool host)
{
	uint8_t *p = base;
	uint8_t *consume = p + VMCI_PAGE_SIZE * (1 + VMCI_PAGES(produce_size));
	struct vmci_queue_header *gp = (void *)p, *gc = (void *)consume;

	if (!host) {
		*v = (struct vmci_qp_view){ gp, p + VMCI_PAGE_SIZE, produce_size,
					    gc, consume + VMCI_PAGE_SIZE, consume_size };
	} else {
		*v = (struct vmci_qp_view){ gc, consume + VMCI_PAGE_SIZE, consume_size,
					    gp, p + VMCI_PAGE_SIZE, produce_size };
	}
}

void vmci_qp_headers_init(void *base, uint64_t produce_size, uint64_t consume_size,
			  uint64_t handle)
{
	struct vmci_qp_view v;

	vmci_qp_view_init(&v, base, produce_size, consume_size, false);
	memset(v.produce_hdr, 0, sizeof(*v.produce_hdr));
	memset(v.consume_hdr, 0, sizeof(*v.consume_hdr));
	v.produce_hdr->handle = handle;
	v.consume_hdr->handle = handle;
}

static uint64_t load_acquire(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void store_release(uint64_t *p, uint64_t val)
{
	__atomic_store_n(p, val, __ATOMIC_RELEASE);
}

/*
 * Every pointer is loaded once and validated before use: the peer (the
 * guest, for host services) may change the headers at any moment, so a
 * value checked and then re-read could be out of bounds.
 */
static int64_t free_space(const struct vmci_qp_view *v, uint64_t *tail_out)
{
	/* Our tail is ours; the peer's consumer_head says how far it read our queue. */
	uint64_t tail = __atomic_load_n(&v->produce_hdr->producer_tail, __ATOMIC_RELAXED);
	uint64_t head = load_acquire(&v->consume_hdr->consumer_head);
	uint64_t size = v->produce_size;

	if (tail >= size || head >= size)
		return VMCI_ERROR_INVALID_SIZE;
	*tail_out = tail;
	return (int64_t)((head + size - tail - 1) % size);
}

static int64_t ready(const struct vmci_qp_view *v, uint64_t *head_out)
{
	uint64_t tail = load_acquire(&v->consume_hdr->producer_tail);
	uint64_t head = __atomic_load_n(&v->produce_hdr->consumer_head, __ATOMIC_RELAXED);
	uint64_t size = v->consume_size;

	if (tail >= size || head >= size)
		return VMCI_ERROR_INVALID_SIZE;
	*head_out = head;
	return (int64_t)((tail + size - head) % size);
}

int64_t ring_free_space(const struct vmci_qp_view *v)
{
	uint64_t tail;

	return free_space(v, &tail);
}

int64_t ring_ready(const struct vmci_qp_view *v)
{
	uint64_t head;

	return ready(v, &head);
}

int64_t ring_write(struct vmci_qp_view *v, const void *buf, size_t len)
{
	uint64_t tail = 0, size = v->produce_size, n, first;
	int64_t space = free_space(v, &tail);

	if (space <= 0)
		return space;
	n = len < (uint64_t)space ? len : (uint64_t)space;
	first = size - tail < n ? size - tail : n;
	memcpy(v->produce_data + tail, buf, first);
	memcpy(v->produce_data, (const uint8_t *)buf + first, n - first);
	store_release(&v->produce_hdr->producer_tail, (tail + n) % size);
	return (int64_t)n;
}

int64_t ring_read(struct vmci_qp_view *v, void *buf, size_t len)
{
	uint64_t head = 0, size = v->consume_size, n, first;
	int64_t avail = ready(v, &head);

	if (avail <= 0)
		return avail;
	n = len < (uint64_t)avail ? len : (uint64_t)avail;
	first = size - head < n ? size - head : n;
	memcpy(buf, v->consume_data + head, first);
	memcpy((uint8_t *)buf + first, v->consume_data, n - first);
	store_release(&v->produce_hdr->consumer_head, (head + n) % size);
	return (int64_t)n;
}

void ring_set_waiting(struct vmci_qp_view *v, uint32_t what)
{
	__atomic_store_n(&v->produce_hdr->waiting, what, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void ring_set_waiting_for(struct vmci_qp_view *v, uint32_t what, uint64_t bytes)
{
	__atomic_store_n(&v->produce_hdr->wake_bytes, bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)bytes,
			 __ATOMIC_RELAXED);
	ring_set_waiting(v, what);
}

bool ring_peer_waiting(const struct vmci_qp_view *v, uint32_t what)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return __atomic_load_n(&v->consume_hdr->waiting, __ATOMIC_RELAXED) & what;
}

bool ring_peer_wants_wakeup(const struct vmci_qp_view *v, uint32_t what)
{
	uint64_t want, have;
	int64_t n;

	if (!ring_peer_waiting(v, what))
		return false;
	want = __atomic_load_n(&v->consume_hdr->wake_bytes, __ATOMIC_RELAXED);
	if (what == VMCI_RING_WAIT_DATA) {
		/* The peer's consume queue is our produce queue: bytes in it. */
		n = ring_free_space(v);
		if (n < 0)
			return true;
		have = v->produce_size - 1 - (uint64_t)n;
		want = want < v->produce_size - 1 ? want : v->produce_size - 1;
	} else {
		/* The peer's produce queue is our consume queue: room in it. */
		n = ring_ready(v);
		if (n < 0)
			return true;
		have = v->consume_size - 1 - (uint64_t)n;
		want = want < v->consume_size - 1 ? want : v->consume_size - 1;
	}
	return have >= want;
}

bool ring_spin_until(const struct vmci_qp_view *v, uint32_t what, unsigned int spins)
{
	for (unsigned int i = 0; i < spins; i++) {
		if (what == VMCI_RING_WAIT_DATA ? ring_ready(v) != 0 : ring_free_space(v) != 0)
			return true;
		__builtin_ia32_pause();
	}
	return false;
}
