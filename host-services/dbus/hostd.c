// SPDX-License-Identifier: MIT
/*
 * porthole-hostd: the org.porthole.Host1 session-bus service (interface:
 * org.porthole.Host1.xml next to this file, compiled in below).
 *
 * A daemon of its own rather than `porthole-ctl daemon`: D-Bus activation
 * starts it on the first call, it lives as long as the session, and
 * porthole-ctl stays a short-lived CLI with no GDBus state.
 *
 * Discovery: a GFileMonitor on the control socket directory rescans at once
 * when a socket appears or goes.  Each VM's PH_CTL_STATUS, guestinfo and
 * clipboard policy are read when the hypervisor says they changed: a second
 * connection per VM is subscribed (PH_CTL_SUBSCRIBE) and each PH_CTL_EVENT
 * on it re-reads that VM, turning changes into PropertiesChanged and
 * ToolsStatusChanged; its hang-up removes the VM.  So an idle hostd costs
 * the same with 1 VM or 32.  A slow fallback (FALLBACK_POLL_MS) rescans and
 * re-reads anyway (monitors can miss events, a crashed VM leaves its socket
 * behind); a hypervisor without events (EOPNOTSUPP), or no directory
 * monitor, is polled every POLL_MS as before.  A VM whose socket stops
 * answering is removed.
 * ScreenSize comes from guestinfo.porthole.screen ("WxH", set by the guest's
 * porthole-agent); ClipboardPolicy from PH_CTL_CLIPBOARD_POLICY_GET.
 *
 * Status polls are quick local calls made from the main loop (1 s timeout);
 * methods that wait for the guest (TCLO, up to 10 s) run in GTask threads
 * with a connection of their own, so a slow guest never stalls the service.
 */
#define G_LOG_DOMAIN "porthole-hostd"

#include <errno.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backdoor/desktop.h"
#include "host-services/lib/porthole-host.h"

#define BUS_NAME	"org.porthole.Host1"
#define ROOT_PATH	"/org/porthole/Host1"
#define VM_PATH_PREFIX	ROOT_PATH "/vm/"
#define IFACE_ROOT	"org.porthole.Host1"
#define IFACE_VM	"org.porthole.Host1.VM"
#define ERROR_PREFIX	"org.porthole.Host1.Error."
#define POLL_MS		1000	/* the tick; old hypervisors are polled this often */
#define FALLBACK_POLL_MS 30000	/* subscribed VMs and the directory, re-read anyway */
#define STATUS_TIMEOUT_MS 1000
#define TCLO_TIMEOUT_MS	15000	/* the hypervisor gives up on the guest after 10 s */

/* The introspection XML, embedded as is: one file for the build and the install. */
__asm__(".section .rodata\n"
	".global porthole_host1_xml\n"
	"porthole_host1_xml:\n"
	".incbin \"host-services/dbus/org.porthole.Host1.xml\"\n"
	".byte 0\n"
	".previous\n");
extern const char porthole_host1_xml[];

struct vm {
	struct hostd *hd;
	char *name, *path;
	int fd;			/* control connection for status polls */
	int ev_fd;		/* subscribed connection (PH_CTL_EVENT), or -1 */
	guint ev_watch;
	gint64 polled_us;	/* last status read */
	uint64_t events;	/* PH_CTL_EVENT packets seen */
	guint reg_id;
	char *engine, *state, *tools_status, *tools_version, *tools_desc;
	char *cpuid_mode, *cpuid_reason;
	GStrv caps;
	GHashTable *guestinfo;	/* key -> value, valid UTF-8 */
	/* From the status's guest.* lines (the guestInfo protocol). */
	char *os_name, *host_name;
	guint64 guest_uptime;
	GVariant *ip_addresses, *disks;	/* a{sas}, a(stt) */
	guint32 screen_w, screen_h;	/* 0x0: not known */
	bool clip_known;		/* the hypervisor answered CLIPBOARD_POLICY_GET */
	bool clip_h2g, clip_g2h;
	guint64 clip_max;
	bool sync_time;			/* tools.synctime=1: periodic time sync */
};

#define SCREEN_KEY	"guestinfo.porthole.screen"
#define SCREEN_MAX	65535

struct hostd {
	GMainLoop *loop;
	GDBusConnection *bus;
	GDBusNodeInfo *node;
	GHashTable *vms;	/* name -> struct vm */
	GFileMonitor *monitor;
	char *dir;
	guint root_reg, owner_id, tick, tick_ms, rescan_src;
	gint64 listed_us;	/* last look at the socket directory */
	int exit_code;
};

static GQuark hostd_error_quark(void)
{
	return g_quark_from_static_string("porthole-hostd");
}

/* D-Bus strings must be UTF-8; the guest chooses these bytes. */
static char *utf8(const char *s)
{
	return g_utf8_make_valid(s ? s : "", -1);
}

static void vm_free(gpointer p)
{
	struct vm *vm = p;

	if (vm->reg_id)
		g_dbus_connection_unregister_object(vm->hd->bus, vm->reg_id);
	if (vm->fd >= 0)
		close(vm->fd);
	if (vm->ev_watch)
		g_source_remove(vm->ev_watch);
	if (vm->ev_fd >= 0)
		close(vm->ev_fd);
	g_free(vm->name);
	g_free(vm->path);
	g_free(vm->engine);
	g_free(vm->state);
	g_free(vm->tools_status);
	g_free(vm->tools_version);
	g_free(vm->tools_desc);
	g_free(vm->cpuid_mode);
	g_free(vm->cpuid_reason);
	g_strfreev(vm->caps);
	g_hash_table_destroy(vm->guestinfo);
	g_free(vm->os_name);
	g_free(vm->host_name);
	if (vm->ip_addresses)
		g_variant_unref(vm->ip_addresses);
	if (vm->disks)
		g_variant_unref(vm->disks);
	g_free(vm);
}

static GVariant *guestinfo_variant(struct vm *vm)
{
	GVariantBuilder b;
	GList *keys = g_list_sort(g_hash_table_get_keys(vm->guestinfo), (GCompareFunc)strcmp);

	g_variant_builder_init(&b, G_VARIANT_TYPE("a{ss}"));
	for (GList *k = keys; k; k = k->next)
		g_variant_builder_add(&b, "{ss}", k->data, g_hash_table_lookup(vm->guestinfo, k->data));
	g_list_free(keys);
	return g_variant_builder_end(&b);
}

