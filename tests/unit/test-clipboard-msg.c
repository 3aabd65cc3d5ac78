// SPDX-License-Identifier: MIT
/* Clipboard datagrams: what ph_clip_parse() lets through from a peer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "backdoor/clipboard.h"

static void test_round_trip(void **state)
{
	struct ph_clip_offer o = ph_clip_offer_make(PH_CLIP_SEL_PRIMARY, 7, PH_CLIP_FMT_ALL);
	struct ph_clip_xfer x = ph_clip_xfer_make(PH_CLIP_DONE, 3, PH_CLIP_OK, PH_CLIP_FMT_PNG, 9, 42);
	struct ph_clip_hdr hello;
	union ph_clip_msg m;

	assert_int_equal(ph_clip_parse(&o, sizeof(o), &m), PH_CLIP_OFFER);
	assert_int_equal(m.offer.selection, PH_CLIP_SEL_PRIMARY);
	assert_int_equal(m.offer.serial, 7);
	assert_int_equal(ph_clip_parse(&x, sizeof(x), &m), PH_CLIP_DONE);
	assert_int_equal(m.xfer.size, 42);
	assert_int_equal(m.xfer.qp_resource, 9);
	ph_clip_hdr_init(&hello, PH_CLIP_HELLO);
	assert_int_equal(ph_clip_parse(&hello, sizeof(hello), &m), PH_CLIP_HELLO);
}

static void test_refused(void **state)
{
	struct ph_clip_offer o = ph_clip_offer_make(PH_CLIP_SEL_CLIPBOARD, 1, 1);
	struct ph_clip_offer bad;
	uint8_t big[sizeof(o) + 8] = { 0 };
	union ph_clip_msg m;

	assert_int_equal(ph_clip_parse(&o, 0, &m), -1);
	assert_int_equal(ph_clip_parse(&o, sizeof(o.hdr) - 1, &m), -1);
	assert_int_equal(ph_clip_parse(&o, sizeof(o) - 1, &m), -1);	/* short for its type */
	memcpy(big, &o, sizeof(o));
	assert_int_equal(ph_clip_parse(big, sizeof(big), &m), -1);	/* long for its type */
	bad = o;
	bad.hdr.magic ^= 1;
	assert_int_equal(ph_clip_parse(&bad, sizeof(bad), &m), -1);
	bad = o;
	bad.hdr.version = PH_CLIP_VERSION + 1;
	assert_int_equal(ph_clip_parse(&bad, sizeof(bad), &m), -1);
	bad = o;
	bad.hdr.type = 999;
	assert_int_equal(ph_clip_parse(&bad, sizeof(bad), &m), -1);
	bad = o;
	bad.selection = PH_CLIP_SEL_COUNT;
	assert_int_equal(ph_clip_parse(&bad, sizeof(bad), &m), -1);
}

/* Feed `len` stream bytes to rx as a queue pair would, in pieces of `step`; the last event. */
static enum ph_clip_rx_event feed(struct ph_clip_rx *rx, const void *bytes, size_t len,
				  size_t step, size_t *chunks, size_t *data)
{
	const uint8_t *p = bytes;
	enum ph_clip_rx_event ev = PH_CLIP_RX_MORE;
	size_t off = 0;

	while (len) {
		void *buf;
		size_t want, n;

		ph_clip_rx_next(rx, &buf, &want);
		n = want - off < step ? want - off : step;
		n = n < len ? n : len;
		memcpy((uint8_t *)buf + off, p, n);
		p += n;
		len -= n;
		off += n;
		if (off < want)
			continue;
		off = 0;
		ev = ph_clip_rx_filled(rx);
		if (ev == PH_CLIP_RX_CHUNK) {
			(*chunks)++;
			*data += rx->chunk_len;
		}
		if (ev == PH_CLIP_RX_END || ev == PH_CLIP_RX_BAD)
			break;
	}
	return ev;
}

/* A stream: header, chunks of `sizes` (0-terminated list), end with `status`. */
static size_t build(uint8_t *out, uint32_t xfer, const uint32_t *sizes, uint32_t status)
{
	struct ph_clip_stream_hdr h = { PH_CLIP_MAGIC, PH_CLIP_OK, PH_CLIP_FMT_TEXT, xfer,
					PH_CLIP_SIZE_STREAMED };
	size_t n = 0;

	memcpy(out, &h, sizeof(h));
	n += sizeof(h);
	for (; *sizes; sizes++) {
		struct ph_clip_chunk c = { *sizes, 0 };

		memcpy(out + n, &c, sizeof(c));
		n += sizeof(c);
		memset(out + n, 'x', *sizes);
		n += *sizes;
	}
	{
		struct ph_clip_chunk end = { 0, status };

		memcpy(out + n, &end, sizeof(end));
		n += sizeof(end);
	}
	return n;
}

