/* SPDX-License-Identifier: MIT */
/*
 * The VMCI-style device: datagrams, doorbells and queue pairs between guest
 * contexts and host services.  Wire formats: backdoor/vmci.h and
 * backdoor/ring.h; control-socket operations: control-proto.h.
 *
 * Every entry point runs with vm->lock held unless it says otherwise.
 */
#ifndef PORTHOLE_HV_VMCI_H
#define PORTHOLE_HV_VMCI_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

struct vm;
struct vmci_state;

/* Registers the port block; in the trap engine also the guest socket. */
int vmci_init(struct vm *vm);
void vmci_free(struct vmci_state *st);

/* A guest context is gone: its queue pairs detach, its pages are freed. */
void vmci_owner_exited(struct vmci_state *st, int owner);

/* Host path of the socket the trap engine shows as VMCI_GUEST_SOCKET, or NULL. */
const char *vmci_guest_socket_path(struct vmci_state *st);

/* "vmci.*" lines for PH_CTL_STATUS. */
void vmci_status(struct vmci_state *st, GString *out);

/*
 * A PH_CTL_VMCI_* request from control client `client` (whose socket is
 * `client_fd`, dup'ed when the device needs to send it events later).
 * Returns the reply status (0 or a positive errno); the reply payload goes
 * to `reply`.
 */
int vmci_control(struct vmci_state *st, unsigned int client, int client_fd, unsigned int op,
		 const void *payload, size_t len, GByteArray *reply);
/* A control client disconnected: unbind its resources, detach its queue pairs. */
void vmci_client_gone(struct vmci_state *st, unsigned int client);

/*
 * A datagram from the hypervisor {0, resource} to the guest context that
 * mapped {guest, resource} (the desktop input wakeup).  A VMCI result.
 */
int vmci_hv_send(struct vmci_state *st, uint32_t resource, const void *payload, size_t len);
/* Whether a guest context mapped {guest, resource} (st may be NULL: false). */
bool vmci_hv_mapped(struct vmci_state *st, uint32_t resource);

/* ---- exposed for unit tests ---- */

/* Pages of guest-physical space that are device ranges, never RAM (PPN units). */
#define VMCI_DEVICE_PPN_FIRST	0xA0u	/* 0xA0000: VGA window, option ROMs, BIOS */
#define VMCI_DEVICE_PPN_END	0x100u	/* up to 1 MiB */

/* What a page is to the allocator. */
#define VMCI_PAGE_FREE		(-1)
#define VMCI_PAGE_RESERVED	(-2)

/*
 * A guest names pages by guest-physical page number (PPN); the device keeps
 * and host services map pages of the RAM memfd ("RAM pages").  The two
 * differ where the engine puts RAM at another address than its file offset
 * (KVM: above the 32-bit PCI hole).
 */
struct vmci_ppn_rules {
	uint64_t ram_pages;	/* pages in the RAM memfd */
	/* The guest-physical layout (vm->ram_map); NULL: PPN n is RAM page n. */
	const struct vm_ram_map *map;
	/* Trap engine: RAM page -> owning context (VMCI_PAGE_* when none); NULL in KVM. */
	const int32_t *page_owner;
	/* RAM pages registered in a live queue pair; may be NULL. */
	const uint8_t *page_in_qp;
	int owner;		/* the context registering the pages */
	uint64_t *ram_page;	/* optional: gets the RAM page of each PPN */
};

/*
 * Validate a queue pair's page-number list: count in 1..VMCI_QP_MAX_PPNS,
 * every page guest RAM (not a hole, not past the end), outside device
 * ranges, owned by the caller (trap engine), not in another queue pair, no
 * duplicates.  VMCI_SUCCESS or the VMCI error for the first problem; *bad
 * gets the offending index.
 */
int vmci_check_ppns(const struct vmci_ppn_rules *r, const uint64_t *ppns, uint64_t n,
		    uint64_t *bad);

#endif
