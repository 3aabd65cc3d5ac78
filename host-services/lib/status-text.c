// SPDX-License-Identifier: MIT
/*
 * The hypervisor's "key=value" reply text (status, clock, clipboard
 * policy): one reader for porthole-ctl, porthole-hostd and the power
 * operations, so they can't disagree on what a line means.
 */
#include <string.h>

#include "host-services/lib/porthole-host.h"

GHashTable *ph_kv_parse(const char *text)
{
	GHashTable *kv = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	g_auto(GStrv) lines = g_strsplit(text ? text : "", "\n", -1);

	for (char **l = lines; *l; l++) {
		const char *eq = strchr(*l, '=');
		char *key, *old;

		if (!eq || eq == *l)
			continue;	/* not a key=value line */
		key = g_strndup(*l, (gsize)(eq - *l));
		old = g_hash_table_lookup(kv, key);
		g_hash_table_replace(kv, key, old ? g_strconcat(old, "\n", eq + 1, NULL) :
						    g_strdup(eq + 1));
	}
	return kv;
}

const char *ph_kv_get(GHashTable *kv, const char *key, const char *dflt)
{
	const char *v = g_hash_table_lookup(kv, key);

	return v ? v : dflt;
}
