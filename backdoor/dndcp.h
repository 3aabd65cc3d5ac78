/* SPDX-License-Identifier: MIT */
/*
 * VMware's copy/paste protocol version 4, as stock open-vm-tools' desktop
 * tools (`vmtoolsd -n vmusr`, its dndcp plugin) speak it with a VMware
 * host.  Facts from open-vm-tools (services/plugins/dndcp: dnd/dndCPMsgV4.h,
 * dnd/dnd.h, dnd/dndClipboard.c, dndGuest/rpcV4Util.cpp,
 * dndGuest/dndCPTransportGuestRpc.cpp); the code is ours.
 *
 * Transport: GuestRPC.  The guest sends "copypaste.transport <packet>" as
 * an RPCI message; the host sends the same text as a TCLO command to the
 * desktop tools ("toolbox-dnd").  Each packet is a 56-byte little-endian
 * header (struct dndcp_hdr) and at most DNDCP_MAX_PAYLOAD bytes of the
 * message's binary.  A binary larger than one packet's payload goes in
 * pieces: the sender sends the first (payload_offset 0), the receiver
 * answers DNDCP_CMD_REQUEST_NEXT, the sender sends the next, and so on; a
 * message is whole when payload_offset + payload_size == binary_size.
 *
 * Copy/paste commands: the host asks for the guest's clipboard
 * (CP_CMD_REQUEST_CLIPBOARD), the guest answers CP_CMD_SEND_CLIPBOARD with
 * a serialized clipboard; the host gives the guest its clipboard with
 * CP_CMD_RECV_CLIPBOARD.  Capabilities are exchanged by PING / PING_REPLY
 * (param3 = capability bits).
 *
 * The serialized clipboard: u32 format count, then for each format
 * 1..count-1 a 1-byte "exists", a u32 size and, when it exists, that many
 * bytes; then a 1-byte "changed" flag.  Text is UTF-8 with its NUL.
 *
 * Nothing here trusts a byte: dndcp_rx_packet() is the one reassembly
 * state machine (VMware's host escapes, CVE-2016-7461 and CVE-2017-4901,
 * were in this spot), dndcp_clip_parse() reads a clipboard with bounds
 * checks.  No allocation exceeds the cap the caller gives.
 */
#ifndef PORTHOLE_BACKDOOR_DNDCP_H
#define PORTHOLE_BACKDOOR_DNDCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNDCP_RPC_CP		"copypaste.transport"
#define DNDCP_RPC_DND		"dnd.transport"
/* The copy/paste protocol version a host answers to vmx.capability.copypaste_version. */
#define DNDCP_VERSION		4

/* A packet, header included: close to 64 KiB, VMware's GuestRPC message size. */
#define DNDCP_MAX_PACKET	((1u << 16) - 100u)
#define DNDCP_HDR_SIZE		56u
#define DNDCP_MAX_PAYLOAD	(DNDCP_MAX_PACKET - DNDCP_HDR_SIZE)
/* The largest message binary either side accepts (the guest's own limit). */
#define DNDCP_MAX_BINARY	(1u << 22)

enum dndcp_cmd {
	DNDCP_CMD_PING = 1,
	DNDCP_CMD_PING_REPLY = 2,
	DNDCP_CMD_REQUEST_NEXT = 3,
	DNDCP_CMD_REPLY = 4,
	CP_CMD_REQUEST_CLIPBOARD = 2000,
	CP_CMD_REQUEST_FILES = 2001,
	CP_CMD_RECV_CLIPBOARD = 2002,
	CP_CMD_SEND_CLIPBOARD = 2003,
};

enum dndcp_status {
	DNDCP_STATUS_SUCCESS = 0,
	DNDCP_STATUS_ERROR = 1,
	DNDCP_STATUS_INVALID_PACKET = 5,
};

/* Message type and source, as the host fills them (the guest's are not checked). */
#define DNDCP_TYPE_CP		2
#define DNDCP_SRC_HOST		1

/* Capability bits (PING's param3). */
#define DNDCP_CAP_VALID			(1u << 0)
#define DNDCP_CAP_CP			(1u << 2)
#define DNDCP_CAP_PLAIN_TEXT_CP		(1u << 4)
#define DNDCP_CAP_RTF_CP		(1u << 6)
#define DNDCP_CAP_IMAGE_CP		(1u << 8)
/* What this host does: copy/paste of text, RTF and PNG images; no files, no DnD. */
#define DNDCP_HOST_CAPS	(DNDCP_CAP_VALID | DNDCP_CAP_CP | DNDCP_CAP_PLAIN_TEXT_CP | \
			 DNDCP_CAP_RTF_CP | DNDCP_CAP_IMAGE_CP)

