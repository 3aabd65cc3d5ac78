/* SPDX-License-Identifier: MIT */
/*
 * The guest's driver for the hypervisor's absolute pointer (VMware's
 * vmmouse on the backdoor, backdoor/input.h): enabling it, draining its
 * queue, decoding its packets.  Shared by porthole-agent (XTest, in an X
 * session) and porthole-guestd (uinput, where there is no X session).
 *
 * One driver at a time: the device has a single queue, so two drainers
 * would each see half of the packets.  Whoever maps PH_DESKTOP_RES_INPUT
 * (an exclusive VMCI datagram map) gets the wakeups and owns the pointer;
 * guestd gives it up to an agent that connects to its claim socket
 * (VMMOUSE_CLAIM_SOCKET, below) and takes it back when that connection
 * closes.
 */
#ifndef PORTHOLE_VMMOUSE_GUEST_H
#define PORTHOLE_VMMOUSE_GUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "backdoor/input.h"

/* One decoded packet. */
struct vmmouse_packet {
	bool relative;		/* x, y are deltas (the driver asked for relative mode) */
	int32_t x, y;		/* absolute: 0..VMMOUSE_ABS_MAX (clamped) */
	unsigned int buttons;	/* VMMOUSE_{LEFT,MIDDLE,RIGHT}_BUTTON held */
	int wheel;		/* clicks, -128..127; positive: towards the user ("down") */
};

/* The 4 words of a packet (buttons, x, y, z) as a driver reads them. */
void vmmouse_decode(const uint32_t w[VMMOUSE_PACKET_WORDS], struct vmmouse_packet *p);

/* The driver's start-up: READ_ID, find the version id, REQUEST_ABSOLUTE. */
bool vmmouse_enable(void);
/* Stop the host queueing events (the device reads as disabled after). */
void vmmouse_disable(void);
/* Ask for absolute packets again (someone switched the mode). */
void vmmouse_request_absolute(void);

typedef void (*vmmouse_packet_fn)(const struct vmmouse_packet *p, void *opaque);

enum vmmouse_drain_result {
	VMMOUSE_DRAINED,	/* the queue is empty */
	VMMOUSE_DRAIN_MORE,	/* stopped at max_reads: call again soon (no new wakeup comes) */
	VMMOUSE_DRAIN_OFF,	/* the device is in its error state and re-enabling failed */
};

/*
 * Read every queued packet (at most max_reads DATA calls) and hand each to
 * fn.  A stray word ahead of the packets (a version id) is dropped; the
 * error state (another process broke the protocol) gets one re-enable.
 * *packets (may be NULL) is how many packets fn got.
 */
enum vmmouse_drain_result vmmouse_drain(unsigned int max_reads, vmmouse_packet_fn fn,
					void *opaque, unsigned int *packets);

/*
 * Claiming the pointer from porthole-guestd: an abstract Unix socket in the
 * guest (per network namespace, so per VM in the trap engine).  A claimer
 * connects and waits for one byte: guestd has stopped draining and
 * unmapped PH_DESKTOP_RES_INPUT.  The claim lasts while the connection is
 * open.  No guestd listening: the pointer was not taken, nothing to wait
 * for.
 */
#define VMMOUSE_CLAIM_SOCKET	"porthole-pointer-claim"	/* abstract: leading NUL */
#define VMMOUSE_CLAIM_WAIT_MS	1000

/*
 * Claim the pointer: the connection's fd (keep it open while you drive the
 * pointer), or -ECONNREFUSED/-ENOENT when nobody holds it, or -errno
 * (-ETIMEDOUT: guestd did not answer in timeout_ms).
 */
int vmmouse_claim(int timeout_ms);

#endif
