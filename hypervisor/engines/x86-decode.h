/* SPDX-License-Identifier: MIT */
/*
 * Just enough of an x86-64 decoder for the trap engine: the port I/O
 * instructions (in, out, ins, outs) and cpuid, in 64-bit mode.  A pure
 * function over a byte copy: no memory access, no state.
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
	uint8_t seg;		/* outs source segment override (X86_SEG_*), 0 if none */
};

/*
 * Decode the instruction at bytes[0..len).  Returns its length (1..15) and
 * fills *out, or X86_DECODE_NONE / X86_DECODE_TRUNCATED.  A lock prefix, a
 * run of prefixes making the instruction longer than 15 bytes (#GP on the
 * CPU) and any other opcode give X86_DECODE_NONE.  As on the CPU, a REX
 * prefix counts only immediately before the opcode (elsewhere it is
 * ignored), and REX.W does not widen port I/O beyond 32 bits.
 */
int x86_decode_io(const uint8_t *bytes, size_t len, struct x86_insn *out);

#endif
