// SPDX-License-Identifier: MIT
/*
 * pointer-claim SECONDS: take the absolute pointer over from porthole-guestd
 * the way porthole-agent does (vmmouse_claim, then map PH_DESKTOP_RES_INPUT,
 * enable the vmmouse), print each packet the hypervisor's wakeups bring as
 * "packet X Y BUTTONS WHEEL", and exit after SECONDS (letting the pointer
 * go back to guestd).  An agent without X, for tests/e2e/76-uinput.sh.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backdoor/desktop.h"
#include "guest-additions/lib/vmci-guest.h"
#include "guest-additions/lib/vmmouse-guest.h"

static void print_packet(const struct vmmouse_packet *p, void *opaque)
{
	printf("packet %d %d %u %d\n", p->x, p->y, p->buttons, p->wheel);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	int seconds = argc > 1 ? atoi(argv[1]) : 3;
	struct phg_vmci v;
	time_t end;
	int64_t r;
	int claim, e;

	claim = vmmouse_claim(VMMOUSE_CLAIM_WAIT_MS);
	if (claim < 0) {
		printf("claim failed: %s\n", strerror(-claim));
		return 1;
	}
	printf("claimed\n");
	e = phg_vmci_open(&v);
	if (e) {
		printf("no VMCI: %s\n", strerror(-e));
		return 1;
	}
	r = phg_vmci_map(PH_DESKTOP_RES_INPUT);
	if (r < 0) {
		printf("map failed: VMCI error %lld\n", (long long)r);
		return 1;
	}
	if (!vmmouse_enable()) {
		printf("vmmouse did not answer\n");
		return 1;
	}
	printf("mapped\n");
	fflush(stdout);
	end = time(NULL) + seconds;
	while (time(NULL) < end) {
		struct phg_dg d;

		if (phg_vmci_wait(&v, 200) < 0)
			break;
		while (phg_vmci_take(&v, &d))
			free(d.payload);
		vmmouse_drain(4096, print_packet, NULL, NULL);
	}
	vmmouse_disable();
	phg_vmci_close(&v);
	close(claim);
	printf("done\n");
	return 0;
}
