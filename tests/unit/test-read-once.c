// SPDX-License-Identifier: MIT
/*
 * Shared memory is read once: every field a host-side reader takes from
 * guest memory is fetched once into private memory, checked there and used
 * from there, so a guest that changes it in between (from another vCPU or
 * thread, as in the VMCI double fetch CVE-2025-22224) can't get a checked
 * value swapped for a hostile one.
 *
 * Two readers, each watched deterministically:
 *
 * - The queue-pair rings (backdoor/ring.c, used by the host services on
 *   pages mapped from guest RAM): the header pages are made inaccessible,
 *   so every access faults; the handler lets that one instruction through
 *   (trap flag), counts it, and right after a read of a watched field
 *   stores a hostile value into it, as a second guest thread could.  The
 *   ring must read each field once and act on what it read first.
 *
 * - The VMCI device (hypervisor/devices/vmci.c): datagrams and hypercall
 *   arguments come through the vCPU's guest-memory callbacks; the test's
 *   callback counts the reads of every byte and, after each read, turns the
 *   datagram's lengths and page numbers hostile.  Every byte must be read
 *   once and the result must be the one the first read asked for.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <glib.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <ucontext.h>
#include <unistd.h>

#include "backdoor/ring.h"
#include "backdoor/vmci.h"
#include "hypervisor/control-proto.h"
#include "hypervisor/devices/vmci.h"
#include "hypervisor/vm.h"

/* ---- the ring: header pages that fault on every access ---- */

#define EFLAGS_TF	0x100

struct watched_field {
	uint64_t *addr;
	uint64_t hostile;	/* stored right after each read */
	unsigned int reads, writes;
};

static struct {
	uint8_t *pages[2];
	struct watched_field fields[4];
	unsigned int nfields;
	struct watched_field *pending;	/* the access being single-stepped */
	bool pending_write;
	struct sigaction old_segv, old_trap;
} watch;

static void protect_pages(int prot)
{
	for (int i = 0; i < 2; i++)
		if (watch.pages[i])
			mprotect(watch.pages[i], VMCI_PAGE_SIZE, prot);
}

static bool on_watched_page(const void *addr)
{
	for (int i = 0; i < 2; i++)
		if (watch.pages[i] && (const uint8_t *)addr >= watch.pages[i] &&
		    (const uint8_t *)addr < watch.pages[i] + VMCI_PAGE_SIZE)
			return true;
	return false;
}

static void on_segv(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	uintptr_t word = (uintptr_t)si->si_addr & ~(uintptr_t)7;

	if (!on_watched_page(si->si_addr)) {
		/* A real crash: let it happen as it would have. */
		sigaction(SIGSEGV, &watch.old_segv, NULL);
		return;
	}
	watch.pending = NULL;
	for (unsigned int i = 0; i < watch.nfields; i++)
		if ((uintptr_t)watch.fields[i].addr == word)
			watch.pending = &watch.fields[i];
	/* Page-fault error code bit 1: the access was a write. */
	watch.pending_write = uc->uc_mcontext.gregs[REG_ERR] & 2;
	protect_pages(PROT_READ | PROT_WRITE);
	uc->uc_mcontext.gregs[REG_EFL] |= EFLAGS_TF;
}

/* The faulting instruction ran: count it, let the "guest" strike, re-arm. */
static void on_trap(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	struct watched_field *f = watch.pending;

	uc->uc_mcontext.gregs[REG_EFL] &= ~EFLAGS_TF;
	if (f && watch.pending_write) {
		f->writes++;
	} else if (f) {
		f->reads++;
		__atomic_store_n(f->addr, f->hostile, __ATOMIC_RELAXED);
	}
	watch.pending = NULL;
	protect_pages(PROT_NONE);
}

static struct watched_field *watch_field(void *addr, uint64_t hostile)
{
	struct watched_field *f = &watch.fields[watch.nfields++];

