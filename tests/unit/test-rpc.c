// SPDX-License-Identifier: MIT
/*
 * The guest library against the real device model, in one process: guest
 * backdoor calls go through bdoor_set_transport() into vm_io() on the VM's
 * I/O bus, exactly as the engines deliver them.  Covers the RPCI commands and
 * the TCLO start-up sequence on both the low- and high-bandwidth paths.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "backdoor/backdoor.h"
#include "backdoor/dndcp.h"
#include "backdoor/msgchan.h"
#include "hypervisor/control-proto.h"
#include "hypervisor/devices/copypaste.h"
#include "hypervisor/devices/guestinfo.h"
#include "hypervisor/devices/rpc.h"
#include "hypervisor/vm.h"

#include "inproc-backdoor.h"


static int setup(void **state)
{
	struct vm_config cfg = { .name = "unit", .ram_size = 1 << 20 };

	io_owner = 1;
	vm = vm_create(&cfg);
	bdoor_set_transport(&inproc_transport);
	return vm ? 0 : -1;
}

static int teardown(void **state)
{
	bdoor_set_transport(NULL);
	vm_destroy(vm);
	return 0;
}

static int rpci(const char *cmd, char **reply)
{
	size_t len;

	return rpci_send_one(cmd, strlen(cmd), reply, &len);
}

static void test_getversion(void **state)
{
	struct bdoor_regs r;

	bdoor_lb_cmd(&r, BDOOR_CMD_GETVERSION, 0);
	bdoor_lb(&r);
	assert_int_equal((uint32_t)r.ax, BDOOR_VERSION);
	assert_int_equal((uint32_t)r.bx, BDOOR_MAGIC);
	assert_int_equal((uint32_t)r.cx, BDOOR_VMX_TYPE_SCALABLE_SERVER);
}

static void test_gettimefull_keeps_magic(void **state)
{
	struct bdoor_regs r;
	uint64_t secs;

	bdoor_lb_cmd(&r, BDOOR_CMD_GETTIMEFULL, 0);
	bdoor_lb(&r);
	assert_int_equal((uint32_t)r.ax, BDOOR_MAGIC);
	secs = ((uint64_t)(uint32_t)r.si << 32) | (uint32_t)r.dx;
	assert_true(secs > 1700000000ull);
	assert_true((uint32_t)r.bx < 1000000);
	assert_int_equal((uint32_t)r.cx, 1000000);
}

static void test_uuid_stable_per_name(void **state)
{
	struct bdoor_regs r;

	bdoor_lb_cmd(&r, BDOOR_CMD_GETBIOSUUID, 0);
	bdoor_lb(&r);
	assert_memory_equal(&r.ax, vm->bios_uuid, 4);
	assert_int_equal((vm->bios_uuid[6] >> 4), 5);
}

/*
 * A string instruction on the low-bandwidth port is refused as a whole: it
 * steps RSI (and a rep's RCX) like any port that takes nothing, and runs no
 * backdoor command per element that would rewrite the registers it steps
 * (the first find of tests/fuzz/fuzz-backdoor).
 */
static void test_lb_string_io_refused(void **state)
{
	uint32_t word = 0x12345678;
	struct vcpu v = {
		.vm = vm, .id = 1, .owner = 1, .mem = { self_read, self_write, NULL },
		.regs = { .rax = BDOOR_MAGIC, .rbx = 7, .rcx = BDOOR_CMD_GETBIOSUUID, .rdx = 9,
			  .rsi = (uintptr_t)&word },
	};
	struct io_access io = { .port = BDOOR_PORT_LB, .size = 4, .string = true,
				.addr_size = 8 };

	assert_int_equal(vm_io(vm, &v, &io), IO_DONE);
	assert_int_equal(v.regs.rax, BDOOR_MAGIC);
	assert_int_equal(v.regs.rbx, 7);
	assert_int_equal(v.regs.rcx, BDOOR_CMD_GETBIOSUUID);
	assert_int_equal(v.regs.rdx, 9);
	assert_int_equal(v.regs.rsi, (uintptr_t)&word + 4);

	/* rep insd: done in one go, nothing written. */
	v.regs.rcx = 3;
	v.regs.rdi = (uintptr_t)&word;
	io.in = io.rep = true;
	assert_int_equal(vm_io(vm, &v, &io), IO_DONE);
	assert_int_equal(v.regs.rcx, 0);
	assert_int_equal(v.regs.rdi, (uintptr_t)&word + 12);
	assert_int_equal(v.regs.rbx, 7);
	assert_int_equal(word, 0x12345678);
}

