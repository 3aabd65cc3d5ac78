/* SPDX-License-Identifier: MIT */
/*
 * The VMCI-style channel: every constant and layout that crosses the
 * guest <-> hypervisor <-> host-service boundary, defined once.  Numbers
 * follow VMware's VMCI where it has one (Linux include/linux/vmw_vmci_defs.h,
 * open-vm-tools lib/include/vmci_defs.h; see ../shared/notes/vmci.md);
 * Porthole extensions are marked "Porthole:".
 *
 * Device: an I/O-port block at VMCI_PORT_BASE with VMware's register
 * offsets (so the same block can later sit behind a PCI BAR0).  0x5670 is
 * VMware's balloon, 0x5658/0x5659 the backdoor; 0x5680..0x56BF is free in
 * both engines.
 *
 *   send:    `cld; rep outsb` of one whole datagram (header + payload) to
 *            VMCI_REG_DATA_OUT, then `inl` VMCI_REG_RESULT_LOW (+_HIGH):
 *            the int64 result of the hypercall (negative: VMCI_ERROR_*).
 *   receive: `cld; rep insb` from VMCI_REG_DATA_IN: a byte stream of
 *            datagrams, each padded to 8 bytes; once nothing is queued the
 *            rest of the read is 0xFF bytes (a header with resource
 *            0xFFFFFFFF ends the list, as in the Linux driver).
 *   ICR:     read-to-clear cause bits; IMR: causes that may notify.
 *
 * Everything is per guest context: in the trap engine each guest process is
 * its own context owner (its results, receive queue, ICR, IMR, pages and
 * doorbells); in KVM there is one owner, the guest.
 */
#ifndef PORTHOLE_BACKDOOR_VMCI_H
#define PORTHOLE_BACKDOOR_VMCI_H

#include <stdint.h>

#define VMCI_PORT_BASE		0x5680
#define VMCI_PORT_COUNT		0x40

/* Register offsets from VMCI_PORT_BASE (32-bit unless noted). */
#define VMCI_REG_STATUS		0x00	/* read: VMCI_STATUS_* */
#define VMCI_REG_CONTROL	0x04	/* write: VMCI_CONTROL_* */
#define VMCI_REG_ICR		0x08	/* read-to-clear: VMCI_ICR_* */
#define VMCI_REG_IMR		0x0C	/* read/write: VMCI_ICR_* bits enabled */
#define VMCI_REG_DATA_OUT	0x10	/* rep outsb: one datagram */
#define VMCI_REG_DATA_IN	0x14	/* rep insb: queued datagrams */
#define VMCI_REG_CAPS		0x18	/* read: VMCI_CAPS_* */
#define VMCI_REG_RESULT_LOW	0x1C	/* read: result of the last send (low 32) */
#define VMCI_REG_RESULT_HIGH	0x20	/* read: high 32 bits */
/* 0x24..0x37: VMware's DMA datagram registers, not implemented. */
/* Porthole: write: send the datagram of this many bytes in the mailbox (below). */
#define VMCI_REG_PH_MAILBOX_SEND 0x38

#define VMCI_STATUS_INT_ON	0x1
#define VMCI_CONTROL_RESET	0x1
#define VMCI_CONTROL_INT_ENABLE	0x2
#define VMCI_CONTROL_INT_DISABLE 0x4
#define VMCI_ICR_DATAGRAM	0x1
#define VMCI_ICR_NOTIFICATION	0x2
#define VMCI_CAPS_DATAGRAM	0x4
#define VMCI_CAPS_NOTIFICATIONS	0x8
#define VMCI_CAPS_PPN64		0x10
#define VMCI_CAPS_PH_MAILBOX	0x80000000u	/* Porthole: the mailbox below */

