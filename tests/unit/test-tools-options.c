// SPDX-License-Identifier: MIT
/*
 * hypervisor/devices/tools-options.c through the real device model, as
 * test-rpc.c drives it: the guest library's backdoor calls go into vm_io().
 * The guestlib V3 reply is decoded here as libguestlib decodes it, with
 * every length checked, so a format slip fails here before a guest sees it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "backdoor/backdoor.h"
#include "backdoor/msgchan.h"
#include "hypervisor/devices/rpc.h"
#include "hypervisor/devices/tools-options.h"
#include "hypervisor/devices/vmmouse.h"
#include "hypervisor/vm.h"

#include "inproc-backdoor.h"


static int setup_with(bool sync_time)
{
	struct vm_config cfg = { .name = "unit", .ram_size = 64 << 20, .sync_time = sync_time };

	vm = vm_create(&cfg);
	bdoor_set_transport(&inproc_transport);
	return vm ? 0 : -1;
}

static int setup(void **state) { return setup_with(false); }
static int setup_sync(void **state) { return setup_with(true); }

static int teardown(void **state)
{
	bdoor_set_transport(NULL);
	vm_destroy(vm);
	return 0;
}

/* The RPCI status (1/0) and the reply after the prefix. */
static int rpci(const char *cmd, char **reply, size_t *len)
{
	return rpci_send_one(cmd, strlen(cmd), reply, len);
}

static uint32_t gui_options(void)
{
	struct bdoor_regs r;

	bdoor_lb_cmd(&r, BDOOR_CMD_GETGUIOPTIONS, 0);
	bdoor_lb(&r);
	return (uint32_t)r.ax;
}

static void expect_reply(const char *cmd, int status, const char *text)
{
	char *reply = NULL;
	size_t len;

	assert_int_equal(rpci(cmd, &reply, &len), status);
	assert_string_equal(reply, text);
	free(reply);
}

/* vmware-toolbox-cmd timesync enable/disable: "vmx.set_option synctime OLD NEW". */
static void test_set_option_synctime(void **state)
{
	assert_int_equal(gui_options(), 0);
	expect_reply("vmx.set_option synctime 0 1", 1, "");
	assert_int_equal(gui_options(), TOOLS_GUI_SYNC_TIME);
	assert_true(tools_options_sync_time(vm));
	expect_reply("vmx.set_option synctime 1 0", 1, "");
	assert_int_equal(gui_options(), 0);
	/* Bad input changes nothing and says why. */
	expect_reply("vmx.set_option synctime 0 2", 0, "Invalid arguments (expected: NAME OLD NEW)");
	expect_reply("vmx.set_option synctime 0", 0, "Invalid arguments (expected: NAME OLD NEW)");
	expect_reply("vmx.set_option synctime 0 1 1", 0, "Invalid arguments (expected: NAME OLD NEW)");
	expect_reply("vmx.set_option", 0, "Invalid arguments (expected: NAME OLD NEW)");
	expect_reply("vmx.set_option broadcastIP 1 0", 0, "Unknown or read-only option");
	assert_int_equal(gui_options(), 0);
}

static void test_sync_time_from_config(void **state)
{
	assert_int_equal(gui_options(), TOOLS_GUI_SYNC_TIME);
}