static void test_info_set_get(void **state)
{
	char *reply = NULL;

	assert_int_equal(rpci("info-set guestinfo.answer 42", &reply), 1);
	free(reply);
	assert_int_equal(rpci("info-get guestinfo.answer", &reply), 1);
	assert_string_equal(reply, "42");
	free(reply);
	assert_int_equal(rpci("info-get guestinfo.missing", &reply), 0);
	assert_string_equal(reply, "No value found");
	free(reply);
	assert_int_equal(rpci("bogus.command", &reply), 0);
	assert_string_equal(reply, "Unknown command");
	free(reply);
	/* The host sees it too. */
	pthread_mutex_lock(&vm->lock);
	reply = rpc_info_get(vm->rpc, "guestinfo.answer");
	pthread_mutex_unlock(&vm->lock);
	assert_string_equal(reply, "42");
	g_free(reply);
}

static void test_big_message_both_paths(void **state)
{
	size_t n = 600000;
	char *cmd = malloc(n + 32), *reply = NULL;
	struct msgchan c = { 0 };

	strcpy(cmd, "porthole.echo ");
	memset(cmd + 14, 'q', n);
	cmd[14 + n] = '\0';
	for (int hb = 0; hb <= 1; hb++) {
		assert_int_equal(msgchan_open(&c, RPCI_PROTOCOL_NUM), 0);
		msgchan_set_hb(&c, hb);
		assert_int_equal(rpci_send(&c, cmd, 14 + n, &reply, NULL), 1);
		assert_int_equal(strlen(reply), n);
		assert_memory_equal(reply, cmd + 14, n);
		free(reply);
		msgchan_close(&c);
	}
	free(cmd);
}

static void test_tools_version_and_caps(void **state)
{
	char *reply = NULL;
	GString *s = g_string_new(NULL);

	assert_int_equal(rpci("tools.set.version 33", &reply), 1);
	free(reply);
	assert_int_equal(rpci("tools.capability.display_topology_set 2", &reply), 1);
	free(reply);
	assert_int_equal(rpci("tools.set.version notanumber", &reply), 0);
	free(reply);
	pthread_mutex_lock(&vm->lock);
	rpc_status(vm->rpc, 0, s);
	pthread_mutex_unlock(&vm->lock);
	assert_non_null(strstr(s->str, "tools.version=0.1.1\n"));
	assert_non_null(strstr(s->str, "display_topology_set:2"));
	g_string_free(s, TRUE);
}

static int tclo_status = 99;
static char tclo_reply[64];
static size_t tclo_reply_len;

static void tclo_done(void *o, int status, const char *reply, size_t len)
{
	tclo_status = status;
	g_strlcpy(tclo_reply, reply, sizeof(tclo_reply));
	tclo_reply_len = len;
}

/* What the main tools are sent after Capabilities_Register, as VMware hosts do. */
static const char *const pushed_options[] = {
	"Set_Option broadcastIP 1",
	"Set_Option synctime 0",
	"Set_Option time.synchronize.tools.startup 1",
	"Set_Option time.synchronize.tools.slewCorrection 1",
	"Set_Option time.synchronize.tools.percentCorrection 50",
	"Set_Option time.synchronize.tools.enable 1",
};

/* Receive each pushed option, in order, and answer it as vmtoolsd does. */
static void expect_pushed_options(struct msgchan *c)
{
	char *m = NULL;
	size_t len;

	for (size_t i = 0; i < G_N_ELEMENTS(pushed_options); i++) {
		assert_int_equal(msgchan_recv(c, &m, &len), 0);
		assert_non_null(m);
		assert_string_equal(m, pushed_options[i]);
		free(m);
		assert_int_equal(msgchan_send(c, "OK ", 3), 0);
	}
}

