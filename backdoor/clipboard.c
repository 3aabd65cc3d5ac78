// SPDX-License-Identifier: MIT
/* Clipboard datagrams, built and checked once for both sides (clipboard.h). */
#include <string.h>

#include "clipboard.h"

void ph_clip_hdr_init(struct ph_clip_hdr *h, uint16_t type)
{
	h->magic = PH_CLIP_MAGIC;
	h->version = PH_CLIP_VERSION;
	h->type = type;
}

struct ph_clip_offer ph_clip_offer_make(uint32_t selection, uint32_t serial, uint32_t formats)
{
	struct ph_clip_offer o = { .selection = selection, .serial = serial, .formats = formats };

	ph_clip_hdr_init(&o.hdr, PH_CLIP_OFFER);
	return o;
}

struct ph_clip_xfer ph_clip_xfer_make(uint16_t type, uint32_t xfer, uint32_t status,
				      uint32_t format, uint32_t qp_resource, uint64_t size)
{
	struct ph_clip_xfer x = {
		.xfer = xfer, .status = status, .format = format,
		.qp_resource = qp_resource, .size = size,
	};

	ph_clip_hdr_init(&x.hdr, type);
	return x;
}

static size_t type_size(uint16_t type)
{
	switch (type) {
	case PH_CLIP_OFFER:
		return sizeof(struct ph_clip_offer);
	case PH_CLIP_REQUEST:
		return sizeof(struct ph_clip_request);
	case PH_CLIP_XFER:
	case PH_CLIP_DONE:
	case PH_CLIP_READY:
		return sizeof(struct ph_clip_xfer);
	case PH_CLIP_HELLO:
	case PH_CLIP_PING:
		return sizeof(struct ph_clip_hdr);
	default:
		return 0;
	}
}

int ph_clip_parse(const void *buf, size_t len, union ph_clip_msg *m)
{
	struct ph_clip_hdr h;

	if (len < sizeof(h))
		return -1;
	memcpy(&h, buf, sizeof(h));
	if (h.magic != PH_CLIP_MAGIC || h.version != PH_CLIP_VERSION ||
	    !type_size(h.type) || len != type_size(h.type))
		return -1;
	memset(m, 0, sizeof(*m));
	memcpy(m, buf, len);
	if (h.type == PH_CLIP_OFFER && m->offer.selection >= PH_CLIP_SEL_COUNT)
		return -1;
	return h.type;
}

/* ---- streamed answers ---- */

void ph_clip_frame(const void *data, size_t len, void (*put)(void *ctx, const void *p, size_t n),
		   void *ctx)
{
	const uint8_t *p = data;

	while (len) {
		struct ph_clip_chunk ch = { len < PH_CLIP_CHUNK_MAX ? (uint32_t)len : PH_CLIP_CHUNK_MAX,
					    0 };

		put(ctx, &ch, sizeof(ch));
		put(ctx, p, ch.len);
		p += ch.len;
		len -= ch.len;
	}
}

enum { RX_HDR, RX_CHUNK_HDR, RX_BODY, RX_DONE };

void ph_clip_rx_init(struct ph_clip_rx *rx, uint32_t xfer, uint32_t format, uint64_t max,
		     uint8_t *chunk_buf)
{
	memset(rx, 0, sizeof(*rx));
	rx->stage = RX_HDR;
	rx->xfer = xfer;
	rx->format = format;
	rx->max = max;
	rx->chunk = chunk_buf;
}

void ph_clip_rx_next(struct ph_clip_rx *rx, void **buf, size_t *len)
{
	switch (rx->stage) {
	case RX_HDR:
		*buf = &rx->hdr;
		*len = sizeof(rx->hdr);
		break;
	case RX_CHUNK_HDR:
		*buf = &rx->chdr;
		*len = sizeof(rx->chdr);
		break;
	case RX_BODY:
		*buf = rx->chunk;
		*len = rx->chdr.len;
		break;
	default:
		*buf = NULL;
		*len = 0;
		break;
	}
}

enum ph_clip_rx_event ph_clip_rx_filled(struct ph_clip_rx *rx)
{
	switch (rx->stage) {
	case RX_HDR:
		if (rx->hdr.magic != PH_CLIP_MAGIC || rx->hdr.status != PH_CLIP_OK ||
		    rx->hdr.xfer != rx->xfer || rx->hdr.format != rx->format ||
		    rx->hdr.size != PH_CLIP_SIZE_STREAMED)
			break;
		rx->stage = RX_CHUNK_HDR;
		return PH_CLIP_RX_MORE;
	case RX_CHUNK_HDR:
		if (!rx->chdr.len) {
			rx->end_status = rx->chdr.status < PH_CLIP_STATUS_COUNT ? rx->chdr.status :
										 PH_CLIP_ERR_TRANSPORT;
			rx->stage = RX_DONE;
			return PH_CLIP_RX_END;
		}
		if (rx->chdr.len > PH_CLIP_CHUNK_MAX || rx->chdr.status)
			break;
		if (rx->chdr.len > rx->max - rx->total) {
			rx->too_large = true;
			break;
		}
		rx->stage = RX_BODY;
		return PH_CLIP_RX_MORE;
	case RX_BODY:
		rx->chunk_len = rx->chdr.len;
		rx->total += rx->chdr.len;
		rx->stage = RX_CHUNK_HDR;
		return PH_CLIP_RX_CHUNK;
	}
	rx->stage = RX_DONE;
	return PH_CLIP_RX_BAD;
}
