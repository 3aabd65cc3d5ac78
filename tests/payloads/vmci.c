// SPDX-License-Identifier: MIT
/*
 * The VMCI device from a KVM guest: PCI identity (15AD:0740, INTA on its
 * IRQ line), the probe hypercalls Linux's vmw_vmci makes, doorbells and a
 * queue pair registered from the guest's own RAM (page numbers = physical
 * addresses >> 12, identity-mapped), a stream offer to the host endpoint
 * {2, 2001}, a checksummed stream through the queue pair, and the detach.
 *
 * The stream waits on the device interrupt: when the produce queue is full
 * the payload sets its waiting flag (backdoor/ring.h), re-checks, and
 * sleeps with `sti; hlt` (interrupts are otherwise off); the host's doorbell
 * raises ICR.NOTIFICATION, INTA goes up on the 8259 (remapped to 0x20,
 * level-triggered through ELCR), and the handler reads ICR, which lowers
 * the line.  Queued datagrams keep INTA up until read, so the handler also
 * drains them (the host's detach arrives that way).
 *
 * The data: the block pattern of backdoor/vmci-stream.h.  Where KVM
 * emulates every guest instruction (nested, as on the project's machines:
 * ~3 us per instruction, ~1 us per element of a string instruction) a
 * per-word generator and hash bound a stream at a few hundred KB/s, so the
 * payload builds the pseudo-random block once, and each 64 KiB chunk costs
 * one store of its sequence word, one `rep movsq` into the queue (runtime.c's
 * memcpy, via ring_write) and a few instructions to extend the checksum
 * algebraically (vmci_wsum_append).  The host checks every byte against the
 * pattern and computes the checksum over every word itself.  Default: 1 GiB
 * through a 1 MiB queue; -DSTREAM_BYTES=... -DQSIZE=... build other sizes.
 * -DQP_HIGH puts the queue pair above 4 GiB, in the RAM the KVM engine
 * places past the 32-bit PCI hole (run with --ram over 3 GiB): its page
 * numbers are guest-physical, not offsets in the RAM file.
 */
#include "runtime.h"
#include "backdoor/ring.h"
#include "backdoor/vmci-stream.h"
#include "backdoor/vmci.h"

#define HOST_RID	2001u
#define QP_RID		20u
#ifndef QSIZE
#define QSIZE		(1u << 20)	/* big: bookkeeping and wakeups per byte amortised */
#endif
#define CHUNK		VMCI_BLOCK_BYTES
#ifndef STREAM_BYTES
#define STREAM_BYTES	(1ull << 30)
#endif
_Static_assert(STREAM_BYTES % CHUNK == 0 && STREAM_BYTES > QSIZE && QSIZE % VMCI_PAGE_SIZE == 0,
	       "whole chunks; the stream overfills the queue");
#ifdef QP_HIGH
#define QP_GPA		0x104000000ull	/* 4 GiB + 64 MiB: RAM file offset 3 GiB + 64 MiB */
#else
#define QP_GPA		0x4000000ull	/* 64 MiB: guest RAM the payload leaves alone */
#endif
#define NOTIFY_GPA	0x3F00000ull
#define SCRATCH_GPA	0x6000000ull	/* 96 MiB: the copy baseline's destination */
#define COPY_PASSES	8
#define COPY_BYTES	((uint64_t)COPY_PASSES * (QSIZE / CHUNK) * CHUNK)

static uint8_t dgbuf[VMCI_PAGE_SIZE * 4];
static uint32_t irq_line;
static volatile uint64_t irqs, sleeps;	/* VMCI interrupts taken; sleeps on them */
static uint64_t doorbells;		/* rung for the host */

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

/* ---- interrupts: an IDT, the 8259 pair remapped to 0x20/0x28 ---- */

#define PIC_VECTOR	0x20

struct idt_gate {
	uint16_t off_lo, sel;
	uint8_t ist, type;
	uint16_t off_mid;
	uint32_t off_hi, zero;
};

static struct idt_gate idt[256] __attribute__((aligned(16)));
static volatile bool peer_detached;

static void cli(void)
{
	__asm__ __volatile__("cli" : : : "memory");
}

/* sti's one-instruction shadow: no interrupt slips in between the check and hlt. */
static void sti_hlt(void)
{
	__asm__ __volatile__("sti; hlt" : : : "memory");
}

static void drain_events(void);

