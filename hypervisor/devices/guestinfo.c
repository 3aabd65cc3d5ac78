// SPDX-License-Identifier: MIT
/*
 * Guest information (see guestinfo.h): the guestInfo protocol of VMware's
 * tools, as open-vm-tools' guestInfo plugin speaks it.
 *
 * RPCI messages are length-delimited bytes.  Only the records that are
 * binary by format (the XDR NIC record, the detailed OS header) may hold
 * NUL bytes; every textual value is refused if it holds a NUL or a control
 * byte, so nothing ambiguous is stored, and it is escaped again
 * (vm_append_guest_text) wherever it is shown.  A record breaking the
 * format or a limit is refused whole, with a rate-limited log line: the
 * host keeps the last good record.
 */
#define G_LOG_DOMAIN "porthole-hv"
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hypervisor/vm.h"
#include "guestinfo.h"
#include "rpc.h"

/* The textual types (INFO_DNS_NAME .. INFO_UPTIME) each keep their value. */
#define GUESTINFO_TEXT_TYPES	(GUESTINFO_UPTIME + 1)

struct guestinfo {
	char *text[GUESTINFO_TEXT_TYPES];
	char *detailed;		/* INFO_OS_DETAILED: "key='value' ..." */
	struct guestinfo_nics *nics;
	struct guestinfo_disks *disks;
	uint64_t updates;
};

/* HostinfoDetailedDataHeader (open-vm-tools lib/include/hostinfo.h). */
#define DETAILED_VERSION	1
#define DETAILED_SHORT_LEN	(128 + 1)
#define DETAILED_FULL_LEN	(512 + 1)
/* sizeof the C struct: its two arrays padded to the uint32's alignment */
#define DETAILED_HEADER_LEN	((4 + DETAILED_SHORT_LEN + DETAILED_FULL_LEN + 3) & ~3)

/* Printable UTF-8 without control bytes: a value that can be stored as it is. */
static bool valid_text(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
			return false;
	return g_utf8_validate(s, (gssize)len, NULL);
}

/* ---- XDR (RFC 4506) reading, every length checked against what is left ---- */

struct xdr {
	const uint8_t *p;
	size_t len, pos;
	const char *why;
};

static bool xdr_fail(struct xdr *x, const char *why)
{
	if (!x->why)
		x->why = why;
	return false;
}

static bool xdr_u32(struct xdr *x, uint32_t *v)
{
	if (x->len - x->pos < 4)
		return xdr_fail(x, "record truncated");
	*v = (uint32_t)x->p[x->pos] << 24 | (uint32_t)x->p[x->pos + 1] << 16 |
	     (uint32_t)x->p[x->pos + 2] << 8 | x->p[x->pos + 3];
	x->pos += 4;
	return true;
}

/* An XDR optional-data flag ("*field"): strictly 0 or 1. */
static bool xdr_present(struct xdr *x, bool *present)
{
	uint32_t v;

	if (!xdr_u32(x, &v))
		return false;
	if (v > 1)
		return xdr_fail(x, "bad optional-data flag");
	*present = v;
	return true;
}

/* Variable-length opaque or string of at most `max` bytes, and its padding. */
static bool xdr_bytes(struct xdr *x, uint32_t max, const uint8_t **data, uint32_t *n)
{
	size_t padded;

	if (!xdr_u32(x, n))
		return false;
	if (*n > max)
		return xdr_fail(x, "field longer than its limit");
	padded = ((size_t)*n + 3) & ~(size_t)3;
	if (x->len - x->pos < padded)
		return xdr_fail(x, "length past the end of the record");
	*data = x->p + x->pos;
	x->pos += padded;
	return true;
}

/* An XDR string into out[outsize] (or skipped when out is NULL), text only. */
static bool xdr_string(struct xdr *x, uint32_t max, char *out, size_t outsize)
{
	const uint8_t *data;
	uint32_t n;

	if (!xdr_bytes(x, max, &data, &n))
		return false;
	if (!valid_text((const char *)data, n))
		return xdr_fail(x, "string with control bytes or bad UTF-8");
	if (out) {
		if (n >= outsize)
			return xdr_fail(x, "string too long");
		memcpy(out, data, n);
		out[n] = '\0';
	}
	return true;
}

