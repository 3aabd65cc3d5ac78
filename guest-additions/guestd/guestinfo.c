// SPDX-License-Identifier: MIT
/*
 * Guest information for the host, as open-vm-tools' guestInfo plugin sends
 * it (so the host knows the same with either tools): "SetGuestInfo  <type>
 * <value>" for the host name, OS names, tools build and uptime, an XDR
 * NicInfoV3 record (lib/guestRpc/nicinfo.x) with every interface and its
 * addresses, loopback included, and "SetGuestDiskInfo <json>" with each
 * mounted filesystem's size and free space.  Sent when the host registers
 * the tools and every GUESTINFO_PERIOD_S after.  Kept within the limits the
 * hypervisor enforces (hypervisor/devices/guestinfo.h), or it refuses the
 * whole record.
 */
#define G_LOG_DOMAIN "porthole-guestd"

#include <errno.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <mntent.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "backdoor/guestinfo.h"
#include "backdoor/msgchan.h"
#include "guestd.h"


static void send_rpci(const char *what, const void *msg, size_t len)
{
	char *reply = NULL;
	int ret = rpci_send_one(msg, len, &reply, NULL);

	if (ret != 1)
		g_debug("guest info %s: %s", what, ret == 0 ? reply : "channel error");
	free(reply);
}

static void send_text(enum guestinfo_type type, const char *value)
{
	g_autofree char *msg = g_strdup_printf(GUESTINFO_COMMAND "  %d %s", type, value);

	send_rpci("text", msg, strlen(msg));
}

/* ---- OS names from /etc/os-release ---- */

static char *os_release(const char *key)
{
	g_autofree char *text = NULL;
	g_auto(GStrv) lines = NULL;
	size_t klen = strlen(key);

	if (!g_file_get_contents("/etc/os-release", &text, NULL, NULL) &&
	    !g_file_get_contents("/usr/lib/os-release", &text, NULL, NULL))
		return NULL;
	lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l; l++) {
		if (strncmp(*l, key, klen) || (*l)[klen] != '=')
			continue;
		/* KEY="value" or KEY=value; shell quoting beyond that is not used there. */
		char *v = g_strstrip(g_strdup(*l + klen + 1));
		size_t n = strlen(v);

		if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
			memmove(v, v + 1, n - 2);
			v[n - 2] = '\0';
		}
		return v;
	}
	return NULL;
}

/* Only printable bytes reach the host as text (it refuses anything else). */
static char *printable(char *s)
{
	for (char *p = s; p && *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7F)
			*p = '?';
	return s;
}

static void send_os(void)
{
	g_autofree char *pretty = os_release("PRETTY_NAME");
	g_autofree char *id = os_release("ID");
	g_autofree char *version = os_release("VERSION_ID");
	g_autofree char *short_name = NULL;

	/* vmtoolsd's short names look like "debian12-64". */
	short_name = g_strdup_printf("%s%s-%d", id ? id : "linux", version ? version : "",
				     (int)(sizeof(void *) * 8));
	send_text(GUESTINFO_OS_NAME, printable(short_name));
	send_text(GUESTINFO_OS_NAME_FULL, printable(pretty ? pretty : short_name));
}

/* ---- NICs: the XDR GuestNicProto, version 3 ---- */

struct nic {
	char name[IF_NAMESIZE + 1];
	char mac[18];
	GByteArray *addrs;	/* IpAddressEntry records */
	unsigned int n_addrs;
};

static struct nic *find_nic(struct nic *nics, unsigned int *n, const char *name)
{
	for (unsigned int i = 0; i < *n; i++)
		if (!strcmp(nics[i].name, name))
			return &nics[i];
	if (*n >= GUESTINFO_NICS_MAX)
		return NULL;
	memset(&nics[*n], 0, sizeof(nics[*n]));
	g_strlcpy(nics[*n].name, name, sizeof(nics[*n].name));
	g_strlcpy(nics[*n].mac, "00:00:00:00:00:00", sizeof(nics[*n].mac));
	nics[*n].addrs = g_byte_array_new();
	return &nics[(*n)++];
}

static unsigned int prefix_len(const struct sockaddr *mask)
{
	const uint8_t *p;
	size_t n;
	unsigned int bits = 0;

	if (!mask)
		return 0;
	if (mask->sa_family == AF_INET) {
		p = (const uint8_t *)&((const struct sockaddr_in *)mask)->sin_addr;
		n = 4;
	} else {
		p = (const uint8_t *)&((const struct sockaddr_in6 *)mask)->sin6_addr;
		n = 16;
	}
	for (size_t i = 0; i < n; i++)
		bits += (unsigned int)__builtin_popcount(p[i]);
	return bits;
}

static void add_address(struct nic *nic, const struct ifaddrs *a)
{
	GByteArray *b = nic->addrs;

	if (nic->n_addrs >= GUESTINFO_ADDRS_MAX)
		return;
	if (a->ifa_addr->sa_family == AF_INET) {
		guestinfo_xdr_u32(b, 1);		/* IAT_IPV4 */
		guestinfo_xdr_bytes(b, &((struct sockaddr_in *)a->ifa_addr)->sin_addr, 4);
	} else {
		guestinfo_xdr_u32(b, 2);		/* IAT_IPV6 */
		guestinfo_xdr_bytes(b, &((struct sockaddr_in6 *)a->ifa_addr)->sin6_addr, 16);
	}
	guestinfo_xdr_u32(b, prefix_len(a->ifa_netmask));
	guestinfo_xdr_u32(b, 0);			/* no origin */
	guestinfo_xdr_u32(b, 0);			/* no status */
	nic->n_addrs++;
}

