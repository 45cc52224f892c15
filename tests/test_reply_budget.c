// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The reply budget (sgbpf_service_opts.reply_budget, gather
 * --reply-budget): inside a namespace of its own, on its lo, eight
 * reference workers that answer 5 ms late.  A request is sent only while the
 * replies awaited stay within the budget; the others wait in the library,
 * staged, and go out as the replies of earlier ones are folded.  The kernel's scatter counter says how many
 * reached the wire; every result must still be exact.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sgbpf/sgbpf.h>

#include "netns_suite.h"
#include "netns_util.h"
#include "reply_gen.h"
#include "svc_wait.h"
#include "worker_farm.h"

#define BASE		40000
#define FANOUT		8
#define SILENT_PORT	(BASE + FANOUT)	/* receives, never answers */

static struct netns ns;
static pid_t farm, silent;

struct tally {
	uint32_t nworkers;
	uint32_t complete, expired, other, wrong;
};

static void on_result(const struct sgbpf_result *res, void *ctx)
{
	struct tally *t = ctx;

	if (!svc_tally_status(res, &t->complete, &t->expired, &t->other))
		return;
	if (!svc_sum_matches(res, "random:77", BASE, t->nworkers))
		t->wrong++;
}

static pid_t wide = -1;
static uint32_t wide_sum[REPLY_GEN_NELEMS], wide_responses;

static void on_wide(const struct sgbpf_result *res, void *ctx)
{
	struct tally *t = ctx;

	if (res->status != SGBPF_STATUS_COMPLETE || res->nelems != REPLY_GEN_NELEMS) {
		t->other++;
		return;
	}
	t->complete++;
	wide_responses = res->responses;
	memcpy(wide_sum, res->data, sizeof(wide_sum));
}

static void setup(void)
{
	char listen[32];

	farm = silent = -1;
	ck_assert_int_eq(netns_create(&ns, "budget"), 0);
	ck_assert_int_eq(netns_link_up(&ns, "lo"), 0);
	snprintf(listen, sizeof(listen), "127.0.0.1:%u-%u", BASE, BASE + FANOUT - 1);
	/*
	 * The budget counts replies not yet folded: a delay keeps them awaited
	 * while a test scatters, so that what it sees does not depend on how
	 * fast the workers are.
	 */
	farm = worker_farm_start(&ns, listen, (const char *const[]){ "--reply", "random:77",
								     "--delay-us", "5000", NULL });
	ck_assert_int_gt(farm, 0);
	silent = worker_farm_start_silent(&ns, SILENT_PORT);
	ck_assert_int_gt(silent, 0);
	ck_assert_int_eq(netns_enter(&ns, NULL), 0);
}

static void teardown(void)
{
	worker_farm_stop(wide);
	wide = -1;
	worker_farm_stop(silent);
	worker_farm_stop(farm);
	netns_delete(&ns);
}

static struct sgbpf_service *make_service(uint32_t nworkers, uint32_t budget,
					  enum sgbpf_delivery delivery, struct tally *t)
{
	struct sgbpf_endpoint eps[FANOUT + 1] = { 0 };
	struct sgbpf_service *svc;

	svc_lo_workers(eps, nworkers, BASE);
	t->nworkers = nworkers;
	SGBPF_OPTS(sgbpf_service_opts, so, .ifname = "lo", .workers = eps, .nworkers = nworkers,
		   .reduce = SGBPF_REDUCE_SUM_U32, .delivery = delivery, .reply_budget = budget,
		   .on_complete = on_result, .cb_ctx = t);
	svc = sgbpf_service_create(&so);
	ck_assert_msg(svc, "create: %s", sgbpf_last_error());
	return svc;
}

static uint64_t kernel_scatters(struct sgbpf_service *svc)
{
	struct sgbpf_stats st;

	ck_assert_int_eq(sgbpf_service_stats(svc, &st), 0);
	return st.scatters;
}

static const enum sgbpf_delivery modes[] = {
	SGBPF_DELIVERY_RINGBUF, SGBPF_DELIVERY_CTRL_FD, SGBPF_DELIVERY_BUSY_WAIT,
};

