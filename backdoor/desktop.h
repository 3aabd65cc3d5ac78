/* SPDX-License-Identifier: MIT */
/*
 * Desktop integration endpoints: which VMCI resource carries what between
 * the guest agent (porthole-agent) and the host desktop services
 * (porthole-viewer).  The host side binds {VMCI_HOST_CONTEXT_ID, id}, the
 * guest side maps {guest cid, id}; both use the same number.  The message
 * formats of each channel live in their own header (video.h, clipboard.h,
 * input.h), next to this one.
 */
#ifndef PORTHOLE_BACKDOOR_DESKTOP_H
#define PORTHOLE_BACKDOOR_DESKTOP_H

#include "backdoor/vmci.h"

enum ph_desktop_resource {
	PH_DESKTOP_RES_VIDEO = 2048,	/* framebuffer registration, dirty rectangles */
	PH_DESKTOP_RES_INPUT = 2049,	/* keyboard events host -> guest */
	PH_DESKTOP_RES_CLIPBOARD = 2050,	/* clipboard offers, requests, data */
};

/* The TCLO application name of the per-session agent (VMware's vmusr uses it). */
#define PH_AGENT_TCLO_APP	"toolbox-dnd"

#endif
