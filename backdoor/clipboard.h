/* SPDX-License-Identifier: MIT */
/*
 * Clipboard sharing between porthole-agent (guest) and porthole-viewer's
 * clipboard bridge (host): datagrams on PH_DESKTOP_RES_CLIPBOARD
 * (backdoor/desktop.h) plus one queue pair per transfer for the bytes.
 *
 * Offers go first, data moves only when someone pastes:
 *
 *   owner side                          pasting side
 *   OFFER {sel, serial, formats}  --->  takes the X selection for `sel`
 *                                       (an app asks for a target)
 *                                 <---  REQUEST {xfer, sel, serial, format,
 *                                                max_size, qp_resource}
 *   reads its own X selection
 *   XFER {xfer, status, size, ...} --->
 *   bytes through the queue pair  ===>  (only when status is OK)
 *
 * The guest always creates the queue pair (the host only attaches):
 *  - host pastes guest data: the agent creates it (produce = data) after it
 *    has the bytes, and names it in its XFER; the host attaches and says
 *    READY, the agent writes, the host reads, detaches and sends DONE; the
 *    agent destroys it on DONE (or a timeout).
 *  - guest pastes host data: the agent creates it (consume = data) before
 *    asking and names it in REQUEST; the host attaches, answers XFER,
 *    writes and detaches; the agent reads and destroys it.
 * So a side only ever blocks on a queue pair its peer has attached: if the
 * peer dies, the hypervisor detaches it and the transfer fails (-EPIPE).
 * In the ring, the bytes are preceded by a struct ph_clip_stream_hdr
 * repeating status, format and size, so the reader checks it got what the
 * datagram announced.
 *
 * A transfer is whole or refused: status says why (policy, size, owner
 * gone, ...), the pasting application gets a refusal (SelectionNotify with
 * property None), both sides log it.  Nothing is ever cut short silently.
 *
 * All integers little-endian; every field is validated by the receiver.
 */
#ifndef PORTHOLE_BACKDOOR_CLIPBOARD_H
#define PORTHOLE_BACKDOOR_CLIPBOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PH_CLIP_MAGIC		0x50494c43u	/* "CLIP" */
#define PH_CLIP_VERSION		1

enum ph_clip_type {
	PH_CLIP_OFFER = 1,	/* struct ph_clip_offer; no formats = the owner let go */
	PH_CLIP_REQUEST = 2,	/* struct ph_clip_request */
	PH_CLIP_XFER = 3,	/* struct ph_clip_xfer: the answer to a REQUEST */
	PH_CLIP_DONE = 4,	/* host -> guest, struct ph_clip_xfer: host read it (or refused) */
	PH_CLIP_READY = 5,	/* host -> guest, struct ph_clip_xfer: attached, send the bytes */
	PH_CLIP_HELLO = 6,	/* host -> guest, header only: a bridge (re)attached; re-offer */
	PH_CLIP_PING = 7,	/* host -> guest, header only, ignored: while a paste waits for the
				 * agent, the send's result (DST_UNREACHABLE) tells the host it died */
};

enum ph_clip_selection {
	PH_CLIP_SEL_CLIPBOARD = 0,
	PH_CLIP_SEL_PRIMARY = 1,
	PH_CLIP_SEL_COUNT
};

/* Formats, by what the bytes are (each maps to several X targets). */
enum ph_clip_format {
	PH_CLIP_FMT_TEXT = 0,	/* UTF-8 text: UTF8_STRING, text/plain;charset=utf-8, STRING, TEXT */
	PH_CLIP_FMT_HTML = 1,	/* text/html */
	PH_CLIP_FMT_PNG = 2,	/* image/png */
	PH_CLIP_FMT_COUNT
};
#define PH_CLIP_FMT_BIT(f)	(1u << (f))
#define PH_CLIP_FMT_ALL		((1u << PH_CLIP_FMT_COUNT) - 1)

enum ph_clip_status {
	PH_CLIP_OK = 0,
	PH_CLIP_ERR_POLICY = 1,		/* sharing is off in this direction */
	PH_CLIP_ERR_TOO_LARGE = 2,	/* over the policy's max-size */
	PH_CLIP_ERR_NO_OWNER = 3,	/* the owner let go or vanished */
	PH_CLIP_ERR_CONVERT = 4,	/* the owner refused the format */
	PH_CLIP_ERR_STALE = 5,		/* the offer was replaced meanwhile */
	PH_CLIP_ERR_TIMEOUT = 6,	/* the owner application did not answer */
	PH_CLIP_ERR_TRANSPORT = 7,	/* queue pair failed, peer died mid-transfer */
	PH_CLIP_ERR_BUSY = 8,		/* too many transfers at once */
	PH_CLIP_ERR_NO_INPUT = 9,	/* guest read of host data with no host user paste */
	PH_CLIP_STATUS_COUNT
};

