/* SPDX-License-Identifier: MIT */
/*
 * For unit tests that drive the real device model in one process: the
 * guest library's backdoor calls (bdoor_set_transport(&inproc_transport))
 * go into vm_io() on `vm`'s I/O bus, exactly as the engines deliver them,
 * with guest addresses being this process's own, from guest context
 * `io_owner`.  The test creates `vm`.
 */
#ifndef PORTHOLE_TESTS_INPROC_BACKDOOR_H
#define PORTHOLE_TESTS_INPROC_BACKDOOR_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "backdoor/backdoor.h"
#include "hypervisor/vm.h"

static struct vm *vm;
/* The guest context (trap engine: the process) the calls come from. */
static int io_owner = 1;

static inline int self_read(void *o, uint64_t addr, void *buf, size_t len)
{
	memcpy(buf, (void *)(uintptr_t)addr, len);
	return 0;
}

static inline int self_write(void *o, uint64_t addr, const void *buf, size_t len)
{
	memcpy((void *)(uintptr_t)addr, buf, len);
	return 0;
}

static inline void run_io(struct bdoor_regs *r, uint16_t port, bool in, bool string)
{
	struct vcpu v = {
		.vm = vm, .id = 1, .owner = io_owner,
		.regs = { r->ax, r->bx, r->cx, r->dx, r->si, r->di, r->bp },
		.mem = { self_read, self_write, NULL },
	};
	struct io_access io = {
		.port = port, .size = string ? 1 : 4, .in = in, .string = string, .rep = string,
		.addr_size = 8,
	};

	assert_int_equal(vm_io(vm, &v, &io), IO_DONE);
	*r = (struct bdoor_regs){ v.regs.rax, v.regs.rbx, v.regs.rcx, v.regs.rdx,
				  v.regs.rsi, v.regs.rdi, v.regs.rbp };
}

static inline void inproc_lb(struct bdoor_regs *r, void *o)
{
	run_io(r, BDOOR_PORT_LB, true, false);
}

static inline void inproc_hb_out(struct bdoor_regs *r, void *o)
{
	run_io(r, BDOOR_PORT_HB, false, true);
}

static inline void inproc_hb_in(struct bdoor_regs *r, void *o)
{
	run_io(r, BDOOR_PORT_HB, true, true);
}

static const struct bdoor_transport inproc_transport = {
	inproc_lb, inproc_hb_out, inproc_hb_in, NULL
};

#endif
