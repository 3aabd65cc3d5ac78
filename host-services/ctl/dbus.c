// SPDX-License-Identifier: MIT
/*
 * porthole-ctl --dbus (or PORTHOLE_CTL_DBUS=1): the subcommands that have an
 * org.porthole.Host1 equivalent go through the session bus instead of the
 * VMs' control sockets, so porthole-ctl is a client of the same API as
 * desktops and scripts (interface: host-services/dbus/org.porthole.Host1.xml).
 * The first call D-Bus-activates porthole-hostd if it is not running.
 *
 *   list                 ListVMs + each VM's Name, State, ToolsStatus
 *   status VM [--raw]    every property of the VM's object
 *   info-get VM KEY      a key of the GuestInfo property
 *   tclo VM CMD          SendRpc
 *   resolution VM W H    SetResolution
 *   sync-time VM         SyncTime
 *   shutdown VM          Shutdown
 *   reboot VM            Reboot
 *   clipboard-policy VM [KEY=VALUE...]
 *                        the ClipboardPolicy property / SetClipboardPolicy
 *   monitor [--count N]  VMAdded, VMRemoved, ToolsStatusChanged and
 *                        PropertiesChanged, one line each, as they come
 *
 * Errors the service returns (org.porthole.Host1.Error.*, or the bus's own)
 * are printed with their D-Bus name and message, exit status 1.
 */
#include <glib-unix.h>
#include <gio/gio.h>
#include <string.h>

#include "host-services/ctl/dbus.h"

#define BUS_NAME	"org.porthole.Host1"
#define ROOT_PATH	"/org/porthole/Host1"
#define VM_PATH_PREFIX	ROOT_PATH "/vm/"
#define IFACE_ROOT	"org.porthole.Host1"
#define IFACE_VM	"org.porthole.Host1.VM"
#define IFACE_PROPS	"org.freedesktop.DBus.Properties"
/* Activation included: the bus gives a starting service 25 s by default. */
#define CALL_TIMEOUT_MS		30000
/* Methods that wait for the guest: the service gives up after 15 s. */
#define GUEST_TIMEOUT_MS	30000

/* ---- calls ---- */

/* A failed call: D-Bus errors by their name, as the service (or bus) sent them. */
static void print_error(const char *what, GError *err)
{
	g_autofree char *name = g_dbus_error_get_remote_error(err);

	if (name) {
		g_dbus_error_strip_remote_error(err);
		fprintf(stderr, "porthole-ctl: %s: %s: %s\n", what, name, err->message);
	} else {
		fprintf(stderr, "porthole-ctl: %s: %s\n", what, err->message);
	}
}

static GDBusConnection *session_bus(void)
{
	g_autoptr(GError) err = NULL;
	GDBusConnection *bus = g_bus_get_sync(G_BUS_TYPE_SESSION, NULL, &err);

	if (!bus)
		print_error("session bus", err);
	return bus;
}

/* A call to org.porthole.Host1; NULL (error printed, labelled WHAT) on failure. */
static GVariant *call(GDBusConnection *bus, const char *what, const char *path,
		      const char *iface, const char *method, GVariant *args,
		      const char *reply_type, int timeout_ms)
{
	g_autoptr(GError) err = NULL;
	GVariant *r = g_dbus_connection_call_sync(bus, BUS_NAME, path, iface, method, args,
						  G_VARIANT_TYPE(reply_type),
						  G_DBUS_CALL_FLAGS_NONE, timeout_ms, NULL, &err);

	if (!r)
		print_error(what, err);
	return r;
}

/* The object of a running VM (GetVM: NoSuchVM when there is none). */
static char *vm_path(GDBusConnection *bus, const char *vm)
{
	g_autoptr(GVariant) r = call(bus, vm, ROOT_PATH, IFACE_ROOT, "GetVM",
				     g_variant_new("(s)", vm), "(o)", CALL_TIMEOUT_MS);
	char *path = NULL;

	if (r)
		g_variant_get(r, "(o)", &path);
	return path;
}

