// SPDX-License-Identifier: MIT
/*
 * porthole-hv: run a guest with the Porthole device model.
 *
 *   porthole-hv run [--name N] [--ram SIZE] [--share HOST[:GUEST]]... [--overlay DIR]
 *                   [--root DIR [--snapshot] [--disk-size SIZE] | --host-root]
 *                   [--cpuid auto|fault|patch|off] [--testdev] [--no-seccomp]
 *                   [-- CMD ARGS...]
 *   porthole-hv run --engine kvm [--name N] [--ram SIZE] --payload FILE
 *   porthole-hv run --engine kvm [...] --kernel FILE [--initrd FILE] [--cmdline TEXT]
 *
 * The main thread serves the control socket (GLib main loop); the engine runs
 * the guest on a thread of its own and feeds trapped instructions to the
 * device model.  The guest's exit status becomes ours.  Each thread filters
 * its own system calls once started (thread-filter.h).
 */
#define G_LOG_DOMAIN "porthole-hv"
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "console.h"
#include "control-proto.h"
#include "control.h"
#include "devices/namespace-db.h"
#include "engines/kvm.h"
#include "engines/sandbox.h"
#include "engines/trap.h"
#include "guest-cgroup.h"
#include "host-lacks.h"
#include "thread-filter.h"
#include "vm.h"

struct run {
	struct vm *vm;
	struct trap_options topt;
	struct kvm_options kopt;
	bool kvm;
	GMainLoop *loop;
	int status;
};

#define MAX_RAM_SIZE	(1ull << 40)	/* 1T: far above any host this runs on */

/* "512M", "2G", "1T" (K/M/G/T, optionally "iB" or "B"; no suffix: bytes). */
static const char *parse_size(const char *s, uint64_t *out)
{
	char *end;
	guint64 v = g_ascii_strtoull(s, &end, 10);
	guint64 mul = 1;

	if (end == s || *s == '-')
		return "not a size";
	switch (g_ascii_toupper(*end)) {
	case 'T': mul <<= 10; /* fall through */
	case 'G': mul <<= 10; /* fall through */
	case 'M': mul <<= 10; /* fall through */
	case 'K': mul <<= 10; end++; break;
	case '\0': break;
	default: return "not a size";
	}
	if (*end && g_ascii_strcasecmp(end, "iB") && g_ascii_strcasecmp(end, "B"))
		return "not a size";
	if (v == 0)
		return "must be more than 0";
	if (v > MAX_RAM_SIZE / mul)
		return "more than the limit, 1T";
	*out = v * mul;
	return NULL;
}

static gboolean name_in_use(const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[sizeof(sa.sun_path)];
	int fd, n, busy;

	if (ph_ctl_dir(dir, sizeof(dir)))
		return FALSE;
	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s" PH_CTL_SUFFIX, dir, name);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
		return FALSE;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	busy = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	return busy;
}

static char *default_name(void)
{
	for (int i = 1; i < 1000; i++) {
		char *n = g_strdup_printf("vm%d", i);

		if (!name_in_use(n))
			return n;
		g_free(n);
	}
	return g_strdup_printf("vm-%d", (int)getpid());
}

/* This program's directory (NULL when unknown). */
static char *self_dir(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return NULL;
	self[n] = '\0';
	return g_path_get_dirname(self);
}

/*
 * The first of `candidates` (relative to our directory) that exists with
 * `mode` (access(2)), or NULL.
 */
static char *find_next_to_us(const char *const *candidates, int mode)
{
	g_autofree char *dir = self_dir();

	for (; dir && *candidates; candidates++) {
		char *path = g_build_filename(dir, *candidates, NULL);

		if (!access(path, mode))
			return path;
		g_free(path);
	}
	return NULL;
}

/* The default guest: the guest daemon installed next to us. */
static char *default_guest(void)
{
	static const char *const guestd[] = { "porthole-guestd", NULL };
	char *path = find_next_to_us(guestd, X_OK);

	return path ? path : g_strdup("porthole-guestd");
}

/*
 * Where a VM keeps what outlives a run (its --root overlay's upper layer,
 * its namespace database): --state-dir, else $XDG_STATE_HOME/porthole/vms/NAME,
 * made private to us.  NULL after saying why.
 */
