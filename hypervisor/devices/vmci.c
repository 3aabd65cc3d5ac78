// SPDX-License-Identifier: MIT
/*
 * The VMCI-style device.  Register block and datagram formats:
 * backdoor/vmci.h; ring layout: backdoor/ring.h.
 *
 * State is per guest context ("owner": a process in the trap engine, 0 in
 * KVM): the result of its last send (per vCPU/thread), its receive stream,
 * ICR/IMR, its doorbell bitmap page, and in the trap engine the pages it got
 * from the allocator.  Queue pairs, doorbells and datagram maps name their
 * owner and die with it.
 *
 * Host services reach the device over the control socket (vmci_control);
 * events for them are written straight to a dup of their socket, with
 * MSG_DONTWAIT, from whichever thread holds vm->lock.
 *
 * Guest wakeups: the trap engine's guests connect to a socket bound into
 * their /dev (VMCI_GUEST_SOCKET); a process gets the RAM memfd on connect
 * and a byte whenever its ICR goes non-zero with the cause unmasked, or,
 * once it registered a mailbox (backdoor/vmci.h), after every datagram and
 * doorbell for it.  With
 * a PCI bus (KVM engine) the device is also function 15AD:0740 (VMware's
 * VMCI ids) with the port block as BAR0 and INTA on VMCI_PCI_IRQ: the line
 * is high while (ICR & IMR) and interrupts are on, level-triggered.
 */
#define G_LOG_DOMAIN "porthole-hv"
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "backdoor/ring.h"
#include "backdoor/vmci.h"
#include "hypervisor/control-proto.h"
#include "hypervisor/vm.h"
#include "pci.h"
#include "vmci.h"

#define VMCI_PCI_VENDOR		0x15AD
#define VMCI_PCI_DEVICE		0x0740
#define VMCI_PCI_CLASS		0x088000	/* system peripheral, other */
#define VMCI_PCI_IRQ		11

#define RX_MAX_BYTES		(1u << 20)	/* queued for one context */
/* page_in_qp[]: one use per page, so no two device writers share one. */
#define PAGE_USE_QP		1
#define PAGE_USE_MAILBOX	2
#define MAX_DOORBELLS		1024
#define MAX_DG_MAPS		1024
#define MAX_GUEST_CONNS		256
#define MAX_OWNER_PAGES		(VMCI_MAX_GUEST_QP_MEMORY / VMCI_PAGE_SIZE + 1024)
/*
 * A trap engine guest process may hold at most this share of each table
 * (connections, queue pairs, doorbells, datagram maps, allocator pages), so
 * that one process cannot lock the others out.  A KVM guest is a single
 * context (0) to the device: the whole tables are its.
 */
#define OWNER_SHARE(max)	((max) / 4)

struct owner {
	int id;
	uint32_t icr, imr;
	bool int_on;
	GQueue rx;			/* GBytes: encoded datagrams, 8-byte padded */
	size_t rx_bytes, rx_off;	/* bytes queued; read offset into the head */
	uint64_t notify_ppn;		/* doorbell bitmap: RAM page, or UINT64_MAX */
	/* Mailbox: RAM pages (header, then the receive ring); off while n == 0. */
	uint64_t mbox_pages[VMCI_PH_MAILBOX_MAX_PAGES];
	unsigned int mbox_n;
	uint32_t mbox_tail;		/* ours: the guest's copy is only written */
	uint32_t mbox_dropped;
	uint64_t pages;			/* from the allocator */
	uint64_t qp_bytes;
	unsigned int qps, doorbells, dg_maps;	/* held, against OWNER_SHARE() */
};

struct result {
	int owner;
	int64_t value;
};

struct qp {
	struct vmci_handle handle;
	int owner;
	uint64_t produce_size, consume_size, num_ppns;
	uint64_t *ppns;			/* RAM pages (vmci_ppn_rules), as host services map them */
	unsigned int host_client;	/* 0: no host attached */
};

struct doorbell {
	int owner;
	uint64_t idx;
};

struct client {
	struct vmci_state *st;
	unsigned int id;
	int fd;				/* our dup of the control connection */
	guint src;			/* watches it for the peer hanging up */
};

struct gconn {
	struct vmci_state *st;
	int fd;
	int pid;
	guint src;
};

struct vmci_state {
	struct vm *vm;
	struct io_device *dev;		/* the port block; BAR0 moves it */
	struct pci_dev *pci;		/* KVM engine, or NULL */
	bool trap;			/* guest processes own contexts and pages */
	uint8_t *ram;			/* the whole guest RAM, shared */
	uint64_t ram_pages;
	GHashTable *owners;		/* id -> struct owner */
	GHashTable *results;		/* vcpu id -> struct result */
	GHashTable *qps;		/* resource -> struct qp */
	GHashTable *doorbells;		/* guest resource -> struct doorbell */
	GHashTable *dg_maps;		/* guest resource -> owner + 1 */
	GHashTable *host_bound;		/* host resource -> client id */
	GHashTable *clients;		/* client id -> struct client */
	int32_t *page_owner;		/* trap engine allocator */
	uint8_t *page_in_qp;		/* PAGE_USE_*: what the device writes a RAM page for */
	uint64_t pages_used, alloc_hint;
	/* Trap engine guest socket. */
	char *sock_path;
	int listen_fd;
	guint listen_src;
	GList *gconns;
	unsigned int n_gconns;
};

/* ---- page-number validation (pure: unit tested) ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The RAM page behind guest-physical page `ppn`: true, or false for a hole or past RAM. */
static bool ppn_to_ram_page(const struct vmci_ppn_rules *r, uint64_t ppn, uint64_t *page)
{
	uint64_t offset;

	if (!r->map) {
		*page = ppn;
		return ppn < r->ram_pages;
	}
	if (ppn > UINT64_MAX / VMCI_PAGE_SIZE ||
	    vm_ram_map_translate(r->map, ppn * VMCI_PAGE_SIZE, VMCI_PAGE_SIZE, &offset) ||
	    offset % VMCI_PAGE_SIZE || offset / VMCI_PAGE_SIZE >= r->ram_pages)
		return false;
	*page = offset / VMCI_PAGE_SIZE;
	return true;
}

int vmci_check_ppns(const struct vmci_ppn_rules *r, const uint64_t *ppns, uint64_t n,
		    uint64_t *bad)
{
	uint64_t *pages, *sorted;
	int ret = VMCI_SUCCESS;

	*bad = 0;
	if (n == 0)
		return VMCI_ERROR_INVALID_ARGS;
	if (n > VMCI_QP_MAX_PPNS)
		return VMCI_ERROR_NO_RESOURCES;
	pages = r->ram_page ? r->ram_page : g_new(uint64_t, n);
	for (uint64_t i = 0; i < n && !ret; i++) {
		uint64_t p = ppns[i], rp = 0;

		*bad = i;
		if (!ppn_to_ram_page(r, p, &rp))
			ret = VMCI_ERROR_CANNOT_SHARE_PAGE;
		else if (p >= VMCI_DEVICE_PPN_FIRST && p < VMCI_DEVICE_PPN_END)
			ret = VMCI_ERROR_NO_ACCESS;
		else if (r->page_owner && r->page_owner[rp] != r->owner)
			ret = VMCI_ERROR_INVALID_PRIV;
		else if (r->page_in_qp && r->page_in_qp[rp])
			ret = VMCI_ERROR_REGION_ALREADY_SHARED;
		pages[i] = rp;
	}
	if (!ret) {
		/* Two PPNs are the same page exactly when their RAM pages are. */
		sorted = g_memdup2(pages, n * sizeof(*pages));
		qsort(sorted, n, sizeof(*sorted), cmp_u64);
		for (uint64_t i = 1; i < n; i++) {
			if (sorted[i] == sorted[i - 1]) {
				ret = VMCI_ERROR_PAGE_ALREADY_SHARED;
				for (uint64_t j = 0; j < n; j++)
					if (pages[j] == sorted[i]) {
						*bad = j;
						break;
					}
				break;
			}
		}
		g_free(sorted);
	}
	if (pages != r->ram_page)
		g_free(pages);
	return ret;
}

/* ---- contexts ---- */

static struct owner *owner_get(struct vmci_state *st, int id, bool create)
{
	struct owner *o = g_hash_table_lookup(st->owners, GINT_TO_POINTER(id));

	if (!o && create) {
		o = g_new0(struct owner, 1);
		o->id = id;
		o->notify_ppn = UINT64_MAX;
		g_queue_init(&o->rx);
		g_hash_table_insert(st->owners, GINT_TO_POINTER(id), o);
	}
	return o;
}

static void owner_free(gpointer p)
{
	struct owner *o = p;

	g_queue_clear_full(&o->rx, (GDestroyNotify)g_bytes_unref);
	g_free(o);
}

