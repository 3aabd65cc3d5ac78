// SPDX-License-Identifier: MIT
/*
 * TCLO command handlers, and the RPCIs porthole-guestd sends.
 *
 * A TCLO command is "<name> <arguments>"; the reply is "OK <result>" or
 * "ERROR <text>", as open-vm-tools' rpcin dispatch does.  Only what we
 * really implement is here and advertised to the host.
 */
#define G_LOG_DOMAIN "porthole-guestd"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backdoor/msgchan.h"
#include "guestd.h"

struct guestd_state {
	GHashTable *options;	/* Set_Option name -> value */
	bool sync_time_announced;	/* vmx.set_option synctime 0 1 sent (--sync-time) */
	struct timesync *timesync;
	struct powerops *powerops;
};

void guestd_state_set_powerops(struct guestd_state *s, struct powerops *p)
{
	s->powerops = p;
}

void guestd_reply_done(struct guestd_state *s, bool sent)
{
	if (!s->powerops)
		return;
	if (sent)
		powerops_reply_sent(s->powerops);
	else
		powerops_reply_lost(s->powerops);
}

void guestd_state_set_timesync(struct guestd_state *s, struct timesync *ts)
{
	s->timesync = ts;
}

struct guestd_state *guestd_state_new(void)
{
	struct guestd_state *s = g_new0(struct guestd_state, 1);

	s->options = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	return s;
}

void guestd_state_free(struct guestd_state *s)
{
	if (!s)
		return;
	g_hash_table_destroy(s->options);
	g_free(s);
}

const char *guestd_option(struct guestd_state *s, const char *name)
{
	return g_hash_table_lookup(s->options, name);
}

/* ---- RPCI ---- */

static int G_GNUC_PRINTF(1, 2) rpci(const char *fmt, ...)
{
	va_list ap;
	char *cmd, *reply = NULL;
	int ret;

	va_start(ap, fmt);
	cmd = g_strdup_vprintf(fmt, ap);
	va_end(ap);

	ret = rpci_send_one(cmd, strlen(cmd), &reply, NULL);
	if (ret == 1)
		g_debug("RPCI '%s': OK '%s'", cmd, reply);
	else if (ret == 0)
		g_debug("RPCI '%s' failed: '%s'", cmd, reply);
	else
		g_debug("RPCI '%s': channel error", cmd);
	free(reply);
	g_free(cmd);
	return ret;
}

/* TOOLS_VERSION_ENCODE of "major.minor.patch", or TOOLS_VERSION_UNMANAGED. */
static unsigned int tools_version(void)
{
	unsigned int ma, mi, pa;

	if (sscanf(PORTHOLE_VERSION, "%u.%u.%u", &ma, &mi, &pa) != 3 ||
	    mi > 31 || pa > 31 || ma > 0xFFFF)
		return TOOLS_VERSION_UNMANAGED;
	return TOOLS_VERSION_ENCODE(ma, mi, pa);
}

void guestd_announce(void)
{
	rpci("log %s %s starting", GUESTD_NAME, PORTHOLE_VERSION);
	if (rpci("vmx.capability.unified_loop %s", TOOLS_APP_MAIN) != 1)
		g_debug("host does not support unified_loop (ignored)");
}

/* ---- TCLO handlers: each returns the text after "OK "/"ERROR " ---- */

typedef bool (*tclo_handler)(struct guestd_state *s, const char *args, char **result);

static bool h_reset(struct guestd_state *s, const char *args, char **result)
{
	g_debug("host reset the TCLO conversation");
	*result = g_strdup("ATR " TOOLS_APP_MAIN);
	return true;
}

static bool h_ping(struct guestd_state *s, const char *args, char **result)
{
	*result = g_strdup("");
	return true;
}

