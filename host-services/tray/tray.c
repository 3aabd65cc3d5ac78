// SPDX-License-Identifier: MIT
/*
 * porthole-tray: a StatusNotifierItem for the host desktop's panel.
 *
 * The item (org.kde.StatusNotifierItem at /StatusNotifierItem, bus name
 * org.kde.StatusNotifierItem-<pid>-1) registers with
 * org.kde.StatusNotifierWatcher whenever one is on the bus; without one it
 * says so once and waits.  The menu is served by libdbusmenu-glib
 * (com.canonical.dbusmenu at /MenuBar).  What it shows comes from
 * org.porthole.Host1 (porthole-hostd, D-Bus activated on our first call):
 * never from the control sockets directly.
 *
 * Status: no VM -> Passive; every VM running with tools -> Active, icon
 * "computer"; a VM without tools -> Active, icon "dialog-information"; a VM
 * whose tools went away, or that is not running -> NeedsAttention.
 * Per VM: Open viewer (porthole-viewer VM; when the VM has a viewer already,
 * one per VM, its window is brought to the front instead), Clipboard
 * sharing (a checkbox: SetClipboardPolicy both ways), Sync time now, Shut
 * down / Reboot guest.
 */
#define G_LOG_DOMAIN "porthole-tray"

#include <gio/gio.h>
#include <glib-unix.h>
#include <libdbusmenu-glib/menuitem.h>
#include <libdbusmenu-glib/server.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/x-window.h"
#include "host-services/lib/porthole-host.h"

#define SNI_PATH	"/StatusNotifierItem"
#define SNI_IFACE	"org.kde.StatusNotifierItem"
#define MENU_PATH	"/MenuBar"
#define WATCHER_NAME	"org.kde.StatusNotifierWatcher"
#define WATCHER_PATH	"/StatusNotifierWatcher"
#define HOST_NAME	"org.porthole.Host1"
#define HOST_PATH	"/org/porthole/Host1"
#define HOST_VM_IFACE	"org.porthole.Host1.VM"
/* Above porthole-hostd's own wait for a Shutdown or Reboot to complete (20 s). */
#define CALL_TIMEOUT_MS	30000

static const char sni_xml[] =
	"<node><interface name='" SNI_IFACE "'>"
	"<property name='Category' type='s' access='read'/>"
	"<property name='Id' type='s' access='read'/>"
	"<property name='Title' type='s' access='read'/>"
	"<property name='Status' type='s' access='read'/>"
	"<property name='WindowId' type='i' access='read'/>"
	"<property name='IconThemePath' type='s' access='read'/>"
	"<property name='IconName' type='s' access='read'/>"
	"<property name='IconPixmap' type='a(iiay)' access='read'/>"
	"<property name='OverlayIconName' type='s' access='read'/>"
	"<property name='OverlayIconPixmap' type='a(iiay)' access='read'/>"
	"<property name='AttentionIconName' type='s' access='read'/>"
	"<property name='AttentionIconPixmap' type='a(iiay)' access='read'/>"
	"<property name='AttentionMovieName' type='s' access='read'/>"
	"<property name='ToolTip' type='(sa(iiay)ss)' access='read'/>"
	"<property name='ItemIsMenu' type='b' access='read'/>"
	"<property name='Menu' type='o' access='read'/>"
	"<method name='ContextMenu'><arg name='x' type='i' direction='in'/>"
	"<arg name='y' type='i' direction='in'/></method>"
	"<method name='Activate'><arg name='x' type='i' direction='in'/>"
	"<arg name='y' type='i' direction='in'/></method>"
	"<method name='SecondaryActivate'><arg name='x' type='i' direction='in'/>"
	"<arg name='y' type='i' direction='in'/></method>"
	"<method name='Scroll'><arg name='delta' type='i' direction='in'/>"
	"<arg name='orientation' type='s' direction='in'/></method>"
	"<signal name='NewTitle'/><signal name='NewIcon'/><signal name='NewAttentionIcon'/>"
	"<signal name='NewOverlayIcon'/><signal name='NewToolTip'/>"
	"<signal name='NewStatus'><arg name='status' type='s'/></signal>"
	"</interface></node>";

