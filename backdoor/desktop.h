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

#include <stdint.h>
#include <string.h>

#include "backdoor/proto.h"
#include "backdoor/vmci.h"

enum ph_desktop_resource {
	PH_DESKTOP_RES_VIDEO = 2048,	/* framebuffer registration, dirty rectangles */
	PH_DESKTOP_RES_INPUT = 2049,	/* keyboard events host -> guest */
	PH_DESKTOP_RES_CLIPBOARD = 2050,	/* clipboard offers, requests, data */
	PH_DESKTOP_RES_TCLO_WAKEUP = 2051,	/* hypervisor -> agent: a TCLO command waits */
	PH_DESKTOP_RES_TOOLS_WAKEUP = 2052,	/* hypervisor -> guestd: the same, for "toolbox" */
};

/* The TCLO application name of the per-session agent (VMware's vmusr uses it). */
#define PH_AGENT_TCLO_APP	"toolbox-dnd"

/*
 * TCLO wakeups, a Porthole extension of VMware's polled TCLO.  When the
 * hypervisor queues a command for the agent's application, it also sends a
 * datagram from {VMCI_HYPERVISOR_CONTEXT_ID, PH_DESKTOP_RES_TCLO_WAKEUP} to
 * {guest, PH_DESKTOP_RES_TCLO_WAKEUP}: an agent that mapped the resource
 * polls its channel at once and otherwise only slowly, so an idle session
 * costs nothing.  The main tools (porthole-guestd, application "toolbox")
 * get theirs on PH_DESKTOP_RES_TOOLS_WAKEUP the same way.  Tools that don't map it (VMware's) never see the datagram
 * and poll as always.  The payload says nothing the poll doesn't: a guest
 * treats any datagram on the resource as "poll now".
 */
struct ph_tclo_wakeup {
	uint32_t type;			/* PH_TCLO_WAKEUP */
	uint32_t reserved;		/* 0 */
};

#define PH_TCLO_WAKEUP		1u

/* The wakeup resource of a TCLO application, or 0 when it has none. */
static inline uint32_t ph_tclo_wakeup_resource(const char *app)
{
	if (!app || !strcmp(app, TOOLS_APP_MAIN))
		return PH_DESKTOP_RES_TOOLS_WAKEUP;	/* commands without an app go there */
	return !strcmp(app, PH_AGENT_TCLO_APP) ? PH_DESKTOP_RES_TCLO_WAKEUP : 0;
}

#endif
