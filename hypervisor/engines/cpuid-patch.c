// SPDX-License-Identifier: MIT
/*
 * cpuid by code patching.  See cpuid-patch.h.
 *
 * A guest chooses the files it maps, so everything read here is hostile
 * input: the ELF headers are checked against the file's size before use,
 * code is read with pread (a file truncated meanwhile gives a short read,
 * never a SIGBUS), files are opened inside the guest's root (RESOLVE_IN_ROOT:
 * an absolute symlink can't reach a host file) without blocking, and the
 * work per mapping is capped.  Patches go through /proc/PID/mem, which
 * writes a private copy of the page (FOLL_FORCE, copy-on-write): the file
 * on disk and other processes mapping it are untouched.
 */
#define G_LOG_DOMAIN "porthole-hv"
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cpuid-patch.h"
#include "x86-decode.h"

/*
 * Code read per file at most (a browser's .text is ~200 MB; it is read
 * one section at a time into memory, so this bounds what a guest's file
 * can make the hypervisor allocate), and cpuid sites per file and per
 * region (real programs have dozens; a file of nothing but 0F A2 must not
 * turn into hundreds of millions of patches).
 */
#define MAX_FILE_CODE		(256ull << 20)
#define MAX_SITES		65536
#define MAX_ASPACE_SITES	(4 * MAX_SITES)
/* .eh_frame_hdr read at most (one 8-byte entry per function). */
#define MAX_EH_HDR		(64u << 20)
/* An anonymous executable region is read and decoded up to this size. */
#define MAX_REGION_BYTES	(64ull << 20)
#define MAX_CODE_RANGES		4096

static const uint8_t CPUID_BYTES[2] = { 0x0F, 0xA2 };
static const uint8_t UD2_BYTES[2] = { 0x0F, 0x0B };

struct file_key {
	uint64_t dev, ino, size;
	int64_t mtime_ns;
};

struct file_entry {
	struct file_key key;
	bool elf;		/* false: not an ELF we can read; scan the mapping's memory */
	GArray *sites;		/* struct cpuid_site, by file offset */
};

struct cpuid_patcher {
	GHashTable *files;	/* struct file_key * -> struct file_entry */
	/* The engine's own file in every process (the guest vDSO): never looked at. */
	bool own_set;
	unsigned int own_maj, own_min;
	uint64_t own_ino;
	struct cpuid_patch_stats st;
	uint8_t *buf;		/* scratch for code, reused */
	size_t buf_size;
};

struct cpuid_aspace {
	int refs;
	GHashTable *sites;	/* address -> length of the cpuid patched there */
};

/* ---- address spaces ---- */

struct cpuid_aspace *cpuid_aspace_new(void)
{
	struct cpuid_aspace *as = g_new0(struct cpuid_aspace, 1);

	as->refs = 1;
	as->sites = g_hash_table_new(g_direct_hash, g_direct_equal);
	return as;
}

struct cpuid_aspace *cpuid_aspace_ref(struct cpuid_aspace *as)
{
	as->refs++;
	return as;
}

struct cpuid_aspace *cpuid_aspace_copy(const struct cpuid_aspace *as)
{
	struct cpuid_aspace *copy = cpuid_aspace_new();
	GHashTableIter it;
	gpointer k, v;

	g_hash_table_iter_init(&it, as->sites);
	while (g_hash_table_iter_next(&it, &k, &v))
		g_hash_table_insert(copy->sites, k, v);
	return copy;
}

void cpuid_aspace_unref(struct cpuid_aspace *as)
{
	if (!as || --as->refs > 0)
		return;
	g_hash_table_destroy(as->sites);
	g_free(as);
}

unsigned int cpuid_patched_at(const struct cpuid_aspace *as, uint64_t rip)
{
	return as ? GPOINTER_TO_UINT(g_hash_table_lookup(as->sites, GSIZE_TO_POINTER(rip))) : 0;
}

struct range {
	uint64_t start, end;
};

/* Code in a file: [start, end) of the file, loaded at vaddr. */
struct code_range {
	uint64_t start, end, vaddr;
};