static void wake_owner(struct vmci_state *st, struct owner *o)
{
	for (GList *l = st->gconns; l; l = l->next) {
		struct gconn *g = l->data;

		/* A full socket already holds an unread wakeup: losing this one is fine. */
		if (g->pid == o->id && send(g->fd, "!", 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
		    errno != EAGAIN)
			g_debug("vmci: wakeup for %d: %s", o->id, g_strerror(errno));
	}
}

/* INTA follows the guest context's pending, unmasked causes (KVM: one context). */
static void update_irq(struct vmci_state *st, struct owner *o)
{
	uint32_t pending = o->icr | (g_queue_is_empty(&o->rx) ? 0 : VMCI_ICR_DATAGRAM);

	if (st->pci)
		pci_set_irq(st->pci, o->int_on && (pending & o->imr));
}

static void raise_icr(struct vmci_state *st, struct owner *o, uint32_t bits)
{
	uint32_t before = o->icr & o->imr;

	o->icr |= bits;
	/* A mailbox guest reads no ICR: every cause is news to it. */
	if (o->int_on && (o->mbox_n ? (bits & o->imr) : !before && (o->icr & o->imr)))
		wake_owner(st, o);
	update_irq(st, o);
}

/* ---- the mailbox (backdoor/vmci.h) ---- */

/* A RAM page (not a guest PPN: see vmci_ppn_rules); the trap engine's are the same. */
static void *page_ptr(struct vmci_state *st, uint64_t page)
{
	return st->ram + page * VMCI_PAGE_SIZE;
}

static struct vmci_ph_mailbox_hdr *mailbox_hdr(struct vmci_state *st, struct owner *o)
{
	return page_ptr(st, o->mbox_pages[0]);
}

static uint32_t mailbox_ring_size(const struct owner *o)
{
	return (o->mbox_n - 1) * VMCI_PAGE_SIZE;
}

static void mailbox_off(struct vmci_state *st, struct owner *o)
{
	for (unsigned int i = 0; i < o->mbox_n; i++)
		st->page_in_qp[o->mbox_pages[i]] = 0;
	o->mbox_n = 0;
}

/* Copy into the receive ring at `off`, wrapping, page by page. */
static void mailbox_put(struct vmci_state *st, struct owner *o, uint32_t off, const void *src,
			size_t len)
{
	const uint8_t *p = src;
	uint32_t size = mailbox_ring_size(o);

	while (len) {
		uint32_t at = off % size, in = at % VMCI_PAGE_SIZE;
		size_t n = MIN(len, (size_t)(VMCI_PAGE_SIZE - in));
		uint8_t *page = page_ptr(st, o->mbox_pages[1 + at / VMCI_PAGE_SIZE]);

		if (p)
			memcpy(page + in, p, n);
		else
			memset(page + in, 0, n);
		if (p)
			p += n;
		off = at + (uint32_t)n;
		len -= n;
	}
}

/*
 * Write a datagram into the context's receive ring; a VMCI result.  The
 * guest's rx_head is read once and checked: a head out of range (a broken
 * or hostile guest) reads as a full ring, never as a place to write.
 */
static int mailbox_deliver(struct vmci_state *st, struct owner *o, const struct vmci_dg_hdr *h,
			   const void *payload)
{
	struct vmci_ph_mailbox_hdr *mh = mailbox_hdr(st, o);
	uint32_t size = mailbox_ring_size(o), tail = o->mbox_tail;
	uint32_t head = __atomic_load_n(&mh->rx_head, __ATOMIC_ACQUIRE);
	uint64_t len = sizeof(*h) + h->payload_size, padded = VMCI_DG_ALIGN(len);

	if (head >= size || head % 8 || padded > (head + size - tail - 8) % size) {
		if (head >= size || head % 8)
			vm_guest_log(st->vm, "vmci: mailbox of context %d: receive head %u "
				     "outside its %u-byte ring", o->id, head, size);
		__atomic_store_n(&mh->rx_dropped, ++o->mbox_dropped, __ATOMIC_RELAXED);
		return VMCI_ERROR_NO_RESOURCES;
	}
	mailbox_put(st, o, tail, h, sizeof(*h));
	mailbox_put(st, o, tail + (uint32_t)sizeof(*h), payload, h->payload_size);
	mailbox_put(st, o, tail + (uint32_t)len, NULL, padded - len);
	o->mbox_tail = (uint32_t)((tail + padded) % size);
	__atomic_store_n(&mh->rx_tail, o->mbox_tail, __ATOMIC_RELEASE);
	raise_icr(st, o, VMCI_ICR_DATAGRAM);
	return VMCI_SUCCESS;
}

/* Queue a datagram for a context; a VMCI result. */
static int deliver(struct vmci_state *st, struct owner *o, const struct vmci_dg_hdr *h,
		   const void *payload)
{
	size_t len = sizeof(*h) + h->payload_size, padded = VMCI_DG_ALIGN(len);
	uint8_t *buf;

	if (o->mbox_n)
		return mailbox_deliver(st, o, h, payload);
	if (o->rx_bytes + padded > RX_MAX_BYTES)
		return VMCI_ERROR_NO_RESOURCES;
	buf = g_malloc0(padded);
	memcpy(buf, h, sizeof(*h));
	memcpy(buf + sizeof(*h), payload, h->payload_size);
	g_queue_push_tail(&o->rx, g_bytes_new_take(buf, padded));
	o->rx_bytes += padded;
	raise_icr(st, o, VMCI_ICR_DATAGRAM);
	return VMCI_SUCCESS;
}

static void deliver_event(struct vmci_state *st, int owner, uint32_t event,
			  struct vmci_handle handle, uint32_t peer)
{
	struct owner *o = owner_get(st, owner, false);
	struct vmci_event_qp ev = { .event = event, .handle = handle, .peer_id = peer };
	struct vmci_dg_hdr h = {
		.dst = { VMCI_GUEST_CONTEXT_ID, VMCI_EVENT_HANDLER },
		.src = { VMCI_HYPERVISOR_CONTEXT_ID, VMCI_EVENT_HANDLER },
		.payload_size = sizeof(ev),
	};

	if (o && deliver(st, o, &h, &ev))
		vm_guest_log(st->vm, "vmci: event %u for context %d dropped (receive queue full)",
			     event, owner);
}

/* ---- host clients ---- */

static int send_to_client(struct vmci_state *st, unsigned int id, const struct vmci_dg_hdr *h,
			  const void *payload)
{
	struct client *c = g_hash_table_lookup(st->clients, GUINT_TO_POINTER(id));
	struct ph_ctl_hdr ch = {
		.magic = PH_CTL_MAGIC, .version = PH_CTL_VERSION, .op = PH_CTL_VMCI_DATAGRAM,
		.len = (uint32_t)(sizeof(*h) + h->payload_size),
	};
	struct iovec iov[3] = { { &ch, sizeof(ch) }, { (void *)h, sizeof(*h) },
				{ (void *)payload, h->payload_size } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 3 };

	if (!c)
		return VMCI_ERROR_DST_UNREACHABLE;
	if (sendmsg(c->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		return errno == EAGAIN ? VMCI_ERROR_NO_RESOURCES : VMCI_ERROR_DST_UNREACHABLE;
	return VMCI_SUCCESS;
}

static void client_event(struct vmci_state *st, unsigned int id, uint32_t event,
			 struct vmci_handle handle, uint32_t dst_resource)
{
	struct vmci_event_qp ev = { .event = event, .handle = handle,
				    .peer_id = VMCI_GUEST_CONTEXT_ID };
	struct vmci_dg_hdr h = {
		.dst = { VMCI_HOST_CONTEXT_ID, dst_resource },
		.src = { VMCI_HYPERVISOR_CONTEXT_ID, VMCI_EVENT_HANDLER },
		.payload_size = sizeof(ev),
	};

	/* The guest can cause these: rate-limited like its own log lines. */
	if (send_to_client(st, id, &h, &ev))
		vm_guest_log(st->vm, "vmci: event %u for host client %u lost (its socket is full)",
			     event, id);
}

/* A trap engine process holding `held` of `what` asks for `more` (logged when refused). */
static bool over_share(struct vmci_state *st, const struct owner *o, uint64_t held,
		       uint64_t more, uint64_t max, const char *what)
{
	if (!st->trap || held + more <= OWNER_SHARE(max))
		return false;
	vm_guest_log(st->vm, "vmci: guest process %d holds %llu %s, %llu more refused (quota %llu)",
		     o->id, (unsigned long long)held, what, (unsigned long long)more,
		     (unsigned long long)OWNER_SHARE(max));
	return true;
}

/* ---- pages (trap engine allocator) ---- */

static void pages_release(struct vmci_state *st, uint64_t first, uint64_t count)
{
	for (uint64_t p = first; p < first + count; p++)
		st->page_owner[p] = VMCI_PAGE_FREE;
	st->pages_used -= count;
	/* Give the memory back and hand out zeroed pages next time. */
	if (fallocate(st->vm->ram_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)(first * VMCI_PAGE_SIZE), (off_t)(count * VMCI_PAGE_SIZE)))
		memset(page_ptr(st, first), 0, count * VMCI_PAGE_SIZE);
}

static int64_t pages_alloc(struct vmci_state *st, struct owner *o, uint64_t count)
{
	uint64_t run = 0;

	if (!st->trap)
		return VMCI_ERROR_INVALID_RESOURCE;
	if (count == 0 || count > MAX_OWNER_PAGES || o->pages + count > MAX_OWNER_PAGES ||
	    over_share(st, o, o->pages, count, st->ram_pages, "pages"))
		return VMCI_ERROR_NO_RESOURCES;
	/* First fit from a rotating hint, then from the start. */
	for (int pass = 0; pass < 2; pass++) {
		uint64_t start = pass ? 0 : st->alloc_hint;

		run = 0;
		for (uint64_t p = start; p < st->ram_pages; p++) {
			if (st->page_owner[p] != VMCI_PAGE_FREE) {
				run = 0;
				continue;
			}
			if (++run == count) {
				uint64_t first = p + 1 - count;

				for (uint64_t q = first; q <= p; q++)
					st->page_owner[q] = o->id;
				st->pages_used += count;
				o->pages += count;
				st->alloc_hint = p + 1;
				return (int64_t)first;
			}
		}
	}
	return VMCI_ERROR_NO_MEM;
}

static int pages_free(struct vmci_state *st, struct owner *o, uint64_t first, uint64_t count)
{
	if (!st->trap)
		return VMCI_ERROR_INVALID_RESOURCE;
	if (count == 0 || first >= st->ram_pages || count > st->ram_pages - first)
		return VMCI_ERROR_INVALID_ARGS;
	for (uint64_t p = first; p < first + count; p++) {
		if (st->page_owner[p] != o->id)
			return VMCI_ERROR_INVALID_PRIV;
		if (st->page_in_qp[p] == PAGE_USE_QP)
			return VMCI_ERROR_REGION_ALREADY_SHARED;
	}
	/* The device must not write into pages the guest gave back. */
	if (o->notify_ppn >= first && o->notify_ppn < first + count)
		o->notify_ppn = UINT64_MAX;
	for (unsigned int i = 0; i < o->mbox_n; i++)
		if (o->mbox_pages[i] >= first && o->mbox_pages[i] < first + count)
			mailbox_off(st, o);
	pages_release(st, first, count);
	o->pages -= count;
	return VMCI_SUCCESS;
}

/* ---- queue pairs ---- */

static void qp_free(gpointer p)
{
	struct qp *q = p;

	g_free(q->ppns);
	g_free(q);
}

/* Remove a queue pair; `by_host` says who left (the other side hears of it). */
static void qp_detach(struct vmci_state *st, struct qp *q, bool by_host)
{
	struct owner *o = owner_get(st, q->owner, false);

	if (by_host) {
		q->host_client = 0;
		deliver_event(st, q->owner, VMCI_EVENT_QP_PEER_DETACH, q->handle,
			      VMCI_HOST_CONTEXT_ID);
		return;
	}
	if (q->host_client)
		client_event(st, q->host_client, VMCI_EVENT_QP_PEER_DETACH, q->handle,
			     VMCI_EVENT_HANDLER);
	for (uint64_t i = 0; i < q->num_ppns; i++)
		st->page_in_qp[q->ppns[i]] = 0;
	if (o) {
		o->qp_bytes -= q->num_ppns * VMCI_PAGE_SIZE;
		o->qps--;
	}
	g_hash_table_remove(st->qps, GUINT_TO_POINTER(q->handle.resource));
}

static int qp_alloc(struct vmci_state *st, struct owner *o, const uint8_t *pl, uint64_t len)
{
	struct vmci_qp_alloc a;
	const uint64_t *ppns;
	struct vmci_ppn_rules rules = {
		.ram_pages = st->ram_pages, .map = &st->vm->ram_map,
		.page_owner = st->trap ? st->page_owner : NULL,
		.page_in_qp = st->page_in_qp, .owner = o->id,
	};
	uint64_t bad, expect;
	struct qp *q;
	int err;

	if (len < sizeof(a))
		return VMCI_ERROR_INVALID_ARGS;
	memcpy(&a, pl, sizeof(a));
	if (a.handle.context != VMCI_GUEST_CONTEXT_ID || a.handle.resource == VMCI_INVALID_ID ||
	    (a.peer != VMCI_HOST_CONTEXT_ID && a.peer != VMCI_INVALID_ID) || a.flags) {
		vm_guest_log(st->vm, "vmci: queue pair alloc with a bad handle, peer or flags");
		return VMCI_ERROR_INVALID_ARGS;
	}
	if (a.num_ppns > VMCI_QP_MAX_PPNS || a.produce_size > VMCI_QP_MAX_QUEUE_SIZE ||
	    a.consume_size > VMCI_QP_MAX_QUEUE_SIZE) {
		vm_guest_log(st->vm, "vmci: queue pair of %llu pages refused (at most %llu)",
			     (unsigned long long)a.num_ppns, (unsigned long long)VMCI_QP_MAX_PPNS);
		return VMCI_ERROR_NO_RESOURCES;
	}
	expect = 2 + VMCI_PAGES(a.produce_size) + VMCI_PAGES(a.consume_size);
	if (!a.produce_size || !a.consume_size || a.num_ppns != expect ||
	    len != sizeof(a) + a.num_ppns * 8) {
		vm_guest_log(st->vm, "vmci: queue pair alloc: sizes %llu/%llu need %llu pages, "
			     "got %llu in %llu bytes", (unsigned long long)a.produce_size,
			     (unsigned long long)a.consume_size, (unsigned long long)expect,
			     (unsigned long long)a.num_ppns, (unsigned long long)len);
		return VMCI_ERROR_INVALID_ARGS;
	}
	if (g_hash_table_contains(st->qps, GUINT_TO_POINTER(a.handle.resource)))
		return VMCI_ERROR_ALREADY_EXISTS;
	if (over_share(st, o, o->qps, 1, VMCI_MAX_QUEUE_PAIRS, "queue pairs"))
		return VMCI_ERROR_NO_RESOURCES;
	if (g_hash_table_size(st->qps) >= VMCI_MAX_QUEUE_PAIRS ||
	    o->qp_bytes + a.num_ppns * VMCI_PAGE_SIZE > VMCI_MAX_GUEST_QP_MEMORY + 2 * VMCI_PAGE_SIZE)
		return VMCI_ERROR_NO_RESOURCES;
	ppns = (const uint64_t *)(pl + sizeof(a));
	rules.ram_page = g_new(uint64_t, a.num_ppns);
	err = vmci_check_ppns(&rules, ppns, a.num_ppns, &bad);
	if (err) {
		vm_guest_log(st->vm, "vmci: queue pair page %llu (PPN 0x%llx) refused: error %d",
			     (unsigned long long)bad, (unsigned long long)ppns[bad], err);
		g_free(rules.ram_page);
		return err;
	}
	q = g_new0(struct qp, 1);
	q->handle = a.handle;
	q->owner = o->id;
	q->produce_size = a.produce_size;
	q->consume_size = a.consume_size;
	q->num_ppns = a.num_ppns;
	q->ppns = rules.ram_page;
	for (uint64_t i = 0; i < q->num_ppns; i++)
		st->page_in_qp[q->ppns[i]] = PAGE_USE_QP;
	o->qp_bytes += q->num_ppns * VMCI_PAGE_SIZE;
	o->qps++;
	g_hash_table_insert(st->qps, GUINT_TO_POINTER(a.handle.resource), q);
	/* "The hypervisor initializes the header pages in the create step." */
	{
		uint64_t hv = (uint64_t)a.handle.context | ((uint64_t)a.handle.resource << 32);
		struct vmci_queue_header *ph = page_ptr(st, q->ppns[0]);
		struct vmci_queue_header *chh =
			page_ptr(st, q->ppns[1 + VMCI_PAGES(q->produce_size)]);

		memset(ph, 0, sizeof(*ph));
		memset(chh, 0, sizeof(*chh));
		ph->handle = chh->handle = hv;
	}
	return VMCI_SUCCESS_QUEUEPAIR_CREATE;
}

/* ---- hypervisor resources ---- */

static int64_t get_handle(const uint8_t *pl, uint64_t len, struct vmci_handle *h)
{
	if (len < sizeof(*h))
		return VMCI_ERROR_INVALID_ARGS;
	memcpy(h, pl, sizeof(*h));
	return 0;
}

static void ring_guest_doorbell(struct vmci_state *st, struct doorbell *d)
{
	struct owner *o = owner_get(st, d->owner, false);

	if (!o)
		return;
	if (o->notify_ppn != UINT64_MAX)
		__atomic_or_fetch((uint8_t *)page_ptr(st, o->notify_ppn) + d->idx, 1,
				  __ATOMIC_SEQ_CST);
	raise_icr(st, o, VMCI_ICR_NOTIFICATION);
}

/* Guest-physical page `ppn` as a page the context may use: true and its RAM page. */
static bool ppn_usable(struct vmci_state *st, struct owner *o, uint64_t ppn, uint64_t *page)
{
	uint64_t bad;
	struct vmci_ppn_rules rules = {
		.ram_pages = st->ram_pages, .map = &st->vm->ram_map,
		.page_owner = st->trap ? st->page_owner : NULL,
		.page_in_qp = st->page_in_qp, .owner = o->id, .ram_page = page,
	};

	return vmci_check_ppns(&rules, &ppn, 1, &bad) == VMCI_SUCCESS;
}

/*
 * Register (n >= 2 page numbers) or turn off (n = 0) the context's mailbox.
 * Datagrams queued for the port path before move into the ring, in order.
 */
static int64_t mailbox_set(struct vmci_state *st, struct owner *o, const uint8_t *pl, uint64_t len)
{
	uint64_t ppns[VMCI_PH_MAILBOX_MAX_PAGES], pages[VMCI_PH_MAILBOX_MAX_PAGES], bad, n = len / 8;
	struct vmci_ppn_rules rules = {
		.ram_pages = st->ram_pages, .map = &st->vm->ram_map,
		.page_owner = st->trap ? st->page_owner : NULL,
		.page_in_qp = st->page_in_qp, .owner = o->id, .ram_page = pages,
	};
	struct vmci_ph_mailbox_hdr *mh;
	int err;

	if (!st->trap)
		return VMCI_ERROR_INVALID_RESOURCE;	/* not offered (CAPS) */
	if (len % 8 || n == 1 || n > VMCI_PH_MAILBOX_MAX_PAGES)
		return VMCI_ERROR_INVALID_ARGS;
	if (n == 0) {
		mailbox_off(st, o);
		return VMCI_SUCCESS;
	}
	memcpy(ppns, pl, len);
	/*
	 * Pages of no other use: a queue pair, the doorbell bitmap, another
	 * mailbox (but the one this replaces may lend its pages).  A refused
	 * list leaves the old mailbox as it was.
	 */
	for (unsigned int i = 0; i < o->mbox_n; i++)
		st->page_in_qp[o->mbox_pages[i]] = 0;
	err = vmci_check_ppns(&rules, ppns, n, &bad);
	for (uint64_t i = 0; i < n && !err; i++)
		if (pages[i] == o->notify_ppn)
			err = VMCI_ERROR_REGION_ALREADY_SHARED;
	for (unsigned int i = 0; i < o->mbox_n; i++)
		st->page_in_qp[o->mbox_pages[i]] = PAGE_USE_MAILBOX;
	if (err)
		return err;
	mailbox_off(st, o);
	memcpy(o->mbox_pages, pages, n * sizeof(*pages));
	o->mbox_n = (unsigned int)n;
	for (uint64_t i = 0; i < n; i++)
		st->page_in_qp[pages[i]] = PAGE_USE_MAILBOX;
	o->mbox_tail = 0;
	o->mbox_dropped = 0;
	mh = mailbox_hdr(st, o);
	memset(mh, 0, sizeof(*mh));
	while (!g_queue_is_empty(&o->rx)) {
		GBytes *b = g_queue_pop_head(&o->rx);
		gsize blen;
		const uint8_t *d = g_bytes_get_data(b, &blen);
		struct vmci_dg_hdr h;

		/*
		 * A datagram the guest began to read by port I/O can't be
		 * finished that way any more: dropped, and counted.
		 */
		if (!o->rx_off) {
			memcpy(&h, d, sizeof(h));
			mailbox_deliver(st, o, &h, d + sizeof(h));
		} else {
			__atomic_store_n(&mh->rx_dropped, ++o->mbox_dropped, __ATOMIC_RELAXED);
		}
		o->rx_off = 0;
		o->rx_bytes -= blen;
		g_bytes_unref(b);
	}
	return VMCI_SUCCESS;
}

static int64_t hv_call(struct vmci_state *st, struct owner *o, uint32_t rid, const uint8_t *pl,
		       uint64_t len)
{
	struct vmci_handle h;
	uint64_t a[2];
	uint32_t u[2];

	switch (rid) {
	case VMCI_RESOURCES_QUERY: {
		int64_t mask = 0;

		if (len < 8)
			return VMCI_ERROR_INVALID_ARGS;
		memcpy(u, pl, 8);
		if (u[0] > 31 || len < 8 + 4ull * u[0])
			return VMCI_ERROR_INVALID_ARGS;
		for (uint32_t i = 0; i < u[0]; i++) {
			uint32_t id;

			memcpy(&id, pl + 8 + 4 * i, 4);
			if (id <= VMCI_DOORBELL_NOTIFY || id == VMCI_DATAGRAM_REQUEST_MAP ||
			    id == VMCI_DATAGRAM_REMOVE_MAP || id == VMCI_QUEUEPAIR_ALLOC ||
			    id == VMCI_QUEUEPAIR_DETACH ||
			    (st->trap && (id == VMCI_PH_PAGES_ALLOC || id == VMCI_PH_PAGES_FREE)))
				mask |= 1ll << i;
		}
		return mask;
	}
	case VMCI_GET_CONTEXT_ID:
		return VMCI_GUEST_CONTEXT_ID;
	case VMCI_SET_NOTIFY_BITMAP:
		if (len < 8)
			return VMCI_ERROR_INVALID_ARGS;
		memcpy(a, pl, 8);
		if (!ppn_usable(st, o, a[0], &a[1]))
			return VMCI_ERROR_NO_ACCESS;
		o->notify_ppn = a[1];
		return VMCI_SUCCESS;
	case VMCI_DOORBELL_LINK: {
		struct vmci_doorbell_link l;
		struct doorbell *d;

		if (len < sizeof(l))
			return VMCI_ERROR_INVALID_ARGS;
		memcpy(&l, pl, sizeof(l));
		if (l.handle.context != VMCI_GUEST_CONTEXT_ID || l.notify_idx >= VMCI_PAGE_SIZE)
			return VMCI_ERROR_INVALID_ARGS;
		if (g_hash_table_contains(st->doorbells, GUINT_TO_POINTER(l.handle.resource)))
			return VMCI_ERROR_ALREADY_EXISTS;
		if (g_hash_table_size(st->doorbells) >= MAX_DOORBELLS ||
		    over_share(st, o, o->doorbells, 1, MAX_DOORBELLS, "doorbells"))
			return VMCI_ERROR_NO_RESOURCES;
		o->doorbells++;
		d = g_new0(struct doorbell, 1);
		d->owner = o->id;
		d->idx = l.notify_idx;
		g_hash_table_insert(st->doorbells, GUINT_TO_POINTER(l.handle.resource), d);
		return VMCI_SUCCESS;
	}
	case VMCI_DOORBELL_UNLINK: {
		struct doorbell *d;

		if (get_handle(pl, len, &h))
			return VMCI_ERROR_INVALID_ARGS;
		d = g_hash_table_lookup(st->doorbells, GUINT_TO_POINTER(h.resource));
		if (h.context != VMCI_GUEST_CONTEXT_ID || !d)
			return VMCI_ERROR_NOT_FOUND;
		if (d->owner != o->id)
			return VMCI_ERROR_NO_ACCESS;
		g_hash_table_remove(st->doorbells, GUINT_TO_POINTER(h.resource));
		o->doorbells--;
		return VMCI_SUCCESS;
	}
	case VMCI_DOORBELL_NOTIFY: {
		gpointer client;

		if (get_handle(pl, len, &h))
			return VMCI_ERROR_INVALID_ARGS;
		if (h.context == VMCI_GUEST_CONTEXT_ID) {
			struct doorbell *d = g_hash_table_lookup(st->doorbells,
								 GUINT_TO_POINTER(h.resource));

			if (!d)
				return VMCI_ERROR_NOT_FOUND;
			ring_guest_doorbell(st, d);
			return VMCI_SUCCESS;
		}
		if (h.context != VMCI_HOST_CONTEXT_ID ||
		    !g_hash_table_lookup_extended(st->host_bound, GUINT_TO_POINTER(h.resource),
						  NULL, &client))
			return VMCI_ERROR_DST_UNREACHABLE;
		return send_to_client(st, GPOINTER_TO_UINT(client), &(struct vmci_dg_hdr){
			.dst = h, .src = { VMCI_HYPERVISOR_CONTEXT_ID, VMCI_EVENT_HANDLER },
			.payload_size = sizeof(struct vmci_event_qp) },
			&(struct vmci_event_qp){ .event = VMCI_EVENT_PH_DOORBELL, .handle = h,
						 .peer_id = VMCI_GUEST_CONTEXT_ID });
	}
	case VMCI_DATAGRAM_REQUEST_MAP:
	case VMCI_DATAGRAM_REMOVE_MAP: {
		gpointer cur;
		bool mapped;

		if (len < 4)
			return VMCI_ERROR_INVALID_ARGS;
		memcpy(u, pl, 4);
		if (u[0] == VMCI_INVALID_ID || u[0] == VMCI_EVENT_HANDLER)
			return VMCI_ERROR_INVALID_ARGS;
		mapped = g_hash_table_lookup_extended(st->dg_maps, GUINT_TO_POINTER(u[0]), NULL,
						      &cur);
		if (rid == VMCI_DATAGRAM_REMOVE_MAP) {
			if (!mapped || GPOINTER_TO_INT(cur) != o->id + 1)
				return VMCI_ERROR_NOT_FOUND;
			g_hash_table_remove(st->dg_maps, GUINT_TO_POINTER(u[0]));
			o->dg_maps--;
			return VMCI_SUCCESS;
		}
		if (mapped)
			return GPOINTER_TO_INT(cur) == o->id + 1 ? VMCI_SUCCESS
								  : VMCI_ERROR_ALREADY_EXISTS;
		if (g_hash_table_size(st->dg_maps) >= MAX_DG_MAPS ||
		    over_share(st, o, o->dg_maps, 1, MAX_DG_MAPS, "datagram maps"))
			return VMCI_ERROR_NO_RESOURCES;
		o->dg_maps++;
		g_hash_table_insert(st->dg_maps, GUINT_TO_POINTER(u[0]), GINT_TO_POINTER(o->id + 1));
		return VMCI_SUCCESS;
	}
	case VMCI_QUEUEPAIR_ALLOC:
		return qp_alloc(st, o, pl, len);
	case VMCI_QUEUEPAIR_DETACH: {
		struct qp *q;

		if (get_handle(pl, len, &h))
			return VMCI_ERROR_INVALID_ARGS;
		q = g_hash_table_lookup(st->qps, GUINT_TO_POINTER(h.resource));
		if (h.context != VMCI_GUEST_CONTEXT_ID || !q)
			return VMCI_ERROR_NOT_FOUND;
		if (q->owner != o->id)
			return VMCI_ERROR_NO_ACCESS;
		qp_detach(st, q, false);
		return VMCI_SUCCESS;
	}
	case VMCI_PH_PAGES_ALLOC:
		if (len < 8)
			return VMCI_ERROR_INVALID_ARGS;
		memcpy(a, pl, 8);
		return pages_alloc(st, o, a[0]);
	case VMCI_PH_PAGES_FREE:
		if (len < 16)
			return VMCI_ERROR_INVALID_ARGS;
		memcpy(a, pl, 16);
		return pages_free(st, o, a[0], a[1]);
	case VMCI_PH_MAILBOX_SET:
		return mailbox_set(st, o, pl, len);
	default:
		vm_guest_log(st->vm, "vmci: unknown hypervisor resource %u", rid);
		return VMCI_ERROR_INVALID_RESOURCE;
	}
}

/* One datagram from a guest context; the hypercall result. */
static int64_t guest_send(struct vmci_state *st, struct owner *o, struct vmci_dg_hdr *h,
			  const uint8_t *payload)
{
	gpointer client;

	if (h->src.context != VMCI_GUEST_CONTEXT_ID && h->src.context != VMCI_INVALID_ID) {
		vm_guest_log(st->vm, "vmci: datagram with a forged source context %u",
			     h->src.context);
		return VMCI_ERROR_NO_ACCESS;
	}
	h->src.context = VMCI_GUEST_CONTEXT_ID;
	if (h->dst.context == VMCI_HYPERVISOR_CONTEXT_ID)
		return hv_call(st, o, h->dst.resource, payload, h->payload_size);
	if (h->payload_size > VMCI_MAX_DG_PAYLOAD)
		return VMCI_ERROR_PAYLOAD_TOO_LARGE;
	if (h->dst.context != VMCI_HOST_CONTEXT_ID ||
	    !g_hash_table_lookup_extended(st->host_bound, GUINT_TO_POINTER(h->dst.resource), NULL,
					  &client))
		return VMCI_ERROR_DST_UNREACHABLE;
	{
		int err = send_to_client(st, GPOINTER_TO_UINT(client), h, payload);

		return err ? err : (int64_t)(sizeof(*h) + h->payload_size);
	}
}

/* ---- the port block ---- */

static void set_result(struct vmci_state *st, struct vcpu *vcpu, int64_t value)
{
	struct result *r = g_hash_table_lookup(st->results, GINT_TO_POINTER(vcpu->id));

	if (!r) {
		r = g_new0(struct result, 1);
		g_hash_table_insert(st->results, GINT_TO_POINTER(vcpu->id), r);
	}
	r->owner = vcpu->owner;
	r->value = value;
}

static enum io_result data_out(struct vmci_state *st, struct vcpu *vcpu, uint64_t addr,
			       uint64_t count)
{
	struct owner *o = owner_get(st, vcpu->owner, true);
	struct vmci_dg_hdr h;
	uint8_t *payload;
	int64_t res;

	if (count < sizeof(h) || count > VMCI_MAX_HV_DG_SIZE) {
		vm_guest_log(st->vm, "vmci: %llu-byte datagram refused", (unsigned long long)count);
		set_result(st, vcpu, count < sizeof(h) ? VMCI_ERROR_INVALID_ARGS
						       : VMCI_ERROR_PAYLOAD_TOO_LARGE);
		return IO_DONE;
	}
	/*
	 * Header and payload are each read once, into h and payload: every
	 * check and use below is of these copies, whatever another guest
	 * thread writes to the originals meanwhile (tests/unit/test-read-once.c).
	 */
	if (guest_read(vcpu, addr, &h, sizeof(h)))
		return IO_FAULT;
	if (h.payload_size != count - sizeof(h)) {
		vm_guest_log(st->vm, "vmci: datagram header says %llu payload bytes, %llu sent",
			     (unsigned long long)h.payload_size,
			     (unsigned long long)(count - sizeof(h)));
		set_result(st, vcpu, VMCI_ERROR_INVALID_ARGS);
		return IO_DONE;
	}
	payload = g_malloc(h.payload_size + 1);
	if (guest_read(vcpu, addr + sizeof(h), payload, h.payload_size)) {
		g_free(payload);
		return IO_FAULT;
	}
	res = guest_send(st, o, &h, payload);
	g_free(payload);
	set_result(st, vcpu, res);
	return IO_DONE;
}

/* Stream queued datagrams into the guest buffer, 0xFF once the queue is empty. */
static enum io_result data_in(struct vmci_state *st, struct vcpu *vcpu, uint64_t addr,
			      uint64_t count)
{
	struct owner *o = owner_get(st, vcpu->owner, true);
	uint8_t *buf;
	uint64_t n = 0;
	int ret;

	if (!count)
		return IO_DONE;
	buf = g_malloc(count);
	while (n < count && !g_queue_is_empty(&o->rx)) {
		GBytes *b = g_queue_peek_head(&o->rx);
		gsize blen;
		const uint8_t *d = g_bytes_get_data(b, &blen);
		uint64_t take = MIN(count - n, blen - o->rx_off);

		memcpy(buf + n, d + o->rx_off, take);
		n += take;
		o->rx_off += take;
		if (o->rx_off == blen) {
			o->rx_bytes -= blen;
			o->rx_off = 0;
			g_bytes_unref(g_queue_pop_head(&o->rx));
		}
	}
	memset(buf + n, 0xFF, count - n);
	update_irq(st, o);
	ret = guest_write(vcpu, addr, buf, count);
	g_free(buf);
	/*
	 * A fault loses what was taken: the guest gave a bad buffer, the same
	 * as a DMA to a bad address.  Logged, never retried.
	 */
	if (ret)
		vm_guest_log(st->vm, "vmci: receive buffer not writable, %llu bytes lost",
			     (unsigned long long)n);
	return ret ? IO_FAULT : IO_DONE;
}

/*
 * The datagram in the mailbox: `len` bytes read once into a copy, then
 * checked and sent exactly as data_out() does with the port path's.
 */
static void mailbox_send(struct vmci_state *st, struct vcpu *vcpu, struct owner *o, uint32_t len)
{
	uint8_t copy[VMCI_PH_MAILBOX_TX_MAX];
	struct vmci_dg_hdr h;
	int64_t res;

	if (!o->mbox_n) {
		vm_guest_log(st->vm, "vmci: mailbox send from context %d, which has no mailbox",
			     o->id);
		set_result(st, vcpu, VMCI_ERROR_INVALID_ARGS);
		return;
	}
	if (len < sizeof(h) || len > VMCI_PH_MAILBOX_TX_MAX) {
		vm_guest_log(st->vm, "vmci: %u-byte mailbox datagram refused", len);
		res = len < sizeof(h) ? VMCI_ERROR_INVALID_ARGS : VMCI_ERROR_PAYLOAD_TOO_LARGE;
	} else {
		memcpy(copy, (uint8_t *)mailbox_hdr(st, o) + VMCI_PH_MAILBOX_TX_OFFSET, len);
		memcpy(&h, copy, sizeof(h));
		if (h.payload_size != len - sizeof(h)) {
			vm_guest_log(st->vm, "vmci: mailbox datagram header says %llu payload "
				     "bytes, %llu sent", (unsigned long long)h.payload_size,
				     (unsigned long long)(len - sizeof(h)));
			res = VMCI_ERROR_INVALID_ARGS;
		} else {
			res = guest_send(st, o, &h, copy + sizeof(h));
		}
	}
	set_result(st, vcpu, res);
	/* The send may have turned the mailbox off (pages freed, MAILBOX_SET 0). */
	if (o->mbox_n)
		__atomic_store_n(&mailbox_hdr(st, o)->tx_result, res, __ATOMIC_RELEASE);
}

static enum io_result vmci_string(struct io_device *dev, struct vcpu *vcpu,
				  const struct io_access *io)
{
	struct vmci_state *st = dev->opaque;
	struct vcpu_regs *r = &vcpu->regs;
	uint64_t mask = io_addr_mask(io->addr_size);
	uint64_t count = io->rep ? (r->rcx & mask) : 1;
	unsigned int reg = io->port - dev->base;
	uint64_t *areg = io->in ? &r->rdi : &r->rsi;
	enum io_result res;

	if (io->size != 1 || (r->rflags & RFLAGS_DF) ||
	    reg != (io->in ? VMCI_REG_DATA_IN : VMCI_REG_DATA_OUT)) {
		vm_guest_log(st->vm, "vmci: string I/O must be `cld; rep %s` on DATA_%s",
			     io->in ? "insb" : "outsb", io->in ? "IN" : "OUT");
		set_result(st, vcpu, VMCI_ERROR_INVALID_ARGS);
		return io_string_refuse(vcpu, io);
	}
	if (io->in && count > VMCI_MAX_HV_DG_SIZE) {
		vm_guest_log(st->vm, "vmci: receive of %llu bytes refused",
			     (unsigned long long)count);
		return io_string_refuse(vcpu, io);
	}
	res = io->in ? data_in(st, vcpu, *areg & mask, count)
		     : data_out(st, vcpu, *areg & mask, count);
	if (res != IO_DONE)
		return res;
	*areg = (*areg & ~mask) | ((*areg + count) & mask);
	if (io->rep)
		r->rcx &= ~mask;
	return IO_DONE;
}

static enum io_result vmci_io(struct io_device *dev, struct vcpu *vcpu, const struct io_access *io,
			      uint32_t *val)
{
	struct vmci_state *st = dev->opaque;
	struct owner *o = owner_get(st, vcpu->owner, true);
	unsigned int reg = io->port - dev->base;
	struct result *r;

	if (io->size != 4) {
		vm_guest_log(st->vm, "vmci: %u-byte access to register 0x%02x ignored", io->size,
			     reg);
		*val = 0xFFFFFFFFu;
		return IO_DONE;
	}
	if (!io->in) {
		switch (reg) {
		case VMCI_REG_CONTROL:
			if (*val & VMCI_CONTROL_RESET) {
				o->icr = 0;
				o->int_on = false;
			}
			if (*val & VMCI_CONTROL_INT_ENABLE)
				o->int_on = true;
			if (*val & VMCI_CONTROL_INT_DISABLE)
				o->int_on = false;
			if (o->int_on && (o->icr & o->imr))
				wake_owner(st, o);
			update_irq(st, o);
			break;
		case VMCI_REG_IMR:
			o->imr = *val & (VMCI_ICR_DATAGRAM | VMCI_ICR_NOTIFICATION);
			update_irq(st, o);
			break;
		case VMCI_REG_CAPS:
			break;	/* the guest says what it uses: everything is fine */
		case VMCI_REG_PH_MAILBOX_SEND:
			mailbox_send(st, vcpu, o, *val);
			break;
		default:
			vm_guest_log(st->vm, "vmci: write to register 0x%02x ignored", reg);
		}
		return IO_DONE;
	}
	switch (reg) {
	case VMCI_REG_STATUS:
		*val = o->int_on ? VMCI_STATUS_INT_ON : 0;
		break;
	case VMCI_REG_ICR:
		/* Datagrams still queued keep their cause: nothing is lost by a read. */
		*val = o->icr | (g_queue_is_empty(&o->rx) ? 0 : VMCI_ICR_DATAGRAM);
		o->icr = 0;
		update_irq(st, o);
		break;
	case VMCI_REG_IMR:
		*val = o->imr;
		break;
	case VMCI_REG_CAPS:
		/*
		 * The mailbox wakes a process on its socket; a KVM guest has an
		 * interrupt line, which stays up while ICR is unread.
		 */
		*val = VMCI_CAPS_DATAGRAM | VMCI_CAPS_NOTIFICATIONS | VMCI_CAPS_PPN64 |
		       (st->trap ? VMCI_CAPS_PH_MAILBOX : 0);
		break;
	case VMCI_REG_RESULT_LOW:
	case VMCI_REG_RESULT_HIGH:
		r = g_hash_table_lookup(st->results, GINT_TO_POINTER(vcpu->id));
		if (!r) {
			*val = (uint32_t)VMCI_ERROR_GENERIC;
			if (reg == VMCI_REG_RESULT_HIGH)
				*val = 0xFFFFFFFFu;
			break;
		}
		*val = reg == VMCI_REG_RESULT_LOW ? (uint32_t)r->value
						  : (uint32_t)((uint64_t)r->value >> 32);
		break;
	default:
		*val = 0xFFFFFFFFu;
	}
	return IO_DONE;
}

/* ---- contexts ending, clients leaving ---- */

void vmci_owner_exited(struct vmci_state *st, int owner)
{
	struct owner *o;
	GHashTableIter it;
	gpointer k, v;
	GPtrArray *gone = g_ptr_array_new();

	if (!st)
		return;
	g_hash_table_iter_init(&it, st->qps);
	while (g_hash_table_iter_next(&it, &k, &v))
		if (((struct qp *)v)->owner == owner)
			g_ptr_array_add(gone, v);
	for (guint i = 0; i < gone->len; i++)
		qp_detach(st, gone->pdata[i], false);
	g_ptr_array_free(gone, TRUE);

	g_hash_table_iter_init(&it, st->doorbells);
	while (g_hash_table_iter_next(&it, &k, &v))
		if (((struct doorbell *)v)->owner == owner)
			g_hash_table_iter_remove(&it);
	g_hash_table_iter_init(&it, st->dg_maps);
	while (g_hash_table_iter_next(&it, &k, &v))
		if (GPOINTER_TO_INT(v) == owner + 1)
			g_hash_table_iter_remove(&it);
	g_hash_table_iter_init(&it, st->results);
	while (g_hash_table_iter_next(&it, &k, &v))
		if (((struct result *)v)->owner == owner)
			g_hash_table_iter_remove(&it);
	if ((o = owner_get(st, owner, false)))
		mailbox_off(st, o);
	if (st->trap) {
		uint64_t run = 0;

		for (uint64_t p = 0; p <= st->ram_pages; p++) {
			if (p < st->ram_pages && st->page_owner[p] == owner) {
				run++;
				continue;
			}
			if (run)
				pages_release(st, p - run, run);
			run = 0;
		}
	}
	g_hash_table_remove(st->owners, GINT_TO_POINTER(owner));
}

void vmci_client_gone(struct vmci_state *st, unsigned int client)
{
	GHashTableIter it;
	gpointer k, v;

	if (!st)
		return;
	g_hash_table_iter_init(&it, st->host_bound);
	while (g_hash_table_iter_next(&it, &k, &v))
		if (GPOINTER_TO_UINT(v) == client)
			g_hash_table_iter_remove(&it);
	g_hash_table_iter_init(&it, st->qps);
	while (g_hash_table_iter_next(&it, &k, &v))
		if (((struct qp *)v)->host_client == client)
			qp_detach(st, v, true);
	g_hash_table_remove(st->clients, GUINT_TO_POINTER(client));
}

static void client_free(gpointer p)
{
	struct client *c = p;

	if (c->src)
		g_source_remove(c->src);
	close(c->fd);
	g_free(c);
}

/* ---- control requests ---- */

/*
 * The peer hung up: forget the client here, independent of the control
 * server (which may outlive the VM or drop the client on its own).
 */
static gboolean on_client_hup(gint fd, GIOCondition cond, gpointer p)
{
	struct client *c = p;
	struct vmci_state *st = c->st;

	pthread_mutex_lock(&st->vm->lock);
	c->src = 0;	/* returning REMOVE destroys the source */
	vmci_client_gone(st, c->id);
	pthread_mutex_unlock(&st->vm->lock);
	return G_SOURCE_REMOVE;
}

static struct client *client_get(struct vmci_state *st, unsigned int id, int fd)
{
	struct client *c = g_hash_table_lookup(st->clients, GUINT_TO_POINTER(id));

	if (!c) {
		int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);

		if (dfd < 0)
			return NULL;
		c = g_new0(struct client, 1);
		c->st = st;
		c->id = id;
		c->fd = dfd;
		c->src = g_unix_fd_add(dfd, G_IO_HUP | G_IO_ERR, on_client_hup, c);
		g_hash_table_insert(st->clients, GUINT_TO_POINTER(id), c);
	}
	return c;
}

static int ctl_send(struct vmci_state *st, unsigned int client, const uint8_t *pl, size_t len,
		    GByteArray *reply)
{
	struct vmci_dg_hdr h;
	gpointer bound, mapped;
	struct owner *o = NULL;
	int64_t res;

	if (len < sizeof(h))
		return EINVAL;
	memcpy(&h, pl, sizeof(h));
	if (h.payload_size != len - sizeof(h) || h.payload_size > VMCI_MAX_DG_PAYLOAD)
		return EMSGSIZE;
	if (h.src.context == VMCI_INVALID_ID)
		h.src.context = VMCI_HOST_CONTEXT_ID;
	if (h.src.context != VMCI_HOST_CONTEXT_ID ||
	    !g_hash_table_lookup_extended(st->host_bound, GUINT_TO_POINTER(h.src.resource), NULL,
					  &bound) || GPOINTER_TO_UINT(bound) != client)
		return EACCES;	/* send from a resource you bound */
	if (h.dst.context != VMCI_GUEST_CONTEXT_ID) {
		res = VMCI_ERROR_DST_UNREACHABLE;
	} else if (h.dst.resource == VMCI_EVENT_HANDLER) {
		return EACCES;	/* only the hypervisor sends events */
	} else {
		if (g_hash_table_lookup_extended(st->dg_maps, GUINT_TO_POINTER(h.dst.resource),
						 NULL, &mapped))
			o = owner_get(st, GPOINTER_TO_INT(mapped) - 1, false);
		else if (!st->trap)
			o = owner_get(st, 0, true);	/* the guest kernel demultiplexes */
		res = o ? deliver(st, o, &h, pl + sizeof(h)) : VMCI_ERROR_DST_UNREACHABLE;
		if (!res)
			res = (int64_t)len;
	}
	g_byte_array_append(reply, (const guint8 *)&res, sizeof(res));
	return 0;
}

int vmci_hv_send(struct vmci_state *st, uint32_t resource, const void *payload, size_t len)
{
	struct vmci_dg_hdr h = {
		.dst = { VMCI_GUEST_CONTEXT_ID, resource },
		.src = { VMCI_HYPERVISOR_CONTEXT_ID, resource },
		.payload_size = len,
	};
	struct owner *o = NULL;
	gpointer mapped;

	if (!st || len > VMCI_MAX_DG_PAYLOAD)
		return VMCI_ERROR_INVALID_ARGS;
	if (g_hash_table_lookup_extended(st->dg_maps, GUINT_TO_POINTER(resource), NULL, &mapped))
		o = owner_get(st, GPOINTER_TO_INT(mapped) - 1, false);
	else if (!st->trap)
		o = owner_get(st, 0, true);
	return o ? deliver(st, o, &h, payload) : VMCI_ERROR_DST_UNREACHABLE;
}

bool vmci_hv_mapped(struct vmci_state *st, uint32_t resource)
{
	return st && g_hash_table_contains(st->dg_maps, GUINT_TO_POINTER(resource));
}

static int ctl_qp_attach(struct vmci_state *st, unsigned int client, const uint8_t *pl,
			 size_t len, GByteArray *reply)
{
	struct vmci_ctl_qp_attach a;
	struct vmci_ctl_qp_info info;
	struct qp *q;

	if (len != sizeof(a))
		return EINVAL;
	memcpy(&a, pl, sizeof(a));
	q = g_hash_table_lookup(st->qps, GUINT_TO_POINTER(a.handle.resource));
	if (!q || a.handle.context != VMCI_GUEST_CONTEXT_ID)
		return ENOENT;
	if (q->host_client && q->host_client != client)
		return EBUSY;
	if (a.first_ppn_index >= q->num_ppns)
		return EINVAL;
	if (!q->host_client) {
		q->host_client = client;
		deliver_event(st, q->owner, VMCI_EVENT_QP_PEER_ATTACH, q->handle,
			      VMCI_HOST_CONTEXT_ID);
	}
	info = (struct vmci_ctl_qp_info){
		.handle = q->handle, .produce_size = q->produce_size,
		.consume_size = q->consume_size, .num_ppns = q->num_ppns,
		.first_ppn_index = a.first_ppn_index,
		.count = (uint32_t)MIN(q->num_ppns - a.first_ppn_index, VMCI_CTL_QP_PPNS_PER_REPLY),
	};
	g_byte_array_append(reply, (const guint8 *)&info, sizeof(info));
	g_byte_array_append(reply, (const guint8 *)(q->ppns + a.first_ppn_index), info.count * 8);
	return 0;
}

int vmci_control(struct vmci_state *st, unsigned int client, int client_fd, unsigned int op,
		 const void *payload, size_t len, GByteArray *reply)
{
	const uint8_t *pl = payload;
	struct vmci_handle h;
	uint32_t rid;
	gpointer cur;
	struct qp *q;
	struct doorbell *d;

	if (!st)
		return EOPNOTSUPP;
	if (!client_get(st, client, client_fd))
		return EMFILE;
	switch (op) {
	case PH_CTL_VMCI_BIND:
	case PH_CTL_VMCI_UNBIND:
		if (len != 4)
			return EINVAL;
		memcpy(&rid, pl, 4);
		if (rid == VMCI_INVALID_ID || rid == VMCI_EVENT_HANDLER)
			return EINVAL;
		if (g_hash_table_lookup_extended(st->host_bound, GUINT_TO_POINTER(rid), NULL, &cur)) {
			if (GPOINTER_TO_UINT(cur) != client)
				return EADDRINUSE;
			if (op == PH_CTL_VMCI_UNBIND)
				g_hash_table_remove(st->host_bound, GUINT_TO_POINTER(rid));
			return 0;
		}
		if (op == PH_CTL_VMCI_UNBIND)
			return ENOENT;
		g_hash_table_insert(st->host_bound, GUINT_TO_POINTER(rid), GUINT_TO_POINTER(client));
		return 0;
	case PH_CTL_VMCI_SEND:
		return ctl_send(st, client, pl, len, reply);
	case PH_CTL_VMCI_QP_ATTACH:
		return ctl_qp_attach(st, client, pl, len, reply);
	case PH_CTL_VMCI_QP_DETACH:
		if (len != sizeof(h))
			return EINVAL;
		memcpy(&h, pl, sizeof(h));
		q = g_hash_table_lookup(st->qps, GUINT_TO_POINTER(h.resource));
		if (!q || h.context != VMCI_GUEST_CONTEXT_ID || q->host_client != client)
			return ENOENT;
		qp_detach(st, q, true);
		return 0;
	case PH_CTL_VMCI_DOORBELL:
		if (len != sizeof(h))
			return EINVAL;
		memcpy(&h, pl, sizeof(h));
		d = g_hash_table_lookup(st->doorbells, GUINT_TO_POINTER(h.resource));
		if (!d || h.context != VMCI_GUEST_CONTEXT_ID)
			return ENOENT;
		ring_guest_doorbell(st, d);
		return 0;
	default:
		return EOPNOTSUPP;
	}
}

static unsigned int count_mailboxes(struct vmci_state *st)
{
	GHashTableIter it;
	gpointer k, v;
	unsigned int n = 0;

	g_hash_table_iter_init(&it, st->owners);
	while (g_hash_table_iter_next(&it, &k, &v))
		n += ((struct owner *)v)->mbox_n != 0;
	return n;
}

void vmci_status(struct vmci_state *st, GString *out)
{
	if (!st)
		return;
	g_string_append_printf(out, "vmci.context-id=%u\nvmci.contexts=%u\nvmci.queue-pairs=%u\n"
			       "vmci.pages=%llu\nvmci.doorbells=%u\nvmci.host-bound=%u\n"
			       "vmci.guest-connections=%u\nvmci.mailboxes=%u\n",
			       VMCI_GUEST_CONTEXT_ID, g_hash_table_size(st->owners),
			       g_hash_table_size(st->qps), (unsigned long long)st->pages_used,
			       g_hash_table_size(st->doorbells), g_hash_table_size(st->host_bound),
			       st->n_gconns, count_mailboxes(st));
}

/* ---- the trap engine's guest socket (main thread) ---- */

static void gconn_close(struct gconn *g)
{
	struct vmci_state *st = g->st;

	st->gconns = g_list_remove(st->gconns, g);
	st->n_gconns--;
	close(g->fd);
	g_free(g);
}

static gboolean on_gconn(gint fd, GIOCondition cond, gpointer p)
{
	struct gconn *g = p;
	struct vm *vm = g->st->vm;
	char junk[64];
	ssize_t n = recv(fd, junk, sizeof(junk), MSG_DONTWAIT);

	if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
		return G_SOURCE_CONTINUE;	/* guests have nothing to say here */
	pthread_mutex_lock(&vm->lock);
	g->src = 0;
	gconn_close(g);
	pthread_mutex_unlock(&vm->lock);
	return G_SOURCE_REMOVE;
}

static gboolean on_guest_connect(gint fd, GIOCondition cond, gpointer p)
{
	struct vmci_state *st = p;
	struct vm *vm = st->vm;
	struct vmci_guest_hello hello = { VMCI_GUEST_HELLO_MAGIC, VMCI_GUEST_CONTEXT_ID,
					  vm->ram_size };
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { &hello, sizeof(hello) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
			      .msg_controllen = sizeof(cm.buf) };
	struct cmsghdr *c;
	struct gconn *g;
	unsigned int own = 0;
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (cfd < 0)
		return G_SOURCE_CONTINUE;
	pthread_mutex_lock(&vm->lock);
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &clen))
		cred.pid = 0;
	for (GList *l = st->gconns; l; l = l->next)
		own += ((struct gconn *)l->data)->pid == cred.pid;
	if (st->n_gconns >= MAX_GUEST_CONNS || cred.pid <= 0 ||
	    own >= OWNER_SHARE(MAX_GUEST_CONNS)) {
		vm_guest_log(vm, "vmci: connection of guest process %d refused (%u open, %u its own)",
			     (int)cred.pid, st->n_gconns, own);
		pthread_mutex_unlock(&vm->lock);
		close(cfd);
		return G_SOURCE_CONTINUE;
	}
	memset(&cm, 0, sizeof(cm));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &vm->ram_fd, sizeof(int));
	if (sendmsg(cfd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) != sizeof(hello)) {
		pthread_mutex_unlock(&vm->lock);
		close(cfd);
		return G_SOURCE_CONTINUE;
	}
	g = g_new0(struct gconn, 1);
	g->st = st;
	g->fd = cfd;
	g->pid = cred.pid;
	st->gconns = g_list_prepend(st->gconns, g);
	st->n_gconns++;
	g->src = g_unix_fd_add(cfd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_gconn, g);
	pthread_mutex_unlock(&vm->lock);
	return G_SOURCE_CONTINUE;
}

