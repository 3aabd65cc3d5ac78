/* SPDX-License-Identifier: MIT */
/*
 * VMware's absolute pointer (vmmouse) behind backdoor commands 39-41, fed
 * by host services through PH_CTL_POINTER.  Protocol: backdoor/input.h.
 * Everything here runs with vm->lock held.
 */
#ifndef PORTHOLE_HV_VMMOUSE_H
#define PORTHOLE_HV_VMMOUSE_H

#include <glib.h>
#include <stdint.h>

#include "backdoor/proto.h"

struct vm;
struct vmmouse;

struct vmmouse *vmmouse_new(struct vm *vm);
void vmmouse_free(struct vmmouse *m);

/* ABSPOINTER_DATA / _STATUS / _COMMAND (`cmd`): the new EAX; `b` updated. */
uint32_t vmmouse_backdoor(struct vmmouse *m, uint32_t cmd, struct bdoor_regs *b);

/*
 * A host pointer event, PH_CTL_POINTER's text "X Y BUTTONS WHEEL"
 * (backdoor/input.h).  0 (queued, or dropped because the guest has no
 * pointer driver or its queue is full: counted in the status), or EINVAL
 * with *why set.
 */
int vmmouse_host_event(struct vmmouse *m, const char *text, const char **why);

/*
 * Backdoor GETPTRLOCATION (4), VMware's semantics: EAX = x << 16 | y, the
 * host pointer in guest pixels (a `width` x `height` screen), or both
 * BDOOR_PTR_UNGRABBED (backdoor/proto.h) while the host pointer was never over the
 * guest: then the desktop tools' legacy loop ("grabbed" -> warp the guest
 * pointer there) does nothing, instead of warping to (0,0) or (-1,-1).
 */
uint32_t vmmouse_get_ptr_location(struct vmmouse *m, uint32_t width, uint32_t height);
/* SETPTRLOCATION (5): EBX = x << 16 | y, where the guest's pointer is; noted, nothing warps. */
void vmmouse_set_ptr_location(struct vmmouse *m, uint32_t ebx);

/* "pointer.*" lines for PH_CTL_POINTER_STATUS / PH_CTL_STATUS. */
void vmmouse_status(struct vmmouse *m, GString *out);

#endif
