// SPDX-License-Identifier: MIT
/*
 * The VM's clipboard policy and VMware's legacy backdoor copy/paste.
 *
 * Legacy protocol (open-vm-tools dndcp/copyPasteCompat.c, see
 * ../shared/notes/backdoor-guestrpc-vmmouse.md §5): the guest reads the
 * host's text with GETSELLENGTH (EAX = length, or -1 not ready / -2 sharing
 * off) then GETNEXTPIECE ceil(len/4) times (EAX = next 4 bytes, little
 * endian); it sends its own with SETSELLENGTH (EBX = length) then
 * SETNEXTPIECE ceil(len/4) times (EBX = 4 bytes).  The host side of each
 * buffer is reached through control ops: the host bridge sets the text the
 * guest will read (PH_CTL_CLIPBOARD_LEGACY_SET) and reads what the guest
 * sent (PH_CTL_CLIPBOARD_LEGACY_GET).
 *
 * A guest text becomes visible to the host only when all its pieces came
 * (nothing half-sent is ever offered); a length over the cap, or a send
 * while guest-to-host sharing is off, is refused with a log line.  Old tools
 * ignore EAX of the SET calls, so we use it to say what happened: 0 taken,
 * -2 sharing off, -1 refused (over the cap; a piece with no transfer open).
 *
 * VMware's desktop tools (vmtoolsd -n vmusr) speak copy/paste version 4
 * instead (backdoor/dndcp.h) when the host answers 4 to
 * vmx.capability.copypaste_version, as VMware hosts do, and sends them
 * "Set_Option copypaste 1" on their channel (toolbox-dnd).  The same two
 * buffers serve them: the host's text (PH_CTL_CLIPBOARD_HOST_TEXT, in
 * pieces; the legacy buffer takes it too when it fits) is pushed to them
 * as CP_CMD_RECV_CLIPBOARD, and the bridge's poll of the guest's text
 * (PH_CTL_CLIPBOARD_GUEST_TEXT) asks them for their clipboard
 * (CP_CMD_REQUEST_CLIPBOARD: a VMware host asks when the pointer leaves
 * the guest; we have no such moment, so at most once per poll; they answer
 * "unchanged" in a few bytes while nothing was copied).  Every message is
 * reassembled by dndcp_rx (one state machine, capped at the policy's
 * max-size and VMware's 4 MiB); a piece that lies, overlaps, comes after a
 * version switch or stalls for DNDCP_STALL_NS drops the message with a log
 * line.  Text and PNG images cross (RTF is parsed and left): the host's
 * formats of one copy arrive one after the other and each completed one
 * pushes the clipboard with all of them so far.
 */
#define G_LOG_DOMAIN "porthole-hv"
#include <errno.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "backdoor/clipboard.h"
#include "backdoor/dndcp.h"
#include "backdoor/proto.h"
#include "hypervisor/control-proto.h"
#include "hypervisor/vm.h"
#include "copypaste.h"
#include "rpc.h"

/* A big message whose next piece doesn't come in this long is dropped. */
#define DNDCP_STALL_NS		(5ull * 1000000000ull)
/* A clipboard request unanswered this long may be sent again. */
#define DNDCP_REQUEST_RETRY_NS	(3ull * 1000000000ull)
/* Bytes of guest text per PH_CTL_CLIPBOARD_GUEST_TEXT reply (a control packet holds 64 KiB). */
#define GUEST_TEXT_PIECE	60000u

struct copypaste_state {
	/* Policy. */
	bool host_to_guest, guest_to_host;
	uint64_t max_size;

	/* Host -> guest: what GETSELLENGTH/GETNEXTPIECE serve. */
	GByteArray *host_text;
	bool host_text_set;
	uint32_t host_read_pos;

	/* Guest -> host: being received, and the last complete text. */
	uint8_t *incoming;
	uint32_t incoming_len, incoming_pos;
	bool receiving;
	GByteArray *guest_text;
	bool guest_has_text;
	GByteArray *guest_png;		/* v4 tools only; empty: none */
	uint64_t guest_serial;		/* bumped per complete guest clipboard */

	/* The host's image of its current copy (PH_CTL_CLIPBOARD_HOST_TEXT "png"). */
	GByteArray *host_png;
	uint64_t host_copy;		/* the bridge's number for that copy */

	/* Host data arriving in pieces (PH_CTL_CLIPBOARD_HOST_TEXT). */
	GByteArray *host_incoming;
	uint64_t host_incoming_total;
	unsigned int host_incoming_format;	/* PH_CLIP_FMT_TEXT or _PNG */