/*
 * The socket lives next to the VM's control socket, as <name>.vmci in the
 * private per-user directory (control-proto.h), so nothing outlives a VM
 * killed hard but a stale socket its next start replaces.
 */
static int guest_socket_open(struct vmci_state *st)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[sizeof(sa.sun_path)];
	struct stat sb;

	if (ph_ctl_dir(dir, sizeof(dir)) || (mkdir(dir, 0700) && errno != EEXIST) ||
	    lstat(dir, &sb) || !S_ISDIR(sb.st_mode) || sb.st_uid != getuid() || (sb.st_mode & 077)) {
		g_warning("vmci: no private socket directory (%s)", dir);
		return -1;
	}
	st->sock_path = g_strdup_printf("%s/%s.vmci", dir, st->vm->name);
	if (strlen(st->sock_path) >= sizeof(sa.sun_path)) {
		g_warning("vmci: socket path %s too long", st->sock_path);
		return -1;
	}
	strcpy(sa.sun_path, st->sock_path);
	/* One that answers belongs to a running VM of the same name: leave it. */
	st->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (st->listen_fd >= 0 &&
	    (connect(st->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EAGAIN)) {
		g_warning("a VM named '%s' is already running (%s)", st->vm->name, st->sock_path);
		close(st->listen_fd);
		st->listen_fd = -1;
		return -1;
	}
	if (st->listen_fd >= 0)
		close(st->listen_fd);
	unlink(st->sock_path);
	st->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (st->listen_fd < 0 || bind(st->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(st->listen_fd, 64)) {
		g_warning("vmci: guest socket %s: %s", st->sock_path, g_strerror(errno));
		return -1;
	}
	/*
	 * The guest reaches this socket through its bind mount at
	 * /dev/porthole-vmci, and a --root guest's ids are a host range that is
	 * not ours: connect(2) needs write permission on the socket.  Nobody
	 * else on the host gets to it by its path: the directory is ours, 0700.
	 */
	if (chmod(st->sock_path, 0666))
		g_warning("vmci: guest socket %s: chmod: %s", st->sock_path, g_strerror(errno));
	st->listen_src = g_unix_fd_add(st->listen_fd, G_IO_IN, on_guest_connect, st);
	return 0;
}

/* ---- setup ---- */

/*
 * The guest placed BAR0: the port block answers there (until then, and
 * when I/O decoding is off, at VMCI_PORT_BASE, where the trap engine's
 * guests and payloads find it without PCI).
 */
static void vmci_bar_update(struct pci_dev *pdev, int bar, uint64_t addr, bool enabled)
{
	struct vmci_state *st = pci_dev_opaque(pdev);

	if (bar != 0)
		return;
	if (enabled && addr && addr + VMCI_PORT_COUNT <= 0x10000 && !(addr % VMCI_PORT_COUNT))
		st->dev->base = (uint16_t)addr;
	else
		st->dev->base = VMCI_PORT_BASE;
}

static const struct pci_dev_ops vmci_pci_ops = { .bar_update = vmci_bar_update };

static void release(struct io_device *dev)
{
	g_free(dev);
}

static const struct io_device_ops vmci_ops = {
	.io = vmci_io, .string_io = vmci_string, .release = release,
};

int vmci_init(struct vm *vm)
{
	struct vmci_state *st = g_new0(struct vmci_state, 1);
	struct io_device *dev = g_new0(struct io_device, 1);

	st->vm = vm;
	st->listen_fd = -1;
	st->trap = !strcmp(vm->engine, "trap");
	st->ram_pages = vm->ram_size / VMCI_PAGE_SIZE;
	st->ram = mmap(NULL, vm->ram_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->ram_fd, 0);
	st->owners = g_hash_table_new_full(NULL, NULL, NULL, owner_free);
	st->results = g_hash_table_new_full(NULL, NULL, NULL, g_free);
	st->qps = g_hash_table_new_full(NULL, NULL, NULL, qp_free);
	st->doorbells = g_hash_table_new_full(NULL, NULL, NULL, g_free);
	st->dg_maps = g_hash_table_new(NULL, NULL);
	st->host_bound = g_hash_table_new(NULL, NULL);
	st->clients = g_hash_table_new_full(NULL, NULL, NULL, client_free);
	st->page_in_qp = g_malloc0(st->ram_pages);
	vm->vmci = st;
	if (st->ram == MAP_FAILED) {
		st->ram = NULL;
		g_warning("vmci: cannot map guest RAM: %s", g_strerror(errno));
		g_free(dev);
		return -1;
	}
	if (st->trap) {
		st->page_owner = g_new(int32_t, st->ram_pages);
		for (uint64_t p = 0; p < st->ram_pages; p++)
			st->page_owner[p] = VMCI_PAGE_FREE;
		/* Never hand out page 0 or the device hole, as a PC would not have them. */
		st->page_owner[0] = VMCI_PAGE_RESERVED;
		for (uint64_t p = VMCI_DEVICE_PPN_FIRST; p < VMCI_DEVICE_PPN_END && p < st->ram_pages;
		     p++)
			st->page_owner[p] = VMCI_PAGE_RESERVED;
		st->alloc_hint = VMCI_DEVICE_PPN_END;
		if (guest_socket_open(st)) {
			g_free(dev);
			return -1;
		}
	}
	*dev = (struct io_device){ "vmci", VMCI_PORT_BASE, VMCI_PORT_COUNT, &vmci_ops, st };
	if (iobus_register(vm->iobus, dev)) {
		g_free(dev);
		return -1;
	}
	st->dev = dev;
	if (vm->pci) {
		struct pci_dev_desc d = {
			.name = "vmci", .vendor = VMCI_PCI_VENDOR, .device = VMCI_PCI_DEVICE,
			.subsys_vendor = VMCI_PCI_VENDOR, .subsys_device = VMCI_PCI_DEVICE,
			.class_code = VMCI_PCI_CLASS, .revision = 0x10,
			.irq_pin = 1, .irq_line = VMCI_PCI_IRQ,
			.bars = { { PCI_BAR_IO, VMCI_PORT_COUNT, false } },
			.ops = &vmci_pci_ops, .opaque = st,
		};

		st->pci = pci_register(vm->pci, &d, -1);
		if (!st->pci) {
			g_warning("vmci: no PCI slot");
			return -1;
		}
	}
	return 0;
}

const char *vmci_guest_socket_path(struct vmci_state *st)
{
	return st ? st->sock_path : NULL;
}

void vmci_free(struct vmci_state *st)
{
	if (!st)
		return;
	if (st->listen_src)
		g_source_remove(st->listen_src);
	while (st->gconns) {
		struct gconn *g = st->gconns->data;

		if (g->src)
			g_source_remove(g->src);
		gconn_close(g);
	}
	if (st->listen_fd >= 0)
		close(st->listen_fd);
	if (st->sock_path && st->listen_fd >= 0)
		g_unlink(st->sock_path);
	g_free(st->sock_path);
	g_hash_table_destroy(st->qps);
	g_hash_table_destroy(st->owners);
	g_hash_table_destroy(st->results);
	g_hash_table_destroy(st->doorbells);
	g_hash_table_destroy(st->dg_maps);
	g_hash_table_destroy(st->host_bound);
	g_hash_table_destroy(st->clients);
	if (st->ram)
		munmap(st->ram, st->vm->ram_size);
	g_free(st->page_owner);
	g_free(st->page_in_qp);
	g_free(st);
}
