// SPDX-License-Identifier: MIT
/*
 * The host library's queue-pair attach (host-services/lib/vmci-host.c,
 * phh_qp_attach) against a control socket that answers as a hostile guest
 * can make the hypervisor answer: the page list comes in several replies,
 * and between two of them the guest may have detached the queue pair and
 * created it again, larger.  Every later reply must describe the same queue
 * pair as the first (it used to be checked only against itself, and the
 * page list, sized from the first reply, overflowed by up to 32 KiB).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <glib.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backdoor/vmci.h"
#include "host-services/lib/vmci-host.h"
#include "hypervisor/control-proto.h"

struct fake {
	int fd;
	int mode;		/* what the second reply says, FAKE_* */
	int detaches;
};

enum { FAKE_GROWN, FAKE_OTHER_SIZES, FAKE_OTHER_HANDLE, FAKE_HUGE_SIZE };

#define FIRST_TOTAL	4	/* 2 header pages + 1 + 1 queue pages */

/* Answer QP_ATTACH requests: a first reply with part of a small list, then a lie. */
static void *fake_hypervisor(void *p)
{
	struct fake *f = p;
	uint8_t in[sizeof(struct ph_ctl_hdr) + 64];
	static uint8_t out[sizeof(struct ph_ctl_hdr) + PH_CTL_MAX_PAYLOAD];

	for (;;) {
		struct ph_ctl_hdr h, r;
		struct vmci_ctl_qp_attach a;
		struct vmci_ctl_qp_info info = { 0 };
		ssize_t n = recv(f->fd, in, sizeof(in), 0);
		size_t len = 0;

		if (n < (ssize_t)sizeof(h))
			return NULL;
		memcpy(&h, in, sizeof(h));
		r = h;
		r.status = 0;
		if (h.op == PH_CTL_VMCI_QP_ATTACH) {
			memcpy(&a, in + sizeof(h), sizeof(a));
			info.handle = (struct vmci_handle){ VMCI_GUEST_CONTEXT_ID, 7 };
			info.produce_size = info.consume_size = VMCI_PAGE_SIZE;
			info.num_ppns = FIRST_TOTAL;
			info.first_ppn_index = a.first_ppn_index;
			info.count = 2;
			if (f->mode == FAKE_HUGE_SIZE) {
				/* 2 + VMCI_PAGES(2^64 - 1) + 1 wraps to 2 + 0 + 1 pages. */
				info.produce_size = UINT64_MAX;
				info.num_ppns = info.count = 3;
			} else if (a.first_ppn_index) {
				switch (f->mode) {
				case FAKE_GROWN:	/* re-created with 32 MiB queues */
					info.produce_size = info.consume_size = 32u << 20;
					info.num_ppns = 2 + 2 * ((32u << 20) / VMCI_PAGE_SIZE);
					info.count = VMCI_CTL_QP_PPNS_PER_REPLY;
					break;
				case FAKE_OTHER_SIZES:	/* same page count, other split */
					info.produce_size = 2 * VMCI_PAGE_SIZE;
					info.consume_size = 0;
					break;
				default:
					info.handle.resource = 8;
					break;
				}
			}
			memcpy(out + sizeof(r), &info, sizeof(info));
			len = sizeof(info) + (size_t)info.count * 8;
			memset(out + sizeof(r) + sizeof(info), 0, (size_t)info.count * 8);
		} else if (h.op == PH_CTL_VMCI_QP_DETACH) {
			f->detaches++;
		}
		r.len = (uint32_t)len;
		memcpy(out, &r, sizeof(r));
		if (send(f->fd, out, sizeof(r) + len, 0) < 0)
			return NULL;
	}
}

static void attach_against(int mode)
{
	struct fake f = { .mode = mode };
	struct phh_vmci h;
	struct phh_qp qp;
	pthread_t t;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	memset(&h, 0, sizeof(h));
	h.fd = sv[0];
	h.ram.fd = -1;
	h.queue_efd = h.epoll_fd = -1;
	h.queue = g_queue_new();
	f.fd = sv[1];
	assert_int_equal(pthread_create(&t, NULL, fake_hypervisor, &f), 0);

	assert_int_equal(phh_qp_attach(&h, &qp, 7, 0), -EPROTO);
	assert_null(qp.base);
	/* What was half attached is let go. */
	assert_int_equal(f.detaches, 1);

	shutdown(sv[0], SHUT_RDWR);
	pthread_join(t, NULL);
	close(sv[1]);
	phh_vmci_close(&h);
}

/*
 * A reply whose queue size is near 2^64 (found by tests/fuzz/fuzz-qp-attach):
 * the page count check wrapped and the attach succeeded with a ring of that
 * size over three mapped pages, so ring reads went wherever the guest's
 * header pointed.  Real guest RAM here, so only the size check can refuse.
 */
static void test_huge_queue_size(void **state)
{
	struct fake f = { .mode = FAKE_HUGE_SIZE };
	struct phh_vmci h;
	struct phh_qp qp;
	pthread_t t;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	memset(&h, 0, sizeof(h));
	h.fd = sv[0];
	h.ram.fd = memfd_create("guest-ram", MFD_CLOEXEC);
	assert_true(h.ram.fd >= 0);
	h.ram.size = 16 * VMCI_PAGE_SIZE;
	assert_int_equal(ftruncate(h.ram.fd, (off_t)h.ram.size), 0);
	h.queue_efd = h.epoll_fd = -1;
	h.queue = g_queue_new();
	f.fd = sv[1];
	assert_int_equal(pthread_create(&t, NULL, fake_hypervisor, &f), 0);

	assert_int_equal(phh_qp_attach(&h, &qp, 7, 0), -EPROTO);
	assert_null(qp.base);

	shutdown(sv[0], SHUT_RDWR);
	pthread_join(t, NULL);
	close(sv[1]);
	close(h.ram.fd);
	h.ram.fd = -1;
	phh_vmci_close(&h);
}

static void test_grown_between_replies(void **state)
{
	attach_against(FAKE_GROWN);
}

static void test_other_sizes_between_replies(void **state)
{
	attach_against(FAKE_OTHER_SIZES);
}

static void test_other_handle_between_replies(void **state)
{
	attach_against(FAKE_OTHER_HANDLE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grown_between_replies),
		cmocka_unit_test(test_other_sizes_between_replies),
		cmocka_unit_test(test_other_handle_between_replies),
		cmocka_unit_test(test_huge_queue_size),
	};

	return cmocka_run_group_tests_name("qp-attach", tests, NULL, NULL);
}