static bool xdr_count(struct xdr *x, uint32_t max, uint32_t *n, const char *what)
{
	if (!xdr_u32(x, n))
		return false;
	if (*n > max)
		return xdr_fail(x, what);
	return true;
}

/* TypedIpAddress; out (64 bytes, or NULL) gets IPv4/IPv6 text, else "". */
static bool xdr_typed_ip(struct xdr *x, char *out)
{
	const uint8_t *addr;
	uint32_t type, n;

	if (!xdr_u32(x, &type) || !xdr_bytes(x, 255, &addr, &n))
		return false;
	if (!out)
		return true;
	out[0] = '\0';
	if (type == 1 && n == 4)		/* IAT_IPV4 */
		inet_ntop(AF_INET, addr, out, 64);
	else if (type == 2 && n == 16)		/* IAT_IPV6 */
		inet_ntop(AF_INET6, addr, out, 64);
	return true;
}

static bool xdr_optional_u32(struct xdr *x)
{
	bool present;
	uint32_t v;

	if (!xdr_present(x, &present))
		return false;
	return !present || xdr_u32(x, &v);
}

/* IpAddressEntry: kept as "address/prefix" when nic is given and it is IP. */
static bool xdr_ip_entry(struct xdr *x, struct guestinfo_nic *nic)
{
	char addr[64];
	uint32_t prefix;

	if (!xdr_typed_ip(x, addr) || !xdr_u32(x, &prefix) ||
	    !xdr_optional_u32(x) || !xdr_optional_u32(x))
		return false;
	if (prefix > 128)
		return xdr_fail(x, "prefix length over 128");
	if (addr[0] && nic)
		snprintf(nic->addrs[nic->n_addrs++], sizeof(nic->addrs[0]), "%s/%u", addr, prefix);
	return true;
}

/* Optional DnsConfigInfo; host name and domain kept when nics is given. */
static bool xdr_dns(struct xdr *x, struct guestinfo_nics *nics)
{
	bool present;
	uint32_t n;

	if (!xdr_present(x, &present))
		return false;
	if (!present)
		return true;
	if (!xdr_present(x, &present) ||
	    (present && !xdr_string(x, GUESTINFO_STRING_MAX, nics ? nics->dns_hostname : NULL,
				    GUESTINFO_STRING_MAX + 1)))
		return false;
	if (!xdr_present(x, &present) ||
	    (present && !xdr_string(x, GUESTINFO_STRING_MAX, nics ? nics->dns_domain : NULL,
				    GUESTINFO_STRING_MAX + 1)))
		return false;
	if (!xdr_count(x, 16, &n, "too many DNS servers"))	/* DNSINFO_MAX_SERVERS */
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (!xdr_typed_ip(x, NULL))
			return false;
	if (!xdr_count(x, 10, &n, "too many DNS suffixes"))	/* DNSINFO_MAX_SUFFIXES */
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (!xdr_string(x, GUESTINFO_STRING_MAX, NULL, 0))
			return false;
	return true;
}

/* Optional WinsConfigInfo, then the optional DHCP v4 and v6 configurations. */
static bool xdr_wins_dhcp(struct xdr *x)
{
	bool present;
	uint32_t enabled;

	if (!xdr_present(x, &present) ||
	    (present && (!xdr_typed_ip(x, NULL) || !xdr_typed_ip(x, NULL))))
		return false;
	for (int i = 0; i < 2; i++) {
		if (!xdr_present(x, &present))
			return false;
		if (present && (!xdr_u32(x, &enabled) ||
				!xdr_string(x, 16384, NULL, 0)))	/* DHCP_MAX_CONFIG_SIZE */
			return false;
	}
	return true;
}

static bool xdr_nic(struct xdr *x, struct guestinfo_nic *nic)
{
	uint32_t n;

	if (!xdr_string(x, 18, nic->mac, sizeof(nic->mac)) ||	/* NICINFO_MAC_LEN */
	    !xdr_count(x, GUESTINFO_ADDRS_MAX, &n, "too many addresses on a NIC"))
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (!xdr_ip_entry(x, nic))
			return false;
	return xdr_dns(x, NULL) && xdr_wins_dhcp(x);
}

static bool xdr_route(struct xdr *x)
{
	bool present;
	uint32_t v;

	if (!xdr_typed_ip(x, NULL) || !xdr_u32(x, &v) || !xdr_present(x, &present) ||
	    (present && !xdr_typed_ip(x, NULL)))
		return false;
	return xdr_u32(x, &v) && xdr_u32(x, &v) && xdr_u32(x, &v);
}

