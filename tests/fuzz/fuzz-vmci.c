// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the VMCI device (hypervisor/devices/vmci.c) from both
 * sides.  Guest contexts send hypercall datagrams by `rep outsb` on the
 * data port of a real VM's I/O bus and read their receive stream by `rep
 * insb`; host clients (each with a socketpair standing in for its control
 * connection) bind, send, attach and detach queue pairs and ring doorbells
 * through vmci_control(), as the control server calls it.  The first byte
 * picks the engine (trap: per-process contexts and the page allocator; kvm:
 * one context, any RAM page).  Then operations (opcode byte % 8, fields
 * below); shortcuts build page allocations and queue pairs from pages the
 * harness got, so alloc -> attach -> detach -> re-alloc sequences come
 * easily.
 *
 * Mailboxes (trap engine): MAILBOX_SET over the last allocation, sends by
 * VMCI_REG_PH_MAILBOX_SEND, the receive ring read as the guest library
 * reads it, and a guest that scribbles on its ring head.
 *
 * Checked: allocated pages are inside RAM, outside page 0 and the device
 * hole, and never handed out twice; the mailbox ring holds whole datagrams
 * to the guest; the device's page, queue-pair and
 * doorbell counts match what the guest was told; a host attach reply
 * describes the queue pair exactly (sizes, page count, pages in RAM); the
 * receive stream is whole datagrams to the guest; every event written to
 * a host client is a well-formed control packet; status text well formed.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backdoor/vmci.h"
#include "hypervisor/control-proto.h"
#include "hypervisor/devices/vmci.h"
#include "fuzz-vm.h"

#define GUEST_BASE	0x10000ull
#define GUEST_SIZE	0x30000ull
#define RAM_PAGES	(FUZZ_RAM_SIZE / VMCI_PAGE_SIZE)
#define CLIENTS		2
#define OWNERS		3

struct harness {
	struct vm *vm;
	bool trap;
	struct vcpu vcpu;
	struct fuzz_mem mem;
	int client_fd[CLIENTS][2];	/* [0]: the hypervisor's end */
	int32_t page_owner[RAM_PAGES];	/* what the guest was told: owner, or -1 */
	uint64_t last_first, last_count;	/* the last allocation */
	GHashTable *qps;		/* resource -> owner + 1, as created */
	/*
	 * Each owner's receive stream, parsed across reads: DATA_IN is a byte
	 * stream, so a read may end inside a datagram's header or payload.
	 */
	struct rx_parse {
		uint8_t hdr[sizeof(struct vmci_dg_hdr)];
		size_t hdr_have;
		uint64_t body_left;
	} rx[OWNERS + 1];
	/* Mailboxes the device accepted (trap engine: PPN = RAM page). */
	struct {
		uint64_t pages[VMCI_PH_MAILBOX_MAX_PAGES];
		unsigned int n;
		bool scribbled;		/* the ring is garbage to the guest until it resyncs */
	} mbox[OWNERS + 1];
};

static int64_t hypercall(struct harness *h, const struct vmci_dg_hdr *hdr, const void *payload)
{
	struct vcpu_regs *r = &h->vcpu.regs;
	struct io_access out = { .port = VMCI_PORT_BASE + VMCI_REG_DATA_OUT, .size = 1,
				 .string = true, .rep = true, .addr_size = 8 };
	struct io_access in = { .port = VMCI_PORT_BASE + VMCI_REG_RESULT_LOW, .size = 4,
				.in = true, .addr_size = 8 };
	uint64_t len = sizeof(*hdr) + hdr->payload_size;
	uint32_t lo, hi;
	int64_t res;

	FUZZ_CHECK(len <= GUEST_SIZE);
	memcpy(h->mem.buf, hdr, sizeof(*hdr));
	memcpy(h->mem.buf + sizeof(*hdr), payload, hdr->payload_size);
	r->rsi = GUEST_BASE;
	r->rcx = len;
	FUZZ_CHECK(vm_io(h->vm, &h->vcpu, &out) == IO_DONE && r->rcx == 0);
	vm_io(h->vm, &h->vcpu, &in);
	lo = (uint32_t)r->rax;
	in.port = VMCI_PORT_BASE + VMCI_REG_RESULT_HIGH;
	vm_io(h->vm, &h->vcpu, &in);
	hi = (uint32_t)r->rax;
	res = (int64_t)((uint64_t)hi << 32 | lo);
	if (getenv("FUZZ_TRACE"))
		fprintf(stderr, "owner %d: datagram to {%u, %u}, %llu bytes: %lld\n", h->vcpu.owner,
			hdr->dst.context, hdr->dst.resource, (unsigned long long)hdr->payload_size,
			(long long)res);
	return res;
}

static int64_t hv(struct harness *h, uint32_t resource, const void *payload, uint64_t len)
{
	struct vmci_dg_hdr hdr = { .dst = { VMCI_HYPERVISOR_CONTEXT_ID, resource },
				   .src = { VMCI_GUEST_CONTEXT_ID, 0 }, .payload_size = len };

	return hypercall(h, &hdr, payload);
}

static void note_alloc(struct harness *h, int64_t first, uint64_t count)
{
	if (first < 0)
		return;
	FUZZ_CHECK(h->trap && count && (uint64_t)first >= 1 && (uint64_t)first + count <= RAM_PAGES);
	for (uint64_t p = (uint64_t)first; p < (uint64_t)first + count; p++) {
		FUZZ_CHECK(p < VMCI_DEVICE_PPN_FIRST || p >= VMCI_DEVICE_PPN_END);
		FUZZ_CHECK(h->page_owner[p] < 0);	/* never handed out twice */
		h->page_owner[p] = h->vcpu.owner;
	}
	h->last_first = (uint64_t)first;
	h->last_count = count;
}

static void note_call(struct harness *h, uint32_t resource, const uint8_t *pl, uint64_t len,
		      int64_t res)
{
	uint64_t a[2];
	struct vmci_handle hd;

	if (resource == VMCI_PH_PAGES_FREE && res == VMCI_SUCCESS) {
		memcpy(a, pl, 16);
		for (uint64_t p = a[0]; p < a[0] + a[1]; p++) {
			FUZZ_CHECK(h->page_owner[p] == h->vcpu.owner);
			h->page_owner[p] = -1;
			/* The device turns off a mailbox whose pages go back. */
			for (unsigned int i = 0; i < h->mbox[h->vcpu.owner].n; i++)
				if (h->mbox[h->vcpu.owner].pages[i] == p)
					h->mbox[h->vcpu.owner].n = 0;
		}
	} else if (resource == VMCI_PH_MAILBOX_SET) {
		if (res == VMCI_SUCCESS) {
			FUZZ_CHECK(len % 8 == 0 && len / 8 <= VMCI_PH_MAILBOX_MAX_PAGES &&
				   len / 8 != 1);
			h->mbox[h->vcpu.owner].n = h->trap ? (unsigned int)(len / 8) : 0;
			h->mbox[h->vcpu.owner].scribbled = false;
			memcpy(h->mbox[h->vcpu.owner].pages, pl, len);
		} else {
			h->mbox[h->vcpu.owner].n = 0;	/* a refused set leaves it off */
		}
	} else if (resource == VMCI_PH_PAGES_ALLOC && len >= 8) {
		memcpy(a, pl, 8);
		note_alloc(h, res, a[0]);
	} else if (resource == VMCI_QUEUEPAIR_ALLOC && res == VMCI_SUCCESS_QUEUEPAIR_CREATE) {
		memcpy(&hd, pl, sizeof(hd));
		FUZZ_CHECK(!g_hash_table_contains(h->qps, GUINT_TO_POINTER(hd.resource)));
		g_hash_table_insert(h->qps, GUINT_TO_POINTER(hd.resource),
				    GINT_TO_POINTER(h->vcpu.owner + 1));
	} else if (resource == VMCI_QUEUEPAIR_DETACH && res == VMCI_SUCCESS) {
		memcpy(&hd, pl, sizeof(hd));
		FUZZ_CHECK(g_hash_table_remove(h->qps, GUINT_TO_POINTER(hd.resource)));
	}
}

/* A queue pair over the last allocation's pages (or raw page numbers from the input). */
static void qp_alloc(struct harness *h, struct fuzz_input *in)
{
	uint32_t resource = (uint32_t)fuzz_take(in, 2) + 1024;
	uint64_t prod = fuzz_take(in, 1) % 8 + 1, cons = fuzz_take(in, 1) % 8 + 1;
	bool raw = fuzz_take(in, 1) & 1;
	struct vmci_qp_alloc a = {
		.handle = { VMCI_GUEST_CONTEXT_ID, resource }, .peer = VMCI_HOST_CONTEXT_ID,
		.produce_size = prod * VMCI_PAGE_SIZE - (fuzz_take(in, 1) & 1),
		.consume_size = cons * VMCI_PAGE_SIZE, .num_ppns = 2 + prod + cons,
	};
	uint8_t pl[sizeof(a) + 8 * 18];
	int64_t res;

	memcpy(pl, &a, sizeof(a));
	for (uint64_t i = 0; i < a.num_ppns; i++) {
		uint64_t p = raw ? fuzz_take(in, 2) : h->last_first + i;

		memcpy(pl + sizeof(a) + 8 * i, &p, 8);
	}
	res = hv(h, VMCI_QUEUEPAIR_ALLOC, pl, sizeof(a) + 8 * a.num_ppns);
	note_call(h, VMCI_QUEUEPAIR_ALLOC, pl, sizeof(a) + 8 * a.num_ppns, res);
}

static void check_attach_reply(struct harness *h, const GByteArray *out)
{
	struct vmci_ctl_qp_info info;
	uint64_t expect;

	FUZZ_CHECK(out->len >= sizeof(info));
	memcpy(&info, out->data, sizeof(info));
	FUZZ_CHECK(out->len == sizeof(info) + 8ull * info.count);
	FUZZ_CHECK(info.count && info.count <= VMCI_CTL_QP_PPNS_PER_REPLY);
	FUZZ_CHECK((uint64_t)info.first_ppn_index + info.count <= info.num_ppns);
	expect = 2 + VMCI_PAGES(info.produce_size) + VMCI_PAGES(info.consume_size);
	FUZZ_CHECK(info.num_ppns == expect && info.num_ppns <= VMCI_QP_MAX_PPNS);
	FUZZ_CHECK(g_hash_table_contains(h->qps, GUINT_TO_POINTER(info.handle.resource)));
	for (uint32_t i = 0; i < info.count; i++) {
		uint64_t p;

		memcpy(&p, out->data + sizeof(info) + 8 * i, 8);
		FUZZ_CHECK(p < RAM_PAGES && (p < VMCI_DEVICE_PPN_FIRST || p >= VMCI_DEVICE_PPN_END));
	}
}

/* Whatever the device wrote to a host client: control packets with one datagram each. */
static void drain_client(struct harness *h, int c)
{
	uint8_t buf[sizeof(struct ph_ctl_hdr) + VMCI_MAX_DG_SIZE + 1];
	ssize_t n;

	while ((n = recv(h->client_fd[c][1], buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		struct ph_ctl_hdr ch;
		struct vmci_dg_hdr dg;

		FUZZ_CHECK((size_t)n >= sizeof(ch) + sizeof(dg));
		memcpy(&ch, buf, sizeof(ch));
		memcpy(&dg, buf + sizeof(ch), sizeof(dg));
		FUZZ_CHECK(ch.magic == PH_CTL_MAGIC && ch.version == PH_CTL_VERSION &&
			   ch.op == PH_CTL_VMCI_DATAGRAM && ch.seq == 0 && ch.status == 0);
		FUZZ_CHECK(ch.len == (size_t)n - sizeof(ch));
		FUZZ_CHECK(dg.payload_size == ch.len - sizeof(dg));
		FUZZ_CHECK(dg.dst.context == VMCI_HOST_CONTEXT_ID);
	}
}

static void host_op(struct harness *h, struct fuzz_input *in)
{
	unsigned int sel = (unsigned int)fuzz_take(in, 1), c = sel % CLIENTS;
	unsigned int op = PH_CTL_VMCI_BIND + ((sel >> 1) & 7) % 7;
	GByteArray *out = g_byte_array_new();
	uint8_t pl[64];
	const uint8_t *bytes;
	size_t len;
	int status;

	if (op == PH_CTL_VMCI_QP_ATTACH && (sel & 0x80)) {
		/* Attach what the guest made: page lists of any length, from any index. */
		struct vmci_ctl_qp_attach a = {
			.handle = { VMCI_GUEST_CONTEXT_ID, (uint32_t)fuzz_take(in, 2) + 1024 },
			.first_ppn_index = (uint32_t)fuzz_take(in, 1),
		};

		memcpy(pl, &a, sizeof(a));
		bytes = pl;
		len = sizeof(a);
	} else if (op == PH_CTL_VMCI_DATAGRAM) {	/* (not a request) a client leaves */
		pthread_mutex_lock(&h->vm->lock);
		vmci_client_gone(h->vm->vmci, c + 1);
		pthread_mutex_unlock(&h->vm->lock);
		g_byte_array_free(out, TRUE);
		return;
	} else {
		len = fuzz_take_bytes(in, fuzz_take(in, 2), &bytes);
	}
	pthread_mutex_lock(&h->vm->lock);
	status = vmci_control(h->vm->vmci, c + 1, h->client_fd[c][0], op, bytes, len, out);
	pthread_mutex_unlock(&h->vm->lock);
	FUZZ_CHECK(status >= 0);
	if (status)
		FUZZ_CHECK(out->len == 0);
	else if (op == PH_CTL_VMCI_QP_ATTACH)
		check_attach_reply(h, out);
	else if (op == PH_CTL_VMCI_SEND)
		FUZZ_CHECK(out->len == 8);
	else
		FUZZ_CHECK(out->len == 0);
	g_byte_array_free(out, TRUE);
	drain_client(h, c);
}

/* A whole header of a datagram for the guest: what the device may deliver. */
static uint64_t check_rx_header(const uint8_t *bytes)
{
	struct vmci_dg_hdr dg;

	memcpy(&dg, bytes, sizeof(dg));
	FUZZ_CHECK(dg.dst.context == VMCI_GUEST_CONTEXT_ID);
	FUZZ_CHECK(dg.src.context == VMCI_HYPERVISOR_CONTEXT_ID ||
		   dg.src.context == VMCI_HOST_CONTEXT_ID);
	FUZZ_CHECK(dg.payload_size <= VMCI_MAX_DG_PAYLOAD);
	return VMCI_DG_ALIGN(sizeof(dg) + dg.payload_size) - sizeof(dg);
}

/*
 * rep insb from DATA_IN: the owner's datagrams as a byte stream (a read may
 * stop inside one; the next read goes on from there), then 0xFF filler once
 * nothing is queued.  Checked as the guest driver would reassemble it.
 */
static void receive(struct harness *h, uint64_t count)
{
	struct io_access io = { .port = VMCI_PORT_BASE + VMCI_REG_DATA_IN, .size = 1, .in = true,
				.string = true, .rep = true, .addr_size = 8 };
	struct rx_parse *rx = &h->rx[h->vcpu.owner];
	const uint8_t *b = h->mem.buf;
	uint64_t off = 0;

	h->vcpu.regs.rdi = GUEST_BASE;
	h->vcpu.regs.rcx = count;
	if (vm_io(h->vm, &h->vcpu, &io) != IO_DONE)
		return;
	while (off < count) {
		uint64_t take;

		if (rx->body_left) {
			take = MIN(rx->body_left, count - off);
			rx->body_left -= take;
			off += take;
			continue;
		}
		/* Filler starts only between datagrams (a header's context is never ~0). */
		if (!rx->hdr_have && b[off] == 0xFF) {
			for (; off < count; off++)
				FUZZ_CHECK(b[off] == 0xFF);
			break;
		}
		take = MIN(sizeof(rx->hdr) - rx->hdr_have, count - off);
		memcpy(rx->hdr + rx->hdr_have, b + off, take);
		rx->hdr_have += take;
		off += take;
		if (rx->hdr_have == sizeof(rx->hdr)) {
			rx->body_left = check_rx_header(rx->hdr);
			rx->hdr_have = 0;
		}
	}
}

/*
 * The owner's mailbox ring, read as the guest library reads it: whole
 * datagrams to the guest between its head and the device's tail.  With
 * `scribble`, the guest then writes nonsense into its head instead.
 */
static void mailbox_receive(struct harness *h, uint32_t scribble)
{
	typeof(h->mbox[0]) *m = &h->mbox[h->vcpu.owner];
	uint8_t *ram = mmap(NULL, h->vm->ram_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			    h->vm->ram_fd, 0);
	struct vmci_ph_mailbox_hdr *mh = (void *)(ram + m->pages[0] * VMCI_PAGE_SIZE);
	uint32_t size = (m->n - 1) * VMCI_PAGE_SIZE, head, tail;

	FUZZ_CHECK(ram != MAP_FAILED);
	head = mh->rx_head;
	tail = mh->rx_tail;
	FUZZ_CHECK(tail < size && tail % 8 == 0);
	if (scribble) {
		mh->rx_head = scribble;
		m->scribbled = true;
		munmap(ram, h->vm->ram_size);
		return;
	}
	/* After a scribble the guest lost its place: it starts over at the tail. */
	if (m->scribbled)
		head = tail;
	m->scribbled = false;
	while (head != tail) {
		uint8_t hdr[sizeof(struct vmci_dg_hdr)];
		uint64_t body;

		for (size_t i = 0; i < sizeof(hdr); i++) {
			uint32_t at = (head + (uint32_t)i) % size;

			hdr[i] = ram[m->pages[1 + at / VMCI_PAGE_SIZE] * VMCI_PAGE_SIZE +
				     at % VMCI_PAGE_SIZE];
		}
		body = check_rx_header(hdr);
		FUZZ_CHECK(sizeof(hdr) + body <= (tail + size - head) % size);
		head = (uint32_t)((head + sizeof(hdr) + body) % size);
	}
	mh->rx_head = head;
	munmap(ram, h->vm->ram_size);
}

static void owner_exited(struct harness *h, int owner)
{
	GHashTableIter it;
	gpointer k, v;

	vm_owner_exited(h->vm, owner);
	memset(&h->rx[owner], 0, sizeof(h->rx[owner]));	/* its queue is gone */
	h->mbox[owner].n = 0;
	for (uint64_t p = 0; p < RAM_PAGES; p++)
		if (h->page_owner[p] == owner)
			h->page_owner[p] = -1;
	g_hash_table_iter_init(&it, h->qps);
	while (g_hash_table_iter_next(&it, &k, &v))
		if (GPOINTER_TO_INT(v) == owner + 1)
			g_hash_table_iter_remove(&it);
}

/* The device's counts against what the guest was told. */
static void check_counts(struct harness *h)
{
	GString *s = g_string_new(NULL);
	unsigned long long pages = 0, qps = 0, doorbells = 0, used = 0;
	const char *p;

	pthread_mutex_lock(&h->vm->lock);
	vmci_status(h->vm->vmci, s);
	pthread_mutex_unlock(&h->vm->lock);
	FUZZ_CHECK((p = strstr(s->str, "vmci.pages=")) && sscanf(p, "vmci.pages=%llu", &pages));
	FUZZ_CHECK((p = strstr(s->str, "vmci.queue-pairs=")) &&
		   sscanf(p, "vmci.queue-pairs=%llu", &qps));
	FUZZ_CHECK((p = strstr(s->str, "vmci.doorbells=")) &&
		   sscanf(p, "vmci.doorbells=%llu", &doorbells));
	for (uint64_t i = 0; i < RAM_PAGES; i++)
		used += h->page_owner[i] >= 0;
	FUZZ_CHECK(pages == used);
	FUZZ_CHECK(qps == g_hash_table_size(h->qps) && qps <= VMCI_MAX_QUEUE_PAIRS);
	FUZZ_CHECK(doorbells <= 1024);
	g_string_free(s, TRUE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	struct harness h = { 0 };
	unsigned int steps = 0;

	h.trap = !(fuzz_take(&in, 1) & 1);
	h.vm = fuzz_vm_new(!h.trap);
	h.qps = g_hash_table_new(NULL, NULL);
	memset(h.page_owner, 0xFF, sizeof(h.page_owner));
	fuzz_mem_init(&h.mem, GUEST_BASE, GUEST_SIZE);
	h.vcpu = (struct vcpu){ .vm = h.vm, .id = 1, .owner = 1, .mem = fuzz_mem_ops(&h.mem) };
	for (int c = 0; c < CLIENTS; c++)
		FUZZ_CHECK(!socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, h.client_fd[c]));
	while (in.left && steps++ < 1024) {
		unsigned int op = (unsigned int)fuzz_take(&in, 1);
		const uint8_t *bytes;
		struct vmci_dg_hdr hdr;
		uint64_t a[2];
		size_t len;
		int64_t res;

		switch (op % 8) {
		case 0:		/* a hypercall to resource u8, payload from the input */
			hdr = (struct vmci_dg_hdr){
				.dst = { VMCI_HYPERVISOR_CONTEXT_ID, (uint32_t)fuzz_take(&in, 1) },
				.src = { (op & 8) ? VMCI_INVALID_ID : VMCI_GUEST_CONTEXT_ID, 0 },
			};
			len = fuzz_take_bytes(&in, fuzz_take(&in, 2) % 4096, &bytes);
			hdr.payload_size = len;
			res = hypercall(&h, &hdr, bytes);
			note_call(&h, hdr.dst.resource, bytes, len, res);
			break;
		case 1:		/* any datagram: header (if whole) and payload from the input */
			len = fuzz_take_bytes(&in, fuzz_take(&in, 2), &bytes);	/* < GUEST_SIZE */
			memset(&hdr, 0xFF, sizeof(hdr));
			memcpy(&hdr, bytes, MIN(len, sizeof(hdr)));
			if (len < sizeof(hdr) || hdr.payload_size != len - sizeof(hdr)) {
				hdr.payload_size = len > sizeof(hdr) ? len - sizeof(hdr) : 0;
				hdr.dst.context = VMCI_INVALID_ID;	/* (no bookkeeping) */
			}
			res = hypercall(&h, &hdr, bytes + MIN(len, sizeof(hdr)));
			if (hdr.dst.context == VMCI_HYPERVISOR_CONTEXT_ID &&
			    (hdr.src.context == VMCI_GUEST_CONTEXT_ID ||
			     hdr.src.context == VMCI_INVALID_ID))
				note_call(&h, hdr.dst.resource, bytes + sizeof(hdr), hdr.payload_size,
					  res);
			break;
		case 2:		/* pages: alloc count u8, or free a part of the last */
			if (op & 16) {	/* a mailbox over the last allocation */
				uint64_t ppns[VMCI_PH_MAILBOX_MAX_PAGES];
				size_t n = fuzz_take(&in, 1) % (VMCI_PH_MAILBOX_MAX_PAGES + 1);

				for (size_t i = 0; i < n; i++)
					ppns[i] = h.last_first + i;
				res = hv(&h, VMCI_PH_MAILBOX_SET, ppns, n * 8);
				note_call(&h, VMCI_PH_MAILBOX_SET, (const uint8_t *)ppns, n * 8, res);
			} else if (op & 8) {
				a[0] = h.last_first + fuzz_take(&in, 1) % 8;
				a[1] = fuzz_take(&in, 1) % 8 + 1;
				res = hv(&h, VMCI_PH_PAGES_FREE, a, 16);
				note_call(&h, VMCI_PH_PAGES_FREE, (const uint8_t *)a, 16, res);
			} else {
				a[0] = fuzz_take(&in, 1) % 32 + 1;
				note_alloc(&h, hv(&h, VMCI_PH_PAGES_ALLOC, a, 8), a[0]);
			}
			break;
		case 3:
			qp_alloc(&h, &in);
			break;
		case 4:
			host_op(&h, &in);
			break;
		case 5:
			if (h.mbox[h.vcpu.owner].n)
				mailbox_receive(&h, (op & 16) ? (uint32_t)fuzz_take(&in, 4) : 0);
			else
				receive(&h, fuzz_take(&in, 2));
			break;
		case 6: {	/* a register: in or out */
			struct io_access io = { .port = VMCI_PORT_BASE + (fuzz_take(&in, 1) & 0x3C),
						.size = 4, .in = op & 8, .addr_size = 8 };

			h.vcpu.regs.rax = fuzz_take(&in, 4);
			vm_io(h.vm, &h.vcpu, &io);
			break;
		}
		case 7:		/* contexts: switch, exit; the hypervisor's own datagram */
			if (op & 8) {
				owner_exited(&h, h.vcpu.owner);
			} else if (op & 16) {
				len = fuzz_take_bytes(&in, fuzz_take(&in, 1), &bytes);
				pthread_mutex_lock(&h.vm->lock);
				vmci_hv_send(h.vm->vmci, (uint32_t)fuzz_take(&in, 2), bytes, len);
				pthread_mutex_unlock(&h.vm->lock);
			} else {
				h.vcpu.owner = 1 + (int)(op >> 5) % OWNERS;
				h.vcpu.id = h.vcpu.owner;
			}
			break;
		}
		check_counts(&h);
	}
	fuzz_check_vm_status(h.vm);
	vm_destroy(h.vm);
	for (int c = 0; c < CLIENTS; c++) {
		close(h.client_fd[c][0]);
		close(h.client_fd[c][1]);
	}
	g_hash_table_destroy(h.qps);
	fuzz_mem_free(&h.mem);
	return 0;
}
