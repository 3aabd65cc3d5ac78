// SPDX-License-Identifier: MIT
/* Unit tests for the trap engine's port I/O and cpuid decoder. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "hypervisor/engines/x86-decode.h"

#define DECODE(insn, ...) decode(insn, (const uint8_t[]){ __VA_ARGS__ }, \
				 sizeof((const uint8_t[]){ __VA_ARGS__ }))

static int decode(struct x86_insn *insn, const uint8_t *bytes, size_t len)
{
	memset(insn, 0xA5, sizeof(*insn));	/* the decoder must fill everything */
	return x86_decode_io(bytes, len, insn);
}

static void check_io(const struct x86_insn *i, int len, bool in, bool string, bool rep,
		     bool port_dx, uint8_t size, uint8_t addr_size)
{
	assert_int_equal(i->kind, X86_INSN_IO);
	assert_int_equal(i->len, len);
	assert_int_equal(i->in, in);
	assert_int_equal(i->string, string);
	assert_int_equal(i->rep, rep);
	assert_int_equal(i->port_dx, port_dx);
	assert_int_equal(i->size, size);
	assert_int_equal(i->addr_size, addr_size);
}

static void test_in_imm8(void **state)
{
	struct x86_insn i;

	assert_int_equal(DECODE(&i, 0xE4, 0x60), 2);		/* in al, 0x60 */
	check_io(&i, 2, true, false, false, false, 1, 8);
	assert_int_equal(i.port, 0x60);
	assert_int_equal(DECODE(&i, 0xE5, 0xE0), 2);		/* in eax, 0xe0 */
	check_io(&i, 2, true, false, false, false, 4, 8);
	assert_int_equal(i.port, 0xE0);
	assert_int_equal(DECODE(&i, 0x66, 0xE5, 0xFF), 3);	/* in ax, 0xff */
	check_io(&i, 3, true, false, false, false, 2, 8);
	assert_int_equal(i.port, 0xFF);
	assert_int_equal(DECODE(&i, 0x66, 0xE4, 0x01), 3);	/* 66 is moot on byte forms */
	check_io(&i, 3, true, false, false, false, 1, 8);
}

static void test_out_imm8(void **state)
{
	struct x86_insn i;

	assert_int_equal(DECODE(&i, 0xE6, 0x80), 2);		/* out 0x80, al */
	check_io(&i, 2, false, false, false, false, 1, 8);
	assert_int_equal(i.port, 0x80);
	assert_int_equal(DECODE(&i, 0xE7, 0x00), 2);		/* out 0x00, eax */
	check_io(&i, 2, false, false, false, false, 4, 8);
	assert_int_equal(i.port, 0);
	assert_int_equal(DECODE(&i, 0x66, 0xE7, 0x42), 3);	/* out 0x42, ax */
	check_io(&i, 3, false, false, false, false, 2, 8);
}

static void test_in_out_dx(void **state)
{
	struct x86_insn i;

	assert_int_equal(DECODE(&i, 0xEC), 1);			/* in al, dx */
	check_io(&i, 1, true, false, false, true, 1, 8);
	assert_int_equal(DECODE(&i, 0xED), 1);			/* in eax, dx */
	check_io(&i, 1, true, false, false, true, 4, 8);
	assert_int_equal(DECODE(&i, 0x66, 0xED), 2);		/* in ax, dx */
	check_io(&i, 2, true, false, false, true, 2, 8);
	assert_int_equal(DECODE(&i, 0xEE), 1);			/* out dx, al */
	check_io(&i, 1, false, false, false, true, 1, 8);
	assert_int_equal(DECODE(&i, 0xEF), 1);			/* out dx, eax */
	check_io(&i, 1, false, false, false, true, 4, 8);
	assert_int_equal(DECODE(&i, 0x66, 0xEF), 2);		/* out dx, ax */
	check_io(&i, 2, false, false, false, true, 2, 8);
	/* A trailing byte after the instruction is not part of it. */
	assert_int_equal(DECODE(&i, 0xED, 0x90, 0x90), 1);
}

