// SPDX-License-Identifier: MIT
/*
 * The one rule for guest text in host output (vm_append_guest_text): what
 * passes, what is written as \xHH, and where it is cut.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <glib.h>

#include "hypervisor/vm.h"

static char *esc(const char *s, size_t max, const char *also)
{
	GString *out = g_string_new(NULL);

	vm_append_guest_text(out, s, max, also);
	return g_string_free(out, FALSE);
}

#define CHECK(want, ...) do { \
	char *got = esc(__VA_ARGS__); \
	assert_string_equal(got, want); \
	g_free(got); \
} while (0)

static void test_rule(void **state)
{
	CHECK("plain text, 100% (ok)", "plain text, 100% (ok)", 256, NULL);
	/* Lines and fields can't be forged. */
	CHECK("evil\\x0astate=hijacked\\x0d", "evil\nstate=hijacked\r", 256, NULL);
	CHECK("a\\x2cb\\x3ac\\x3dd", "a,b:c=d", 256, ",:=");
	/* Escapes can't be forged either: a backslash is escaped itself. */
	CHECK("\\x5cx0a", "\\x0a", 256, NULL);
	CHECK("tab\\x09del\\x7fesc\\x1b[2J", "tab\tdel\x7f" "esc\x1b[2J", 256, NULL);
	/* UTF-8 passes whole; C1 controls and broken sequences don't. */
	CHECK("Debian GNU/Linux 12 — «bookworm» ü", "Debian GNU/Linux 12 — «bookworm» ü", 256, NULL);
	CHECK("\\xc2\\x9b31m", "\xc2\x9b" "31m", 256, NULL);
	CHECK("a\\xffb\\xc3", "a\xff" "b\xc3", 256, NULL);
	/* Cut at max bytes, and said so; a character cut in two is escaped. */
	CHECK("abc...", "abcdef", 3, NULL);
	CHECK("a\\xc3...", "a\xc3\xbc", 2, NULL);
	CHECK("", "", 10, NULL);
	CHECK("", NULL, 10, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rule),
	};

	return cmocka_run_group_tests_name("guest-text", tests, NULL, NULL);
}
