/* SPDX-License-Identifier: MIT */
/* The GuestRPC checks shared by the rpc-lb and rpc-hb payloads. */
#ifndef PAYLOAD_RPC_COMMON_H
#define PAYLOAD_RPC_COMMON_H

#include <stdbool.h>
#include <stddef.h>

/* RPCI info-set/info-get/echo/unknown over one channel, bulk echo of `bulk` bytes. */
void rpc_checks(bool hb, size_t bulk);

/*
 * Wait (at most `secs`) until the host sets guestinfo.payload_go to 1 with
 * `porthole-ctl info-set`; true if it did.
 */
bool rpc_wait_for_host(bool hb, unsigned int secs);

#endif
