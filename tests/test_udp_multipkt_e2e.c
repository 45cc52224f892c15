// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Multi-packet replies end to end: reference workers (`sgbpf worker
 * --packets K --shuffle`, one port of each farm also --duplicate) in a
 * worker namespace behind veth (native XDP), and in a namespace's lo
 * (generic XDP).  Fan-outs 1, 8 and 64 with 1, 4 and 32 packets per reply
 * in every delivery mode; each result must be the exact K * 363-element sum
 * of the workers' random:SEED replies.  With fate allow, every packet must
 * be handed over, each worker's in seq order.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sgbpf/sgbpf.h>

#include "netns_topo.h"
#include "netns_util.h"
#include "reply_gen.h"
#include "service.h"
#include "suite_run.h"
#include "worker_farm.h"

#define FARM_PORTS	64
#define SEED_SPEC	"random:777"
#define REQUESTS	3

static const uint32_t packet_counts[] = { 1, 4, 32 };
static const uint32_t fanouts[] = { 1, 8, 64 };
static const enum sgbpf_delivery deliveries[] = {
	SGBPF_DELIVERY_RINGBUF, SGBPF_DELIVERY_CTRL_FD, SGBPF_DELIVERY_BLOCK,
	SGBPF_DELIVERY_BUSY_WAIT,
};
static const char *const dnames[] = { "ringbuf", "ctrl-fd", "block", "busy-wait" };

/* Farm k answers with packet_counts[k] packets on base(k) .. base(k) + 63. */
static uint16_t farm_base(unsigned int k)
{
	return 32000 + 100 * k;
}

static struct {
	struct netns_topo net;
	pid_t farms[8];
	int nfarms;
} T;

static void start_farm(uint16_t first, uint16_t last, uint32_t packets, bool duplicate)
{
	char listen[64], addr[16], npk[16];
	const char *extra[] = { "--reply", SEED_SPEC, "--packets", npk, "--shuffle",
				duplicate ? "--duplicate" : NULL, NULL };
	pid_t pid;

	snprintf(npk, sizeof(npk), "%u", packets);
	inet_ntop(AF_INET, &T.net.worker_ip, addr, sizeof(addr));
	snprintf(listen, sizeof(listen), "%s:%u-%u", addr, first, last);
	pid = worker_farm_start(T.net.work, listen, extra);
	ck_assert_msg(pid > 0, "worker farm on %s did not start", listen);
	T.farms[T.nfarms++] = pid;
}

static void setup_topo(bool veth)
{
	memset(&T, 0, sizeof(T));
	netns_topo_create(&T.net, veth, "mpk", 9);
	for (unsigned int k = 0; k < 3; k++) {
		uint16_t b = farm_base(k);

		/* The last port of each farm sends every packet twice. */
		start_farm(b, b + FARM_PORTS - 2, packet_counts[k], false);
		start_farm(b + FARM_PORTS - 1, b + FARM_PORTS - 1, packet_counts[k], true);
	}
	ck_assert_int_eq(netns_enter(T.net.coord, NULL), 0);
}

static void setup_veth(void)
{
	setup_topo(true);
}

static void setup_lo(void)
{
	setup_topo(false);
}

static void teardown(void)
{
	for (int i = 0; i < T.nfarms; i++)
		worker_farm_stop(T.farms[i]);
	T.nfarms = 0;
	netns_topo_delete(&T.net);
}

/* One service run and what it saw. */
struct run {
	uint32_t fanout, packets;
	uint16_t base;		/* the farm's first port; workers are its last fanout ports */
	bool allow;
	uint32_t budget;	/* sgbpf_service_opts.reply_budget, 0: none */
	int window;		/* requests in flight, 0: 2 (1 for block) */
	int requests;		/* 0: REQUESTS */
	uint32_t complete, bad, expired;
	struct sgbpf_stats stats;	/* the kernel's counters when the run ended */
	char why[256];
	uint16_t ports[FARM_PORTS];
	uint32_t expect[REPLY_GEN_NELEMS * SGBPF_MAX_PACKETS_PER_REPLY];
};

static void run_fail(struct run *r, const char *msg, uint32_t a, uint32_t b)
{
	r->bad++;
	snprintf(r->why, sizeof(r->why), "%s: %u, want %u", msg, a, b);
}

/*
 * With fate allow: every packet once, K declared and, for multi-packet
 * services, ordered by worker and each worker's by seq_num (one-packet
 * services keep the arrival order).
 */
static void check_responses(const struct sgbpf_result *res, struct run *r)
{
	if (res->nresp != r->fanout * r->packets)
		return run_fail(r, "packets handed over", res->nresp, r->fanout * r->packets);
	for (uint32_t i = 0; i < res->nresp && r->packets > 1; i++) {
		const struct sgbpf_response *p = &res->resp[i];

		if (p->worker != i / r->packets)
			return run_fail(r, "worker of response", p->worker, i / r->packets);
		if (sgbpf_le32(p->hdr->seq_num) != i % r->packets)
			return run_fail(r, "seq_num of response", sgbpf_le32(p->hdr->seq_num),
				    i % r->packets);
		if (sgbpf_le32(p->hdr->num_pks) != r->packets ||
		    p->body_len != REPLY_GEN_NELEMS * 4)
			return run_fail(r, "num_pks of response", sgbpf_le32(p->hdr->num_pks),
				    r->packets);
	}
}

static void on_result(const struct sgbpf_result *res, void *ctx)
{
	struct run *r = ctx;
	struct reply_gen g;
	uint32_t n = 0;

	if (res->status != SGBPF_STATUS_COMPLETE) {
		r->expired++;
		return;
	}
	r->complete++;
	ck_assert_int_eq(reply_gen_parse(SEED_SPEC, &g), 0);
	for (uint32_t seq = 0; seq < r->packets; seq++)
		n += reply_gen_expected_sum_u32(&g, r->ports, r->fanout, res->req_id, seq,
						r->expect + n);
	if (res->responses != r->fanout)
		return run_fail(r, "responses", res->responses, r->fanout);
	if (res->nelems != n || res->elem_size != 4)
		return run_fail(r, "nelems", res->nelems, n);
	for (uint32_t j = 0; j < n; j++)
		if (((const uint32_t *)res->data)[j] != r->expect[j])
			return run_fail(r, "element differs at", j, n);
	if (r->allow)
		check_responses(res, r);
}

static void run_one(struct run *r, enum sgbpf_delivery d)
{
	struct sgbpf_endpoint eps[FARM_PORTS];
	SGBPF_OPTS(sgbpf_service_opts, so, .ifname = T.net.ifname, .workers = eps,
		   .nworkers = r->fanout, .reduce = SGBPF_REDUCE_SUM_U32, .delivery = d,
		   .fate = r->allow ? SGBPF_FATE_ALLOW : SGBPF_FATE_DISCARD,
		   .on_complete = on_result, .cb_ctx = r, .max_inflight = 16,
		   .max_packets = r->packets, .reply_budget = r->budget);
	/*
	 * 64 workers x 32 packets is a burst of 2048 datagrams into a veth
	 * peer's 256-frame ring, which drops when it is full, most often with
	 * fate allow (every packet climbs the stack).  A worker still without
	 * all its packets folded gets the request again and resends them all:
	 * the copies it sent before are duplicates, the result still exact.
	 */
	SGBPF_OPTS(sgbpf_scatter_opts, sc, .timeout_us = 3000000, .retry_us = 250000,
		   .retries = 8);
	struct sgbpf_service *svc;
	int sent = 0, window, nreq = r->requests ? r->requests : REQUESTS;

	/* The last fanout ports of the farm: fan-out 64 includes the duplicating one. */
	for (uint32_t i = 0; i < r->fanout; i++) {
		r->ports[i] = r->base + FARM_PORTS - r->fanout + i;
		eps[i] = (struct sgbpf_endpoint){ .addr = T.net.worker_ip, .port = r->ports[i] };
	}
	svc = sgbpf_service_create(&so);
	ck_assert_msg(svc, "create: %s", sgbpf_last_error());
	window = d == SGBPF_DELIVERY_BLOCK ? 1 : r->window ? r->window : 2;
	while (r->complete + r->expired < (uint32_t)nreq) {
		while (sent < nreq && (int)sgbpf_inflight(svc) < window) {
			ck_assert_int_eq(sgbpf_scatter(svc, "mp", 2, &sc, NULL), 0);
			sent++;
		}
		ck_assert_int_ge(sgbpf_wait(svc, 3000), 0);
	}
	ck_assert_int_eq(sgbpf_service_stats(svc, &r->stats), 0);
	sgbpf_service_destroy(svc);
}

static void matrix(bool allow_too, const uint32_t *fans, unsigned int nfans)
{
	for (unsigned int pk = 0; pk < 3; pk++) {
		for (unsigned int fi = 0; fi < nfans; fi++) {
			for (unsigned int di = 0; di < 4; di++) {
				for (int allow = 0; allow <= (allow_too ? 1 : 0); allow++) {
					static struct run r;

					memset(&r, 0, sizeof(r));
					r.fanout = fans[fi];
					r.packets = packet_counts[pk];
					r.base = farm_base(pk);
					r.allow = allow;
					run_one(&r, deliveries[di]);
					ck_assert_msg(r.bad == 0 && r.expired == 0 &&
						      r.complete == REQUESTS,
						      "%s fan-out %u, %u packets, %s, %s: %u complete, "
						      "%u bad, %u expired: %s", T.net.ifname, r.fanout,
						      r.packets, dnames[di], allow ? "allow" : "discard",
						      r.complete, r.bad, r.expired, r.why);
					/* Each packet folded once; policy all leaves only copies late. */
					ck_assert_uint_eq(r.stats.folded,
							  REQUESTS * r.fanout * r.packets);
					if (r.stats.retries && getenv("SGBPF_TEST_TIMING"))
						fprintf(stderr, "%u x %u %s: %llu re-scatters\n",
							r.fanout, r.packets, dnames[di],
							(unsigned long long)r.stats.retries);
					/*
					 * The duplicating worker's copies were seen and never
					 * folded: duplicates while a request gathers, stale
					 * after (the last ones may still be on the way).
					 */
					if (r.fanout == FARM_PORTS)
						ck_assert_uint_gt(r.stats.duplicates + r.stats.stale, 0);
				}
			}
		}
	}
}

START_TEST(test_multipkt_veth)
{
	matrix(false, fanouts, 3);
}
END_TEST

/* Fate allow, every delivery mode, at fan-out 8 and 64. */
START_TEST(test_multipkt_veth_allow)
{
	static const uint32_t some[] = { 8, 64 };

	matrix(true, some, 2);
}
END_TEST

/*
 * The reply budget counts datagrams: 8 workers x 4 packets are 32 per
 * request, so a budget of 64 lets two of eight requests out at a time (a
 * count of workers would let all eight go).
 */
START_TEST(test_multipkt_reply_budget)
{
	static struct run r;

	memset(&r, 0, sizeof(r));
	r.fanout = 8;
	r.packets = 4;
	r.base = farm_base(1);
	r.budget = 64;
	r.window = 8;
	r.requests = 40;
	ck_assert_uint_eq(packet_counts[1], 4);
	run_one(&r, SGBPF_DELIVERY_RINGBUF);
	ck_assert_msg(r.bad == 0 && r.expired == 0 && r.complete == 40, "%u complete, %u bad: %s",
		      r.complete, r.bad, r.why);
	ck_assert_uint_gt(r.stats.deferred, 0);
	ck_assert_uint_eq(r.stats.folded, 40 * 8 * 4);
}
END_TEST

START_TEST(test_multipkt_lo)
{
	static const uint32_t some[] = { 8 };

	matrix(false, some, 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("udp_multipkt_e2e");
	TCase *veth = tcase_create("veth"), *lo = tcase_create("lo");

	if (geteuid() != 0) {
		fprintf(stderr, "skipped: needs root (namespaces, BPF)\n");
		return 77;
	}
	tcase_add_checked_fixture(veth, setup_veth, teardown);
	tcase_add_checked_fixture(lo, setup_lo, teardown);
	tcase_set_timeout(veth, 300);
	tcase_set_timeout(lo, 300);
	tcase_add_test(veth, test_multipkt_veth);
	tcase_add_test(veth, test_multipkt_veth_allow);
	tcase_add_test(lo, test_multipkt_lo);
	tcase_add_test(lo, test_multipkt_reply_budget);
	suite_add_tcase(s, veth);
	suite_add_tcase(s, lo);
	return suite_run(s);
}
