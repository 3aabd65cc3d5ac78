/* SPDX-License-Identifier: MIT */
/*
 * VMware's namespace database over GuestRPC, as vmware-namespace-cmd uses
 * it: the two RPCI commands, each followed by NUL-terminated fields (see
 * hypervisor/devices/namespace-db.c for their layout and limits).
 */
#ifndef PORTHOLE_BACKDOOR_NAMESPACE_H
#define PORTHOLE_BACKDOOR_NAMESPACE_H

#define NSDB_GET_COMMAND	"namespace-priv-get-values"
#define NSDB_SET_COMMAND	"namespace-priv-set-keys"

#endif
