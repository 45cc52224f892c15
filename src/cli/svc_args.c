// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <string.h>

#include "cli_common.h"
#include "svc_args.h"

static const char *const delivery_names[] = {
	[SGBPF_DELIVERY_RINGBUF] = "ringbuf",
	[SGBPF_DELIVERY_CTRL_FD] = "ctrl-fd",
	[SGBPF_DELIVERY_BLOCK] = "block",
	[SGBPF_DELIVERY_BUSY_WAIT] = "busy-wait",
};

int svc_parse_delivery(const char *s, enum sgbpf_delivery *out)
{
	for (unsigned int i = 0; i < sizeof(delivery_names) / sizeof(delivery_names[0]); i++) {
		if (!strcmp(s, delivery_names[i])) {
			*out = i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *svc_delivery_name(enum sgbpf_delivery d)
{
	return (unsigned int)d < sizeof(delivery_names) / sizeof(delivery_names[0]) ?
		       delivery_names[d] : "?";
}

int svc_parse_policy(const char *s, struct sgbpf_scatter_opts *so)
{
	uint32_t n;

	if (!strcmp(s, "all")) {
		so->policy = SGBPF_POLICY_ALL;
		return 0;
	}
	if (!strcmp(s, "any")) {
		so->policy = SGBPF_POLICY_ANY;
		return 0;
	}
	if (cli_parse_u32(s, 1, SGBPF_MAX_WORKERS, &n))
		return -EINVAL;
	so->policy = SGBPF_POLICY_N;
	so->n = n;
	return 0;
}

int svc_parse_xdp_mode(const char *s, enum sgbpf_xdp_mode *out)
{
	if (!strcmp(s, "auto"))
		*out = SGBPF_XDP_AUTO;
	else if (!strcmp(s, "native"))
		*out = SGBPF_XDP_NATIVE;
	else if (!strcmp(s, "generic"))
		*out = SGBPF_XDP_GENERIC;
	else if (!strcmp(s, "off"))
		*out = SGBPF_XDP_OFF;
	else
		return -EINVAL;
	return 0;
}

int svc_parse_backend(const char *s, enum sgbpf_backend *out)
{
	if (!strcmp(s, "udp"))
		*out = SGBPF_BACKEND_UDP;
	else if (!strcmp(s, "tcp"))
		*out = SGBPF_BACKEND_TCP;
	else
		return -EINVAL;
	return 0;
}

const char *svc_gather_hook_name(enum sgbpf_gather_hook h)
{
	switch (h) {
	case SGBPF_GATHER_XDP_NATIVE:
		return "XDP (native)";
	case SGBPF_GATHER_XDP_GENERIC:
		return "XDP (generic)";
	default:
		return "TC ingress";
	}
}
