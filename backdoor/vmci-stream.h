/* SPDX-License-Identifier: MIT */
/*
 * Byte streams over a queue pair, the convention the VMCI command-line
 * tools (porthole-vmci, porthole-vmci-guest) and tests share.
 *
 * The guest creates the queue pair and links a doorbell with the same
 * resource id, then sends a struct vmci_stream_offer datagram to the host
 * endpoint; the host attaches and rings the guest's doorbell whenever the
 * guest may be waiting; the guest rings the host endpoint (DOORBELL_NOTIFY
 * {2, endpoint}).  The sender writes a u64 length, then that many bytes;
 * both sides compute vmci_stream_sum over the bytes and report it.  The
 * receiver detaches when done; the guest destroys the queue pair once the
 * host has detached.
 */
#ifndef PORTHOLE_BACKDOOR_VMCI_STREAM_H
#define PORTHOLE_BACKDOOR_VMCI_STREAM_H

#include <stddef.h>
#include <stdint.h>

#define VMCI_STREAM_MAGIC	0x4d525453u	/* "STRM" */

enum vmci_stream_dir {
	VMCI_STREAM_TO_HOST = 0,	/* the guest writes its produce queue */
	VMCI_STREAM_TO_GUEST = 1,
};

struct vmci_stream_offer {
	uint32_t magic;
	uint32_t dir;			/* enum vmci_stream_dir */
	uint32_t qp_resource;		/* queue pair and guest doorbell resource */
	uint32_t pad;
	uint64_t bytes;			/* stream length when known (informational) */
};

/*
 * A checksum fast enough not to be the bottleneck at several GB/s: a
 * 64-bit multiply-rotate mix over 8-byte words (tail bytes zero-padded),
 * continued across calls (feed any split of the stream, same result only
 * when the split points are multiples of 8: callers use 8-aligned chunks
 * except the last).
 */
static inline uint64_t vmci_stream_sum(uint64_t h, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t w;

		__builtin_memcpy(&w, p + i, 8);
		h = (h ^ w) * 0x9E3779B97F4A7C15ull;
		h ^= h >> 29;
	}
	if (i < len) {
		uint64_t w = 0;

		__builtin_memcpy(&w, p + i, len - i);
		h = (h ^ w) * 0x9E3779B97F4A7C15ull;
		h ^= h >> 29;
	}
	return h;
}

/* Deterministic test data: word i of the stream (8-aligned offsets). */
static inline void vmci_stream_fill(void *buf, size_t len, uint64_t offset)
{
	unsigned char *p = buf;

	for (size_t i = 0; i < len; i += 8) {
		uint64_t w = ((offset + i) >> 3) * 0xD6E8FEB86659FD93ull;

		__builtin_memcpy(p + i, &w, len - i < 8 ? len - i : 8);
	}
}

#endif