static GVariant *clipboard_policy_variant(struct vm *vm)
{
	GVariantBuilder b;

	g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
	if (vm->clip_known) {
		g_variant_builder_add(&b, "{sv}", "host-to-guest", g_variant_new_boolean(vm->clip_h2g));
		g_variant_builder_add(&b, "{sv}", "guest-to-host", g_variant_new_boolean(vm->clip_g2h));
		g_variant_builder_add(&b, "{sv}", "max-size", g_variant_new_uint64(vm->clip_max));
	}
	return g_variant_builder_end(&b);
}

static GVariant *vm_property(struct vm *vm, const char *name)
{
	if (!strcmp(name, "Name"))
		return g_variant_new_string(vm->name);
	if (!strcmp(name, "Engine"))
		return g_variant_new_string(vm->engine);
	if (!strcmp(name, "State"))
		return g_variant_new_string(vm->state);
	if (!strcmp(name, "ToolsStatus"))
		return g_variant_new_string(vm->tools_status);
	if (!strcmp(name, "CpuidMode"))
		return g_variant_new_string(vm->cpuid_mode ? vm->cpuid_mode : "");
	if (!strcmp(name, "CpuidReason"))
		return g_variant_new_string(vm->cpuid_reason ? vm->cpuid_reason : "");
	if (!strcmp(name, "ToolsVersion"))
		return g_variant_new_string(vm->tools_version);
	if (!strcmp(name, "ToolsDescription"))
		return g_variant_new_string(vm->tools_desc);
	if (!strcmp(name, "Capabilities"))
		return g_variant_new_strv((const char *const *)vm->caps, -1);
	if (!strcmp(name, "GuestInfo"))
		return guestinfo_variant(vm);
	if (!strcmp(name, "OsName"))
		return g_variant_new_string(vm->os_name ? vm->os_name : "");
	if (!strcmp(name, "HostName"))
		return g_variant_new_string(vm->host_name ? vm->host_name : "");
	if (!strcmp(name, "IpAddresses"))
		return vm->ip_addresses ? g_variant_ref(vm->ip_addresses)
					: g_variant_new_array(G_VARIANT_TYPE("{sas}"), NULL, 0);
	if (!strcmp(name, "Disks"))
		return vm->disks ? g_variant_ref(vm->disks)
				 : g_variant_new_array(G_VARIANT_TYPE("(stt)"), NULL, 0);
	if (!strcmp(name, "GuestUptime"))
		return g_variant_new_uint64(vm->guest_uptime);
	if (!strcmp(name, "ScreenSize"))
		return g_variant_new("(uu)", vm->screen_w, vm->screen_h);
	if (!strcmp(name, "ClipboardPolicy"))
		return clipboard_policy_variant(vm);
	if (!strcmp(name, "PeriodicTimeSync"))
		return g_variant_new_boolean(vm->sync_time);
	return NULL;
}

/* ---- polling a VM ---- */

/* Replace *field with a new value; record the property when it changed. */
static void update(char **field, char *value, const char *prop, GPtrArray *changed)
{
	if (*field && !strcmp(*field, value)) {
		g_free(value);
		return;
	}
	g_free(*field);
	*field = value;
	g_ptr_array_add(changed, (gpointer)prop);
}

/* The hypervisor keeps at most 16 NICs and 64 disks (devices/guestinfo.h). */
#define GUEST_NICS_MAX		16
#define GUEST_DISKS_MAX		64

/* "guest.<what>.<N>.<field>": N below max, and the field; false otherwise. */
static bool indexed_key(const char *key, const char *what, unsigned int max, unsigned int *n,
			const char **field)
{
	size_t len = strlen(what);
	char *end;
	unsigned long v;

	if (strncmp(key, what, len) || !g_ascii_isdigit(key[len]))
		return false;
	v = strtoul(key + len, &end, 10);
	if (*end != '.' || v >= max)
		return false;
	*n = (unsigned int)v;
	*field = end + 1;
	return true;
}

/* *slots[i] = value for the field named names[i]. */
static void set_indexed(const char *field, const char *value, const char *const names[],
			const char **const slots[])
{
	for (int i = 0; names[i]; i++)
		if (!strcmp(field, names[i]))
			*slots[i] = value;
}

/* Replace a typed property's value; record it when it changed. */
static void update_variant(GVariant **field, GVariant *value, const char *prop, GPtrArray *changed)
{
	g_variant_ref_sink(value);
	if (*field && g_variant_equal(*field, value)) {
		g_variant_unref(value);
		return;
	}
	if (*field)
		g_variant_unref(*field);
	*field = value;
	g_ptr_array_add(changed, (gpointer)prop);
}

/* The guest.* status lines (devices/guestinfo.c) as typed properties. */
static void apply_guest(struct vm *vm, const char *text, GPtrArray *changed)
{
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	const char *os = "", *os_full = "", *host = "", *uptime = "0", *field;
	const char *mac[GUEST_NICS_MAX] = { 0 }, *ips[GUEST_NICS_MAX] = { 0 };
	const char *dname[GUEST_DISKS_MAX] = { 0 }, *dsize[GUEST_DISKS_MAX] = { 0 };
	const char *dfree[GUEST_DISKS_MAX] = { 0 };
	GVariantBuilder nics, disks;
	unsigned int n;

	for (char **l = lines; *l; l++) {
		char *v = strchr(*l, '=');

		if (!v || !g_str_has_prefix(*l, "guest."))
			continue;
		*v++ = '\0';
		if (!strcmp(*l, "guest.os"))
			os = v;
		else if (!strcmp(*l, "guest.os.full"))
			os_full = v;
		else if (!strcmp(*l, "guest.hostname"))
			host = v;
		else if (!strcmp(*l, "guest.uptime"))
			uptime = v;
		else if (indexed_key(*l, "guest.nic.", GUEST_NICS_MAX, &n, &field))
			set_indexed(field, v, (const char *[]){ "mac", "ip", NULL },
				    (const char **[]){ &mac[n], &ips[n] });
		else if (indexed_key(*l, "guest.disk.", GUEST_DISKS_MAX, &n, &field))
			set_indexed(field, v, (const char *[]){ "name", "size", "free", NULL },
				    (const char **[]){ &dname[n], &dsize[n], &dfree[n] });
	}
	update(&vm->os_name, utf8(*os_full ? os_full : os), "OsName", changed);
	update(&vm->host_name, utf8(host), "HostName", changed);
	if (vm->guest_uptime != g_ascii_strtoull(uptime, NULL, 10)) {
		vm->guest_uptime = g_ascii_strtoull(uptime, NULL, 10);
		g_ptr_array_add(changed, (gpointer)"GuestUptime");
	}
	g_variant_builder_init(&nics, G_VARIANT_TYPE("a{sas}"));
	for (n = 0; n < GUEST_NICS_MAX && mac[n]; n++) {
		g_autofree char *name = *mac[n] ? utf8(mac[n]) : g_strdup_printf("nic%u", n);
		g_autofree char *valid = utf8(ips[n]);
		g_auto(GStrv) addrs = *valid ? g_strsplit(valid, ",", -1) : g_new0(char *, 1);

		g_variant_builder_add(&nics, "{s^as}", name, addrs);
	}
	update_variant(&vm->ip_addresses, g_variant_builder_end(&nics), "IpAddresses", changed);
	g_variant_builder_init(&disks, G_VARIANT_TYPE("a(stt)"));
	for (n = 0; n < GUEST_DISKS_MAX && dname[n]; n++) {
		g_autofree char *name = utf8(dname[n]);

		g_variant_builder_add(&disks, "(stt)", name,
				      g_ascii_strtoull(dsize[n] ? dsize[n] : "0", NULL, 10),
				      g_ascii_strtoull(dfree[n] ? dfree[n] : "0", NULL, 10));
	}
	update_variant(&vm->disks, g_variant_builder_end(&disks), "Disks", changed);
}

