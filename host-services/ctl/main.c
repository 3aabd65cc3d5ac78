// SPDX-License-Identifier: MIT
/*
 * porthole-ctl: control running Porthole VMs from the host.
 *
 *   porthole-ctl list
 *   porthole-ctl status VM [--raw]
 *   porthole-ctl info-get VM KEY
 *   porthole-ctl info-set VM KEY VALUE
 *   porthole-ctl tclo VM 'COMMAND'          (APP:COMMAND for another tools app)
 *   porthole-ctl memory VM                  (maps guest RAM, prints its layout)
 *   porthole-ctl reset-channels VM
 *   porthole-ctl stop VM
 *   porthole-ctl clock VM [--offset ±DURATION] [--rate PPM]
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "host-services/lib/porthole-host.h"

#define DEFAULT_TIMEOUT_MS	5000
#define TCLO_TIMEOUT_MS		15000	/* the hypervisor gives up after 10 s */

static int usage(FILE *f)
{
	fprintf(f,
		"Usage: porthole-ctl COMMAND [ARGS]\n"
		"\n"
		"  list                      running VMs\n"
		"  status VM [--raw]         state, uptime, guest tools and their version\n"
		"  info-get VM KEY           a guestinfo value (e.g. guestinfo.answer)\n"
		"  info-set VM KEY VALUE     set a guestinfo value for the guest to read\n"
		"  tclo VM 'COMMAND'         send a TCLO command to the guest tools, print the reply\n"
		"                            (APP:COMMAND targets another tools app than toolbox)\n"
		"  memory VM                 map the guest RAM and print its layout\n"
		"  reset-channels VM         close the guest's RPC channels (tools reconnect)\n"
		"  stop VM                   stop the VM\n"
		"  clock VM [--offset ±DURATION] [--rate PPM]\n"
		"                            show the guest clock (trap engine); jump it by\n"
		"                            DURATION (e.g. +30s, -200ms, 1.5h) or make it run\n"
		"                            PPM parts per million fast (negative: slow)\n");
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

static const char *field(GHashTable *kv, const char *key, const char *dflt)
{
	const char *v = g_hash_table_lookup(kv, key);

	return v ? v : dflt;
}

static void print_status(const char *text)
{
	g_autoptr(GHashTable) kv = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	GString *apps = g_string_new(NULL);
	const char *desc, *ver;

	for (char **l = lines; *l; l++) {
		char *eq = strchr(*l, '=');

		if (!eq)
			continue;
		if (g_str_has_prefix(*l, "tools.app=")) {
			g_string_append_printf(apps, "%s%s", apps->len ? "; " : "", eq + 1);
			continue;
		}
		g_hash_table_replace(kv, g_strndup(*l, (gsize)(eq - *l)), g_strdup(eq + 1));
	}
	desc = field(kv, "tools.description", NULL);
	ver = field(kv, "tools.version", NULL);
	printf("VM:            %s\n", field(kv, "name", "?"));
	printf("State:         %s (%s engine), up %s s\n", field(kv, "state", "?"),
	       field(kv, "engine", "?"), field(kv, "uptime", "?"));
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
	printf("GuestRPC:      %s channels open, %s guestinfo keys\n",
	       field(kv, "rpc.channels", "?"), field(kv, "guestinfo.keys", "?"));
	g_string_free(apps, TRUE);
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
	g_autoptr(GHashTable) kv = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	long long rt, off;
	time_t secs;
	char when[64];
	struct tm tm;

	for (char **l = lines; *l; l++) {
		char *eq = strchr(*l, '=');

		if (eq)
			g_hash_table_replace(kv, g_strndup(*l, (gsize)(eq - *l)), g_strdup(eq + 1));
	}
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

static int need(int argc, int n)
{
	if (argc < n) {
		usage(stderr);
		return 0;
	}
	return 1;
}

int main(int argc, char **argv)
{
	struct ph_reply r = { 0 };
	const char *cmd;
	int st, ret = 1;

	if (argc < 2)
		return usage(stderr);
	cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "help"))
		return usage(stdout);
	if (!strcmp(cmd, "--version")) {
		printf("porthole-ctl %s\n", PORTHOLE_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "list")) {
		g_autoptr(GPtrArray) vms = ph_list_vms();

		for (guint i = 0; i < vms->len; i++)
			printf("%s\n", (char *)vms->pdata[i]);
		return 0;
	}
	if (!need(argc, 3))
		return 2;

	if (!strcmp(cmd, "status")) {
		st = call(argv[2], PH_CTL_STATUS, NULL, DEFAULT_TIMEOUT_MS, &r);
		if (st == 0) {
			if (argc > 3 && !strcmp(argv[3], "--raw"))
				fputs(r.data->str, stdout);
			else
				print_status(r.data->str);
			ret = 0;
		}
	} else if (!strcmp(cmd, "info-get")) {
		if (!need(argc, 4))
			return 2;
		st = call(argv[2], PH_CTL_INFO_GET, argv[3], DEFAULT_TIMEOUT_MS, &r);
		if (st == 0) {
			printf("%s\n", r.data->str);
			ret = 0;
		} else if (st > 0) {
			fprintf(stderr, "porthole-ctl: %s: no value for %s\n", argv[2], argv[3]);
		}
	} else if (!strcmp(cmd, "info-set")) {
		g_autofree char *p = NULL;

		if (!need(argc, 5))
			return 2;
		p = g_strdup_printf("%s %s", argv[3], argv[4]);
		st = call(argv[2], PH_CTL_INFO_SET, p, DEFAULT_TIMEOUT_MS, &r);
		if (st == 0)
			ret = 0;
		else if (st > 0)
			fprintf(stderr, "porthole-ctl: %s: %s\n", argv[2], r.data->str);
	} else if (!strcmp(cmd, "tclo")) {
		if (!need(argc, 4))
			return 2;
		st = call(argv[2], PH_CTL_TCLO, argv[3], TCLO_TIMEOUT_MS, &r);
		if (st == 0) {
			printf("%s\n", r.data->str);
			ret = 0;
		} else if (st > 0) {
			fprintf(stderr, "porthole-ctl: %s: %s\n", argv[2],
				r.data->len ? r.data->str : g_strerror(st));
		}
	} else if (!strcmp(cmd, "memory")) {
		g_autoptr(GError) err = NULL;
		struct ph_guest_ram ram;
		int fd = ph_connect(argv[2], &err);

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
		ret = call(argv[2], PH_CTL_RESET_CHANNELS, NULL, DEFAULT_TIMEOUT_MS, &r) ? 1 : 0;
	} else if (!strcmp(cmd, "clock")) {
		g_autoptr(GString) req = g_string_new(NULL);
		gboolean raw = FALSE;

		for (int i = 3; i < argc; i++) {
			long long ns;

			if (!strcmp(argv[i], "--raw")) {
				raw = TRUE;
			} else if (!strcmp(argv[i], "--offset") && i + 1 < argc) {
				if (parse_duration(argv[++i], &ns)) {
					fprintf(stderr, "porthole-ctl: bad duration '%s' (e.g. +30s, "
						"-200ms)\n", argv[i]);
					return 2;
				}
				g_string_append_printf(req, "offset %lld ", ns);
			} else if (!strcmp(argv[i], "--rate") && i + 1 < argc) {
				char *end = NULL;
				double ppm = g_ascii_strtod(argv[++i], &end);

				if (end == argv[i] || *end || !isfinite(ppm)) {
					fprintf(stderr, "porthole-ctl: bad rate '%s' (ppm)\n", argv[i]);
					return 2;
				}
				g_string_append_printf(req, "rate %.3f ", ppm);
			} else {
				return usage(stderr);
			}
		}
		st = call(argv[2], PH_CTL_CLOCK, req->str, DEFAULT_TIMEOUT_MS, &r);
		if (st == 0) {
			if (raw)
				fputs(r.data->str, stdout);
			else
				print_clock(r.data->str);
			ret = 0;
		} else if (st > 0) {
			fprintf(stderr, "porthole-ctl: %s: %s\n", argv[2],
				r.data->len ? r.data->str : g_strerror(st));
		}
	} else if (!strcmp(cmd, "stop")) {
		ret = call(argv[2], PH_CTL_STOP, NULL, DEFAULT_TIMEOUT_MS, &r) ? 1 : 0;
	} else {
		fprintf(stderr, "porthole-ctl: unknown command '%s'\n", cmd);
		return usage(stderr);
	}
	ph_reply_clear(&r);
	return ret;
}