struct tvm {
	char *path, *name, *state, *tools, *desc;
	char *os, *ips;		/* OsName; IpAddresses worth showing, comma-separated */
	bool had_tools, statechange;
	bool clip_known, clip_on;	/* ClipboardPolicy: has one; shares both ways */
};

struct tray {
	GMainLoop *loop;
	GDBusConnection *bus;
	GDBusNodeInfo *node;
	char *bus_name;
	guint reg_id, own_id, watcher_watch, host_watch;
	guint sub_added, sub_props;
	bool said_no_watcher;
	DbusmenuServer *menu;
	DbusmenuMenuitem *root;
	GHashTable *vms;	/* object path -> struct tvm */
	char *status, *icon, *tip_title, *tip_text;
	char *viewer;		/* porthole-viewer, when installed */
	char *menu_key;		/* what the menu was last built from */
};

static void tvm_free(gpointer p)
{
	struct tvm *v = p;

	g_free(v->path);
	g_free(v->name);
	g_free(v->state);
	g_free(v->tools);
	g_free(v->desc);
	g_free(v->os);
	g_free(v->ips);
	g_free(v);
}

/* ---- what the item shows ---- */

static bool needs_attention(const struct tvm *v)
{
	return strcmp(v->state, "running") || (v->had_tools && strcmp(v->tools, "running"));
}

static gint compare_tvm(gconstpointer a, gconstpointer b)
{
	return strcmp(((const struct tvm *)a)->name, ((const struct tvm *)b)->name);
}

static GList *sorted_vms(struct tray *t)
{
	return g_list_sort(g_hash_table_get_values(t->vms), compare_tvm);
}

static char *tools_text(const struct tvm *v)
{
	if (!strcmp(v->tools, "running"))
		return g_strdup_printf("tools running%s%s%s", *v->desc ? " (" : "", v->desc,
				       *v->desc ? ")" : "");
	if (v->had_tools)
		return g_strdup("tools stopped");
	return g_strdup("no guest tools");
}

/* Replace *field; true when it changed. */
static bool set_str(char **field, char *value)
{
	bool changed = !*field || strcmp(*field, value);

	g_free(*field);
	*field = value;
	return changed;
}

static void emit(struct tray *t, const char *signal, GVariant *args)
{
	g_dbus_connection_emit_signal(t->bus, NULL, SNI_PATH, SNI_IFACE, signal, args, NULL);
}

/* ---- the menu ---- */

struct action {
	struct tray *tray;
	char *path, *method, *label;
};

static void action_free(gpointer p, GClosure *c)
{
	struct action *a = p;

	g_free(a->path);
	g_free(a->method);
	g_free(a->label);
	g_free(a);
}

static void action_done(GObject *src, GAsyncResult *res, gpointer data)
{
	g_autofree char *what = data;
	g_autoptr(GError) err = NULL;
	g_autoptr(GVariant) r = g_dbus_connection_call_finish(G_DBUS_CONNECTION(src), res, &err);

	if (r)
		g_message("%s: done", what);
	else
		g_warning("%s: %s", what, err->message);
}

static void on_action(DbusmenuMenuitem *mi, guint timestamp, gpointer data)
{
	struct action *a = data;

	g_message("menu: %s (%s)", a->label, a->path);
	g_dbus_connection_call(a->tray->bus, HOST_NAME, a->path, HOST_VM_IFACE, a->method, NULL,
			       NULL, G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL, action_done,
			       g_strdup_printf("%s (%s)", a->label, a->path));
}

