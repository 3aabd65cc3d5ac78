// SPDX-License-Identifier: MIT
/*
 * The KVM engine.  See kvm.h for the interface, kvm-boot.c for how guests
 * are loaded.
 *
 * The vCPU loop
 * -------------
 * One vCPU, run in the caller's thread.  Registers travel through
 * kvm_run's synchronized-register area (KVM_CAP_SYNC_REGS): KVM stores
 * the general and segment registers there on every exit, and loads the
 * general registers back when we set KVM_SYNC_X86_REGS in kvm_dirty_regs,
 * so an exit costs no KVM_GET_REGS/KVM_SET_REGS.  vm->lock is taken only
 * inside vm_io().
 *
 * What KVM leaves in the registers at a KVM_EXIT_IO (measured here, on
 * nested KVM, and matching KVM's x86 emulator, which all string I/O goes
 * through; tests/payloads exercise every case):
 *   - in/ins: nothing is done yet.  RIP is at the instruction; KVM
 *     completes it on the next KVM_RUN from the data area (for `rep insb`
 *     up to 1024 elements per exit, never crossing a page).
 *   - out:    RIP is at the instruction (VMX fast path) or already past it
 *     (when the emulator ran it); no register changes either way.
 *   - outs:   one element has been taken from guest memory into the data
 *     area and RSI/RCX are already advanced past it.  With a rep prefix RIP
 *     stays at the instruction (the emulator restarts it, even once RCX has
 *     reached 0); without, RIP is past it.
 * So a `rep outsb` of N bytes would be N exits of one byte, and a `rep
 * insb` N/1024 exits; the backdoor's high-bandwidth port wants the whole
 * message in one call anyway.  We therefore carry out every string
 * instruction whole, at its first exit:
 *   - ins:  decode the instruction at RIP (prefixes, address size, length),
 *     call vm_io() with string/rep set and the registers as they are (the
 *     device writes guest memory through our page walk), then let KVM
 *     finish its pending part with immediate_exit set after putting into
 *     the data area exactly the bytes now in guest memory where KVM will
 *     write them (a no-op), and finally load the end state (RIP past the
 *     instruction, RDI/RCX as the device left them) through SYNC_REGS.
 *   - rep outs: decode at RIP; the registers are one element in, so step
 *     RSI back and RCX up by the elements KVM took (checking that guest
 *     memory there holds the bytes in the data area), call vm_io() for the
 *     whole instruction and load the end state.
 *   - out and plain outs: the data area values, one vm_io() per element.
 * A non-rep `outs` immediately followed by a `rep outs` to the same port
 * with the same bytes is indistinguishable from the first element of the
 * latter and would be merged into it; for byte-stream devices that is the
 * same thing, and nothing sensible does it to the backdoor.
 *
 * Guest memory for string I/O is reached by walking the guest's page
 * tables from CR3 (4- or 5-level, PAE or 32-bit paging; linear = physical
 * with paging off), honoring present, writable (with CR0.WP) and user bits
 * and setting accessed/dirty bits as the CPU does, one page at a time, and
 * only inside guest RAM.  A device's IO_FAULT becomes a #PF (or #GP
 * without paging) injected at the instruction.
 *
 * Ends of a guest: port 0xF4 (vm_request_exit() from the debug-exit
 * device), HLT with interrupts disabled, a reset through 0xCF9, a system
 * event, or a crash.  The in-kernel LAPIC keeps HLT inside KVM, so a
 * watchdog thread kicks the vCPU with a signal when it has not exited for
 * WATCHDOG_MS; on the kick we ask KVM for the MP state, and halted with
 * IF=0 is the end.  Triple faults, emulation failures, failed entries and
 * unknown exits end the VM with a report of the exit and the registers.
 */
#define G_LOG_DOMAIN "porthole-hv"
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "backdoor/proto.h"
#include "hypervisor/vm.h"
#include "kvm-boot.h"
#include "kvm.h"

#define KVM_TSS_ADDR		0xFFFBD000ull
#define KICK_SIGNAL		SIGUSR2
#define WATCHDOG_MS		100
#define STATUS_STOPPED		(128 + SIGKILL)

#define RFLAGS_IF		(1ull << 9)
#define CR0_PG			(1ull << 31)
#define CR0_WP			(1ull << 16)
#define CR4_PSE			(1ull << 4)
#define CR4_PAE			(1ull << 5)
#define CR4_LA57		(1ull << 12)
#define EFER_LMA		(1ull << 10)

#define PG_P			0x001ull
#define PG_RW			0x002ull
#define PG_US			0x004ull
#define PG_A			0x020ull
#define PG_D			0x040ull
#define PG_PS			0x080ull
#define PG_ADDR			0x000FFFFFFFFFF000ull
#define PF_P			0x01u
#define PF_W			0x02u
#define PF_U			0x04u
#define PF_I			0x10u

#define ACC_WRITE		1
#define ACC_FETCH		2

/* Segment numbers, as in the prefix bytes' order. */
enum { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS };

struct kvm_engine;

/* The guest's view of memory for one string instruction. */
struct xlate {
	struct kvm_engine *e;
	uint64_t cr0, cr3, cr4, efer;
	bool user;		/* CPL 3 */
	bool wrap32;		/* not 64-bit mode: linear addresses are 32-bit */
	uint64_t read_base;	/* segment of the outs source (DS or override) */
	uint64_t write_base;	/* segment of the ins destination (ES) */
	uint64_t fault_addr;	/* last failed access: linear address ... */
	uint32_t fault_code;	/* ... #PF error code ... */
	bool fault_pf;		/* ... and whether it is a page fault (else #GP) */
};

/* A decoded in/out/ins/outs. */
struct io_insn {
	bool in, string, rep, imm_port;
	uint8_t size, addr_size, len;
	uint8_t port;		/* the immediate, when imm_port */
	int seg;		/* segment override, -1 for none */
};

struct kvm_engine {
	struct vm *vm;
	int kvm_fd, vm_fd, vcpu_fd;
	struct kvm_run *run;
	size_t run_size;
	struct kvm_guest_ram ram;
	struct xlate x;
	struct vcpu vcpu;
	uint64_t mmio_unclaimed;
	bool decode_warned, irq_warned;

	pthread_t vcpu_thread;
	_Atomic uint64_t exits;
	pthread_t watchdog;
	bool watchdog_running;
	pthread_mutex_t wd_lock;
	pthread_cond_t wd_cond;
	bool wd_quit;
};

