// SPDX-License-Identifier: MIT
/*
 * A 16550A UART at 0x3F8 (COM1, IRQ 4): enough for Linux's 8250 driver and
 * the payload runtime.  Output only: what the guest transmits goes, byte for
 * byte and unprefixed, to the hypervisor's standard output (the guest
 * console, as a trap-engine guest's stdout is); the hypervisor's own log
 * stays on stderr.  Nothing is ever received from the host: RBR reads 0
 * and LSR.DR stays clear, except in loopback mode, where transmitted bytes
 * come back as the 8250 driver's probe expects.
 *
 * Registers (offset from the base; DLAB is LCR bit 7):
 *   0  RBR (read) / THR (write); DLL with DLAB
 *   1  IER; DLM with DLAB
 *   2  IIR (read) / FCR (write)
 *   3  LCR    4  MCR    5  LSR (THRE|TEMT always)    6  MSR    7  SCR
 *
 * Interrupts: "transmitter empty" (IER bit 1) and "data ready" (IER bit 0,
 * loopback only), gated by MCR.OUT2 as on a PC, delivered with
 * vm_set_irq(); an engine without an interrupt controller drops them and
 * Linux falls back to polling.
 */
#define G_LOG_DOMAIN "porthole-hv"
#include <errno.h>
#include <glib.h>
#include <unistd.h>

#include "devices.h"
#include "hypervisor/vm.h"

#define SERIAL_BASE	0x3F8
#define SERIAL_IRQ	4
#define RX_FIFO		16

#define IER_RDI		0x01	/* received data available */
#define IER_THRI	0x02	/* transmitter holding register empty */
#define IIR_NO_INT	0x01
#define IIR_THRI	0x02
#define IIR_RDI		0x04
#define IIR_FIFO	0xC0
#define FCR_ENABLE	0x01
#define FCR_CLEAR_RX	0x02
#define LCR_DLAB	0x80
#define MCR_DTR		0x01
#define MCR_RTS		0x02
#define MCR_OUT1	0x04
#define MCR_OUT2	0x08
#define MCR_LOOP	0x10
#define LSR_DR		0x01
#define LSR_THRE	0x20
#define LSR_TEMT	0x40
#define MSR_CTS		0x10
#define MSR_DSR		0x20
#define MSR_RI		0x40
#define MSR_DCD		0x80

struct serial {
	struct io_device dev;
	struct vm *vm;
	int out_fd;
	uint8_t ier, lcr, mcr, scr, fcr;
	uint16_t divisor;
	bool thr_pending;	/* "THR empty" interrupt not yet acknowledged */
	bool irq_level;
	uint8_t rx[RX_FIFO];
	unsigned int rx_head, rx_len;
	bool write_failed;
};

static uint8_t iir(const struct serial *s)
{
	uint8_t fifo = (s->fcr & FCR_ENABLE) ? IIR_FIFO : 0;

	if ((s->ier & IER_RDI) && s->rx_len)
		return fifo | IIR_RDI;
	if ((s->ier & IER_THRI) && s->thr_pending)
		return fifo | IIR_THRI;
	return fifo | IIR_NO_INT;
}

static void update_irq(struct serial *s)
{
	bool level = !(iir(s) & IIR_NO_INT) && (s->mcr & MCR_OUT2);

	if (level != s->irq_level) {
		s->irq_level = level;
		vm_set_irq(s->vm, SERIAL_IRQ, level);
	}
}

static void transmit(struct serial *s, uint8_t byte)
{
	if (s->mcr & MCR_LOOP) {
		if (s->rx_len < RX_FIFO)
			s->rx[(s->rx_head + s->rx_len++) % RX_FIFO] = byte;
		return;
	}
	while (!s->write_failed) {
		ssize_t n = write(s->out_fd, &byte, 1);

		if (n == 1)
			break;
		if (n < 0 && errno == EINTR)
			continue;
		/* A closed console (EPIPE, ...) drops the output, not the VM. */
		g_message("serial console: %s; guest output is dropped from now on",
			  n < 0 ? g_strerror(errno) : "short write");
		s->write_failed = true;
	}
}

