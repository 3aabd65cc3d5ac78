// SPDX-License-Identifier: MIT
/*
 * Guest information (hypervisor/devices/guestinfo.c): the XDR NicInfoV3
 * record and the disk JSON as open-vm-tools sends them, and hostile ones
 * (oversized, lying lengths, deep nesting, 10 000 NICs), then the RPCI
 * commands and the status lines they lead to.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <glib.h>
#include <string.h>
#include <arpa/inet.h>

#include "hypervisor/devices/guestinfo.h"
#include "hypervisor/vm.h"

/* ---- an XDR writer for the records under test ---- */

static void put_string(GByteArray *b, const char *s)
{
	guestinfo_xdr_bytes(b, s, (uint32_t)strlen(s));
}

/* IpAddressEntry: TypedIpAddress, prefix, origin and status absent. */
static void put_ip(GByteArray *b, int family, const char *text, uint32_t prefix)
{
	uint8_t addr[16];

	g_assert(inet_pton(family, text, addr) == 1);
	guestinfo_xdr_u32(b, family == AF_INET ? 1 : 2);
	guestinfo_xdr_bytes(b, addr, family == AF_INET ? 4 : 16);
	guestinfo_xdr_u32(b, prefix);
	guestinfo_xdr_u32(b, 0);
	guestinfo_xdr_u32(b, 0);
}

/* The four optional trailers (DNS, WINS, DHCPv4, DHCPv6), all absent. */
static void put_no_trailers(GByteArray *b)
{
	for (int i = 0; i < 4; i++)
		guestinfo_xdr_u32(b, 0);
}

/* A GuestNicProto as vmtoolsd sends it: two NICs, one route, DNS names. */
static GByteArray *valid_nicinfo(void)
{
	GByteArray *b = g_byte_array_new();

	guestinfo_xdr_u32(b, 3);			/* NIC_INFO_V3 */
	guestinfo_xdr_u32(b, 1);			/* NicInfoV3 present */
	guestinfo_xdr_u32(b, 2);			/* nics */
	put_string(b, "00:50:56:aa:bb:cc");
	guestinfo_xdr_u32(b, 2);
	put_ip(b, AF_INET, "192.168.1.20", 24);
	put_ip(b, AF_INET6, "fe80::250:56ff:feaa:bbcc", 64);
	put_no_trailers(b);
	put_string(b, "00:50:56:aa:bb:cd");
	guestinfo_xdr_u32(b, 1);
	put_ip(b, AF_INET, "10.0.0.5", 8);
	put_no_trailers(b);
	guestinfo_xdr_u32(b, 1);			/* routes */
	guestinfo_xdr_u32(b, 1);
	guestinfo_xdr_bytes(b, "\0\0\0\0", 4);
	guestinfo_xdr_u32(b, 0);			/* prefix */
	guestinfo_xdr_u32(b, 1);			/* next hop present */
	guestinfo_xdr_u32(b, 1);
	guestinfo_xdr_bytes(b, "\xc0\xa8\x01\x01", 4);
	guestinfo_xdr_u32(b, 0);			/* if index */
	guestinfo_xdr_u32(b, 4);			/* ICRT_REMOTE */
	guestinfo_xdr_u32(b, 100);
	guestinfo_xdr_u32(b, 1);			/* DnsConfigInfo present */
	guestinfo_xdr_u32(b, 1);
	put_string(b, "guesthost");
	guestinfo_xdr_u32(b, 1);
	put_string(b, "example.org");
	guestinfo_xdr_u32(b, 0);			/* servers */
	guestinfo_xdr_u32(b, 0);			/* suffixes */
	guestinfo_xdr_u32(b, 0);			/* WINS */
	guestinfo_xdr_u32(b, 0);			/* DHCPv4 */
	guestinfo_xdr_u32(b, 0);			/* DHCPv6 */
	return b;
}

static int parse(GByteArray *b, struct guestinfo_nics *nics, const char **why)
{
	return guestinfo_parse_nicinfo(b->data, b->len, nics, why);
}

