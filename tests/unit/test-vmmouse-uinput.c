// SPDX-License-Identifier: MIT
/*
 * The guest's vmmouse packet decoding and its translation to Linux input
 * events (guest-additions/lib/vmmouse-guest.c, vmmouse-uinput.c), written
 * to a pipe instead of /dev/uinput and read back as struct input_event.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/input.h>

#include "guest-additions/lib/vmmouse-guest.h"
#include "guest-additions/lib/vmmouse-uinput.h"

struct fixture {
	int rd, wr;
	struct vmmouse_uinput u;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int fds[2];

	assert_int_equal(pipe2(fds, O_NONBLOCK), 0);
	f->rd = fds[0];
	f->wr = fds[1];
	vmmouse_uinput_init(&f->u, f->wr);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	close(f->rd);
	if (f->wr >= 0)
		close(f->wr);
	free(f);
	return 0;
}

/* Everything written so far; n events. */
static int events(struct fixture *f, struct input_event *ev, int max)
{
	ssize_t n = read(f->rd, ev, (size_t)max * sizeof(*ev));

	if (n < 0 && errno == EAGAIN)
		return 0;
	assert_true(n >= 0);
	assert_int_equal(n % (ssize_t)sizeof(*ev), 0);
	return (int)(n / (ssize_t)sizeof(*ev));
}

static void expect(const struct input_event *ev, unsigned short type, unsigned short code,
		   int value)
{
	assert_int_equal(ev->type, type);
	assert_int_equal(ev->code, code);
	assert_int_equal(ev->value, value);
}

static int feed(struct fixture *f, uint32_t b, uint32_t x, uint32_t y, uint32_t z)
{
	const uint32_t w[VMMOUSE_PACKET_WORDS] = { b, x, y, z };
	struct vmmouse_packet p;

	vmmouse_decode(w, &p);
	return vmmouse_uinput_packet(&f->u, &p);
}

static void test_decode(void **state)
{
	const uint32_t abs_w[4] = { VMMOUSE_LEFT_BUTTON | VMMOUSE_RIGHT_BUTTON | 0x4000, 70000,
				    0xFFFFFFFFu, 0xFFFFFFFEu };
	const uint32_t rel_w[4] = { VMMOUSE_RELATIVE_PACKET | VMMOUSE_MIDDLE_BUTTON,
				    (uint32_t)-5, 7, 0x103 };
	struct vmmouse_packet p;

	vmmouse_decode(abs_w, &p);
	assert_false(p.relative);
	/* Unknown flag bits are not buttons; positions beyond the range are clamped. */
	assert_int_equal(p.buttons, VMMOUSE_LEFT_BUTTON | VMMOUSE_RIGHT_BUTTON);
	assert_int_equal(p.x, VMMOUSE_ABS_MAX);
	assert_int_equal(p.y, VMMOUSE_ABS_MAX);
	assert_int_equal(p.wheel, -2);
	vmmouse_decode(rel_w, &p);
	assert_true(p.relative);
	assert_int_equal(p.buttons, VMMOUSE_MIDDLE_BUTTON);
	assert_int_equal(p.x, -5);
	assert_int_equal(p.y, 7);
	assert_int_equal(p.wheel, 3);	/* z is read as s8, like Linux's driver */
}

static void test_motion_and_syn(void **state)
{
	struct fixture *f = *state;
	struct input_event ev[16];

	assert_int_equal(feed(f, 0, 100, 200, 0), 3);
	assert_int_equal(events(f, ev, 16), 3);
	expect(&ev[0], EV_ABS, ABS_X, 100);
	expect(&ev[1], EV_ABS, ABS_Y, 200);
	expect(&ev[2], EV_SYN, SYN_REPORT, 0);
	/* Only the axis that moved. */
	assert_int_equal(feed(f, 0, 100, 65535, 0), 2);
	assert_int_equal(events(f, ev, 16), 2);
	expect(&ev[0], EV_ABS, ABS_Y, 65535);
	expect(&ev[1], EV_SYN, SYN_REPORT, 0);
	/* Nothing changed: nothing written, not even a SYN. */
	assert_int_equal(feed(f, 0, 100, 65535, 0), 0);
	assert_int_equal(events(f, ev, 16), 0);
	assert_int_equal(f->u.packets, 3);
}

