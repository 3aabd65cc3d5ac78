// SPDX-License-Identifier: MIT
/*
 * Unit tests for the parsers and escaping of a trap guest's sandbox:
 * /proc/self/cgroup (which cgroup the VM's go below), the console log's
 * escaping of guest bytes, and PORTHOLE_HOST_LACKS's list.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <glib.h>
#include <string.h>

#include "hypervisor/console.h"
#include "hypervisor/guest-cgroup.h"
#include "hypervisor/host-lacks.h"

static const char v1_text[] =
	"9:name=systemd:/user.slice/session-1.scope\n"
	"8:pids:/user.slice\n"
	"4:memory:/process_api/a034\n"
	"2:cpu,cpuacct:/sys\n"
	"0::/user.slice/session-1.scope\n";

static void check_path(const char *text, const char *controller, const char *want)
{
	char *got = guest_cgroup_own_path(text, controller);

	if (want)
		assert_string_equal(got, want);
	else
		assert_null(got);
	g_free(got);
}

static void test_cgroup_v1(void **state)
{
	check_path(v1_text, "memory", "/process_api/a034");
	check_path(v1_text, "pids", "/user.slice");
	check_path(v1_text, "name=systemd", "/user.slice/session-1.scope");
	check_path(v1_text, "cpuacct", "/sys");	/* one of a joint list */
	check_path(v1_text, "cpu", "/sys");
	check_path(v1_text, "blkio", NULL);
	check_path(v1_text, "", "/user.slice/session-1.scope");
}

static void test_cgroup_v2_and_junk(void **state)
{
	check_path("0::/\n", "", "/");
	check_path("0::/\n", "memory", NULL);
	/* no path, a relative one, no colons, an empty name: never a match */
	check_path("4:memory:\n", "memory", NULL);
	check_path("4:memory:rel\n", "memory", NULL);
	check_path("garbage\n\n:\n::\n", "", NULL);
	check_path("", "memory", NULL);
	/* "0::" only for v2: a v1 line with an empty list is not it */
	check_path("5::/x\n", "", NULL);
}

static void check_escape(const char *in, size_t len, const char *want)
{
	GString *s = g_string_new(NULL);

	console_escape(s, in, len);
	assert_string_equal(s->str, want);
	g_string_free(s, TRUE);
}

static void test_console_escape(void **state)
{
	check_escape("hello\r\nworld\tx\n", 15, "hello\nworld\tx\n");
	/* terminal control: ESC sequences, BEL, NUL, DEL, backslash, 8-bit bytes */
	check_escape("\x1b[2J\a", 5, "\\x1b[2J\\x07");
	check_escape("a\0b", 3, "a\\x00b");
	check_escape("\x7f\\", 2, "\\x7f\\x5c");
	check_escape("\x9b\xc3\xa9", 3, "\\x9b\\xc3\\xa9");
	check_escape("", 0, "");
}

static void test_host_lacks_parse(void **state)
{
	unsigned int mask = ~0u;
	char bad[16] = "";

	assert_int_equal(host_lacks_parse(NULL, &mask, bad, sizeof(bad)), 0);
	assert_int_equal(mask, 0);
	assert_int_equal(host_lacks_parse("", &mask, bad, sizeof(bad)), 0);
	assert_int_equal(mask, 0);
	assert_int_equal(host_lacks_parse("loop,idmap,veth,vdso-dir", &mask, bad, sizeof(bad)), 0);
	assert_int_equal(mask, HOST_LOOP | HOST_IDMAP | HOST_VETH | HOST_VDSO_DIR);
	assert_int_equal(host_lacks_parse("veth,", &mask, bad, sizeof(bad)), 0);
	assert_int_equal(mask, HOST_VETH);
	/* Whole words only: a prefix, a longer word, an empty one, spaces. */
	assert_int_equal(host_lacks_parse("loop,floppy", &mask, bad, sizeof(bad)), -1);
	assert_string_equal(bad, "floppy");
	assert_int_equal(host_lacks_parse("vdso", &mask, bad, sizeof(bad)), -1);
	assert_string_equal(bad, "vdso");
	assert_int_equal(host_lacks_parse("loops", &mask, bad, sizeof(bad)), -1);
	assert_int_equal(host_lacks_parse("loop,,veth", &mask, bad, sizeof(bad)), -1);
	assert_string_equal(bad, "");
	assert_int_equal(host_lacks_parse("loop, veth", &mask, bad, sizeof(bad)), -1);
	assert_string_equal(bad, " veth");
	/* A long word is cut to fit `bad`. */
	assert_int_equal(host_lacks_parse("a-very-long-unknown-word", &mask, bad, sizeof(bad)), -1);
	assert_int_equal(strlen(bad), sizeof(bad) - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cgroup_v1),
		cmocka_unit_test(test_cgroup_v2_and_junk),
		cmocka_unit_test(test_console_escape),
		cmocka_unit_test(test_host_lacks_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
