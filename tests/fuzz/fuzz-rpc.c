// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the GuestRPC endpoint (hypervisor/devices/rpc.c) fed
 * whole messages: every RPCI command it answers and the TCLO replies of
 * the guest tools, straight into the VM's real channel table
 * (backdoor/msgchan-host.c, the high-bandwidth path) without the I/O bus,
 * mixed with what the host does meanwhile (TCLO commands, info-set,
 * expiry, channel reset, a guest process dying).
 *
 * Input: records of a kind byte, a u16 length and that many bytes:
 *   (kind & 7) % 6 == 0  RPCI message on channel slot (kind >> 3) % 4
 *             1  TCLO: the tools' reply on slot (kind >> 3) % 2, then
 *                fetch the next command
 *             2  host: queue the bytes as a TCLO command (for toolbox-dnd
 *                when kind & 8)
 *             3  host: info-set "<key> <value>" (PH_CTL_INFO_SET)
 *             4  close slot (kind >> 3) % 6 (RPCI 0-3, TCLO 4-5)
 *             5  host: expire (kind & 8), reset channels (kind & 16), the
 *                guest process exits (kind & 32)
 *
 * Checked: every RPCI reply starts "1 " or "0 "; an info-set answered "1 "
 * stored exactly that value; a guestlib.info.get answered "1 " is a whole
 * V3 reply (header, and as many data bytes as it says); GETGUIOPTIONS
 * agrees with the synctime option; a TCLO channel is first sent "reset", then
 * "Capabilities_Register", then only commands the host queued, the
 * options tools-options.c and copypaste.c push (Set_Option) or whole copy/paste
 * v4 packets; every host
 * command completes exactly once (at the latest when the VM goes); status
 * text well formed.
 */
#include <string.h>

#include "backdoor/dndcp.h"
#include "backdoor/msgchan-host.h"
#include "backdoor/proto.h"
#include "hypervisor/devices/namespace-db.h"
#include "hypervisor/devices/rpc.h"
#include "hypervisor/devices/tools-options.h"
#include "fuzz-vm.h"

#define GUEST_BASE	0x100000ull
#define GUEST_SIZE	0x20000ull	/* messages of a 64 KiB input, and their echoes */
#define RPCI_SLOTS	4
#define TCLO_SLOTS	2

struct chan_slot {
	bool open;
	uint32_t proto;
	uint64_t dx, cookie_hi, cookie_lo;
	unsigned int received;	/* TCLO: commands fetched */
};

struct harness {
	struct vm *vm;
	struct msgchan_host *chans;
	struct vcpu vcpu;
	struct fuzz_mem mem;
	struct chan_slot slots[RPCI_SLOTS + TCLO_SLOTS];
	GHashTable *queued;	/* TCLO command texts the host queued */
	unsigned int tclo_queued, tclo_done;
};

static uint64_t now_ns(void)
{
	return (uint64_t)g_get_monotonic_time() * 1000u;
}

static uint32_t lb(struct harness *h, struct chan_slot *s, uint32_t type, uint32_t ebx,
		   struct bdoor_regs *r)
{
	*r = (struct bdoor_regs){ .ax = BDOOR_MAGIC, .bx = ebx,
				  .cx = BDOOR_ECX(BDOOR_CMD_MESSAGE, type),
				  .dx = s->dx | BDOOR_PORT_LB, .si = s->cookie_hi,
				  .di = s->cookie_lo };
	pthread_mutex_lock(&h->vm->lock);
	msgchan_host_lb(h->chans, r, h->vcpu.owner, now_ns());
	pthread_mutex_unlock(&h->vm->lock);
	return BDOOR_ECX_SUB(r->cx);
}

static bool chan_open(struct harness *h, struct chan_slot *s, uint32_t proto)
{
	struct bdoor_regs r;

	if (s->open)
		return true;
	*s = (struct chan_slot){ 0 };
	if (!(lb(h, s, MESSAGE_TYPE_OPEN, proto | GUESTMSG_FLAG_COOKIE, &r) &
	      MESSAGE_STATUS_SUCCESS))
		return false;
	*s = (struct chan_slot){ true, proto, r.dx & 0xFFFF0000u, r.si, r.di, 0 };
	return true;
}

