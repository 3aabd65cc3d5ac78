/* SPDX-License-Identifier: MIT */
/*
 * Clipboard policy of one VM and VMware's legacy backdoor copy/paste
 * (commands 6-9: GETSELLENGTH, GETNEXTPIECE, SETSELLENGTH, SETNEXTPIECE;
 * text only, four bytes per call).  Everything runs with vm->lock held;
 * the state is created on first use and freed by vm_destroy().
 *
 * The policy (sharing on/off per direction, max size) is enforced here for
 * the legacy commands, and read by the host clipboard bridge before each
 * VMCI transfer (PH_CTL_CLIPBOARD_POLICY_GET).
 */
#ifndef PORTHOLE_HV_COPYPASTE_H
#define PORTHOLE_HV_COPYPASTE_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "backdoor/proto.h"

struct vm;
struct vcpu;
struct copypaste_state;

/* One backdoor call with cmd 6..9: the new EAX. */
uint32_t copypaste_backdoor(struct vm *vm, struct vcpu *vcpu, struct bdoor_regs *b);

/*
 * Control ops PH_CTL_CLIPBOARD_* (control-proto.h): a positive errno or 0;
 * the reply text goes to `out`.  `payload` is NUL-terminated, `len` bytes
 * (binary for PH_CTL_CLIPBOARD_HOST_TEXT).
 */
int copypaste_control(struct vm *vm, unsigned int op, const char *payload, size_t len,
		      GString *out);

void copypaste_free(struct copypaste_state *cp);

/*
 * VMware copy/paste version 4 with the desktop tools (vmusr; backdoor/dndcp.h).
 * copypaste_rpci: an RPCI message this file answers ("copypaste.transport",
 * "dnd.transport", "vmx.capability.copypaste_version"): the reply appended,
 * true.  `owner` is the guest context that sent it.
 */
bool copypaste_rpci(struct vm *vm, int owner, const char *msg, size_t len, GString *reply);
/* "tools.capability.copypaste_version N" from guest context `owner`. */
void copypaste_guest_version(struct vm *vm, int owner, const char *version);
/* Desktop tools of guest context `owner` registered on "toolbox-dnd": offer copy/paste. */
void copypaste_desktop_attached(struct vm *vm, int owner);
/* The guest context of the tools that speak version 4, -1 when none. */
int copypaste_v4_owner(struct vm *vm);
void copypaste_owner_exited(struct vm *vm, int owner);
/* Status lines "clipboard.v4.*=...\n". */
void copypaste_status(struct vm *vm, GString *out);

#endif
