// SPDX-License-Identifier: MIT
/*
 * Guest power operations as a user sees them: ask the guest tools, then wait
 * until the VM has stopped or started again.  See porthole-host.h.
 */
#include <gio/gio.h>
#include <string.h>

#include "host-services/lib/porthole-host.h"

#define PEEK_TIMEOUT_MS	5000
#define TCLO_TIMEOUT_MS	15000	/* the hypervisor gives up on the guest after 10 s */
#define POLL_US		(100 * 1000)
#define FAILURE_GRACE_S	2	/* a failure report counts once the guest is still up this long */

bool ph_peek_vm(const char *name, struct ph_vm_peek *peek)
{
	struct ph_reply r = { 0 };
	bool ok = false;

	if (ph_call_once(name, PH_CTL_STATUS, NULL, PEEK_TIMEOUT_MS, &r, NULL))
		return false;
	if (r.status == 0) {
		g_autoptr(GHashTable) kv = ph_kv_parse(r.data->str);
		const char *change = ph_kv_get(kv, "tools.statechange", "0");

		memset(peek, 0, sizeof(*peek));
		g_strlcpy(peek->state, ph_kv_get(kv, "state", "?"), sizeof(peek->state));
		peek->boots = g_ascii_strtoull(ph_kv_get(kv, "boots", "0"), NULL, 10);
		peek->statechange_reports =
			g_ascii_strtoull(ph_kv_get(kv, "tools.statechange-reports", "0"), NULL, 10);
		peek->statechange_id = (guint32)g_ascii_strtoull(change, NULL, 10);
		peek->statechange_ok = strstr(change, "success") != NULL;
		ok = true;
	}
	ph_reply_clear(&r);
	return ok;
}

int ph_power_op(const char *name, bool reboot, int timeout_s, char **guest_reply, GError **error)
{
	const char *tclo = reboot ? "OS_Reboot" : "OS_Halt";
	guint32 op = reboot ? 2 : 1;	/* GUESTOS_STATECHANGE_REBOOT / _HALT */
	struct ph_vm_peek before, now;
	struct ph_reply r = { 0 };
	gint64 deadline, failed_at = 0;

	*guest_reply = NULL;
	if (!ph_peek_vm(name, &before) ||
	    ph_call_once(name, PH_CTL_TCLO, tclo, TCLO_TIMEOUT_MS, &r, error)) {
		if (error && !*error)
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
				    "VM %s is not running", name);
		return PH_POWER_FAILED;
	}
	if (r.status) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(r.status), "%s: %s", name,
			    r.data->len ? r.data->str : g_strerror(r.status));
		ph_reply_clear(&r);
		return PH_POWER_FAILED;
	}
	*guest_reply = g_strdup(r.data->str);
	ph_reply_clear(&r);
	if (!g_str_has_prefix(*guest_reply, "OK"))
		return PH_POWER_REFUSED;
	deadline = g_get_monotonic_time() + (gint64)timeout_s * G_USEC_PER_SEC;
	while (g_get_monotonic_time() < deadline) {
		bool up = ph_peek_vm(name, &now);

		if (reboot && up && now.boots > before.boots && !strcmp(now.state, "running"))
			return PH_POWER_DONE;
		/* Unreachable between two boots of a reset: only a shutdown counts it. */
		if (!reboot && (!up || !strcmp(now.state, "stopped")))
			return PH_POWER_DONE;
		/*
		 * The tools ran the guest's command and report that it failed, and
		 * the guest is still up a while later (a guest going down may kill
		 * the command, and the tools report that too).
		 */
		if (up && now.boots == before.boots &&
		    now.statechange_reports > before.statechange_reports &&
		    now.statechange_id == op && !now.statechange_ok && !failed_at)
			failed_at = g_get_monotonic_time();
		if (up && failed_at &&
		    g_get_monotonic_time() - failed_at >= FAILURE_GRACE_S * G_USEC_PER_SEC) {
			g_free(*guest_reply);
			*guest_reply = g_strdup_printf("ERROR the guest tools report that the "
						       "guest's %s command failed",
						       reboot ? "reboot" : "halt");
			return PH_POWER_REFUSED;
		}
		g_usleep(POLL_US);
	}
	return PH_POWER_TIMEOUT;
}