int guestinfo_parse_nicinfo(const uint8_t *data, size_t len, struct guestinfo_nics *out,
			    const char **why)
{
	struct xdr x = { .p = data, .len = len };
	uint32_t version, n;
	bool present;

	memset(out, 0, sizeof(*out));
	if (len > GUESTINFO_RECORD_MAX) {
		*why = "record too large";
		return -1;
	}
	if (!xdr_u32(&x, &version))
		goto bad;
	if (version != 3) {
		*why = "not a NicInfoV3 record";
		return -1;
	}
	if (!xdr_present(&x, &present))
		goto bad;
	if (!present) {
		*why = "empty NicInfoV3 record";
		return -1;
	}
	if (!xdr_count(&x, GUESTINFO_NICS_MAX, &n, "too many NICs"))
		goto bad;
	out->n_nics = n;
	for (uint32_t i = 0; i < n; i++)
		if (!xdr_nic(&x, &out->nic[i]))
			goto bad;
	if (!xdr_count(&x, GUESTINFO_ROUTES_MAX, &out->n_routes, "too many routes"))
		goto bad;
	for (uint32_t i = 0; i < out->n_routes; i++)
		if (!xdr_route(&x))
			goto bad;
	if (!xdr_dns(&x, out) || !xdr_wins_dhcp(&x))
		goto bad;
	if (x.pos != len) {
		*why = "bytes after the record";
		return -1;
	}
	return 0;
bad:
	*why = x.why;
	return -1;
}

/* ---- a small JSON reader: bounded depth, strings, numbers, nothing kept but the disks ---- */

struct json {
	const char *s;
	size_t len, pos;
	int depth;
	const char *why;
};

static bool json_fail(struct json *j, const char *why)
{
	if (!j->why)
		j->why = why;
	return false;
}

static void json_ws(struct json *j)
{
	while (j->pos < j->len && strchr(" \t\r\n", j->s[j->pos]) && j->s[j->pos])
		j->pos++;
}

static bool json_peek(struct json *j, char c)
{
	json_ws(j);
	return j->pos < j->len && j->s[j->pos] == c;
}

static bool json_expect(struct json *j, char c)
{
	if (!json_peek(j, c))
		return json_fail(j, "malformed JSON");
	j->pos++;
	return true;
}

/* A string into out[outsize] (NULL: skipped); escapes decoded, no control bytes. */
static bool json_string(struct json *j, char *out, size_t outsize)
{
	size_t n = 0;

	if (!json_expect(j, '"'))
		return false;
	while (j->pos < j->len) {
		unsigned char c = (unsigned char)j->s[j->pos++];
		char buf[6];
		size_t blen = 1;

		if (c == '"') {
			if (out)
				out[n] = '\0';
			return true;
		}
		if (c < 0x20)
			return json_fail(j, "control byte in a JSON string");
		buf[0] = (char)c;
		if (c == '\\') {
			char e;

			if (j->pos >= j->len)
				break;
			e = j->s[j->pos++];
			if (e == 'u') {
				char hex[5] = { 0 };
				gunichar u;

				if (j->len - j->pos < 4)
					break;
				memcpy(hex, j->s + j->pos, 4);
				j->pos += 4;
				for (int i = 0; i < 4; i++)
					if (!g_ascii_isxdigit(hex[i]))
						return json_fail(j, "bad \\u escape");
				u = (gunichar)strtoul(hex, NULL, 16);
				if (u < 0x20 || (u >= 0xD800 && u <= 0xDFFF) || u == 0x7F)
					return json_fail(j, "\\u escape of a control or surrogate");
				blen = (size_t)g_unichar_to_utf8(u, buf);
			} else {
				const char *from = "\"\\/", *p = strchr(from, e);

				if (!e || !p)
					return json_fail(j, "bad escape in a JSON string");
				buf[0] = e;
			}
		}
		if (out) {
			if (n + blen >= outsize)
				return json_fail(j, "JSON string too long");
			memcpy(out + n, buf, blen);
		}
		n += blen;
	}
	return json_fail(j, "unterminated JSON string");
}

static bool json_value(struct json *j);