static void test_nicinfo_valid(void **state)
{
	g_autoptr(GByteArray) b = valid_nicinfo();
	struct guestinfo_nics *nics = g_new(struct guestinfo_nics, 1);
	const char *why = NULL;

	assert_int_equal(parse(b, nics, &why), 0);
	assert_int_equal(nics->n_nics, 2);
	assert_string_equal(nics->nic[0].mac, "00:50:56:aa:bb:cc");
	assert_int_equal(nics->nic[0].n_addrs, 2);
	assert_string_equal(nics->nic[0].addrs[0], "192.168.1.20/24");
	assert_string_equal(nics->nic[0].addrs[1], "fe80::250:56ff:feaa:bbcc/64");
	assert_string_equal(nics->nic[1].addrs[0], "10.0.0.5/8");
	assert_int_equal(nics->n_routes, 1);
	assert_string_equal(nics->dns_hostname, "guesthost");
	assert_string_equal(nics->dns_domain, "example.org");
	g_free(nics);
}

/* Every cut of a valid record is refused, never read past. */
static void test_nicinfo_truncated(void **state)
{
	g_autoptr(GByteArray) b = valid_nicinfo();
	struct guestinfo_nics *nics = g_new(struct guestinfo_nics, 1);
	const char *why;

	for (guint len = 0; len < b->len; len++) {
		/* A copy of exactly len bytes, so ASan sees any over-read. */
		g_autofree uint8_t *cut = g_memdup2(b->data, len ? len : 1);

		why = NULL;
		assert_int_equal(guestinfo_parse_nicinfo(cut, len, nics, &why), -1);
		assert_non_null(why);
	}
	g_free(nics);
}

static void test_nicinfo_trailing_bytes(void **state)
{
	g_autoptr(GByteArray) b = valid_nicinfo();
	struct guestinfo_nics *nics = g_new(struct guestinfo_nics, 1);
	const char *why;

	guestinfo_xdr_u32(b, 0);
	assert_int_equal(parse(b, nics, &why), -1);
	assert_string_equal(why, "bytes after the record");
	g_free(nics);
}

static void test_nicinfo_ten_thousand_nics(void **state)
{
	g_autoptr(GByteArray) b = g_byte_array_new();
	struct guestinfo_nics *nics = g_new(struct guestinfo_nics, 1);
	const char *why;

	guestinfo_xdr_u32(b, 3);
	guestinfo_xdr_u32(b, 1);
	guestinfo_xdr_u32(b, 10000);
	for (int i = 0; i < 10000 && b->len < 60000; i++) {
		put_string(b, "00:00:00:00:00:00");
		guestinfo_xdr_u32(b, 0);
		put_no_trailers(b);
	}
	assert_int_equal(parse(b, nics, &why), -1);
	assert_string_equal(why, "too many NICs");
	g_free(nics);
}

static void test_nicinfo_too_many_addresses(void **state)
{
	g_autoptr(GByteArray) b = g_byte_array_new();
	struct guestinfo_nics *nics = g_new(struct guestinfo_nics, 1);
	const char *why;

	guestinfo_xdr_u32(b, 3);
	guestinfo_xdr_u32(b, 1);
	guestinfo_xdr_u32(b, 1);
	put_string(b, "00:00:00:00:00:00");
	guestinfo_xdr_u32(b, GUESTINFO_ADDRS_MAX + 1);
	for (int i = 0; i <= GUESTINFO_ADDRS_MAX; i++)
		put_ip(b, AF_INET, "10.1.1.1", 32);
	put_no_trailers(b);
	guestinfo_xdr_u32(b, 0);
	put_no_trailers(b);
	assert_int_equal(parse(b, nics, &why), -1);
	assert_string_equal(why, "too many addresses on a NIC");
	g_free(nics);
}

