// SPDX-License-Identifier: MIT
/*
 * A hostile clipboard peer for the host bridge (porthole-viewer), speaking
 * backdoor/clipboard.h itself instead of porthole-agent (run it in a VM
 * without an agent: it maps the agent's resources).
 *
 *   clip-hostile trickle SIZE INTERVAL_MS
 *       offer CLIPBOARD and PRIMARY text; answer the host's paste of
 *       CLIPBOARD with SIZE bytes, then move one byte every INTERVAL_MS
 *       until the host gives up.  Prints "offered", "ready", "byte N", and
 *       at the end "host-done STATUS" (its DONE) or "host-detached".
 *   clip-hostile stream KIND COUNT
 *       offer as trickle does; answer the host's paste with a streamed
 *       answer that breaks the rules: KIND badchunk (a chunk over
 *       PH_CLIP_CHUNK_MAX), datastatus (a data chunk with a status),
 *       overmax (COUNT chunks of 1000 bytes); then "host-done STATUS" or
 *       "host-detached".
 *   clip-hostile fetch GO_FILE COUNT
 *       wait for the host's offer ("offer SERIAL FORMATS"), then, once
 *       GO_FILE exists ("-": at once), ask for the host's CLIPBOARD text
 *       COUNT times in a row, as a guest polling in the background would:
 *       "xfer N status S size BYTES" each, and "data BYTES" when it came.
 *
 * Exit status 0 when the run went as described (whatever the host
 * answered: the e2e test judges that), 1 on a local failure.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backdoor/clipboard.h"
#include "backdoor/desktop.h"
#include "guest-additions/lib/vmci-guest.h"

static struct phg_vmci vmci;
static const struct vmci_handle host = { VMCI_HOST_CONTEXT_ID, PH_DESKTOP_RES_CLIPBOARD };

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void send_msg(const void *m, size_t len)
{
	int64_t r = phg_vmci_send(&vmci, host, PH_DESKTOP_RES_CLIPBOARD, m, len);

	if (r < 0)
		say("send failed: VMCI error %lld", (long long)r);
}

/*
 * The next clipboard message from the host within timeout_ms: its type, 0
 * for a hypervisor event (a queue pair detach: *detached set), -1 on timeout.
 */
static int next_msg(union ph_clip_msg *m, int timeout_ms, bool *detached)
{
	int64_t end = now_ms() + timeout_ms;

	for (;;) {
		int64_t left = end - now_ms();
		struct phg_dg d;
		int type = -1;

		if (left < 0 || phg_vmci_recv(&vmci, &d, (int)left) < 0)
			return -1;
		if (d.hdr.src.context == VMCI_HYPERVISOR_CONTEXT_ID) {
			struct vmci_event_qp ev;

			if (d.hdr.payload_size >= sizeof(ev)) {
				memcpy(&ev, d.payload, sizeof(ev));
				if (ev.event == VMCI_EVENT_QP_PEER_DETACH && detached)
					*detached = true;
			}
			free(d.payload);
			return 0;
		}
		if (d.hdr.src.context == VMCI_HOST_CONTEXT_ID &&
		    d.hdr.dst.resource == PH_DESKTOP_RES_CLIPBOARD)
			type = ph_clip_parse(d.payload, d.hdr.payload_size, m);
		free(d.payload);
		if (type > 0)
			return type;
	}
}

static void offer(uint32_t serial)
{
	for (uint32_t sel = 0; sel < PH_CLIP_SEL_COUNT; sel++) {
		struct ph_clip_offer o =
			ph_clip_offer_make(sel, serial, PH_CLIP_FMT_BIT(PH_CLIP_FMT_TEXT));

		send_msg(&o, sizeof(o));
	}
}

/*
 * Offer, wait for the host's paste of CLIPBOARD, answer XFER with `size`
 * (PH_CLIP_SIZE_STREAMED: a streamed answer) and wait for READY: 0, or 1
 * (said why).
 */
