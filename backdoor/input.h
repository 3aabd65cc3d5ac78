/* SPDX-License-Identifier: MIT */
/*
 * Input from the host to the guest session.
 *
 * Pointer: VMware's absolute pointer ("vmmouse") on the backdoor, commands
 * ABSPOINTER_DATA (39), _STATUS (40) and _COMMAND (41) (proto.h), as QEMU's
 * hw/input/vmmouse.c and Linux's drivers/input/mouse/vmmouse.c use them
 * (see ../shared/notes/backdoor-guestrpc-vmmouse.md section 8):
 *
 *   COMMAND, EBX = VMMOUSE_CMD_READ_ID: enable; queues VMMOUSE_VERSION_ID
 *   COMMAND, EBX = VMMOUSE_CMD_REQUEST_ABSOLUTE / _RELATIVE: the mode
 *   COMMAND, EBX = VMMOUSE_CMD_DISABLE: status becomes VMMOUSE_ERROR
 *   STATUS:  EAX = (status << 16) | number of queued 32-bit words;
 *            status 0xFFFF (EAX & 0xFFFF0000 == VMMOUSE_ERROR): disabled
 *            or the driver misbehaved
 *   DATA, EBX = n (1..6, <= queued): the next n words in EAX, EBX, ECX,
 *            EDX, ESI, EDI; anything else sets the error status.
 *
 * A pointer event is 4 words: buttons, x, y, z.  Absolute x and y span
 * 0..VMMOUSE_ABS_MAX over the guest screen; z is the signed wheel delta
 * (positive: towards the user, "scroll down"; Linux reads it as s8).
 *
 * The trap engine has no interrupt to tell the guest that data is queued:
 * the hypervisor sends a VMCI datagram {0, PH_DESKTOP_RES_INPUT} ->
 * {guest, PH_DESKTOP_RES_INPUT} (struct ph_input_msg, type
 * PH_INPUT_POINTER_WAKE) when the queue goes from empty to not empty.
 *
 * Keyboard: the viewer sends struct ph_input_msg datagrams from
 * {host, PH_DESKTOP_RES_INPUT} to {guest, PH_DESKTOP_RES_INPUT}.  Keys
 * travel as X keysyms (what the host's layout produced), never as host
 * keycodes: the agent finds the guest keycode for the guest's own layout.
 */
#ifndef PORTHOLE_BACKDOOR_INPUT_H
#define PORTHOLE_BACKDOOR_INPUT_H

#include <stdint.h>

/* ---- vmmouse ---- */
#define VMMOUSE_CMD_READ_ID		0x45414552u
#define VMMOUSE_CMD_DISABLE		0x000000F5u
#define VMMOUSE_CMD_REQUEST_RELATIVE	0x4C455252u
#define VMMOUSE_CMD_REQUEST_ABSOLUTE	0x53424152u
#define VMMOUSE_VERSION_ID		0x3442554Au
#define VMMOUSE_ERROR			0xFFFF0000u
#define VMMOUSE_STATUS_ERROR		0xFFFFu

/* First word of a packet. */
#define VMMOUSE_LEFT_BUTTON		0x20u
#define VMMOUSE_RIGHT_BUTTON		0x10u
#define VMMOUSE_MIDDLE_BUTTON		0x08u
#define VMMOUSE_RELATIVE_PACKET		0x00010000u

#define VMMOUSE_PACKET_WORDS		4
#define VMMOUSE_DATA_MAX_WORDS		6	/* one DATA call: EAX..EDI */
#define VMMOUSE_ABS_MAX			0xFFFFu
/* QEMU's queue: 1024 words, events dropped past 1020. */
#define VMMOUSE_QUEUE_WORDS		1024

/*
 * PH_CTL_POINTER payload (hypervisor/control-proto.h): "X Y BUTTONS WHEEL",
 * decimal.  X, Y: absolute position, 0..VMMOUSE_ABS_MAX across the guest
 * screen (0 = left/top pixel, 65535 = right/bottom pixel).  BUTTONS: the
 * PH_POINTER_* bits held now.  WHEEL: signed wheel clicks since the last
 * event, -127..127, negative = away from the user (X button 4, "up").
 */
#define PH_POINTER_LEFT		0x1u
#define PH_POINTER_MIDDLE	0x2u
#define PH_POINTER_RIGHT	0x4u
#define PH_POINTER_BUTTONS	0x7u
#define PH_POINTER_WHEEL_MAX	127

/* ---- datagrams on PH_DESKTOP_RES_INPUT ---- */
enum ph_input_type {
	PH_INPUT_KEY = 1,		/* host: keysym, key_id, flags */
	PH_INPUT_RELEASE_ALL = 2,	/* host: focus lost / detaching: release every key */
	PH_INPUT_KEYS_HELD = 3,		/* host: keys or buttons still held (every second) */
	PH_INPUT_POINTER_WAKE = 4,	/* hypervisor: the vmmouse queue has data */
};

#define PH_INPUT_KEY_DOWN	0x1u	/* flags: pressed (else released) */

/*
 * The guest releases every key it pressed when no message came for this
 * long while keys are held: a viewer that died can't leave keys stuck.
 */
#define PH_INPUT_HELD_TIMEOUT_MS	3000
#define PH_INPUT_HELD_INTERVAL_MS	1000

struct ph_input_msg {
	uint32_t type;			/* enum ph_input_type */
	uint32_t keysym;		/* X keysym (PH_INPUT_KEY) */
	uint32_t key_id;		/* which physical host key, 0..255: matches press and release */
	uint32_t flags;			/* PH_INPUT_KEY_* */
};
_Static_assert(sizeof(struct ph_input_msg) == 16, "ph_input_msg is 16 bytes");

#define PH_INPUT_KEY_IDS	256

#endif
