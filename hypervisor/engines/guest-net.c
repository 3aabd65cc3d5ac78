// SPDX-License-Identifier: MIT
/*
 * The guest's veth pair, by rtnetlink (see guest-net.h).  Runs in the
 * guest's pid 1 right after fork: messages are built in stack buffers and
 * errors written with write(2), as the rest of the sandbox's child does.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "guest-net.h"
#include "hypervisor/host-lacks.h"

#define MSG_SIZE	512

struct nl_msg {
	struct nlmsghdr *h;
	char buf[MSG_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
};

static void msg_init(struct nl_msg *m, uint16_t type, uint16_t flags, const void *body,
		     size_t len)
{
	memset(m->buf, 0, sizeof(m->buf));
	m->h = (struct nlmsghdr *)m->buf;
	m->h->nlmsg_type = type;
	m->h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	m->h->nlmsg_len = (uint32_t)NLMSG_LENGTH(len);
	memcpy(NLMSG_DATA(m->h), body, len);
}

/* An attribute at the end of the message (our buffers are sized for what we send). */
static struct rtattr *attr(struct nl_msg *m, uint16_t type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)(m->buf + NLMSG_ALIGN(m->h->nlmsg_len));

	a->rta_type = type;
	a->rta_len = (uint16_t)RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(a), data, len);
	m->h->nlmsg_len = (uint32_t)(NLMSG_ALIGN(m->h->nlmsg_len) + RTA_ALIGN(a->rta_len));
	return a;
}

/* A nested attribute ends where the message ends now. */
static void nest_end(struct nl_msg *m, struct rtattr *nest)
{
	nest->rta_len = (uint16_t)(m->buf + m->h->nlmsg_len - (char *)nest);
}

/* Send one request and read its acknowledgement: 0 or a negative errno. */
static int talk(int fd, struct nl_msg *m)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	char reply[MSG_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct nlmsghdr *h = (struct nlmsghdr *)reply;
	ssize_t n;

	if (sendto(fd, m->buf, m->h->nlmsg_len, 0, (struct sockaddr *)&kernel,
		   sizeof(kernel)) < 0)
		return -errno;
	n = recv(fd, reply, sizeof(reply), 0);
	if (n < 0)
		return -errno;
	if (!NLMSG_OK(h, (size_t)n) || h->nlmsg_type != NLMSG_ERROR ||
	    h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr)))
		return -EPROTO;
	return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
}

/* 0 or a negative errno; *why is set where the reason is not the errno's text. */
static int create_pair(int fd, const char **why)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	struct nl_msg m;
	struct rtattr *linkinfo, *data, *peer;

	/* A host without veth, for tests: as if the kernel refused the pair. */
	if (host_lacks(HOST_VETH)) {
		*why = HOST_LACKS_WHY;
		return -EOPNOTSUPP;
	}
	msg_init(&m, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof(ifi));
	attr(&m, IFLA_IFNAME, GUEST_NET_IFNAME, sizeof(GUEST_NET_IFNAME));
	linkinfo = attr(&m, IFLA_LINKINFO, NULL, 0);
	attr(&m, IFLA_INFO_KIND, "veth", sizeof("veth"));
	data = attr(&m, IFLA_INFO_DATA, NULL, 0);
	/* VETH_INFO_PEER holds an ifinfomsg, then the peer's attributes. */
	peer = attr(&m, VETH_INFO_PEER, &ifi, sizeof(ifi));
	attr(&m, IFLA_IFNAME, GUEST_NET_PEER, sizeof(GUEST_NET_PEER));
	nest_end(&m, peer);
	nest_end(&m, data);
	nest_end(&m, linkinfo);
	return talk(fd, &m);
}

static int link_up(int fd, const char *name)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_flags = IFF_UP,
				 .ifi_change = IFF_UP };
	struct nl_msg m;

	ifi.ifi_index = (int)if_nametoindex(name);
	if (!ifi.ifi_index)
		return -errno;
	msg_init(&m, RTM_NEWLINK, 0, &ifi, sizeof(ifi));
	return talk(fd, &m);
}

static int add_address(int fd)
{
	struct ifaddrmsg ifa = { .ifa_family = AF_INET, .ifa_prefixlen = GUEST_NET_PREFIX,
				 .ifa_scope = RT_SCOPE_UNIVERSE };
	struct in_addr a, brd;
	struct nl_msg m;

	ifa.ifa_index = if_nametoindex(GUEST_NET_IFNAME);
	if (!ifa.ifa_index)
		return -errno;
	inet_pton(AF_INET, GUEST_NET_ADDRESS, &a);
	brd.s_addr = a.s_addr | htonl((1u << (32 - GUEST_NET_PREFIX)) - 1);
	msg_init(&m, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &ifa, sizeof(ifa));
	attr(&m, IFA_LOCAL, &a, sizeof(a));
	attr(&m, IFA_ADDRESS, &a, sizeof(a));
	attr(&m, IFA_BROADCAST, &brd, sizeof(brd));
	return talk(fd, &m);
}

static void say_failed(const char *step, const char *why)
{
	const char *parts[] = { "porthole-hv: guest network: ", step, ": ", why,
				"; the guest has loopback only\n" };

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		if (parts[i] && write(STDERR_FILENO, parts[i], strlen(parts[i])) < 0)
			return;
}

int guest_net_setup(void)
{
	struct sockaddr_nl self = { .nl_family = AF_NETLINK };
	const char *step = "netlink socket";
	const char *why = NULL;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	int err = fd < 0 ? -errno : 0;

	if (!err && bind(fd, (struct sockaddr *)&self, sizeof(self)))
		err = -errno;
	if (!err && (err = create_pair(fd, &why)))
		step = "creating the veth pair " GUEST_NET_IFNAME;
	if (!err && (err = add_address(fd)))
		step = "adding " GUEST_NET_ADDRESS " to " GUEST_NET_IFNAME;
	if (!err && (err = link_up(fd, GUEST_NET_PEER)))
		step = "bringing up " GUEST_NET_PEER;
	if (!err && (err = link_up(fd, GUEST_NET_IFNAME)))
		step = "bringing up " GUEST_NET_IFNAME;
	if (fd >= 0)
		close(fd);
	if (err)
		say_failed(step, why ? why : strerrordesc_np(-err));
	return err;
}
