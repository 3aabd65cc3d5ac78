// SPDX-License-Identifier: MIT
/*
 * Guest loading for the KVM engine.  See kvm-boot.h for the memory layout.
 *
 * Both entry paths start the vCPU directly in 64-bit long mode with paging
 * on, as Linux's 64-bit boot protocol asks (Documentation/arch/x86/boot.rst,
 * "64-bit Boot Protocol"): no BIOS, no real mode.  The Linux path fills a
 * boot_params page the way that document and zero-page.rst describe: the
 * setup header copied from the image, then the loader's fields, the e820
 * memory map, the command line and the initrd.
 */
#define G_LOG_DOMAIN "porthole-hv"
#include <glib.h>
#include <string.h>

#include "kvm-boot.h"

#define BOOT_GDT		0x500ull
#define BOOT_PML4		0x1000ull
#define BOOT_PDPT		0x2000ull
#define BOOT_PD			0x3000ull	/* four pages */
#define BOOT_PARAMS		0x7000ull
#define BOOT_CMDLINE		0x20000ull
#define BOOT_CMDLINE_MAX	0x10000ull
#define BOOT_SEL_CODE		0x10
#define BOOT_SEL_DATA		0x18

#define PTE_P			0x001ull
#define PTE_RW			0x002ull
#define PTE_PS			0x080ull

#define CR0_PE			(1ull << 0)
#define CR0_MP			(1ull << 1)
#define CR0_ET			(1ull << 4)
#define CR0_NE			(1ull << 5)
#define CR0_WP			(1ull << 16)
#define CR0_PG			(1ull << 31)
#define CR4_PAE			(1ull << 5)
#define CR4_OSFXSR		(1ull << 9)
#define CR4_OSXMMEXCPT		(1ull << 10)
#define EFER_LME		(1ull << 8)
#define EFER_LMA		(1ull << 10)

/* boot_params ("zero page") offsets, Documentation/arch/x86/zero-page.rst */
#define BP_EXT_RAMDISK_IMAGE	0x0C0
#define BP_EXT_RAMDISK_SIZE	0x0C4
#define BP_EXT_CMD_LINE_PTR	0x0C8
#define BP_E820_ENTRIES		0x1E8
#define BP_SENTINEL		0x1EF
#define BP_HDR			0x1F1		/* struct setup_header starts here */
#define BP_E820_TABLE		0x2D0
#define BP_E820_MAX		128
/* setup header fields, Documentation/arch/x86/boot.rst */
#define HDR_SETUP_SECTS		0x1F1
#define HDR_VID_MODE		0x1FA
#define HDR_BOOT_FLAG		0x1FE
#define HDR_JUMP		0x200
#define HDR_HEADER		0x202
#define HDR_VERSION		0x206
#define HDR_TYPE_OF_LOADER	0x210
#define HDR_LOADFLAGS		0x211
#define HDR_RAMDISK_IMAGE	0x218
#define HDR_RAMDISK_SIZE	0x21C
#define HDR_CMD_LINE_PTR	0x228
#define HDR_INITRD_ADDR_MAX	0x22C
#define HDR_KERNEL_ALIGNMENT	0x230
#define HDR_XLOADFLAGS		0x236
#define HDR_CMDLINE_SIZE	0x238
#define HDR_PREF_ADDRESS	0x258
#define HDR_INIT_SIZE		0x260
#define HDR_END_MAX		0x290		/* clamp for the copied header */
#define LOADED_HIGH		0x01
#define XLF_KERNEL_64		0x01
#define E820_RAM		1
#define E820_RESERVED		2

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16;
}

static uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, (uint16_t)v);
	wr16(p + 2, (uint16_t)(v >> 16));
}

static void wr64(uint8_t *p, uint64_t v)
{
	wr32(p, (uint32_t)v);
	wr32(p + 4, (uint32_t)(v >> 32));
}

static struct kvm_segment segment(uint16_t sel, uint8_t type, bool code)
{
	return (struct kvm_segment){
		.base = 0, .limit = 0xFFFFFFFF, .selector = sel, .type = type,
		.present = 1, .dpl = 0, .db = code ? 0 : 1, .s = 1, .l = code ? 1 : 0, .g = 1,
	};
}

/* GDT, identity-mapping page tables, long-mode control registers. */
static int setup_long_mode(const struct kvm_guest_ram *ram, struct kvm_regs *regs,
			   struct kvm_sregs *sregs)
{
	uint8_t *gdt = kvm_gpa(ram, BOOT_GDT, 32);
	uint8_t *pml4 = kvm_gpa(ram, BOOT_PML4, 0x1000);
	uint8_t *pdpt = kvm_gpa(ram, BOOT_PDPT, 0x1000);
	uint8_t *pd = kvm_gpa(ram, BOOT_PD, 0x4000);

