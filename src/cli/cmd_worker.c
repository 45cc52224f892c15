// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sgbpf worker: the command line of the reference workers.  It parses the
 * options into a struct worker_opts and hands them to one engine in
 * src/worker/: the socket-based UDP worker (udp_worker.c), the in-kernel one
 * (--xdp, xdp_worker.c) or the TCP workers (--backend tcp, tcp_worker.c).
 */
#define _GNU_SOURCE	/* CPU_SETSIZE */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_common.h"
#include "reply_gen.h"
#include "worker.h"

#define CMD "worker"

static void worker_usage(void)
{
	printf(
"Usage: sgbpf worker --listen ADDR:PORT[-PORT] [--listen ...] [OPTIONS]\n"
"       sgbpf worker --xdp --dev IF --listen ADDR:PORT[-PORT] [--reply KIND] [--no-pad]\n"
"       sgbpf worker --backend tcp --connect ADDR:PORT --bind IP:PORT[-PORT] [OPTIONS]\n"
"\n"
"A reference UDP worker: every listened port answers each scatter message\n"
"(msg_type 0) with a reply echoing its req_id, from the port it reached,\n"
"to the address it came from.  Many ports, one process.\n"
"\n"
"Options:\n"
"  -l, --listen ADDR:PORT[-PORT]  listen on a port or an inclusive port range\n"
"                                 (repeatable), e.g. 127.0.0.1:9000-9127\n"
"  -r, --reply KIND               reply contents: vector (default), scalar,\n"
"                                 zeros, random:SEED (docs/protocol.md)\n"
"  -k, --packets K                datagrams per reply, 1..%u (default 1)\n"
"      --no-pad                   send 18+body_len bytes, not 1472\n"
"  -n, --count-limit N            exit after answering N scatter messages\n"
"  -c, --cpu N                    pin the worker to CPU N\n"
"  -q, --quiet                    print neither the ready line nor the summary\n"
"\n"
"In the kernel:\n"
"      --xdp                      answer in an XDP program on --dev instead of\n"
"                                 sockets (XDP_TX; vector, scalar or zeros;\n"
"                                 one datagram per reply; no misbehaviour);\n"
"                                 ADDR 0.0.0.0 matches any destination\n"
"  -d, --dev IF                   the interface the scatters arrive on\n"
"\n"
"Misbehaviour, for robustness tests:\n"
"      --duplicate                send every reply twice\n"
"      --shuffle                  send the packets of a reply (--packets) in a\n"
"                                 random order, each copy in its own\n"
"      --junk                     follow each reply with a 5-byte garbage datagram\n"
"      --stray                    also send each datagram from an unlisted port\n"
"      --silent-port PORT         that port receives but never answers (repeatable)\n"
"      --delay-us US              delay every reply by US microseconds\n"
"      --expect-allgather         count the all-gathers (message type 2, gather\n"
"                                 --all-gather) that arrive, apart for requests\n"
"                                 never received; without it they are malformed\n"
"      --ignore-first             never answer the first copy of a request a port\n"
"                                 receives, only later ones (a straggler that a\n"
"                                 re-scatter, gather --retry-us, gets an answer from)\n"
"\n"
"TCP workers (--backend tcp), one connection per bound port:\n"
"  -b, --backend udp|tcp          transport (default udp)\n"
"      --connect ADDR:PORT        the service to connect to (gather --listen)\n"
"      --bind IP:PORT[-PORT]      source endpoints, one worker each (repeatable);\n"
"                                 the service's --workers file lists them\n"
"      --reply-size BYTES         reply body bytes, 0..%u (default 1452); u32\n"
"                                 element i is what a UDP worker's packet\n"
"                                 i / 363 would hold (vector: i); --reply and\n"
"                                 --count-limit as above.  A dropped\n"
"                                 connection is made again.\n"
"\n"
"  -h, --help                     show this help and exit\n"
"  -V, --version                  show the version and exit\n"
"\n"
"Prints 'worker: listening on N ports' on stderr once ready.  SIGINT or\n"
"SIGTERM stops it with a summary line; the exit code is then 0.  With --xdp\n"
"the program detaches when the process ends, however it ends.\n",
	WORKER_MAX_PACKETS, WORKER_MAX_REPLY_SIZE);
}

enum {
	OPT_NO_PAD = 256,
	OPT_DUPLICATE,
	OPT_SHUFFLE,
	OPT_JUNK,
	OPT_STRAY,
	OPT_SILENT_PORT,
	OPT_DELAY_US,
	OPT_XDP,
	OPT_IGNORE_FIRST,
	OPT_EXPECT_ALLGATHER,
	OPT_CONNECT,
	OPT_BIND,
	OPT_REPLY_SIZE,
};