static void apply_status(struct vm *vm, const char *text, GPtrArray *changed)
{
	g_autoptr(GHashTable) kv = ph_kv_parse(text);
	const char *engine = ph_kv_get(kv, "engine", ""), *state = ph_kv_get(kv, "state", "");
	const char *tools = ph_kv_get(kv, "tools.status", "not-running");
	const char *ver = ph_kv_get(kv, "tools.version", "");
	const char *desc = ph_kv_get(kv, "tools.description", "");
	const char *caps = ph_kv_get(kv, "tools.capabilities", "");
	const char *cpuid_mode = ph_kv_get(kv, "cpuid.mode", "");
	const char *cpuid_reason = ph_kv_get(kv, "cpuid.reason", "");
	bool sync_time = !strcmp(ph_kv_get(kv, "tools.synctime", "0"), "1");
	GStrv new_caps;

	apply_guest(vm, text, changed);
	if (sync_time != vm->sync_time) {
		vm->sync_time = sync_time;
		g_ptr_array_add(changed, (gpointer)"PeriodicTimeSync");
	}
	update(&vm->cpuid_mode, utf8(cpuid_mode), "CpuidMode", changed);
	update(&vm->cpuid_reason, utf8(cpuid_reason), "CpuidReason", changed);
	update(&vm->engine, utf8(engine), "Engine", changed);
	update(&vm->state, utf8(state), "State", changed);
	update(&vm->tools_status, utf8(tools), "ToolsStatus", changed);
	update(&vm->tools_version, utf8(ver), "ToolsVersion", changed);
	update(&vm->tools_desc, utf8(desc), "ToolsDescription", changed);

	{
		g_autofree char *valid = utf8(caps);

		new_caps = *valid ? g_strsplit(valid, ",", -1) : g_new0(char *, 1);
	}
	if (!vm->caps || !g_strv_equal((const char *const *)vm->caps,
				       (const char *const *)new_caps)) {
		g_strfreev(vm->caps);
		vm->caps = new_caps;
		g_ptr_array_add(changed, (gpointer)"Capabilities");
	} else {
		g_strfreev(new_caps);
	}
}

/* "WxH" as the guest's agent reports it; anything else is 0x0 (unknown). */
static void apply_screen(struct vm *vm, const char *text, GPtrArray *changed)
{
	guint32 w = 0, h = 0;
	unsigned int pw, ph;
	char tail;

	if (text && sscanf(text, "%5ux%5u%c", &pw, &ph, &tail) == 2 && pw && ph &&
	    pw <= SCREEN_MAX && ph <= SCREEN_MAX && g_ascii_isdigit(text[0])) {
		w = pw;
		h = ph;
	}
	if (w == vm->screen_w && h == vm->screen_h)
		return;
	vm->screen_w = w;
	vm->screen_h = h;
	g_ptr_array_add(changed, (gpointer)"ScreenSize");
}

static void apply_guestinfo(struct vm *vm, const GString *data, GPtrArray *changed)
{
	GHashTable *next = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	const char *p = data->str, *end = data->str + data->len;
	GHashTableIter it;
	gpointer k, v;
	bool same;

	/* "key\0value\0" pairs; anything truncated is ignored. */
	while (p < end) {
		const char *key = p, *val;
		size_t kl = strnlen(key, (size_t)(end - key));

		if (key + kl >= end)
			break;
		val = key + kl + 1;
		if (val + strnlen(val, (size_t)(end - val)) >= end)
			break;
		g_hash_table_replace(next, utf8(key), utf8(val));
		p = val + strlen(val) + 1;
	}
	same = g_hash_table_size(next) == g_hash_table_size(vm->guestinfo);
	g_hash_table_iter_init(&it, next);
	while (same && g_hash_table_iter_next(&it, &k, &v)) {
		const char *old = g_hash_table_lookup(vm->guestinfo, k);

		same = old && !strcmp(old, v);
	}
	if (same) {
		g_hash_table_destroy(next);
		return;
	}
	g_hash_table_destroy(vm->guestinfo);
	vm->guestinfo = next;
	g_ptr_array_add(changed, (gpointer)"GuestInfo");
	apply_screen(vm, g_hash_table_lookup(next, SCREEN_KEY), changed);
}

/*
 * The policy text of PH_CTL_CLIPBOARD_POLICY_GET/SET replies:
 * "host-to-guest=on|off\nguest-to-host=on|off\nmax-size=BYTES\n".  Lines
 * it can't read leave the old values.
 */
