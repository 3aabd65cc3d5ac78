// SPDX-License-Identifier: MIT
/*
 * porthole-ctl: control running Porthole VMs from the host.
 *
 *   porthole-ctl list                      (NAME STATE TOOLS-STATUS per VM)
 *   porthole-ctl status VM [--raw]
 *   porthole-ctl info-get VM KEY
 *   porthole-ctl info-set VM KEY VALUE
 *   porthole-ctl tclo VM 'COMMAND'          (APP:COMMAND for another tools app)
 *   porthole-ctl pointer VM X Y [BUTTONS [WHEEL]]  (absolute pointer event)
 *   porthole-ctl pointer-status VM
 *   porthole-ctl memory VM                  (maps guest RAM, prints its layout)
 *   porthole-ctl console VM                 (this terminal on the VM console)
 *   porthole-ctl reset-channels VM
 *   porthole-ctl stop VM
 *   porthole-ctl clock VM [--offset ±DURATION] [--rate PPM]
 *   porthole-ctl resolution VM W H | sync-time VM
 *   porthole-ctl sync-time VM on|off       (periodic sync by the tools: synctime)
 *   porthole-ctl namespace VM [NS [KEY]]   (the guest's namespace database)
 *   porthole-ctl shutdown VM [--timeout S] [--force] | reboot VM [--timeout S] | poweroff VM
 *   porthole-ctl --dbus COMMAND ...        (through org.porthole.Host1: dbus.c)
 *   porthole-ctl monitor [--count N]       (D-Bus signals: dbus.c)
 *
 * Exit status: 0 done (a line says what), 1 failed, 2 bad usage (the argument
 * and why, then the synopsis): commands.c, shared with --dbus; 3: shutdown
 * --force powered the VM off hard after the guest did not shut down.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "backdoor/desktop.h"
#include "backdoor/input.h"
#include "host-services/ctl/console.h"
#include "host-services/ctl/commands.h"
#include "host-services/ctl/dbus.h"
#include "host-services/lib/porthole-host.h"

#define DEFAULT_TIMEOUT_MS	5000
#define TCLO_TIMEOUT_MS		15000	/* the hypervisor gives up after 10 s */
#define POWER_TIMEOUT_S		60	/* shutdown/reboot: how long the guest may take */

static int usage(FILE *f)
{
	fprintf(f,
		"Usage: porthole-ctl COMMAND [ARGS]\n"
		"\n"
		"  list                      running VMs: name, state, tools status (tab-separated)\n"
		"  status VM [--raw]         state, uptime, guest tools and their version\n"
		"  info-get VM KEY           a guestinfo value (e.g. guestinfo.answer)\n"
		"  guest-info VM             what the guest tools report: OS, host name, NICs and\n"
		"                            their addresses, disks, uptime (guest.* lines)\n"
		"  info-set VM KEY VALUE     set a guestinfo value for the guest to read\n"
		"  tclo VM 'COMMAND'         send a TCLO command to the guest tools, print the reply\n"
		"                            (APP:COMMAND targets another tools app than toolbox)\n"
		"  pointer VM X Y [BUTTONS [WHEEL]]\n"
		"                            absolute pointer event: X, Y 0..65535 across the\n"
		"                            guest screen, BUTTONS 1 left|2 middle|4 right,\n"
		"                            WHEEL clicks (negative: up)\n"
		"  pointer-status VM         the guest's absolute pointer driver and queue\n"
		"  memory VM                 map the guest RAM and print its layout\n"
		"  reset-channels VM         close the guest's RPC channels (tools reconnect)\n"
		"  stop VM                   stop the VM\n"
		"  console VM                this terminal on the VM console (trap engine); Ctrl-]\n"
		"                            detaches\n"
		"  clock VM [--offset ±DURATION] [--rate PPM]\n"
		"                            show the guest clock (trap engine); jump it by\n"
		"                            DURATION (e.g. +30s, -200ms, 1.5h) or make it run\n"
		"                            PPM parts per million fast (negative: slow)\n"
		"  clipboard-policy VM [host-to-guest=on|off] [guest-to-host=on|off] [max-size=BYTES]\n"
		"                            show or change the VM's clipboard sharing policy\n"
		"  clipboard-legacy VM get|set TEXT\n"
		"                            the text legacy guest tools (backdoor copy/paste)\n"
		"                            sent (get: \"SERIAL\\nTEXT\"), or will read (set)\n");
	fprintf(f,
		"  resolution VM W H         ask the guest's desktop agent to resize its screen\n"
		"  sync-time VM              the guest steps its clock to the host's (tools)\n"
		"  sync-time VM on|off       the guest tools keep its clock in sync, or stop\n"
		"                            (VMware's synctime option, pushed to the tools)\n"
		"  namespace VM [NS [KEY]]   the guest's namespace database (vmware-namespace-cmd):\n"
		"                            the namespaces, a namespace's keys, or one value\n"
		"  shutdown VM [--timeout S] [--force]\n"
		"                            the guest tools shut the guest down; waits until the VM\n"
		"                            stopped (default 60 s; exit 1 if refused or still up;\n"
		"                            --force then powers it off hard: exit 3)\n"
		"  reboot VM [--timeout S]   the guest tools restart the guest; waits until it has\n"
		"                            started again (exit 1 if refused or not in time)\n"
		"  poweroff VM               power the VM off hard (as stop)\n");
	ctl_dbus_usage(f);
	return f == stdout ? 0 : 2;
}

