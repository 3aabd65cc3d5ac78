// SPDX-License-Identifier: MIT
/*
 * Every VMCI validation failure, from a real guest process: malformed
 * datagrams, queue pairs with bad page lists (none, too many, outside RAM,
 * in the device hole, someone else's, duplicated, already shared), bad
 * handles and doorbells, another process touching our queue pair, and a
 * send from an unmapped buffer.  Prints TAP; exits 0 when every call got
 * the expected clean error.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest-additions/lib/vmci-guest.h"

static int n_checks, n_failed;

static void check(const char *what, int64_t got, int64_t expect)
{
	n_checks++;
	if (got == expect) {
		printf("ok %d - %s (%lld)\n", n_checks, what, (long long)got);
	} else {
		n_failed++;
		printf("not ok %d - %s: expected %lld, got %lld\n", n_checks, what,
		       (long long)expect, (long long)got);
	}
}

/* QUEUEPAIR_ALLOC with an explicit page list; `n_sent` PPNs really follow. */
static int64_t qp_alloc(uint32_t rid, uint64_t psize, uint64_t csize, uint64_t num_ppns,
			const uint64_t *ppns, uint64_t n_sent)
{
	size_t len = sizeof(struct vmci_qp_alloc) + n_sent * 8;
	uint8_t *buf = calloc(1, len);
	struct vmci_qp_alloc a = {
		.handle = { VMCI_GUEST_CONTEXT_ID, rid }, .peer = VMCI_HOST_CONTEXT_ID,
		.produce_size = psize, .consume_size = csize, .num_ppns = num_ppns,
	};
	int64_t r;

	memcpy(buf, &a, sizeof(a));
	memcpy(buf + sizeof(a), ppns, n_sent * 8);
	r = phg_vmci_hv(VMCI_QUEUEPAIR_ALLOC, buf, len);
	free(buf);
	return r;
}

/* Run `fn` in a child process; its exit code, or 128 + the signal that killed it. */
static int in_child(void (*fn)(void *), void *arg)
{
	int st;
	pid_t pid = fork();

	if (pid == 0) {
		fn(arg);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
}

static void child_detach(void *arg)
{
	struct vmci_handle *h = arg;

	_exit(phg_vmci_hv(VMCI_QUEUEPAIR_DETACH, h, sizeof(*h)) == VMCI_ERROR_NO_ACCESS ? 0 : 1);
}

static void child_free_pages(void *arg)
{
	uint64_t *a = arg;

	_exit(phg_vmci_hv(VMCI_PH_PAGES_FREE, a, 16) == VMCI_ERROR_INVALID_PRIV ? 0 : 1);
}

static void child_send_unmapped(void *arg)
{
	signal(SIGSEGV, SIG_DFL);	/* not a sanitizer's handler: the plain fault */
	phg_vmci_send_raw((const void *)(uintptr_t)0x10000, 64);
	_exit(0);	/* reached only if the hypervisor read nothing and said nothing */
}

/* A bare connection to the device socket: the fd once the hello came, else -1. */
static int raw_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = VMCI_GUEST_SOCKET };
	struct vmci_guest_hello hello;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    recv(fd, &hello, sizeof(hello), 0) != sizeof(hello)) {
		close(fd);
		return -1;	/* refused: the hypervisor closed it without a hello */
	}
	return fd;
}

static void child_connects(void *arg)
{
	struct phg_vmci v;

	_exit(phg_vmci_open(&v) ? 1 : 0);
}

static void child_queue_pair(void *arg)
{
	uint64_t count = 4, p[4];
	int64_t first = phg_vmci_hv(VMCI_PH_PAGES_ALLOC, &count, 8);

	if (first < 0)
		_exit(2);
	for (int i = 0; i < 4; i++)
		p[i] = (uint64_t)first + i;
	_exit(qp_alloc(9999, 4096, 4096, 4, p, 4) == VMCI_SUCCESS_QUEUEPAIR_CREATE ? 0 : 1);
}

