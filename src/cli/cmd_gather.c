// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* sgbpf gather: scatter-gather against workers listed in a file. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sgbpf/sgbpf.h>

#include "cli.h"
#include "cli_common.h"
#include "gather_loop.h"
#include "svc_args.h"

#define CMD "gather"

static void usage(FILE *out)
{
	fprintf(out,
"Usage: sgbpf gather --workers FILE [OPTIONS]\n"
"       sgbpf gather --backend tcp --listen ADDR:PORT --workers FILE [OPTIONS]\n"
"\n"
"Scatters requests to the workers listed in FILE (one IPv4:port per line) and\n"
"gathers one in-kernel reduced result per request.\n"
"\n"
"Options:\n"
"  -b, --backend udp|tcp       transport (default udp)\n"
"  -d, --dev IFACE             interface towards the workers (default lo)\n"
"  -w, --workers FILE          worker list (required)\n"
"  -r, --reduce NAME           count, sum-u32 (default), sum-u64, sum-i32, sum-i64,\n"
"                              min-*, max-* (same types), or-u32, and-u32, or-u64, and-u64\n"
"      --reduce-obj PATH       custom reduction: a BPF object built against\n"
"                              <sgbpf/aggregation.bpf.h>\n"
"      --reduce-prog NAME      the reduction NAME it defines, when it holds several\n"
"      --elem-size 1|2|4|8     element size the custom reduction must have\n"
"                              (default: the one its object records)\n"
"  -p, --policy all|any|N      completion policy (default all)\n"
"  -t, --timeout-us T          per-request timeout in microseconds (default 1000000;\n"
"                              0 waits for ever)\n"
"      --retry-us T            re-send a request that has not completed T us after\n"
"                              its scatter, only to the workers that have not\n"
"                              answered, with the same id (default: never)\n"
"      --retries R             at most R such re-scatters per request (default 1)\n"
"      --all-gather            send each complete result back to every worker\n"
"                              (message type 2, same request id)\n"
"      --reply-budget N        send a request only while at most N replies are\n"
"                              awaited (the receive ring: no incast overflow)\n"
"      --packets K             replies may span K packets, 1..%u (default 1):\n"
"                              packet s carries result bytes [s*C, s*C+len),\n"
"                              C = the largest multiple of the element size\n"
"                              <= 1454 (docs/protocol.md)\n"
"  -n, --count K               requests to run (default 1)\n"
"  -i, --inflight M            requests outstanding at once (default 1)\n"
"  -D, --delivery MODE         ringbuf (default), ctrl-fd, block, busy-wait\n"
"  -a, --allow                 let replies through to user space after reduction\n"
"  -m, --message TEXT          scatter message body (default \"sgbpf\")\n"
"  -j, --json                  one JSON object per request, then a summary object\n"
"      --xdp-mode MODE         auto (default), native, generic, off (gather at TC\n"
"                              ingress; auto does so when the XDP hook is taken)\n"
"      --max-inflight N        request slots of the service (default 8192)\n"
"\n"
"TCP (--backend tcp; FILE lists each worker's source IPv4:port):\n"
"  -l, --listen ADDR:PORT      where the workers connect (a local address)\n"
"      --connect-timeout-ms T  how long the first request waits for every\n"
"                              worker to connect (default 2000)\n"
"      --max-reply BYTES       largest reply body (default 65536); the kernel\n"
"                              holds this much per request slot\n"
"\n"
"  -h, --help                  show this help and exit\n"
"  -V, --version               show the version and exit\n"
"\n"
"Exit codes: 0 every request completed, 1 a request expired or failed (or a\n"
"runtime error), 2 usage error (a bad value, or a bad file: missing, not a\n"
"regular file, or not what it must be), 130/143 stopped by SIGINT/SIGTERM.\n", SGBPF_MAX_PACKETS_PER_REPLY);
}

enum { OPT_REDUCE_OBJ = 256, OPT_REDUCE_PROG, OPT_ELEM_SIZE, OPT_XDP_MODE, OPT_MAX_INFLIGHT,
       OPT_CONNECT_TIMEOUT, OPT_MAX_REPLY };