/* "Clipboard sharing": both directions on, or both off. */
static void on_clipboard_toggle(DbusmenuMenuitem *mi, guint timestamp, gpointer data)
{
	struct action *a = data;
	struct tvm *v = g_hash_table_lookup(a->tray->vms, a->path);
	GVariantBuilder b;
	bool on;

	if (!v)
		return;
	on = !v->clip_on;
	g_message("menu: clipboard sharing %s (%s)", on ? "on" : "off", a->path);
	g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
	g_variant_builder_add(&b, "{sv}", "host-to-guest", g_variant_new_boolean(on));
	g_variant_builder_add(&b, "{sv}", "guest-to-host", g_variant_new_boolean(on));
	g_dbus_connection_call(a->tray->bus, HOST_NAME, a->path, HOST_VM_IFACE,
			       "SetClipboardPolicy", g_variant_new("(a{sv})", &b), NULL,
			       G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL, action_done,
			       g_strdup_printf("clipboard sharing %s (%s)", on ? "on" : "off",
					       a->path));
}

/* The window of the viewer that holds VM `name`, raised: false when there is none. */
static bool raise_viewer(const char *name)
{
	pid_t holder = ph_viewer_holder(name);
	Display *dpy;
	Window w = None;

	if (holder <= 0 || !(dpy = XOpenDisplay(NULL)))
		return false;
	w = x_find_window(dpy, DefaultScreen(dpy), holder, "porthole-viewer");
	if (w) {
		x_activate_window(dpy, DefaultScreen(dpy), w);
		g_message("menu: the viewer of %s (pid %ld) is open: window 0x%lx raised", name,
			  (long)holder, w);
	}
	XCloseDisplay(dpy);
	return w != None;
}

static void on_open_viewer(DbusmenuMenuitem *mi, guint timestamp, gpointer data)
{
	struct action *a = data;
	char *argv[] = { a->tray->viewer, a->path, NULL };	/* a->path holds the VM name */
	g_autoptr(GError) err = NULL;

	/* One viewer per VM: a headless one (no window) refuses the new one itself. */
	if (raise_viewer(a->path))
		return;
	if (!g_spawn_async(NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, &err))
		g_warning("cannot start %s: %s", a->tray->viewer, err->message);
}

static DbusmenuMenuitem *add_item(struct tray *t, DbusmenuMenuitem *parent, const char *label,
				  bool enabled, const char *path, const char *method,
				  GCallback cb)
{
	DbusmenuMenuitem *mi = dbusmenu_menuitem_new();
	struct action *a = g_new0(struct action, 1);

	dbusmenu_menuitem_property_set(mi, DBUSMENU_MENUITEM_PROP_LABEL, label);
	dbusmenu_menuitem_property_set_bool(mi, DBUSMENU_MENUITEM_PROP_ENABLED, enabled);
	a->tray = t;
	a->path = g_strdup(path);
	a->method = g_strdup(method);
	a->label = g_strdup(label);
	g_signal_connect_data(mi, DBUSMENU_MENUITEM_SIGNAL_ITEM_ACTIVATED, cb, a, action_free, 0);
	dbusmenu_menuitem_child_append(parent, mi);
	g_object_unref(mi);	/* the parent holds it */
	return mi;
}

/*
 * What the menu shows, as one string: the menu is rebuilt only when this
 * changes, so an open menu (and its item ids) survives the property updates
 * that don't concern it (guestinfo, ...).
 */
static char *menu_key(GList *vms)
{
	GString *k = g_string_new(NULL);

	for (GList *l = vms; l; l = l->next) {
		struct tvm *v = l->data;

		g_string_append_printf(k, "%s|%s|%s|%d%d%d%d\n", v->path, v->name, v->tools,
				       v->had_tools, v->statechange, v->clip_known, v->clip_on);
		g_string_append(k, v->desc);
	}
	return g_string_free(k, FALSE);
}