/* An object or array (its opening byte at j->pos), every value skipped. */
static bool json_container(struct json *j, char close)
{
	bool first = true;

	if (++j->depth > GUESTINFO_JSON_DEPTH)
		return json_fail(j, "JSON nested too deep");
	j->pos++;
	while (!json_peek(j, close)) {
		if (!first && !json_expect(j, ','))
			return false;
		first = false;
		if (close == '}' && (!json_string(j, NULL, 0) || !json_expect(j, ':')))
			return false;
		if (!json_value(j))
			return false;
	}
	j->pos++;
	j->depth--;
	return true;
}

/* Any value, skipped. */
static bool json_value(struct json *j)
{
	json_ws(j);
	if (j->pos >= j->len)
		return json_fail(j, "JSON truncated");
	switch (j->s[j->pos]) {
	case '"':
		return json_string(j, NULL, 0);
	case '{':
		return json_container(j, '}');
	case '[':
		return json_container(j, ']');
	}
	if (!strchr("-0123456789tfn", j->s[j->pos]) || !j->s[j->pos])
		return json_fail(j, "malformed JSON");
	while (j->pos < j->len && j->s[j->pos] && strchr("+-.0123456789eEtruefalsn", j->s[j->pos]))
		j->pos++;
	return true;
}

/* A byte count, as open-vm-tools sends it ("123") or as a bare number. */
static bool json_u64(struct json *j, uint64_t *v)
{
	char buf[24], *end;
	size_t n = 0;

	if (json_peek(j, '"')) {
		if (!json_string(j, buf, sizeof(buf)))
			return false;
	} else {
		while (j->pos < j->len && g_ascii_isdigit(j->s[j->pos]) && n < sizeof(buf) - 1)
			buf[n++] = j->s[j->pos++];
		buf[n] = '\0';
	}
	errno = 0;
	if (!g_ascii_isdigit(buf[0]))
		return json_fail(j, "size is not a number");
	*v = strtoull(buf, &end, 10);
	if (errno || *end)
		return json_fail(j, "size is not a number");
	return true;
}

static bool json_disk(struct json *j, struct guestinfo_disk *d)
{
	char key[32], b64[(GUESTINFO_STRING_MAX + 2) / 3 * 4 + 1];
	bool first = true;

	if (!json_peek(j, '{'))
		return json_fail(j, "a disk is not an object");
	if (++j->depth > GUESTINFO_JSON_DEPTH)
		return json_fail(j, "JSON nested too deep");
	j->pos++;
	while (!json_peek(j, '}')) {
		if ((!first && !json_expect(j, ',')) || !json_string(j, key, sizeof(key)) ||
		    !json_expect(j, ':'))
			return false;
		first = false;
		if (!strcmp(key, "name")) {
			guchar *name;
			gsize n;

			if (!json_string(j, b64, sizeof(b64)))
				return false;
			name = g_base64_decode(b64, &n);
			if (n > GUESTINFO_STRING_MAX || !valid_text((char *)name, n)) {
				g_free(name);
				return json_fail(j, "bad disk name");
			}
			memcpy(d->name, name, n);
			d->name[n] = '\0';
			g_free(name);
		} else if (!strcmp(key, "free")) {
			if (!json_u64(j, &d->free))
				return false;
		} else if (!strcmp(key, "size")) {
			if (!json_u64(j, &d->size))
				return false;
		} else if (!strcmp(key, "fstype")) {
			if (!json_string(j, d->fstype, sizeof(d->fstype)))
				return false;
		} else if (!json_value(j)) {
			return false;
		}
	}
	j->pos++;
	j->depth--;
	return true;
}

static bool json_disks(struct json *j, struct guestinfo_disks *out)
{
	if (!json_expect(j, '['))
		return false;
	while (!json_peek(j, ']')) {
		if (out->n_disks && !json_expect(j, ','))
			return false;
		/*
		 * A guest with many mounts (bind mounts count) reports them all:
		 * the first ones are kept, the rest are checked and counted.
		 */
		if (out->n_disks + out->n_dropped >= GUESTINFO_DISKS_MAX) {
			struct guestinfo_disk spare;

			if (out->n_dropped == UINT_MAX || !json_disk(j, &spare))
				return false;
			out->n_dropped++;
			continue;
		}
		if (!json_disk(j, &out->disk[out->n_disks++]))
			return false;
	}
	j->pos++;
	return true;
}

