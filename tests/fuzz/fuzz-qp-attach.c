// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the host library's queue-pair attach and the rings it
 * reads (host-services/lib/vmci-host.c, backdoor/ring.c, ring-transfer.c).
 *
 * Part 1: phh_qp_attach() runs against a control socket (a socketpair) that
 * already holds the hypervisor's replies, built from the input: QP_ATTACH
 * replies with any handle, sizes, page count, list offset, list length and
 * page numbers (what a guest that re-creates its queue pair between two
 * replies can make them say), unasked datagrams (doorbells, detaches),
 * packets with a wrong magic, sequence number or length.  Then the peer
 * hangs up, so nothing waits.  A successful attach must map exactly the
 * pages the accepted replies listed (each guest RAM page carries its number)
 * with a view inside the mapping; the ring is then read with the guest's
 * header values from the input.  The page list overflow of issue 16
 * (finding 1) is an ASan report here within seconds.
 *
 * Part 2: a queue pair in a heap buffer of exactly its span (so ASan sees
 * any byte outside), with sizes, head and tail from the input: ring_read,
 * ring_write, ring_ready/free_space against a model, and ring_read_all /
 * ring_write_all with a peer that moves the pointers (or corrupts them)
 * while the host waits.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backdoor/ring.h"
#include "host-services/lib/vmci-host.h"
#include "fuzz-input.h"

#define RAM_PAGES	64
#define MAX_REPLIES	16
#define MAX_LIST	512	/* page numbers per reply the harness builds */

static int ram_fd = -1;

/* Guest RAM: a memfd whose every page starts with its own page number. */
static void ram_setup(void)
{
	uint64_t *map;

	ram_fd = memfd_create("fuzz-guest-ram", MFD_CLOEXEC);
	FUZZ_CHECK(ram_fd >= 0 && ftruncate(ram_fd, RAM_PAGES * VMCI_PAGE_SIZE) == 0);
	map = mmap(NULL, RAM_PAGES * VMCI_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, ram_fd, 0);
	FUZZ_CHECK(map != MAP_FAILED);
	for (uint64_t i = 0; i < RAM_PAGES; i++)
		map[i * (VMCI_PAGE_SIZE / 8)] = i;
	munmap(map, RAM_PAGES * VMCI_PAGE_SIZE);
}

/* What the harness sent as reply `seq`, to check what an attach mapped. */
struct sent_reply {
	bool attach_info;
	uint32_t first, count;
	uint64_t ppns[MAX_LIST];
};

static struct sent_reply sent[MAX_REPLIES + 1];