static void rebuild_menu(struct tray *t)
{
	GList *old, *vms = sorted_vms(t);

	if (!set_str(&t->menu_key, menu_key(vms))) {
		g_list_free(vms);
		return;
	}
	old = dbusmenu_menuitem_take_children(t->root);
	g_list_free_full(old, g_object_unref);
	if (!vms) {
		DbusmenuMenuitem *mi = dbusmenu_menuitem_new();

		dbusmenu_menuitem_property_set(mi, DBUSMENU_MENUITEM_PROP_LABEL,
					       "No VMs running");
		dbusmenu_menuitem_property_set_bool(mi, DBUSMENU_MENUITEM_PROP_ENABLED, FALSE);
		dbusmenu_menuitem_child_append(t->root, mi);
		g_object_unref(mi);
	}
	for (GList *l = vms; l; l = l->next) {
		struct tvm *v = l->data;
		g_autofree char *tools = tools_text(v);
		g_autofree char *label = g_strdup_printf("%s: %s", v->name, tools);
		DbusmenuMenuitem *sub = dbusmenu_menuitem_new(), *mi;
		bool up = !strcmp(v->tools, "running");

		dbusmenu_menuitem_property_set(sub, DBUSMENU_MENUITEM_PROP_LABEL, label);
		dbusmenu_menuitem_property_set(sub, DBUSMENU_MENUITEM_PROP_CHILD_DISPLAY,
					       DBUSMENU_MENUITEM_CHILD_DISPLAY_SUBMENU);
		if (t->viewer)
			add_item(t, sub, "Open viewer", true, v->name, NULL,
				 G_CALLBACK(on_open_viewer));
		mi = add_item(t, sub, "Clipboard sharing", v->clip_known, v->path, NULL,
			      G_CALLBACK(on_clipboard_toggle));
		dbusmenu_menuitem_property_set(mi, DBUSMENU_MENUITEM_PROP_TOGGLE_TYPE,
					       DBUSMENU_MENUITEM_TOGGLE_CHECK);
		dbusmenu_menuitem_property_set_int(mi, DBUSMENU_MENUITEM_PROP_TOGGLE_STATE,
			v->clip_on ? DBUSMENU_MENUITEM_TOGGLE_STATE_CHECKED :
				     DBUSMENU_MENUITEM_TOGGLE_STATE_UNCHECKED);
		add_item(t, sub, "Sync time now", up, v->path, "SyncTime", G_CALLBACK(on_action));
		/* Power operations only where the guest registered the statechange capability. */
		add_item(t, sub, "Shut down guest", up && v->statechange, v->path, "Shutdown",
			 G_CALLBACK(on_action));
		add_item(t, sub, "Reboot guest", up && v->statechange, v->path, "Reboot",
			 G_CALLBACK(on_action));
		dbusmenu_menuitem_child_append(t->root, sub);
		g_object_unref(sub);
	}
	g_list_free(vms);
}

/*
 * "  OS, IP a, b": what the guest tools reported (guest text: markup-escaped,
 * as some panels render tooltips as rich text).
 */
static void append_guest_line(GString *tip, const struct tvm *v)
{
	g_autofree char *os = g_markup_escape_text(v->os ? v->os : "", -1);
	g_autofree char *ips = g_markup_escape_text(v->ips ? v->ips : "", -1);

	if (!*os && !*ips)
		return;
	g_string_append_printf(tip, "\n  %s%s%s%s", os, *os && *ips ? ", " : "",
			       *ips ? "IP " : "", ips);
}

static void refresh(struct tray *t)
{
	GList *vms = sorted_vms(t);
	GString *tip = g_string_new(NULL);
	const char *status = "Passive", *icon = "computer";
	bool attention = false, missing = false;
	char *title;

	for (GList *l = vms; l; l = l->next) {
		struct tvm *v = l->data;
		g_autofree char *tools = tools_text(v);

		attention |= needs_attention(v);
		missing |= strcmp(v->tools, "running") != 0;
		g_string_append_printf(tip, "%s%s (%s): %s", tip->len ? "\n" : "", v->name,
				       v->state, tools);
		append_guest_line(tip, v);
	}
	if (vms) {
		status = attention ? "NeedsAttention" : "Active";
		icon = missing ? "dialog-information" : "computer";
	} else {
		g_string_append(tip, "No Porthole VMs running");
	}
	title = vms ? g_strdup_printf("Porthole: %u VM%s", g_list_length(vms),
				      g_list_length(vms) == 1 ? "" : "s") : g_strdup("Porthole");
	g_list_free(vms);

	if (set_str(&t->status, g_strdup(status))) {
		g_message("status %s", status);
		emit(t, "NewStatus", g_variant_new("(s)", status));
	}
	if (set_str(&t->icon, g_strdup(icon)))
		emit(t, "NewIcon", NULL);
	if (set_str(&t->tip_text, g_string_free(tip, FALSE)) | set_str(&t->tip_title, title))
		emit(t, "NewToolTip", NULL);
	rebuild_menu(t);
}