/* One call to a VM; prints transport errors. Returns the errno-style status or -1. */
static int call(const char *vm, enum ph_ctl_op op, const char *payload, int timeout_ms,
		struct ph_reply *r)
{
	g_autoptr(GError) err = NULL;
	int fd = ph_connect(vm, &err);

	if (fd < 0) {
		fprintf(stderr, "porthole-ctl: %s\n", err->message);
		return -1;
	}
	if (ph_call(fd, op, payload, timeout_ms, r, &err)) {
		fprintf(stderr, "porthole-ctl: %s: %s\n", vm, err->message);
		close(fd);
		return -1;
	}
	close(fd);
	return r->status;
}

static void print_failure(const char *vm, int st, const struct ph_reply *r);

/*
 * The guest's text when it is over one control packet (op 43 says EFBIG):
 * read with op 45 in pieces (ph_guest_text_piece), printed as op 43 prints,
 * "<serial>\n<text>".  A new copy while reading starts over from 0.
 */
static int guest_text_in_pieces(const char *vm)
{
	g_autoptr(GByteArray) text = g_byte_array_new();
	uint64_t serial = 0, total = 0;
	uint32_t formats;

	for (int tries = 0; tries < 4; tries++) {
		uint64_t first = 0;
		bool started = false;

		g_byte_array_set_size(text, 0);
		do {
			struct ph_reply r = { 0 };
			char off[24];
			int st;
			bool ok;

			snprintf(off, sizeof(off), "%u", text->len);
			st = call(vm, PH_CTL_CLIPBOARD_GUEST_TEXT, off, DEFAULT_TIMEOUT_MS, &r);
			if (st) {
				print_failure(vm, st, &r);
				ph_reply_clear(&r);
				return CTL_EXIT_FAILED;
			}
			ok = ph_guest_text_piece(&r, UINT32_MAX, &serial, &total, &formats, text);
			ph_reply_clear(&r);
			if (!ok) {
				fprintf(stderr, "porthole-ctl: %s: a malformed piece of the guest's "
					"text\n", vm);
				return CTL_EXIT_FAILED;
			}
			if (!started)
				first = serial;
			started = true;
		} while (serial == first && text->len < total);
		if (serial == first) {
			printf("%llu\n", (unsigned long long)serial);
			fwrite(text->data, 1, text->len, stdout);
			return CTL_EXIT_OK;
		}
	}
	fprintf(stderr, "porthole-ctl: %s: the guest's text keeps changing\n", vm);
	return CTL_EXIT_FAILED;
}

#define field ph_kv_get