static void send_packet(int fd, uint16_t op, uint32_t seq, int32_t status, const void *payload,
			size_t len, uint32_t magic)
{
	static uint8_t buf[sizeof(struct ph_ctl_hdr) + sizeof(struct vmci_ctl_qp_info) +
			   8 * MAX_LIST + 64];
	struct ph_ctl_hdr h = {
		.magic = magic, .version = PH_CTL_VERSION, .op = op, .seq = seq,
		.status = status, .len = (uint32_t)len,
	};

	memcpy(buf, &h, sizeof(h));
	if (len)
		memcpy(buf + sizeof(h), payload, len);
	if (send(fd, buf, sizeof(h) + len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* the socket buffer is full: the attach sees fewer replies */
	}
}

/* One QP_ATTACH reply from the input; `fixes` makes fields consistent so the fuzzer gets deep. */
static void attach_reply(struct fuzz_input *in, int fd, uint32_t seq, uint32_t expect_index)
{
	uint8_t fixes = fuzz_u8(in);
	struct {
		struct vmci_ctl_qp_info info;
		uint64_t ppns[MAX_LIST];
	} r = { 0 };
	struct sent_reply *s = &sent[seq];
	size_t len;

	r.info.handle = (struct vmci_handle){ VMCI_GUEST_CONTEXT_ID, 7 };
	if (fixes & 1)
		r.info.handle.resource = fuzz_u32(in);
	r.info.produce_size = (fixes & 2) ? fuzz_u32(in) : fuzz_u8(in) * 512ull;
	r.info.consume_size = (fixes & 4) ? fuzz_u64(in) : fuzz_u8(in) * 512ull;
	r.info.num_ppns = (fixes & 8) ? fuzz_u32(in) :
			  2 + VMCI_PAGES(r.info.produce_size) + VMCI_PAGES(r.info.consume_size);
	r.info.first_ppn_index = (fixes & 16) ? fuzz_u32(in) : expect_index;
	if (fixes & 32)
		r.info.count = fuzz_u16(in);
	else if (r.info.num_ppns > r.info.first_ppn_index)
		r.info.count = (uint32_t)MIN(r.info.num_ppns - r.info.first_ppn_index,
					     (uint64_t)fuzz_u8(in) + 1);
	len = MIN((size_t)r.info.count, (size_t)MAX_LIST);
	for (size_t i = 0; i < len; i++)
		r.ppns[i] = (fixes & 64) ? fuzz_u64(in) : fuzz_u8(in) % (RAM_PAGES + 2);
	s->attach_info = true;
	s->first = r.info.first_ppn_index;
	s->count = (uint32_t)len;
	memcpy(s->ppns, r.ppns, len * 8);
	send_packet(fd, PH_CTL_VMCI_QP_ATTACH, seq, (fixes & 128) ? fuzz_u8(in) % 40 : 0, &r,
		    sizeof(r.info) + len * 8, PH_CTL_MAGIC);
}

/* An unasked datagram from the hypervisor: a doorbell or detach event, or noise. */
static void event_packet(struct fuzz_input *in, int fd)
{
	struct {
		struct vmci_dg_hdr hdr;
		struct vmci_event_qp ev;
	} d = { 0 };
	size_t len = sizeof(d);

	d.hdr.src.context = VMCI_HYPERVISOR_CONTEXT_ID;
	d.hdr.payload_size = sizeof(d.ev);
	d.ev.event = fuzz_u8(in) & 1 ? VMCI_EVENT_QP_PEER_DETACH : VMCI_EVENT_PH_DOORBELL;
	d.ev.handle = (struct vmci_handle){ VMCI_GUEST_CONTEXT_ID, fuzz_u8(in) & 1 ? 7 : 9 };
	len = fuzz_u8(in) % (sizeof(d) + 1);
	send_packet(fd, PH_CTL_VMCI_DATAGRAM, 0, 0, &d, len, PH_CTL_MAGIC);
}

/* The mapped view: inside the mapping, and every page the one the accepted replies named. */
static void check_attached(const struct phh_vmci *h, const struct phh_qp *qp)
{
	const uint8_t *base = qp->base, *end = base + qp->span;
	uint64_t n = qp->span / VMCI_PAGE_SIZE;
	uint64_t *want = calloc(n, sizeof(*want));

	FUZZ_CHECK(qp->span == vmci_qp_span(qp->produce_size, qp->consume_size));
	FUZZ_CHECK((const uint8_t *)qp->view.produce_hdr >= base &&
		   (const uint8_t *)qp->view.consume_hdr >= base);
	FUZZ_CHECK(qp->view.produce_data + qp->view.produce_size <= end);
	FUZZ_CHECK(qp->view.consume_data + qp->view.consume_size <= end);
	/* Requests 1..seq were answered by replies 1..seq, in order. */
	for (uint32_t seq = 1; seq <= h->seq && seq <= MAX_REPLIES; seq++)
		if (sent[seq].attach_info)
			for (uint32_t i = 0; i < sent[seq].count && sent[seq].first + i < n; i++)
				want[sent[seq].first + i] = sent[seq].ppns[i];
	for (uint64_t i = 0; i < n; i++) {
		uint64_t page;

		memcpy(&page, base + i * VMCI_PAGE_SIZE, sizeof(page));
		FUZZ_CHECK(page == want[i]);
	}
	free(want);
}

static void attach(struct fuzz_input *in)
{
	struct phh_vmci h;
	struct phh_qp qp;
	uint32_t index = 0, seq = 0;
	uint8_t buf[64];
	int sv[2], r;

	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	memset(sent, 0, sizeof(sent));
	for (int i = 0, n = fuzz_u8(in) % MAX_REPLIES + 1; i < n && !fuzz_empty(in); i++) {
		uint8_t kind = fuzz_u8(in);

		switch (kind % 8) {
		case 0:
		case 1:
		case 2:
		case 3:
			if (++seq > MAX_REPLIES)
				break;
			attach_reply(in, sv[1], seq, index);
			index += sent[seq].count;
			break;
		case 4:
			event_packet(in, sv[1]);
			break;
		case 5:		/* a reply to a request never made, or a bad magic */
			send_packet(sv[1], PH_CTL_VMCI_QP_ATTACH, fuzz_u8(in), 0, buf,
				    fuzz_u8(in) % sizeof(buf), kind & 8 ? PH_CTL_MAGIC : 0x1234);
			break;
		case 6: {	/* a header whose length lies */
			struct ph_ctl_hdr lie = { PH_CTL_MAGIC, PH_CTL_VERSION, PH_CTL_VMCI_QP_ATTACH,
						  seq + 1, 0, fuzz_u32(in) };

			if (send(sv[1], &lie, fuzz_u8(in) % (sizeof(lie) + 1), MSG_DONTWAIT) < 0) {
				/* full */
			}
			break;
		}
		default:	/* a reply to a detach request */
			send_packet(sv[1], PH_CTL_VMCI_QP_DETACH, ++seq, 0, NULL, 0, PH_CTL_MAGIC);
			break;
		}
	}
	/* Replies queued: hang up, so any further read sees the end, never a wait. */
	shutdown(sv[1], SHUT_WR);

	memset(&h, 0, sizeof(h));
	h.fd = sv[0];
	h.ram.fd = ram_fd;
	h.ram.size = RAM_PAGES * VMCI_PAGE_SIZE;
	h.queue_efd = h.epoll_fd = -1;
	h.queue = g_queue_new();
	r = phh_qp_attach(&h, &qp, 7, 9);
	FUZZ_CHECK(r <= 0);
	if (r == 0) {
		struct vmci_queue_header *guest = qp.view.consume_hdr;
		uint8_t out[256];

		check_attached(&h, &qp);
		/* The guest's header as the input says, then what the host reads of it. */
		guest->producer_tail = fuzz_u64(in) % (qp.consume_size + 2);
		qp.view.produce_hdr->consumer_head = fuzz_u64(in) % (qp.consume_size + 2);
		FUZZ_CHECK(ring_read(&qp.view, out, fuzz_u8(in)) <= (int64_t)sizeof(out));
		qp.stall_ms = 1;
		r = phh_qp_read_all(&h, &qp, out, fuzz_u8(in) % sizeof(out));
		FUZZ_CHECK(r == 0 || r == -EPIPE || r == -EPROTO || r == -ECONNRESET ||
			   r == -ETIMEDOUT);
		phh_qp_detach(&h, &qp);
	} else {
		FUZZ_CHECK(!qp.base);
	}
	h.ram.fd = -1;		/* ours, for the next input */
	phh_vmci_close(&h);
	close(sv[1]);
}

/* ---- part 2: a ring in a heap buffer of exactly its span ---- */

struct peer {
	struct fuzz_input *in;
	struct vmci_qp_view *guest;	/* the guest's view of the same pages */
	int waits;
	bool gone;
};

static bool peer_gone(void *opaque)
{
	return ((struct peer *)opaque)->gone;
}

static void peer_notify(void *opaque)
{
}

/* While the host sleeps the guest moves its pointers: to good values, or bad ones. */
static int peer_wait(void *opaque, int timeout_ms)
{
	struct peer *p = opaque;
	uint8_t what = fuzz_u8(p->in);
	uint8_t chunk[512];
	size_t got;
	const uint8_t *src;

	if (++p->waits > 8 || fuzz_empty(p->in))
		return -ETIMEDOUT;
	switch (what % 4) {
	case 0:		/* the guest writes data (the host reads) */
		src = fuzz_bytes(p->in, fuzz_u16(p->in) % sizeof(chunk), &got);
		memcpy(chunk, src, got);
		ring_write(p->guest, chunk, got);
		break;
	case 1:		/* the guest reads (the host writes) */
		ring_read(p->guest, chunk, fuzz_u16(p->in) % sizeof(chunk));
		break;
	case 2:		/* the guest scribbles on its header */
		p->guest->produce_hdr->producer_tail = fuzz_u64(p->in);
		p->guest->produce_hdr->consumer_head = fuzz_u64(p->in);
		break;
	default:
		p->gone = true;
		break;
	}
	return 0;
}

/* ring_read against the model: the bytes between head and tail, head moved past them. */
static void model_read(struct vmci_qp_view *v, size_t len)
{
	uint64_t size = v->consume_size;
	uint64_t tail = v->consume_hdr->producer_tail, head = v->produce_hdr->consumer_head;
	uint8_t *out = malloc(len + 1);
	int64_t n = ring_read(v, out, len);

	if (tail >= size || head >= size) {
		FUZZ_CHECK(n == VMCI_ERROR_INVALID_SIZE);
	} else {
		uint64_t avail = (tail + size - head) % size;

		FUZZ_CHECK(n == (int64_t)MIN((uint64_t)len, avail));
		for (int64_t i = 0; i < n; i++)
			FUZZ_CHECK(out[i] == v->consume_data[(head + (uint64_t)i) % size]);
		FUZZ_CHECK(v->produce_hdr->consumer_head == (head + (uint64_t)n) % size);
	}
	free(out);
}

static void model_write(struct vmci_qp_view *v, struct fuzz_input *in)
{
	uint64_t size = v->produce_size;
	uint64_t tail = v->produce_hdr->producer_tail, head = v->consume_hdr->consumer_head;
	size_t len;
	const uint8_t *src = fuzz_bytes(in, fuzz_u16(in) % 8192, &len);
	int64_t n = ring_write(v, src, len);

	if (tail >= size || head >= size) {
		FUZZ_CHECK(n == VMCI_ERROR_INVALID_SIZE);
	} else {
		uint64_t space = (head + size - tail - 1) % size;

		FUZZ_CHECK(n == (int64_t)MIN((uint64_t)len, space));
		for (int64_t i = 0; i < n; i++)
			FUZZ_CHECK(v->produce_data[(tail + (uint64_t)i) % size] == src[i]);
		FUZZ_CHECK(v->produce_hdr->producer_tail == (tail + (uint64_t)n) % size);
	}
}

static void ring_in_memory(struct fuzz_input *in)
{
	uint64_t psize = fuzz_u16(in) % (3 * VMCI_PAGE_SIZE + 2);
	uint64_t csize = fuzz_u16(in) % (3 * VMCI_PAGE_SIZE + 2);
	size_t span = vmci_qp_span(psize, csize);
	uint8_t *mem = calloc(1, span);
	struct vmci_qp_view host, guest;
	struct peer peer = { in, &guest, 0, false };
	const struct ring_side side = { peer_gone, peer_notify, peer_wait, &peer, 0, NULL };

	vmci_qp_view_init(&host, mem, psize, csize, true);
	vmci_qp_view_init(&guest, mem, psize, csize, false);
	for (int step = 0; step < 32 && !fuzz_empty(in); step++) {
		uint8_t op = fuzz_u8(in);
		size_t len = fuzz_u16(in) % 8192;
		uint8_t *buf;

		switch (op % 6) {
		case 0:		/* the guest's header says anything */
			guest.produce_hdr->producer_tail = fuzz_u64(in) % (psize + 4);
			guest.produce_hdr->consumer_head = fuzz_u64(in) % (csize + 4);
			break;
		case 1:
			model_read(&host, len);
			break;
		case 2:
			model_write(&host, in);
			break;
		case 3: {
			int64_t ready = ring_ready(&host), space = ring_free_space(&host);

			FUZZ_CHECK(ready < 0 || (uint64_t)ready < host.consume_size);
			FUZZ_CHECK(space < 0 || (uint64_t)space < host.produce_size);
			break;
		}
		case 4:
			buf = malloc(len + 1);
			FUZZ_CHECK(ring_read_all(&host, buf, len, &side) <= 0);
			free(buf);
			peer.waits = 0;
			peer.gone = false;
			break;
		default:
			buf = calloc(1, len + 1);
			FUZZ_CHECK(ring_write_all(&host, buf, len, &side) <= 0);
			free(buf);
			peer.waits = 0;
			peer.gone = false;
			break;
		}
	}
	free(mem);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };

	if (ram_fd < 0)
		ram_setup();
	if (fuzz_u8(&in) & 1)
		ring_in_memory(&in);
	else
		attach(&in);
	return 0;
}