	/* Copy/paste version 4 with the desktop tools (see the top). */
	uint32_t v4_version;		/* what they registered; 0: none */
	int v4_owner;			/* their guest context, -1: none */
	struct dndcp_rx rx;
	struct dndcp_tx tx;
	uint32_t v4_session;
	uint64_t v4_request_ns;		/* a clipboard request unanswered since; 0: none */
	uint64_t v4_messages, v4_refused, v4_requests, v4_pushes;
};

static uint64_t mono_ns(void)
{
	return (uint64_t)g_get_monotonic_time() * 1000u;
}

static struct copypaste_state *state(struct vm *vm)
{
	struct copypaste_state *cp = vm->copypaste;

	if (!cp) {
		cp = g_new0(struct copypaste_state, 1);
		cp->host_to_guest = true;
		cp->guest_to_host = true;
		cp->max_size = PH_CLIP_DEFAULT_MAX_SIZE;
		cp->host_text = g_byte_array_new();
		cp->guest_text = g_byte_array_new();
		cp->host_incoming = g_byte_array_new();
		cp->host_png = g_byte_array_new();
		cp->guest_png = g_byte_array_new();
		cp->v4_owner = -1;
		dndcp_rx_init(&cp->rx, DNDCP_MAX_BINARY);
		vm->copypaste = cp;
	}
	return cp;
}

void copypaste_free(struct copypaste_state *cp)
{
	if (!cp)
		return;
	g_byte_array_free(cp->host_text, TRUE);
	g_byte_array_free(cp->guest_text, TRUE);
	g_byte_array_free(cp->host_incoming, TRUE);
	g_byte_array_free(cp->host_png, TRUE);
	g_byte_array_free(cp->guest_png, TRUE);
	dndcp_rx_reset(&cp->rx);
	dndcp_tx_reset(&cp->tx);
	g_free(cp->incoming);
	g_free(cp);
}

/* The most the legacy channel carries under the current policy. */
static uint32_t legacy_cap(const struct copypaste_state *cp)
{
	return (uint32_t)MIN(cp->max_size, (uint64_t)PH_CLIP_LEGACY_MAX);
}

static void drop_incoming(struct copypaste_state *cp)
{
	g_free(cp->incoming);
	cp->incoming = NULL;
	cp->incoming_len = cp->incoming_pos = 0;
	cp->receiving = false;
}

uint32_t copypaste_backdoor(struct vm *vm, struct vcpu *vcpu, struct bdoor_regs *b)
{
	struct copypaste_state *cp = state(vm);
	uint32_t cmd = BDOOR_ECX_CMD(b->cx), word = 0, len;

	switch (cmd) {
	case BDOOR_CMD_GETSELLENGTH:
		if (!cp->host_to_guest)
			return PH_CLIP_LEGACY_DONT_EXCHANGE;
		/* (A host text too long for the legacy channel is for version 4 tools.) */
		if (!cp->host_text_set || cp->host_text->len > legacy_cap(cp))
			return PH_CLIP_LEGACY_NOT_READY;
		cp->host_read_pos = 0;
		return cp->host_text->len;
	case BDOOR_CMD_GETNEXTPIECE:
		/* Past the end (or sharing off): zeros, as a real host gives nothing more. */
		if (cp->host_to_guest && cp->host_read_pos < cp->host_text->len &&
		    cp->host_text->len <= legacy_cap(cp)) {
			len = MIN(4u, cp->host_text->len - cp->host_read_pos);
			memcpy(&word, cp->host_text->data + cp->host_read_pos, len);
			cp->host_read_pos += len;
		}
		return word;
	case BDOOR_CMD_SETSELLENGTH:
		len = (uint32_t)b->bx;
		drop_incoming(cp);
		if (!cp->guest_to_host) {
			vm_guest_log(vm, "clipboard: legacy guest copy of %u bytes refused: "
				     "guest-to-host sharing is off", len);
			return PH_CLIP_LEGACY_DONT_EXCHANGE;
		}
		if (len > legacy_cap(cp)) {
			vm_guest_log(vm, "clipboard: legacy guest copy of %u bytes refused: "
				     "over the %u-byte limit", len, legacy_cap(cp));
			return PH_CLIP_LEGACY_REFUSED;
		}
		cp->incoming = g_malloc(len + 4u);	/* the last piece may overhang */
		cp->incoming_len = len;
		cp->receiving = true;
		if (len == 0)
			goto complete;
		return 0;
	case BDOOR_CMD_SETNEXTPIECE:
		if (!cp->receiving)	/* refused, never announced, or past the end */
			return PH_CLIP_LEGACY_REFUSED;
		word = (uint32_t)b->bx;
		memcpy(cp->incoming + cp->incoming_pos, &word, 4);
		cp->incoming_pos += 4;
		if (cp->incoming_pos < cp->incoming_len)
			return 0;
		goto complete;
	default:
		return BDOOR_UNSUPPORTED;
	}
complete:
	g_byte_array_set_size(cp->guest_text, 0);
	g_byte_array_append(cp->guest_text, cp->incoming, cp->incoming_len);
	cp->guest_has_text = true;
	g_byte_array_set_size(cp->guest_png, 0);
	cp->guest_serial++;
	drop_incoming(cp);
	return 0;
}