static void apply_clipboard_policy(struct vm *vm, const char *text, GPtrArray *changed)
{
	g_autoptr(GHashTable) kv = ph_kv_parse(text);
	const char *v2g = ph_kv_get(kv, "host-to-guest", ""), *v2h = ph_kv_get(kv, "guest-to-host", "");
	const char *vmax = ph_kv_get(kv, "max-size", "");
	bool h2g = vm->clip_h2g, g2h = vm->clip_g2h;
	guint64 max = vm->clip_max, n;
	char *end;

	if (!strcmp(v2g, "on") || !strcmp(v2g, "off"))
		h2g = !strcmp(v2g, "on");
	if (!strcmp(v2h, "on") || !strcmp(v2h, "off"))
		g2h = !strcmp(v2h, "on");
	if (g_ascii_isdigit(*vmax) && (n = g_ascii_strtoull(vmax, &end, 10), !*end))
		max = n;
	if (vm->clip_known && h2g == vm->clip_h2g && g2h == vm->clip_g2h && max == vm->clip_max)
		return;
	vm->clip_known = true;
	vm->clip_h2g = h2g;
	vm->clip_g2h = g2h;
	vm->clip_max = max;
	g_ptr_array_add(changed, (gpointer)"ClipboardPolicy");
}

static void emit_changes(struct vm *vm, GPtrArray *changed, const char *old_tools)
{
	GVariantBuilder b;

	if (!changed->len)
		return;
	g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
	for (guint i = 0; i < changed->len; i++) {
		/* A new reference, floating or (IpAddresses, Disks) not: ours to drop. */
		GVariant *v = g_variant_take_ref(vm_property(vm, changed->pdata[i]));

		g_variant_builder_add(&b, "{sv}", changed->pdata[i], v);
		g_variant_unref(v);
	}
	g_dbus_connection_emit_signal(vm->hd->bus, NULL, vm->path,
				      "org.freedesktop.DBus.Properties", "PropertiesChanged",
				      g_variant_new("(sa{sv}as)", IFACE_VM, &b, NULL), NULL);
	if (old_tools && strcmp(old_tools, vm->tools_status)) {
		g_message("%s: tools %s", vm->name, vm->tools_status);
		g_dbus_connection_emit_signal(vm->hd->bus, NULL, vm->path, IFACE_VM,
					      "ToolsStatusChanged",
					      g_variant_new("(s)", vm->tools_status), NULL);
	}
}

/* Refresh a VM's properties; false when the VM no longer answers. */
static bool vm_poll(struct vm *vm, bool announce)
{
	g_autoptr(GPtrArray) changed = g_ptr_array_new();
	g_autoptr(GError) err = NULL;
	g_autofree char *old_tools = g_strdup(vm->tools_status);
	struct ph_reply r;

	vm->polled_us = g_get_monotonic_time();
	if (vm->fd < 0 && (vm->fd = ph_connect(vm->name, &err)) < 0)
		goto gone;
	if (ph_call(vm->fd, PH_CTL_STATUS, NULL, STATUS_TIMEOUT_MS, &r, &err) || r.status) {
		ph_reply_clear(&r);
		goto gone;
	}
	apply_status(vm, r.data->str, changed);
	ph_reply_clear(&r);
	if (ph_call(vm->fd, PH_CTL_INFO_LIST, NULL, STATUS_TIMEOUT_MS, &r, &err)) {
		ph_reply_clear(&r);
		goto gone;
	}
	/* An older hypervisor without INFO_LIST: no guestinfo, but still a VM. */
	if (r.status == 0)
		apply_guestinfo(vm, r.data, changed);
	ph_reply_clear(&r);
	if (ph_call(vm->fd, PH_CTL_CLIPBOARD_POLICY_GET, NULL, STATUS_TIMEOUT_MS, &r, &err)) {
		ph_reply_clear(&r);
		goto gone;
	}
	/* A hypervisor without clipboard ops: ClipboardPolicy stays empty. */
	if (r.status == 0)
		apply_clipboard_policy(vm, r.data->str, changed);
	ph_reply_clear(&r);
	if (announce)
		emit_changes(vm, changed, old_tools);
	return true;
gone:
	g_message("%s: %s", vm->name, err ? err->message : "status refused");
	return false;
}

/* ---- D-Bus methods ---- */

struct tclo_job {
	char *vm_name;
	char *command;
	bool want_ok;		/* a convenience method: only "OK" is success */
	int power;		/* Shutdown (POWER_HALT) or Reboot: wait until done */
};

enum { POWER_NONE, POWER_HALT, POWER_REBOOT };
/* How long Shutdown/Reboot wait for the VM (callers' default D-Bus timeout: 25 s). */
#define POWER_WAIT_S	20

static void tclo_job_free(gpointer p)
{
	struct tclo_job *j = p;

	g_free(j->vm_name);
	g_free(j->command);
	g_free(j);
}

static void tclo_thread(GTask *task, gpointer src, gpointer data, GCancellable *cancel)
{
	struct tclo_job *j = data;
	GError *err = NULL;
	struct ph_reply r;

	if (j->power) {
		char *reply = NULL;

		switch (ph_power_op(j->vm_name, j->power == POWER_REBOOT, POWER_WAIT_S, &reply, &err)) {
		case PH_POWER_DONE:
			g_free(reply);
			g_task_return_pointer(task, g_strdup("OK "), g_free);
			return;
		case PH_POWER_REFUSED:
			g_task_return_pointer(task, reply, g_free);
			return;
		case PH_POWER_TIMEOUT:
			g_free(reply);
			g_task_return_new_error(task, hostd_error_quark(), ETIMEDOUT,
						"the guest did not %s within %d s",
						j->power == POWER_REBOOT ? "restart" : "stop",
						POWER_WAIT_S);
			return;
		default:
			g_free(reply);
			g_task_return_error(task, err);
			return;
		}
	}
	if (ph_call_once(j->vm_name, PH_CTL_TCLO, j->command, TCLO_TIMEOUT_MS, &r, &err)) {
		g_task_return_error(task, err);
		return;
	}
	if (r.status)
		g_task_return_new_error(task, hostd_error_quark(), r.status, "%s",
					r.data->len ? r.data->str : g_strerror(r.status));
	else
		g_task_return_pointer(task, g_strdup(r.data->str), g_free);
	ph_reply_clear(&r);
}

