// SPDX-License-Identifier: MIT
/*
 * porthole-guestd: options, VM detection, signals, main loop.
 */
#define G_LOG_DOMAIN "porthole-guestd"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <glib-unix.h>

#include "backdoor/backdoor.h"
#include "backdoor/desktop.h"
#include "guest-additions/lib/vmci-guest.h"
#include "guestd.h"

/*
 * The process's one VMCI connection (a trap engine guest's; one per
 * process), shared by the TCLO wakeups and the pointer's.
 */
struct guestd_vmci {
	struct phg_vmci vmci;
	guint watch;
	struct tclo *tclo;
	struct pointer *pointer;
};

static gboolean on_signal(gpointer data)
{
	GMainLoop *loop = data;

	g_message("signal received, stopping");
	g_main_loop_quit(loop);
	return G_SOURCE_CONTINUE;
}

static gboolean on_vmci(gint fd, GIOCondition cond, gpointer data)
{
	struct guestd_vmci *gv = data;
	struct phg_dg d;
	int r = phg_vmci_wait(&gv->vmci, 0);

	if (r < 0 && r != -ETIMEDOUT) {
		g_warning("VMCI connection failed (%s): TCLO polled VMware's way",
			  g_strerror(-r));
		tclo_set_wakeups(gv->tclo, false);
		if (gv->pointer)
			pointer_vmci_lost(gv->pointer);
		gv->watch = 0;
		return G_SOURCE_REMOVE;
	}
	while (phg_vmci_take(&gv->vmci, &d)) {
		/* Only the hypervisor wakes us; any datagram there means "poll now". */
		if (d.hdr.dst.resource == PH_DESKTOP_RES_TOOLS_WAKEUP &&
		    d.hdr.src.context == VMCI_HYPERVISOR_CONTEXT_ID)
			tclo_wakeup(gv->tclo);
		else if (gv->pointer)
			pointer_datagram(gv->pointer, &d);
		free(d.payload);
	}
	return G_SOURCE_CONTINUE;
}

/* Connect to VMCI where the guest has it and ask for TCLO wakeups; false: none. */
static bool vmci_start(struct guestd_vmci *gv)
{
	int64_t r;

	if (access(VMCI_GUEST_SOCKET, F_OK))
		return false;	/* not a trap engine guest: no VMCI for user programs */
	r = phg_vmci_open(&gv->vmci);
	if (r) {
		g_message("no VMCI (%s): TCLO polled VMware's way", g_strerror((int)-r));
		return false;
	}
	gv->watch = g_unix_fd_add(gv->vmci.sock, G_IO_IN | G_IO_HUP | G_IO_ERR, on_vmci, gv);
	r = phg_vmci_map(PH_DESKTOP_RES_TOOLS_WAKEUP);
	if (r < 0)
		g_message("no TCLO wakeups (VMCI %lld): TCLO polled VMware's way",
			  (long long)r);
	else
		tclo_set_wakeups(gv->tclo, true);
	return true;
}

