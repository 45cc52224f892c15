// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * No heap allocation on the request path: after a warm-up, 1000 scatter-
 * gathers in each delivery mode and fate make no call to malloc, calloc or
 * realloc from libsgbpf.  The test binary is linked with --wrap for those
 * three, which catches every call from the library's objects (linked in
 * statically here); the system libraries it calls (libbpf's ring buffer
 * poll, liburing's submit) allocate nothing on these paths either, which the
 * LD_PRELOAD counter of bench/ confirms for the whole process.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sgbpf/sgbpf.h>

#include "netns_util.h"
#include "suite_run.h"
#include "svc_wait.h"
#include "worker_farm.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);

static unsigned long allocs;

void *__wrap_malloc(size_t n)
{
	allocs++;
	return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
	allocs++;
	return __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
	allocs++;
	return __real_realloc(p, n);
}

#define BASE 36000
#define NW 16

static struct netns ns;
static pid_t farm = -1, farm4 = -1;
#define BASE4 36100	/* a farm answering with 4 shuffled packets */
static unsigned int completed;

static void setup(void)
{
	ck_assert_int_eq(netns_create(&ns, "noalloc"), 0);
	ck_assert_int_eq(netns_link_up(&ns, "lo"), 0);
	farm = worker_farm_start(&ns, "127.0.0.1:36000-36015", NULL);
	farm4 = worker_farm_start(&ns, "127.0.0.1:36100-36115",
				  (const char *const[]){ "--packets", "4", "--shuffle", NULL });
	ck_assert_int_gt(farm4, 0);
	ck_assert_int_gt(farm, 0);
	ck_assert_int_eq(netns_enter(&ns, NULL), 0);
}

static void teardown(void)
{
	worker_farm_stop(farm);
	worker_farm_stop(farm4);
	netns_delete(&ns);
}

static void on_done(const struct sgbpf_result *res, void *ctx)
{
	if (res->status == SGBPF_STATUS_COMPLETE && res->responses == NW)
		completed++;
}

/*
 * No ck_assert in here: Check itself allocates to record where each assertion
 * ran.  Returns the number of calls that failed.
 */
static int run(struct sgbpf_service *svc, int n, unsigned int inflight)
{
	SGBPF_OPTS(sgbpf_scatter_opts, so, .timeout_us = 2000000);
	int sent = 0, errors = 0;

	while ((sent < n || sgbpf_inflight(svc)) && errors < 10) {
		while (sent < n && sgbpf_inflight(svc) < inflight) {
			if (sgbpf_scatter(svc, "alloc?", 6, &so, NULL))
				errors++;
			sent++;
		}
		if (sgbpf_wait(svc, 2000) < 0)
			errors++;
	}
	return errors;
}

/*
 * After a warm-up of 200, runs 1000 requests, all of which must complete
 * without an error; returns the allocations made while they ran.
 */
static unsigned long allocs_in_1000(struct sgbpf_service *svc, unsigned int inflight)
{
	unsigned long before, after;
	int errors;

	ck_assert_int_eq(run(svc, 200, inflight), 0);	/* warm-up */
	completed = 0;
	before = allocs;
	errors = run(svc, 1000, inflight);
	after = allocs;
	ck_assert_int_eq(errors, 0);
	ck_assert_uint_eq(completed, 1000);
	return after - before;
}

/* Every delivery mode and fate against the workers on base.., packets per reply. */
static void steady(uint16_t base, uint32_t packets)
{
	static const enum sgbpf_delivery modes[] = {
		SGBPF_DELIVERY_RINGBUF, SGBPF_DELIVERY_CTRL_FD, SGBPF_DELIVERY_BLOCK,
		SGBPF_DELIVERY_BUSY_WAIT,
	};
	struct sgbpf_endpoint eps[NW] = { 0 };

	svc_lo_workers(eps, NW, base);
	for (unsigned int m = 0; m < 4; m++) {
		for (int fate = 0; fate <= 1; fate++) {
			unsigned int inflight = modes[m] == SGBPF_DELIVERY_BLOCK ? 1 : 8;
			SGBPF_OPTS(sgbpf_service_opts, o, .workers = eps, .nworkers = NW,
				   .reduce = SGBPF_REDUCE_SUM_U32, .delivery = modes[m],
				   .fate = fate, .on_complete = on_done, .max_inflight = 64,
				   .max_packets = packets);
			struct sgbpf_service *svc = sgbpf_service_create(&o);
			unsigned long n;

			ck_assert_msg(svc, "%s", sgbpf_last_error());
			n = allocs_in_1000(svc, inflight);
			ck_assert_msg(n == 0,
				      "mode %u fate %d, %u packets: %lu allocations in 1000 requests",
				      m, fate, packets, n);
			sgbpf_service_destroy(svc);
		}
	}
}

START_TEST(test_steady_state_allocates_nothing)
{
	steady(BASE, 1);
}
END_TEST

/* Multi-packet results laid out whole, replies sorted by worker and seq: no allocation. */
START_TEST(test_multipkt_allocates_nothing)
{
	steady(BASE4, 4);
}
END_TEST

/* The same over TCP: ring buffer, block and busy-wait, fate discard and allow. */
START_TEST(test_tcp_steady_state_allocates_nothing)
{
	static const enum sgbpf_delivery modes[] = {
		SGBPF_DELIVERY_RINGBUF, SGBPF_DELIVERY_BLOCK, SGBPF_DELIVERY_BUSY_WAIT,
	};
	const char *args[] = { "--backend", "tcp", "--connect", "127.0.0.1:7010", "--bind",
			       "127.0.0.1:36100-36115", "--reply-size", "4096", NULL };
	struct sgbpf_endpoint eps[NW] = { 0 };
	pid_t tcp_farm = worker_farm_start_argv(&ns, args);

	ck_assert_int_gt(tcp_farm, 0);
	svc_lo_workers(eps, NW, BASE + 100);
	for (unsigned int m = 0; m < 3; m++) {
		for (int fate = 0; fate <= 1; fate++) {
			unsigned int inflight = modes[m] == SGBPF_DELIVERY_BLOCK ? 1 : 8;
			SGBPF_OPTS(sgbpf_service_opts, o, .backend = SGBPF_BACKEND_TCP,
				   .workers = eps, .nworkers = NW, .reduce = SGBPF_REDUCE_SUM_U32,
				   .delivery = modes[m], .fate = fate, .on_complete = on_done,
				   .max_inflight = 16, .max_reply = 4096,
				   .listen = { .addr = htonl(INADDR_LOOPBACK), .port = 7010 },
				   .connect_timeout_ms = 5000);
			struct sgbpf_service *svc = sgbpf_service_create(&o);
			unsigned long n;

			ck_assert_msg(svc, "%s", sgbpf_last_error());
			n = allocs_in_1000(svc, inflight);
			ck_assert_msg(n == 0,
				      "tcp mode %u fate %d: %lu allocations in 1000 requests", m,
				      fate, n);
			sgbpf_service_destroy(svc);
		}
	}
	worker_farm_stop(tcp_farm);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("no_alloc");
	TCase *tc = tcase_create("steady");
	int skip = netns_check_privileges();

	if (skip)
		return skip;
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_steady_state_allocates_nothing);
	tcase_add_test(tc, test_tcp_steady_state_allocates_nothing);
	tcase_add_test(tc, test_multipkt_allocates_nothing);
	suite_add_tcase(s, tc);
	return suite_run(s);
}
