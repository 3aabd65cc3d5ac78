// SPDX-License-Identifier: MIT
/*
 * The tools options a VMware host pushes and the questions stock
 * open-vm-tools ask it beyond rpc.c's basics.  See tools-options.h.
 *
 * Options: when the main tools ("OK ATR toolbox") have answered
 * Capabilities_Register (so what they said while registering, a
 * vmx.set_option, counts) they are sent what VMware sends at tools start,
 * one TCLO "Set_Option NAME VALUE" each:
 * broadcastIP (the tools publish guestinfo.ip), synctime (periodic sync,
 * a per-VM setting), then the time.synchronize.tools.* options timeSync
 * reads (synctime must come before .enable: a later off-to-on synctime
 * then steps the clock once before the loop starts).  A guest's
 * "vmx.set_option synctime OLD NEW" (vmware-toolbox-cmd timesync
 * enable|disable) changes the setting and pushes it back, as VMware does;
 * GETGUIOPTIONS shows it as bit 0x400, which is all `timesync status` reads.
 *
 * guestlib: "guestlib.info.get 3" is answered in the V3 format libguestlib
 * decodes: a little-endian header (version, session id, data size) and XDR
 * (big-endian) data, the count then every statistic 1..38 in order, each
 * its discriminant, a valid flag and the value.  What the hypervisor
 * really knows is marked valid; the rest is sent as not valid (the guest
 * says "not available"), never made up.
 */
#define G_LOG_DOMAIN "porthole-hv"
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hypervisor/vm.h"
#include "rpc.h"
#include "tools-options.h"

struct tools_options {
	struct vm *vm;
	bool sync_time;
	uint64_t session_id;		/* guestlib: new each time the VM starts */
	uint64_t sync_time_changes;	/* by the guest (vmx.set_option) or the host */
	GHashTable *unknown_names;	/* unknown RPCI command names (cut), logged once */
	bool unknown_names_full;
};

struct tools_options *tools_options_new(struct vm *vm, bool sync_time)
{
	struct tools_options *opts = g_new0(struct tools_options, 1);

	opts->vm = vm;
	opts->sync_time = sync_time;
	/* Nonzero: libguestlib takes a zero session id for "none yet". */
	while (!opts->session_id)
		opts->session_id = (uint64_t)g_random_int() << 32 | g_random_int();
	opts->unknown_names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	return opts;
}

void tools_options_free(struct tools_options *opts)
{
	if (!opts)
		return;
	g_hash_table_destroy(opts->unknown_names);
	g_free(opts);
}

/* ---- options pushed to the tools ---- */

static void push_option(struct vm *vm, const char *name, const char *value)
{
	char *cmd = g_strdup_printf("Set_Option %s %s", name, value);

	/* Queue full: the guest isn't polling; it gets every option when it attaches again. */
	if (vm->rpc && rpc_tclo_send(vm->rpc, TOOLS_APP_MAIN, cmd, strlen(cmd), NULL, NULL))
		vm_guest_log(vm, "tools options: '%s' not queued", cmd);
	g_free(cmd);
}

void tools_options_attached(struct vm *vm, const char *app)
{
	struct tools_options *opts = vm->tools_options;
	char percent[16];

	if (!opts || strcmp(app, TOOLS_APP_MAIN))
		return;
	g_snprintf(percent, sizeof(percent), "%d", TOOLS_SYNC_PERCENT_CORRECTION);
	push_option(vm, "broadcastIP", "1");
	push_option(vm, "synctime", opts->sync_time ? "1" : "0");
	push_option(vm, "time.synchronize.tools.startup", "1");
	push_option(vm, "time.synchronize.tools.slewCorrection", "1");
	push_option(vm, "time.synchronize.tools.percentCorrection", percent);
	push_option(vm, "time.synchronize.tools.enable", "1");
}

void tools_options_set_sync_time(struct vm *vm, bool on)
{
	struct tools_options *opts = vm->tools_options;

	if (!opts || opts->sync_time == on)
		return;
	opts->sync_time = on;
	opts->sync_time_changes++;
	push_option(vm, "synctime", on ? "1" : "0");
	if (vm->notify)
		vm->notify(vm, "tools");
}

