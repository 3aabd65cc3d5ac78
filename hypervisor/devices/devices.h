/* SPDX-License-Identifier: MIT */
/*
 * Every device of the shared device model, one file each.  vm_create()
 * calls these in order; each registers its ports on vm->iobus.
 */
#ifndef PORTHOLE_HV_DEVICES_H
#define PORTHOLE_HV_DEVICES_H

struct vm;

int backdoor_init(struct vm *vm);	/* devices/backdoor.c: ports 0x5658, 0x5659 */
int testdev_init(struct vm *vm);	/* devices/testdev.c: engine test ports */
/* KVM engine only: the PC platform a full-system guest expects. */
int serial_init(struct vm *vm);		/* devices/serial.c: 16550A at 0x3F8 */
int pci_init(struct vm *vm);		/* devices/pci.c: conf1 at 0xCF8, host bridge */
int debug_exit_init(struct vm *vm);	/* devices/debug-exit.c: port 0xF4 */

#endif
