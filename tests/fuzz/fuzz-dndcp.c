// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: VMware copy/paste version 4 (backdoor/dndcp.c and the
 * device side in hypervisor/devices/copypaste.c), where VMware's own host
 * escapes were (CVE-2016-7461, CVE-2017-4901).
 *
 * Input: records of a kind byte, a u16 length and that many bytes:
 *   kind % 6 == 0  a packet into a bare reassembly state machine (cap from
 *                  kind: small or 4 MiB), checked against a shadow copy
 *             1    "copypaste.transport <bytes>" from guest context
 *                  1 + ((kind >> 3) & 1) into a real VM
 *             2    the guest registers copy/paste version 3 or 4 (kind & 8),
 *                  from context 1, or asks vmx.capability.copypaste_version
 *             3    host: a piece of host text or image
 *                  (PH_CTL_CLIPBOARD_HOST_TEXT, the bytes as its payload)
 *             4    host: poll the guest's text (or image, kind & 16) from an
 *                  offset (PH_CTL_CLIPBOARD_GUEST_TEXT), or set max-size
 *                  (kind & 8)
 *             5    the bytes as a serialized clipboard; or guest context 1
 *                  exits (kind & 8)
 *
 * Checked: the state machine's invariants after every packet (RECEIVING
 * holds a buffer of exactly the announced total, under the cap, partly
 * filled; IDLE holds none unless it just returned a message), a message
 * returned whole equals the pieces taken since it started, every RPCI
 * reply starts "1 " or "0 ", a parsed clipboard's items lie inside the
 * input, the guest text the host reads is within the policy's size, status
 * text well formed.
 */
#include <string.h>

#include "backdoor/dndcp.h"
#include "hypervisor/control-proto.h"
#include "hypervisor/devices/copypaste.h"
#include "fuzz-vm.h"

static void check_rx(const struct dndcp_rx *rx, int r)
{
	FUZZ_CHECK(rx->cap <= DNDCP_MAX_BINARY);
	if (rx->state == DNDCP_RX_RECEIVING) {
		FUZZ_CHECK(rx->buf);
		FUZZ_CHECK(rx->first.binary_size <= rx->cap);
		FUZZ_CHECK(rx->first.binary_size > DNDCP_MAX_PAYLOAD);
		FUZZ_CHECK(rx->received > 0 && rx->received < rx->first.binary_size);
	} else if (r != DNDCP_RX_DONE) {
		FUZZ_CHECK(!rx->buf && rx->received == 0);
	}
}

/* One packet into the bare state machine; `shadow` is what its message should hold. */
static void bare_packet(struct dndcp_rx *rx, GByteArray *shadow, const uint8_t *pkt, size_t len)
{
	struct dndcp_hdr msg, h;
	const uint8_t *bin = NULL;
	const char *why = NULL;
	bool was_receiving = rx->state == DNDCP_RX_RECEIVING;
	uint32_t session = rx->first.session;
	int r = dndcp_rx_packet(rx, pkt, len, 1, &msg, &bin, &why);

	check_rx(rx, r);
	if (r == DNDCP_RX_ERROR) {
		FUZZ_CHECK(why && *why);
		g_byte_array_set_size(shadow, 0);
		return;
	}
	memcpy(&h, pkt, sizeof(h));
	if (h.binary_size <= DNDCP_MAX_PAYLOAD) {
		FUZZ_CHECK(r == DNDCP_RX_DONE && msg.binary_size == h.binary_size);
		FUZZ_CHECK(!h.binary_size || !memcmp(bin, pkt + DNDCP_HDR_SIZE, h.binary_size));
		g_byte_array_set_size(shadow, 0);
		return;
	}
	/* A piece: the start of a message (a new one, or a new session) or its next part. */
	if (!was_receiving || h.session != session)
		g_byte_array_set_size(shadow, 0);
	g_byte_array_append(shadow, pkt + DNDCP_HDR_SIZE, h.payload_size);
	if (r == DNDCP_RX_DONE) {
		FUZZ_CHECK(msg.binary_size == shadow->len);
		FUZZ_CHECK(!memcmp(bin, shadow->data, shadow->len));
		g_byte_array_set_size(shadow, 0);
	} else {
		FUZZ_CHECK(rx->received == shadow->len);
		FUZZ_CHECK(!memcmp(rx->buf, shadow->data, shadow->len));
	}
}

static void check_reply(const GString *reply)
{
	FUZZ_CHECK(reply->len >= 2 && (reply->str[0] == '0' || reply->str[0] == '1') &&
		   reply->str[1] == ' ');
}

