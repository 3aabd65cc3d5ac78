// SPDX-License-Identifier: MIT
/*
 * VMware copy/paste version 4: packets, reassembly, the clipboard format.
 * See dndcp.h.  Little-endian host assumed, as everywhere in backdoor/.
 */
#include <stdlib.h>
#include <string.h>

#include "dndcp.h"

static uint32_t get_le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

void dndcp_rx_init(struct dndcp_rx *rx, uint32_t cap)
{
	memset(rx, 0, sizeof(*rx));
	rx->cap = cap < DNDCP_MAX_BINARY ? cap : DNDCP_MAX_BINARY;
}

void dndcp_rx_reset(struct dndcp_rx *rx)
{
	free(rx->buf);
	rx->buf = NULL;
	rx->received = 0;
	rx->state = DNDCP_RX_IDLE;
	memset(&rx->first, 0, sizeof(rx->first));
}

static int rx_fail(struct dndcp_rx *rx, const char **why, const char *reason)
{
	dndcp_rx_reset(rx);
	*why = reason;
	return DNDCP_RX_ERROR;
}

/* The checks every packet passes alone, on our copy of its header. */
static const char *packet_invalid(const struct dndcp_hdr *h, size_t len, uint32_t cap)
{
	if (h->payload_size > DNDCP_MAX_PAYLOAD || DNDCP_HDR_SIZE + h->payload_size != len)
		return "payload size does not match the packet";
	if (h->binary_size > cap)
		return "message larger than the clipboard size limit";
	/* binary_size <= 4 MiB: no sum below can wrap. */
	if (h->payload_offset > h->binary_size ||
	    h->payload_size > h->binary_size - h->payload_offset)
		return "piece lies outside the message";
	return NULL;
}

int dndcp_rx_packet(struct dndcp_rx *rx, const void *packet, size_t len, uint64_t now_ns,
		    struct dndcp_hdr *msg, const uint8_t **binary, const char **why)
{
	const uint8_t *payload = (const uint8_t *)packet + DNDCP_HDR_SIZE;
	struct dndcp_hdr h;
	const char *bad;

	/* A message returned last time is over: its buffer goes now. */
	if (rx->state == DNDCP_RX_IDLE && rx->buf)
		dndcp_rx_reset(rx);
	if (len < DNDCP_HDR_SIZE || len > DNDCP_MAX_PACKET)
		return rx_fail(rx, why, "packet size out of range");
	memcpy(&h, packet, sizeof(h));	/* read once: every check below is on our copy */
	bad = packet_invalid(&h, len, rx->cap);
	if (bad)
		return rx_fail(rx, why, bad);

	if (h.binary_size <= DNDCP_MAX_PAYLOAD) {
		/* A whole message in one packet; it ends any big one (as the guest does). */
		if (h.payload_offset != 0 || h.payload_size != h.binary_size)
			return rx_fail(rx, why, "single packet is not the whole message");
		dndcp_rx_reset(rx);
		*msg = h;
		*binary = payload;
		return DNDCP_RX_DONE;
	}
	/* A piece of a big message: no empty pieces, so every step makes progress. */
	if (h.payload_size == 0)
		return rx_fail(rx, why, "empty piece of a big message");
	if (rx->state == DNDCP_RX_RECEIVING && h.session != rx->first.session &&
	    h.payload_offset == 0)
		dndcp_rx_reset(rx);	/* a new session starts over, as VMware's host allows */
	if (rx->state == DNDCP_RX_IDLE) {
		if (h.payload_offset != 0)
			return rx_fail(rx, why, "piece of a message that never started");
		rx->buf = malloc(h.binary_size);
		if (!rx->buf)
			return rx_fail(rx, why, "out of memory");
		rx->first = h;
		rx->received = 0;
		rx->state = DNDCP_RX_RECEIVING;
	} else if (h.session != rx->first.session || h.cmd != rx->first.cmd) {
		return rx_fail(rx, why, "piece of another message");
	} else if (h.binary_size != rx->first.binary_size) {
		return rx_fail(rx, why, "piece changes the message's total size");
	} else if (h.payload_offset != rx->received) {
		return rx_fail(rx, why, "piece overlaps or leaves a gap");
	}
	memcpy(rx->buf + rx->received, payload, h.payload_size);
	rx->received += h.payload_size;
	rx->last_ns = now_ns;
	if (rx->received < rx->first.binary_size)
		return DNDCP_RX_MORE;
	*msg = rx->first;
	msg->payload_offset = 0;
	msg->payload_size = rx->received;
	*binary = rx->buf;
	rx->state = DNDCP_RX_IDLE;	/* buf stays until the next call or reset */
	return DNDCP_RX_DONE;
}

int dndcp_tx_start(struct dndcp_tx *tx, const struct dndcp_hdr *hdr, const void *binary,
		   uint32_t size)
{
	dndcp_tx_reset(tx);
	if (size > DNDCP_MAX_BINARY)
		return -1;
	tx->hdr = *hdr;
	tx->hdr.binary_size = size;
	if (size) {
		tx->binary = malloc(size);
		if (!tx->binary)
			return -1;
		memcpy(tx->binary, binary, size);
	}
	tx->sent = 0;
	tx->active = true;
	return 0;
}