int guestinfo_parse_disks(const char *json, size_t len, struct guestinfo_disks *out,
			  const char **why)
{
	struct json j = { .s = json, .len = len, .depth = 1 };
	char key[32];
	bool first = true;

	memset(out, 0, sizeof(*out));
	if (len > GUESTINFO_RECORD_MAX) {
		*why = "record too large";
		return -1;
	}
	if (!json_expect(&j, '{'))
		goto bad;
	while (!json_peek(&j, '}')) {
		if ((!first && !json_expect(&j, ',')) || !json_string(&j, key, sizeof(key)) ||
		    !json_expect(&j, ':'))
			goto bad;
		first = false;
		if (!strcmp(key, "disks") ? !json_disks(&j, out) : !json_value(&j))
			goto bad;
	}
	j.pos++;
	json_ws(&j);
	if (j.pos != len) {
		*why = "bytes after the JSON object";
		return -1;
	}
	return 0;
bad:
	*why = j.why ? j.why : "malformed JSON";
	return -1;
}

/* ---- RPCI ---- */

static struct guestinfo *guestinfo_get(struct vm *vm)
{
	if (!vm->guestinfo)
		vm->guestinfo = g_new0(struct guestinfo, 1);
	return vm->guestinfo;
}

static void changed(struct vm *vm)
{
	vm->guestinfo->updates++;
	if (vm->notify)
		vm->notify(vm, "guestinfo");
}

static void refuse(struct vm *vm, GString *reply, const char *what, const char *why)
{
	vm_guest_log(vm, "guestinfo: %s refused: %s", what, why);
	g_string_append_printf(reply, "%sInvalid %s: %s", RPCI_FAILURE_PREFIX, what, why);
}

/* A textual value: vmtoolsd sends strlen + 1 bytes, so one trailing NUL goes. */
static bool text_value(const char *data, size_t *len)
{
	if (*len && data[*len - 1] == '\0')
		(*len)--;
	return *len <= GUESTINFO_TEXT_MAX && valid_text(data, *len);
}

static void set_text(struct vm *vm, enum guestinfo_type type, const char *data, size_t len,
		     GString *reply)
{
	struct guestinfo *gi = guestinfo_get(vm);

	if (!text_value(data, &len)) {
		refuse(vm, reply, "guest info value", "control bytes, NUL or too long");
		return;
	}
	if (type == GUESTINFO_UPTIME) {
		for (size_t i = 0; i < len; i++)
			if (!g_ascii_isdigit(data[i]) || len > 19) {
				refuse(vm, reply, "uptime", "not a number");
				return;
			}
	}
	g_free(gi->text[type]);
	gi->text[type] = g_strndup(data, len);
	changed(vm);
	g_string_append(reply, RPCI_SUCCESS_PREFIX);
}

/* A NUL-terminated text field of a fixed-size binary header. */
static char *header_text(const uint8_t *field, size_t size)
{
	const uint8_t *nul = memchr(field, '\0', size);

	if (!nul || !valid_text((const char *)field, (size_t)(nul - field)))
		return NULL;
	return g_strndup((const char *)field, (size_t)(nul - field));
}