/* What kvm_engine_stop() may touch, from any thread. */
static struct {
	pthread_mutex_t lock;
	atomic_bool stop;
	struct kvm_run *run;
	bool have_thread;
	pthread_t thread;
} ctl = { .lock = PTHREAD_MUTEX_INITIALIZER };

void kvm_engine_stop(void)
{
	pthread_mutex_lock(&ctl.lock);
	atomic_store(&ctl.stop, true);
	if (ctl.run)
		__atomic_store_n(&ctl.run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (ctl.have_thread)
		pthread_kill(ctl.thread, KICK_SIGNAL);
	pthread_mutex_unlock(&ctl.lock);
}

static void on_kick(int sig)
{
	/* Nothing: the signal only makes KVM_RUN return EINTR. */
}

static int xlate_access(struct xlate *x, uint64_t la, void *buf, size_t len, int acc);

/* ---- reports ---- */

static void dump_state(struct kvm_engine *e)
{
	const struct kvm_regs *r = &e->run->s.regs.regs;
	const struct kvm_sregs *s = &e->run->s.regs.sregs;
	uint8_t code[16];
	size_t n = 0;
	GString *hex = g_string_new(NULL);

	g_message("  RIP %016llx  RSP %016llx  RFLAGS %08llx", r->rip, r->rsp, r->rflags);
	g_message("  RAX %016llx  RBX %016llx  RCX %016llx  RDX %016llx", r->rax, r->rbx, r->rcx,
		  r->rdx);
	g_message("  RSI %016llx  RDI %016llx  RBP %016llx  R8  %016llx", r->rsi, r->rdi, r->rbp,
		  r->r8);
	g_message("  R9  %016llx  R10 %016llx  R11 %016llx  R12 %016llx", r->r9, r->r10, r->r11,
		  r->r12);
	g_message("  R13 %016llx  R14 %016llx  R15 %016llx", r->r13, r->r14, r->r15);
	g_message("  CR0 %08llx  CR2 %016llx  CR3 %016llx  CR4 %08llx  EFER %llx", s->cr0, s->cr2,
		  s->cr3, s->cr4, s->efer);
	g_message("  CS %04x (base %llx, %s, DPL %u)  SS %04x  IDT %llx+%u  GDT %llx+%u",
		  s->cs.selector, s->cs.base, s->cs.l ? "64-bit" : s->cs.db ? "32-bit" : "16-bit",
		  s->cs.dpl, s->ss.selector, s->idt.base, s->idt.limit, s->gdt.base, s->gdt.limit);
	/* The code at RIP, as far as it is readable. */
	e->x.cr0 = s->cr0;
	e->x.cr3 = s->cr3;
	e->x.cr4 = s->cr4;
	e->x.efer = s->efer;
	e->x.user = false;
	e->x.wrap32 = !((s->efer & EFER_LMA) && s->cs.l);
	while (n < sizeof(code)) {
		if (xlate_access(&e->x, s->cs.base + r->rip + n, code + n, 1, ACC_FETCH))
			break;
		g_string_append_printf(hex, " %02x", code[n++]);
	}
	g_message("  code at RIP:%s", n ? hex->str : " (not readable)");
	g_string_free(hex, TRUE);
}

static void report(struct kvm_engine *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void report(struct kvm_engine *e, const char *fmt, ...)
{
	va_list ap;
	char *what;

	va_start(ap, fmt);
	what = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_warning("VM '%s': %s", e->vm->name, what);
	g_free(what);
	dump_state(e);
}

/* ---- guest memory through the guest's page tables ---- */

static uint64_t load_pte(void *p, bool wide)
{
	return wide ? __atomic_load_n((uint64_t *)p, __ATOMIC_RELAXED)
		    : __atomic_load_n((uint32_t *)p, __ATOMIC_RELAXED);
}

/* Set accessed/dirty bits as the CPU would: atomically, only if missing. */
static void set_pte_bits(void *p, bool wide, uint64_t bits, uint64_t cur)
{
	if ((cur & bits) == bits)
		return;
	if (wide)
		__atomic_fetch_or((uint64_t *)p, bits, __ATOMIC_RELAXED);
	else
		__atomic_fetch_or((uint32_t *)p, (uint32_t)bits, __ATOMIC_RELAXED);
}

static int xlate_fault(struct xlate *x, uint64_t la, uint32_t code)
{
	x->fault_addr = la;
	x->fault_code = code;
	x->fault_pf = (x->cr0 & CR0_PG) != 0;
	return -1;
}

/* Linear to guest-physical for one access of kind `acc`; 0 or -1 (fault noted). */
static int translate(struct xlate *x, uint64_t la, int acc, uint64_t *gpa)
{
	const struct kvm_guest_ram *ram = &x->e->ram;
	uint32_t code = ((acc & ACC_WRITE) ? PF_W : 0) | (x->user ? PF_U : 0) |
			((acc & ACC_FETCH) ? PF_I : 0);
	bool lma = x->efer & EFER_LMA, wide, writable = true, user = true;
	int levels;
	uint64_t table;

	if (!(x->cr0 & CR0_PG)) {
		*gpa = (uint32_t)la;
		return 0;
	}
	if (lma) {
		int bits = (x->cr4 & CR4_LA57) ? 57 : 48;

		/* Non-canonical: the CPU raises #GP, not #PF. */
		if ((uint64_t)((int64_t)(la << (64 - bits)) >> (64 - bits)) != la) {
			xlate_fault(x, la, 0);
			x->fault_pf = false;
			return -1;
		}
		levels = bits == 57 ? 5 : 4;
		wide = true;
		table = x->cr3 & PG_ADDR;
	} else if (x->cr4 & CR4_PAE) {
		la = (uint32_t)la;
		levels = 3;
		wide = true;
		table = x->cr3 & 0xFFFFFFE0u;
	} else {
		la = (uint32_t)la;
		levels = 2;
		wide = false;
		table = x->cr3 & 0xFFFFF000u;
	}

	for (int lvl = levels; lvl >= 1; lvl--) {
		unsigned int shift = wide ? 12 + 9 * (lvl - 1) : (lvl == 2 ? 22 : 12);
		uint64_t idx = (la >> shift) & (wide ? 511 : 1023);
		bool pdpte = !lma && wide && lvl == 3;	/* PAE PDPTEs: only P and the address */
		size_t esz = wide ? 8 : 4;
		void *p;
		uint64_t v;
		bool leaf;

		if (pdpte)
			idx = (la >> 30) & 3;
		p = kvm_gpa(ram, table + idx * esz, esz);
		if (!p)
			return xlate_fault(x, la, code);	/* page table outside RAM */
		v = load_pte(p, wide);
		if (!(v & PG_P))
			return xlate_fault(x, la, code);
		if (!pdpte) {
			writable &= (v & PG_RW) != 0;
			user &= (v & PG_US) != 0;
		}
		leaf = lvl == 1 ||
		       (!pdpte && (v & PG_PS) && (lvl == 2 || (lvl == 3 && lma)) &&
			(wide || (x->cr4 & CR4_PSE)));
		if (!leaf) {
			if (!pdpte)
				set_pte_bits(p, wide, PG_A, v);
			table = v & (wide ? PG_ADDR : 0xFFFFF000u);
			continue;
		}
		if (((acc & ACC_WRITE) && !writable && (x->user || (x->cr0 & CR0_WP))) ||
		    (x->user && !user))
			return xlate_fault(x, la, code | PF_P);
		set_pte_bits(p, wide, PG_A | ((acc & ACC_WRITE) ? PG_D : 0), v);
		{
			uint64_t size = 1ull << shift;
			uint64_t base = wide ? (v & PG_ADDR & ~(size - 1))
					     : (v & (lvl == 2 ? 0xFFC00000u : 0xFFFFF000u));

			*gpa = base | (la & (size - 1));
		}
		return 0;
	}
	return xlate_fault(x, la, code);
}

/* Copy between guest linear memory and buf, page by page; 0 or -1. */
static int xlate_access(struct xlate *x, uint64_t la, void *buf, size_t len, int acc)
{
	uint8_t *b = buf;

	while (len) {
		uint64_t cur = x->wrap32 ? (uint32_t)la : la, gpa;
		size_t chunk = MIN(len, 0x1000 - (size_t)(cur & 0xFFF));
		uint8_t *h;

		if (translate(x, cur, acc, &gpa))
			return -1;
		h = kvm_gpa(&x->e->ram, gpa, chunk);
		if (!h) {
			/* Mapped, but not to RAM (the PCI hole, past the end). */
			xlate_fault(x, cur, 0);
			x->fault_pf = false;
			return -1;
		}
		if (acc & ACC_WRITE)
			memcpy(h, b, chunk);
		else
			memcpy(b, h, chunk);
		la += chunk;
		b += chunk;
		len -= chunk;
	}
	return 0;
}

/* struct guest_mem callbacks: `addr` is the string instruction's RSI or RDI. */
static int mem_read(void *opaque, uint64_t addr, void *buf, size_t len)
{
	struct xlate *x = opaque;

	return xlate_access(x, addr + x->read_base, buf, len, 0);
}

static int mem_write(void *opaque, uint64_t addr, const void *buf, size_t len)
{
	struct xlate *x = opaque;

	return xlate_access(x, addr + x->write_base, (void *)buf, len, ACC_WRITE);
}

static uint64_t seg_base(const struct kvm_sregs *s, int seg, bool long64)
{
	const struct kvm_segment *t[] = { &s->es, &s->cs, &s->ss, &s->ds, &s->fs, &s->gs };

	/* In 64-bit mode only FS and GS have a base. */
	if (long64 && seg != SEG_FS && seg != SEG_GS)
		return 0;
	return t[seg]->base;
}

/* Load the paging and segment state of the exit into e->x. */
static void xlate_setup(struct kvm_engine *e, const struct kvm_sregs *s, int seg_override)
{
	struct xlate *x = &e->x;
	bool long64 = (s->efer & EFER_LMA) && s->cs.l;

	x->cr0 = s->cr0;
	x->cr3 = s->cr3;
	x->cr4 = s->cr4;
	x->efer = s->efer;
	x->user = s->ss.dpl == 3;
	x->wrap32 = !long64;
	x->read_base = seg_base(s, seg_override >= 0 ? seg_override : SEG_DS, long64);
	x->write_base = seg_base(s, SEG_ES, long64);
}

/* ---- instruction decoding (only what KVM_EXIT_IO doesn't say) ---- */

static bool decode_io(struct kvm_engine *e, const struct kvm_sregs *s, uint64_t rip,
		      struct io_insn *d)
{
	bool long64 = (s->efer & EFER_LMA) && s->cs.l;
	bool def32 = long64 || s->cs.db, opsize = false, adsize = false;
	uint8_t b[15];
	size_t n = 0, i;
	uint8_t op;

	/* Fetch up to 15 bytes, fewer if the code ends at an unmapped page. */
	if (!xlate_access(&e->x, s->cs.base + rip, b, sizeof(b), ACC_FETCH))
		n = sizeof(b);
	else
		while (n < sizeof(b) && !xlate_access(&e->x, s->cs.base + rip + n, b + n, 1,
							  ACC_FETCH))
			n++;

	*d = (struct io_insn){ .seg = -1 };
	for (i = 0; i < n; i++) {
		switch (b[i]) {
		case 0x66: opsize = true; continue;
		case 0x67: adsize = true; continue;
		case 0xF2: case 0xF3: d->rep = true; continue;
		case 0xF0: continue;
		case 0x26: d->seg = SEG_ES; continue;
		case 0x2E: d->seg = SEG_CS; continue;
		case 0x36: d->seg = SEG_SS; continue;
		case 0x3E: d->seg = SEG_DS; continue;
		case 0x64: d->seg = SEG_FS; continue;
		case 0x65: d->seg = SEG_GS; continue;
		default: break;
		}
		if (long64 && (b[i] & 0xF0) == 0x40)
			continue;	/* REX: REX.W does not widen I/O */
		break;
	}
	if (i >= n)
		return false;
	op = b[i++];
	switch (op) {
	case 0xE4: case 0xE5: case 0xEC: case 0xED: case 0x6C: case 0x6D:
		d->in = true;
		break;
	case 0xE6: case 0xE7: case 0xEE: case 0xEF: case 0x6E: case 0x6F:
		d->in = false;
		break;
	default:
		return false;
	}
	d->string = (op & 0xF0) == 0x60;
	d->imm_port = (op & 0xF8) == 0xE0 && (op & 0x0C) != 0x0C;
	d->size = (op & 1) ? ((def32 != opsize) ? 4 : 2) : 1;
	if (d->imm_port) {
		if (i >= n)
			return false;
		d->port = b[i++];
	}
	d->len = (uint8_t)i;
	d->addr_size = long64 ? (adsize ? 4 : 8) : ((s->cs.db != adsize) ? 4 : 2);
	if (!d->string)
		d->rep = false;
	return true;
}

/* ---- port I/O ---- */

static void regs_from_kvm(struct vcpu *v, const struct kvm_regs *k)
{
	v->regs = (struct vcpu_regs){ k->rax, k->rbx, k->rcx, k->rdx, k->rsi, k->rdi, k->rbp,
				      k->rsp, k->rip, k->rflags };
}

/* Write back the registers a device changed; marks them dirty for KVM_RUN. */
static void regs_to_kvm(const struct vcpu *v, struct kvm_regs *k, uint64_t *dirty)
{
	const struct vcpu_regs *r = &v->regs;

	if (r->rax == k->rax && r->rbx == k->rbx && r->rcx == k->rcx && r->rdx == k->rdx &&
	    r->rsi == k->rsi && r->rdi == k->rdi && r->rbp == k->rbp && r->rsp == k->rsp &&
	    r->rflags == k->rflags)
		return;
	k->rax = r->rax;
	k->rbx = r->rbx;
	k->rcx = r->rcx;
	k->rdx = r->rdx;
	k->rsi = r->rsi;
	k->rdi = r->rdi;
	k->rbp = r->rbp;
	k->rsp = r->rsp;
	k->rflags = r->rflags;
	*dirty |= KVM_SYNC_X86_REGS;
}

static uint64_t size_mask(uint8_t size)
{
	return size >= 4 ? 0xFFFFFFFFull : (1ull << (8 * size)) - 1;
}

/* in: each element's value goes to the data area, from which KVM sets AL/AX/EAX. */
static void plain_in(struct kvm_engine *e, uint16_t port, uint8_t size, uint32_t count,
		     uint8_t *data, uint64_t *dirty)
{
	struct kvm_regs *kr = &e->run->s.regs.regs;
	struct io_access io = { .port = port, .size = size, .in = true, .addr_size = 8 };

	for (uint32_t i = 0; i < count; i++) {
		uint32_t val;

		regs_from_kvm(&e->vcpu, kr);
		vm_io(e->vm, &e->vcpu, &io);
		val = (uint32_t)e->vcpu.regs.rax;
		memcpy(data + (size_t)i * size, &val, size);
	}
	/* One element is a real `in`: a device may have set other registers. */
	if (count == 1)
		regs_to_kvm(&e->vcpu, kr, dirty);
}

/* out, and outs without rep: the values KVM put in the data area. */
static void plain_out(struct kvm_engine *e, uint16_t port, uint8_t size, uint32_t count,
		      const uint8_t *data, uint64_t *dirty)
{
	struct kvm_regs *kr = &e->run->s.regs.regs;
	struct io_access io = { .port = port, .size = size, .addr_size = 8 };
	uint64_t mask = size_mask(size);

	for (uint32_t i = 0; i < count; i++) {
		uint32_t val = 0;
		uint64_t fed;

		memcpy(&val, data + (size_t)i * size, size);
		regs_from_kvm(&e->vcpu, kr);
		fed = (kr->rax & ~mask) | val;
		e->vcpu.regs.rax = fed;
		vm_io(e->vm, &e->vcpu, &io);
		if (e->vcpu.regs.rax == fed)	/* the device left RAX alone */
			e->vcpu.regs.rax = kr->rax;
		regs_to_kvm(&e->vcpu, kr, dirty);
	}
}

static void inject_fault(struct kvm_engine *e, uint16_t port)
{
	struct xlate *x = &e->x;
	struct kvm_vcpu_events ev;
	struct kvm_sregs s;

	g_message("VM '%s': string I/O on port 0x%04x faulted at 0x%llx: injecting %s",
		  e->vm->name, port, (unsigned long long)x->fault_addr,
		  x->fault_pf ? "#PF" : "#GP(0)");
	if (ioctl(e->vcpu_fd, KVM_GET_VCPU_EVENTS, &ev) ||
	    (x->fault_pf && ioctl(e->vcpu_fd, KVM_GET_SREGS, &s))) {
		g_warning("KVM: cannot read vCPU state to inject a fault: %s", g_strerror(errno));
		return;
	}
	if (x->fault_pf) {
		s.cr2 = x->fault_addr;
		if (ioctl(e->vcpu_fd, KVM_SET_SREGS, &s))
			g_warning("KVM_SET_SREGS: %s", g_strerror(errno));
	}
	ev.exception.injected = 1;
	ev.exception.nr = x->fault_pf ? 14 : 13;
	ev.exception.has_error_code = 1;
	ev.exception.error_code = x->fault_pf ? x->fault_code : 0;
	ev.flags = 0;
	if (ioctl(e->vcpu_fd, KVM_SET_VCPU_EVENTS, &ev))
		g_warning("KVM_SET_VCPU_EVENTS: %s", g_strerror(errno));
}

/* The element KVM will store from the data area: what guest memory holds there now. */
static void refill_in_data(struct kvm_engine *e, uint8_t *data, uint32_t count, uint8_t size,
			   uint64_t rdi, uint64_t mask, int64_t step)
{
	for (uint32_t i = 0; i < count; i++) {
		uint64_t a = (rdi + (uint64_t)((int64_t)i * step)) & mask;

		if (xlate_access(&e->x, a + e->x.write_base, data + (size_t)i * size, size, 0))
			memset(data + (size_t)i * size, 0, size);
	}
}

/* Let KVM finish a pending `ins` without running the guest (immediate_exit). */
static int complete_pending_in(struct kvm_engine *e, uint8_t size, uint64_t mask, int64_t step)
{
	struct kvm_run *run = e->run;

	for (int tries = 0; tries < 8; tries++) {
		int r;

		run->kvm_dirty_regs = 0;
		__atomic_store_n(&run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		r = ioctl(e->vcpu_fd, KVM_RUN, 0);
		__atomic_store_n(&run->immediate_exit, 0, __ATOMIC_SEQ_CST);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			return 0;
		if (r < 0) {
			report(e, "KVM_RUN (completing string input): %s", g_strerror(errno));
			return -1;
		}
		/* KVM restarted the instruction and wants more input: same answer. */
		if (run->exit_reason != KVM_EXIT_IO || run->io.direction != KVM_EXIT_IO_IN)
			break;
		refill_in_data(e, (uint8_t *)run + run->io.data_offset, run->io.count, size,
			       run->s.regs.regs.rdi, mask, step);
	}
	report(e, "KVM did not complete a string input (exit reason %u)", run->exit_reason);
	return -1;
}

static int string_in(struct kvm_engine *e, const struct io_insn *d, uint16_t port,
		     uint32_t count, uint8_t *data, uint64_t *dirty)
{
	struct kvm_regs *kr = &e->run->s.regs.regs;
	uint64_t mask = io_addr_mask(d->addr_size), rip = kr->rip, rdi = kr->rdi;
	int64_t step = (kr->rflags & RFLAGS_DF) ? -(int64_t)d->size : d->size;
	struct io_access io = { .port = port, .size = d->size, .in = true, .string = true,
				.rep = d->rep, .addr_size = d->addr_size };
	enum io_result res;

	regs_from_kvm(&e->vcpu, kr);
	res = vm_io(e->vm, &e->vcpu, &io);
	refill_in_data(e, data, count, d->size, rdi, mask, step);
	if (complete_pending_in(e, d->size, mask, step))
		return -1;
	/* kr is now KVM's state after its part; ours replaces it. */
	regs_to_kvm(&e->vcpu, kr, dirty);
	kr->rip = res == IO_DONE ? rip + d->len : rip;
	*dirty |= KVM_SYNC_X86_REGS;
	if (res == IO_FAULT)
		inject_fault(e, port);
	return 0;
}

static void string_out_rep(struct kvm_engine *e, const struct io_insn *d, uint16_t port,
			   uint32_t count, const uint8_t *data, uint64_t *dirty)
{
	struct kvm_regs *kr = &e->run->s.regs.regs;
	uint64_t mask = io_addr_mask(d->addr_size);
	int64_t step = (kr->rflags & RFLAGS_DF) ? -(int64_t)d->size : d->size;
	uint64_t back = (uint64_t)((int64_t)count * step);
	uint64_t rsi = (kr->rsi & ~mask) | ((kr->rsi - back) & mask);
	uint64_t rcx = (kr->rcx & ~mask) | ((kr->rcx + count) & mask);
	struct io_access io = { .port = port, .size = d->size, .string = true, .rep = true,
				.addr_size = d->addr_size };
	enum io_result res;

	/* Is this the instruction's first exit?  Its elements must be at RSI - count. */
	for (uint32_t i = 0; i < count; i++) {
		uint8_t elem[4];
		uint64_t a = (rsi + (uint64_t)((int64_t)i * step)) & mask;

		if (mem_read(&e->x, a, elem, d->size) ||
		    memcmp(elem, data + (size_t)i * d->size, d->size)) {
			plain_out(e, port, d->size, count, data, dirty);
			return;
		}
	}
	regs_from_kvm(&e->vcpu, kr);
	e->vcpu.regs.rsi = rsi;
	e->vcpu.regs.rcx = rcx;
	res = vm_io(e->vm, &e->vcpu, &io);
	regs_to_kvm(&e->vcpu, kr, dirty);
	if (res == IO_DONE)
		kr->rip += d->len;
	*dirty |= KVM_SYNC_X86_REGS;
	if (res == IO_FAULT)
		inject_fault(e, port);
}

static int handle_io(struct kvm_engine *e, uint64_t *dirty)
{
	struct kvm_run *run = e->run;
	struct kvm_regs *kr = &run->s.regs.regs;
	struct kvm_sregs *ks = &run->s.regs.sregs;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool in = run->io.direction == KVM_EXIT_IO_IN;
	uint8_t size = run->io.size;
	uint16_t port = run->io.port;
	uint32_t count = run->io.count;
	struct io_insn d;
	bool known;

	if ((size != 1 && size != 2 && size != 4) || !count ||
	    run->io.data_offset + (uint64_t)count * size > e->run_size) {
		report(e, "malformed KVM_EXIT_IO (port 0x%x, size %u, count %u)", port, size, count);
		return -1;
	}
	xlate_setup(e, ks, -1);
	known = decode_io(e, ks, kr->rip, &d) && d.in == in && d.size == size &&
		(d.imm_port ? d.port == port : (uint16_t)kr->rdx == port);
	if (known && d.seg >= 0)
		xlate_setup(e, ks, d.seg);

	if (in) {
		if (known && d.string)
			return string_in(e, &d, port, count, data, dirty);
		if (!known && !e->decode_warned) {
			e->decode_warned = true;
			g_message("VM '%s': cannot decode the input instruction at RIP 0x%llx "
				  "(port 0x%04x); treating it as `in` (logged once)",
				  e->vm->name, kr->rip, port);
		}
		plain_in(e, port, size, count, data, dirty);
		return 0;
	}
	if (known && d.string && d.rep)
		string_out_rep(e, &d, port, count, data, dirty);
	else
		plain_out(e, port, size, count, data, dirty);
	return 0;
}

static void handle_mmio(struct kvm_engine *e)
{
	struct kvm_run *run = e->run;

	if (!run->mmio.is_write)
		memset(run->mmio.data, 0xFF, sizeof(run->mmio.data));
	if (!e->mmio_unclaimed++)
		g_message("VM '%s': guest %s MMIO at 0x%llx (%u bytes) with no device "
			  "(reads all ones; logged once)", e->vm->name,
			  run->mmio.is_write ? "wrote" : "read", run->mmio.phys_addr, run->mmio.len);
}

/* ---- setup ---- */

static int unusable(const char *what)
{
	g_warning("cannot use /dev/kvm: %s: %s", what, g_strerror(errno));
	return -1;
}

static int kvm_ioctl(int fd, unsigned long req, void *arg)
{
	int r;

	do
		r = ioctl(fd, req, arg);
	while (r < 0 && errno == EINTR);
	return r;
}

static void irq_line(void *opaque, unsigned int irq, bool level)
{
	struct kvm_engine *e = opaque;
	struct kvm_irq_level l = { .irq = irq, .level = level };

	if (ioctl(e->vm_fd, KVM_IRQ_LINE, &l) && !e->irq_warned) {
		e->irq_warned = true;
		g_warning("KVM_IRQ_LINE %u: %s", irq, g_strerror(errno));
	}
}

static int setup_ram(struct kvm_engine *e)
{
	struct vm *vm = e->vm;
	uint64_t offset = 0;
	void *p;

	if (vm->ram_size < (2u << 20) || vm->ram_size > (1ull << 40)) {
		g_warning("KVM: guest RAM must be between 2 MiB and 1 TiB");
		return -1;
	}
	p = mmap(NULL, vm->ram_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
		 vm->ram_fd, 0);
	if (p == MAP_FAILED)
		return unusable("mapping guest RAM");
	/* Below the 32-bit PCI hole; the rest goes above 4 GiB (file offset = low). */
	kvm_ram_layout(&e->ram, p, vm->ram_size);
	for (unsigned int i = 0; i < e->ram.map.n; i++) {
		const struct vm_ram_range *r = &e->ram.map.range[i];
		struct kvm_userspace_memory_region slot = {
			.slot = i, .guest_phys_addr = r->gpa, .memory_size = r->size,
			.userspace_addr = (uintptr_t)p + offset,
		};

		if (kvm_ioctl(e->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot))
			return unusable("KVM_SET_USER_MEMORY_REGION");
		offset += r->size;
	}
	/* Devices (VMCI page numbers) translate guest-physical addresses the same way. */
	if (vm_set_ram_map(vm, &e->ram.map)) {
		g_warning("KVM: guest RAM layout refused by the device model");
		return -1;
	}
	return 0;
}

static struct kvm_cpuid_entry2 *add_leaf(struct kvm_cpuid2 *c, uint32_t fn)
{
	struct kvm_cpuid_entry2 *x = &c->entries[c->nent++];

	*x = (struct kvm_cpuid_entry2){ .function = fn };
	return x;
}

/*
 * The host CPU as KVM can virtualize it, plus the hypervisor leaves of the
 * device model (vm_cpuid_hv(): vendor at 0x40000000, TSC and bus kHz at
 * 0x40000010).  KVM's own leaves move to 0x40000100, where Linux still
 * finds its paravirtual features (kvmclock) by scanning.
 */
static int setup_cpuid(struct kvm_engine *e)
{
	g_autofree struct kvm_cpuid2 *sup = NULL, *c = NULL;
	uint32_t n = 128;
	bool kvm_sig = false;
	int r;

	for (;;) {
		sup = g_malloc0(sizeof(*sup) + n * sizeof(sup->entries[0]));
		sup->nent = n;
		r = kvm_ioctl(e->kvm_fd, KVM_GET_SUPPORTED_CPUID, sup);
		if (!r)
			break;
		if (errno != E2BIG || n >= 4096)
			return unusable("KVM_GET_SUPPORTED_CPUID");
		g_free(sup);
		n *= 2;
	}
	c = g_malloc0(sizeof(*c) + (sup->nent + 32) * sizeof(c->entries[0]));
	for (uint32_t i = 0; i < sup->nent; i++) {
		const struct kvm_cpuid_entry2 *s = &sup->entries[i];

		if (s->function == CPUID_HV_BASE && !memcmp(&s->ebx, "KVMK", 4) &&
		    !memcmp(&s->ecx, "VMKV", 4))
			kvm_sig = true;
	}
	for (uint32_t i = 0; i < sup->nent; i++) {
		const struct kvm_cpuid_entry2 *s = &sup->entries[i];
		struct kvm_cpuid_entry2 *d;

		if (s->function >= CPUID_HV_BASE && s->function < 0x50000000u) {
			if (!kvm_sig || s->function > CPUID_HV_BASE + 1)
				continue;
			d = &c->entries[c->nent++];
			*d = *s;
			d->function += 0x100;
			if (s->function == CPUID_HV_BASE)
				d->eax = CPUID_HV_BASE + 0x101;
			continue;
		}
		d = &c->entries[c->nent++];
		*d = *s;
		if (s->function == 1) {
			d->ecx |= CPUID_1_ECX_HYPERVISOR;
			d->ebx &= 0x00FFFFFFu;	/* initial APIC id 0 */
		}
	}
	for (uint32_t fn = CPUID_HV_BASE; fn <= CPUID_HV_VMWARE_TIMING; fn++) {
		struct kvm_cpuid_entry2 *d = add_leaf(c, fn);
		uint32_t v[4];

		vm_cpuid_hv(e->vm, fn, v);
		d->eax = v[0];
		d->ebx = v[1];
		d->ecx = v[2];
		d->edx = v[3];
	}
	if (kvm_ioctl(e->vcpu_fd, KVM_SET_CPUID2, c))
		return unusable("KVM_SET_CPUID2");
	return 0;
}

/* LINT0 = ExtINT (the PIC), LINT1 = NMI, as a BIOS leaves them. */
static int setup_lapic(struct kvm_engine *e)
{
	struct kvm_lapic_state l;
	uint32_t lint0, lint1;

	if (kvm_ioctl(e->vcpu_fd, KVM_GET_LAPIC, &l))
		return unusable("KVM_GET_LAPIC");
	memcpy(&lint0, &l.regs[0x350], 4);
	memcpy(&lint1, &l.regs[0x360], 4);
	lint0 = (lint0 & ~0x700u) | (7u << 8);
	lint1 = (lint1 & ~0x700u) | (4u << 8);
	memcpy(&l.regs[0x350], &lint0, 4);
	memcpy(&l.regs[0x360], &lint1, 4);
	if (kvm_ioctl(e->vcpu_fd, KVM_SET_LAPIC, &l))
		return unusable("KVM_SET_LAPIC");
	return 0;
}

static void setup_msrs_fpu(struct kvm_engine *e)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry ent[2];
	} m = { .hdr.nmsrs = 2 };
	struct kvm_fpu fpu = { .fcw = 0x37F, .mxcsr = 0x1F80 };

	m.ent[0] = (struct kvm_msr_entry){ .index = 0x1A0, .data = 1 };	/* MISC_ENABLE: fast strings */
	m.ent[1] = (struct kvm_msr_entry){ .index = 0x2FF, .data = 0x806 };	/* MTRRdefType: on, WB */
	if (ioctl(e->vcpu_fd, KVM_SET_MSRS, &m) != 2)
		g_debug("KVM_SET_MSRS: not every boot MSR was accepted");
	if (kvm_ioctl(e->vcpu_fd, KVM_SET_FPU, &fpu))
		g_debug("KVM_SET_FPU: %s", g_strerror(errno));
}

static int setup(struct kvm_engine *e, const struct kvm_options *opt)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	int mmap_size, sync;

	e->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (e->kvm_fd < 0)
		return unusable("open");
	if (ioctl(e->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		errno = ENOTSUP;
		return unusable("unexpected KVM API version");
	}
	sync = ioctl(e->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS);
	if (sync < 0 || (sync & (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS)) !=
			(KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS) ||
	    ioctl(e->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IMMEDIATE_EXIT) <= 0 ||
	    ioctl(e->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQCHIP) <= 0 ||
	    ioctl(e->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_PIT2) <= 0 ||
	    ioctl(e->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) <= 0 ||
	    ioctl(e->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) <= 0) {
		errno = ENOTSUP;
		return unusable("KVM lacks SYNC_REGS, IMMEDIATE_EXIT, IRQCHIP, PIT2, SET_TSS_ADDR "
				"or USER_MEMORY");
	}
	do
		e->vm_fd = ioctl(e->kvm_fd, KVM_CREATE_VM, 0);
	while (e->vm_fd < 0 && errno == EINTR);
	if (e->vm_fd < 0)
		return unusable("KVM_CREATE_VM");
	if (ioctl(e->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR))
		return unusable("KVM_SET_TSS_ADDR");
	/* Interrupt controllers before the vCPU exists. */
	if (kvm_ioctl(e->vm_fd, KVM_CREATE_IRQCHIP, NULL))
		return unusable("KVM_CREATE_IRQCHIP");
	if (kvm_ioctl(e->vm_fd, KVM_CREATE_PIT2, &pit))
		return unusable("KVM_CREATE_PIT2");
	if (setup_ram(e))
		return -1;
	e->vcpu_fd = ioctl(e->vm_fd, KVM_CREATE_VCPU, 0);
	if (e->vcpu_fd < 0)
		return unusable("KVM_CREATE_VCPU");
	mmap_size = ioctl(e->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (mmap_size < (int)sizeof(struct kvm_run))
		return unusable("KVM_GET_VCPU_MMAP_SIZE");
	e->run = mmap(NULL, (size_t)mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, e->vcpu_fd, 0);
	if (e->run == MAP_FAILED) {
		e->run = NULL;
		return unusable("mapping kvm_run");
	}
	e->run_size = (size_t)mmap_size;
	if (setup_cpuid(e) || setup_lapic(e))
		return -1;
	setup_msrs_fpu(e);

	if (kvm_ioctl(e->vcpu_fd, KVM_GET_SREGS, &sregs))
		return unusable("KVM_GET_SREGS");
	if (opt->payload ? kvm_boot_payload(&e->ram, opt->payload, &regs, &sregs)
			 : kvm_boot_linux(&e->ram, opt->kernel, opt->initrd, opt->cmdline, &regs,
					  &sregs))
		return -1;
	if (kvm_ioctl(e->vcpu_fd, KVM_SET_SREGS, &sregs))
		return unusable("KVM_SET_SREGS");
	if (kvm_ioctl(e->vcpu_fd, KVM_SET_REGS, &regs))
		return unusable("KVM_SET_REGS");
	e->run->kvm_valid_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;

	e->vcpu = (struct vcpu){ .vm = e->vm, .id = 0, .owner = 0,
				 .mem = { mem_read, mem_write, &e->x } };
	e->x.e = e;
	return 0;
}

static void teardown(struct kvm_engine *e)
{
	if (e->run)
		munmap(e->run, e->run_size);
	if (e->vcpu_fd >= 0)
		close(e->vcpu_fd);
	if (e->vm_fd >= 0)
		close(e->vm_fd);
	if (e->kvm_fd >= 0)
		close(e->kvm_fd);
	if (e->ram.host)
		munmap(e->ram.host, e->ram.size);
}

/* ---- the idle watchdog ---- */

static void *watchdog_main(void *p)
{
	struct kvm_engine *e = p;
	uint64_t last = UINT64_MAX;

	pthread_mutex_lock(&e->wd_lock);
	while (!e->wd_quit) {
		struct timespec ts;
		uint64_t now;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += WATCHDOG_MS * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&e->wd_cond, &e->wd_lock, &ts);
		if (e->wd_quit)
			break;
		/* No exit for a whole period: maybe halted for good; ask. */
		now = atomic_load_explicit(&e->exits, memory_order_relaxed);
		if (now == last)
			pthread_kill(e->vcpu_thread, KICK_SIGNAL);
		last = now;
	}
	pthread_mutex_unlock(&e->wd_lock);
	return NULL;
}

static void watchdog_start(struct kvm_engine *e)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&e->wd_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&e->wd_cond, &ca);
	pthread_condattr_destroy(&ca);
	e->watchdog_running = !pthread_create(&e->watchdog, NULL, watchdog_main, e);
}