/* A change reaches attached tools as "Set_Option synctime N", after the start-up options. */
static void test_change_is_pushed(void **state)
{
	struct msgchan c = { 0 };
	char *m = NULL;
	size_t len;
	unsigned int options = 0;

	assert_int_equal(msgchan_open(&c, TCLO_PROTOCOL_NUM), 0);
	assert_int_equal(msgchan_send(&c, "", 0), 0);
	assert_int_equal(msgchan_recv(&c, &m, &len), 0);
	free(m);
	assert_int_equal(msgchan_send(&c, "OK ATR toolbox", 14), 0);
	assert_int_equal(msgchan_recv(&c, &m, &len), 0);
	free(m);
	/* Drain the start-up options, then change synctime. */
	for (;;) {
		assert_int_equal(msgchan_send(&c, "OK ", 3), 0);
		assert_int_equal(msgchan_recv(&c, &m, &len), 0);
		if (!m)
			break;
		assert_true(g_str_has_prefix(m, "Set_Option "));
		options++;
		free(m);
	}
	assert_int_equal(options, 6);
	pthread_mutex_lock(&vm->lock);
	tools_options_set_sync_time(vm, true);
	tools_options_set_sync_time(vm, true);	/* no change: nothing more */
	pthread_mutex_unlock(&vm->lock);
	assert_int_equal(msgchan_send(&c, "", 0), 0);
	assert_int_equal(msgchan_recv(&c, &m, &len), 0);
	assert_string_equal(m, "Set_Option synctime 1");
	free(m);
	assert_int_equal(msgchan_send(&c, "OK ", 3), 0);
	assert_int_equal(msgchan_recv(&c, &m, &len), 0);
	assert_null(m);
	msgchan_close(&c);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* One V3 statistic's value as libguestlib's XDR decoder reads it; -1 past the end. */
struct decoded_stat {
	uint32_t id;
	bool valid;
	uint64_t value;
};

static size_t decode_stat(const uint8_t *p, size_t left, struct decoded_stat *out)
{
	size_t need = 8;
	uint32_t kind;

	assert_true(left >= need);
	out->id = be32(p);
	assert_true(be32(p + 4) <= 1);
	out->valid = be32(p + 4);
	kind = out->id;
	if (kind == 4 || kind == 17 || kind == 19 || kind == 20 || (kind >= 22 && kind <= 30) ||
	    kind == 38) {
		assert_true(left >= need + 8);
		out->value = (uint64_t)be32(p + 8) << 32 | be32(p + 12);
		return need + 8;
	}
	if (kind == 18 || kind == 37) {
		uint32_t n;

		assert_true(left >= need + 4);
		n = be32(p + 8);
		assert_true(n <= 512 && left >= need + 4 + ((n + 3) & ~3u));
		out->value = n;
		return need + 4 + ((n + 3) & ~3u);
	}
	assert_true(left >= need + 4);
	out->value = be32(p + 8);
	return need + 4;
}

static void test_guestlib_v3(void **state)
{
	char *reply = NULL;
	size_t len, off;
	uint32_t version, size;
	uint64_t session, session2;
	const uint8_t *xdr;
	struct decoded_stat st[GUESTLIB_STAT_COUNT + 1];

	assert_int_equal(rpci("guestlib.info.get 3", &reply, &len), 1);
	assert_true(len >= 16);
	memcpy(&version, reply, 4);
	memcpy(&session, reply + 4, 8);
	memcpy(&size, reply + 12, 4);
	assert_int_equal(version, 3);
	assert_true(session != 0);
	assert_int_equal(size, len - 16);
	xdr = (const uint8_t *)reply + 16;
	assert_int_equal(be32(xdr), GUESTLIB_STAT_COUNT);
	off = 4;
	for (uint32_t id = 1; id <= GUESTLIB_STAT_COUNT; id++) {
		off += decode_stat(xdr + off, size - off, &st[id]);
		assert_int_equal(st[id].id, id);	/* all of them, in order */
	}
	assert_int_equal(off, size);			/* and nothing after */
	/* The figures vmware-toolbox-cmd stat prints. */
	assert_true(st[7].valid);
	assert_int_equal(st[7].value, 64);		/* memlimit: the guest's RAM, MB */
	assert_true(st[12].valid);
	assert_int_equal(st[12].value, 0);		/* balloon */
	assert_true(st[13].valid);
	assert_int_equal(st[13].value, 0);		/* swapped */
	assert_true(st[5].valid);
	assert_int_equal(st[5].value, vm->tsc_khz / 1000);
	assert_true(st[21].valid && st[21].value >= 1);	/* host cores */
	assert_true(st[18].valid);
	assert_int_equal(st[18].value, 1);		/* resource pool "/" */
	assert_false(st[3].valid);			/* CPU shares: not known, not made up */
	free(reply);

	/* The session id is the VM's: the same on the next call. */
	assert_int_equal(rpci("guestlib.info.get 3", &reply, &len), 1);
	memcpy(&session2, reply + 4, 8);
	assert_true(session == session2);
	free(reply);
}

/* Other versions: libguestlib reads the host's version before the ':'. */
static void test_guestlib_other_versions(void **state)
{
	expect_reply("guestlib.info.get 2", 0, "3:Unsupported version");
	expect_reply("guestlib.info.get 4", 0, "3:Unsupported version");
	expect_reply("guestlib.info.get", 0, "3:Unsupported version");
	expect_reply("guestlib.info.get 3 3", 0, "3:Unsupported version");
}

static bool device_word(uint32_t id, uint32_t offset, uint32_t *word)
{
	struct bdoor_regs r;

	bdoor_lb_cmd(&r, BDOOR_CMD_GETDEVICELISTELEMENT, 0);
	r.bx = id << 16 | offset;
	bdoor_lb(&r);
	*word = (uint32_t)r.bx;
	return (uint32_t)r.ax != 0;
}

/* vmware-toolbox-cmd device list reads RD_Info 4 bytes at a time. */
static void test_device_list(void **state)
{
	uint8_t info[TOOLS_DEVICE_INFO_SIZE];
	uint32_t word;

	for (uint32_t off = 0; off < sizeof(info); off += 4) {
		assert_true(device_word(0, off, &word));
		memcpy(info + off, &word, 4);
	}
	assert_string_equal((char *)info, "vmci0");
	assert_int_equal(info[36], 1);			/* enabled */
	/* Past the devices, past the structure, unaligned: FALSE. */
	assert_false(device_word(1, 0, &word));		/* trap engine: no serial port */
	assert_false(device_word(0xFFFF, 0, &word));
	assert_false(device_word(0, TOOLS_DEVICE_INFO_SIZE, &word));
	assert_false(device_word(0, 2, &word));
	assert_false(device_word(0, 0xFFFC, &word));
}

static void test_features_off(void **state)
{
	/* As a VMware host: version 4 of both (DnD itself is never enabled). */
	expect_reply("vmx.capability.dnd_version", 1, "4");
	expect_reply("vmx.capability.copypaste_version", 1, "4");
	expect_reply("dnd.is.active", 1, "0");
	expect_reply("disk.wiper.enable", 1, "0");
	expect_reply("deployPkg.update.state 4 0", 1, "");
	expect_reply("vmbackup.eventSet req.aborted 0 x", 1, "");
	expect_reply("f ", 0, "Shared folders are disabled");
	expect_reply("guestlib.stat.get text session", 0, "Statistic not available");
	/* Still unknown, and said so as VMware does (logged once per name). */
	expect_reply("no.such.command", 0, "Unknown command");
	expect_reply("no.such.command", 0, "Unknown command");
}

static unsigned int unknown_lines, newline_lines;

static void count_log(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer o)
{
	if (strstr(msg, "unknown command"))
		unknown_lines++;
	if (strchr(msg, '\n'))
		newline_lines++;
}

/* A fresh rate-limit window, so a line not logged is one the code chose not to log. */
static void new_log_window(void)
{
	vm->log_window_us = 0;
	unknown_lines = 0;
}

/* Unknown commands: each name logged once, escaped; a bounded table of names. */
static void test_unknown_logged_once(void **state)
{
	guint handler = g_log_set_handler("porthole-hv", G_LOG_LEVEL_MESSAGE, count_log, NULL);
	char cmd[64];

	new_log_window();
	for (int i = 0; i < 3; i++)
		expect_reply("no.such.command x", 0, "Unknown command");
	assert_int_equal(unknown_lines, 1);
	expect_reply("evil\nname", 0, "Unknown command");
	assert_int_equal(unknown_lines, 2);
	assert_int_equal(newline_lines, 0);		/* escaped by vm_guest_log */
	for (int i = 0; i < 2 * TOOLS_UNKNOWN_NAMES_MAX; i++) {
		if (i % 40 == 0)
			new_log_window();
		g_snprintf(cmd, sizeof(cmd), "unknown.%d", i);
		expect_reply(cmd, 0, "Unknown command");
	}
	/* The table is full: new names are answered, not logged, not remembered. */
	new_log_window();
	expect_reply("yet.another", 0, "Unknown command");
	expect_reply("and.another", 0, "Unknown command");
	assert_int_equal(unknown_lines, 0);
	g_log_remove_handler("porthole-hv", handler);
}

static char *failures_line(void)
{
	GString *s = g_string_new(NULL);
	char *line, *end;

	pthread_mutex_lock(&vm->lock);
	rpc_status(vm->rpc, 0, s);
	pthread_mutex_unlock(&vm->lock);
	line = strstr(s->str, "rpc.failures=");
	assert_non_null(line);
	end = strchr(line, '\n');
	line = g_strndup(line, (size_t)(end - line));
	g_string_free(s, TRUE);
	return line;
}

/* Failed RPCs are counted by name, with the span of the last three (the e2e soak reads it). */
static void test_failures_counted(void **state)
{
	g_autofree char *none = NULL, *two = NULL, *three = NULL, *escaped = NULL;

	none = failures_line();
	assert_string_equal(none, "rpc.failures=");
	expect_reply("vmx.set_option broadcastIP 1 0", 0, "Unknown or read-only option");
	expect_reply("vmx.set_option broadcastIP 1 0", 0, "Unknown or read-only option");
	expect_reply("vmx.set_option synctime 0 1", 1, "");	/* a success is not counted */
	two = failures_line();
	assert_string_equal(two, "rpc.failures=vmx.set_option:2:-");
	expect_reply("vmx.set_option x", 0, "Invalid arguments (expected: NAME OLD NEW)");
	three = failures_line();
	/* Three failures within a second: a loop the soak test would catch. */
	assert_true(g_str_has_prefix(three, "rpc.failures=vmx.set_option:3:0."));
	expect_reply("a:b,c x", 0, "Unknown command");
	escaped = failures_line();
	assert_true(g_str_has_prefix(escaped, "rpc.failures=a\\x3ab\\x2cc:1:-,vmx.set_option:3:"));
}

static uint32_t backdoor(uint32_t cmd, uint32_t ebx)
{
	struct bdoor_regs r;

	bdoor_lb_cmd(&r, cmd, ebx);
	bdoor_lb(&r);
	return (uint32_t)r.ax;
}

/*
 * A guest polling a command we don't have (vmusr polled 4 and 5, 20 times
 * a second) gets a few lines a minute for it, and the next line says how
 * many were dropped.  (The old code logged every call, up to the global
 * 50 lines a second.)
 */
static void test_unknown_backdoor_rate_limited(void **state)
{
	guint handler = g_log_set_handler("porthole-hv", G_LOG_LEVEL_MESSAGE, count_log, NULL);

	new_log_window();
	for (int i = 0; i < 40; i++) {
		assert_int_equal(backdoor(250, 0), BDOOR_UNSUPPORTED);
		assert_int_equal(backdoor(251, 0), BDOOR_UNSUPPORTED);
	}
	assert_int_equal(unknown_lines, 2 * VM_GUEST_LOG_KIND_PER_MINUTE);
	assert_int_equal(vm->log_kinds[250].dropped, 40 - VM_GUEST_LOG_KIND_PER_MINUTE);
	/* A minute later: logged again, with the count of what was dropped. */
	vm->log_kinds[250].window_us -= 61 * G_USEC_PER_SEC;
	new_log_window();
	assert_int_equal(backdoor(250, 0), BDOOR_UNSUPPORTED);
	assert_int_equal(unknown_lines, 1);
	assert_int_equal(vm->log_kinds[250].dropped, 0);
	g_log_remove_handler("porthole-hv", handler);
}

/*
 * GETPTRLOCATION (4) as VMware answers it: "ungrabbed" (-100, -100) until
 * the host pointer was over the guest, then where it is in guest pixels;
 * SETPTRLOCATION (5) is taken, nothing logged.  (The old code answered
 * 0xFFFFFFFF, read as "grabbed at (-1, -1)": vmusr warped the guest
 * pointer to the corner.)
 */
static void test_pointer_location(void **state)
{
	guint handler = g_log_set_handler("porthole-hv", G_LOG_LEVEL_MESSAGE, count_log, NULL);
	const char *why;

	new_log_window();
	assert_int_equal(backdoor(BDOOR_CMD_GETPTRLOCATION, 0), 0xFF9CFF9Cu);
	pthread_mutex_lock(&vm->lock);
	assert_int_equal(vmmouse_host_event(vm->vmmouse, "65535 32768 0 0", &why), 0);
	pthread_mutex_unlock(&vm->lock);
	assert_int_equal(backdoor(BDOOR_CMD_GETPTRLOCATION, 0),
			 (vm->screen_width - 1) << 16 | (vm->screen_height - 1) / 2);
	assert_int_equal(backdoor(BDOOR_CMD_SETPTRLOCATION, 12u << 16 | 34u), 0);
	assert_int_equal(unknown_lines, 0);
	g_log_remove_handler("porthole-hv", handler);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_set_option_synctime, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_time_from_config, setup_sync, teardown),
		cmocka_unit_test_setup_teardown(test_change_is_pushed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guestlib_v3, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guestlib_other_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_features_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_logged_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failures_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_backdoor_rate_limited, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pointer_location, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