static void check_clip(const uint8_t *buf, size_t len)
{
	struct dndcp_clip clip;
	const char *why;

	if (dndcp_clip_parse(buf, len, &clip, &why))
		return;
	for (int f = 0; f < DNDCP_FMT_COUNT; f++) {
		if (!clip.exists[f])
			continue;
		FUZZ_CHECK(clip.item[f] >= buf && clip.size[f] <= len &&
			   clip.item[f] + clip.size[f] <= buf + len);
	}
	FUZZ_CHECK(dndcp_clip_text_len(&clip) <= clip.size[DNDCP_FMT_TEXT]);
}

/* The host reads the guest's text: within the policy's size, the header well formed. */
static void poll_guest_text(struct vm *vm, unsigned long offset, bool png)
{
	g_autoptr(GString) out = g_string_new(NULL);
	char arg[32];
	unsigned long long serial, total;

	g_snprintf(arg, sizeof(arg), "%lu%s", offset, png ? " png" : "");
	pthread_mutex_lock(&vm->lock);
	if (copypaste_control(vm, PH_CTL_CLIPBOARD_GUEST_TEXT, arg, strlen(arg), out) == 0) {
		FUZZ_CHECK(sscanf(out->str, "%llu %llu", &serial, &total) == 2);
		FUZZ_CHECK(total <= DNDCP_MAX_BINARY && out->len < PH_CTL_MAX_PAYLOAD);
	}
	pthread_mutex_unlock(&vm->lock);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	struct vm *vm = fuzz_vm_new(false);
	struct dndcp_rx rx;
	GByteArray *shadow = g_byte_array_new();

	dndcp_rx_init(&rx, DNDCP_MAX_BINARY);
	while (in.left) {
		unsigned int kind = (unsigned int)fuzz_take(&in, 1);
		size_t want = (size_t)fuzz_take(&in, 2);
		const uint8_t *bytes;
		size_t len = fuzz_take_bytes(&in, want, &bytes);
		/* A copy of exactly len bytes, so ASan sees any over-read. */
		g_autofree uint8_t *copy = g_malloc(len ? len : 1);
		g_autoptr(GString) reply = g_string_new(NULL);
		g_autoptr(GString) msg = g_string_new(NULL);

		memcpy(copy, bytes, len);
		switch (kind % 6) {
		case 0:
			/* A small cap now and then: the header check must hold there too. */
			rx.cap = kind & 8 ? 200000 : DNDCP_MAX_BINARY;
			bare_packet(&rx, shadow, copy, len);
			break;
		case 1:
			g_string_append(msg, DNDCP_RPC_CP " ");
			g_string_append_len(msg, (const char *)copy, (gssize)len);
			pthread_mutex_lock(&vm->lock);
			FUZZ_CHECK(copypaste_rpci(vm, 1 + ((kind >> 3) & 1), msg->str, msg->len,
						  reply));
			pthread_mutex_unlock(&vm->lock);
			check_reply(reply);
			break;
		case 2:
			pthread_mutex_lock(&vm->lock);
			if (kind & 16) {
				FUZZ_CHECK(copypaste_rpci(vm, 1, "vmx.capability.copypaste_version",
							  32, reply));
				check_reply(reply);
			} else {
				copypaste_guest_version(vm, 1, kind & 8 ? "4" : "3");
			}
			pthread_mutex_unlock(&vm->lock);
			break;
		case 3: {
			/* Binary, NUL-terminated after its length, as the control server hands it. */
			g_autofree char *piece = g_malloc(len + 1);

			memcpy(piece, copy, len);
			piece[len] = '\0';
			pthread_mutex_lock(&vm->lock);
			copypaste_control(vm, PH_CTL_CLIPBOARD_HOST_TEXT, piece, len, reply);
			pthread_mutex_unlock(&vm->lock);
			break;
		}
		case 4:
			if (kind & 8) {
				g_string_printf(msg, "max-size=%u", (unsigned int)(len * 997));
				pthread_mutex_lock(&vm->lock);
				copypaste_control(vm, PH_CTL_CLIPBOARD_POLICY_SET, msg->str, msg->len, reply);
				pthread_mutex_unlock(&vm->lock);
			} else {
				poll_guest_text(vm, len ? copy[0] * 4096ul : 0, kind & 16);
			}
			break;
		case 5:
			if (kind & 8) {
				pthread_mutex_lock(&vm->lock);
				copypaste_owner_exited(vm, 1);
				pthread_mutex_unlock(&vm->lock);
			} else {
				check_clip(copy, len);
			}
			break;
		}
	}
	poll_guest_text(vm, 0, false);
	poll_guest_text(vm, 0, true);
	fuzz_check_vm_status(vm);
	dndcp_rx_reset(&rx);
	g_byte_array_free(shadow, TRUE);
	vm_destroy(vm);
	return 0;
}
