// SPDX-License-Identifier: MIT
/*
 * VMware copy/paste version 4 (backdoor/dndcp.c): the reassembly state
 * machine against a hostile sender (pieces that lie about the total,
 * overlap, leave gaps, switch session or command, exceed the cap, never
 * finish), piecewise sending, and the serialized clipboard.  The device
 * side, through real GuestRPC channels, is in test-rpc.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "backdoor/dndcp.h"

#define BIG	(3u * DNDCP_MAX_PAYLOAD + 1000u)	/* four pieces */

static uint8_t pkt[DNDCP_MAX_PACKET];
static uint8_t *binary;

static int setup(void **state)
{
	/* (Room past BIG: pieces that lie about their place still copy real bytes.) */
	binary = malloc(BIG + DNDCP_MAX_PAYLOAD);
	for (uint32_t i = 0; i < BIG + DNDCP_MAX_PAYLOAD; i++)
		binary[i] = (uint8_t)(i * 7 + 3);
	return 0;
}

static int teardown(void **state)
{
	free(binary);
	return 0;
}

/* A piece of a message of `total` bytes (binary[] is its content). */
static size_t piece(uint32_t session, uint32_t cmd, uint32_t total, uint32_t offset, uint32_t size)
{
	struct dndcp_hdr h = { .cmd = cmd, .session = session, .binary_size = total,
			       .payload_offset = offset, .payload_size = size };

	memcpy(pkt, &h, sizeof(h));
	memcpy(pkt + DNDCP_HDR_SIZE, binary + offset, size);
	return DNDCP_HDR_SIZE + size;
}

static int feed(struct dndcp_rx *rx, size_t len, struct dndcp_hdr *msg, const uint8_t **bin,
		const char **why)
{
	return dndcp_rx_packet(rx, pkt, len, 1, msg, bin, why);
}

static void test_pieces_reassemble(void **state)
{
	struct dndcp_rx rx;
	struct dndcp_hdr msg;
	const uint8_t *bin;
	const char *why;
	uint32_t off = 0;

	dndcp_rx_init(&rx, DNDCP_MAX_BINARY);
	while (off + DNDCP_MAX_PAYLOAD < BIG) {
		assert_int_equal(feed(&rx, piece(7, CP_CMD_SEND_CLIPBOARD, BIG, off, DNDCP_MAX_PAYLOAD),
				      &msg, &bin, &why), DNDCP_RX_MORE);
		off += DNDCP_MAX_PAYLOAD;
		assert_int_equal(rx.received, off);
	}
	assert_int_equal(feed(&rx, piece(7, CP_CMD_SEND_CLIPBOARD, BIG, off, BIG - off), &msg, &bin,
			      &why), DNDCP_RX_DONE);
	assert_int_equal(msg.binary_size, BIG);
	assert_int_equal(msg.cmd, CP_CMD_SEND_CLIPBOARD);
	assert_memory_equal(bin, binary, BIG);
	/* A single-packet message after it: the big one's buffer is gone. */
	assert_int_equal(feed(&rx, piece(8, DNDCP_CMD_PING, 10, 0, 10), &msg, &bin, &why),
			 DNDCP_RX_DONE);
	assert_null(rx.buf);
	assert_memory_equal(bin, binary, 10);
	dndcp_rx_reset(&rx);
}

/* Every lie drops the message in progress and its buffer: IDLE again. */
static void expect_refused(struct dndcp_rx *rx, size_t len, const char *reason)
{
	struct dndcp_hdr msg;
	const uint8_t *bin;
	const char *why = NULL;

	assert_int_equal(feed(rx, len, &msg, &bin, &why), DNDCP_RX_ERROR);
	assert_non_null(why);
	assert_non_null(strstr(why, reason));
	assert_int_equal(rx->state, DNDCP_RX_IDLE);
	assert_null(rx->buf);
	assert_int_equal(rx->received, 0);
}

static void start_big(struct dndcp_rx *rx)
{
	struct dndcp_hdr msg;
	const uint8_t *bin;
	const char *why;

	dndcp_rx_init(rx, DNDCP_MAX_BINARY);
	assert_int_equal(feed(rx, piece(7, CP_CMD_SEND_CLIPBOARD, BIG, 0, DNDCP_MAX_PAYLOAD), &msg,
			      &bin, &why), DNDCP_RX_MORE);
	assert_int_equal(rx->state, DNDCP_RX_RECEIVING);
}