/* ---- handles and contexts ---- */
#define VMCI_INVALID_ID		0xFFFFFFFFu
#define VMCI_HYPERVISOR_CONTEXT_ID 0u
#define VMCI_HOST_CONTEXT_ID	2u
/* Porthole: the guest's context id (one VM per hypervisor process). */
#define VMCI_GUEST_CONTEXT_ID	3u
/* Resource ids below this are reserved; endpoints bind at or above it. */
#define VMCI_RESERVED_RESOURCE_ID_MAX 1023u
/* Guest resource 0 receives hypervisor events (datagrams from {0, 0}). */
#define VMCI_EVENT_HANDLER	0u

struct vmci_handle {
	uint32_t context;
	uint32_t resource;
};

/* ---- datagrams ---- */
struct vmci_dg_hdr {
	struct vmci_handle dst;
	struct vmci_handle src;
	uint64_t payload_size;
};
_Static_assert(sizeof(struct vmci_dg_hdr) == 24, "VMCI datagram header is 24 bytes");

/*
 * Routable datagrams (guest <-> host) carry at most this much payload:
 * header + payload fit one control-socket packet (64 KiB).  Datagrams to the
 * hypervisor may be larger (a queue pair's page list): VMCI_MAX_HV_DG_SIZE.
 */
#define VMCI_MAX_DG_SIZE	65536u
#define VMCI_MAX_DG_PAYLOAD	(VMCI_MAX_DG_SIZE - sizeof(struct vmci_dg_hdr))
#define VMCI_DG_ALIGN(n)	(((n) + 7u) & ~(uint64_t)7u)

/* Hypervisor resources: dst = {VMCI_HYPERVISOR_CONTEXT_ID, id}. */
enum vmci_hv_resource {
	VMCI_RESOURCES_QUERY = 0,	/* u32 n, u32 pad, u32 ids[n] -> bit i: ids[i] exists */
	VMCI_GET_CONTEXT_ID = 1,	/* -> the guest's context id */
	VMCI_SET_NOTIFY_BITMAP = 2,	/* u64 ppn: one page of doorbell bytes */
	VMCI_DOORBELL_LINK = 3,		/* handle, u64 notify_idx */
	VMCI_DOORBELL_UNLINK = 4,	/* handle */
	VMCI_DOORBELL_NOTIFY = 5,	/* handle: ring a doorbell (the host's) */
	/*
	 * Porthole: VMware's obsolete DATAGRAM_REQUEST_MAP/REMOVE_MAP numbers,
	 * reused for the same idea: u32 resource -> datagrams the host sends
	 * to {guest cid, resource} go to the calling context.
	 */
	VMCI_DATAGRAM_REQUEST_MAP = 6,
	VMCI_DATAGRAM_REMOVE_MAP = 7,
	VMCI_QUEUEPAIR_ALLOC = 10,	/* struct vmci_qp_alloc + u64 ppns[] */
	VMCI_QUEUEPAIR_DETACH = 11,	/* handle */
	/*
	 * Porthole, trap engine: guest-physical pages from the hypervisor's
	 * allocator.  u64 count -> first PPN of `count` contiguous zeroed
	 * pages; the caller maps them from its RAM file (vmci_guest_hello).
	 */
	VMCI_PH_PAGES_ALLOC = 32,
	VMCI_PH_PAGES_FREE = 33,	/* u64 first_ppn, u64 count */
	/* Porthole: u64 ppns[n], n = 0 (off) or 2..VMCI_PH_MAILBOX_MAX_PAGES */
	VMCI_PH_MAILBOX_SET = 34,
	VMCI_HV_RESOURCE_END
};

/* Hypervisor events: datagram from {0, 0} to {cid, VMCI_EVENT_HANDLER}. */
enum vmci_event_type {
	VMCI_EVENT_CTX_ID_UPDATE = 0,
	VMCI_EVENT_CTX_REMOVED = 1,
	VMCI_EVENT_QP_RESUMED = 2,
	VMCI_EVENT_QP_PEER_ATTACH = 3,
	VMCI_EVENT_QP_PEER_DETACH = 4,
	/* Porthole: a doorbell of the receiver rang (host side: payload handle). */
	VMCI_EVENT_PH_DOORBELL = 64,
};

