// SPDX-License-Identifier: MIT
/* PLACEHOLDER: being written this session; replaced by the real module. */
#include <errno.h>

#include "viewer.h"

static int input_init(struct viewer *v, void **state)
{
	return -ENOSYS;
}

static void input_fini(struct viewer *v, void *state)
{
}

const struct viewer_module viewer_input = {
	.name = "input",
	.init = input_init,
	.fini = input_fini,
};
