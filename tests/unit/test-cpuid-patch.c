// SPDX-License-Identifier: MIT
/*
 * Unit tests for the cpuid patcher's file part (cpuid_sites_in_elf): the
 * sites found in a real ELF file (this test program), and ELF headers that
 * lie.  The patching itself runs against real guests in tests/e2e/15-cpuid.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <elf.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "hypervisor/engines/cpuid-patch.h"

/* A cpuid at a known place in this program's .text, and the same bytes in .rodata. */
__asm__(".text\n"
	".globl probe_cpuid\n"
	".type probe_cpuid, @function\n"
	"probe_cpuid:\n"
	"	push %rbx\n"
	"	mov $0xa20f, %eax\n"	/* b8 0f a2 00 00: an immediate, not a cpuid */
	"	cpuid\n"
	"	pop %rbx\n"
	"	ret\n"
	".size probe_cpuid, .-probe_cpuid\n");
void probe_cpuid(void);
const volatile uint8_t rodata_bytes[4] = { 0x0F, 0xA2, 0x0F, 0xA2 };

static int fd_read(void *opaque, uint64_t off, void *out, size_t len)
{
	return pread(*(int *)opaque, out, len, (off_t)off) == (ssize_t)len ? 0 : -1;
}

/* The file offset of address `addr` of this process, from /proc/self/maps. */
static uint64_t file_offset_of(const void *addr)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	uint64_t a = (uint64_t)(uintptr_t)addr, res = UINT64_MAX;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		uint64_t start, end, off;

		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %*s %" SCNx64, &start, &end, &off) == 3 &&
		    a >= start && a < end) {
			res = a - start + off;
			break;
		}
	}
	fclose(f);
	return res;
}

static bool has_site(GArray *sites, uint64_t off, uint32_t len)
{
	for (guint i = 0; i < sites->len; i++) {
		const struct cpuid_site *s = &g_array_index(sites, struct cpuid_site, i);

		if (s->off == off && s->len == len)
			return true;
	}
	return false;
}

static void test_self(void **state)
{
	GArray *sites = g_array_new(FALSE, FALSE, sizeof(struct cpuid_site));
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	uint64_t fn = file_offset_of((const void *)(uintptr_t)probe_cpuid);
	uint64_t ro = file_offset_of((const void *)(uintptr_t)rodata_bytes);
	struct stat st;
	long long n;

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	n = cpuid_sites_in_elf(fd_read, &fd, (uint64_t)st.st_size, 1ull << 30, sites);
	assert_true(n > 0);
	/* push rbx (1) + mov (5): the cpuid is 6 bytes in, and nothing else of it is. */
	assert_true(has_site(sites, fn + 6, 2));
	for (guint i = 0; i < sites->len; i++) {
		const struct cpuid_site *s = &g_array_index(sites, struct cpuid_site, i);

		assert_true(s->off != fn + 2);			/* inside the mov */
		assert_false(s->off >= ro && s->off < ro + 4);	/* data */
		if (i)
			assert_true(s->off > g_array_index(sites, struct cpuid_site, i - 1).off);
	}
	/* Too much code for the cap: refused, nothing added. */
	g_array_set_size(sites, 0);
	assert_int_equal(cpuid_sites_in_elf(fd_read, &fd, (uint64_t)st.st_size, 16, sites), -1);
	assert_int_equal(sites->len, 0);
	close(fd);
	g_array_unref(sites);
}

/* A minimal ELF64 x86-64 file: header, `code` at 0x40, a null and a .text section header. */
static size_t make_elf(uint8_t *out, const uint8_t *code, size_t code_len, int nsect)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)out;
	size_t shoff = (sizeof(*eh) + code_len + 7) & ~(size_t)7;
	Elf64_Shdr *sh = (Elf64_Shdr *)(out + shoff);

	memset(out, 0, shoff + (size_t)(nsect + 1) * sizeof(*sh));
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_DYN;
	eh->e_machine = EM_X86_64;
	eh->e_shoff = shoff;
	eh->e_shentsize = sizeof(*sh);
	eh->e_shnum = (uint16_t)(nsect + 1);
	memcpy(out + sizeof(*eh), code, code_len);
	for (int i = 1; i <= nsect; i++) {
		sh[i].sh_type = SHT_PROGBITS;
		sh[i].sh_flags = SHF_ALLOC | SHF_EXECINSTR;
		sh[i].sh_offset = sizeof(*eh);
		sh[i].sh_size = code_len;
	}
	return shoff + (size_t)(nsect + 1) * sizeof(*sh);
}

static long long scan(const uint8_t *data, size_t len, GArray *sites)
{
	struct cpuid_mem_file b = { data, len };

	g_array_set_size(sites, 0);
	return cpuid_sites_in_elf(cpuid_mem_read, &b, len, 1 << 20, sites);
}

