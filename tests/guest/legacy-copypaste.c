// SPDX-License-Identifier: MIT
/*
 * legacy-copypaste: VMware's older guest tools' copy/paste, from a real
 * guest process (real `in` instructions through backdoor/call.c): text
 * moves four bytes per backdoor call, as open-vm-tools' copyPasteCompat
 * does it.
 *
 *   legacy-copypaste len               GETSELLENGTH, as a signed number
 *   legacy-copypaste get FILE          GETSELLENGTH, then ceil(len/4)
 *                                      GETNEXTPIECE into FILE (exactly len
 *                                      bytes); prints "len N" (N < 0: nothing
 *                                      read, exit 2)
 *   legacy-copypaste set FILE          SETSELLENGTH + SETNEXTPIECE of FILE;
 *                                      prints SETSELLENGTH's EAX
 * The pieces a hostile guest sends, one misuse at a time (the e2e test
 * checks what the host saw after each):
 *   legacy-copypaste set-len N         SETSELLENGTH N only (EAX printed)
 *   legacy-copypaste pieces COUNT WORD SETNEXTPIECE COUNT times
 *   legacy-copypaste drain COUNT       GETNEXTPIECE COUNT times; prints how
 *                                      many non-zero words came back
 *   legacy-copypaste garbage           commands 6-9 with every other
 *                                      register set to junk
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backdoor/backdoor.h"

static uint32_t legacy_call(uint32_t cmd, uint32_t bx)
{
	struct bdoor_regs r;

	bdoor_lb_cmd(&r, cmd, 0);
	r.bx = bx;
	bdoor_lb(&r);
	return (uint32_t)r.ax;
}

static int usage(void)
{
	fprintf(stderr, "usage: legacy-copypaste len | get FILE | set FILE | set-len N |\n"
			"                        pieces COUNT WORD | drain COUNT | garbage\n");
	return 2;
}

static int do_get(const char *path)
{
	int32_t len = (int32_t)legacy_call(BDOOR_CMD_GETSELLENGTH, 0);
	FILE *f;

	printf("len %d\n", len);
	if (len < 0)
		return 2;
	f = fopen(path, "wb");
	if (!f) {
		perror(path);
		return 1;
	}
	for (int32_t off = 0; off < len; off += 4) {
		uint32_t word = legacy_call(BDOOR_CMD_GETNEXTPIECE, 0);
		size_t n = len - off < 4 ? (size_t)(len - off) : 4;

		/* Little endian: the first byte of the text is the low byte. */
		fwrite(&word, 1, n, f);
	}
	return fclose(f) ? 1 : 0;
}

static int do_set(const char *path)
{
	FILE *f = fopen(path, "rb");
	static unsigned char buf[1 << 20];
	size_t len;

	if (!f) {
		perror(path);
		return 1;
	}
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	printf("%d\n", (int32_t)legacy_call(BDOOR_CMD_SETSELLENGTH, (uint32_t)len));
	for (size_t off = 0; off < len; off += 4) {
		uint32_t word = 0;

		memcpy(&word, buf + off, len - off < 4 ? len - off : 4);
		legacy_call(BDOOR_CMD_SETNEXTPIECE, word);
	}
	return 0;
}

static int do_garbage(void)
{
	for (uint32_t cmd = BDOOR_CMD_GETSELLENGTH; cmd <= BDOOR_CMD_SETNEXTPIECE; cmd++) {
		struct bdoor_regs r;

		bdoor_lb_cmd(&r, cmd, 0xFFFF);
		r.bx = 0xFFFFFFFFFFFFFFFFull;
		r.si = r.di = r.bp = 0xDEADBEEFDEADBEEFull;
		r.dx |= 0xFFFFull << 16;
		bdoor_lb(&r);
		printf("cmd %u -> %d\n", cmd, (int32_t)r.ax);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct bdoor_info info;

	if (argc < 2)
		return usage();
	if (!bdoor_detect(&info)) {
		fprintf(stderr, "legacy-copypaste: no backdoor here\n");
		return 1;
	}
	if (!strcmp(argv[1], "len") && argc == 2) {
		printf("%d\n", (int32_t)legacy_call(BDOOR_CMD_GETSELLENGTH, 0));
		return 0;
	}
	if (!strcmp(argv[1], "get") && argc == 3)
		return do_get(argv[2]);
	if (!strcmp(argv[1], "set") && argc == 3)
		return do_set(argv[2]);
	if (!strcmp(argv[1], "set-len") && argc == 3) {
		printf("%d\n", (int32_t)legacy_call(BDOOR_CMD_SETSELLENGTH,
						    (uint32_t)strtoul(argv[2], NULL, 0)));
		return 0;
	}
	if (!strcmp(argv[1], "pieces") && argc == 4) {
		unsigned long count = strtoul(argv[2], NULL, 0);
		uint32_t word = (uint32_t)strtoul(argv[3], NULL, 0);

		for (unsigned long i = 0; i < count; i++)
			legacy_call(BDOOR_CMD_SETNEXTPIECE, word);
		return 0;
	}
	if (!strcmp(argv[1], "drain") && argc == 3) {
		unsigned long count = strtoul(argv[2], NULL, 0), nonzero = 0;

		for (unsigned long i = 0; i < count; i++)
			nonzero += legacy_call(BDOOR_CMD_GETNEXTPIECE, 0) != 0;
		printf("%lu\n", nonzero);
		return 0;
	}
	if (!strcmp(argv[1], "garbage") && argc == 2)
		return do_garbage();
	return usage();
}