static void test_strings(void **state)
{
	struct x86_insn i;

	assert_int_equal(DECODE(&i, 0x6C), 1);			/* insb */
	check_io(&i, 1, true, true, false, true, 1, 8);
	assert_int_equal(DECODE(&i, 0x6D), 1);			/* insd */
	check_io(&i, 1, true, true, false, true, 4, 8);
	assert_int_equal(DECODE(&i, 0x66, 0x6D), 2);		/* insw */
	check_io(&i, 2, true, true, false, true, 2, 8);
	assert_int_equal(DECODE(&i, 0x6E), 1);			/* outsb */
	check_io(&i, 1, false, true, false, true, 1, 8);
	assert_int_equal(DECODE(&i, 0x6F), 1);			/* outsd */
	check_io(&i, 1, false, true, false, true, 4, 8);
	assert_int_equal(DECODE(&i, 0x66, 0x6F), 2);		/* outsw */
	check_io(&i, 2, false, true, false, true, 2, 8);
}

static void test_rep(void **state)
{
	struct x86_insn i;

	assert_int_equal(DECODE(&i, 0xF3, 0x6C), 2);		/* rep insb */
	check_io(&i, 2, true, true, true, true, 1, 8);
	assert_int_equal(DECODE(&i, 0xF3, 0x66, 0x6D), 3);	/* rep insw */
	check_io(&i, 3, true, true, true, true, 2, 8);
	assert_int_equal(DECODE(&i, 0x66, 0xF3, 0x6F), 3);	/* prefix order is free */
	check_io(&i, 3, false, true, true, true, 2, 8);
	assert_int_equal(DECODE(&i, 0xF2, 0x6E), 2);		/* repne repeats ins/outs too */
	check_io(&i, 2, false, true, true, true, 1, 8);
	/* rep means nothing to a non-string in/out. */
	assert_int_equal(DECODE(&i, 0xF3, 0xEC), 2);
	check_io(&i, 2, true, false, false, true, 1, 8);
}

static void test_address_size(void **state)
{
	struct x86_insn i;

	assert_int_equal(DECODE(&i, 0x67, 0xF3, 0x6C), 3);	/* addr32 rep insb */
	check_io(&i, 3, true, true, true, true, 1, 4);
	assert_int_equal(DECODE(&i, 0xF3, 0x67, 0x66, 0x6F), 4); /* addr32 rep outsw */
	check_io(&i, 4, false, true, true, true, 2, 4);
	assert_int_equal(DECODE(&i, 0x67, 0xEC), 2);		/* harmless on in al,dx */
	check_io(&i, 2, true, false, false, true, 1, 4);
}

static void test_segments(void **state)
{
	struct x86_insn i;

	assert_int_equal(DECODE(&i, 0x64, 0x6E), 2);		/* outsb fs:[rsi] */
	assert_int_equal(i.seg, X86_SEG_FS);
	assert_int_equal(DECODE(&i, 0xF3, 0x65, 0x6F), 3);	/* rep outsd gs:[rsi] */
	assert_int_equal(i.seg, X86_SEG_GS);
	assert_true(i.rep);
	assert_int_equal(DECODE(&i, 0x64, 0x65, 0x6E), 3);	/* the last override wins */
	assert_int_equal(i.seg, X86_SEG_GS);
	/* ES, CS, SS and DS have no base in 64-bit mode: no override to apply. */
	assert_int_equal(DECODE(&i, 0x2E, 0x3E, 0x6E), 3);
	assert_int_equal(i.seg, 0);
	assert_int_equal(DECODE(&i, 0x26, 0x36, 0x6E), 3);
	assert_int_equal(i.seg, 0);
	assert_int_equal(DECODE(&i, 0x6E), 1);
	assert_int_equal(i.seg, 0);
	/* ins always writes ES:[rdi]: an override is accepted and ignored. */
	assert_int_equal(DECODE(&i, 0x64, 0x6C), 2);
	check_io(&i, 2, true, true, false, true, 1, 8);
	assert_int_equal(i.seg, 0);
	/* ... and so is one on a non-string instruction. */
	assert_int_equal(DECODE(&i, 0x65, 0xE4, 0x10), 3);
	assert_int_equal(i.seg, 0);
	assert_int_equal(i.port, 0x10);
}