	assert_true(watch.nfields <= G_N_ELEMENTS(watch.fields));
	*f = (struct watched_field){ addr, hostile, 0, 0 };
	return f;
}

/* After cmocka's own handlers are in place (it installs them per test). */
static void watch_start(void)
{
	struct sigaction sa = { .sa_flags = SA_SIGINFO | SA_NODEFER };

	sigemptyset(&sa.sa_mask);
	sa.sa_sigaction = on_segv;
	sigaction(SIGSEGV, &sa, &watch.old_segv);
	sa.sa_sigaction = on_trap;
	sigaction(SIGTRAP, &sa, &watch.old_trap);
	protect_pages(PROT_NONE);
}

static void watch_stop(void)
{
	protect_pages(PROT_READ | PROT_WRITE);
	sigaction(SIGSEGV, &watch.old_segv, NULL);
	sigaction(SIGTRAP, &watch.old_trap, NULL);
}

struct pair {
	uint8_t *base;
	size_t span;
	struct vmci_qp_view guest, host;
};

/* A queue pair of two 4096-byte queues, header pages watched. */
static void pair_init(struct pair *p)
{
	p->span = vmci_qp_span(VMCI_PAGE_SIZE, VMCI_PAGE_SIZE);
	p->base = mmap(NULL, p->span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(p->base != MAP_FAILED);
	vmci_qp_headers_init(p->base, VMCI_PAGE_SIZE, VMCI_PAGE_SIZE, 1);
	vmci_qp_view_init(&p->guest, p->base, VMCI_PAGE_SIZE, VMCI_PAGE_SIZE, false);
	vmci_qp_view_init(&p->host, p->base, VMCI_PAGE_SIZE, VMCI_PAGE_SIZE, true);
	memset(&watch, 0, sizeof(watch));
	watch.pages[0] = (uint8_t *)p->guest.produce_hdr;
	watch.pages[1] = (uint8_t *)p->guest.consume_hdr;
}

static void pair_free(struct pair *p)
{
	munmap(p->base, p->span);
}

static void fill(uint8_t *buf, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 131 + seed);
}

/* Move both ends of the guest's produce queue to `pos` (a wrap comes next). */
static void advance_guest_queue(struct pair *p, size_t pos)
{
	uint8_t *junk = g_malloc0(pos);

	assert_int_equal(ring_write(&p->guest, junk, pos), pos);
	assert_int_equal(ring_read(&p->host, junk, pos), pos);
	g_free(junk);
}

static void test_ring_read_fetches_once(void **state)
{
	struct pair p;
	uint8_t src[300], dst[4096];
	struct watched_field *tail, *head;
	int64_t got;

	pair_init(&p);
	advance_guest_queue(&p, 4000);
	fill(src, sizeof(src), 1);
	assert_int_equal(ring_write(&p.guest, src, sizeof(src)), sizeof(src));	/* wraps */
	/* The guest's tail says how much is there; the host's head lives in guest RAM too. */
	tail = watch_field(&p.guest.produce_hdr->producer_tail, 1ull << 40);
	head = watch_field(&p.host.produce_hdr->consumer_head, UINT64_MAX - 7);
	watch_start();
	got = ring_read(&p.host, dst, sizeof(dst));
	watch_stop();
	assert_int_equal(got, sizeof(src));
	assert_memory_equal(src, dst, sizeof(src));
	assert_int_equal(tail->reads, 1);
	assert_int_equal(head->reads, 1);
	assert_int_equal(head->writes, 1);
	/* What the host published is its own arithmetic, not the hostile value. */
	assert_int_equal(p.host.produce_hdr->consumer_head, (4000 + sizeof(src)) % 4096);
	pair_free(&p);
}