/* Called from the stub with the vector; interrupts are off throughout. */
void vmci_irq(uint64_t vector);
void vmci_irq(uint64_t vector)
{
	if (vector == PIC_VECTOR + irq_line) {
		uint32_t icr = inl(VMCI_PORT_BASE + VMCI_REG_ICR);

		irqs++;
		/* Queued datagrams hold the level line up: take them now. */
		if (icr & VMCI_ICR_DATAGRAM)
			drain_events();
	}
	if (vector >= PIC_VECTOR + 8)
		outb(0xA0, 0x20);	/* EOI, slave */
	outb(0x20, 0x20);
}

/* One stub per PIC vector: save the caller-saved registers, call vmci_irq. */
#define IRQ_STUB(n) \
	"irq_stub_" #n ":\n" \
	"	push %rdi\n" \
	"	mov $" #n ", %edi\n" \
	"	jmp irq_common\n"
__asm__(".text\n"
	IRQ_STUB(32) IRQ_STUB(33) IRQ_STUB(34) IRQ_STUB(35) IRQ_STUB(36) IRQ_STUB(37)
	IRQ_STUB(38) IRQ_STUB(39) IRQ_STUB(40) IRQ_STUB(41) IRQ_STUB(42) IRQ_STUB(43)
	IRQ_STUB(44) IRQ_STUB(45) IRQ_STUB(46) IRQ_STUB(47)
	"irq_common:\n"
	"	push %rax\n push %rcx\n push %rdx\n push %rsi\n"
	"	push %r8\n push %r9\n push %r10\n push %r11\n"
	"	mov %rsp, %rax\n"
	"	and $-16, %rsp\n"
	"	push %rax\n push %rax\n"
	"	cld\n"
	"	call vmci_irq\n"
	"	pop %rax\n mov %rax, %rsp\n"
	"	pop %r11\n pop %r10\n pop %r9\n pop %r8\n"
	"	pop %rsi\n pop %rdx\n pop %rcx\n pop %rax\n"
	"	pop %rdi\n"
	"	iretq\n");

static void set_gate(unsigned int vec, void (*fn)(void))
{
	uint64_t a = (uintptr_t)fn;
	uint16_t cs;

	__asm__ __volatile__("mov %%cs, %0" : "=r"(cs));
	idt[vec] = (struct idt_gate){ (uint16_t)a, cs, 0, 0x8E, (uint16_t)(a >> 16),
				      (uint32_t)(a >> 32), 0 };
}

static void interrupts_init(void)
{
	extern void irq_stub_32(void), irq_stub_33(void), irq_stub_34(void), irq_stub_35(void),
		irq_stub_36(void), irq_stub_37(void), irq_stub_38(void), irq_stub_39(void),
		irq_stub_40(void), irq_stub_41(void), irq_stub_42(void), irq_stub_43(void),
		irq_stub_44(void), irq_stub_45(void), irq_stub_46(void), irq_stub_47(void);
	void (*stubs[16])(void) = {
		irq_stub_32, irq_stub_33, irq_stub_34, irq_stub_35, irq_stub_36, irq_stub_37,
		irq_stub_38, irq_stub_39, irq_stub_40, irq_stub_41, irq_stub_42, irq_stub_43,
		irq_stub_44, irq_stub_45, irq_stub_46, irq_stub_47,
	};
	struct __attribute__((packed)) { uint16_t limit; uint64_t base; } idtr = {
		sizeof(idt) - 1, (uintptr_t)idt
	};
	uint16_t mask = (uint16_t)~(1u << 2 | 1u << irq_line);

	for (unsigned int i = 0; i < 16; i++)
		set_gate(PIC_VECTOR + i, stubs[i]);
	__asm__ __volatile__("lidt %0" : : "m"(idtr));
	/* ICW1-4: cascade, vectors 0x20/0x28, slave on IRQ 2, 8086 mode. */
	outb(0x20, 0x11);
	outb(0xA0, 0x11);
	outb(0x21, PIC_VECTOR);
	outb(0xA1, PIC_VECTOR + 8);
	outb(0x21, 4);
	outb(0xA1, 2);
	outb(0x21, 1);
	outb(0xA1, 1);
	outb(0x21, (uint8_t)mask);
	outb(0xA1, (uint8_t)(mask >> 8));
	/* INTA is level-triggered (ELCR, as a BIOS sets it for PCI lines). */
	outb(irq_line < 8 ? 0x4D0 : 0x4D1, (uint8_t)(1u << (irq_line & 7)));
}

/*
 * Put all of buf into the produce queue: ring the host when it sleeps on
 * data, and when the queue is full set our waiting flag and sleep on the
 * device interrupt until the host's doorbell says it made room.
 */
