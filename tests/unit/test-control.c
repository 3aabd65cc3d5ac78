// SPDX-License-Identifier: MIT
/*
 * The control server with a real VM, a client on a socketpair
 * (control_add_client) and the GLib main loop: a client the server drops
 * sees its connection end, even when the VMCI device holds a dup of it.
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
	};

	g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL);
	return cmocka_run_group_tests_name("control", tests, setup, teardown);
}
