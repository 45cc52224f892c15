// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Re-scatters to stragglers (sgbpf_scatter_opts.retry_us, gather
 * --retry-us): inside a namespace of its own, on its lo, six reference
 * workers answer every request and two answer only its second copy
 * (`sgbpf worker --ignore-first`).  With a re-scatter every request
 * completes with the exact sum of all eight, in every delivery mode; without
 * one, every request expires with the six.  A silent worker shows that a
 * request is re-scattered at most `retries` times.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sgbpf/sgbpf.h>

#include "cli_run.h"
#include "netns_suite.h"
#include "netns_util.h"
#include "svc_wait.h"
#include "worker_farm.h"

#define BASE		38000
#define ON_TIME		6		/* ports BASE .. BASE + 5 */
#define STRAGGLERS	2		/* ports BASE + 6, BASE + 7: --ignore-first */
#define FANOUT		(ON_TIME + STRAGGLERS)
#define SILENT_PORT	(BASE + 8)	/* receives, never answers */
#define NREQ		20
#define RETRY_US	3000

static struct netns ns;
static pid_t farm, stragglers, silent;

struct tally {
	uint32_t nworkers;		/* of the service: the exact sum is over them */
	uint32_t complete, expired, other, wrong;
	uint32_t retries_min, retries_max;
	char why[200];
};

static void on_result(const struct sgbpf_result *res, void *ctx)
{
	struct tally *t = ctx;

	if (res->retries < t->retries_min)
		t->retries_min = res->retries;
	if (res->retries > t->retries_max)
		t->retries_max = res->retries;
	if (!svc_tally_status(res, &t->complete, &t->expired, &t->other))
		return;
	if (!svc_sum_matches(res, "random:4242", BASE, t->nworkers)) {
		t->wrong++;
		snprintf(t->why, sizeof(t->why), "request %#x: %u responses, %u elements, sum "
			 "%s", res->req_id, res->responses, res->nelems,
			 res->nelems ? "differs" : "missing");
	}
}

static void setup(void)
{
	char listen[32];

	farm = stragglers = silent = -1;
	ck_assert_int_eq(netns_create(&ns, "retry"), 0);
	ck_assert_int_eq(netns_link_up(&ns, "lo"), 0);
	snprintf(listen, sizeof(listen), "127.0.0.1:%u-%u", BASE, BASE + ON_TIME - 1);
	farm = worker_farm_start(&ns, listen,
				 (const char *const[]){ "--reply", "random:4242", NULL });
	ck_assert_int_gt(farm, 0);
	snprintf(listen, sizeof(listen), "127.0.0.1:%u-%u", BASE + ON_TIME, BASE + FANOUT - 1);
	stragglers = worker_farm_start(&ns, listen,
				       (const char *const[]){ "--reply", "random:4242",
							      "--ignore-first", NULL });
	ck_assert_int_gt(stragglers, 0);
	silent = worker_farm_start_silent(&ns, SILENT_PORT);
	ck_assert_int_gt(silent, 0);
	ck_assert_int_eq(netns_enter(&ns, NULL), 0);
}

static void teardown(void)
{
	worker_farm_stop(silent);
	worker_farm_stop(stragglers);
	worker_farm_stop(farm);
	netns_delete(&ns);
}

static struct sgbpf_service *make_service(uint32_t nworkers, enum sgbpf_delivery delivery,
					  enum sgbpf_fate fate, struct tally *t)
{
	struct sgbpf_endpoint eps[FANOUT + 1] = { 0 };
	struct sgbpf_service *svc;

	svc_lo_workers(eps, nworkers, BASE);
	t->nworkers = nworkers;
	t->retries_min = UINT32_MAX;
	SGBPF_OPTS(sgbpf_service_opts, so, .ifname = "lo", .workers = eps, .nworkers = nworkers,
		   .reduce = SGBPF_REDUCE_SUM_U32, .delivery = delivery, .fate = fate,
		   .on_complete = on_result, .cb_ctx = t);
	svc = sgbpf_service_create(&so);
	ck_assert_msg(svc, "create: %s", sgbpf_last_error());
	return svc;
}

