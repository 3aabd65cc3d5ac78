// SPDX-License-Identifier: MIT
/*
 * The VMCI device from a KVM guest: PCI identity (15AD:0740, INTA on its
 * IRQ line), the probe hypercalls, then a queue pair in the guest's own
 * RAM (page numbers = physical addresses >> 12, identity-mapped) streaming
 * STREAM_BYTES to the host endpoint {2, 2001} (backdoor/vmci-stream.h).
 * Waiting is `sti; hlt` on the device's interrupt through the 8259 PIC,
 * never a poll of the device.
 */
#include "runtime.h"
#include "backdoor/ring.h"
#include "backdoor/vmci-stream.h"
#include "backdoor/vmci.h"

#define STREAM_BYTES	(1ull << 30)
#define HOST_RID	2001u
#define QP_RID		20u
#define QSIZE		(4u << 20)
#define QP_GPA		0x4000000ull	/* 64 MiB: guest RAM the payload leaves alone */
#define NOTIFY_GPA	0x3F00000ull
#define STAGE_GPA	0x5000000ull
#define CHUNK		(1u << 20)
#define PIC_VECTOR	0x20		/* master IRQ0..7 -> 0x20.., slave -> 0x28.. */

static volatile uint8_t irq_seen;
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

/* ---- interrupts: an IDT for the PIC's vectors, the PIC remapped ---- */

struct idt_gate {
	uint16_t off_lo, sel;
	uint8_t ist, type;
	uint16_t off_mid;
	uint32_t off_hi, zero;
} __attribute__((packed));

static struct idt_gate idt[256] __attribute__((aligned(16)));

void vmci_isr(void);
__asm__(".globl vmci_isr\n"
	"vmci_isr:\n"
	"	push %rax\n"
	"	movb $1, irq_seen(%rip)\n"
	"	mov $0x20, %al\n"
	"	out %al, $0xA0\n"	/* EOI to both PICs: the line may be on either */
	"	out %al, $0x20\n"
	"	pop %rax\n"
	"	iretq\n");

static void setup_interrupts(unsigned int line)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };
	uint16_t cs;
	uint64_t isr = (uint64_t)(uintptr_t)vmci_isr;

	__asm__ __volatile__("mov %%cs, %0" : "=r"(cs));
	for (int v = PIC_VECTOR; v < PIC_VECTOR + 16; v++)
		idt[v] = (struct idt_gate){ (uint16_t)isr, cs, 0, 0x8E, (uint16_t)(isr >> 16),
					    (uint32_t)(isr >> 32), 0 };
	__asm__ __volatile__("lidt %0" : : "m"(idtr));
	/*
	 * The local APIC passes the PIC through LINT0 only when LVT0 is
	 * ExtINT and unmasked (reset leaves it masked): set it as an OS does.
	 */
	{
		volatile uint32_t *lapic = (volatile uint32_t *)(uintptr_t)0xFEE00000u;

		lapic[0xF0 / 4] |= 0x100;		/* spurious vector register: enable */
		lapic[0x350 / 4] = 0x700;		/* LVT0: ExtINT, unmasked */
	}
	/* ICW1..4: cascade, vectors 0x20/0x28, 8086 mode; unmask only our line. */
	outb(0x20, 0x11);
	outb(0xA0, 0x11);
	outb(0x21, PIC_VECTOR);
	outb(0xA1, PIC_VECTOR + 8);
	outb(0x21, 4);
	outb(0xA1, 2);
	outb(0x21, 1);
	outb(0xA1, 1);
	if (line < 8) {
		outb(0x21, (uint8_t)~(1u << line));
		outb(0xA1, 0xFF);
	} else {
		outb(0x21, (uint8_t)~(1u << 2));
		outb(0xA1, (uint8_t)~(1u << (line - 8)));
	}
}

static bool peer_detached;