static char *vm_state_dir(const char *name, const char *given)
{
	g_autofree char *dir = given ? g_strdup(given) :
			       g_build_filename(g_get_user_state_dir(), "porthole", "vms", name, NULL);

	if (g_mkdir_with_parents(dir, 0700) || chmod(dir, 0700)) {
		fprintf(stderr, "porthole-hv run: the VM's state directory %s: %s\n", dir,
			g_strerror(errno));
		return NULL;
	}
	return g_steal_pointer(&dir);
}

/* The VM console, its log next to the control socket. */
static struct console *open_console(const char *name, GError **error)
{
	char dir[PATH_MAX];
	g_autofree char *log = NULL;

	if (ph_ctl_dir(dir, sizeof(dir))) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NAMETOOLONG,
			    "the VM console: no directory for its log");
		return NULL;
	}
	log = g_strdup_printf("%s/%s.console.log", dir, name);
	return console_open(log, error);
}

static gboolean quit_loop(gpointer p)
{
	g_main_loop_quit(p);
	return G_SOURCE_REMOVE;
}

static gpointer engine_thread(gpointer p)
{
	struct run *run = p;

	pthread_mutex_lock(&run->vm->lock);
	run->vm->state = VM_RUNNING;
	if (run->vm->notify)
		run->vm->notify(run->vm, "state");
	pthread_mutex_unlock(&run->vm->lock);
	run->status = run->kvm ? kvm_engine_run(run->vm, &run->kopt)
			       : trap_engine_run(run->vm, &run->topt);
	pthread_mutex_lock(&run->vm->lock);
	run->vm->state = VM_STOPPED;
	run->vm->exit_status = run->status;
	if (run->vm->notify)
		run->vm->notify(run->vm, "state");
	pthread_mutex_unlock(&run->vm->lock);
	g_idle_add(quit_loop, run->loop);
	return NULL;
}

/* The running engine's stop function (kvm_engine_stop with --engine kvm). */
static void (*engine_stop)(void) = trap_engine_stop;


static void stop_vm(void *opaque)
{
	engine_stop();
}

/*
 * Test hook (PORTHOLE_TEST_HOOKS=1 only): SIGUSR1 asks the thread named by
 * PORTHOLE_TEST_FORBID (default: control) to make a forbidden system call.
 * The control thread does it at once; the others at their next poll.
 */
static int test_forbid_thread = -1;

static int setup_test_hooks(void)
{
	const char *which = g_getenv("PORTHOLE_TEST_FORBID");
	int kind = which ? thread_filter_thread_parse(which) : HV_THREAD_CONTROL;

	if (g_strcmp0(g_getenv("PORTHOLE_TEST_HOOKS"), "1"))
		return 0;
	if (kind < 0) {
		fprintf(stderr, "porthole-hv run: bad PORTHOLE_TEST_FORBID '%s'\n", which);
		return -1;
	}
	g_message("test hooks on: SIGUSR1 makes thread %s call what its filter forbids",
		  thread_filter_thread_name(kind));
	test_forbid_thread = kind;
	return 0;
}

/*
 * Signals reach the main loop through a pipe of our own, not
 * g_unix_signal_add(): GLib's way starts a thread of its own (gmain) when
 * first used, before any seccomp filter exists, and that thread could never
 * be filtered (thread-filter.h).  The handler only writes the number.
 */
static int signal_pipe[2] = { -1, -1 };

static void on_signal_async(int sig)
{
	unsigned char b = (unsigned char)sig;
	int saved = errno;

	if (write(signal_pipe[1], &b, 1) < 0) {
		/* EAGAIN: plenty are pending already */
	}
	errno = saved;
}

static gboolean on_signal(gint fd, GIOCondition cond, gpointer p)
{
	unsigned char sigs[64];
	ssize_t n;

	while ((n = read(fd, sigs, sizeof(sigs))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (sigs[i] == SIGUSR1) {
				thread_filter_test_arm(test_forbid_thread);
				thread_filter_test_poll();
				continue;
			}
			g_message("signal received: stopping the guest");
			engine_stop();
		}
	}
	return G_SOURCE_CONTINUE;
}

static int catch_signals(void)
{
	static const int stops[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa = { .sa_handler = on_signal_async, .sa_flags = SA_RESTART };

	if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK)) {
		g_warning("pipe2: %s", g_strerror(errno));
		return -1;
	}
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < G_N_ELEMENTS(stops); i++)
		sigaction(stops[i], &sa, NULL);
	if (test_forbid_thread >= 0)
		sigaction(SIGUSR1, &sa, NULL);
	g_unix_fd_add(signal_pipe[0], G_IO_IN, on_signal, NULL);
	return 0;
}

