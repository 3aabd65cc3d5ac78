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
#include <stdint.h>

#include "backdoor/proto.h"

struct vm;
struct vcpu;
struct copypaste_state;

/* One backdoor call with cmd 6..9: the new EAX. */
uint32_t copypaste_backdoor(struct vm *vm, struct vcpu *vcpu, struct bdoor_regs *b);

/*
 * Control ops PH_CTL_CLIPBOARD_* (control-proto.h): a positive errno or 0;
 * the reply text goes to `out`.
 */
int copypaste_control(struct vm *vm, unsigned int op, const char *payload, GString *out);

void copypaste_free(struct copypaste_state *cp);

#endif
