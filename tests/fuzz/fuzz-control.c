// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the control server (hypervisor/control.c), request
 * parsing and dispatch exactly as porthole-hv runs them: a real VM and
 * control_start(), a client connected over a socketpair
 * (control_add_client), packets written to it and the GLib main loop run
 * until idle.  The guest can put text into what the host reads (RPCI over
 * the I/O bus), so status replies carry hostile strings.
 *
 * Input: the engine byte, then records of a kind byte, a u16 length and
 * that many bytes:
 *   (kind & 3) == 0  a well-formed request: op ops[(kind >> 2) % N], payload
 *             1  raw bytes as one packet (malformed ones drop the client)
 *             2  an RPCI command from the guest
 *             3  the main loop's idle work, then a new client if dropped
 *
 * Checked: every reply is a well-formed packet (magic, version, length,
 * status >= 0) answering a request of this client with the same op and
 * seq; every well-formed request gets exactly one reply, TCLO ones at the
 * latest when the VM stops; a malformed packet drops the client without a
 * reply; status replies hold well-formed "key=value" lines, each key once
 * (a guest can't forge lines), within a packet.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hypervisor/control-proto.h"
#include "hypervisor/control.h"
#include "fuzz-vm.h"

static const uint16_t ops[] = {
	PH_CTL_STATUS, PH_CTL_INFO_GET, PH_CTL_INFO_SET, PH_CTL_TCLO, PH_CTL_MEMORY,
	PH_CTL_RESET_CHANNELS, PH_CTL_STOP, PH_CTL_CLOCK, PH_CTL_INFO_LIST, PH_CTL_VMCI_BIND,
	PH_CTL_VMCI_UNBIND, PH_CTL_VMCI_SEND, PH_CTL_VMCI_QP_ATTACH, PH_CTL_VMCI_QP_DETACH,
	PH_CTL_VMCI_DOORBELL, PH_CTL_VMCI_DATAGRAM, PH_CTL_POINTER, PH_CTL_POINTER_STATUS,
	PH_CTL_CLIPBOARD_POLICY_GET, PH_CTL_CLIPBOARD_POLICY_SET, PH_CTL_CLIPBOARD_LEGACY_SET,
	PH_CTL_CLIPBOARD_LEGACY_GET, PH_CTL_NAMESPACE, PH_CTL_SYNC_TIME, 0, 99,
};

#define SEQ_TRACKED	0x80000000u	/* requests whose reply the harness waits for */

struct harness {
	struct vm *vm;
	struct control *ctl;
	int fd;			/* our end of the current client, or -1 */
	uint32_t next_seq;
	GHashTable *pending;	/* seq -> op, for SEQ_TRACKED requests */
	unsigned int stops;
};

static void on_stop(void *opaque)
{
	((struct harness *)opaque)->stops++;
}

static void run_loop(void)
{
	int i = 0;

	while (i < 1000 && g_main_context_iteration(NULL, FALSE))
		i++;
	if (getenv("FUZZ_TRACE"))
		fprintf(stderr, "loop: %d\n", i);
}

/* Replies waiting on our end; false once the server hung up. */
static bool read_replies(struct harness *h)
{
	static uint8_t buf[sizeof(struct ph_ctl_hdr) + PH_CTL_MAX_PAYLOAD + 1];
	union {
		char b[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} cm;

	for (;;) {
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b,
				      .msg_controllen = sizeof(cm.b) };
		ssize_t n = recvmsg(h->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		struct ph_ctl_hdr hdr;
		gpointer op;

		if (n < 0 && errno == EAGAIN)
			return true;
		if (n <= 0)
			return false;
		/* PH_CTL_MEMORY passes the RAM memfd: close what came. */
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
				for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
					close(((int *)CMSG_DATA(c))[i]);
		FUZZ_CHECK(!(msg.msg_flags & MSG_TRUNC));
		FUZZ_CHECK((size_t)n >= sizeof(hdr));
		memcpy(&hdr, buf, sizeof(hdr));
		FUZZ_CHECK(hdr.magic == PH_CTL_MAGIC && hdr.version == PH_CTL_VERSION);
		FUZZ_CHECK(hdr.len == (size_t)n - sizeof(hdr) && hdr.len <= PH_CTL_MAX_PAYLOAD);
		FUZZ_CHECK(hdr.status >= 0);
		if (hdr.op == PH_CTL_STATUS && hdr.status == 0)
			fuzz_check_status_text((const char *)buf + sizeof(hdr), hdr.len);
		if (hdr.op == PH_CTL_VMCI_DATAGRAM && hdr.seq == 0)
			continue;	/* a VMCI event, not a reply */
		if (!(hdr.seq & SEQ_TRACKED))
			continue;	/* to a raw packet */
		FUZZ_CHECK(g_hash_table_lookup_extended(h->pending, GUINT_TO_POINTER(hdr.seq), NULL,
							&op));
		FUZZ_CHECK(GPOINTER_TO_UINT(op) == hdr.op);
		g_hash_table_remove(h->pending, GUINT_TO_POINTER(hdr.seq));
	}
}

static void new_client(struct harness *h)
{
	int sv[2];

	FUZZ_CHECK(!socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
	control_add_client(h->ctl, sv[0]);
	h->fd = sv[1];
	g_hash_table_remove_all(h->pending);
}

static void client_gone(struct harness *h)
{
	close(h->fd);
	h->fd = -1;
	g_hash_table_remove_all(h->pending);	/* a dropped client gets nothing more */
	run_loop();	/* the server and VMCI notice the hang-up */
}

static void send_packet(struct harness *h, const void *pkt, size_t len, bool tracked)
{
	struct ph_ctl_hdr hdr;

	if (h->fd < 0)
		new_client(h);
	if (send(h->fd, pkt, len, MSG_DONTWAIT) < 0)
		return;
	run_loop();
	if (!read_replies(h)) {
		client_gone(h);
		return;
	}
	/* A request of ours is answered at once (TCLO: when the guest answers). */
	memcpy(&hdr, pkt, sizeof(hdr));
	if (getenv("FUZZ_TRACE"))
		fprintf(stderr, "request op %u seq 0x%x, %zu bytes: %s\n", hdr.op, hdr.seq, len,
			g_hash_table_contains(h->pending, GUINT_TO_POINTER(hdr.seq)) ? "waiting"
										     : "answered");
	if (tracked && hdr.op != PH_CTL_TCLO)
		FUZZ_CHECK(!g_hash_table_contains(h->pending, GUINT_TO_POINTER(hdr.seq)));
}

static void request(struct harness *h, uint16_t op, const uint8_t *payload, size_t len)
{
	struct ph_ctl_hdr hdr = { .magic = PH_CTL_MAGIC, .version = PH_CTL_VERSION, .op = op,
				  .seq = SEQ_TRACKED | h->next_seq++, .len = (uint32_t)len };
	uint8_t *pkt = g_malloc(sizeof(hdr) + len);

	memcpy(pkt, &hdr, sizeof(hdr));
	memcpy(pkt + sizeof(hdr), payload, len);
	if (h->fd < 0)
		new_client(h);
	g_hash_table_insert(h->pending, GUINT_TO_POINTER(hdr.seq), GUINT_TO_POINTER(op));
	send_packet(h, pkt, sizeof(hdr) + len, true);
	g_free(pkt);
}

static void raw_packet(struct harness *h, const uint8_t *bytes, size_t len)
{
	uint8_t *pkt = g_malloc0(MAX(len, sizeof(struct ph_ctl_hdr)));
	uint32_t seq;

	memcpy(pkt, bytes, len);
	if (len >= 12) {	/* raw requests are never tracked */
		memcpy(&seq, pkt + 8, 4);
		seq &= ~SEQ_TRACKED;
		memcpy(pkt + 8, &seq, 4);
	}
	send_packet(h, pkt, len, false);
	g_free(pkt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	struct harness h = { .fd = -1 };
	GError *err = NULL;
	unsigned int steps = 0;

	h.vm = fuzz_vm_new(fuzz_take(&in, 1) & 1);
	h.ctl = control_start(h.vm, on_stop, &h, &err);
	FUZZ_CHECK(h.ctl);
	h.pending = g_hash_table_new(NULL, NULL);
	while (in.left && steps++ < 256) {
		unsigned int kind = (unsigned int)fuzz_take(&in, 1);
		const uint8_t *bytes;
		size_t len = fuzz_take_bytes(&in, fuzz_take(&in, 2), &bytes);

		switch (kind & 3) {
		case 0:
			request(&h, ops[(kind >> 2) % G_N_ELEMENTS(ops)], bytes, len);
			break;
		case 1:
			raw_packet(&h, bytes, len);
			break;
		case 2:
			fuzz_guest_rpci(h.vm, bytes, len);
			break;
		case 3:
			run_loop();
			if (h.fd >= 0 && !read_replies(&h))
				client_gone(&h);
			break;
		}
	}
	/* porthole-hv's shutdown: TCLO requests still waiting are answered. */
	control_quiesce(h.ctl);
	vm_destroy(h.vm);
	run_loop();
	if (h.fd >= 0) {
		if (read_replies(&h))
			FUZZ_CHECK(g_hash_table_size(h.pending) == 0);
		close(h.fd);
	}
	control_stop(h.ctl);
	run_loop();
	g_hash_table_destroy(h.pending);
	return 0;
}