/* The TCLO start-up dance, as VMware hosts lead it. */
static void test_tclo_sequence(void **state)
{
	struct msgchan c = { 0 };
	char *m = NULL;
	size_t len;

	assert_int_equal(msgchan_open(&c, TCLO_PROTOCOL_NUM), 0);
	assert_int_equal(msgchan_send(&c, "", 0), 0);		/* hello */
	assert_int_equal(msgchan_recv(&c, &m, &len), 0);
	assert_string_equal(m, "reset");
	free(m);
	assert_int_equal(msgchan_send(&c, "OK ATR toolbox", 14), 0);
	assert_int_equal(msgchan_recv(&c, &m, &len), 0);
	assert_string_equal(m, "Capabilities_Register");
	free(m);
	assert_int_equal(msgchan_send(&c, "OK ", 3), 0);
	expect_pushed_options(&c);
	assert_int_equal(msgchan_recv(&c, &m, &len), 0);
	assert_null(m);						/* nothing queued */

	pthread_mutex_lock(&vm->lock);
	assert_true(rpc_tools_running(vm->rpc, (uint64_t)g_get_monotonic_time() * 1000));
	assert_int_equal(rpc_tclo_send(vm->rpc, NULL, "ping", 4, tclo_done, NULL), 0);
	pthread_mutex_unlock(&vm->lock);
	assert_int_equal(msgchan_send(&c, "", 0), 0);
	assert_int_equal(msgchan_recv(&c, &m, &len), 0);
	assert_string_equal(m, "ping");
	free(m);
	assert_int_equal(msgchan_send(&c, "OK ", 3), 0);
	assert_int_equal(tclo_status, 0);
	assert_string_equal(tclo_reply, "OK ");

	/* A command in flight when the tools close their channel fails cleanly. */
	pthread_mutex_lock(&vm->lock);
	rpc_tclo_send(vm->rpc, NULL, "ping", 4, tclo_done, NULL);
	pthread_mutex_unlock(&vm->lock);
	assert_int_equal(msgchan_recv(&c, &m, &len), 0);
	free(m);
	msgchan_close(&c);
	assert_int_equal(tclo_status, -1);
}

/*
 * A command the channel can't carry (every buffer byte of the VM taken by
 * unfinished guest messages) fails with its whole reason: the control
 * server sends `len` bytes of it to the host.
 */
static void test_tclo_failure_reason_whole(void **state)
{
	struct msgchan c = { 0 };
	struct bdoor_regs r;
	char *m = NULL;
	size_t len;

	assert_int_equal(msgchan_open(&c, TCLO_PROTOCOL_NUM), 0);
	assert_int_equal(msgchan_send(&c, "", 0), 0);
	assert_int_equal(msgchan_recv(&c, &m, &len), 0);
	free(m);
	assert_int_equal(msgchan_send(&c, "OK ATR toolbox", 14), 0);
	assert_int_equal(msgchan_recv(&c, &m, &len), 0);
	free(m);
	assert_int_equal(msgchan_send(&c, "OK ", 3), 0);
	expect_pushed_options(&c);
	/*
	 * Eight channels each announce a message of the largest size and send
	 * none of it, two per guest process (one process may hold a quarter).
	 */
	for (int i = 0; i < 8; i++) {
		io_owner = 2 + i / 2;
		bdoor_lb_cmd(&r, BDOOR_CMD_MESSAGE, MESSAGE_TYPE_OPEN);
		r.bx = RPCI_PROTOCOL_NUM;
		bdoor_lb(&r);
		assert_true(bdoor_hi16(r.cx) & MESSAGE_STATUS_SUCCESS);
		bdoor_lb_cmd(&r, BDOOR_CMD_MESSAGE, MESSAGE_TYPE_SENDSIZE);
		r.bx = GUESTMSG_MAX_SIZE;
		r.dx = (uint64_t)(i + 1) << 16;
		bdoor_lb(&r);
		assert_true(bdoor_hi16(r.cx) & MESSAGE_STATUS_SUCCESS);
	}
	io_owner = 1;
	pthread_mutex_lock(&vm->lock);
	assert_int_equal(rpc_tclo_send(vm->rpc, NULL, "ping", 4, tclo_done, NULL), 0);
	pthread_mutex_unlock(&vm->lock);
	assert_int_equal(msgchan_send(&c, "", 0), 0);
	assert_int_equal(msgchan_recv(&c, &m, &len), 0);
	assert_null(m);
	assert_int_equal(tclo_status, -1);
	assert_string_equal(tclo_reply, "message too large for the channel");
	assert_int_equal(tclo_reply_len, strlen(tclo_reply));
	msgchan_close(&c);
}

/*
 * Routing by application: a command for a session app nobody attached as
 * fails at once; one for the main tools waits for them and expires.
 */
static void test_tclo_app_routing(void **state)
{
	uint64_t now = (uint64_t)g_get_monotonic_time() * 1000;

	pthread_mutex_lock(&vm->lock);
	assert_int_equal(rpc_tclo_send(vm->rpc, "toolbox-dnd", "Resolution_Set 800 600", 22,
				       tclo_done, NULL), -ENOTCONN);
	tclo_status = 1;
	assert_int_equal(rpc_tclo_send(vm->rpc, NULL, "ping", 4, tclo_done, NULL), 0);
	rpc_expire(vm->rpc, now + RPC_TCLO_TIMEOUT_NS / 2);
	assert_int_equal(tclo_status, 1);		/* still waiting */
	rpc_expire(vm->rpc, now + RPC_TCLO_TIMEOUT_NS + 1000000000ull);
	pthread_mutex_unlock(&vm->lock);
	assert_int_equal(tclo_status, -1);
	assert_string_equal(tclo_reply, "no guest tools took the command in time");
}