/*
 * A budget of two requests' replies: of ten scattered at once, two reach
 * the wire and eight wait; waiting sends them all, and all ten are exact.
 */
START_TEST(test_budget_holds_and_releases)
{
	SGBPF_OPTS(sgbpf_scatter_opts, sc, .timeout_us = 1000000);
	struct tally t = { 0 };
	struct sgbpf_service *svc = make_service(FANOUT, 2 * FANOUT, modes[_i], &t);
	struct sgbpf_stats st;

	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(sgbpf_scatter(svc, "b", 1, &sc, NULL), 0);
	ck_assert_uint_eq(sgbpf_inflight(svc), 10);
	ck_assert_uint_eq(kernel_scatters(svc), 2);
	svc_wait_all(svc, 2000);
	ck_assert_int_eq(sgbpf_service_stats(svc, &st), 0);
	sgbpf_service_destroy(svc);
	ck_assert_msg(t.complete == 10 && t.wrong == 0, "%u complete, %u wrong, %u expired",
		      t.complete, t.wrong, t.expired);
	ck_assert_uint_eq(st.scatters, 10);
	ck_assert_uint_eq(st.deferred, 8);
	ck_assert_uint_eq(st.folded, 10 * FANOUT);
}
END_TEST

/* A fan-out above the budget still runs, one request at a time. */
START_TEST(test_budget_below_fanout)
{
	SGBPF_OPTS(sgbpf_scatter_opts, sc, .timeout_us = 1000000);
	struct tally t = { 0 };
	struct sgbpf_service *svc = make_service(FANOUT, 3, SGBPF_DELIVERY_RINGBUF, &t);

	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(sgbpf_scatter(svc, "b", 1, &sc, NULL), 0);
	ck_assert_uint_eq(kernel_scatters(svc), 1);
	svc_wait_all(svc, 2000);
	ck_assert_uint_eq(kernel_scatters(svc), 5);
	sgbpf_service_destroy(svc);
	ck_assert_uint_eq(t.complete, 5);
	ck_assert_uint_eq(t.wrong, 0);
}
END_TEST

/*
 * A request that expires while it waits is reported expired and never
 * sent; the budget it would have used goes to the next one.  The silent
 * worker keeps the first request on the wire until its timeout.
 */
START_TEST(test_budget_held_request_expires)
{
	SGBPF_OPTS(sgbpf_scatter_opts, slow, .timeout_us = 200000);
	SGBPF_OPTS(sgbpf_scatter_opts, quick, .timeout_us = 20000);
	struct tally t = { 0 };
	struct sgbpf_service *svc = make_service(FANOUT + 1, FANOUT + 1, SGBPF_DELIVERY_RINGBUF,
						 &t);

	ck_assert_int_eq(sgbpf_scatter(svc, "b", 1, &slow, NULL), 0);
	ck_assert_int_eq(sgbpf_scatter(svc, "b", 1, &quick, NULL), 0);
	ck_assert_uint_eq(kernel_scatters(svc), 1);
	/* The held one expires first, unsent. */
	while (t.expired == 0)
		ck_assert_int_ge(sgbpf_wait(svc, 2000), 0);
	ck_assert_uint_eq(sgbpf_inflight(svc), 1);
	ck_assert_uint_eq(kernel_scatters(svc), 1);
	svc_wait_all(svc, 2000);
	ck_assert_uint_eq(t.expired, 2);
	ck_assert_uint_eq(kernel_scatters(svc), 1);
	/* With nothing on the wire the next request goes at once. */
	ck_assert_int_eq(sgbpf_scatter(svc, "b", 1, &quick, NULL), 0);
	ck_assert_uint_eq(kernel_scatters(svc), 2);
	svc_wait_all(svc, 2000);
	sgbpf_service_destroy(svc);
}
END_TEST

#define WIDE_BASE	(BASE + 100)
#define WIDE		128		/* two scatter batches of 64 */

/*
 * A fan-out above the budget goes out in parts: of 128 workers in two
 * batches, with a budget of 64 the scatter sends the first batch, and the
 * second only once the first one's replies are folded (the library polls
 * for them).  The result counts all 128, exactly.
 */