	if (!gdt || !pml4 || !pdpt || !pd || !kvm_gpa(ram, 0, KVM_BOOT_LOAD_ADDR)) {
		g_warning("KVM: the guest needs at least 1 MiB of RAM below the load address");
		return -1;
	}
	memset(gdt, 0, 32);
	wr64(gdt + BOOT_SEL_CODE, 0x00AF9B000000FFFFull);	/* 64-bit code, DPL 0 */
	wr64(gdt + BOOT_SEL_DATA, 0x00CF93000000FFFFull);	/* flat data, DPL 0 */

	memset(pml4, 0, 0x1000);
	memset(pdpt, 0, 0x1000);
	wr64(pml4, BOOT_PDPT | PTE_P | PTE_RW);
	for (uint64_t g = 0; g < 4; g++) {
		wr64(pdpt + 8 * g, (BOOT_PD + 0x1000 * g) | PTE_P | PTE_RW);
		for (uint64_t i = 0; i < 512; i++)
			wr64(pd + 0x1000 * g + 8 * i,
			     ((g << 30) | (i << 21)) | PTE_P | PTE_RW | PTE_PS);
	}

	sregs->cs = segment(BOOT_SEL_CODE, 0xB, true);
	sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss =
		segment(BOOT_SEL_DATA, 0x3, false);
	sregs->gdt.base = BOOT_GDT;
	sregs->gdt.limit = 32 - 1;
	sregs->idt.base = 0;
	sregs->idt.limit = 0;	/* no IDT: any exception is a triple fault */
	sregs->cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	sregs->cr3 = BOOT_PML4;
	sregs->cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
	sregs->efer = EFER_LME | EFER_LMA;

	memset(regs, 0, sizeof(*regs));
	regs->rflags = 0x2;	/* IF clear */
	regs->rsp = KVM_BOOT_STACK_TOP;
	return 0;
}

int kvm_boot_payload(const struct kvm_guest_ram *ram, const char *path, struct kvm_regs *regs,
		     struct kvm_sregs *sregs)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *data = NULL;
	gsize len;
	uint8_t *dst;

	if (!g_file_get_contents(path, &data, &len, &err)) {
		g_warning("payload: %s", err->message);
		return -1;
	}
	if (setup_long_mode(ram, regs, sregs))
		return -1;
	dst = kvm_gpa(ram, KVM_BOOT_LOAD_ADDR, len ? len : 1);
	if (!len || !dst) {
		g_warning("payload %s: %s", path,
			  len ? "does not fit in guest RAM above 1 MiB (more --ram?)" : "empty file");
		return -1;
	}
	memcpy(dst, data, len);
	regs->rip = KVM_BOOT_LOAD_ADDR;
	g_message("payload %s: %zu bytes at 0x%llx", path, (size_t)len,
		  (unsigned long long)KVM_BOOT_LOAD_ADDR);
	return 0;
}

/* ---- Linux ---- */

struct linux_image {
	uint64_t entry;
	uint64_t end;		/* first byte the kernel may still need past its image */
	uint64_t initrd_max;	/* highest address the initrd may use */
	uint32_t cmdline_max;	/* longest command line, without the NUL */
};

static void e820_add(uint8_t *bp, uint64_t addr, uint64_t size, uint32_t type)
{
	uint8_t n = bp[BP_E820_ENTRIES];
	uint8_t *e = bp + BP_E820_TABLE + 20 * n;

	if (!size || n >= BP_E820_MAX)
		return;
	wr64(e, addr);
	wr64(e + 8, size);
	wr32(e + 16, type);
	bp[BP_E820_ENTRIES] = n + 1;
}

