// SPDX-License-Identifier: MIT
/*
 * hypervisor/devices/namespace-db.c through the real device model: the
 * requests are built as open-vm-tools' vmware-namespace-cmd builds them
 * (NUL-terminated fields) and go through the guest library's backdoor
 * calls into vm_io().  Hostile requests (lying counts, fields without
 * their NUL, every limit crossed) must be refused whole and change
 * nothing; the state file must survive a restart and a torn write.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backdoor/backdoor.h"
#include "backdoor/msgchan.h"
#include "hypervisor/devices/namespace-db.h"
#include "hypervisor/vm.h"

#include "inproc-backdoor.h"

static char *state_dir;

static void start_vm(const char *dir)
{
	struct vm_config cfg = { .name = "unit", .ram_size = 64 << 20, .state_dir = dir };

	vm = vm_create(&cfg);
	assert_non_null(vm);
}

static int setup(void **state)
{
	bdoor_set_transport(&inproc_transport);
	start_vm(NULL);
	return 0;
}

static int setup_persisted(void **state)
{
	bdoor_set_transport(&inproc_transport);
	state_dir = g_dir_make_tmp("test-namespace-db.XXXXXX", NULL);
	start_vm(state_dir);
	return 0;
}

static int teardown(void **state)
{
	bdoor_set_transport(NULL);
	vm_destroy(vm);
	vm = NULL;
	if (state_dir) {
		g_autofree char *file = g_build_filename(state_dir, "unit.nsdb", NULL);

		g_unlink(file);
		g_rmdir(state_dir);
		g_free(state_dir);
		state_dir = NULL;
	}
	return 0;
}

/* A request: the command, a space, then each field with its NUL. */
static GString *request(const char *cmd, const char *const fields[])
{
	GString *s = g_string_new(cmd);

	g_string_append_c(s, ' ');
	for (int i = 0; fields[i]; i++)
		g_string_append_len(s, fields[i], (gssize)strlen(fields[i]) + 1);
	return s;
}

/* Status 1/0; the reply after its prefix in *reply (NULs kept, *len bytes). */
static int send_request(GString *req, char **reply, size_t *len)
{
	int st = rpci_send_one(req->str, req->len, reply, len);

	g_string_free(req, TRUE);
	return st;
}

#define FIELDS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static int set_key(const char *ns, const char *key, const char *value, const char *old)
{
	char *reply = NULL;
	size_t len;
	int st = send_request(request(NSDB_SET_COMMAND,
				      FIELDS(ns, "1", old ? "1" : "0", key, value, old ? old : "")),
			      &reply, &len);

	free(reply);
	return st;
}

/* The value, or NULL when the guest gets a failure. */
static char *ns_get(const char *ns, const char *key)
{
	char *reply = NULL, *v = NULL;
	size_t len;

	if (send_request(request(NSDB_GET_COMMAND, FIELDS(ns, key)), &reply, &len) == 1) {
		assert_true(len >= 1 && reply[len - 1] == '\0');
		v = g_strdup(reply);
	}
	free(reply);
	return v;
}

static void expect_ns_value(const char *ns, const char *key, const char *want)
{
	g_autofree char *v = ns_get(ns, key);

	if (want)
		assert_string_equal(v, want);
	else
		assert_null(v);
}

/* What the host sees through PH_CTL_NAMESPACE. */
static char *host_view(const char *payload, int *status)
{
	GString *out = g_string_new(NULL);

	pthread_mutex_lock(&vm->lock);
	*status = namespace_db_control(vm, payload, out);
	pthread_mutex_unlock(&vm->lock);
	return g_string_free(out, FALSE);
}

/* vmware-namespace-cmd's set-key, get-value, delete-key and -o OLD, as it sends them. */
static void test_round_trip(void **state)
{
	char *reply = NULL;
	size_t len;
	g_autofree char *list = NULL, *keys = NULL, *one = NULL;
	int st;

	expect_ns_value("demo", "color", NULL);
	assert_int_equal(set_key("demo", "color", "blue", NULL), 1);
	assert_int_equal(set_key("demo", "size", "42", NULL), 1);
	expect_ns_value("demo", "color", "blue");
	/* Several keys at once: each value with its NUL. */
	assert_int_equal(send_request(request(NSDB_GET_COMMAND, FIELDS("demo", "size", "color")),
				      &reply, &len), 1);
	assert_int_equal(len, 8);
	assert_memory_equal(reply, "42\0blue\0", 8);
	free(reply);
	/* -o OLD: compare and set. */
	assert_int_equal(set_key("demo", "color", "red", "green"), 0);
	expect_ns_value("demo", "color", "blue");
	assert_int_equal(set_key("demo", "color", "red", "blue"), 1);
	expect_ns_value("demo", "color", "red");
	/* The host's view, escaped guest text. */
	assert_int_equal(set_key("demo", "note", "a\nb", NULL), 1);
	list = host_view("", &st);
	assert_int_equal(st, 0);
	assert_string_equal(list, "demo keys=3 bytes=42\n");
	keys = host_view("demo", &st);
	assert_string_equal(keys, "color=red\nnote=a\\x0ab\nsize=42\n");
	one = host_view("demo\ncolor", &st);
	assert_string_equal(one, "red");
	g_free(host_view("demo\nnope", &st));
	assert_int_equal(st, ENOENT);
	g_free(host_view("nope", &st));
	assert_int_equal(st, ENOENT);
	/* delete-key: an empty value; the last key takes its namespace with it. */
	assert_int_equal(set_key("demo", "color", "", NULL), 1);
	assert_int_equal(set_key("demo", "color", "", NULL), 0);
	assert_int_equal(set_key("demo", "note", "", NULL), 1);
	assert_int_equal(set_key("demo", "size", "", NULL), 1);
	g_free(list);
	list = host_view("", &st);
	assert_string_equal(list, "");
}

