/* SPDX-License-Identifier: MIT */
/*
 * Host-side client of the hypervisor control protocol
 * (hypervisor/control-proto.h): find running VMs, talk to them, map their RAM.
 */
#ifndef PORTHOLE_HOST_H
#define PORTHOLE_HOST_H

#include <glib.h>
#include <stdint.h>

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
void ph_reply_clear(struct ph_reply *reply);

/* Guest RAM of a VM, mapped shared into this process. */
struct ph_guest_ram {
	void *base;
	uint64_t size;
	int fd;
};
int ph_map_ram(int ctl_fd, struct ph_guest_ram *ram, GError **error);
void ph_unmap_ram(struct ph_guest_ram *ram);

#endif