static void watchdog_stop(struct kvm_engine *e)
{
	if (e->watchdog_running) {
		pthread_mutex_lock(&e->wd_lock);
		e->wd_quit = true;
		pthread_cond_signal(&e->wd_cond);
		pthread_mutex_unlock(&e->wd_lock);
		pthread_join(e->watchdog, NULL);
	}
	pthread_cond_destroy(&e->wd_cond);
	pthread_mutex_destroy(&e->wd_lock);
}

/* ---- the vCPU loop ---- */

static bool halted_for_good(struct kvm_engine *e)
{
	struct kvm_mp_state mp;

	return !ioctl(e->vcpu_fd, KVM_GET_MP_STATE, &mp) && mp.mp_state == KVM_MP_STATE_HALTED &&
	       !(e->run->s.regs.regs.rflags & RFLAGS_IF);
}

static const char *internal_suberror(uint32_t sub)
{
	switch (sub) {
	case KVM_INTERNAL_ERROR_EMULATION: return "instruction emulation failed";
	case KVM_INTERNAL_ERROR_SIMUL_EX: return "exception during exception delivery";
	case KVM_INTERNAL_ERROR_DELIVERY_EV: return "event delivery failed";
	case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON: return "unexpected hardware exit";
	default: return "unknown";
	}
}