static int produce(struct vmci_qp_view *v, const uint8_t *buf, size_t len)
{
	static const struct vmci_handle host_bell = { VMCI_HOST_CONTEXT_ID, HOST_RID };
	size_t off = 0;

	while (off < len) {
		int64_t n = ring_write(v, buf + off, len - off);

		if (n < 0)
			return -1;
		if (n > 0) {
			off += (size_t)n;
			if (ring_peer_waiting(v, VMCI_RING_WAIT_DATA)) {
				doorbells++;
				hv(VMCI_DOORBELL_NOTIFY, &host_bell, sizeof(host_bell));
			}
			continue;
		}
		if (peer_detached)
			return -1;
		cli();
		ring_set_waiting(v, VMCI_RING_WAIT_SPACE);
		if (ring_free_space(v) == 0 && !peer_detached) {
			sleeps++;
			sti_hlt();
		}
		cli();
		ring_set_waiting(v, 0);
	}
	return 0;
}


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

/*
 * The pseudo-random block (word 0 is each chunk's sequence word), and the
 * checksum terms of words 1..N-1: their sum, and the sum of (i + 1) * w_i.
 */
static uint8_t block[CHUNK] __attribute__((aligned(64)));
static uint64_t block_a, block_b;

static void block_init(void)
{
	for (uint64_t i = 1; i < VMCI_BLOCK_WORDS; i++) {
		uint64_t w = vmci_block_word(i);

		__builtin_memcpy(block + 8 * i, &w, 8);
		block_a += w;
		block_b += (i + 1) * w;
	}
}

/* Make `block` chunk k of the stream, and account for it in the checksum. */
static void block_next(uint64_t k, struct vmci_wsum *sum)
{
	uint64_t seq = vmci_block_seq(k);

	__builtin_memcpy(block, &seq, 8);
	vmci_wsum_append(sum, block_a + seq, block_b + seq, VMCI_BLOCK_WORDS);
}

static void copy_to_scratch(void)
{
	for (uint64_t off = 0; off + CHUNK <= QSIZE; off += CHUNK)
		memcpy((uint8_t *)(uintptr_t)SCRATCH_GPA + off, block, CHUNK);
}

#ifdef QP_HIGH
/* The boot page tables map the first 4 GiB: map the next one too, 2 MiB pages. */
static uint64_t high_pd[512] __attribute__((aligned(4096)));

static void map_fifth_gib(void)
{
	uint64_t cr3, *pml4, *pdpt;

	__asm__ __volatile__("mov %%cr3, %0" : "=r"(cr3));
	pml4 = (uint64_t *)(uintptr_t)(cr3 & ~0xFFFull);
	pdpt = (uint64_t *)(uintptr_t)(pml4[0] & 0x000FFFFFFFFFF000ull);
	for (uint64_t i = 0; i < 512; i++)
		high_pd[i] = (4ull << 30 | i << 21) | 0x83;	/* present, writable, 2 MiB */
	pdpt[4] = (uint64_t)(uintptr_t)high_pd | 0x3;
	__asm__ __volatile__("mov %0, %%cr3" : : "r"(cr3) : "memory");
}
#else
static void map_fifth_gib(void)
{
}
#endif