/* A length field larger than the record (and one near UINT32_MAX). */
static void test_nicinfo_lying_lengths(void **state)
{
	struct guestinfo_nics *nics = g_new(struct guestinfo_nics, 1);
	const uint32_t lies[] = { 17, 18, 0xFFFFFFFFu, 0xFFFFFFFDu };
	const char *why;

	for (size_t i = 0; i < G_N_ELEMENTS(lies); i++) {
		g_autoptr(GByteArray) b = g_byte_array_new();

		guestinfo_xdr_u32(b, 3);
		guestinfo_xdr_u32(b, 1);
		guestinfo_xdr_u32(b, 1);
		guestinfo_xdr_u32(b, lies[i]);		/* MAC length */
		g_byte_array_append(b, (const uint8_t *)"00:00:00:00:00:0", 16);
		assert_int_equal(parse(b, nics, &why), -1);
	}
	g_free(nics);
}

static void test_nicinfo_hostile_fields(void **state)
{
	struct guestinfo_nics *nics = g_new(struct guestinfo_nics, 1);
	const char *why;
	g_autoptr(GByteArray) big = g_byte_array_new();
	g_autoptr(GByteArray) flag = g_byte_array_new();
	g_autoptr(GByteArray) ctl = g_byte_array_new();
	g_autoptr(GByteArray) v2 = g_byte_array_new();

	/* Oversized: refused before anything is read. */
	g_byte_array_set_size(big, GUESTINFO_RECORD_MAX + 1);
	memset(big->data, 0, big->len);
	assert_int_equal(parse(big, nics, &why), -1);
	assert_string_equal(why, "record too large");
	/* An optional-data flag that is neither 0 nor 1. */
	guestinfo_xdr_u32(flag, 3);
	guestinfo_xdr_u32(flag, 2);
	assert_int_equal(parse(flag, nics, &why), -1);
	/* A MAC with a newline: no forged status line can come of it. */
	guestinfo_xdr_u32(ctl, 3);
	guestinfo_xdr_u32(ctl, 1);
	guestinfo_xdr_u32(ctl, 1);
	put_string(ctl, "a\nguest.os=x");
	guestinfo_xdr_u32(ctl, 0);
	put_no_trailers(ctl);
	guestinfo_xdr_u32(ctl, 0);
	put_no_trailers(ctl);
	assert_int_equal(parse(ctl, nics, &why), -1);
	assert_string_equal(why, "string with control bytes or bad UTF-8");
	guestinfo_xdr_u32(v2, 2);
	assert_int_equal(parse(v2, nics, &why), -1);
	g_free(nics);
}

/* ---- disks ---- */

/* Exactly GuestInfoSendDiskInfoV1's layout; names are base64 ("/" and "/boot"). */
static const char disk_json[] =
	"{\n\"version\":\"1\",\n\"disks\":[\n"
	"{\"name\":\"Lw==\",\"free\":\"1000\",\"size\":\"4000\",\"fstype\":\"ext4\","
	"\"devices\":[\"/dev/sda1\"]},\n"
	"{\"name\":\"L2Jvb3Q=\",\"free\":\"5\",\"size\":\"18446744073709551615\"}\n]}";

static void test_disks_valid(void **state)
{
	struct guestinfo_disks *d = g_new(struct guestinfo_disks, 1);
	const char *why = NULL;

	assert_int_equal(guestinfo_parse_disks(disk_json, strlen(disk_json), d, &why), 0);
	assert_int_equal(d->n_disks, 2);
	assert_string_equal(d->disk[0].name, "/");
	assert_string_equal(d->disk[0].fstype, "ext4");
	assert_int_equal(d->disk[0].free, 1000);
	assert_int_equal(d->disk[0].size, 4000);
	assert_string_equal(d->disk[1].name, "/boot");
	assert_true(d->disk[1].size == UINT64_MAX);
	g_free(d);
}

static void test_disks_truncated(void **state)
{
	struct guestinfo_disks *d = g_new(struct guestinfo_disks, 1);
	const char *why;

	for (size_t len = 0; len < strlen(disk_json); len++) {
		g_autofree char *cut = g_memdup2(disk_json, len ? len : 1);

		assert_int_equal(guestinfo_parse_disks(cut, len, d, &why), -1);
	}
	g_free(d);
}