static void child_doorbell(void *arg)
{
	struct vmci_doorbell_link l = { { VMCI_GUEST_CONTEXT_ID, 99999 }, 1 };

	_exit(phg_vmci_hv(VMCI_DOORBELL_LINK, &l, sizeof(l)) == VMCI_SUCCESS ? 0 : 1);
}

static void child_dg_map(void *arg)
{
	_exit(phg_vmci_map(99999) == VMCI_SUCCESS ? 0 : 1);
}

/*
 * vmci-hostile --hog: one process takes as many device connections, queue
 * pairs, doorbells and datagram maps as it can get; after each, a second
 * process must still get one.  (One process used to be able to take the
 * whole table of each.)
 */
static int hog(void)
{
	static int fds[300];
	int conns = 0, qps = 0, bells = 0, maps = 0;
	uint64_t count = 4 * 64, p[4];
	int64_t first;

	/* Each phase stops at the first refusal: one log line each, not a flood. */
	while (conns < 300 && (fds[conns] = raw_connect()) >= 0)
		conns++;
	printf("hog: %d device connections\n", conns);
	check("one process holds connections, but not all 256", conns >= 1 && conns < 256, 1);
	check("another process still connects", in_child(child_connects, NULL), 0);
	while (conns)
		close(fds[--conns]);

	first = phg_vmci_hv(VMCI_PH_PAGES_ALLOC, &count, 8);
	check("pages for 64 queue pairs", first > 0, 1);
	for (int i = 0; i < 64 && first > 0; i++, qps++) {
		for (int j = 0; j < 4; j++)
			p[j] = (uint64_t)first + 4 * i + j;
		if (qp_alloc(5000 + i, 4096, 4096, 4, p, 4) != VMCI_SUCCESS_QUEUEPAIR_CREATE)
			break;
	}
	printf("hog: %d queue pairs\n", qps);
	check("one process creates queue pairs, but not all 64", qps >= 1 && qps < 64, 1);
	check("another process still creates a queue pair", in_child(child_queue_pair, NULL), 0);

	for (uint32_t i = 0; i < 1024; i++, bells++) {
		struct vmci_doorbell_link l = { { VMCI_GUEST_CONTEXT_ID, 10000 + i }, i % 4096 };

		if (phg_vmci_hv(VMCI_DOORBELL_LINK, &l, sizeof(l)) != VMCI_SUCCESS)
			break;
	}
	printf("hog: %d doorbells\n", bells);
	check("one process links doorbells, but not all 1024", bells >= 1 && bells < 1024, 1);
	check("another process still links a doorbell", in_child(child_doorbell, NULL), 0);

	while (maps < 1024 && phg_vmci_map(20000 + maps) == VMCI_SUCCESS)
		maps++;
	printf("hog: %d datagram maps\n", maps);
	check("one process maps datagram resources, but not all 1024", maps >= 1 && maps < 1024, 1);
	check("another process still maps one", in_child(child_dg_map, NULL), 0);
	printf("1..%d\n", n_checks);
	return n_failed ? 1 : 0;	/* what it holds goes when it exits */
}

/*
 * The mailbox (backdoor/vmci.h): page lists it refuses, pages of another
 * use, sends that lie, and freeing its pages.  Run in a forked child: the
 * child has no mailbox of the library's (that is its parent's), so every
 * call below takes the ports and the mailbox is the one set here.
 */
struct mailbox_args {
	struct phg_vmci *v;
	uint64_t ram_pages;
	int fd;			/* the child's counts go back on it */
};

static void mailbox_outl(uint32_t len)
{
	uint16_t port = VMCI_PORT_BASE + VMCI_REG_PH_MAILBOX_SEND;

	__asm__ __volatile__("outl %0, %1" : : "a"(len), "Nd"(port) : "memory");
}

