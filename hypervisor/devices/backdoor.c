// SPDX-License-Identifier: MIT
/*
 * The VMware backdoor: port 0x5658 (one `in` per call, arguments and results
 * in registers) and port 0x5659 (message payloads by `rep outsb`/`rep insb`).
 * Command numbers and register conventions: backdoor/proto.h.
 */
#define G_LOG_DOMAIN "porthole-hv"
#include <glib.h>
#include <string.h>
#include <sys/time.h>

#include "backdoor/msgchan-host.h"
#include "backdoor/proto.h"
#include "hypervisor/vm.h"
#include "copypaste.h"
#include "devices.h"
#include "rpc.h"
#include "tools-options.h"
#include "vmmouse.h"

/* Virtual hardware version reported by GETHWVERSION (ESXi 7.0 U2). */
#define BDOOR_HW_VERSION	19
/* The most the host's clock may lag behind true time, in µs (GETTIME*). */
#define BDOOR_MAX_TIME_LAG_US	1000000

static uint64_t now_ns(void)
{
	return (uint64_t)g_get_monotonic_time() * 1000u;
}

/* Copy between the vCPU's register file and the backdoor's view of it. */
static void to_bdoor(const struct vcpu_regs *v, struct bdoor_regs *b)
{
	*b = (struct bdoor_regs){ v->rax, v->rbx, v->rcx, v->rdx, v->rsi, v->rdi, v->rbp };
}

static void from_bdoor(const struct bdoor_regs *b, struct vcpu_regs *v)
{
	v->rbx = b->bx;
	v->rcx = b->cx;
	v->rdx = b->dx;
	v->rsi = b->si;
	v->rdi = b->di;
	v->rbp = b->bp;
}

static void get_time(uint64_t *secs, uint32_t *usecs)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	*secs = (uint64_t)tv.tv_sec;
	*usecs = (uint32_t)tv.tv_usec;
}

/*
 * One low-bandwidth call.  Returns the new EAX; other registers are changed
 * in `b` as each command defines.
 */
static uint32_t lb_command(struct vm *vm, struct vcpu *vcpu, struct bdoor_regs *b)
{
	uint32_t cmd = BDOOR_ECX_CMD(b->cx);
	uint64_t secs;
	uint32_t usecs;

	switch (cmd) {
	case BDOOR_CMD_GETVERSION:
		b->bx = BDOOR_MAGIC;
		b->cx = vm->vmx_type;
		return BDOOR_VERSION;
	case BDOOR_CMD_GETMHZ:
		b->bx = BDOOR_MAGIC;
		return vm->tsc_khz / 1000;
	case BDOOR_CMD_GETHZ: {
		uint64_t hz = (uint64_t)vm->tsc_khz * 1000;

		b->bx = (uint32_t)(hz >> 32);
		b->cx = 1000000000u;	/* APIC bus Hz */
		return (uint32_t)hz;
	}
	case BDOOR_CMD_GETHWVERSION:
		b->bx = BDOOR_MAGIC;
		return BDOOR_HW_VERSION;
	case BDOOR_CMD_GETMEMSIZE:
		b->bx = 0x1177;
		return (uint32_t)MIN(vm->ram_size >> 20, UINT32_MAX);
	case BDOOR_CMD_GETSCREENSIZE:
		return BDOOR_SCREENSIZE(vm->screen_width, vm->screen_height);
	case BDOOR_CMD_GETBIOSUUID: {
		uint32_t w[4];

		memcpy(w, vm->bios_uuid, 16);
		b->bx = w[1];
		b->cx = w[2];
		b->dx = w[3];
		return w[0];
	}
	case BDOOR_CMD_GETGUIOPTIONS:
		return tools_options_gui(vm);
	case BDOOR_CMD_GETDEVICELISTELEMENT:
		return tools_options_device_element(vm, b);
	case BDOOR_CMD_TOGGLEDEVICE:
		return tools_options_toggle_device(vm, b);
	case BDOOR_CMD_GETTIME:
		get_time(&secs, &usecs);
		b->bx = usecs;
		b->cx = BDOOR_MAX_TIME_LAG_US;
		return (uint32_t)secs;
	case BDOOR_CMD_GETTIMEFULL_WITH_LAG:
		b->di = 0;	/* interrupt lag: none, interrupts are not virtualized here */
		/* fall through */
	case BDOOR_CMD_GETTIMEFULL:
		/* Success is signalled by EAX keeping the magic. */
		get_time(&secs, &usecs);
		b->si = (uint32_t)(secs >> 32);
		b->dx = (uint32_t)secs;
		b->bx = usecs;
		b->cx = BDOOR_MAX_TIME_LAG_US;
		return BDOOR_MAGIC;
	case BDOOR_CMD_STOPCATCHUP:
		return 0;
	case BDOOR_CMD_ISMOUSEABSOLUTE:
		return 1;	/* the vmmouse below */
	case BDOOR_CMD_ABSPOINTER_DATA:
	case BDOOR_CMD_ABSPOINTER_STATUS:
	case BDOOR_CMD_ABSPOINTER_COMMAND:
		return vmmouse_backdoor(vm->vmmouse, cmd, b);
	case BDOOR_CMD_GET_VCPU_INFO:
		return 0;
	case BDOOR_CMD_GETPTRLOCATION:
		return vmmouse_get_ptr_location(vm->vmmouse, vm->screen_width, vm->screen_height);
	case BDOOR_CMD_SETPTRLOCATION:
		vmmouse_set_ptr_location(vm->vmmouse, (uint32_t)b->bx);
		return 0;
	case BDOOR_CMD_GETSELLENGTH ... BDOOR_CMD_SETNEXTPIECE:
		return copypaste_backdoor(vm, vcpu, b);	/* legacy copy/paste: copypaste.c */
	case BDOOR_CMD_MESSAGE:
		msgchan_host_lb(rpc_channels(vm->rpc), b, vcpu->owner, now_ns());
		return (uint32_t)b->ax;
	default:
		/* Tools poll what they miss: a few lines a minute per command, and a count. */
		vm_guest_log_per(vm, MIN(cmd, 255u), "backdoor: unknown command %u (ECX 0x%08x)", cmd,
				 (uint32_t)b->cx);
		return BDOOR_UNSUPPORTED;
	}
}