/* ---- following org.porthole.Host1 ---- */

static const char *prop_str(GVariant *props, const char *key)
{
	const char *s = NULL;

	if (!g_variant_lookup(props, key, "&s", &s))
		return NULL;
	return s;
}

/*
 * The addresses a user would connect to, without their prefix length:
 * loopback and IPv6 link-local ones left out.
 */
static char *shown_addresses(GVariant *nics)
{
	GString *out = g_string_new(NULL);
	GVariantIter it;
	const char *nic;
	GVariantIter *addrs;

	g_variant_iter_init(&it, nics);
	while (g_variant_iter_next(&it, "{&sas}", &nic, &addrs)) {
		const char *a;

		while (g_variant_iter_next(addrs, "&s", &a)) {
			size_t len = strcspn(a, "/");

			if (g_str_has_prefix(a, "127.") || g_str_has_prefix(a, "::1/") ||
			    !g_ascii_strncasecmp(a, "fe80:", 5))
				continue;
			g_string_append_printf(out, "%s%.*s", out->len ? ", " : "", (int)len, a);
		}
		g_variant_iter_free(addrs);
	}
	return g_string_free(out, FALSE);
}

static void apply_props(struct tvm *v, GVariant *props)
{
	const char *s;
	g_autofree const char **caps = NULL;
	g_autoptr(GVariant) policy = NULL, nics = NULL;

	if ((s = prop_str(props, "Name")))
		set_str(&v->name, g_strdup(s));
	if ((s = prop_str(props, "State")))
		set_str(&v->state, g_strdup(s));
	if ((s = prop_str(props, "ToolsDescription")))
		set_str(&v->desc, g_strdup(s));
	if ((s = prop_str(props, "ToolsStatus"))) {
		set_str(&v->tools, g_strdup(s));
		v->had_tools |= !strcmp(s, "running");
	}
	if ((s = prop_str(props, "OsName")))
		set_str(&v->os, g_strdup(s));
	if ((nics = g_variant_lookup_value(props, "IpAddresses", G_VARIANT_TYPE("a{sas}"))))
		set_str(&v->ips, shown_addresses(nics));
	if ((policy = g_variant_lookup_value(props, "ClipboardPolicy", G_VARIANT_TYPE_VARDICT))) {
		gboolean h2g = FALSE, g2h = FALSE;

		v->clip_known = g_variant_lookup(policy, "host-to-guest", "b", &h2g) &&
				g_variant_lookup(policy, "guest-to-host", "b", &g2h);
		v->clip_on = v->clip_known && h2g && g2h;
	}
	if (g_variant_lookup(props, "Capabilities", "^a&s", &caps)) {
		v->statechange = false;
		for (const char **c = caps; *c; c++)
			v->statechange |= !strcmp(*c, "statechange") ||
					  g_str_has_prefix(*c, "statechange:");
	}
}

struct fetch {
	struct tray *tray;
	char *path;
};

static void got_vm(GObject *src, GAsyncResult *res, gpointer data)
{
	struct fetch *f = data;
	g_autoptr(GError) err = NULL;
	g_autoptr(GVariant) r = g_dbus_connection_call_finish(G_DBUS_CONNECTION(src), res, &err);
	g_autoptr(GVariant) props = NULL;
	struct tvm *v;

	if (!r) {
		g_message("%s: %s", f->path, err->message);	/* gone already */
		goto out;
	}
	props = g_variant_get_child_value(r, 0);
	v = g_hash_table_lookup(f->tray->vms, f->path);
	if (!v) {
		v = g_new0(struct tvm, 1);
		v->path = g_strdup(f->path);
		v->name = g_strdup(f->path);
		v->state = g_strdup("?");
		v->tools = g_strdup("not-running");
		v->desc = g_strdup("");
		g_hash_table_insert(f->tray->vms, v->path, v);
	}
	apply_props(v, props);
	g_message("VM %s: %s, tools %s", v->name, v->state, v->tools);
	refresh(f->tray);
out:
	g_free(f->path);
	g_free(f);
}

