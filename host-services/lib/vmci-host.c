// SPDX-License-Identifier: MIT
/*
 * The host side of the VMCI channel.  See vmci-host.h; the control
 * operations are in hypervisor/control-proto.h.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vmci-host.h"

#define PHH_ERROR g_quark_from_static_string("porthole-vmci-host")
#define REPLY_TIMEOUT_MS 5000
#define QUEUE_MAX 4096

static void dg_free(gpointer p)
{
	struct phh_dg *d = p;

	g_free(d->payload);
	g_free(d);
}

int phh_vmci_open(struct phh_vmci *h, const char *vm_name, GError **error)
{
	struct epoll_event ev = { .events = EPOLLIN };

	memset(h, 0, sizeof(*h));
	h->queue_efd = h->epoll_fd = -1;
	h->ram.fd = -1;
	h->fd = ph_connect(vm_name, error);
	if (h->fd < 0)
		return -1;
	if (ph_map_ram(h->fd, &h->ram, error)) {
		close(h->fd);
		h->fd = -1;
		return -1;
	}
	h->queue = g_queue_new();
	h->queue_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	h->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (h->queue_efd < 0 || h->epoll_fd < 0 ||
	    epoll_ctl(h->epoll_fd, EPOLL_CTL_ADD, h->fd, &ev) ||
	    epoll_ctl(h->epoll_fd, EPOLL_CTL_ADD, h->queue_efd, &ev)) {
		g_set_error(error, PHH_ERROR, errno, "event fd: %s", g_strerror(errno));
		phh_vmci_close(h);
		return -1;
	}
	return 0;
}

void phh_vmci_close(struct phh_vmci *h)
{
	if (h->queue)
		g_queue_free_full(h->queue, dg_free);
	h->queue = NULL;
	ph_unmap_ram(&h->ram);
	if (h->fd >= 0)
		close(h->fd);
	if (h->queue_efd >= 0)
		close(h->queue_efd);
	if (h->epoll_fd >= 0)
		close(h->epoll_fd);
	h->fd = h->queue_efd = h->epoll_fd = -1;
}

int phh_vmci_event_fd(struct phh_vmci *h)
{
	return h->epoll_fd;
}

static void enqueue(struct phh_vmci *h, const uint8_t *data, size_t len)
{
	struct phh_dg *d;
	uint64_t one = 1;

	if (len < sizeof(d->hdr) || g_queue_get_length(h->queue) >= QUEUE_MAX)
		return;
	d = g_new0(struct phh_dg, 1);
	memcpy(&d->hdr, data, sizeof(d->hdr));
	d->hdr.payload_size = len - sizeof(d->hdr);
	d->payload = g_memdup2(data + sizeof(d->hdr), d->hdr.payload_size + 1);
	g_queue_push_tail(h->queue, d);
	if (write(h->queue_efd, &one, sizeof(one)) < 0) {
		/* the counter is already non-zero */
	}
}

/*
 * Read one packet (waiting up to timeout_ms): unasked datagrams go to the
 * queue; a reply to `seq` goes to *status/out and returns 1.  0 when
 * something else was read, -ETIMEDOUT, or -ECONNRESET.
 */
