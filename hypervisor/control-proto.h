/* SPDX-License-Identifier: MIT */
/*
 * The hypervisor <-> host services control protocol.  Public: this is the
 * only hypervisor header host services include.
 *
 * Transport: one SOCK_SEQPACKET Unix socket per VM, at
 *   $XDG_RUNTIME_DIR/porthole/<vm-name>.sock
 * (or /tmp/porthole-<uid>/ without XDG_RUNTIME_DIR), in a directory of mode
 * 0700.  Both ends check the peer's uid (SO_PEERCRED): only the user who runs
 * the VM (or root) may talk to it; the hypervisor also refuses processes of
 * another user namespace (guests, even where their uid is the user's).
 *
 * Each packet is a struct ph_ctl_hdr followed by `len` payload bytes.  A
 * request gets exactly one reply packet with the same `seq` and `op`.  Text
 * payloads are UTF-8 without a terminating NUL.  Replies to PH_CTL_MEMORY
 * carry the guest RAM memfd, to PH_CTL_CONSOLE the console pty's master, as
 * SCM_RIGHTS ancillary data.
 */
#ifndef PORTHOLE_CONTROL_PROTO_H
#define PORTHOLE_CONTROL_PROTO_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define PH_CTL_MAGIC		0x50484354u	/* "PHCT" */
#define PH_CTL_VERSION		1
#define PH_CTL_MAX_PAYLOAD	(64 * 1024)
#define PH_CTL_DIR_NAME		"porthole"
#define PH_CTL_SUFFIX		".sock"
#define PH_CTL_EVENT_MIN_MS	100	/* PH_CTL_EVENT: at most one this often */

struct ph_ctl_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t op;		/* enum ph_ctl_op */
	uint32_t seq;		/* chosen by the client, echoed in the reply */
	int32_t status;		/* reply: 0 or a positive errno value */
	uint32_t len;		/* payload bytes after the header */
};

enum ph_ctl_op {
	/* -> "key=value\n" lines: name, engine, state, uptime, ram, tools.*, ... */
	PH_CTL_STATUS = 1,
	/* "<key>" -> the value; ENOENT when unset */
	PH_CTL_INFO_GET = 2,
	/* "<key> <value>" -> empty */
	PH_CTL_INFO_SET = 3,
	/* "[app:]<command>" -> the guest tools' reply, once it comes (ETIMEDOUT) */
	PH_CTL_TCLO = 4,
	/* -> "ram <guest-physical base> <size>\n" lines, and the RAM memfd */
	PH_CTL_MEMORY = 5,
	/* close every GuestRPC channel; the guest tools reconnect -> empty */
	PH_CTL_RESET_CHANNELS = 6,
	/* stop the VM (the guest is killed) -> empty */
	PH_CTL_STOP = 7,
	/*
	 * The guest clock (trap engine): "" reports it; "offset <±ns>" jumps
	 * the guest's CLOCK_REALTIME, "rate <ppm>" sets its oscillator error
	 * (any of both).  -> "key=value\n" lines: realtime-ns, monotonic-ns,
	 * host-realtime-ns, offset-ns (guest - host), drift-ppb, rate-ppb,
	 * adjtimex-freq, adjtimex-tick, slew-left-ns, reads, steps,
	 * adjustments.  EOPNOTSUPP on engines where the guest keeps its own
	 * clock (KVM).
	 */
	PH_CTL_CLOCK = 8,
	/* -> every guestinfo key and value, sorted: "key\0value\0" pairs (binary reply) */
	PH_CTL_INFO_LIST = 9,
	/*
	 * "" -> empty: from now on this connection also gets PH_CTL_EVENT
	 * packets (seq 0, no request) when the VM's status changes, so a
	 * client need not poll PH_CTL_STATUS.  An older hypervisor answers
	 * EOPNOTSUPP (poll then).
	 */
	PH_CTL_SUBSCRIBE = 10,
	/*
	 * hypervisor -> subscribed client only: "<what>[ <what>...]", words
	 * from a fixed set ("state", "tools", "guestinfo", "clipboard" (the
	 * policy); more may come),
	 * never guest text.  A hint to re-read PH_CTL_STATUS (and
	 * PH_CTL_INFO_LIST for guestinfo): events are coalesced, at most one
	 * per PH_CTL_EVENT_MIN_MS, and one is dropped rather than block the
	 * hypervisor when the client's socket is full (unread events are
	 * already waiting there).
	 */
	PH_CTL_EVENT = 11,
	/*
	 * "" -> "log=<path of the console log>\n", and the master of the
	 * guest's console pty as SCM_RIGHTS (trap engine; ENODEV without a
	 * console, EBUSY while another client has it).  The connection holds
	 * the console until it closes; meanwhile the hypervisor does not read
	 * it, so the log lacks what the guest wrote then.
	 */
	PH_CTL_CONSOLE = 12,