/* All properties of a VM object, a{sv}. */
static GVariant *vm_properties(GDBusConnection *bus, const char *what, const char *path)
{
	g_autoptr(GVariant) r = call(bus, what, path, IFACE_PROPS, "GetAll",
				     g_variant_new("(s)", IFACE_VM), "(a{sv})", CALL_TIMEOUT_MS);

	return r ? g_variant_get_child_value(r, 0) : NULL;
}

static GVariant *vm_property(GDBusConnection *bus, const char *what, const char *path,
			     const char *prop)
{
	g_autoptr(GVariant) r = call(bus, what, path, IFACE_PROPS, "Get",
				     g_variant_new("(ss)", IFACE_VM, prop), "(v)", CALL_TIMEOUT_MS);
	GVariant *v = NULL;

	if (r)
		g_variant_get(r, "(v)", &v);
	return v;
}

/* A string property of a GetAll dictionary; "" when missing or of another type. */
static const char *prop_str(GVariant *props, const char *name)
{
	const char *s = "";

	if (!g_variant_lookup(props, name, "&s", &s))
		return "";
	return s;
}

/* ---- output ---- */

/* A VM's name from its object path (g_dbus_escape_object_path reversed). */
static char *name_of_path(const char *path)
{
	const char *escaped;
	guint8 *name;

	if (!g_str_has_prefix(path, VM_PATH_PREFIX))
		return g_strdup(path);
	escaped = path + strlen(VM_PATH_PREFIX);
	name = g_dbus_unescape_object_path(escaped);
	return name ? (char *)name : g_strdup(escaped);
}

/* The ClipboardPolicy dictionary as the socket's policy text; false when empty. */
static bool print_clipboard_policy(GVariant *policy)
{
	gboolean h2g, g2h;
	guint64 max;

	if (!g_variant_lookup(policy, "host-to-guest", "b", &h2g) ||
	    !g_variant_lookup(policy, "guest-to-host", "b", &g2h) ||
	    !g_variant_lookup(policy, "max-size", "t", &max))
		return false;
	printf("host-to-guest=%s\nguest-to-host=%s\nmax-size=%" G_GUINT64_FORMAT "\n",
	       h2g ? "on" : "off", g2h ? "on" : "off", max);
	return true;
}

/* ---- subcommands ---- */

static int cmd_list(GDBusConnection *bus)
{
	g_autoptr(GVariant) r = call(bus, "ListVMs", ROOT_PATH, IFACE_ROOT, "ListVMs", NULL,
				     "(ao)", CALL_TIMEOUT_MS);
	g_autoptr(GVariantIter) it = NULL;
	const char *path;

	if (!r)
		return 1;
	g_variant_get(r, "(ao)", &it);
	while (g_variant_iter_loop(it, "&o", &path)) {
		g_autoptr(GError) err = NULL;
		g_autoptr(GVariant) reply = g_dbus_connection_call_sync(bus, BUS_NAME, path,
			IFACE_PROPS, "GetAll", g_variant_new("(s)", IFACE_VM),
			G_VARIANT_TYPE("(a{sv})"), G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL,
			&err);
		g_autoptr(GVariant) props = NULL;

		/* A VM that stopped since ListVMs is no longer listed. */
		if (!reply)
			continue;
		props = g_variant_get_child_value(reply, 0);
		/* NAME STATE TOOLS-STATUS, tab-separated for scripts, as without --dbus. */
		ctl_put_guest_text(stdout, prop_str(props, "Name"));
		printf("\t%s\t%s\n", prop_str(props, "State"), prop_str(props, "ToolsStatus"));
	}
	return 0;
}