/* Clipboard formats (VMware's DND_CPFORMAT numbers). */
enum dndcp_format {
	DNDCP_FMT_TEXT = 1,
	DNDCP_FMT_RTF = 3,
	DNDCP_FMT_PNG = 6,
	DNDCP_FMT_COUNT = 11,	/* CPFORMAT_MAX: what a serialized clipboard names */
};

struct dndcp_hdr {
	uint32_t cmd;
	uint32_t type;
	uint32_t src;
	uint32_t session;
	uint32_t status;
	uint32_t param[6];	/* REQUEST_NEXT: cmd, binary size, offset; PING: major, minor, caps */
	uint32_t binary_size;
	uint32_t payload_offset;
	uint32_t payload_size;
} __attribute__((packed));

_Static_assert(sizeof(struct dndcp_hdr) == DNDCP_HDR_SIZE, "VMware's DnDCPMsgHdrV4");

/*
 * Reassembly of one direction's messages: ONE state machine.
 *   IDLE --first piece of a big message--> RECEIVING
 *   RECEIVING --the next piece, exactly where the last ended--> RECEIVING
 *   RECEIVING --the last piece--> IDLE (the message is returned)
 *   any --a bad packet, a piece that lies (other total, other session,
 *         other command, another offset)--> IDLE, buffer freed, error
 * A single-packet message passes straight through in IDLE (and, in
 * RECEIVING, abandons the big one first, as the guest would).
 */
enum dndcp_rx_state { DNDCP_RX_IDLE, DNDCP_RX_RECEIVING };

struct dndcp_rx {
	enum dndcp_rx_state state;
	struct dndcp_hdr first;	/* the first piece's header (copied: not guest memory) */
	uint8_t *buf;		/* first.binary_size bytes */
	uint32_t received;
	uint32_t cap;		/* the largest binary accepted (<= DNDCP_MAX_BINARY) */
	uint64_t last_ns;	/* when the last piece came: the caller expires stalls */
};

enum dndcp_rx_result {
	DNDCP_RX_ERROR = -1,	/* refused: *why says why; any message in progress is dropped */
	DNDCP_RX_MORE = 0,	/* a piece was taken: ask for the next (REQUEST_NEXT) */
	DNDCP_RX_DONE = 1,	/* a whole message: *msg and *binary (owned by rx until the next call) */
};

void dndcp_rx_init(struct dndcp_rx *rx, uint32_t cap);
/* Back to IDLE, the buffer freed (a stall, a version switch, the guest left). */
void dndcp_rx_reset(struct dndcp_rx *rx);
int dndcp_rx_packet(struct dndcp_rx *rx, const void *packet, size_t len, uint64_t now_ns,
		    struct dndcp_hdr *msg, const uint8_t **binary, const char **why);

/*
 * Sending one message in pieces: dndcp_tx_start() keeps a copy of the
 * binary, each dndcp_tx_next() writes the next packet into `out` (at least
 * DNDCP_MAX_PACKET bytes) and returns its length, 0 when all was sent.
 * dndcp_tx_request_ok() checks a REQUEST_NEXT names this message and the
 * offset reached.
 */
struct dndcp_tx {
	struct dndcp_hdr hdr;
	uint8_t *binary;
	uint32_t sent;
	bool active;
};

int dndcp_tx_start(struct dndcp_tx *tx, const struct dndcp_hdr *hdr, const void *binary,
		   uint32_t size);
size_t dndcp_tx_next(struct dndcp_tx *tx, uint8_t *out);
bool dndcp_tx_request_ok(const struct dndcp_tx *tx, const struct dndcp_hdr *req);
void dndcp_tx_reset(struct dndcp_tx *tx);

/* A parsed clipboard: pointers into the caller's buffer. */
struct dndcp_clip {
	const uint8_t *item[DNDCP_FMT_COUNT];
	uint32_t size[DNDCP_FMT_COUNT];
	bool exists[DNDCP_FMT_COUNT];
	bool changed;
};

/* 0, or -1 with *why (a size past the end, trailing bytes). */
int dndcp_clip_parse(const uint8_t *buf, size_t len, struct dndcp_clip *clip, const char **why);
/*
 * Serialize a clipboard with the given items (NULL: absent) into a new
 * malloc'd buffer; the text gets its NUL.  NULL when it would exceed
 * DNDCP_MAX_BINARY.
 */
uint8_t *dndcp_clip_build(const void *text, uint32_t text_len, const void *rtf, uint32_t rtf_len,
			  const void *png, uint32_t png_len, bool changed, uint32_t *size);
/* The text item without its trailing NUL (and cut at an inner one): its length. */
uint32_t dndcp_clip_text_len(const struct dndcp_clip *clip);

#endif
