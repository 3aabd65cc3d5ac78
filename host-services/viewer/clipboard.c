// SPDX-License-Identifier: MIT
/* PLACEHOLDER: being written this session; replaced by the real module. */
#include <errno.h>

#include "viewer.h"

static int clipboard_init(struct viewer *v, void **state)
{
	return -ENOSYS;
}

static void clipboard_fini(struct viewer *v, void *state)
{
}

const struct viewer_module viewer_clipboard = {
	.name = "clipboard",
	.init = clipboard_init,
	.fini = clipboard_fini,
};