static void fetch_vm(struct tray *t, const char *path)
{
	struct fetch *f = g_new0(struct fetch, 1);

	f->tray = t;
	f->path = g_strdup(path);
	g_dbus_connection_call(t->bus, HOST_NAME, path, "org.freedesktop.DBus.Properties", "GetAll",
			       g_variant_new("(s)", HOST_VM_IFACE), G_VARIANT_TYPE("(a{sv})"),
			       G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL, got_vm, f);
}

static void got_list(GObject *src, GAsyncResult *res, gpointer data)
{
	struct tray *t = data;
	g_autoptr(GError) err = NULL;
	g_autoptr(GVariant) r = g_dbus_connection_call_finish(G_DBUS_CONNECTION(src), res, &err);
	g_autoptr(GVariantIter) it = NULL;
	const char *path;

	if (!r) {
		g_warning("%s ListVMs: %s", HOST_NAME, err->message);
		return;
	}
	g_variant_get(r, "(ao)", &it);
	while (g_variant_iter_next(it, "&o", &path))
		fetch_vm(t, path);
}

static void on_host_signal(GDBusConnection *bus, const char *sender, const char *path,
			   const char *iface, const char *signal, GVariant *params, gpointer data)
{
	struct tray *t = data;

	if (!strcmp(signal, "VMAdded")) {
		const char *name, *vm;

		g_variant_get(params, "(&s&o)", &name, &vm);
		fetch_vm(t, vm);
	} else if (!strcmp(signal, "VMRemoved")) {
		const char *name, *vm;

		g_variant_get(params, "(&s&o)", &name, &vm);
		if (g_hash_table_remove(t->vms, vm)) {
			g_message("VM %s gone", name);
			refresh(t);
		}
	} else if (!strcmp(signal, "PropertiesChanged")) {
		const char *ifname;
		g_autoptr(GVariant) changed = NULL;
		struct tvm *v = g_hash_table_lookup(t->vms, path);

		g_variant_get(params, "(&s@a{sv}@as)", &ifname, &changed, NULL);
		if (!v || strcmp(ifname, HOST_VM_IFACE))
			return;
		apply_props(v, changed);
		refresh(t);
	}
}

static void on_host_appeared(GDBusConnection *bus, const char *name, const char *owner,
			     gpointer data)
{
	struct tray *t = data;

	g_message("%s is at %s", name, owner);
	g_dbus_connection_call(bus, HOST_NAME, HOST_PATH, HOST_NAME, "ListVMs", NULL,
			       G_VARIANT_TYPE("(ao)"), G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL,
			       got_list, t);
}

static void on_host_vanished(GDBusConnection *bus, const char *name, gpointer data)
{
	struct tray *t = data;

	g_message("%s is not running (and could not be started); showing no VMs", name);
	g_hash_table_remove_all(t->vms);
	refresh(t);
}

/* ---- the StatusNotifierItem ---- */

static GVariant *empty_pixmaps(void)
{
	return g_variant_new_array(G_VARIANT_TYPE("(iiay)"), NULL, 0);
}

