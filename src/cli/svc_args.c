// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <string.h>

#include <getopt.h>

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

int svc_common_option(const char *cmd, int c, const char *arg, struct sgbpf_service_opts *so,
		      struct sgbpf_scatter_opts *sc, uint64_t *count, uint32_t *inflight)
{
	uint64_t u64;

	switch (c) {
	case 'b':
		if (svc_parse_backend(arg, &so->backend))
			return cli_usage_error(cmd, "unknown backend '%s' (udp, tcp)", arg);
		return 0;
	case 't':
		if (cli_parse_u64(arg, 0, 3600ull * 1000000, &u64))
			return cli_usage_error(cmd, "bad timeout '%s' (microseconds, at most an hour)",
					       arg);
		sc->timeout_us = u64;
		return 0;
	case 'n':
		if (cli_parse_u64(arg, 1, SVC_COUNT_MAX, count))
			return cli_usage_error(cmd, "bad count '%s' (1..%llu)", arg, SVC_COUNT_MAX);
		return 0;
	case 'i':
		if (cli_parse_u32(arg, 1, SGBPF_MAX_INFLIGHT, inflight))
			return cli_usage_error(cmd, "bad inflight '%s' (1..%u)", arg,
					       SGBPF_MAX_INFLIGHT);
		return 0;
	case 'D':
		if (svc_parse_delivery(arg, &so->delivery))
			return cli_usage_error(cmd, "unknown delivery '%s' (ringbuf, ctrl-fd, block, "
					       "busy-wait)", arg);
		return 0;
	case 'a':
		so->fate = SGBPF_FATE_ALLOW;
		return 0;
	case SVC_OPT_RETRY_US:
		if (cli_parse_u64(arg, 1, SGBPF_MAX_RETRY_US, &u64))
			return cli_usage_error(cmd, "bad --retry-us '%s' (microseconds, 1 to an hour)",
					       arg);
		sc->retry_us = u64;
		return 0;
	case SVC_OPT_RETRIES:
		if (cli_parse_u32(arg, 1, SVC_RETRIES_MAX, &sc->retries))
			return cli_usage_error(cmd, "bad --retries '%s' (1..%u)", arg,
					       SVC_RETRIES_MAX);
		return 0;
	case SVC_OPT_ALL_GATHER:
		sc->all_gather = true;
		return 0;
	case SVC_OPT_REPLY_BUDGET:
		if (cli_parse_u32(arg, 1, UINT32_MAX, &so->reply_budget))
			return cli_usage_error(cmd, "bad --reply-budget '%s' (replies, at least 1)",
					       arg);
		return 0;
	case SVC_OPT_PACKETS:
		if (cli_parse_u32(arg, 1, SGBPF_MAX_PACKETS_PER_REPLY, &so->max_packets))
			return cli_usage_error(cmd, "bad --packets '%s' (1..%u)", arg,
					       SGBPF_MAX_PACKETS_PER_REPLY);
		return 0;
	default:
		return -1;
	}
}

int svc_common_check(const char *cmd, const struct sgbpf_service_opts *so, uint32_t inflight)
{
	if (inflight > 1 && so->delivery == SGBPF_DELIVERY_BLOCK)
		return cli_usage_error(cmd, "--delivery block runs one request at a time");
	/* The default slot count limits --inflight as an explicit one does. */
	if (inflight > (so->max_inflight ? so->max_inflight : SGBPF_DEFAULT_INFLIGHT))
		return cli_usage_error(cmd, "--inflight %u exceeds --max-inflight %u%s", inflight,
				       so->max_inflight ? so->max_inflight : SGBPF_DEFAULT_INFLIGHT,
				       so->max_inflight ? "" : " (the default)");
	return 0;
}

int svc_retry_check(const char *cmd, const struct sgbpf_scatter_opts *sc)
{
	if (sc->retries && !sc->retry_us)
		return cli_usage_error(cmd, "--retries needs --retry-us");
	return 0;
}

int svc_allgather_check(const char *cmd, const struct sgbpf_service_opts *so,
			const struct sgbpf_scatter_opts *sc)
{
	if (sc->all_gather && so->reduce == SGBPF_REDUCE_COUNT)
		return cli_usage_error(cmd, "--all-gather needs a reduction (--reduce): a count "
				       "has no result to send back");
	return 0;
}

int svc_policy_check(const char *cmd, const struct sgbpf_scatter_opts *sc, uint32_t nworkers)
{
	if (sc->policy == SGBPF_POLICY_N && sc->n > nworkers)
		return cli_usage_error(cmd, "--policy %u asks for more replies than the %u workers "
				       "listed", sc->n, nworkers);
	return 0;
}
