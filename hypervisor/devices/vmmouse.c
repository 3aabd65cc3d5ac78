// SPDX-License-Identifier: MIT
/*
 * The absolute pointer: VMware's vmmouse protocol on backdoor commands
 * ABSPOINTER_DATA/STATUS/COMMAND, answered the way QEMU's hw/input/vmmouse.c
 * answers them (notes: ../shared/notes/backdoor-guestrpc-vmmouse.md §8).
 *
 * The guest's driver enables the device (READ_ID: the version id is queued),
 * asks for absolute or relative mode, then drains 4-word packets.  A driver
 * that asks for more words than are queued, or for 0 or more than 6, puts
 * the device in the error state (status 0xFFFF) until it enables it again,
 * as QEMU does; nothing a guest sends can do more than that.
 *
 * Host events are queued only while a driver is active; the queue is bounded
 * (QEMU's 1024 words, drop past 1020).  There is no interrupt in the trap
 * engine, so when the queue goes from empty to non-empty the guest context
 * that mapped PH_DESKTOP_RES_INPUT gets a wakeup datagram.
 */
#define G_LOG_DOMAIN "porthole-hv"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backdoor/desktop.h"
#include "backdoor/input.h"
#include "hypervisor/vm.h"
#include "vmci.h"
#include "vmmouse.h"

struct vmmouse {
	struct vm *vm;
	uint16_t status;		/* 0: enabled; VMMOUSE_STATUS_ERROR: off */
	bool active;			/* a mode was requested after enabling: queue events */
	bool absolute;
	uint32_t queue[VMMOUSE_QUEUE_WORDS];
	unsigned int queued;
	uint32_t last_x, last_y;	/* for relative packets */
	bool wake_pending;		/* the last wakeup could not be delivered */
	/* The host pointer over the guest (0..65535), as the viewer last sent it. */
	bool host_known;
	uint32_t host_x, host_y;
	/* Where the guest's tools say their pointer is (SETPTRLOCATION). */
	int32_t guest_x, guest_y;
	uint64_t location_gets, location_sets;
	uint64_t events, dropped, wakes, guest_errors;
};

struct vmmouse *vmmouse_new(struct vm *vm)
{
	struct vmmouse *m = g_new0(struct vmmouse, 1);

	m->vm = vm;
	m->status = VMMOUSE_STATUS_ERROR;	/* QEMU's reset state: no driver yet */
	m->last_x = m->last_y = VMMOUSE_ABS_MAX / 2;
	return m;
}

void vmmouse_free(struct vmmouse *m)
{
	g_free(m);
}

static void push(struct vmmouse *m, uint32_t word)
{
	m->queue[m->queued++] = word;
}

static void disable(struct vmmouse *m)
{
	m->status = VMMOUSE_STATUS_ERROR;
	m->active = false;
}

static void command(struct vmmouse *m, uint32_t sub)
{
	switch (sub) {
	case VMMOUSE_CMD_READ_ID:
		if (m->queued < VMMOUSE_QUEUE_WORDS)
			push(m, VMMOUSE_VERSION_ID);
		m->status = 0;
		break;
	case VMMOUSE_CMD_DISABLE:
		disable(m);
		break;
	case VMMOUSE_CMD_REQUEST_ABSOLUTE:
	case VMMOUSE_CMD_REQUEST_RELATIVE:
		m->absolute = sub == VMMOUSE_CMD_REQUEST_ABSOLUTE;
		/* QEMU starts delivering events only to an enabled driver. */
		if (m->status == 0)
			m->active = true;
		break;
	default:
		m->guest_errors++;
		vm_guest_log(m->vm, "vmmouse: unknown command 0x%08x ignored", sub);
		break;
	}
}

static void data(struct vmmouse *m, struct bdoor_regs *b)
{
	uint32_t n = (uint32_t)b->bx;
	uint64_t *out[VMMOUSE_DATA_MAX_WORDS] = { &b->ax, &b->bx, &b->cx, &b->dx, &b->si, &b->di };

	if (n == 0 || n > VMMOUSE_DATA_MAX_WORDS || n > m->queued) {
		m->guest_errors++;
		vm_guest_log(m->vm, "vmmouse: driver asked for %u words, %u queued: error state",
			     n, m->queued);
		disable(m);
		return;
	}
	for (uint32_t i = 0; i < n; i++)
		*out[i] = m->queue[i];
	m->queued -= n;
	memmove(m->queue, m->queue + n, m->queued * sizeof(m->queue[0]));
}

uint32_t vmmouse_backdoor(struct vmmouse *m, uint32_t cmd, struct bdoor_regs *b)
{
	switch (cmd) {
	case BDOOR_CMD_ABSPOINTER_STATUS:
		return ((uint32_t)m->status << 16) | m->queued;
	case BDOOR_CMD_ABSPOINTER_COMMAND:
		command(m, (uint32_t)b->bx);
		break;
	case BDOOR_CMD_ABSPOINTER_DATA:
		data(m, b);
		break;
	}
	/* Like QEMU, EAX is whatever the register file holds now (the magic on errors). */
	return (uint32_t)b->ax;
}