static void print_status_raw(GVariant *props, const char *path)
{
	g_autoptr(GVariant) caps = g_variant_lookup_value(props, "Capabilities",
							  G_VARIANT_TYPE_STRING_ARRAY);
	g_autoptr(GVariant) info = g_variant_lookup_value(props, "GuestInfo",
							  G_VARIANT_TYPE("a{ss}"));
	g_autoptr(GVariant) clip = g_variant_lookup_value(props, "ClipboardPolicy",
							  G_VARIANT_TYPE_VARDICT);
	static const struct {
		const char *prop, *key;
	} strings[] = {
		{ "Name", "name" }, { "Engine", "engine" }, { "State", "state" },
		{ "CpuidMode", "cpuid.mode" }, { "CpuidReason", "cpuid.reason" },
		{ "ToolsStatus", "tools.status" }, { "ToolsVersion", "tools.version" },
		{ "ToolsDescription", "tools.description" },
	};
	guint32 w = 0, h = 0;

	/* The socket's `status --raw` keys where there is one, one key=value a line. */
	for (size_t i = 0; i < G_N_ELEMENTS(strings); i++) {
		printf("%s=", strings[i].key);
		ctl_put_guest_text(stdout, prop_str(props, strings[i].prop));
		putchar('\n');
	}
	printf("tools.capabilities=");
	if (caps) {
		g_autofree const char **v = g_variant_get_strv(caps, NULL);

		for (const char **c = v; *c; c++) {
			printf("%s", c == v ? "" : ",");
			ctl_put_guest_text(stdout, *c);
		}
	}
	putchar('\n');
	g_variant_lookup(props, "ScreenSize", "(uu)", &w, &h);
	printf("screen=%ux%u\n", w, h);
	if (clip) {
		gboolean b;
		guint64 max;

		if (g_variant_lookup(clip, "host-to-guest", "b", &b))
			printf("clipboard.host-to-guest=%s\n", b ? "on" : "off");
		if (g_variant_lookup(clip, "guest-to-host", "b", &b))
			printf("clipboard.guest-to-host=%s\n", b ? "on" : "off");
		if (g_variant_lookup(clip, "max-size", "t", &max))
			printf("clipboard.max-size=%" G_GUINT64_FORMAT "\n", max);
	}
	if (info) {
		GVariantIter it;
		const char *k, *v;

		g_variant_iter_init(&it, info);
		while (g_variant_iter_next(&it, "{&s&s}", &k, &v)) {
			ctl_put_guest_text(stdout, k);
			putchar('=');
			ctl_put_guest_text(stdout, v);
			putchar('\n');
		}
	}
	printf("dbus.object=%s\n", path);
}

static void print_status(GVariant *props, const char *path)
{
	g_autoptr(GVariant) caps = g_variant_lookup_value(props, "Capabilities",
							  G_VARIANT_TYPE_STRING_ARRAY);
	g_autoptr(GVariant) info = g_variant_lookup_value(props, "GuestInfo",
							  G_VARIANT_TYPE("a{ss}"));
	g_autoptr(GVariant) clip = g_variant_lookup_value(props, "ClipboardPolicy",
							  G_VARIANT_TYPE_VARDICT);
	const char *desc = prop_str(props, "ToolsDescription");
	const char *ver = prop_str(props, "ToolsVersion");
	guint32 w = 0, h = 0;
	gboolean h2g, g2h;
	guint64 max;

	/* As the socket's status prints it, but with what the API has. */
	printf("VM:            ");
	ctl_put_guest_text(stdout, prop_str(props, "Name"));
	printf("\nState:         %s (%s engine)\n", prop_str(props, "State"),
	       prop_str(props, "Engine"));
	if (*prop_str(props, "CpuidMode"))
		printf("CPUID:         %s (%s)\n", prop_str(props, "CpuidMode"),
		       prop_str(props, "CpuidReason"));
	printf("Tools:         %s", prop_str(props, "ToolsStatus"));
	if (*desc) {
		printf(", ");
		ctl_put_guest_text(stdout, desc);
	}
	if (*ver) {
		printf(" (tools.set.version ");
		ctl_put_guest_text(stdout, ver);
		printf(")");
	}
	printf("\nCapabilities:  ");
	if (caps && g_variant_n_children(caps)) {
		g_autofree const char **v = g_variant_get_strv(caps, NULL);

		for (const char **c = v; *c; c++) {
			printf("%s", c == v ? "" : ",");
			ctl_put_guest_text(stdout, *c);
		}
	} else {
		printf("(none)");
	}
	g_variant_lookup(props, "ScreenSize", "(uu)", &w, &h);
	if (w && h)
		printf("\nScreen:        %ux%u\n", w, h);
	else
		printf("\nScreen:        unknown\n");
	if (clip && g_variant_lookup(clip, "host-to-guest", "b", &h2g) &&
	    g_variant_lookup(clip, "guest-to-host", "b", &g2h) &&
	    g_variant_lookup(clip, "max-size", "t", &max))
		printf("Clipboard:     host-to-guest %s, guest-to-host %s, up to %" G_GUINT64_FORMAT
		       " bytes\n", h2g ? "on" : "off", g2h ? "on" : "off", max);
	else
		printf("Clipboard:     (no policy)\n");
	printf("GuestInfo:     %zu keys\n", info ? g_variant_n_children(info) : (size_t)0);
	printf("D-Bus object:  %s\n", path);
}

