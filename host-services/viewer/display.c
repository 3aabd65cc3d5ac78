// SPDX-License-Identifier: MIT
/* PLACEHOLDER: being written this session; replaced by the real module. */
#include <errno.h>

#include "viewer.h"

static int display_init(struct viewer *v, void **state)
{
	return -ENOSYS;
}

static void display_fini(struct viewer *v, void *state)
{
}

const struct viewer_module viewer_display = {
	.name = "display",
	.init = display_init,
	.fini = display_fini,
};