/*
 * RPCI messages are length-delimited bytes: a guest info record in XDR
 * (full of NULs) reaches its command through the real channel, while a
 * textual command with a NUL is still refused.
 */
static void test_binary_guest_info(void **state)
{
	/* "SetGuestInfo  10 " + GuestNicProto v3: no NICs, no routes, no trailers */
	static const char nic[] = "SetGuestInfo  10 "
		"\0\0\0\3" "\0\0\0\1" "\0\0\0\0" "\0\0\0\0"
		"\0\0\0\0" "\0\0\0\0" "\0\0\0\0" "\0\0\0\0";
	static const char text_nul[] = "info-set guestinfo.a b\0c";
	GString *st = g_string_new(NULL);
	char *reply = NULL;
	size_t len;

	assert_int_equal(rpci_send_one(nic, sizeof(nic) - 1, &reply, &len), 1);
	assert_string_equal(reply, "");
	free(reply);
	reply = NULL;
	assert_int_equal(rpci_send_one(text_nul, sizeof(text_nul) - 1, &reply, &len), 0);
	assert_non_null(strstr(reply, "NUL"));
	free(reply);
	guestinfo_status(vm, st);
	assert_non_null(strstr(st->str, "guest.nics=0\n"));
	g_string_free(st, TRUE);
}

/* ---- copy/paste version 4, as VMware's desktop tools (vmusr) speak it ---- */

/* Attach as the desktop tools ("toolbox-dnd") from guest context io_owner. */
static void attach_desktop(struct msgchan *c)
{
	char *m = NULL;
	size_t len;

	assert_int_equal(msgchan_open(c, TCLO_PROTOCOL_NUM), 0);
	assert_int_equal(msgchan_send(c, "", 0), 0);
	assert_int_equal(msgchan_recv(c, &m, &len), 0);
	free(m);
	assert_int_equal(msgchan_send(c, "OK ATR toolbox-dnd", 18), 0);
	assert_int_equal(msgchan_recv(c, &m, &len), 0);
	assert_string_equal(m, "Capabilities_Register");
	free(m);
	assert_int_equal(msgchan_send(c, "OK ", 3), 0);
	/* As a VMware host: copy/paste is offered on that channel. */
	assert_int_equal(msgchan_recv(c, &m, &len), 0);
	assert_string_equal(m, "Set_Option copypaste 1");
	free(m);
	assert_int_equal(msgchan_send(c, "OK ", 3), 0);
	assert_int_equal(msgchan_recv(c, &m, &len), 0);
	assert_null(m);
}

/* "copypaste.transport" + a packet, through a real RPCI channel: 1 taken, 0 refused. */
static int send_packet(uint32_t cmd, uint32_t session, uint32_t total, uint32_t offset,
		       const void *payload, uint32_t size)
{
	struct dndcp_hdr h = { .cmd = cmd, .session = session, .binary_size = total,
			       .payload_offset = offset, .payload_size = size };
	size_t n = sizeof(DNDCP_RPC_CP) + DNDCP_HDR_SIZE + size, len;
	char *msg = malloc(n), *reply = NULL;
	int r;

	memcpy(msg, DNDCP_RPC_CP " ", sizeof(DNDCP_RPC_CP));
	memcpy(msg + sizeof(DNDCP_RPC_CP), &h, sizeof(h));
	if (size)
		memcpy(msg + sizeof(DNDCP_RPC_CP) + DNDCP_HDR_SIZE, payload, size);
	r = rpci_send_one(msg, n, &reply, &len);
	free(msg);
	free(reply);
	return r;
}

/* The next TCLO command must be a v4 packet: its header, and its bytes in *binary. */
static void recv_packet(struct msgchan *c, struct dndcp_hdr *h, char **whole, size_t *len)
{
	assert_int_equal(msgchan_send(c, "", 0), 0);	/* the next poll */
	assert_int_equal(msgchan_recv(c, whole, len), 0);
	assert_non_null(*whole);
	assert_true(*len >= sizeof(DNDCP_RPC_CP) + DNDCP_HDR_SIZE);
	assert_memory_equal(*whole, DNDCP_RPC_CP " ", sizeof(DNDCP_RPC_CP));
	memcpy(h, *whole + sizeof(DNDCP_RPC_CP), sizeof(*h));
}