static void expect_refused(GString *req, const char *why)
{
	char *reply = NULL;
	size_t len;

	assert_int_equal(send_request(req, &reply, &len), 0);
	assert_string_equal(reply, why);
	free(reply);
}

/* Lying counts, missing NULs, bad codes: refused whole, nothing changes. */
static void test_hostile_format(void **state)
{
	GString *req;

	assert_int_equal(set_key("ns", "k", "v", NULL), 1);
	expect_refused(request(NSDB_SET_COMMAND, FIELDS("ns", "2", "0", "k", "w", "")),
		       "Operation count does not match the fields sent");
	expect_refused(request(NSDB_SET_COMMAND, FIELDS("ns", "1", "0", "k", "w", "", "0", "j",
							"x", "")),
		       "Operation count does not match the fields sent");
	expect_refused(request(NSDB_SET_COMMAND, FIELDS("ns", "0")),
		       "Expected a namespace and 1..64 operations");
	expect_refused(request(NSDB_SET_COMMAND, FIELDS("ns", "65")),
		       "Expected a namespace and 1..64 operations");
	expect_refused(request(NSDB_SET_COMMAND, FIELDS("ns", "-1", "0", "k", "w", "")),
		       "Expected a namespace and 1..64 operations");
	expect_refused(request(NSDB_SET_COMMAND, FIELDS("ns", "1", "2", "k", "w", "")),
		       "Invalid operation code (expected 0 or 1)");
	expect_refused(request(NSDB_SET_COMMAND, FIELDS("ns", "1", "0", "k\x01", "w", "")),
		       "Invalid key");
	expect_refused(request(NSDB_SET_COMMAND, FIELDS("ns", "1", "0", "", "w", "")),
		       "Invalid key");
	expect_refused(request(NSDB_SET_COMMAND, FIELDS("n\ts", "1", "0", "k", "w", "")),
		       "Invalid namespace name");
	expect_refused(request(NSDB_SET_COMMAND, FIELDS("ns", "2", "0", "k", "w", "", "0", "k",
							"x", "")),
		       "Key given twice in one request");
	/* The last field without its NUL. */
	req = request(NSDB_SET_COMMAND, FIELDS("ns", "1", "0", "k", "w", ""));
	g_string_truncate(req, req->len - 1);
	g_string_append(req, "x");
	expect_refused(req, "Malformed request (fields without NUL, or too many)");
	req = request(NSDB_GET_COMMAND, FIELDS("ns"));
	g_string_append(req, "k");
	expect_refused(req, "Malformed request (fields without NUL, or too many keys)");
	expect_refused(request(NSDB_GET_COMMAND, FIELDS("ns")),
		       "Expected a namespace and at least one key");
	/* One bad op of two: the good one is not applied either. */
	expect_refused(request(NSDB_SET_COMMAND, FIELDS("ns", "2", "0", "k", "changed", "", "0",
							"bad\x7f", "x", "")),
		       "Invalid key");
	expect_ns_value("ns", "k", "v");
	expect_ns_value("ns", "bad\x7f", NULL);
}

