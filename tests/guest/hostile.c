// SPDX-License-Identifier: MIT
/*
 * A hostile guest: feeds the hypervisor's backdoor every kind of bad input
 * from a real guest process (real `in`/`rep outsb`/`rep insb` instructions)
 * and checks that each gets a clean error.  The end-to-end test then checks
 * that the hypervisor is still healthy.  TAP output; exit 1 on any failure.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backdoor/backdoor.h"
#include "backdoor/msgchan.h"

static int n, failed;

static void check(int ok, const char *what)
{
	printf("%sok %d - %s\n", ok ? "" : "not ", ++n, what);
	if (!ok)
		failed = 1;
	fflush(stdout);
}

static uint32_t status_of(const struct bdoor_regs *r)
{
	return bdoor_hi16(r->cx);
}

static struct bdoor_regs msg(const struct msgchan *c, uint32_t type, uint32_t bx)
{
	struct bdoor_regs r;

	bdoor_lb_cmd(&r, BDOOR_CMD_MESSAGE, type);
	r.bx = bx;
	if (c) {
		r.dx = (uint64_t)c->id << 16;
		r.si = c->cookie_hi;
		r.di = c->cookie_lo;
	}
	bdoor_lb(&r);
	return r;
}

static uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ __volatile__("inb %%dx, %%al" : "=a"(v) : "d"(port));
	return v;
}

static uint16_t inw(uint16_t port)
{
	uint16_t v;

	__asm__ __volatile__("inw %%dx, %%ax" : "=a"(v) : "d"(port));
	return v;
}

static void outl(uint16_t port, uint32_t v)
{
	__asm__ __volatile__("outl %%eax, %%dx" : : "a"(v), "d"(port));
}

/* Raw `rep outsb`/`rep insb` on the HB port; returns the status (EBX high). */
static uint32_t hb(bool send, const struct msgchan *c, uint64_t addr, uint64_t count)
{
	struct bdoor_regs r;

	bdoor_hb_cmd(&r, BDOORHB_CMD_MESSAGE, MESSAGE_STATUS_SUCCESS);
	r.cx = count;
	r.dx = (uint64_t)c->id << 16;
	if (send) {
		r.si = addr;
		r.bp = c->cookie_hi;
		r.di = c->cookie_lo;
		bdoor_hb_out(&r);
	} else {
		r.di = addr;
		r.si = c->cookie_hi;
		r.bp = c->cookie_lo;
		bdoor_hb_in(&r);
	}
	return bdoor_hi16(r.bx);
}

static int rpci(const char *cmd, size_t len, char **reply)
{
	size_t rlen;

	*reply = NULL;
	return rpci_send_one(cmd, len, reply, &rlen);
}

static void test_registers(void)
{
	struct bdoor_regs r;

	bdoor_lb_cmd(&r, BDOOR_CMD_GETVERSION, 0);
	r.bx = ~BDOOR_MAGIC;
	bdoor_lb(&r);
	check((uint32_t)r.ax == BDOOR_VERSION && (uint32_t)r.bx == BDOOR_MAGIC,
	      "GETVERSION answers version 6 and the magic");

	bdoor_lb_cmd(&r, BDOOR_CMD_GETVERSION, 0);
	r.ax = 0x12345678;
	bdoor_lb(&r);
	check((uint32_t)r.ax == BDOOR_UNSUPPORTED, "a call without the magic gets EAX = ~0");

	bdoor_lb_cmd(&r, 999, 0);
	bdoor_lb(&r);
	check((uint32_t)r.ax == BDOOR_UNSUPPORTED, "an unknown command gets EAX = ~0");

	bdoor_lb_cmd(&r, 0xFFFF, 0xFFFF);
	bdoor_lb(&r);
	check((uint32_t)r.ax == BDOOR_UNSUPPORTED, "command 0xFFFF gets EAX = ~0");

	check(inb(BDOOR_PORT_LB) == 0xFF && inw(BDOOR_PORT_LB) == 0xFFFF,
	      "byte and word reads of the backdoor port read all ones");
	check(inb(0x3F0) == 0xFF, "a port with no device reads all ones");
	{
		uint32_t v;

		/* The engine test device exists only in VMs run with --testdev. */
		__asm__ __volatile__("inl $0xE0, %%eax" : "=a"(v));
		check(v == 0xFFFFFFFFu, "port 0xE0 reads all ones (no test device in this VM)");
	}
	outl(0x3F0, 0xDEADBEEF);
	check(1, "a write to a port with no device is dropped");

	/*
	 * A long rep moves in batches (the bus bounds how long one instruction
	 * holds the VM lock); the guest sees one instruction that completes.
	 */
	{
		static char big[200000];
		uint64_t rsi = (uintptr_t)big, rcx = sizeof(big);

		__asm__ __volatile__("cld; rep outsb" : "+S"(rsi), "+c"(rcx) : "d"(0x3F0) : "memory");
		check(rcx == 0 && rsi == (uintptr_t)big + sizeof(big),
		      "a 200000-byte rep outsb completes across batches (RCX 0, RSI advanced)");
	}
}

