// SPDX-License-Identifier: MIT
/*
 * The VM's clipboard policy and VMware's legacy backdoor copy/paste.
 *
 * Legacy protocol (open-vm-tools dndcp/copyPasteCompat.c, see
 * ../shared/notes/backdoor-guestrpc-vmmouse.md §5): the guest reads the
 * host's text with GETSELLENGTH (EAX = length, or -1 not ready / -2 sharing
 * off) then GETNEXTPIECE ceil(len/4) times (EAX = next 4 bytes, little
 * endian); it sends its own with SETSELLENGTH (EBX = length) then
 * SETNEXTPIECE ceil(len/4) times (EBX = 4 bytes).  The host side of each
 * buffer is reached through control ops: the host bridge sets the text the
 * guest will read (PH_CTL_CLIPBOARD_LEGACY_SET) and reads what the guest
 * sent (PH_CTL_CLIPBOARD_LEGACY_GET).
 *
 * A guest text becomes visible to the host only when all its pieces came
 * (nothing half-sent is ever offered); a length over the cap, or a send
 * while guest-to-host sharing is off, is refused with a log line.  Old tools
 * ignore EAX of the SET calls, so we use it to say what happened: 0 taken,
 * -2 sharing off, -1 refused (over the cap; a piece with no transfer open).
 */
#define G_LOG_DOMAIN "porthole-hv"
#include <errno.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "backdoor/clipboard.h"
#include "backdoor/proto.h"
#include "hypervisor/control-proto.h"
#include "hypervisor/vm.h"
#include "copypaste.h"

struct copypaste_state {
	/* Policy. */
	bool host_to_guest, guest_to_host;
	uint64_t max_size;

	/* Host -> guest: what GETSELLENGTH/GETNEXTPIECE serve. */
	GByteArray *host_text;
	bool host_text_set;
	uint32_t host_read_pos;

	/* Guest -> host: being received, and the last complete text. */
	uint8_t *incoming;
	uint32_t incoming_len, incoming_pos;
	bool receiving;
	GByteArray *guest_text;
	uint64_t guest_serial;		/* bumped per complete guest text */
};

static struct copypaste_state *state(struct vm *vm)
{
	struct copypaste_state *cp = vm->copypaste;

	if (!cp) {
		cp = g_new0(struct copypaste_state, 1);
		cp->host_to_guest = true;
		cp->guest_to_host = true;
		cp->max_size = PH_CLIP_DEFAULT_MAX_SIZE;
		cp->host_text = g_byte_array_new();
		cp->guest_text = g_byte_array_new();
		vm->copypaste = cp;
	}
	return cp;
}

void copypaste_free(struct copypaste_state *cp)
{
	if (!cp)
		return;
	g_byte_array_free(cp->host_text, TRUE);
	g_byte_array_free(cp->guest_text, TRUE);
	g_free(cp->incoming);
	g_free(cp);
}

/* The most the legacy channel carries under the current policy. */
static uint32_t legacy_cap(const struct copypaste_state *cp)
{
	return (uint32_t)MIN(cp->max_size, (uint64_t)PH_CLIP_LEGACY_MAX);
}

static void drop_incoming(struct copypaste_state *cp)
{
	g_free(cp->incoming);
	cp->incoming = NULL;
	cp->incoming_len = cp->incoming_pos = 0;
	cp->receiving = false;
}

uint32_t copypaste_backdoor(struct vm *vm, struct vcpu *vcpu, struct bdoor_regs *b)
{
	struct copypaste_state *cp = state(vm);
	uint32_t cmd = BDOOR_ECX_CMD(b->cx), word = 0, len;

	switch (cmd) {
	case BDOOR_CMD_GETSELLENGTH:
		if (!cp->host_to_guest)
			return PH_CLIP_LEGACY_DONT_EXCHANGE;
		if (!cp->host_text_set)
			return PH_CLIP_LEGACY_NOT_READY;
		cp->host_read_pos = 0;
		return cp->host_text->len;
	case BDOOR_CMD_GETNEXTPIECE:
		/* Past the end (or sharing off): zeros, as a real host gives nothing more. */
		if (cp->host_to_guest && cp->host_read_pos < cp->host_text->len) {
			len = MIN(4u, cp->host_text->len - cp->host_read_pos);
			memcpy(&word, cp->host_text->data + cp->host_read_pos, len);
			cp->host_read_pos += len;
		}
		return word;
	case BDOOR_CMD_SETSELLENGTH:
		len = (uint32_t)b->bx;
		drop_incoming(cp);
		if (!cp->guest_to_host) {
			vm_guest_log(vm, "clipboard: legacy guest copy of %u bytes refused: "
				     "guest-to-host sharing is off", len);
			return PH_CLIP_LEGACY_DONT_EXCHANGE;
		}
		if (len > legacy_cap(cp)) {
			vm_guest_log(vm, "clipboard: legacy guest copy of %u bytes refused: "
				     "over the %u-byte limit", len, legacy_cap(cp));
			return PH_CLIP_LEGACY_REFUSED;
		}
		cp->incoming = g_malloc(len + 4u);	/* the last piece may overhang */
		cp->incoming_len = len;
		cp->receiving = true;
		if (len == 0)
			goto complete;
		return 0;
	case BDOOR_CMD_SETNEXTPIECE:
		if (!cp->receiving)	/* refused, never announced, or past the end */
			return PH_CLIP_LEGACY_REFUSED;
		word = (uint32_t)b->bx;
		memcpy(cp->incoming + cp->incoming_pos, &word, 4);
		cp->incoming_pos += 4;
		if (cp->incoming_pos < cp->incoming_len)
			return 0;
		goto complete;
	default:
		return BDOOR_UNSUPPORTED;
	}
complete:
	g_byte_array_set_size(cp->guest_text, 0);
	g_byte_array_append(cp->guest_text, cp->incoming, cp->incoming_len);
	cp->guest_serial++;
	drop_incoming(cp);
	return 0;
}