static GString *guest_text(void)
{
	GString *out = g_string_new(NULL);

	pthread_mutex_lock(&vm->lock);
	assert_int_equal(copypaste_control(vm, PH_CTL_CLIPBOARD_GUEST_TEXT, "0", strlen("0"), out), 0);
	pthread_mutex_unlock(&vm->lock);
	return out;
}

static void v4_register(void)
{
	char *reply = NULL;

	assert_int_equal(rpci("tools.capability.copypaste_version 4", &reply), 1);
	free(reply);
	assert_int_equal(rpci("vmx.capability.copypaste_version", &reply), 1);
	assert_string_equal(reply, "4");
	free(reply);
}

/*
 * Both ways with the real channels: the host's text reaches the tools as
 * CP_CMD_RECV_CLIPBOARD, whole (its packet holds NULs: TCLO commands used to
 * be cut at the first one), and the guest's CP_CMD_SEND_CLIPBOARD becomes
 * the text the host bridge reads.
 */
static void test_v4_both_ways(void **state)
{
	struct msgchan c = { 0 };
	struct dndcp_hdr h;
	struct dndcp_clip clip;
	const char *why;
	char *whole = NULL;
	size_t len;
	uint32_t size;
	uint8_t *cb;
	GString *out = g_string_new(NULL), *text;

	attach_desktop(&c);
	v4_register();
	pthread_mutex_lock(&vm->lock);
	assert_int_equal(copypaste_control(vm, PH_CTL_CLIPBOARD_HOST_TEXT, "0 10\nhello", strlen("0 10\nhello"), out),
			 0);
	assert_int_equal(copypaste_control(vm, PH_CTL_CLIPBOARD_HOST_TEXT, "5 10\n host", strlen("5 10\n host"), out),
			 0);
	pthread_mutex_unlock(&vm->lock);
	recv_packet(&c, &h, &whole, &len);
	assert_int_equal(h.cmd, CP_CMD_RECV_CLIPBOARD);
	assert_int_equal(len, sizeof(DNDCP_RPC_CP) + DNDCP_HDR_SIZE + h.payload_size);
	assert_int_equal(dndcp_clip_parse((uint8_t *)whole + sizeof(DNDCP_RPC_CP) + DNDCP_HDR_SIZE,
					  h.payload_size, &clip, &why), 0);
	assert_int_equal(dndcp_clip_text_len(&clip), 10);
	assert_memory_equal(clip.item[DNDCP_FMT_TEXT], "hello host", 10);
	free(whole);

	cb = dndcp_clip_build("from the guest", 14, NULL, 0, NULL, 0, true, &size);
	assert_int_equal(send_packet(CP_CMD_SEND_CLIPBOARD, 1, size, 0, cb, size), 1);
	text = guest_text();
	assert_string_equal(text->str, "1 14 1\nfrom the guest");
	g_string_free(text, TRUE);
	/* The same text again (tools that can't tell it changed) is no new copy. */
	assert_int_equal(send_packet(CP_CMD_SEND_CLIPBOARD, 2, size, 0, cb, size), 1);
	text = guest_text();
	assert_string_equal(text->str, "1 14 1\nfrom the guest");
	g_string_free(text, TRUE);
	free(cb);
	g_string_free(out, TRUE);
	msgchan_close(&c);
}

/*
 * Hostile pieces through the device: a total that changes, a message cut
 * by a version switch, packets from a process that never registered.  Each
 * is refused ("0 ..."), counted, and leaves no message half-taken.
 */