static void test_channel_abuse(void)
{
	struct msgchan c = { 0 }, forged;
	struct bdoor_regs r;
	char *reply;

	check(msgchan_open(&c, RPCI_PROTOCOL_NUM) == 0, "open an RPCI channel");

	forged = c;
	forged.cookie_lo ^= 0x5a5a;
	r = msg(&forged, MESSAGE_TYPE_SENDSIZE, 4);
	check(!(status_of(&r) & MESSAGE_STATUS_SUCCESS), "a wrong cookie is refused");

	forged = c;
	forged.id = 200;
	r = msg(&forged, MESSAGE_TYPE_SENDSIZE, 4);
	check(!(status_of(&r) & MESSAGE_STATUS_SUCCESS), "channel id 200 is refused");

	r = msg(&c, MESSAGE_TYPE_SENDSIZE, GUESTMSG_MAX_SIZE + 1);
	check(!(status_of(&r) & MESSAGE_STATUS_SUCCESS), "an oversize message is refused");
	r = msg(&c, MESSAGE_TYPE_SENDSIZE, 0xFFFFFFFF);
	check(!(status_of(&r) & MESSAGE_STATUS_SUCCESS), "a 4 GiB message is refused");

	r = msg(&c, MESSAGE_TYPE_SENDPAYLOAD, 0x41414141);
	check(!(status_of(&r) & MESSAGE_STATUS_SUCCESS), "payload without a size is refused");

	/* Truncated: announce 100 bytes, send 4, then start over. */
	r = msg(&c, MESSAGE_TYPE_SENDSIZE, 100);
	r = msg(&c, MESSAGE_TYPE_SENDPAYLOAD, 0x6f666e69);
	r = msg(&c, MESSAGE_TYPE_RECVSIZE, 0);
	check((status_of(&r) & MESSAGE_STATUS_SUCCESS) && !(status_of(&r) & MESSAGE_STATUS_DORECV),
	      "a truncated message produces no reply");
	r = msg(&c, MESSAGE_TYPE_RECVPAYLOAD, MESSAGE_STATUS_SUCCESS);
	check(!(status_of(&r) & MESSAGE_STATUS_SUCCESS), "payload with nothing to receive is refused");
	r = msg(&c, MESSAGE_TYPE_RECVSTATUS, MESSAGE_STATUS_SUCCESS);
	check(!(status_of(&r) & MESSAGE_STATUS_SUCCESS), "status with nothing received is refused");
	r = msg(&c, 9, 0);
	check(!(status_of(&r) & MESSAGE_STATUS_SUCCESS), "message subcommand 9 is refused");

	check(rpci_send(&c, "info-get guestinfo.nothing", 26, &reply, NULL) == 0 &&
	      reply && !strcmp(reply, "No value found"),
	      "the channel still works after the abuse (info-get of a missing key)");
	free(reply);

	msgchan_close(&c);
	r = msg(&c, MESSAGE_TYPE_SENDSIZE, 4);
	check(!(status_of(&r) & MESSAGE_STATUS_SUCCESS), "a closed channel refuses calls");
	r = msg(NULL, MESSAGE_TYPE_OPEN, 0x41414141);
	check(!(status_of(&r) & MESSAGE_STATUS_SUCCESS), "an unknown protocol is refused");
}

