/* SPDX-License-Identifier: MIT */
/*
 * The namespace database: per-VM key/value namespaces the guest reads and
 * writes with VMware's "namespace-priv-get-values" and
 * "namespace-priv-set-keys" RPCI commands (open-vm-tools'
 * vmware-namespace-cmd), kept with hard limits, readable from the host
 * (PH_CTL_NAMESPACE) and persisted per VM name in a file of the host's
 * state directory.  Everything but namespace_db_open() and
 * namespace_db_flush() runs with vm->lock held.
 */
#ifndef PORTHOLE_HV_NAMESPACE_DB_H
#define PORTHOLE_HV_NAMESPACE_DB_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

#include "backdoor/namespace.h"

struct vm;
struct namespace_db;


/* Hard limits: a request past any is refused whole, and nothing changes. */
#define NSDB_NAMESPACES_MAX	16
#define NSDB_KEYS_MAX		256		/* per namespace */
#define NSDB_NAME_MAX		64		/* namespace name, bytes */
#define NSDB_KEY_MAX		256
#define NSDB_VALUE_MAX		(16u << 10)	/* vmware-namespace-cmd's own file limit */
/* The whole database as stored: every "ns\0key\0value\0" together. */
#define NSDB_BYTES_MAX		(64u << 10)
#define NSDB_OPS_MAX		64		/* set operations in one request */
#define NSDB_GET_KEYS_MAX	64		/* keys asked for in one request */

/*
 * The database of VM `vm_name`, persisted in DIR/<vm_name>.nsdb when
 * `state_dir` is not NULL (loaded from there if the file holds a valid
 * copy).  Opens the file now, before the hypervisor's threads may no longer
 * open files for writing; a failure (or another VM of that name holding
 * the file) is logged once and the database lives in memory only.
 */
struct namespace_db *namespace_db_open(const char *state_dir, const char *vm_name);
void namespace_db_free(struct namespace_db *db);

/*
 * An RPCI message, raw (its fields are NUL-terminated strings): true when
 * it is a namespace command, answered in `reply`.
 */
bool namespace_db_rpci(struct vm *vm, const char *msg, size_t len, GString *reply);

/*
 * PH_CTL_NAMESPACE: "" lists the namespaces ("NAME keys=N bytes=N" lines),
 * "NS" a namespace's keys ("KEY=VALUE" lines), "NS\nKEY" one value; guest
 * text escaped.  0 or ENOENT (no such namespace or key), EINVAL.
 */
int namespace_db_control(struct vm *vm, const char *payload, GString *out);

/*
 * Write the database if it changed since the last write: the bytes are
 * taken under vm->lock, written without it (main thread; at most once a
 * second, from the control loop, and at exit).  The file holds two copies;
 * each write replaces the older, so a crash mid-write leaves the other.
 */
void namespace_db_flush(struct vm *vm);

/* "namespace.*" status lines. */
void namespace_db_status(struct vm *vm, GString *out);

#endif
