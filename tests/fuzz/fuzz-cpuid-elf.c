// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the cpuid patcher's ELF reader and code scan
 * (hypervisor/engines/cpuid-patch.c), which read files a guest chose to map.
 * Whatever the bytes, it returns, reads only inside the file, and reports
 * sites inside its executable sections, in order, never overlapping.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hypervisor/engines/cpuid-patch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cpuid_mem_file b = { data, size };
	GArray *sites = g_array_new(FALSE, FALSE, sizeof(struct cpuid_site));
	long long n = cpuid_sites_in_elf(cpuid_mem_read, &b, size, 1 << 20, sites);

	if (n < 0 && sites->len)
		abort();	/* a refused file adds nothing */
	for (guint i = 0; i < sites->len; i++) {
		const struct cpuid_site *s = &g_array_index(sites, struct cpuid_site, i);

		if (s->len < 2 || s->len > 15 || s->off + s->len > size ||
		    data[s->off + s->len - 2] != 0x0F || data[s->off + s->len - 1] != 0xA2)
			abort();
		if (i && s->off < g_array_index(sites, struct cpuid_site, i - 1).off +
				  g_array_index(sites, struct cpuid_site, i - 1).len)
			abort();
	}
	g_array_unref(sites);
	return 0;
}