static void chan_close(struct harness *h, struct chan_slot *s)
{
	struct bdoor_regs r;

	if (s->open)
		lb(h, s, MESSAGE_TYPE_CLOSE, 0, &r);
	s->open = false;
}

/* One message to the host; false when the channel refused it (it was closed). */
static bool chan_send(struct harness *h, struct chan_slot *s, const uint8_t *msg, size_t len)
{
	struct bdoor_regs r;
	uint32_t st = lb(h, s, MESSAGE_TYPE_SENDSIZE, (uint32_t)len, &r);

	if (!(st & MESSAGE_STATUS_SUCCESS))
		return false;
	if (!len)
		return true;
	FUZZ_CHECK(st & MESSAGE_STATUS_HB);
	memcpy(h->mem.buf, msg, len);
	r = (struct bdoor_regs){ .ax = BDOOR_MAGIC, .bx = BDOORHB_CMD_MESSAGE, .cx = len,
				 .dx = s->dx | BDOOR_PORT_HB, .si = GUEST_BASE,
				 .di = s->cookie_lo, .bp = s->cookie_hi };
	fuzz_mem_clear_log(&h->mem);
	pthread_mutex_lock(&h->vm->lock);
	msgchan_host_hb_send(h->chans, &r, len, &h->vcpu, now_ns());
	pthread_mutex_unlock(&h->vm->lock);
	FUZZ_CHECK(!h->mem.written);
	FUZZ_CHECK(!h->mem.read || (h->mem.read_lo == GUEST_BASE &&
				    h->mem.read_hi == GUEST_BASE + len));
	return (r.bx >> 16) & MESSAGE_STATUS_SUCCESS;
}

/* The host's pending message: a malloc'd string (NUL added), or NULL. */
static char *chan_recv(struct harness *h, struct chan_slot *s, size_t *len)
{
	struct bdoor_regs r;
	uint32_t st = lb(h, s, MESSAGE_TYPE_RECVSIZE, 0, &r);
	uint32_t size = (uint32_t)r.bx;
	char *msg;

	if (!(st & MESSAGE_STATUS_SUCCESS) || !(st & MESSAGE_STATUS_DORECV))
		return NULL;
	FUZZ_CHECK(size <= GUESTMSG_MAX_SIZE);
	if (size) {
		r = (struct bdoor_regs){ .ax = BDOOR_MAGIC, .bx = BDOORHB_CMD_MESSAGE, .cx = size,
					 .dx = s->dx | BDOOR_PORT_HB, .si = s->cookie_hi,
					 .di = GUEST_BASE, .bp = s->cookie_lo };
		fuzz_mem_clear_log(&h->mem);
		pthread_mutex_lock(&h->vm->lock);
		msgchan_host_hb_recv(h->chans, &r, size, &h->vcpu, now_ns());
		pthread_mutex_unlock(&h->vm->lock);
		FUZZ_CHECK((r.bx >> 16) & MESSAGE_STATUS_SUCCESS);
		FUZZ_CHECK(!h->mem.read && h->mem.write_lo == GUEST_BASE &&
			   h->mem.write_hi == GUEST_BASE + size);
	}
	/* All `size` bytes (a guestlib reply is binary), NUL-terminated for the text checks. */
	msg = g_malloc(size + 1);
	memcpy(msg, h->mem.buf, size);
	msg[size] = '\0';
	*len = size;
	lb(h, s, MESSAGE_TYPE_RECVSTATUS, MESSAGE_STATUS_SUCCESS, &r);
	return msg;
}

/* After "info-set K V" answered "1 ", the store holds exactly V for K. */
static void check_info_set(struct harness *h, const uint8_t *msg, size_t len)
{
	char *text = g_strndup((const char *)msg, len), *key, *sp, *value;

	if (g_str_has_prefix(text, "info-set ") && (sp = strchr(text + 9, ' '))) {
		key = text + 9;
		*sp = '\0';
		pthread_mutex_lock(&h->vm->lock);
		value = rpc_info_get(h->vm->rpc, key);
		pthread_mutex_unlock(&h->vm->lock);
		FUZZ_CHECK(value && !strcmp(value, sp + 1));
		g_free(value);
	}
	g_free(text);
}

