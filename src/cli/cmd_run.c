// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sgbpf run: the zero-configuration demo.  Starts local reference workers on
 * loopback, runs scatter-gathers through the kernel, and checks every
 * reduced result against what the workers must have sent.
 */
#define _GNU_SOURCE /* pipe2 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sgbpf/sgbpf.h>

#include "cli.h"
#include "cli_common.h"
#include "gather_loop.h"
#include "reply_gen.h"
#include "svc_args.h"

#define CMD "run"
#define LOOPBACK 0x7f000001u
#define PORTS_BOTTOM 20000u	/* the lowest port run gives a worker */

struct demo {
	struct reply_gen gen;
	uint16_t *ports;
	uint32_t nworkers;
	uint32_t packets;		/* per reply (--packets) */
	uint32_t expect[REPLY_GEN_NELEMS * SGBPF_MAX_PACKETS_PER_REPLY];
};

static void usage(FILE *out)
{
	fprintf(out,
"Usage: sgbpf run [OPTIONS]\n"
"\n"
"Zero-configuration demo: starts N reference workers on 127.0.0.1, runs K\n"
"scatter-gathers whose sums are reduced in the kernel, and checks every\n"
"result against the value the workers must produce (each request gets\n"
"different replies, so a result mixed up between requests is caught).\n"
"Needs root (BPF programs are attached to lo).\n"
"\n"
"Options:\n"
"  -b, --backend udp|tcp    transport (default udp); tcp: the workers connect\n"
"                           to the service on 127.0.0.1, one connection each\n"
"  -w, --workers N          local workers to start (default 16, at most %u)\n"
"  -n, --count K            requests (default 1000)\n"
"  -i, --inflight M         requests outstanding at once (default 1)\n"
"  -D, --delivery MODE      ringbuf (default), ctrl-fd, block, busy-wait\n"
"  -a, --allow              let replies through to user space as well\n"
"  -t, --timeout-us T       per-request timeout (default 1000000)\n"
"      --retry-us T         re-send a request not complete after T us to the\n"
"                           workers that have not answered (default: never)\n"
"      --retries R          at most R re-scatters per request (default 1)\n"
"      --all-gather         send each complete result back to every worker\n"
"      --reply-budget N     send a request only while at most N replies are awaited\n"
"      --packets K          workers reply with K packets each (shuffled), reduced\n"
"                           into one K*363-element result (1..%u, default 1)\n"
"  -h, --help               show this help and exit\n"
"  -V, --version            show the version and exit\n"
"\n"
"Exit codes: 0 every result correct, 1 any incorrect or expired result or a\n"
"runtime error, 2 usage error, 130/143 stopped by SIGINT/SIGTERM.\n", SGBPF_MAX_WORKERS,
		SGBPF_MAX_PACKETS_PER_REPLY);
}

static bool check_sum(const struct sgbpf_result *res, void *ctx)
{
	struct demo *d = ctx;
	uint32_t n = 0;

	if (res->responses != d->nworkers || res->elem_size != 4)
		return false;
	/* Packet seq of every worker's reply is chunk seq of the result. */
	for (uint32_t seq = 0; seq < d->packets; seq++)
		n += reply_gen_expected_sum_u32(&d->gen, d->ports, d->nworkers, res->req_id, seq,
						d->expect + n);
	return res->nelems == n && memcmp(res->data, d->expect, (size_t)n * 4) == 0;
}

/*
 * The top of the range run draws its ports from: below the kernel's
 * ephemeral ports when there is room, so that no socket the kernel numbers
 * (a listener, a connection) takes a worker's port between the check here
 * and the worker's bind().
 */
static uint32_t ports_top(uint32_t n)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
	unsigned int low = 0, high = 0;

	if (f) {
		if (fscanf(f, "%u %u", &low, &high) != 2)
			low = 0;
		fclose(f);
	}
	return low > PORTS_BOTTOM + 2 * n ? low : 60000;
}

