// SPDX-License-Identifier: MIT
/*
 * GuestRPC from a payload: the real guest library (backdoor/msgchan-guest.c)
 * against the hypervisor's RPC device.  With hb the message channel uses
 * the high-bandwidth port (`rep outsb`/`rep insb` from guest memory),
 * without it four bytes per low-bandwidth call.
 */
#include "backdoor/msgchan.h"
#include "rpc-common.h"
#include "runtime.h"

static int rpci(struct msgchan *c, const char *cmd, char **reply)
{
	size_t len;
	int r = rpci_send(c, cmd, strlen(cmd), reply, &len);

	if (r < 0)
		print("# rpci \"%s\": %s\n", cmd, c->err ? c->err : "?");
	return r;
}

void rpc_checks(bool hb, size_t bulk)
{
	struct msgchan c = { .no_hb = !hb };
	char *reply = NULL;
	const char *path = hb ? "hb" : "lb";

	if (!check(msgchan_open(&c, RPCI_PROTOCOL_NUM) == 0, "%s: open an RPCI channel", path))
		return;
	check(rpci(&c, "info-set guestinfo.payload_answer 42", &reply) == 1,
	      "%s: info-set guestinfo.payload_answer 42", path);
	free(reply);
	check(rpci(&c, "info-get guestinfo.payload_answer", &reply) == 1 && reply &&
	      !strcmp(reply, "42"), "%s: info-get reads it back (\"%s\")", path,
	      reply ? reply : "");
	free(reply);
	check(rpci(&c, "porthole.echo hello from a KVM payload", &reply) == 1 && reply &&
	      !strcmp(reply, "hello from a KVM payload"), "%s: porthole.echo", path);
	free(reply);
	check(rpci(&c, "no.such.command", &reply) == 0 && reply &&
	      !strcmp(reply, RPCI_UNKNOWN_COMMAND), "%s: unknown command refused", path);
	free(reply);

	if (bulk) {
		static const char prefix[] = "porthole.echo ";
		size_t plen = sizeof(prefix) - 1;
		char *msg = malloc(plen + bulk);
		size_t len = 0;
		int r;

		memcpy(msg, prefix, plen);
		for (size_t i = 0, k = 0; i < bulk; i++, k = k == 25 ? 0 : k + 1)
			msg[plen + i] = (char)('a' + k);
		msg[plen + bulk / 2] = '!';
		r = rpci_send(&c, msg, plen + bulk, &reply, &len);
		check(r == 1 && len == bulk && !memcmp(reply, msg + plen, bulk),
		      "%s: %u-byte message echoed intact", path, (unsigned int)bulk);
		free(reply);
		free(msg);
	}
	msgchan_close(&c);
}

bool rpc_wait_for_host(bool hb, unsigned int secs)
{
	struct msgchan c = { .no_hb = !hb };
	uint64_t end = rdtsc() + (uint64_t)secs * 1000u * tsc_khz();
	bool go = false;

	print("# waiting for the host to set guestinfo.payload_go\n");
	if (msgchan_open(&c, RPCI_PROTOCOL_NUM))
		return false;
	while (!go && rdtsc() < end) {
		char *reply = NULL;

		go = rpci(&c, "info-get guestinfo.payload_go", &reply) == 1 && reply &&
		     !strcmp(reply, "1");
		free(reply);
		if (!go)
			delay_ms(20);
	}
	msgchan_close(&c);
	return go;
}
