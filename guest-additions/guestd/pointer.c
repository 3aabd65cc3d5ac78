// SPDX-License-Identifier: MIT
/*
 * The host's absolute pointer as a Linux input device (--pointer), for
 * guests without an X session: porthole-agent moves the pointer with XTest
 * inside an X session; on a console or under a Wayland compositor only the
 * kernel's input stack can, so guestd (root, no X) creates a uinput
 * absolute pointer and turns each vmmouse packet into input events
 * (guest-additions/lib/vmmouse-uinput.h).
 *
 * Who drains the vmmouse queue (one queue: two drainers would each see
 * half of the packets):
 *  - With VMCI (trap engine guests): the owner is whoever maps
 *    PH_DESKTOP_RES_INPUT, because the hypervisor's wakeup datagram goes
 *    there and the map is exclusive.  An agent that starts while we own it
 *    connects to our claim socket (vmmouse-guest.h): we lift held buttons,
 *    unmap, answer, and stay off while any claim connection is open; when
 *    the last one closes (the agent exited) we map again, re-enable the
 *    device and drain.  If an agent already holds the map when we start (no
 *    claim connection to watch), we retry the map every STANDBY_RETRY_MS.
 *  - Without VMCI (a KVM guest with its own kernel: user programs have no
 *    VMCI device, so no wakeup): we poll ABSPOINTER_STATUS every
 *    --pointer-poll-ms (one backdoor call when idle).  The agent's input
 *    module is off there (it needs VMCI), so nobody else drains.
 *
 * Safety: a trap engine guest is a host process tree on the host's kernel,
 * so a uinput device made there would be a HOST input device.  --pointer
 * auto never uses uinput in the trap engine (recognised by its VMCI
 * socket, /dev/porthole-vmci); only an explicit --pointer uinput does, and
 * the trap engine's /dev has no uinput node anyway (shares are nodev).
 */
#define G_LOG_DOMAIN "porthole-guestd"
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib-unix.h>

#include "backdoor/backdoor.h"
#include "backdoor/desktop.h"
#include "guest-additions/lib/vmci-guest.h"
#include "guest-additions/lib/vmmouse-guest.h"
#include "guest-additions/lib/vmmouse-uinput.h"
#include "guestd.h"

#define DRAIN_MAX_READS		4096	/* per wakeup: the queue holds 1024 words */
#define DRAIN_RETRY_MS		10
#define TAKEOVER_RETRY_MS	100	/* an agent just let go: its map goes when it exits */
#define TAKEOVER_FAST_TRIES	30
#define STANDBY_RETRY_MS	2000	/* an agent holds the map and we can't watch it */
#define CLAIMS_MAX		8

struct pointer {
	struct pointer_opts opts;
	int out_fd;
	bool is_uinput;		/* else an event log file (tests, debugging) */
	struct vmmouse_uinput ui;

	bool have_vmci;		/* main.c's connection: wakeups come as datagrams */

	int listen_fd;
	guint listen_watch;
	int claim_fd[CLAIMS_MAX];
	guint claim_watch[CLAIMS_MAX];
	unsigned int nclaims;

	bool owner;		/* we drain the queue now */
	bool mouse_on;		/* the device answered our enable */
	bool relative_seen;	/* in this drain */
	bool standby_logged;
	unsigned int takeover_tries;
	guint retry_timer;	/* map retry */
	guint drain_timer;	/* drain retry (read cap) or the poll */
	uint64_t wakes;
};

static void take(struct pointer *p);

/* ---- draining ---- */

static void on_packet(const struct vmmouse_packet *pk, void *opaque)
{
	struct pointer *p = opaque;
	int r = vmmouse_uinput_packet(&p->ui, pk);

	if (r < 0 && p->ui.write_errors == 1)
		g_warning("pointer: writing input events failed: %s (logged once)",
			  g_strerror(-r));
	if (pk->relative)
		p->relative_seen = true;
}

static gboolean drain_again(gpointer data);

static void drain(struct pointer *p)
{
	enum vmmouse_drain_result r;

	p->relative_seen = false;
	r = vmmouse_drain(DRAIN_MAX_READS, on_packet, p, NULL);
	if (p->relative_seen) {
		/* Someone asked for relative mode: our device is absolute. */
		g_message("pointer: relative packets seen; asking for absolute mode again");
		vmmouse_request_absolute();
	}
	if (r == VMMOUSE_DRAIN_OFF) {
		g_warning("pointer: the absolute pointer is in its error state");
		p->mouse_on = false;
	}
	if (r == VMMOUSE_DRAIN_MORE && p->have_vmci && !p->drain_timer)
		p->drain_timer = g_timeout_add(DRAIN_RETRY_MS, drain_again, p);
}

static gboolean drain_again(gpointer data)
{
	struct pointer *p = data;

	p->drain_timer = 0;
	if (p->owner && p->mouse_on)
		drain(p);
	return G_SOURCE_REMOVE;
}