static void test_piece_lies_about_total(void **state)
{
	struct dndcp_rx rx;

	start_big(&rx);
	/* The same offset, a larger total: it would write past the first buffer. */
	expect_refused(&rx, piece(7, CP_CMD_SEND_CLIPBOARD, BIG + 100000, DNDCP_MAX_PAYLOAD,
				  DNDCP_MAX_PAYLOAD), "total size");
	start_big(&rx);
	expect_refused(&rx, piece(7, CP_CMD_SEND_CLIPBOARD, BIG - 1000, DNDCP_MAX_PAYLOAD,
				  DNDCP_MAX_PAYLOAD), "total size");
}

static void test_piece_overlaps_or_gaps(void **state)
{
	struct dndcp_rx rx;

	start_big(&rx);
	expect_refused(&rx, piece(7, CP_CMD_SEND_CLIPBOARD, BIG, DNDCP_MAX_PAYLOAD - 16,
				  DNDCP_MAX_PAYLOAD), "overlaps");
	start_big(&rx);
	expect_refused(&rx, piece(7, CP_CMD_SEND_CLIPBOARD, BIG, 2 * DNDCP_MAX_PAYLOAD,
				  DNDCP_MAX_PAYLOAD), "gap");
}

static void test_piece_of_another_message(void **state)
{
	struct dndcp_rx rx;
	struct dndcp_hdr msg;
	const uint8_t *bin;
	const char *why;

	start_big(&rx);
	expect_refused(&rx, piece(7, CP_CMD_RECV_CLIPBOARD, BIG, DNDCP_MAX_PAYLOAD,
				  DNDCP_MAX_PAYLOAD), "another message");
	start_big(&rx);
	expect_refused(&rx, piece(9, CP_CMD_SEND_CLIPBOARD, BIG, DNDCP_MAX_PAYLOAD,
				  DNDCP_MAX_PAYLOAD), "another message");
	/* A piece of nothing: no message started. */
	dndcp_rx_init(&rx, DNDCP_MAX_BINARY);
	expect_refused(&rx, piece(7, CP_CMD_SEND_CLIPBOARD, BIG, DNDCP_MAX_PAYLOAD,
				  DNDCP_MAX_PAYLOAD), "never started");
	/* A new session's first piece starts over (as VMware's host allows). */
	start_big(&rx);
	assert_int_equal(feed(&rx, piece(8, CP_CMD_SEND_CLIPBOARD, BIG, 0, DNDCP_MAX_PAYLOAD),
			      &msg, &bin, &why), DNDCP_RX_MORE);
	assert_int_equal(rx.first.session, 8);
	assert_int_equal(rx.received, DNDCP_MAX_PAYLOAD);
	dndcp_rx_reset(&rx);
}

static void test_bad_single_packets(void **state)
{
	struct dndcp_rx rx;
	size_t len;

	dndcp_rx_init(&rx, DNDCP_MAX_BINARY);
	/* Header says more payload than the packet has, and less. */
	len = piece(1, DNDCP_CMD_PING, 100, 0, 100);
	expect_refused(&rx, len - 1, "payload size");
	((struct dndcp_hdr *)pkt)->payload_size = 99;
	expect_refused(&rx, len, "payload size");
	/* A one-packet message that is not all there (VMware's would leave bytes unset). */
	expect_refused(&rx, piece(1, DNDCP_CMD_PING, 100, 0, 50), "not the whole message");
	/* A piece past its message's end. */
	expect_refused(&rx, piece(1, DNDCP_CMD_PING, BIG, BIG - 10, 100), "outside the message");
	/* Empty pieces of a big message would make no progress. */
	expect_refused(&rx, piece(1, DNDCP_CMD_PING, BIG, 0, 0), "empty piece");
	expect_refused(&rx, 10, "packet size");
	expect_refused(&rx, DNDCP_MAX_PACKET + 1, "packet size");
}

/* The cap is checked on the header, before anything is allocated. */
static void test_cap(void **state)
{
	struct dndcp_rx rx;
	struct dndcp_hdr h = { .cmd = CP_CMD_SEND_CLIPBOARD, .binary_size = 0xFFFFFFF0u,
			       .payload_size = 8 };

	dndcp_rx_init(&rx, 100000);
	expect_refused(&rx, piece(1, CP_CMD_SEND_CLIPBOARD, 100001 + DNDCP_MAX_PAYLOAD, 0,
				  DNDCP_MAX_PAYLOAD), "limit");
	memcpy(pkt, &h, sizeof(h));
	expect_refused(&rx, DNDCP_HDR_SIZE + 8, "limit");
	dndcp_rx_init(&rx, 0xFFFFFFFFu);
	assert_int_equal(rx.cap, DNDCP_MAX_BINARY);
}