static int cmd_status(GDBusConnection *bus, const char *vm, bool raw)
{
	g_autofree char *path = vm_path(bus, vm);
	g_autoptr(GVariant) props = path ? vm_properties(bus, vm, path) : NULL;

	if (!props)
		return 1;
	if (raw)
		print_status_raw(props, path);
	else
		print_status(props, path);
	return 0;
}

static int cmd_info_get(GDBusConnection *bus, const char *vm, const char *key)
{
	g_autofree char *path = vm_path(bus, vm);
	g_autoptr(GVariant) info = path ? vm_property(bus, vm, path, "GuestInfo") : NULL;
	const char *value;

	if (!info)
		return 1;
	if (!g_variant_is_of_type(info, G_VARIANT_TYPE("a{ss}")) ||
	    !g_variant_lookup(info, key, "&s", &value)) {
		fprintf(stderr, "porthole-ctl: %s: no value for %s\n", vm, key);
		return 1;
	}
	printf("%s\n", value);
	return 0;
}

/*
 * A VM method.  SendRpc's string reply is the guest tools' answer (exit 1 when
 * it is an ERROR); the other methods say nothing when they succeed, so the
 * line is porthole-ctl's, the same as over the control socket.
 */
static int vm_method(GDBusConnection *bus, const char *vm, const char *method, GVariant *args,
		     const char *reply_type, const char *cmd, guint w, guint h)
{
	g_autofree char *path = vm_path(bus, vm);
	g_autoptr(GVariant) r = NULL;

	if (!path) {
		if (args)
			g_variant_unref(g_variant_ref_sink(args));
		return 1;
	}
	r = call(bus, vm, path, IFACE_VM, method, args, reply_type, GUEST_TIMEOUT_MS);
	if (!r)
		return 1;
	if (g_variant_is_of_type(r, G_VARIANT_TYPE("(s)"))) {
		const char *reply;

		g_variant_get(r, "(&s)", &reply);
		return ctl_tclo_result(vm, reply);
	}
	ctl_report_guest_action(vm, cmd, w, h);
	return 0;
}

/*
 * KEY=VALUE arguments as SetClipboardPolicy's a{sv}: on/off flags as
 * booleans, max-size as uint64.  Anything else goes as a string, for the
 * service to refuse with its own InvalidArgs error.
 */
static GVariant *policy_from_args(int argc, char **argv)
{
	GVariantBuilder b;

	g_variant_builder_init(&b, G_VARIANT_TYPE_VARDICT);
	for (int i = 0; i < argc; i++) {
		g_autofree char *key = g_strdup(argv[i]);
		char *val = strchr(key, '=');
		guint64 n;

		if (!val || val == key) {
			ctl_usage_error(ctl_command_find("clipboard-policy"), "'%s' is not KEY=VALUE",
					argv[i]);
			g_variant_builder_clear(&b);
			return NULL;
		}
		*val++ = '\0';
		if ((!strcmp(key, "host-to-guest") || !strcmp(key, "guest-to-host")) &&
		    (!strcmp(val, "on") || !strcmp(val, "off")))
			g_variant_builder_add(&b, "{sv}", key, g_variant_new_boolean(!strcmp(val, "on")));
		else if (!strcmp(key, "max-size") &&
			 g_ascii_string_to_unsigned(val, 10, 0, G_MAXUINT64, &n, NULL))
			g_variant_builder_add(&b, "{sv}", key, g_variant_new_uint64(n));
		else
			g_variant_builder_add(&b, "{sv}", key, g_variant_new_string(val));
	}
	return g_variant_builder_end(&b);
}