/* ---- copy/paste version 4 (the desktop tools, vmusr) ---- */

/* The largest message we take from the guest now: the policy's cap, VMware's 4 MiB. */
static uint32_t v4_cap(const struct copypaste_state *cp)
{
	return (uint32_t)MIN(cp->max_size + 64u, (uint64_t)DNDCP_MAX_BINARY);
}

static void v4_forget(struct copypaste_state *cp)
{
	dndcp_rx_reset(&cp->rx);
	dndcp_tx_reset(&cp->tx);
	cp->v4_request_ns = 0;
}

/* One packet to the desktop tools of the guest context that speaks version 4. */
static void v4_send_packet(struct vm *vm, struct copypaste_state *cp, const uint8_t *pkt,
			   size_t len)
{
	GString *cmd = g_string_sized_new(sizeof(DNDCP_RPC_CP) + len);
	int r;

	g_string_append(cmd, DNDCP_RPC_CP " ");
	g_string_append_len(cmd, (const char *)pkt, (gssize)len);
	r = vm->rpc ? rpc_tclo_send_to(vm->rpc, TOOLS_APP_USER, cp->v4_owner, cmd->str, cmd->len,
				       NULL, NULL) : -ENOTCONN;
	if (r)
		vm_guest_log_per(vm, VM_GUEST_LOG_CLIPBOARD_QUEUE,
				 "clipboard v4: packet for the desktop tools not queued (%s)",
				 g_strerror(-r));
	g_string_free(cmd, TRUE);
}

static void v4_hdr(struct dndcp_hdr *h, uint32_t cmd, uint32_t session)
{
	memset(h, 0, sizeof(*h));
	h->cmd = cmd;
	h->type = DNDCP_TYPE_CP;
	h->src = DNDCP_SRC_HOST;
	h->session = session;
}

/* A message with no binary (or a small one): one packet, never through cp->tx. */
static void v4_send_short(struct vm *vm, struct copypaste_state *cp, const struct dndcp_hdr *h)
{
	uint8_t pkt[DNDCP_HDR_SIZE];
	struct dndcp_hdr out = *h;

	out.binary_size = out.payload_offset = out.payload_size = 0;
	memcpy(pkt, &out, sizeof(out));
	v4_send_packet(vm, cp, pkt, sizeof(pkt));
}

/* The next piece of cp->tx, if any. */
static void v4_send_next(struct vm *vm, struct copypaste_state *cp)
{
	uint8_t *pkt = g_malloc(DNDCP_MAX_PACKET);
	size_t n = dndcp_tx_next(&cp->tx, pkt);

	if (n)
		v4_send_packet(vm, cp, pkt, n);
	g_free(pkt);
}

static bool v4_ready(const struct copypaste_state *cp)
{
	return cp->v4_version == DNDCP_VERSION && cp->v4_owner >= 0;
}

/* The host's text and image become the guest's clipboard (CP_CMD_RECV_CLIPBOARD). */
static void v4_push_host_clipboard(struct vm *vm, struct copypaste_state *cp)
{
	struct dndcp_hdr h;
	uint32_t size;
	uint8_t *clip;

	if (!v4_ready(cp) || !cp->host_to_guest)
		return;
	clip = dndcp_clip_build(cp->host_text_set ? cp->host_text->data : NULL, cp->host_text->len,
				NULL, 0, cp->host_png->len ? cp->host_png->data : NULL,
				cp->host_png->len, true, &size);
	if (!clip) {
		vm_guest_log(vm, "clipboard v4: host clipboard of %u + %u bytes is over the "
			     "protocol's %u", cp->host_text->len, cp->host_png->len,
			     DNDCP_MAX_BINARY);
		return;
	}
	v4_hdr(&h, CP_CMD_RECV_CLIPBOARD, ++cp->v4_session);
	h.param[0] = DNDCP_VERSION;	/* cpInfo: major, minor, capability, isActive */
	if (dndcp_tx_start(&cp->tx, &h, clip, size) == 0) {
		cp->v4_pushes++;
		v4_send_next(vm, cp);
	}
	free(clip);
}