static void tclo_done(GObject *src, GAsyncResult *res, gpointer data)
{
	GDBusMethodInvocation *inv = data;
	struct tclo_job *j = g_task_get_task_data(G_TASK(res));
	GError *err = NULL;
	g_autofree char *reply = g_task_propagate_pointer(G_TASK(res), &err);
	g_autofree char *valid = NULL;

	if (!reply) {
		bool timeout = err->domain == hostd_error_quark() && err->code == ETIMEDOUT;

		g_dbus_method_invocation_return_dbus_error(inv, timeout ? ERROR_PREFIX "Timeout" :
							   ERROR_PREFIX "Failed", err->message);
		g_error_free(err);
		return;
	}
	valid = utf8(reply);
	if (!j->want_ok)
		g_dbus_method_invocation_return_value(inv, g_variant_new("(s)", valid));
	else if (g_str_has_prefix(valid, "OK"))
		g_dbus_method_invocation_return_value(inv, NULL);
	else
		g_dbus_method_invocation_return_dbus_error(inv, ERROR_PREFIX "GuestError",
			g_str_has_prefix(valid, "ERROR ") ? valid + 6 : valid);
}

static void start_tclo(struct vm *vm, GDBusMethodInvocation *inv, char *command, bool want_ok,
		       int power)
{
	struct tclo_job *j = g_new0(struct tclo_job, 1);
	GTask *task = g_task_new(NULL, NULL, tclo_done, inv);

	j->vm_name = g_strdup(vm->name);
	j->command = command;
	j->want_ok = want_ok;
	j->power = power;
	g_task_set_task_data(task, j, tclo_job_free);
	g_task_run_in_thread(task, tclo_thread);
	g_object_unref(task);
}

/*
 * SetClipboardPolicy(a{sv}): any of host-to-guest (b), guest-to-host (b),
 * max-size (t), as PH_CTL_CLIPBOARD_POLICY_SET text.  A quick local call to
 * the hypervisor (the guest is not involved), made here on the poll
 * connection; the new policy is announced before the reply.
 */
static void set_clipboard_policy(struct vm *vm, GVariant *params, GDBusMethodInvocation *inv)
{
	g_autoptr(GVariant) dict = g_variant_get_child_value(params, 0);
	g_autoptr(GString) text = g_string_new(NULL);
	g_autoptr(GPtrArray) changed = g_ptr_array_new();
	g_autoptr(GError) err = NULL;
	struct ph_reply r;
	GVariantIter it;
	const char *key;
	GVariant *val;

	g_variant_iter_init(&it, dict);
	while (g_variant_iter_loop(&it, "{&sv}", &key, &val)) {
		bool flag = !strcmp(key, "host-to-guest") || !strcmp(key, "guest-to-host");

		if (flag && g_variant_is_of_type(val, G_VARIANT_TYPE_BOOLEAN)) {
			g_string_append_printf(text, "%s=%s\n", key,
					       g_variant_get_boolean(val) ? "on" : "off");
		} else if (!strcmp(key, "max-size") &&
			   g_variant_is_of_type(val, G_VARIANT_TYPE_UINT64)) {
			g_string_append_printf(text, "max-size=%" G_GUINT64_FORMAT "\n",
					       g_variant_get_uint64(val));
		} else {
			g_dbus_method_invocation_return_dbus_error(inv, ERROR_PREFIX "InvalidArgs",
				"policy keys: host-to-guest (b), guest-to-host (b), max-size (t)");
			g_variant_unref(val);	/* g_variant_iter_loop owns it until the next round */
			return;
		}
	}
	if (!text->len) {
		g_dbus_method_invocation_return_dbus_error(inv, ERROR_PREFIX "InvalidArgs",
							   "an empty policy changes nothing");
		return;
	}
	if (vm->fd < 0 && (vm->fd = ph_connect(vm->name, &err)) < 0) {
		g_dbus_method_invocation_return_dbus_error(inv, ERROR_PREFIX "Failed", err->message);
		return;
	}
	if (ph_call(vm->fd, PH_CTL_CLIPBOARD_POLICY_SET, text->str, STATUS_TIMEOUT_MS, &r, &err)) {
		g_dbus_method_invocation_return_dbus_error(inv, ERROR_PREFIX "Failed", err->message);
		ph_reply_clear(&r);
		return;
	}
	if (r.status) {
		g_autofree char *msg = utf8(r.data->len ? r.data->str : g_strerror(r.status));

		g_dbus_method_invocation_return_dbus_error(inv, r.status == EINVAL ?
			ERROR_PREFIX "InvalidArgs" : ERROR_PREFIX "Failed", msg);
		ph_reply_clear(&r);
		return;
	}
	apply_clipboard_policy(vm, r.data->str, changed);
	ph_reply_clear(&r);
	emit_changes(vm, changed, NULL);
	g_message("%s: clipboard policy set: %s", vm->name, g_strdelimit(text->str, "\n", ' '));
	g_dbus_method_invocation_return_value(inv, NULL);
}

/*
 * A quick request to the hypervisor on the poll connection (the guest is
 * not involved); false when it failed, with the D-Bus error returned.
 */
static bool local_call(struct vm *vm, enum ph_ctl_op op, const char *payload, struct ph_reply *r,
		       GDBusMethodInvocation *inv)
{
	g_autoptr(GError) err = NULL;

	if (vm->fd < 0 && (vm->fd = ph_connect(vm->name, &err)) < 0) {
		g_dbus_method_invocation_return_dbus_error(inv, ERROR_PREFIX "Failed", err->message);
		return false;
	}
	if (ph_call(vm->fd, op, payload, STATUS_TIMEOUT_MS, r, &err)) {
		g_dbus_method_invocation_return_dbus_error(inv, ERROR_PREFIX "Failed", err->message);
		ph_reply_clear(r);
		return false;
	}
	if (r->status) {
		g_autofree char *msg = utf8(r->data->len ? r->data->str : g_strerror(r->status));

		g_dbus_method_invocation_return_dbus_error(inv, r->status == ENOENT ?
			ERROR_PREFIX "NotFound" : ERROR_PREFIX "Failed", msg);
		ph_reply_clear(r);
		return false;
	}
	return true;
}

/* SetPeriodicTimeSync(b): pushed to the tools; PropertiesChanged before the reply. */
static void set_periodic_time_sync(struct vm *vm, GVariant *params, GDBusMethodInvocation *inv)
{
	g_autoptr(GPtrArray) changed = g_ptr_array_new();
	gboolean on;
	struct ph_reply r;

	g_variant_get(params, "(b)", &on);
	if (!local_call(vm, PH_CTL_SYNC_TIME, on ? "on" : "off", &r, inv))
		return;
	if (vm->sync_time != (strstr(r.data->str, "synctime=1") != NULL)) {
		vm->sync_time = !vm->sync_time;
		g_ptr_array_add(changed, (gpointer)"PeriodicTimeSync");
	}
	ph_reply_clear(&r);
	emit_changes(vm, changed, NULL);
	g_message("%s: periodic time sync %s", vm->name, on ? "on" : "off");
	g_dbus_method_invocation_return_value(inv, NULL);
}