int main(int argc, char **argv)
{
	struct guestd_opts opts = { .poll_max_ms = GUESTD_POLL_MAX_MS };
	gboolean foreground = TRUE, verbose = FALSE, once = FALSE;
	gint poll_max_ms = GUESTD_POLL_MAX_MS;
	gboolean sync_time = FALSE, sync_startup = TRUE, sync_backward = TRUE, no_timesync = FALSE;
	gint sync_period = TIMESYNC_PERIOD_DEFAULT_S, sync_step_ms = 0;
	gchar *halt_cmd = NULL, *reboot_cmd = NULL;
	gchar *pointer_mode = NULL, *pointer_device = NULL;
	gint pointer_poll_ms = POINTER_POLL_MS_DEFAULT;
	struct pointer_opts pointer_opts = { .mode = POINTER_AUTO };
	GOptionEntry entries[] = {
		{ "foreground", 'f', 0, G_OPTION_ARG_NONE, &foreground,
		  "Run in the foreground (the default: porthole-guestd never daemonizes; "
		  "start it from a service manager)", NULL },
		{ "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose,
		  "Log every command and RPC", NULL },
		{ "poll-max-ms", 0, 0, G_OPTION_ARG_INT, &poll_max_ms,
		  "Longest idle delay between TCLO polls, 10..60000 ms (default 100)", "MS" },
		{ "once", 0, 0, G_OPTION_ARG_NONE, &once,
		  "Exit after replying to the first host command (for tests)", NULL },
		{ "sync-time", 0, 0, G_OPTION_ARG_NONE, &sync_time,
		  "Keep the clock on the host's periodically (the host can also turn this on "
		  "with Set_Option synctime 1)", NULL },
		{ "sync-period", 0, 0, G_OPTION_ARG_INT, &sync_period,
		  "Seconds between periodic syncs, 1..86400 (default 60)", "S" },
		{ "no-sync-startup", 0, G_OPTION_FLAG_REVERSE, G_OPTION_ARG_NONE, &sync_startup,
		  "Don't sync the clock once at start", NULL },
		{ "no-sync-backward", 0, G_OPTION_FLAG_REVERSE, G_OPTION_ARG_NONE, &sync_backward,
		  "Never step a clock that is ahead of the host back (slew it instead)", NULL },
		{ "sync-step-ms", 0, 0, G_OPTION_ARG_INT, &sync_step_ms,
		  "Step errors above this many ms, slew smaller ones (default: the host's "
		  "maximum time lag, 1000 ms on Porthole)", "MS" },
		{ "no-timesync", 0, 0, G_OPTION_ARG_NONE, &no_timesync,
		  "No time synchronization at all", NULL },
		{ "halt-command", 0, 0, G_OPTION_ARG_STRING, &halt_cmd,
		  "Command run for the host's OS_Halt (default: 'systemctl poweroff' under "
		  "systemd, else 'poweroff')", "CMD" },
		{ "reboot-command", 0, 0, G_OPTION_ARG_STRING, &reboot_cmd,
		  "Command run for the host's OS_Reboot (default: 'systemctl reboot' under "
		  "systemd, else 'reboot')", "CMD" },
		{ "pointer", 0, 0, G_OPTION_ARG_STRING, &pointer_mode,
		  "The host's absolute pointer as a uinput device, for guests without an X "
		  "session: auto (default: when the device exists, never in a trap engine "
		  "guest), uinput, or off.  An X session's porthole-agent takes it over while "
		  "it runs", "MODE" },
		{ "pointer-device", 0, 0, G_OPTION_ARG_FILENAME, &pointer_device,
		  "uinput device (default /dev/uinput); a path that is not a character device "
		  "gets the input events appended instead (tests)", "PATH" },
		{ "pointer-poll-ms", 0, 0, G_OPTION_ARG_INT, &pointer_poll_ms,
		  "Without VMCI (no wakeup datagram) look at the pointer queue this often, "
		  "5..1000 ms (default 20)", "MS" },
		{ 0 }
	};
	GOptionContext *ctx;
	GError *err = NULL;
	struct bdoor_info info;

	ctx = g_option_context_new("- Porthole guest tools daemon");
	g_option_context_set_summary(ctx,
		"Answers the host's TCLO commands (reset, ping, Capabilities_Register,\n"
		"Set_Option, Time_Synchronize, OS_Halt, OS_Reboot) over the VMware-compatible backdoor, and reconnects when the\n"
		"host resets the channel.  Version " PORTHOLE_VERSION ".");
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
		fprintf(stderr, "%s: %s\n", GUESTD_NAME, err->message);
		g_error_free(err);
		g_option_context_free(ctx);
		return 2;
	}
	g_option_context_free(ctx);
	if (argc > 1) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", GUESTD_NAME, argv[1]);
		return 2;
	}
	if (sync_period < 1 || sync_period > 86400 || sync_step_ms < 0) {
		fprintf(stderr, "%s: --sync-period must be 1..86400, --sync-step-ms >= 0\n",
			GUESTD_NAME);
		return 2;
	}
	if (pointer_parse_mode(pointer_mode, &pointer_opts.mode) ||
	    pointer_poll_ms < 5 || pointer_poll_ms > 1000) {
		fprintf(stderr, "%s: --pointer must be auto, uinput or off; --pointer-poll-ms "
			"5..1000\n", GUESTD_NAME);
		return 2;
	}
	pointer_opts.device = pointer_device ? pointer_device : POINTER_DEVICE_DEFAULT;
	pointer_opts.poll_ms = pointer_poll_ms;
	if (poll_max_ms < 10 || poll_max_ms > 60000) {
		fprintf(stderr, "%s: --poll-max-ms must be 10..60000\n", GUESTD_NAME);
		return 2;
	}
	(void)foreground;
	opts.verbose = verbose;
	opts.poll_max_ms = poll_max_ms;
	opts.once = once;
	if (verbose)
		g_setenv("G_MESSAGES_DEBUG", "all", TRUE);

	if (!bdoor_detect(&info)) {
		fprintf(stderr, "%s: not running inside a virtual machine (no backdoor)\n",
			GUESTD_NAME);
		return 1;
	}
	g_message("%s %s: backdoor version %u, VMX type %u, hypervisor '%s'", GUESTD_NAME,
		  PORTHOLE_VERSION, info.version, info.vmx_type,
		  info.hv_bit ? info.vendor : "(no CPUID bit)");

	GMainLoop *loop = g_main_loop_new(NULL, FALSE);
	struct guestd_state *state = guestd_state_new();
	struct tclo *tclo = tclo_new(&opts, state, loop);
	struct timesync_opts ts_opts = {
		.startup = sync_startup, .periodic = sync_time, .period_s = sync_period,
		.allow_backward = sync_backward, .step_threshold_ms = sync_step_ms,
	};
	struct timesync *timesync = no_timesync ? NULL : timesync_new(&ts_opts);
	struct powerops *powerops = powerops_new(halt_cmd, reboot_cmd);
	guint sig_term = g_unix_signal_add(SIGTERM, on_signal, loop);
	guint sig_int = g_unix_signal_add(SIGINT, on_signal, loop);

	struct guestd_vmci gv = { .tclo = tclo };
	bool have_vmci = !once && vmci_start(&gv);
	struct pointer *pointer = pointer_new(&pointer_opts, have_vmci);

	gv.pointer = pointer;

	guestd_state_set_timesync(state, timesync);
	guestd_state_set_powerops(state, powerops);
	tclo_start(tclo);
	guint guestinfo_timer = guestinfo_start();
	if (timesync)
		timesync_start(timesync);
	g_main_loop_run(loop);

	int ret = opts.once && !tclo_once_done(tclo) ? 1 : 0;

	/* Stopped by init while shutting the guest down: report the power op first. */
	powerops_finish(powerops, 2000);
	tclo_free(tclo);
	timesync_free(timesync);
	powerops_free(powerops);
	pointer_free(pointer);
	if (gv.watch)
		g_source_remove(gv.watch);
	if (have_vmci)
		phg_vmci_close(&gv.vmci);
	g_free(pointer_mode);
	g_free(pointer_device);
	g_free(halt_cmd);
	g_free(reboot_cmd);
	g_source_remove(sig_term);
	g_source_remove(sig_int);
	g_source_remove(guestinfo_timer);
	guestd_state_free(state);
	g_main_loop_unref(loop);
	return ret;
}
