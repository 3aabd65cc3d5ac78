// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the device model as a guest drives it.  A real VM
 * (vm_create: backdoor 0x5658/0x5659 with GuestRPC, vmmouse and legacy
 * copy/paste behind it, VMCI, testdev, and with the kvm engine the PC
 * platform) gets the input's I/O instructions through vm_io(), as an engine
 * delivers them; no engine runs.  The first byte picks the engine, then
 * each operation is an opcode byte and its fields (see the OP_* below):
 * raw register writes and port I/O of any size, string and rep, plus
 * shortcuts for backdoor calls and GuestRPC channel traffic whose cookies
 * the harness remembers per slot, so deep RPCI/TCLO states are reachable.
 *
 * Checked after every instruction: RSP, RIP and RFLAGS untouched; an
 * ordinary in/out changes only (the right bytes of) RAX but on the backdoor
 * port; a string instruction changes only RSI/RDI/RCX (and the HB port's
 * RBX), moves its address register by exactly the elements it consumed,
 * reads (outs) or writes (ins) guest memory only inside them and never the
 * other way, and a rep that says "done" has RCX = 0 (a refused one must not
 * loop forever).  After the input: status text well formed.
 */
#include <string.h>

#include "backdoor/proto.h"
#include "backdoor/vmci.h"
#include "hypervisor/devices/rpc.h"
#include "fuzz-vm.h"

#define GUEST_BASE	0x10000ull
#define GUEST_SIZE	0x20000ull	/* 128 KiB of guest memory for string I/O */
#define SLOTS		4

enum op {
	OP_SET_REG,	/* reg, value (4 bytes; 8 with OP_WIDE) */
	OP_IO,		/* port, flags: any in/out/ins/outs */
	OP_MEM,		/* offset u16, len u16, bytes: fill guest memory */
	OP_LB,		/* cmd u16, sub u16, ebx u32: a backdoor call */
	OP_MSG,		/* slot, type u8, ebx u32: GuestRPC command 30 on a slot's channel */
	OP_HB,		/* slot, in?, offset u16, count u16: HB transfer on a slot's channel */
	OP_VMCI,	/* in?, offset u16, count u16: rep outsb/insb on VMCI data ports */
	OP_HOST,	/* what: host-side events (owner exit, TCLO command, expiry, reset) */
	OP_COUNT
};
#define OP_WIDE	0x80

struct slot {
	uint64_t dx, cookie_hi, cookie_lo;
};

struct harness {
	struct vm *vm;
	struct vcpu vcpu;
	struct fuzz_mem mem;
	struct slot slots[SLOTS];
	unsigned int tclo_queued, tclo_done;
};

static const uint16_t ports[] = {
	BDOOR_PORT_LB, BDOOR_PORT_HB,
	VMCI_PORT_BASE + VMCI_REG_STATUS, VMCI_PORT_BASE + VMCI_REG_CONTROL,
	VMCI_PORT_BASE + VMCI_REG_ICR, VMCI_PORT_BASE + VMCI_REG_IMR,
	VMCI_PORT_BASE + VMCI_REG_DATA_OUT, VMCI_PORT_BASE + VMCI_REG_DATA_IN,
	VMCI_PORT_BASE + VMCI_REG_CAPS, VMCI_PORT_BASE + VMCI_REG_RESULT_LOW,
	VMCI_PORT_BASE + VMCI_REG_RESULT_HIGH,
	0xE0, 0xE2, 0xE4, 0xE5, 0xE8,		/* testdev */
	0x3F8, 0x3F9, 0x3FA, 0x3FB, 0x3FC, 0x3FD,	/* 16550 (kvm) */
	0xCF8, 0xCF9, 0xCFC, 0xCFE, 0xF4,		/* PCI, reset, debug exit (kvm) */
};

/* The registers a port access may change, by kind of access. */
#define R_AX	(1u << 0)
#define R_BX	(1u << 1)
#define R_CX	(1u << 2)
#define R_DX	(1u << 3)
#define R_SI	(1u << 4)
#define R_DI	(1u << 5)
#define R_BP	(1u << 6)

static unsigned int changed_regs(const struct vcpu_regs *a, const struct vcpu_regs *b)
{
	return (a->rax != b->rax ? R_AX : 0) | (a->rbx != b->rbx ? R_BX : 0) |
	       (a->rcx != b->rcx ? R_CX : 0) | (a->rdx != b->rdx ? R_DX : 0) |
	       (a->rsi != b->rsi ? R_SI : 0) | (a->rdi != b->rdi ? R_DI : 0) |
	       (a->rbp != b->rbp ? R_BP : 0);
}

