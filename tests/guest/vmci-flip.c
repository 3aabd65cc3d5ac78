// SPDX-License-Identifier: MIT
/*
 * Shared memory is read once, from a real guest: while the other side
 * reads a structure in guest memory, a second thread of this process
 * flips its length, count and offset fields between a valid and a
 * hostile value in a tight loop (the VMCI double fetch CVE-2025-22224 was
 * a reader that checked one value and used another).  Prints TAP.
 *
 *   vmci-flip [SECONDS [ROUNDS]]     (default 2 s per hypervisor phase, 10 rounds)
 *
 * 1. Datagram header, read by the hypervisor: payload_size of a datagram
 *    being sent.  Each send is taken whole or refused; nothing else.
 * 2. Queue-pair allocation, read by the hypervisor: sizes, page count and
 *    a page number.  Each is created from one consistent copy (its headers
 *    where the first page says) or refused; the pages are free afterwards.
 * 3. A queue pair's ring header, read by a host service: a stream offered
 *    to host endpoint 2001 (`porthole-vmci VM stream-recv 2001 --blocks
 *    --count ROUNDS+1`), written by an honest producer thread that now and
 *    then sets its producer tail, or the host's own consumer head (also in
 *    guest memory), to a hostile value for an instant, ROUNDS times.  The
 *    host must refuse and detach each time, and every byte it took before
 *    must be the stream's (the block pattern: a reader that used a second
 *    fetch of an index would copy bytes the producer never wrote there).
 *    Then one honest 1 MiB stream: the host service still answers.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backdoor/vmci-stream.h"
#include "guest-additions/lib/vmci-guest.h"
#include "tap.h"

#define HOST_ENDPOINT	2001
/* Not a divisor of the pattern's 64 KiB block: a byte from a lap before never matches. */
#define QP_SIZE		60000u
#define HONEST_BYTES	(1u << 20)

/* A field the flipper rewrites: values[0] is valid, the others hostile. */
struct flip {
	uint64_t *field;
	uint64_t values[4];
};

static struct flip flips[4];
static unsigned int n_flips;
static int flipping;
static uint64_t flip_count;
static pthread_t flipper_thread;
static uint64_t hostile_instants;	/* ring phase */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void add_flip(void *field, uint64_t valid, uint64_t h1, uint64_t h2, uint64_t h3)
{
	flips[n_flips++] = (struct flip){ field, { valid, h1, h2, h3 } };
}

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Each field independently: hostile `hostile_in_16` times in 16, else valid. */
static unsigned int hostile_in_16;

