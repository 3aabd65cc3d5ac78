// SPDX-License-Identifier: MIT
/*
 * Payload: the host clock through GETTIMEFULL and GETTIME.  Prints the
 * seconds so the test can compare them with the host's clock.
 */
#include "backdoor/backdoor.h"
#include "runtime.h"

int payload_main(void)
{
	struct bdoor_regs r;
	uint64_t secs, secs2;
	uint32_t usecs;

	bdoor_lb_cmd(&r, BDOOR_CMD_GETTIMEFULL, 0);
	bdoor_lb(&r);
	secs = (uint64_t)(uint32_t)r.si << 32 | (uint32_t)r.dx;
	usecs = (uint32_t)r.bx;
	check((uint32_t)r.ax == BDOOR_MAGIC, "GETTIMEFULL succeeds (EAX keeps the magic)");
	check(secs > 1600000000u && usecs < 1000000u, "GETTIMEFULL %u.%06u", (unsigned int)secs,
	      usecs);
	check((uint32_t)r.cx > 0, "GETTIMEFULL reports a maximum lag of %u us", (uint32_t)r.cx);

	bdoor_lb_cmd(&r, BDOOR_CMD_GETTIME, 0);
	bdoor_lb(&r);
	secs2 = (uint32_t)r.ax;
	check(secs2 >= (uint32_t)secs && secs2 - (uint32_t)secs < 5 && (uint32_t)r.bx < 1000000u,
	      "GETTIME %u.%06u agrees", (uint32_t)secs2, (uint32_t)r.bx);

	bdoor_lb_cmd(&r, BDOOR_CMD_GETTIMEFULL_WITH_LAG, 0);
	r.di = 77;
	bdoor_lb(&r);
	check((uint32_t)r.ax == BDOOR_MAGIC && r.di == 0, "GETTIMEFULL_WITH_LAG: no lag");

	print("gettimefull: host-seconds=%u\n", (unsigned int)secs);
	return check_failures() ? 1 : 0;
}