/* An ELF vmlinux: PT_LOAD segments at their physical addresses. */
static int load_elf(const struct kvm_guest_ram *ram, const uint8_t *img, size_t len,
		    uint8_t *bp, struct linux_image *li)
{
	uint64_t phoff;
	uint16_t phentsize, phnum;

	if (len < 0x40 || img[4] != 2 || img[5] != 1 || rd16(img + 0x12) != 62) {
		g_warning("kernel: not a 64-bit little-endian x86-64 ELF file");
		return -1;
	}
	phoff = rd64(img + 0x20);
	phentsize = rd16(img + 0x36);
	phnum = rd16(img + 0x38);
	if (phentsize < 0x38 || phoff > len || (uint64_t)phnum * phentsize > len - phoff) {
		g_warning("kernel: bad ELF program header table");
		return -1;
	}
	li->end = 0;
	for (unsigned int i = 0; i < phnum; i++) {
		const uint8_t *ph = img + phoff + (uint64_t)i * phentsize;
		uint64_t off = rd64(ph + 0x08), paddr = rd64(ph + 0x18);
		uint64_t filesz = rd64(ph + 0x20), memsz = rd64(ph + 0x28);
		uint8_t *dst;

		if (rd32(ph) != 1 || !memsz)	/* PT_LOAD */
			continue;
		dst = kvm_gpa(ram, paddr, memsz);
		if (filesz > memsz || off > len || filesz > len - off || !dst) {
			g_warning("kernel: ELF segment %u (0x%llx, %llu bytes) does not fit in guest RAM",
				  i, (unsigned long long)paddr, (unsigned long long)memsz);
			return -1;
		}
		memcpy(dst, img + off, filesz);
		memset(dst + filesz, 0, memsz - filesz);
		li->end = MAX(li->end, paddr + memsz);
	}
	li->entry = rd64(img + 0x18);	/* vmlinux: the physical address of startup_64 */
	if (!li->end || !kvm_gpa(ram, li->entry, 1)) {
		g_warning("kernel: ELF entry point 0x%llx is not in a loaded segment",
			  (unsigned long long)li->entry);
		return -1;
	}
	li->initrd_max = 0xFFFFFFFFull;
	li->cmdline_max = BOOT_CMDLINE_MAX - 1;
	/* No setup header in a vmlinux: write the parts the kernel reads. */
	wr16(bp + HDR_BOOT_FLAG, 0xAA55);
	memcpy(bp + HDR_HEADER, "HdrS", 4);
	wr16(bp + HDR_VERSION, 0x020F);
	wr32(bp + HDR_KERNEL_ALIGNMENT, 0x1000000);
	wr32(bp + HDR_CMDLINE_SIZE, li->cmdline_max);
	return 0;
}

/* A bzImage: setup header, protected-mode part at 1 MiB, 64-bit entry at +0x200. */
static int load_bzimage(const struct kvm_guest_ram *ram, const uint8_t *img, size_t len,
			uint8_t *bp, struct linux_image *li)
{
	uint16_t version;
	size_t setup, hdr_end, pm_len;
	uint64_t init_size, pref;
	uint8_t *dst;

	if (len < 0x270 || memcmp(img + HDR_HEADER, "HdrS", 4)) {
		g_warning("kernel: neither a bzImage (no \"HdrS\" setup header) nor an ELF vmlinux");
		return -1;
	}
	version = rd16(img + HDR_VERSION);
	if (version < 0x020C || !(img[HDR_XLOADFLAGS] & XLF_KERNEL_64)) {
		g_warning("kernel: boot protocol %u.%02u without a 64-bit entry point "
			  "(needs 2.12+ with XLF_KERNEL_64)", version >> 8, version & 0xFF);
		return -1;
	}
	setup = img[HDR_SETUP_SECTS] ? img[HDR_SETUP_SECTS] : 4;
	setup = (setup + 1) * 512;
	if (setup >= len) {
		g_warning("kernel: truncated bzImage (%zu bytes, setup is %zu)", (size_t)len, setup);
		return -1;
	}
	pm_len = len - setup;
	init_size = rd32(img + HDR_INIT_SIZE);
	pref = rd64(img + HDR_PREF_ADDRESS);
	li->entry = KVM_BOOT_LOAD_ADDR + 0x200;
	/* The decompressor needs init_size bytes at its run address. */
	li->end = MAX(KVM_BOOT_LOAD_ADDR + MAX(pm_len, init_size), pref + init_size);
	dst = kvm_gpa(ram, KVM_BOOT_LOAD_ADDR, li->end - KVM_BOOT_LOAD_ADDR);
	if (!dst) {
		g_warning("kernel: needs %llu MiB of guest RAM below 3 GiB (init_size %llu MiB at "
			  "0x%llx); give the VM more --ram",
			  (unsigned long long)((li->end + (1 << 20) - 1) >> 20),
			  (unsigned long long)(init_size >> 20), (unsigned long long)pref);
		return -1;
	}
	memcpy(dst, img + setup, pm_len);

	/* The setup header runs from 0x1F1 to 0x202 + the jump's length byte. */
	hdr_end = MIN((size_t)(HDR_JUMP + 2 + img[HDR_JUMP + 1]), (size_t)HDR_END_MAX);
	memcpy(bp + BP_HDR, img + BP_HDR, hdr_end - BP_HDR);
	li->initrd_max = rd32(img + HDR_INITRD_ADDR_MAX);
	if (!li->initrd_max)
		li->initrd_max = 0x37FFFFFF;	/* protocol < 2.03 default */
	li->cmdline_max = version >= 0x0206 ? rd32(img + HDR_CMDLINE_SIZE) : 255;
	return 0;
}