/*
 * A guest with a root of its own is a machine: when it resets (its pid 1
 * ended by SIGHUP, TRAP_GUEST_RESET) it starts again from its init.  The
 * hypervisor's threads cannot start processes once filtered
 * (thread-filter.c), so each boot is a child of this small supervisor, made
 * before any thread or filter exists: the child says "reset" on a pipe and
 * exits, and the supervisor starts the next.  Signals that stop a VM are
 * passed on to the running boot.  Returns our exit status, or -1 in a child
 * (which runs the VM, boot number in *boot, pipe in *reset_fd).
 */
#define RESET_MIN_INTERVAL_S	2	/* a guest resetting in a loop waits this long */

static volatile sig_atomic_t supervised_child;
static volatile sig_atomic_t supervisor_stop;	/* a stop came: no further boot */

static void pass_signal_on(int sig)
{
	/* Recorded even with a boot running: it may be resetting just now. */
	supervisor_stop = sig;
	if (supervised_child > 0)
		kill(supervised_child, sig);
}

static int supervise_boots(unsigned int *boot, int *reset_fd)
{
	static const int passed[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa = { .sa_handler = pass_signal_on, .sa_flags = SA_RESTART };
	sigset_t block, old;

	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	for (size_t i = 0; i < G_N_ELEMENTS(passed); i++) {
		sigaction(passed[i], &sa, NULL);
		sigaddset(&block, passed[i]);
	}
	for (*boot = 1;; ++*boot) {
		gint64 started = g_get_monotonic_time();
		int fds[2], st;
		char said = 0;
		pid_t pid;

		if (pipe2(fds, O_CLOEXEC)) {
			fprintf(stderr, "porthole-hv: pipe: %s\n", g_strerror(errno));
			return 1;
		}
		/* No signal lost between fork and publishing the child's pid. */
		sigprocmask(SIG_BLOCK, &block, &old);
		if (supervisor_stop) {
			sigprocmask(SIG_SETMASK, &old, NULL);
			close(fds[0]);
			close(fds[1]);
			return 128 + supervisor_stop;
		}
		pid = fork();
		if (pid == 0) {
			pid_t parent = getppid();

			for (size_t i = 0; i < G_N_ELEMENTS(passed); i++)
				signal(passed[i], SIG_DFL);
			sigprocmask(SIG_SETMASK, &old, NULL);
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			if (getppid() != parent)	/* the supervisor died before prctl */
				raise(SIGTERM);
			close(fds[0]);
			*reset_fd = fds[1];
			return -1;
		}
		supervised_child = pid;
		sigprocmask(SIG_SETMASK, &old, NULL);
		close(fds[1]);
		if (pid < 0) {
			fprintf(stderr, "porthole-hv: fork: %s\n", g_strerror(errno));
			close(fds[0]);
			return 1;
		}
		{
			siginfo_t info;

			/* Not reaped until nothing can signal its pid, which is free after. */
			while (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT) < 0 &&
			       errno == EINTR)
				;
			sigprocmask(SIG_BLOCK, &block, NULL);
			supervised_child = 0;
			sigprocmask(SIG_SETMASK, &old, NULL);
			while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
				;
		}
		if (read(fds[0], &said, 1) != 1)
			said = 0;
		close(fds[0]);
		if (said != 'R')
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		/* (a stop that came meanwhile ends the loop at its top) */
		{
			gint64 left = started + RESET_MIN_INTERVAL_S * G_USEC_PER_SEC -
				      g_get_monotonic_time();

			if (left > 0 && !supervisor_stop)
				g_usleep((gulong)left);
		}
	}
}