static bool h_capabilities(struct guestd_state *s, const char *args, char **result)
{
	unsigned int ver = tools_version();

	g_message("registering capabilities (tools version %u)", ver);
	rpci("tools.set.version %u", ver);
	rpci("info-set guestinfo.vmtools.description %s %s", GUESTD_NAME, PORTHOLE_VERSION);
	rpci("info-set guestinfo.vmtools.versionString %s", PORTHOLE_VERSION);
	rpci("info-set guestinfo.vmtools.versionNumber %u", ver);
	/*
	 * Only capabilities of features this daemon implements go here: the
	 * host acts on them (statechange, for one, promises OS_Halt/OS_Reboot).
	 * open-vm-tools has no capability for time sync (its timeSync plugin
	 * registers none; the host just sends Set_Option synctime and
	 * Time_Synchronize), so ours is in Porthole's own name space.
	 */
	if (s->timesync)
		rpci("tools.capability.porthole_timesync 1");
	/*
	 * --sync-time is the guest's choice, as `vmware-toolbox-cmd timesync
	 * enable` is: the host keeps synctime and pushes it (Set_Option) after
	 * this reply, so say so first, once: a later disable from the host
	 * stands across reconnects.
	 */
	if (s->timesync && timesync_periodic_requested(s->timesync) && !s->sync_time_announced) {
		rpci("vmx.set_option synctime 0 1");
		s->sync_time_announced = true;
	}
	/* As vmtoolsd's powerOps: old-style capability without a value. */
	if (s->powerops)
		rpci("tools.capability.statechange ");
	/* A VMware host learns the guest's information at tools start too. */
	guestinfo_report();
	*result = g_strdup("");
	return true;
}

static bool h_set_option(struct guestd_state *s, const char *args, char **result)
{
	const char *sp = strchr(args, ' ');

	if (!sp || sp == args) {
		*result = g_strdup("Invalid arguments");
		return false;
	}

	char *name = g_strndup(args, sp - args);
	char *value = g_strdup(sp + 1);

	g_message("option %s = '%s'", name, value);
	if (s->timesync && timesync_set_option(s->timesync, name, value) < 0) {
		g_free(name);
		g_free(value);
		*result = g_strdup("Invalid option value");
		return false;
	}
	/* Unknown options are accepted and remembered, as vmtoolsd does. */
	g_hash_table_replace(s->options, name, value);
	*result = g_strdup("");
	return true;
}

/* "Time_Synchronize <1: a guest ahead may be stepped back>": the host says the guest resumed. */
static bool h_time_synchronize(struct guestd_state *s, const char *args, char **result)
{
	if (!s->timesync) {
		*result = g_strdup("Time sync is off");
		return false;
	}
	if (!timesync_now(s->timesync, !strcmp(args, "1"))) {
		*result = g_strdup("Unable to sync time");
		return false;
	}
	*result = g_strdup("");
	return true;
}

static bool h_os_halt(struct guestd_state *s, const char *args, char **result)
{
	if (!s->powerops) {
		*result = g_strdup(TCLO_UNKNOWN_COMMAND);
		return false;
	}
	return powerops_request(s->powerops, GUESTOS_STATECHANGE_HALT, result);
}

static bool h_os_reboot(struct guestd_state *s, const char *args, char **result)
{
	if (!s->powerops) {
		*result = g_strdup(TCLO_UNKNOWN_COMMAND);
		return false;
	}
	return powerops_request(s->powerops, GUESTOS_STATECHANGE_REBOOT, result);
}

static const struct {
	const char *name;
	tclo_handler fn;
} handlers[] = {
	{ "reset", h_reset },
	{ "ping", h_ping },
	{ "Capabilities_Register", h_capabilities },
	{ "Set_Option", h_set_option },
	{ "Time_Synchronize", h_time_synchronize },
	{ TCLO_OS_HALT, h_os_halt },
	{ TCLO_OS_REBOOT, h_os_reboot },
};

char *guestd_dispatch(struct guestd_state *s, const char *msg, size_t len, size_t *reply_len)
{
	char *cmd, *args, *result = NULL, *reply;
	bool ok = false;
	size_t i;

	/* Hosts may count a trailing NUL; text stops at the first one. */
	cmd = g_strndup(msg, len);
	args = strchr(cmd, ' ');
	if (args)
		*args++ = '\0';
	else
		args = cmd + strlen(cmd);

	for (i = 0; i < G_N_ELEMENTS(handlers); i++) {
		if (!strcmp(cmd, handlers[i].name)) {
			ok = handlers[i].fn(s, args, &result);
			break;
		}
	}
	if (i == G_N_ELEMENTS(handlers)) {
		g_debug("unknown TCLO command '%s'", cmd);
		result = g_strdup(TCLO_UNKNOWN_COMMAND);
	}

	reply = g_strconcat(ok ? TCLO_SUCCESS_PREFIX : TCLO_FAILURE_PREFIX, result, NULL);
	g_debug("TCLO '%s%s%s' -> '%s'", cmd, *args ? " " : "", args, reply);
	*reply_len = strlen(reply);
	g_free(result);
	g_free(cmd);
	return reply;
}