START_TEST(test_budget_sends_in_parts)
{
	SGBPF_OPTS(sgbpf_scatter_opts, sc, .timeout_us = 2000000);
	struct sgbpf_endpoint eps[WIDE] = { 0 };
	uint32_t expect[REPLY_GEN_NELEMS], id;
	uint16_t ports[WIDE];
	struct sgbpf_service *svc;
	struct sgbpf_stats st;
	struct reply_gen g;
	struct tally t = { 0 };
	char listen[32];

	snprintf(listen, sizeof(listen), "127.0.0.1:%u-%u", WIDE_BASE, WIDE_BASE + WIDE - 1);
	wide = worker_farm_start(&ns, listen, (const char *const[]){ "--reply", "random:77", NULL });
	ck_assert_int_gt(wide, 0);
	for (uint32_t i = 0; i < WIDE; i++) {
		eps[i].addr = htonl(INADDR_LOOPBACK);
		eps[i].port = ports[i] = WIDE_BASE + i;
	}
	/* t.nworkers stays 0: the sum is checked here, over the wide farm's ports. */
	SGBPF_OPTS(sgbpf_service_opts, so, .ifname = "lo", .workers = eps, .nworkers = WIDE,
		   .reduce = SGBPF_REDUCE_SUM_U32, .reply_budget = 64, .on_complete = on_wide,
		   .cb_ctx = &t);
	svc = sgbpf_service_create(&so);
	ck_assert_msg(svc, "create: %s", sgbpf_last_error());
	for (int r = 0; r < 3; r++) {
		ck_assert_int_eq(sgbpf_scatter(svc, "b", 1, &sc, &id), 0);
		ck_assert_int_eq(sgbpf_service_stats(svc, &st), 0);
		ck_assert_msg(st.clones == (uint64_t)r * WIDE + 64, "request %d: %llu copies out "
			      "after the scatter, expected the first batch only", r,
			      (unsigned long long)st.clones);
		svc_wait_all(svc, 2000);
		ck_assert_uint_eq(t.complete, r + 1);
		reply_gen_parse("random:77", &g);
		reply_gen_expected_sum_u32(&g, ports, WIDE, id, 0, expect);
		ck_assert_uint_eq(wide_responses, WIDE);
		ck_assert_msg(!memcmp(wide_sum, expect, sizeof(expect)), "request %d: wrong sum", r);
	}
	ck_assert_int_eq(sgbpf_service_stats(svc, &st), 0);
	sgbpf_service_destroy(svc);
	ck_assert_uint_eq(st.clones, 3 * WIDE);
	ck_assert_uint_eq(st.folded, 3 * WIDE);
	ck_assert_uint_eq(st.scatters, 3);
}
END_TEST

/* Without a budget nothing waits: every scatter reaches the wire at once. */
START_TEST(test_no_budget_sends_at_once)
{
	SGBPF_OPTS(sgbpf_scatter_opts, sc, .timeout_us = 1000000);
	struct tally t = { 0 };
	struct sgbpf_service *svc = make_service(FANOUT, 0, SGBPF_DELIVERY_RINGBUF, &t);
	struct sgbpf_stats st;

	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(sgbpf_scatter(svc, "b", 1, &sc, NULL), 0);
	ck_assert_uint_eq(kernel_scatters(svc), 10);
	svc_wait_all(svc, 2000);
	ck_assert_int_eq(sgbpf_service_stats(svc, &st), 0);
	sgbpf_service_destroy(svc);
	ck_assert_uint_eq(st.deferred, 0);
	ck_assert_uint_eq(t.complete, 10);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("reply_budget");
	TCase *tc = tcase_create("lo");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_budget_holds_and_releases, 0,
			    sizeof(modes) / sizeof(modes[0]));
	tcase_add_test(tc, test_budget_below_fanout);
	tcase_add_test(tc, test_budget_held_request_expires);
	tcase_add_test(tc, test_budget_sends_in_parts);
	tcase_add_test(tc, test_no_budget_sends_at_once);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return netns_suite_run(s);
}