static void test_rex(void **state)
{
	struct x86_insn i;

	assert_int_equal(DECODE(&i, 0x48, 0xED), 2);		/* REX.W does not make it 64-bit */
	check_io(&i, 2, true, false, false, true, 4, 8);
	assert_int_equal(DECODE(&i, 0x40, 0xE4, 0x01), 3);
	check_io(&i, 3, true, false, false, false, 1, 8);
	assert_int_equal(i.port, 1);
	assert_int_equal(DECODE(&i, 0x66, 0x4F, 0x6F), 3);	/* REX.W right before the opcode */
	check_io(&i, 3, false, true, false, true, 4, 8);
	assert_int_equal(DECODE(&i, 0x66, 0x41, 0x6F), 3);	/* REX without W: 66 stands */
	check_io(&i, 3, false, true, false, true, 2, 8);
	assert_int_equal(DECODE(&i, 0xF3, 0x41, 0x6C), 3);
	check_io(&i, 3, true, true, true, true, 1, 8);
	/* REX.W overrides 66H: a 32-bit in, as the CPU does it. */
	assert_int_equal(DECODE(&i, 0x66, 0x48, 0xED), 3);
	check_io(&i, 3, true, false, false, true, 4, 8);
	assert_int_equal(DECODE(&i, 0x66, 0x48, 0xE5, 0x10), 4);
	check_io(&i, 4, true, false, false, false, 4, 8);
	assert_int_equal(DECODE(&i, 0x66, 0x48, 0x6F), 3);	/* outsd, not outsw */
	check_io(&i, 3, false, true, false, true, 4, 8);
	/* A REX followed by a legacy prefix is ignored, as the CPU does. */
	assert_int_equal(DECODE(&i, 0x48, 0x66, 0xED), 3);
	check_io(&i, 3, true, false, false, true, 2, 8);
	assert_int_equal(DECODE(&i, 0x48, 0x0F, 0xA2), 3);	/* REX on cpuid */
	assert_int_equal(i.kind, X86_INSN_CPUID);
}

static void test_cpuid(void **state)
{
	struct x86_insn i;

	assert_int_equal(DECODE(&i, 0x0F, 0xA2), 2);
	assert_int_equal(i.kind, X86_INSN_CPUID);
	assert_int_equal(i.len, 2);
	assert_int_equal(DECODE(&i, 0x66, 0x0F, 0xA2, 0xCC), 3);
	assert_int_equal(i.kind, X86_INSN_CPUID);
	assert_int_equal(i.len, 3);
	/* Other two-byte opcodes are not ours. */
	assert_int_equal(DECODE(&i, 0x0F, 0x05), X86_DECODE_NONE);	/* syscall */
	assert_int_equal(DECODE(&i, 0x0F, 0x31), X86_DECODE_NONE);	/* rdtsc */
	assert_int_equal(DECODE(&i, 0x0F, 0x0B), X86_DECODE_NONE);	/* ud2 */
}

static void test_lock(void **state)
{
	struct x86_insn i;

	assert_int_equal(DECODE(&i, 0xF0, 0xEC), X86_DECODE_NONE);
	assert_int_equal(DECODE(&i, 0x66, 0xF0, 0x6D), X86_DECODE_NONE);
	assert_int_equal(DECODE(&i, 0xF0, 0x0F, 0xA2), X86_DECODE_NONE);
}

static void test_truncated(void **state)
{
	struct x86_insn i;
	const uint8_t prefixes[] = { 0x66, 0xF3, 0x67, 0x64 };

	assert_int_equal(x86_decode_io(NULL, 0, &i), X86_DECODE_TRUNCATED);
	assert_int_equal(DECODE(&i, 0xE4), X86_DECODE_TRUNCATED);	/* imm8 missing */
	assert_int_equal(DECODE(&i, 0x66, 0xE7), X86_DECODE_TRUNCATED);
	assert_int_equal(DECODE(&i, 0x0F), X86_DECODE_TRUNCATED);
	assert_int_equal(DECODE(&i, 0x66), X86_DECODE_TRUNCATED);
	assert_int_equal(DECODE(&i, 0x48), X86_DECODE_TRUNCATED);
	assert_int_equal(x86_decode_io(prefixes, sizeof(prefixes), &i), X86_DECODE_TRUNCATED);
}

