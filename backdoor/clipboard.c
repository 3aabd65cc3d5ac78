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