static void send_nics(void)
{
	struct ifaddrs *list;
	struct nic nics[GUESTINFO_NICS_MAX];
	unsigned int n = 0;
	g_autoptr(GByteArray) msg = g_byte_array_new();
	static const char head[] = GUESTINFO_COMMAND "  10 ";	/* GUESTINFO_IPADDRESS_V3 */

	if (getifaddrs(&list)) {
		g_debug("getifaddrs: %s", g_strerror(errno));
		return;
	}
	for (struct ifaddrs *a = list; a; a = a->ifa_next) {
		struct nic *nic;
		int family = a->ifa_addr ? a->ifa_addr->sa_family : -1;

		if (family != AF_INET && family != AF_INET6 && family != AF_PACKET)
			continue;
		nic = find_nic(nics, &n, a->ifa_name);
		if (!nic)
			continue;
		if (family == AF_PACKET) {
			const struct sockaddr_ll *ll = (const struct sockaddr_ll *)a->ifa_addr;

			if (ll->sll_halen == 6)
				snprintf(nic->mac, sizeof(nic->mac), "%02x:%02x:%02x:%02x:%02x:%02x",
					 ll->sll_addr[0], ll->sll_addr[1], ll->sll_addr[2],
					 ll->sll_addr[3], ll->sll_addr[4], ll->sll_addr[5]);
		} else {
			add_address(nic, a);
		}
	}
	freeifaddrs(list);

	g_byte_array_append(msg, (const uint8_t *)head, sizeof(head) - 1);
	guestinfo_xdr_u32(msg, 3);			/* NIC_INFO_V3 */
	guestinfo_xdr_u32(msg, 1);			/* NicInfoV3 present */
	guestinfo_xdr_u32(msg, n);
	for (unsigned int i = 0; i < n; i++) {
		guestinfo_xdr_bytes(msg, nics[i].mac, (uint32_t)strlen(nics[i].mac));
		guestinfo_xdr_u32(msg, nics[i].n_addrs);
		g_byte_array_append(msg, nics[i].addrs->data, nics[i].addrs->len);
		for (int t = 0; t < 4; t++)	/* no DNS, WINS, DHCPv4, DHCPv6 */
			guestinfo_xdr_u32(msg, 0);
		g_byte_array_free(nics[i].addrs, TRUE);
	}
	guestinfo_xdr_u32(msg, 0);			/* no routes */
	for (int t = 0; t < 4; t++)		/* no DNS, WINS, DHCPv4, DHCPv6 */
		guestinfo_xdr_u32(msg, 0);
	send_rpci("NICs", msg->data, msg->len);
}

/* ---- disks: each mounted filesystem with blocks ---- */

static bool json_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == '"' || *s == '\\' || (unsigned char)*s >= 0x7F)
			return false;
	return true;
}

static void send_disks(void)
{
	g_autoptr(GString) msg = g_string_new(GUESTINFO_DISK_COMMAND " {\n\"version\":\"1\",\n\"disks\":[\n");
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	FILE *f = setmntent("/proc/self/mounts", "r");
	struct mntent *m;
	unsigned int n = 0;

	if (!f)
		return;
	while ((m = getmntent(f)) && n < GUESTINFO_DISKS_MAX) {
		struct statvfs sv;
		struct stat st;
		g_autofree char *name = NULL;

		/*
		 * Pseudo filesystems have no blocks; a path is reported once; a
		 * file bind-mounted over another (a device node) is no disk.
		 */
		if (stat(m->mnt_dir, &st) || !S_ISDIR(st.st_mode) ||
		    statvfs(m->mnt_dir, &sv) || sv.f_blocks == 0 || !json_safe(m->mnt_type) ||
		    strlen(m->mnt_dir) > 255 || g_hash_table_contains(seen, m->mnt_dir) ||
		    !strcmp(m->mnt_type, "tmpfs") || !strcmp(m->mnt_type, "devtmpfs"))
			continue;
		g_hash_table_add(seen, g_strdup(m->mnt_dir));
		/* Base64 names, as open-vm-tools sends them (any byte survives JSON). */
		name = g_base64_encode((const guchar *)m->mnt_dir, strlen(m->mnt_dir));
		g_string_append_printf(msg, "%s{\"name\":\"%s\",\"free\":\"%llu\",\"size\":\"%llu\","
				       "\"fstype\":\"%s\"}", n ? ",\n" : "", name,
				       (unsigned long long)sv.f_bavail * sv.f_frsize,
				       (unsigned long long)sv.f_blocks * sv.f_frsize, m->mnt_type);
		n++;
	}
	endmntent(f);
	g_string_append(msg, "\n]}");
	send_rpci("disks", msg->str, msg->len);
}

void guestinfo_report(void)
{
	char host[256] = "";
	g_autofree char *uptime_text = NULL;
	g_autofree char *build = g_strdup_printf("%s %s", GUESTD_NAME, PORTHOLE_VERSION);

	if (gethostname(host, sizeof(host) - 1) == 0 && host[0])
		send_text(GUESTINFO_DNS_NAME, printable(host));
	send_text(GUESTINFO_BUILD_NUMBER, build);
	send_os();
	/* INFO_UPTIME: hundredths of a second since boot. */
	if (g_file_get_contents("/proc/uptime", &uptime_text, NULL, NULL)) {
		g_autofree char *hundredths = g_strdup_printf("%llu",
			(unsigned long long)(g_ascii_strtod(uptime_text, NULL) * 100));

		send_text(GUESTINFO_UPTIME, hundredths);
	}
	send_nics();
	send_disks();
}

static gboolean on_period(gpointer data)
{
	guestinfo_report();
	return G_SOURCE_CONTINUE;
}

guint guestinfo_start(void)
{
	return g_timeout_add_seconds(GUESTINFO_PERIOD_S, on_period, NULL);
}