static void test_ring_write_fetches_once(void **state)
{
	struct pair p;
	uint8_t src[2000], dst[2000], junk[3000] = { 0 };
	struct watched_field *peer_head, *tail;
	int64_t got;

	pair_init(&p);
	/* Host -> guest: both ends at 3000, so 2000 bytes wrap. */
	assert_int_equal(ring_write(&p.host, junk, sizeof(junk)), sizeof(junk));
	assert_int_equal(ring_read(&p.guest, junk, sizeof(junk)), sizeof(junk));
	fill(src, sizeof(src), 7);
	peer_head = watch_field(&p.host.consume_hdr->consumer_head, 1ull << 63);
	tail = watch_field(&p.host.produce_hdr->producer_tail, 4096);
	watch_start();
	got = ring_write(&p.host, src, sizeof(src));
	watch_stop();
	assert_int_equal(got, sizeof(src));
	assert_int_equal(peer_head->reads, 1);
	assert_int_equal(tail->reads, 1);
	assert_int_equal(tail->writes, 1);
	assert_int_equal(p.host.produce_hdr->producer_tail, (3000 + sizeof(src)) % 4096);
	/* Undo the "guest's" vandalism of its own head, then check what arrived. */
	p.guest.produce_hdr->consumer_head = 3000;
	assert_int_equal(ring_read(&p.guest, dst, sizeof(dst)), sizeof(dst));
	assert_memory_equal(src, dst, sizeof(src));
	pair_free(&p);
}

/* The queries: each field once, the answer from the first read. */
static void test_ring_queries_fetch_once(void **state)
{
	struct pair p;
	uint8_t src[100];
	struct watched_field *fields[4];
	int64_t ready, space;
	bool waiting;

	pair_init(&p);
	fill(src, sizeof(src), 3);
	assert_int_equal(ring_write(&p.guest, src, sizeof(src)), sizeof(src));
	ring_set_waiting(&p.guest, VMCI_RING_WAIT_SPACE);
	fields[0] = watch_field(&p.guest.produce_hdr->producer_tail, 1ull << 40);
	fields[1] = watch_field(&p.host.produce_hdr->consumer_head, 5000);
	watch_start();
	ready = ring_ready(&p.host);
	watch_stop();
	assert_int_equal(ready, sizeof(src));
	assert_int_equal(fields[0]->reads, 1);
	assert_int_equal(fields[1]->reads, 1);

	memset(&watch.fields, 0, sizeof(watch.fields));
	watch.nfields = 0;
	p.guest.produce_hdr->producer_tail = sizeof(src);
	p.host.produce_hdr->consumer_head = 0;
	fields[2] = watch_field(&p.host.consume_hdr->consumer_head, UINT64_MAX);
	fields[3] = watch_field(&p.host.produce_hdr->producer_tail, 1ull << 50);
	watch_start();
	space = ring_free_space(&p.host);
	watch_stop();
	assert_int_equal(space, 4095);
	assert_int_equal(fields[2]->reads, 1);
	assert_int_equal(fields[3]->reads, 1);

	memset(&watch.fields, 0, sizeof(watch.fields));
	watch.nfields = 0;
	fields[0] = watch_field((void *)&p.guest.produce_hdr->waiting, 0);
	watch_start();
	waiting = ring_peer_waiting(&p.host, VMCI_RING_WAIT_SPACE);
	watch_stop();
	assert_true(waiting);
	assert_int_equal(fields[0]->reads, 1);
	pair_free(&p);
}

/* ---- the VMCI device: guest memory behind a read hook ---- */

#define GUEST_VA	0x7000000000ull
#define GUEST_BUF	4096
#define RAM_SIZE	(4u << 20)

/* A field the "second guest thread" rewrites once the device has read it. */
struct strike {
	size_t off;
	uint64_t hostile;
};

struct fake_guest {
	uint8_t mem[GUEST_BUF];
	unsigned int reads[GUEST_BUF];	/* per byte */
	struct strike strikes[8];	/* u64 fields */
	unsigned int nstrikes;
};

static void strike(struct fake_guest *g, size_t off, uint64_t hostile)
{
	assert_true(g->nstrikes < G_N_ELEMENTS(g->strikes));
	g->strikes[g->nstrikes++] = (struct strike){ off, hostile };
}