/* No VMCI, no wakeup: look at the queue every poll_ms. */
static gboolean poll_tick(gpointer data)
{
	struct pointer *p = data;

	if (!p->mouse_on) {
		/* Disabled by someone, or not there yet: one enable per tick. */
		p->mouse_on = vmmouse_enable();
		if (p->mouse_on)
			g_message("pointer: absolute pointer enabled (polling every %d ms)",
				  p->opts.poll_ms);
		return G_SOURCE_CONTINUE;
	}
	drain(p);
	return G_SOURCE_CONTINUE;
}

/* A datagram main.c's VMCI connection received for us. */
void pointer_datagram(struct pointer *p, const struct phg_dg *d)
{
	struct ph_input_msg m;

	if (d->hdr.dst.resource == PH_DESKTOP_RES_INPUT &&
	    d->hdr.src.context == VMCI_HYPERVISOR_CONTEXT_ID &&
	    d->hdr.payload_size == sizeof(m)) {
		memcpy(&m, d->payload, sizeof(m));
		if (m.type == PH_INPUT_POINTER_WAKE) {
			p->wakes++;
			if (p->owner && p->mouse_on)
				drain(p);
		}
	} else {
		/* The viewer's keys: no keyboard here (an X session's agent types). */
		g_debug("pointer: datagram for resource %u from context %u dropped",
			d->hdr.dst.resource, d->hdr.src.context);
	}
}

void pointer_vmci_lost(struct pointer *p)
{
	g_warning("pointer: VMCI connection failed; pointer off");
	p->owner = false;
}

/* ---- ownership ---- */

static gboolean retry_take(gpointer data)
{
	struct pointer *p = data;

	p->retry_timer = 0;
	take(p);
	return G_SOURCE_REMOVE;
}

static void take(struct pointer *p)
{
	if (p->owner || p->nclaims)
		return;
	if (p->have_vmci) {
		int64_t r = phg_vmci_map(PH_DESKTOP_RES_INPUT);

		if (r < 0) {
			bool fast = p->takeover_tries++ < TAKEOVER_FAST_TRIES;

			if (!p->standby_logged)
				g_message("pointer: %s; standing by",
					  r == VMCI_ERROR_ALREADY_EXISTS ?
					  "an X session's agent drives the pointer" :
					  "cannot map the input channel");
			p->standby_logged = true;
			p->retry_timer = g_timeout_add(fast ? TAKEOVER_RETRY_MS : STANDBY_RETRY_MS,
						       retry_take, p);
			return;
		}
	}
	p->owner = true;
	p->standby_logged = false;
	p->takeover_tries = 0;
	p->mouse_on = vmmouse_enable();
	g_message("pointer: driving the pointer (%s, %s)",
		  p->is_uinput ? "uinput device '" VMMOUSE_UINPUT_NAME "'" : "event log",
		  p->have_vmci ? "woken by the hypervisor" : "polling");
	if (!p->mouse_on)
		g_message("pointer: the hypervisor's absolute pointer did not answer%s",
			  p->have_vmci ? "" : "; retrying at each poll");
	if (!p->have_vmci)
		p->drain_timer = g_timeout_add(p->opts.poll_ms, poll_tick, p);
	else if (p->mouse_on)
		drain(p);	/* anything queued before we mapped */
}

static void give_up(struct pointer *p, const char *why)
{
	if (p->retry_timer)
		g_source_remove(p->retry_timer);
	p->retry_timer = 0;
	if (!p->owner)
		return;
	if (p->drain_timer)
		g_source_remove(p->drain_timer);
	p->drain_timer = 0;
	vmmouse_uinput_release(&p->ui);
	if (p->have_vmci) {
		uint32_t res = PH_DESKTOP_RES_INPUT;

		phg_vmci_hv(VMCI_DATAGRAM_REMOVE_MAP, &res, sizeof(res));
	}
	p->owner = false;
	g_message("pointer: let go of the pointer: %s", why);
}

static gboolean on_claim(gint fd, GIOCondition cond, gpointer data)
{
	struct pointer *p = data;
	char buf[16];
	unsigned int i;

	if (!(cond & (G_IO_HUP | G_IO_ERR))) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
			return G_SOURCE_CONTINUE;	/* nothing is said on a claim: ignore */
	}
	for (i = 0; i < p->nclaims && p->claim_fd[i] != fd; i++)
		;
	close(fd);
	if (i < p->nclaims) {
		p->nclaims--;
		p->claim_fd[i] = p->claim_fd[p->nclaims];
		p->claim_watch[i] = p->claim_watch[p->nclaims];
	}
	if (!p->nclaims) {
		g_message("pointer: the claim was let go; taking the pointer back");
		p->takeover_tries = 0;
		take(p);
	}
	return G_SOURCE_REMOVE;
}

