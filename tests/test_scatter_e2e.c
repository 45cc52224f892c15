// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The scatter path at its edges, end to end: the largest bodies a 1500-byte
 * MTU carries, fan-outs up to SGBPF_MAX_WORKERS on lo and over veth, and a
 * loaded veth where sgbpf must lose no more than a plain socket gather.
 * Reference workers (sgbpf worker) run in namespaces the test creates;
 * results are checked exactly against reply_gen.h.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sgbpf/sgbpf.h>

#include "netns_util.h"
#include "reply_gen.h"
#include "service.h"
#include "worker_farm.h"

#define BASE 40000
#define SEED_SPEC "random:777"
#define MAX_FAN 1024

static struct netns_pair pair;
static struct netns lo_ns;
static bool veth;
static pid_t farm = -1;
static uint32_t worker_ip;
static const char *ifname;

static void start_workers(uint32_t n, const char *const *extra)
{
	char listen[64], addr[16];
	const char *args[8] = { "--reply", SEED_SPEC };
	int k = 2;

	for (; extra && *extra && k < 7; extra++)
		args[k++] = *extra;
	args[k] = NULL;
	inet_ntop(AF_INET, &worker_ip, addr, sizeof(addr));
	snprintf(listen, sizeof(listen), "%s:%u-%u", addr, BASE, BASE + n - 1);
	farm = worker_farm_start(veth ? &pair.b : &lo_ns, listen, args);
	ck_assert_msg(farm > 0, "farm on %s did not start", listen);
}

static void setup_veth(void)
{
	veth = true;
	ck_assert_int_eq(netns_pair_create(&pair, "scat", 9), 0);
	worker_ip = pair.b_ip;
	ifname = pair.a_if;
	ck_assert_int_eq(netns_enter(&pair.a, NULL), 0);
}

static void setup_lo(void)
{
	veth = false;
	ck_assert_int_eq(netns_create(&lo_ns, "scatlo"), 0);
	ck_assert_int_eq(netns_link_up(&lo_ns, "lo"), 0);
	worker_ip = htonl(INADDR_LOOPBACK);
	ifname = "lo";
	ck_assert_int_eq(netns_enter(&lo_ns, NULL), 0);
}

static void teardown(void)
{
	worker_farm_stop(farm);
	farm = -1;
	if (veth)
		netns_pair_delete(&pair);
	else
		netns_delete(&lo_ns);
}

struct tally {
	uint32_t fanout, complete, expired, other, bad;
	char why[160];
};

static uint16_t ports[MAX_FAN];

static void check_sum(const struct sgbpf_result *res, void *ctx)
{
	struct tally *t = ctx;
	uint32_t expect[REPLY_GEN_NELEMS];
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
	reply_gen_parse(SEED_SPEC, &g);
	for (uint32_t i = 0; i < t->fanout; i++)
		ports[i] = BASE + i;
	reply_gen_expected_sum_u32(&g, ports, t->fanout, res->req_id, 0, expect);
	if (res->responses != t->fanout || res->nelems != REPLY_GEN_NELEMS ||
	    memcmp(res->data, expect, sizeof(expect))) {
		t->bad++;
		snprintf(t->why, sizeof(t->why), "request %u: %u responses, %u elements or sum wrong",
			 res->req_id, res->responses, res->nelems);
	}
}

static struct sgbpf_service *service(struct tally *t, uint32_t inflight)
{
	static struct sgbpf_endpoint eps[MAX_FAN];
	struct sgbpf_service *svc;

	for (uint32_t i = 0; i < t->fanout; i++) {
		eps[i].addr = worker_ip;
		eps[i].port = BASE + i;
	}
	SGBPF_OPTS(sgbpf_service_opts, so, .ifname = ifname, .workers = eps,
		   .nworkers = t->fanout, .reduce = SGBPF_REDUCE_SUM_U32,
		   .on_complete = check_sum, .cb_ctx = t, .max_inflight = inflight);
	svc = sgbpf_service_create(&so);
	ck_assert_msg(svc, "create on %s: %s", ifname, sgbpf_last_error());
	return svc;
}

