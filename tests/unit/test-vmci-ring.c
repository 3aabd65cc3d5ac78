// SPDX-License-Identifier: MIT
/*
 * Queue-pair rings (backdoor/ring.c) on one contiguous buffer laid out as
 * the guest registers it: a guest view writes, a host view reads, and the
 * other way round; wrap-around with odd chunk sizes, full and empty rings,
 * the waiting flags, and headers a hostile peer corrupted.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "backdoor/ring.h"

struct pair {
	void *base;
	struct vmci_qp_view guest, host;
	uint64_t psize, csize;
};

static void pair_init(struct pair *p, uint64_t psize, uint64_t csize)
{
	p->psize = psize;
	p->csize = csize;
	p->base = g_malloc0(vmci_qp_span(psize, csize));
	vmci_qp_headers_init(p->base, psize, csize, 0x1234);
	vmci_qp_view_init(&p->guest, p->base, psize, csize, false);
	vmci_qp_view_init(&p->host, p->base, psize, csize, true);
}

static void test_layout(void **state)
{
	struct pair p;

	pair_init(&p, 3 * 4096 + 1, 4096);
	/* Produce header, 4 data pages, consume header, 1 data page. */
	assert_int_equal(vmci_qp_span(p.psize, p.csize), 7 * 4096);
	assert_ptr_equal(p.guest.produce_hdr, p.base);
	assert_ptr_equal(p.guest.produce_data, (uint8_t *)p.base + 4096);
	assert_ptr_equal(p.guest.consume_hdr, (uint8_t *)p.base + 5 * 4096);
	assert_ptr_equal(p.guest.consume_data, (uint8_t *)p.base + 6 * 4096);
	/* The host's produce queue is the guest's consume queue. */
	assert_ptr_equal(p.host.produce_hdr, p.guest.consume_hdr);
	assert_ptr_equal(p.host.consume_data, p.guest.produce_data);
	assert_int_equal(p.guest.produce_hdr->handle, 0x1234);
	assert_int_equal(p.guest.consume_hdr->handle, 0x1234);
	g_free(p.base);
}

static void test_empty_and_full(void **state)
{
	struct pair p;
	uint8_t buf[200];

	pair_init(&p, 100, 100);
	assert_int_equal(ring_ready(&p.host), 0);
	assert_int_equal(ring_free_space(&p.guest), 99);	/* one byte stays free */
	assert_int_equal(ring_read(&p.host, buf, sizeof(buf)), 0);
	memset(buf, 7, sizeof(buf));
	assert_int_equal(ring_write(&p.guest, buf, sizeof(buf)), 99);
	assert_int_equal(ring_free_space(&p.guest), 0);
	assert_int_equal(ring_write(&p.guest, buf, 1), 0);
	assert_int_equal(ring_ready(&p.host), 99);
	assert_int_equal(ring_read(&p.host, buf, 40), 40);
	assert_int_equal(ring_free_space(&p.guest), 40);
	g_free(p.base);
}

/* Many wraps with chunk sizes that never line up with the ring size. */
static void stream(struct vmci_qp_view *w, struct vmci_qp_view *r, uint64_t total)
{
	uint8_t *src = g_malloc(total), *dst = g_malloc(total);
	uint64_t wr = 0, rd = 0;
	GRand *rng = g_rand_new_with_seed(42);

	for (uint64_t i = 0; i < total; i++)
		src[i] = (uint8_t)(i * 131 + (i >> 8));
	while (rd < total) {
		uint64_t n = (uint64_t)g_rand_int_range(rng, 1, 700);
		int64_t got;

		got = ring_write(w, src + wr, MIN(n, total - wr));
		assert_true(got >= 0);
		wr += (uint64_t)got;
		n = (uint64_t)g_rand_int_range(rng, 1, 700);
		got = ring_read(r, dst + rd, n);
		assert_true(got >= 0);
		rd += (uint64_t)got;
	}
	assert_memory_equal(src, dst, total);
	assert_int_equal(ring_ready(r), 0);
	g_rand_free(rng);
	g_free(src);
	g_free(dst);
}

static void test_wrap_around_both_ways(void **state)
{
	struct pair p;

	pair_init(&p, 1000, 4096 * 2 + 17);
	stream(&p.guest, &p.host, 200000);	/* 200 wraps of the guest's queue */
	stream(&p.host, &p.guest, 200000);
	g_free(p.base);
}

