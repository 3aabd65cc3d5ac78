// SPDX-License-Identifier: MIT
/*
 * host-services/lib/status-text.c: the one reader of the hypervisor's
 * key=value replies (porthole-ctl, porthole-hostd, power operations).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <glib.h>

#include "host-services/lib/porthole-host.h"

static void test_status_lines(void **state)
{
	g_autoptr(GHashTable) kv = ph_kv_parse(
		"name=vm1\nstate=running\nnot a pair\n=no key\n"
		"tools.app=toolbox poll 100\ntools.app=toolbox-dnd poll 5000\n"
		"guest.os.full=Debian = 12\nempty=\nstate=stopped");

	assert_string_equal(ph_kv_get(kv, "name", "?"), "vm1");
	/* A repeated key keeps every value, in order. */
	assert_string_equal(ph_kv_get(kv, "tools.app", ""),
			    "toolbox poll 100\ntoolbox-dnd poll 5000");
	assert_string_equal(ph_kv_get(kv, "state", ""), "running\nstopped");
	/* The first '=' splits: a value may hold more. */
	assert_string_equal(ph_kv_get(kv, "guest.os.full", ""), "Debian = 12");
	assert_string_equal(ph_kv_get(kv, "empty", "?"), "");
	assert_string_equal(ph_kv_get(kv, "missing", "dflt"), "dflt");
	assert_null(ph_kv_get(kv, "", NULL));
	assert_int_equal(g_hash_table_size(kv), 5);
}

static void test_empty(void **state)
{
	g_autoptr(GHashTable) a = ph_kv_parse("");
	g_autoptr(GHashTable) b = ph_kv_parse(NULL);

	assert_int_equal(g_hash_table_size(a), 0);
	assert_int_equal(g_hash_table_size(b), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_lines),
		cmocka_unit_test(test_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
