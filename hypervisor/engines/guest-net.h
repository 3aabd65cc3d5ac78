/* SPDX-License-Identifier: MIT */
/*
 * A network card for trap-engine guests: a veth pair in the guest's own
 * network namespace, GUEST_NET_IFNAME with GUEST_NET_ADDRESS, up, so guest
 * tools that leave loopback out of what they report (open-vm-tools'
 * guestInfo) have an interface and an address to report.  It reaches
 * nothing: its peer stays in the same namespace.
 */
#ifndef PORTHOLE_HV_GUEST_NET_H
#define PORTHOLE_HV_GUEST_NET_H

#define GUEST_NET_IFNAME	"eth0"
#define GUEST_NET_PEER		"eth0-peer"
#define GUEST_NET_ADDRESS	"10.0.2.15"	/* QEMU user networking's guest address */
#define GUEST_NET_PREFIX	24

/*
 * Create and configure it with rtnetlink; called by the guest's pid 1 while
 * it holds CAP_NET_ADMIN over the guest's network namespace.  Safe after
 * fork (no allocation, no stdio).  A failure is said once on stderr, and
 * the guest goes on with loopback only (PORTHOLE_HOST_LACKS=veth forces
 * that, host-lacks.h).  0 or a negative errno.
 */
int guest_net_setup(void);

#endif