static GVariant *sni_get_property(GDBusConnection *bus, const char *sender, const char *path,
				  const char *iface, const char *prop, GError **error,
				  gpointer data)
{
	struct tray *t = data;

	if (!strcmp(prop, "Category"))
		return g_variant_new_string("SystemServices");
	if (!strcmp(prop, "Id"))
		return g_variant_new_string("porthole-tray");
	if (!strcmp(prop, "Title"))
		return g_variant_new_string("Porthole");
	if (!strcmp(prop, "Status"))
		return g_variant_new_string(t->status);
	if (!strcmp(prop, "WindowId"))
		return g_variant_new_int32(0);
	if (!strcmp(prop, "IconName"))
		return g_variant_new_string(t->icon);
	if (!strcmp(prop, "AttentionIconName"))
		return g_variant_new_string("dialog-warning");
	if (!strcmp(prop, "IconThemePath") || !strcmp(prop, "OverlayIconName") ||
	    !strcmp(prop, "AttentionMovieName"))
		return g_variant_new_string("");
	if (!strcmp(prop, "IconPixmap") || !strcmp(prop, "OverlayIconPixmap") ||
	    !strcmp(prop, "AttentionIconPixmap"))
		return empty_pixmaps();
	if (!strcmp(prop, "ToolTip"))
		return g_variant_new("(s@a(iiay)ss)", t->icon, empty_pixmaps(), t->tip_title,
				     t->tip_text);
	if (!strcmp(prop, "ItemIsMenu"))
		return g_variant_new_boolean(TRUE);
	if (!strcmp(prop, "Menu"))
		return g_variant_new_object_path(MENU_PATH);
	g_set_error(error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_PROPERTY, "no property %s", prop);
	return NULL;
}

/* The host shows our menu itself (ItemIsMenu); clicks and scrolls need nothing. */
static void sni_method(GDBusConnection *bus, const char *sender, const char *path,
		       const char *iface, const char *method, GVariant *params,
		       GDBusMethodInvocation *inv, gpointer data)
{
	g_dbus_method_invocation_return_value(inv, NULL);
}

static const GDBusInterfaceVTable sni_vtable = { sni_method, sni_get_property, NULL, { 0 } };

static void registered(GObject *src, GAsyncResult *res, gpointer data)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(GVariant) r = g_dbus_connection_call_finish(G_DBUS_CONNECTION(src), res, &err);

	if (r)
		g_message("registered with " WATCHER_NAME);
	else
		g_warning("RegisterStatusNotifierItem: %s", err->message);
}

static void on_watcher_appeared(GDBusConnection *bus, const char *name, const char *owner,
				gpointer data)
{
	struct tray *t = data;

	t->said_no_watcher = false;
	g_dbus_connection_call(bus, WATCHER_NAME, WATCHER_PATH, WATCHER_NAME,
			       "RegisterStatusNotifierItem", g_variant_new("(s)", t->bus_name),
			       NULL, G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL, registered, t);
}

static void on_watcher_vanished(GDBusConnection *bus, const char *name, gpointer data)
{
	struct tray *t = data;

	if (!t->said_no_watcher)
		g_message("no " WATCHER_NAME " on the session bus (no tray host running); "
			  "waiting for one");
	t->said_no_watcher = true;
}

static void on_name_acquired(GDBusConnection *bus, const char *name, gpointer data)
{
	struct tray *t = data;

	g_message("serving %s", name);
	t->watcher_watch = g_bus_watch_name_on_connection(bus, WATCHER_NAME,
		G_BUS_NAME_WATCHER_FLAGS_NONE, on_watcher_appeared, on_watcher_vanished, t, NULL);
}

static void on_name_lost(GDBusConnection *bus, const char *name, gpointer data)
{
	struct tray *t = data;

	g_warning("lost the bus name %s; exiting", name);
	g_main_loop_quit(t->loop);
}

static gboolean on_signal(gpointer data)
{
	struct tray *t = data;

	g_message("signal received, stopping");
	g_main_loop_quit(t->loop);
	return G_SOURCE_CONTINUE;
}

/* porthole-viewer next to us, or on PATH. */
static char *find_viewer(const char *argv0)
{
	g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
	g_autofree char *dir = self ? g_path_get_dirname(self) : NULL;
	char *p = dir ? g_build_filename(dir, "porthole-viewer", NULL) : NULL;

	if (p && g_file_test(p, G_FILE_TEST_IS_EXECUTABLE))
		return p;
	g_free(p);
	return g_find_program_in_path("porthole-viewer");
}

