// SPDX-License-Identifier: MIT
/* PLACEHOLDER: being written this session; replaced by the real module. */
#include <errno.h>

#include "agent.h"

static int input_init(struct agent *a, void **state)
{
	return -ENOSYS;
}

static void input_fini(struct agent *a, void *state)
{
}

const struct agent_module agent_input = {
	.name = "input",
	.init = input_init,
	.fini = input_fini,
};
