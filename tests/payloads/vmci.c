// SPDX-License-Identifier: MIT
/*
 * The VMCI device from a KVM guest: PCI identity (15AD:0740, INTA on its
 * IRQ line), the probe hypercalls Linux's vmw_vmci makes, doorbells and a
 * queue pair registered from the guest's own RAM (page numbers = physical
 * addresses >> 12, identity-mapped), a stream offer to the host endpoint
 * {2, 2001}, and the detach.
 *
 * TODO: stream through the queue pair waiting on the device interrupt
 * (sti; hlt via the 8259): a first version stalled after a few MiB and is
 * not here yet; the trap engine carries the 1 GiB stream.
 */
#include "runtime.h"
#include "backdoor/ring.h"
#include "backdoor/vmci-stream.h"
#include "backdoor/vmci.h"

#define HOST_RID	2001u
#define QP_RID		20u
#define QSIZE		(4u << 20)
#define SMALL_STREAM	(1u << 20)	/* fits the queue: no waiting needed */
#define QP_GPA		0x4000000ull	/* 64 MiB: guest RAM the payload leaves alone */
#define NOTIFY_GPA	0x3F00000ull

static uint8_t dgbuf[VMCI_PAGE_SIZE * 4];
static uint32_t irq_line;

/* ---- ports ---- */