int payload_main(void)
{
	uint64_t pages = 2 + VMCI_PAGES(QSIZE) + 1;
	static uint8_t req[sizeof(struct vmci_qp_alloc) + 8 * (2 + (QSIZE >> 12) + 1)];
	struct vmci_qp_alloc a = {
		.handle = { VMCI_GUEST_CONTEXT_ID, QP_RID }, .peer = VMCI_HOST_CONTEXT_ID,
		.produce_size = QSIZE, .consume_size = VMCI_PAGE_SIZE, .num_ppns = pages,
	};
	struct vmci_stream_offer offer = { VMCI_STREAM_MAGIC, VMCI_STREAM_TO_HOST, QP_RID, 0,
					   STREAM_BYTES };
	uint64_t bytes = STREAM_BYTES, chunks = STREAM_BYTES / CHUNK, k = 0, t0, ns;
	struct vmci_wsum sum = { 0, 0, 0 };
	bool failed = false;
	int64_t pre = -1;
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
	if (irq_line >= 16)
		return 1;
	interrupts_init();
	check(inl(VMCI_PORT_BASE + VMCI_REG_CAPS) & VMCI_CAPS_DATAGRAM, "CAPS has DATAGRAM");
	check(hv(VMCI_RESOURCES_QUERY, q, sizeof(q)) == 1, "RESOURCES_QUERY answers 1");
	check(hv(VMCI_GET_CONTEXT_ID, NULL, 0) == VMCI_GUEST_CONTEXT_ID, "GET_CONTEXT_ID");
	check(hv(VMCI_PH_PAGES_ALLOC, &pages, 8) < 0, "no page allocator in KVM: the guest owns its RAM");

	check(hv(VMCI_SET_NOTIFY_BITMAP, &notify_ppn, 8) == 0, "notify bitmap in guest RAM");
	map_fifth_gib();
	check(hv(VMCI_DOORBELL_LINK, &link, sizeof(link)) == 0, "doorbell linked");
	outl(VMCI_PORT_BASE + VMCI_REG_IMR, VMCI_ICR_DATAGRAM | VMCI_ICR_NOTIFICATION);
	outl(VMCI_PORT_BASE + VMCI_REG_CONTROL, VMCI_CONTROL_INT_ENABLE);

	memcpy(req, &a, sizeof(a));
	for (uint64_t i = 0; i < pages; i++) {
		uint64_t ppn = (QP_GPA >> 12) + i;

		memcpy(req + sizeof(a) + 8 * i, &ppn, 8);
	}
	r = hv(VMCI_QUEUEPAIR_ALLOC, req, sizeof(a) + 8 * pages);
	check(r == VMCI_SUCCESS_QUEUEPAIR_CREATE, "queue pair in guest RAM at 0x%llx (%d)",
	      (unsigned long long)QP_GPA, (int)r);
	if (r < 0)
		return 1;
	vmci_qp_view_init(&v, (void *)(uintptr_t)QP_GPA, QSIZE, VMCI_PAGE_SIZE, false);
	block_init();
	/*
	 * Same-run baseline: the same chunk copied into plain RAM the size of
	 * the queue, no ring.  An untimed first pass faults the pages in, as
	 * the pre-fill does for the queue before the stream's clock starts.
	 */
	copy_to_scratch();
	t0 = rdtsc();
	for (int pass = 0; pass < COPY_PASSES; pass++)
		copy_to_scratch();
	ns = tsc_to_ns(rdtsc() - t0);
	print("copy floor: %llu MiB by rep movsq in %llu ms (%llu KB/s)\n",
	      (unsigned long long)COPY_BYTES >> 20, (unsigned long long)(ns / 1000000),
	      (unsigned long long)(ns ? COPY_BYTES * 1000000ull / ns : 0));
	/*
	 * Fill the queue before offering: the first produce() then finds it
	 * full and sleeps until the host has attached, read, and rung us.
	 */
	check(ring_write(&v, &bytes, 8) == 8, "stream length queued");
	for (; k < chunks; k++) {
		block_next(k, &sum);
		pre = ring_write(&v, block, CHUNK);
		if (pre != CHUNK)
			break;
	}
	check(pre >= 0 && pre < CHUNK && ring_free_space(&v) == 0,
	      "the queue filled before the offer (%llu KiB)",
	      (unsigned long long)(k * CHUNK + (uint64_t)pre) >> 10);
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
	t0 = rdtsc();
	failed = pre < 0 || pre >= CHUNK || produce(&v, block + pre, CHUNK - (size_t)pre) != 0;
	for (k++; k < chunks && !failed; k++) {
		block_next(k, &sum);
		failed = produce(&v, block, CHUNK) != 0;
	}
	ns = tsc_to_ns(rdtsc() - t0);
	check(!failed && sleeps > 0 && sum.words * 8 == bytes,
	      "%llu MiB produced, sleeping %llu times on the device interrupt",
	      (unsigned long long)(bytes >> 20), (unsigned long long)sleeps);
	print("sum=%016llx%016llx\n", (unsigned long long)sum.a, (unsigned long long)sum.b);
	print("stream %llu bytes in %llu ms (%llu KB/s), %llu interrupts, %llu doorbells\n",
	      (unsigned long long)bytes, (unsigned long long)(ns / 1000000),
	      (unsigned long long)(ns ? bytes * 1000000ull / ns : 0), (unsigned long long)irqs,
	      (unsigned long long)doorbells);
	/* The handler drains the events: the host's detach wakes us like its doorbell. */
	while (!peer_detached && !failed) {
		cli();
		if (!peer_detached)
			sti_hlt();
		cli();
	}
	check(peer_detached, "the host read it and detached");
	{
		struct vmci_handle h = { VMCI_GUEST_CONTEXT_ID, QP_RID };

		check(hv(VMCI_QUEUEPAIR_DETACH, &h, sizeof(h)) == 0, "detached");
	}
	return check_failures();
}
