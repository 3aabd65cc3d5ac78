/* SPDX-License-Identifier: MIT */
/*
 * Guest information as VMware tools send it over RPCI (open-vm-tools'
 * guestInfo plugin, lib/include/guestInfo.h): "SetGuestInfo  <type> <value>"
 * and "SetGuestDiskInfo <json>".  Used by the hypervisor's parser
 * (hypervisor/devices/guestinfo.c) and by porthole-guestd, which sends the
 * same records; the XDR writer below builds them.
 */
#ifndef PORTHOLE_BACKDOOR_GUESTINFO_H
#define PORTHOLE_BACKDOOR_GUESTINFO_H

#include <glib.h>
#include <stdint.h>

/* GuestInfoType. */
enum guestinfo_type {
	GUESTINFO_DNS_NAME = 1,
	GUESTINFO_IPADDRESS = 2,
	GUESTINFO_DISK_FREE_SPACE = 3,
	GUESTINFO_BUILD_NUMBER = 4,
	GUESTINFO_OS_NAME_FULL = 5,
	GUESTINFO_OS_NAME = 6,
	GUESTINFO_UPTIME = 7,
	GUESTINFO_MEMORY = 8,
	GUESTINFO_IPADDRESS_V2 = 9,
	GUESTINFO_IPADDRESS_V3 = 10,
	GUESTINFO_OS_DETAILED = 11,
};

#define GUESTINFO_COMMAND	"SetGuestInfo"
#define GUESTINFO_DISK_COMMAND	"SetGuestDiskInfo"

/* What the host keeps of a record (one past any of them is refused whole). */
#define GUESTINFO_RECORD_MAX	(64u << 10)	/* bytes of one XDR or JSON record */
#define GUESTINFO_NICS_MAX	16		/* NICINFO_MAX_NICS */
#define GUESTINFO_ADDRS_MAX	32		/* addresses kept per NIC */
#define GUESTINFO_ROUTES_MAX	100		/* NICINFO_MAX_ROUTES */
#define GUESTINFO_DISKS_MAX	64
#define GUESTINFO_STRING_MAX	255		/* names, MACs, DNS strings */
#define GUESTINFO_TEXT_MAX	1024		/* a textual value (OS full name...) */
#define GUESTINFO_JSON_DEPTH	8

/* XDR (RFC 4506), as the NicInfo record is encoded: big-endian words, padded opaques. */
void guestinfo_xdr_u32(GByteArray *b, uint32_t v);
void guestinfo_xdr_bytes(GByteArray *b, const void *data, uint32_t n);

#endif