static int answer_host_paste(uint64_t size, struct phg_qp *qp, uint32_t *xfer)
{
	union ph_clip_msg m;
	bool detached = false;
	int type;

	offer(1);
	say("offered");
	/* The host's paste of our CLIPBOARD. */
	for (;;) {
		type = next_msg(&m, 60000, NULL);
		if (type < 0) {
			say("no paste from the host");
			return 1;
		}
		if (type == PH_CLIP_HELLO)
			offer(1);
		if (type == PH_CLIP_REQUEST && m.request.selection == PH_CLIP_SEL_CLIPBOARD)
			break;
	}
	*xfer = m.request.xfer;
	if (size == PH_CLIP_SIZE_STREAMED && !(m.request.flags & PH_CLIP_REQ_STREAMED)) {
		say("the host did not ask for a streamed answer");
		return 1;
	}
	if (phg_qp_create(&vmci, qp, PH_CLIP_QP_BASE + 0x10000 + (*xfer & 0xFFFF),
			  PH_CLIP_QP_SIZE, VMCI_PAGE_SIZE, host) < 0) {
		say("cannot create a queue pair");
		return 1;
	}
	{
		struct ph_clip_xfer x = ph_clip_xfer_make(PH_CLIP_XFER, *xfer, PH_CLIP_OK,
							  PH_CLIP_FMT_TEXT, qp->handle.resource, size);

		send_msg(&x, sizeof(x));
	}
	do {
		type = next_msg(&m, 20000, &detached);
	} while (type >= 0 && type != PH_CLIP_READY);
	if (type != PH_CLIP_READY) {
		say("the host never said READY");
		return 1;
	}
	say("ready");
	{
		struct ph_clip_stream_hdr h = { PH_CLIP_MAGIC, PH_CLIP_OK, PH_CLIP_FMT_TEXT, *xfer,
						size };

		if (phg_qp_write_all(&vmci, qp, &h, sizeof(h))) {
			say("cannot write the stream header");
			return 1;
		}
	}
	return 0;
}

/*
 * The host's DONE (its status said) within timeout_ms; its detach comes
 * first, the DONE right after: "host-detached" only when none follows.
 */
static void await_host_end(int timeout_ms)
{
	union ph_clip_msg m;
	bool detached = false;
	int64_t end = now_ms() + timeout_ms;
	int type;

	while (now_ms() < end) {
		type = next_msg(&m, (int)(end - now_ms()), &detached);
		if (type == PH_CLIP_DONE) {
			say("host-done %u", m.xfer.status);
			return;
		}
		if (detached && end > now_ms() + 2000)
			end = now_ms() + 2000;
		if (type < 0)
			break;
	}
	say(detached ? "host-detached" : "no end from the host");
}

/*
 * A streamed answer that breaks the rules: "badchunk" (a chunk header over
 * PH_CLIP_CHUNK_MAX), "overmax" (COUNT chunks of 1000 bytes, past the
 * policy's max-size the test set), "datastatus" (a data chunk carrying a
 * status), then the host's verdict.
 */
static int stream_bad(const char *kind, int count)
{
	static uint8_t bytes[1000];
	struct phg_qp qp;
	uint32_t xfer = 0;
	int r = 0;

	memset(bytes, 'x', sizeof(bytes));
	if (answer_host_paste(PH_CLIP_SIZE_STREAMED, &qp, &xfer))
		return 1;
	if (!strcmp(kind, "badchunk")) {
		struct ph_clip_chunk ch = { PH_CLIP_CHUNK_MAX + 1, 0 };

		r = phg_qp_write_all(&vmci, &qp, &ch, sizeof(ch));
	} else if (!strcmp(kind, "datastatus")) {
		struct ph_clip_chunk ch = { sizeof(bytes), PH_CLIP_ERR_BUSY };

		r = phg_qp_write_all(&vmci, &qp, &ch, sizeof(ch));
	} else {
		for (int i = 0; i < count && !r; i++) {
			struct ph_clip_chunk ch = { sizeof(bytes), 0 };

			r = phg_qp_write_all(&vmci, &qp, &ch, sizeof(ch));
			if (!r)
				r = phg_qp_write_all(&vmci, &qp, bytes, sizeof(bytes));
		}
	}
	say("written %s (%d)", kind, r);
	await_host_end(20000);
	phg_qp_destroy(&vmci, &qp);
	return 0;
}