/* Ask the guest for its clipboard, unless a request is still out. */
static void v4_request_guest_clipboard(struct vm *vm, struct copypaste_state *cp)
{
	struct dndcp_hdr h;
	uint64_t now = mono_ns();

	if (!v4_ready(cp) || !cp->guest_to_host)
		return;
	if (cp->v4_request_ns && now - cp->v4_request_ns < DNDCP_REQUEST_RETRY_NS)
		return;
	/* A message the guest stopped sending mid-way is dropped here too. */
	if (cp->rx.state == DNDCP_RX_RECEIVING && now - cp->rx.last_ns > DNDCP_STALL_NS) {
		vm_guest_log(vm, "clipboard v4: guest message stalled at %u of %u bytes; dropped",
			     cp->rx.received, cp->rx.first.binary_size);
		dndcp_rx_reset(&cp->rx);
		cp->v4_refused++;
	}
	if (cp->rx.state == DNDCP_RX_RECEIVING)
		return;
	v4_hdr(&h, CP_CMD_REQUEST_CLIPBOARD, ++cp->v4_session);
	h.param[0] = DNDCP_VERSION;
	v4_send_short(vm, cp, &h);
	cp->v4_request_ns = now;
	cp->v4_requests++;
}

/* Whether `a` holds exactly the n bytes at b. */
static bool same_bytes(const GByteArray *a, const uint8_t *b, uint32_t n)
{
	return a->len == n && (!n || !memcmp(a->data, b, n));
}

/* The guest's clipboard, whole: its text and image become what the host bridge reads. */
static void v4_guest_clipboard(struct vm *vm, struct copypaste_state *cp, const uint8_t *bin,
			       uint32_t len)
{
	struct dndcp_clip clip;
	const char *why;
	uint32_t text_len, png_len;
	const uint8_t *text, *png;
	bool has_text;

	cp->v4_request_ns = 0;
	if (!cp->guest_to_host) {
		vm_guest_log(vm, "clipboard v4: guest clipboard of %u bytes refused: "
			     "guest-to-host sharing is off", len);
		return;
	}
	if (dndcp_clip_parse(bin, len, &clip, &why)) {
		vm_guest_log(vm, "clipboard v4: guest clipboard refused: %s", why);
		cp->v4_refused++;
		return;
	}
	if (!clip.changed)
		return;		/* what the host has already (or the host's own text) */
	has_text = clip.exists[DNDCP_FMT_TEXT];
	text = clip.item[DNDCP_FMT_TEXT];
	text_len = dndcp_clip_text_len(&clip);
	png = clip.item[DNDCP_FMT_PNG];
	png_len = clip.exists[DNDCP_FMT_PNG] ? clip.size[DNDCP_FMT_PNG] : 0;
	if (!has_text && !png_len)
		return;		/* nothing we carry (files, RTF alone) */
	if (text_len > cp->max_size || png_len > cp->max_size) {
		vm_guest_log(vm, "clipboard v4: guest clipboard of %u + %u bytes refused: over the "
			     "%llu-byte limit", text_len, png_len, (unsigned long long)cp->max_size);
		return;
	}
	/*
	 * Tools that can't tell the selection changed (no TIMESTAMP from its
	 * owner) send the same clipboard at every request: it is no new copy.
	 */
	if (has_text == cp->guest_has_text && same_bytes(cp->guest_text, text, text_len) &&
	    same_bytes(cp->guest_png, png, png_len))
		return;
	g_byte_array_set_size(cp->guest_text, 0);
	if (has_text)
		g_byte_array_append(cp->guest_text, text, text_len);
	cp->guest_has_text = has_text;
	g_byte_array_set_size(cp->guest_png, 0);
	if (png_len)
		g_byte_array_append(cp->guest_png, png, png_len);
	cp->guest_serial++;
}