/*
 * ListNamespaces() and GetNamespace(s): the guest's namespace database,
 * PH_CTL_NAMESPACE's lines (guest text already escaped by the hypervisor).
 */
static void get_namespaces(struct vm *vm, const char *ns, GDBusMethodInvocation *inv)
{
	g_auto(GStrv) lines = NULL;
	GVariantBuilder b;
	struct ph_reply r;

	if (ns && (!*ns || strchr(ns, '\n'))) {
		g_dbus_method_invocation_return_dbus_error(inv, ERROR_PREFIX "InvalidArgs",
							   "empty namespace name, or a newline in it");
		return;
	}
	if (!local_call(vm, PH_CTL_NAMESPACE, ns ? ns : "", &r, inv))
		return;
	lines = g_strsplit(r.data->str, "\n", -1);
	ph_reply_clear(&r);
	g_variant_builder_init(&b, ns ? G_VARIANT_TYPE("a{ss}") : G_VARIANT_TYPE("as"));
	for (char **l = lines; *l; l++) {
		char *sep = strchr(*l, ns ? '=' : ' ');
		g_autofree char *key = NULL, *value = NULL;

		if (!sep)
			continue;
		*sep = '\0';
		key = utf8(*l);
		if (!ns) {
			g_variant_builder_add(&b, "s", key);
			continue;
		}
		value = utf8(sep + 1);
		g_variant_builder_add(&b, "{ss}", key, value);
	}
	g_dbus_method_invocation_return_value(inv, g_variant_new(ns ? "(a{ss})" : "(as)", &b));
}

static void vm_method(GDBusConnection *bus, const char *sender, const char *path,
		      const char *iface, const char *method, GVariant *params,
		      GDBusMethodInvocation *inv, gpointer data)
{
	struct vm *vm = data;

	if (!strcmp(method, "SendRpc")) {
		const char *cmd;

		g_variant_get(params, "(&s)", &cmd);
		if (!*cmd || strlen(cmd) > PH_CTL_MAX_PAYLOAD) {
			g_dbus_method_invocation_return_dbus_error(inv, ERROR_PREFIX "InvalidArgs",
								   "empty or too long command");
			return;
		}
		start_tclo(vm, inv, g_strdup(cmd), false, POWER_NONE);
	} else if (!strcmp(method, "SetResolution")) {
		guint32 w, h;

		g_variant_get(params, "(uu)", &w, &h);
		if (!w || !h || w > 16384 || h > 16384) {
			g_dbus_method_invocation_return_dbus_error(inv, ERROR_PREFIX "InvalidArgs",
								   "resolution out of range");
			return;
		}
		/* The session agent resizes (VMware's vmusr channel), not guestd. */
		start_tclo(vm, inv, g_strdup_printf(PH_AGENT_TCLO_APP ":Resolution_Set %u %u", w, h),
			   true, POWER_NONE);
	} else if (!strcmp(method, "SyncTime")) {
		start_tclo(vm, inv, g_strdup("Time_Synchronize 1"), true, POWER_NONE);
	} else if (!strcmp(method, "Shutdown")) {
		start_tclo(vm, inv, g_strdup("OS_Halt"), true, POWER_HALT);
	} else if (!strcmp(method, "Reboot")) {
		start_tclo(vm, inv, g_strdup("OS_Reboot"), true, POWER_REBOOT);
	} else if (!strcmp(method, "SetClipboardPolicy")) {
		set_clipboard_policy(vm, params, inv);
	} else if (!strcmp(method, "SetPeriodicTimeSync")) {
		set_periodic_time_sync(vm, params, inv);
	} else if (!strcmp(method, "ListNamespaces")) {
		get_namespaces(vm, NULL, inv);
	} else if (!strcmp(method, "GetNamespace")) {
		const char *ns;

		g_variant_get(params, "(&s)", &ns);
		get_namespaces(vm, ns, inv);
	} else {
		g_dbus_method_invocation_return_dbus_error(inv, "org.freedesktop.DBus.Error.UnknownMethod",
							   method);
	}
}

static GVariant *vm_get_property(GDBusConnection *bus, const char *sender, const char *path,
				 const char *iface, const char *prop, GError **error,
				 gpointer data)
{
	GVariant *v = vm_property(data, prop);

	if (!v)
		g_set_error(error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_PROPERTY, "no property %s",
			    prop);
	return v;
}

static const GDBusInterfaceVTable vm_vtable = { vm_method, vm_get_property, NULL, { 0 } };

/* ---- the VM list ---- */

static void schedule_rescan(struct hostd *hd);

static void unsubscribe(struct vm *vm)
{
	if (vm->ev_watch)
		g_source_remove(vm->ev_watch);
	vm->ev_watch = 0;
	if (vm->ev_fd >= 0)
		close(vm->ev_fd);
	vm->ev_fd = -1;
}

/* Events: drain them all, then re-read the VM once. */
static gboolean on_vm_event(gint fd, GIOCondition cond, gpointer data)
{
	struct vm *vm = data;
	char buf[sizeof(struct ph_ctl_hdr) + 256];
	bool changed = false, gone = false;

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
		struct ph_ctl_hdr h;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			gone = true;
			break;
		}
		memcpy(&h, buf, MIN((size_t)n, sizeof(h)));
		if ((size_t)n >= sizeof(h) && h.magic == PH_CTL_MAGIC && h.op == PH_CTL_EVENT) {
			vm->events++;
			changed = true;
		}
	}
	if (gone) {
		/* The VM stopped (or dropped us): the rescan finds out which. */
		vm->ev_watch = 0;
		unsubscribe(vm);
		schedule_rescan(vm->hd);
		return G_SOURCE_REMOVE;
	}
	if (changed && !vm_poll(vm, true))
		schedule_rescan(vm->hd);
	return G_SOURCE_CONTINUE;
}