int main(int argc, char **argv)
{
	struct tray t = { 0 };
	gboolean version = FALSE;
	GOptionEntry entries[] = {
		{ "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version", NULL },
		{ 0 }
	};
	GOptionContext *ctx = g_option_context_new("- Porthole tray icon");
	g_autoptr(GError) err = NULL;
	guint sig_term, sig_int;

	g_option_context_set_summary(ctx,
		"A StatusNotifierItem showing the running Porthole VMs and their guest tools,\n"
		"with a menu per VM (sync time, shut down, reboot).");
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
		fprintf(stderr, "porthole-tray: %s\n", err->message);
		g_option_context_free(ctx);
		return 2;
	}
	g_option_context_free(ctx);
	if (version) {
		printf("porthole-tray %s\n", PORTHOLE_VERSION);
		return 0;
	}
	t.bus = g_bus_get_sync(G_BUS_TYPE_SESSION, NULL, &err);
	if (!t.bus) {
		fprintf(stderr, "porthole-tray: no session bus: %s\n", err->message);
		return 1;
	}
	t.node = g_dbus_node_info_new_for_xml(sni_xml, NULL);
	t.vms = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, tvm_free);
	t.viewer = find_viewer(argv[0]);
	t.loop = g_main_loop_new(NULL, FALSE);
	t.menu = dbusmenu_server_new(MENU_PATH);
	t.root = dbusmenu_menuitem_new();
	dbusmenu_server_set_root(t.menu, t.root);
	refresh(&t);

	t.reg_id = g_dbus_connection_register_object(t.bus, SNI_PATH, t.node->interfaces[0],
						     &sni_vtable, &t, NULL, &err);
	if (!t.reg_id) {
		fprintf(stderr, "porthole-tray: %s\n", err->message);
		return 1;
	}
	t.sub_added = g_dbus_connection_signal_subscribe(t.bus, HOST_NAME, HOST_NAME, NULL,
		HOST_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_host_signal, &t, NULL);
	t.sub_props = g_dbus_connection_signal_subscribe(t.bus, HOST_NAME,
		"org.freedesktop.DBus.Properties", "PropertiesChanged", NULL, HOST_VM_IFACE,
		G_DBUS_SIGNAL_FLAGS_NONE, on_host_signal, &t, NULL);
	/* AUTO_START: D-Bus activates porthole-hostd when it isn't running yet. */
	t.host_watch = g_bus_watch_name_on_connection(t.bus, HOST_NAME,
		G_BUS_NAME_WATCHER_FLAGS_AUTO_START, on_host_appeared, on_host_vanished, &t, NULL);

	t.bus_name = g_strdup_printf("org.kde.StatusNotifierItem-%d-1", (int)getpid());
	t.own_id = g_bus_own_name_on_connection(t.bus, t.bus_name, G_BUS_NAME_OWNER_FLAGS_NONE,
						on_name_acquired, on_name_lost, &t, NULL);
	sig_term = g_unix_signal_add(SIGTERM, on_signal, &t);
	sig_int = g_unix_signal_add(SIGINT, on_signal, &t);
	g_main_loop_run(t.loop);

	g_bus_unown_name(t.own_id);
	if (t.watcher_watch)
		g_bus_unwatch_name(t.watcher_watch);
	g_bus_unwatch_name(t.host_watch);
	g_dbus_connection_signal_unsubscribe(t.bus, t.sub_added);
	g_dbus_connection_signal_unsubscribe(t.bus, t.sub_props);
	g_dbus_connection_unregister_object(t.bus, t.reg_id);
	g_source_remove(sig_term);
	g_source_remove(sig_int);
	g_object_unref(t.root);
	g_object_unref(t.menu);
	g_hash_table_destroy(t.vms);
	g_dbus_node_info_unref(t.node);
	g_dbus_connection_flush_sync(t.bus, NULL, NULL);
	g_object_unref(t.bus);
	g_main_loop_unref(t.loop);
	g_free(t.bus_name);
	g_free(t.status);
	g_free(t.icon);
	g_free(t.tip_title);
	g_free(t.tip_text);
	g_free(t.viewer);
	g_free(t.menu_key);
	return 0;
}
