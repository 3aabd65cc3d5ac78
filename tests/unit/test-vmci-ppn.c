// SPDX-License-Identifier: MIT
/*
 * Queue-pair page-number validation (vmci_check_ppns), table-driven: every
 * rule a hostile guest could break, alone, with the error and the index of
 * the offending page.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <glib.h>
#include <stdbool.h>
#include <string.h>

#include "backdoor/vmci.h"
#include "hypervisor/devices/vmci.h"

#define RAM_PAGES	4096
#define ME		100
#define OTHER		200

static int32_t owner[RAM_PAGES];
static uint8_t in_qp[RAM_PAGES];

struct ppn_case {
	const char *what;
	bool trap;			/* ownership checked (trap engine) */
	uint64_t ppns[8];
	uint64_t n;
	int expect;
	uint64_t bad;
};

static const struct ppn_case cases[] = {
	{ "valid, scattered", true, { 300, 302, 301, 900 }, 4, VMCI_SUCCESS, 3 },
	{ "valid without ownership (KVM)", false, { 1, 2, 3000 }, 3, VMCI_SUCCESS, 2 },
	{ "zero pages", true, { 0 }, 0, VMCI_ERROR_INVALID_ARGS, 0 },
	{ "past the end of RAM", true, { 300, RAM_PAGES }, 2, VMCI_ERROR_CANNOT_SHARE_PAGE, 1 },
	{ "far past RAM", false, { UINT64_MAX }, 1, VMCI_ERROR_CANNOT_SHARE_PAGE, 0 },
	{ "device range (VGA/BIOS hole)", false, { 5, 0xA0 }, 2, VMCI_ERROR_NO_ACCESS, 1 },
	{ "device range end", false, { 0xFF }, 1, VMCI_ERROR_NO_ACCESS, 0 },
	{ "just past the device range", false, { 0x100 }, 1, VMCI_SUCCESS, 0 },
	{ "another context's page", true, { 300, 2000 }, 2, VMCI_ERROR_INVALID_PRIV, 1 },
	{ "a free page", true, { 3000 }, 1, VMCI_ERROR_INVALID_PRIV, 0 },
	{ "already in a queue pair", true, { 300, 310 }, 2, VMCI_ERROR_REGION_ALREADY_SHARED, 1 },
	{ "duplicate", true, { 300, 301, 302, 301 }, 4, VMCI_ERROR_PAGE_ALREADY_SHARED, 1 },
	{ "duplicate header page", true, { 300, 300 }, 2, VMCI_ERROR_PAGE_ALREADY_SHARED, 0 },
};

static void test_table(void **state)
{
	for (int p = 0; p < RAM_PAGES; p++)
		owner[p] = p >= 300 && p < 1000 ? ME : p >= 2000 && p < 2500 ? OTHER : VMCI_PAGE_FREE;
	in_qp[310] = 1;
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		const struct ppn_case *c = &cases[i];
		struct vmci_ppn_rules r = {
			.ram_pages = RAM_PAGES, .page_owner = c->trap ? owner : NULL,
			.page_in_qp = in_qp, .owner = ME,
		};
		uint64_t bad = 99;
		int got = vmci_check_ppns(&r, c->ppns, c->n, &bad);

		if (got != c->expect || (got && bad != c->bad))
			fail_msg("%s: expected %d at %llu, got %d at %llu", c->what, c->expect,
				 (unsigned long long)c->bad, got, (unsigned long long)bad);
	}
}

static void test_too_many(void **state)
{
	uint64_t n = VMCI_QP_MAX_PPNS + 1, bad;
	uint64_t *ppns = g_new0(uint64_t, n);
	struct vmci_ppn_rules r = { .ram_pages = UINT64_MAX, .owner = ME };

	assert_int_equal(vmci_check_ppns(&r, ppns, n, &bad), VMCI_ERROR_NO_RESOURCES);
	/* Exactly at the bound, distinct pages past the device range are fine. */
	for (uint64_t i = 0; i < n; i++)
		ppns[i] = 0x100 + i;
	assert_int_equal(vmci_check_ppns(&r, ppns, n - 1, &bad), VMCI_SUCCESS);
	g_free(ppns);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_too_many),
	};

	return cmocka_run_group_tests_name("vmci-ppn", tests, NULL, NULL);
}