static void check_plain(const struct io_access *io, const struct vcpu_regs *before,
			const struct vcpu_regs *after, enum io_result res)
{
	unsigned int changed = changed_regs(before, after);

	FUZZ_CHECK(res == IO_DONE);
	if (io->port == BDOOR_PORT_LB && io->size == 4)
		return;		/* a backdoor call answers in any register but RSP */
	if (!io->in) {
		FUZZ_CHECK(changed == 0);
		return;
	}
	FUZZ_CHECK(!(changed & ~R_AX));
	if (io->size < 4) {
		uint64_t keep = ~((1ull << (8 * io->size)) - 1);

		FUZZ_CHECK((before->rax & keep) == (after->rax & keep));
	} else {
		FUZZ_CHECK(after->rax >> 32 == 0);	/* a 32-bit write zero-extends */
	}
}

static void check_string(const struct io_access *io, const struct vcpu_regs *before,
			 const struct vcpu_regs *after, enum io_result res,
			 const struct fuzz_mem *mem)
{
	uint64_t mask = io_addr_mask(io->addr_size);
	unsigned int allowed = R_CX | (io->in ? R_DI : R_SI) |
			       (io->port == BDOOR_PORT_HB ? R_BX : 0);
	uint64_t a0 = (io->in ? before->rdi : before->rsi), a1 = (io->in ? after->rdi : after->rsi);
	uint64_t count = io->rep ? (before->rcx & mask) : 1, left, consumed, lo, hi;
	bool down = before->rflags & RFLAGS_DF;

	FUZZ_CHECK(!(changed_regs(before, after) & ~allowed));
	FUZZ_CHECK((before->rcx & ~mask) == (after->rcx & ~mask));
	FUZZ_CHECK((a0 & ~mask) == (a1 & ~mask));
	if (io->rep) {
		left = after->rcx & mask;
		FUZZ_CHECK(left <= count);
		consumed = count - left;
	} else {
		FUZZ_CHECK(after->rcx == before->rcx);
		consumed = res == IO_DONE ? 1 : 0;
	}
	/* Done means done: a rep left with RCX > 0 would run again, forever. */
	if (res == IO_DONE)
		FUZZ_CHECK(consumed == count);
	else if (res == IO_PARTIAL)
		FUZZ_CHECK(io->rep && consumed > 0 && consumed < count);
	else
		FUZZ_CHECK(res == IO_FAULT);
	/* The address register moved past exactly what was consumed. */
	FUZZ_CHECK(((down ? a0 - a1 : a1 - a0) & mask) == ((consumed * io->size) & mask));

	/* Memory: only the instruction's own direction, only inside its elements. */
	FUZZ_CHECK(io->in ? !mem->read : !mem->written);
	if (io->in ? !mem->written : !mem->read)
		return;
	if (mask != ~0ull || count > (1ull << 32))
		return;		/* wrapping spans: the accessors kept it inside the buffer */
	a0 &= mask;
	lo = down ? a0 - (count - 1) * io->size : a0;
	hi = down ? a0 + io->size : a0 + count * io->size;
	if (io->in)
		FUZZ_CHECK(mem->write_lo >= lo && mem->write_hi <= hi);
	else
		FUZZ_CHECK(mem->read_lo >= lo && mem->read_hi <= hi);
}

static enum io_result run_io(struct harness *h, const struct io_access *io)
{
	struct vcpu_regs before = h->vcpu.regs;
	enum io_result res;

	fuzz_mem_clear_log(&h->mem);
	res = vm_io(h->vm, &h->vcpu, io);
	if (getenv("FUZZ_TRACE"))
		fprintf(stderr, "%s%s port 0x%04x size %u%s addr %u: %d; rax %llx->%llx rbx %llx->%llx "
			"rcx %llx->%llx rsi %llx->%llx rdi %llx->%llx\n", io->in ? "in" : "out",
			io->string ? "s" : "", io->port, io->size, io->rep ? " rep" : "", io->addr_size,
			res, (unsigned long long)before.rax, (unsigned long long)h->vcpu.regs.rax,
			(unsigned long long)before.rbx, (unsigned long long)h->vcpu.regs.rbx,
			(unsigned long long)before.rcx, (unsigned long long)h->vcpu.regs.rcx,
			(unsigned long long)before.rsi, (unsigned long long)h->vcpu.regs.rsi,
			(unsigned long long)before.rdi, (unsigned long long)h->vcpu.regs.rdi);
	FUZZ_CHECK(h->vcpu.regs.rsp == before.rsp && h->vcpu.regs.rip == before.rip &&
		   h->vcpu.regs.rflags == before.rflags);
	if (io->string)
		check_string(io, &before, &h->vcpu.regs, res, &h->mem);
	else
		check_plain(io, &before, &h->vcpu.regs, res);
	if (!io->string)
		FUZZ_CHECK(!h->mem.read && !h->mem.written);
	return res;
}

