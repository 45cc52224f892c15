// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The reply budget (sgbpf_service_opts.reply_budget, gather
 * --reply-budget): inside a namespace of its own, on its lo, eight
 * reference workers.  A request is sent only while the replies awaited stay
 * within the budget; the others wait in the library, staged, and go out as
 * earlier ones are reported.  The kernel's scatter counter says how many
 * reached the wire; every result must still be exact.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sgbpf/sgbpf.h>

#include "netns_util.h"
#include "reply_gen.h"
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
	uint32_t expect[REPLY_GEN_NELEMS];
	uint16_t ports[FANOUT];
	struct reply_gen g;

	if (res->status == SGBPF_STATUS_EXPIRED) {
		t->expired++;
		return;
	}
	if (res->status != SGBPF_STATUS_COMPLETE) {
		t->other++;
		return;
	}
	t->complete++;
	reply_gen_parse("random:77", &g);
	for (uint32_t i = 0; i < t->nworkers; i++)
		ports[i] = BASE + i;
	reply_gen_expected_sum_u32(&g, ports, t->nworkers, res->req_id, 0, expect);
	if (res->responses != t->nworkers || res->nelems != REPLY_GEN_NELEMS ||
	    memcmp(res->data, expect, sizeof(expect)))
		t->wrong++;
}

static void setup(void)
{
	char listen[32];

	farm = silent = -1;
	ck_assert_int_eq(netns_create(&ns, "budget"), 0);
	ck_assert_int_eq(netns_link_up(&ns, "lo"), 0);
	snprintf(listen, sizeof(listen), "127.0.0.1:%u-%u", BASE, BASE + FANOUT - 1);
	farm = worker_farm_start(&ns, listen, (const char *const[]){ "--reply", "random:77", NULL });
	ck_assert_int_gt(farm, 0);
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", SILENT_PORT);
	silent = worker_farm_start(&ns, listen, (const char *const[]){ "--silent-port",
								       listen + 10, NULL });
	ck_assert_int_gt(silent, 0);
	ck_assert_int_eq(netns_enter(&ns, NULL), 0);
}

static void teardown(void)
{
	worker_farm_stop(silent);
	worker_farm_stop(farm);
	netns_delete(&ns);
}

static struct sgbpf_service *make_service(uint32_t nworkers, uint32_t budget,
					  enum sgbpf_delivery delivery, struct tally *t)
{
	struct sgbpf_endpoint eps[FANOUT + 1] = { 0 };
	struct sgbpf_service *svc;

	for (uint32_t i = 0; i < nworkers; i++) {
		eps[i].addr = htonl(INADDR_LOOPBACK);
		eps[i].port = BASE + i;
	}
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

static void wait_all(struct sgbpf_service *svc)
{
	while (sgbpf_inflight(svc))
		ck_assert_int_ge(sgbpf_wait(svc, 2000), 0);
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
	wait_all(svc);
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
	wait_all(svc);
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
	wait_all(svc);
	ck_assert_uint_eq(t.expired, 2);
	ck_assert_uint_eq(kernel_scatters(svc), 1);
	/* With nothing on the wire the next request goes at once. */
	ck_assert_int_eq(sgbpf_scatter(svc, "b", 1, &quick, NULL), 0);
	ck_assert_uint_eq(kernel_scatters(svc), 2);
	wait_all(svc);
	sgbpf_service_destroy(svc);
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
	wait_all(svc);
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
	int failed, skip = netns_check_privileges();
	SRunner *sr;

	if (skip)
		return skip;
	netns_reap_stale();
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_budget_holds_and_releases, 0,
			    sizeof(modes) / sizeof(modes[0]));
	tcase_add_test(tc, test_budget_below_fanout);
	tcase_add_test(tc, test_budget_held_request_expires);
	tcase_add_test(tc, test_no_budget_sends_at_once);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	netns_reap_stale();
	return failed ? 1 : 0;
}
