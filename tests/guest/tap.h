/* SPDX-License-Identifier: MIT */
/*
 * TAP output for the guest test programs: check() prints one "ok N - ..."
 * or "not ok N - ..." line (flushed: a guest that dies mid-run has said
 * what it got to), tap_done() the plan and the exit status.  Header-only,
 * so the static builds need nothing else.
 */
#ifndef PORTHOLE_TESTS_GUEST_TAP_H
#define PORTHOLE_TESTS_GUEST_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

static int tap_n, tap_failures;

static void __attribute__((format(printf, 2, 3), unused)) check(bool cond, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!cond)
		tap_failures++;
}

/* The plan line; main's return value (1 if any check failed). */
static int __attribute__((unused)) tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failures ? 1 : 0;
}

#endif