static inline const char *ph_clip_status_text(uint32_t s)
{
	static const char *const text[PH_CLIP_STATUS_COUNT] = {
		"ok", "sharing is off in this direction (policy)",
		"larger than the policy's max-size", "the owner let go or vanished",
		"the owner refused the format", "the offer was replaced",
		"the owner application did not answer in time",
		"the transfer channel failed (peer gone?)", "busy",
		"no paste by the host user (no key or button press just before)",
	};

	return s < PH_CLIP_STATUS_COUNT ? text[s] : "unknown error";
}

/* Every datagram starts with this. */
struct ph_clip_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;		/* enum ph_clip_type */
};

struct ph_clip_offer {
	struct ph_clip_hdr hdr;
	uint32_t selection;	/* enum ph_clip_selection */
	uint32_t serial;	/* the offerer's, increasing; requests name it */
	uint32_t formats;	/* PH_CLIP_FMT_BIT() set; 0: nothing to offer */
	uint32_t pad;
};

struct ph_clip_request {
	struct ph_clip_hdr hdr;
	uint32_t xfer;		/* chosen by the requestor, echoed */
	uint32_t selection;
	uint32_t serial;	/* of the offer being pasted */
	uint32_t format;	/* enum ph_clip_format */
	uint64_t max_size;	/* refuse (TOO_LARGE) above this */
	uint32_t qp_resource;	/* guest requests: the queue pair to write into */
	uint32_t flags;		/* PH_CLIP_REQ_*; 0 from older requestors */
};

/*
 * The requestor reads a streamed answer: the owner may answer XFER with
 * size PH_CLIP_SIZE_STREAMED before it has all the bytes, and then sends
 * them as they come from its X selection, in chunks (struct
 * ph_clip_chunk + `len` bytes) after the stream header, ending with a
 * chunk of length 0 whose status says whether the whole came (OK) or why
 * not.  Both sides then move the bytes while they read and write X, instead
 * of one after the other.  An owner that can't stream answers as before.
 */
#define PH_CLIP_REQ_STREAMED	1u
#define PH_CLIP_SIZE_STREAMED	UINT64_MAX

struct ph_clip_chunk {
	uint32_t len;		/* bytes that follow; 0: the end */
	uint32_t status;	/* the end's: enum ph_clip_status; 0 otherwise */
};
/* The most bytes in one chunk. */
#define PH_CLIP_CHUNK_MAX	(1u << 20)

struct ph_clip_xfer {
	struct ph_clip_hdr hdr;
	uint32_t xfer;
	uint32_t status;	/* enum ph_clip_status */
	uint32_t format;
	uint32_t qp_resource;	/* the queue pair carrying the bytes (OK only) */
	uint64_t size;		/* bytes that follow the stream header, or PH_CLIP_SIZE_STREAMED */
};

/* At the start of the queue pair stream. */
struct ph_clip_stream_hdr {
	uint32_t magic;
	uint32_t status;
	uint32_t format;
	uint32_t xfer;
	uint64_t size;
};

_Static_assert(sizeof(struct ph_clip_offer) == 24, "offer layout");
_Static_assert(sizeof(struct ph_clip_request) == 40, "request layout");
_Static_assert(sizeof(struct ph_clip_xfer) == 32, "xfer layout");
_Static_assert(sizeof(struct ph_clip_stream_hdr) == 24, "stream header layout");
_Static_assert(sizeof(struct ph_clip_chunk) == 8, "chunk layout");

/*
 * The transfer queue pair: 1 MiB each way is enough for several GB/s
 * (the reader drains while the writer fills).  Queue pair resource ids of
 * clipboard transfers are PH_CLIP_QP_BASE + (xfer & 0xFFFF) for guest
 * pastes (guest-chosen ids), PH_CLIP_QP_BASE + 0x10000 + (xfer & 0xFFFF)
 * for host pastes (host-chosen ids).
 */
