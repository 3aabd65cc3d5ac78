/* SPDX-License-Identifier: MIT */
/*
 * The host side of the VMCI channel: a connection to one VM's control
 * socket that binds host resources, sends and receives datagrams, attaches
 * queue pairs (mapping their guest pages in place from the RAM memfd) and
 * waits for doorbells.
 *
 * For a GLib main loop: watch phh_vmci_event_fd() for G_IO_IN and call
 * phh_vmci_next() until it returns false.  The fd is an epoll set holding
 * the socket and an eventfd that stays readable while datagrams that
 * arrived during a request wait in the queue, so nothing is missed.
 *
 * Functions return 0 or -errno unless they say otherwise.  Not thread safe.
 */
#ifndef PORTHOLE_VMCI_HOST_H
#define PORTHOLE_VMCI_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include "backdoor/ring.h"
#include "backdoor/vmci.h"
#include "porthole-host.h"

struct phh_dg {
	struct vmci_dg_hdr hdr;
	uint8_t *payload;		/* g_malloc'ed; g_free after */
};

struct phh_vmci {
	int fd;				/* control connection */
	struct ph_guest_ram ram;
	GQueue *queue;			/* struct phh_dg * that arrived unasked */
	int queue_efd, epoll_fd;
	uint32_t seq;
};

int phh_vmci_open(struct phh_vmci *h, const char *vm_name, GError **error);
void phh_vmci_close(struct phh_vmci *h);

int phh_vmci_bind(struct phh_vmci *h, uint32_t resource);
/* A datagram from {2, src_resource} to {guest cid, dst_resource}: VMCI result, or -errno... */
int64_t phh_vmci_send(struct phh_vmci *h, uint32_t src_resource, uint32_t dst_resource,
		      const void *payload, size_t len);
/* Ring the guest doorbell {guest cid, resource}. */
int phh_vmci_doorbell(struct phh_vmci *h, uint32_t resource);

int phh_vmci_event_fd(struct phh_vmci *h);
/* Take the next datagram or event without blocking. */
bool phh_vmci_next(struct phh_vmci *h, struct phh_dg *d);
/* Wait up to timeout_ms (-1 forever): 0, -ETIMEDOUT, -ECONNRESET. */
int phh_vmci_recv(struct phh_vmci *h, struct phh_dg *d, int timeout_ms);

/*
 * Map guest pages `ppns` as one contiguous view (consecutive page numbers
 * coalesced into one mapping each) inside a reserved range.  NULL on error.
 * Page numbers are pages of the RAM memfd: a queue pair's come translated
 * by the hypervisor (vmci_ctl_qp_info); the trap engine's allocator hands
 * guests pages whose guest-physical number is the same.
 */
void *phh_map_ppns(int ram_fd, uint64_t ram_size, const uint64_t *ppns, uint64_t n);

struct phh_qp {
	struct vmci_handle handle;
	uint64_t produce_size, consume_size;	/* as the guest registered them */
	void *base;
	size_t span;
	struct vmci_qp_view view;		/* the host's: produce = guest's consume */
	uint32_t doorbell_resource;		/* our bound resource the guest rings */
	bool peer_detached;
	int stall_ms;	/* *_all: 0 wait forever, else -ETIMEDOUT after this long stalled */
	struct ring_stats stats;	/* sleeps and doorbells of the *_all calls */
};

/* Attach guest queue pair {cid, resource}; the guest rings doorbell_resource. */
int phh_qp_attach(struct phh_vmci *h, struct phh_qp *qp, uint32_t resource,
		  uint32_t doorbell_resource);
int phh_qp_detach(struct phh_vmci *h, struct phh_qp *qp);
/* Exactly len bytes, blocking on doorbells; 0, -EPIPE (guest left), -ETIMEDOUT (stall_ms) or -errno. */
int phh_qp_write_all(struct phh_vmci *h, struct phh_qp *qp, const void *buf, size_t len);
int phh_qp_read_all(struct phh_vmci *h, struct phh_qp *qp, void *buf, size_t len);
/*
 * For a main loop: move what the ring allows now (ring_transfer_step in
 * backdoor/ring.h): 0 when buf[*off..len) is through, -EAGAIN to be called
 * again after this queue pair's next event (phh_qp_event) or a timer,
 * -EPIPE, -EPROTO.
 */
int phh_qp_step(struct phh_vmci *h, struct phh_qp *qp, void *buf, size_t len, size_t *off,
		bool write);
/*
 * Is datagram `d` (received by whoever reads this connection) an event of
 * this queue pair: the guest's doorbell, or its detach (which sets
 * qp->peer_detached)?
 */
bool phh_qp_event(struct phh_qp *qp, const struct phh_dg *d);

#endif
