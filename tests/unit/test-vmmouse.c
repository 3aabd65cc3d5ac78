// SPDX-License-Identifier: MIT
/*
 * The absolute pointer device model (hypervisor/devices/vmmouse.c): queue
 * bound, strict host event parsing, relative packets, and the DATA/STATUS
 * answers a driver relies on.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <glib.h>
#include <string.h>

#include "backdoor/input.h"
#include "hypervisor/devices/vmmouse.h"
#include "hypervisor/vm.h"

static struct vm *vm;

static uint32_t bd(uint32_t cmd, uint32_t bx, struct bdoor_regs *out)
{
	struct bdoor_regs r = { .ax = BDOOR_MAGIC, .bx = bx, .cx = cmd };
	uint32_t eax = vmmouse_backdoor(vm->vmmouse, cmd, &r);

	if (out)
		*out = r;
	return eax;
}

static int setup(void **state)
{
	struct vm_config cfg = { .name = "unit-mouse", .ram_size = 1 << 20 };

	vm = vm_create(&cfg);
	return vm && vm->vmmouse ? 0 : -1;
}

static int teardown(void **state)
{
	vm_destroy(vm);
	return 0;
}

static void enable(bool absolute)
{
	bd(BDOOR_CMD_ABSPOINTER_COMMAND, VMMOUSE_CMD_READ_ID, NULL);
	assert_int_equal(bd(BDOOR_CMD_ABSPOINTER_STATUS, 0, NULL), 1);
	assert_int_equal(bd(BDOOR_CMD_ABSPOINTER_DATA, 1, NULL), VMMOUSE_VERSION_ID);
	bd(BDOOR_CMD_ABSPOINTER_COMMAND, absolute ? VMMOUSE_CMD_REQUEST_ABSOLUTE :
	   VMMOUSE_CMD_REQUEST_RELATIVE, NULL);
}

static void test_queue_bound(void **state)
{
	const char *why = NULL;
	GString *s = g_string_new(NULL);

	enable(true);
	for (int i = 0; i < 300; i++)
		assert_int_equal(vmmouse_host_event(vm->vmmouse, "10 20 1 0", &why), 0);
	/* QEMU's rule: nothing is queued past 1020 words, so at most 1024. */
	assert_int_equal(bd(BDOOR_CMD_ABSPOINTER_STATUS, 0, NULL), 1024);
	vmmouse_status(vm->vmmouse, s);
	assert_non_null(strstr(s->str, "pointer.dropped=44\n"));
	for (int i = 0; i < 256; i++) {
		struct bdoor_regs r;

		bd(BDOOR_CMD_ABSPOINTER_DATA, 4, &r);
		assert_int_equal(r.ax, VMMOUSE_LEFT_BUTTON);
		assert_int_equal(r.bx, 10);
		assert_int_equal(r.cx, 20);
		assert_int_equal(r.dx, 0);
	}
	assert_int_equal(bd(BDOOR_CMD_ABSPOINTER_STATUS, 0, NULL), 0);
	g_string_free(s, TRUE);
}

static void test_host_parsing(void **state)
{
	static const char *const bad[] = {
		"", "1", "1 2", "1 2 3", "1 2 0 0 0", "65536 0 0 0", "0 65536 0 0", "-1 0 0 0",
		"0 0 8 0", "0 0 -1 0", "0 0 0 128", "0 0 0 -128", " 1 2 0 0", "1  2 0 0",
		"1 2 0 0 ", "0x1 2 0 0", "1 2 0 +", "99999999999999999999 0 0 0", "1\t2 0 0",
	};
	const char *why;

	enable(true);
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		why = NULL;
		assert_int_equal(vmmouse_host_event(vm->vmmouse, bad[i], &why), EINVAL);
		assert_non_null(why);
	}
	assert_int_equal(bd(BDOOR_CMD_ABSPOINTER_STATUS, 0, NULL), 0);
	assert_int_equal(vmmouse_host_event(vm->vmmouse, "65535 0 7 -127", &why), 0);
	assert_int_equal(bd(BDOOR_CMD_ABSPOINTER_STATUS, 0, NULL), 4);
	{
		struct bdoor_regs r;

		bd(BDOOR_CMD_ABSPOINTER_DATA, 4, &r);
		assert_int_equal(r.ax, VMMOUSE_LEFT_BUTTON | VMMOUSE_MIDDLE_BUTTON |
				 VMMOUSE_RIGHT_BUTTON);
		assert_int_equal(r.bx, 65535);
		assert_int_equal((int32_t)r.dx, -127);
	}
}

static void test_relative_and_errors(void **state)
{
	struct bdoor_regs r;
	const char *why;

	enable(false);
	vmmouse_host_event(vm->vmmouse, "1000 1000 0 0", &why);
	vmmouse_host_event(vm->vmmouse, "990 1010 0 0", &why);
	bd(BDOOR_CMD_ABSPOINTER_DATA, 4, NULL);
	bd(BDOOR_CMD_ABSPOINTER_DATA, 4, &r);
	assert_int_equal(r.ax, VMMOUSE_RELATIVE_PACKET);
	assert_int_equal((int32_t)r.bx, -10);
	assert_int_equal((int32_t)r.cx, 10);
	/* More than queued: error state, EAX untouched, events dropped until re-enabled. */
	assert_int_equal(bd(BDOOR_CMD_ABSPOINTER_DATA, 1, NULL), BDOOR_MAGIC);
	assert_int_equal(bd(BDOOR_CMD_ABSPOINTER_STATUS, 0, NULL), VMMOUSE_ERROR);
	vmmouse_host_event(vm->vmmouse, "1 1 0 0", &why);
	assert_int_equal(bd(BDOOR_CMD_ABSPOINTER_STATUS, 0, NULL), VMMOUSE_ERROR);
	/* Six words is the most one call can carry. */
	enable(true);
	vmmouse_host_event(vm->vmmouse, "1 1 0 0", &why);
	vmmouse_host_event(vm->vmmouse, "2 2 0 0", &why);
	bd(BDOOR_CMD_ABSPOINTER_DATA, 6, &r);
	assert_int_equal(r.si, 0);
	assert_int_equal(r.di, 2);
	assert_int_equal(bd(BDOOR_CMD_ABSPOINTER_STATUS, 0, NULL), 2);
	bd(BDOOR_CMD_ABSPOINTER_DATA, 7, NULL);
	assert_int_equal(bd(BDOOR_CMD_ABSPOINTER_STATUS, 0, NULL), VMMOUSE_ERROR | 2);
	/* READ_ID leaves the stale words ahead of the id: drivers skip to it. */
	bd(BDOOR_CMD_ABSPOINTER_COMMAND, VMMOUSE_CMD_READ_ID, NULL);
	assert_int_equal(bd(BDOOR_CMD_ABSPOINTER_STATUS, 0, NULL), 3);
	bd(BDOOR_CMD_ABSPOINTER_DATA, 3, &r);
	assert_int_equal(r.cx, VMMOUSE_VERSION_ID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_queue_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_parsing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relative_and_errors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
