// SPDX-License-Identifier: MIT
/*
 * Payload: GuestRPC over the high-bandwidth port, from memory the
 * hypervisor can only find by walking our page tables.  We switch to page
 * tables of our own (CR3 changes) that map, at 512 GiB, 64 pages backed by
 * physical pages in reverse order, a read-only page and an absent one, and
 * allocate every message there.  Then a read-only buffer, or one running
 * into an absent page, must make the transfer fail without the hypervisor
 * touching memory.
 */
#include "backdoor/backdoor.h"
#include "backdoor/msgchan.h"
#include "rpc-common.h"
#include "runtime.h"

#define ALIAS		0x8000000000ull		/* PML4 entry 1 */
#define ALIAS_PAGES	64
#define RO_PAGE		(ALIAS + ALIAS_PAGES * 4096ull)
#define ABSENT_PAGE	(RO_PAGE + 4096)
#define PTE_P		1ull
#define PTE_RW		2ull

static uint64_t pml4[512] __attribute__((aligned(4096)));
static uint64_t pdpt[512] __attribute__((aligned(4096)));
static uint64_t pd[512] __attribute__((aligned(4096)));
static uint64_t pt[512] __attribute__((aligned(4096)));
static uint8_t pool[ALIAS_PAGES + 1][4096] __attribute__((aligned(4096)));

static void map_alias(void)
{
	uint64_t cr3;

	__asm__ __volatile__("mov %%cr3, %0" : "=r"(cr3));
	pml4[0] = ((uint64_t *)(uintptr_t)(cr3 & ~0xFFFull))[0];	/* the identity map */
	pml4[1] = (uintptr_t)pdpt | PTE_P | PTE_RW;
	pdpt[0] = (uintptr_t)pd | PTE_P | PTE_RW;
	pd[0] = (uintptr_t)pt | PTE_P | PTE_RW;
	for (int i = 0; i < ALIAS_PAGES; i++)
		pt[i] = (uintptr_t)pool[ALIAS_PAGES - 1 - i] | PTE_P | PTE_RW;
	pt[ALIAS_PAGES] = (uintptr_t)pool[ALIAS_PAGES] | PTE_P;	/* read-only */
	pt[ALIAS_PAGES + 1] = 0;					/* absent */
	__asm__ __volatile__("mov %0, %%cr3" : : "r"((uint64_t)(uintptr_t)pml4) : "memory");
}

static void msg_regs(const struct msgchan *c, struct bdoor_regs *r, uint32_t type)
{
	bdoor_lb_cmd(r, BDOOR_CMD_MESSAGE, type);
	r->dx = BDOOR_EDX(0, c->id);
	r->si = c->cookie_hi;
	r->di = c->cookie_lo;
}

static void hb_regs(const struct msgchan *c, struct bdoor_regs *r, size_t len)
{
	bdoor_hb_cmd(r, BDOORHB_CMD_MESSAGE, MESSAGE_STATUS_SUCCESS);
	r->cx = len;
	r->dx = BDOOR_EDX(0, c->id);
}

/* A receive into read-only memory is refused; the same message then arrives. */
static void readonly_receive(void)
{
	struct msgchan c = { 0 };
	struct bdoor_regs r;
	uint32_t size, st;
	char *buf = malloc(64);
	uint8_t before[64];

	if (!check(msgchan_open(&c, RPCI_PROTOCOL_NUM) == 0, "hb: open a channel"))
		return;
	check(msgchan_send(&c, "porthole.echo ro", 16) == 0, "hb: send from scattered pages");
	msg_regs(&c, &r, MESSAGE_TYPE_RECVSIZE);
	bdoor_lb(&r);
	st = bdoor_hi16(r.cx);
	size = (uint32_t)r.bx;
	check((st & MESSAGE_STATUS_DORECV) && (st & MESSAGE_STATUS_HB) && size == 4,
	      "hb: reply of %u bytes announced", size);

	memcpy(before, (void *)(uintptr_t)RO_PAGE, sizeof(before));
	hb_regs(&c, &r, size);
	r.di = RO_PAGE;
	r.si = c.cookie_hi;
	r.bp = c.cookie_lo;
	bdoor_hb_in(&r);
	check(!(bdoor_hi16(r.bx) & MESSAGE_STATUS_SUCCESS) &&
	      !memcmp(before, (void *)(uintptr_t)RO_PAGE, sizeof(before)),
	      "hb: receive into a read-only page refused, page untouched");

	hb_regs(&c, &r, size);
	r.di = (uintptr_t)buf;
	r.si = c.cookie_hi;
	r.bp = c.cookie_lo;
	bdoor_hb_in(&r);
	check((bdoor_hi16(r.bx) & MESSAGE_STATUS_SUCCESS) && !memcmp(buf, "1 ro", 4),
	      "hb: the same receive into writable memory works");
	msgchan_close(&c);
	free(buf);
}

/*
 * A send whose buffer runs from a mapped page into an absent one is refused
 * by the device.  (One starting in an absent page never reaches it: the CPU
 * faults on the first byte of `rep outsb`, and with no IDT that would be a
 * triple fault.)
 */
static void absent_send(uint64_t addr, const char *what)
{
	struct msgchan c = { 0 };
	struct bdoor_regs r;

	if (msgchan_open(&c, RPCI_PROTOCOL_NUM))
		return;
	msg_regs(&c, &r, MESSAGE_TYPE_SENDSIZE);
	r.bx = 16;
	bdoor_lb(&r);
	hb_regs(&c, &r, 16);
	r.si = addr;
	r.bp = c.cookie_hi;
	r.di = c.cookie_lo;
	bdoor_hb_out(&r);
	check(!(bdoor_hi16(r.bx) & MESSAGE_STATUS_SUCCESS), "hb: send %s refused", what);
	msgchan_close(&c);
}

int payload_main(void)
{
	map_alias();
	*(volatile uint8_t *)(uintptr_t)ALIAS = 0x5A;
	check(pool[ALIAS_PAGES - 1][0] == 0x5A, "own page tables: the alias maps page %d",
	      ALIAS_PAGES - 1);
	heap_init((void *)(uintptr_t)ALIAS, ALIAS_PAGES * 4096);

	rpc_checks(true, 20000);
	readonly_receive();
	absent_send(ABSENT_PAGE - 8, "across into an absent page");
	check(rpc_wait_for_host(true, 30), "hb: the host's info-set guestinfo.payload_go arrived");
	return check_failures() ? 1 : 0;
}
