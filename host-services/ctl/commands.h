/* SPDX-License-Identifier: MIT */
/*
 * What porthole-ctl's subcommands take and what they say, shared by the
 * control-socket path (main.c) and the D-Bus path (dbus.c), so that both
 * refuse the same arguments with the same words and report success with the
 * same line.  Exit statuses: 0 done, 1 failed, 2 bad usage.
 */
#ifndef PORTHOLE_CTL_COMMANDS_H
#define PORTHOLE_CTL_COMMANDS_H

#include <glib.h>
#include <stdbool.h>
#include <stdio.h>

#define CTL_EXIT_OK	0
#define CTL_EXIT_FAILED	1
#define CTL_EXIT_USAGE	2
#define CTL_EXIT_FORCED	3	/* shutdown --force: the VM was powered off hard */

/* The largest guest screen side porthole-ctl asks for (as the agent's limit). */
#define CTL_MAX_SCREEN_SIDE	16384

struct ctl_command {
	const char *name;
	const char *args;	/* synopsis after the name, e.g. "VM WIDTH HEIGHT" */
	int min_args, max_args;	/* words after the name (-1: no maximum) */
	bool dbus;		/* has an org.porthole.Host1 equivalent */
};

/* The subcommand called NAME, or NULL. */
const struct ctl_command *ctl_command_find(const char *name);

/*
 * A bad argument: "porthole-ctl: CMD: WHY" and the subcommand's synopsis on
 * stderr.  Returns CTL_EXIT_USAGE.
 */
int ctl_usage_error(const struct ctl_command *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/*
 * Checks the number of words after the subcommand (argv[0] is the
 * subcommand); says which is missing or extra.  Returns 0 or CTL_EXIT_USAGE.
 */
int ctl_check_arg_count(const struct ctl_command *c, int argc, char **argv);

/* A number argument called WHAT in MIN..MAX.  0 or CTL_EXIT_USAGE (saying which and why). */
int ctl_parse_number(const struct ctl_command *c, const char *what, const char *text,
		     gint64 min, gint64 max, gint64 *out);

/* resolution's WIDTH and HEIGHT: each 1..CTL_MAX_SCREEN_SIDE.  0 or CTL_EXIT_USAGE. */
int ctl_parse_resolution(const struct ctl_command *c, const char *w_text, const char *h_text,
			 guint *w, guint *h);

/* The line printed when a subcommand did what it was asked: "VM: WHAT". */
void ctl_done(const char *vm, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/*
 * The success line of the subcommands the guest tools carry out
 * (resolution W H, sync-time, shutdown, reboot), for both transports.
 */
void ctl_report_guest_action(const char *vm, const char *cmd, guint w, guint h);

/*
 * A reply from the guest tools to a TCLO command: printed (escaped) on
 * stdout when it succeeded, on stderr after "porthole-ctl: VM: " when the
 * tools answered ERROR.  Returns the exit status.
 */
int ctl_tclo_result(const char *vm, const char *reply);

/*
 * Guest-chosen text on one line: backslash, control characters and DEL
 * escaped (\n, \t, \\, \ooo), everything else (UTF-8 too) as it is.
 */
void ctl_put_guest_text(FILE *f, const char *s);

#endif