/* guestlib.info.get answered "1 ": version 3, a session id, exactly dataSize bytes of XDR. */
/* The namespace database never holds more than its limits (vm->lock held). */
static void check_namespace_limits(struct harness *h)
{
	GString *s = g_string_new(NULL);
	const char *count, *bytes;

	namespace_db_status(h->vm, s);
	count = strstr(s->str, "namespace.count=");
	bytes = strstr(s->str, "namespace.bytes=");
	FUZZ_CHECK(count && bytes);
	FUZZ_CHECK(strtoul(count + 16, NULL, 10) <= NSDB_NAMESPACES_MAX);
	FUZZ_CHECK(strtoul(bytes + 16, NULL, 10) <= NSDB_BYTES_MAX);
	g_string_free(s, TRUE);
}

static void check_guestlib(struct harness *h, const char *reply, size_t rlen)
{
	uint32_t version, size;
	uint64_t session;

	FUZZ_CHECK(rlen >= 2 + 16);
	memcpy(&version, reply + 2, 4);
	memcpy(&session, reply + 6, 8);
	memcpy(&size, reply + 14, 4);
	FUZZ_CHECK(version == GUESTLIB_DATA_VERSION && session && size == rlen - 18);
}

static void rpci(struct harness *h, struct chan_slot *s, const uint8_t *msg, size_t len)
{
	char *reply;
	size_t rlen;

	if (!chan_open(h, s, RPCI_PROTOCOL_NUM))
		return;
	if (!chan_send(h, s, msg, len)) {
		s->open = false;	/* the host closed it: reopen next time */
		return;
	}
	reply = chan_recv(h, s, &rlen);
	FUZZ_CHECK(reply);
	FUZZ_CHECK(rlen >= 2 && (reply[0] == '1' || reply[0] == '0') && reply[1] == ' ');
	/* (vmtoolsd's trailing NUL is part of the protocol: dropped before parsing) */
	if (reply[0] == '1' && !memchr(msg, '\0', len ? len - (msg[len - 1] == '\0') : 0))
		check_info_set(h, msg, len && !msg[len - 1] ? len - 1 : len);
	if (reply[0] == '1' && len >= 17 && !memcmp(msg, "guestlib.info.get", 17))
		check_guestlib(h, reply, rlen);
	pthread_mutex_lock(&h->vm->lock);
	FUZZ_CHECK(!!(tools_options_gui(h->vm) & TOOLS_GUI_SYNC_TIME) ==
		   tools_options_sync_time(h->vm));
	check_namespace_limits(h);
	pthread_mutex_unlock(&h->vm->lock);
	g_free(reply);
}

/*
 * What tools-options.c sends the main tools at attach and on a synctime
 * change, and copypaste.c the desktop tools.
 */
static bool pushed_option(const char *cmd)
{
	static const char *const options[] = {
		"Set_Option broadcastIP 1", "Set_Option synctime 0", "Set_Option synctime 1",
		"Set_Option time.synchronize.tools.startup 1",
		"Set_Option time.synchronize.tools.slewCorrection 1",
		"Set_Option time.synchronize.tools.percentCorrection 50",
		"Set_Option time.synchronize.tools.enable 1",
		/* copypaste.c, to the desktop tools' channel when they attach */
		"Set_Option copypaste 1", "Set_Option copypaste 0",
	};

	for (size_t i = 0; i < G_N_ELEMENTS(options); i++)
		if (!strcmp(cmd, options[i]))
			return true;
	return false;
}

static void tclo(struct harness *h, struct chan_slot *s, const uint8_t *msg, size_t len)
{
	char *cmd;
	size_t clen;

	if (!chan_open(h, s, TCLO_PROTOCOL_NUM))
		return;
	if (!chan_send(h, s, msg, len)) {
		s->open = false;
		return;
	}
	cmd = chan_recv(h, s, &clen);
	if (!cmd)
		return;
	/* VMware's start-up order, then only what the host asked for. */
	if (s->received == 0)
		FUZZ_CHECK(!strcmp(cmd, "reset"));
	else if (s->received == 1)
		FUZZ_CHECK(!strcmp(cmd, "Capabilities_Register"));
	else if (strlen(cmd) == clen && g_hash_table_contains(h->queued, cmd))
		;	/* what the host queued, whatever it looks like */
	else if (clen > sizeof(DNDCP_RPC_CP) && !memcmp(cmd, DNDCP_RPC_CP " ", sizeof(DNDCP_RPC_CP)))
		/* Copy/paste v4 (copypaste.c): one whole packet of VMware's size. */
		FUZZ_CHECK(clen - sizeof(DNDCP_RPC_CP) >= DNDCP_HDR_SIZE &&
			   clen - sizeof(DNDCP_RPC_CP) <= DNDCP_MAX_PACKET);
	else
		FUZZ_CHECK(strlen(cmd) == clen && pushed_option(cmd));
	s->received++;
	g_free(cmd);
}