static void mailbox_checks(void *arg)
{
	struct mailbox_args *a = arg;
	struct phg_vmci *v = a->v;
	uint64_t p[VMCI_PH_MAILBOX_MAX_PAGES + 1], q[4], nb[2];
	struct vmci_ph_mailbox_hdr *mh;
	struct vmci_dg_hdr *dg;
	void *map, *qmap;
	int64_t first, qfirst;
	int counts[2];

	check("the device offers the mailbox", !!(phg_vmci_inl(VMCI_REG_CAPS) &
						  VMCI_CAPS_PH_MAILBOX), 1);
	first = phg_pages_alloc(v, VMCI_PH_MAILBOX_MAX_PAGES + 1, &map);
	qfirst = phg_pages_alloc(v, 4, &qmap);
	check("pages for mailboxes", first > 0 && qfirst > 0, 1);
	for (unsigned int i = 0; i <= VMCI_PH_MAILBOX_MAX_PAGES; i++)
		p[i] = (uint64_t)first + i;
	for (unsigned int i = 0; i < 4; i++)
		q[i] = (uint64_t)qfirst + i;
	check("mailbox of one page (no ring)", phg_vmci_hv(VMCI_PH_MAILBOX_SET, p, 8),
	      VMCI_ERROR_INVALID_ARGS);
	check("mailbox of too many pages", phg_vmci_hv(VMCI_PH_MAILBOX_SET, p, sizeof(p)),
	      VMCI_ERROR_INVALID_ARGS);
	check("mailbox list not whole page numbers", phg_vmci_hv(VMCI_PH_MAILBOX_SET, p, 12),
	      VMCI_ERROR_INVALID_ARGS);
	p[1] = a->ram_pages - 1;
	check("mailbox page never allocated to us", phg_vmci_hv(VMCI_PH_MAILBOX_SET, p, 16),
	      VMCI_ERROR_INVALID_PRIV);
	p[1] = 0xB8;
	check("mailbox page in the device hole", phg_vmci_hv(VMCI_PH_MAILBOX_SET, p, 16),
	      VMCI_ERROR_NO_ACCESS);
	p[1] = (uint64_t)first;
	check("mailbox page twice", phg_vmci_hv(VMCI_PH_MAILBOX_SET, p, 16),
	      VMCI_ERROR_PAGE_ALREADY_SHARED);
	p[1] = (uint64_t)first + 1;
	check("queue pair for the overlap checks", qp_alloc(52, 4096, 4096, 4, q, 4),
	      VMCI_SUCCESS_QUEUEPAIR_CREATE);
	nb[0] = (uint64_t)first;
	nb[1] = q[1];
	check("mailbox over a queue pair's page", phg_vmci_hv(VMCI_PH_MAILBOX_SET, nb, 16),
	      VMCI_ERROR_REGION_ALREADY_SHARED);
	check("a doorbell bitmap of our own", phg_vmci_hv(VMCI_SET_NOTIFY_BITMAP, &p[2], 8),
	      VMCI_SUCCESS);
	nb[1] = p[2];
	check("mailbox over the doorbell bitmap", phg_vmci_hv(VMCI_PH_MAILBOX_SET, nb, 16),
	      VMCI_ERROR_REGION_ALREADY_SHARED);
	check("a mailbox of two pages", phg_vmci_hv(VMCI_PH_MAILBOX_SET, p, 16), VMCI_SUCCESS);
	check("its pages cannot become a queue pair's", qp_alloc(53, 4096, 4096, 4, p, 4),
	      VMCI_ERROR_REGION_ALREADY_SHARED);
	check("nor the doorbell bitmap", phg_vmci_hv(VMCI_SET_NOTIFY_BITMAP, p, 8),
	      VMCI_ERROR_NO_ACCESS);
	nb[0] = q[0];
	nb[1] = p[3];
	check("a refused mailbox list leaves the mailbox as it was",
	      phg_vmci_hv(VMCI_PH_MAILBOX_SET, nb, 16), VMCI_ERROR_REGION_ALREADY_SHARED);

	/* Sends through it. */
	mh = map;
	dg = (void *)((uint8_t *)map + VMCI_PH_MAILBOX_TX_OFFSET);
	*dg = (struct vmci_dg_hdr){ { 0, VMCI_GET_CONTEXT_ID }, { VMCI_INVALID_ID, 0 }, 0 };
	mailbox_outl(sizeof(*dg));
	check("a mailbox send, its result in the header", mh->tx_result, VMCI_GUEST_CONTEXT_ID);
	check("... and in RESULT_LOW", phg_vmci_inl(VMCI_REG_RESULT_LOW), VMCI_GUEST_CONTEXT_ID);
	dg->payload_size = 100;
	mailbox_outl(sizeof(*dg));
	check("a mailbox datagram whose header lies about its size", mh->tx_result,
	      VMCI_ERROR_INVALID_ARGS);
	mailbox_outl(VMCI_PH_MAILBOX_TX_MAX + 1);
	check("a mailbox datagram larger than its page", mh->tx_result,
	      VMCI_ERROR_PAYLOAD_TOO_LARGE);
	mailbox_outl(3);
	check("a mailbox datagram shorter than a header", mh->tx_result, VMCI_ERROR_INVALID_ARGS);
	check("freeing a mailbox's pages turns it off",
	      phg_pages_free(v, (uint64_t)first, VMCI_PH_MAILBOX_MAX_PAGES + 1, map),
	      VMCI_SUCCESS);
	mailbox_outl(sizeof(*dg));
	check("a mailbox send without a mailbox", (int32_t)phg_vmci_inl(VMCI_REG_RESULT_LOW),
	      VMCI_ERROR_INVALID_ARGS);
	phg_vmci_hv(VMCI_QUEUEPAIR_DETACH, &(struct vmci_handle){ VMCI_GUEST_CONTEXT_ID, 52 }, 8);
	check("the queue pair's pages go back", phg_pages_free(v, (uint64_t)qfirst, 4, qmap),
	      VMCI_SUCCESS);
	counts[0] = n_checks;
	counts[1] = n_failed;
	_exit(write(a->fd, counts, sizeof(counts)) == sizeof(counts) ? 0 : 1);
}

