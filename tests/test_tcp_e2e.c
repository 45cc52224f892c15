// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The TCP backend end to end, over the lo of a namespace the test creates:
 * a service of this process against `sgbpf worker --backend tcp` farms.
 * Exact sums at fan-outs 1, 8 and 64 with replies of 1 B to 1 MiB, the any
 * and N policies, a worker killed and started again mid-run, an unlisted
 * source refused, and nothing of ours left after destroy.
 */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <sgbpf/sgbpf.h>

#include "netns_util.h"
#include "reply_gen.h"
#include "suite_run.h"
#include "tcp_rig.h"
#include "worker_farm.h"

#define SEED 12345u

static struct netns ns;

static void setup(void)
{
	ck_assert_int_eq(netns_create(&ns, "tcpe2e"), 0);
	ck_assert_int_eq(netns_enter(&ns, NULL), 0);
	ck_assert_int_eq(netns_link_up(&ns, "lo"), 0);
}

static void teardown(void)
{
	netns_delete(&ns);
}

/* What the callback saw. */
struct seen {
	uint32_t done, complete, expired, failed, wrong;
	uint32_t last_responses;
	uint64_t failed_latency_ns;	/* of the last request reported failed */
	bool in_scatter;		/* set by a test around sgbpf_scatter() */
	uint32_t cb_in_scatter;		/* callbacks that ran inside it */
	const struct reply_gen *gen;	/* random replies: exact per worker; NULL: vector */
	const uint16_t *ports;		/* random: the workers that all answered */
	uint32_t nports;
	uint32_t reply_size;
};

/* Element i of the sum of the replies of ports[0..n-1] to req (random replies). */
static uint32_t expected_random(const struct seen *s, uint32_t req, uint32_t i)
{
	uint32_t v = 0;

	for (uint32_t w = 0; w < s->nports; w++)
		v += reply_gen_elem(s->gen, s->ports[w], req, i / REPLY_GEN_NELEMS,
				    i % REPLY_GEN_NELEMS);
	return v;
}

/*
 * A completed sum must hold every element of the replies: reply_size / 4 of
 * them, each the sum over the workers counted (vector replies: responses x
 * i, whoever answered; random: over every worker of the list).
 */
static bool result_exact(const struct seen *s, const struct sgbpf_result *r)
{
	const uint32_t *d = r->data;

	if (r->elem_size != 4 || r->nelems != s->reply_size / 4 || (r->nelems && !d))
		return false;
	if (s->gen && r->responses != s->nports)
		return false;
	for (uint32_t i = 0; i < r->nelems; i++) {
		uint32_t want = s->gen ? expected_random(s, r->req_id, i) : r->responses * i;

		if (d[i] != want)
			return false;
	}
	return true;
}

static void on_complete(const struct sgbpf_result *r, void *ctx)
{
	struct seen *s = ctx;

	s->done++;
	if (s->in_scatter)
		s->cb_in_scatter++;
	switch (r->status) {
	case SGBPF_STATUS_COMPLETE:
		s->complete++;
		s->last_responses = r->responses;
		if (!result_exact(s, r))
			s->wrong++;
		break;
	case SGBPF_STATUS_EXPIRED:
		s->expired++;
		break;
	default:
		s->failed++;
		s->failed_latency_ns = r->latency_ns;
		break;
	}
}

static struct sgbpf_service *service(uint16_t listen_port, uint16_t src, uint32_t n,
				     uint32_t max_reply, uint32_t inflight,
				     enum sgbpf_delivery delivery, struct seen *s)
{
	struct sgbpf_endpoint *w = calloc(n, sizeof(*w));
	struct sgbpf_service *svc;

	ck_assert_ptr_nonnull(w);
	for (uint32_t i = 0; i < n; i++)
		w[i] = (struct sgbpf_endpoint){ .addr = RIG_LO, .port = src + i };
	{
		SGBPF_OPTS(sgbpf_service_opts, o, .backend = SGBPF_BACKEND_TCP, .workers = w,
			   .nworkers = n, .reduce = SGBPF_REDUCE_SUM_U32, .delivery = delivery,
			   .max_inflight = inflight, .on_complete = on_complete, .cb_ctx = s,
			   .listen = { .addr = RIG_LO, .port = listen_port },
			   .connect_timeout_ms = 5000, .max_reply = max_reply);

		svc = sgbpf_service_create(&o);
	}
	free(w);
	ck_assert_msg(svc, "create: %s", sgbpf_last_error());
	return svc;
}