int cmd_gather(int argc, char **argv)
{
	static const struct option longopts[] = {
		SVC_COMMON_LONGOPTS,
		{ "dev", required_argument, NULL, 'd' },
		{ "workers", required_argument, NULL, 'w' },
		{ "reduce", required_argument, NULL, 'r' },
		{ "reduce-obj", required_argument, NULL, OPT_REDUCE_OBJ },
		{ "reduce-prog", required_argument, NULL, OPT_REDUCE_PROG },
		{ "elem-size", required_argument, NULL, OPT_ELEM_SIZE },
		{ "policy", required_argument, NULL, 'p' },
		{ "message", required_argument, NULL, 'm' },
		{ "json", no_argument, NULL, 'j' },
		{ "xdp-mode", required_argument, NULL, OPT_XDP_MODE },
		{ "max-inflight", required_argument, NULL, OPT_MAX_INFLIGHT },
		{ "listen", required_argument, NULL, 'l' },
		{ "connect-timeout-ms", required_argument, NULL, OPT_CONNECT_TIMEOUT },
		{ "max-reply", required_argument, NULL, OPT_MAX_REPLY },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	SGBPF_OPTS(sgbpf_service_opts, so, .reduce = SGBPF_REDUCE_SUM_U32);
	struct gather_loop g = { .count = 1, .inflight = 1, .msg = "sgbpf", .msg_len = 5 };
	const char *reduce_name = "sum-u32";
	struct sgbpf_endpoint *eps = NULL;
	bool reduce_named = false;
	size_t neps = 0;
	uint32_t u32;
	int c, err, ret;

	g.sopts.sz = sizeof(g.sopts);
	g.sopts.timeout_us = 1000000;
	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, ":" SVC_COMMON_SHORTOPTS "d:w:r:p:m:l:jhV", longopts,
				NULL)) != -1) {
		ret = svc_common_option(CMD, c, optarg, &so, &g.sopts, &g.count, &g.inflight);
		if (ret >= 0) {
			if (ret)
				return ret;
			continue;
		}
		switch (c) {
		case 'd':
			so.ifname = optarg;
			break;
		case 'w':
			so.workers_file = optarg;
			break;
		case 'r':
			err = sgbpf_reduce_parse(optarg);
			if (err < 0 || err == SGBPF_REDUCE_CUSTOM)
				return cli_usage_error(CMD, "unknown reduction '%s'", optarg);
			if (so.reduce_obj)
				return cli_usage_error(CMD, "--reduce and --reduce-obj are alternatives: "
						       "give one");
			so.reduce = err;
			reduce_name = optarg;
			reduce_named = true;
			break;
		case OPT_REDUCE_OBJ:
			if (reduce_named)
				return cli_usage_error(CMD, "--reduce and --reduce-obj are alternatives: "
						       "give one");
			so.reduce = SGBPF_REDUCE_CUSTOM;
			so.reduce_obj = optarg;
			reduce_name = "custom";
			break;
		case OPT_REDUCE_PROG:
			so.reduce_prog = optarg;
			break;
		case OPT_ELEM_SIZE:
			if (cli_parse_u32(optarg, 1, 8, &u32) || (u32 & (u32 - 1)))
				return cli_usage_error(CMD, "--elem-size takes 1, 2, 4 or 8");
			so.reduce_elem_size = u32;
			break;
		case 'p':
			if (svc_parse_policy(optarg, &g.sopts))
				return cli_usage_error(CMD, "bad policy '%s' (all, any or N >= 1)", optarg);
			break;
		case 'm':
			g.msg = optarg;
			g.msg_len = strlen(optarg);
			if (g.msg_len > SGBPF_UDP_BODY_MAX)
				return cli_usage_error(CMD, "message longer than %u bytes",
						       SGBPF_UDP_BODY_MAX);
			break;
		case 'j':
			g.json = true;
			break;
		case OPT_XDP_MODE:
			if (svc_parse_xdp_mode(optarg, &so.xdp_mode))
				return cli_usage_error(CMD, "unknown XDP mode '%s' (auto, native, generic, off)",
						       optarg);
			break;
		case OPT_MAX_INFLIGHT:
			if (cli_parse_u32(optarg, 1, SGBPF_MAX_INFLIGHT, &so.max_inflight))
				return cli_usage_error(CMD, "bad max-inflight '%s'", optarg);
			break;
		case 'l':
			if (cli_parse_endpoint(optarg, &so.listen))
				return cli_usage_error(CMD, "--listen %s: expected IPv4:PORT", optarg);
			break;
		case OPT_CONNECT_TIMEOUT:
			if (cli_parse_u32(optarg, 1, 3600u * 1000, &so.connect_timeout_ms))
				return cli_usage_error(CMD, "bad --connect-timeout-ms '%s' (1 ms to an "
						       "hour)", optarg);
			break;
		case OPT_MAX_REPLY:
			if (cli_parse_u32(optarg, 1, 1u << 30, &so.max_reply))
				return cli_usage_error(CMD, "bad --max-reply '%s' (1 byte to 1 GiB)",
						       optarg);
			break;
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		case 'V':
			cli_print_version();
			return CLI_EXIT_OK;
		default:
			return cli_getopt_error(CMD, c, argc, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
	if (!so.workers_file)
		return cli_usage_error(CMD, "--workers FILE is required");
	if (so.backend == SGBPF_BACKEND_TCP && !so.listen.port)
		return cli_usage_error(CMD, "--backend tcp needs --listen ADDR:PORT");
	if (so.backend != SGBPF_BACKEND_TCP &&
	    (so.listen.port || so.connect_timeout_ms || so.max_reply))
		return cli_usage_error(CMD, "--listen, --connect-timeout-ms and --max-reply are for "
				       "--backend tcp");
	ret = svc_common_check(CMD, &so, g.inflight);
	if (ret)
		return ret;
	if (so.reduce_obj) {
		ret = cli_check_file(CMD, "--reduce-obj", so.reduce_obj, true);
		if (ret)
			return ret;
	}
	/*
	 * The list is read here rather than by the library so that a bad file
	 * is a usage error (exit 2) like any other bad value, and so that the
	 * policy can be checked against it before anything is attached.
	 */
	if (sgbpf_workers_parse_file(so.workers_file, &eps, &neps, NULL))
		return cli_usage_error(CMD, "%s", sgbpf_last_error());
	ret = svc_retry_check(CMD, &g.sopts);
	if (!ret)
		ret = svc_allgather_check(CMD, &so, &g.sopts);
	if (!ret)
		ret = svc_policy_check(CMD, &g.sopts, (uint32_t)neps);
	if (ret)
		goto out_eps;
	so.workers_file = NULL;
	so.workers = eps;
	so.nworkers = neps;

	g.is_signed = strstr(reduce_name, "-i") != NULL;
	so.on_complete = gather_loop_on_complete;
	so.cb_ctx = &g;
	g.svc = sgbpf_service_create(&so);
	if (!g.svc) {
		ret = cli_fail(CMD, "%s", sgbpf_last_error());
		goto out_eps;
	}
	ret = gather_loop_check_inflight(CMD, &g);
	if (ret) {
		sgbpf_service_destroy(g.svc);
		goto out_eps;
	}

	gather_loop_catch_signals();
	err = gather_loop_run(&g);
	if (err) {
		ret = cli_fail(CMD, "%s", sgbpf_last_error());
	} else {
		gather_loop_summary(&g, g.json ? stdout : stderr);
		ret = g.stopped_by ? gather_loop_signal_exit(&g) :
		      g.complete == g.count ? CLI_EXIT_OK : CLI_EXIT_FAIL;
	}
	sgbpf_service_destroy(g.svc);
	gather_loop_free(&g);
out_eps:
	free(eps);
	return ret;
}
