// SPDX-License-Identifier: MIT
/*
 * porthole-init: pid 1 of Porthole's Debian guest image (installer/image/).
 *
 * The smallest init that boots the image as Debian would under systemd:
 * it starts the services enabled for multi-user.target and graphical.target
 * (the symlinks in /etc/systemd/system/<target>.wants/, which dpkg's
 * deb-systemd-helper makes), and powers the machine off or reboots it when
 * asked.  Why not systemd itself: see installer/image/README.md.
 *
 * From the unit files it reads the [Service] keys ExecStartPre, ExecStart,
 * Type (simple, exec, notify, idle: started and left running; forking: the
 * starter is waited for; oneshot: waited for before anything else starts),
 * Environment, EnvironmentFile, User, Group, WorkingDirectory, Restart
 * (on-failure, always: at most 5 restarts, 1 s apart), with drop-ins from
 * /etc/systemd/system/NAME.d/ (*.conf).  Conditions are not evaluated: this
 * is a virtual machine (ConditionVirtualization=vmware holds).  All oneshot
 * services run first, in name order; then the enabled units are read again
 * (a oneshot may have installed a package that enabled its own) and the
 * others start.
 *
 * Power: SIGRTMIN+3 (halt), SIGRTMIN+4 (poweroff), SIGRTMIN+5 (reboot),
 * SIGINT (ctrl-alt-del: reboot), as systemd takes them from a container
 * manager, and SIGTERM (power off, as `docker stop` means it).  `poweroff`, `halt`, `reboot` and `shutdown -h|-P|-r
 * now` (this program under those names) send them to pid 1.  The
 * shutdown: SIGTERM to every process, SIGKILL after 5 s, sync, reboot(2).
 * In a PID namespace that ends pid 1 with SIGINT (power off) or SIGHUP
 * (restart), which the hypervisor reads from its wait status.  Where the
 * guest may not call reboot(2) (no CAP_SYS_BOOT over its PID namespace) a
 * power-off is a plain exit(0), and a restart ends pid 1 by SIGHUP itself.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_UNITS	128
#define MAX_EXEC	8	/* ExecStartPre lines a unit may have */
#define MAX_ENV		64
#define MAX_ARGS	64
#define RESTART_LIMIT	5
#define ONESHOT_TIMEOUT	90	/* s: then the boot goes on without it */
#define STOP_GRACE	5	/* s between SIGTERM and SIGKILL at shutdown */

static const char *const unit_dirs[] = { "/etc/systemd/system", "/lib/systemd/system",
					 "/usr/lib/systemd/system" };
static const char *const boot_targets[] = { "multi-user.target", "graphical.target" };

enum svc_type { T_SIMPLE, T_FORKING, T_ONESHOT };
enum restart { R_NO, R_ON_FAILURE, R_ALWAYS };

struct unit {
	char name[NAME_MAX + 1];
	enum svc_type type;
	enum restart restart;
	char *exec_pre[MAX_EXEC];
	int n_pre;
	char *exec;
	char *env[MAX_ENV];
	int n_env;
	char *env_files[8];
	int n_env_files;
	char *user, *group, *workdir;
	pid_t pid;		/* main process, 0 when not running */
	bool started;
	int restarts;
	time_t restart_at;	/* when to start it again, 0: not pending */
};

static struct unit units[MAX_UNITS];
static int n_units;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	/* The console: pid 1's stdout (the VM console). */
	if (write(STDOUT_FILENO, "porthole-init: ", 15) < 0 || write(STDOUT_FILENO, buf, n) < 0) {
		/* nowhere else to say it */
	}
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* "-/usr/bin/x" etc.: systemd's prefixes (ignore failure, run as root, ...) go. */
static char *exec_line(const char *v)
{
	while (*v == '-' || *v == '@' || *v == ':' || *v == '+' || *v == '!')
		v++;
	return strdup(v);
}

/*
 * Words of a command line or an Environment= value: whitespace separates,
 * double or single quotes group, backslash escapes the next character.
 * Returns the count, at most `max`; the words point into `s`, rewritten.
 */
static int split_words(char *s, char **words, int max)
{
	int n = 0;
	char *r = s, *w = s;

	while (*r && n < max) {
		char quote = 0;

		while (isspace((unsigned char)*r))
			r++;
		if (!*r)
			break;
		words[n++] = w;
		for (; *r; r++) {
			if (quote && *r == quote) {
				quote = 0;
			} else if (!quote && (*r == '"' || *r == '\'')) {
				quote = *r;
			} else if (*r == '\\' && r[1]) {
				*w++ = *++r;
			} else if (!quote && isspace((unsigned char)*r)) {
				r++;
				break;
			} else {
				*w++ = *r;
			}
		}
		*w++ = '\0';
	}
	return n;
}