static void report_internal(struct kvm_engine *e)
{
	struct kvm_run *run = e->run;
	GString *s = g_string_new(NULL);

	if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION) {
		if ((run->emulation_failure.ndata >= 3) &&
		    (run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES))
			for (unsigned int i = 0; i < MIN(run->emulation_failure.insn_size, 15u); i++)
				g_string_append_printf(s, " %02x",
						       run->emulation_failure.insn_bytes[i]);
		report(e, "KVM could not emulate the instruction at RIP 0x%llx%s%s "
		       "(KVM_EXIT_INTERNAL_ERROR: instruction emulation failed)",
		       run->s.regs.regs.rip, s->len ? ", bytes" : "", s->str);
	} else {
		for (unsigned int i = 0; i < MIN(run->internal.ndata, 16u); i++)
			g_string_append_printf(s, " %llx", run->internal.data[i]);
		report(e, "KVM internal error %u (%s), data:%s (KVM_EXIT_INTERNAL_ERROR)",
		       run->internal.suberror, internal_suberror(run->internal.suberror),
		       s->len ? s->str : " none");
	}
	g_string_free(s, TRUE);
}

static int vcpu_loop(struct kvm_engine *e)
{
	struct kvm_run *run = e->run;
	struct vm *vm = e->vm;
	uint64_t dirty = 0;

	for (;;) {
		int r;

		if (atomic_load(&ctl.stop)) {
			g_message("VM '%s': stopped on request", vm->name);
			return STATUS_STOPPED;
		}
		run->kvm_dirty_regs = dirty;
		dirty = 0;
		r = ioctl(e->vcpu_fd, KVM_RUN, 0);
		atomic_fetch_add_explicit(&e->exits, 1, memory_order_relaxed);
		if (r < 0) {
			if (errno != EINTR && errno != EAGAIN) {
				report(e, "KVM_RUN: %s", g_strerror(errno));
				return -1;
			}
			__atomic_store_n(&run->immediate_exit, 0, __ATOMIC_SEQ_CST);
			if (!atomic_load(&ctl.stop) && halted_for_good(e)) {
				g_message("VM '%s': the guest halted with interrupts disabled",
					  vm->name);
				return 0;
			}
		} else {
			switch (run->exit_reason) {
			case KVM_EXIT_IO:
				if (handle_io(e, &dirty))
					return -1;
				break;
			case KVM_EXIT_MMIO:
				handle_mmio(e);
				break;
			case KVM_EXIT_HLT:	/* only without the in-kernel LAPIC */
				if (!(run->s.regs.regs.rflags & RFLAGS_IF)) {
					g_message("VM '%s': the guest halted with interrupts disabled",
						  vm->name);
					return 0;
				}
				break;
			case KVM_EXIT_INTR:
			case KVM_EXIT_IRQ_WINDOW_OPEN:
				break;
			case KVM_EXIT_SHUTDOWN:
				report(e, "triple fault: the guest hit an exception it could not "
				       "handle (KVM_EXIT_SHUTDOWN)");
				return -1;
			case KVM_EXIT_INTERNAL_ERROR:
				report_internal(e);
				return -1;
			case KVM_EXIT_FAIL_ENTRY:
				report(e, "VM entry failed (KVM_EXIT_FAIL_ENTRY, hardware reason "
				       "0x%llx)", run->fail_entry.hardware_entry_failure_reason);
				return -1;
			case KVM_EXIT_SYSTEM_EVENT:
				if (run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN ||
				    run->system_event.type == KVM_SYSTEM_EVENT_RESET) {
					g_message("VM '%s': the guest asked for a %s",
						  vm->name,
						  run->system_event.type == KVM_SYSTEM_EVENT_RESET
							  ? "reset (treated as power-off)"
							  : "shutdown");
					return 0;
				}
				report(e, "system event %u (KVM_EXIT_SYSTEM_EVENT)",
				       run->system_event.type);
				return -1;
			default:
				report(e, "unexpected KVM exit reason %u", run->exit_reason);
				return -1;
			}
		}
		if (__atomic_load_n(&vm->exit_requested, __ATOMIC_ACQUIRE)) {
			int status;

			pthread_mutex_lock(&vm->lock);
			status = vm->exit_request_status;
			pthread_mutex_unlock(&vm->lock);
			g_message("VM '%s': the guest ended with status %d", vm->name, status);
			return status;
		}
	}
}