static void v4_message(struct vm *vm, struct copypaste_state *cp, const struct dndcp_hdr *h,
		       const uint8_t *bin)
{
	struct dndcp_hdr reply;

	cp->v4_messages++;
	switch (h->cmd) {
	case DNDCP_CMD_PING:
		/* Our capabilities (param[2]): the guest offers only what they allow. */
		v4_hdr(&reply, DNDCP_CMD_PING_REPLY, 0);
		reply.param[0] = DNDCP_VERSION;
		reply.param[2] = DNDCP_HOST_CAPS;
		v4_send_short(vm, cp, &reply);
		/*
		 * The tools (re)started their copy/paste (vmusr does at every
		 * channel reset, 0.3 s after registering): what they held of
		 * the host's clipboard is gone; they get it again.  (Only what
		 * the user's press already let through: nothing new is read.)
		 */
		if (cp->host_text_set || cp->host_png->len)
			v4_push_host_clipboard(vm, cp);
		break;
	case DNDCP_CMD_REQUEST_NEXT:
		if (dndcp_tx_request_ok(&cp->tx, h))
			v4_send_next(vm, cp);
		else
			vm_guest_log(vm, "clipboard v4: request for a piece of no message we send");
		break;
	case CP_CMD_SEND_CLIPBOARD:
		v4_guest_clipboard(vm, cp, bin, h->binary_size);
		break;
	case DNDCP_CMD_REPLY:
		if (h->status != DNDCP_STATUS_SUCCESS)
			vm_guest_log(vm, "clipboard v4: the guest refused command %u (status %u)",
				     h->param[0], h->status);
		break;
	default:
		vm_guest_log(vm, "clipboard v4: unexpected command %u from the guest", h->cmd);
		break;
	}
}

/* "copypaste.transport <packet>" from the guest. */
static void v4_packet(struct vm *vm, struct copypaste_state *cp, int owner, const uint8_t *pkt,
		      size_t len, GString *reply)
{
	struct dndcp_hdr h, req;
	const uint8_t *bin;
	const char *why;

	if (!v4_ready(cp) || owner != cp->v4_owner) {
		vm_guest_log_per(vm, VM_GUEST_LOG_CLIPBOARD_V4, "clipboard v4: packet from guest "
				 "context %d, which did not register copy/paste version %d; refused",
				 owner, DNDCP_VERSION);
		cp->v4_refused++;
		g_string_append(reply, RPCI_FAILURE_PREFIX "copy/paste version 4 is not registered");
		return;
	}
	cp->rx.cap = v4_cap(cp);
	switch (dndcp_rx_packet(&cp->rx, pkt, len, mono_ns(), &h, &bin, &why)) {
	case DNDCP_RX_DONE:
		v4_message(vm, cp, &h, bin);
		break;
	case DNDCP_RX_MORE:
		v4_hdr(&req, DNDCP_CMD_REQUEST_NEXT, cp->rx.first.session);
		req.param[0] = cp->rx.first.cmd;
		req.param[1] = cp->rx.first.binary_size;
		req.param[2] = cp->rx.received;
		v4_send_short(vm, cp, &req);
		break;
	default:
		vm_guest_log_per(vm, VM_GUEST_LOG_CLIPBOARD_V4,
				 "clipboard v4: packet of %zu bytes refused: %s", len, why);
		cp->v4_refused++;
		cp->v4_request_ns = 0;
		v4_hdr(&req, DNDCP_CMD_REPLY, 0);
		req.status = DNDCP_STATUS_INVALID_PACKET;
		v4_send_short(vm, cp, &req);
		g_string_append(reply, RPCI_FAILURE_PREFIX "invalid packet");
		return;
	}
	g_string_append(reply, RPCI_SUCCESS_PREFIX);
}

/*
 * Message `msg` is the command `cmd`, whatever follows a space or a NUL
 * (vmtoolsd sends the NUL too, other tools "cmd "; arguments are ignored).
 */
static bool text_is(const char *msg, size_t len, const char *cmd)
{
	size_t n = strlen(cmd);

	return len >= n && !memcmp(msg, cmd, n) && (len == n || msg[n] == ' ' || !msg[n]);
}

bool copypaste_rpci(struct vm *vm, int owner, const char *msg, size_t len, GString *reply)
{
	static const char cp_prefix[] = DNDCP_RPC_CP " ", dnd_prefix[] = DNDCP_RPC_DND " ";
	static const char query[] = "vmx.capability.copypaste_version";
	struct copypaste_state *cp = state(vm);

	if (len >= sizeof(cp_prefix) - 1 && !memcmp(msg, cp_prefix, sizeof(cp_prefix) - 1)) {
		v4_packet(vm, cp, owner, (const uint8_t *)msg + sizeof(cp_prefix) - 1,
			  len - (sizeof(cp_prefix) - 1), reply);
		return true;
	}
	if (len >= sizeof(dnd_prefix) - 1 && !memcmp(msg, dnd_prefix, sizeof(dnd_prefix) - 1)) {
		g_string_append(reply, RPCI_FAILURE_PREFIX "drag and drop is disabled");
		return true;
	}
	/* Asked before a reset: no file transfer is ever busy here (no DnD, no files). */
	if (text_is(msg, len, "dnd.is.active")) {
		g_string_append(reply, RPCI_SUCCESS_PREFIX "0");
		return true;
	}
	if (text_is(msg, len, query)) {
		/*
		 * Asked when the tools (re)register: whatever the asker had in
		 * flight is over (another context's question changes nothing).
		 */
		if (cp->v4_owner < 0 || owner == cp->v4_owner)
			v4_forget(cp);
		g_string_append_printf(reply, RPCI_SUCCESS_PREFIX "%d", DNDCP_VERSION);
		return true;
	}
	return false;
}

