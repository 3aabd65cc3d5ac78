/* SPDX-License-Identifier: MIT */
/*
 * GuestRPC message channel, guest side: backdoor command 30 as
 * open-vm-tools' lib/message drives it, plus the RPCI one-shot request.
 *
 * The host is not trusted either: every size it announces is checked
 * against GUESTMSG_MAX_SIZE before anything is allocated, and every reply
 * type is checked before its payload is used.
 *
 * Memory: received messages come from malloc() and belong to the caller
 * (free()).  Nothing here uses stdio or errno; a freestanding build only
 * has to provide malloc, free, memcpy, memmove and memchr.
 *
 * Not thread safe per channel; different channels are independent.
 */
#ifndef PORTHOLE_MSGCHAN_H
#define PORTHOLE_MSGCHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct msgchan {
	uint16_t id;
	uint32_t cookie_hi, cookie_lo;
	bool open;
	bool no_hb;		/* never use the high-bandwidth port */
	const char *err;	/* static text about the last failure, or NULL */
};

/*
 * Open a channel for protocol `proto` (RPCI_PROTOCOL_NUM, TCLO_PROTOCOL_NUM):
 * first with cookies, then, if the host refuses, without.  0 or -1.
 * Resets every field of *c but no_hb.
 */
int msgchan_open(struct msgchan *c, uint32_t proto);

/* Send one message (len <= GUESTMSG_MAX_SIZE; 0 is allowed).  0 or -1. */
int msgchan_send(struct msgchan *c, const void *buf, size_t len);

/*
 * Fetch the host's pending message.  0 with *buf malloc'd and NUL-terminated
 * (*len excludes the NUL); 0 with *buf NULL and *len 0 when there is none;
 * -1 on error (*buf NULL).
 */
int msgchan_recv(struct msgchan *c, char **buf, size_t *len);

/* Close (best effort; the host may already have dropped it).  Idempotent. */
void msgchan_close(struct msgchan *c);

/* false: move payloads 4 bytes per call even when the host offers HB. */
static inline void msgchan_set_hb(struct msgchan *c, bool enable)
{
	c->no_hb = !enable;
}

/*
 * One RPCI request/reply on an open RPCI channel.  Appends a trailing space
 * to a command without one (old hosts expect "cmd ").  Returns 1 when the
 * reply starts with "1 ", 0 when it starts with "0 ", -1 on a transport or
 * protocol error (c->err says which).  On 0/1, *reply (if reply != NULL)
 * gets the malloc'd, NUL-terminated text after the 2-byte prefix and
 * *reply_len (if not NULL) its length; on -1, *reply = NULL.
 */
int rpci_send(struct msgchan *c, const char *cmd, size_t len, char **reply, size_t *reply_len);

/* rpci_send() on a channel of its own: open, send, receive, close. */
int rpci_send_one(const char *cmd, size_t len, char **reply, size_t *reply_len);

#endif