static void test_v4_hostile_pieces(void **state)
{
	static uint8_t junk[DNDCP_MAX_PAYLOAD];
	const uint32_t big = 2 * DNDCP_MAX_PAYLOAD;
	struct msgchan c = { 0 };
	struct dndcp_hdr h;
	char *whole = NULL, *reply = NULL;
	size_t len;
	GString *st = g_string_new(NULL), *text;

	attach_desktop(&c);
	v4_register();
	assert_int_equal(send_packet(CP_CMD_SEND_CLIPBOARD, 5, big, 0, junk, DNDCP_MAX_PAYLOAD), 1);
	recv_packet(&c, &h, &whole, &len);		/* the host asks for the next piece */
	assert_int_equal(h.cmd, DNDCP_CMD_REQUEST_NEXT);
	assert_int_equal(h.param[1], big);
	assert_int_equal(h.param[2], DNDCP_MAX_PAYLOAD);
	free(whole);
	assert_int_equal(msgchan_send(&c, "OK ", 3), 0);
	assert_int_equal(msgchan_recv(&c, &whole, &len), 0);
	assert_null(whole);
	/* The next piece claims a larger total: refused, the message dropped. */
	assert_int_equal(send_packet(CP_CMD_SEND_CLIPBOARD, 5, big + 4096, DNDCP_MAX_PAYLOAD, junk,
				     DNDCP_MAX_PAYLOAD), 0);
	assert_int_equal(send_packet(CP_CMD_SEND_CLIPBOARD, 5, big, DNDCP_MAX_PAYLOAD, junk,
				     DNDCP_MAX_PAYLOAD), 0);

	/* A version switch in the middle of a message ends it. */
	assert_int_equal(send_packet(CP_CMD_SEND_CLIPBOARD, 6, big, 0, junk, DNDCP_MAX_PAYLOAD), 1);
	assert_int_equal(rpci("tools.capability.copypaste_version 3", &reply), 1);
	free(reply);
	assert_int_equal(send_packet(CP_CMD_SEND_CLIPBOARD, 6, big, DNDCP_MAX_PAYLOAD, junk,
				     DNDCP_MAX_PAYLOAD), 0);
	v4_register();
	assert_int_equal(send_packet(CP_CMD_SEND_CLIPBOARD, 6, big, DNDCP_MAX_PAYLOAD, junk,
				     DNDCP_MAX_PAYLOAD), 0);

	/* Another guest process than the tools that registered. */
	io_owner = 9;
	assert_int_equal(send_packet(DNDCP_CMD_PING, 0, 0, 0, NULL, 0), 0);
	io_owner = 1;

	/* Over the VM's clipboard limit: refused on the header. */
	pthread_mutex_lock(&vm->lock);
	assert_int_equal(copypaste_control(vm, PH_CTL_CLIPBOARD_POLICY_SET, "max-size=1000", strlen("max-size=1000"), st),
			 0);
	pthread_mutex_unlock(&vm->lock);
	assert_int_equal(send_packet(CP_CMD_SEND_CLIPBOARD, 7, big, 0, junk, DNDCP_MAX_PAYLOAD), 0);

	g_string_truncate(st, 0);
	pthread_mutex_lock(&vm->lock);
	copypaste_status(vm, st);
	pthread_mutex_unlock(&vm->lock);
	assert_non_null(strstr(st->str, "clipboard.v4.refused=6\n"));
	text = guest_text();
	assert_string_equal(text->str, "0 0 0\n");		/* nothing half-sent got through */
	g_string_free(text, TRUE);
	g_string_free(st, TRUE);
	msgchan_close(&c);
}

/*
 * One owner per command on the desktop channel: vmusr (guest context 1,
 * copy/paste v4 registered) and porthole-agent (context 2) both attach as
 * "toolbox-dnd".  Whoever polls first, Resolution_Set goes to the agent
 * and a copy/paste packet to vmusr.  (The old code gave each command to
 * the first poller.)
 */
static void test_desktop_channel_owners(void **state)
{
	struct msgchan vmusr = { 0 }, agent = { 0 };
	GString *out = g_string_new(NULL);
	struct dndcp_hdr h;
	char *m = NULL;
	size_t len;

	attach_desktop(&vmusr);
	v4_register();
	io_owner = 2;
	attach_desktop(&agent);
	pthread_mutex_lock(&vm->lock);
	assert_int_equal(rpc_tclo_send(vm->rpc, "toolbox-dnd", "Resolution_Set 1366 700", 23,
				       tclo_done, NULL), 0);
	pthread_mutex_unlock(&vm->lock);
	io_owner = 1;
	assert_int_equal(msgchan_send(&vmusr, "", 0), 0);	/* vmusr polls first */
	assert_int_equal(msgchan_recv(&vmusr, &m, &len), 0);
	assert_null(m);
	io_owner = 2;
	assert_int_equal(msgchan_send(&agent, "", 0), 0);
	assert_int_equal(msgchan_recv(&agent, &m, &len), 0);
	assert_non_null(m);
	assert_string_equal(m, "Resolution_Set 1366 700");
	free(m);
	assert_int_equal(msgchan_send(&agent, "OK ", 3), 0);	/* ... and polls first now */
	pthread_mutex_lock(&vm->lock);
	assert_int_equal(copypaste_control(vm, PH_CTL_CLIPBOARD_HOST_TEXT, "0 2\nhi", strlen("0 2\nhi"), out), 0);
	pthread_mutex_unlock(&vm->lock);
	assert_int_equal(msgchan_recv(&agent, &m, &len), 0);
	assert_null(m);
	io_owner = 1;
	recv_packet(&vmusr, &h, &m, &len);
	assert_int_equal(h.cmd, CP_CMD_RECV_CLIPBOARD);
	free(m);
	g_string_free(out, TRUE);
	msgchan_close(&vmusr);
	io_owner = 2;
	msgchan_close(&agent);
	io_owner = 1;
}

