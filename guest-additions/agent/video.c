// SPDX-License-Identifier: MIT
/* PLACEHOLDER: being written this session; replaced by the real module. */
#include <errno.h>

#include "agent.h"

static int video_init(struct agent *a, void **state)
{
	return -ENOSYS;
}

static void video_fini(struct agent *a, void *state)
{
}

const struct agent_module agent_video = {
	.name = "video",
	.init = video_init,
	.fini = video_fini,
};
