/* SPDX-License-Identifier: MIT */
/*
 * GuestRPC message channel, host side: the per-channel state machine behind
 * backdoor command 30 and the high-bandwidth port.  Pure protocol: it reads
 * and writes backdoor registers, and reaches guest memory only through the
 * callbacks it is given.  The hypervisor's backdoor device feeds it; unit
 * tests feed it directly.
 *
 * Every value here comes from a hostile guest: channel ids, cookies, sizes,
 * the order of calls.  Anything out of place gets a failure status (no
 * MESSAGE_STATUS_SUCCESS) and a log line, and leaves the other channels
 * untouched.
 */
#ifndef PORTHOLE_MSGCHAN_HOST_H
#define PORTHOLE_MSGCHAN_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct msgchan_host;

struct msgchan_host_ops {
	/* A whole guest->host message arrived.  Reply with msgchan_host_reply(). */
	void (*received)(void *opaque, int chan, uint32_t proto, const char *msg, size_t len);
	/* The guest asks for a message and none is queued (TCLO polls here). */
	void (*poll)(void *opaque, int chan, uint32_t proto);
	/* The channel was opened / closed (by the guest, or by reclaim/reset). */
	void (*opened)(void *opaque, int chan, uint32_t proto);
	void (*closed)(void *opaque, int chan, uint32_t proto);
	/* One line about a guest protocol error; the host rate-limits it. */
	void (*log)(void *opaque, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
	/* 64 random bits for a new channel's cookies. */
	uint64_t (*random)(void *opaque);
	/* Guest memory for the high-bandwidth port: 0 or -1 (not accessible). */
	int (*mem_read)(void *mem_opaque, uint64_t addr, void *buf, size_t len);
	int (*mem_write)(void *mem_opaque, uint64_t addr, const void *buf, size_t len);
};

/*
 * Owners: each channel belongs to the guest context that opened it (a
 * process in the trap engine).  Per-owner quotas keep one context from
 * taking every channel or the whole byte budget and locking the others
 * out.  Owner 0 is the guest as a whole (a KVM guest: the device model
 * can't tell its processes apart): only the global limits apply to it.
 */
struct msgchan_host_config {
	bool offer_hb;		/* advertise the high-bandwidth port */
	size_t max_message;	/* per message, <= GUESTMSG_MAX_SIZE */
	size_t budget;		/* all buffered bytes of all channels */
	uint64_t owner_idle_ns;	/* a full table reclaims channels idle this long */
	int owner_channels;	/* channels one owner may hold open; 0: no quota */
	size_t owner_budget;	/* bytes buffered in one owner's channels; 0: no quota */
};

struct msgchan_host *msgchan_host_new(const struct msgchan_host_config *cfg,
				      const struct msgchan_host_ops *ops, void *opaque);
void msgchan_host_free(struct msgchan_host *h);

/*
 * Backdoor command 30 on the low-bandwidth port.  `owner` identifies the
 * guest context making the call (a process in the trap engine) so channels
 * of a context that dies can be closed; `now_ns` is a monotonic clock.
 */
void msgchan_host_lb(struct msgchan_host *h, struct bdoor_regs *r, int owner, uint64_t now_ns);

/*
 * `rep outsb` (guest->host) / `rep insb` (host->guest) on the high-bandwidth
 * port.  `count` is the element count the instruction asks for; the caller
 * advances RSI/RDI/RCX afterwards as the CPU would.
 */
void msgchan_host_hb_send(struct msgchan_host *h, struct bdoor_regs *r, uint64_t count,
			  void *mem_opaque, uint64_t now_ns);
void msgchan_host_hb_recv(struct msgchan_host *h, struct bdoor_regs *r, uint64_t count,
			  void *mem_opaque, uint64_t now_ns);

/* Queue the host->guest message of a channel (replaces one not yet fetched). */
int msgchan_host_reply(struct msgchan_host *h, int chan, const void *msg, size_t len);

/* Close every channel `owner` opened (the guest context died). */
void msgchan_host_close_owner(struct msgchan_host *h, int owner);
/* Close every channel: the guest's next call on them fails and it reopens. */
void msgchan_host_reset(struct msgchan_host *h);

bool msgchan_host_is_open(const struct msgchan_host *h, int chan);
/* The guest context that opened `chan` (the `owner` of its OPEN), -1 when closed. */
int msgchan_host_owner(const struct msgchan_host *h, int chan);
int msgchan_host_open_count(const struct msgchan_host *h);
size_t msgchan_host_buffered(const struct msgchan_host *h);

#endif
