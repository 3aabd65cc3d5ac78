/* SPDX-License-Identifier: MIT */
/*
 * The guest's end of the backdoor: the x86-64 instruction sequences that
 * reach the hypervisor (call.c), CPUID identification, and a detection
 * routine that survives running outside a VM (detect.c).
 *
 * Calling convention (see proto.h for the register roles):
 *  - low bandwidth:  bdoor_lb() executes `inl %dx,%eax` on BDOOR_PORT_LB
 *    with every register of struct bdoor_regs loaded, and stores every
 *    register back.  The caller sets ax (BDOOR_MAGIC), cx (command) and the
 *    channel id in the high half of dx; bdoor_lb() fills in the port.
 *  - high bandwidth: bdoor_hb_out()/bdoor_hb_in() execute `cld; rep outsb`
 *    / `cld; rep insb` on BDOOR_PORT_HB with si/di the guest buffer, cx the
 *    byte count and bp the extra argument.
 *
 * call.c uses neither malloc nor stdio, so it can be built freestanding.
 * This is x86-64 only.
 */
#ifndef PORTHOLE_BACKDOOR_H
#define PORTHOLE_BACKDOOR_H

#include <stdbool.h>
#include <stdint.h>

#include "proto.h"

#if !defined(__x86_64__)
#error "the Porthole backdoor is x86-64 only"
#endif

void bdoor_lb(struct bdoor_regs *r);
void bdoor_hb_out(struct bdoor_regs *r);
void bdoor_hb_in(struct bdoor_regs *r);

/*
 * Start a low-bandwidth call: every register zeroed but the magic and
 * ECX = (sub << 16) | cmd.  Set the other arguments afterwards.
 */
static inline void bdoor_lb_cmd(struct bdoor_regs *r, uint32_t cmd, uint32_t sub)
{
	*r = (struct bdoor_regs) {
		.ax = BDOOR_MAGIC,
		.cx = BDOOR_ECX(cmd, sub),
	};
}

/* Start a high-bandwidth call: EBX = (status << 16) | hb command. */
static inline void bdoor_hb_cmd(struct bdoor_regs *r, uint32_t hbcmd, uint32_t status)
{
	*r = (struct bdoor_regs) {
		.ax = BDOOR_MAGIC,
		.bx = (hbcmd & 0xFFFFu) | (status << 16),
	};
}

/* Halves of a 32-bit register value. */
static inline uint32_t bdoor_hi16(uint64_t v)
{
	return ((uint32_t)v >> 16) & 0xFFFFu;
}

static inline uint32_t bdoor_lo32(uint64_t v)
{
	return (uint32_t)v;
}

/*
 * Where backdoor calls go.  By default (no transport set) the real
 * instructions run.  Unit tests install a transport to run the guest
 * protocol code against a host in the same process; the callbacks get the
 * registers exactly as the instruction would see them (port already in dx)
 * and update them as the hypervisor would.  For the high-bandwidth calls
 * si/di hold pointers into the caller's address space.
 *
 * bdoor_set_transport() copies *t; NULL restores the real instructions.
 * Not thread safe: set it before any call is in flight.
 */
struct bdoor_transport {
	void (*lb)(struct bdoor_regs *r, void *opaque);
	void (*hb_out)(struct bdoor_regs *r, void *opaque);
	void (*hb_in)(struct bdoor_regs *r, void *opaque);
	void *opaque;
};

void bdoor_set_transport(const struct bdoor_transport *t);

/* ---- identification ---- */

struct bdoor_info {
	bool hv_bit;		/* CPUID.1:ECX[31], "a hypervisor is present" */
	uint32_t hv_max_leaf;	/* CPUID 0x40000000 EAX (0 without hv_bit) */
	char vendor[13];	/* CPUID 0x40000000 EBX:ECX:EDX, NUL-terminated */
	uint32_t version;	/* GETVERSION EAX (BDOOR_VERSION on VMware) */
	uint32_t vmx_type;	/* GETVERSION ECX, enum bdoor_vmx_type */
};

void bdoor_cpuid(uint32_t leaf, uint32_t sub, uint32_t out[4]);

/* Fill hv_bit, hv_max_leaf and vendor from CPUID.  Never faults. */
void bdoor_identify(struct bdoor_info *info);

/*
 * GETVERSION without any protection: faults (SIGSEGV in a Linux process)
 * when no hypervisor answers the port.  For contexts where that cannot
 * happen or does not matter; everyone else uses bdoor_detect().
 * Returns true iff EBX came back as BDOOR_MAGIC and EAX != BDOOR_UNSUPPORTED,
 * and then fills version and vmx_type.
 */
bool bdoor_getversion(struct bdoor_info *info);

/*
 * Is a backdoor there?  CPUID identification, then GETVERSION guarded by
 * temporary SIGSEGV/SIGILL/SIGBUS handlers (the previous handlers and the
 * signal mask are restored).  Like open-vm-tools, GETVERSION is tried
 * whether or not CPUID reports a hypervisor.  Thread safe; async-signal
 * unsafe.  `info` may be NULL.  (detect.c: needs a hosted libc.)
 */
bool bdoor_detect(struct bdoor_info *info);

#endif
