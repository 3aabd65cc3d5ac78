/* SPDX-License-Identifier: MIT */
/*
 * Host-side client of the hypervisor control protocol
 * (hypervisor/control-proto.h): find running VMs, talk to them, map their RAM.
 */
#ifndef PORTHOLE_HOST_H
#define PORTHOLE_HOST_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "hypervisor/control-proto.h"

/* Names of running VMs (sockets that answer), sorted. */
GPtrArray *ph_list_vms(void);

/* Connect to a VM's control socket; -1 with `error` set. */
int ph_connect(const char *name, GError **error);

struct ph_reply {
	int status;		/* 0 or an errno value from the hypervisor */
	GString *data;		/* payload */
	int fd;			/* passed descriptor, or -1 */
};

/*
 * One request/reply.  Returns 0 when a reply arrived (check reply->status),
 * -1 with `error` on transport failure or timeout.  ph_reply_clear() after.
 */
int ph_call(int fd, enum ph_ctl_op op, const char *payload, int timeout_ms,
	    struct ph_reply *reply, GError **error);
/* The same with `plen` bytes of payload (the binary ops, control-proto.h). */
int ph_call_len(int fd, enum ph_ctl_op op, const void *payload, size_t plen, int timeout_ms,
		struct ph_reply *reply, GError **error);
void ph_reply_clear(struct ph_reply *reply);
/*
 * One request on a connection of its own to VM `name` (for worker threads,
 * e.g. a TCLO command that waits for the guest): as ph_call(), -1 with
 * `error` also when the VM can't be reached.
 */
int ph_call_once(const char *name, enum ph_ctl_op op, const char *payload, int timeout_ms,
		 struct ph_reply *reply, GError **error);

/* Guest RAM of a VM, mapped shared into this process. */
struct ph_guest_ram {
	void *base;
	uint64_t size;
	int fd;
};
int ph_map_ram(int ctl_fd, struct ph_guest_ram *ram, GError **error);
void ph_unmap_ram(struct ph_guest_ram *ram);

/*
 * One viewer per VM: take NAME's viewer lock, held until the process ends.
 * The descriptor to keep open, or -1 with `error` set; when another viewer
 * holds it, *holder is its pid (0 if unknown) and the error code is EBUSY.
 */
int ph_viewer_lock(const char *name, pid_t *holder, GError **error);
/* The pid of the viewer holding NAME's lock, or 0 when there is none. */
pid_t ph_viewer_holder(const char *name);

#endif
