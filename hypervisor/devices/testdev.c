// SPDX-License-Identifier: MIT
/*
 * testdev: a device that exists to test execution engines, after QEMU's
 * pc-testdev.  It implements only ->io, so string instructions go through
 * the bus's generic element loop and the engine's guest-memory accessors.
 *
 * Ports (16 claimed, 0xE0-0xEF):
 *   0xE0-0xE3  SCRATCH  a 32-bit register, little-endian, one byte lane per
 *                       port: an access of size S at port P touches lanes
 *                       P-0xE0 .. P-0xE0+S-1 (lanes past 0xE3 read 0 and
 *                       ignore writes).  So inl/outl at 0xE0 is the whole
 *                       register, inb at 0xE2 is bits 16-23.
 *   0xE4       FIFO     out/outs append the S bytes of each element
 *                       (little-endian) to a byte queue of at most 64 KiB
 *                       (bytes past that are dropped); in/ins pop S bytes,
 *                       an empty queue reading as 0.
 *   0xE5       FIFOCNT  in: bytes queued.  out (any value): empty the queue.
 *   0xE8       COUNTER  in: how many accesses (elements) testdev saw before
 *                       this one, on any port.  out: set the counter.
 *   others     reserved: read all ones, writes ignored.
 *
 * Runs with vm->lock held, like every device.  Only ->io: no ->string_io.
 */
#define G_LOG_DOMAIN "porthole-hv"
#include <glib.h>
#include <string.h>

#include "devices.h"
#include "hypervisor/vm.h"

#define TESTDEV_BASE		0xE0
#define TESTDEV_COUNT		16
#define TESTDEV_SCRATCH		0xE0
#define TESTDEV_FIFO		0xE4
#define TESTDEV_FIFOCNT		0xE5
#define TESTDEV_COUNTER		0xE8
#define TESTDEV_FIFO_MAX	(64u * 1024u)

struct testdev {
	struct io_device dev;
	uint32_t scratch;
	uint32_t counter;
	uint8_t *fifo;		/* ring of TESTDEV_FIFO_MAX, allocated on first use */
	uint32_t head, used;
};

static uint32_t scratch_access(struct testdev *t, unsigned int lane0, unsigned int size,
			       bool in, uint32_t val)
{
	uint32_t res = 0;

	for (unsigned int i = 0; i < size; i++) {
		unsigned int lane = lane0 + i;
		uint32_t shift = lane * 8;

		if (lane >= 4)
			continue;
		if (in) {
			res |= ((t->scratch >> shift) & 0xFFu) << (i * 8);
		} else {
			t->scratch &= ~(0xFFu << shift);
			t->scratch |= ((val >> (i * 8)) & 0xFFu) << shift;
		}
	}
	return res;
}

static void fifo_push(struct testdev *t, uint32_t val, unsigned int size)
{
	if (!t->fifo)
		t->fifo = g_malloc(TESTDEV_FIFO_MAX);
	for (unsigned int i = 0; i < size && t->used < TESTDEV_FIFO_MAX; i++) {
		t->fifo[(t->head + t->used) % TESTDEV_FIFO_MAX] = (uint8_t)(val >> (i * 8));
		t->used++;
	}
}

static uint32_t fifo_pop(struct testdev *t, unsigned int size)
{
	uint32_t val = 0;

	for (unsigned int i = 0; i < size && t->used; i++) {
		val |= (uint32_t)t->fifo[t->head] << (i * 8);
		t->head = (t->head + 1) % TESTDEV_FIFO_MAX;
		t->used--;
	}
	return val;
}

static enum io_result testdev_io(struct io_device *dev, struct vcpu *vcpu,
				 const struct io_access *io, uint32_t *val)
{
	struct testdev *t = dev->opaque;
	uint32_t seen = t->counter++;

	switch (io->port) {
	case TESTDEV_SCRATCH ... TESTDEV_SCRATCH + 3:
		*val = scratch_access(t, io->port - TESTDEV_SCRATCH, io->size, io->in,
				      io->in ? 0 : *val);
		break;
	case TESTDEV_FIFO:
		if (io->in)
			*val = fifo_pop(t, io->size);
		else
			fifo_push(t, *val, io->size);
		break;
	case TESTDEV_FIFOCNT:
		if (io->in) {
			*val = t->used;
		} else {
			t->head = 0;
			t->used = 0;
		}
		break;
	case TESTDEV_COUNTER:
		if (io->in)
			*val = seen;
		else
			t->counter = *val;
		break;
	default:
		if (io->in)
			*val = 0xFFFFFFFFu;
		break;
	}
	return IO_DONE;
}

static void testdev_release(struct io_device *dev)
{
	struct testdev *t = dev->opaque;

	g_free(t->fifo);
	g_free(t);
}

static const struct io_device_ops testdev_ops = {
	.io = testdev_io,
	.release = testdev_release,
};

int testdev_init(struct vm *vm)
{
	struct testdev *t = g_new0(struct testdev, 1);

	t->dev.name = "testdev";
	t->dev.base = TESTDEV_BASE;
	t->dev.count = TESTDEV_COUNT;
	t->dev.ops = &testdev_ops;
	t->dev.opaque = t;
	if (iobus_register(vm->iobus, &t->dev)) {
		g_warning("testdev: ports 0x%x-0x%x are taken", TESTDEV_BASE,
			  TESTDEV_BASE + TESTDEV_COUNT - 1);
		testdev_release(&t->dev);
		return -1;
	}
	return 0;
}