/* `sgbpf worker --backend tcp` from 127.0.0.1:first..first+n-1 to listen_port. */
static pid_t farm(uint16_t listen_port, uint16_t first, uint32_t n, uint32_t reply_size,
		  const char *reply)
{
	char to[32], bind[48], size[16];
	const char *args[] = { "--backend", "tcp", "--connect", to, "--bind", bind,
			       "--reply-size", size, "--reply", reply, NULL };
	pid_t pid;

	snprintf(to, sizeof(to), "127.0.0.1:%u", listen_port);
	snprintf(bind, sizeof(bind), "127.0.0.1:%u-%u", first, first + n - 1);
	snprintf(size, sizeof(size), "%u", reply_size);
	pid = worker_farm_start_argv(&ns, args);
	ck_assert_int_gt(pid, 0);
	return pid;
}

/* Runs count requests, at most inflight at once, and waits for them all. */
static void run(struct sgbpf_service *svc, struct seen *s, uint32_t count, uint32_t inflight,
		const struct sgbpf_scatter_opts *so)
{
	uint32_t sent = 0, start = s->done;

	while (s->done - start < count) {
		while (sent < count && sgbpf_inflight(svc) < inflight) {
			int err = sgbpf_scatter(svc, "go", 2, so, NULL);

			ck_assert_msg(err == 0, "scatter: %d %s", err, sgbpf_last_error());
			sent++;
		}
		ck_assert_int_ge(sgbpf_wait(svc, 1000), 0);
	}
}

static void assert_clean_streams(struct sgbpf_service *svc)
{
	struct sgbpf_stats st;

	ck_assert_int_eq(sgbpf_service_stats(svc, &st), 0);
	ck_assert_uint_eq(st.malformed, 0);	/* protocol and framing errors */
	ck_assert_uint_eq(st.conn_resets, 0);
}

/* Exact sums at every fan-out and reply size; every worker's reply differs. */
START_TEST(test_exact_sums)
{
	static const uint32_t fanouts[] = { 1, 8, 64 };
	static const uint32_t sizes[] = { 1, 1024, 65536, 1u << 20 };
	struct reply_gen gen = { .kind = REPLY_RANDOM, .seed = SEED };
	char reply[32];
	uint16_t listen_port = 7100, src = 30000;

	snprintf(reply, sizeof(reply), "random:%u", SEED);
	for (unsigned int f = 0; f < 3; f++) {
		for (unsigned int z = 0; z < 4; z++) {
			uint32_t n = fanouts[f], size = sizes[z];
			uint32_t count = size >= (1u << 20) ? 2 : 4;
			uint16_t *ports = calloc(n, sizeof(*ports));
			struct seen s = { .gen = &gen, .ports = ports, .nports = n,
					  .reply_size = size };
			SGBPF_OPTS(sgbpf_scatter_opts, so, .timeout_us = 10000000);
			struct sgbpf_service *svc;
			struct sgbpf_stats st;
			pid_t pid;

			ck_assert_ptr_nonnull(ports);
			for (uint32_t i = 0; i < n; i++)
				ports[i] = src + i;
			pid = farm(listen_port, src, n, size, reply);
			svc = service(listen_port, src, n, size, 2, SGBPF_DELIVERY_RINGBUF, &s);
			run(svc, &s, count, 2, &so);
			ck_assert_msg(s.complete == count && s.wrong == 0,
				      "fan-out %u, %u B: %u of %u complete, %u wrong", n, size,
				      s.complete, count, s.wrong);
			assert_clean_streams(svc);
			ck_assert_int_eq(sgbpf_service_stats(svc, &st), 0);
			ck_assert_uint_eq(st.folded, (uint64_t)n * count);
			ck_assert_uint_eq(st.completed, count);
			sgbpf_service_destroy(svc);
			worker_farm_stop(pid);
			free(ports);
			listen_port++;
			src += n;
		}
	}
}
END_TEST