int main(int argc, char **argv)
{
	struct phg_vmci v;
	uint64_t ram_pages, p[8], big;
	void *map, *map2;
	int64_t first, other;
	struct vmci_handle h;
	uint8_t raw[64];
	struct vmci_dg_hdr *hdr = (void *)raw;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && !strcmp(argv[1], "--hog"))
		return hog();
	if (phg_vmci_open(&v)) {
		printf("not ok 1 - no VMCI device\n1..1\n");
		return 1;
	}
	ram_pages = v.ram_size / VMCI_PAGE_SIZE;
	first = phg_pages_alloc(&v, 4, &map);
	other = phg_pages_alloc(&v, 4, &map2);
	check("pages allocated", first > 0 && other > 0, 1);

	/*
	 * A refused string instruction completes (RCX 0), as on a port that
	 * takes no data: `rep outsb` on DATA_IN, the wrong register, used to
	 * be executed again forever.
	 */
	{
		static uint8_t junk[64];
		const uint8_t *src = junk;
		uint64_t left = sizeof(junk);
		uint16_t port = VMCI_PORT_BASE + VMCI_REG_DATA_IN;

		__asm__ __volatile__("cld; rep outsb" : "+S"(src), "+c"(left) : "d"(port) : "memory");
		check("rep outsb on DATA_IN is refused and completes (RCX left)", (int64_t)left, 0);
		check("... RSI past the data", src == junk + sizeof(junk), 1);
	}

	/* Datagram framing. */
	memset(raw, 0, sizeof(raw));
	*hdr = (struct vmci_dg_hdr){ { 0, VMCI_GET_CONTEXT_ID }, { VMCI_INVALID_ID, 0 }, 100 };
	check("header says 100 payload bytes, 40 sent", phg_vmci_send_raw(raw, 64),
	      VMCI_ERROR_INVALID_ARGS);
	check("datagram shorter than a header", phg_vmci_send_raw(raw, 10),
	      VMCI_ERROR_INVALID_ARGS);
	*hdr = (struct vmci_dg_hdr){ { 0, VMCI_GET_CONTEXT_ID }, { 77, 0 }, 0 };
	check("forged source context", phg_vmci_send_raw(raw, 24), VMCI_ERROR_NO_ACCESS);
	check("unknown hypervisor resource", phg_vmci_hv(9999, NULL, 0),
	      VMCI_ERROR_INVALID_RESOURCE);
	check("datagram to an unbound host resource",
	      phg_vmci_send(&v, (struct vmci_handle){ VMCI_HOST_CONTEXT_ID, 4242 }, 1024, "x", 1),
	      VMCI_ERROR_DST_UNREACHABLE);
	check("datagram to another VM's context",
	      phg_vmci_send(&v, (struct vmci_handle){ 77, 4242 }, 1024, "x", 1),
	      VMCI_ERROR_DST_UNREACHABLE);
	big = VMCI_MAX_DG_PAYLOAD + 1;
	{
		uint8_t *b = calloc(1, sizeof(struct vmci_dg_hdr) + big);

		check("routable datagram over the payload bound",
		      phg_vmci_send(&v, (struct vmci_handle){ VMCI_HOST_CONTEXT_ID, 4242 }, 1024,
				    b, big), VMCI_ERROR_PAYLOAD_TOO_LARGE);
		free(b);
	}
	check("the context id", phg_vmci_hv(VMCI_GET_CONTEXT_ID, NULL, 0), VMCI_GUEST_CONTEXT_ID);
	{
		uint32_t q[3] = { 1, 0, VMCI_GET_CONTEXT_ID };

		check("resources query for GET_CONTEXT_ID answers 1 (Linux probe)",
		      phg_vmci_hv(VMCI_RESOURCES_QUERY, q, sizeof(q)), 1);
	}

	/* Queue-pair page lists. */
	p[0] = (uint64_t)first;
	p[1] = (uint64_t)first + 1;
	p[2] = (uint64_t)first + 2;
	p[3] = (uint64_t)first + 3;
	check("queue pair with zero pages and sizes", qp_alloc(50, 0, 0, 0, p, 0),
	      VMCI_ERROR_INVALID_ARGS);
	check("page count that does not match the sizes", qp_alloc(50, 4096, 4096, 3, p, 3),
	      VMCI_ERROR_INVALID_ARGS);
	check("more pages than a queue pair may have",
	      qp_alloc(50, VMCI_QP_MAX_QUEUE_SIZE, VMCI_QP_MAX_QUEUE_SIZE + 4096,
		       VMCI_QP_MAX_PPNS + 1, p, 0), VMCI_ERROR_NO_RESOURCES);
	p[3] = ram_pages;
	check("page outside guest RAM", qp_alloc(50, 4096, 4096, 4, p, 4),
	      VMCI_ERROR_CANNOT_SHARE_PAGE);
	p[3] = 0xB8;
	check("page in the device hole (0xB8000)", qp_alloc(50, 4096, 4096, 4, p, 4),
	      VMCI_ERROR_NO_ACCESS);
	p[3] = ram_pages - 1;
	check("page never allocated to us", qp_alloc(50, 4096, 4096, 4, p, 4),
	      VMCI_ERROR_INVALID_PRIV);
	p[3] = (uint64_t)first + 1;
	check("duplicate page", qp_alloc(50, 4096, 4096, 4, p, 4),
	      VMCI_ERROR_PAGE_ALREADY_SHARED);
	p[3] = (uint64_t)first + 3;
	check("valid queue pair", qp_alloc(50, 4096, 4096, 4, p, 4),
	      VMCI_SUCCESS_QUEUEPAIR_CREATE);
	check("same handle again", qp_alloc(50, 4096, 4096, 4, p, 4), VMCI_ERROR_ALREADY_EXISTS);
	p[0] = (uint64_t)other;
	p[1] = (uint64_t)other + 1;
	p[2] = (uint64_t)other + 2;
	p[3] = (uint64_t)first + 2;
	check("page already in another queue pair", qp_alloc(51, 4096, 4096, 4, p, 4),
	      VMCI_ERROR_REGION_ALREADY_SHARED);
	{
		uint64_t a[2] = { (uint64_t)first, 4 };

		check("freeing pages still in a queue pair",
		      phg_vmci_hv(VMCI_PH_PAGES_FREE, a, sizeof(a)),
		      VMCI_ERROR_REGION_ALREADY_SHARED);
		check("another process frees our pages", in_child(child_free_pages, a), 0);
	}
	h = (struct vmci_handle){ VMCI_GUEST_CONTEXT_ID, 50 };
	check("another process detaches our queue pair", in_child(child_detach, &h), 0);
	check("detach", phg_vmci_hv(VMCI_QUEUEPAIR_DETACH, &h, sizeof(h)), VMCI_SUCCESS);
	check("detach again", phg_vmci_hv(VMCI_QUEUEPAIR_DETACH, &h, sizeof(h)),
	      VMCI_ERROR_NOT_FOUND);

	/* Pages and doorbells. */
	big = 0;
	check("zero pages", phg_vmci_hv(VMCI_PH_PAGES_ALLOC, &big, 8), VMCI_ERROR_NO_RESOURCES);
	big = 1ull << 40;
	check("a terabyte of pages", phg_vmci_hv(VMCI_PH_PAGES_ALLOC, &big, 8),
	      VMCI_ERROR_NO_RESOURCES);
	{
		struct vmci_doorbell_link l = { { VMCI_GUEST_CONTEXT_ID, 60 }, VMCI_PAGE_SIZE };

		check("doorbell index past the bitmap page",
		      phg_vmci_hv(VMCI_DOORBELL_LINK, &l, sizeof(l)), VMCI_ERROR_INVALID_ARGS);
		l.notify_idx = 3;
		check("doorbell link", phg_vmci_hv(VMCI_DOORBELL_LINK, &l, sizeof(l)), VMCI_SUCCESS);
		check("doorbell link twice", phg_vmci_hv(VMCI_DOORBELL_LINK, &l, sizeof(l)),
		      VMCI_ERROR_ALREADY_EXISTS);
		check("doorbell unlink", phg_vmci_hv(VMCI_DOORBELL_UNLINK, &l.handle, 8),
		      VMCI_SUCCESS);
	}
	p[0] = ram_pages + 5;
	check("notify bitmap outside RAM", phg_vmci_hv(VMCI_SET_NOTIFY_BITMAP, p, 8),
	      VMCI_ERROR_NO_ACCESS);
	check("send from an unmapped buffer kills the sender (SIGSEGV)",
	      in_child(child_send_unmapped, NULL), 128 + SIGSEGV);
	check("pages freed", phg_pages_free(&v, (uint64_t)first, 4, map) |
	      phg_pages_free(&v, (uint64_t)other, 4, map2), VMCI_SUCCESS);
	{
		struct mailbox_args ma = { &v, ram_pages, -1 };
		int fds[2], counts[2];

		if (pipe(fds) == 0) {
			ma.fd = fds[1];
			in_child(mailbox_checks, &ma);
			close(fds[1]);
			if (read(fds[0], counts, sizeof(counts)) == sizeof(counts)) {
				n_checks = counts[0];
				n_failed = counts[1];
			} else {
				check("the mailbox checks ran", 0, 1);
			}
			close(fds[0]);
		}
	}
	phg_vmci_close(&v);
	printf("1..%d\n", n_checks);
	return n_failed ? 1 : 0;
}
