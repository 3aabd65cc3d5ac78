// SPDX-License-Identifier: MIT
/*
 * The guest side of the VMCI channel.  See vmci-guest.h.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vmci-guest.h"

#define RXBUF_SIZE	(VMCI_MAX_DG_SIZE + VMCI_PAGE_SIZE)

/* ---- the device's ports ---- */

uint32_t phg_vmci_inl(unsigned int reg)
{
	uint32_t v;
	uint16_t port = (uint16_t)(VMCI_PORT_BASE + reg);

	__asm__ __volatile__("inl %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

void phg_vmci_outl(unsigned int reg, uint32_t val)
{
	uint16_t port = (uint16_t)(VMCI_PORT_BASE + reg);

	__asm__ __volatile__("outl %0, %1" : : "a"(val), "Nd"(port) : "memory");
}

static void rep_outsb(unsigned int reg, const void *buf, size_t len)
{
	uint16_t port = (uint16_t)(VMCI_PORT_BASE + reg);

	__asm__ __volatile__("cld; rep outsb" : "+S"(buf), "+c"(len) : "d"(port) : "memory");
}

static void rep_insb(unsigned int reg, void *buf, size_t len)
{
	uint16_t port = (uint16_t)(VMCI_PORT_BASE + reg);

	__asm__ __volatile__("cld; rep insb" : "+D"(buf), "+c"(len) : "d"(port) : "memory");
}

int64_t phg_vmci_send_raw(const void *dg, size_t len)
{
	uint64_t lo, hi;

	rep_outsb(VMCI_REG_DATA_OUT, dg, len);
	lo = phg_vmci_inl(VMCI_REG_RESULT_LOW);
	hi = phg_vmci_inl(VMCI_REG_RESULT_HIGH);
	return (int64_t)(lo | hi << 32);
}

/*
 * The process's mailbox (backdoor/vmci.h): the device keeps one per context,
 * which is a process, so this is process-wide, shared by every phg_vmci the
 * process opens.  `pid` tells a forked child that the mapping it inherited is
 * its parent's: the child has none until it opens its own.
 */
static struct {
	pthread_mutex_t setup;		/* open and close */
	pthread_mutex_t rx;		/* one reader of the receive ring */
	pthread_mutex_t lock;		/* one sender at a time in the TX area */
	uint8_t *base;			/* header page, then the receive ring */
	uint64_t ppn;
	pid_t pid;
	unsigned int users;
} mailbox = { .setup = PTHREAD_MUTEX_INITIALIZER, .rx = PTHREAD_MUTEX_INITIALIZER,
	      .lock = PTHREAD_MUTEX_INITIALIZER };

#define MAILBOX_PAGES	VMCI_PH_MAILBOX_MAX_PAGES

static struct vmci_ph_mailbox_hdr *mailbox_ours(void)
{
	return mailbox.base && mailbox.pid == getpid() ? (void *)mailbox.base : NULL;
}

/* One trap instead of three: the datagram goes through the mailbox's TX area. */
static bool mailbox_send(const struct vmci_dg_hdr *h, const void *payload, size_t len,
			 int64_t *res)
{
	uint16_t port = (uint16_t)(VMCI_PORT_BASE + VMCI_REG_PH_MAILBOX_SEND);
	uint32_t total = (uint32_t)(sizeof(*h) + len);
	struct vmci_ph_mailbox_hdr *mh;

	if (sizeof(*h) + len > VMCI_PH_MAILBOX_TX_MAX)
		return false;
	/* Looked at under the lock: mailbox_close() takes it before unmapping. */
	pthread_mutex_lock(&mailbox.lock);
	mh = mailbox_ours();
	if (!mh) {
		pthread_mutex_unlock(&mailbox.lock);
		return false;
	}
	memcpy(mailbox.base + VMCI_PH_MAILBOX_TX_OFFSET, h, sizeof(*h));
	if (len)
		memcpy(mailbox.base + VMCI_PH_MAILBOX_TX_OFFSET + sizeof(*h), payload, len);
	__asm__ __volatile__("outl %0, %1" : : "a"(total), "Nd"(port) : "memory");
	*res = __atomic_load_n(&mh->tx_result, __ATOMIC_ACQUIRE);
	pthread_mutex_unlock(&mailbox.lock);
	return true;
}

static int64_t send_dg(struct vmci_handle dst, struct vmci_handle src, const void *payload,
		       size_t len)
{
	struct vmci_dg_hdr h = { dst, src, len };
	uint8_t small[256], *buf;
	int64_t res;

	if (mailbox_send(&h, payload, len, &res))
		return res;
	buf = len + sizeof(h) <= sizeof(small) ? small : malloc(len + sizeof(h));
	if (!buf)
		return VMCI_ERROR_NO_MEM;
	memcpy(buf, &h, sizeof(h));
	if (len)
		memcpy(buf + sizeof(h), payload, len);
	res = phg_vmci_send_raw(buf, sizeof(h) + len);
	if (buf != small)
		free(buf);
	return res;
}

int64_t phg_vmci_hv(uint32_t resource, const void *payload, size_t len)
{
	return send_dg((struct vmci_handle){ VMCI_HYPERVISOR_CONTEXT_ID, resource },
		       (struct vmci_handle){ VMCI_INVALID_ID, VMCI_INVALID_ID }, payload, len);
}

int64_t phg_vmci_send(struct phg_vmci *v, struct vmci_handle dst, uint32_t src_resource,
		      const void *payload, size_t len)
{
	return send_dg(dst, (struct vmci_handle){ v->cid, src_resource }, payload, len);
}

int64_t phg_vmci_map(uint32_t resource)
{
	return phg_vmci_hv(VMCI_DATAGRAM_REQUEST_MAP, &resource, sizeof(resource));
}

/* ---- pages ---- */

int64_t phg_pages_alloc(struct phg_vmci *v, uint64_t count, void **map)
{
	int64_t ppn = phg_vmci_hv(VMCI_PH_PAGES_ALLOC, &count, sizeof(count));
	void *p;

	if (ppn < 0)
		return ppn;
	p = mmap(NULL, count * VMCI_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, v->ram_fd,
		 (off_t)((uint64_t)ppn * VMCI_PAGE_SIZE));
	if (p == MAP_FAILED) {
		uint64_t a[2] = { (uint64_t)ppn, count };

		phg_vmci_hv(VMCI_PH_PAGES_FREE, a, sizeof(a));
		return VMCI_ERROR_NO_MEM;
	}
	*map = p;
	return ppn;
}

int64_t phg_pages_free(struct phg_vmci *v, uint64_t ppn, uint64_t count, void *map)
{
	uint64_t a[2] = { ppn, count };

	if (map)
		munmap(map, count * VMCI_PAGE_SIZE);
	return phg_vmci_hv(VMCI_PH_PAGES_FREE, a, sizeof(a));
}

/* ---- the mailbox's life ---- */

static void queue_dg(struct phg_vmci *v, const struct vmci_dg_hdr *h, const uint8_t *payload);

/* Register the process's mailbox once; later opens share it. */
static void mailbox_open(struct phg_vmci *v)
{
	uint64_t ppns[MAILBOX_PAGES];
	void *map;
	int64_t ppn;

	pthread_mutex_lock(&mailbox.setup);
	if (mailbox_ours()) {
		mailbox.users++;
		goto out;
	}
	if (mailbox.base)	/* the parent's, inherited across fork */
		munmap(mailbox.base, MAILBOX_PAGES * VMCI_PAGE_SIZE);
	mailbox.base = NULL;
	if (!(phg_vmci_inl(VMCI_REG_CAPS) & VMCI_CAPS_PH_MAILBOX))
		goto out;
	ppn = phg_pages_alloc(v, MAILBOX_PAGES, &map);
	if (ppn < 0)
		goto out;
	for (unsigned int i = 0; i < MAILBOX_PAGES; i++)
		ppns[i] = (uint64_t)ppn + i;
	if (phg_vmci_hv(VMCI_PH_MAILBOX_SET, ppns, sizeof(ppns)) != VMCI_SUCCESS) {
		phg_pages_free(v, (uint64_t)ppn, MAILBOX_PAGES, map);
		goto out;
	}
	mailbox.ppn = (uint64_t)ppn;
	mailbox.pid = getpid();
	mailbox.users = 1;
	__atomic_store_n(&mailbox.base, map, __ATOMIC_RELEASE);
out:
	pthread_mutex_unlock(&mailbox.setup);
}

static void mailbox_close(struct phg_vmci *v)
{
	void *base;

	pthread_mutex_lock(&mailbox.setup);
	if (!mailbox_ours() || --mailbox.users) {
		pthread_mutex_unlock(&mailbox.setup);
		return;
	}
	/* Senders and readers that hold it finish first; later ones see it gone. */
	pthread_mutex_lock(&mailbox.lock);
	pthread_mutex_lock(&mailbox.rx);
	base = mailbox.base;
	mailbox.base = NULL;
	pthread_mutex_unlock(&mailbox.rx);
	pthread_mutex_unlock(&mailbox.lock);
	phg_vmci_hv(VMCI_PH_MAILBOX_SET, NULL, 0);
	phg_pages_free(v, mailbox.ppn, MAILBOX_PAGES, base);
	pthread_mutex_unlock(&mailbox.setup);
}

/* Copy `len` bytes out of the receive ring from `off`, wrapping. */
static void ring_take(const uint8_t *ring, uint32_t size, uint32_t off, void *dst, size_t len)
{
	size_t first = len < size - off ? len : size - off;

	memcpy(dst, ring + off, first);
	memcpy((uint8_t *)dst + first, ring, len - first);
}

/*
 * Move what the device put in the receive ring to our queue; whether there
 * was anything.  The device is trusted no more than it must be: a tail or
 * a length out of range ends the reading at what was sane.
 */
static bool mailbox_collect(struct phg_vmci *v)
{
	const uint32_t size = (MAILBOX_PAGES - 1) * VMCI_PAGE_SIZE;
	struct vmci_ph_mailbox_hdr *mh;
	const uint8_t *ring;
	uint32_t head, tail;
	bool any = false;

	pthread_mutex_lock(&mailbox.rx);
	mh = mailbox_ours();
	if (!mh) {
		pthread_mutex_unlock(&mailbox.rx);
		return false;
	}
	ring = mailbox.base + VMCI_PAGE_SIZE;
	head = mh->rx_head;
	tail = __atomic_load_n(&mh->rx_tail, __ATOMIC_ACQUIRE);
	while (head != tail && head < size && tail < size && head % 8 == 0) {
		struct vmci_dg_hdr h;
		uint32_t used = (tail + size - head) % size;
		uint64_t total;

		ring_take(ring, size, head, &h, sizeof(h));
		total = VMCI_DG_ALIGN(sizeof(h) + h.payload_size);
		if (h.payload_size > VMCI_MAX_DG_PAYLOAD || total > used)
			break;
		ring_take(ring, size, (head + (uint32_t)sizeof(h)) % size, v->rxbuf,
			  h.payload_size);
		queue_dg(v, &h, v->rxbuf);
		head = (uint32_t)((head + total) % size);
		any = true;
	}
	__atomic_store_n(&mh->rx_head, head, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&mailbox.rx);
	return any;
}

/* ---- open/close ---- */

int phg_vmci_open(struct phg_vmci *v)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vmci_guest_hello hello;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { &hello, sizeof(hello) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
			      .msg_controllen = sizeof(cm.buf) };
	struct cmsghdr *c;
	void *page;
	int64_t ppn;
	ssize_t n;
	int err;

	memset(v, 0, sizeof(*v));
	v->ram_fd = -1;
	strcpy(sa.sun_path, VMCI_GUEST_SOCKET);
	v->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (v->sock < 0)
		return -errno;
	if (connect(v->sock, (struct sockaddr *)&sa, sizeof(sa))) {
		err = errno == ENOENT ? ENODEV : errno;
		goto fail;
	}
	do {
		n = recvmsg(v->sock, &msg, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	c = CMSG_FIRSTHDR(&msg);
	if (n != sizeof(hello) || hello.magic != VMCI_GUEST_HELLO_MAGIC || !c ||
	    c->cmsg_type != SCM_RIGHTS) {
		err = EPROTO;
		goto fail;
	}
	memcpy(&v->ram_fd, CMSG_DATA(c), sizeof(int));
	v->ram_size = hello.ram_size;
	v->cid = (uint32_t)phg_vmci_hv(VMCI_GET_CONTEXT_ID, NULL, 0);
	v->rxbuf = malloc(RXBUF_SIZE);
	if (!v->rxbuf) {
		err = ENOMEM;
		goto fail;
	}
	/* Doorbells: one bitmap page, then interrupts (wakeups) on. */
	ppn = phg_pages_alloc(v, 1, &page);
	if (ppn < 0) {
		err = ENOMEM;
		goto fail;
	}
	v->notify_page = page;
	v->notify_ppn = (uint64_t)ppn;
	if (phg_vmci_hv(VMCI_SET_NOTIFY_BITMAP, &v->notify_ppn, 8) != VMCI_SUCCESS) {
		err = EIO;
		goto fail;
	}
	phg_vmci_outl(VMCI_REG_IMR, VMCI_ICR_DATAGRAM | VMCI_ICR_NOTIFICATION);
	phg_vmci_outl(VMCI_REG_CONTROL, VMCI_CONTROL_INT_ENABLE);
	mailbox_open(v);
	return 0;
fail:
	phg_vmci_close(v);
	return -err;
}

void phg_vmci_close(struct phg_vmci *v)
{
	struct phg_dg d;

	while (phg_vmci_take(v, &d))
		free(d.payload);
	if (v->rxbuf)		/* set up far enough to have opened the mailbox */
		mailbox_close(v);
	if (v->notify_page)
		phg_pages_free(v, v->notify_ppn, 1, v->notify_page);
	v->notify_page = NULL;
	if (v->sock >= 0)
		close(v->sock);
	if (v->ram_fd >= 0)
		close(v->ram_fd);
	free(v->rxbuf);
	v->rxbuf = NULL;
	v->sock = v->ram_fd = -1;
}

/* ---- receiving ---- */

static void queue_dg(struct phg_vmci *v, const struct vmci_dg_hdr *h, const uint8_t *payload)
{
	struct phg_dg *d;

	if (v->rx_count == PHG_RX_QUEUE_MAX)
		return;		/* the caller stopped taking: drop, as a full NIC does */
	d = &v->rx[(v->rx_head + v->rx_count) % PHG_RX_QUEUE_MAX];
	d->hdr = *h;
	d->payload = malloc(h->payload_size ? h->payload_size : 1);
	if (!d->payload)
		return;
	memcpy(d->payload, payload, h->payload_size);
	v->rx_count++;
}

/*
 * Read the DATA_IN stream: a page at a time, more when a datagram runs past
 * what was read, until the end marker (resource 0xFFFFFFFF).
 */
static void collect(struct phg_vmci *v)
{
	size_t have, pos = 0;

	rep_insb(VMCI_REG_DATA_IN, v->rxbuf, VMCI_PAGE_SIZE);
	have = VMCI_PAGE_SIZE;
	for (;;) {
		struct vmci_dg_hdr h;
		size_t total;

		if (have - pos < sizeof(h)) {
			/* A header may straddle the read: fetch the rest of it. */
			memmove(v->rxbuf, v->rxbuf + pos, have - pos);
			have -= pos;
			pos = 0;
			rep_insb(VMCI_REG_DATA_IN, v->rxbuf + have, VMCI_PAGE_SIZE);
			have += VMCI_PAGE_SIZE;
		}
		memcpy(&h, v->rxbuf + pos, sizeof(h));
		if (h.dst.resource == VMCI_INVALID_ID || h.payload_size > VMCI_MAX_DG_PAYLOAD)
			break;
		total = VMCI_DG_ALIGN(sizeof(h) + h.payload_size);
		if (pos + total > have) {
			memmove(v->rxbuf, v->rxbuf + pos, have - pos);
			have -= pos;
			pos = 0;
			rep_insb(VMCI_REG_DATA_IN, v->rxbuf + have, total - have);
			have = total;
		}
		queue_dg(v, &h, v->rxbuf + pos + sizeof(h));
		pos += total;
	}
}

int phg_vmci_wait(struct phg_vmci *v, int timeout_ms)
{
	struct pollfd pfd = { v->sock, POLLIN, 0 };
	char junk[64];
	uint32_t icr;
	int n;

	do {
		n = poll(&pfd, 1, timeout_ms);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (pfd.revents & (POLLHUP | POLLERR))
		return -EPIPE;
	while (recv(v->sock, junk, sizeof(junk), MSG_DONTWAIT) > 0)
		;
	/*
	 * With a mailbox, no port is touched: datagrams are in the ring, a
	 * doorbell is whatever woke us without one (the caller re-checks).
	 */
	if (mailbox_ours())
		return mailbox_collect(v) ? VMCI_ICR_DATAGRAM : n > 0 ? VMCI_ICR_NOTIFICATION : 0;
	/* Read the cause even after a timeout: a wakeup may race the poll. */
	icr = phg_vmci_inl(VMCI_REG_ICR);
	if (icr & VMCI_ICR_NOTIFICATION)
		memset(v->notify_page, 0, VMCI_PAGE_SIZE);
	if (icr & VMCI_ICR_DATAGRAM)
		collect(v);
	return (int)(icr & (VMCI_ICR_DATAGRAM | VMCI_ICR_NOTIFICATION));
}

bool phg_vmci_take(struct phg_vmci *v, struct phg_dg *d)
{
	if (!v->rx_count)
		return false;
	*d = v->rx[v->rx_head];
	v->rx_head = (v->rx_head + 1) % PHG_RX_QUEUE_MAX;
	v->rx_count--;
	return true;
}

/*
 * Before sleeping for a reply, watch the mailbox a little: an answer that
 * comes within microseconds then costs no wakeup (on this kind of host,
 * waking an idle vCPU costs more than the trap that sent the request).
 * Yielding now and then lets the threads that produce the answer run here.
 */
#define RECV_SPINS	16384
static bool mailbox_spin(void)
{
	struct vmci_ph_mailbox_hdr *mh;
	bool seen = false;

	/* Under the reader's lock, which mailbox_close() takes before unmapping. */
	pthread_mutex_lock(&mailbox.rx);
	mh = mailbox_ours();
	for (unsigned int i = 0; mh && !seen && i < RECV_SPINS; i++) {
		seen = __atomic_load_n(&mh->rx_tail, __ATOMIC_ACQUIRE) != mh->rx_head;
		if (i % 256 == 255)
			sched_yield();
		else
			__builtin_ia32_pause();
	}
	pthread_mutex_unlock(&mailbox.rx);
	return seen;
}

int phg_vmci_recv(struct phg_vmci *v, struct phg_dg *d, int timeout_ms)
{
	while (!phg_vmci_take(v, d)) {
		int r;

		if (timeout_ms && mailbox_spin() && mailbox_collect(v))
			continue;
		r = phg_vmci_wait(v, timeout_ms);

		if (r < 0)
			return r;
		if (r == 0 && !v->rx_count)
			return -ETIMEDOUT;
	}
	return 0;
}

/* ---- queue pairs ---- */

int64_t phg_qp_create(struct phg_vmci *v, struct phg_qp *qp, uint32_t resource,
		      uint64_t produce_size, uint64_t consume_size,
		      struct vmci_handle peer_doorbell)
{
	uint64_t pp = VMCI_PAGES(produce_size), cp = VMCI_PAGES(consume_size);
	uint64_t n = pp + cp + 2;
	size_t len = sizeof(struct vmci_qp_alloc) + n * 8;
	uint8_t *req = malloc(len);
	struct vmci_qp_alloc a = {
		.handle = { v->cid, resource }, .peer = VMCI_HOST_CONTEXT_ID,
		.produce_size = produce_size, .consume_size = consume_size, .num_ppns = n,
	};
	struct vmci_doorbell_link link = { { v->cid, resource }, 0 };
	int64_t first, res;

	memset(qp, 0, sizeof(*qp));
	if (!req)
		return VMCI_ERROR_NO_MEM;
	first = phg_pages_alloc(v, n, &qp->map);
	if (first < 0) {
		free(req);
		return first;
	}
	memcpy(req, &a, sizeof(a));
	for (uint64_t i = 0; i < n; i++) {
		uint64_t ppn = (uint64_t)first + i;

		memcpy(req + sizeof(a) + i * 8, &ppn, 8);
	}
	res = phg_vmci_hv(VMCI_QUEUEPAIR_ALLOC, req, len);
	free(req);
	if (res < 0) {
		phg_pages_free(v, (uint64_t)first, n, qp->map);
		return res;
	}
	qp->handle = a.handle;
	qp->produce_size = produce_size;
	qp->consume_size = consume_size;
	qp->first_ppn = (uint64_t)first;
	qp->npages = n;
	qp->peer_doorbell = peer_doorbell;
	vmci_qp_view_init(&qp->view, qp->map, produce_size, consume_size, false);
	link.notify_idx = v->next_notify_idx++ % VMCI_PAGE_SIZE;
	if (phg_vmci_hv(VMCI_DOORBELL_LINK, &link, sizeof(link)) < 0) {
		phg_qp_destroy(v, qp);
		return VMCI_ERROR_NO_HANDLE;
	}
	return res;
}

int64_t phg_qp_destroy(struct phg_vmci *v, struct phg_qp *qp)
{
	int64_t res;

	if (!qp->map)
		return VMCI_ERROR_INVALID_ARGS;
	res = phg_vmci_hv(VMCI_QUEUEPAIR_DETACH, &qp->handle, sizeof(qp->handle));
	phg_vmci_hv(VMCI_DOORBELL_UNLINK, &qp->handle, sizeof(qp->handle));
	phg_pages_free(v, qp->first_ppn, qp->npages, qp->map);
	qp->map = NULL;
	return res;
}

/* Did the host leave?  Consumes the queue pair's events from the receive queue. */
static bool peer_gone(struct phg_vmci *v, struct phg_qp *qp)
{
	unsigned int n = v->rx_count;

	for (unsigned int i = 0; i < n; i++) {
		struct phg_dg d;
		struct vmci_event_qp ev;

		phg_vmci_take(v, &d);
		if (d.hdr.src.context == VMCI_HYPERVISOR_CONTEXT_ID &&
		    d.hdr.payload_size >= sizeof(ev)) {
			memcpy(&ev, d.payload, sizeof(ev));
			if (ev.handle.resource == qp->handle.resource) {
				if (ev.event == VMCI_EVENT_QP_PEER_DETACH)
					qp->peer_detached = true;
				free(d.payload);
				continue;
			}
		}
		queue_dg(v, &d.hdr, d.payload);	/* someone else's: keep, in order */
		free(d.payload);
	}
	return qp->peer_detached;
}

static int64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool phg_qp_await_peer_detach(struct phg_vmci *v, struct phg_qp *qp, int timeout_ms)
{
	int64_t end = monotonic_ms() + timeout_ms;

	while (!peer_gone(v, qp)) {
		int64_t left = end - monotonic_ms();

		if (left <= 0)
			return false;
		phg_vmci_wait(v, left < 100 ? (int)left : 100);
	}
	return true;
}

static void ring_peer(struct phg_qp *qp)
{
	phg_vmci_hv(VMCI_DOORBELL_NOTIFY, &qp->peer_doorbell, sizeof(qp->peer_doorbell));
}

struct guest_side {
	struct phg_vmci *v;
	struct phg_qp *qp;
};

static bool guest_peer_gone(void *p)
{
	struct guest_side *gs = p;

	return peer_gone(gs->v, gs->qp);
}

static void guest_notify(void *p)
{
	ring_peer(((struct guest_side *)p)->qp);
}

static int guest_wait(void *p, int timeout_ms)
{
	return phg_vmci_wait(((struct guest_side *)p)->v, timeout_ms);
}

int phg_qp_write_all(struct phg_vmci *v, struct phg_qp *qp, const void *buf, size_t len)
{
	struct guest_side gs = { v, qp };
	const struct ring_side side = { guest_peer_gone, guest_notify, guest_wait, &gs, qp->stall_ms,
					&qp->stats };

	return ring_write_all(&qp->view, buf, len, &side);
}

int phg_qp_read_all(struct phg_vmci *v, struct phg_qp *qp, void *buf, size_t len)
{
	struct guest_side gs = { v, qp };
	const struct ring_side side = { guest_peer_gone, guest_notify, guest_wait, &gs, qp->stall_ms,
					&qp->stats };

	return ring_read_all(&qp->view, buf, len, &side);
}

int phg_qp_step(struct phg_vmci *v, struct phg_qp *qp, void *buf, size_t len, size_t *off,
		bool write)
{
	struct guest_side gs = { v, qp };
	const struct ring_side side = { guest_peer_gone, guest_notify, guest_wait, &gs, qp->stall_ms,
					&qp->stats };

	return ring_transfer_step(&qp->view, buf, len, off, write, &side);
}