static void test_stream(void **state)
{
	static uint8_t stream[3 << 20], chunk[PH_CLIP_CHUNK_MAX];
	const uint32_t sizes[] = { 1, PH_CLIP_CHUNK_MAX, 777, 0 };
	struct ph_clip_rx rx;
	size_t n, chunks, data;

	/* Whole, in any piece size: every chunk, then the end with its status. */
	n = build(stream, 5, sizes, PH_CLIP_OK);
	for (size_t step = 1; step <= n; step = step * 7 + 3) {
		chunks = data = 0;
		ph_clip_rx_init(&rx, 5, PH_CLIP_FMT_TEXT, UINT64_MAX, chunk);
		assert_int_equal(feed(&rx, stream, n, step, &chunks, &data), PH_CLIP_RX_END);
		assert_int_equal(chunks, 3);
		assert_int_equal(data, 1 + PH_CLIP_CHUNK_MAX + 777);
		assert_int_equal(rx.end_status, PH_CLIP_OK);
	}
	/* The writer's error status; one out of range is a transport failure. */
	n = build(stream, 5, (const uint32_t[]){ 10, 0 }, PH_CLIP_ERR_NO_OWNER);
	chunks = data = 0;
	ph_clip_rx_init(&rx, 5, PH_CLIP_FMT_TEXT, UINT64_MAX, chunk);
	assert_int_equal(feed(&rx, stream, n, n, &chunks, &data), PH_CLIP_RX_END);
	assert_int_equal(rx.end_status, PH_CLIP_ERR_NO_OWNER);
	n = build(stream, 5, (const uint32_t[]){ 0 }, 12345);
	ph_clip_rx_init(&rx, 5, PH_CLIP_FMT_TEXT, UINT64_MAX, chunk);
	assert_int_equal(feed(&rx, stream, n, n, &chunks, &data), PH_CLIP_RX_END);
	assert_int_equal(rx.end_status, PH_CLIP_ERR_TRANSPORT);
}

struct sink {
	uint8_t *buf;
	size_t len;
};

static void put(void *ctx, const void *p, size_t n)
{
	struct sink *k = ctx;

	memcpy(k->buf + k->len, p, n);
	k->len += n;
}

/* What ph_clip_frame() writes, ph_clip_rx reads back: the same bytes, in 1 MiB chunks. */
static void test_frame_round_trip(void **state)
{
	static uint8_t stream[3 << 20], data[(5 << 20) / 2], chunk[PH_CLIP_CHUNK_MAX];
	struct ph_clip_stream_hdr h = { PH_CLIP_MAGIC, PH_CLIP_OK, PH_CLIP_FMT_HTML, 9,
					PH_CLIP_SIZE_STREAMED };
	struct ph_clip_chunk end = { 0, PH_CLIP_OK };
	struct sink k = { stream, 0 };
	struct ph_clip_rx rx;
	size_t got = 0, chunks = 0;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + (i >> 12));
	put(&k, &h, sizeof(h));
	ph_clip_frame(data, sizeof(data), put, &k);
	put(&k, &end, sizeof(end));
	assert_int_equal(k.len, sizeof(h) + sizeof(data) + 4 * sizeof(end));
	ph_clip_rx_init(&rx, 9, PH_CLIP_FMT_HTML, sizeof(data), chunk);
	for (size_t off = 0;;) {
		void *buf;
		size_t len;
		enum ph_clip_rx_event ev;

		ph_clip_rx_next(&rx, &buf, &len);
		memcpy(buf, stream + off, len);
		off += len;
		ev = ph_clip_rx_filled(&rx);
		if (ev == PH_CLIP_RX_CHUNK) {
			assert_memory_equal(chunk, data + got, rx.chunk_len);
			got += rx.chunk_len;
			chunks++;
		}
		if (ev == PH_CLIP_RX_END)
			break;
		assert_int_not_equal(ev, PH_CLIP_RX_BAD);
	}
	assert_int_equal(got, sizeof(data));
	assert_int_equal(chunks, 3);
	assert_int_equal(rx.end_status, PH_CLIP_OK);
}

static void test_stream_refused(void **state)
{
	static uint8_t stream[1 << 16], chunk[PH_CLIP_CHUNK_MAX];
	struct ph_clip_rx rx;
	size_t n, chunks = 0, data = 0;
	struct ph_clip_chunk *c;

	/* Another transfer's header, or another format. */
	n = build(stream, 5, (const uint32_t[]){ 10, 0 }, PH_CLIP_OK);
	ph_clip_rx_init(&rx, 6, PH_CLIP_FMT_TEXT, UINT64_MAX, chunk);
	assert_int_equal(feed(&rx, stream, n, n, &chunks, &data), PH_CLIP_RX_BAD);
	ph_clip_rx_init(&rx, 5, PH_CLIP_FMT_PNG, UINT64_MAX, chunk);
	assert_int_equal(feed(&rx, stream, n, n, &chunks, &data), PH_CLIP_RX_BAD);
	/* Past max: refused before its bytes, and said so. */
	n = build(stream, 5, (const uint32_t[]){ 600, 600, 0 }, PH_CLIP_OK);
	chunks = data = 0;
	ph_clip_rx_init(&rx, 5, PH_CLIP_FMT_TEXT, 1000, chunk);
	assert_int_equal(feed(&rx, stream, n, n, &chunks, &data), PH_CLIP_RX_BAD);
	assert_int_equal(chunks, 1);
	assert_true(rx.too_large);
	/* A chunk over PH_CLIP_CHUNK_MAX, or a data chunk with a status. */
	n = build(stream, 5, (const uint32_t[]){ 10, 0 }, PH_CLIP_OK);
	c = (struct ph_clip_chunk *)(stream + sizeof(struct ph_clip_stream_hdr));
	c->len = PH_CLIP_CHUNK_MAX + 1;
	ph_clip_rx_init(&rx, 5, PH_CLIP_FMT_TEXT, UINT64_MAX, chunk);
	assert_int_equal(feed(&rx, stream, n, n, &chunks, &data), PH_CLIP_RX_BAD);
	assert_false(rx.too_large);
	c->len = 10;
	c->status = PH_CLIP_ERR_BUSY;
	ph_clip_rx_init(&rx, 5, PH_CLIP_FMT_TEXT, UINT64_MAX, chunk);
	assert_int_equal(feed(&rx, stream, n, n, &chunks, &data), PH_CLIP_RX_BAD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_stream_refused),
		cmocka_unit_test(test_frame_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