static gboolean site_in_range(gpointer k, gpointer v, gpointer p)
{
	const struct range *r = p;
	uint64_t a = GPOINTER_TO_SIZE(k);

	return a >= r->start && a < r->end;
}

static void forget_range(struct cpuid_aspace *as, uint64_t start, uint64_t end)
{
	struct range r = { start, end };

	g_hash_table_foreach_remove(as->sites, site_in_range, &r);
}

/* ---- the patcher ---- */

static guint file_key_hash(gconstpointer p)
{
	const struct file_key *k = p;

	return (guint)(k->ino * 0x9E3779B97F4A7C15ull ^ k->dev ^ k->size ^ (uint64_t)k->mtime_ns);
}

static gboolean file_key_equal(gconstpointer a, gconstpointer b)
{
	return !memcmp(a, b, sizeof(struct file_key));
}

static void file_entry_free(gpointer p)
{
	struct file_entry *f = p;

	g_array_unref(f->sites);
	g_free(f);
}

struct cpuid_patcher *cpuid_patcher_new(void)
{
	struct cpuid_patcher *p = g_new0(struct cpuid_patcher, 1);

	p->files = g_hash_table_new_full(file_key_hash, file_key_equal, NULL, file_entry_free);
	return p;
}

void cpuid_patcher_free(struct cpuid_patcher *p)
{
	if (!p)
		return;
	g_hash_table_destroy(p->files);
	g_free(p->buf);
	g_free(p);
}

void cpuid_patcher_stats(const struct cpuid_patcher *p, struct cpuid_patch_stats *out)
{
	*out = p->st;
}

static uint8_t *scratch(struct cpuid_patcher *p, size_t len)
{
	if (len > p->buf_size) {
		g_free(p->buf);
		p->buf = g_malloc(len);
		p->buf_size = len;
	}
	return p->buf;
}

/* ---- ELF files ---- */

struct site_sink {
	GArray *sites;
	uint64_t base;
	bool full;		/* MAX_SITES reached: the file is refused */
};

static void add_site(void *opaque, size_t off, unsigned int len)
{
	struct site_sink *s = opaque;
	struct cpuid_site site = { s->base + off, len };

	if (s->sites->len >= MAX_SITES) {
		s->full = true;
		return;
	}
	g_array_append_val(s->sites, site);
}