/* Runs NREQ requests, up to four in flight (one in block mode), to the end. */
static void run_requests(struct sgbpf_service *svc, enum sgbpf_delivery delivery,
			 const struct sgbpf_scatter_opts *sc, const struct tally *t)
{
	uint32_t sent = 0, inflight = delivery == SGBPF_DELIVERY_BLOCK ? 1 : 4;

	while (t->complete + t->expired + t->other < NREQ) {
		while (sent < NREQ && sgbpf_inflight(svc) < inflight) {
			int err = sgbpf_scatter(svc, "retry", 5, sc, NULL);

			ck_assert_msg(err == 0, "scatter: %s", sgbpf_last_error());
			sent++;
		}
		if (sgbpf_inflight(svc)) {
			int n = delivery == SGBPF_DELIVERY_CTRL_FD ?
				(poll(&(struct pollfd){ .fd = sgbpf_service_fd(svc),
							.events = POLLIN }, 1,
				      sgbpf_next_timeout_ms(svc)), sgbpf_poll(svc)) :
				sgbpf_wait(svc, 2000);

			ck_assert_msg(n >= 0, "wait: %s", sgbpf_last_error());
		}
	}
}

static const struct mode {
	const char *desc;
	enum sgbpf_delivery delivery;
	enum sgbpf_fate fate;
} modes[] = {
	{ "ring buffer", SGBPF_DELIVERY_RINGBUF, SGBPF_FATE_DISCARD },
	{ "control fd", SGBPF_DELIVERY_CTRL_FD, SGBPF_FATE_DISCARD },
	{ "block", SGBPF_DELIVERY_BLOCK, SGBPF_FATE_DISCARD },
	{ "busy-wait", SGBPF_DELIVERY_BUSY_WAIT, SGBPF_FATE_DISCARD },
	{ "ring buffer, fate allow", SGBPF_DELIVERY_RINGBUF, SGBPF_FATE_ALLOW },
};

/*
 * One re-scatter, RETRY_US after the scatter, reaches the stragglers: every
 * request completes with the exact sum of all eight workers, re-scattered
 * once, in every delivery mode, and the kernel folds every worker once.
 */
START_TEST(test_retry_completes_stragglers)
{
	const struct mode *m = &modes[_i];
	SGBPF_OPTS(sgbpf_scatter_opts, sc, .timeout_us = 1000000, .retry_us = RETRY_US);
	struct tally t = { 0 };
	struct sgbpf_service *svc = make_service(FANOUT, m->delivery, m->fate, &t);
	struct sgbpf_stats st;

	run_requests(svc, m->delivery, &sc, &t);
	ck_assert_int_eq(sgbpf_service_stats(svc, &st), 0);
	sgbpf_service_destroy(svc);
	ck_assert_msg(t.complete == NREQ && t.wrong == 0, "%s: %u complete, %u wrong, %u "
		      "expired, %u failed: %s", m->desc, t.complete, t.wrong, t.expired, t.other,
		      t.why);
	ck_assert_msg(t.retries_min == 1 && t.retries_max == 1,
		      "%s: re-scattered %u..%u times per request, expected once", m->desc,
		      t.retries_min, t.retries_max);
	ck_assert_uint_eq(st.retries, NREQ);
	ck_assert_uint_eq(st.folded, (uint64_t)NREQ * FANOUT);
	/* Every straggler got a copy; workers that had answered got none. */
	ck_assert_msg(st.retry_copies >= (uint64_t)NREQ * STRAGGLERS &&
		      st.retry_copies <= (uint64_t)NREQ * FANOUT,
		      "%s: %llu copies re-sent", m->desc, (unsigned long long)st.retry_copies);
	ck_assert_uint_eq(st.clones, (uint64_t)NREQ * FANOUT + st.retry_copies);
}
END_TEST

/* Without a re-scatter the same requests expire, with the six on-time workers. */
START_TEST(test_no_retry_expires)
{
	const struct mode *m = &modes[_i];
	SGBPF_OPTS(sgbpf_scatter_opts, sc, .timeout_us = 30000);
	struct tally t = { 0 };
	struct sgbpf_service *svc = make_service(FANOUT, m->delivery, m->fate, &t);
	struct sgbpf_stats st;

	run_requests(svc, m->delivery, &sc, &t);
	ck_assert_int_eq(sgbpf_service_stats(svc, &st), 0);
	sgbpf_service_destroy(svc);
	ck_assert_msg(t.expired == NREQ, "%s: %u expired, %u complete", m->desc, t.expired,
		      t.complete);
	ck_assert_uint_eq(t.retries_max, 0);
	ck_assert_uint_eq(st.retries, 0);
	ck_assert_uint_eq(st.retry_copies, 0);
	ck_assert_uint_eq(st.folded, (uint64_t)NREQ * ON_TIME);
}
END_TEST