/* Busy-wait and block delivery complete with the same exact results. */
START_TEST(test_delivery_modes)
{
	static const enum sgbpf_delivery modes[] = { SGBPF_DELIVERY_BUSY_WAIT,
						     SGBPF_DELIVERY_BLOCK };
	struct reply_gen gen = { .kind = REPLY_RANDOM, .seed = SEED };
	uint16_t ports[4] = { 31000, 31001, 31002, 31003 };

	for (unsigned int m = 0; m < 2; m++) {
		struct seen s = { .gen = &gen, .ports = ports, .nports = 4, .reply_size = 8192 };
		SGBPF_OPTS(sgbpf_scatter_opts, so, .timeout_us = 5000000);
		struct sgbpf_service *svc;
		pid_t pid = farm(7200 + m, 31000, 4, 8192, "random:12345");

		svc = service(7200 + m, 31000, 4, 8192, 4, modes[m], &s);
		if (modes[m] == SGBPF_DELIVERY_BUSY_WAIT)
			ck_assert_int_lt(sgbpf_service_fd(svc), 0);
		else
			ck_assert_int_ge(sgbpf_service_fd(svc), 0);
		run(svc, &s, 20, modes[m] == SGBPF_DELIVERY_BLOCK ? 1 : 4, &so);
		ck_assert_uint_eq(s.complete, 20);
		ck_assert_uint_eq(s.wrong, 0);
		sgbpf_service_destroy(svc);
		worker_farm_stop(pid);
	}
}
END_TEST

/*
 * An application's own loop: poll() on sgbpf_service_fd() until readable,
 * then sgbpf_poll().  Every request completes, exact, without sgbpf_wait(),
 * and no callback runs inside sgbpf_scatter().
 */
START_TEST(test_service_fd_loop)
{
	struct reply_gen gen = { .kind = REPLY_RANDOM, .seed = SEED };
	uint16_t ports[4] = { 31100, 31101, 31102, 31103 };
	struct seen s = { .gen = &gen, .ports = ports, .nports = 4, .reply_size = 16384 };
	SGBPF_OPTS(sgbpf_scatter_opts, so, .timeout_us = 5000000);
	struct sgbpf_service *svc;
	pid_t pid = farm(7250, 31100, 4, 16384, "random:12345");
	uint32_t sent = 0;
	int fd, spins = 0;

	svc = service(7250, 31100, 4, 16384, 4, SGBPF_DELIVERY_RINGBUF, &s);
	fd = sgbpf_service_fd(svc);
	ck_assert_int_ge(fd, 0);
	while (s.done < 20 && spins < 10000) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int t;

		while (sent < 20 && sgbpf_inflight(svc) < 2) {
			s.in_scatter = true;
			ck_assert_int_eq(sgbpf_scatter(svc, "go", 2, &so, NULL), 0);
			s.in_scatter = false;
			sent++;
		}
		t = sgbpf_next_timeout_ms(svc);
		if (poll(&p, 1, t < 0 || t > 1000 ? 1000 : t) < 0)
			ck_assert_int_eq(errno, EINTR);	/* socket task work, not a signal */
		ck_assert_int_ge(sgbpf_poll(svc), 0);
		spins++;
	}
	ck_assert_uint_eq(s.complete, 20);
	ck_assert_uint_eq(s.wrong, 0);
	/* Completions are reported by sgbpf_poll(), never from inside a scatter. */
	ck_assert_uint_eq(s.cb_in_scatter, 0);
	/* Woken by the descriptor, not by polling in a loop: a few wake-ups per request. */
	if (getenv("SGBPF_TEST_DEBUG"))
		fprintf(stderr, "service fd loop: %d wake-ups for 20 requests\n", spins);
	ck_assert_int_lt(spins, 20 * 20);
	sgbpf_service_destroy(svc);
	worker_farm_stop(pid);
}
END_TEST

/*
 * Control-fd delivery with fate allow is refused with its reason (a note is
 * made of bytes the application would read); a service without its listen
 * address too.
 */
