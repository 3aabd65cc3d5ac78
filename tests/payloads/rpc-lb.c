// SPDX-License-Identifier: MIT
/* Payload: GuestRPC over the low-bandwidth port only, then wait for the host. */
#include "rpc-common.h"
#include "runtime.h"

int payload_main(void)
{
	rpc_checks(false, 4096);
	check(rpc_wait_for_host(false, 30), "lb: the host's info-set guestinfo.payload_go arrived");
	return check_failures() ? 1 : 0;
}
