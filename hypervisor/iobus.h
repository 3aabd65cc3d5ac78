/* SPDX-License-Identifier: MIT */
/*
 * The I/O-port bus: engines decode an `in`, `out`, `ins` or `outs` into a
 * struct io_access and call iobus_dispatch(); devices register a port range
 * and get called.  Modeled on kvmtool's ioport bus.
 */
#ifndef PORTHOLE_HV_IOBUS_H
#define PORTHOLE_HV_IOBUS_H

#include "vcpu.h"

struct io_access {
	uint16_t port;
	uint8_t size;		/* 1, 2 or 4 bytes per element */
	bool in;		/* true: guest reads the port (in/ins) */
	bool string;		/* ins/outs: data goes through guest memory */
	bool rep;		/* rep prefix: RCX elements */
	uint8_t addr_size;	/* 2, 4 or 8: width of RSI/RDI/RCX for strings */
};

enum io_result {
	IO_DONE = 0,		/* instruction complete: engine advances RIP */
	IO_FAULT = -1,		/* guest memory fault: engine raises #PF/#GP, RIP unchanged */
	/*
	 * A rep string instruction made progress (RSI/RDI/RCX updated) but is
	 * not finished: the engine leaves RIP on it and the guest executes it
	 * again, as a CPU does when it takes an interrupt mid-rep.  Bounds how
	 * long one instruction holds vm->lock.
	 */
	IO_PARTIAL = 1,
};

/* Elements one dispatch of a rep string instruction moves at most. */
#define IOBUS_STRING_BATCH	65536

struct io_device;

struct io_device_ops {
	/*
	 * One element.  For `in`, store the value in *val (the bus writes
	 * AL/AX/EAX).  For `out`, *val holds the value.  A device may also
	 * read or write other vCPU registers: the backdoor does.
	 */
	enum io_result (*io)(struct io_device *dev, struct vcpu *vcpu,
			     const struct io_access *io, uint32_t *val);
	/*
	 * Optional: the whole string instruction at once (the backdoor's
	 * high-bandwidth port moves a message per `rep outsb`).  The device
	 * updates RSI/RDI/RCX as the CPU would.  Without it the bus loops over
	 * elements through ->io and guest memory.
	 */
	enum io_result (*string_io)(struct io_device *dev, struct vcpu *vcpu,
				    const struct io_access *io);
	/* Optional: iobus_free() calls it for each registered device. */
	void (*release)(struct io_device *dev);
};

struct io_device {
	const char *name;
	uint16_t base;
	uint16_t count;
	const struct io_device_ops *ops;
	void *opaque;
};

struct iobus;

struct iobus *iobus_new(void);
void iobus_free(struct iobus *bus);
/* Returns 0, or -1 when the range overlaps a registered device. */
int iobus_register(struct iobus *bus, struct io_device *dev);

/*
 * Carry out one decoded I/O instruction against the devices.  Ports without
 * a device behave like an empty ISA bus: reads return all ones, writes are
 * dropped (and logged once per port).
 */
enum io_result iobus_dispatch(struct iobus *bus, struct vcpu *vcpu, const struct io_access *io);

/* Mask for an address-size-wide register. */
static inline uint64_t io_addr_mask(uint8_t addr_size)
{
	return addr_size >= 8 ? ~0ull : (1ull << (addr_size * 8)) - 1;
}

/*
 * Complete a string instruction a device refuses without moving data, as a
 * port that takes (or gives) nothing would: RSI/RDI step past every element
 * in DF's direction and a rep's RCX reaches 0.  A device's error path must
 * end here (or fault): an instruction left with RCX > 0 is executed again,
 * forever.  Returns IO_DONE.
 */
enum io_result io_string_refuse(struct vcpu *vcpu, const struct io_access *io);

#endif