START_TEST(test_ctrl_fd_allow_refused)
{
	struct sgbpf_endpoint w = { .addr = RIG_LO, .port = 31500 };
	struct seen s = { 0 };
	SGBPF_OPTS(sgbpf_service_opts, o, .backend = SGBPF_BACKEND_TCP, .workers = &w,
		   .nworkers = 1, .delivery = SGBPF_DELIVERY_CTRL_FD, .fate = SGBPF_FATE_ALLOW,
		   .on_complete = on_complete, .cb_ctx = &s,
		   .listen = { .addr = RIG_LO, .port = 7300 });

	ck_assert_ptr_null(sgbpf_service_create(&o));
	ck_assert_int_eq(errno, EOPNOTSUPP);
	ck_assert_ptr_nonnull(strstr(sgbpf_last_error(), "control-fd delivery"));
	ck_assert_ptr_nonnull(strstr(sgbpf_last_error(), "fate allow"));
	o.delivery = SGBPF_DELIVERY_RINGBUF;
	o.fate = SGBPF_FATE_DISCARD;
	o.listen.port = 0;
	ck_assert_ptr_null(sgbpf_service_create(&o));
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

/* The UDP backend's options are refused by a TCP service, each by name. */
START_TEST(test_udp_options_refused)
{
	struct sgbpf_endpoint w = { .addr = RIG_LO, .port = 31500 };
	struct seen s = { 0 };
	SGBPF_OPTS(sgbpf_service_opts, o, .backend = SGBPF_BACKEND_TCP, .workers = &w,
		   .nworkers = 1, .on_complete = on_complete, .cb_ctx = &s,
		   .listen = { .addr = RIG_LO, .port = 7301 });
	struct sgbpf_service *svc;

	o.ifname = "lo";
	ck_assert_ptr_null(sgbpf_service_create(&o));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_nonnull(strstr(sgbpf_last_error(), "ifname"));
	o.ifname = NULL;
	o.xdp_mode = SGBPF_XDP_NATIVE;
	ck_assert_ptr_null(sgbpf_service_create(&o));
	ck_assert_ptr_nonnull(strstr(sgbpf_last_error(), "xdp_mode"));
	o.xdp_mode = SGBPF_XDP_AUTO;
	o.port = 9000;
	ck_assert_ptr_null(sgbpf_service_create(&o));
	ck_assert_ptr_nonnull(strstr(sgbpf_last_error(), "port"));
	o.port = 0;
	o.max_packets = 4;
	ck_assert_ptr_null(sgbpf_service_create(&o));
	ck_assert_ptr_nonnull(strstr(sgbpf_last_error(), "max_packets"));
	o.max_packets = 0;
	o.chunk_bytes = 1024;
	ck_assert_ptr_null(sgbpf_service_create(&o));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_nonnull(strstr(sgbpf_last_error(), "chunk_bytes"));
	/* Without them the same options make a service. */
	o.chunk_bytes = 0;
	svc = sgbpf_service_create(&o);
	ck_assert_msg(svc, "%s", sgbpf_last_error());
	sgbpf_service_destroy(svc);
}
END_TEST

/* any: one reply completes; N: exactly N are folded into the result. */
START_TEST(test_policies)
{
	struct seen s = { .reply_size = 4096 };
	struct sgbpf_service *svc;
	pid_t pid = farm(7400, 32000, 8, 4096, "vector");
	SGBPF_OPTS(sgbpf_scatter_opts, any, .policy = SGBPF_POLICY_ANY, .timeout_us = 5000000);
	SGBPF_OPTS(sgbpf_scatter_opts, five, .policy = SGBPF_POLICY_N, .n = 5,
		   .timeout_us = 5000000);
	SGBPF_OPTS(sgbpf_scatter_opts, all, .timeout_us = 5000000);
	struct sgbpf_stats st;

	svc = service(7400, 32000, 8, 4096, 8, SGBPF_DELIVERY_RINGBUF, &s);
	run(svc, &s, 10, 1, &any);
	ck_assert_uint_eq(s.complete, 10);
	ck_assert_uint_eq(s.wrong, 0);
	ck_assert_uint_eq(s.last_responses, 1);
	run(svc, &s, 10, 1, &five);
	ck_assert_uint_eq(s.complete, 20);
	ck_assert_uint_eq(s.wrong, 0);
	ck_assert_uint_eq(s.last_responses, 5);
	/* Replies past the policy are counted, never folded (an all request after). */
	run(svc, &s, 1, 1, &all);
	ck_assert_uint_eq(s.last_responses, 8);
	ck_assert_uint_eq(s.wrong, 0);
	usleep(200000);	/* the replies past each policy are parsed too */
	ck_assert_int_eq(sgbpf_service_stats(svc, &st), 0);
	ck_assert_uint_eq(st.folded, 10 * 1 + 10 * 5 + 8);
	/* Late ones find their request complete, or its slot reused by a later one. */
	ck_assert_uint_eq(st.surplus + st.stale + st.unsolicited, 10 * 7 + 10 * 3);
	/* N above the workers is refused before anything is sent. */
	five.n = 9;
	ck_assert_int_eq(sgbpf_scatter(svc, "x", 1, &five, NULL), -EINVAL);
	assert_clean_streams(svc);
	sgbpf_service_destroy(svc);
	worker_farm_stop(pid);
}
END_TEST

/* Runs requests until one completes with want responses; false after limit_ms. */
static bool until_responses(struct sgbpf_service *svc, struct seen *s, uint32_t want,
			    int limit_ms, const struct sgbpf_scatter_opts *so)
{
	for (int t = 0; t < limit_ms; t += 20) {
		run(svc, s, 1, 1, so);
		if (s->last_responses == want && s->complete)
			return true;
		usleep(20000);
	}
	return false;
}

/*
 * One worker of eight killed mid-run: requests complete (with the seven
 * left, policy all meaning all connected), fail or expire, never wrong;
 * started again, it lands on its own socket and later requests count it.
 */
START_TEST(test_worker_restart)
{
	struct seen s = { .reply_size = 65536 };
	SGBPF_OPTS(sgbpf_scatter_opts, so, .timeout_us = 300000);
	struct sgbpf_service *svc;
	struct sgbpf_stats st;
	pid_t seven = farm(7500, 33000, 7, 65536, "vector");
	pid_t one = farm(7500, 33007, 1, 65536, "vector");
	uint32_t before;

	svc = service(7500, 33000, 8, 65536, 4, SGBPF_DELIVERY_RINGBUF, &s);
	run(svc, &s, 20, 4, &so);
	ck_assert_uint_eq(s.complete, 20);
	ck_assert_uint_eq(s.last_responses, 8);

	/* Killed with requests in flight. */
	for (int k = 0; k < 4; k++)
		ck_assert_int_eq(sgbpf_scatter(svc, "go", 2, &so, NULL), 0);
	kill(one, SIGKILL);
	waitpid(one, NULL, 0);
	while (sgbpf_inflight(svc))
		ck_assert_int_ge(sgbpf_wait(svc, 1000), 0);
	ck_assert_uint_eq(s.done, 24);
	run(svc, &s, 30, 4, &so);
	ck_assert_uint_eq(s.done, 20 + 4 + 30);
	ck_assert_uint_eq(s.wrong, 0);
	ck_assert_msg(until_responses(svc, &s, 7, 3000, &so), "never completed without it");

	one = farm(7500, 33007, 1, 65536, "vector");
	ck_assert_msg(until_responses(svc, &s, 8, 5000, &so), "the worker never came back");
	before = s.complete;
	run(svc, &s, 20, 4, &so);
	ck_assert_uint_eq(s.complete - before, 20);
	ck_assert_uint_eq(s.last_responses, 8);
	ck_assert_uint_eq(s.wrong, 0);
	ck_assert_int_eq(sgbpf_service_stats(svc, &st), 0);
	ck_assert_uint_ge(st.reconnects, 1);
	assert_clean_streams(svc);
	sgbpf_service_destroy(svc);
	worker_farm_stop(one);
	worker_farm_stop(seven);
}
END_TEST

/* A source the list does not hold never gets a socket; the listed stay exact. */
START_TEST(test_unlisted_refused)
{
	struct reply_gen gen = { .kind = REPLY_RANDOM, .seed = SEED };
	uint16_t ports[4] = { 34000, 34001, 34002, 34003 };
	struct seen s = { .gen = &gen, .ports = ports, .nports = 4, .reply_size = 2048 };
	SGBPF_OPTS(sgbpf_scatter_opts, so, .timeout_us = 5000000);
	struct sgbpf_service *svc;
	struct sgbpf_stats st;
	pid_t pid = farm(7600, 34000, 4, 2048, "random:12345");
	pid_t stray = farm(7600, 34100, 2, 2048, "random:12345");
	int fd;

	svc = service(7600, 34000, 4, 2048, 4, SGBPF_DELIVERY_RINGBUF, &s);
	run(svc, &s, 10, 2, &so);
	fd = rig_connect(34200, 7600);
	ck_assert_int_eq(fd, -ECONNREFUSED);
	run(svc, &s, 10, 2, &so);
	ck_assert_uint_eq(s.complete, 20);
	ck_assert_uint_eq(s.wrong, 0);
	ck_assert_int_eq(sgbpf_service_stats(svc, &st), 0);
	/* Ours, and the stray farm's attempts (at least one each). */
	ck_assert_uint_ge(st.unknown_src, 3);
	ck_assert_uint_eq(st.folded, 4 * 20);
	sgbpf_service_destroy(svc);
	worker_farm_stop(stray);
	worker_farm_stop(pid);
}
END_TEST

/* The first scatter names the workers that did not connect in time. */
START_TEST(test_missing_workers_named)
{
	struct seen s = { .reply_size = 64 };
	struct sgbpf_endpoint w[3] = { { RIG_LO, 35000 }, { RIG_LO, 35001 }, { RIG_LO, 35002 } };
	SGBPF_OPTS(sgbpf_service_opts, o, .backend = SGBPF_BACKEND_TCP, .workers = w,
		   .nworkers = 3, .reduce = SGBPF_REDUCE_SUM_U32, .on_complete = on_complete,
		   .cb_ctx = &s, .listen = { .addr = RIG_LO, .port = 7700 },
		   .connect_timeout_ms = 300, .max_reply = 64);
	SGBPF_OPTS(sgbpf_scatter_opts, so, .timeout_us = 5000000);
	struct sgbpf_service *svc;
	pid_t pid = farm(7700, 35000, 2, 64, "vector");

	svc = sgbpf_service_create(&o);
	ck_assert_ptr_nonnull(svc);
	ck_assert_int_eq(sgbpf_scatter(svc, "go", 2, &so, NULL), -ENOTCONN);
	ck_assert_ptr_nonnull(strstr(sgbpf_last_error(), "127.0.0.1:35002"));
	ck_assert_ptr_null(strstr(sgbpf_last_error(), "127.0.0.1:35001"));
	/* Later requests go to the connected ones. */
	run(svc, &s, 5, 1, &so);
	ck_assert_uint_eq(s.complete, 5);
	ck_assert_uint_eq(s.last_responses, 2);
	ck_assert_uint_eq(s.wrong, 0);
	sgbpf_service_destroy(svc);
	worker_farm_stop(pid);
}
END_TEST

/*
 * The per-worker listeners take kernel-chosen ports; on one host these must
 * not be the ports the workers connect from.  With the namespace's
 * ephemeral range narrowed to 20 ports, 8 of them the workers' sources, the
 * kernel would hand a listener a worker's port for certain (it gives bind()
 * odd ports first, and only 6 of the 10 odd ones are free).
 */
START_TEST(test_listeners_avoid_worker_ports)
{
	struct seen s = { .reply_size = 64 };
	SGBPF_OPTS(sgbpf_scatter_opts, so, .timeout_us = 5000000);
	struct sgbpf_service *svc;
	FILE *range = fopen("/proc/sys/net/ipv4/ip_local_port_range", "w");
	pid_t pid;

	ck_assert_ptr_nonnull(range);
	ck_assert_int_gt(fprintf(range, "40000 40019\n"), 0);
	ck_assert_int_eq(fclose(range), 0);
	svc = service(7800, 40000, 8, 64, 1, SGBPF_DELIVERY_RINGBUF, &s);
	/* After the service: its listeners hold their ports when the workers bind. */
	pid = farm(7800, 40000, 8, 64, "vector");
	run(svc, &s, 5, 1, &so);
	ck_assert_uint_eq(s.complete, 5);
	ck_assert_uint_eq(s.last_responses, 8);
	sgbpf_service_destroy(svc);
	worker_farm_stop(pid);
}
END_TEST

/*
 * A worker whose stream breaks the wire rules (a message type no reply
 * has): the stream program flags it, the service resets that connection
 * and counts it, the request it was part of expires, and the worker's next
 * connection is counted again and summed exactly.
 */
START_TEST(test_protocol_error_resets)
{
	struct seen s = { .reply_size = 4096 };
	SGBPF_OPTS(sgbpf_scatter_opts, so, .timeout_us = 300000);
	struct sgbpf_hdr bad = { .body_len = 4, .msg_type = 9 };
	uint8_t reply[SGBPF_HDR_LEN + 4096];
	struct sgbpf_hdr h = { .num_pks = 1, .body_len = 4096, .msg_type = SGBPF_MSG_GATHER };
	struct sgbpf_service *svc;
	struct sgbpf_stats st;
	pid_t pid = farm(7650, 34500, 1, 4096, "vector");
	uint32_t req;
	char c;
	int fd;

	svc = service(7650, 34500, 2, 4096, 4, SGBPF_DELIVERY_RINGBUF, &s);
	fd = rig_connect(34501, 7650);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(sgbpf_scatter(svc, "go", 2, &so, NULL), 0);
	req = rig_request(fd);
	bad.req_id = req;
	ck_assert_int_eq(rig_send_all(fd, &bad, sizeof(bad)), 0);
	ck_assert_int_eq(rig_send_all(fd, "abcd", 4), 0);
	while (sgbpf_inflight(svc))
		ck_assert_int_ge(sgbpf_wait(svc, 1000), 0);
	ck_assert_uint_eq(s.expired, 1);
	ck_assert_int_eq(sgbpf_service_stats(svc, &st), 0);
	ck_assert_uint_eq(st.conn_resets, 1);
	ck_assert_uint_ge(st.malformed, 1);
	/* Reset, not closed: the worker sees the connection refused mid-stream. */
	ck_assert_int_eq(rig_read_full(fd, &c, 1), -ECONNRESET);
	rig_close_rst(fd);

	fd = rig_connect(34501, 7650);
	ck_assert_int_ge(fd, 0);
	usleep(50000);	/* accepted and in the sockmap before the next request */
	for (uint32_t i = 0; i < 1024; i++)
		memcpy(reply + SGBPF_HDR_LEN + 4 * i, &i, 4);
	for (int k = 0; k < 5; k++) {
		ck_assert_int_eq(sgbpf_scatter(svc, "go", 2, &so, NULL), 0);
		h.req_id = rig_request(fd);
		memcpy(reply, &h, sizeof(h));
		ck_assert_int_eq(rig_send_all(fd, reply, sizeof(reply)), 0);
		while (sgbpf_inflight(svc))
			ck_assert_int_ge(sgbpf_wait(svc, 1000), 0);
	}
	ck_assert_uint_eq(s.complete, 5);
	ck_assert_uint_eq(s.last_responses, 2);
	ck_assert_uint_eq(s.wrong, 0);
	ck_assert_int_eq(sgbpf_service_stats(svc, &st), 0);
	ck_assert_uint_eq(st.conn_resets, 1);
	ck_assert_uint_ge(st.reconnects, 1);
	rig_close_rst(fd);
	sgbpf_service_destroy(svc);
	worker_farm_stop(pid);
}
END_TEST

/*
 * A worker that never reads: once its socket takes no more, its sends fail
 * (MSG_DONTWAIT: the others never wait for it) and it is absent from those
 * requests.  Policy any completes without it; a request that needs it is
 * reported failed at once, not at its timeout.  Requests are small, so a
 * send goes whole or not at all (a partial one would reset the connection).
 */
START_TEST(test_send_failure_absent)
{
	struct seen s = { .reply_size = 1024 };
	SGBPF_OPTS(sgbpf_scatter_opts, any, .policy = SGBPF_POLICY_ANY, .timeout_us = 5000000);
	SGBPF_OPTS(sgbpf_scatter_opts, all, .timeout_us = 300000);
	struct sgbpf_service *svc;
	struct sgbpf_stats st = { 0 };
	pid_t pid = farm(7660, 34600, 1, 1024, "vector");
	int fd, k, small = 2048;

	svc = service(7660, 34600, 2, 1024, 4, SGBPF_DELIVERY_RINGBUF, &s);
	fd = rig_connect(34601, 7660);
	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	for (k = 0; k < 200000 && st.clone_failures == 0; k++) {
		ck_assert_int_eq(sgbpf_scatter(svc, "go", 2, &any, NULL), 0);
		while (sgbpf_inflight(svc))
			ck_assert_int_ge(sgbpf_wait(svc, 1000), 0);
		if (k % 64 == 0 || st.clone_failures)
			ck_assert_int_eq(sgbpf_service_stats(svc, &st), 0);
	}
	ck_assert_uint_ge(st.clone_failures, 1);
	ck_assert_uint_eq(s.complete, (uint32_t)k);
	ck_assert_uint_eq(s.wrong, 0);
	ck_assert_uint_eq(s.last_responses, 1);
	ck_assert_uint_eq(st.conn_resets, 0);
	/* Still connected and still full: a request needing it fails at once. */
	for (k = 0; k < 20 && !s.failed; k++) {
		ck_assert_int_eq(sgbpf_scatter(svc, "go", 2, &all, NULL), 0);
		while (sgbpf_inflight(svc))
			ck_assert_int_ge(sgbpf_wait(svc, 1000), 0);
	}
	ck_assert_uint_ge(s.failed, 1);
	ck_assert_uint_lt(s.failed_latency_ns, 100000000ull);
	rig_close_rst(fd);
	sgbpf_service_destroy(svc);
	worker_farm_stop(pid);
}
END_TEST

/* ---- nothing of ours left after destroy ---- */

#define MAX_IDS 256

struct ids {
	__u32 prog[MAX_IDS], map[MAX_IDS], link[MAX_IDS];
	unsigned int nprog, nmap, nlink;
};

/*
 * The BPF objects this process holds descriptors of, by id: only ours, so
 * that programs other processes load meanwhile do not count.
 */
static void collect(struct ids *o)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	memset(o, 0, sizeof(*o));
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		char path[64], target[64] = "";
		int fd = atoi(e->d_name);

		if (e->d_name[0] == '.' || fd == dirfd(d))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (readlink(path, target, sizeof(target) - 1) < 0)
			continue;
		if (!strcmp(target, "anon_inode:bpf-prog") && o->nprog < MAX_IDS) {
			struct bpf_prog_info info = {};
			__u32 len = sizeof(info);

			if (!bpf_obj_get_info_by_fd(fd, &info, &len))
				o->prog[o->nprog++] = info.id;
		} else if (!strcmp(target, "anon_inode:bpf-map") && o->nmap < MAX_IDS) {
			struct bpf_map_info info = {};
			__u32 len = sizeof(info);

			if (!bpf_obj_get_info_by_fd(fd, &info, &len))
				o->map[o->nmap++] = info.id;
		} else if (!strcmp(target, "anon_inode:bpf_link") && o->nlink < MAX_IDS) {
			struct bpf_link_info info = {};
			__u32 len = sizeof(info);

			if (!bpf_obj_get_info_by_fd(fd, &info, &len))
				o->link[o->nlink++] = info.id;
		}
	}
	closedir(d);
}