static int hook_read(void *opaque, uint64_t addr, void *buf, size_t len)
{
	struct fake_guest *g = opaque;
	uint64_t off = addr - GUEST_VA;

	if (addr < GUEST_VA || len > GUEST_BUF || off > GUEST_BUF - len)
		return -1;
	memcpy(buf, g->mem + off, len);
	for (size_t i = 0; i < len; i++)
		g->reads[off + i]++;
	/* Whatever was read is changed at once; what is still unread stays valid. */
	for (unsigned int i = 0; i < g->nstrikes; i++)
		if (g->reads[g->strikes[i].off] && g->reads[g->strikes[i].off + 7])
			memcpy(g->mem + g->strikes[i].off, &g->strikes[i].hostile, 8);
	return 0;
}

static int hook_write(void *opaque, uint64_t addr, const void *buf, size_t len)
{
	return -1;
}

static struct vm *vm;

static int vm_setup(void **state)
{
	struct vm_config cfg = { .name = "unit-read-once", .ram_size = RAM_SIZE, .engine = "kvm" };

	vm = vm_create(&cfg);
	return vm && vm->vmci ? 0 : -1;
}

static int vm_teardown(void **state)
{
	vm_destroy(vm);
	return 0;
}

/* `rep outsb` of `len` bytes at GUEST_VA to DATA_OUT; the hypercall's result. */
static int64_t send_datagram(struct fake_guest *g, size_t len)
{
	struct vcpu v = { .vm = vm, .id = 1, .regs = { .rsi = GUEST_VA, .rcx = len },
			  .mem = { hook_read, hook_write, g } };
	struct io_access out = { .port = VMCI_PORT_BASE + VMCI_REG_DATA_OUT, .size = 1,
				 .string = true, .rep = true, .addr_size = 8 };
	struct io_access in = { .port = VMCI_PORT_BASE + VMCI_REG_RESULT_LOW, .size = 4,
				.in = true, .addr_size = 8 };
	uint64_t lo, hi;

	assert_int_equal(vm_io(vm, &v, &out), IO_DONE);
	assert_int_equal(v.regs.rcx, 0);
	assert_int_equal(vm_io(vm, &v, &in), IO_DONE);
	lo = (uint32_t)v.regs.rax;
	in.port = VMCI_PORT_BASE + VMCI_REG_RESULT_HIGH;
	assert_int_equal(vm_io(vm, &v, &in), IO_DONE);
	hi = (uint32_t)v.regs.rax;
	return (int64_t)(lo | hi << 32);
}

static void assert_each_byte_read_once(const struct fake_guest *g, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (g->reads[i] != 1)
			fail_msg("datagram byte %zu read %u times", i, g->reads[i]);
}

static void test_datagram_header_read_once(void **state)
{
	static struct fake_guest g;
	struct vmci_dg_hdr h = { { VMCI_HYPERVISOR_CONTEXT_ID, VMCI_GET_CONTEXT_ID },
				 { VMCI_INVALID_ID, VMCI_INVALID_ID }, 40 };

	memset(&g, 0, sizeof(g));
	memcpy(g.mem, &h, sizeof(h));
	strike(&g, offsetof(struct vmci_dg_hdr, payload_size), 1ull << 40);
	strike(&g, offsetof(struct vmci_dg_hdr, dst), VMCI_HOST_CONTEXT_ID | 4242ull << 32);
	assert_int_equal(send_datagram(&g, sizeof(h) + 40), VMCI_GUEST_CONTEXT_ID);
	assert_each_byte_read_once(&g, sizeof(h) + 40);
}

#define QP_RESOURCE	77
static const uint64_t qp_ppns[4] = { 0x200, 0x201, 0x202, 0x203 };