static void test_hb_abuse(void)
{
	struct msgchan c = { 0 };
	struct bdoor_regs r;
	char *ro;

	msgchan_open(&c, RPCI_PROTOCOL_NUM);
	r = msg(&c, MESSAGE_TYPE_SENDSIZE, 64);
	check(status_of(&r) & MESSAGE_STATUS_HB, "the host offers the high-bandwidth port");
	check(!(hb(true, &c, 0x10, 64) & MESSAGE_STATUS_SUCCESS),
	      "hb send from an unmapped address fails cleanly");
	r = msg(&c, MESSAGE_TYPE_SENDSIZE, 64);
	check(!(hb(true, &c, (uintptr_t)"short", 63) & MESSAGE_STATUS_SUCCESS),
	      "hb send with the wrong byte count fails");

	/* A reply into a read-only page. */
	r = msg(&c, MESSAGE_TYPE_SENDSIZE, 23);
	check(hb(true, &c, (uintptr_t)"porthole.echo 123456789", 23) & MESSAGE_STATUS_SUCCESS,
	      "hb send of a real command works");
	r = msg(&c, MESSAGE_TYPE_RECVSIZE, 0);
	ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	check(!(hb(false, &c, (uintptr_t)ro, r.bx) & MESSAGE_STATUS_SUCCESS),
	      "hb receive into a read-only page fails cleanly");
	check(ro[0] == 0, "the read-only page is untouched");
	check(!(hb(false, &c, 0x1000, 0xFFFFFFFFull) & MESSAGE_STATUS_SUCCESS),
	      "hb receive of 4 GiB fails cleanly");
	munmap(ro, 4096);
	msgchan_close(&c);

	/*
	 * A refused rep string instruction still completes, as on a port that
	 * takes no data: RCX 0, RSI/RDI past the data.  (It used to keep RCX,
	 * so the CPU ran it again, forever.)
	 */
	{
		static char buf[64];
		struct bdoor_regs x;

		bdoor_hb_cmd(&x, BDOORHB_CMD_MESSAGE, MESSAGE_STATUS_SUCCESS);
		x.ax = 0x12345678;	/* no magic */
		x.cx = sizeof(buf);
		x.si = (uintptr_t)buf;
		bdoor_hb_out(&x);
		check(x.cx == 0 && x.si == (uintptr_t)buf + sizeof(buf) && !bdoor_hi16(x.bx),
		      "hb rep outsb without the magic fails, and completes (RCX 0, RSI past the data)");
		bdoor_hb_cmd(&x, BDOORHB_CMD_MESSAGE, MESSAGE_STATUS_SUCCESS);
		x.ax = 0;
		x.cx = sizeof(buf);
		x.di = (uintptr_t)buf;
		bdoor_hb_in(&x);
		check(x.cx == 0 && x.di == (uintptr_t)buf + sizeof(buf),
		      "hb rep insb without the magic completes too (RCX 0, RDI past the buffer)");
	}
}

static void test_rpci_errors(void)
{
	char *reply;
	static char big[70000];

	check(rpci("no.such.command", 15, &reply) == 0 && reply && !strcmp(reply, "Unknown command"),
	      "an unknown RPCI command gets '0 Unknown command'");
	free(reply);
	check(rpci("info-set bad.key 1", 18, &reply) == 0, "info-set outside guestinfo. is refused");
	free(reply);
	check(rpci("info-set guestinfo.x\001 1", sizeof("info-set guestinfo.x\001 1") - 1, &reply) == 0, "a key with control bytes is refused");
	free(reply);
	check(rpci("info-set guestinfo.nul a\0b", 26, &reply) == 0,
	      "a command with an embedded NUL is refused");
	free(reply);
	check(rpci("info-set guestinfo.novalue", 26, &reply) == 0, "info-set without a value is refused");
	free(reply);

	memcpy(big, "info-set guestinfo.big ", 23);
	memset(big + 23, 'x', sizeof(big) - 23);
	check(rpci(big, sizeof(big), &reply) == 1, "a 70000-byte info-set is accepted");
	free(reply);
	check(rpci("info-get guestinfo.big", 22, &reply) == 1 && reply &&
	      strlen(reply) == sizeof(big) - 23, "and read back whole");
	free(reply);
}

/* Processes that die with channels open, mid-message: the host must clean up. */
static void test_dying_guests(void)
{
	struct msgchan c = { 0 };
	int ok = 1;

	for (int i = 0; i < 2 * GUESTMSG_MAX_CHANNEL; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			struct msgchan d = { 0 };
			int tries = 0;

			/*
			 * The dead processes' channels are reclaimed asynchronously
			 * (the hypervisor's main loop sees each pidfd turn readable):
			 * on a loaded host a burst of deaths can hold the pool for a
			 * moment, so wait for it (up to 5 s) rather than fail.
			 */
			while (msgchan_open(&d, i % 2 ? TCLO_PROTOCOL_NUM : RPCI_PROTOCOL_NUM))
				if (++tries == 500)
					_exit(1);
				else
					usleep(10000);
			msg(&d, MESSAGE_TYPE_SENDSIZE, 1000);
			msg(&d, MESSAGE_TYPE_SENDPAYLOAD, 0x41414141);
			_exit(0);	/* no close: the process just dies */
		}
		int st;

		waitpid(pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			ok = 0;
	}
	check(ok, "256 guest processes each opened a channel and died mid-message");
	check(msgchan_open(&c, RPCI_PROTOCOL_NUM) == 0,
	      "a channel can still be opened (the dead processes' channels were reclaimed)");
	msgchan_close(&c);
}

/*
 * hostile --tclo-churn N: attach to TCLO as an application and leave, N
 * times, as fast as possible.  Each attach and leave is a host log line,
 * which must stay rate-limited (it used to be written for every one).
 */
