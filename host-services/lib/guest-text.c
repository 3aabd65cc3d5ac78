// SPDX-License-Identifier: MIT
/*
 * Reading the guest's clipboard text from the hypervisor in pieces
 * (PH_CTL_CLIPBOARD_GUEST_TEXT, hypervisor/control-proto.h): the one parser
 * of a piece, for porthole-viewer and porthole-ctl.
 */
#include <string.h>

#include "porthole-host.h"

bool ph_guest_text_piece(const struct ph_reply *reply, uint64_t max_total, uint64_t *serial,
			 uint64_t *total, uint32_t *formats, GByteArray *data)
{
	const char *nl = memchr(reply->data->str, '\n', reply->data->len);
	char *end;
	size_t off, n;

	if (!nl)
		return false;
	off = (size_t)(nl + 1 - reply->data->str);
	n = reply->data->len - off;
	*serial = g_ascii_strtoull(reply->data->str, &end, 10);
	*total = g_ascii_strtoull(end, &end, 10);
	*formats = (uint32_t)g_ascii_strtoull(end, NULL, 10);
	if (*total > max_total)
		return false;
	if (!data)
		return true;
	/* Some bytes, unless there are none (an empty text), never past the total. */
	if ((!n && *total) || data->len + n > *total)
		return false;
	g_byte_array_append(data, (const guint8 *)nl + 1, (guint)n);
	return true;
}
