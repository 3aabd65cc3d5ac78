// SPDX-License-Identifier: MIT
/*
 * x86-64 decoding for the trap engine, on Zydis (libzydis, Debian's
 * libzydis-dev).  See x86-decode.h.
 *
 * Why a full decoder and not a table of opcodes: the engine must read an
 * instruction exactly as the CPU does (66 48 ED is a 32-bit `in`: REX.W
 * overrides 66H; a REX before a legacy prefix is ignored; 15 bytes is the
 * limit), and the cpuid patcher must walk machine code instruction by
 * instruction so that bytes 0F A2 inside another instruction are left alone.
 */
#include <string.h>

#include <Zydis/Zydis.h>

#include "x86-decode.h"

static void decoder_init(ZydisDecoder *d, bool minimal)
{
	ZydisDecoderInit(d, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
	if (minimal)
		ZydisDecoderEnableMode(d, ZYDIS_DECODER_MODE_MINIMAL, ZYAN_TRUE);
}

/*
 * Port I/O direction, form and size by mnemonic.  The string forms take
 * their size from the mnemonic: Zydis reports REX.W's 64-bit operand width
 * for `48 6F`, which the CPU executes as outsd.
 */
static bool is_io(ZydisMnemonic m, unsigned int operand_width, struct x86_insn *out)
{
	switch (m) {
	case ZYDIS_MNEMONIC_IN: case ZYDIS_MNEMONIC_OUT:
		out->in = m == ZYDIS_MNEMONIC_IN;
		out->size = (uint8_t)(operand_width / 8);
		return true;
	case ZYDIS_MNEMONIC_INSB: case ZYDIS_MNEMONIC_OUTSB:
		out->size = 1;
		break;
	case ZYDIS_MNEMONIC_INSW: case ZYDIS_MNEMONIC_OUTSW:
		out->size = 2;
		break;
	case ZYDIS_MNEMONIC_INSD: case ZYDIS_MNEMONIC_OUTSD:
		out->size = 4;
		break;
	default:
		return false;
	}
	out->string = true;
	out->in = m == ZYDIS_MNEMONIC_INSB || m == ZYDIS_MNEMONIC_INSW || m == ZYDIS_MNEMONIC_INSD;
	return true;
}

int x86_decode_io(const uint8_t *bytes, size_t len, struct x86_insn *out)
{
	ZydisDecoder d;
	ZydisDecodedInstruction insn;
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	ZyanStatus st;

	if (!len)
		return X86_DECODE_TRUNCATED;
	decoder_init(&d, false);
	st = ZydisDecoderDecodeFull(&d, bytes, len > X86_MAX_INSN_LEN ? X86_MAX_INSN_LEN : len,
				    &insn, ops);
	if (st == ZYDIS_STATUS_NO_MORE_DATA)
		return len >= X86_MAX_INSN_LEN ? X86_DECODE_NONE : X86_DECODE_TRUNCATED;
	if (!ZYAN_SUCCESS(st))
		return X86_DECODE_NONE;		/* invalid, too long, lock: #UD/#GP */

	memset(out, 0, sizeof(*out));
	out->len = insn.length;
	out->addr_size = insn.address_width == 32 ? 4 : 8;
	if (insn.mnemonic == ZYDIS_MNEMONIC_CPUID) {
		out->kind = X86_INSN_CPUID;
		return out->len;
	}
	if (!is_io(insn.mnemonic, insn.operand_width, out))
		return X86_DECODE_NONE;

	out->kind = X86_INSN_IO;
	/* The CPU repeats ins/outs for F2 as for F3. */
	out->rep = out->string &&
		   (insn.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPNE));
	out->port_dx = true;
	for (unsigned int i = 0; i < insn.operand_count; i++) {
		const ZydisDecodedOperand *op = &ops[i];

		if (op->type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
			out->port = (uint16_t)(op->imm.value.u & 0xFF);
			out->port_dx = false;
		}
		/* Only outs reads memory through a segment that may be overridden. */
		if (op->type == ZYDIS_OPERAND_TYPE_MEMORY && !out->in) {
			if (op->mem.segment == ZYDIS_REGISTER_FS)
				out->seg = X86_SEG_FS;
			else if (op->mem.segment == ZYDIS_REGISTER_GS)
				out->seg = X86_SEG_GS;
		}
	}
	if (out->size != 1 && out->size != 2 && out->size != 4)
		return X86_DECODE_NONE;
	return out->len;
}

size_t x86_find_cpuid_synced(const uint8_t *code, size_t len, uint64_t base, const uint64_t *sync,
			     size_t n_sync, x86_cpuid_found_fn found, void *opaque)
{
	ZydisDecoder d;
	ZydisDecodedInstruction insn;
	size_t pos = 0, n = 0, k = 0;

	if (len < 2)
		return 0;
	decoder_init(&d, true);
	/* Each candidate: the bytes 0F A2 wherever they are (memchr is fast). */
	for (const uint8_t *p = code; (p = memchr(p, 0x0F, len - 1 - (size_t)(p - code))); p++) {
		size_t c = (size_t)(p - code);

		if (p[1] != 0xA2 || c < pos)
			continue;	/* not the pair, or inside what was decoded */
		/* Skip ahead to the last instruction boundary known to precede it. */
		while (k < n_sync && sync[k] >= base && sync[k] - base <= c) {
			if (sync[k] - base > pos)
				pos = (size_t)(sync[k] - base);
			k++;
		}
		while (pos <= c) {
			ZyanStatus st = ZydisDecoderDecodeInstruction(&d, NULL, code + pos, len - pos,
								      &insn);

			if (!ZYAN_SUCCESS(st)) {
				pos++;	/* not code (padding, data): resynchronise */
				continue;
			}
			if (pos + insn.length > c) {
				/* The instruction holding the pair: a cpuid if it ends with it. */
				if (insn.mnemonic == ZYDIS_MNEMONIC_CPUID &&
				    pos + insn.length == c + 2) {
					n++;
					if (found)
						found(opaque, pos, insn.length);
				}
			}
			pos += insn.length;
		}
		if (pos >= len - 1)
			break;
	}
	return n;
}

size_t x86_find_cpuid(const uint8_t *code, size_t len, x86_cpuid_found_fn found, void *opaque)
{
	return x86_find_cpuid_synced(code, len, 0, NULL, 0, found, opaque);
}
