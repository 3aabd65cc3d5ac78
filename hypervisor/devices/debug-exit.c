// SPDX-License-Identifier: MIT
/*
 * isa-debug-exit at port 0xF4, after QEMU's device of that name: an `out`
 * of N (any size; the low byte counts) ends the VM with exit status N.
 * Unlike QEMU, which exits with (N << 1) | 1, the status is N itself, so a
 * test payload's `return 3` is porthole-hv's exit status 3.  Reads return
 * all ones, like an empty port.
 */
#define G_LOG_DOMAIN "porthole-hv"
#include <glib.h>

#include "devices.h"
#include "hypervisor/vm.h"

#define DEBUG_EXIT_PORT	0xF4

static enum io_result debug_exit_io(struct io_device *dev, struct vcpu *vcpu,
				    const struct io_access *io, uint32_t *val)
{
	if (io->in) {
		*val = 0xFFFFFFFFu;
		return IO_DONE;
	}
	vm_request_exit(dev->opaque, (int)(*val & 0xFF));
	return IO_DONE;
}

static void debug_exit_release(struct io_device *dev)
{
	g_free(dev);
}

static const struct io_device_ops debug_exit_ops = {
	.io = debug_exit_io, .release = debug_exit_release,
};

int debug_exit_init(struct vm *vm)
{
	struct io_device *dev = g_new0(struct io_device, 1);

	*dev = (struct io_device){ "debug-exit", DEBUG_EXIT_PORT, 1, &debug_exit_ops, vm };
	if (iobus_register(vm->iobus, dev)) {
		g_free(dev);
		return -1;
	}
	return 0;
}