static bool parse_on_off(const char *v, bool *out)
{
	if (!strcmp(v, "on") || !strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes"))
		*out = true;
	else if (!strcmp(v, "off") || !strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no"))
		*out = false;
	else
		return false;
	return true;
}

/* "key=value" items separated by newlines or spaces; all valid or nothing changes. */
static int policy_set(struct copypaste_state *cp, const char *payload, GString *out)
{
	gchar **items = g_strsplit_set(payload, "\n ", -1);
	bool h2g = cp->host_to_guest, g2h = cp->guest_to_host;
	uint64_t max = cp->max_size;
	int status = 0;

	for (gchar **it = items; *it && !status; it++) {
		char *eq = strchr(*it, '='), *end;

		if (!**it)
			continue;
		if (!eq) {
			g_string_append_printf(out, "expected key=value, got '%s'", *it);
			status = EINVAL;
			break;
		}
		*eq = '\0';
		if (!strcmp(*it, "host-to-guest")) {
			if (!parse_on_off(eq + 1, &h2g))
				status = EINVAL;
		} else if (!strcmp(*it, "guest-to-host")) {
			if (!parse_on_off(eq + 1, &g2h))
				status = EINVAL;
		} else if (!strcmp(*it, "max-size")) {
			errno = 0;
			max = g_ascii_strtoull(eq + 1, &end, 10);
			if (errno || end == eq + 1 || *end || eq[1] == '-')
				status = EINVAL;
		} else {
			g_string_append_printf(out, "unknown key '%s' (host-to-guest, guest-to-host, "
					       "max-size)", *it);
			status = EINVAL;
			break;
		}
		if (status)
			g_string_append_printf(out, "bad value for %s: '%s'", *it, eq + 1);
	}
	g_strfreev(items);
	if (status)
		return status;
	cp->host_to_guest = h2g;
	cp->guest_to_host = g2h;
	cp->max_size = max;
	if (cp->host_text->len > legacy_cap(cp) || !h2g) {
		/* What the legacy guest could still read must obey the new policy. */
		g_byte_array_set_size(cp->host_text, 0);
		cp->host_text_set = false;
	}
	g_message("clipboard policy: host-to-guest=%s guest-to-host=%s max-size=%llu",
		  h2g ? "on" : "off", g2h ? "on" : "off", (unsigned long long)max);
	return 0;
}

int copypaste_control(struct vm *vm, unsigned int op, const char *payload, GString *out)
{
	struct copypaste_state *cp = state(vm);
	size_t len;

	switch (op) {
	case PH_CTL_CLIPBOARD_POLICY_SET:
		if (policy_set(cp, payload, out))
			return EINVAL;
		if (vm->notify)
			vm->notify(vm, "clipboard");
		/* reply with the policy now in force */
		__attribute__((fallthrough));
	case PH_CTL_CLIPBOARD_POLICY_GET:
		g_string_printf(out, "host-to-guest=%s\nguest-to-host=%s\nmax-size=%llu\n",
				cp->host_to_guest ? "on" : "off", cp->guest_to_host ? "on" : "off",
				(unsigned long long)cp->max_size);
		return 0;
	case PH_CTL_CLIPBOARD_LEGACY_SET:
		len = strlen(payload);
		if (!cp->host_to_guest) {
			g_string_append(out, "host-to-guest sharing is off");
			return EPERM;
		}
		if (len > legacy_cap(cp)) {
			g_string_append_printf(out, "%zu bytes: over the legacy limit of %u", len,
					       legacy_cap(cp));
			return EFBIG;
		}
		g_byte_array_set_size(cp->host_text, 0);
		g_byte_array_append(cp->host_text, (const guint8 *)payload, (guint)len);
		cp->host_text_set = true;
		cp->host_read_pos = 0;
		return 0;
	case PH_CTL_CLIPBOARD_LEGACY_GET:
		if (!cp->guest_to_host) {
			g_string_append(out, "guest-to-host sharing is off");
			return EPERM;
		}
		g_string_printf(out, "%llu\n", (unsigned long long)cp->guest_serial);
		g_string_append_len(out, (const char *)cp->guest_text->data, cp->guest_text->len);
		return 0;
	default:
		return EOPNOTSUPP;
	}
}
