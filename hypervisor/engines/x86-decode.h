/* SPDX-License-Identifier: MIT */
/*
 * x86-64 decoding for the trap engine (Zydis underneath): the port I/O
 * instructions (in, out, ins, outs) and cpuid at a trapped RIP, and every
 * cpuid in a stretch of machine code (for the cpuid patcher).  Pure
 * functions over byte copies: no memory access, no state.
 */
#ifndef PORTHOLE_HV_X86_DECODE_H
#define PORTHOLE_HV_X86_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define X86_MAX_INSN_LEN	15

/* x86_decode_io() failures (instruction length on success). */
#define X86_DECODE_NONE		(-1)	/* not an instruction we emulate */
#define X86_DECODE_TRUNCATED	(-2)	/* bytes end before the instruction does */

enum x86_insn_kind {
	X86_INSN_IO,		/* in, out, ins, outs */
	X86_INSN_CPUID,
};

/* Segment override prefixes (the prefix byte). */
#define X86_SEG_ES	0x26
#define X86_SEG_CS	0x2E
#define X86_SEG_SS	0x36
#define X86_SEG_DS	0x3E
#define X86_SEG_FS	0x64
#define X86_SEG_GS	0x65

struct x86_insn {
	enum x86_insn_kind kind;
	uint8_t len;		/* whole instruction, prefixes included */
	/* X86_INSN_IO only: */
	bool in;		/* in/ins: the guest reads the port */
	bool string;		/* ins/outs */
	bool rep;		/* F3 or F2 on a string instruction */
	bool port_dx;		/* the port is DX (else `port` holds imm8) */
	uint8_t size;		/* 1, 2 or 4 */
	uint8_t addr_size;	/* 8, or 4 with 0x67 */
	uint16_t port;		/* imm8 forms */
	/*
	 * outs only: X86_SEG_FS or X86_SEG_GS when the source is read through
	 * one of them (the only segments with a base in 64-bit mode), else 0.
	 */
	uint8_t seg;
};

/*
 * Decode the instruction at bytes[0..len).  Returns its length (1..15) and
 * fills *out, or X86_DECODE_NONE / X86_DECODE_TRUNCATED.  A lock prefix, a
 * run of prefixes making the instruction longer than 15 bytes (#GP on the
 * CPU) and any other opcode give X86_DECODE_NONE.  As on the CPU, a REX
 * prefix counts only immediately before the opcode (elsewhere it is
 * ignored), REX.W overrides 66H, and port I/O is never wider than 32 bits.
 */
int x86_decode_io(const uint8_t *bytes, size_t len, struct x86_insn *out);

/* A cpuid instruction of `len` bytes (prefixes included) at code offset `off`. */
typedef void (*x86_cpuid_found_fn)(void *opaque, size_t off, unsigned int len);

/*
 * Walk code[0..len) instruction by instruction from its first byte (a
 * linear sweep; an undecodable byte is skipped) and call `found` for every
 * cpuid, in order.  Bytes 0F A2 inside another instruction are not a cpuid.
 * Decoding stops after the last 0F A2 pair, so code without one costs a
 * memchr.  Returns the number found.
 */
size_t x86_find_cpuid(const uint8_t *code, size_t len, x86_cpuid_found_fn found, void *opaque);

/*
 * The same walk over code loaded at address `base`, but it may start afresh
 * at any of the addresses in sync[] (ascending, none below base; known
 * instruction boundaries, such as function starts): only the stretch from
 * the last boundary before each 0F A2 pair to the pair is decoded.  With
 * boundaries that are true, the result is the full walk's.
 */
size_t x86_find_cpuid_synced(const uint8_t *code, size_t len, uint64_t base, const uint64_t *sync,
			     size_t n_sync, x86_cpuid_found_fn found, void *opaque);

#endif