static int tclo_churn(long count)
{
	long done = 0;

	for (long i = 0; i < count; i++) {
		struct msgchan c = { 0 };	/* msgchan_open reads c.no_hb */
		char *reply = NULL;
		size_t len = 0;
		static const char atr[] = "OK ATR churn";

		if (msgchan_open(&c, TCLO_PROTOCOL_NUM))
			continue;
		/* An empty poll; the host's first command is "reset". */
		if (!msgchan_send(&c, "", 0) && !msgchan_recv(&c, &reply, &len) &&
		    len == 5 && !memcmp(reply, "reset", 5) && !msgchan_send(&c, atr, sizeof(atr) - 1))
			done++;
		free(reply);
		msgchan_close(&c);
	}
	printf("tclo-churn %ld of %ld\n", done, count);
	return done == count ? 0 : 1;
}

/*
 * hostile --spoof: guest text made to forge host output: newlines in the
 * tools description and a capability, then 255 capabilities of ~500 bytes
 * (more than a control packet holds).  0 when every call was accepted.
 */
static int spoof(void)
{
	static const char desc[] = "info-set guestinfo.vmtools.description evil\nstate=hijacked\n"
				   "engine=kvm\nram=1";
	static const char cap[] = "tools.capability.evil yes\nname=other";
	int bad = 0;
	char *reply;

	bad |= rpci(desc, sizeof(desc) - 1, &reply) != 1;
	free(reply);
	bad |= rpci(cap, sizeof(cap) - 1, &reply) != 1;
	free(reply);
	/* 255 and "evil": as many as the hypervisor takes (RPC_CAPABILITIES_MAX). */
	for (int i = 0; i < 255; i++) {
		char c[600];
		int len = snprintf(c, sizeof(c), "tools.capability.c%03d%0240d %0250d", i, 0, 0);

		bad |= rpci(c, (size_t)len, &reply) != 1;
		free(reply);
	}
	printf("spoof %s\n", bad ? "refused" : "sent");
	return bad;
}

/* A second guest process: a channel of its own and an RPCI round trip.  0 when it works. */
static int other_process_rpci(void)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		char *reply = NULL;
		size_t len = 0;

		_exit(rpci_send_one("porthole.echo other", 19, &reply, &len) == 1 && reply &&
		      !strcmp(reply, "other") ? 0 : 1);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/*
 * hostile --hog: one process takes every GuestRPC channel it can, then
 * fills the message budget with full-size messages it never finishes;
 * each time a second process must still get a channel and an answer.
 * (One process used to be able to take all 128 channels, or all 8 MiB.)
 */
static int hog(void)
{
	static struct msgchan chans[GUESTMSG_MAX_CHANNEL];
	int held = 0, big = 0;
	struct bdoor_regs r;

	/* Each phase stops at the first refusal: a log line, not a flood. */
	while (held < GUESTMSG_MAX_CHANNEL && msgchan_open(&chans[held], RPCI_PROTOCOL_NUM) == 0)
		held++;
	printf("hog: holds %d of %d channels\n", held, GUESTMSG_MAX_CHANNEL);
	check(held >= 8 && held < GUESTMSG_MAX_CHANNEL,
	      "one process gets channels, but not every channel");
	check(other_process_rpci() == 0,
	      "another process still opens a channel and gets an RPCI answer");

	/* Keep 8 channels; announce a full-size message on each and never send it. */
	for (int i = 8; i < held; i++)
		msgchan_close(&chans[i]);
	for (; big < 8 && big < held; big++) {
		r = msg(&chans[big], MESSAGE_TYPE_SENDSIZE, GUESTMSG_MAX_SIZE);
		if (!(status_of(&r) & MESSAGE_STATUS_SUCCESS))
			break;
	}
	printf("hog: %d of 8 full-size messages buffered\n", big);
	check(big >= 1 && big < 8, "one process may buffer a full-size message, not all 8");
	check(other_process_rpci() == 0,
	      "another process still gets an RPCI answer while the first holds its bytes");
	for (int i = 0; i < 8 && i < held; i++)
		msgchan_close(&chans[i]);
	printf("1..%d\n", n);
	return failed;
}

int main(int argc, char **argv)
{
	struct bdoor_info info;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!bdoor_detect(&info)) {
		printf("Bail out! not running under a backdoor hypervisor\n");
		return 1;
	}
	if (argc == 3 && !strcmp(argv[1], "--tclo-churn"))
		return tclo_churn(strtol(argv[2], NULL, 10));
	if (argc == 2 && !strcmp(argv[1], "--spoof"))
		return spoof();
	if (argc == 2 && !strcmp(argv[1], "--hog"))
		return hog();
	test_registers();
	test_channel_abuse();
	test_hb_abuse();
	test_rpci_errors();
	test_dying_guests();
	printf("1..%d\n", n);
	return failed;
}
