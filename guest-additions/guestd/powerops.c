// SPDX-License-Identifier: MIT
/*
 * Power operations: TCLO OS_Halt / OS_Reboot.
 *
 * As open-vm-tools' powerOps plugin does, the TCLO reply only says whether
 * the operation could start ("OK " / "ERROR <why>"); the outcome goes to the
 * host afterwards as the RPCI "tools.os.statechange.status <ok> <state id>".
 * Unlike vmtoolsd we have no separate pre-shutdown script: the configured
 * command *is* the shutdown (default `systemctl poweroff`).
 *
 * The command starts only once the "OK " has been sent (tclo.c calls
 * powerops_reply_sent()): a command that ends the guest at once must not
 * swallow the host's reply.  When the guest's init stops us while the command
 * still runs (systemd stopping services during poweroff), we wait briefly for
 * it so the status report still goes out.
 */
#define G_LOG_DOMAIN "porthole-guestd"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backdoor/msgchan.h"
#include "guestd.h"

struct powerops {
	char *cmd[3];		/* indexed by GUESTOS_STATECHANGE_HALT / _REBOOT */
	int pending;		/* state id to start after the reply, or 0 */
	int running;		/* state id of the running command, or 0 */
	GPid pid;
	guint watch;
};

static const char *const op_names[] = { NULL, "halt", "reboot" };

const char *powerops_default_command(int state_id)
{
	bool systemd = g_file_test("/run/systemd/system", G_FILE_TEST_IS_DIR);

	if (state_id == GUESTOS_STATECHANGE_HALT)
		return systemd ? "systemctl poweroff" : "poweroff";
	return systemd ? "systemctl reboot" : "reboot";
}

struct powerops *powerops_new(const char *halt_cmd, const char *reboot_cmd)
{
	struct powerops *p = g_new0(struct powerops, 1);

	p->cmd[GUESTOS_STATECHANGE_HALT] =
		g_strdup(halt_cmd ? halt_cmd : powerops_default_command(GUESTOS_STATECHANGE_HALT));
	p->cmd[GUESTOS_STATECHANGE_REBOOT] =
		g_strdup(reboot_cmd ? reboot_cmd :
			 powerops_default_command(GUESTOS_STATECHANGE_REBOOT));
	return p;
}

static void report(struct powerops *p, int state_id, bool ok)
{
	char *msg = g_strdup_printf(RPCI_STATECHANGE_STATUS " %d %d", ok ? 1 : 0, state_id);
	char *reply = NULL;

	if (rpci_send_one(msg, strlen(msg), &reply, NULL) != 1)
		g_warning("could not report the %s to the host: %s", op_names[state_id],
			  reply ? reply : "channel error");
	free(reply);
	g_free(msg);
}

static void finished(struct powerops *p, int wait_status)
{
	int id = p->running;
	bool ok = WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0;

	if (WIFEXITED(wait_status))
		g_message("%s command '%s' exited with %d", op_names[id], p->cmd[id],
			  WEXITSTATUS(wait_status));
	else
		g_message("%s command '%s' killed by signal %d", op_names[id], p->cmd[id],
			  WIFSIGNALED(wait_status) ? WTERMSIG(wait_status) : 0);
	g_spawn_close_pid(p->pid);
	p->pid = 0;
	p->running = 0;
	report(p, id, ok);
}

/*
 * Reaped with plain waitpid() on a short timer rather than a GLib child
 * watch: under the trap engine the child watch reported exit status 0 for a
 * failing command (`false`) in most runs, while waitpid() is always right.
 */
static gboolean poll_child(gpointer data)
{
	struct powerops *p = data;
	int st;
	pid_t r = waitpid(p->pid, &st, WNOHANG);

	if (r == 0 || (r < 0 && errno == EINTR))
		return G_SOURCE_CONTINUE;
	p->watch = 0;
	if (r < 0) {
		g_warning("waitpid(%d): %s", (int)p->pid, g_strerror(errno));
		st = 0xff00;	/* "exited with 255": a failure */
	}
	finished(p, st);
	return G_SOURCE_REMOVE;
}

/* Split a command line; NULL with *why set when it can't be run. */
static char **command_argv(const char *cmd, char **why)
{
	char **argv = NULL;
	char *path;
	GError *err = NULL;

	if (!g_shell_parse_argv(cmd, NULL, &argv, &err)) {
		*why = g_strdup_printf("Bad command '%s': %s", cmd, err->message);
		g_error_free(err);
		return NULL;
	}
	path = g_find_program_in_path(argv[0]);
	if (!path) {
		*why = g_strdup_printf("Command not found: %s", argv[0]);
		g_strfreev(argv);
		return NULL;
	}
	g_free(path);
	return argv;
}

bool powerops_request(struct powerops *p, int state_id, char **result)
{
	char **argv;

	if (p->pending || p->running) {
		*result = g_strdup("State change already in progress");
		return false;
	}
	argv = command_argv(p->cmd[state_id], result);
	if (!argv) {
		g_warning("%s requested: %s", op_names[state_id], *result);
		report(p, state_id, false);
		return false;
	}
	g_strfreev(argv);
	g_message("%s requested by the host; running '%s' after replying", op_names[state_id],
		  p->cmd[state_id]);
	p->pending = state_id;
	*result = g_strdup("");
	return true;
}

void powerops_reply_sent(struct powerops *p)
{
	int id = p->pending;
	char *why = NULL;
	char **argv;
	GError *err = NULL;

	if (!id)
		return;
	p->pending = 0;
	argv = command_argv(p->cmd[id], &why);
	if (!argv) {
		g_warning("%s: %s", op_names[id], why);
		g_free(why);
		report(p, id, false);
		return;
	}
	if (!g_spawn_async(NULL, argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
			   NULL, NULL, &p->pid, &err)) {
		g_warning("cannot start the %s command: %s", op_names[id], err->message);
		g_error_free(err);
		g_strfreev(argv);
		report(p, id, false);
		return;
	}
	g_strfreev(argv);
	p->running = id;
	p->watch = g_timeout_add(20, poll_child, p);
}

void powerops_reply_lost(struct powerops *p)
{
	if (p->pending)
		g_warning("%s not started: the reply to the host was lost", op_names[p->pending]);
	p->pending = 0;
}

void powerops_finish(struct powerops *p, int wait_ms)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)wait_ms * 1000;
	int st;

	if (!p || !p->running)
		return;
	/* The main loop (and its poll timer) is over: reap it here. */
	g_source_remove(p->watch);
	p->watch = 0;
	for (;;) {
		pid_t r = waitpid(p->pid, &st, WNOHANG);

		if (r == p->pid) {
			finished(p, st);
			return;
		}
		if ((r < 0 && errno != EINTR) || g_get_monotonic_time() >= deadline)
			break;
		g_usleep(10000);
	}
	g_message("%s command still running as we stop; not waiting for it",
		  op_names[p->running]);
	g_spawn_close_pid(p->pid);
	p->running = 0;
}

void powerops_free(struct powerops *p)
{
	if (!p)
		return;
	if (p->watch)
		g_source_remove(p->watch);
	g_free(p->cmd[GUESTOS_STATECHANGE_HALT]);
	g_free(p->cmd[GUESTOS_STATECHANGE_REBOOT]);
	g_free(p);
}