static gboolean on_listen(gint fd, GIOCondition cond, gpointer data)
{
	struct pointer *p = data;
	int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (c < 0)
		return G_SOURCE_CONTINUE;
	if (p->nclaims == CLAIMS_MAX) {
		close(c);	/* the claimer sees EOF: -EPROTO */
		return G_SOURCE_CONTINUE;
	}
	give_up(p, "an X session's agent claimed it");
	p->claim_fd[p->nclaims] = c;
	p->claim_watch[p->nclaims] = g_unix_fd_add(c, G_IO_IN | G_IO_HUP | G_IO_ERR, on_claim, p);
	p->nclaims++;
	if (send(c, "Y", 1, MSG_NOSIGNAL) != 1)
		g_debug("pointer: the claimer left before the answer");
	return G_SOURCE_CONTINUE;
}

static int listen_claims(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
				    strlen(VMMOUSE_CLAIM_SOCKET));
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	memcpy(sa.sun_path + 1, VMMOUSE_CLAIM_SOCKET, strlen(VMMOUSE_CLAIM_SOCKET));
	if (bind(fd, (struct sockaddr *)&sa, len) || listen(fd, CLAIMS_MAX)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* ---- setup ---- */

int pointer_parse_mode(const char *s, enum pointer_mode *mode)
{
	if (!s || !strcmp(s, "auto"))
		*mode = POINTER_AUTO;
	else if (!strcmp(s, "uinput"))
		*mode = POINTER_UINPUT;
	else if (!strcmp(s, "off"))
		*mode = POINTER_OFF;
	else
		return -EINVAL;
	return 0;
}

/* The output: a uinput device, or (any other path) an event log. */
static int open_output(struct pointer *p)
{
	const char *path = p->opts.device;
	struct stat st;
	int fd, r;

	if (stat(path, &st) == 0 && S_ISCHR(st.st_mode)) {
		fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		r = vmmouse_uinput_create(fd, VMMOUSE_UINPUT_NAME);
		if (r) {
			close(fd);
			return r;
		}
		p->is_uinput = true;
	} else {
		fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd < 0)
			return -errno;
	}
	p->out_fd = fd;
	return 0;
}

struct pointer *pointer_new(const struct pointer_opts *opts, bool have_vmci)
{
	bool trap = access(VMCI_GUEST_SOCKET, F_OK) == 0;
	struct pointer *p;
	int r;

	if (opts->mode == POINTER_OFF)
		return NULL;
	if (opts->mode == POINTER_AUTO && trap) {
		g_message("pointer: off: this is a trap engine guest, which shares the host's "
			  "kernel (a uinput device would be a host input device); "
			  "--pointer uinput to insist");
		return NULL;
	}
	if (opts->mode == POINTER_AUTO && access(opts->device, F_OK)) {
		g_message("pointer: off: no %s", opts->device);
		return NULL;
	}
	p = g_new0(struct pointer, 1);
	p->opts = *opts;
	p->out_fd = p->listen_fd = -1;
	r = open_output(p);
	if (r) {
		g_warning("pointer: off: cannot set up %s: %s", opts->device, g_strerror(-r));
		g_free(p);
		return NULL;
	}
	if (trap && p->is_uinput)
		g_warning("pointer: --pointer uinput in a trap engine guest: '%s' is an input "
			  "device of the HOST's kernel", VMMOUSE_UINPUT_NAME);
	vmmouse_uinput_init(&p->ui, p->out_fd);
	p->have_vmci = have_vmci;
	if (!have_vmci)
		g_message("pointer: no VMCI here: no wakeups, polling every %d ms",
			  opts->poll_ms);
	p->listen_fd = listen_claims();
	if (p->listen_fd >= 0)
		p->listen_watch = g_unix_fd_add(p->listen_fd, G_IO_IN, on_listen, p);
	else
		g_warning("pointer: no claim socket (%s): an X session's agent can't take "
			  "the pointer over", g_strerror(-p->listen_fd));
	take(p);
	return p;
}

void pointer_free(struct pointer *p)
{
	bool was_owner;

	if (!p)
		return;
	was_owner = p->owner;
	give_up(p, "stopping");
	if (was_owner && p->mouse_on)
		vmmouse_disable();	/* no driver now: the host's events are dropped */
	for (unsigned int i = 0; i < p->nclaims; i++) {
		g_source_remove(p->claim_watch[i]);
		close(p->claim_fd[i]);
	}
	if (p->listen_watch)
		g_source_remove(p->listen_watch);
	if (p->listen_fd >= 0)
		close(p->listen_fd);
	if (p->is_uinput)
		vmmouse_uinput_destroy(p->out_fd);
	if (p->out_fd >= 0)
		close(p->out_fd);
	g_message("pointer: stopped after %llu packets, %llu wakeups",
		  (unsigned long long)p->ui.packets, (unsigned long long)p->wakes);
	g_free(p);
}
