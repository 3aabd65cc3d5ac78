/* SPDX-License-Identifier: MIT */
/*
 * porthole-ctl --dbus: the subcommands that map onto org.porthole.Host1, the
 * session-bus API served by porthole-hostd, instead of the control sockets.
 */
#ifndef PORTHOLE_CTL_DBUS_H
#define PORTHOLE_CTL_DBUS_H

#include <stdbool.h>
#include <stdio.h>

/* Environment variable that turns --dbus on ("1"). */
#define CTL_DBUS_ENV	"PORTHOLE_CTL_DBUS"

/* True when PORTHOLE_CTL_DBUS asks for D-Bus. */
bool ctl_dbus_wanted(void);

/*
 * Run one subcommand through D-Bus.  argv[0] is the subcommand; returns the
 * exit status (0 ok, 1 failure incl. errors from the service, 2 usage).
 */
int ctl_dbus_main(int argc, char **argv);

/* The usage lines for --dbus and monitor. */
void ctl_dbus_usage(FILE *f);

#endif
