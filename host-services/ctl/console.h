/* SPDX-License-Identifier: MIT */
/* porthole-ctl console VM (console.c). */
#ifndef PORTHOLE_CTL_CONSOLE_H
#define PORTHOLE_CTL_CONSOLE_H

/* Attach this terminal to the VM console until Ctrl-]; the exit status. */
int ctl_console(const char *vm);

#endif