bool tools_options_sync_time(const struct vm *vm)
{
	return vm->tools_options && vm->tools_options->sync_time;
}

uint32_t tools_options_gui(const struct vm *vm)
{
	return tools_options_sync_time(vm) ? TOOLS_GUI_SYNC_TIME : 0;
}

void tools_options_status(const struct vm *vm, GString *out)
{
	const struct tools_options *opts = vm->tools_options;

	if (!opts)
		return;
	g_string_append_printf(out, "tools.synctime=%d\ntools.synctime-changes=%llu\n",
			       opts->sync_time, (unsigned long long)opts->sync_time_changes);
}

/* ---- RPCI ---- */

static void reply_ok(GString *reply, const char *text)
{
	g_string_append(reply, RPCI_SUCCESS_PREFIX);
	g_string_append(reply, text);
}

static void reply_fail(GString *reply, const char *reason)
{
	g_string_append(reply, RPCI_FAILURE_PREFIX);
	g_string_append(reply, reason);
}

static bool parse_bool(const char *s, bool *out)
{
	if (!strcmp(s, "0") || !strcmp(s, "1")) {
		*out = s[0] == '1';
		return true;
	}
	return false;
}

/* "vmx.set_option NAME OLD NEW": only synctime is a guest-settable option here. */
static void cmd_set_option(struct vm *vm, const char *args, GString *reply)
{
	char **w = g_strsplit(args ? args : "", " ", 0);
	bool old_value, new_value;

	if (g_strv_length(w) != 3 || !parse_bool(w[1], &old_value) ||
	    !parse_bool(w[2], &new_value)) {
		reply_fail(reply, "Invalid arguments (expected: NAME OLD NEW)");
	} else if (strcmp(w[0], "synctime")) {
		reply_fail(reply, "Unknown or read-only option");
	} else {
		tools_options_set_sync_time(vm, new_value);
		vm_guest_log(vm, "guest set synctime to %d", new_value);
		reply_ok(reply, "");
	}
	g_strfreev(w);
}

static void put_be32(GString *out, uint32_t v)
{
	uint8_t b[4] = { v >> 24, v >> 16, v >> 8, v };

	g_string_append_len(out, (const char *)b, 4);
}

static void put_be64(GString *out, uint64_t v)
{
	put_be32(out, (uint32_t)(v >> 32));
	put_be32(out, (uint32_t)v);
}

enum stat_kind { STAT_U32, STAT_U64, STAT_STRING, STAT_BYTES };

/* The XDR type of each V3 statistic (open-vm-tools' guestlibV3.x), index = id - 1. */
static const uint8_t stat_kinds[GUESTLIB_STAT_COUNT] = {
	STAT_U32, STAT_U32, STAT_U32, STAT_U64, STAT_U32,		/* 1-5 cpu, host MHz */
	STAT_U32, STAT_U32, STAT_U32, STAT_U32, STAT_U32, STAT_U32,	/* 6-11 memory */
	STAT_U32, STAT_U32, STAT_U32, STAT_U32, STAT_U32,		/* 12-16 memory */
	STAT_U64, STAT_STRING, STAT_U64, STAT_U64,			/* 17-20 */
	STAT_U32, STAT_U64, STAT_U64, STAT_U64, STAT_U64,		/* 21-25 host */
	STAT_U64, STAT_U64, STAT_U64, STAT_U64, STAT_U64,		/* 26-30 host memory */
	STAT_U32, STAT_U32, STAT_U32, STAT_U32, STAT_U32, STAT_U32,	/* 31-36 */
	STAT_BYTES, STAT_U64,						/* 37-38 */
};

struct stat_value {
	bool valid;
	uint64_t value;
};

/* Guest RAM the guest has touched, in MiB: the memfd's allocated blocks. */
static uint64_t ram_used_mb(const struct vm *vm)
{
	struct stat st;

	if (vm->ram_fd < 0 || fstat(vm->ram_fd, &st))
		return 0;
	return (uint64_t)st.st_blocks * 512 >> 20;
}