static uint32_t inl(uint16_t port)
{
	uint32_t v;

	__asm__ __volatile__("inl %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static void outl(uint16_t port, uint32_t v)
{
	__asm__ __volatile__("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static int64_t send_dg(const void *dg, size_t len)
{
	uint16_t port = VMCI_PORT_BASE + VMCI_REG_DATA_OUT;
	uint64_t lo, hi;

	__asm__ __volatile__("cld; rep outsb" : "+S"(dg), "+c"(len) : "d"(port) : "memory");
	lo = inl(VMCI_PORT_BASE + VMCI_REG_RESULT_LOW);
	hi = inl(VMCI_PORT_BASE + VMCI_REG_RESULT_HIGH);
	return (int64_t)(lo | hi << 32);
}

static int64_t hv(uint32_t rid, const void *payload, size_t len)
{
	struct vmci_dg_hdr *h = (void *)dgbuf;

	*h = (struct vmci_dg_hdr){ { 0, rid }, { VMCI_INVALID_ID, VMCI_INVALID_ID }, len };
	memcpy(dgbuf + sizeof(*h), payload, len);
	return send_dg(dgbuf, sizeof(*h) + len);
}

/* ---- PCI ---- */

static uint32_t pci_read(unsigned int slot, unsigned int off)
{
	outl(0xCF8, 0x80000000u | slot << 11 | (off & 0xFC));
	return inl(0xCFC);
}

static int find_vmci(void)
{
	for (unsigned int slot = 0; slot < 32; slot++)
		if (pci_read(slot, 0) == (0x0740u << 16 | 0x15ADu))
			return (int)slot;
	return -1;
}

static bool peer_detached;

/* Read the queued datagrams (hypervisor events are small: a page holds them). */
static void drain_events(void)
{
	uint16_t port = VMCI_PORT_BASE + VMCI_REG_DATA_IN;
	void *p = dgbuf;
	size_t n = VMCI_PAGE_SIZE, pos = 0;

	__asm__ __volatile__("cld; rep insb" : "+D"(p), "+c"(n) : "d"(port) : "memory");
	while (pos + sizeof(struct vmci_dg_hdr) <= VMCI_PAGE_SIZE) {
		struct vmci_dg_hdr h;
		struct vmci_event_qp ev;

		memcpy(&h, dgbuf + pos, sizeof(h));
		if (h.dst.resource == VMCI_INVALID_ID || h.payload_size > 256)
			break;
		memcpy(&ev, dgbuf + pos + sizeof(h), sizeof(ev));
		if (h.src.context == 0 && ev.event == VMCI_EVENT_QP_PEER_DETACH &&
		    ev.handle.resource == QP_RID)
			peer_detached = true;
		pos += VMCI_DG_ALIGN(sizeof(h) + h.payload_size);
	}
}

int payload_main(void)
{
	uint64_t pages = 2 + VMCI_PAGES(QSIZE) + 1;
	static uint8_t req[sizeof(struct vmci_qp_alloc) + 8 * (2 + (QSIZE >> 12) + 1)];
	struct vmci_qp_alloc a = {
		.handle = { VMCI_GUEST_CONTEXT_ID, QP_RID }, .peer = VMCI_HOST_CONTEXT_ID,
		.produce_size = QSIZE, .consume_size = VMCI_PAGE_SIZE, .num_ppns = pages,
	};
	struct vmci_stream_offer offer = { VMCI_STREAM_MAGIC, VMCI_STREAM_TO_HOST, QP_RID, 0,
					   SMALL_STREAM };
	static uint8_t data[SMALL_STREAM];
	uint64_t bytes = SMALL_STREAM, sum;
	struct vmci_doorbell_link link = { { VMCI_GUEST_CONTEXT_ID, QP_RID }, 0 };
	uint32_t q[3] = { 1, 0, VMCI_GET_CONTEXT_ID };
	uint64_t notify_ppn = NOTIFY_GPA >> 12;
	struct vmci_qp_view v;
	int slot = find_vmci();
	int64_t r;

	check(slot > 0, "VMCI is PCI function 15AD:0740 (slot %d)", slot);
	if (slot <= 0)
		return 1;
	irq_line = pci_read((unsigned int)slot, 0x3C) & 0xFF;
	check(((pci_read((unsigned int)slot, 0x3C) >> 8) & 0xFF) == 1 && irq_line < 16,
	      "INTA on IRQ %u", irq_line);
	check(inl(VMCI_PORT_BASE + VMCI_REG_CAPS) & VMCI_CAPS_DATAGRAM, "CAPS has DATAGRAM");
	check(hv(VMCI_RESOURCES_QUERY, q, sizeof(q)) == 1, "RESOURCES_QUERY answers 1");
	check(hv(VMCI_GET_CONTEXT_ID, NULL, 0) == VMCI_GUEST_CONTEXT_ID, "GET_CONTEXT_ID");
	check(hv(VMCI_PH_PAGES_ALLOC, &pages, 8) < 0, "no page allocator in KVM: the guest owns its RAM");

	check(hv(VMCI_SET_NOTIFY_BITMAP, &notify_ppn, 8) == 0, "notify bitmap in guest RAM");
	check(hv(VMCI_DOORBELL_LINK, &link, sizeof(link)) == 0, "doorbell linked");
	outl(VMCI_PORT_BASE + VMCI_REG_IMR, VMCI_ICR_DATAGRAM | VMCI_ICR_NOTIFICATION);
	outl(VMCI_PORT_BASE + VMCI_REG_CONTROL, VMCI_CONTROL_INT_ENABLE);

	memcpy(req, &a, sizeof(a));
	for (uint64_t i = 0; i < pages; i++) {
		uint64_t ppn = (QP_GPA >> 12) + i;

		memcpy(req + sizeof(a) + 8 * i, &ppn, 8);
	}
	r = hv(VMCI_QUEUEPAIR_ALLOC, req, sizeof(a) + 8 * pages);
	check(r == VMCI_SUCCESS_QUEUEPAIR_CREATE, "queue pair in guest RAM (%d)", (int)r);
	if (r < 0)
		return 1;
	vmci_qp_view_init(&v, (void *)(uintptr_t)QP_GPA, QSIZE, VMCI_PAGE_SIZE, false);
	vmci_stream_fill(data, sizeof(data), 0);
	sum = vmci_stream_sum(0, data, sizeof(data));
	check(ring_write(&v, &bytes, 8) == 8 && ring_write(&v, data, sizeof(data)) == SMALL_STREAM,
	      "1 MiB written into the queue pair");
	print("sum=%016llx\n", (unsigned long long)sum);
	{
		struct vmci_dg_hdr *h = (void *)dgbuf;

		*h = (struct vmci_dg_hdr){ { VMCI_HOST_CONTEXT_ID, HOST_RID },
					   { VMCI_GUEST_CONTEXT_ID, 1024 }, sizeof(offer) };
		memcpy(dgbuf + sizeof(*h), &offer, sizeof(offer));
		/* The host program may still be starting: retry while nobody is bound. */
		for (int i = 0; i < 1000; i++) {
			r = send_dg(dgbuf, sizeof(*h) + sizeof(offer));
			if (r != VMCI_ERROR_DST_UNREACHABLE)
				break;
			delay_ms(10);
		}
		check(r > 0, "stream offered to the host (%d)", (int)r);
		if (r < 0)
			return 1;
	}
	/* Interim until the interrupt path works: look at ICR once a millisecond. */
	for (int i = 0; i < 20000 && !peer_detached; i++) {
		if (inl(VMCI_PORT_BASE + VMCI_REG_ICR) & VMCI_ICR_DATAGRAM)
			drain_events();
		else
			delay_ms(1);
	}
	check(peer_detached, "the host read it and detached");
	{
		struct vmci_handle h = { VMCI_GUEST_CONTEXT_ID, QP_RID };

		check(hv(VMCI_QUEUEPAIR_DETACH, &h, sizeof(h)) == 0, "detached");
	}
	return check_failures();
}
