// SPDX-License-Identifier: MIT
/*
 * porthole-rpc: send one RPCI command to the host and print the reply,
 * with the conventions of open-vm-tools' vmware-rpctool.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backdoor/backdoor.h"
#include "backdoor/msgchan.h"

#define NAME "porthole-rpc"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " NAME " [--lb] 'COMMAND [ARGUMENTS]'\n"
		"\n"
		"Sends COMMAND to the host as one GuestRPC (RPCI) request, like\n"
		"vmware-rpctool.  The whole request is ONE argument: quote it.\n"
		"\n"
		"  exit 0  the host answered \"1 <reply>\": <reply> goes to stdout\n"
		"  exit 1  the host answered \"0 <reply>\": <reply> goes to stderr;\n"
		"          or there is no backdoor / the channel failed: a message\n"
		"          goes to stderr; or the usage was wrong\n"
		"\n"
		"Options:\n"
		"  --lb        move the payload 4 bytes per call even when the host\n"
		"              offers the high-bandwidth port\n"
		"  -h, --help  show this text\n"
		"  --version   show the version\n"
		"\n"
		"Examples:\n"
		"  " NAME " 'info-set guestinfo.a 1'\n"
		"  " NAME " 'info-get guestinfo.a'\n"
		"\n"
		NAME " " PORTHOLE_VERSION "\n");
}

int main(int argc, char **argv)
{
	const char *cmd = NULL;
	bool lb = false, opts_done = false;
	struct msgchan c = { 0 };
	char *reply;
	size_t len;
	int ret;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!opts_done && !strcmp(a, "--")) {
			opts_done = true;
		} else if (!opts_done && !strcmp(a, "--lb")) {
			lb = true;
		} else if (!opts_done && (!strcmp(a, "-h") || !strcmp(a, "--help"))) {
			usage(stdout);
			return 0;
		} else if (!opts_done && !strcmp(a, "--version")) {
			printf(NAME " " PORTHOLE_VERSION "\n");
			return 0;
		} else if (!opts_done && a[0] == '-' && a[1] == '-') {
			fprintf(stderr, NAME ": unknown option '%s'\n\n", a);
			usage(stderr);
			return 1;
		} else if (!cmd) {
			cmd = a;
		} else {
			fprintf(stderr, NAME ": one argument only: quote the whole command\n\n");
			usage(stderr);
			return 1;
		}
	}
	if (!cmd) {
		usage(stderr);
		return 1;
	}

	if (!bdoor_detect(NULL)) {
		fprintf(stderr, NAME ": not running inside a virtual machine (no backdoor)\n");
		return 1;
	}

	msgchan_set_hb(&c, !lb);
	if (msgchan_open(&c, RPCI_PROTOCOL_NUM)) {
		fprintf(stderr, NAME ": %s\n", c.err);
		return 1;
	}
	ret = rpci_send(&c, cmd, strlen(cmd), &reply, &len);
	if (ret < 0)
		fprintf(stderr, NAME ": %s\n", c.err ? c.err : "RPC failed");
	msgchan_close(&c);
	if (ret < 0)
		return 1;

	FILE *out = ret ? stdout : stderr;

	fwrite(reply, 1, len, out);
	fputc('\n', out);
	free(reply);
	if (fflush(stdout) == EOF)
		return 1;
	return ret ? 0 : 1;
}
