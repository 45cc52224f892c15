// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The benchmark driver (bench/bench_common.c) on an in-process transport that
 * completes every request 1 ms after it was sent: --max-seconds ends a run
 * early, and what is reported is what ran, not what was asked for.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>

#include "bench_common.h"
#include "suite_run.h"

struct fake {
	struct bench_slot *pending[64];
	uint32_t n;
};

static int fake_send(void *ctx, struct bench_table *t, struct bench_slot **slots, uint32_t n)
{
	struct fake *f = ctx;

	for (uint32_t i = 0; i < n; i++)
		f->pending[f->n++] = slots[i];
	return 0;
}

static int fake_poll(void *ctx, struct bench_table *t, int timeout_ms)
{
	struct fake *f = ctx;
	struct timespec ms = { 0, 1000000 };

	nanosleep(&ms, NULL);
	for (uint32_t i = 0; i < f->n; i++)
		bench_table_complete(t, f->pending[i], t->nworkers, NULL, 0);
	f->n = 0;
	return 0;
}

START_TEST(test_max_seconds_reports_what_ran)
{
	static const struct bench_ops ops = { fake_send, fake_poll };
	struct sockaddr_in w = { .sin_family = AF_INET, .sin_port = htons(9000),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct bench_opts o = {
		.name = "fake", .label = "fake", .mode = "throughput", .workers = &w,
		.nworkers = 1, .count = 1000000000, .warmup = 100, .inflight = 8, .cpu = -1,
		.timeout_us = 1000000, .max_seconds = 1,
	};
	struct bench_table t = { 0 };
	struct bench_result res;
	struct fake f = { .n = 0 };

	ck_assert_int_eq(bench_table_init(&t, &o), 0);
	ck_assert_int_eq(bench_drive(&t, &o, &ops, &f, &res), 0);
	bench_table_free(&t);
	ck_assert_uint_gt(res.c.ok, 100);
	ck_assert_uint_lt(res.requests, o.count);
	ck_assert_uint_eq(res.requests, res.c.issued);
	ck_assert_msg(bench_errors(&res) <= o.inflight, "%llu errors for %llu requests run",
		      (unsigned long long)bench_errors(&res), (unsigned long long)res.requests);
	ck_assert(res.stopped_early);
	ck_assert_uint_gt(res.lat.p50_us, 900);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("bench_drive");
	TCase *tc = tcase_create("drive");

	tcase_add_test(tc, test_max_seconds_reports_what_ran);
	suite_add_tcase(s, tc);
	return suite_run(s);
}