static void tclo_done(void *opaque, int status, const char *reply, size_t len)
{
	struct harness *h = opaque;

	FUZZ_CHECK(status == 0 || status == -1);
	FUZZ_CHECK(reply && strlen(reply) == len);
	h->tclo_done++;
	FUZZ_CHECK(h->tclo_done <= h->tclo_queued);
}

static void host(struct harness *h, unsigned int kind, const uint8_t *data, size_t len)
{
	struct vm *vm = h->vm;
	char *text = g_strndup((const char *)data, len), *sp;
	const char *why = NULL;

	pthread_mutex_lock(&vm->lock);
	switch ((kind & 7) % 6) {
	case 2:
		if (!rpc_tclo_send(vm->rpc, (kind & 8) ? TOOLS_APP_USER : NULL, text, strlen(text),
				   tclo_done, h)) {
			h->tclo_queued++;
			g_hash_table_add(h->queued, g_strdup(text));
		}
		break;
	case 3:
		sp = strchr(text, ' ');
		if (sp) {
			*sp = '\0';
			if (!rpc_info_set(vm->rpc, text, sp + 1, &why)) {
				char *v = rpc_info_get(vm->rpc, text);

				FUZZ_CHECK(v && !strcmp(v, sp + 1));
				g_free(v);
			} else {
				FUZZ_CHECK(why);
			}
		}
		break;
	case 5:
		if (kind & 8)
			rpc_expire(vm->rpc, now_ns() + 11 * 1000000000ull);
		if (kind & 16)
			rpc_reset_channels(vm->rpc);
		break;
	}
	pthread_mutex_unlock(&vm->lock);
	if ((kind & 7) % 6 == 5 && (kind & 32))
		vm_owner_exited(vm, h->vcpu.owner);
	/* Channels closed by the host: the guest finds out on its next call. */
	if ((kind & 7) % 6 == 5 && (kind & 48))
		for (int i = 0; i < RPCI_SLOTS + TCLO_SLOTS; i++)
			h->slots[i].open = false;
	g_free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	struct harness h = { 0 };

	h.vm = fuzz_vm_new(false);
	h.chans = rpc_channels(h.vm->rpc);
	h.queued = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	fuzz_mem_init(&h.mem, GUEST_BASE, GUEST_SIZE);
	h.vcpu = (struct vcpu){ .vm = h.vm, .id = 1, .owner = 1, .mem = fuzz_mem_ops(&h.mem) };
	while (in.left) {
		unsigned int kind = (unsigned int)fuzz_take(&in, 1);
		size_t want = (size_t)fuzz_take(&in, 2);
		const uint8_t *bytes;
		size_t len = fuzz_take_bytes(&in, want, &bytes);

		switch ((kind & 7) % 6) {
		case 0:
			rpci(&h, &h.slots[(kind >> 3) % RPCI_SLOTS], bytes, len);
			break;
		case 1:
			tclo(&h, &h.slots[RPCI_SLOTS + (kind >> 3) % TCLO_SLOTS], bytes, len);
			break;
		case 4:
			chan_close(&h, &h.slots[(kind >> 3) % (RPCI_SLOTS + TCLO_SLOTS)]);
			break;
		default:
			host(&h, kind, bytes, len);
			break;
		}
	}
	fuzz_check_vm_status(h.vm);
	vm_destroy(h.vm);
	FUZZ_CHECK(h.tclo_done == h.tclo_queued);
	g_hash_table_destroy(h.queued);
	fuzz_mem_free(&h.mem);
	return 0;
}