#define PH_CLIP_QP_SIZE		(1u << 20)
#define PH_CLIP_QP_BASE		0x43500000u
/* A transfer whose peer moved no byte for this long fails (TRANSPORT): a stopped peer can't block us. */
#define PH_CLIP_STALL_MS	5000
/* Default policy cap (the hypervisor's, PH_CTL_CLIPBOARD_POLICY_GET). */
#define PH_CLIP_DEFAULT_MAX_SIZE (64ull << 20)
/*
 * Legacy backdoor copy/paste (BDOOR_CMD_GETSELLENGTH..SETNEXTPIECE, see
 * backdoor/proto.h): guests refuse lengths above VMware's
 * MAX_SELECTION_BUFFER_LENGTH; GETSELLENGTH's negative answers.
 */
#define PH_CLIP_LEGACY_MAX	65436u
#define PH_CLIP_LEGACY_NOT_READY	0xFFFFFFFFu	/* -1: nothing yet */
#define PH_CLIP_LEGACY_DONT_EXCHANGE	0xFFFFFFFEu	/* -2: sharing is off */
/* SETSELLENGTH / SETNEXTPIECE: 0 taken, -2 sharing off, -1 refused (size, no transfer open). */
#define PH_CLIP_LEGACY_REFUSED		0xFFFFFFFFu

/* Any clipboard datagram, as ph_clip_parse() returns it. */
union ph_clip_msg {
	struct ph_clip_hdr hdr;
	struct ph_clip_offer offer;
	struct ph_clip_request request;
	struct ph_clip_xfer xfer;
};

/*
 * Reading a streamed answer (PH_CLIP_SIZE_STREAMED) as it arrives, the
 * same on both sides: ph_clip_rx_next() says where the next bytes go
 * (the caller fills exactly that from its queue pair, in as many steps as
 * it takes), ph_clip_rx_filled() checks them once they are all there.
 * The writer is not trusted: every header is checked against the limits.
 */
enum ph_clip_rx_event {
	PH_CLIP_RX_MORE,	/* go on filling what ph_clip_rx_next() says */
	PH_CLIP_RX_CHUNK,	/* rx->chunk holds rx->chunk_len bytes of data */
	PH_CLIP_RX_END,		/* the end: rx->end_status says how it went */
	PH_CLIP_RX_BAD,		/* malformed or over rx->max: drop the transfer */
};

struct ph_clip_rx {
	int stage;
	uint32_t xfer, format;	/* what the stream header must say */
	uint64_t max, total;	/* data bytes allowed, and so far */
	struct ph_clip_stream_hdr hdr;
	struct ph_clip_chunk chdr;
	uint8_t *chunk;		/* PH_CLIP_CHUNK_MAX bytes, the caller's */
	uint32_t chunk_len;
	uint32_t end_status;
	bool too_large;		/* PH_CLIP_RX_BAD because the data went past `max` */
};

void ph_clip_rx_init(struct ph_clip_rx *rx, uint32_t xfer, uint32_t format, uint64_t max,
		     uint8_t *chunk_buf);
/* Where the next `*len` bytes of the stream go. */
void ph_clip_rx_next(struct ph_clip_rx *rx, void **buf, size_t *len);
enum ph_clip_rx_event ph_clip_rx_filled(struct ph_clip_rx *rx);

/*
 * Writing one: `len` bytes as chunks (header, then at most
 * PH_CLIP_CHUNK_MAX bytes each), handed to put() piece by piece; the end
 * chunk is { 0, status }.
 */
void ph_clip_frame(const void *data, size_t len, void (*put)(void *ctx, const void *p, size_t n),
		   void *ctx);

/* Both sides build and check messages here (backdoor/clipboard.c). */
void ph_clip_hdr_init(struct ph_clip_hdr *h, uint16_t type);
struct ph_clip_offer ph_clip_offer_make(uint32_t selection, uint32_t serial, uint32_t formats);
struct ph_clip_xfer ph_clip_xfer_make(uint16_t type, uint32_t xfer, uint32_t status,
				      uint32_t format, uint32_t qp_resource, uint64_t size);
/*
 * A received datagram copied into *m when it is a well-formed message of
 * this protocol version: the right magic, exactly the size of its type,
 * and an offer's selection in range.  Its type (enum ph_clip_type), or -1
 * for anything else (the peer is not trusted; drop it).
 */
int ph_clip_parse(const void *buf, size_t len, union ph_clip_msg *m);

#endif
