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
 * both sides compute vmci_stream_sum over the bytes and report it (or, for
 * the block pattern below, vmci_wsum, which a sender can extend per chunk
 * without touching the bytes).  The receiver detaches when done; the guest
 * destroys the queue pair once the host has detached.
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

/*
 * The block pattern: a stream a sender can produce with one string copy per
 * chunk, for guests where every instruction is emulated (nested KVM here:
 * a few microseconds per instruction, about one per element of a `rep
 * movsq`), so per-word generation and hashing would bound the stream at a
 * few hundred KB/s.
 *
 * Chunk k of the stream (VMCI_BLOCK_BYTES bytes at offset k *
 * VMCI_BLOCK_BYTES, the last one possibly short) is one fixed pseudo-random
 * block whose word 0 is replaced by vmci_block_seq(k): no two chunks are
 * equal, and a lost, duplicated or reordered chunk shows at its word 0.
 * Word i > 0 is vmci_block_word(i).
 */
#define VMCI_BLOCK_BYTES	(64u << 10)
#define VMCI_BLOCK_WORDS	(VMCI_BLOCK_BYTES / 8)
#define VMCI_BLOCK_SEQ_TAG	0x5153000000000000ull	/* "..SQ": a recognizable word 0 */

/* splitmix64's finalizer: a bijective 64-bit mix. */
static inline uint64_t vmci_stream_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xBF58476D1CE4E5B9ull;
	x ^= x >> 27;
	x *= 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

static inline uint64_t vmci_block_word(uint64_t i)
{
	return vmci_stream_mix(i * 0x9E3779B97F4A7C15ull + 0x706f7274686f6c65ull);
}

static inline uint64_t vmci_block_seq(uint64_t chunk)
{
	return VMCI_BLOCK_SEQ_TAG ^ chunk;
}

/*
 * A checksum a sender can extend by a whole chunk in a few instructions
 * (vmci_wsum_append) and a receiver computes word by word (vmci_wsum_add):
 * over the stream's little-endian 64-bit words w_j (a short tail
 * zero-padded), a = sum of w_j and b = sum of (j + 1) * w_j, both mod 2^64.
 * The weights make b position-sensitive (a moved word changes it); the
 * block-pattern receiver also checks every byte against the pattern.
 */
struct vmci_wsum {
	uint64_t a, b, words;
};

/* Feed the stream in pieces whose lengths are multiples of 8, but the last. */
static inline void vmci_wsum_add(struct vmci_wsum *s, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint64_t a = s->a, b = s->b, j = s->words;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t w;

		__builtin_memcpy(&w, p + i, 8);
		a += w;
		b += ++j * w;
	}
	if (i < len) {
		uint64_t w = 0;

		__builtin_memcpy(&w, p + i, len - i);
		a += w;
		b += ++j * w;
	}
	*s = (struct vmci_wsum){ a, b, j };
}

/* Extend by `words` words whose plain sum is `a` and whose sum of (i + 1) * w_i is `b`. */
static inline void vmci_wsum_append(struct vmci_wsum *s, uint64_t a, uint64_t b, uint64_t words)
{
	s->b += b + s->words * a;
	s->a += a;
	s->words += words;
}

#endif