static int cmd_run(int argc, char **argv)
{
	g_autofree char *name = NULL, *ram = NULL, *vendor = NULL, *engine = NULL, *screen = NULL;
	g_autofree char *payload = NULL, *kernel = NULL, *initrd = NULL, *cmdline = NULL;
	g_autofree char *overlay = NULL, *cpuid = NULL, *root = NULL, *disk_size = NULL;
	g_autofree char *state_dir = NULL, *console_mode = NULL;
	g_auto(GStrv) shares = NULL;
	gboolean no_hb = FALSE, testdev = FALSE, no_seccomp = FALSE, sync_time = FALSE;
	gboolean host_root = FALSE, snapshot = FALSE;
	gint pids = GUEST_DEFAULT_PIDS;
	struct guest_cgroup cgroup = { 0 };
	const char *seccomp_env = g_getenv("PORTHOLE_SECCOMP");
	int seccomp_mode;
	bool filter_failed;
	GOptionEntry entries[] = {
		{ "name", 'n', 0, G_OPTION_ARG_STRING, &name, "VM name (default: vm1, vm2, ...)", "NAME" },
		{ "ram", 'm', 0, G_OPTION_ARG_STRING, &ram, "Guest RAM size (default 1G)", "SIZE" },
		{ "share", 's', 0, G_OPTION_ARG_STRING_ARRAY, &shares,
		  "Make a host directory writable in the guest", "HOST_DIR[:GUEST_DIR]" },
		{ "overlay", 0, 0, G_OPTION_ARG_FILENAME, &overlay,
		  "Lay a host tree read-only over the guest's / (e.g. an unpacked package)", "DIR" },
		{ "root", 0, 0, G_OPTION_ARG_FILENAME, &root,
		  "trap: run the guest on DIR as its / (nothing of the host visible but the "
		  "shares); its writes go to an overlay kept with the VM's state", "DIR" },
		{ "host-root", 0, 0, G_OPTION_ARG_NONE, &host_root,
		  "trap: the guest's / is the host's, read-only (the default without --root; "
		  "for tests and quick runs: every host file you can read, the guest can)", NULL },
		{ "snapshot", 0, 0, G_OPTION_ARG_NONE, &snapshot,
		  "With --root: keep the guest's writes in memory and throw them away at exit", NULL },
		{ "disk-size", 0, 0, G_OPTION_ARG_STRING, &disk_size,
		  "With --root: cap on what the guest writes to its / (default 4G): an ext4 image "
		  "in the VM's state dir (root), or the --snapshot tmpfs",
		  "SIZE" },
		{ "pids", 0, 0, G_OPTION_ARG_INT, &pids,
		  "trap: most processes and threads the guest may have at once (default 1024)",
		  "N" },
		{ "console", 0, 0, G_OPTION_ARG_STRING, &console_mode,
		  "trap: the guest's fds 0-2: pty (a VM console, logged, reached with "
		  "'porthole-ctl console VM'; the default) or stdio (porthole-hv's own, for tests: "
		  "the guest can reach your terminal and log) (default: $PORTHOLE_CONSOLE, else pty)",
		  "MODE" },
		{ "engine", 'e', 0, G_OPTION_ARG_STRING, &engine, "Execution engine (trap, kvm)",
		  "ENGINE" },
		{ "payload", 0, 0, G_OPTION_ARG_FILENAME, &payload,
		  "kvm: flat 64-bit binary run at 0x100000", "FILE" },
		{ "kernel", 0, 0, G_OPTION_ARG_FILENAME, &kernel,
		  "kvm: Linux kernel to boot (bzImage or vmlinux)", "FILE" },
		{ "initrd", 0, 0, G_OPTION_ARG_FILENAME, &initrd, "kvm: initial ramdisk", "FILE" },
		{ "cmdline", 0, 0, G_OPTION_ARG_STRING, &cmdline, "kvm: kernel command line", "TEXT" },
		{ "cpuid", 0, 0, G_OPTION_ARG_STRING, &cpuid,
		  "trap: how guest cpuid is intercepted: auto (fault where the CPU can, else "
		  "patch), fault, patch, off (default: $PORTHOLE_CPUID, else auto)", "MODE" },
		{ "cpuid-vendor", 0, 0, G_OPTION_ARG_STRING, &vendor,
		  "Hypervisor vendor at CPUID 0x40000000 (default VMwareVMware)", "STRING" },
		{ "screen", 0, 0, G_OPTION_ARG_STRING, &screen, "Screen size for GETSCREENSIZE", "WxH" },
		{ "no-hb", 0, 0, G_OPTION_ARG_NONE, &no_hb,
		  "Don't offer the high-bandwidth backdoor port", NULL },
		{ "sync-time", 0, 0, G_OPTION_ARG_NONE, &sync_time,
		  "Ask the guest tools to keep the guest clock in sync with the host's "
		  "(the synctime option; the guest may change it)", NULL },
		{ "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir,
		  "Where the VM keeps what outlives a run: the --root overlay's writes and the "
		  "namespace database, NAME.nsdb (default $XDG_STATE_HOME/porthole/vms/NAME; "
		  "'none': nothing is kept)", "DIR" },
		{ "testdev", 0, 0, G_OPTION_ARG_NONE, &testdev,
		  "Add the engine test device on ports 0xE0-0xEF (for tests)", NULL },
		{ "no-seccomp", 0, 0, G_OPTION_ARG_NONE, &no_seccomp,
		  "Run the hypervisor's own threads without their seccomp filters (debugging; "
		  "also PORTHOLE_SECCOMP=off, or =log to only log what they would refuse)", NULL },
		{ NULL }
	};
	g_autoptr(GOptionContext) oc = g_option_context_new("[-- COMMAND [ARG...]]");
	g_autoptr(GError) err = NULL;
	g_autoptr(GPtrArray) share_list = g_ptr_array_new_with_free_func(g_free);
	struct vm_config cfg = { .ram_size = 1ull << 30 };
	struct control *ctl;
	struct console *con = NULL;
	struct run run = { .status = 1 };
	char *guest_argv_default[2] = { NULL, NULL };
	char **guest_argv;
	GThread *thread;
	uint64_t ram_size, disk_bytes = SANDBOX_DEFAULT_DISK_SIZE;
	const char *why;
	unsigned int boot = 1;
	int reset_fd = -1;

	g_option_context_set_summary(oc, "Run a guest under the Porthole hypervisor.\n"
				     "Without a command, the guest runs porthole-guestd.");
	g_option_context_add_main_entries(oc, entries, NULL);
	/* --help says "porthole-hv run [OPTION…]"; log lines say "porthole-hv". */
	g_set_prgname("porthole-hv run");
	if (!g_option_context_parse(oc, &argc, &argv, &err)) {
		fprintf(stderr, "porthole-hv run: %s\n", err->message);
		return 2;
	}
	g_set_prgname("porthole-hv");
	if (engine && strcmp(engine, "trap") && strcmp(engine, "kvm")) {
		fprintf(stderr, "porthole-hv run: unknown engine '%s' (available: trap, kvm)\n",
			engine);
		return 2;
	}
	run.kvm = engine && !strcmp(engine, "kvm");
	if (run.kvm && !payload == !kernel) {
		fprintf(stderr, "porthole-hv run: --engine kvm needs --payload FILE or --kernel FILE\n");
		return 2;
	}
	if (!run.kvm && (payload || kernel || initrd || cmdline)) {
		fprintf(stderr, "porthole-hv run: --payload, --kernel, --initrd and --cmdline "
			"need --engine kvm\n");
		return 2;
	}
	if (run.kvm && !kernel && (initrd || cmdline)) {
		fprintf(stderr, "porthole-hv run: --initrd and --cmdline go with --kernel\n");
		return 2;
	}
	if (!cpuid && g_getenv("PORTHOLE_CPUID") && *g_getenv("PORTHOLE_CPUID"))
		cpuid = g_strdup(g_getenv("PORTHOLE_CPUID"));
	if (cpuid && trap_cpuid_mode_parse(cpuid) < 0) {
		fprintf(stderr, "porthole-hv run: bad --cpuid '%s' (auto, fault, patch or off)\n",
			cpuid);
		return 2;
	}
	seccomp_mode = no_seccomp ? THREAD_FILTER_OFF :
		       thread_filter_mode_parse(seccomp_env && *seccomp_env ? seccomp_env : NULL);
	if (seccomp_mode < 0) {
		fprintf(stderr, "porthole-hv run: bad PORTHOLE_SECCOMP '%s' (on, off or log)\n",
			seccomp_env);
		return 2;
	}
	if (host_lacks_init())
		return 2;
	if (ram && (why = parse_size(ram, &ram_size))) {
		fprintf(stderr, "porthole-hv run: --ram '%s': %s (examples: 512M, 2G)\n", ram, why);
		return 2;
	}
	if (ram)
		cfg.ram_size = ram_size;
	if (disk_size && (why = parse_size(disk_size, &disk_bytes))) {
		fprintf(stderr, "porthole-hv run: --disk-size '%s': %s (examples: 512M, 4G)\n",
			disk_size, why);
		return 2;
	}
	if (!console_mode && g_getenv("PORTHOLE_CONSOLE") && *g_getenv("PORTHOLE_CONSOLE"))
		console_mode = g_strdup(g_getenv("PORTHOLE_CONSOLE"));
	if (console_mode && strcmp(console_mode, "pty") && strcmp(console_mode, "stdio")) {
		fprintf(stderr, "porthole-hv run: bad --console '%s' (pty or stdio)\n", console_mode);
		return 2;
	}
	if (pids < 16 || pids > 4194304) {
		fprintf(stderr, "porthole-hv run: --pids %d: 16 to 4194304\n", pids);
		return 2;
	}
	if (root && host_root) {
		fprintf(stderr, "porthole-hv run: --root and --host-root exclude each other\n");
		return 2;
	}
	if (!root && (snapshot || disk_size)) {
		fprintf(stderr, "porthole-hv run: --snapshot and --disk-size go with --root\n");
		return 2;
	}
	if (root && (root[0] != '/' || !g_file_test(root, G_FILE_TEST_IS_DIR))) {
		fprintf(stderr, "porthole-hv run: --root '%s': not the absolute path of a directory\n",
			root);
		return 2;
	}
	if (vendor && strlen(vendor) > 12) {
		fprintf(stderr, "porthole-hv run: --cpuid-vendor takes at most 12 characters\n");
		return 2;
	}
	if (screen && sscanf(screen, "%ux%u", &cfg.screen_width, &cfg.screen_height) != 2) {
		fprintf(stderr, "porthole-hv run: bad --screen '%s' (example: 1280x800)\n", screen);
		return 2;
	}
	if (!name)
		name = default_name();
	if (!control_valid_name(name)) {
		fprintf(stderr, "porthole-hv run: bad VM name '%s' (letters, digits, '.', '_', '-')\n",
			name);
		return 2;
	}
	/* Said here, before any device tries to claim the name's sockets. */
	if (name_in_use(name)) {
		fprintf(stderr, "porthole-hv run: a VM named '%s' is already running "
			"(porthole-ctl list; choose another --name)\n", name);
		return 1;
	}
	/* argv[0] is "run"; what follows "--" (removed by GOption) is the guest command. */
	guest_argv = argv + 1;
	if (argc > 1 && !strcmp(argv[1], "--"))
		guest_argv++;
	if (run.kvm && (*guest_argv || shares || overlay || root || host_root)) {
		fprintf(stderr, "porthole-hv run: a guest command, --share, --overlay, --root and "
			"--host-root are for the trap engine; with --engine kvm the guest is --payload "
			"or --kernel\n");
		return 2;
	}
	/*
	 * What outlives a run: the --root overlay's upper layer, the namespace
	 * database.  Only a kept --root overlay can't do without it; anything
	 * else runs with nothing kept (a user without a writable home).
	 */
	if (!state_dir || strcmp(state_dir, "none")) {
		bool given = state_dir != NULL;
		char *dir = vm_state_dir(name, state_dir);

		g_free(state_dir);
		state_dir = dir;
		if (!state_dir && (given || (root && !snapshot)))
			return 1;
		if (!state_dir)
			fprintf(stderr, "porthole-hv run: nothing of this VM is kept after it stops\n");
	} else {
		g_clear_pointer(&state_dir, g_free);
	}
	if (root && !snapshot && !state_dir) {
		fprintf(stderr, "porthole-hv run: --root keeps the guest's writes in the VM's state "
			"directory; with --state-dir none, give --snapshot\n");
		return 2;
	}
	if (!*guest_argv && root) {
		/* A root of its own boots its own init. */
		guest_argv_default[0] = g_strdup("/sbin/init");
		guest_argv = guest_argv_default;
	} else if (!*guest_argv) {
		guest_argv_default[0] = default_guest();
		guest_argv = guest_argv_default;
	}
	for (char **s = shares; s && *s; s++) {
		struct trap_share *sh = g_new0(struct trap_share, 1);
		char *colon = strchr(*s, ':');

		sh->host_dir = *s;
		sh->guest_dir = *s;
		if (colon) {
			*colon = '\0';
			sh->guest_dir = colon + 1;
		}
		g_ptr_array_add(share_list, sh);
	}

	cfg.name = name;
	cfg.cpuid_vendor = vendor;
	cfg.engine = run.kvm ? "kvm" : "trap";
	if (run.kvm) {
		engine_stop = kvm_engine_stop;
		run.kopt = (struct kvm_options){ payload, kernel, initrd, cmdline };
	}
	cfg.no_hb = no_hb;
	cfg.testdev = testdev;
	cfg.sync_time = sync_time;
	cfg.state_dir = state_dir;
	if (root) {
		int ret = supervise_boots(&boot, &reset_fd);

		if (ret >= 0) {
			g_free(guest_argv_default[0]);
			return ret;
		}
	}
	/*
	 * Before the control socket exists, so that no signal can end us with
	 * it left behind; one that comes before the engine starts stops it at
	 * once (trap_engine_stop(), kvm_engine_stop()).
	 */
	if (setup_test_hooks() || catch_signals() || thread_filter_setup(seccomp_mode))
		return 1;
	run.vm = vm_create(&cfg);
	if (!run.vm)
		return 1;
	run.vm->boots = boot;
	ctl = control_start(run.vm, stop_vm, NULL, &err);
	if (!ctl) {
		fprintf(stderr, "porthole-hv: %s\n", err->message);
		vm_destroy(run.vm);
		return 1;
	}
	g_message("VM '%s' (%s engine, %llu MiB RAM): control socket %s", name, cfg.engine,
		  (unsigned long long)(cfg.ram_size >> 20), control_socket_path(ctl));
	run.topt.console_fd = -1;
	if (!run.kvm && g_strcmp0(console_mode, "stdio")) {
		con = open_console(name, &err);
		if (!con) {
			fprintf(stderr, "porthole-hv: %s\n", err->message);
			control_stop(ctl);
			vm_destroy(run.vm);
			return 1;
		}
		run.topt.console_fd = console_guest_fd(con);
		control_set_console(ctl, con);
		console_start(con);
		g_message("console: 'porthole-ctl console %s', log %s", name, console_log_path(con));
	} else if (!run.kvm) {
		g_message("console: the guest shares porthole-hv's stdio (--console stdio)");
	}

	run.topt.cpuid = cpuid ? (enum trap_cpuid_mode)trap_cpuid_mode_parse(cpuid) : TRAP_CPUID_AUTO;
	run.topt.argv = guest_argv;
	run.topt.hostname = name;
	run.topt.overlay = overlay;
	run.topt.root = root;
	run.topt.state_dir = snapshot ? NULL : state_dir;
	run.topt.snapshot = snapshot;
	run.topt.disk_size = disk_bytes;
	run.topt.ram_size = cfg.ram_size;
	if (!run.kvm) {
		/* Before any guest process exists; the sandbox helper joins it. */
		guest_cgroup_create(&cgroup, name, cfg.ram_size, (unsigned int)pids);
		run.topt.cgroup = &cgroup;
	}
	run.topt.n_shares = share_list->len;
	{
		struct trap_share *flat = g_new0(struct trap_share, share_list->len + 1);

		for (guint i = 0; i < share_list->len; i++)
			flat[i] = *(struct trap_share *)share_list->pdata[i];
		run.topt.shares = flat;
	}
	run.loop = g_main_loop_new(NULL, FALSE);
	thread = g_thread_new("engine", engine_thread, &run);
	/* After the engine's start: it needs calls this thread's filter refuses. */
	filter_failed = thread_filter_install(HV_THREAD_CONTROL) != 0;
	if (filter_failed)
		engine_stop();
	g_main_loop_run(run.loop);
	g_thread_join(thread);
	guest_cgroup_destroy(&cgroup);
	if (con)
		console_drain(con);
	namespace_db_flush(run.vm);	/* what the guest set in its last second */
	if (!run.kvm)
		trap_engine_cleanup();

	if (run.status == TRAP_GUEST_RESET && reset_fd >= 0) {
		g_message("VM '%s': the guest reset itself (reboot): starting it again from its "
			  "init (boot %u)", name, boot + 1);
		if (write(reset_fd, "R", 1) != 1)
			g_warning("cannot tell the supervisor to restart: %s", g_strerror(errno));
		run.status = 0;
	} else if (run.status == TRAP_GUEST_RESET) {
		/* The host's own root is not a machine to restart: it ends as before. */
		g_message("VM '%s': the guest asked for a reset; without --root it ends", name);
		run.status = 128 + SIGHUP;
	} else {
		g_message("VM '%s' stopped: guest exit status %d", name, run.status);
	}
	/* No request may reach the VM from here on; pending replies still go out. */
	control_quiesce(ctl);
	vm_destroy(run.vm);
	/* Let completions queued while the VM went down reach (or miss) their clients. */
	while (g_main_context_iteration(NULL, FALSE))
		;
	control_stop(ctl);
	console_close(con);
	g_main_loop_unref(run.loop);
	g_free((void *)run.topt.shares);
	g_free(guest_argv_default[0]);
	return filter_failed || run.status < 0 ? 1 : run.status;
}