static enum io_result lb_io(struct io_device *dev, struct vcpu *vcpu, const struct io_access *io,
			    uint32_t *val)
{
	struct vm *vm = dev->opaque;
	struct bdoor_regs b;

	if (io->size != 4) {
		vm_guest_log(vm, "backdoor: %u-byte access to port 0x%04x ignored", io->size,
			     io->port);
		*val = BDOOR_UNSUPPORTED;
		return IO_DONE;
	}
	/* Like QEMU, an `out` is treated as the call too. */
	if ((uint32_t)vcpu->regs.rax != BDOOR_MAGIC) {
		vm_guest_log(vm, "backdoor: call without the magic (EAX 0x%08x)",
			     (uint32_t)vcpu->regs.rax);
		*val = BDOOR_UNSUPPORTED;
		return IO_DONE;
	}
	to_bdoor(&vcpu->regs, &b);
	*val = lb_command(vm, vcpu, &b);
	from_bdoor(&b, &vcpu->regs);
	if (!io->in)	/* QEMU answers a 4-byte `out` like the `in`: do the same */
		vcpu->regs.rax = *val;
	return IO_DONE;
}

/*
 * A string instruction on the low-bandwidth port is no backdoor call: run
 * element by element, each would be a whole command rewriting the very
 * registers (RSI, RDI, RCX) the instruction steps.  Refused like a port that
 * takes or gives nothing (found by tests/fuzz/fuzz-backdoor).
 */
static enum io_result lb_string(struct io_device *dev, struct vcpu *vcpu,
				const struct io_access *io)
{
	vm_guest_log(dev->opaque, "backdoor: string I/O on port 0x%04x ignored", io->port);
	return io_string_refuse(vcpu, io);
}

/* A plain in/out on the HB port is not a message transfer. */
static enum io_result hb_io(struct io_device *dev, struct vcpu *vcpu, const struct io_access *io,
			    uint32_t *val)
{
	vm_guest_log(dev->opaque, "backdoor hb: non-string access ignored");
	*val = BDOOR_UNSUPPORTED;
	return IO_DONE;
}

static enum io_result hb_string(struct io_device *dev, struct vcpu *vcpu,
				const struct io_access *io)
{
	struct vm *vm = dev->opaque;
	struct vcpu_regs *r = &vcpu->regs;
	uint64_t mask = io_addr_mask(io->addr_size);
	uint64_t count = io->rep ? (r->rcx & mask) : 1;
	struct bdoor_regs b;

	if ((uint32_t)r->rax != BDOOR_MAGIC || io->size != 1 || !io->rep ||
	    (r->rflags & RFLAGS_DF)) {
		vm_guest_log(vm, "backdoor hb: expects `cld; rep %s` with the magic",
			     io->in ? "insb" : "outsb");
		r->rbx = 0;	/* status 0: failure */
		return io_string_refuse(vcpu, io);
	}
	to_bdoor(r, &b);
	b.si &= mask;
	b.di &= mask;
	if (io->in)
		msgchan_host_hb_recv(rpc_channels(vm->rpc), &b, count, vcpu, now_ns());
	else
		msgchan_host_hb_send(rpc_channels(vm->rpc), &b, count, vcpu, now_ns());
	r->rbx = b.bx;
	/* The instruction completed: the address register moved past the data. */
	if (io->in)
		r->rdi = (r->rdi & ~mask) | ((r->rdi + count) & mask);
	else
		r->rsi = (r->rsi & ~mask) | ((r->rsi + count) & mask);
	r->rcx &= ~mask;
	return IO_DONE;
}

static void release(struct io_device *dev)
{
	g_free(dev);
}

/* The low-bandwidth port owns the vmmouse behind it. */
static void lb_release(struct io_device *dev)
{
	struct vm *vm = dev->opaque;

	vmmouse_free(vm->vmmouse);
	vm->vmmouse = NULL;
	g_free(dev);
}

static const struct io_device_ops lb_ops = {
	.io = lb_io, .string_io = lb_string, .release = lb_release,
};
static const struct io_device_ops hb_ops = { .io = hb_io, .string_io = hb_string, .release = release };

int backdoor_init(struct vm *vm)
{
	struct io_device *lb = g_new0(struct io_device, 1);
	struct io_device *hb = g_new0(struct io_device, 1);

	*lb = (struct io_device){ "backdoor", BDOOR_PORT_LB, 1, &lb_ops, vm };
	*hb = (struct io_device){ "backdoor-hb", BDOOR_PORT_HB, 1, &hb_ops, vm };
	if (iobus_register(vm->iobus, lb)) {
		g_free(lb);
		g_free(hb);
		return -1;
	}
	vm->vmmouse = vmmouse_new(vm);
	if (iobus_register(vm->iobus, hb)) {
		g_free(hb);
		return -1;
	}
	return 0;
}