static void test_buttons_edge_triggered(void **state)
{
	struct fixture *f = *state;
	struct input_event ev[16];

	assert_int_equal(feed(f, VMMOUSE_LEFT_BUTTON, 10, 20, 0), 4);
	assert_int_equal(events(f, ev, 16), 4);
	expect(&ev[0], EV_ABS, ABS_X, 10);
	expect(&ev[1], EV_ABS, ABS_Y, 20);
	expect(&ev[2], EV_KEY, BTN_LEFT, 1);
	expect(&ev[3], EV_SYN, SYN_REPORT, 0);
	/* Held: no repeat.  Right joins. */
	assert_int_equal(feed(f, VMMOUSE_LEFT_BUTTON | VMMOUSE_RIGHT_BUTTON, 10, 20, 0), 2);
	assert_int_equal(events(f, ev, 16), 2);
	expect(&ev[0], EV_KEY, BTN_RIGHT, 1);
	/* Left up, middle down, right still held, in one report. */
	assert_int_equal(feed(f, VMMOUSE_MIDDLE_BUTTON | VMMOUSE_RIGHT_BUTTON, 10, 20, 0), 3);
	assert_int_equal(events(f, ev, 16), 3);
	expect(&ev[0], EV_KEY, BTN_LEFT, 0);
	expect(&ev[1], EV_KEY, BTN_MIDDLE, 1);
	expect(&ev[2], EV_SYN, SYN_REPORT, 0);
	/* Giving the pointer away lifts what is held. */
	assert_int_equal(vmmouse_uinput_release(&f->u), 3);
	assert_int_equal(events(f, ev, 16), 3);
	expect(&ev[0], EV_KEY, BTN_RIGHT, 0);
	expect(&ev[1], EV_KEY, BTN_MIDDLE, 0);
	expect(&ev[2], EV_SYN, SYN_REPORT, 0);
	assert_int_equal(vmmouse_uinput_release(&f->u), 0);
}

static void test_wheel_sign(void **state)
{
	struct fixture *f = *state;
	struct input_event ev[16];

	feed(f, 0, 5, 5, 0);
	events(f, ev, 16);
	/* vmmouse z > 0 is towards the user ("down"): Linux REL_WHEEL < 0. */
	assert_int_equal(feed(f, 0, 5, 5, 2), 2);
	assert_int_equal(events(f, ev, 16), 2);
	expect(&ev[0], EV_REL, REL_WHEEL, -2);
	expect(&ev[1], EV_SYN, SYN_REPORT, 0);
	/* z = -1 (0xFF in the low byte): up, REL_WHEEL +1.  Wheel repeats: it's relative. */
	assert_int_equal(feed(f, 0, 5, 5, 0xFFFFFFFFu), 2);
	assert_int_equal(feed(f, 0, 5, 5, 0xFF), 2);
	assert_int_equal(events(f, ev, 16), 4);
	expect(&ev[0], EV_REL, REL_WHEEL, 1);
	expect(&ev[2], EV_REL, REL_WHEEL, 1);
}

static void test_relative_packet_keeps_position(void **state)
{
	struct fixture *f = *state;
	struct input_event ev[16];

	feed(f, 0, 300, 400, 0);
	events(f, ev, 16);
	assert_int_equal(feed(f, VMMOUSE_RELATIVE_PACKET | VMMOUSE_LEFT_BUTTON, 3, 4, 0), 2);
	assert_int_equal(events(f, ev, 16), 2);
	expect(&ev[0], EV_KEY, BTN_LEFT, 1);	/* no motion from deltas */
	assert_int_equal(f->u.relative_packets, 1);
	assert_int_equal(f->u.x, 300);
	assert_int_equal(f->u.y, 400);
}

static void test_write_error_keeps_state(void **state)
{
	struct fixture *f = *state;
	struct input_event ev[16];

	close(f->rd);
	f->rd = open("/dev/null", O_RDONLY | O_NONBLOCK);
	/* Broken pipe (SIGPIPE ignored): the state stays, so the next packet repeats it. */
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(feed(f, VMMOUSE_LEFT_BUTTON, 1, 2, 0), -EPIPE);
	assert_int_equal(f->u.buttons, 0);
	assert_int_equal(f->u.x, -1);
	assert_int_equal(f->u.write_errors, 1);
	(void)ev;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode),
		cmocka_unit_test_setup_teardown(test_motion_and_syn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_buttons_edge_triggered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wheel_sign, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relative_packet_keeps_position, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_write_error_keeps_state, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