static void set_string(char **slot, const char *v)
{
	free(*slot);
	*slot = *v ? strdup(v) : NULL;
}

/* One unit file or drop-in, over what the earlier ones said. */
static void parse_unit_file(struct unit *u, const char *path)
{
	char line[4096];
	bool service = false;
	FILE *f = fopen(path, "re");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *s = trim(line), *eq, *key, *val;

		if (*s == '[') {
			service = !strcmp(s, "[Service]");
			continue;
		}
		if (!service || *s == '#' || *s == ';' || !(eq = strchr(s, '=')))
			continue;
		*eq = '\0';
		key = trim(s);
		val = trim(eq + 1);
		if (!strcmp(key, "ExecStart")) {
			free(u->exec);
			u->exec = *val ? exec_line(val) : NULL;
		} else if (!strcmp(key, "ExecStartPre")) {
			if (!*val) {
				while (u->n_pre)
					free(u->exec_pre[--u->n_pre]);
			} else if (u->n_pre < MAX_EXEC) {
				u->exec_pre[u->n_pre++] = exec_line(val);
			}
		} else if (!strcmp(key, "Type")) {
			u->type = !strcmp(val, "oneshot") ? T_ONESHOT :
				  !strcmp(val, "forking") ? T_FORKING : T_SIMPLE;
		} else if (!strcmp(key, "Restart")) {
			u->restart = !strcmp(val, "always") ? R_ALWAYS :
				     !strcmp(val, "no") || !*val ? R_NO : R_ON_FAILURE;
		} else if (!strcmp(key, "Environment")) {
			char *words[MAX_ENV];
			int n = split_words(val, words, MAX_ENV);

			for (int i = 0; i < n && u->n_env < MAX_ENV; i++)
				if (strchr(words[i], '='))
					u->env[u->n_env++] = strdup(words[i]);
		} else if (!strcmp(key, "EnvironmentFile")) {
			if (u->n_env_files < 8 && *val)
				u->env_files[u->n_env_files++] = strdup(val);
		} else if (!strcmp(key, "User")) {
			set_string(&u->user, val);
		} else if (!strcmp(key, "Group")) {
			set_string(&u->group, val);
		} else if (!strcmp(key, "WorkingDirectory")) {
			set_string(&u->workdir, val[0] == '-' ? val + 1 : val);
		}
	}
	fclose(f);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static void parse_dropins(struct unit *u)
{
	char dir[PATH_MAX], path[PATH_MAX * 2];
	struct dirent **list;
	int n;

	snprintf(dir, sizeof(dir), "/etc/systemd/system/%s.d", u->name);
	n = scandir(dir, &list, NULL, by_name);
	for (int i = 0; i < n; i++) {
		size_t len = strlen(list[i]->d_name);

		if (len > 5 && !strcmp(list[i]->d_name + len - 5, ".conf")) {
			snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
			parse_unit_file(u, path);
		}
		free(list[i]);
	}
	if (n >= 0)
		free(list);
}

static struct unit *find_unit(const char *name)
{
	for (int i = 0; i < n_units; i++)
		if (!strcmp(units[i].name, name))
			return &units[i];
	return NULL;
}

/*
 * The unit a wants/ entry names: the symlink's target (an alias such as
 * vmtoolsd.service is known by the file it points to), else the name
 * looked up in the unit directories.
 */