static int cmd_clipboard_policy(GDBusConnection *bus, const char *vm, int argc, char **argv)
{
	g_autofree char *path = vm_path(bus, vm);
	g_autoptr(GVariant) policy = NULL;

	if (!path)
		return 1;
	if (argc) {
		GVariant *dict = policy_from_args(argc, argv);
		g_autoptr(GVariant) r = NULL;

		if (!dict)
			return 2;
		r = call(bus, vm, path, IFACE_VM, "SetClipboardPolicy",
			 g_variant_new("(@a{sv})", dict), "()", CALL_TIMEOUT_MS);
		if (!r)
			return 1;
	}
	/* The service applies a new policy before it replies: this shows it. */
	policy = vm_property(bus, vm, path, "ClipboardPolicy");
	if (!policy)
		return 1;
	if (!g_variant_is_of_type(policy, G_VARIANT_TYPE_VARDICT) ||
	    !print_clipboard_policy(policy)) {
		fprintf(stderr, "porthole-ctl: %s: the hypervisor has no clipboard policy\n", vm);
		return 1;
	}
	return 0;
}

/* ---- monitor ---- */

struct monitor {
	GMainLoop *loop;
	long long count, seen;		/* count 0: no limit */
	int status;
};

/* A string that reads the same bare: no spaces, quotes, backslashes, controls. */
static bool plain_word(const char *s)
{
	if (!*s)
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= ' ' || *p == 0x7f || *p == '\'' || *p == '"' || *p == '\\')
			return false;
	return true;
}

/*
 * NAME=VALUE: plain words bare (State=running), anything else as GVariant
 * text (strings quoted and escaped), so one signal stays one line of words.
 */
static void print_value(const char *prop, GVariant *v)
{
	printf(" %s=", prop);
	if (g_variant_is_of_type(v, G_VARIANT_TYPE_STRING) &&
	    plain_word(g_variant_get_string(v, NULL))) {
		fputs(g_variant_get_string(v, NULL), stdout);
	} else {
		g_autofree char *text = g_variant_print(v, FALSE);

		fputs(text, stdout);
	}
}

static void on_signal(GDBusConnection *bus, const char *sender, const char *path,
		      const char *iface, const char *member, GVariant *params, gpointer data)
{
	struct monitor *m = data;
	g_autofree char *vm = NULL;

	if (!g_str_has_prefix(path, ROOT_PATH))
		return;
	if (!strcmp(iface, IFACE_ROOT) && (!strcmp(member, "VMAdded") ||
					   !strcmp(member, "VMRemoved")) &&
	    g_variant_is_of_type(params, G_VARIANT_TYPE("(so)"))) {
		const char *name, *obj;

		g_variant_get(params, "(&s&o)", &name, &obj);
		printf("%s ", member);
		ctl_put_guest_text(stdout, name);
		printf(" %s\n", obj);
	} else if (!strcmp(iface, IFACE_VM) && !strcmp(member, "ToolsStatusChanged") &&
		   g_variant_is_of_type(params, G_VARIANT_TYPE("(s)"))) {
		const char *status;

		g_variant_get(params, "(&s)", &status);
		vm = name_of_path(path);
		printf("%s ", member);
		ctl_put_guest_text(stdout, vm);
		putchar(' ');
		ctl_put_guest_text(stdout, status);
		putchar('\n');
	} else if (!strcmp(iface, IFACE_PROPS) && !strcmp(member, "PropertiesChanged") &&
		   g_variant_is_of_type(params, G_VARIANT_TYPE("(sa{sv}as)"))) {
		g_autoptr(GVariantIter) changed = NULL;
		g_autoptr(GVariantIter) invalidated = NULL;
		const char *prop;
		GVariant *v;

		g_variant_get(params, "(&sa{sv}as)", NULL, &changed, &invalidated);
		vm = name_of_path(path);
		printf("%s ", member);
		ctl_put_guest_text(stdout, vm);
		while (g_variant_iter_loop(changed, "{&sv}", &prop, &v))
			print_value(prop, v);
		while (g_variant_iter_loop(invalidated, "&s", &prop))
			printf(" %s", prop);	/* changed, value not sent */
		putchar('\n');
	} else {
		return;
	}
	fflush(stdout);
	if (m->count && ++m->seen >= m->count)
		g_main_loop_quit(m->loop);
}

