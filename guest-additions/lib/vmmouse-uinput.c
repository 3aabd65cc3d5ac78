// SPDX-License-Identifier: MIT
/*
 * vmmouse packets -> Linux input events through uinput (vmmouse-uinput.h).
 * The uinput interface as documented in the kernel's
 * Documentation/input/uinput.rst.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/input.h>
#include <linux/uinput.h>

#include "vmmouse-uinput.h"

static const struct {
	unsigned int vmmouse;
	unsigned short key;
} button_map[] = {
	{ VMMOUSE_LEFT_BUTTON, BTN_LEFT },
	{ VMMOUSE_RIGHT_BUTTON, BTN_RIGHT },
	{ VMMOUSE_MIDDLE_BUTTON, BTN_MIDDLE },
};

static int setup_legacy(int fd, const char *name)
{
	struct uinput_user_dev dev;

	memset(&dev, 0, sizeof(dev));
	strncpy(dev.name, name, UINPUT_MAX_NAME_SIZE - 1);
	dev.id.bustype = BUS_VIRTUAL;
	dev.id.vendor = VMMOUSE_UINPUT_VENDOR;
	dev.id.product = VMMOUSE_UINPUT_PRODUCT;
	dev.absmin[ABS_X] = dev.absmin[ABS_Y] = 0;
	dev.absmax[ABS_X] = dev.absmax[ABS_Y] = VMMOUSE_ABS_MAX;
	if (write(fd, &dev, sizeof(dev)) != (ssize_t)sizeof(dev))
		return errno ? -errno : -EIO;
	return 0;
}

int vmmouse_uinput_create(int fd, const char *name)
{
	struct uinput_setup setup;
	int r;

	if (ioctl(fd, UI_SET_EVBIT, EV_KEY) || ioctl(fd, UI_SET_EVBIT, EV_ABS) ||
	    ioctl(fd, UI_SET_EVBIT, EV_REL) || ioctl(fd, UI_SET_EVBIT, EV_SYN) ||
	    ioctl(fd, UI_SET_ABSBIT, ABS_X) || ioctl(fd, UI_SET_ABSBIT, ABS_Y) ||
	    ioctl(fd, UI_SET_RELBIT, REL_WHEEL))
		return -errno;
	for (size_t i = 0; i < sizeof(button_map) / sizeof(button_map[0]); i++)
		if (ioctl(fd, UI_SET_KEYBIT, button_map[i].key))
			return -errno;

	memset(&setup, 0, sizeof(setup));
	strncpy(setup.name, name, UINPUT_MAX_NAME_SIZE - 1);
	setup.id.bustype = BUS_VIRTUAL;
	setup.id.vendor = VMMOUSE_UINPUT_VENDOR;
	setup.id.product = VMMOUSE_UINPUT_PRODUCT;
	if (ioctl(fd, UI_DEV_SETUP, &setup) == 0) {
		for (unsigned short code = ABS_X; code <= ABS_Y; code++) {
			struct uinput_abs_setup abs = {
				.code = code,
				.absinfo = { .minimum = 0, .maximum = VMMOUSE_ABS_MAX },
			};

			if (ioctl(fd, UI_ABS_SETUP, &abs))
				return -errno;
		}
	} else if (errno == EINVAL || errno == ENOTTY) {
		/* Before Linux 4.5: the device description is written. */
		r = setup_legacy(fd, name);
		if (r)
			return r;
	} else {
		return -errno;
	}
	if (ioctl(fd, UI_DEV_CREATE))
		return -errno;
	return 0;
}

void vmmouse_uinput_destroy(int fd)
{
	ioctl(fd, UI_DEV_DESTROY);
}

void vmmouse_uinput_init(struct vmmouse_uinput *u, int fd)
{
	memset(u, 0, sizeof(*u));
	u->fd = fd;
	u->x = u->y = -1;
}

static void add(struct input_event *ev, int *n, unsigned short type, unsigned short code,
		int value)
{
	memset(&ev[*n], 0, sizeof(ev[*n]));	/* time: the kernel stamps uinput events */
	ev[*n].type = type;
	ev[*n].code = code;
	ev[*n].value = value;
	(*n)++;
}

/* Write the events and a SYN_REPORT in one go: a pipe or uinput takes them whole. */
static int flush(struct vmmouse_uinput *u, struct input_event *ev, int n)
{
	ssize_t w;

	if (!n)
		return 0;
	add(ev, &n, EV_SYN, SYN_REPORT, 0);
	do {
		w = write(u->fd, ev, (size_t)n * sizeof(ev[0]));
	} while (w < 0 && errno == EINTR);
	if (w != (ssize_t)((size_t)n * sizeof(ev[0]))) {
		u->write_errors++;
		return w < 0 ? -errno : -EIO;
	}
	return n;
}

int vmmouse_uinput_packet(struct vmmouse_uinput *u, const struct vmmouse_packet *p)
{
	struct input_event ev[VMMOUSE_UINPUT_MAX_EVENTS];
	int32_t x = u->x, y = u->y;
	int n = 0, r;

	if (p->relative) {
		/* An absolute device has no place for deltas: buttons and wheel only. */
		u->relative_packets++;
	} else {
		x = p->x;
		y = p->y;
		if (x != u->x)
			add(ev, &n, EV_ABS, ABS_X, x);
		if (y != u->y)
			add(ev, &n, EV_ABS, ABS_Y, y);
	}
	for (size_t i = 0; i < sizeof(button_map) / sizeof(button_map[0]); i++) {
		unsigned int bit = button_map[i].vmmouse;

		if ((p->buttons ^ u->buttons) & bit)
			add(ev, &n, EV_KEY, button_map[i].key, (p->buttons & bit) != 0);
	}
	if (p->wheel)
		add(ev, &n, EV_REL, REL_WHEEL, -p->wheel);
	r = flush(u, ev, n);
	if (r < 0)
		return r;
	u->x = x;
	u->y = y;
	u->buttons = p->buttons & (VMMOUSE_LEFT_BUTTON | VMMOUSE_MIDDLE_BUTTON |
				   VMMOUSE_RIGHT_BUTTON);
	u->packets++;
	return r;
}

int vmmouse_uinput_release(struct vmmouse_uinput *u)
{
	struct input_event ev[VMMOUSE_UINPUT_MAX_EVENTS];
	int n = 0, r;

	for (size_t i = 0; i < sizeof(button_map) / sizeof(button_map[0]); i++)
		if (u->buttons & button_map[i].vmmouse)
			add(ev, &n, EV_KEY, button_map[i].key, 0);
	r = flush(u, ev, n);
	if (r >= 0)
		u->buttons = 0;
	return r;
}
