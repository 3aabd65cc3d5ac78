// SPDX-License-Identifier: MIT
/*
 * The I/O-port bus.  See iobus.h.  A sorted array is plenty: a VM has a
 * handful of port devices, and the backdoor ports are looked up first.
 */
#define G_LOG_DOMAIN "porthole-hv"
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "iobus.h"

#define IOBUS_MAX_DEVICES 32

struct iobus {
	struct io_device *devs[IOBUS_MAX_DEVICES];
	int n;
	/* One warning per unclaimed port, so a scanning guest can't flood the log. */
	uint8_t warned[65536 / 8];
};

struct iobus *iobus_new(void)
{
	return calloc(1, sizeof(struct iobus));
}

void iobus_free(struct iobus *bus)
{
	if (!bus)
		return;
	for (int i = 0; i < bus->n; i++)
		if (bus->devs[i]->ops->release)
			bus->devs[i]->ops->release(bus->devs[i]);
	free(bus);
}

int iobus_register(struct iobus *bus, struct io_device *dev)
{
	unsigned int end = (unsigned int)dev->base + dev->count;

	if (bus->n == IOBUS_MAX_DEVICES || dev->count == 0 || end > 0x10000)
		return -1;
	for (int i = 0; i < bus->n; i++) {
		struct io_device *o = bus->devs[i];

		if (dev->base < o->base + o->count && o->base < end)
			return -1;
	}
	bus->devs[bus->n++] = dev;
	return 0;
}

static struct io_device *find(struct iobus *bus, uint16_t port)
{
	for (int i = 0; i < bus->n; i++) {
		struct io_device *d = bus->devs[i];

		if (port >= d->base && port - d->base < d->count)
			return d;
	}
	return NULL;
}

static void store_in_value(struct vcpu_regs *regs, uint8_t size, uint32_t val)
{
	switch (size) {
	case 1:
		regs->rax = (regs->rax & ~0xFFull) | (val & 0xFF);
		break;
	case 2:
		regs->rax = (regs->rax & ~0xFFFFull) | (val & 0xFFFF);
		break;
	default:
		regs->rax = val;	/* a 32-bit write zero-extends */
		break;
	}
}

static enum io_result unclaimed(struct iobus *bus, struct vcpu *vcpu, const struct io_access *io,
				uint32_t *val)
{
	if (!(bus->warned[io->port / 8] & (1u << (io->port % 8)))) {
		bus->warned[io->port / 8] |= 1u << (io->port % 8);
		g_message("guest %s port 0x%04x with no device (reads all ones; logged once)",
			  io->in ? "read" : "wrote", io->port);
	}
	if (io->in)
		*val = 0xFFFFFFFFu;
	return IO_DONE;
}

static enum io_result element(struct iobus *bus, struct io_device *dev, struct vcpu *vcpu,
			      const struct io_access *io, uint32_t *val)
{
	if (!dev)
		return unclaimed(bus, vcpu, io, val);
	return dev->ops->io(dev, vcpu, io, val);
}

/*
 * ins/outs one element at a time, as the CPU does: each iteration moves one
 * element, steps RSI/RDI by the element size (down when DF is set) and
 * decrements RCX, so a fault part way leaves the registers restartable.
 */
static enum io_result string_loop(struct iobus *bus, struct io_device *dev, struct vcpu *vcpu,
				  const struct io_access *io)
{
	struct vcpu_regs *r = &vcpu->regs;
	uint64_t mask = io_addr_mask(io->addr_size);
	uint64_t *addr_reg = io->in ? &r->rdi : &r->rsi;
	int64_t step = (r->rflags & RFLAGS_DF) ? -(int64_t)io->size : io->size;
	uint64_t count = io->rep ? (r->rcx & mask) : 1;
	uint64_t batch = count > IOBUS_STRING_BATCH ? IOBUS_STRING_BATCH : count;

	for (; batch; batch--) {
		uint64_t addr = *addr_reg & mask;
		uint32_t val = 0;

		if (io->in) {
			enum io_result res = element(bus, dev, vcpu, io, &val);

			if (res != IO_DONE)
				return res;
			if (guest_write(vcpu, addr, &val, io->size))
				return IO_FAULT;
		} else {
			if (guest_read(vcpu, addr, &val, io->size))
				return IO_FAULT;
			enum io_result res = element(bus, dev, vcpu, io, &val);

			if (res != IO_DONE)
				return res;
		}
		*addr_reg = (*addr_reg & ~mask) | ((addr + (uint64_t)step) & mask);
		if (io->rep)
			r->rcx = (r->rcx & ~mask) | ((r->rcx - 1) & mask);
	}
	return (io->rep && (r->rcx & mask)) ? IO_PARTIAL : IO_DONE;
}

enum io_result iobus_dispatch(struct iobus *bus, struct vcpu *vcpu, const struct io_access *io)
{
	struct io_device *dev = find(bus, io->port);
	uint32_t val;
	enum io_result res;

	if (io->string) {
		if (dev && dev->ops->string_io)
			return dev->ops->string_io(dev, vcpu, io);
		return string_loop(bus, dev, vcpu, io);
	}
	val = io->in ? 0 : (uint32_t)vcpu->regs.rax;
	if (!io->in && io->size < 4)
		val &= (1u << (io->size * 8)) - 1;
	res = element(bus, dev, vcpu, io, &val);
	if (res == IO_DONE && io->in)
		store_in_value(&vcpu->regs, io->size, val);
	return res;
}

enum io_result io_string_refuse(struct vcpu *vcpu, const struct io_access *io)
{
	struct vcpu_regs *r = &vcpu->regs;
	uint64_t mask = io_addr_mask(io->addr_size);
	uint64_t count = io->rep ? (r->rcx & mask) : 1;
	uint64_t *areg = io->in ? &r->rdi : &r->rsi;
	uint64_t step = count * io->size;

	if (r->rflags & RFLAGS_DF)
		*areg = (*areg & ~mask) | ((*areg - step) & mask);
	else
		*areg = (*areg & ~mask) | ((*areg + step) & mask);
	if (io->rep)
		r->rcx &= ~mask;
	return IO_DONE;
}