/*
 * Capabilities per guest context: vmusr (context 1) and porthole-agent
 * (context 2) register the same name; both values stay.  (The old code
 * kept one value per name: the last registration won.)
 */
static void test_capabilities_per_context(void **state)
{
	GString *st = g_string_new(NULL);
	char *reply = NULL;

	assert_int_equal(rpci("tools.capability.resolution_set 0", &reply), 1);
	free(reply);
	io_owner = 2;
	assert_int_equal(rpci("tools.capability.resolution_set 1", &reply), 1);
	free(reply);
	io_owner = 1;
	assert_int_equal(rpci("tools.capability.resolution_set 0", &reply), 1);
	free(reply);
	pthread_mutex_lock(&vm->lock);
	rpc_status(vm->rpc, (uint64_t)g_get_monotonic_time() * 1000, st);
	pthread_mutex_unlock(&vm->lock);
	assert_non_null(strstr(st->str, "resolution_set:1"));
	assert_non_null(strstr(st->str, "resolution_set:0"));
	assert_null(strstr(strstr(st->str, "resolution_set:0") + 1, "resolution_set:0"));
	g_string_free(st, TRUE);
}

/* The number of "NAME:" entries in the status' capability list. */
static unsigned int cap_entries(const char *name)
{
	GString *st = g_string_new(NULL);
	char *want = g_strdup_printf("%s:", name);
	unsigned int n = 0;

	pthread_mutex_lock(&vm->lock);
	rpc_status(vm->rpc, (uint64_t)g_get_monotonic_time() * 1000, st);
	pthread_mutex_unlock(&vm->lock);
	for (const char *p = st->str; (p = strstr(p, want)); p++)
		n++;
	g_free(want);
	g_string_free(st, TRUE);
	return n;
}

/*
 * A context that ended keeps its capabilities (a vmware-rpctool's are the
 * VM's) until another registers the same name; a vmusr restarted 40 times
 * with 25 names each (1000 > the 256 cap) is never refused, and the table
 * holds one entry per name.
 */
static void test_capabilities_of_ended_contexts(void **state)
{
	char *reply = NULL, *cmd;

	io_owner = 3;
	assert_int_equal(rpci("tools.capability.oneshot_cap 1", &reply), 1);
	free(reply);
	vm_owner_exited(vm, 3);
	assert_int_equal(cap_entries("oneshot_cap"), 1);
	for (int life = 0; life < 40; life++) {
		io_owner = 100 + life;
		for (int i = 0; i < 25; i++) {
			cmd = g_strdup_printf("tools.capability.vmusr_cap%d 1", i);
			assert_int_equal(rpci(cmd, &reply), 1);
			free(reply);
			g_free(cmd);
		}
		vm_owner_exited(vm, 100 + life);
	}
	for (int i = 0; i < 25; i += 8) {
		char *name = g_strdup_printf("vmusr_cap%d", i);

		assert_int_equal(cap_entries(name), 1);
		g_free(name);
	}
	assert_int_equal(cap_entries("oneshot_cap"), 1);
	/* A live context's entry is never taken by another's registration. */
	io_owner = 200;
	assert_int_equal(rpci("tools.capability.vmusr_cap0 0", &reply), 1);
	free(reply);
	io_owner = 201;
	assert_int_equal(rpci("tools.capability.vmusr_cap0 1", &reply), 1);
	free(reply);
	assert_int_equal(cap_entries("vmusr_cap0"), 2);
	io_owner = 1;
}

/*
 * The v4 owner keeps version 4 when another guest context registers an
 * older copy/paste version or asks the host's: only its own registration
 * changes it.  (It used to go to -1, and vmusr silently lost the clipboard.)
 */
static void test_v4_owner_kept(void **state)
{
	GString *st = g_string_new(NULL);
	char *reply = NULL;

	v4_register();				/* context 1 */
	io_owner = 2;
	assert_int_equal(rpci("tools.capability.copypaste_version 3", &reply), 1);
	free(reply);
	assert_int_equal(rpci("vmx.capability.copypaste_version", &reply), 1);
	free(reply);
	pthread_mutex_lock(&vm->lock);
	copypaste_status(vm, st);
	pthread_mutex_unlock(&vm->lock);
	assert_non_null(strstr(st->str, "clipboard.v4.version=4\nclipboard.v4.owner=1\n"));
	/* Its owner going back to an older version does end it. */
	io_owner = 1;
	assert_int_equal(rpci("tools.capability.copypaste_version 3", &reply), 1);
	free(reply);
	g_string_truncate(st, 0);
	pthread_mutex_lock(&vm->lock);
	copypaste_status(vm, st);
	pthread_mutex_unlock(&vm->lock);
	assert_non_null(strstr(st->str, "clipboard.v4.owner=-1\n"));
	g_string_free(st, TRUE);
}