/* How many of the ids still exist (the kernel frees after an RCU grace period). */
static unsigned int alive(const struct ids *o)
{
	unsigned int n = 0;
	int fd;

	for (unsigned int i = 0; i < o->nprog; i++)
		if ((fd = bpf_prog_get_fd_by_id(o->prog[i])) >= 0 && ++n)
			close(fd);
	for (unsigned int i = 0; i < o->nmap; i++)
		if ((fd = bpf_map_get_fd_by_id(o->map[i])) >= 0 && ++n)
			close(fd);
	for (unsigned int i = 0; i < o->nlink; i++)
		if ((fd = bpf_link_get_fd_by_id(o->link[i])) >= 0 && ++n)
			close(fd);
	return n;
}

START_TEST(test_destroy_leaves_nothing)
{
	struct seen s = { .reply_size = 1024 };
	SGBPF_OPTS(sgbpf_scatter_opts, so, .timeout_us = 5000000);
	struct sgbpf_service *svc;
	struct ids ours;
	struct ids after;
	pid_t pid = farm(7800, 36000, 8, 1024, "vector");
	int fd;

	collect(&ours);
	ck_assert_uint_eq(ours.nprog + ours.nmap + ours.nlink, 0);
	svc = service(7800, 36000, 8, 1024, 4, SGBPF_DELIVERY_RINGBUF, &s);
	run(svc, &s, 10, 4, &so);
	ck_assert_uint_eq(s.complete, 10);
	collect(&ours);
	/* steer + the reduction's stream program, their maps, the SK_LOOKUP link. */
	ck_assert_uint_eq(ours.nprog, 2);
	ck_assert_uint_ge(ours.nmap, 6);
	ck_assert_uint_eq(ours.nlink, 1);
	sgbpf_service_destroy(svc);
	for (int t = 0; t < 300 && alive(&ours); t++)
		usleep(10000);
	ck_assert_uint_eq(alive(&ours), 0);
	collect(&after);
	ck_assert_uint_eq(after.nprog + after.nmap + after.nlink, 0);
	/* No listener and no steering: the service port refuses everyone. */
	worker_farm_stop(pid);
	fd = rig_connect(36000, 7800);
	ck_assert_int_eq(fd, -ECONNREFUSED);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tcp_e2e");
	TCase *tc = tcase_create("e2e");

	if (netns_check_privileges())
		return 77;
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_exact_sums);
	tcase_add_test(tc, test_delivery_modes);
	tcase_add_test(tc, test_service_fd_loop);
	tcase_add_test(tc, test_ctrl_fd_allow_refused);
	tcase_add_test(tc, test_udp_options_refused);
	tcase_add_test(tc, test_policies);
	tcase_add_test(tc, test_worker_restart);
	tcase_add_test(tc, test_unlisted_refused);
	tcase_add_test(tc, test_protocol_error_resets);
	tcase_add_test(tc, test_send_failure_absent);
	tcase_add_test(tc, test_missing_workers_named);
	tcase_add_test(tc, test_listeners_avoid_worker_ports);
	tcase_add_test(tc, test_destroy_leaves_nothing);
	suite_add_tcase(s, tc);
	return suite_run(s);
}