void copypaste_guest_version(struct vm *vm, int owner, const char *version)
{
	struct copypaste_state *cp = state(vm);
	uint32_t v = (uint32_t)strtoul(version, NULL, 10);

	/* Another context's older version does not take v4 from its owner. */
	if (v != DNDCP_VERSION && cp->v4_owner >= 0 && owner != cp->v4_owner) {
		vm_guest_log_per(vm, VM_GUEST_LOG_CLIPBOARD_VERSION,
				 "clipboard: guest context %d registered copy/paste version %u; "
				 "context %d keeps version 4", owner, v, cp->v4_owner);
		return;
	}
	/* A version switch: nothing of the old protocol's messages survives it. */
	v4_forget(cp);
	cp->v4_version = v;
	cp->v4_owner = v == DNDCP_VERSION ? owner : -1;
	/* (Tools register at every channel reset: a few lines a minute.) */
	vm_guest_log_per(vm, VM_GUEST_LOG_CLIPBOARD_VERSION,
			 "clipboard: guest context %d registered copy/paste version %u%s", owner, v,
			 v == DNDCP_VERSION ? "" : " (this host speaks 4; legacy for others)");
}

void copypaste_desktop_attached(struct vm *vm, int owner)
{
	struct copypaste_state *cp = state(vm);
	const char *cmd = cp->host_to_guest || cp->guest_to_host ? "Set_Option copypaste 1" :
								    "Set_Option copypaste 0";

	/* To that channel only: porthole-agent answers it "unknown", vmusr registers. */
	if (vm->rpc && rpc_tclo_send_to(vm->rpc, TOOLS_APP_USER, owner, cmd, strlen(cmd), NULL,
					NULL))
		vm_guest_log(vm, "clipboard: '%s' not queued", cmd);
}

int copypaste_v4_owner(struct vm *vm)
{
	return vm->copypaste && v4_ready(vm->copypaste) ? vm->copypaste->v4_owner : -1;
}

void copypaste_owner_exited(struct vm *vm, int owner)
{
	struct copypaste_state *cp = vm->copypaste;

	if (cp && cp->v4_owner == owner && owner > 0) {
		v4_forget(cp);
		cp->v4_owner = -1;
		cp->v4_version = 0;
	}
}

void copypaste_status(struct vm *vm, GString *out)
{
	struct copypaste_state *cp = vm->copypaste;

	if (!cp || !cp->v4_version)
		return;
	g_string_append_printf(out, "clipboard.v4.version=%u\nclipboard.v4.owner=%d\n"
			       "clipboard.v4.messages=%llu\nclipboard.v4.refused=%llu\n"
			       "clipboard.v4.requests=%llu\nclipboard.v4.pushes=%llu\n",
			       cp->v4_version, cp->v4_owner,
			       (unsigned long long)cp->v4_messages,
			       (unsigned long long)cp->v4_refused,
			       (unsigned long long)cp->v4_requests,
			       (unsigned long long)cp->v4_pushes);
}

/* "text" or "png" (and nothing: text) -> PH_CLIP_FMT_*, or -1. */
static int parse_format(const char *name)
{
	if (!*name || !strcmp(name, "text"))
		return PH_CLIP_FMT_TEXT;
	if (!strcmp(name, "png"))
		return PH_CLIP_FMT_PNG;
	return -1;
}

/*
 * "<offset> <total>[ <format> <copy>]\n<bytes>" (binary): a piece of the
 * host's text or image; the last one commits it.  Another copy number
 * than the last drops the formats of the last copy.
 */