static gboolean on_interrupt(gpointer data)
{
	struct monitor *m = data;

	g_main_loop_quit(m->loop);
	return G_SOURCE_CONTINUE;
}

static void on_closed(GDBusConnection *bus, gboolean remote_peer_vanished, GError *err,
		      gpointer data)
{
	struct monitor *m = data;

	fprintf(stderr, "porthole-ctl: the session bus went away\n");
	m->status = 1;
	g_main_loop_quit(m->loop);
}

/* monitor [--count N]: N signals (0: until interrupted), or CTL_EXIT_USAGE. */
static int parse_monitor_args(const struct ctl_command *c, int argc, char **argv,
			      long long *count)
{
	guint64 n;

	*count = 0;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--count"))
			return ctl_usage_error(c, "unknown option '%s'", argv[i]);
		if (i + 1 >= argc ||
		    !g_ascii_string_to_unsigned(argv[i + 1], 10, 1, G_MAXINT64, &n, NULL))
			return ctl_usage_error(c, "--count needs a number of signals, 1 or more");
		*count = (long long)n;
		i++;
	}
	return 0;
}

static int cmd_monitor(GDBusConnection *bus, long long count)
{
	struct monitor m = { .count = count };
	guint subs[3], sig_int, sig_term;
	g_autoptr(GVariant) vms = NULL;

	m.loop = g_main_loop_new(NULL, FALSE);
	/* Subscribe first, then make sure the service runs (activation): no gap. */
	subs[0] = g_dbus_connection_signal_subscribe(bus, BUS_NAME, IFACE_ROOT, NULL, ROOT_PATH,
						     NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_signal,
						     &m, NULL);
	subs[1] = g_dbus_connection_signal_subscribe(bus, BUS_NAME, IFACE_VM,
						     "ToolsStatusChanged", NULL, NULL,
						     G_DBUS_SIGNAL_FLAGS_NONE, on_signal, &m, NULL);
	subs[2] = g_dbus_connection_signal_subscribe(bus, BUS_NAME, IFACE_PROPS,
						     "PropertiesChanged", NULL, IFACE_VM,
						     G_DBUS_SIGNAL_FLAGS_NONE, on_signal, &m, NULL);
	vms = call(bus, "ListVMs", ROOT_PATH, IFACE_ROOT, "ListVMs", NULL, "(ao)",
		   CALL_TIMEOUT_MS);
	if (vms) {
		g_autoptr(GVariant) list = g_variant_get_child_value(vms, 0);

		/* On stderr: stdout carries signals only.  Scripts may wait for it. */
		fprintf(stderr, "porthole-ctl: monitoring %s (%zu VMs running)\n", BUS_NAME,
			g_variant_n_children(list));
		g_dbus_connection_set_exit_on_close(bus, FALSE);
		g_signal_connect(bus, "closed", G_CALLBACK(on_closed), &m);
		sig_int = g_unix_signal_add(SIGINT, on_interrupt, &m);
		sig_term = g_unix_signal_add(SIGTERM, on_interrupt, &m);
		g_main_loop_run(m.loop);
		g_source_remove(sig_int);
		g_source_remove(sig_term);
		g_signal_handlers_disconnect_by_func(bus, on_closed, &m);
	} else {
		m.status = 1;
	}
	for (size_t i = 0; i < G_N_ELEMENTS(subs); i++)
		g_dbus_connection_signal_unsubscribe(bus, subs[i]);
	g_main_loop_unref(m.loop);
	return m.status;
}

/* ---- dispatch ---- */

bool ctl_dbus_wanted(void)
{
	const char *v = g_getenv(CTL_DBUS_ENV);

	return v && *v && strcmp(v, "0");
}