/*
 * A guest that starts a big message and never finishes it: at the host
 * bridge's next poll after 5 s without a piece the message is dropped (its
 * buffer freed, counted as refused) and the next piece is refused.
 */
static void test_v4_never_finishing(void **state)
{
	static uint8_t junk[DNDCP_MAX_PAYLOAD];
	struct msgchan c = { 0 };
	struct dndcp_hdr h;
	char *whole = NULL;
	size_t len;
	GString *st = g_string_new(NULL), *text;

	attach_desktop(&c);
	v4_register();
	assert_int_equal(send_packet(CP_CMD_SEND_CLIPBOARD, 5, 3 * DNDCP_MAX_PAYLOAD, 0, junk,
				     DNDCP_MAX_PAYLOAD), 1);
	recv_packet(&c, &h, &whole, &len);
	assert_int_equal(h.cmd, DNDCP_CMD_REQUEST_NEXT);
	free(whole);
	g_usleep(5200 * 1000);
	text = guest_text();		/* the bridge's poll */
	g_string_free(text, TRUE);
	pthread_mutex_lock(&vm->lock);
	copypaste_status(vm, st);
	pthread_mutex_unlock(&vm->lock);
	assert_non_null(strstr(st->str, "clipboard.v4.refused=1\n"));
	recv_packet(&c, &h, &whole, &len);	/* and it asks for the clipboard anew */
	assert_int_equal(h.cmd, CP_CMD_REQUEST_CLIPBOARD);
	free(whole);
	assert_int_equal(send_packet(CP_CMD_SEND_CLIPBOARD, 5, 3 * DNDCP_MAX_PAYLOAD,
				     DNDCP_MAX_PAYLOAD, junk, DNDCP_MAX_PAYLOAD), 0);
	g_string_free(st, TRUE);
	msgchan_close(&c);
}

/*
 * vmusr alone, without a resolution capability (it has no VMware display
 * driver): a resize fails at once (EOPNOTSUPP) instead of reaching tools
 * that would answer an error and leave the screen at another size; once
 * it registers resolution_set it gets them.
 */
static void test_vmusr_resize_needs_capability(void **state)
{
	struct msgchan vmusr = { 0 };
	char *m = NULL, *reply = NULL;
	size_t len;

	int r;

	attach_desktop(&vmusr);
	v4_register();
	pthread_mutex_lock(&vm->lock);
	r = rpc_tclo_send(vm->rpc, "toolbox-dnd", "Resolution_Set 1366 700", 23, tclo_done, NULL);
	pthread_mutex_unlock(&vm->lock);
	assert_int_equal(r, -EOPNOTSUPP);
	assert_int_equal(rpci("tools.capability.resolution_set 1", &reply), 1);
	free(reply);
	pthread_mutex_lock(&vm->lock);
	r = rpc_tclo_send(vm->rpc, "toolbox-dnd", "Resolution_Set 1366 700", 23, tclo_done, NULL);
	pthread_mutex_unlock(&vm->lock);
	assert_int_equal(r, 0);
	assert_int_equal(msgchan_send(&vmusr, "", 0), 0);
	assert_int_equal(msgchan_recv(&vmusr, &m, &len), 0);
	assert_non_null(m);
	assert_string_equal(m, "Resolution_Set 1366 700");
	free(m);
	msgchan_close(&vmusr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_getversion, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gettimefull_keeps_magic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uuid_stable_per_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lb_string_io_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_info_set_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_big_message_both_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tools_version_and_caps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tclo_sequence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tclo_failure_reason_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tclo_app_routing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_binary_guest_info, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v4_both_ways, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v4_hostile_pieces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v4_never_finishing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_desktop_channel_owners, setup, teardown),
		cmocka_unit_test_setup_teardown(test_capabilities_per_context, setup, teardown),
		cmocka_unit_test_setup_teardown(test_capabilities_of_ended_contexts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v4_owner_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vmusr_resize_needs_capability, setup, teardown),
	};

	g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL);
	return cmocka_run_group_tests_name("rpc", tests, NULL, NULL);
}