struct vmci_event_qp {
	uint32_t event;			/* enum vmci_event_type */
	uint32_t pad;
	struct vmci_handle handle;	/* the queue pair, or the doorbell */
	uint32_t peer_id;
	uint32_t pad2;
};

struct vmci_doorbell_link {
	struct vmci_handle handle;
	uint64_t notify_idx;		/* byte in the notify bitmap page */
};

/* Error codes (VMCI's). */
#define VMCI_SUCCESS_QUEUEPAIR_ATTACH	5
#define VMCI_SUCCESS_QUEUEPAIR_CREATE	4
#define VMCI_SUCCESS			0
#define VMCI_ERROR_INVALID_RESOURCE	(-1)
#define VMCI_ERROR_INVALID_ARGS		(-2)
#define VMCI_ERROR_NO_MEM		(-3)
#define VMCI_ERROR_NO_ACCESS		(-7)
#define VMCI_ERROR_NO_HANDLE		(-8)
#define VMCI_ERROR_DUPLICATE_ENTRY	(-9)
#define VMCI_ERROR_DST_UNREACHABLE	(-10)
#define VMCI_ERROR_PAYLOAD_TOO_LARGE	(-11)
#define VMCI_ERROR_INVALID_PRIV		(-12)
#define VMCI_ERROR_GENERIC		(-13)
#define VMCI_ERROR_PAGE_ALREADY_SHARED	(-14)
#define VMCI_ERROR_CANNOT_SHARE_PAGE	(-15)
#define VMCI_ERROR_NO_RESOURCES		(-19)
#define VMCI_ERROR_UNAVAILABLE		(-20)
#define VMCI_ERROR_NOT_FOUND		(-21)
#define VMCI_ERROR_ALREADY_EXISTS	(-22)
#define VMCI_ERROR_INVALID_SIZE		(-24)
#define VMCI_ERROR_REGION_ALREADY_SHARED (-25)
#define VMCI_ERROR_QUEUEPAIR_NOTATTACHED (-35)

/* ---- queue pairs ---- */
#define VMCI_PAGE_SIZE		4096u
#define VMCI_PAGES(bytes)	(((bytes) + VMCI_PAGE_SIZE - 1) / VMCI_PAGE_SIZE)
/* One queue holds at most this many data bytes. */
#define VMCI_QP_MAX_QUEUE_SIZE	(64ull << 20)
/* Page-number list bound: both queues at their largest, plus two headers. */
#define VMCI_QP_MAX_PPNS	(2 * (VMCI_QP_MAX_QUEUE_SIZE / VMCI_PAGE_SIZE) + 2)
/* All queue pairs of one guest together (VMware's VMCI_MAX_GUEST_QP_MEMORY). */
#define VMCI_MAX_GUEST_QP_MEMORY (128ull << 20)
#define VMCI_MAX_HV_DG_SIZE	(sizeof(struct vmci_dg_hdr) + sizeof(struct vmci_qp_alloc) + \
				 8 * VMCI_QP_MAX_PPNS)
/* Queue pairs of one guest at once. */
#define VMCI_MAX_QUEUE_PAIRS	64

/*
 * QUEUEPAIR_ALLOC payload, then num_ppns u64 PPNs: the produce queue's
 * header page and ceil(produce_size / 4096) data pages, then the consume
 * queue's the same way.  "Produce" is the guest's sending direction.
 */
struct vmci_qp_alloc {
	struct vmci_handle handle;	/* {guest cid, resource chosen by the guest} */
	uint32_t peer;			/* VMCI_HOST_CONTEXT_ID or VMCI_INVALID_ID */
	uint32_t flags;			/* 0 */
	uint64_t produce_size;
	uint64_t consume_size;
	uint64_t num_ppns;
};
_Static_assert(sizeof(struct vmci_qp_alloc) == 40, "QUEUEPAIR_ALLOC layout");

/* ---- trap engine: the guest's /dev/porthole-vmci socket ---- */