/* What this host offers the engines, one "key=value" a line (tests and bug reports read it). */
/*
 * Whether the KVM engine can run here: "kvm=yes", with "(nested: ...)" when
 * this host is itself a VM (the CPU's hypervisor bit: every exit goes through
 * the outer hypervisor, so KVM guests are slow), or "kvm=no (why)".
 */
static void probe_kvm(void)
{
	unsigned int eax, ebx, ecx = 0, edx;
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int api;

	if (fd < 0) {
		printf("kvm=no (/dev/kvm: %s)\n", g_strerror(errno));
		return;
	}
	api = ioctl(fd, KVM_GET_API_VERSION, 0);
	close(fd);
	if (api != KVM_API_VERSION) {
		printf("kvm=no (KVM API version %d, not %d)\n", api, KVM_API_VERSION);
		return;
	}
	__get_cpuid(1, &eax, &ebx, &ecx, &edx);
	printf("kvm=yes%s\n", ecx & (1u << 31) ? " (nested: this host is itself a VM)" : "");
}

/*
 * porthole-hv image create [--force] [DIR]: the guest image, built by its
 * recipe (installer/image/build-image.sh, which mmdebstrap does the work
 * for) into DIR or the cache, whose path it prints.  From a build tree the
 * recipe is the checkout's and the init build/image/porthole-init;
 * installed, both under PREFIX/share/porthole/image.
 */