/* NICs and disks listed by status (the hypervisor keeps at most 16 and 64). */
#define GUESTINFO_SHOWN_MAX	64

static void print_status(const char *text)
{
	g_autoptr(GHashTable) kv = ph_kv_parse(text);
	g_auto(GStrv) app_lines = g_strsplit(field(kv, "tools.app", ""), "\n", -1);
	g_autofree char *joined = g_strjoinv("; ", app_lines);
	GString *apps = g_string_new(joined);
	const char *desc, *ver;

	desc = field(kv, "tools.description", NULL);
	ver = field(kv, "tools.version", NULL);
	printf("VM:            %s\n", field(kv, "name", "?"));
	printf("State:         %s (%s engine), up %s s\n", field(kv, "state", "?"),
	       field(kv, "engine", "?"), field(kv, "uptime", "?"));
	if (field(kv, "cpuid.mode", NULL))
		printf("CPUID:         %s (%s)\n", field(kv, "cpuid.mode", ""),
		       field(kv, "cpuid.reason", ""));
	printf("RAM:           %llu MiB\n",
	       (unsigned long long)(g_ascii_strtoull(field(kv, "ram", "0"), NULL, 10) >> 20));
	printf("Tools:         %s", field(kv, "tools.status", "?"));
	if (desc)
		printf(", %s", desc);
	if (ver)
		printf(" (tools.set.version %s)", ver);
	printf("\n");
	if (apps->len)
		printf("Tools apps:    %s\n", apps->str);
	printf("Capabilities:  %s\n", *field(kv, "tools.capabilities", "") ?
	       field(kv, "tools.capabilities", "") : "(none)");
	if (field(kv, "guest.os", NULL) || field(kv, "guest.hostname", NULL))
		printf("Guest:         %s (%s), host name %s\n",
		       field(kv, "guest.os.full", "?"), field(kv, "guest.os", "?"),
		       field(kv, "guest.hostname", "?"));
	for (int i = 0; i < GUESTINFO_SHOWN_MAX; i++) {
		g_autofree char *mac = g_strdup_printf("guest.nic.%d.mac", i);
		g_autofree char *ip = g_strdup_printf("guest.nic.%d.ip", i);

		if (!field(kv, mac, NULL))
			break;
		printf("NIC %-2d         %s %s\n", i, field(kv, mac, ""), field(kv, ip, ""));
	}
	for (int i = 0; i < GUESTINFO_SHOWN_MAX; i++) {
		g_autofree char *name = g_strdup_printf("guest.disk.%d.name", i);
		g_autofree char *size = g_strdup_printf("guest.disk.%d.size", i);
		g_autofree char *free_bytes = g_strdup_printf("guest.disk.%d.free", i);

		if (!field(kv, name, NULL))
			break;
		printf("Disk %-2d        %s: %llu MiB, %llu MiB free\n", i, field(kv, name, ""),
		       (unsigned long long)(g_ascii_strtoull(field(kv, size, "0"), NULL, 10) >> 20),
		       (unsigned long long)(g_ascii_strtoull(field(kv, free_bytes, "0"), NULL, 10) >> 20));
	}
	printf("GuestRPC:      %s channels open, %s guestinfo keys\n",
	       field(kv, "rpc.channels", "?"), field(kv, "guestinfo.keys", "?"));
	g_string_free(apps, TRUE);
}

/* The status's guest.* lines, without the prefix; 1 when the guest said nothing yet. */
static int print_guest_info(const char *vm, const char *text)
{
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	int shown = 0;

	for (char **l = lines; *l; l++) {
		if (g_str_has_prefix(*l, "guest.")) {
			printf("%s\n", *l + strlen("guest."));
			shown++;
		}
	}
	if (shown)
		return 0;
	fprintf(stderr, "porthole-ctl: %s: no guest information yet (are guest tools running?)\n",
		vm);
	return 1;
}