static void lb_call(struct harness *h, uint32_t ecx, uint32_t ebx)
{
	struct io_access io = { .port = BDOOR_PORT_LB, .size = 4, .in = true, .addr_size = 8 };

	h->vcpu.regs.rax = BDOOR_MAGIC;
	h->vcpu.regs.rbx = ebx;
	h->vcpu.regs.rcx = ecx;
	run_io(h, &io);
}

static void op_io(struct harness *h, struct fuzz_input *in)
{
	static const uint8_t sizes[] = { 1, 2, 4, 4 }, addr_sizes[] = { 8, 4, 2, 8 };
	unsigned int sel = (unsigned int)fuzz_take(in, 1), f = (unsigned int)fuzz_take(in, 1);
	struct io_access io = {
		.port = sel < G_N_ELEMENTS(ports) ? ports[sel] : (uint16_t)fuzz_take(in, 2),
		.size = sizes[f & 3], .in = f & 4, .string = f & 8, .rep = (f & 8) && (f & 16),
		.addr_size = addr_sizes[(f >> 5) & 3],
	};
	/* A batch of 65536 elements per call is the bus's bound; keep runs short. */
	if (io.rep && (h->vcpu.regs.rcx & io_addr_mask(io.addr_size)) > 4096)
		h->vcpu.regs.rcx &= ~io_addr_mask(io.addr_size) | 4095;
	run_io(h, &io);
}

static void op_msg(struct harness *h, struct fuzz_input *in)
{
	struct slot *s = &h->slots[fuzz_take(in, 1) % SLOTS];
	uint32_t type = (uint32_t)fuzz_take(in, 1), ebx = (uint32_t)fuzz_take(in, 4);

	h->vcpu.regs.rdx = s->dx | BDOOR_PORT_LB;
	h->vcpu.regs.rsi = s->cookie_hi;
	h->vcpu.regs.rdi = s->cookie_lo;
	lb_call(h, BDOOR_ECX(BDOOR_CMD_MESSAGE, type), ebx);
	if (type == MESSAGE_TYPE_OPEN &&
	    (BDOOR_ECX_SUB(h->vcpu.regs.rcx) & MESSAGE_STATUS_SUCCESS)) {
		s->dx = h->vcpu.regs.rdx & 0xFFFF0000u;
		s->cookie_hi = h->vcpu.regs.rsi;
		s->cookie_lo = h->vcpu.regs.rdi;
	}
}

static void op_hb(struct harness *h, struct fuzz_input *in)
{
	struct slot *s = &h->slots[fuzz_take(in, 1) % SLOTS];
	bool recv = fuzz_take(in, 1) & 1;
	uint64_t off = fuzz_take(in, 2), count = fuzz_take(in, 2);
	struct io_access io = { .port = BDOOR_PORT_HB, .size = 1, .in = recv, .string = true,
				.rep = true, .addr_size = 8 };
	struct vcpu_regs *r = &h->vcpu.regs;

	r->rax = BDOOR_MAGIC;
	r->rbx = BDOORHB_CMD_MESSAGE;
	r->rcx = count;
	r->rdx = s->dx | BDOOR_PORT_HB;
	r->rflags &= ~(uint64_t)RFLAGS_DF;
	if (recv) {	/* cookies: high in ESI, low in EBP */
		r->rsi = s->cookie_hi;
		r->rbp = s->cookie_lo;
		r->rdi = GUEST_BASE + off;
	} else {	/* high in EBP, low in EDI */
		r->rbp = s->cookie_hi;
		r->rdi = s->cookie_lo;
		r->rsi = GUEST_BASE + off;
	}
	run_io(h, &io);
}

static void op_vmci(struct harness *h, struct fuzz_input *in)
{
	bool recv = fuzz_take(in, 1) & 1;
	uint64_t off = fuzz_take(in, 2), count = fuzz_take(in, 2);
	struct io_access io = {
		.port = VMCI_PORT_BASE + (recv ? VMCI_REG_DATA_IN : VMCI_REG_DATA_OUT),
		.size = 1, .in = recv, .string = true, .rep = true, .addr_size = 8,
	};
	struct io_access result = { .port = VMCI_PORT_BASE + VMCI_REG_RESULT_LOW, .size = 4,
				    .in = true, .addr_size = 8 };

	h->vcpu.regs.rcx = count;
	h->vcpu.regs.rflags &= ~(uint64_t)RFLAGS_DF;
	*(recv ? &h->vcpu.regs.rdi : &h->vcpu.regs.rsi) = GUEST_BASE + off;
	run_io(h, &io);
	if (!recv)
		run_io(h, &result);
}