	/*
	 * VMCI (backdoor/vmci.h).  Binary payloads, little-endian structs.
	 * A client binds host resource ids {VMCI_HOST_CONTEXT_ID, id}; guest
	 * datagrams and doorbells for them, and queue-pair events, arrive on
	 * the same connection as PH_CTL_VMCI_DATAGRAM packets with seq 0 (no
	 * request): read replies by seq and keep the rest.  Closing the
	 * connection unbinds and detaches everything it held.
	 */
	/* u32 resource id -> empty (EADDRINUSE: bound by another client) */
	PH_CTL_VMCI_BIND = 16,
	/* u32 resource id -> empty */
	PH_CTL_VMCI_UNBIND = 17,
	/* a datagram from {2, bound id} to {guest cid, id} -> int64 VMCI result */
	PH_CTL_VMCI_SEND = 18,
	/* struct vmci_ctl_qp_attach -> struct vmci_ctl_qp_info + u64 PPNs */
	PH_CTL_VMCI_QP_ATTACH = 19,
	/* struct vmci_handle -> empty; the guest gets QP_PEER_DETACH */
	PH_CTL_VMCI_QP_DETACH = 20,
	/* struct vmci_handle of a guest doorbell -> empty (ENOENT) */
	PH_CTL_VMCI_DOORBELL = 21,
	/* hypervisor -> client only: one datagram (guest's, or an event from {0, 0}) */
	PH_CTL_VMCI_DATAGRAM = 22,

	/*
	 * Input (32-39; hypervisor/devices/vmmouse.c, backdoor/input.h).
	 * POINTER: "X Y BUTTONS WHEEL" -> empty.  X, Y: 0..65535 across the
	 * guest screen; BUTTONS: 1 left | 2 middle | 4 right, held now;
	 * WHEEL: signed clicks, -127..127, negative = up.  Queued for the
	 * guest's absolute-pointer driver (dropped, and counted, while it has
	 * none).  EINVAL for a malformed event.
	 */
	PH_CTL_POINTER = 32,
	/* -> "pointer.key=value\n" lines: driver, mode, queued-words, events, dropped, ... */
	PH_CTL_POINTER_STATUS = 33,

	/*
	 * Clipboard (40-47; hypervisor/devices/copypaste.c, backdoor/clipboard.h).
	 * Policy: -> "host-to-guest=on|off\nguest-to-host=on|off\nmax-size=BYTES\n"
	 * (default on, on, 67108864).  SET takes any subset of those lines
	 * (or space-separated key=value), all valid or EINVAL, and replies
	 * like GET.
	 */
	PH_CTL_CLIPBOARD_POLICY_GET = 40,
	PH_CTL_CLIPBOARD_POLICY_SET = 41,
	/*
	 * Legacy backdoor copy/paste (commands 6-9): "<text>" becomes what
	 * the guest reads (EPERM: host-to-guest off; EFBIG: over
	 * min(max-size, 65436)) -> empty.
	 */
	PH_CTL_CLIPBOARD_LEGACY_SET = 42,
	/* -> "<serial>\n<text>": the guest's last complete legacy copy (EPERM: off) */
	PH_CTL_CLIPBOARD_LEGACY_GET = 43,
	/*
	 * The host's text (or PNG image) for every kind of guest tools, in
	 * pieces of a control packet, binary: "<offset> <total>[ text|png
	 * <copy>]\n<bytes>", offsets in order from 0; the last piece commits
	 * it (text: the legacy buffer when it fits; both: a push to VMware's
	 * desktop tools, copy/paste v4, with every format of copy number
	 * <copy> so far) -> empty.  EPERM: host-to-guest off; EFBIG: over
	 * max-size or v4's 4 MiB; EINVAL: a piece out of order (what came so
	 * far is dropped).
	 */
	PH_CTL_CLIPBOARD_HOST_TEXT = 44,
	/*
	 * "<offset>[ text|png]" -> "<serial> <total> <formats>\n<up to 60000
	 * bytes from offset>": the guest's last complete clipboard (legacy:
	 * text; v4: text and PNG), formats the PH_CLIP_FMT_BIT()s it has;
	 * offset 0 of the text also asks v4 desktop tools for their
	 * clipboard (the answer shows up in a later poll).  EPERM:
	 * guest-to-host off.
	 */
	PH_CTL_CLIPBOARD_GUEST_TEXT = 45,
	/*
	 * The guest's namespace database (hypervisor/devices/namespace-db.c):
	 * "" -> "NAME keys=N bytes=N\n" per namespace; "NS" -> "KEY=VALUE\n"
	 * lines; "NS\nKEY" -> the value.  Guest text escaped as \xHH.
	 * ENOENT: no such namespace or key.
	 */
	PH_CTL_NAMESPACE = 50,
	/*
	 * Periodic time sync by the guest tools (VMware's synctime option):
	 * "on" / "off" sets it and pushes Set_Option synctime to the tools;
	 * "" only reads.  -> "synctime=0|1\n".  EINVAL for anything else.
	 */
	PH_CTL_SYNC_TIME = 51,
};

/* Requests whose payload is binary rather than text. */
static inline int ph_ctl_op_binary(unsigned int op)
{
	return (op >= PH_CTL_VMCI_BIND && op <= PH_CTL_VMCI_DATAGRAM) ||
	       op == PH_CTL_CLIPBOARD_HOST_TEXT;
}

/*
 * The socket directory: `buf` gets it, or an error message (returns -1).
 * Shared by the hypervisor (which creates it) and host services.
 */
static inline int ph_ctl_dir(char *buf, size_t size)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (xdg && xdg[0] == '/')
		n = snprintf(buf, size, "%s/" PH_CTL_DIR_NAME, xdg);
	else
		n = snprintf(buf, size, "/tmp/" PH_CTL_DIR_NAME "-%u", (unsigned int)getuid());
	return (n < 0 || (size_t)n >= size) ? -1 : 0;
}

#endif