/* A connection of its own that gets PH_CTL_EVENT; false on an old hypervisor. */
static bool vm_subscribe(struct vm *vm)
{
	g_autoptr(GError) err = NULL;
	struct ph_reply r;
	int fd = ph_connect(vm->name, &err);

	if (fd < 0)
		return false;
	if (ph_call(fd, PH_CTL_SUBSCRIBE, NULL, STATUS_TIMEOUT_MS, &r, &err) || r.status) {
		g_message("%s: no status events (%s): polling every %d ms", vm->name,
			  err ? err->message : g_strerror(r.status), POLL_MS);
		ph_reply_clear(&r);
		close(fd);
		return false;
	}
	ph_reply_clear(&r);
	vm->ev_fd = fd;
	vm->ev_watch = g_unix_fd_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_vm_event, vm);
	return true;
}

static void vm_add(struct hostd *hd, const char *name)
{
	struct vm *vm = g_new0(struct vm, 1);
	g_autofree char *escaped = g_dbus_escape_object_path(name);
	GError *err = NULL;

	vm->hd = hd;
	vm->fd = -1;
	vm->name = g_strdup(name);
	vm->path = g_strconcat(VM_PATH_PREFIX, escaped, NULL);
	vm->guestinfo = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	vm->ev_fd = -1;
	/* Before the first read: a change in between still sends an event. */
	vm_subscribe(vm);
	if (!vm_poll(vm, false)) {
		vm_free(vm);
		return;
	}
	vm->reg_id = g_dbus_connection_register_object(hd->bus, vm->path,
		g_dbus_node_info_lookup_interface(hd->node, IFACE_VM), &vm_vtable, vm, NULL, &err);
	if (!vm->reg_id) {
		g_warning("%s: cannot export %s: %s", name, vm->path, err->message);
		g_error_free(err);
		vm_free(vm);
		return;
	}
	g_hash_table_insert(hd->vms, vm->name, vm);
	g_message("VM %s added (%s, tools %s)", name, vm->path, vm->tools_status);
	g_dbus_connection_emit_signal(hd->bus, NULL, ROOT_PATH, IFACE_ROOT, "VMAdded",
				      g_variant_new("(so)", vm->name, vm->path), NULL);
}

static void vm_remove(struct hostd *hd, struct vm *vm)
{
	g_autofree char *name = g_strdup(vm->name);
	g_autofree char *path = g_strdup(vm->path);

	g_hash_table_remove(hd->vms, name);	/* unexports the object */
	g_message("VM %s removed", name);
	g_dbus_connection_emit_signal(hd->bus, NULL, ROOT_PATH, IFACE_ROOT, "VMRemoved",
				      g_variant_new("(so)", name, path), NULL);
}

static void retick(struct hostd *hd);

/*
 * full: read every VM and list the directory (start-up, the directory
 * changed, a VM hung up).  Otherwise (the tick) only what has no events:
 * VMs of old hypervisors, and everything once per FALLBACK_POLL_MS.
 */
static void rescan(struct hostd *hd, bool full)
{
	g_autoptr(GPtrArray) names = NULL;
	g_autoptr(GPtrArray) gone = g_ptr_array_new();
	gint64 now = g_get_monotonic_time();
	/* A tick early by a hair must not skip a whole fallback period. */
	const int stale_ms = FALLBACK_POLL_MS - POLL_MS;
	GHashTableIter it;
	gpointer k, v;

	g_hash_table_iter_init(&it, hd->vms);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		struct vm *vm = v;

		if (!full && vm->ev_fd >= 0 && now - vm->polled_us < (gint64)stale_ms * 1000)
			continue;
		if (!vm_poll(vm, true))
			g_ptr_array_add(gone, vm);
	}
	for (guint i = 0; i < gone->len; i++)
		vm_remove(hd, gone->pdata[i]);
	if (!full && hd->monitor && now - hd->listed_us < (gint64)stale_ms * 1000) {
		retick(hd);
		return;
	}
	hd->listed_us = now;
	names = ph_list_vms();
	for (guint i = 0; i < names->len; i++)
		if (!g_hash_table_contains(hd->vms, names->pdata[i]))
			vm_add(hd, names->pdata[i]);
	retick(hd);
}

static gboolean on_tick(gpointer data);

/* Tick every POLL_MS while something has no events, else every FALLBACK_POLL_MS. */
static void retick(struct hostd *hd)
{
	guint ms = hd->monitor ? FALLBACK_POLL_MS : POLL_MS;
	GHashTableIter it;
	gpointer v;

	g_hash_table_iter_init(&it, hd->vms);
	while (ms != POLL_MS && g_hash_table_iter_next(&it, NULL, &v))
		if (((struct vm *)v)->ev_fd < 0)
			ms = POLL_MS;
	if (hd->tick && hd->tick_ms == ms)
		return;
	if (hd->tick)
		g_source_remove(hd->tick);
	hd->tick_ms = ms;
	hd->tick = g_timeout_add(ms, on_tick, hd);
}

