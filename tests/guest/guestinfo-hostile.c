// SPDX-License-Identifier: MIT
/*
 * A hostile guest of the guest information commands (hypervisor/devices/
 * guestinfo.c), through the real GuestRPC channel: a NIC record claiming
 * 10 000 NICs, an oversized record, lying lengths, JSON nested 50 000 deep,
 * a host name with a newline, too many addresses, 500 bad records in a row;
 * each must get "0 <reason>", and a good record after them still "1 ".
 * TAP on stdout (tap.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backdoor/backdoor.h"
#include "backdoor/msgchan.h"
#include "tap.h"

static uint8_t buf[1 << 20];
static size_t len;
static size_t record;		/* where the XDR record starts in buf: padding counts from it */
static char last_reply[128];	/* for the checks' messages */

static void put_u32(uint32_t v)
{
	buf[len++] = v >> 24;
	buf[len++] = v >> 16;
	buf[len++] = v >> 8;
	buf[len++] = v;
}

static void put_string(const char *s)
{
	size_t n = strlen(s);

	put_u32((uint32_t)n);
	memcpy(buf + len, s, n);
	len += n;
	while ((len - record) % 4)
		buf[len++] = 0;
}

static void start(const char *head)
{
	len = strlen(head);
	memcpy(buf, head, len);
	record = len;
}

/* One NIC's GuestNicV3 with `addrs` IPv4 addresses 10.1.2.3/24, no trailers. */
static void put_nic(const char *mac, unsigned int addrs)
{
	put_string(mac);
	put_u32(addrs);
	for (unsigned int i = 0; i < addrs; i++) {
		put_u32(1);
		put_u32(4);
		buf[len++] = 10;
		buf[len++] = 1;
		buf[len++] = 2;
		buf[len++] = 3;
		put_u32(24);
		put_u32(0);
		put_u32(0);
	}
	for (int t = 0; t < 4; t++)
		put_u32(0);
}

static void end_record(void)
{
	put_u32(0);			/* routes */
	for (int t = 0; t < 4; t++)
		put_u32(0);
}

/* The reply's first byte: '1', '0', or 'E' when the channel failed. */
static char send(void)
{
	char *reply = NULL;
	size_t rlen;
	int ret = rpci_send_one((const char *)buf, len, &reply, &rlen);
	char status = ret == 1 ? '1' : ret == 0 ? '0' : 'E';

	snprintf(last_reply, sizeof(last_reply), "%s", reply ? reply : "(channel error)");
	free(reply);
	return status;
}

int main(void)
{
	struct bdoor_info info;
	unsigned int refused = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!bdoor_detect(&info)) {
		printf("Bail out! not running under a backdoor hypervisor\n");
		return 1;
	}
	start("SetGuestInfo  10 ");
	put_u32(3);
	put_u32(1);
	put_u32(10000);
	for (int i = 0; i < 1000; i++)
		put_nic("00:00:00:00:00:00", 0);
	check(send() == '0', "a record claiming 10 000 NICs is refused");

	start("SetGuestInfo  10 ");
	put_u32(3);
	put_u32(1);
	put_u32(1);
	put_nic("00:00:00:00:00:00", 0);
	end_record();
	memset(buf + len, 0, 200000);
	len += 200000;
	check(send() == '0', "an oversized (200 KB) NIC record is refused");

	start("SetGuestInfo  10 ");
	put_u32(3);
	put_u32(1);
	put_u32(1);
	put_u32(0xFFFFFFF0u);		/* MAC length past the end of everything */
	check(send() == '0', "a MAC length past the record's end is refused");

	start("SetGuestInfo  10 ");
	put_u32(3);
	put_u32(1);
	put_u32(1);
	put_nic("00:00:00:00:00:00", 33);
	end_record();
	check(send() == '0', "33 addresses on one NIC are refused");

	start("SetGuestDiskInfo {\"disks\":");
	memset(buf + len, '[', 50000);
	len += 50000;
	check(send() == '0', "disk JSON nested 50 000 deep is refused");

	start("SetGuestInfo  1 evil\nguest.os=forged");
	check(send() == '0', "a host name with a newline is refused");

	start("SetGuestInfo  10 ");
	put_u32(3);
	put_u32(2);			/* neither absent nor present */
	for (int i = 0; i < 500; i++)
		refused += send() == '0';
	check(refused == 500, "500 bad records in a row: each refused (%u)", refused);

	start("SetGuestInfo  10 ");
	put_u32(3);
	put_u32(1);
	put_u32(1);
	put_nic("02:00:00:00:00:01", 1);
	end_record();
	check(send() == '1', "a good NIC record after all that is taken ('%s')", last_reply);
	return tap_done();
}
