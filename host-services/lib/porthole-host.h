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
 * One piece of a PH_CTL_CLIPBOARD_GUEST_TEXT reply ("<serial> <total>
 * <formats>\n<bytes>"): its header, and its bytes appended to `data`
 * (NULL: the header only).  False when it is malformed, says a total over
 * `max_total`, or would take `data` past its total.
 */
bool ph_guest_text_piece(const struct ph_reply *reply, uint64_t max_total, uint64_t *serial,
			 uint64_t *total, uint32_t *formats, GByteArray *data);
/*
 * One request on a connection of its own to VM `name` (for worker threads,
 * e.g. a TCLO command that waits for the guest): as ph_call(), -1 with
 * `error` also when the VM can't be reached.
 */
int ph_call_once(const char *name, enum ph_ctl_op op, const char *payload, int timeout_ms,
		 struct ph_reply *reply, GError **error);

/*
 * A "key=value" reply (PH_CTL_STATUS, clock, clipboard policy) as a table
 * key -> value; a key given on several lines (tools.app=) keeps every
 * value, in order, joined by "\n".  Lines without '=' are skipped.
 */
GHashTable *ph_kv_parse(const char *text);
/* kv's value of `key`, or `dflt`. */
const char *ph_kv_get(GHashTable *kv, const char *key, const char *dflt);

/* What a power operation watches of a VM (porthole-ctl status --raw). */
struct ph_vm_peek {
	char state[32];		/* "running", "stopped", ... */
	guint64 boots;		/* one more after each guest reset */
	guint64 statechange_reports;	/* the tools' power-operation reports so far */
	guint32 statechange_id;	/* the last: 1 halt, 2 reboot */
	bool statechange_ok;
};
/*
 * Reads it, without a word on failure: false when the VM cannot be reached
 * (gone, or between two boots of a reset).
 */
bool ph_peek_vm(const char *name, struct ph_vm_peek *peek);

/*
 * Shutdown (OS_Halt) or reboot (OS_Reboot) through the guest tools, then
 * wait up to timeout_s until the VM stopped, or started again (its boot
 * count grew).  Blocks: for a worker thread or a command line.  *guest_reply
 * is the tools' answer (g_free; NULL when none came).
 */
enum ph_power_result {
	PH_POWER_DONE,		/* stopped / restarted */
	PH_POWER_REFUSED,	/* the tools did not answer "OK", or reported that the
				   command failed (see *guest_reply) */
	PH_POWER_TIMEOUT,	/* accepted, but the VM still runs at the deadline */
	PH_POWER_FAILED,	/* no VM, or the hypervisor refused: `error` says */
};
int ph_power_op(const char *name, bool reboot, int timeout_s, char **guest_reply, GError **error);

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