static int trickle(uint64_t size, int interval_ms)
{
	struct phg_qp qp;
	union ph_clip_msg m;
	bool detached = false;
	uint32_t xfer = 0;
	uint64_t sent = 0;
	int type;

	if (answer_host_paste(size, &qp, &xfer))
		return 1;
	/* One byte, then silence until the next one; the host's DONE or detach ends it. */
	while (sent < size) {
		int64_t next = now_ms() + interval_ms;

		if (phg_qp_write_all(&vmci, &qp, "x", 1)) {
			say("host-detached");
			return 0;
		}
		say("byte %llu", (unsigned long long)++sent);
		while (now_ms() < next) {
			type = next_msg(&m, (int)(next - now_ms()), &detached);
			if (type == PH_CLIP_DONE) {
				say("host-done %u", m.xfer.status);
				phg_qp_destroy(&vmci, &qp);
				return 0;
			}
			if (detached) {
				say("host-detached");
				phg_qp_destroy(&vmci, &qp);
				return 0;
			}
		}
	}
	say("all %llu bytes sent", (unsigned long long)size);
	phg_qp_destroy(&vmci, &qp);
	return 0;
}

static int fetch(const char *go_file, int count)
{
	union ph_clip_msg m;
	uint32_t serial;
	int type;

	/* The host's offer: sent when the host copies (the test copies after "listening"). */
	say("listening");
	do {
		type = next_msg(&m, 60000, NULL);
		if (type < 0) {
			say("no offer from the host");
			return 1;
		}
	} while (type != PH_CLIP_OFFER || m.offer.selection != PH_CLIP_SEL_CLIPBOARD ||
		 !(m.offer.formats & PH_CLIP_FMT_BIT(PH_CLIP_FMT_TEXT)));
	serial = m.offer.serial;
	say("offer %u %u", serial, m.offer.formats);
	while (strcmp(go_file, "-") && access(go_file, F_OK))
		usleep(10000);
	for (int i = 1; i <= count; i++) {
		struct ph_clip_request r = { 0 };
		struct phg_qp qp;

		if (phg_qp_create(&vmci, &qp, PH_CLIP_QP_BASE + (uint32_t)i, VMCI_PAGE_SIZE,
				  PH_CLIP_QP_SIZE, host) < 0) {
			say("cannot create a queue pair");
			return 1;
		}
		qp.stall_ms = PH_CLIP_STALL_MS;
		ph_clip_hdr_init(&r.hdr, PH_CLIP_REQUEST);
		r.xfer = (uint32_t)i;
		r.selection = PH_CLIP_SEL_CLIPBOARD;
		r.serial = serial;
		r.format = PH_CLIP_FMT_TEXT;
		r.max_size = UINT64_MAX;
		r.qp_resource = qp.handle.resource;
		send_msg(&r, sizeof(r));
		do {
			type = next_msg(&m, 10000, NULL);
		} while (type >= 0 && !(type == PH_CLIP_XFER && m.xfer.xfer == (uint32_t)i));
		if (type < 0) {
			say("xfer %d: no answer", i);
			phg_qp_destroy(&vmci, &qp);
			continue;
		}
		say("xfer %d status %u size %llu", i, m.xfer.status,
		    (unsigned long long)m.xfer.size);
		if (m.xfer.status == PH_CLIP_OK && m.xfer.size < 65536) {
			struct ph_clip_stream_hdr h;
			char buf[65536];

			if (!phg_qp_read_all(&vmci, &qp, &h, sizeof(h)) && h.size == m.xfer.size &&
			    !phg_qp_read_all(&vmci, &qp, buf, h.size))
				say("data %llu", (unsigned long long)h.size);
		}
		phg_qp_destroy(&vmci, &qp);
	}
	return 0;
}

int main(int argc, char **argv)
{
	int64_t r;

	if (argc != 4 || (strcmp(argv[1], "trickle") && strcmp(argv[1], "fetch") &&
			  strcmp(argv[1], "stream"))) {
		fprintf(stderr, "usage: clip-hostile trickle SIZE INTERVAL_MS | stream KIND COUNT | fetch GO_FILE COUNT\n");
		return 2;
	}
	if (phg_vmci_open(&vmci) < 0) {
		say("no VMCI in this guest");
		return 1;
	}
	r = phg_vmci_map(PH_DESKTOP_RES_CLIPBOARD);
	if (r < 0) {
		say("cannot map the clipboard resource (VMCI error %lld): is an agent running?",
		    (long long)r);
		return 1;
	}
	/* As the agent does: key presses the viewer forwards are delivered to us. */
	phg_vmci_map(PH_DESKTOP_RES_INPUT);
	if (!strcmp(argv[1], "trickle"))
		return trickle(strtoull(argv[2], NULL, 10), atoi(argv[3]));
	if (!strcmp(argv[1], "stream"))
		return stream_bad(argv[2], atoi(argv[3]));
	return fetch(argv[2], atoi(argv[3]));
}
