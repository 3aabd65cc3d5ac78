/* SPDX-License-Identifier: MIT */
/*
 * porthole-ctl --dbus: the subcommands that map onto org.porthole.Host1, the
 * session-bus API served by porthole-hostd, instead of the control sockets.
 */
#ifndef PORTHOLE_CTL_DBUS_H
#define PORTHOLE_CTL_DBUS_H

#include <stdbool.h>
#include <stdio.h>

#include "host-services/ctl/commands.h"

/* Environment variable that turns --dbus on ("1"). */
#define CTL_DBUS_ENV	"PORTHOLE_CTL_DBUS"

/* True when PORTHOLE_CTL_DBUS asks for D-Bus. */
bool ctl_dbus_wanted(void);

/*
 * Run subcommand C through D-Bus.  argv[0] is its name, the number of words
 * after it already checked (ctl_check_arg_count); returns the exit status
 * (0 ok, 1 failure incl. errors from the service, 2 usage).
 */
int ctl_dbus_main(const struct ctl_command *c, int argc, char **argv);

/* The usage lines for --dbus and monitor. */
void ctl_dbus_usage(FILE *f);

#endif