/* "+30s", "-200ms", "1.5h", "250us", "10ns", "2m" (no unit: seconds) -> ns. */
static int parse_duration(const char *text, long long *ns)
{
	static const struct {
		const char *unit;
		double ns;
	} units[] = {
		{ "ns", 1 }, { "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 }, { "", 1e9 },
		{ "m", 60e9 }, { "min", 60e9 }, { "h", 3600e9 },
	};
	char *end = NULL;
	double v = g_ascii_strtod(text, &end);

	if (end == text || !isfinite(v))
		return -1;
	for (size_t i = 0; i < G_N_ELEMENTS(units); i++) {
		double r = v * units[i].ns;

		if (strcmp(end, units[i].unit))
			continue;
		/* ±100 years is plenty for a simulated suspend. */
		if (r > 100.0 * 365 * 86400 * 1e9 || -r > 100.0 * 365 * 86400 * 1e9)
			return -1;
		*ns = (long long)(r < 0 ? r - 0.5 : r + 0.5);
		return 0;
	}
	return -1;
}

static void print_clock(const char *text)
{
	g_autoptr(GHashTable) kv = ph_kv_parse(text);
	long long rt, off;
	time_t secs;
	char when[64];
	struct tm tm;

	rt = g_ascii_strtoll(field(kv, "realtime-ns", "0"), NULL, 10);
	off = g_ascii_strtoll(field(kv, "offset-ns", "0"), NULL, 10);
	secs = (time_t)(rt / 1000000000);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", gmtime_r(&secs, &tm));
	printf("Guest time:    %s.%06lld UTC\n", when, (rt % 1000000000) / 1000);
	printf("Offset:        %+.6f s (guest - host)\n", (double)off / 1e9);
	printf("Rate:          %+.3f ppm (oscillator error %+.3f ppm)\n",
	       g_ascii_strtod(field(kv, "rate-ppb", "0"), NULL) / 1e3,
	       g_ascii_strtod(field(kv, "drift-ppb", "0"), NULL) / 1e3);
	printf("adjtimex:      tick %s us, freq %+.3f ppm, %.3f ms left to slew\n",
	       field(kv, "adjtimex-tick", "?"),
	       g_ascii_strtod(field(kv, "adjtimex-freq", "0"), NULL) / 65536.0,
	       g_ascii_strtod(field(kv, "slew-left-ns", "0"), NULL) / 1e6);
	printf("Activity:      %s clock reads, %s steps, %s adjustments by the guest\n",
	       field(kv, "reads", "?"), field(kv, "steps", "?"), field(kv, "adjustments", "?"));
}

/* One line per VM for `list`: NAME STATE TOOLS-STATUS, tab-separated, as --dbus list. */
static void print_list_line(const char *vm)
{
	g_autoptr(GHashTable) kv = NULL;
	struct ph_reply r = { 0 };
	g_autoptr(GError) err = NULL;
	int fd = ph_connect(vm, &err);

	/* A VM that stopped since it was found is no longer listed. */
	if (fd < 0)
		return;
	if (ph_call(fd, PH_CTL_STATUS, NULL, DEFAULT_TIMEOUT_MS, &r, &err) || r.status) {
		close(fd);
		ph_reply_clear(&r);
		return;
	}
	close(fd);
	kv = ph_kv_parse(r.data->str);
	ctl_put_guest_text(stdout, vm);
	printf("\t%s\t%s\n", field(kv, "state", "?"), field(kv, "tools.status", "?"));
	ph_reply_clear(&r);
}

/* A failed call's reply: the hypervisor's words, or the errno's. */
static void print_failure(const char *vm, int st, const struct ph_reply *r)
{
	if (st > 0)
		fprintf(stderr, "porthole-ctl: %s: %s\n", vm,
			r->data && r->data->len ? r->data->str : g_strerror(st));
}

/* PH_CTL_STOP: the VM ends now, whatever its guest does.  0 or -1 (said why). */
static int hard_power_off(const char *vm)
{
	struct ph_reply r = { 0 };
	int st = call(vm, PH_CTL_STOP, NULL, DEFAULT_TIMEOUT_MS, &r);

	print_failure(vm, st, &r);
	ph_reply_clear(&r);
	return st == 0 ? 0 : -1;
}

/*
 * shutdown|reboot VM [--timeout S] [--force]: the guest tools get OS_Halt or
 * OS_Reboot, then we wait until the VM has stopped (shutdown) or started
 * again (reboot: its boot count grew), at most S seconds.  A refusal or a
 * guest still up at the deadline fails (exit 1); with --force a shutdown
 * then powers the VM off hard and says so (exit CTL_EXIT_FORCED).
 */
static int power_op(const struct ctl_command *c, const char *vm, int argc, char **argv)
{
	bool reboot = !strcmp(c->name, "reboot"), force = false;
	gint64 timeout_s = POWER_TIMEOUT_S;
	g_autofree char *reply = NULL;
	g_autoptr(GError) err = NULL;
	struct ph_vm_peek peek;
	int res;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--force") && !reboot) {
			force = true;
		} else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			if (ctl_parse_number(c, "--timeout (seconds)", argv[++i], 1, 3600, &timeout_s))
				return CTL_EXIT_USAGE;
		} else {
			return ctl_usage_error(c, "unexpected argument '%s'", argv[i]);
		}
	}
	res = ph_power_op(vm, reboot, (int)timeout_s, &reply, &err);
	if (reply && res != PH_POWER_REFUSED)
		ctl_report_guest_action(vm, c->name, 0, 0);
	switch (res) {
	case PH_POWER_DONE:
		if (!reboot)
			ctl_done(vm, "the guest shut down; the VM has stopped");
		else if (ph_peek_vm(vm, &peek))
			ctl_done(vm, "the guest restarted (boot %" G_GUINT64_FORMAT ")", peek.boots);
		else
			ctl_done(vm, "the guest restarted");
		return CTL_EXIT_OK;
	case PH_POWER_REFUSED:
		fprintf(stderr, "porthole-ctl: %s: the guest refused %s: ", vm, c->name);
		ctl_put_guest_text(stderr, reply);
		fputc('\n', stderr);
		break;
	case PH_POWER_TIMEOUT:
		fflush(stdout);
		fprintf(stderr, "porthole-ctl: %s: the guest did not %s within %" G_GINT64_FORMAT
			" s%s\n", vm, reboot ? "restart" : "stop", timeout_s,
			force || reboot ? "" : " (--force, or 'porthole-ctl poweroff', powers it "
			"off hard)");
		break;
	default:
		fprintf(stderr, "porthole-ctl: %s\n", err ? err->message : "failed");
		return CTL_EXIT_FAILED;
	}
	if (force && !hard_power_off(vm)) {
		ctl_done(vm, "powered off hard (the guest did not shut down by itself)");
		return CTL_EXIT_FORCED;
	}
	return CTL_EXIT_FAILED;
}

