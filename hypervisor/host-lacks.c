// SPDX-License-Identifier: MIT
/* PORTHOLE_HOST_LACKS (see host-lacks.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host-lacks.h"

static const struct {
	const char *word;
	enum host_feature feature;
} words[] = {
	{ "loop", HOST_LOOP },
	{ "idmap", HOST_IDMAP },
	{ "veth", HOST_VETH },
	{ "vdso-dir", HOST_VDSO_DIR },
};

/* Set once before any thread or child exists; only read after. */
static unsigned int lacking;

int host_lacks_parse(const char *list, unsigned int *mask, char *bad, size_t bad_len)
{
	const char *p = list ? list : "";

	*mask = 0;
	while (*p) {
		size_t len = strcspn(p, ","), i;

		for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (strlen(words[i].word) == len && !strncmp(p, words[i].word, len))
				break;
		if (i == sizeof(words) / sizeof(words[0])) {
			snprintf(bad, bad_len, "%.*s", (int)len, p);
			return -1;
		}
		*mask |= words[i].feature;
		p += len;
		p += *p == ',';
	}
	return 0;
}

int host_lacks_init(void)
{
	const char *list = getenv("PORTHOLE_HOST_LACKS");
	char bad[64];

	if (host_lacks_parse(list, &lacking, bad, sizeof(bad))) {
		fprintf(stderr, "porthole-hv run: bad word '%s' in PORTHOLE_HOST_LACKS (a "
			"comma-separated list of: " HOST_LACKS_WORDS ")\n", bad);
		return -1;
	}
	return 0;
}

bool host_lacks(enum host_feature feature)
{
	return lacking & feature;
}