static uint64_t host_pages_mb(int name)
{
	long pages = sysconf(name), size = sysconf(_SC_PAGESIZE);

	return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size >> 20 : 0;
}

static void guestlib_values(struct vm *vm, struct stat_value v[GUESTLIB_STAT_COUNT + 1])
{
	uint64_t mhz = vm->tsc_khz / 1000, ram_mb = vm->ram_size >> 20, used = ram_used_mb(vm);
	uint64_t cores = (uint64_t)g_get_num_processors();

#define SET(id, x) (v[id] = (struct stat_value){ true, (x) })
	SET(1, 0);			/* CPU reservation MHz: none */
	SET(2, mhz * cores);		/* CPU limit: every host core at full speed */
	SET(5, mhz);			/* host MHz */
	SET(6, 0);			/* memory reservation: none */
	SET(7, ram_mb);			/* memory limit: the guest's RAM */
	SET(9, used);			/* mapped */
	SET(12, 0);			/* ballooned: there is no balloon */
	SET(13, 0);			/* swapped: guest RAM is never swapped by us */
	SET(16, used);			/* used */
	SET(17, (uint64_t)(vm_uptime(vm) * 1000));	/* elapsed ms */
	SET(18, 0);			/* resource pool path: "/" (below) */
	SET(20, ram_mb);		/* memory target size */
	SET(21, cores);			/* host CPU cores */
	SET(26, host_pages_mb(_SC_PHYS_PAGES));
	SET(27, host_pages_mb(_SC_AVPHYS_PAGES));
	SET(35, 0);			/* balloon target */
#undef SET
}

void tools_options_guestlib_v3(struct vm *vm, GString *out)
{
	struct stat_value v[GUESTLIB_STAT_COUNT + 1] = { 0 };
	GString *xdr = g_string_sized_new(1024);
	uint32_t version = GUESTLIB_DATA_VERSION, size;

	guestlib_values(vm, v);
	put_be32(xdr, GUESTLIB_STAT_COUNT);
	for (uint32_t id = 1; id <= GUESTLIB_STAT_COUNT; id++) {
		put_be32(xdr, id);			/* the union's discriminant */
		put_be32(xdr, v[id].valid);		/* Bool: an XDR char, 4 bytes */
		switch (stat_kinds[id - 1]) {
		case STAT_U32:
			put_be32(xdr, (uint32_t)MIN(v[id].value, UINT32_MAX));
			break;
		case STAT_U64:
			put_be64(xdr, v[id].value);
			break;
		case STAT_STRING:
			/* "/", padded to 4 bytes; an invalid one is sent empty. */
			put_be32(xdr, v[id].valid ? 1 : 0);
			if (v[id].valid)
				g_string_append_len(xdr, "/\0\0\0", 4);
			break;
		case STAT_BYTES:
			put_be32(xdr, 0);
			break;
		}
	}
	/* Header: packed, in the guest's (x86: little-endian) byte order. */
	size = (uint32_t)xdr->len;
	g_string_append_len(out, (const char *)&version, 4);
	g_string_append_len(out, (const char *)&vm->tools_options->session_id, 8);
	g_string_append_len(out, (const char *)&size, 4);
	g_string_append_len(out, xdr->str, (gssize)xdr->len);
	g_string_free(xdr, TRUE);
}

static void cmd_guestlib_info(struct vm *vm, const char *args, GString *reply)
{
	if (!args || strcmp(args, "3")) {
		/*
		 * libguestlib asks for 3 first; a V3 host names the version it has
		 * ("3:") to any other request, and an old guest asking for 2
		 * takes a failure for "not enabled".
		 */
		reply_fail(reply, "3:Unsupported version");
		return;
	}
	g_string_append(reply, RPCI_SUCCESS_PREFIX);
	tools_options_guestlib_v3(vm, reply);
}

