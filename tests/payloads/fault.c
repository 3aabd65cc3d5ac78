// SPDX-License-Identifier: MIT
/*
 * Payload: a deliberate fault.  A write to 512 GiB, which the boot page
 * tables don't map, is a #PF; with no IDT that becomes a triple fault, and
 * the hypervisor must report it and end the VM with a failure status.
 */
#include "runtime.h"

int payload_main(void)
{
	print("fault: writing to an unmapped address\n");
	*(volatile uint64_t *)0x8000000000ull = 1;
	print("fault: still alive?\n");
	return 0;
}
