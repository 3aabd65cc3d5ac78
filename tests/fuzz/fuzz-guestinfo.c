// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: guest information (hypervisor/devices/guestinfo.c),
 * its two parsers directly and its RPCI commands through a real VM.
 *
 * Input: records of a kind byte, a u16 length and that many bytes:
 *   kind % 4 == 0  the bytes as an XDR GuestNicProto record
 *               1  the bytes as SetGuestDiskInfo JSON
 *               2  "SetGuestInfo  <kind >> 2> " + the bytes, to guestinfo_rpci
 *               3  the bytes as a whole RPCI message, through the I/O bus
 *
 * Checked: a record parsed as good stays within the limits (NICs,
 * addresses, disks, NUL-terminated strings); every guestinfo_rpci reply is
 * "1 " or "0 <reason>"; the status text stays well formed after each step.
 */
#include <string.h>

#include "hypervisor/devices/guestinfo.h"
#include "fuzz-vm.h"

static void check_nics(const struct guestinfo_nics *n)
{
	FUZZ_CHECK(n->n_nics <= GUESTINFO_NICS_MAX);
	FUZZ_CHECK(n->n_routes <= GUESTINFO_ROUTES_MAX);
	for (unsigned int i = 0; i < n->n_nics; i++) {
		FUZZ_CHECK(n->nic[i].n_addrs <= GUESTINFO_ADDRS_MAX);
		FUZZ_CHECK(memchr(n->nic[i].mac, '\0', sizeof(n->nic[i].mac)));
	}
}

static void check_disks(const struct guestinfo_disks *d)
{
	FUZZ_CHECK(d->n_disks <= GUESTINFO_DISKS_MAX);
	for (unsigned int i = 0; i < d->n_disks; i++) {
		FUZZ_CHECK(memchr(d->disk[i].name, '\0', sizeof(d->disk[i].name)));
		FUZZ_CHECK(memchr(d->disk[i].fstype, '\0', sizeof(d->disk[i].fstype)));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = { data, size };
	struct vm *vm = fuzz_vm_new(false);
	struct guestinfo_nics *nics = g_new(struct guestinfo_nics, 1);
	struct guestinfo_disks *disks = g_new(struct guestinfo_disks, 1);

	while (in.left) {
		unsigned int kind = (unsigned int)fuzz_take(&in, 1);
		size_t want = (size_t)fuzz_take(&in, 2);
		const uint8_t *bytes;
		size_t len = fuzz_take_bytes(&in, want, &bytes);
		/* A copy of exactly len bytes, so ASan sees any over-read. */
		g_autofree uint8_t *copy = g_malloc(len ? len : 1);
		const char *why;

		memcpy(copy, bytes, len);
		switch (kind % 4) {
		case 0:
			if (!guestinfo_parse_nicinfo(copy, len, nics, &why))
				check_nics(nics);
			break;
		case 1:
			if (!guestinfo_parse_disks((const char *)copy, len, disks, &why))
				check_disks(disks);
			break;
		case 2: {
			g_autoptr(GString) msg = g_string_new(NULL);
			g_autoptr(GString) reply = g_string_new(NULL);

			g_string_printf(msg, "SetGuestInfo  %u ", kind >> 2);
			g_string_append_len(msg, (const char *)copy, (gssize)len);
			pthread_mutex_lock(&vm->lock);
			FUZZ_CHECK(guestinfo_rpci(vm, msg->str, msg->len, reply));
			pthread_mutex_unlock(&vm->lock);
			FUZZ_CHECK(!strcmp(reply->str, "1 ") || g_str_has_prefix(reply->str, "0 "));
			break;
		}
		case 3:
			fuzz_guest_rpci(vm, copy, len);
			break;
		}
		fuzz_check_vm_status(vm);
	}
	g_free(nics);
	g_free(disks);
	vm_destroy(vm);
	return 0;
}