static void test_crafted(void **state)
{
	static const uint8_t code[] = { 0x90, 0x0F, 0xA2, 0xB8, 0x0F, 0xA2, 0x00, 0x00, 0xC3 };
	GArray *sites = g_array_new(FALSE, FALSE, sizeof(struct cpuid_site));
	uint8_t f[1024];
	size_t len = make_elf(f, code, sizeof(code), 1);
	Elf64_Ehdr *eh = (Elf64_Ehdr *)f;
	Elf64_Shdr *sh = (Elf64_Shdr *)(f + eh->e_shoff);

	assert_int_equal(scan(f, len, sites), sizeof(code));
	assert_int_equal(sites->len, 1);
	assert_true(has_site(sites, 0x41, 2));

	/* The same section listed twice: one site, not two. */
	len = make_elf(f, code, sizeof(code), 2);
	assert_int_equal(scan(f, len, sites), 2 * sizeof(code));
	assert_int_equal(sites->len, 1);

	/* Lies about where things are. */
	len = make_elf(f, code, sizeof(code), 1);
	sh[1].sh_size = 1ull << 62;
	assert_int_equal(scan(f, len, sites), -1);
	sh[1].sh_size = sizeof(code);
	sh[1].sh_offset = UINT64_MAX - 4;
	assert_int_equal(scan(f, len, sites), -1);
	sh[1].sh_offset = sizeof(*eh);
	eh->e_shoff = UINT64_MAX - 8;	/* the table is past the end: no sections, no segments */
	assert_int_equal(scan(f, len, sites), 0);
	assert_int_equal(sites->len, 0);
	eh->e_shoff = (sizeof(*eh) + sizeof(code) + 7) & ~7ull;
	eh->e_shnum = 0xFFFF;
	assert_int_equal(scan(f, len, sites), 0);
	eh->e_shnum = 2;
	eh->e_shentsize = 32;
	assert_int_equal(scan(f, len, sites), 0);
	eh->e_shentsize = sizeof(Elf64_Shdr);
	/* Not for us: 32-bit, big-endian, another machine, not ELF, too short. */
	eh->e_ident[EI_CLASS] = ELFCLASS32;
	assert_int_equal(scan(f, len, sites), -1);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2MSB;
	assert_int_equal(scan(f, len, sites), -1);
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_machine = EM_AARCH64;
	assert_int_equal(scan(f, len, sites), -1);
	eh->e_machine = EM_X86_64;
	f[1] = 'X';
	assert_int_equal(scan(f, len, sites), -1);
	f[1] = 'E';
	assert_int_equal(scan(f, 40, sites), -1);
	assert_int_equal(scan(f, len, sites), sizeof(code));

	/* No section headers: the executable segment is decoded instead. */
	{
		Elf64_Phdr *ph = (Elf64_Phdr *)(f + 512);

		eh->e_shoff = 0;
		eh->e_shnum = 0;
		eh->e_phoff = 512;
		eh->e_phnum = 1;
		eh->e_phentsize = sizeof(*ph);
		memset(ph, 0, sizeof(*ph));
		ph->p_type = PT_LOAD;
		ph->p_flags = PF_R | PF_X;
		ph->p_offset = sizeof(*eh);
		ph->p_filesz = sizeof(code);
		assert_int_equal(scan(f, 512 + sizeof(*ph), sites), sizeof(code));
		assert_true(has_site(sites, 0x41, 2));
		ph->p_flags = PF_R;	/* not executable: not code */
		assert_int_equal(scan(f, 512 + sizeof(*ph), sites), 0);
		ph->p_flags = PF_R | PF_X;
		ph->p_filesz = 1ull << 40;
		assert_int_equal(scan(f, 512 + sizeof(*ph), sites), -1);
	}
	g_array_unref(sites);
}

/*
 * Function starts from .eh_frame_hdr: a cpuid found through them, and a
 * table whose every start lies below the code (the fuzzer's first find:
 * no sync point left for the range).
 */
static void test_eh_frame_starts(void **state)
{
	/* B8 swallows the next four bytes unless the walk starts at 1, a function start. */
	static const uint8_t code[] = { 0xB8, 0x0F, 0xA2, 0xC3, 0x90, 0x90, 0x90, 0x90 };
	GArray *sites = g_array_new(FALSE, FALSE, sizeof(struct cpuid_site));
	uint8_t f[1024];
	size_t len = make_elf(f, code, sizeof(code), 1);
	Elf64_Ehdr *eh = (Elf64_Ehdr *)f;
	Elf64_Shdr *sh = (Elf64_Shdr *)(f + eh->e_shoff);
	Elf64_Phdr *ph = (Elf64_Phdr *)(f + 512);
	uint8_t *hdr = f + 600;
	int32_t loc, count = 1;

	sh[1].sh_addr = 0x2000;
	eh->e_phoff = 512;
	eh->e_phnum = 1;
	eh->e_phentsize = sizeof(*ph);
	memset(ph, 0, sizeof(*ph));
	ph->p_type = PT_GNU_EH_FRAME;
	ph->p_offset = 600;
	ph->p_vaddr = 0x3000;
	ph->p_filesz = 20;
	memcpy(hdr, (const uint8_t[]){ 1, 0x1B, 0x03, 0x3B, 0, 0, 0, 0 }, 8);
	memcpy(hdr + 8, &count, 4);
	loc = 0x2001 - 0x3000;		/* a function at the code's second byte */
	memcpy(hdr + 12, &loc, 4);
	memset(hdr + 16, 0, 4);
	len = 620;

	assert_int_equal(scan(f, len, sites), sizeof(code));
	assert_int_equal(sites->len, 1);
	assert_true(has_site(sites, sizeof(Elf64_Ehdr) + 1, 2));
	/* Every start below the code: the walk is the whole-section one. */
	loc = 0x1000 - 0x3000;
	memcpy(hdr + 12, &loc, 4);
	assert_int_equal(scan(f, len, sites), sizeof(code));
	assert_int_equal(sites->len, 0);
	/* An empty table (count 0): no sync point, and no pointer made from none. */
	count = 0;
	memcpy(hdr + 8, &count, 4);
	assert_int_equal(scan(f, len, sites), sizeof(code));
	assert_int_equal(sites->len, 0);
	/* A count the header can't hold: no starts at all. */
	count = 1000;
	memcpy(hdr + 8, &count, 4);
	assert_int_equal(scan(f, len, sites), sizeof(code));
	assert_int_equal(sites->len, 0);
	g_array_unref(sites);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_self),
		cmocka_unit_test(test_crafted),
		cmocka_unit_test(test_eh_frame_starts),
	};

	return cmocka_run_group_tests_name("cpuid-patch", tests, NULL, NULL);
}
