// SPDX-License-Identifier: MIT
/* PLACEHOLDER: being written this session; replaced by the real module. */
#include <errno.h>

#include "agent.h"

static int resize_init(struct agent *a, void **state)
{
	return -ENOSYS;
}

static void resize_fini(struct agent *a, void *state)
{
}

const struct agent_module agent_resize = {
	.name = "resize",
	.init = resize_init,
	.fini = resize_fini,
};