static int host_text_piece(struct vm *vm, struct copypaste_state *cp, const char *payload,
			   size_t plen, GString *out)
{
	const char *nl = memchr(payload, '\n', MIN(plen, (size_t)128));
	unsigned long long offset, total, copy = 0;
	char name[8] = "", *line;
	int format = -1, fields;
	size_t len;

	line = nl ? g_strndup(payload, (gsize)(nl - payload)) : NULL;
	fields = line ? sscanf(line, "%llu %llu %7s %llu", &offset, &total, name, &copy) : 0;
	g_free(line);
	if (fields >= 2)
		format = parse_format(name);
	if ((fields != 2 && fields != 4) || format < 0) {
		g_string_append(out, "expected \"<offset> <total>[ text|png <copy>]\\n<bytes>\"");
		return EINVAL;
	}
	len = plen - (size_t)(nl + 1 - payload);
	if (!cp->host_to_guest) {
		g_string_append(out, "host-to-guest sharing is off");
		return EPERM;
	}
	if (total > cp->max_size || total > DNDCP_MAX_BINARY - 128) {
		g_string_append_printf(out, "%llu bytes: over the limit", total);
		return EFBIG;
	}
	if (offset == 0) {
		g_byte_array_set_size(cp->host_incoming, 0);
		cp->host_incoming_total = total;
		cp->host_incoming_format = (unsigned int)format;
	}
	if (offset != cp->host_incoming->len || total != cp->host_incoming_total ||
	    (unsigned int)format != cp->host_incoming_format || len > total - offset) {
		g_byte_array_set_size(cp->host_incoming, 0);
		g_string_append(out, "piece out of order");
		return EINVAL;
	}
	g_byte_array_append(cp->host_incoming, (const guint8 *)nl + 1, (guint)len);
	if (cp->host_incoming->len < total)
		return 0;
	if (copy != cp->host_copy) {
		/* Another copy on the host: none of the last one's formats stay. */
		g_byte_array_set_size(cp->host_text, 0);
		cp->host_text_set = false;
		g_byte_array_set_size(cp->host_png, 0);
		cp->host_copy = copy;
	}
	if (format == PH_CLIP_FMT_PNG) {
		g_byte_array_set_size(cp->host_png, 0);
		g_byte_array_append(cp->host_png, cp->host_incoming->data, cp->host_incoming->len);
	} else {
		g_byte_array_set_size(cp->host_text, 0);
		g_byte_array_append(cp->host_text, cp->host_incoming->data,
				    cp->host_incoming->len);
		cp->host_text_set = true;
		cp->host_read_pos = 0;
	}
	g_byte_array_set_size(cp->host_incoming, 0);
	v4_push_host_clipboard(vm, cp);
	return 0;
}

/*
 * "<offset>[ text|png]" -> "<serial> <total> <formats>\n<bytes from offset>"
 * (formats: PH_CLIP_FMT_BIT()s the guest has); offset 0 of the text also
 * asks v4 tools for their clipboard.
 */
static int guest_text_piece(struct vm *vm, struct copypaste_state *cp, const char *payload,
			    GString *out)
{
	char *end;
	unsigned long long offset = g_ascii_strtoull(payload ? payload : "0", &end, 10);
	int format = parse_format(end + strspn(end, " "));
	const GByteArray *data = format == PH_CLIP_FMT_PNG ? cp->guest_png : cp->guest_text;
	guint len = data->len;
	uint32_t formats = (cp->guest_has_text ? PH_CLIP_FMT_BIT(PH_CLIP_FMT_TEXT) : 0) |
			   (cp->guest_png->len ? PH_CLIP_FMT_BIT(PH_CLIP_FMT_PNG) : 0);

	if (!cp->guest_to_host) {
		g_string_append(out, "guest-to-host sharing is off");
		return EPERM;
	}
	if (format < 0) {
		g_string_append(out, "unknown format (text, png)");
		return EINVAL;
	}
	if (offset == 0 && format == PH_CLIP_FMT_TEXT)
		v4_request_guest_clipboard(vm, cp);
	if (offset > len) {
		g_string_append(out, "offset past the end");
		return EINVAL;
	}
	g_string_printf(out, "%llu %u %u\n", (unsigned long long)cp->guest_serial, len, formats);
	/* (An empty GByteArray's data is NULL: no pointer arithmetic on it.) */
	if (offset < len)
		g_string_append_len(out, (const char *)data->data + offset,
				    (gssize)MIN(len - offset, GUEST_TEXT_PIECE));
	return 0;
}

