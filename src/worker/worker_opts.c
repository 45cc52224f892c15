// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The reference workers' options (worker.h), shared by all three engines. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sgbpf/protocol.h>

#include "worker.h"

void worker_opts_init(struct worker_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->reply.kind = REPLY_VECTOR;
	o->packets = 1;
	o->reply_size = SGBPF_UDP_BODY_U32 * 4;	/* a UDP reply's body */
	o->pad = true;
	o->cpu = -1;
	o->ready_fd = -1;
}

int worker_opts_add_listen(struct worker_opts *o, const struct cli_port_range *r)
{
	struct cli_port_range *bigger;

	bigger = realloc(o->listen, (o->nlisten + 1) * sizeof(*bigger));
	if (!bigger)
		return -ENOMEM;
	o->listen = bigger;
	o->listen[o->nlisten++] = *r;
	return 0;
}

void worker_opts_free(struct worker_opts *o)
{
	free(o->listen);
	o->listen = NULL;
	o->nlisten = 0;
}
