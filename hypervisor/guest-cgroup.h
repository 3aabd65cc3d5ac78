/* SPDX-License-Identifier: MIT */
/*
 * The trap guest's limits: a cgroup per VM, below porthole-hv's own cgroup
 * (so whatever limits the host puts on us still hold), with the memory
 * cap from --ram and a pids cap.  cgroup v2 where /sys/fs/cgroup is one;
 * else v1's memory, pids and name=systemd hierarchies, each where mounted.
 * What is missing is said once, with why.  The sandbox helper joins the
 * cgroups (sandbox.c) before it makes any guest process; the guest gets a
 * cgroup namespace rooted there and a subtree it may write (v2: its
 * cgroup, v1: its name=systemd cgroup), as systemd in a container wants.
 */
#ifndef PORTHOLE_HV_GUEST_CGROUP_H
#define PORTHOLE_HV_GUEST_CGROUP_H

#include <stdbool.h>
#include <stdint.h>

#define GUEST_CGROUP_MAX	3

struct guest_cgroup {
	bool v2;
	int n;
	char *dirs[GUEST_CGROUP_MAX];	/* the VM's cgroups, one per hierarchy */
	/* of dirs: the one the guest may write (v2's, v1's name=systemd), or NULL */
	const char *delegated;
};

/* Default --pids: a desktop guest runs a few hundred tasks. */
#define GUEST_DEFAULT_PIDS	1024u

/*
 * Make the VM's cgroups, set the caps.  Never fails: a host without some
 * controller runs the guest without that cap, after one log line.
 */
void guest_cgroup_create(struct guest_cgroup *cg, const char *name, uint64_t ram_bytes,
			 unsigned int pids);
/* Remove them (depth first: the guest may have made its own), once the guest is gone. */
void guest_cgroup_destroy(struct guest_cgroup *cg);

/*
 * Parse "/proc/self/cgroup" text: the path of hierarchy `controller`
 * ("memory", "pids", "name=systemd"; "" for v2's "0::"), into a new string,
 * or NULL.  Exposed for the unit test.
 */
char *guest_cgroup_own_path(const char *proc_self_cgroup, const char *controller);

#endif