/* A sender that never finishes holds one bounded buffer until reset (the caller's timer). */
static void test_never_finishing(void **state)
{
	struct dndcp_rx rx;

	start_big(&rx);
	assert_int_equal(rx.last_ns, 1);
	assert_non_null(rx.buf);
	dndcp_rx_reset(&rx);
	assert_null(rx.buf);
	assert_int_equal(rx.state, DNDCP_RX_IDLE);
	/* The next piece of the dropped message is refused. */
	expect_refused(&rx, piece(7, CP_CMD_SEND_CLIPBOARD, BIG, DNDCP_MAX_PAYLOAD,
				  DNDCP_MAX_PAYLOAD), "never started");
}

static void test_tx_pieces(void **state)
{
	struct dndcp_tx tx = { 0 };
	struct dndcp_hdr h = { .cmd = CP_CMD_RECV_CLIPBOARD, .session = 3 }, req = h, got;
	struct dndcp_rx rx;
	const uint8_t *bin;
	const char *why;
	uint8_t out[DNDCP_MAX_PACKET];
	size_t n;
	int r;

	dndcp_rx_init(&rx, DNDCP_MAX_BINARY);
	assert_int_equal(dndcp_tx_start(&tx, &h, binary, BIG), 0);
	for (;;) {
		n = dndcp_tx_next(&tx, out);
		assert_true(n > DNDCP_HDR_SIZE && n <= DNDCP_MAX_PACKET);
		r = dndcp_rx_packet(&rx, out, n, 1, &got, &bin, &why);
		if (r == DNDCP_RX_DONE)
			break;
		assert_int_equal(r, DNDCP_RX_MORE);
		req.param[0] = h.cmd;
		req.param[1] = BIG;
		req.param[2] = rx.received;
		assert_true(dndcp_tx_request_ok(&tx, &req));
		req.param[2] = rx.received - 1;	/* a request for another offset */
		assert_false(dndcp_tx_request_ok(&tx, &req));
	}
	assert_memory_equal(bin, binary, BIG);
	assert_int_equal(dndcp_tx_next(&tx, out), 0);
	assert_int_equal(dndcp_tx_start(&tx, &h, binary, DNDCP_MAX_BINARY + 1), -1);
	dndcp_tx_reset(&tx);
	dndcp_rx_reset(&rx);
}

static void test_clipboard_roundtrip(void **state)
{
	uint32_t size;
	uint8_t *c = dndcp_clip_build("hello", 5, "{\\rtf1}", 7, "\x89PNG", 4, true, &size);
	struct dndcp_clip clip;
	const char *why;

	assert_non_null(c);
	assert_int_equal(dndcp_clip_parse(c, size, &clip, &why), 0);
	assert_true(clip.changed);
	assert_int_equal(dndcp_clip_text_len(&clip), 5);
	assert_memory_equal(clip.item[DNDCP_FMT_TEXT], "hello", 6);	/* with its NUL */
	assert_int_equal(clip.size[DNDCP_FMT_RTF], 7);
	assert_int_equal(clip.size[DNDCP_FMT_PNG], 4);
	assert_false(clip.exists[2]);
	/* An item running past the end, and bytes after the "changed" flag. */
	assert_int_equal(dndcp_clip_parse(c, size - 2, &clip, &why), -1);
	c[4 + 1] = 0xFF;	/* the text's size becomes 0xFFFF: more than follows */
	c[4 + 2] = 0xFF;
	assert_int_equal(dndcp_clip_parse(c, size, &clip, &why), -1);
	assert_non_null(strstr(why, "past the end"));
	free(c);
	c = dndcp_clip_build(NULL, 0, NULL, 0, NULL, 0, false, &size);
	c = realloc(c, size + 1);
	c[size] = 0;
	assert_int_equal(dndcp_clip_parse(c, size + 1, &clip, &why), -1);
	assert_non_null(strstr(why, "trailing"));
	assert_int_equal(dndcp_clip_parse(c, size, &clip, &why), 0);
	assert_false(clip.changed);
	assert_false(clip.exists[DNDCP_FMT_TEXT]);
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pieces_reassemble),
		cmocka_unit_test(test_piece_lies_about_total),
		cmocka_unit_test(test_piece_overlaps_or_gaps),
		cmocka_unit_test(test_piece_of_another_message),
		cmocka_unit_test(test_bad_single_packets),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_never_finishing),
		cmocka_unit_test(test_tx_pieces),
		cmocka_unit_test(test_clipboard_roundtrip),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