static void test_waiting_flags(void **state)
{
	struct pair p;

	pair_init(&p, 4096, 4096);
	assert_false(ring_peer_waiting(&p.guest, VMCI_RING_WAIT_DATA));
	ring_set_waiting(&p.host, VMCI_RING_WAIT_DATA);
	assert_true(ring_peer_waiting(&p.guest, VMCI_RING_WAIT_DATA));
	assert_false(ring_peer_waiting(&p.guest, VMCI_RING_WAIT_SPACE));
	ring_set_waiting(&p.host, 0);
	assert_false(ring_peer_waiting(&p.guest, VMCI_RING_WAIT_DATA));
	g_free(p.base);
}

/*
 * A sleeper that asked for N bytes is rung only once N are there: woken for
 * a few bytes it would sleep again at once, each round a doorbell through
 * the hypervisor.  What it asks beyond the queue's capacity means "full".
 */
static void test_wake_threshold(void **state)
{
	struct pair p;
	uint8_t buf[100] = { 0 };

	pair_init(&p, 100, 100);
	/* The host sleeps until 40 bytes are ready. */
	ring_set_waiting_for(&p.host, VMCI_RING_WAIT_DATA, 40);
	assert_int_equal(ring_write(&p.guest, buf, 10), 10);
	assert_true(ring_peer_waiting(&p.guest, VMCI_RING_WAIT_DATA));
	assert_false(ring_peer_wants_wakeup(&p.guest, VMCI_RING_WAIT_DATA));
	assert_int_equal(ring_write(&p.guest, buf, 29), 29);
	assert_false(ring_peer_wants_wakeup(&p.guest, VMCI_RING_WAIT_DATA));
	assert_int_equal(ring_write(&p.guest, buf, 1), 1);
	assert_true(ring_peer_wants_wakeup(&p.guest, VMCI_RING_WAIT_DATA));
	/* Not waiting at all: never rung, whatever it once asked for. */
	ring_set_waiting(&p.host, 0);
	assert_false(ring_peer_wants_wakeup(&p.guest, VMCI_RING_WAIT_DATA));
	assert_int_equal(ring_read(&p.host, buf, 40), 40);

	/* The host fills its queue and sleeps until 50 bytes of room. */
	assert_int_equal(ring_write(&p.host, buf, 100), 99);
	ring_set_waiting_for(&p.host, VMCI_RING_WAIT_SPACE, 50);
	assert_false(ring_peer_wants_wakeup(&p.guest, VMCI_RING_WAIT_DATA));
	assert_int_equal(ring_read(&p.guest, buf, 20), 20);
	assert_false(ring_peer_wants_wakeup(&p.guest, VMCI_RING_WAIT_SPACE));
	assert_int_equal(ring_read(&p.guest, buf, 30), 30);
	assert_true(ring_peer_wants_wakeup(&p.guest, VMCI_RING_WAIT_SPACE));

	/* Asking for more than the queue holds: rung once it is all free. */
	ring_set_waiting_for(&p.host, VMCI_RING_WAIT_SPACE, (uint64_t)1 << 40);
	assert_int_equal(p.host.produce_hdr->wake_bytes, UINT32_MAX);
	assert_false(ring_peer_wants_wakeup(&p.guest, VMCI_RING_WAIT_SPACE));
	assert_int_equal(ring_read(&p.guest, buf, 100), 49);
	assert_true(ring_peer_wants_wakeup(&p.guest, VMCI_RING_WAIT_SPACE));

	/* A broken index: ring anyway (a spurious doorbell costs nothing). */
	p.host.produce_hdr->producer_tail = 1000;
	assert_true(ring_peer_wants_wakeup(&p.guest, VMCI_RING_WAIT_SPACE));
	g_free(p.base);
}

/* A peer that writes nonsense into the headers gets an error, never a wild copy. */
static void test_corrupt_headers(void **state)
{
	struct pair p;
	uint8_t buf[64];

	pair_init(&p, 4096, 4096);
	p.guest.produce_hdr->producer_tail = 4096;	/* == size: out of range */
	assert_int_equal(ring_ready(&p.host), VMCI_ERROR_INVALID_SIZE);
	assert_int_equal(ring_read(&p.host, buf, sizeof(buf)), VMCI_ERROR_INVALID_SIZE);
	p.guest.produce_hdr->producer_tail = 0;
	p.guest.produce_hdr->consumer_head = UINT64_MAX;	/* how far the guest read */
	assert_int_equal(ring_free_space(&p.host), VMCI_ERROR_INVALID_SIZE);
	assert_int_equal(ring_write(&p.host, buf, sizeof(buf)), VMCI_ERROR_INVALID_SIZE);
	g_free(p.base);
}