static void *flipper(void *unused)
{
	uint64_t x = 0x9E3779B97F4A7C15ull;

	while (__atomic_load_n(&flipping, __ATOMIC_RELAXED)) {
		xorshift(&x);
		for (unsigned int i = 0; i < n_flips; i++) {
			uint64_t bits = x >> (8 * i);
			unsigned int k = (bits & 15) < hostile_in_16 ? 1 + (bits >> 4 & 15) % 3 : 0;

			__atomic_store_n(flips[i].field, flips[i].values[k], __ATOMIC_RELAXED);
		}
		__atomic_add_fetch(&flip_count, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void start_thread(void *(*fn)(void *), void *arg)
{
	flip_count = 0;
	__atomic_store_n(&flipping, 1, __ATOMIC_RELAXED);
	if (pthread_create(&flipper_thread, NULL, fn, arg)) {
		printf("not ok - no second thread\n");
		exit(1);
	}
}

static void flip_start(unsigned int hostile_share)
{
	hostile_in_16 = hostile_share;
	start_thread(flipper, NULL);
}

/* Stop, and leave every field valid. */
static void flip_stop(void)
{
	__atomic_store_n(&flipping, 0, __ATOMIC_RELAXED);
	pthread_join(flipper_thread, NULL);
	for (unsigned int i = 0; i < n_flips; i++)
		*flips[i].field = flips[i].values[0];
	n_flips = 0;
}

/* 1: a datagram whose header changes while the hypervisor reads it. */
static void flip_datagram(double seconds)
{
	static struct {
		struct vmci_dg_hdr h;
		uint8_t payload[40];
	} __attribute__((aligned(64))) dg;
	uint64_t taken = 0, refused = 0, other = 0;
	int64_t last_other = 0;
	double end = now_s() + seconds;

	dg.h = (struct vmci_dg_hdr){ { VMCI_HYPERVISOR_CONTEXT_ID, VMCI_GET_CONTEXT_ID },
				     { VMCI_INVALID_ID, VMCI_INVALID_ID }, sizeof(dg.payload) };
	add_flip(&dg.h.payload_size, sizeof(dg.payload), 0, 1ull << 40, UINT64_MAX);
	flip_start(8);
	while (now_s() < end) {
		int64_t r = phg_vmci_send_raw(&dg, sizeof(dg));

		if (r == VMCI_GUEST_CONTEXT_ID) {
			taken++;
		} else if (r == VMCI_ERROR_INVALID_ARGS) {
			refused++;
		} else {
			other++;
			last_other = r;
		}
	}
	flip_stop();
	check(other == 0, "datagram header flipped %llu times under %llu sends: %llu taken whole, "
	      "%llu refused, %llu other answers (last %lld)", (unsigned long long)flip_count,
	      (unsigned long long)(taken + refused + other), (unsigned long long)taken,
	      (unsigned long long)refused, (unsigned long long)other, (long long)last_other);
	check(taken && refused, "... the race went both ways");
}

/* 2: a queue-pair allocation whose sizes and pages change while it is read. */
static void flip_queue_pair(struct phg_vmci *v, double seconds)
{
	static struct {
		struct vmci_dg_hdr h;
		struct vmci_qp_alloc a;
		uint64_t ppns[4];
	} __attribute__((aligned(64))) req;
	uint64_t ram_pages = v->ram_size / VMCI_PAGE_SIZE, created = 0, refused = 0, other = 0;
	uint64_t handle = (uint64_t)v->cid | (uint64_t)70 << 32, bad_header = 0;
	struct vmci_handle h = { v->cid, 70 };
	int64_t first, last_other = 0;
	double end = now_s() + seconds;
	uint8_t *map;

	first = phg_pages_alloc(v, 4, (void **)&map);
	if (first < 0) {
		check(false, "pages for the queue pair (VMCI error %lld)", (long long)first);
		return;
	}
	req.h = (struct vmci_dg_hdr){ { VMCI_HYPERVISOR_CONTEXT_ID, VMCI_QUEUEPAIR_ALLOC },
				      { VMCI_INVALID_ID, VMCI_INVALID_ID },
				      sizeof(req.a) + sizeof(req.ppns) };
	req.a = (struct vmci_qp_alloc){ h, VMCI_HOST_CONTEXT_ID, 0, VMCI_PAGE_SIZE,
					VMCI_PAGE_SIZE, 4 };
	for (int i = 0; i < 4; i++)
		req.ppns[i] = (uint64_t)first + (uint64_t)i;
	add_flip(&req.a.num_ppns, 4, 5, 1ull << 40, 0);
	add_flip(&req.a.produce_size, VMCI_PAGE_SIZE, 2 * VMCI_PAGE_SIZE, 1ull << 62, 0);
	add_flip(&req.ppns[3], (uint64_t)first + 3, ram_pages + 7, UINT64_MAX, 0xB8);
	flip_start(4);
	while (now_s() < end) {
		/* (the alignment pads the struct: send what the header says) */
		int64_t r = phg_vmci_send_raw(&req, sizeof(req.h) + sizeof(req.a) + sizeof(req.ppns));

		if (r == VMCI_SUCCESS_QUEUEPAIR_CREATE) {
			created++;
			/* The hypervisor wrote the header where the first page said. */
			bad_header += *(volatile uint64_t *)map != handle;
			*(volatile uint64_t *)map = 0;
			if (phg_vmci_hv(VMCI_QUEUEPAIR_DETACH, &h, sizeof(h)) != VMCI_SUCCESS)
				other++;
		} else if (r == VMCI_ERROR_INVALID_ARGS || r == VMCI_ERROR_NO_RESOURCES ||
			   r == VMCI_ERROR_CANNOT_SHARE_PAGE || r == VMCI_ERROR_NO_ACCESS ||
			   /* page 0xB8 may be another process's, or in its queue pair */
			   r == VMCI_ERROR_INVALID_PRIV || r == VMCI_ERROR_REGION_ALREADY_SHARED) {
			refused++;
		} else {
			other++;
			last_other = r;
		}
	}
	flip_stop();
	check(other == 0 && !bad_header, "queue-pair allocation flipped %llu times under %llu "
	      "sends: %llu created (and detached), %llu refused, %llu other answers (last %lld), "
	      "%llu headers misplaced", (unsigned long long)flip_count,
	      (unsigned long long)(created + refused + other), (unsigned long long)created,
	      (unsigned long long)refused, (unsigned long long)other, (long long)last_other,
	      (unsigned long long)bad_header);
	check(created && refused, "... the race went both ways");
	check(phg_pages_free(v, (uint64_t)first, 4, map) == VMCI_SUCCESS,
	      "... and the pages are in no queue pair afterwards");
}

/* Offer queue pair `rid` to the host endpoint, waiting for it to bind. */
static int64_t offer(struct phg_vmci *v, uint32_t rid, uint64_t bytes)
{
	struct vmci_stream_offer o = { VMCI_STREAM_MAGIC, VMCI_STREAM_TO_HOST, rid, 0, bytes };
	double end = now_s() + 60;
	int64_t r;

	while ((r = phg_vmci_send(v, (struct vmci_handle){ VMCI_HOST_CONTEXT_ID, HOST_ENDPOINT },
				  rid, &o, sizeof(o))) == VMCI_ERROR_DST_UNREACHABLE &&
	       now_s() < end) {
		struct timespec ts = { 0, 50 * 1000000 };

		nanosleep(&ts, NULL);
	}
	return r;
}

static bool make_queue_pair(struct phg_vmci *v, struct phg_qp *qp, uint32_t rid)
{
	int64_t r = phg_qp_create(v, qp, rid, QP_SIZE, VMCI_PAGE_SIZE,
				  (struct vmci_handle){ VMCI_HOST_CONTEXT_ID, HOST_ENDPOINT });

	if (r < 0)
		check(false, "queue pair %u (VMCI error %lld)", rid, (long long)r);
	return r >= 0;
}

/* Byte `off` of the block-pattern stream (backdoor/vmci-stream.h). */
static void block_bytes(uint8_t *buf, size_t len, uint64_t off)
{
	for (size_t i = 0; i < len; i++, off++) {
		uint64_t pos = off % VMCI_BLOCK_BYTES, w;

		w = pos < 8 ? vmci_block_seq(off / VMCI_BLOCK_BYTES) : vmci_block_word(pos / 8);
		buf[i] = (uint8_t)(w >> (8 * (off % 8)));
	}
}

/*
 * 3: an honest producer, but for an instant now and then its tail or the
 * host's head holds a hostile value.  The host's head is swapped with a
 * compare-and-exchange both ways, so a head the host stores meanwhile is
 * never undone.
 */
static void *hostile_producer(void *arg)
{
	struct phg_qp *qp = arg;
	uint64_t *tail = &qp->view.produce_hdr->producer_tail;
	uint64_t *head = &qp->view.consume_hdr->consumer_head;
	const uint64_t bad[4] = { QP_SIZE, QP_SIZE + 4096, 1ull << 40, UINT64_MAX };
	uint64_t x = 0x2545F4914F6CDD1Dull, sent = 0;
	uint8_t buf[512];

	while (__atomic_load_n(&flipping, __ATOMIC_RELAXED)) {
		int64_t n;

		block_bytes(buf, sizeof(buf), sent);
		n = ring_write(&qp->view, buf, sizeof(buf));
		/* As ring-transfer.c: wake a sleeping reader after progress only. */
		if (n > 0) {
			sent += (uint64_t)n;
			if (ring_peer_waiting(&qp->view, VMCI_RING_WAIT_DATA))
				phg_vmci_hv(VMCI_DOORBELL_NOTIFY, &qp->peer_doorbell,
					    sizeof(qp->peer_doorbell));
		}
		/* About every 128 KiB: the host reads (and checks) a good deal in between. */
		if (xorshift(&x) % 256 == 0) {
			uint64_t *field = x >> 9 & 1 ? tail : head, hostile = bad[(x >> 10) % 4];
			uint64_t saved = __atomic_load_n(field, __ATOMIC_RELAXED);

			if (__atomic_compare_exchange_n(field, &saved, hostile, false,
							__ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
				for (int i = 0; i < 256; i++)
					__builtin_ia32_pause();
				__atomic_compare_exchange_n(field, &hostile, saved, false,
							    __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
				hostile_instants++;
			}
		}
		__atomic_add_fetch(&flip_count, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void flip_ring(struct phg_vmci *v, unsigned int rounds)
{
	unsigned int refused = 0;
	uint64_t flipped = 0, length = 1ull << 50;

	for (unsigned int i = 0; i < rounds; i++) {
		struct phg_qp qp;
		int64_t r;

		if (!make_queue_pair(v, &qp, 80 + i))
			return;
		/* The stream's length, then its bytes until the host gives up. */
		ring_write(&qp.view, &length, sizeof(length));
		start_thread(hostile_producer, &qp);
		r = offer(v, 80 + i, length);
		if (r >= 0 && phg_qp_await_peer_detach(v, &qp, 30000))
			refused++;
		__atomic_store_n(&flipping, 0, __ATOMIC_RELAXED);
		pthread_join(flipper_thread, NULL);
		flipped += flip_count;
		phg_qp_destroy(v, &qp);
		if (r < 0) {
			check(false, "offer to host endpoint %u (VMCI error %lld)", HOST_ENDPOINT,
			      (long long)r);
			return;
		}
	}
	check(refused == rounds, "ring indices hostile for an instant %llu times in %llu producer "
	      "steps: the host gave up and detached in %u of %u rounds",
	      (unsigned long long)hostile_instants, (unsigned long long)flipped, refused, rounds);
}

/* ... and an honest stream afterwards: the host service still answers. */
static void honest_stream(struct phg_vmci *v)
{
	uint64_t bytes = HONEST_BYTES;
	uint8_t *buf = malloc(HONEST_BYTES);
	struct phg_qp qp;
	int r;

	if (!buf || !make_queue_pair(v, &qp, 99)) {
		free(buf);
		return;
	}
	block_bytes(buf, HONEST_BYTES, 0);
	r = offer(v, 99, bytes) < 0 ? -EIO : phg_qp_write_all(v, &qp, &bytes, sizeof(bytes));
	if (!r)
		r = phg_qp_write_all(v, &qp, buf, HONEST_BYTES);
	check(!r && phg_qp_await_peer_detach(v, &qp, 30000),
	      "an honest stream afterwards: sent=%u (error %d)", HONEST_BYTES, r);
	phg_qp_destroy(v, &qp);
	free(buf);
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? strtod(argv[1], NULL) : 2;
	unsigned int rounds = argc > 2 ? (unsigned int)strtoul(argv[2], NULL, 0) : 10;
	struct phg_vmci v;
	int r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	r = phg_vmci_open(&v);
	if (r < 0) {
		check(false, "VMCI device (%s)", strerror(-r));
		return tap_done();
	}
	flip_datagram(seconds);
	flip_queue_pair(&v, seconds);
	flip_ring(&v, rounds);
	honest_stream(&v);
	phg_vmci_close(&v);
	return tap_done();
}