/* Returns -1 when options parsed and the worker should run, else an exit code. */
static int parse_worker_args(int argc, char **argv, struct worker_opts *o)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "reply", required_argument, NULL, 'r' },
		{ "packets", required_argument, NULL, 'k' },
		{ "no-pad", no_argument, NULL, OPT_NO_PAD },
		{ "count-limit", required_argument, NULL, 'n' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "duplicate", no_argument, NULL, OPT_DUPLICATE },
		{ "shuffle", no_argument, NULL, OPT_SHUFFLE },
		{ "junk", no_argument, NULL, OPT_JUNK },
		{ "stray", no_argument, NULL, OPT_STRAY },
		{ "silent-port", required_argument, NULL, OPT_SILENT_PORT },
		{ "delay-us", required_argument, NULL, OPT_DELAY_US },
		{ "ignore-first", no_argument, NULL, OPT_IGNORE_FIRST },
		{ "expect-allgather", no_argument, NULL, OPT_EXPECT_ALLGATHER },
		{ "xdp", no_argument, NULL, OPT_XDP },
		{ "dev", required_argument, NULL, 'd' },
		{ "backend", required_argument, NULL, 'b' },
		{ "connect", required_argument, NULL, OPT_CONNECT },
		{ "bind", required_argument, NULL, OPT_BIND },
		{ "reply-size", required_argument, NULL, OPT_REPLY_SIZE },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	struct cli_port_range r;
	uint32_t u32;
	uint16_t port;
	uint64_t total = 0;
	int c, err;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, ":l:r:k:n:c:d:b:qhV", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			if (strcmp(optarg, "udp") && strcmp(optarg, "tcp"))
				return cli_usage_error(CMD, "unknown backend '%s' (udp, tcp)", optarg);
			o->tcp = !strcmp(optarg, "tcp");
			break;
		case OPT_CONNECT:
			if (cli_parse_endpoint(optarg, &o->connect))
				return cli_usage_error(CMD, "--connect %s: expected IPv4:PORT", optarg);
			o->has_connect = true;
			break;
		case OPT_REPLY_SIZE:
			if (cli_parse_u32(optarg, 0, WORKER_MAX_REPLY_SIZE, &o->reply_size))
				return cli_usage_error(CMD, "--reply-size %s: expected 0..%u", optarg,
						       WORKER_MAX_REPLY_SIZE);
			break;
		case OPT_BIND:
			if (!o->tcp)
				return cli_usage_error(CMD, "--bind is for --backend tcp (give it first)");
			/* A source range is parsed like a listen range. */
			__attribute__((fallthrough));
		case 'l':
			if (c == 'l' && o->tcp)
				return cli_usage_error(CMD, "TCP workers take --bind, not --listen");
			err = cli_parse_port_range(optarg, &r);
			if (err == -ERANGE)
				return cli_usage_error(CMD, "--listen %s: the range ends before it starts",
						       optarg);
			if (err)
				return cli_usage_error(CMD, "--listen %s: expected IPv4:PORT or IPv4:PORT-PORT",
						       optarg);
			if (worker_opts_add_listen(o, &r))
				return cli_fail(CMD, "out of memory");
			total += cli_range_len(&r);
			break;
		case 'r':
			if (reply_gen_parse(optarg, &o->reply))
				return cli_usage_error(CMD, "--reply %s: expected vector, scalar, zeros or random:SEED",
						       optarg);
			break;
		case 'k':
			if (cli_parse_u32(optarg, 1, WORKER_MAX_PACKETS, &o->packets))
				return cli_usage_error(CMD, "--packets %s: expected 1..%u", optarg,
						       WORKER_MAX_PACKETS);
			break;
		case OPT_NO_PAD:
			o->pad = false;
			break;
		case 'n':
			if (cli_parse_u64(optarg, 1, UINT64_MAX, &o->count_limit))
				return cli_usage_error(CMD, "--count-limit %s: expected a positive number",
						       optarg);
			break;
		case 'c':
			if (cli_parse_u32(optarg, 0, CPU_SETSIZE - 1, &u32))
				return cli_usage_error(CMD, "--cpu %s: expected a CPU number 0..%d",
						       optarg, CPU_SETSIZE - 1);
			o->cpu = (int)u32;
			break;
		case 'q':
			o->quiet = true;
			break;
		case OPT_SHUFFLE:
			o->shuffle = true;
			break;
		case OPT_DUPLICATE:
			o->duplicate = true;
			break;
		case OPT_JUNK:
			o->junk = true;
			break;
		case OPT_STRAY:
			o->stray = true;
			break;
		case OPT_SILENT_PORT:
			if (cli_parse_port(optarg, &port))
				return cli_usage_error(CMD, "--silent-port %s: expected a port 1..65535",
						       optarg);
			worker_opts_set_silent(o, port);
			break;
		case OPT_DELAY_US:
			if (cli_parse_u64(optarg, 0, WORKER_MAX_DELAY_US, &o->delay_us))
				return cli_usage_error(CMD, "--delay-us %s: expected 0..%llu", optarg,
						       (unsigned long long)WORKER_MAX_DELAY_US);
			break;
		case OPT_IGNORE_FIRST:
			o->ignore_first = true;
			break;
		case OPT_EXPECT_ALLGATHER:
			o->expect_allgather = true;
			break;
		case OPT_XDP:
			o->xdp = true;
			break;
		case 'd':
			o->dev = optarg;
			break;
		case 'h':
			worker_usage();
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
	if (o->tcp) {
		if (total > 65535)
			return cli_usage_error(CMD, "%llu ports to bind; at most 65535",
					       (unsigned long long)total);
		return tcp_worker_check_opts(o);
	}
	if (o->has_connect)
		return cli_usage_error(CMD, "--connect is for --backend tcp");
	if (!o->nlisten)
		return cli_usage_error(CMD, "--listen is required");
	if (total > 65535)
		return cli_usage_error(CMD, "%llu ports to listen on; at most 65535",
				       (unsigned long long)total);
	if (o->xdp)
		return xdp_worker_check_opts(o);
	if (o->dev)
		return cli_usage_error(CMD, "--dev is for --xdp");
	return -1;
}

int cmd_worker(int argc, char **argv)
{
	struct worker_opts *o;
	int ret;

	/* 8 KB of silent-port bitmap: keep it off the stack. */
	o = malloc(sizeof(*o));
	if (!o)
		return cli_fail(CMD, "out of memory");
	worker_opts_init(o);
	ret = parse_worker_args(argc, argv, o);
	if (ret < 0)
		ret = o->tcp ? tcp_worker_run(o) : o->xdp ? xdp_worker_run(o) : udp_worker_run(o);
	worker_opts_free(o);
	free(o);
	return ret;
}