static gboolean on_tick(gpointer data)
{
	struct hostd *hd = data;
	guint tick = hd->tick;

	rescan(hd, false);
	/* retick() (from rescan) replaced this source: don't run it again. */
	return hd->tick == tick ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static gboolean on_rescan_soon(gpointer data)
{
	struct hostd *hd = data;

	hd->rescan_src = 0;
	rescan(hd, true);
	return G_SOURCE_REMOVE;
}

static void schedule_rescan(struct hostd *hd)
{
	/* A burst of events (bind, chmod, listen) becomes one rescan. */
	if (!hd->rescan_src)
		hd->rescan_src = g_timeout_add(50, on_rescan_soon, hd);
}

static void on_dir_changed(GFileMonitor *mon, GFile *file, GFile *other, GFileMonitorEvent ev,
			   gpointer data)
{
	schedule_rescan(data);
}

static gint compare_vms(gconstpointer a, gconstpointer b)
{
	return strcmp(((const struct vm *)a)->name, ((const struct vm *)b)->name);
}

static void root_method(GDBusConnection *bus, const char *sender, const char *path,
			const char *iface, const char *method, GVariant *params,
			GDBusMethodInvocation *inv, gpointer data)
{
	struct hostd *hd = data;

	if (!strcmp(method, "ListVMs")) {
		GList *vms = g_list_sort(g_hash_table_get_values(hd->vms), compare_vms);
		GVariantBuilder b;

		g_variant_builder_init(&b, G_VARIANT_TYPE("ao"));
		for (GList *l = vms; l; l = l->next)
			g_variant_builder_add(&b, "o", ((struct vm *)l->data)->path);
		g_list_free(vms);
		g_dbus_method_invocation_return_value(inv, g_variant_new("(ao)", &b));
	} else if (!strcmp(method, "GetVM")) {
		const char *name;
		struct vm *vm;

		g_variant_get(params, "(&s)", &name);
		vm = g_hash_table_lookup(hd->vms, name);
		if (vm)
			g_dbus_method_invocation_return_value(inv, g_variant_new("(o)", vm->path));
		else
			g_dbus_method_invocation_return_dbus_error(inv, ERROR_PREFIX "NoSuchVM",
								   "no running VM of that name");
	} else {
		g_dbus_method_invocation_return_dbus_error(inv, "org.freedesktop.DBus.Error.UnknownMethod",
							   method);
	}
}

static GVariant *root_get_property(GDBusConnection *bus, const char *sender, const char *path,
				   const char *iface, const char *prop, GError **error,
				   gpointer data)
{
	if (!strcmp(prop, "Version"))
		return g_variant_new_string(PORTHOLE_VERSION);
	g_set_error(error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_PROPERTY, "no property %s", prop);
	return NULL;
}

static const GDBusInterfaceVTable root_vtable = { root_method, root_get_property, NULL, { 0 } };

/* ---- start-up ---- */

static void start_discovery(struct hostd *hd)
{
	g_autoptr(GFile) dir = g_file_new_for_path(hd->dir);
	g_autoptr(GError) err = NULL;

	/* The hypervisor wants the directory private and ours; so do we. */
	if (mkdir(hd->dir, 0700) && errno != EEXIST)
		g_warning("cannot create %s: %s", hd->dir, g_strerror(errno));
	hd->monitor = g_file_monitor_directory(dir, G_FILE_MONITOR_NONE, NULL, &err);
	if (hd->monitor)
		g_signal_connect(hd->monitor, "changed", G_CALLBACK(on_dir_changed), hd);
	else
		g_warning("no directory monitor on %s (%s): polling every %d ms only", hd->dir,
			  err->message, POLL_MS);
	rescan(hd, true);	/* starts the tick */
}

static void on_bus_acquired(GDBusConnection *bus, const char *name, gpointer data)
{
	struct hostd *hd = data;
	GError *err = NULL;

	hd->bus = g_object_ref(bus);
	hd->root_reg = g_dbus_connection_register_object(bus, ROOT_PATH,
		g_dbus_node_info_lookup_interface(hd->node, IFACE_ROOT), &root_vtable, hd, NULL,
		&err);
	if (!hd->root_reg) {
		g_warning("cannot export %s: %s", ROOT_PATH, err->message);
		g_error_free(err);
		hd->exit_code = 1;
		g_main_loop_quit(hd->loop);
		return;
	}
	start_discovery(hd);
}

static void on_name_acquired(GDBusConnection *bus, const char *name, gpointer data)
{
	g_message("serving %s on the session bus", name);
}

static void on_name_lost(GDBusConnection *bus, const char *name, gpointer data)
{
	struct hostd *hd = data;

	if (!bus)
		g_message("no session bus; exiting");
	else
		g_message("%s is owned by another process (or the bus went away); exiting", name);
	hd->exit_code = bus && !hd->root_reg ? 1 : hd->exit_code;
	g_main_loop_quit(hd->loop);
}

static gboolean on_signal(gpointer data)
{
	struct hostd *hd = data;

	g_message("signal received, stopping");
	g_main_loop_quit(hd->loop);
	return G_SOURCE_CONTINUE;
}

int main(int argc, char **argv)
{
	struct hostd hd = { 0 };
	gboolean version = FALSE;
	GOptionEntry entries[] = {
		{ "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version", NULL },
		{ 0 }
	};
	GOptionContext *ctx = g_option_context_new("- Porthole host D-Bus service");
	GError *err = NULL;
	char dir[108];
	guint sig_term, sig_int;

	g_option_context_set_summary(ctx,
		"Serves org.porthole.Host1 on the session bus: the running VMs of this user\n"
		"as objects with their tools status, guestinfo and power operations.\n"
		"Usually started by D-Bus activation.");
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
		fprintf(stderr, "porthole-hostd: %s\n", err->message);
		g_error_free(err);
		g_option_context_free(ctx);
		return 2;
	}
	g_option_context_free(ctx);
	if (version) {
		printf("porthole-hostd %s\n", PORTHOLE_VERSION);
		return 0;
	}
	if (ph_ctl_dir(dir, sizeof(dir))) {
		fprintf(stderr, "porthole-hostd: socket directory path too long\n");
		return 1;
	}
	hd.node = g_dbus_node_info_new_for_xml(porthole_host1_xml, &err);
	if (!hd.node) {
		fprintf(stderr, "porthole-hostd: bad interface XML: %s\n", err->message);
		g_error_free(err);
		return 1;
	}
	hd.dir = g_strdup(dir);
	hd.vms = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, vm_free);
	hd.loop = g_main_loop_new(NULL, FALSE);
	sig_term = g_unix_signal_add(SIGTERM, on_signal, &hd);
	sig_int = g_unix_signal_add(SIGINT, on_signal, &hd);
	hd.owner_id = g_bus_own_name(G_BUS_TYPE_SESSION, BUS_NAME, G_BUS_NAME_OWNER_FLAGS_NONE,
				     on_bus_acquired, on_name_acquired, on_name_lost, &hd, NULL);
	g_main_loop_run(hd.loop);

	g_bus_unown_name(hd.owner_id);
	if (hd.tick)
		g_source_remove(hd.tick);
	if (hd.rescan_src)
		g_source_remove(hd.rescan_src);
	if (hd.monitor)
		g_object_unref(hd.monitor);
	g_hash_table_destroy(hd.vms);
	if (hd.root_reg)
		g_dbus_connection_unregister_object(hd.bus, hd.root_reg);
	if (hd.bus) {
		g_dbus_connection_flush_sync(hd.bus, NULL, NULL);
		g_object_unref(hd.bus);
	}
	g_source_remove(sig_term);
	g_source_remove(sig_int);
	g_dbus_node_info_unref(hd.node);
	g_main_loop_unref(hd.loop);
	g_free(hd.dir);
	return hd.exit_code;
}