/* Every limit: refused with its reason, the database as before. */
static void test_limits(void **state)
{
	g_autofree char *long_name = g_strnfill(NSDB_NAME_MAX + 1, 'n');
	g_autofree char *long_key = g_strnfill(NSDB_KEY_MAX + 1, 'k');
	g_autofree char *big = g_strnfill(NSDB_VALUE_MAX, 'v');
	g_autofree char *too_big = g_strnfill(NSDB_VALUE_MAX + 1, 'v');
	GString *req;
	char name[32];
	int i;

	assert_int_equal(set_key(long_name, "k", "v", NULL), 0);
	assert_int_equal(set_key("ns", long_key, "v", NULL), 0);
	assert_int_equal(set_key("ns", "k", too_big, NULL), 0);
	assert_int_equal(set_key("ns", "k", big, NULL), 1);
	assert_int_equal(set_key("ns", "k", "", NULL), 1);
	/* Namespaces. */
	for (i = 0; i < NSDB_NAMESPACES_MAX; i++) {
		g_snprintf(name, sizeof(name), "ns%d", i);
		assert_int_equal(set_key(name, "k", "v", NULL), 1);
	}
	assert_int_equal(set_key("one-more", "k", "v", NULL), 0);
	expect_ns_value("one-more", "k", NULL);
	assert_int_equal(set_key("ns0", "k2", "v", NULL), 1);	/* existing ones still take keys */
	for (i = 1; i < NSDB_NAMESPACES_MAX; i++) {
		g_snprintf(name, sizeof(name), "ns%d", i);
		assert_int_equal(set_key(name, "k", "", NULL), 1);
	}
	/* Keys per namespace, one request at a time and in one request. */
	for (i = 2; i < NSDB_KEYS_MAX; i++) {
		g_snprintf(name, sizeof(name), "key%d", i);
		assert_int_equal(set_key("ns0", name, "v", NULL), 1);
	}
	assert_int_equal(set_key("ns0", "one-more", "v", NULL), 0);
	assert_int_equal(set_key("ns0", "k", "replaced", NULL), 1);
	req = g_string_new(NSDB_SET_COMMAND " fresh");
	g_string_append_len(req, "\0" "64\0", 4);
	for (i = 0; i < NSDB_OPS_MAX; i++)
		g_string_append_printf(req, "0%cop%d%cv%c%c", 0, i, 0, 0, 0);
	{
		char *reply = NULL;
		size_t len;

		assert_int_equal(send_request(req, &reply, &len), 1);
		free(reply);
	}
	/* New keys of one request count together: 200 stored + 64 new > 256. */
	for (i = 0; i < 200; i++) {
		g_snprintf(name, sizeof(name), "k%d", i);
		assert_int_equal(set_key("many", name, "v", NULL), 1);
	}
	req = g_string_new(NSDB_SET_COMMAND " many");
	g_string_append_len(req, "\0" "64\0", 4);
	for (i = 0; i < NSDB_OPS_MAX; i++)
		g_string_append_printf(req, "0%cnew%d%cv%c%c", 0, i, 0, 0, 0);
	expect_refused(req, "Too many keys in the namespace");
	expect_ns_value("many", "new0", NULL);
	for (i = 0; i < 200; i++) {
		g_snprintf(name, sizeof(name), "k%d", i);
		assert_int_equal(set_key("many", name, "", NULL), 1);
	}
	/* Total bytes: fill with 16 KiB values until the database is full. */
	for (i = 0; i < 8; i++) {
		g_snprintf(name, sizeof(name), "big%d", i);
		if (set_key("fresh", name, big, NULL) == 0)
			break;
	}
	assert_true(i > 0 && i < 8);
	{
		int st;
		g_autofree char *list = host_view("", &st);
		char *bytes = strstr(list, "fresh keys=");

		assert_non_null(bytes);
		assert_true(strtoul(strstr(bytes, "bytes=") + 6, NULL, 10) <= NSDB_BYTES_MAX);
	}
	g_snprintf(name, sizeof(name), "big%d", i);
	expect_ns_value("fresh", name, NULL);
}

/* Written at flush, read back by the next VM of that name; a torn copy falls back. */
static void test_persisted(void **state)
{
	g_autofree char *file = g_build_filename(state_dir, "unit.nsdb", NULL);
	g_autofree char *data = NULL;
	gsize len;

	assert_int_equal(set_key("ns", "k", "first", NULL), 1);
	namespace_db_flush(vm);
	assert_int_equal(set_key("ns", "k", "second", NULL), 1);
	namespace_db_flush(vm);
	vm_destroy(vm);
	start_vm(state_dir);
	expect_ns_value("ns", "k", "second");
	/* A write torn in the newest copy: the one before it is loaded. */
	vm_destroy(vm);
	assert_true(g_file_get_contents(file, &data, &len, NULL));
	assert_true(len > 2 * 64);
	{
		/* generation 2 is the newest: slot 0 (generation % 2) */
		FILE *f = fopen(file, "r+b");

		assert_non_null(f);
		fseek(f, 64 + 3, SEEK_SET);
		fputc('X', f);
		fclose(f);
	}
	start_vm(state_dir);
	expect_ns_value("ns", "k", "first");
	/* Nothing changed: nothing is written (the file is as we left it). */
	namespace_db_flush(vm);
}

/* Without a state directory nothing is written anywhere. */
static void test_memory_only(void **state)
{
	int st;
	g_autofree char *status = NULL;
	GString *s = g_string_new(NULL);

	assert_int_equal(set_key("ns", "k", "v", NULL), 1);
	namespace_db_flush(vm);
	pthread_mutex_lock(&vm->lock);
	namespace_db_status(vm, s);
	pthread_mutex_unlock(&vm->lock);
	status = g_string_free(s, FALSE);
	assert_non_null(strstr(status, "namespace.persisted=no\n"));
	assert_non_null(strstr(status, "namespace.writes=0\n"));
	g_free(host_view("ns\nk", &st));
	assert_int_equal(st, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_persisted, setup_persisted, teardown),
		cmocka_unit_test_setup_teardown(test_memory_only, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