static void test_too_long(void **state)
{
	struct x86_insn i;
	uint8_t b[32];

	/* 14 prefixes + opcode = 15 bytes: the longest legal instruction. */
	memset(b, 0x66, sizeof(b));
	b[14] = 0xED;
	assert_int_equal(x86_decode_io(b, sizeof(b), &i), 15);
	check_io(&i, 15, true, false, false, true, 2, 8);
	/* 14 prefixes + E4 ib = 16 bytes: #GP on the CPU. */
	memset(b, 0x66, sizeof(b));
	b[14] = 0xE4;
	b[15] = 0x01;
	assert_int_equal(x86_decode_io(b, sizeof(b), &i), X86_DECODE_NONE);
	/* 15 prefixes: the opcode would be byte 16. */
	memset(b, 0xF3, sizeof(b));
	b[15] = 0x6C;
	assert_int_equal(x86_decode_io(b, sizeof(b), &i), X86_DECODE_NONE);
	/* ... even when the copy stops right at 15 bytes. */
	assert_int_equal(x86_decode_io(b, 15, &i), X86_DECODE_NONE);
	/* 13 prefixes + 0F A2 = 15 bytes: fine; 14 + 0F A2: too long. */
	memset(b, 0x3E, sizeof(b));
	b[13] = 0x0F;
	b[14] = 0xA2;
	assert_int_equal(x86_decode_io(b, sizeof(b), &i), 15);
	memset(b, 0x3E, sizeof(b));
	b[14] = 0x0F;
	b[15] = 0xA2;
	assert_int_equal(x86_decode_io(b, sizeof(b), &i), X86_DECODE_NONE);
	/* A run of REX bytes counts the same. */
	memset(b, 0x40, sizeof(b));
	b[20] = 0xEC;
	assert_int_equal(x86_decode_io(b, sizeof(b), &i), X86_DECODE_NONE);
}

static void test_not_io(void **state)
{
	static const uint8_t ops[] = {
		0x90, 0xC3, 0xCC, 0xCD, 0xE8, 0xE9, 0xEB, 0x8B, 0xA4, 0xA5, 0xAA, 0xAB,
		0xE0, 0xE1, 0xE2, 0xE3, 0xE8, 0xEA, 0xF4, 0xFA, 0xFB, 0x6A, 0x6B, 0x68,
		0x69, 0x62, 0xC4, 0xC5, 0xCF, 0xF1,
	};
	struct x86_insn i;

	for (size_t k = 0; k < sizeof(ops); k++) {
		uint8_t b[4] = { ops[k], 0x00, 0x00, 0x00 };

		/* Not ours, or longer than the copy (e8 rel32): either way not emulated. */
		assert_true(x86_decode_io(b, sizeof(b), &i) < 0);
	}
	/* Prefixes in front of a non-I/O opcode change nothing. */
	assert_int_equal(DECODE(&i, 0xF3, 0xA4), X86_DECODE_NONE);	/* rep movsb */
	assert_int_equal(DECODE(&i, 0x66, 0x48, 0x90), X86_DECODE_NONE);
}

/* Every one-byte opcode: exactly the twelve I/O ones decode. */
static void test_opcode_sweep(void **state)
{
	struct x86_insn i;
	int n = 0;

	for (int op = 0; op < 256; op++) {
		uint8_t b[3] = { (uint8_t)op, 0x12, 0x34 };
		int r = x86_decode_io(b, sizeof(b), &i);

		if (r > 0) {
			assert_int_equal(i.kind, X86_INSN_IO);
			n++;
		}
	}
	assert_int_equal(n, 12);
}

struct found {
	size_t off[16];
	unsigned int len[16];
	size_t n;
};

static void note_cpuid(void *opaque, size_t off, unsigned int len)
{
	struct found *f = opaque;

	if (f->n < 16) {
		f->off[f->n] = off;
		f->len[f->n] = len;
	}
	f->n++;
}

static size_t find(struct found *f, const uint8_t *code, size_t len)
{
	memset(f, 0, sizeof(*f));
	return x86_find_cpuid(code, len, note_cpuid, f);
}