static int pump(struct phh_vmci *h, int timeout_ms, uint32_t seq, int *status, GByteArray *out)
{
	uint8_t *buf = g_malloc(sizeof(struct ph_ctl_hdr) + PH_CTL_MAX_PAYLOAD);
	struct pollfd pfd = { h->fd, POLLIN, 0 };
	struct ph_ctl_hdr rh;
	ssize_t n;
	int ret = 0, pr;

	do {
		pr = poll(&pfd, 1, timeout_ms);
	} while (pr < 0 && errno == EINTR);
	if (pr == 0) {
		ret = -ETIMEDOUT;
		goto out;
	}
	n = recv(h->fd, buf, sizeof(rh) + PH_CTL_MAX_PAYLOAD, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		goto out;
	if (n < (ssize_t)sizeof(rh)) {
		ret = -ECONNRESET;
		goto out;
	}
	memcpy(&rh, buf, sizeof(rh));
	if (rh.magic != PH_CTL_MAGIC || (size_t)n != sizeof(rh) + rh.len) {
		ret = -EPROTO;
		goto out;
	}
	if (rh.op == PH_CTL_VMCI_DATAGRAM && rh.seq == 0) {
		enqueue(h, buf + sizeof(rh), rh.len);
	} else if (seq && rh.seq == seq) {
		*status = rh.status;
		if (out)
			g_byte_array_append(out, buf + sizeof(rh), rh.len);
		ret = 1;
	}
out:
	g_free(buf);
	return ret;
}

/* One request; the reply's status (0 or a positive errno), or -errno. */
static int request(struct phh_vmci *h, unsigned int op, const void *pl, size_t len,
		   GByteArray *out)
{
	struct ph_ctl_hdr hdr = {
		.magic = PH_CTL_MAGIC, .version = PH_CTL_VERSION, .op = (uint16_t)op,
		.len = (uint32_t)len,
	};
	struct iovec iov[2] = { { &hdr, sizeof(hdr) }, { (void *)pl, len } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
	int64_t deadline = g_get_monotonic_time() / 1000 + REPLY_TIMEOUT_MS;
	int status = 0;

	if (++h->seq == 0)
		h->seq = 1;	/* seq 0 marks unasked packets */
	hdr.seq = h->seq;
	if (sendmsg(h->fd, &msg, MSG_NOSIGNAL) < 0)
		return -errno;
	for (;;) {
		int64_t left = deadline - g_get_monotonic_time() / 1000;
		int r;

		if (left <= 0)
			return -ETIMEDOUT;
		r = pump(h, (int)left, hdr.seq, &status, out);
		if (r == 1)
			return status;
		if (r < 0 && r != -ETIMEDOUT)
			return r;
	}
}

int phh_vmci_bind(struct phh_vmci *h, uint32_t resource)
{
	int st = request(h, PH_CTL_VMCI_BIND, &resource, sizeof(resource), NULL);

	return st > 0 ? -st : st;
}

int64_t phh_vmci_send(struct phh_vmci *h, uint32_t src_resource, uint32_t dst_resource,
		      const void *payload, size_t len)
{
	struct vmci_dg_hdr hdr = {
		.dst = { VMCI_GUEST_CONTEXT_ID, dst_resource },
		.src = { VMCI_HOST_CONTEXT_ID, src_resource },
		.payload_size = len,
	};
	GByteArray *buf = g_byte_array_sized_new((guint)(sizeof(hdr) + len));
	GByteArray *out = g_byte_array_new();
	int64_t res = VMCI_ERROR_GENERIC;
	int st;

	g_byte_array_append(buf, (const guint8 *)&hdr, sizeof(hdr));
	g_byte_array_append(buf, payload, (guint)len);
	st = request(h, PH_CTL_VMCI_SEND, buf->data, buf->len, out);
	if (st == 0 && out->len == sizeof(res))
		memcpy(&res, out->data, sizeof(res));
	else if (st)
		res = st > 0 ? -st : st;
	g_byte_array_free(buf, TRUE);
	g_byte_array_free(out, TRUE);
	return res;
}

int phh_vmci_doorbell(struct phh_vmci *h, uint32_t resource)
{
	struct vmci_handle hd = { VMCI_GUEST_CONTEXT_ID, resource };
	int st = request(h, PH_CTL_VMCI_DOORBELL, &hd, sizeof(hd), NULL);

	return st > 0 ? -st : st;
}

bool phh_vmci_next(struct phh_vmci *h, struct phh_dg *d)
{
	struct phh_dg *q;
	uint64_t v;

	/* Whatever the socket holds now joins the queue first. */
	while (pump(h, 0, 0, NULL, NULL) == 0)
		;
	q = g_queue_pop_head(h->queue);
	if (g_queue_is_empty(h->queue) && read(h->queue_efd, &v, sizeof(v)) < 0) {
		/* already reset */
	}
	if (!q)
		return false;
	*d = *q;
	g_free(q);
	return true;
}

int phh_vmci_recv(struct phh_vmci *h, struct phh_dg *d, int timeout_ms)
{
	int64_t deadline = g_get_monotonic_time() / 1000 + timeout_ms;

	for (;;) {
		struct phh_dg *q = g_queue_pop_head(h->queue);
		int64_t left;
		uint64_t v;
		int r;

		if (q) {
			/* Empty now: the event fd must stop reporting the queue. */
			if (g_queue_is_empty(h->queue) && read(h->queue_efd, &v, sizeof(v)) < 0) {
				/* already reset */
			}
			*d = *q;
			g_free(q);
			return 0;
		}
		/* Out of time (or timeout 0) still takes what the socket holds now. */
		left = timeout_ms < 0 ? -1 : MAX(deadline - g_get_monotonic_time() / 1000, 0);
		r = pump(h, (int)left, 0, NULL, NULL);
		if (r == -ETIMEDOUT && left == 0)
			return -ETIMEDOUT;
		if (r < 0 && r != -ETIMEDOUT)
			return r;
	}
}

/* ---- mapping guest pages ---- */

void *phh_map_ppns(int ram_fd, uint64_t ram_size, const uint64_t *ppns, uint64_t n)
{
	size_t span = n * VMCI_PAGE_SIZE;
	uint8_t *base;

	for (uint64_t i = 0; i < n; i++)
		if (ppns[i] >= ram_size / VMCI_PAGE_SIZE)
			return NULL;
	/* Reserve the range, then lay each run of consecutive pages over it. */
	base = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return NULL;
	for (uint64_t i = 0; i < n;) {
		uint64_t run = 1;

		while (i + run < n && ppns[i + run] == ppns[i] + run)
			run++;
		if (mmap(base + i * VMCI_PAGE_SIZE, run * VMCI_PAGE_SIZE, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, ram_fd, (off_t)(ppns[i] * VMCI_PAGE_SIZE)) ==
		    MAP_FAILED) {
			munmap(base, span);
			return NULL;
		}
		i += run;
	}
	return base;
}

int phh_qp_attach(struct phh_vmci *h, struct phh_qp *qp, uint32_t resource,
		  uint32_t doorbell_resource)
{
	struct vmci_ctl_qp_attach a = { { VMCI_GUEST_CONTEXT_ID, resource }, 0, 0 };
	struct vmci_ctl_qp_info info = { 0 }, first = { 0 };
	uint64_t *ppns = NULL, got = 0;
	int ret = 0;

	memset(qp, 0, sizeof(*qp));
	do {
		GByteArray *out = g_byte_array_new();
		int st = request(h, PH_CTL_VMCI_QP_ATTACH, &a, sizeof(a), out);

		if (st || out->len < sizeof(info)) {
			g_byte_array_free(out, TRUE);
			ret = st > 0 ? -st : (st ? st : -EPROTO);
			goto fail;
		}
		memcpy(&info, out->data, sizeof(info));
		/*
		 * The sizes bound the page arithmetic below and every ring
		 * access after it: near 2^64, VMCI_PAGES() wraps to a few pages.
		 */
		if (info.num_ppns > VMCI_QP_MAX_PPNS || info.first_ppn_index != got ||
		    info.produce_size > VMCI_QP_MAX_QUEUE_SIZE ||
		    info.consume_size > VMCI_QP_MAX_QUEUE_SIZE ||
		    out->len != sizeof(info) + (size_t)info.count * 8 || !info.count) {
			g_byte_array_free(out, TRUE);
			ret = -EPROTO;
			goto fail;
		}
		/*
		 * The list is sized from the first reply; every later one must
		 * describe the same queue pair (the guest may have detached and
		 * re-created it, larger, between two of them).
		 */
		if (!ppns) {
			first = info;
			ppns = g_new(uint64_t, info.num_ppns);
		} else if (info.num_ppns != first.num_ppns ||
			   info.produce_size != first.produce_size ||
			   info.consume_size != first.consume_size ||
			   info.handle.context != first.handle.context ||
			   info.handle.resource != first.handle.resource) {
			g_byte_array_free(out, TRUE);
			ret = -EPROTO;
			goto fail;
		}
		if (got + info.count > first.num_ppns) {
			g_byte_array_free(out, TRUE);
			ret = -EPROTO;
			goto fail;
		}
		memcpy(ppns + got, out->data + sizeof(info), (size_t)info.count * 8);
		got += info.count;
		a.first_ppn_index = (uint32_t)got;
		g_byte_array_free(out, TRUE);
	} while (got < info.num_ppns);

	if (info.num_ppns != 2 + VMCI_PAGES(info.produce_size) + VMCI_PAGES(info.consume_size)) {
		ret = -EPROTO;
		goto fail;
	}
	qp->handle = info.handle;
	qp->produce_size = info.produce_size;
	qp->consume_size = info.consume_size;
	qp->span = info.num_ppns * VMCI_PAGE_SIZE;
	qp->doorbell_resource = doorbell_resource;
	qp->base = phh_map_ppns(h->ram.fd, h->ram.size, ppns, info.num_ppns);
	if (!qp->base) {
		ret = -ENOMEM;
		goto fail;
	}
	vmci_qp_view_init(&qp->view, qp->base, qp->produce_size, qp->consume_size, true);
	g_free(ppns);
	return 0;
fail:
	g_free(ppns);
	if (got) {
		struct vmci_handle hd = { VMCI_GUEST_CONTEXT_ID, resource };

		request(h, PH_CTL_VMCI_QP_DETACH, &hd, sizeof(hd), NULL);
	}
	return ret;
}

int phh_qp_detach(struct phh_vmci *h, struct phh_qp *qp)
{
	int st = 0;

	if (!qp->base)
		return -EINVAL;
	if (!qp->peer_detached)
		st = request(h, PH_CTL_VMCI_QP_DETACH, &qp->handle, sizeof(qp->handle), NULL);
	munmap(qp->base, qp->span);
	qp->base = NULL;
	return st > 0 ? -st : st;
}

bool phh_qp_event(struct phh_qp *qp, const struct phh_dg *d)
{
	struct vmci_event_qp ev;

	if (d->hdr.src.context != VMCI_HYPERVISOR_CONTEXT_ID || d->hdr.payload_size < sizeof(ev))
		return false;
	memcpy(&ev, d->payload, sizeof(ev));
	if (ev.event == VMCI_EVENT_QP_PEER_DETACH && ev.handle.resource == qp->handle.resource) {
		qp->peer_detached = true;
		return true;
	}
	return ev.event == VMCI_EVENT_PH_DOORBELL && ev.handle.resource == qp->doorbell_resource;
}

/*
 * Wait for the guest: a doorbell on our resource or the queue pair's
 * detach.  Other datagrams stay queued, in order.  0, -EPIPE, -errno.
 */
static int qp_wait(struct phh_vmci *h, struct phh_qp *qp, int timeout_ms)
{
	/* Something already queued (during a request) is looked at first. */
	int r = pump(h, g_queue_is_empty(h->queue) ? timeout_ms : 0, 0, NULL, NULL);
	GQueue *keep;

	if (r < 0 && r != -ETIMEDOUT)
		return r;
	keep = g_queue_new();
	while (!g_queue_is_empty(h->queue)) {
		struct phh_dg *d = g_queue_pop_head(h->queue);

		if (phh_qp_event(qp, d)) {
			dg_free(d);
			continue;
		}
		g_queue_push_tail(keep, d);
	}
	g_queue_free(h->queue);
	h->queue = keep;
	return qp->peer_detached ? -EPIPE : 0;
}

struct host_side {
	struct phh_vmci *h;
	struct phh_qp *qp;
};

static bool host_peer_gone(void *p)
{
	return ((struct host_side *)p)->qp->peer_detached;
}

static void host_notify(void *p)
{
	struct host_side *hs = p;

	phh_vmci_doorbell(hs->h, hs->qp->handle.resource);
}

static int host_wait(void *p, int timeout_ms)
{
	struct host_side *hs = p;

	return qp_wait(hs->h, hs->qp, timeout_ms);
}

/*
 * The guest set a ring index outside its queue: ring.c read it once and
 * refused it, copying nothing for it.  Say so, once for the transfer it ends.
 */
static int transfer_result(const struct phh_qp *qp, int r, const char *dir)
{
	if (r == -EPROTO)
		g_warning("vmci: queue pair %u: the guest's ring header holds an index outside "
			  "the queue; %s refused", qp->handle.resource, dir);
	return r;
}

int phh_qp_write_all(struct phh_vmci *h, struct phh_qp *qp, const void *buf, size_t len)
{
	struct host_side hs = { h, qp };
	const struct ring_side side = { host_peer_gone, host_notify, host_wait, &hs, qp->stall_ms,
					&qp->stats };

	return transfer_result(qp, ring_write_all(&qp->view, buf, len, &side), "write");
}

int phh_qp_read_all(struct phh_vmci *h, struct phh_qp *qp, void *buf, size_t len)
{
	struct host_side hs = { h, qp };
	const struct ring_side side = { host_peer_gone, host_notify, host_wait, &hs, qp->stall_ms,
					&qp->stats };

	return transfer_result(qp, ring_read_all(&qp->view, buf, len, &side), "read");
}

int phh_qp_step(struct phh_vmci *h, struct phh_qp *qp, void *buf, size_t len, size_t *off,
		bool write)
{
	struct host_side hs = { h, qp };
	const struct ring_side side = { host_peer_gone, host_notify, host_wait, &hs, 0,
					&qp->stats };

	return ring_transfer_step(&qp->view, buf, len, off, write, &side);
}