/* ring_transfer_step's side: counts doorbells, says whether the peer left. */
static int notified;
static bool gone;

static bool side_gone(void *opaque)
{
	return gone;
}

static void side_notify(void *opaque)
{
	notified++;
}

static int side_wait(void *opaque, int timeout_ms)
{
	fail_msg("a step never waits");
	return -1;
}

/*
 * The non-blocking transfer a main loop drives: each step moves what the
 * ring holds, says -EAGAIN with our waiting flag up (so the peer rings),
 * rings the peer only when it waits, and finishes with 0 once all arrived.
 */
static void test_transfer_step(void **state)
{
	const struct ring_side side = { side_gone, side_notify, side_wait, NULL, 0, NULL };
	uint8_t want[250], got[250] = { 0 };
	struct pair p;
	size_t off = 0, sent = 0;

	for (size_t i = 0; i < sizeof(want); i++)
		want[i] = (uint8_t)(i * 7 + 1);
	pair_init(&p, 100, 100);
	notified = 0;
	gone = false;
	/* Nothing yet: the reader says so and asks to be rung. */
	assert_int_equal(ring_transfer_step(&p.host, got, sizeof(got), &off, false, &side), -EAGAIN);
	assert_int_equal(off, 0);
	assert_true(ring_peer_waiting(&p.guest, VMCI_RING_WAIT_DATA));
	/* The guest writes in pieces of at most a ring's worth; the host steps after each. */
	while (sent < sizeof(want)) {
		int64_t n = ring_write(&p.guest, want + sent, MIN(sizeof(want) - sent, 60));
		int r;

		assert_true(n > 0);
		sent += (size_t)n;
		/* The guest waits for space when it filled the ring: reading must ring it. */
		ring_set_waiting(&p.guest, ring_free_space(&p.guest) ? 0 : VMCI_RING_WAIT_SPACE);
		r = ring_transfer_step(&p.host, got, sizeof(got), &off, false, &side);
		assert_int_equal(off, sent);
		assert_int_equal(r, sent == sizeof(want) ? 0 : -EAGAIN);
		if (r == -EAGAIN)
			assert_true(ring_peer_waiting(&p.guest, VMCI_RING_WAIT_DATA));
	}
	assert_memory_equal(got, want, sizeof(want));
	assert_false(ring_peer_waiting(&p.guest, VMCI_RING_WAIT_DATA));
	/* The writer's side: a full ring is -EAGAIN with the space flag up. */
	off = 0;
	assert_int_equal(ring_transfer_step(&p.host, want, sizeof(want), &off, true, &side), -EAGAIN);
	assert_int_equal(off, 99);	/* a queue holds size - 1 bytes */
	assert_true(ring_peer_waiting(&p.guest, VMCI_RING_WAIT_SPACE));
	/* It asks to be woken at half the queue, not for the first free byte. */
	assert_int_equal(p.host.produce_hdr->wake_bytes, 49);
	notified = 0;
	assert_int_equal(ring_read(&p.guest, got, 10), 10);
	assert_false(ring_peer_wants_wakeup(&p.guest, VMCI_RING_WAIT_SPACE));
	assert_int_equal(ring_read(&p.guest, got, 39), 39);
	assert_true(ring_peer_wants_wakeup(&p.guest, VMCI_RING_WAIT_SPACE));
	assert_int_equal(ring_read(&p.guest, got, 50), 50);
	/* With less than that left to write, it asks for what it needs. */
	off = sizeof(want) - 5;
	assert_int_equal(ring_write(&p.host, want, 99), 99);
	assert_int_equal(ring_transfer_step(&p.host, want, sizeof(want), &off, true, &side), -EAGAIN);
	assert_int_equal(p.host.produce_hdr->wake_bytes, 5);
	/* A peer that left, or wrote nonsense, ends it. */
	gone = true;
	assert_int_equal(ring_transfer_step(&p.host, got, sizeof(got), &off, false, &side), -EPIPE);
	gone = false;
	p.guest.produce_hdr->producer_tail = 100;
	off = 0;
	assert_int_equal(ring_transfer_step(&p.host, got, sizeof(got), &off, false, &side), -EPROTO);
	g_free(p.base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_empty_and_full),
		cmocka_unit_test(test_wrap_around_both_ways),
		cmocka_unit_test(test_waiting_flags),
		cmocka_unit_test(test_wake_threshold),
		cmocka_unit_test(test_corrupt_headers),
		cmocka_unit_test(test_transfer_step),
	};

	return cmocka_run_group_tests_name("vmci-ring", tests, NULL, NULL);
}
