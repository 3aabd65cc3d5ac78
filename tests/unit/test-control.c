// SPDX-License-Identifier: MIT
/*
 * The control server with a real VM, a client on a socketpair
 * (control_add_client) and the GLib main loop: a client the server drops
 * sees its connection end, even when the VMCI device holds a dup of it;
 * status events reach subscribers only, as fixed words, at most one per
 * PH_CTL_EVENT_MIN_MS however often a device (a guest) notifies.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <glib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hypervisor/control-proto.h"
#include "hypervisor/control.h"
#include "hypervisor/devices/vmci.h"
#include "hypervisor/vm.h"

static char *runtime_dir;

static void run_loop(void)
{
	for (int i = 0; i < 100 && g_main_context_iteration(NULL, FALSE); i++)
		;
}

static void test_dropped_vmci_client_sees_the_end(void **state)
{
	struct vm_config cfg = { .name = "unit-control", .ram_size = 1 << 20 };
	struct vm *vm = vm_create(&cfg);
	struct control *ctl;
	uint32_t resource = 5000;
	struct ph_ctl_hdr hdr = { .magic = PH_CTL_MAGIC, .version = PH_CTL_VERSION,
				  .op = PH_CTL_VMCI_BIND, .seq = 1, .len = 4 };
	uint8_t pkt[sizeof(hdr) + 4], reply[256];
	int sv[2];

	assert_non_null(vm);
	ctl = control_start(vm, NULL, NULL, NULL);
	assert_non_null(ctl);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv), 0);
	control_add_client(ctl, sv[0]);

	/* A VMCI request: the device keeps a dup of the connection for events. */
	memcpy(pkt, &hdr, sizeof(hdr));
	memcpy(pkt + sizeof(hdr), &resource, 4);
	assert_int_equal(send(sv[1], pkt, sizeof(pkt), 0), (ssize_t)sizeof(pkt));
	run_loop();
	assert_int_equal(recv(sv[1], reply, sizeof(reply), 0), (ssize_t)sizeof(hdr));
	memcpy(&hdr, reply, sizeof(hdr));
	assert_int_equal(hdr.status, 0);

	/* A malformed packet: the server drops the client, which must see EOF. */
	assert_int_equal(send(sv[1], "bad", 3, 0), 3);
	run_loop();
	assert_int_equal(recv(sv[1], reply, sizeof(reply), 0), 0);
	/* ...and the device forgot it (its binding is free again). */
	run_loop();
	pthread_mutex_lock(&vm->lock);
	{
		GString *s = g_string_new(NULL);

		vmci_status(vm->vmci, s);
		assert_non_null(strstr(s->str, "vmci.host-bound=0\n"));
		g_string_free(s, TRUE);
	}
	pthread_mutex_unlock(&vm->lock);

	close(sv[1]);
	control_quiesce(ctl);
	vm_destroy(vm);
	run_loop();
	control_stop(ctl);
}

/* Send one request without payload; its reply is read by the caller. */
static void request(int fd, uint16_t op, uint32_t seq)
{
	struct ph_ctl_hdr h = { .magic = PH_CTL_MAGIC, .version = PH_CTL_VERSION,
				.op = op, .seq = seq };

	assert_int_equal(send(fd, &h, sizeof(h), 0), (ssize_t)sizeof(h));
}

/* Packets waiting on fd: events counted, the last event's text kept. */
static unsigned int drain_events(int fd, char *last, size_t size)
{
	uint8_t buf[512];
	unsigned int n = 0;
	ssize_t r;

	while ((r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		struct ph_ctl_hdr h;

		assert_true((size_t)r >= sizeof(h));
		memcpy(&h, buf, sizeof(h));
		if (h.op != PH_CTL_EVENT)
			continue;
		assert_int_equal(h.seq, 0);
		assert_true(h.len < size);
		memcpy(last, buf + sizeof(h), h.len);
		last[h.len] = '\0';
		n++;
	}
	return n;
}

static void test_events_reach_subscribers_rate_limited(void **state)
{
	struct vm_config cfg = { .name = "unit-events", .ram_size = 1 << 20 };
	struct vm *vm = vm_create(&cfg);
	struct control *ctl;
	int sub[2], other[2];
	char last[256] = "";
	unsigned int events;
	gint64 end;

	assert_non_null(vm);
	ctl = control_start(vm, NULL, NULL, NULL);
	assert_non_null(ctl);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sub), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, other), 0);
	control_add_client(ctl, sub[0]);
	control_add_client(ctl, other[0]);
	request(sub[1], PH_CTL_SUBSCRIBE, 1);
	request(other[1], PH_CTL_STATUS, 1);
	run_loop();
	assert_int_equal(drain_events(sub[1], last, sizeof(last)), 0);	/* the reply only */
	assert_non_null(vm->notify);

	/* A guest that sets guestinfo as fast as it can, for 300 ms. */
	end = g_get_monotonic_time() + 300 * 1000;
	while (g_get_monotonic_time() < end) {
		pthread_mutex_lock(&vm->lock);
		vm->notify(vm, "guestinfo");
		pthread_mutex_unlock(&vm->lock);
		g_main_context_iteration(NULL, FALSE);
	}
	g_usleep(2 * PH_CTL_EVENT_MIN_MS * 1000);
	run_loop();
	events = drain_events(sub[1], last, sizeof(last));
	/* 300 ms at one per 100 ms: the first at once, then 3 more at most (+1 for timing). */
	assert_in_range(events, 1, 300 / PH_CTL_EVENT_MIN_MS + 2);
	assert_string_equal(last, "guestinfo");
	/* A client that did not subscribe got its status reply and no event. */
	assert_int_equal(drain_events(other[1], last, sizeof(last)), 0);

	/* Coalesced: two kinds in one event, in a fixed order. */
	g_usleep(PH_CTL_EVENT_MIN_MS * 1000);
	pthread_mutex_lock(&vm->lock);
	vm->notify(vm, "tools");
	vm->notify(vm, "state");
	pthread_mutex_unlock(&vm->lock);
	run_loop();
	assert_int_equal(drain_events(sub[1], last, sizeof(last)), 1);
	assert_string_equal(last, "state tools");

	close(sub[1]);
	close(other[1]);
	control_quiesce(ctl);
	assert_null(vm->notify);	/* unhooked: the VM goes before the control socket */
	vm_destroy(vm);
	run_loop();
	control_stop(ctl);
}

static int setup(void **state)
{
	runtime_dir = g_dir_make_tmp("porthole-unit-XXXXXX", NULL);
	if (!runtime_dir)
		return -1;
	setenv("XDG_RUNTIME_DIR", runtime_dir, 1);
	return 0;
}

static int teardown(void **state)
{
	char *sub = g_build_filename(runtime_dir, PH_CTL_DIR_NAME, NULL);

	rmdir(sub);
	rmdir(runtime_dir);
	g_free(sub);
	g_free(runtime_dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dropped_vmci_client_sees_the_end),
		cmocka_unit_test(test_events_reach_subscribers_rate_limited),
	};

	g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL);
	return cmocka_run_group_tests_name("control", tests, setup, teardown);
}