/* INFO_OS_DETAILED: HostinfoDetailedDataHeader, then the detailed string. */
static void set_detailed(struct vm *vm, const uint8_t *data, size_t len, GString *reply)
{
	struct guestinfo *gi = guestinfo_get(vm);
	char *short_name, *full_name, *detailed;
	size_t dlen;

	if (len < DETAILED_HEADER_LEN || len - DETAILED_HEADER_LEN > GUESTINFO_TEXT_MAX + 1 ||
	    ((uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
	     (uint32_t)data[3] << 24) != DETAILED_VERSION) {
		refuse(vm, reply, "detailed OS data", "bad header or size");
		return;
	}
	dlen = len - DETAILED_HEADER_LEN;
	short_name = header_text(data + 4, DETAILED_SHORT_LEN);
	full_name = header_text(data + 4 + DETAILED_SHORT_LEN, DETAILED_FULL_LEN);
	detailed = NULL;
	if (text_value((const char *)data + DETAILED_HEADER_LEN, &dlen))
		detailed = g_strndup((const char *)data + DETAILED_HEADER_LEN, dlen);
	if (!short_name || !full_name || !detailed) {
		g_free(short_name);
		g_free(full_name);
		g_free(detailed);
		refuse(vm, reply, "detailed OS data", "a field with control bytes or no end");
		return;
	}
	g_free(gi->detailed);
	gi->detailed = detailed;
	if (*short_name) {
		g_free(gi->text[GUESTINFO_OS_NAME]);
		gi->text[GUESTINFO_OS_NAME] = short_name;
	} else {
		g_free(short_name);
	}
	if (*full_name) {
		g_free(gi->text[GUESTINFO_OS_NAME_FULL]);
		gi->text[GUESTINFO_OS_NAME_FULL] = full_name;
	} else {
		g_free(full_name);
	}
	changed(vm);
	g_string_append(reply, RPCI_SUCCESS_PREFIX);
}

/*
 * A parsed record (why == NULL) replaces the one in *slot; a refused one is
 * freed and the guest told why.
 */
static void replace_record(struct vm *vm, void **slot, void *parsed, const char *why,
			   const char *what, GString *reply)
{
	if (why) {
		g_free(parsed);
		refuse(vm, reply, what, why);
		return;
	}
	g_free(*slot);
	*slot = parsed;
	changed(vm);
	g_string_append(reply, RPCI_SUCCESS_PREFIX);
}

static void set_nics(struct vm *vm, const uint8_t *data, size_t len, GString *reply)
{
	struct guestinfo_nics *nics = g_new(struct guestinfo_nics, 1);
	const char *why = "malformed record";	/* (the parser names what) */

	if (guestinfo_parse_nicinfo(data, len, nics, &why) == 0)
		why = NULL;
	replace_record(vm, (void **)&guestinfo_get(vm)->nics, nics, why, "NIC information", reply);
}

static void set_disks(struct vm *vm, const char *data, size_t len, GString *reply)
{
	struct guestinfo_disks *disks = g_new(struct guestinfo_disks, 1);
	const char *why = "malformed record";	/* (the parser names what) */

	if (len && data[len - 1] == '\0')
		len--;
	if (memchr(data, '\0', len))
		why = "NUL byte in the JSON";
	else if (guestinfo_parse_disks(data, len, disks, &why) == 0)
		why = NULL;
	if (!why && disks->n_dropped)
		vm_guest_log(vm, "guestinfo: %u disks kept, %u more not", disks->n_disks,
			     disks->n_dropped);
	replace_record(vm, (void **)&guestinfo_get(vm)->disks, disks, why, "disk information",
		       reply);
}

/* "SetGuestInfo  <type> <data>": the type, and where its data starts. */
static bool parse_type(const char *msg, size_t len, unsigned int *type, size_t *data)
{
	size_t i = strlen(GUESTINFO_COMMAND), start;

	while (i < len && msg[i] == ' ')
		i++;
	start = i;
	*type = 0;
	while (i < len && g_ascii_isdigit(msg[i]) && i - start < 3)
		*type = *type * 10 + (unsigned int)(msg[i++] - '0');
	if (i == start || i >= len || msg[i] != ' ')
		return false;
	*data = i + 1;
	return true;
}

bool guestinfo_rpci(struct vm *vm, const char *msg, size_t len, GString *reply)
{
	size_t cmd_len = strlen(GUESTINFO_COMMAND), disk_len = strlen(GUESTINFO_DISK_COMMAND);
	unsigned int type;
	size_t at;

	if (len > disk_len && !memcmp(msg, GUESTINFO_DISK_COMMAND " ", disk_len + 1)) {
		set_disks(vm, msg + disk_len + 1, len - disk_len - 1, reply);
		return true;
	}
	if (len <= cmd_len || memcmp(msg, GUESTINFO_COMMAND " ", cmd_len + 1))
		return false;
	if (!parse_type(msg, len, &type, &at)) {
		refuse(vm, reply, "guest info", "expected 'SetGuestInfo  <type> <data>'");
		return true;
	}
	switch (type) {
	case GUESTINFO_DNS_NAME:
	case GUESTINFO_BUILD_NUMBER:
	case GUESTINFO_OS_NAME_FULL:
	case GUESTINFO_OS_NAME:
	case GUESTINFO_UPTIME:
		set_text(vm, type, msg + at, len - at, reply);
		break;
	case GUESTINFO_IPADDRESS_V3:
		set_nics(vm, (const uint8_t *)msg + at, len - at, reply);
		break;
	case GUESTINFO_OS_DETAILED:
		set_detailed(vm, (const uint8_t *)msg + at, len - at, reply);
		break;
	case GUESTINFO_MEMORY:
		/* Nothing shows it; taken so the tools do not resend it. */
		g_string_append(reply, RPCI_SUCCESS_PREFIX);
		break;
	default:
		/*
		 * The older NIC and disk formats: refusing them is what makes the
		 * tools use INFO_IPADDRESS_V3 and SetGuestDiskInfo, as with a
		 * current VMware host.
		 */
		g_string_append_printf(reply, "%sUnsupported guest info type %u",
				       RPCI_FAILURE_PREFIX, type);
		break;
	}
	return true;
}

/* ---- status ---- */

static void status_text(GString *out, const char *key, const char *value)
{
	if (!value)
		return;
	g_string_append_printf(out, "%s=", key);
	vm_append_guest_text(out, value, GUESTINFO_TEXT_MAX, NULL);
	g_string_append_c(out, '\n');
}

void guestinfo_status(struct vm *vm, GString *out)
{
	struct guestinfo *gi = vm->guestinfo;

	if (!gi)
		return;
	status_text(out, "guest.hostname", gi->text[GUESTINFO_DNS_NAME]);
	status_text(out, "guest.os", gi->text[GUESTINFO_OS_NAME]);
	status_text(out, "guest.os.full", gi->text[GUESTINFO_OS_NAME_FULL]);
	status_text(out, "guest.os.detailed", gi->detailed);
	status_text(out, "guest.tools.build", gi->text[GUESTINFO_BUILD_NUMBER]);
	/* INFO_UPTIME is in hundredths of a second. */
	if (gi->text[GUESTINFO_UPTIME])
		g_string_append_printf(out, "guest.uptime=%llu\n",
				       strtoull(gi->text[GUESTINFO_UPTIME], NULL, 10) / 100);
	if (gi->nics) {
		struct guestinfo_nics *n = gi->nics;

		g_string_append_printf(out, "guest.nics=%u\nguest.routes=%u\n", n->n_nics,
				       n->n_routes);
		status_text(out, "guest.dns.hostname", n->dns_hostname[0] ? n->dns_hostname : NULL);
		status_text(out, "guest.dns.domain", n->dns_domain[0] ? n->dns_domain : NULL);
		for (unsigned int i = 0; i < n->n_nics; i++) {
			g_string_append_printf(out, "guest.nic.%u.mac=", i);
			vm_append_guest_text(out, n->nic[i].mac, GUESTINFO_STRING_MAX, NULL);
			g_string_append_printf(out, "\nguest.nic.%u.ip=", i);
			/* Our own inet_ntop text: no escaping needed, comma-separated. */
			for (unsigned int a = 0; a < n->nic[i].n_addrs; a++)
				g_string_append_printf(out, "%s%s", a ? "," : "", n->nic[i].addrs[a]);
			g_string_append_c(out, '\n');
		}
	}
	if (gi->disks) {
		g_string_append_printf(out, "guest.disks=%u\n", gi->disks->n_disks);
		if (gi->disks->n_dropped)
			g_string_append_printf(out, "guest.disks-not-kept=%u\n",
					       gi->disks->n_dropped);
		for (unsigned int i = 0; i < gi->disks->n_disks; i++) {
			struct guestinfo_disk *d = &gi->disks->disk[i];

			g_string_append_printf(out, "guest.disk.%u.name=", i);
			vm_append_guest_text(out, d->name, GUESTINFO_STRING_MAX, NULL);
			g_string_append_printf(out, "\nguest.disk.%u.fstype=", i);
			vm_append_guest_text(out, d->fstype, GUESTINFO_STRING_MAX, NULL);
			g_string_append_printf(out, "\nguest.disk.%u.size=%llu\nguest.disk.%u.free=%llu\n",
					       i, (unsigned long long)d->size,
					       i, (unsigned long long)d->free);
		}
	}
	g_string_append_printf(out, "guest.info-updates=%llu\n", (unsigned long long)gi->updates);
}

void guestinfo_free(struct vm *vm)
{
	struct guestinfo *gi = vm->guestinfo;

	if (!gi)
		return;
	for (int i = 0; i < GUESTINFO_TEXT_TYPES; i++)
		g_free(gi->text[i]);
	g_free(gi->detailed);
	g_free(gi->nics);
	g_free(gi->disks);
	g_free(gi);
	vm->guestinfo = NULL;
}