/* A run of n consecutive loopback ports that nobody uses right now, for UDP or TCP. */
static int find_ports(uint32_t n, uint16_t *base)
{
	unsigned int seed = (unsigned int)time(NULL) ^ (unsigned int)getpid() << 8;
	uint32_t top = ports_top(n);

	for (int attempt = 0; attempt < 50; attempt++) {
		uint16_t first = PORTS_BOTTOM + rand_r(&seed) % (top - PORTS_BOTTOM - n);
		uint32_t i;

		for (i = 0; i < n; i++) {
			struct sockaddr_in a = { .sin_family = AF_INET,
						 .sin_addr.s_addr = htonl(LOOPBACK),
						 .sin_port = htons(first + i) };
			int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			int tfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			int busy;

			if (fd < 0 || tfd < 0) {
				busy = -errno;
				if (fd >= 0)
					close(fd);
				if (tfd >= 0)
					close(tfd);
				return busy;
			}
			busy = bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
			       bind(tfd, (struct sockaddr *)&a, sizeof(a));
			close(fd);
			close(tfd);
			if (busy)
				break;
		}
		if (i == n) {
			*base = first;
			return 0;
		}
	}
	return -EADDRINUSE;
}

/*
 * Starts 'sgbpf worker' as a child and waits for its ready line: UDP
 * workers sending replies of `packets` datagrams, or with tcp_port TCP
 * workers connecting to 127.0.0.1:tcp_port from the ports.
 */
static pid_t start_workers(uint16_t base, uint32_t n, const char *reply, bool allgather,
			   uint32_t packets, uint16_t tcp_port)
{
	char listen[64], connect_to[64], line[256], npk[16];
	int pipefd[2];
	FILE *err_in;
	pid_t pid;

	snprintf(listen, sizeof(listen), "127.0.0.1:%u-%u", base, base + n - 1);
	snprintf(connect_to, sizeof(connect_to), "127.0.0.1:%u", tcp_port);
	if (pipe2(pipefd, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		/* Multi-packet replies leave shuffled: the kernel must not care. */
		char *args[] = { "sgbpf", "worker", "--listen", listen, "--reply", (char *)reply,
				 "--packets", npk, "--shuffle",
				 allgather ? "--expect-allgather" : NULL, NULL };
		char *tcp_args[] = { "sgbpf", "worker", "--backend", "tcp", "--connect", connect_to,
				     "--bind", listen, "--reply", (char *)reply, NULL };

		snprintf(npk, sizeof(npk), "%u", packets);

		/* The demo's workers must not outlive it, however it ends. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(pipefd[1], STDERR_FILENO);
		execv("/proc/self/exe", tcp_port ? tcp_args : args);
		_exit(127);
	}
	close(pipefd[1]);
	err_in = fdopen(pipefd[0], "r");
	if (!err_in) {
		close(pipefd[0]);
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		return -1;
	}
	while (fgets(line, sizeof(line), err_in)) {
		if (strstr(line, "listening on") || strstr(line, "connecting to")) {
			/* Keep reading in the child's lifetime is not needed: close our end. */
			fclose(err_in);
			return pid;
		}
		fputs(line, stderr);
	}
	fclose(err_in);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	errno = ECHILD;
	return -1;
}

