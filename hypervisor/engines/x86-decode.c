// SPDX-License-Identifier: MIT
/*
 * Port I/O and cpuid decoder for the trap engine.  See x86-decode.h.
 *
 * Opcodes (Intel SDM vol. 2):
 *   E4 ib  in al, imm8        E5 ib  in eAX, imm8
 *   EC     in al, dx          ED     in eAX, dx
 *   E6 ib  out imm8, al       E7 ib  out imm8, eAX
 *   EE     out dx, al         EF     out dx, eAX
 *   6C     insb               6D     insw/insd
 *   6E     outsb              6F     outsw/outsd
 *   0F A2  cpuid
 */
#include <string.h>

#include "x86-decode.h"

int x86_decode_io(const uint8_t *bytes, size_t len, struct x86_insn *out)
{
	bool opsize16 = false, addr32 = false, rep = false;
	uint8_t seg = 0;
	size_t i = 0;
	uint8_t op;

	for (;; i++) {
		if (i >= X86_MAX_INSN_LEN)
			return X86_DECODE_NONE;		/* too long: #GP */
		if (i >= len)
			return X86_DECODE_TRUNCATED;
		op = bytes[i];
		switch (op) {
		case 0x66:
			opsize16 = true;
			continue;
		case 0x67:
			addr32 = true;
			continue;
		case 0xF2:
		case 0xF3:
			rep = true;
			continue;
		case X86_SEG_ES:
		case X86_SEG_CS:
		case X86_SEG_SS:
		case X86_SEG_DS:
		case X86_SEG_FS:
		case X86_SEG_GS:
			seg = op;	/* the last one wins */
			continue;
		case 0xF0:		/* lock: #UD on these instructions */
			return X86_DECODE_NONE;
		default:
			break;
		}
		if (op >= 0x40 && op <= 0x4F) {
			/*
			 * REX: it changes nothing for port I/O.  One followed by a
			 * legacy prefix is ignored by the CPU, so the loop simply
			 * goes on; the next byte decides.
			 */
			continue;
		}
		break;
	}

	memset(out, 0, sizeof(*out));
	out->addr_size = addr32 ? 4 : 8;

	switch (op) {
	case 0x0F:
		if (i + 1 >= X86_MAX_INSN_LEN)
			return X86_DECODE_NONE;
		if (i + 1 >= len)
			return X86_DECODE_TRUNCATED;
		if (bytes[i + 1] != 0xA2)
			return X86_DECODE_NONE;
		out->kind = X86_INSN_CPUID;
		out->len = (uint8_t)(i + 2);
		return out->len;
	case 0xE4: case 0xE5: case 0xE6: case 0xE7:
		if (i + 1 >= X86_MAX_INSN_LEN)
			return X86_DECODE_NONE;
		if (i + 1 >= len)
			return X86_DECODE_TRUNCATED;
		out->port = bytes[i + 1];
		out->len = (uint8_t)(i + 2);
		break;
	case 0xEC: case 0xED: case 0xEE: case 0xEF:
		out->port_dx = true;
		out->len = (uint8_t)(i + 1);
		break;
	case 0x6C: case 0x6D: case 0x6E: case 0x6F:
		out->port_dx = true;
		out->string = true;
		out->rep = rep;
		out->len = (uint8_t)(i + 1);
		break;
	default:
		return X86_DECODE_NONE;
	}

	out->kind = X86_INSN_IO;
	/* In every group bit 0 selects word/dword over byte and bit 1 means out. */
	out->size = (op & 1) ? (opsize16 ? 2 : 4) : 1;
	out->in = !(op & 2);
	/* ins always writes ES:[rDI]; only outs honours a segment override. */
	if (out->string && !out->in)
		out->seg = seg;
	return out->len;
}
