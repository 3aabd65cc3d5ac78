// SPDX-License-Identifier: MIT
/*
 * The backdoor call ABI: the instructions, and the transport switch that
 * lets unit tests replace them.  No malloc, no stdio, no libc at all, so a
 * freestanding payload can link this file.
 */
#include <cpuid.h>
#include <stddef.h>

#include "backdoor.h"

/*
 * A copy of the installed transport.  `tp_set` is the one branch on the
 * real path; it is false in every production process.
 */
static bool tp_set;
static struct bdoor_transport tp;

void bdoor_set_transport(const struct bdoor_transport *t)
{
	if (t) {
		tp = *t;
		tp_set = true;
	} else {
		tp_set = false;
		tp = (struct bdoor_transport) { 0 };
	}
}

void bdoor_lb(struct bdoor_regs *r)
{
	r->dx = (r->dx & ~0xFFFFull) | BDOOR_PORT_LB;

	if (__builtin_expect(tp_set, 0)) {
		tp.lb(r, tp.opaque);
		return;
	}

	uint64_t ax = r->ax, bx = r->bx, cx = r->cx, dx = r->dx, si = r->si, di = r->di;

	__asm__ __volatile__("inl %%dx, %%eax"
			     : "+a"(ax), "+b"(bx), "+c"(cx), "+d"(dx), "+S"(si), "+D"(di)
			     :
			     : "memory");

	r->ax = ax;
	r->bx = bx;
	r->cx = cx;
	r->dx = dx;
	r->si = si;
	r->di = di;
}

/*
 * RBP carries an argument on the high-bandwidth port, but RBP may be the
 * frame pointer, and the compiler cannot give it to us as an operand.  So
 * the asm saves it on the stack around the instruction.  Before the push
 * it steps over the 128-byte red zone, where a leaf function may keep live
 * data below RSP.  The bp value comes in some other general register (if
 * the compiler happens to pick RBP itself, the push saves the value and
 * the mov is a no-op, which is still right).  Hosts do not return anything
 * in RBP, so it is not read back.
 */
#define BDOOR_HB_ASM(insn)						\
	"lea -128(%%rsp), %%rsp\n\t"					\
	"push %%rbp\n\t"						\
	"mov %[bp], %%rbp\n\t"						\
	"cld\n\t"							\
	insn "\n\t"							\
	"pop %%rbp\n\t"							\
	"lea 128(%%rsp), %%rsp"

void bdoor_hb_out(struct bdoor_regs *r)
{
	r->dx = (r->dx & ~0xFFFFull) | BDOOR_PORT_HB;

	if (__builtin_expect(tp_set, 0)) {
		tp.hb_out(r, tp.opaque);
		return;
	}

	uint64_t ax = r->ax, bx = r->bx, cx = r->cx, dx = r->dx, si = r->si, di = r->di;

	__asm__ __volatile__(BDOOR_HB_ASM("rep outsb")
			     : "+a"(ax), "+b"(bx), "+c"(cx), "+d"(dx), "+S"(si), "+D"(di)
			     : [bp] "r"(r->bp)
			     : "memory", "cc");

	r->ax = ax;
	r->bx = bx;
	r->cx = cx;
	r->dx = dx;
	r->si = si;
	r->di = di;
}

void bdoor_hb_in(struct bdoor_regs *r)
{
	r->dx = (r->dx & ~0xFFFFull) | BDOOR_PORT_HB;

	if (__builtin_expect(tp_set, 0)) {
		tp.hb_in(r, tp.opaque);
		return;
	}

	uint64_t ax = r->ax, bx = r->bx, cx = r->cx, dx = r->dx, si = r->si, di = r->di;

	__asm__ __volatile__(BDOOR_HB_ASM("rep insb")
			     : "+a"(ax), "+b"(bx), "+c"(cx), "+d"(dx), "+S"(si), "+D"(di)
			     : [bp] "r"(r->bp)
			     : "memory", "cc");

	r->ax = ax;
	r->bx = bx;
	r->cx = cx;
	r->dx = dx;
	r->si = si;
	r->di = di;
}

void bdoor_cpuid(uint32_t leaf, uint32_t sub, uint32_t out[4])
{
	__cpuid_count(leaf, sub, out[0], out[1], out[2], out[3]);
}

void bdoor_identify(struct bdoor_info *info)
{
	uint32_t r[4];

	*info = (struct bdoor_info) { 0 };

	bdoor_cpuid(1, 0, r);
	info->hv_bit = (r[2] & CPUID_1_ECX_HYPERVISOR) != 0;
	if (!info->hv_bit)
		return;

	/*
	 * Leaves 0x40000000+ are only defined with the hypervisor bit; on
	 * bare metal they alias the highest basic leaf.
	 */
	bdoor_cpuid(CPUID_HV_BASE, 0, r);
	info->hv_max_leaf = r[0];
	for (int i = 0; i < 4; i++) {
		info->vendor[i] = (char)(r[1] >> (8 * i));
		info->vendor[4 + i] = (char)(r[2] >> (8 * i));
		info->vendor[8 + i] = (char)(r[3] >> (8 * i));
	}
	info->vendor[12] = '\0';
}

bool bdoor_getversion(struct bdoor_info *info)
{
	struct bdoor_regs r;

	bdoor_lb_cmd(&r, BDOOR_CMD_GETVERSION, 0xFFFF);
	r.bx = ~BDOOR_MAGIC;
	bdoor_lb(&r);

	if (bdoor_lo32(r.bx) != BDOOR_MAGIC || bdoor_lo32(r.ax) == BDOOR_UNSUPPORTED)
		return false;
	info->version = bdoor_lo32(r.ax);
	info->vmx_type = bdoor_lo32(r.cx);
	return true;
}
