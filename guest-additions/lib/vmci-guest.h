/* SPDX-License-Identifier: MIT */
/*
 * The guest side of the VMCI channel (backdoor/vmci.h, backdoor/ring.h):
 * datagrams through the device's ports, pages from the hypervisor's
 * allocator mapped from the RAM file, queue pairs, doorbells, and a file
 * descriptor to block on for notifications.
 *
 * For guest processes of the trap engine: the process connects to
 * /dev/porthole-vmci (one connection per process; don't share a handle
 * across fork).  A KVM guest talks to the same device from its own kernel
 * or payload, with its own RAM and the PCI interrupt (tests/payloads/vmci.c).
 *
 * Functions return a VMCI result (>= 0 success, VMCI_ERROR_* < 0) unless
 * they say otherwise.  Not thread safe per handle.
 */
#ifndef PORTHOLE_VMCI_GUEST_H
#define PORTHOLE_VMCI_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backdoor/ring.h"
#include "backdoor/vmci.h"

#define PHG_RX_QUEUE_MAX	256

struct phg_dg {
	struct vmci_dg_hdr hdr;
	uint8_t *payload;		/* malloc'ed, hdr.payload_size bytes */
};

struct phg_vmci {
	int sock;			/* wakeups; poll it */
	int ram_fd;
	uint64_t ram_size;
	uint32_t cid;
	uint8_t *notify_page;		/* doorbell bitmap */
	uint64_t notify_ppn;
	uint32_t next_notify_idx;
	struct phg_dg rx[PHG_RX_QUEUE_MAX];	/* received, not yet taken */
	unsigned int rx_head, rx_count;
	uint8_t *rxbuf;
};

/* 0, or -errno (ENODEV: no VMCI socket in this guest). */
int phg_vmci_open(struct phg_vmci *v);
void phg_vmci_close(struct phg_vmci *v);

/* Send one datagram (header + payload_size bytes right after it). */
int64_t phg_vmci_send_raw(const void *dg, size_t len);
/* Hypercall dst {0, resource}. */
int64_t phg_vmci_hv(uint32_t resource, const void *payload, size_t len);
/* A datagram from {cid, src_resource} to `dst`. */
int64_t phg_vmci_send(struct phg_vmci *v, struct vmci_handle dst, uint32_t src_resource,
		      const void *payload, size_t len);
/* Route host datagrams for {cid, resource} to this process. */
int64_t phg_vmci_map(uint32_t resource);

/* Raw register access (the validation tests use it). */
uint32_t phg_vmci_inl(unsigned int reg);
void phg_vmci_outl(unsigned int reg, uint32_t val);

/*
 * Wait up to timeout_ms (-1: forever) for a notification, then collect
 * queued datagrams.  The ICR bits seen (0 on timeout), or -errno.
 */
int phg_vmci_wait(struct phg_vmci *v, int timeout_ms);
/* Take the next received datagram (false when none); free d->payload after. */
bool phg_vmci_take(struct phg_vmci *v, struct phg_dg *d);
/* Wait for and take the next datagram: 0, -ETIMEDOUT or -errno. */
int phg_vmci_recv(struct phg_vmci *v, struct phg_dg *d, int timeout_ms);

/* `count` contiguous pages: first PPN (>= 0) and *map, or a VMCI error. */
int64_t phg_pages_alloc(struct phg_vmci *v, uint64_t count, void **map);
int64_t phg_pages_free(struct phg_vmci *v, uint64_t ppn, uint64_t count, void *map);

struct phg_qp {
	struct vmci_handle handle;
	uint64_t produce_size, consume_size;
	uint64_t first_ppn, npages;
	void *map;
	struct vmci_qp_view view;
	struct vmci_handle peer_doorbell;	/* rung when the peer may wait */
	bool peer_detached;
	int stall_ms;	/* *_all: 0 wait forever, else -ETIMEDOUT after this long stalled */
	struct ring_stats stats;	/* sleeps and doorbells of the *_all calls */
};

/*
 * Allocate pages, register them as queue pair {cid, resource}, and link a
 * doorbell with the same resource id.  `peer_doorbell` is the host endpoint
 * to ring.
 */
int64_t phg_qp_create(struct phg_vmci *v, struct phg_qp *qp, uint32_t resource,
		      uint64_t produce_size, uint64_t consume_size,
		      struct vmci_handle peer_doorbell);
/* Detach, unlink the doorbell, free the pages. */
int64_t phg_qp_destroy(struct phg_vmci *v, struct phg_qp *qp);
/*
 * Wait up to timeout_ms for the peer to detach (after the last byte, a
 * receiving host does); other datagrams stay queued.  True once it has.
 */
bool phg_qp_await_peer_detach(struct phg_vmci *v, struct phg_qp *qp, int timeout_ms);

/*
 * Write/read exactly len bytes: a bounded spin, then sleep until the peer's
 * doorbell (backdoor/ring-transfer.c).  0, -EPIPE when the peer detached,
 * -EPROTO for a corrupt ring header, or the wait's negative error.
 */
int phg_qp_write_all(struct phg_vmci *v, struct phg_qp *qp, const void *buf, size_t len);
int phg_qp_read_all(struct phg_vmci *v, struct phg_qp *qp, void *buf, size_t len);
/*
 * Without waiting: move what the ring allows of buf[*off..len) (advancing
 * *off); 0 when all moved, -EAGAIN when the peer has to move first (its
 * next move rings our doorbell: the VMCI fd turns readable), or an error
 * as above.
 */
int phg_qp_step(struct phg_vmci *v, struct phg_qp *qp, void *buf, size_t len, size_t *off,
		bool write);

#endif
