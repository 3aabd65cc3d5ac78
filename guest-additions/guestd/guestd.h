/* SPDX-License-Identifier: MIT */
/*
 * porthole-guestd: the guest daemon that answers the host's TCLO commands.
 *
 *   main.c      options, VM detection, signals, the GLib main loop
 *   tclo.c      the TCLO channel: poll loop, back-off, wakeups, reconnect
 *   handlers.c  what each TCLO command does, and the RPCIs we send
 *   timesync.c  keeping the guest's clock on the host's
 *   powerops.c  OS_Halt / OS_Reboot: the configured command, the status report
 *   pointer.c   the host's absolute pointer as a uinput device (no X session)
 *   guestinfo.c host name, OS, NICs, disks, uptime for the host (guestInfo protocol)
 */
#ifndef PORTHOLE_GUESTD_H
#define PORTHOLE_GUESTD_H

#include <stdbool.h>
#include <stddef.h>

#include <glib.h>

#define GUESTD_NAME		"porthole-guestd"
#define GUESTD_POLL_MAX_MS	100	/* open-vm-tools: RPCIN_MAX_DELAY * 10 ms */
#define GUESTD_RETRY_MS		1000	/* reopen a lost channel this often */
#define GUESTD_RETRY_LOG_S	60	/* log repeated reopen failures this often */
/*
 * With TCLO wakeups (the hypervisor's datagram on PH_DESKTOP_RES_TOOLS_WAKEUP)
 * an idle guestd polls only this often, a safety net for a lost wakeup; the
 * hypervisor counts such tools alive for RPC_TOOLS_WOKEN_ALIVE_NS (30 s).
 */
#define GUESTD_WOKEN_POLL_MS	10000

struct guestd_opts {
	bool verbose;
	int poll_max_ms;
	bool once;		/* quit after the first command's reply is sent */
};

/* ---- handlers.c ---- */

struct guestd_state;

struct guestd_state *guestd_state_new(void);
void guestd_state_free(struct guestd_state *s);

/*
 * Run one TCLO command.  Returns the whole reply ("OK ..." / "ERROR ..."),
 * g_malloc'd, with its length in *reply_len (no NUL counted).
 */
char *guestd_dispatch(struct guestd_state *s, const char *msg, size_t len, size_t *reply_len);

/* The RPCIs sent whenever the TCLO channel (re)opens. */
void guestd_announce(void);

/* Value of an option the host set with Set_Option, or NULL. */
const char *guestd_option(struct guestd_state *s, const char *name);

/* Time_Synchronize and the time sync Set_Options go to `ts` (may be NULL). */
struct timesync;
void guestd_state_set_timesync(struct guestd_state *s, struct timesync *ts);

/* Power operations go to `p` (may be NULL: OS_Halt/OS_Reboot unknown). */
struct powerops;
void guestd_state_set_powerops(struct guestd_state *s, struct powerops *p);

/*
 * tclo.c calls this after each reply went out (sent: it reached the host):
 * work that must not start before the host has its answer starts here.
 */
void guestd_reply_done(struct guestd_state *s, bool sent);

/* ---- guestinfo.c ---- */

#define GUESTINFO_PERIOD_S	30	/* as open-vm-tools' guestinfo poll-interval */

/* Send the host everything it shows of the guest (RPCIs; a failure is logged at debug). */
void guestinfo_report(void);
/* Report again every GUESTINFO_PERIOD_S; the GLib source id. */
guint guestinfo_start(void);

/* ---- powerops.c ---- */

/* `systemctl poweroff`/`reboot` under systemd, else `poweroff`/`reboot`. */
const char *powerops_default_command(int state_id);
/* NULL commands: the defaults. */
struct powerops *powerops_new(const char *halt_cmd, const char *reboot_cmd);
/* OS_Halt/OS_Reboot: true ("OK ") when the command will run after the reply. */
bool powerops_request(struct powerops *p, int state_id, char **result);
/* The reply went out: start the pending command. */
void powerops_reply_sent(struct powerops *p);
/* The reply was lost: forget the pending command (the host saw no "OK "). */
void powerops_reply_lost(struct powerops *p);
/* Stopping: wait up to wait_ms for a running command, so its status is reported. */
void powerops_finish(struct powerops *p, int wait_ms);
void powerops_free(struct powerops *p);

/* ---- timesync.c ---- */

#define TIMESYNC_PERIOD_DEFAULT_S	60	/* open-vm-tools' TIMESYNC_TIME */

struct timesync_opts {
	bool startup;		/* sync once at start */
	bool periodic;		/* sync every period_s (also Set_Option synctime 1) */
	int period_s;
	bool allow_backward;	/* step a guest that is ahead back */
	int step_threshold_ms;	/* step above this error; 0: the host's max lag */
};

struct timesync *timesync_new(const struct timesync_opts *opts);
/* The start-up sync, and the loop if configured. */
void timesync_start(struct timesync *ts);
/* Sync now (TCLO Time_Synchronize): true on success. */
bool timesync_now(struct timesync *ts, bool allow_backward);
/* A Set_Option: 0 applied, -EINVAL bad value, 1 not a time sync option. */
int timesync_set_option(struct timesync *ts, const char *name, const char *value);
/* Periodic sync was asked for on the command line (--sync-time). */
bool timesync_periodic_requested(const struct timesync *ts);
void timesync_free(struct timesync *ts);

/* ---- pointer.c ---- */

enum pointer_mode {
	POINTER_AUTO,		/* uinput if the device exists, never in the trap engine */
	POINTER_UINPUT,		/* uinput (in the trap engine too: explicit opt-in) */
	POINTER_OFF,
};

#define POINTER_DEVICE_DEFAULT	"/dev/uinput"
#define POINTER_POLL_MS_DEFAULT	20	/* only without VMCI (no wakeup) */

struct pointer_opts {
	enum pointer_mode mode;
	const char *device;	/* a char device: uinput; anything else: an event log */
	int poll_ms;
};

/* "auto", "uinput", "off" (NULL: auto): 0 or -EINVAL. */
int pointer_parse_mode(const char *s, enum pointer_mode *mode);
struct pointer;
struct phg_dg;
/*
 * Start driving the pointer, or NULL when off here (logged why).
 * have_vmci: main.c holds the process's VMCI connection (one per process)
 * and hands us its datagrams with pointer_datagram().
 */
struct pointer *pointer_new(const struct pointer_opts *opts, bool have_vmci);
void pointer_datagram(struct pointer *p, const struct phg_dg *d);
/* The VMCI connection broke: no more wakeups. */
void pointer_vmci_lost(struct pointer *p);
void pointer_free(struct pointer *p);

/* ---- tclo.c ---- */

struct tclo;

struct tclo *tclo_new(const struct guestd_opts *opts, struct guestd_state *state,
		      GMainLoop *loop);
/* Open the channel (or start retrying) and begin polling. */
void tclo_start(struct tclo *t);
/* Send a pending reply, close the channel, stop the timers. */
void tclo_stop(struct tclo *t);
void tclo_free(struct tclo *t);
/* --once: whether the reply to the first command was sent. */
bool tclo_once_done(const struct tclo *t);
/*
 * on: the hypervisor wakes us (we mapped PH_DESKTOP_RES_TOOLS_WAKEUP), so
 * idle polls slow down to GUESTD_WOKEN_POLL_MS; off: VMware's polling.
 */
void tclo_set_wakeups(struct tclo *t, bool on);
/* A wakeup datagram: a command waits; poll now. */
void tclo_wakeup(struct tclo *t);

#endif