static void test_disks_deep_nesting(void **state)
{
	struct guestinfo_disks *d = g_new(struct guestinfo_disks, 1);
	g_autoptr(GString) s = g_string_new("{\"x\":");
	const char *why;

	for (int i = 0; i < 10000; i++)
		g_string_append_c(s, '[');
	for (int i = 0; i < 10000; i++)
		g_string_append_c(s, ']');
	g_string_append_c(s, '}');
	assert_int_equal(guestinfo_parse_disks(s->str, s->len, d, &why), -1);
	assert_string_equal(why, "JSON nested too deep");
	g_free(d);
}

static void test_disks_hostile(void **state)
{
	struct guestinfo_disks *d = g_new(struct guestinfo_disks, 1);
	g_autoptr(GString) many = g_string_new("{\"disks\":[");
	const char *why;
	static const char *const bad[] = {
		"{\"disks\":[{\"name\":\"Lwo=\"}]}",		/* "/\n" */
		"{\"disks\":[{\"size\":\"12x\"}]}",
		"{\"disks\":[{\"size\":\"99999999999999999999\"}]}",
		"{\"disks\":[{\"fstype\":\"a\nb\"}]}",
		"{\"disks\":[{\"fstype\":\"\\u0001\"}]}",
		"{\"disks\":[1]}",
		"{\"disks\":[]} trailing",
		"{\"disks\" [] }",
	};

	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
		assert_int_equal(guestinfo_parse_disks(bad[i], strlen(bad[i]), d, &why), -1);
	/* More disks than kept: the first GUESTINFO_DISKS_MAX, the rest counted. */
	for (int i = 0; i < GUESTINFO_DISKS_MAX + 3; i++)
		g_string_append_printf(many, "%s{\"name\":\"Lw==\",\"size\":\"%d\"}", i ? "," : "",
				       i);
	g_string_append(many, "]}");
	assert_int_equal(guestinfo_parse_disks(many->str, many->len, d, &why), 0);
	assert_int_equal(d->n_disks, GUESTINFO_DISKS_MAX);
	assert_int_equal(d->n_dropped, 3);
	assert_int_equal(d->disk[GUESTINFO_DISKS_MAX - 1].size, GUESTINFO_DISKS_MAX - 1);
	/* ... but a malformed one past them still refuses the record. */
	g_string_truncate(many, many->len - 2);
	g_string_append(many, ",{\"size\":\"x\"}]}");
	assert_int_equal(guestinfo_parse_disks(many->str, many->len, d, &why), -1);
	g_free(d);
}

/* ---- RPCI and status ---- */

static struct vm *vm;

static int setup(void **state)
{
	struct vm_config cfg = { .name = "unit", .ram_size = 1 << 20 };

	vm = vm_create(&cfg);
	return vm ? 0 : -1;
}

static int teardown(void **state)
{
	vm_destroy(vm);
	return 0;
}

static char *rpci(const void *msg, size_t len)
{
	GString *reply = g_string_new(NULL);

	assert_true(guestinfo_rpci(vm, msg, len, reply));
	return g_string_free(reply, FALSE);
}

static char *status(void)
{
	GString *s = g_string_new(NULL);

	guestinfo_status(vm, s);
	return g_string_free(s, FALSE);
}

static void test_rpci_text_and_status(void **state)
{
	/* vmtoolsd sends strlen + 1 bytes: the NUL is part of the message. */
	static const char host[] = "SetGuestInfo  1 guesthost";
	static const char os[] = "SetGuestInfo  6 debian12-64";
	static const char up[] = "SetGuestInfo  7 12345";
	g_autoptr(GByteArray) nic = g_byte_array_new();
	g_autoptr(GByteArray) xdr = valid_nicinfo();
	g_autofree char *st = NULL;
	g_autoptr(GString) disks = g_string_new("SetGuestDiskInfo ");

	g_free(rpci(host, sizeof(host)));
	g_free(rpci(os, sizeof(os)));
	g_free(rpci(up, sizeof(up)));
	g_byte_array_append(nic, (const uint8_t *)"SetGuestInfo  10 ", 17);
	g_byte_array_append(nic, xdr->data, xdr->len);
	{
		g_autofree char *r = rpci(nic->data, nic->len);

		assert_string_equal(r, "1 ");
	}
	g_string_append(disks, disk_json);
	g_free(rpci(disks->str, disks->len + 1));
	st = status();
	assert_non_null(strstr(st, "guest.hostname=guesthost\n"));
	assert_non_null(strstr(st, "guest.os=debian12-64\n"));
	assert_non_null(strstr(st, "guest.uptime=123\n"));
	assert_non_null(strstr(st, "guest.nic.0.ip=192.168.1.20/24,fe80::250:56ff:feaa:bbcc/64\n"));
	assert_non_null(strstr(st, "guest.nic.1.mac=00:50:56:aa:bb:cd\n"));
	assert_non_null(strstr(st, "guest.disk.1.name=/boot\n"));
	assert_non_null(strstr(st, "guest.disk.0.free=1000\n"));
}