/*
 * A worker that never answers: the request is re-scattered `retries` times,
 * each time to that worker only (the others answered), then expires.
 */
START_TEST(test_retries_bounded)
{
	SGBPF_OPTS(sgbpf_scatter_opts, sc, .timeout_us = 100000, .retry_us = 5000, .retries = 3);
	struct tally t = { 0 };
	struct sgbpf_service *svc;
	struct sgbpf_stats st;
	uint32_t i;

	/* Workers 0..7 as before, then the silent one. */
	svc = make_service(FANOUT + 1, SGBPF_DELIVERY_RINGBUF, SGBPF_FATE_DISCARD, &t);
	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(sgbpf_scatter(svc, "retry", 5, &sc, NULL), 0);
		svc_wait_all(svc, 2000);
	}
	ck_assert_int_eq(sgbpf_service_stats(svc, &st), 0);
	sgbpf_service_destroy(svc);
	ck_assert_uint_eq(t.expired, 5);
	ck_assert_msg(t.retries_min == 3 && t.retries_max == 3, "re-scattered %u..%u times",
		      t.retries_min, t.retries_max);
	ck_assert_uint_eq(st.retries, 15);
	/* The first re-scatter also reaches the stragglers, the others only the silent one. */
	ck_assert_msg(st.retry_copies >= 5 * (3 + STRAGGLERS), "%llu copies re-sent",
		      (unsigned long long)st.retry_copies);
	ck_assert_uint_eq(st.folded, 5 * FANOUT);
}
END_TEST

/*
 * The command line: `--retry-us 3000` turns the stragglers' expiries into
 * completions with all eight workers counted (the sums are checked above),
 * each record saying "retries": 1; without it every
 * request expires and the exit code says so.
 */
START_TEST(test_cli_retry_us)
{
	static char out[1 << 18];
	char path[] = "/tmp/sgbpf-retry-workers-XXXXXX";
	int code, with;

	cli_lo_workers_file(path, FANOUT, BASE);

	code = cli_run_gather((const char *const[]){ "--dev", "lo", "--workers", path,
						     "--count", "20", "--inflight", "4", "--json",
						     "--retry-us", "3000", NULL },
			      out, sizeof(out));
	ck_assert_msg(code == 0, "with --retry-us: exit %d: %.400s", code, out);
	ck_assert_int_eq(cli_count_records(out, "\"status\": \"complete\"", &with), 20);
	ck_assert_int_eq(with, 20);
	cli_count_records(out, "\"retries\": 1,", &with);
	ck_assert_msg(with == 20, "%d records say \"retries\": 1: %.400s", with, out);
	cli_count_records(out, "\"responses\": 8,", &with);
	ck_assert_int_eq(with, 20);
	ck_assert_msg(strstr(out, "\"retries\": 20"), "summary: %s", strstr(out, "\"summary\""));

	code = cli_run_gather((const char *const[]){ "--dev", "lo", "--workers", path,
						     "--count", "20", "--inflight", "4", "--json",
						     "--timeout-us", "30000", NULL },
			      out, sizeof(out));
	unlink(path);
	ck_assert_msg(code == 1, "without --retry-us: exit %d", code);
	ck_assert_int_eq(cli_count_records(out, "\"status\": \"expired\"", &with), 20);
	ck_assert_int_eq(with, 20);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("retry");
	TCase *tc = tcase_create("lo");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_retry_completes_stragglers, 0,
			    sizeof(modes) / sizeof(modes[0]));
	tcase_add_loop_test(tc, test_no_retry_expires, 0, sizeof(modes) / sizeof(modes[0]));
	tcase_add_test(tc, test_retries_bounded);
	tcase_add_test(tc, test_cli_retry_us);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return netns_suite_run(s);
}