static int cmd_image(int argc, char **argv)
{
	/* build/bin, build/san/bin; make install: PREFIX/bin; the package: /usr/bin */
	static const char *const recipes[] = { "../../installer/image/build-image.sh",
					       "../../../installer/image/build-image.sh",
					       "../share/porthole/image/build-image.sh",
					       "../lib/porthole/image/build-image.sh", NULL };
	static const char *const inits[] = { "../image/porthole-init",
					     "../share/porthole/image/porthole-init",
					     "../lib/porthole/image/porthole-init", NULL };
	g_autofree char *recipe = NULL, *init = NULL;
	GPtrArray *args;

	if (argc < 2 || strcmp(argv[1], "create")) {
		fprintf(stderr, "usage: porthole-hv image create [--force] [DIR]\n"
			"Builds the Debian 12 guest image (mmdebstrap) into DIR, by default\n"
			"the cache (~/.cache/porthole/images), reused while its recipe is the same;\n"
			"prints its directory, for 'porthole-hv run --root DIR'.\n");
		return 2;
	}
	recipe = g_strdup(g_getenv("PORTHOLE_IMAGE_RECIPE"));
	if (!recipe)
		recipe = find_next_to_us(recipes, R_OK | X_OK);
	init = find_next_to_us(inits, X_OK);
	if (!recipe || !init) {
		fprintf(stderr, "porthole-hv image: cannot find the image's %s next to porthole-hv\n",
			!recipe ? "recipe (build-image.sh)" : "init (porthole-init)");
		return 1;
	}
	args = g_ptr_array_new();
	g_ptr_array_add(args, recipe);
	g_ptr_array_add(args, "--init");
	g_ptr_array_add(args, init);
	for (int i = 2; i < argc; i++)
		g_ptr_array_add(args, argv[i]);
	g_ptr_array_add(args, NULL);
	execv(recipe, (char **)args->pdata);
	fprintf(stderr, "porthole-hv image: %s: %s\n", recipe, g_strerror(errno));
	return 1;
}

static int cmd_probe(void)
{
	int err = trap_probe_cpuid_faulting();

	if (err)
		printf("cpuid-faulting=no (%s: %s)\ncpuid-auto=patch\n",
		       strerrorname_np(err) ? strerrorname_np(err) : "?", g_strerror(err));
	else
		printf("cpuid-faulting=yes\ncpuid-auto=fault\n");
	probe_kvm();
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: porthole-hv run [OPTION...] [-- COMMAND [ARG...]]\n"
		"       porthole-hv probe\n"
		"       porthole-hv image create [--force] [DIR]\n"
		"       porthole-hv --version\n"
		"\n"
		"Runs a guest under the Porthole hypervisor (see 'porthole-hv run --help').\n"
		"'probe' tells what this host offers (CPUID faulting, and so the cpuid mode; KVM).\n"
		"'image create' builds the Debian 12 guest image for 'run --root' (cached).\n"
		"Host services find the VM through its control socket; try 'porthole-ctl list'.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("porthole-hv %s\n", PORTHOLE_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	g_set_prgname("porthole-hv");
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "probe"))
		return cmd_probe();
	if (!strcmp(argv[1], "image"))
		return cmd_image(argc - 1, argv + 1);
	fprintf(stderr, "porthole-hv: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
