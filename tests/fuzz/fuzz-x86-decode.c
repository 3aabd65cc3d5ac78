// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the trap engine's decoding of guest code
 * (hypervisor/engines/x86-decode.c): the instruction at a trapped RIP, and
 * the cpuid scan over a stretch of code.  Results must be self-consistent:
 * a decoded length within the bytes given, a port I/O size of 1, 2 or 4, and
 * every cpuid found ending in 0F A2 inside the buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hypervisor/engines/x86-decode.h"

static const uint8_t *buf;
static size_t buf_len;

static void found(void *opaque, size_t off, unsigned int len)
{
	size_t *last_end = opaque;

	if (len < 2 || len > X86_MAX_INSN_LEN || off < *last_end || off + len > buf_len ||
	    buf[off + len - 2] != 0x0F || buf[off + len - 1] != 0xA2)
		abort();
	*last_end = off + len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct x86_insn insn;
	size_t last_end = 0;
	int n = x86_decode_io(data, size, &insn);

	if (n > 0) {
		if ((size_t)n > size || n > X86_MAX_INSN_LEN || insn.len != n)
			abort();
		if (insn.kind == X86_INSN_IO &&
		    ((insn.size != 1 && insn.size != 2 && insn.size != 4) ||
		     (insn.addr_size != 4 && insn.addr_size != 8) || (insn.rep && !insn.string)))
			abort();
	} else if (n != X86_DECODE_NONE && n != X86_DECODE_TRUNCATED) {
		abort();
	}
	buf = data;
	buf_len = size;
	x86_find_cpuid(data, size, found, &last_end);
	return 0;
}
