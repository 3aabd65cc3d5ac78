/* SPDX-License-Identifier: MIT */
/*
 * The VM console of a trap-engine guest: a pty whose slave is the guest's
 * fds 0-2 and /dev/console (never the hypervisor's own stdio).  The main
 * loop reads the master into a log file while no user is attached;
 * `porthole-ctl console VM` (PH_CTL_CONSOLE) takes the master fd and the
 * log pauses until that client's connection closes.
 */
#ifndef PORTHOLE_HV_CONSOLE_H
#define PORTHOLE_HV_CONSOLE_H

#include <glib.h>
#include <stddef.h>

struct console;

/* Log bytes kept: past this the log starts over (a marker line says so). */
#define CONSOLE_LOG_MAX		(1u << 20)

/*
 * A new pty, and `log_path` (created 0600, appended to).  Must run before
 * the threads' seccomp filters (it opens files).  NULL with `error` set.
 */
struct console *console_open(const char *log_path, GError **error);
void console_close(struct console *con);
/* The slave, for the guest (dup it; the console keeps its own open). */
int console_guest_fd(const struct console *con);
const char *console_log_path(const struct console *con);
/* Start logging from the main loop. */
void console_start(struct console *con);
/* Log what the guest left unread (it has stopped); not while a user holds the console. */
void console_drain(struct console *con);

/*
 * For client `owner` (any nonzero id): the master fd to pass (still ours),
 * and the log pauses.  -EBUSY when another client holds it.
 */
int console_attach(struct console *con, unsigned int owner);
/* Client `owner` went away: log again if it held the console. */
void console_detach(struct console *con, unsigned int owner);

/*
 * Guest bytes as a log line may show them: \n and \t kept, \r dropped,
 * other control bytes, DEL, bytes >= 0x80 and backslash as \xHH (a log
 * that reaches a terminal must not drive it).  Exposed for the unit test.
 */
void console_escape(GString *out, const char *buf, size_t len);

#endif