/* Sleep until the device interrupts; then consume its causes and datagrams. */
static void wait_irq(void)
{
	uint32_t icr;

	__asm__ __volatile__("cli");
	if (!irq_seen)
		__asm__ __volatile__("sti; hlt" ::: "memory");
	else
		__asm__ __volatile__("sti");
	irq_seen = 0;
	icr = inl(VMCI_PORT_BASE + VMCI_REG_ICR);
	if (icr & VMCI_ICR_NOTIFICATION)
		memset((void *)(uintptr_t)NOTIFY_GPA, 0, VMCI_PAGE_SIZE);
	while (icr & VMCI_ICR_DATAGRAM) {
		uint16_t port = VMCI_PORT_BASE + VMCI_REG_DATA_IN;
		void *p = dgbuf;
		size_t n = VMCI_PAGE_SIZE, pos = 0;

		__asm__ __volatile__("cld; rep insb" : "+D"(p), "+c"(n) : "d"(port) : "memory");
		/* Events are small: whole ones fit a page. */
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
		icr = inl(VMCI_PORT_BASE + VMCI_REG_ICR) & VMCI_ICR_DATAGRAM;
	}
}

static void ring_host(void)
{
	struct vmci_handle h = { VMCI_HOST_CONTEXT_ID, HOST_RID };

	hv(VMCI_DOORBELL_NOTIFY, &h, sizeof(h));
}

static int write_all(struct vmci_qp_view *v, const void *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		int64_t n = ring_write(v, (const uint8_t *)buf + off, len - off);

		if (n < 0)
			return -1;
		if (n > 0) {
			off += (size_t)n;
			if (ring_peer_waiting(v, VMCI_RING_WAIT_DATA))
				ring_host();
			continue;
		}
		if (peer_detached)
			return -1;
		if (ring_spin_until(v, VMCI_RING_WAIT_SPACE, RING_SPINS_DEFAULT))
			continue;
		ring_set_waiting(v, VMCI_RING_WAIT_SPACE);
		if (ring_free_space(v) == 0)
			wait_irq();
		ring_set_waiting(v, 0);
	}
	return 0;
}

int payload_main(void)
{
	uint64_t pages = 2 + VMCI_PAGES(QSIZE) + 1, sum = 0, bytes = STREAM_BYTES, t0, t1;
	static uint8_t req[sizeof(struct vmci_qp_alloc) + 8 * (2 + (QSIZE >> 12) + 1)];
	struct vmci_qp_alloc a = {
		.handle = { VMCI_GUEST_CONTEXT_ID, QP_RID }, .peer = VMCI_HOST_CONTEXT_ID,
		.produce_size = QSIZE, .consume_size = VMCI_PAGE_SIZE, .num_ppns = pages,
	};
	struct vmci_stream_offer offer = { VMCI_STREAM_MAGIC, VMCI_STREAM_TO_HOST, QP_RID, 0,
					   STREAM_BYTES };
	struct vmci_doorbell_link link = { { VMCI_GUEST_CONTEXT_ID, QP_RID }, 0 };
	uint32_t q[3] = { 1, 0, VMCI_GET_CONTEXT_ID };
	uint64_t notify_ppn = NOTIFY_GPA >> 12;
	uint8_t *stage = (void *)(uintptr_t)STAGE_GPA;
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

	setup_interrupts(irq_line);
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
	{
		struct vmci_dg_hdr *h = (void *)dgbuf;

		*h = (struct vmci_dg_hdr){ { VMCI_HOST_CONTEXT_ID, HOST_RID },
					   { VMCI_GUEST_CONTEXT_ID, 1024 }, sizeof(offer) };
		memcpy(dgbuf + sizeof(*h), &offer, sizeof(offer));
		r = send_dg(dgbuf, sizeof(*h) + sizeof(offer));
		check(r > 0, "stream offered to the host (%d)", (int)r);
		if (r < 0)
			return 1;
	}
	t0 = rdtsc();
	if (write_all(&v, &bytes, sizeof(bytes)))
		return 1;
	for (uint64_t done = 0; done < bytes; done += CHUNK) {
		vmci_stream_fill(stage, CHUNK, done);
		sum = vmci_stream_sum(sum, stage, CHUNK);
		if (write_all(&v, stage, CHUNK)) {
			check(false, "host went away after %llu bytes", (unsigned long long)done);
			return 1;
		}
	}
	while (!peer_detached)
		wait_irq();
	t1 = rdtsc();
	print("sent=%llu sum=%016llx ms=%llu\n", (unsigned long long)bytes,
	      (unsigned long long)sum, (unsigned long long)(tsc_to_ns(t1 - t0) / 1000000));
	{
		struct vmci_handle h = { VMCI_GUEST_CONTEXT_ID, QP_RID };

		check(hv(VMCI_QUEUEPAIR_DETACH, &h, sizeof(h)) == 0, "detached");
	}
	return check_failures();
}