void ctl_dbus_usage(FILE *f)
{
	fprintf(f,
		"\n"
		"  --dbus COMMAND ...        (or " CTL_DBUS_ENV "=1) through org.porthole.Host1 on\n"
		"                            the session bus (porthole-hostd, started on demand)\n"
		"                            instead of the control sockets: list (name, state,\n"
		"                            tools status, object), status, info-get, tclo,\n"
		"                            resolution, sync-time, shutdown, reboot,\n"
		"                            clipboard-policy\n"
		"  monitor [--count N]       print org.porthole.Host1's signals as they come\n"
		"                            (always D-Bus): VMAdded, VMRemoved,\n"
		"                            ToolsStatusChanged, PropertiesChanged; until\n"
		"                            Ctrl-C or N signals\n");
}

int ctl_dbus_main(const struct ctl_command *c, int argc, char **argv)
{
	g_autoptr(GDBusConnection) bus = NULL;
	const char *cmd = c->name;
	guint w = 0, h = 0;
	long long count = 0;
	int st;

	if (!c->dbus) {
		fprintf(stderr, "porthole-ctl: '%s' has no D-Bus equivalent in %s (there: list, "
			"status, info-get, tclo, resolution, sync-time, shutdown, reboot, "
			"clipboard-policy, monitor); run it without --dbus/" CTL_DBUS_ENV "\n",
			cmd, BUS_NAME);
		return CTL_EXIT_USAGE;
	}
	if (!strcmp(cmd, "status") && argc == 3 && strcmp(argv[2], "--raw"))
		return ctl_usage_error(c, "unknown option '%s'", argv[2]);
	if (!strcmp(cmd, "sync-time") && argc == 3 && strcmp(argv[2], "on") &&
	    strcmp(argv[2], "off"))
		return ctl_usage_error(c, "'%s' is neither on nor off", argv[2]);
	if (!strcmp(cmd, "resolution")) {
		st = ctl_parse_resolution(c, argv[2], argv[3], &w, &h);
		if (st)
			return st;
	}
	if ((!strcmp(cmd, "shutdown") || !strcmp(cmd, "reboot")) && argc > 2)
		return ctl_usage_error(c, "'%s' is for the control socket (without --dbus)", argv[2]);
	if (!strcmp(cmd, "monitor")) {
		st = parse_monitor_args(c, argc - 1, argv + 1, &count);
		if (st)
			return st;
	}

	bus = session_bus();
	if (!bus)
		return 1;
	if (!strcmp(cmd, "list"))
		return cmd_list(bus);
	if (!strcmp(cmd, "monitor"))
		return cmd_monitor(bus, count);
	if (!strcmp(cmd, "status"))
		return cmd_status(bus, argv[1], argc == 3);
	if (!strcmp(cmd, "info-get"))
		return cmd_info_get(bus, argv[1], argv[2]);
	if (!strcmp(cmd, "tclo"))
		return vm_method(bus, argv[1], "SendRpc", g_variant_new("(s)", argv[2]), "(s)",
				 cmd, 0, 0);
	if (!strcmp(cmd, "resolution"))
		return vm_method(bus, argv[1], "SetResolution", g_variant_new("(uu)", w, h), "()",
				 cmd, w, h);
	if (!strcmp(cmd, "sync-time") && argc == 3) {
		if (vm_method(bus, argv[1], "SetPeriodicTimeSync",
			       g_variant_new("(b)", !strcmp(argv[2], "on")), "()", "", 0, 0))
			return 1;
		ctl_done(argv[1], "periodic time sync %s", argv[2]);
		return 0;
	}
	if (!strcmp(cmd, "sync-time"))
		return vm_method(bus, argv[1], "SyncTime", NULL, "()", cmd, 0, 0);
	if (!strcmp(cmd, "shutdown"))
		return vm_method(bus, argv[1], "Shutdown", NULL, "()", cmd, 0, 0);
	if (!strcmp(cmd, "reboot"))
		return vm_method(bus, argv[1], "Reboot", NULL, "()", cmd, 0, 0);
	/* clipboard-policy */
	return cmd_clipboard_policy(bus, argv[1], argc - 2, argv + 2);
}