int main(int argc, char **argv)
{
	struct ph_reply r = { 0 };
	const struct ctl_command *c;
	const char *cmd, *vm;
	int st, ret = CTL_EXIT_FAILED;
	bool use_dbus = false;

	if (argc < 2)
		return usage(stderr);
	/* --dbus or PORTHOLE_CTL_DBUS=1: through org.porthole.Host1 (dbus.c). */
	if (!strcmp(argv[1], "--dbus")) {
		use_dbus = true;
		argc--;
		argv++;
		if (argc < 2)
			return usage(stderr);
	}
	cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "help"))
		return usage(stdout);
	if (!strcmp(cmd, "--version")) {
		printf("porthole-ctl %s\n", PORTHOLE_VERSION);
		return 0;
	}
	c = ctl_command_find(cmd);
	if (!c) {
		fprintf(stderr, "porthole-ctl: unknown command '%s' (porthole-ctl --help lists them)\n",
			cmd);
		return CTL_EXIT_USAGE;
	}
	st = ctl_check_arg_count(c, argc - 1, argv + 1);
	if (st)
		return st;
	/* Not a call but a session: no D-Bus equivalent. */
	if (!strcmp(cmd, "console"))
		return ctl_console(argv[2]);
	if (use_dbus || ctl_dbus_wanted() || !strcmp(cmd, "monitor"))
		return ctl_dbus_main(c, argc - 1, argv + 1);
	if (!strcmp(cmd, "list")) {
		g_autoptr(GPtrArray) vms = ph_list_vms();

		for (guint i = 0; i < vms->len; i++)
			print_list_line(vms->pdata[i]);
		return 0;
	}
	vm = argv[2];

	if (!strcmp(cmd, "status")) {
		if (argc > 3 && strcmp(argv[3], "--raw"))
			return ctl_usage_error(c, "unknown option '%s'", argv[3]);
		st = call(vm, PH_CTL_STATUS, NULL, DEFAULT_TIMEOUT_MS, &r);
		if (st == 0) {
			if (argc > 3)
				fputs(r.data->str, stdout);
			else
				print_status(r.data->str);
			ret = 0;
		}
	} else if (!strcmp(cmd, "guest-info")) {
		st = call(vm, PH_CTL_STATUS, NULL, DEFAULT_TIMEOUT_MS, &r);
		if (st == 0)
			ret = print_guest_info(vm, r.data->str);
	} else if (!strcmp(cmd, "info-get")) {
		st = call(vm, PH_CTL_INFO_GET, argv[3], DEFAULT_TIMEOUT_MS, &r);
		if (st == 0) {
			printf("%s\n", r.data->str);
			ret = 0;
		} else if (st > 0) {
			fprintf(stderr, "porthole-ctl: %s: no value for %s\n", vm, argv[3]);
		}
	} else if (!strcmp(cmd, "info-set")) {
		g_autofree char *p = g_strdup_printf("%s %s", argv[3], argv[4]);

		st = call(vm, PH_CTL_INFO_SET, p, DEFAULT_TIMEOUT_MS, &r);
		if (st == 0) {
			ctl_done(vm, "%s set", argv[3]);
			ret = 0;
		}
		print_failure(vm, st, &r);
	} else if (!strcmp(cmd, "tclo")) {
		st = call(vm, PH_CTL_TCLO, argv[3], TCLO_TIMEOUT_MS, &r);
		if (st == 0)
			ret = ctl_tclo_result(vm, r.data->str);
		print_failure(vm, st, &r);
	} else if (!strcmp(cmd, "pointer")) {
		g_autofree char *p = NULL;
		const char *buttons = argc > 5 ? argv[5] : "0", *wheel = argc > 6 ? argv[6] : "0";
		gint64 n;

		/* X Y [BUTTONS [WHEEL]], as the hypervisor takes them (it checks again). */
		if (ctl_parse_number(c, "X", argv[3], 0, VMMOUSE_ABS_MAX, &n) ||
		    ctl_parse_number(c, "Y", argv[4], 0, VMMOUSE_ABS_MAX, &n) ||
		    ctl_parse_number(c, "BUTTONS (1 left, 2 middle, 4 right)", buttons, 0,
				     PH_POINTER_BUTTONS, &n) ||
		    ctl_parse_number(c, "WHEEL", wheel, -PH_POINTER_WHEEL_MAX,
				     PH_POINTER_WHEEL_MAX, &n))
			return CTL_EXIT_USAGE;
		p = g_strdup_printf("%s %s %s %s", argv[3], argv[4], buttons, wheel);
		st = call(vm, PH_CTL_POINTER, p, DEFAULT_TIMEOUT_MS, &r);
		if (st == 0) {
			ctl_done(vm, "pointer event sent (x %s, y %s, buttons %s, wheel %s)",
				 argv[3], argv[4], buttons, wheel);
			ret = 0;
		} else if (st == EINVAL) {
			/* The numbers are the user's: a bad one is a usage error. */
			print_failure(vm, st, &r);
			ret = CTL_EXIT_USAGE;
		} else {
			print_failure(vm, st, &r);
		}
	} else if (!strcmp(cmd, "pointer-status")) {
		st = call(vm, PH_CTL_POINTER_STATUS, NULL, DEFAULT_TIMEOUT_MS, &r);
		if (st == 0) {
			fputs(r.data->str, stdout);
			ret = 0;
		} else if (st > 0) {
			fprintf(stderr, "porthole-ctl: %s: %s\n", vm, g_strerror(st));
		}
	} else if (!strcmp(cmd, "memory")) {
		g_autoptr(GError) err = NULL;
		struct ph_guest_ram ram;
		int fd = ph_connect(vm, &err);

		if (fd < 0 || ph_map_ram(fd, &ram, &err)) {
			fprintf(stderr, "porthole-ctl: %s\n", err->message);
		} else {
			printf("ram 0x0-0x%llx (%llu MiB), mapped at %p\n",
			       (unsigned long long)ram.size - 1,
			       (unsigned long long)(ram.size >> 20), ram.base);
			ph_unmap_ram(&ram);
			ret = 0;
		}
		if (fd >= 0)
			close(fd);
	} else if (!strcmp(cmd, "reset-channels")) {
		st = call(vm, PH_CTL_RESET_CHANNELS, NULL, DEFAULT_TIMEOUT_MS, &r);
		if (st == 0) {
			ctl_done(vm, "guest RPC channels closed (the tools reconnect)");
			ret = 0;
		}
		print_failure(vm, st, &r);
	} else if (!strcmp(cmd, "clock")) {
		g_autoptr(GString) req = g_string_new(NULL);
		gboolean raw = FALSE;

		for (int i = 3; i < argc; i++) {
			long long ns;

			if (!strcmp(argv[i], "--raw")) {
				raw = TRUE;
			} else if (!strcmp(argv[i], "--offset") || !strcmp(argv[i], "--rate")) {
				if (i + 1 >= argc)
					return ctl_usage_error(c, "%s needs a value", argv[i]);
				if (!strcmp(argv[i], "--offset")) {
					if (parse_duration(argv[++i], &ns))
						return ctl_usage_error(c, "'%s' is not a duration "
								       "(e.g. +30s, -200ms, 1.5h)",
								       argv[i]);
					g_string_append_printf(req, "offset %lld ", ns);
				} else {
					char *end = NULL;
					double ppm = g_ascii_strtod(argv[++i], &end);

					if (end == argv[i] || *end || !isfinite(ppm))
						return ctl_usage_error(c, "'%s' is not a rate in "
								       "ppm (e.g. 50, -12.5)",
								       argv[i]);
					g_string_append_printf(req, "rate %.3f ", ppm);
				}
			} else {
				return ctl_usage_error(c, "unknown option '%s'", argv[i]);
			}
		}
		st = call(vm, PH_CTL_CLOCK, req->str, DEFAULT_TIMEOUT_MS, &r);
		if (st == 0) {
			if (raw)
				fputs(r.data->str, stdout);
			else
				print_clock(r.data->str);
			ret = 0;
		} else if (st == EINVAL) {
			print_failure(vm, st, &r);
			ret = CTL_EXIT_USAGE;
		} else {
			print_failure(vm, st, &r);
		}
	} else if (!strcmp(cmd, "clipboard-policy")) {
		GString *req = g_string_new(NULL);

		for (int i = 3; i < argc; i++) {
			if (!strchr(argv[i], '=') || argv[i][0] == '=') {
				g_string_free(req, TRUE);
				return ctl_usage_error(c, "'%s' is not KEY=VALUE", argv[i]);
			}
			g_string_append_printf(req, "%s\n", argv[i]);
		}
		st = call(vm, argc > 3 ? PH_CTL_CLIPBOARD_POLICY_SET : PH_CTL_CLIPBOARD_POLICY_GET,
			  req->str, DEFAULT_TIMEOUT_MS, &r);
		g_string_free(req, TRUE);
		if (st == 0) {
			fputs(r.data->str, stdout);
			ret = 0;
		}
		print_failure(vm, st, &r);
	} else if (!strcmp(cmd, "clipboard-legacy")) {
		gboolean set = !strcmp(argv[3], "set");

		if (!set && strcmp(argv[3], "get"))
			return ctl_usage_error(c, "'%s' is neither get nor set", argv[3]);
		if (set != (argc == 5))
			return set ? ctl_usage_error(c, "set needs the TEXT") :
				     ctl_usage_error(c, "unexpected argument '%s'", argv[4]);
		st = call(vm, set ? PH_CTL_CLIPBOARD_LEGACY_SET : PH_CTL_CLIPBOARD_LEGACY_GET,
			  set ? argv[4] : NULL, DEFAULT_TIMEOUT_MS, &r);
		if (!set && st == EFBIG) {
			ret = guest_text_in_pieces(vm);
		} else if (st == 0) {
			if (set)
				ctl_done(vm, "legacy clipboard text set (%zu bytes)", strlen(argv[4]));
			else
				fwrite(r.data->str, 1, r.data->len, stdout);
			ret = 0;
		} else {
			print_failure(vm, st, &r);
		}
	} else if (!strcmp(cmd, "shutdown") || !strcmp(cmd, "reboot")) {
		ret = power_op(c, vm, argc - 2, argv + 2);
	} else if (!strcmp(cmd, "poweroff")) {
		ret = hard_power_off(vm) ? CTL_EXIT_FAILED : CTL_EXIT_OK;
		if (!ret)
			ctl_done(vm, "powered off");
	} else if (!strcmp(cmd, "sync-time") && argc > 3) {
		if (strcmp(argv[3], "on") && strcmp(argv[3], "off"))
			return ctl_usage_error(c, "'%s' is neither on nor off", argv[3]);
		st = call(vm, PH_CTL_SYNC_TIME, argv[3], DEFAULT_TIMEOUT_MS, &r);
		if (st == 0) {
			ctl_done(vm, "periodic time sync %s", argv[3]);
			ret = 0;
		}
		print_failure(vm, st, &r);
	} else if (!strcmp(cmd, "namespace")) {
		g_autofree char *req = g_strjoinv("\n", argv + 3);

		if (strchr(req, '\n') != strrchr(req, '\n') ||
		    (argc > 3 && (!*argv[3] || strchr(argv[3], '\n'))))
			return ctl_usage_error(c, "a namespace name or key can't be empty or hold "
					       "a newline");
		st = call(vm, PH_CTL_NAMESPACE, req, DEFAULT_TIMEOUT_MS, &r);
		if (st == 0) {
			fputs(r.data->str, stdout);
			if (argc > 4)
				putchar('\n');
			ret = 0;
		} else if (st == ENOENT) {
			fprintf(stderr, "porthole-ctl: %s: no %s %s\n", vm,
				argc > 4 ? "key" : "namespace", argc > 4 ? argv[4] : argv[3]);
		} else {
			print_failure(vm, st, &r);
		}
	} else if (!strcmp(cmd, "resolution") || !strcmp(cmd, "sync-time")) {
		/* The TCLO commands behind porthole-hostd's methods of the same meaning. */
		const char *tclo = "Time_Synchronize 1";
		g_autofree char *resize = NULL;
		guint w = 0, h = 0;

		if (!strcmp(cmd, "resolution")) {
			st = ctl_parse_resolution(c, argv[3], argv[4], &w, &h);
			if (st)
				return st;
			/* The session agent resizes (VMware's vmusr channel), not guestd. */
			tclo = resize = g_strdup_printf(PH_AGENT_TCLO_APP ":Resolution_Set %u %u", w, h);
		}
		st = call(vm, PH_CTL_TCLO, tclo, TCLO_TIMEOUT_MS, &r);
		if (st == 0 && g_str_has_prefix(r.data->str, "OK")) {
			ctl_report_guest_action(vm, cmd, w, h);
			ret = 0;
		} else if (st == 0) {
			ret = ctl_tclo_result(vm, r.data->str);
		}
		print_failure(vm, st, &r);
	} else if (!strcmp(cmd, "stop")) {
		st = call(vm, PH_CTL_STOP, NULL, DEFAULT_TIMEOUT_MS, &r);
		if (st == 0) {
			ctl_done(vm, "stopped");
			ret = 0;
		}
		print_failure(vm, st, &r);
	}
	ph_reply_clear(&r);
	return ret;
}