static int site_cmp(gconstpointer a, gconstpointer b)
{
	const struct cpuid_site *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

static int site_cmp_u64(gconstpointer a, gconstpointer b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * In an array sorted by its elements' leading uint64_t (a struct cpuid_site
 * by file offset, or plain addresses), the index of the first element whose
 * key is at least `key` (len when there is none).
 */
static guint lower_bound(const GArray *a, uint64_t key)
{
	guint lo = 0, hi = a ? a->len : 0;
	size_t size = a ? g_array_get_element_size((GArray *)a) : 0;

	while (lo < hi) {
		guint mid = lo + (hi - lo) / 2;
		uint64_t k;

		memcpy(&k, a->data + (size_t)mid * size, sizeof(k));
		if (k < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* [off, off + len) lies within a file of `size` bytes. */
static bool within(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

/*
 * Function starts from the .eh_frame_hdr search table (PT_GNU_EH_FRAME), as
 * virtual addresses, ascending: every function a compiler emits has unwind
 * information, so these are instruction boundaries the cpuid scan can start
 * from instead of walking all the code before.  Only the encodings GNU ld
 * writes (version 1, pcrel|sdata4, udata4, datarel|sdata4); anything else
 * (or none) gives NULL and the scan walks each section whole.
 */
static GArray *function_starts(cpuid_read_fn rd, void *opaque, uint64_t size,
			       const Elf64_Phdr *ph, unsigned int n_ph)
{
	const Elf64_Phdr *h = NULL;
	uint8_t *hdr;
	uint32_t count;
	GArray *starts = NULL;

	for (unsigned int i = 0; i < n_ph; i++) {
		if (ph[i].p_type == PT_GNU_EH_FRAME)
			h = &ph[i];
	}
	if (!h || h->p_filesz < 12 || h->p_filesz > MAX_EH_HDR ||
	    !within(h->p_offset, h->p_filesz, size))
		return NULL;
	hdr = g_malloc(h->p_filesz);
	if (rd(opaque, h->p_offset, hdr, h->p_filesz) || hdr[0] != 1 || hdr[1] != 0x1B ||
	    hdr[2] != 0x03 || hdr[3] != 0x3B)
		goto out;
	memcpy(&count, hdr + 8, 4);
	if ((uint64_t)count * 8 > h->p_filesz - 12)
		goto out;
	starts = g_array_sized_new(FALSE, FALSE, sizeof(uint64_t), count);
	for (uint32_t i = 0; i < count; i++) {
		int32_t loc;
		uint64_t v;

		memcpy(&loc, hdr + 12 + 8 * (size_t)i, 4);
		v = h->p_vaddr + (uint64_t)(int64_t)loc;
		g_array_append_val(starts, v);
	}
	/* The table is sorted for a binary search; a crafted one may not be. */
	g_array_sort(starts, (GCompareFunc)site_cmp_u64);
out:
	g_free(hdr);
	return starts;
}

static long long decode_ranges(cpuid_read_fn rd, void *opaque, const struct code_range *r,
			       size_t n, const GArray *starts, uint64_t max_code, GArray *sites)
{
	uint64_t total = 0, biggest = 0;
	uint8_t *buf;
	size_t before = sites->len;
	guint kept;
	bool failed = false;

	for (size_t i = 0; i < n; i++) {
		total += r[i].end - r[i].start;
		biggest = MAX(biggest, r[i].end - r[i].start);
	}
	if (total > max_code)
		return -1;
	buf = g_malloc(biggest ? biggest : 1);
	for (size_t i = 0; i < n && !failed; i++) {
		struct site_sink sink = { sites, r[i].start, false };
		size_t len = (size_t)(r[i].end - r[i].start);
		guint first = lower_bound(starts, r[i].vaddr);
		guint n_sync = starts ? starts->len - first : 0;

		failed = rd(opaque, r[i].start, buf, len) != 0;
		if (failed)
			break;
		/* The function starts from this range's address on are its sync points. */
		x86_find_cpuid_synced(buf, len, r[i].vaddr,
				      n_sync ? &g_array_index(starts, uint64_t, first) : NULL, n_sync,
				      add_site, &sink);
		failed = sink.full;
	}
	g_free(buf);
	if (failed) {
		g_array_set_size(sites, before);
		return -1;
	}
	/* Sections may be listed in any order and may overlap in a crafted file. */
	g_array_sort(sites, site_cmp);
	kept = before;
	for (guint i = before; i < sites->len; i++) {
		const struct cpuid_site *cur = &g_array_index(sites, struct cpuid_site, i);

		if (kept > before) {
			const struct cpuid_site *last = &g_array_index(sites, struct cpuid_site,
								      kept - 1);

			if (cur->off < last->off + last->len)
				continue;
		}
		g_array_index(sites, struct cpuid_site, kept++) = *cur;
	}
	g_array_set_size(sites, kept);
	return (long long)total;
}

long long cpuid_sites_in_elf(cpuid_read_fn rd, void *opaque, uint64_t size, uint64_t max_code,
			     GArray *sites)
{
	Elf64_Ehdr eh;
	Elf64_Phdr *ph = NULL;
	struct code_range *r = g_new(struct code_range, MAX_CODE_RANGES);
	unsigned int n_ph = 0;
	GArray *starts = NULL;
	size_t n = 0;
	long long ret = -1;

	if (size < sizeof(eh) || rd(opaque, 0, &eh, sizeof(eh)))
		goto out;
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64)
		goto out;
	if (eh.e_phoff && eh.e_phnum && eh.e_phentsize == sizeof(Elf64_Phdr) &&
	    within(eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr), size)) {
		ph = g_new(Elf64_Phdr, eh.e_phnum);
		if (rd(opaque, eh.e_phoff, ph, (size_t)eh.e_phnum * sizeof(Elf64_Phdr)))
			goto out;
		n_ph = eh.e_phnum;
	}

	if (eh.e_shoff && eh.e_shnum && eh.e_shentsize == sizeof(Elf64_Shdr) &&
	    within(eh.e_shoff, (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr), size)) {
		Elf64_Shdr *sh = g_new(Elf64_Shdr, eh.e_shnum);

		if (rd(opaque, eh.e_shoff, sh, (size_t)eh.e_shnum * sizeof(Elf64_Shdr))) {
			g_free(sh);
			goto out;
		}
		for (unsigned int i = 0; i < eh.e_shnum && n < MAX_CODE_RANGES; i++) {
			if (!(sh[i].sh_flags & SHF_EXECINSTR) || sh[i].sh_type == SHT_NOBITS ||
			    !sh[i].sh_size)
				continue;
			if (!within(sh[i].sh_offset, sh[i].sh_size, size)) {
				g_free(sh);
				goto out;
			}
			r[n++] = (struct code_range){ sh[i].sh_offset, sh[i].sh_offset + sh[i].sh_size,
						      sh[i].sh_addr };
		}
		g_free(sh);
	}
	/* No section headers (stripped to the bone): the executable segments. */
	for (unsigned int i = 0; !n && i < n_ph; i++) {
		if (ph[i].p_type != PT_LOAD || !(ph[i].p_flags & PF_X) || !ph[i].p_filesz)
			continue;
		if (!within(ph[i].p_offset, ph[i].p_filesz, size))
			goto out;
		r[n++] = (struct code_range){ ph[i].p_offset, ph[i].p_offset + ph[i].p_filesz,
					      ph[i].p_vaddr };
	}
	starts = function_starts(rd, opaque, size, ph, n_ph);
	ret = decode_ranges(rd, opaque, r, n, starts, max_code, sites);
out:
	if (starts)
		g_array_unref(starts);
	g_free(ph);
	g_free(r);
	return ret;
}

int cpuid_mem_read(void *opaque, uint64_t off, void *buf, size_t len)
{
	const struct cpuid_mem_file *f = opaque;

	if (off > f->len || len > f->len - off)
		return -1;
	memcpy(buf, f->data + off, len);
	return 0;
}

static int fd_read(void *opaque, uint64_t off, void *buf, size_t len)
{
	int fd = *(int *)opaque;

	while (len) {
		ssize_t n = pread(fd, buf, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf = (uint8_t *)buf + n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

/* ---- mappings ---- */

struct mapping {
	uint64_t start, end, off, ino;
	unsigned int maj, min;
	char perms[8];
	const char *path;	/* "" for anonymous memory */
};

/* /proc/TID/maps as one NUL-terminated string, or NULL when the process is gone. */
static char *read_maps(pid_t tid)
{
	char path[64], *text = NULL;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)tid);
	return g_file_get_contents(path, &text, NULL, NULL) ? text : NULL;
}

/*
 * The next mapping of a maps text at *cursor (which it advances), as
 * sandbox.c walks mountinfo.  Malformed lines are skipped; false at the end.
 */
static bool next_mapping(char **cursor, struct mapping *m)
{
	while (*cursor && **cursor) {
		unsigned int maj, min;
		char *line = *cursor, *nl = strchr(line, '\n');
		int n = 0;

		*cursor = nl ? nl + 1 : NULL;
		if (nl)
			*nl = '\0';
		memset(m, 0, sizeof(*m));
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %x:%x %" SCNu64 " %n",
			   &m->start, &m->end, m->perms, &m->off, &maj, &min, &m->ino, &n) < 7 ||
		    !n || m->end <= m->start)
			continue;
		m->maj = maj;
		m->min = min;
		m->path = line + n;
		return true;
	}
	return false;
}

/*
 * The file behind a mapping, opened read-only: exactly the mapped file via
 * map_files where we may (CAP_SYS_ADMIN), else its path inside the guest's
 * root, accepted only if it is the mapped inode.  -1 when neither works.
 */
static int open_mapped_file(pid_t tid, const struct mapping *m, struct stat *st)
{
	char path[96];
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd, root;

	snprintf(path, sizeof(path), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, (int)tid,
		 m->start, m->end);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0 && m->path[0] == '/' && !g_str_has_suffix(m->path, " (deleted)")) {
		snprintf(path, sizeof(path), "/proc/%d/root", (int)tid);
		root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (root >= 0) {
			fd = (int)syscall(SYS_openat2, root, m->path + 1, &how, sizeof(how));
			close(root);
		}
		if (fd >= 0 && (fstat(fd, st) || st->st_ino != m->ino)) {
			close(fd);
			fd = -1;
		}
	}
	if (fd >= 0 && (fstat(fd, st) || !S_ISREG(st->st_mode))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* The decoded cpuid sites of the file behind `m`, from the cache or decoded now. */
static struct file_entry *file_sites(struct cpuid_patcher *p, pid_t tid, const struct mapping *m)
{
	struct file_key key;
	struct file_entry *f;
	struct stat st;
	long long decoded;
	int fd = open_mapped_file(tid, m, &st);

	if (fd < 0)
		return NULL;
	memset(&key, 0, sizeof(key));
	key.dev = st.st_dev;
	key.ino = st.st_ino;
	key.size = (uint64_t)st.st_size;
	key.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	f = g_hash_table_lookup(p->files, &key);
	if (f) {
		close(fd);
		p->st.cache_hits++;
		return f;
	}
	f = g_new0(struct file_entry, 1);
	f->key = key;
	f->sites = g_array_new(FALSE, FALSE, sizeof(struct cpuid_site));
	decoded = cpuid_sites_in_elf(fd_read, &fd, key.size, MAX_FILE_CODE, f->sites);
	close(fd);
	f->elf = decoded >= 0;
	if (f->elf) {
		p->st.files_decoded++;
		p->st.bytes_decoded += (uint64_t)decoded;
	}
	g_hash_table_insert(p->files, &f->key, f);
	return f;
}

/* Turn the cpuid of `len` bytes at `addr` into ud2 (its last two bytes). */
static int patch_site(struct cpuid_patcher *p, struct cpuid_aspace *as, int mem, uint64_t addr,
		      unsigned int len)
{
	uint8_t b[2];

	if (len < 2 || len > X86_MAX_INSN_LEN ||
	    pread(mem, b, 2, (off_t)(addr + len - 2)) != 2)
		return 0;
	if (!memcmp(b, UD2_BYTES, 2)) {
		/*
		 * Where the file has a cpuid: patched before (the mapping was
		 * made executable again, or a forked parent patched it).
		 */
		g_hash_table_insert(as->sites, GSIZE_TO_POINTER(addr), GUINT_TO_POINTER(len));
		return 0;
	}
	/* Each site costs the hypervisor memory: a guest gets this many per process. */
	if (g_hash_table_size(as->sites) >= MAX_ASPACE_SITES) {
		p->st.skipped++;
		return 0;
	}
	if (memcmp(b, CPUID_BYTES, 2) ||
	    pwrite(mem, UD2_BYTES, 2, (off_t)(addr + len - 2)) != 2)
		return 0;
	g_hash_table_insert(as->sites, GSIZE_TO_POINTER(addr), GUINT_TO_POINTER(len));
	p->st.sites_patched++;
	return 1;
}

static int patch_file_mapping(struct cpuid_patcher *p, struct cpuid_aspace *as, int mem,
			      const struct mapping *m, const struct file_entry *f, uint64_t lo,
			      uint64_t hi)
{
	const struct cpuid_site *s = (const struct cpuid_site *)(void *)f->sites->data;
	uint64_t map_len = m->end - m->start;
	int n = 0;

	for (guint a = lower_bound(f->sites, m->off); a < f->sites->len && s[a].off - m->off < map_len; a++) {
		uint64_t addr = m->start + (s[a].off - m->off);

		if (s[a].off - m->off + s[a].len > map_len || addr < lo || addr >= hi)
			continue;
		n += patch_site(p, as, mem, addr, s[a].len);
	}
	return n;
}

struct mem_sink {
	struct cpuid_patcher *p;
	struct cpuid_aspace *as;
	int mem;
	uint64_t base;
	int n;
};

static void patch_found(void *opaque, size_t off, unsigned int len)
{
	struct mem_sink *s = opaque;

	if (s->n < MAX_SITES)
		s->n += patch_site(s->p, s->as, s->mem, s->base + off, len);
}

/* Memory with no file we can decode (anonymous, JIT, or an unreadable file): decode it. */
static int patch_memory(struct cpuid_patcher *p, struct cpuid_aspace *as, int mem, uint64_t lo,
			uint64_t hi)
{
	struct mem_sink sink = { p, as, mem, lo, 0 };
	size_t len = (size_t)(hi - lo), got = 0;
	uint8_t *buf;

	if (hi - lo > MAX_REGION_BYTES) {
		p->st.skipped++;
		return 0;
	}
	buf = scratch(p, len);
	while (got < len) {
		ssize_t n = pread(mem, buf + got, len - got, (off_t)(lo + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got < 2)
		return 0;
	p->st.regions_scanned++;
	p->st.bytes_decoded += got;
	x86_find_cpuid(buf, got, patch_found, &sink);
	return sink.n;
}

void cpuid_patcher_own_file(struct cpuid_patcher *p, dev_t dev, ino_t ino)
{
	p->own_set = true;
	p->own_maj = major(dev);
	p->own_min = minor(dev);
	p->own_ino = ino;
}

int cpuid_patch_range(struct cpuid_patcher *p, struct cpuid_aspace *as, pid_t tid,
		      uint64_t start, uint64_t end, bool fresh)
{
	char path[64], *maps, *cursor;
	struct mapping m;
	int mem, n = 0;

	if (fresh)
		forget_range(as, start, end);
	maps = read_maps(tid);
	if (!maps)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)tid);
	mem = open(path, O_RDWR | O_CLOEXEC);
	if (mem < 0) {
		g_free(maps);
		return -1;
	}
	for (cursor = maps; next_mapping(&cursor, &m);) {
		uint64_t lo, hi;

		if (m.perms[2] != 'x' || m.end <= start || m.start >= end)
			continue;
		/* The kernel's own pages: nothing of the guest's to patch, and not writable. */
		if (m.path[0] == '[' && (!strcmp(m.path, "[vdso]") || !strcmp(m.path, "[vsyscall]") ||
					 !strcmp(m.path, "[uprobes]")))
			continue;
		if (p->own_set && m.ino == p->own_ino && m.maj == p->own_maj &&
		    m.min == p->own_min)
			continue;
		/* Writing a shared mapping would write the file (or other processes' memory). */
		if (m.perms[3] == 's') {
			p->st.skipped++;
			continue;
		}
		lo = MAX(m.start, start);
		hi = MIN(m.end, end);
		if (m.ino) {
			struct file_entry *f = file_sites(p, tid, &m);

			if (f && f->elf) {
				n += patch_file_mapping(p, as, mem, &m, f, lo, hi);
				continue;
			}
		}
		n += patch_memory(p, as, mem, lo, hi);
	}
	close(mem);
	g_free(maps);
	return n;
}

unsigned int cpuid_patch_recover(struct cpuid_patcher *p, struct cpuid_aspace *as, pid_t tid,
				 uint64_t rip)
{
	char *maps = read_maps(tid), *cursor;
	struct file_entry *f;
	struct mapping m;
	unsigned int len = 0;

	for (cursor = maps; next_mapping(&cursor, &m);) {
		const struct cpuid_site *s;
		uint64_t off;
		guint i;

		if (rip < m.start || rip >= m.end)
			continue;
		if (m.perms[2] != 'x' || !m.ino || !(f = file_sites(p, tid, &m)) || !f->elf)
			break;
		off = rip - m.start + m.off;
		i = lower_bound(f->sites, off);
		s = &g_array_index(f->sites, struct cpuid_site, i);
		/* The caller checks that our ud2 is still there before it emulates. */
		if (i < f->sites->len && s->off == off && rip + s->len <= m.end) {
			len = s->len;
			g_hash_table_insert(as->sites, GSIZE_TO_POINTER(rip), GUINT_TO_POINTER(len));
		}
		break;
	}
	g_free(maps);
	return len;
}
