// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: command-line arguments.  The input, split at NUL bytes,
 * is an argument vector for getopt_long() over the options 'gather' and
 * 'run' share plus a few of gather's own, handled by the same functions the
 * commands use; then every word goes through every value parser.  Nothing
 * may crash, and what is accepted must be in range.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sgbpf/sgbpf.h>

#include "cli_common.h"
#include "svc_args.h"

#include "fuzz_check.h"

#define MAX_ARGS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct option longopts[] = {
		SVC_COMMON_LONGOPTS,
		{ "policy", required_argument, NULL, 'p' },
		{ "xdp-mode", required_argument, NULL, 'X' },
		{ "reduce", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ 0 }
	};
	SGBPF_OPTS(sgbpf_service_opts, so);
	SGBPF_OPTS(sgbpf_scatter_opts, sc);
	char *buf, *argv[MAX_ARGS + 2];
	uint64_t count = 1;
	uint32_t inflight = 1;
	int argc = 1, c, ret;

	if (size > 4096)
		return 0;
	buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	argv[0] = "gather";
	for (size_t i = 0; i <= size && argc <= MAX_ARGS; i++) {
		if (i == 0 || buf[i - 1] == '\0')
			argv[argc++] = buf + i;
		if (i == size)
			break;
	}
	argv[argc] = NULL;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, ":" SVC_COMMON_SHORTOPTS "p:X:r:j", longopts,
				NULL)) != -1) {
		ret = svc_common_option("gather", c, optarg, &so, &sc, &count, &inflight);
		if (ret >= 0) {
			CHECK(ret == 0 || ret == CLI_EXIT_USAGE);
			continue;
		}
		switch (c) {
		case 'p':
			if (svc_parse_policy(optarg, &sc) == 0 && sc.policy == SGBPF_POLICY_N)
				CHECK(sc.n >= 1 && sc.n <= SGBPF_MAX_WORKERS);
			break;
		case 'X':
			if (svc_parse_xdp_mode(optarg, &so.xdp_mode) == 0)
				CHECK(so.xdp_mode <= SGBPF_XDP_OFF);
			break;
		case 'r':
			ret = sgbpf_reduce_parse(optarg);
			CHECK(ret == -EINVAL || (ret >= 0 && ret < __SGBPF_REDUCE_MAX));
			break;
		case 'j':
			break;
		default:
			CHECK(cli_getopt_error("gather", c, argc, argv) == CLI_EXIT_USAGE);
			break;
		}
	}
	CHECK(count >= 1 && count <= SVC_COUNT_MAX);
	CHECK(inflight >= 1 && inflight <= SGBPF_MAX_INFLIGHT);
	CHECK(sc.timeout_us <= 3600ull * 1000000);
	CHECK(so.delivery <= SGBPF_DELIVERY_BUSY_WAIT);
	ret = svc_common_check("gather", &so, inflight);
	CHECK(ret == 0 || ret == CLI_EXIT_USAGE);
	ret = svc_policy_check("gather", &sc, (uint32_t)(size % (SGBPF_MAX_WORKERS + 1)));
	CHECK(ret == 0 || ret == CLI_EXIT_USAGE);
	free(buf);
	return 0;
}
