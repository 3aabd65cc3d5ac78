/* SPDX-License-Identifier: MIT */
/*
 * Guest information as VMware's guestInfo protocol carries it: what the
 * guest tools (open-vm-tools' guestInfo plugin, porthole-guestd) say about
 * the guest with "SetGuestInfo  <type> <data>" and "SetGuestDiskInfo <json>"
 * RPCI messages: host name, OS, tools build, uptime, NICs with their IP
 * addresses (an XDR NicInfoV3 record), disks.  Parsed with hard limits,
 * kept per VM, shown in the control protocol's status.
 * Everything here runs with vm->lock held.
 */
#ifndef PORTHOLE_HV_GUESTINFO_H
#define PORTHOLE_HV_GUESTINFO_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backdoor/guestinfo.h"

struct vm;

struct guestinfo_nic {
	char mac[GUESTINFO_STRING_MAX + 1];
	unsigned int n_addrs;
	/* "address/prefix" as inet_ntop writes it */
	char addrs[GUESTINFO_ADDRS_MAX][64];
};

struct guestinfo_nics {
	unsigned int n_nics;
	struct guestinfo_nic nic[GUESTINFO_NICS_MAX];
	unsigned int n_routes;		/* counted, not kept */
	char dns_hostname[GUESTINFO_STRING_MAX + 1];
	char dns_domain[GUESTINFO_STRING_MAX + 1];
};

struct guestinfo_disk {
	char name[GUESTINFO_STRING_MAX + 1];	/* decoded from base64; guest text */
	char fstype[GUESTINFO_STRING_MAX + 1];
	uint64_t size, free;
};

struct guestinfo_disks {
	unsigned int n_disks;
	/* Past GUESTINFO_DISKS_MAX: checked as JSON, then counted, not kept. */
	unsigned int n_dropped;
	struct guestinfo_disk disk[GUESTINFO_DISKS_MAX];
};

/*
 * The XDR GuestNicProto union open-vm-tools sends with INFO_IPADDRESS_V3
 * (lib/guestRpc/nicinfo.x), version 3 only.  0, or -1 with *why set (and
 * *out undefined) when the record breaks the format or a limit above.
 */
int guestinfo_parse_nicinfo(const uint8_t *data, size_t len, struct guestinfo_nics *out,
			    const char **why);

/*
 * The JSON of SetGuestDiskInfo: {"version":"1","disks":[{"name":"<base64>",
 * "free":"<n>","size":"<n>","fstype":"...","devices":[...]},...]}.  0, or -1
 * with *why set.
 */
int guestinfo_parse_disks(const char *json, size_t len, struct guestinfo_disks *out,
			  const char **why);

/*
 * An RPCI message, raw (length-delimited, NUL is legal): true when it is a
 * guest information command, answered in `reply` ("1 " or "0 <reason>").
 * false leaves it to the other commands.
 */
bool guestinfo_rpci(struct vm *vm, const char *msg, size_t len, GString *reply);

/* Status lines "guest.*=" for porthole-ctl status, guest text escaped. */
void guestinfo_status(struct vm *vm, GString *out);

void guestinfo_free(struct vm *vm);

#endif
