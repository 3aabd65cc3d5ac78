/* SPDX-License-Identifier: MIT */
/*
 * GuestRPC endpoint of the hypervisor: RPCI commands from the guest
 * (log, info-set/info-get, tools.set.version, tools.capability.*), the TCLO
 * command queue towards the guest tools, and the guestinfo store.
 * Everything here runs with vm->lock held.
 */
#ifndef PORTHOLE_HV_RPC_H
#define PORTHOLE_HV_RPC_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#include "backdoor/msgchan-host.h"

struct vm;
struct rpc_state;

/* Limits on what a guest can make the host keep. */
#define RPC_GUESTINFO_MAX_KEYS	1024
#define RPC_GUESTINFO_KEY_MAX	255
#define RPC_GUESTINFO_BUDGET	(4u << 20)	/* bytes of all values together */
#define RPC_CAPABILITIES_MAX	256
#define RPC_TCLO_QUEUE_MAX	64
#define RPC_TCLO_TIMEOUT_NS	(10ull * 1000000000ull)
#define RPC_TOOLS_ALIVE_NS	(5ull * 1000000000ull)
/*
 * Tools that mapped their TCLO wakeup resource poll only as a safety net
 * while idle (guestd: GUESTD_WOKEN_POLL_MS): alive this long after a poll.
 */
#define RPC_TOOLS_WOKEN_ALIVE_NS	(30ull * 1000000000ull)

struct rpc_state *rpc_new(struct vm *vm, bool offer_hb);
void rpc_free(struct rpc_state *rpc);
struct msgchan_host *rpc_channels(struct rpc_state *rpc);

/*
 * Queue a TCLO command for the guest tools application `app` ("toolbox" when
 * NULL).  `done` runs once, with vm->lock held, when the guest replies
 * (status 0, its reply text) or the command fails (status -1, a reason).
 */
typedef void (*rpc_tclo_done)(void *opaque, int status, const char *reply, size_t len);
int rpc_tclo_send(struct rpc_state *rpc, const char *app, const char *cmd, size_t len,
		  rpc_tclo_done done, void *opaque);
/* The same, only for the channel of guest context `owner` (-1: any). */
int rpc_tclo_send_to(struct rpc_state *rpc, const char *app, int owner, const char *cmd,
		     size_t len, rpc_tclo_done done, void *opaque);
/* Fail queued or unanswered commands older than RPC_TCLO_TIMEOUT_NS. */
void rpc_expire(struct rpc_state *rpc, uint64_t now_ns);

/* The guestinfo store, also reachable from the host. g_free() the result. */
char *rpc_info_get(struct rpc_state *rpc, const char *key);
/* Every guestinfo key and value, sorted by key: "key\0value\0" pairs. */
void rpc_info_list(struct rpc_state *rpc, GString *out);
int rpc_info_set(struct rpc_state *rpc, const char *key, const char *value, const char **why);

/* Status lines "key=value\n" for porthole-ctl status. */
void rpc_status(struct rpc_state *rpc, uint64_t now_ns, GString *out);
bool rpc_tools_running(struct rpc_state *rpc, uint64_t now_ns);

/* Close every channel (the guest reconnects) / those of a dead guest context. */
void rpc_reset_channels(struct rpc_state *rpc);
void rpc_owner_exited(struct rpc_state *rpc, int owner);

#endif