int kvm_boot_linux(const struct kvm_guest_ram *ram, const char *kernel, const char *initrd,
		   const char *cmdline, struct kvm_regs *regs, struct kvm_sregs *sregs)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *img = NULL, *rd = NULL;
	gsize img_len, rd_len = 0;
	struct linux_image li = { 0 };
	uint8_t *bp, *cl;
	size_t cl_len = cmdline ? strlen(cmdline) : 0;

	if (!g_file_get_contents(kernel, &img, &img_len, &err)) {
		g_warning("kernel: %s", err->message);
		return -1;
	}
	if (initrd && !g_file_get_contents(initrd, &rd, &rd_len, &err)) {
		g_warning("initrd: %s", err->message);
		return -1;
	}
	if (setup_long_mode(ram, regs, sregs))
		return -1;
	bp = kvm_gpa(ram, BOOT_PARAMS, 0x1000);
	cl = kvm_gpa(ram, BOOT_CMDLINE, BOOT_CMDLINE_MAX);
	if (!bp || !cl)
		return -1;
	memset(bp, 0, 0x1000);

	if (img_len >= 4 && !memcmp(img, "\x7f" "ELF", 4)) {
		if (load_elf(ram, (uint8_t *)img, img_len, bp, &li))
			return -1;
	} else if (load_bzimage(ram, (uint8_t *)img, img_len, bp, &li)) {
		return -1;
	}

	/* The loader's part of the header. */
	wr16(bp + HDR_VID_MODE, 0xFFFF);		/* "normal" */
	bp[HDR_TYPE_OF_LOADER] = 0xFF;			/* undefined loader */
	bp[HDR_LOADFLAGS] |= LOADED_HIGH;
	bp[BP_SENTINEL] = 0;

	if (cl_len > li.cmdline_max || cl_len >= BOOT_CMDLINE_MAX) {
		g_warning("kernel command line of %zu bytes is longer than the kernel's %u",
			  cl_len, li.cmdline_max);
		return -1;
	}
	memset(cl, 0, cl_len + 1);
	if (cl_len)
		memcpy(cl, cmdline, cl_len);
	wr32(bp + HDR_CMD_LINE_PTR, (uint32_t)BOOT_CMDLINE);
	wr32(bp + BP_EXT_CMD_LINE_PTR, 0);

	if (rd_len) {
		/* At the top of low RAM under the kernel's limit, page-aligned, as Firecracker does. */
		uint64_t top = MIN(ram->low, li.initrd_max + 1);
		uint64_t addr = top > rd_len ? (top - rd_len) & ~0xFFFull : 0;
		uint8_t *dst = kvm_gpa(ram, addr, rd_len);

		if (!dst || addr < li.end) {
			g_warning("initrd of %zu bytes does not fit between the kernel (up to 0x%llx) "
				  "and 0x%llx; give the VM more --ram", (size_t)rd_len,
				  (unsigned long long)li.end, (unsigned long long)top);
			return -1;
		}
		memcpy(dst, rd, rd_len);
		wr32(bp + HDR_RAMDISK_IMAGE, (uint32_t)addr);
		wr32(bp + HDR_RAMDISK_SIZE, (uint32_t)rd_len);
		wr32(bp + BP_EXT_RAMDISK_IMAGE, (uint32_t)(addr >> 32));
		wr32(bp + BP_EXT_RAMDISK_SIZE, (uint32_t)((uint64_t)rd_len >> 32));
	}

	/* The memory map: low RAM minus the legacy holes, then RAM above 4 GiB. */
	e820_add(bp, 0, 0x9FC00, E820_RAM);
	e820_add(bp, 0x9FC00, 0xA0000 - 0x9FC00, E820_RESERVED);
	e820_add(bp, 0xF0000, 0x10000, E820_RESERVED);
	e820_add(bp, KVM_BOOT_LOAD_ADDR, ram->low - KVM_BOOT_LOAD_ADDR, E820_RAM);
	e820_add(bp, KVM_HIGH_RAM_BASE, ram->size - ram->low, E820_RAM);

	regs->rip = li.entry;
	regs->rsi = BOOT_PARAMS;
	g_message("kernel %s: entry 0x%llx, %zu-byte initrd, command line \"%s\"", kernel,
		  (unsigned long long)li.entry, (size_t)rd_len, cmdline ? cmdline : "");
	return 0;
}