static void tclo_done(void *opaque, int status, const char *reply, size_t len)
{
	struct harness *h = opaque;

	FUZZ_CHECK(status == 0 || status == -1);
	FUZZ_CHECK(reply && strlen(reply) == len);
	h->tclo_done++;
}

static void op_host(struct harness *h, struct fuzz_input *in)
{
	static const char *const cmds[] = { "ping", "Capabilities_Register", "OS_Halt",
					    "Resolution_Set 800 600" };
	unsigned int what = (unsigned int)fuzz_take(in, 1);
	struct vm *vm = h->vm;

	switch ((what & 7) % 6) {
	case 0:		/* the guest process dies; another takes its place */
		vm_owner_exited(vm, h->vcpu.owner);
		break;
	case 1:		/* another guest process (and thread) makes the next calls */
		h->vcpu.owner = 1 + (int)(what >> 3) % 4;
		h->vcpu.id = h->vcpu.owner;
		break;
	case 2:
		pthread_mutex_lock(&vm->lock);
		if (!rpc_tclo_send(vm->rpc, (what & 8) ? TOOLS_APP_USER : NULL,
				   cmds[(what >> 4) % 4], strlen(cmds[(what >> 4) % 4]), tclo_done, h))
			h->tclo_queued++;
		pthread_mutex_unlock(&vm->lock);
		break;
	case 3:		/* time passes: commands expire */
		pthread_mutex_lock(&vm->lock);
		rpc_expire(vm->rpc, (uint64_t)g_get_monotonic_time() * 1000u +
				    (what >> 3) * 1000000000ull);
		pthread_mutex_unlock(&vm->lock);
		break;
	case 4:
		pthread_mutex_lock(&vm->lock);
		rpc_reset_channels(vm->rpc);
		pthread_mutex_unlock(&vm->lock);
		break;
	case 5:
		fuzz_check_vm_status(vm);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	struct harness h = { 0 };
	const uint8_t *bytes;
	unsigned int steps = 0;

	h.vm = fuzz_vm_new(fuzz_take(&in, 1) & 1);
	fuzz_mem_init(&h.mem, GUEST_BASE, GUEST_SIZE);
	h.vcpu = (struct vcpu){ .vm = h.vm, .id = 1, .owner = 1, .mem = fuzz_mem_ops(&h.mem),
				.regs = { .rsp = 0x7ffc0000, .rip = 0x401000, .rflags = 0x202 } };
	while (in.left && steps++ < 4096) {
		unsigned int op = (unsigned int)fuzz_take(&in, 1);
		uint64_t off, len;

		switch ((op & ~OP_WIDE) % OP_COUNT) {
		case OP_SET_REG: {
			unsigned int reg = (unsigned int)fuzz_take(&in, 1) % 8;
			uint64_t v = fuzz_take(&in, (op & OP_WIDE) ? 8 : 4);
			uint64_t *regs[] = { &h.vcpu.regs.rax, &h.vcpu.regs.rbx, &h.vcpu.regs.rcx,
					     &h.vcpu.regs.rdx, &h.vcpu.regs.rsi, &h.vcpu.regs.rdi,
					     &h.vcpu.regs.rbp };

			if (reg < 7)
				*regs[reg] = v;
			else	/* the direction flag */
				h.vcpu.regs.rflags = (h.vcpu.regs.rflags & ~(uint64_t)RFLAGS_DF) |
						     (v & 1 ? RFLAGS_DF : 0);
			break;
		}
		case OP_IO:
			op_io(&h, &in);
			break;
		case OP_MEM:
			off = fuzz_take(&in, 2) % GUEST_SIZE;
			len = fuzz_take(&in, 2);
			len = fuzz_take_bytes(&in, MIN(len, GUEST_SIZE - off), &bytes);
			memcpy(h.mem.buf + off, bytes, len);
			break;
		case OP_LB: {
			uint32_t cmd = (uint32_t)fuzz_take(&in, 2), sub = (uint32_t)fuzz_take(&in, 2);

			lb_call(&h, BDOOR_ECX(cmd, sub), (uint32_t)fuzz_take(&in, 4));
			break;
		}
		case OP_MSG:
			op_msg(&h, &in);
			break;
		case OP_HB:
			op_hb(&h, &in);
			break;
		case OP_VMCI:
			op_vmci(&h, &in);
			break;
		case OP_HOST:
			op_host(&h, &in);
			break;
		}
	}
	fuzz_check_vm_status(h.vm);
	vm_destroy(h.vm);
	/* Every host command finished exactly once, the last ones when the VM went. */
	FUZZ_CHECK(h.tclo_done == h.tclo_queued);
	fuzz_mem_free(&h.mem);
	return 0;
}