/* Strict decimal in [lo, hi]; advances *p past it. */
static bool parse_int(const char **p, long lo, long hi, long *out)
{
	const char *s = *p;
	char *end;
	long v;

	if (!(*s == '-' || (*s >= '0' && *s <= '9')))
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || end - s > 12 || v < lo || v > hi)
		return false;
	*out = v;
	*p = end;
	return true;
}

static void wake_guest(struct vmmouse *m)
{
	struct ph_input_msg msg = { .type = PH_INPUT_POINTER_WAKE };
	int r = vmci_hv_send(m->vm->vmci, PH_DESKTOP_RES_INPUT, &msg, sizeof(msg));

	m->wake_pending = r < 0;
	if (r >= 0)
		m->wakes++;
}

int vmmouse_host_event(struct vmmouse *m, const char *text, const char **why)
{
	long x, y, buttons, wheel;
	const char *p = text;
	uint32_t flags = 0, px, py;
	bool was_empty;

	if (!parse_int(&p, 0, VMMOUSE_ABS_MAX, &x) || *p++ != ' ' ||
	    !parse_int(&p, 0, VMMOUSE_ABS_MAX, &y) || *p++ != ' ' ||
	    !parse_int(&p, 0, PH_POINTER_BUTTONS, &buttons) || *p++ != ' ' ||
	    !parse_int(&p, -PH_POINTER_WHEEL_MAX, PH_POINTER_WHEEL_MAX, &wheel) || *p) {
		*why = "expected \"X Y BUTTONS WHEEL\": X, Y 0..65535, BUTTONS 0..7 "
		       "(1 left, 2 middle, 4 right), WHEEL -127..127";
		return EINVAL;
	}
	/* Where the host pointer is counts even when no driver takes events (GETPTRLOCATION). */
	m->host_known = true;
	m->host_x = (uint32_t)x;
	m->host_y = (uint32_t)y;
	if (!m->active || m->queued > VMMOUSE_QUEUE_WORDS - VMMOUSE_PACKET_WORDS) {
		m->dropped++;
		return 0;
	}
	if (buttons & PH_POINTER_LEFT)
		flags |= VMMOUSE_LEFT_BUTTON;
	if (buttons & PH_POINTER_MIDDLE)
		flags |= VMMOUSE_MIDDLE_BUTTON;
	if (buttons & PH_POINTER_RIGHT)
		flags |= VMMOUSE_RIGHT_BUTTON;
	px = (uint32_t)x;
	py = (uint32_t)y;
	if (!m->absolute) {
		/* Relative mode: the movement since the last event, as signed words. */
		flags |= VMMOUSE_RELATIVE_PACKET;
		px = (uint32_t)((int32_t)x - (int32_t)m->last_x);
		py = (uint32_t)((int32_t)y - (int32_t)m->last_y);
	}
	m->last_x = (uint32_t)x;
	m->last_y = (uint32_t)y;
	was_empty = m->queued == 0;
	push(m, flags);
	push(m, px);
	push(m, py);
	push(m, (uint32_t)(int32_t)wheel);
	m->events++;
	if (was_empty || m->wake_pending)
		wake_guest(m);
	return 0;
}

uint32_t vmmouse_get_ptr_location(struct vmmouse *m, uint32_t width, uint32_t height)
{
	uint32_t x, y;

	m->location_gets++;
	if (!m->host_known || !width || !height)
		return (uint32_t)(uint16_t)BDOOR_PTR_UNGRABBED << 16 |
		       (uint16_t)BDOOR_PTR_UNGRABBED;
	/* 0..65535 across the screen, as PH_CTL_POINTER: pixels 0..size-1 (fits 16 bits). */
	x = (uint32_t)((uint64_t)m->host_x * (MIN(width, 32768u) - 1) / VMMOUSE_ABS_MAX);
	y = (uint32_t)((uint64_t)m->host_y * (MIN(height, 32768u) - 1) / VMMOUSE_ABS_MAX);
	return x << 16 | y;
}

void vmmouse_set_ptr_location(struct vmmouse *m, uint32_t ebx)
{
	m->guest_x = (int16_t)(ebx >> 16);
	m->guest_y = (int16_t)(ebx & 0xFFFF);
	m->location_sets++;
}

void vmmouse_status(struct vmmouse *m, GString *out)
{
	g_string_append_printf(out,
			       "pointer.driver=%s\npointer.mode=%s\npointer.queued-words=%u\n"
			       "pointer.events=%llu\npointer.dropped=%llu\npointer.wakeups=%llu\n"
			       "pointer.guest-errors=%llu\n",
			       m->active ? "active" : m->status ? "off" : "enabled", m->absolute ? "absolute" : "relative",
			       m->queued, (unsigned long long)m->events,
			       (unsigned long long)m->dropped, (unsigned long long)m->wakes,
			       (unsigned long long)m->guest_errors);
	/* (Guest numbers, but plain integers: nothing to escape.) */
	g_string_append_printf(out, "pointer.location-gets=%llu\npointer.location-sets=%llu\n",
			       (unsigned long long)m->location_gets,
			       (unsigned long long)m->location_sets);
	if (m->location_sets)
		g_string_append_printf(out, "pointer.guest-location=%d,%d\n", m->guest_x,
				       m->guest_y);
}
