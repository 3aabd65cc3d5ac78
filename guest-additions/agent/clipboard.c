// SPDX-License-Identifier: MIT
/* PLACEHOLDER: being written this session; replaced by the real module. */
#include <errno.h>

#include "agent.h"

static int clipboard_init(struct agent *a, void **state)
{
	return -ENOSYS;
}

static void clipboard_fini(struct agent *a, void *state)
{
}

const struct agent_module agent_clipboard = {
	.name = "clipboard",
	.init = clipboard_init,
	.fini = clipboard_fini,
};