static bool parse_on_off(const char *v, bool *out)
{
	if (!strcmp(v, "on") || !strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes"))
		*out = true;
	else if (!strcmp(v, "off") || !strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no"))
		*out = false;
	else
		return false;
	return true;
}

/* "key=value" items separated by newlines or spaces; all valid or nothing changes. */
static int policy_set(struct copypaste_state *cp, const char *payload, GString *out)
{
	gchar **items = g_strsplit_set(payload, "\n ", -1);
	bool h2g = cp->host_to_guest, g2h = cp->guest_to_host;
	uint64_t max = cp->max_size;
	int status = 0;

	for (gchar **it = items; *it && !status; it++) {
		char *eq = strchr(*it, '='), *end;

		if (!**it)
			continue;
		if (!eq) {
			g_string_append_printf(out, "expected key=value, got '%s'", *it);
			status = EINVAL;
			break;
		}
		*eq = '\0';
		if (!strcmp(*it, "host-to-guest")) {
			if (!parse_on_off(eq + 1, &h2g))
				status = EINVAL;
		} else if (!strcmp(*it, "guest-to-host")) {
			if (!parse_on_off(eq + 1, &g2h))
				status = EINVAL;
		} else if (!strcmp(*it, "max-size")) {
			errno = 0;
			max = g_ascii_strtoull(eq + 1, &end, 10);
			if (errno || end == eq + 1 || *end || eq[1] == '-')
				status = EINVAL;
		} else {
			g_string_append_printf(out, "unknown key '%s' (host-to-guest, guest-to-host, "
					       "max-size)", *it);
			status = EINVAL;
			break;
		}
		if (status)
			g_string_append_printf(out, "bad value for %s: '%s'", *it, eq + 1);
	}
	g_strfreev(items);
	if (status)
		return status;
	cp->host_to_guest = h2g;
	cp->guest_to_host = g2h;
	cp->max_size = max;
	if (cp->host_text->len > max || !h2g) {
		/* What the legacy guest could still read must obey the new policy. */
		g_byte_array_set_size(cp->host_text, 0);
		cp->host_text_set = false;
	}
	g_message("clipboard policy: host-to-guest=%s guest-to-host=%s max-size=%llu",
		  h2g ? "on" : "off", g2h ? "on" : "off", (unsigned long long)max);
	return 0;
}

int copypaste_control(struct vm *vm, unsigned int op, const char *payload, size_t len_in,
		      GString *out)
{
	struct copypaste_state *cp = state(vm);
	size_t len;

	switch (op) {
	case PH_CTL_CLIPBOARD_POLICY_SET:
		if (policy_set(cp, payload, out))
			return EINVAL;
		if (vm->notify)
			vm->notify(vm, "clipboard");
		/* reply with the policy now in force */
		__attribute__((fallthrough));
	case PH_CTL_CLIPBOARD_POLICY_GET:
		g_string_printf(out, "host-to-guest=%s\nguest-to-host=%s\nmax-size=%llu\n",
				cp->host_to_guest ? "on" : "off", cp->guest_to_host ? "on" : "off",
				(unsigned long long)cp->max_size);
		return 0;
	case PH_CTL_CLIPBOARD_LEGACY_SET:
		len = strlen(payload);
		if (!cp->host_to_guest) {
			g_string_append(out, "host-to-guest sharing is off");
			return EPERM;
		}
		if (len > legacy_cap(cp)) {
			g_string_append_printf(out, "%zu bytes: over the legacy limit of %u", len,
					       legacy_cap(cp));
			return EFBIG;
		}
		g_byte_array_set_size(cp->host_text, 0);
		g_byte_array_append(cp->host_text, (const guint8 *)payload, (guint)len);
		cp->host_text_set = true;
		cp->host_read_pos = 0;
		return 0;
	case PH_CTL_CLIPBOARD_LEGACY_GET:
		if (!cp->guest_to_host) {
			g_string_append(out, "guest-to-host sharing is off");
			return EPERM;
		}
		/* (A legacy text always fits a control packet; a v4 one may not.) */
		if (cp->guest_text->len > PH_CLIP_LEGACY_MAX) {
			g_string_append_printf(out, "%u bytes: read it in pieces (op %d)",
					       cp->guest_text->len, PH_CTL_CLIPBOARD_GUEST_TEXT);
			return EFBIG;
		}
		g_string_printf(out, "%llu\n", (unsigned long long)cp->guest_serial);
		g_string_append_len(out, (const char *)cp->guest_text->data, cp->guest_text->len);
		return 0;
	case PH_CTL_CLIPBOARD_HOST_TEXT:
		return host_text_piece(vm, cp, payload, len_in, out);
	case PH_CTL_CLIPBOARD_GUEST_TEXT:
		return guest_text_piece(vm, cp, payload, out);
	default:
		return EOPNOTSUPP;
	}
}
