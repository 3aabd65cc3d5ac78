// SPDX-License-Identifier: MIT
/*
 * A StatusNotifierWatcher written to the specification (org.kde naming), for
 * tests on a private session bus where no desktop provides one.  It also acts
 * as the tray host: it logs each registered item's signals.
 *
 * stdout, one event a line:
 *   ready
 *   registered <bus name> <object path>
 *   signal <bus name> <member> <arguments as GVariant text>
 *   unregistered <bus name>
 */
#include <gio/gio.h>
#include <glib-unix.h>
#include <stdio.h>
#include <string.h>

#define NAME	"org.kde.StatusNotifierWatcher"
#define PATH	"/StatusNotifierWatcher"

static const char xml[] =
	"<node><interface name='" NAME "'>"
	"<method name='RegisterStatusNotifierItem'><arg name='service' type='s' direction='in'/></method>"
	"<method name='RegisterStatusNotifierHost'><arg name='service' type='s' direction='in'/></method>"
	"<property name='RegisteredStatusNotifierItems' type='as' access='read'/>"
	"<property name='IsStatusNotifierHostRegistered' type='b' access='read'/>"
	"<property name='ProtocolVersion' type='i' access='read'/>"
	"<signal name='StatusNotifierItemRegistered'><arg type='s'/></signal>"
	"<signal name='StatusNotifierItemUnregistered'><arg type='s'/></signal>"
	"<signal name='StatusNotifierHostRegistered'/>"
	"</interface></node>";

static GDBusConnection *bus;
static GHashTable *items;	/* "<bus name><path>" -> watch id */

static void on_item_signal(GDBusConnection *c, const char *sender, const char *path,
			   const char *iface, const char *member, GVariant *params, gpointer d)
{
	g_autofree char *args = g_variant_print(params, FALSE);

	printf("signal %s %s %s\n", sender, member, args);
}

static void on_item_vanished(GDBusConnection *c, const char *name, gpointer data)
{
	char *key = data;

	printf("unregistered %s\n", name);
	g_dbus_connection_emit_signal(bus, NULL, PATH, NAME, "StatusNotifierItemUnregistered",
				      g_variant_new("(s)", key), NULL);
	g_hash_table_remove(items, key);
}

static void method(GDBusConnection *c, const char *sender, const char *path, const char *iface,
		   const char *name, GVariant *params, GDBusMethodInvocation *inv, gpointer d)
{
	const char *arg;
	const char *service, *obj;
	char *key;

	g_variant_get(params, "(&s)", &arg);
	if (!strcmp(name, "RegisterStatusNotifierHost")) {
		g_dbus_method_invocation_return_value(inv, NULL);
		return;
	}
	/* A bus name (object at /StatusNotifierItem) or an object path of the caller. */
	service = arg[0] == '/' ? sender : arg;
	obj = arg[0] == '/' ? arg : "/StatusNotifierItem";
	key = g_strconcat(service, obj, NULL);
	if (!g_hash_table_contains(items, key)) {
		printf("registered %s %s\n", service, obj);
		g_dbus_connection_signal_subscribe(bus, service, "org.kde.StatusNotifierItem",
						   NULL, obj, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
						   on_item_signal, NULL, NULL);
		g_hash_table_insert(items, key, GUINT_TO_POINTER(
			g_bus_watch_name_on_connection(bus, service, G_BUS_NAME_WATCHER_FLAGS_NONE,
						       NULL, on_item_vanished, g_strdup(key),
						       g_free)));
		g_dbus_connection_emit_signal(bus, NULL, PATH, NAME, "StatusNotifierItemRegistered",
					      g_variant_new("(s)", key), NULL);
	} else {
		g_free(key);
	}
	g_dbus_method_invocation_return_value(inv, NULL);
}

static GVariant *get_property(GDBusConnection *c, const char *sender, const char *path,
			      const char *iface, const char *prop, GError **error, gpointer d)
{
	if (!strcmp(prop, "RegisteredStatusNotifierItems")) {
		GVariantBuilder b;
		GHashTableIter it;
		gpointer k;

		g_variant_builder_init(&b, G_VARIANT_TYPE("as"));
		g_hash_table_iter_init(&it, items);
		while (g_hash_table_iter_next(&it, &k, NULL))
			g_variant_builder_add(&b, "s", k);
		return g_variant_builder_end(&b);
	}
	if (!strcmp(prop, "IsStatusNotifierHostRegistered"))
		return g_variant_new_boolean(TRUE);
	if (!strcmp(prop, "ProtocolVersion"))
		return g_variant_new_int32(0);
	g_set_error(error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_PROPERTY, "%s", prop);
	return NULL;
}

static const GDBusInterfaceVTable vtable = { method, get_property, NULL, { 0 } };

static void acquired(GDBusConnection *c, const char *name, gpointer d)
{
	printf("ready\n");
}

static void lost(GDBusConnection *c, const char *name, gpointer d)
{
	fprintf(stderr, "sni-watcher: cannot own %s\n", name);
	exit(1);
}

static gboolean on_term(gpointer loop)
{
	g_main_loop_quit(loop);
	return G_SOURCE_REMOVE;
}

int main(void)
{
	GError *err = NULL;
	GDBusNodeInfo *node = g_dbus_node_info_new_for_xml(xml, NULL);
	GMainLoop *loop = g_main_loop_new(NULL, FALSE);

	setvbuf(stdout, NULL, _IOLBF, 0);
	items = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	bus = g_bus_get_sync(G_BUS_TYPE_SESSION, NULL, &err);
	if (!bus) {
		fprintf(stderr, "sni-watcher: %s\n", err->message);
		return 1;
	}
	g_dbus_connection_register_object(bus, PATH, node->interfaces[0], &vtable, NULL, NULL, NULL);
	g_bus_own_name_on_connection(bus, NAME, G_BUS_NAME_OWNER_FLAGS_NONE, acquired, lost, NULL,
				     NULL);
	g_unix_signal_add(SIGTERM, on_term, loop);
	g_main_loop_run(loop);
	/* A test helper: the process ends here, no teardown needed. */
	_exit(0);
}