/* Sends nreq more requests of body_len bytes, up to inflight at once, and waits for all. */
static void run(struct sgbpf_service *svc, struct tally *t, uint32_t nreq, uint32_t inflight,
		size_t body_len, uint64_t timeout_us)
{
	static uint8_t body[SGBPF_UDP_BODY_MAX];
	SGBPF_OPTS(sgbpf_scatter_opts, so, .timeout_us = timeout_us);
	uint32_t sent = 0;

	nreq += t->complete + t->expired + t->other;
	sent = t->complete + t->expired + t->other;

	for (size_t i = 0; i < body_len; i++)
		body[i] = (uint8_t)(i * 13 + 5);
	while (t->complete + t->expired + t->other < nreq) {
		while (sent < nreq && sgbpf_inflight(svc) < inflight) {
			int err = sgbpf_scatter(svc, body, body_len, &so, NULL);

			ck_assert_msg(err == 0, "scatter of %zu bytes: %s", body_len,
				      sgbpf_last_error());
			sent++;
		}
		ck_assert_int_ge(sgbpf_wait(svc, 1000), 0);
	}
}

/*
 * A 1500-byte MTU carries a 1454-byte body (the original 1472-byte message):
 * every size up to it completes; one byte more is refused, naming the limit.
 */
START_TEST(test_largest_bodies)
{
	static const size_t sizes[] = { 1446, 1447, 1453, 1454 };
	static uint8_t big[SGBPF_UDP_BODY_MAX + 1];
	struct tally t = { .fanout = 8 };
	struct sgbpf_service *svc;
	struct sgbpf_stats st;
	uint32_t done = 0;

	start_workers(8, NULL);
	svc = service(&t, 16);
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		run(svc, &t, 5, 4, sizes[k], 1000000);
		done += 5;
		ck_assert_int_eq(sgbpf_service_stats(svc, &st), 0);
		ck_assert_msg(t.complete == done && t.bad == 0,
			      "%zu-byte body: %u of %u complete (%u expired, %u bad: %s), "
			      "scatters %llu", sizes[k], t.complete, done, t.expired, t.bad, t.why,
			      (unsigned long long)st.scatters);
	}
	ck_assert_uint_eq(st.scatter_fragments, 0);
	ck_assert_int_eq(sgbpf_scatter(svc, big, sizeof(big), NULL, NULL), -EMSGSIZE);
	ck_assert_msg(strstr(sgbpf_last_error(), "1454"), "message: %s", sgbpf_last_error());
	sgbpf_service_destroy(svc);
}
END_TEST

/* SGBPF_MAX_WORKERS workers, policy all: every request completes with the exact sum. */
static void max_fanout(uint32_t nreq, uint32_t inflight)
{
	struct tally t = { .fanout = SGBPF_MAX_WORKERS };
	struct sgbpf_service *svc;
	struct sgbpf_stats st;

	start_workers(SGBPF_MAX_WORKERS, NULL);
	svc = service(&t, 16);
	run(svc, &t, nreq, inflight, 16, 3000000);
	ck_assert_int_eq(sgbpf_service_stats(svc, &st), 0);
	ck_assert_msg(t.complete == nreq && t.bad == 0,
		      "%s: %u of %u complete, %u expired, %u bad (%s); folded %llu, clones %llu, "
		      "clone failures %llu", ifname, t.complete, nreq, t.expired, t.bad, t.why,
		      (unsigned long long)st.folded, (unsigned long long)st.clones,
		      (unsigned long long)st.clone_failures);
	ck_assert_uint_eq(st.folded, (uint64_t)nreq * SGBPF_MAX_WORKERS);
	ck_assert_uint_eq(st.clone_failures, 0);
	sgbpf_service_destroy(svc);
}

START_TEST(test_max_fanout_lo)
{
	max_fanout(30, 2);
}
END_TEST

START_TEST(test_max_fanout_veth)
{
	max_fanout(30, 2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("scatter_e2e");
	TCase *v = tcase_create("veth"), *l = tcase_create("lo");
	SRunner *sr;
	int failed, skip = netns_check_privileges();

	if (skip)
		return skip;
	netns_reap_stale();
	tcase_add_checked_fixture(v, setup_veth, teardown);
	tcase_add_checked_fixture(l, setup_lo, teardown);
	tcase_set_timeout(v, 120);
	tcase_set_timeout(l, 120);
	tcase_add_test(v, test_largest_bodies);
	tcase_add_test(v, test_max_fanout_veth);
	tcase_add_test(l, test_max_fanout_lo);
	suite_add_tcase(s, v);
	suite_add_tcase(s, l);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	netns_reap_stale();
	return failed ? 1 : 0;
}