static uint8_t msr(const struct serial *s)
{
	uint8_t m = 0;

	if (!(s->mcr & MCR_LOOP))
		return MSR_DCD | MSR_DSR | MSR_CTS;
	/* Loopback wires the modem outputs to the inputs. */
	if (s->mcr & MCR_RTS)
		m |= MSR_CTS;
	if (s->mcr & MCR_DTR)
		m |= MSR_DSR;
	if (s->mcr & MCR_OUT1)
		m |= MSR_RI;
	if (s->mcr & MCR_OUT2)
		m |= MSR_DCD;
	return m;
}

static uint8_t reg_read(struct serial *s, unsigned int reg)
{
	uint8_t v = 0;

	switch (reg) {
	case 0:
		if (s->lcr & LCR_DLAB)
			return s->divisor & 0xFF;
		if (s->rx_len) {
			v = s->rx[s->rx_head];
			s->rx_head = (s->rx_head + 1) % RX_FIFO;
			s->rx_len--;
		}
		return v;
	case 1:
		return (s->lcr & LCR_DLAB) ? s->divisor >> 8 : s->ier;
	case 2:
		v = iir(s);
		/* Reading IIR acknowledges a THR-empty interrupt it reports. */
		if ((v & 0x0F) == IIR_THRI)
			s->thr_pending = false;
		return v;
	case 3:
		return s->lcr;
	case 4:
		return s->mcr;
	case 5:
		return LSR_THRE | LSR_TEMT | (s->rx_len ? LSR_DR : 0);
	case 6:
		return msr(s);
	default:
		return s->scr;
	}
}

static void reg_write(struct serial *s, unsigned int reg, uint8_t v)
{
	switch (reg) {
	case 0:
		if (s->lcr & LCR_DLAB) {
			s->divisor = (s->divisor & 0xFF00) | v;
			return;
		}
		transmit(s, v);
		/* Sent at once: the holding register is empty again. */
		s->thr_pending = true;
		return;
	case 1:
		if (s->lcr & LCR_DLAB) {
			s->divisor = (uint16_t)((s->divisor & 0xFF) | v << 8);
			return;
		}
		/* Enabling the THR-empty interrupt with THR empty raises it. */
		if ((v & IER_THRI) && !(s->ier & IER_THRI))
			s->thr_pending = true;
		s->ier = v & 0x0F;
		return;
	case 2:
		s->fcr = v & FCR_ENABLE;
		if (v & FCR_CLEAR_RX)
			s->rx_len = 0;
		return;
	case 3:
		s->lcr = v;
		return;
	case 4:
		s->mcr = v & 0x1F;
		return;
	case 7:
		s->scr = v;
		return;
	default:	/* LSR and MSR are read-only */
		return;
	}
}

static enum io_result serial_io(struct io_device *dev, struct vcpu *vcpu,
				const struct io_access *io, uint32_t *val)
{
	struct serial *s = dev->opaque;
	unsigned int reg = io->port - SERIAL_BASE;
	uint32_t res = 0;

	/* A wider access touches consecutive registers, one byte each. */
	for (unsigned int i = 0; i < io->size && reg + i < 8; i++) {
		if (io->in)
			res |= (uint32_t)reg_read(s, reg + i) << (8 * i);
		else
			reg_write(s, reg + i, (uint8_t)(*val >> (8 * i)));
	}
	if (io->in)
		*val = res | (io->size > 8 - reg ? 0xFFFFFFFFu << (8 * (8 - reg)) : 0);
	update_irq(s);
	return IO_DONE;
}

static void serial_release(struct io_device *dev)
{
	g_free(dev->opaque);
}

static const struct io_device_ops serial_ops = { .io = serial_io, .release = serial_release };

int serial_init(struct vm *vm)
{
	struct serial *s = g_new0(struct serial, 1);

	s->vm = vm;
	s->out_fd = STDOUT_FILENO;
	s->divisor = 12;	/* 9600 baud, as a BIOS leaves it */
	s->dev = (struct io_device){ "serial", SERIAL_BASE, 8, &serial_ops, s };
	if (iobus_register(vm->iobus, &s->dev)) {
		g_free(s);
		return -1;
	}
	return 0;
}