/* Textual values keep the strict checks: NUL, control bytes, length. */
static void test_rpci_text_refused(void **state)
{
	static const char nul[] = "SetGuestInfo  1 a\0b";
	static const char nl[] = "SetGuestInfo  1 evil\nguest.os=forged";
	static const char up[] = "SetGuestInfo  7 12a";
	g_autofree char *long_msg = g_strdup_printf("SetGuestInfo  5 %0*d", 2000, 0);
	g_autofree char *r1 = rpci(nul, sizeof(nul) - 1);
	g_autofree char *r2 = rpci(nl, sizeof(nl) - 1);
	g_autofree char *r3 = rpci(up, sizeof(up) - 1);
	g_autofree char *r4 = rpci(long_msg, strlen(long_msg));
	g_autofree char *r5 = rpci("SetGuestInfo x", 14);
	g_autofree char *st = status();

	assert_true(g_str_has_prefix(r1, "0 "));
	assert_true(g_str_has_prefix(r2, "0 "));
	assert_true(g_str_has_prefix(r3, "0 "));
	assert_true(g_str_has_prefix(r4, "0 "));
	assert_true(g_str_has_prefix(r5, "0 "));
	assert_null(strstr(st, "guest.hostname"));
	assert_null(strstr(st, "forged"));
}

/* A refused record leaves the last good one in place. */
static void test_rpci_bad_record_keeps_last(void **state)
{
	g_autoptr(GByteArray) nic = g_byte_array_new();
	g_autoptr(GByteArray) xdr = valid_nicinfo();
	g_autofree char *ok = NULL, *bad = NULL, *st = NULL;

	g_byte_array_append(nic, (const uint8_t *)"SetGuestInfo  10 ", 17);
	g_byte_array_append(nic, xdr->data, xdr->len);
	ok = rpci(nic->data, nic->len);
	assert_string_equal(ok, "1 ");
	bad = rpci(nic->data, nic->len - 4);
	assert_true(g_str_has_prefix(bad, "0 "));
	st = status();
	assert_non_null(strstr(st, "guest.nics=2\n"));
}

static void test_rpci_not_ours(void **state)
{
	GString *reply = g_string_new(NULL);

	assert_false(guestinfo_rpci(vm, "SetGuestInfoX", 13, reply));
	assert_false(guestinfo_rpci(vm, "info-set a b", 12, reply));
	assert_int_equal(reply->len, 0);
	g_string_free(reply, TRUE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nicinfo_valid),
		cmocka_unit_test(test_nicinfo_truncated),
		cmocka_unit_test(test_nicinfo_trailing_bytes),
		cmocka_unit_test(test_nicinfo_ten_thousand_nics),
		cmocka_unit_test(test_nicinfo_too_many_addresses),
		cmocka_unit_test(test_nicinfo_lying_lengths),
		cmocka_unit_test(test_nicinfo_hostile_fields),
		cmocka_unit_test(test_disks_valid),
		cmocka_unit_test(test_disks_truncated),
		cmocka_unit_test(test_disks_deep_nesting),
		cmocka_unit_test(test_disks_hostile),
		cmocka_unit_test_setup_teardown(test_rpci_text_and_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rpci_text_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rpci_bad_record_keeps_last, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rpci_not_ours, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