bool tools_options_rpci(struct vm *vm, const char *cmd, const char *args, GString *reply)
{
	if (!vm->tools_options)
		return false;
	if (!strcmp(cmd, "vmx.set_option"))
		cmd_set_option(vm, args, reply);
	else if (!strcmp(cmd, "guestlib.info.get"))
		cmd_guestlib_info(vm, args, reply);
	else if (!strcmp(cmd, "guestlib.stat.get"))
		/* Raw statistics (vmware-toolbox-cmd stat raw): none published. */
		reply_fail(reply, "Statistic not available");
	/*
	 * DnD version 4, as VMware hosts answer (copy/paste's own, also 4, is
	 * copypaste.c's); drag and drop itself stays off: the desktop tools
	 * are never sent "Set_Option enableDnD 1".
	 */
	else if (!strcmp(cmd, "vmx.capability.dnd_version"))
		reply_ok(reply, "4");
	/* Features Porthole has off, answered as a VMware host with them off. */
	else if (!strcmp(cmd, "disk.wiper.enable"))
		reply_ok(reply, "0");		/* shrinking disabled */
	else if (!strcmp(cmd, "deployPkg.update.state") || !strcmp(cmd, "vmbackup.eventSet"))
		reply_ok(reply, "");		/* noted; nothing is deploying or backing up */
	else if (!strcmp(cmd, "f"))
		reply_fail(reply, "Shared folders are disabled");	/* HGFS */
	else
		return false;
	return true;
}

void tools_options_unknown(struct vm *vm, const char *cmd)
{
	struct tools_options *opts = vm->tools_options;
	char *name;

	if (!opts)
		return;
	/* Names differing only past this are one name: the table stays small. */
	name = g_strndup(cmd, TOOLS_UNKNOWN_NAME_LEN);
	if (g_hash_table_contains(opts->unknown_names, name)) {
		g_free(name);
		return;
	}
	if (g_hash_table_size(opts->unknown_names) >= TOOLS_UNKNOWN_NAMES_MAX) {
		if (!opts->unknown_names_full)
			vm_guest_log(vm, "rpci: over %d unknown command names; no more are logged",
				     TOOLS_UNKNOWN_NAMES_MAX);
		opts->unknown_names_full = true;
		g_free(name);
		return;
	}
	/* (vm_guest_log escapes the whole line.) */
	vm_guest_log(vm, "rpci: unknown command '%s' (logged once)", name);
	g_hash_table_add(opts->unknown_names, name);
}

/* ---- removable devices (backdoor commands 11 and 12) ---- */

struct removable_device {
	const char *name;
	bool enabled;
};

/* What `vmware-toolbox-cmd device list` shows: the devices this VM has. */
static unsigned int devices(const struct vm *vm, struct removable_device out[2])
{
	unsigned int n = 0;

	if (vm->vmci)
		out[n++] = (struct removable_device){ "vmci0", true };
	if (!strcmp(vm->engine, "kvm"))
		out[n++] = (struct removable_device){ "serial0", true };
	return n;
}

/* EBX = (device id << 16) | byte offset into RD_Info; EBX out = those 4 bytes. */
uint32_t tools_options_device_element(struct vm *vm, struct bdoor_regs *b)
{
	struct removable_device dev[2];
	uint32_t id = (uint32_t)b->bx >> 16, offset = (uint32_t)b->bx & 0xFFFF;
	uint8_t info[TOOLS_DEVICE_INFO_SIZE] = { 0 };
	uint32_t word;

	if (id >= devices(vm, dev) || offset % 4 || offset >= sizeof(info))
		return 0;	/* FALSE: no such device or field */
	g_strlcpy((char *)info, dev[id].name, TOOLS_DEVICE_NAME_MAX);
	info[32] = (uint8_t)id;		/* uid, little-endian */
	info[36] = dev[id].enabled;
	memcpy(&word, info + offset, 4);
	b->bx = word;
	return 1;
}

/* None of them can be disconnected: the toggle fails, as for a fixed device. */
uint32_t tools_options_toggle_device(struct vm *vm, struct bdoor_regs *b)
{
	vm_guest_log(vm, "backdoor: device %u can't be %s", (uint32_t)b->bx & 0xFFFF,
		     (uint32_t)b->bx & 0x80000000u ? "connected" : "disconnected");
	return 0;
}
