// SPDX-License-Identifier: MIT
/*
 * porthole-ctl's subcommands: their arguments and their one-line results,
 * for both transports (see commands.h).
 */
#include <stdarg.h>
#include <string.h>

#include "host-services/ctl/commands.h"

static const struct ctl_command commands[] = {
	{ "list", "", 0, 0, true },
	{ "status", "VM [--raw]", 1, 2, true },
	{ "info-get", "VM KEY", 2, 2, true },
	{ "guest-info", "VM", 1, 1, false },
	{ "info-set", "VM KEY VALUE", 3, 3, false },
	{ "tclo", "VM 'COMMAND'", 2, 2, true },
	{ "pointer", "VM X Y [BUTTONS [WHEEL]]", 3, 5, false },
	{ "pointer-status", "VM", 1, 1, false },
	{ "memory", "VM", 1, 1, false },
	{ "reset-channels", "VM", 1, 1, false },
	{ "stop", "VM", 1, 1, false },
	{ "console", "VM", 1, 1, false },
	{ "clock", "VM [--offset ±DURATION] [--rate PPM] [--raw]", 1, 6, false },
	{ "clipboard-policy", "VM [host-to-guest=on|off] [guest-to-host=on|off] [max-size=BYTES]",
	  1, 4, true },
	{ "clipboard-legacy", "VM get | VM set TEXT", 2, 3, false },
	{ "resolution", "VM WIDTH HEIGHT", 3, 3, true },
	{ "sync-time", "VM [on|off]", 1, 2, true },
	{ "namespace", "VM [NAMESPACE [KEY]]", 1, 3, false },
	{ "shutdown", "VM [--timeout SECONDS] [--force]", 1, 4, true },
	{ "reboot", "VM [--timeout SECONDS]", 1, 3, true },
	{ "poweroff", "VM", 1, 1, false },
	{ "monitor", "[--count N]", 0, 2, true },
};

/* The names of the words after a subcommand, from its synopsis. */
static const char *arg_name(const struct ctl_command *c, int i, char *buf, size_t size)
{
	g_auto(GStrv) words = g_strsplit_set(c->args, " []|", -1);
	int n = 0;

	for (char **w = words; *w; w++) {
		if (!**w)
			continue;
		if (n++ == i) {
			g_strlcpy(buf, *w, size);
			return buf;
		}
	}
	return "an argument";
}

const struct ctl_command *ctl_command_find(const char *name)
{
	for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

int ctl_usage_error(const struct ctl_command *c, const char *fmt, ...)
{
	g_autofree char *why = NULL;
	va_list ap;

	va_start(ap, fmt);
	why = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	fprintf(stderr, "porthole-ctl: %s: %s\n", c->name, why);
	fprintf(stderr, "usage: porthole-ctl %s%s%s\n", c->name, *c->args ? " " : "", c->args);
	return CTL_EXIT_USAGE;
}

int ctl_check_arg_count(const struct ctl_command *c, int argc, char **argv)
{
	char name[64];
	int n = argc - 1;

	if (n < c->min_args)
		return ctl_usage_error(c, "missing %s", arg_name(c, n, name, sizeof(name)));
	if (c->max_args >= 0 && n > c->max_args)
		return ctl_usage_error(c, "unexpected argument '%s'", argv[c->max_args + 1]);
	return 0;
}

int ctl_parse_number(const struct ctl_command *c, const char *what, const char *text,
		     gint64 min, gint64 max, gint64 *out)
{
	if (!g_ascii_string_to_signed(text, 10, min, max, out, NULL))
		return ctl_usage_error(c, "%s '%s' is not a number from %" G_GINT64_FORMAT
				       " to %" G_GINT64_FORMAT, what, text, min, max);
	return 0;
}

int ctl_parse_resolution(const struct ctl_command *c, const char *w_text, const char *h_text,
			 guint *w, guint *h)
{
	gint64 n, m;
	int st = ctl_parse_number(c, "width", w_text, 1, CTL_MAX_SCREEN_SIDE, &n);

	if (!st)
		st = ctl_parse_number(c, "height", h_text, 1, CTL_MAX_SCREEN_SIDE, &m);
	if (st)
		return st;
	*w = (guint)n;
	*h = (guint)m;
	return 0;
}

void ctl_done(const char *vm, const char *fmt, ...)
{
	va_list ap;

	ctl_put_guest_text(stdout, vm);
	fputs(": ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

int ctl_tclo_result(const char *vm, const char *reply)
{
	/* The TCLO convention: "OK ..." or "ERROR ..." (the rest is the tools'). */
	bool failed = g_str_has_prefix(reply, "ERROR");
	FILE *f = failed ? stderr : stdout;

	if (failed)
		fprintf(f, "porthole-ctl: %s: ", vm);
	ctl_put_guest_text(f, reply);
	fputc('\n', f);
	return failed ? CTL_EXIT_FAILED : CTL_EXIT_OK;
}

void ctl_put_guest_text(FILE *f, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '\\')
			fputs("\\\\", f);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\%03o", *p);
		else
			fputc(*p, f);
	}
}

void ctl_report_guest_action(const char *vm, const char *cmd, guint w, guint h)
{
	if (!strcmp(cmd, "resolution"))
		ctl_done(vm, "guest screen resized to %ux%u", w, h);
	else if (!strcmp(cmd, "sync-time"))
		ctl_done(vm, "guest clock stepped to the host's");
	else if (!strcmp(cmd, "shutdown"))
		ctl_done(vm, "the guest tools started the guest's shutdown");
	else if (!strcmp(cmd, "reboot"))
		ctl_done(vm, "the guest tools started the guest's reboot");
}