static void test_queue_pair_alloc_read_once(void **state)
{
	static struct fake_guest g;
	struct vmci_dg_hdr h = { { VMCI_HYPERVISOR_CONTEXT_ID, VMCI_QUEUEPAIR_ALLOC },
				 { VMCI_INVALID_ID, VMCI_INVALID_ID },
				 sizeof(struct vmci_qp_alloc) + sizeof(qp_ppns) };
	struct vmci_qp_alloc a = { { VMCI_GUEST_CONTEXT_ID, QP_RESOURCE }, VMCI_HOST_CONTEXT_ID, 0,
				   VMCI_PAGE_SIZE, VMCI_PAGE_SIZE, 4 };
	struct vmci_ctl_qp_attach attach = { { VMCI_GUEST_CONTEXT_ID, QP_RESOURCE }, 0, 0 };
	struct vmci_ctl_qp_info info;
	uint64_t want_handle = VMCI_GUEST_CONTEXT_ID | (uint64_t)QP_RESOURCE << 32;
	GByteArray *reply = g_byte_array_new();
	int sv[2];
	uint8_t *ram;

	memset(&g, 0, sizeof(g));
	memcpy(g.mem, &h, sizeof(h));
	memcpy(g.mem + sizeof(h), &a, sizeof(a));
	memcpy(g.mem + sizeof(h) + sizeof(a), qp_ppns, sizeof(qp_ppns));
	/* Sizes, count and pages change once read; other valid pages swapped in. */
	strike(&g, sizeof(h) + offsetof(struct vmci_qp_alloc, produce_size), 1ull << 62);
	strike(&g, sizeof(h) + offsetof(struct vmci_qp_alloc, num_ppns), 1ull << 40);
	for (size_t i = 0; i < 4; i++)
		strike(&g, sizeof(h) + sizeof(a) + 8 * i, 0x300 + i);
	assert_int_equal(send_datagram(&g, sizeof(h) + h.payload_size),
			 VMCI_SUCCESS_QUEUEPAIR_CREATE);
	assert_each_byte_read_once(&g, sizeof(h) + h.payload_size);

	/* The device kept what it checked: the host is given the first pages. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	assert_int_equal(vmci_control(vm->vmci, 1, sv[0], PH_CTL_VMCI_QP_ATTACH, &attach,
				      sizeof(attach), reply), 0);
	assert_int_equal(reply->len, sizeof(info) + sizeof(qp_ppns));
	memcpy(&info, reply->data, sizeof(info));
	assert_int_equal(info.num_ppns, 4);
	assert_int_equal(info.produce_size, VMCI_PAGE_SIZE);
	assert_memory_equal(reply->data + sizeof(info), qp_ppns, sizeof(qp_ppns));
	/* ... and initialised the headers there, not in the pages swapped in later. */
	ram = mmap(NULL, RAM_SIZE, PROT_READ, MAP_SHARED, vm->ram_fd, 0);
	assert_true(ram != MAP_FAILED);
	assert_int_equal(*(uint64_t *)(ram + 0x200 * VMCI_PAGE_SIZE), want_handle);
	assert_int_equal(*(uint64_t *)(ram + 0x202 * VMCI_PAGE_SIZE), want_handle);
	assert_int_equal(*(uint64_t *)(ram + 0x300 * VMCI_PAGE_SIZE), 0);
	assert_int_equal(*(uint64_t *)(ram + 0x302 * VMCI_PAGE_SIZE), 0);
	munmap(ram, RAM_SIZE);
	vmci_client_gone(vm->vmci, 1);
	close(sv[0]);
	close(sv[1]);
	g_byte_array_free(reply, TRUE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_read_fetches_once),
		cmocka_unit_test(test_ring_write_fetches_once),
		cmocka_unit_test(test_ring_queries_fetch_once),
		cmocka_unit_test_setup_teardown(test_datagram_header_read_once, vm_setup,
						vm_teardown),
		cmocka_unit_test_setup_teardown(test_queue_pair_alloc_read_once, vm_setup,
						vm_teardown),
	};

	return cmocka_run_group_tests_name("read-once", tests, NULL, NULL);
}