size_t dndcp_tx_next(struct dndcp_tx *tx, uint8_t *out)
{
	uint32_t piece;
	struct dndcp_hdr h;

	if (!tx->active)
		return 0;
	piece = tx->hdr.binary_size - tx->sent;
	if (piece > DNDCP_MAX_PAYLOAD)
		piece = DNDCP_MAX_PAYLOAD;
	h = tx->hdr;
	h.payload_offset = tx->sent;
	h.payload_size = piece;
	memcpy(out, &h, sizeof(h));
	if (piece)
		memcpy(out + DNDCP_HDR_SIZE, tx->binary + tx->sent, piece);
	tx->sent += piece;
	if (tx->sent == tx->hdr.binary_size)
		tx->active = false;	/* all out; the binary goes at the next start or reset */
	return DNDCP_HDR_SIZE + piece;
}

bool dndcp_tx_request_ok(const struct dndcp_tx *tx, const struct dndcp_hdr *req)
{
	return tx->active && req->session == tx->hdr.session && req->param[0] == tx->hdr.cmd &&
	       req->param[1] == tx->hdr.binary_size && req->param[2] == tx->sent;
}

void dndcp_tx_reset(struct dndcp_tx *tx)
{
	free(tx->binary);
	memset(tx, 0, sizeof(*tx));
}

int dndcp_clip_parse(const uint8_t *buf, size_t len, struct dndcp_clip *clip, const char **why)
{
	size_t pos = 4;
	uint32_t count, formats;

	memset(clip, 0, sizeof(*clip));
	if (len < 4) {
		*why = "clipboard too short";
		return -1;
	}
	count = get_le32(buf);
	formats = count < DNDCP_FMT_COUNT ? count : DNDCP_FMT_COUNT;
	for (uint32_t fmt = 1; fmt < formats; fmt++) {
		bool exists;
		uint32_t size;

		if (len - pos < 5) {
			*why = "clipboard item header past the end";
			return -1;
		}
		exists = buf[pos] != 0;
		size = get_le32(buf + pos + 1);
		pos += 5;
		if (!exists || !size)
			continue;
		if (size > len - pos) {
			*why = "clipboard item size past the end";
			return -1;
		}
		clip->exists[fmt] = true;
		clip->item[fmt] = buf + pos;
		clip->size[fmt] = size;
		pos += size;
	}
	/* A sender with more formats than we know leaves their items unread, as VMware does. */
	if (count > DNDCP_FMT_COUNT || len - pos == 0) {
		clip->changed = true;
	} else if (len - pos == 1) {
		clip->changed = buf[pos] != 0;
	} else {
		*why = "trailing bytes after the clipboard";
		return -1;
	}
	return 0;
}

uint8_t *dndcp_clip_build(const void *text, uint32_t text_len, const void *rtf, uint32_t rtf_len,
			  const void *png, uint32_t png_len, bool changed, uint32_t *size)
{
	const void *data[DNDCP_FMT_COUNT] = { 0 };
	uint64_t len[DNDCP_FMT_COUNT] = { 0 }, total = 4 + 5 * (DNDCP_FMT_COUNT - 1) + 1;
	uint8_t *out, *p;

	data[DNDCP_FMT_TEXT] = text;
	len[DNDCP_FMT_TEXT] = text ? (uint64_t)text_len + 1 : 0;
	data[DNDCP_FMT_RTF] = rtf;
	len[DNDCP_FMT_RTF] = rtf ? rtf_len : 0;
	data[DNDCP_FMT_PNG] = png;
	len[DNDCP_FMT_PNG] = png ? png_len : 0;
	for (int f = 1; f < DNDCP_FMT_COUNT; f++)
		total += len[f];
	if (total > DNDCP_MAX_BINARY)
		return NULL;
	out = p = malloc(total);
	if (!out)
		return NULL;
	put_le32(p, DNDCP_FMT_COUNT);
	p += 4;
	for (int f = 1; f < DNDCP_FMT_COUNT; f++) {
		*p++ = data[f] != NULL;
		put_le32(p, (uint32_t)len[f]);
		p += 4;
		if (f == DNDCP_FMT_TEXT && text) {
			memcpy(p, text, text_len);
			p[text_len] = '\0';
		} else if (data[f]) {
			memcpy(p, data[f], len[f]);
		}
		p += len[f];
	}
	*p = changed;
	*size = (uint32_t)total;
	return out;
}

uint32_t dndcp_clip_text_len(const struct dndcp_clip *clip)
{
	const uint8_t *nul;

	if (!clip->exists[DNDCP_FMT_TEXT])
		return 0;
	nul = memchr(clip->item[DNDCP_FMT_TEXT], '\0', clip->size[DNDCP_FMT_TEXT]);
	return nul ? (uint32_t)(nul - clip->item[DNDCP_FMT_TEXT]) : clip->size[DNDCP_FMT_TEXT];
}