static void load_unit(const char *wants_dir, const char *entry)
{
	char link[PATH_MAX * 2], target[PATH_MAX], path[PATH_MAX * 2];
	const char *name = entry, *file = NULL;
	struct unit *u;
	ssize_t n;

	snprintf(link, sizeof(link), "%s/%s", wants_dir, entry);
	n = readlink(link, target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = '\0';
		if (!strcmp(target, "/dev/null"))
			return;		/* masked */
		name = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
		if (target[0] == '/' && access(target, R_OK) == 0)
			file = target;
	}
	if (strlen(name) < 9 || strcmp(name + strlen(name) - 8, ".service") || strchr(name, '@'))
		return;		/* targets, sockets, timers, templates: not ours */
	if (find_unit(name))
		return;
	for (size_t i = 0; !file && i < sizeof(unit_dirs) / sizeof(unit_dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", unit_dirs[i], name);
		if (access(path, R_OK) == 0)
			file = path;
	}
	if (!file) {
		say("%s: no unit file, not started", name);
		return;
	}
	if (n_units == MAX_UNITS) {
		say("%s: more than %d units enabled, not started", name, MAX_UNITS);
		return;
	}
	u = &units[n_units++];
	memset(u, 0, sizeof(*u));
	snprintf(u->name, sizeof(u->name), "%s", name);
	parse_unit_file(u, file);
	parse_dropins(u);
	if (!u->exec) {
		say("%s: no ExecStart, not started", name);
		n_units--;
	}
}

/* Read the enabled units (again: known ones stay as they are). */
static void load_enabled_units(void)
{
	char dir[PATH_MAX];

	for (size_t t = 0; t < sizeof(boot_targets) / sizeof(boot_targets[0]); t++) {
		struct dirent **list;
		int n;

		snprintf(dir, sizeof(dir), "/etc/systemd/system/%s.wants", boot_targets[t]);
		n = scandir(dir, &list, NULL, by_name);
		for (int i = 0; i < n; i++) {
			if (list[i]->d_name[0] != '.')
				load_unit(dir, list[i]->d_name);
			free(list[i]);
		}
		if (n >= 0)
			free(list);
	}
}

static void apply_env_file(const char *spec)
{
	bool optional = spec[0] == '-';
	char line[4096];
	FILE *f = fopen(spec + optional, "re");

	if (!f) {
		if (!optional)
			say("EnvironmentFile %s: %s", spec, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		char *s = trim(line), *words[1];

		if (*s == '#' || *s == ';' || !strchr(s, '='))
			continue;
		if (split_words(s, words, 1) == 1)
			putenv(strdup(words[0]));
	}
	fclose(f);
}

/* In the child: become what the unit says, then exec its command line. */
static void __attribute__((noreturn)) exec_child(const struct unit *u, const char *cmdline)
{
	char *copy = strdup(cmdline), *argv[MAX_ARGS + 1];
	int argc = split_words(copy, argv, MAX_ARGS);
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	setsid();
	for (int i = 0; i < u->n_env_files; i++)
		apply_env_file(u->env_files[i]);
	for (int i = 0; i < u->n_env; i++)
		putenv(u->env[i]);
	if (u->group) {
		struct group *g = getgrnam(u->group);

		if (!g || setgid(g->gr_gid)) {
			say("%s: group %s: %s", u->name, u->group, g ? strerror(errno) : "unknown");
			_exit(127);
		}
	}
	if (u->user) {
		struct passwd *pw = getpwnam(u->user);

		if (!pw) {
			say("%s: user %s unknown", u->name, u->user);
			_exit(127);
		}
		if ((!u->group && setgid(pw->pw_gid)) || initgroups(pw->pw_name, pw->pw_gid) ||
		    setuid(pw->pw_uid)) {
			say("%s: becoming %s: %s", u->name, u->user, strerror(errno));
			_exit(127);
		}
		setenv("HOME", pw->pw_dir, 1);
		setenv("USER", pw->pw_name, 1);
		setenv("LOGNAME", pw->pw_name, 1);
	}
	if (u->workdir && chdir(u->workdir))
		say("%s: WorkingDirectory %s: %s", u->name, u->workdir, strerror(errno));
	if (argc == 0) {
		say("%s: empty command line", u->name);
		_exit(127);
	}
	argv[argc] = NULL;
	execv(argv[0], argv);
	say("%s: %s: %s", u->name, argv[0], strerror(errno));
	_exit(127);
}

static pid_t spawn(const struct unit *u, const char *cmdline)
{
	pid_t pid = fork();

	if (pid < 0)
		say("%s: fork: %s", u->name, strerror(errno));
	if (pid == 0)
		exec_child(u, cmdline);
	return pid;
}

static void reaped(pid_t pid, int st);

/* Waits for one process of ours, reaping any other that ends meanwhile. */
static int wait_for(pid_t pid, int timeout_s)
{
	time_t end = time(NULL) + timeout_s;

	for (;;) {
		int st;
		pid_t got = waitpid(-1, &st, WNOHANG);

		if (got == pid)
			return st;
		if (got > 0) {
			reaped(got, st);	/* (a service may need restarting) */
			continue;
		}
		if (got < 0 && errno == ECHILD)
			return -1;
		if (time(NULL) >= end)
			return -1;
		usleep(20000);
	}
}

static void start_unit(struct unit *u)
{
	int st;

	u->started = true;
	u->restart_at = 0;
	for (int i = 0; i < u->n_pre; i++) {
		pid_t pid = spawn(u, u->exec_pre[i]);

		if (pid > 0 && (st = wait_for(pid, ONESHOT_TIMEOUT)) != 0) {
			say("%s: ExecStartPre %s failed (status %d): not started", u->name,
			    u->exec_pre[i], st);
			return;
		}
	}
	say("starting %s", u->name);
	u->pid = spawn(u, u->exec);
	if (u->pid <= 0) {
		u->pid = 0;
		return;
	}
	if (u->type == T_SIMPLE)
		return;
	/* oneshot: done when it exits; forking: the daemon lives on untracked. */
	st = wait_for(u->pid, ONESHOT_TIMEOUT);
	if (st < 0)
		say("%s: still running after %d s, going on", u->name, ONESHOT_TIMEOUT);
	else if (st != 0)
		say("%s: failed (wait status %d)", u->name, st);
	else
		say("%s: done", u->name);
	if (st >= 0)
		u->pid = 0;
}

static void free_unit(struct unit *u)
{
	for (int i = 0; i < u->n_pre; i++)
		free(u->exec_pre[i]);
	for (int i = 0; i < u->n_env; i++)
		free(u->env[i]);
	for (int i = 0; i < u->n_env_files; i++)
		free(u->env_files[i]);
	free(u->exec);
	free(u->user);
	free(u->group);
	free(u->workdir);
}

/* Forget the units not started yet: the next load reads them as they are now. */
static void forget_unstarted(void)
{
	int kept = 0;

	for (int i = 0; i < n_units; i++) {
		if (units[i].started)
			units[kept++] = units[i];
		else
			free_unit(&units[i]);
	}
	n_units = kept;
}

static void boot(void)
{
	load_enabled_units();
	for (int i = 0; i < n_units; i++)
		if (units[i].type == T_ONESHOT && !units[i].started)
			start_unit(&units[i]);
	/*
	 * A oneshot may have enabled or disabled units (dpkg -i of a package
	 * with a unit): read them again.
	 */
	forget_unstarted();
	load_enabled_units();
	for (int i = 0; i < n_units; i++)
		if (units[i].type == T_ONESHOT && !units[i].started)
			start_unit(&units[i]);
	for (int i = 0; i < n_units; i++)
		if (!units[i].started)
			start_unit(&units[i]);
	say("boot done: %d units", n_units);
}

static void reaped(pid_t pid, int st)
{
	time_t now = time(NULL);

	for (int i = 0; i < n_units; i++) {
		struct unit *u = &units[i];
		bool failed = !WIFEXITED(st) || WEXITSTATUS(st) != 0;

		if (u->pid != pid)
			continue;
		u->pid = 0;
		if (u->type != T_SIMPLE)
			return;
		say("%s: main process ended (%s %d)", u->name,
		    WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		if (u->restart == R_ALWAYS || (u->restart == R_ON_FAILURE && failed)) {
			if (u->restarts++ < RESTART_LIMIT)
				u->restart_at = now + 1;
			else
				say("%s: restarted %d times, given up", u->name, RESTART_LIMIT);
		}
		return;
	}
}

/* What a signal to pid 1 asks for (systemd's signals from a container manager). */
enum power { P_NONE, P_POWEROFF, P_REBOOT };

static enum power power_of(int sig)
{
	if (sig == SIGRTMIN + 3 || sig == SIGRTMIN + 4 || sig == SIGTERM)
		return P_POWEROFF;
	if (sig == SIGINT || sig == SIGRTMIN + 5)
		return P_REBOOT;
	return P_NONE;
}

static void __attribute__((noreturn)) shut_down(enum power how)
{
	time_t end = time(NULL) + STOP_GRACE;
	sigset_t hup;

	say("%s: stopping every process", how == P_REBOOT ? "reboot" : "power off");
	kill(-1, SIGTERM);
	kill(-1, SIGCONT);
	while (time(NULL) < end) {
		if (waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD)
			break;
		usleep(20000);
	}
	kill(-1, SIGKILL);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	sync();
	say("%s", how == P_REBOOT ? "restarting the machine" : "powering off");
	reboot(how == P_REBOOT ? RB_AUTOBOOT : RB_POWER_OFF);
	/* No CAP_SYS_BOOT over our PID namespace: end as reboot(2) would have ended us. */
	if (how == P_POWEROFF)
		exit(0);
	signal(SIGHUP, SIG_DFL);
	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	sigprocmask(SIG_UNBLOCK, &hup, NULL);
	raise(SIGHUP);
	/* Dropped (pid 1 is immune to its own signals when nobody traces it). */
	sleep(2);
	say("cannot signal a restart: powering off instead");
	exit(0);
}

static void on_signal(int sig)
{
	(void)sig;	/* taken by sigtimedwait; a handler keeps it from being dropped */
}

static int run_init(void)
{
	sigset_t set;
	struct sigaction sa = { .sa_handler = on_signal };
	const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGCHLD, SIGRTMIN + 3,
			     SIGRTMIN + 4, SIGRTMIN + 5 };

	sigemptyset(&set);
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaddset(&set, sigs[i]);
		sigaction(sigs[i], &sa, NULL);
	}
	sigprocmask(SIG_BLOCK, &set, NULL);
	setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
	setenv("container", "porthole", 1);
	umask(022);
	if (chdir("/"))
		say("chdir /: %s", strerror(errno));
	mkdir("/run/lock", 01777);
	mkdir("/run/user", 0755);
	say("booting (pid %d)", (int)getpid());
	boot();
	for (;;) {
		struct timespec tick = { 1, 0 };
		siginfo_t si;
		int sig, st;
		pid_t pid;
		time_t now;

		while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
			reaped(pid, st);
		now = time(NULL);
		for (int i = 0; i < n_units; i++)
			if (units[i].restart_at && units[i].restart_at <= now)
				start_unit(&units[i]);
		sig = sigtimedwait(&set, &si, &tick);
		if (sig > 0 && power_of(sig) != P_NONE) {
			say("signal %d from pid %d", sig, (int)si.si_pid);
			shut_down(power_of(sig));
		}
	}
}

/* ---- poweroff, halt, reboot, shutdown: ask pid 1 ---- */

static int usage(const char *name)
{
	fprintf(stderr, "usage: %s [-f]   (this guest's init: porthole-init)\n"
		"       shutdown [-h|-P|-H|-r] [now|+0]\n", name);
	return 2;
}

static int ask_pid1(const char *name, int argc, char **argv)
{
	enum power how = !strcmp(name, "reboot") ? P_REBOOT : P_POWEROFF;
	bool force = false, is_shutdown = !strcmp(name, "shutdown");
	int sig;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-f") || !strcmp(a, "--force"))
			force = true;
		else if (is_shutdown && (!strcmp(a, "-r") || !strcmp(a, "--reboot")))
			how = P_REBOOT;
		else if (is_shutdown && (!strcmp(a, "-h") || !strcmp(a, "-P") || !strcmp(a, "-H") ||
					 !strcmp(a, "--poweroff") || !strcmp(a, "--halt")))
			how = P_POWEROFF;
		else if (is_shutdown && (!strcmp(a, "now") || !strcmp(a, "+0")))
			continue;
		else if (is_shutdown && !strcmp(a, "-c"))
			return fprintf(stderr, "shutdown: no scheduled shutdown to cancel\n"), 1;
		else if (!strcmp(a, "-p") || !strcmp(a, "--poweroff") || !strcmp(a, "--no-wall"))
			continue;
		else
			return usage(name);
	}
	if (force) {
		sync();
		reboot(how == P_REBOOT ? RB_AUTOBOOT : RB_POWER_OFF);
		fprintf(stderr, "%s -f: %s; asking init instead\n", name, strerror(errno));
	}
	sig = how == P_REBOOT ? SIGRTMIN + 5 : SIGRTMIN + 4;
	/*
	 * The init's SIGTERM to every process may come before we exit: our
	 * caller (a guest tools daemon reporting the outcome to the host) must
	 * see the exit 0 of a request that went through, not a kill.
	 */
	signal(SIGTERM, SIG_IGN);
	if (kill(1, sig)) {
		fprintf(stderr, "%s: cannot signal init: %s\n", name, strerror(errno));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];

	if (!strcmp(name, "poweroff") || !strcmp(name, "halt") || !strcmp(name, "reboot") ||
	    !strcmp(name, "shutdown"))
		return ask_pid1(name, argc, argv);
	if (argc > 1 && (!strcmp(argv[1], "poweroff") || !strcmp(argv[1], "halt") ||
			 !strcmp(argv[1], "reboot")))
		return ask_pid1(argv[1], argc - 1, argv + 1);
	if (getpid() != 1) {
		fprintf(stderr, "porthole-init: not pid 1; as a command: porthole-init "
			"poweroff|halt|reboot\n");
		return 2;
	}
	return run_init();
}
