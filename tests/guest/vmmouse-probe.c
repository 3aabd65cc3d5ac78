// SPDX-License-Identifier: MIT
/*
 * The absolute pointer (vmmouse) from a raw guest program, the way a driver
 * and a hostile guest use it.  Prints TAP lines; in the middle it prints
 * "# waiting for 2 events" and waits (up to 20 s) for the host to queue two
 * pointer events (the e2e test sends them with porthole-ctl pointer).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "backdoor/backdoor.h"
#include "backdoor/input.h"

static int failures, n;

static void check(int cond, const char *what, unsigned long long got)
{
	n++;
	if (!cond)
		failures++;
	printf("%sok %d - %s (0x%llx)\n", cond ? "" : "not ", n, what, got);
}

static struct bdoor_regs call(uint32_t cmd, uint32_t bx)
{
	struct bdoor_regs r;

	bdoor_lb_cmd(&r, cmd, 0);
	r.bx = bx;
	bdoor_lb(&r);
	return r;
}

static uint32_t status(void)
{
	return (uint32_t)call(BDOOR_CMD_ABSPOINTER_STATUS, 0).ax;
}

int main(void)
{
	struct bdoor_regs r;
	uint32_t st;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!bdoor_detect(NULL)) {
		printf("not ok 1 - no backdoor\n1..1\n");
		return 1;
	}
	r = call(BDOOR_CMD_ISMOUSEABSOLUTE, 0);
	check(r.ax == 1, "ISMOUSEABSOLUTE says an absolute pointer is there", r.ax);
	st = status();
	check((st & 0xFFFF0000u) == VMMOUSE_ERROR, "status before enabling is the error state", st);
	r = call(BDOOR_CMD_ABSPOINTER_DATA, 1);
	check(r.ax == BDOOR_MAGIC, "DATA with an empty queue changes nothing (EAX keeps the magic)",
	      r.ax);
	r = call(BDOOR_CMD_ABSPOINTER_COMMAND, 0x12345678);
	check(r.ax == BDOOR_MAGIC, "an unknown vmmouse command is ignored", r.ax);
	r = call(0xFFFF, 0);
	check(r.ax == BDOOR_UNSUPPORTED, "a bogus backdoor command number is unsupported", r.ax);

	call(BDOOR_CMD_ABSPOINTER_COMMAND, VMMOUSE_CMD_READ_ID);
	st = status();
	check(st == 1, "after READ_ID: status 0, one word queued", st);
	r = call(BDOOR_CMD_ABSPOINTER_DATA, 1);
	check((uint32_t)r.ax == VMMOUSE_VERSION_ID, "the word is the version id 0x3442554a", r.ax);
	check(status() == 0, "queue empty again", status());
	call(BDOOR_CMD_ABSPOINTER_COMMAND, VMMOUSE_CMD_REQUEST_ABSOLUTE);

	printf("# waiting for 2 events\n");
	for (int i = 0; i < 2000 && (status() & 0xFFFFu) < 8; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	st = status();
	check(st == 8, "two 4-word packets queued", st);
	r = call(BDOOR_CMD_ABSPOINTER_DATA, 4);
	check(r.ax == VMMOUSE_LEFT_BUTTON && r.bx == 100 && r.cx == 200 &&
	      (uint32_t)r.dx == 0xFFFFFFFFu, "packet 1: left button, 100,200, wheel -1",
	      (unsigned long long)r.ax << 32 | (uint32_t)r.dx);
	r = call(BDOOR_CMD_ABSPOINTER_DATA, 4);
	check(r.ax == (VMMOUSE_RIGHT_BUTTON | VMMOUSE_MIDDLE_BUTTON) && r.bx == 65535 && r.cx == 0 &&
	      r.dx == 2, "packet 2: middle+right, 65535,0, wheel +2", r.ax);
	check(status() == 0, "queue drained", status());

	r = call(BDOOR_CMD_ABSPOINTER_DATA, 7);
	st = status();
	check((st & 0xFFFF0000u) == VMMOUSE_ERROR, "asking for 7 words: error state", st);
	call(BDOOR_CMD_ABSPOINTER_COMMAND, VMMOUSE_CMD_READ_ID);
	call(BDOOR_CMD_ABSPOINTER_DATA, 1);
	check(status() == 0, "READ_ID recovers from the error state", status());
	r = call(BDOOR_CMD_ABSPOINTER_DATA, 0);
	check((status() & 0xFFFF0000u) == VMMOUSE_ERROR, "asking for 0 words: error state",
	      status());
	call(BDOOR_CMD_ABSPOINTER_COMMAND, VMMOUSE_CMD_READ_ID);
	call(BDOOR_CMD_ABSPOINTER_DATA, 1);
	call(BDOOR_CMD_ABSPOINTER_COMMAND, VMMOUSE_CMD_DISABLE);
	st = status();
	check((st & 0xFFFF0000u) == VMMOUSE_ERROR, "DISABLE: error state", st);
	/* Hammer: a burst of hostile calls must leave the hypervisor answering. */
	for (uint32_t i = 0; i < 2000; i++)
		call(BDOOR_CMD_ABSPOINTER_DATA + i % 3, i * 2654435761u);
	r = call(BDOOR_CMD_GETVERSION, ~BDOOR_MAGIC);
	check(r.bx == BDOOR_MAGIC, "the backdoor still answers after 2000 random vmmouse calls",
	      r.bx);
	printf("1..%d\n", n);
	return failures ? 1 : 0;
}
