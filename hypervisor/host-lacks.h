/* SPDX-License-Identifier: MIT */
/*
 * PORTHOLE_HOST_LACKS: host features a test may declare missing, so that
 * each fallback of a --root VM runs on a host that has the feature too.
 * A comma-separated list of HOST_LACKS_WORDS; where a feature is listed,
 * its probe takes the path of a real failure and the log line gives
 * HOST_LACKS_WHY for the reason.
 *
 * Parsed once, early in main, into a plain global: the sandbox reads it in
 * forked children (pid 1 only async-signal-safe), where no getenv or
 * parsing is done.
 */
#ifndef PORTHOLE_HV_HOST_LACKS_H
#define PORTHOLE_HV_HOST_LACKS_H

#include <stdbool.h>
#include <stddef.h>

enum host_feature {
	HOST_LOOP	= 1u << 0,	/* loop devices, mkfs.ext4: the kept overlay's capped disk */
	HOST_IDMAP	= 1u << 1,	/* id-mapped mounts (MOUNT_ATTR_IDMAP) */
	HOST_VETH	= 1u << 2,	/* veth: the guest's eth0 */
	HOST_VDSO_DIR	= 1u << 3,	/* a directory without noexec for the guest vDSO file */
};

#define HOST_LACKS_WORDS	"loop, idmap, veth, vdso-dir"
#define HOST_LACKS_WHY		"forced by PORTHOLE_HOST_LACKS"

/*
 * Parse `list` (NULL or empty: nothing) into *mask.  0, or -1 with the
 * first unknown word in `bad`.
 */
int host_lacks_parse(const char *list, unsigned int *mask, char *bad, size_t bad_len);

/* Take PORTHOLE_HOST_LACKS from the environment: 0, or -1 after saying what is wrong. */
int host_lacks_init(void);

/* Whether `feature` is to be taken as missing. */
bool host_lacks(enum host_feature feature);

#endif
