// SPDX-License-Identifier: MIT
/* The XDR writer for guest information records (see guestinfo.h). */
#include "backdoor/guestinfo.h"

void guestinfo_xdr_u32(GByteArray *b, uint32_t v)
{
	uint8_t w[4] = { v >> 24, v >> 16, v >> 8, v };

	g_byte_array_append(b, w, 4);
}

/* A variable-length opaque: its length, its bytes, zeros to a 4-byte boundary. */
void guestinfo_xdr_bytes(GByteArray *b, const void *data, uint32_t n)
{
	static const uint8_t zero[3];

	guestinfo_xdr_u32(b, n);
	g_byte_array_append(b, data, n);
	g_byte_array_append(b, zero, (4 - n % 4) % 4);
}