/*
 * A guest process connects (SOCK_SEQPACKET) to VMCI_GUEST_SOCKET and gets
 * one struct vmci_guest_hello with the VM's RAM file (SCM_RIGHTS): guest
 * page N is at offset N * 4096.  Afterwards every packet from the
 * hypervisor is a one-byte wakeup: the caller's ICR went non-zero.  Block
 * on it with poll(), then read ICR.  Notifications go to the connections of
 * the process that did the port I/O (connect once per process).
 */
#define VMCI_GUEST_SOCKET	"/dev/porthole-vmci"
#define VMCI_GUEST_HELLO_MAGIC	0x49434d56u	/* "VMCI" */

struct vmci_guest_hello {
	uint32_t magic;
	uint32_t context_id;
	uint64_t ram_size;
};

/*
 * Porthole: the mailbox, a datagram path with one trap per round trip.
 * The port path costs a trapped instruction each for the send, the result
 * (two), ICR and DATA_IN: five faults a round trip in the trap engine, each
 * a ptrace stop.  A trap-engine context (CAPS says so; a KVM guest has an
 * interrupt line instead) that registers a mailbox (VMCI_PH_MAILBOX_SET,
 * pages it may use) sends with one `outl` and receives with none:
 *
 *   page 0: struct vmci_ph_mailbox_hdr, then from VMCI_PH_MAILBOX_TX_OFFSET
 *           one datagram to send: write its length to
 *           VMCI_REG_PH_MAILBOX_SEND; the device reads it once, sends it,
 *           and stores the result in tx_result (and RESULT_LOW/HIGH).
 *   pages 1..n-1: the receive ring, (n - 1) * 4096 bytes: the device
 *           writes each datagram for the context (header, payload, padded
 *           to 8 bytes, wrapping at the end) at rx_tail and then moves
 *           rx_tail; the guest reads from rx_head and moves rx_head.
 *           rx_head == rx_tail: empty; 8 bytes always stay free.  A
 *           datagram that does not fit is refused to its sender
 *           (VMCI_ERROR_NO_RESOURCES) and counted in rx_dropped.
 *
 * With a mailbox, every datagram or doorbell for the context is followed by
 * a wakeup on its guest socket (not only when ICR goes non-zero, since the
 * guest no longer reads ICR).  The pages stay the guest's: freeing one, or
 * the context ending, turns the mailbox off.
 */
#define VMCI_PH_MAILBOX_MAX_PAGES	18	/* a largest datagram fits the ring */
#define VMCI_PH_MAILBOX_TX_OFFSET	64u
#define VMCI_PH_MAILBOX_TX_MAX		(VMCI_PAGE_SIZE - VMCI_PH_MAILBOX_TX_OFFSET)

struct vmci_ph_mailbox_hdr {
	int64_t tx_result;		/* device: the last mailbox send's result */
	uint32_t rx_head;		/* guest: next byte it reads */
	uint32_t rx_tail;		/* device: next byte it writes */
	uint32_t rx_dropped;		/* device: datagrams that did not fit */
	uint32_t pad;
};

/* ---- host services: the control-socket operations (control-proto.h) ---- */

/* PH_CTL_VMCI_QP_ATTACH request. */
struct vmci_ctl_qp_attach {
	struct vmci_handle handle;
	uint32_t first_ppn_index;	/* page the reply's list starts at */
	uint32_t pad;
};

/*
 * PH_CTL_VMCI_QP_ATTACH reply, then up to VMCI_CTL_QP_PPNS_PER_REPLY u64
 * page numbers.  These are pages of the guest RAM memfd (offset / 4096),
 * which host services map: the hypervisor translated the guest's
 * guest-physical page numbers through the VM's memory map (they differ in
 * a KVM guest above the 32-bit PCI hole).
 */
struct vmci_ctl_qp_info {
	struct vmci_handle handle;
	uint64_t produce_size;		/* the guest's produce queue: the host reads it */
	uint64_t consume_size;
	uint64_t num_ppns;		/* in the whole list */
	uint32_t first_ppn_index;
	uint32_t count;			/* PPNs in this reply */
};
#define VMCI_CTL_QP_PPNS_PER_REPLY 4096u

#endif