/* The patcher's scan: real cpuid instructions only, never bytes 0F A2 inside another one. */
static void test_find_cpuid(void **state)
{
	static const uint8_t code[] = {
		0x55,					/* 0: push rbp */
		0xB8, 0x0F, 0xA2, 0x00, 0x00,		/* 1: mov eax, 0xa20f (imm holds 0F A2) */
		0x0F, 0xA2,				/* 6: cpuid */
		0x48, 0x8D, 0x05, 0x0F, 0xA2, 0x00, 0x00, /* 8: lea rax, [rip+0xa20f] */
		0x66, 0x0F, 0xA2,			/* 15: cpuid with a 66 prefix */
		0x0F, 0x1F, 0x44, 0x00, 0x00,		/* 18: nopl 0(rax,rax) */
		0xC7, 0x45, 0xFC, 0x90, 0x0F, 0xA2, 0x90, /* 23: mov dword [rbp-4], 0x90a20f90 */
		0x0F, 0xA2,				/* 30: cpuid */
		0xC3,					/* 32: ret */
	};
	static const uint8_t none[] = { 0x0F, 0x0B, 0x90, 0xA2, 0x0F };
	struct found f;

	assert_int_equal(find(&f, code, sizeof(code)), 3);
	assert_int_equal(f.off[0], 6);
	assert_int_equal(f.len[0], 2);
	assert_int_equal(f.off[1], 15);
	assert_int_equal(f.len[1], 3);
	assert_int_equal(f.off[2], 30);
	assert_int_equal(f.len[2], 2);
	/* No 0F A2 pair at all: nothing decoded, nothing found. */
	assert_int_equal(find(&f, none, sizeof(none)), 0);
	assert_int_equal(find(&f, none, 0), 0);
	assert_int_equal(find(&f, code, 1), 0);
	/* Cut in the middle of an instruction: what is there is still found. */
	assert_int_equal(find(&f, code, 8), 1);
	assert_int_equal(find(&f, code + 7, 1), 0);
	/* Starting inside the mov: the sweep sees its immediate as code, as a CPU jumping there would. */
	assert_int_equal(find(&f, code + 2, sizeof(code) - 2), 4);
	assert_int_equal(f.off[0], 0);
}

/* Known instruction boundaries (function starts) let the walk skip what precedes them. */
static void test_find_cpuid_synced(void **state)
{
	/* A stray B8 (mov eax, imm32) before a function that starts with cpuid. */
	static const uint8_t code[] = { 0xB8, 0x0F, 0xA2, 0xC3, 0x90, 0x90, 0x0F, 0xA2, 0xC3 };
	static const uint64_t at1[] = { 1 }, late[] = { 1, 6 }, past[] = { 100 };
	static const uint64_t at1_at_0x1000[] = { 0x1001 };
	struct found f;

	/* From byte 0 the first pair is the mov's immediate... */
	assert_int_equal(find(&f, code, sizeof(code)), 1);
	assert_int_equal(f.off[0], 6);
	/* ...from the boundary at 1 it is a cpuid, and so is the second. */
	memset(&f, 0, sizeof(f));
	assert_int_equal(x86_find_cpuid_synced(code, sizeof(code), 0, at1, 1, note_cpuid, &f), 2);
	assert_int_equal(f.off[0], 1);
	assert_int_equal(f.off[1], 6);
	memset(&f, 0, sizeof(f));
	assert_int_equal(x86_find_cpuid_synced(code, sizeof(code), 0, late, 2, note_cpuid, &f), 2);
	/* Boundaries are addresses: the same code loaded at 0x1000. */
	memset(&f, 0, sizeof(f));
	assert_int_equal(x86_find_cpuid_synced(code, sizeof(code), 0x1000, at1_at_0x1000, 1,
					       note_cpuid, &f), 2);
	assert_int_equal(f.off[0], 1);
	/* Boundaries past the end change nothing. */
	memset(&f, 0, sizeof(f));
	assert_int_equal(x86_find_cpuid_synced(code, sizeof(code), 0, past, 1, note_cpuid, &f), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_imm8),
		cmocka_unit_test(test_out_imm8),
		cmocka_unit_test(test_in_out_dx),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_rep),
		cmocka_unit_test(test_address_size),
		cmocka_unit_test(test_segments),
		cmocka_unit_test(test_rex),
		cmocka_unit_test(test_cpuid),
		cmocka_unit_test(test_lock),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_not_io),
		cmocka_unit_test(test_opcode_sweep),
		cmocka_unit_test(test_find_cpuid),
		cmocka_unit_test(test_find_cpuid_synced),
	};

	return cmocka_run_group_tests_name("x86-decode", tests, NULL, NULL);
}