static void stop_workers(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

int cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		SVC_COMMON_LONGOPTS,
		{ "workers", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	SGBPF_OPTS(sgbpf_service_opts, so, .reduce = SGBPF_REDUCE_SUM_U32);
	struct gather_loop g = { .count = 1000, .inflight = 1, .msg = "sgbpf demo", .msg_len = 10 };
	struct demo d = { .nworkers = 16 };
	struct sgbpf_service_info info;
	struct sgbpf_endpoint *eps = NULL;
	char reply[64];
	uint16_t base = 0;
	pid_t workers = -1;
	bool tcp;
	int c, err, ret;

	g.sopts.sz = sizeof(g.sopts);
	g.sopts.timeout_us = 1000000;
	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, ":" SVC_COMMON_SHORTOPTS "w:hV", longopts, NULL)) != -1) {
		ret = svc_common_option(CMD, c, optarg, &so, &g.sopts, &g.count, &g.inflight);
		if (ret >= 0) {
			if (ret)
				return ret;
			continue;
		}
		switch (c) {
		case 'w':
			if (cli_parse_u32(optarg, 1, SGBPF_MAX_WORKERS, &d.nworkers))
				return cli_usage_error(CMD, "bad worker count '%s' (1..%u)", optarg,
						       SGBPF_MAX_WORKERS);
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
	ret = svc_common_check(CMD, &so, g.inflight);
	if (!ret)
		ret = svc_retry_check(CMD, &g.sopts);
	if (!ret)
		ret = svc_allgather_check(CMD, &so, &g.sopts);
	if (ret)
		return ret;
	ret = CLI_EXIT_FAIL;

	/* Replies differ per request and per worker: a random-but-known body. */
	snprintf(reply, sizeof(reply), "random:%lu", (unsigned long)time(NULL));
	if (reply_gen_parse(reply, &d.gen))
		return cli_fail(CMD, "internal: bad reply kind %s", reply);
	d.ports = calloc(d.nworkers, sizeof(*d.ports));
	eps = calloc(d.nworkers, sizeof(*eps));
	if (!d.ports || !eps) {
		cli_fail(CMD, "out of memory");
		goto out;
	}
	/* TCP: one more port, the service's own, after the workers'. */
	tcp = so.backend == SGBPF_BACKEND_TCP;
	err = find_ports(d.nworkers + tcp, &base);
	if (err) {
		cli_fail(CMD, "no run of %u free loopback ports found", d.nworkers);
		goto out;
	}
	for (uint32_t i = 0; i < d.nworkers; i++) {
		d.ports[i] = base + i;
		eps[i].addr = htonl(LOOPBACK);
		eps[i].port = base + i;
	}
	if (tcp) {
		so.listen.addr = htonl(LOOPBACK);
		so.listen.port = base + d.nworkers;
	}
	d.packets = so.max_packets ? so.max_packets : 1;
	workers = start_workers(base, d.nworkers, reply, g.sopts.all_gather, d.packets,
				so.listen.port);
	if (workers < 0) {
		cli_fail(CMD, "cannot start the local workers: %s", strerror(errno));
		goto out;
	}

	if (so.backend != SGBPF_BACKEND_TCP)
		so.ifname = "lo";
	so.workers = eps;
	so.nworkers = d.nworkers;
	so.on_complete = gather_loop_on_complete;
	so.cb_ctx = &g;
	g.check = check_sum;
	g.check_ctx = &d;
	g.svc = sgbpf_service_create(&so);
	if (!g.svc) {
		cli_fail(CMD, "%s", sgbpf_last_error());
		goto out;
	}
	err = gather_loop_check_inflight(CMD, &g);
	if (err) {
		ret = err;
		sgbpf_service_destroy(g.svc);
		goto out;
	}
	sgbpf_service_info(g.svc, &info);
	if (tcp)
		printf("sgbpf run: %u TCP workers from 127.0.0.1:%u-%u to 127.0.0.1:%u, %llu "
		       "requests, %u in flight, delivery %s%s, reduction sum-u32 in the kernel "
		       "(sk_skb stream program)\n",
		       d.nworkers, base, base + d.nworkers - 1, so.listen.port,
		       (unsigned long long)g.count, g.inflight, svc_delivery_name(so.delivery),
		       so.fate == SGBPF_FATE_ALLOW ? " (allow)" : "");
	else
		printf("sgbpf run: %u workers on 127.0.0.1:%u-%u, %llu requests, %u in flight, "
		       "delivery %s%s, reduction sum-u32 in the kernel, gather at %s on lo\n",
		       d.nworkers, base, base + d.nworkers - 1, (unsigned long long)g.count,
		       g.inflight, svc_delivery_name(so.delivery),
		       so.fate == SGBPF_FATE_ALLOW ? " (allow)" : "",
		       svc_gather_hook_name(info.gather_hook));
	fflush(stdout);
	gather_loop_catch_signals();
	err = gather_loop_run(&g);
	if (err) {
		cli_fail(CMD, "%s", sgbpf_last_error());
	} else {
		gather_loop_summary(&g, stdout);
		if (g.stopped_by) {
			ret = gather_loop_signal_exit(&g);
		} else if (g.incorrect == 0 && g.complete == g.count) {
			printf("result:   all %llu results correct\n", (unsigned long long)g.count);
			ret = CLI_EXIT_OK;
		} else {
			printf("result:   FAILED: %llu incorrect, %llu expired, %llu failed\n",
			       (unsigned long long)g.incorrect, (unsigned long long)g.expired,
			       (unsigned long long)g.failed);
		}
	}
	sgbpf_service_destroy(g.svc);
out:
	stop_workers(workers);
	gather_loop_free(&g);
	free(d.ports);
	free(eps);
	return ret;
}