int kvm_engine_run(struct vm *vm, const struct kvm_options *opt)
{
	struct kvm_engine *e = g_new0(struct kvm_engine, 1);
	struct sigaction sa = { .sa_handler = on_kick };
	sigset_t mask, old;
	int status = -1;

	if (atomic_load(&ctl.stop)) {
		g_free(e);
		return STATUS_STOPPED;
	}
	if (!opt->payload == !opt->kernel) {
		g_warning("KVM engine: give exactly one of a payload or a kernel");
		g_free(e);
		return -1;
	}
	e->vm = vm;
	e->kvm_fd = e->vm_fd = e->vcpu_fd = -1;
	e->vcpu_thread = pthread_self();

	/* The kick interrupts KVM_RUN (no SA_RESTART); a closed console is EPIPE, not death. */
	sigemptyset(&sa.sa_mask);
	sigaction(KICK_SIGNAL, &sa, NULL);
	sigemptyset(&mask);
	sigaddset(&mask, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &mask, &old);
	sigemptyset(&mask);
	sigaddset(&mask, KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &mask, NULL);

	if (!setup(e, opt)) {
		pthread_mutex_lock(&ctl.lock);
		ctl.run = e->run;
		ctl.thread = e->vcpu_thread;
		ctl.have_thread = true;
		if (atomic_load(&ctl.stop))
			e->run->immediate_exit = 1;
		pthread_mutex_unlock(&ctl.lock);

		pthread_mutex_lock(&vm->lock);
		vm->irq_line = irq_line;
		vm->irq_opaque = e;
		pthread_mutex_unlock(&vm->lock);

		watchdog_start(e);
		status = vcpu_loop(e);
		watchdog_stop(e);

		pthread_mutex_lock(&vm->lock);
		vm->irq_line = NULL;
		vm->irq_opaque = NULL;
		if (vm->first_backdoor_us)
			g_message("VM '%s': first backdoor call %.1f ms after porthole-hv started",
				  vm->name, vm_ms_since_process_start(vm->first_backdoor_us));
		pthread_mutex_unlock(&vm->lock);

		pthread_mutex_lock(&ctl.lock);
		ctl.run = NULL;
		ctl.have_thread = false;
		pthread_mutex_unlock(&ctl.lock);
		if (e->mmio_unclaimed)
			g_message("VM '%s': %llu accesses to MMIO without a device", vm->name,
				  (unsigned long long)e->mmio_unclaimed);
	}
	teardown(e);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	g_free(e);
	return status;
}
