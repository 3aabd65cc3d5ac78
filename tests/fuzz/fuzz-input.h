/* SPDX-License-Identifier: MIT */
/*
 * Reading a libFuzzer input as a script: numbers and byte strings taken off
 * the front.  An exhausted input reads as zeros (and `fuzz_empty` says so),
 * so every harness loop ends when the input does.
 */
#ifndef PORTHOLE_FUZZ_INPUT_H
#define PORTHOLE_FUZZ_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct fuzz_input {
	const uint8_t *p;
	size_t left;
};

static inline bool fuzz_empty(const struct fuzz_input *in)
{
	return !in->left;
}

/* Up to `len` bytes (fewer at the end): a pointer into the input, *got the count. */
static inline const uint8_t *fuzz_bytes(struct fuzz_input *in, size_t len, size_t *got)
{
	const uint8_t *p = in->p;

	if (len > in->left)
		len = in->left;
	in->p += len;
	in->left -= len;
	*got = len;
	return p;
}

/* A little-endian number of `size` bytes (1..8), zero-extended at the end of input. */
static inline uint64_t fuzz_num(struct fuzz_input *in, size_t size)
{
	uint64_t v = 0;
	size_t got;
	const uint8_t *p = fuzz_bytes(in, size, &got);

	for (size_t i = 0; i < got; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static inline uint8_t fuzz_u8(struct fuzz_input *in)
{
	return (uint8_t)fuzz_num(in, 1);
}

static inline uint16_t fuzz_u16(struct fuzz_input *in)
{
	return (uint16_t)fuzz_num(in, 2);
}

static inline uint32_t fuzz_u32(struct fuzz_input *in)
{
	return (uint32_t)fuzz_num(in, 4);
}

static inline uint64_t fuzz_u64(struct fuzz_input *in)
{
	return fuzz_num(in, 8);
}

/* An invariant of the code under test; abort() makes libFuzzer keep the input. */
#define FUZZ_CHECK(cond)							\
	do {									\
		if (!(cond)) {							\
			__builtin_printf("invariant broken at %s:%d: %s\n",	\
					 __FILE__, __LINE__, #cond);		\
			__builtin_abort();					\
		}								\
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
