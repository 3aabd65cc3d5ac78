/* SPDX-License-Identifier: MIT */
/*
 * vmmouse packets as a Linux input device, through /dev/uinput: for guests
 * without an X session (a console, a Wayland compositor), where the kernel's
 * input stack is the only way to move the pointer.
 *
 * The device: EV_ABS ABS_X/ABS_Y 0..65535 (the vmmouse range: the guest's
 * input stack scales it to its screen), EV_KEY BTN_LEFT/RIGHT/MIDDLE,
 * EV_REL REL_WHEEL, no INPUT_PROP_* bit: like Linux's own vmmouse driver
 * and QEMU's usb-tablet, udev classifies it as an absolute mouse
 * (ID_INPUT_MOUSE), which libinput and X's evdev drive as a pointer.
 * (INPUT_PROP_DIRECT would be a touchscreen; INPUT_PROP_POINTER a touchpad.)
 *
 * The translation writes to any fd: tests point it at a pipe.
 */
#ifndef PORTHOLE_VMMOUSE_UINPUT_H
#define PORTHOLE_VMMOUSE_UINPUT_H

#include <stdbool.h>
#include <stdint.h>

#include "vmmouse-guest.h"

#define VMMOUSE_UINPUT_NAME	"Porthole absolute pointer"
#define VMMOUSE_UINPUT_VENDOR	0x15ad		/* VMware's PCI vendor id, as QEMU's vmmouse */
#define VMMOUSE_UINPUT_PRODUCT	0x0001
/* ABS x2 + 3 buttons + wheel + SYN_REPORT */
#define VMMOUSE_UINPUT_MAX_EVENTS	7

struct vmmouse_uinput {
	int fd;
	unsigned int buttons;	/* VMMOUSE_*_BUTTON held on the device */
	int32_t x, y;		/* last reported position, -1 before the first */
	uint64_t packets, relative_packets, write_errors;
};

/*
 * Make `fd` (open /dev/uinput) an absolute pointer named `name`: UI_DEV_SETUP,
 * or the legacy struct uinput_user_dev write on kernels before 4.5, then
 * UI_DEV_CREATE.  0 or -errno.
 */
int vmmouse_uinput_create(int fd, const char *name);
/* UI_DEV_DESTROY (closing the fd does it too). */
void vmmouse_uinput_destroy(int fd);

void vmmouse_uinput_init(struct vmmouse_uinput *u, int fd);
/*
 * Write one packet's events and a SYN_REPORT in one write(): position
 * (absolute packets only, when it changed), buttons that changed, wheel
 * (REL_WHEEL = -z: vmmouse's positive z is towards the user, Linux's
 * positive REL_WHEEL away from the user, as Linux's vmmouse driver does).
 * Nothing but a changed state is written.  Returns the number of events
 * written (0: nothing changed), or -errno (the state is not updated, so the
 * next packet repeats what was lost).
 */
int vmmouse_uinput_packet(struct vmmouse_uinput *u, const struct vmmouse_packet *p);
/* Lift every held button (giving the pointer away, stopping). */
int vmmouse_uinput_release(struct vmmouse_uinput *u);

#endif
