// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A long randomized run: two services of 64 workers each, on one veth
 * interface at once, with workers that duplicate, send junk, send copies from
 * unlisted ports, one that never answers, and a spoofer that sends replies
 * from registered workers' addresses for the ids a sequential counter would
 * have issued (request ids are unpredictable, so these land nowhere).  Request
 * ids are forced to wrap halfway.  Policies and timeouts are drawn at random.
 *
 * Every result is checked exactly or must be reported expired:
 *  - service R: workers reply random:SEED (reply_gen.h), port SILENT never
 *    answers.  Policy all can never complete (it must expire); policy N = 63
 *    completes only with the 63 others, whose sum is known exactly.
 *  - service V: workers reply vector (element i = i), all answer, so any
 *    needed workers sum to needed * i: policies all, any and N = 1..64.
 * Spoofed replies carry exactly what the impersonated worker would send for
 * that id (never for the silent port), so even one that lands on a live
 * request cannot change a correct result; what it must not do is break the
 * accounting.  Every request is reported exactly once.
 *
 * Size: SGBPF_SOAK_REQUESTS=N, or SGBPF_SOAK_FULL=1 for 10^6 requests
 * (under 10 minutes on 2 cores); 20000 by default, for CI.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sgbpf/sgbpf.h>

#include "netns_suite.h"
#include "netns_util.h"
#include "pkt_build.h"
#include "reply_gen.h"
#include "request_table.h"
#include "service.h"
#include "worker_farm.h"

#define FAN 64u
#define R_BASE 41000	/* random:SEED farm */
#define V_BASE 42000	/* vector farm */
#define SILENT (R_BASE + FAN - 1)
#define SEED_SPEC "random:9151"
#define INFLIGHT 16u
/* Workers 0..MISBEHAVE-1 of each service duplicate, send junk and strays. */
#define MISBEHAVE 8u
#define DEFAULT_REQUESTS 20000u
#define FULL_REQUESTS 1000000u

static struct netns_pair pair;
static pid_t farms[4] = { -1, -1, -1, -1 }, spoofer = -1;

enum kind { R_ALL, R_N63, V_ALL, V_ANY, V_N };

struct side {
	struct sgbpf_service *svc;
	bool random;
	uint64_t outstanding[INFLIGHT * 2];	/* req_id + 1 of requests in flight, 0: free */
	uint64_t issued, complete, expired, other, bad, twice;
	uint64_t by_kind_complete[5], by_kind_expired[5];
	char why[200];
};

static struct side sides[2];
static uint16_t r_ports[FAN - 1];
static struct reply_gen r_gen;

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* user_ctx: the kind in bits 0..7, needed in 8..23. */
#define CTX(kind, needed) ((void *)(uintptr_t)((kind) | (needed) << 8))
#define CTX_KIND(c) ((enum kind)((uintptr_t)(c) & 0xff))
#define CTX_NEEDED(c) ((uint32_t)((uintptr_t)(c) >> 8) & 0xffff)

static void mark_bad(struct side *s, const struct sgbpf_result *res, const char *what)
{
	s->bad++;
	snprintf(s->why, sizeof(s->why), "request %#x kind %d needed %u: %s (status %d, "
		 "%u responses, %u elements)", res->req_id, CTX_KIND(res->user_ctx),
		 CTX_NEEDED(res->user_ctx), what, res->status, res->responses, res->nelems);
}

static bool take_outstanding(struct side *s, uint32_t req_id)
{
	for (uint32_t i = 0; i < sizeof(s->outstanding) / sizeof(s->outstanding[0]); i++) {
		if (s->outstanding[i] == req_id + 1ull) {
			s->outstanding[i] = 0;
			return true;
		}
	}
	return false;
}

static void on_result(const struct sgbpf_result *res, void *ctx)
{
	struct side *s = ctx;
	enum kind k = CTX_KIND(res->user_ctx);
	uint32_t needed = CTX_NEEDED(res->user_ctx);
	const uint32_t *v = res->data;

	if (!take_outstanding(s, res->req_id)) {
		s->twice++;
		mark_bad(s, res, "reported but not in flight (twice, or never sent)");
		return;
	}
	if (res->status == SGBPF_STATUS_EXPIRED) {
		s->expired++;
		s->by_kind_expired[k]++;
		return;
	}
	if (res->status != SGBPF_STATUS_COMPLETE) {
		s->other++;
		mark_bad(s, res, "neither complete nor expired");
		return;
	}
	s->complete++;
	s->by_kind_complete[k]++;
	if (k == R_ALL) {
		mark_bad(s, res, "completed although a worker never answers");
		return;
	}
	if (res->responses != needed || res->nelems != REPLY_GEN_NELEMS || res->elem_size != 4) {
		mark_bad(s, res, "wrong response count or shape");
		return;
	}
	if (s->random) {
		uint32_t expect[REPLY_GEN_NELEMS];

		reply_gen_expected_sum_u32(&r_gen, r_ports, FAN - 1, res->req_id, 0, expect);
		if (memcmp(v, expect, sizeof(expect)))
			mark_bad(s, res, "sum differs from the 63 answering workers'");
		return;
	}
	for (uint32_t i = 0; i < REPLY_GEN_NELEMS; i++) {
		if (v[i] != i * needed) {
			mark_bad(s, res, "vector sum wrong");
			return;
		}
	}
}

static struct sgbpf_service *make(struct side *s, uint16_t base, enum sgbpf_delivery d)
{
	static struct sgbpf_endpoint eps[FAN];
	struct sgbpf_service *svc;

	for (uint32_t i = 0; i < FAN; i++) {
		eps[i].addr = pair.b_ip;
		eps[i].port = base + i;
	}
	SGBPF_OPTS(sgbpf_service_opts, so, .ifname = pair.a_if, .workers = eps, .nworkers = FAN,
		   .reduce = SGBPF_REDUCE_SUM_U32, .delivery = d, .on_complete = on_result,
		   .cb_ctx = s, .max_inflight = INFLIGHT * 2);
	svc = sgbpf_service_create(&so);
	ck_assert_msg(svc, "create: %s", sgbpf_last_error());
	return svc;
}

/* Sends spoofed replies from registered workers until killed. */
static int spoof_loop(uint16_t r_port, uint16_t v_port, uint32_t ids_from, uint32_t ids_span)
{
	struct reply_gen vec = { .kind = REPLY_VECTOR };
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = pair.a_ip };
	uint8_t msg[SGBPF_UDP_MSG_LEN];
	struct pkt p;
	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);

	if (fd < 0)
		return 2;
	rng_state ^= (uint64_t)getpid() << 20;
	for (uint64_t n = 0;; n++) {
		bool random = rnd() & 1;
		uint16_t port = random ? R_BASE + rnd() % (FAN - 1) : V_BASE + rnd() % FAN;
		uint32_t id = ids_from + (uint32_t)(rnd() % ids_span);
		uint32_t len = reply_gen_fill_msg(random ? &r_gen : &vec, port, id, 0, 1,
						  rnd() & 1, msg);
		struct pkt_flow f = { .saddr = pair.b_ip, .daddr = pair.a_ip, .sport = port,
				      .dport = random ? r_port : v_port };

		if (pkt_udp(&p, &f, msg, len, PKT_IP_DF))
			return 3;
		sendto(fd, p.data + ETH_HLEN, p.len - ETH_HLEN, 0, (struct sockaddr *)&to,
		       sizeof(to));
		if (n % 16 == 15)
			usleep(2000);
	}
}

static void issue(struct side *s, enum kind k, uint32_t needed)
{
	/* Mostly patient; some tight (they may expire); policy all on R: short. */
	static const uint64_t timeouts_us[] = { 1000000, 1000000, 1000000, 300000, 20000, 2000 };
	uint64_t t = k == R_ALL ? 3000 : timeouts_us[rnd() % 6];
	SGBPF_OPTS(sgbpf_scatter_opts, so, .timeout_us = t, .user_ctx = CTX(k, needed),
		   .policy = k == R_ALL || k == V_ALL ? SGBPF_POLICY_ALL :
			     k == V_ANY ? SGBPF_POLICY_ANY : SGBPF_POLICY_N,
		   .n = needed);
	uint8_t body[64];
	size_t len = rnd() % sizeof(body);
	uint32_t id, i;
	int err;

	for (i = 0; i < len; i++)
		body[i] = (uint8_t)rnd();
	err = sgbpf_scatter(s->svc, body, len, &so, &id);
	ck_assert_msg(err == 0, "scatter: %s", sgbpf_last_error());
	for (i = 0; s->outstanding[i]; i++)
		;
	s->outstanding[i] = (uint64_t)id + 1;
	s->issued++;
}

static void issue_random(struct side *s)
{
	if (s->random) {
		if (rnd() % 8 == 0)
			issue(s, R_ALL, FAN);
		else
			issue(s, R_N63, FAN - 1);
		return;
	}
	switch (rnd() % 3) {
	case 0:
		issue(s, V_ALL, FAN);
		break;
	case 1:
		issue(s, V_ANY, 1);
		break;
	default:
		issue(s, V_N, 1 + (uint32_t)(rnd() % FAN));
		break;
	}
}

START_TEST(test_soak)
{
	const char *full = getenv("SGBPF_SOAK_FULL"), *req_env = getenv("SGBPF_SOAK_REQUESTS");
	uint64_t total = full && *full == '1' ? FULL_REQUESTS :
			 req_env ? strtoull(req_env, NULL, 10) : DEFAULT_REQUESTS;
	uint64_t per_side = total / 2, t0 = sgbpf_now_ns();
	/* Half the ids before the wrap, half after. */
	uint32_t counter = (uint32_t)(0u - (uint32_t)(per_side / 2));
	const char *bad_r[] = { "--reply", SEED_SPEC, "--duplicate", "--junk", "--stray", NULL };
	const char *good_r[] = { "--reply", SEED_SPEC, "--silent-port", "41063", NULL };
	const char *bad_v[] = { "--reply", "vector", "--duplicate", "--junk", "--stray",
				"--no-pad", NULL };
	const char *good_v[] = { "--reply", "vector", NULL };
	const char *const *args[4] = { bad_r, good_r, bad_v, good_v };
	struct sgbpf_stats st[2];
	char listen[64];

	for (uint32_t i = 0; i < FAN - 1; i++)
		r_ports[i] = R_BASE + i;
	reply_gen_parse(SEED_SPEC, &r_gen);
	/* Misbehaviour costs datagrams: a few workers of each service do it. */
	for (int f = 0; f < 4; f++) {
		uint32_t base = f < 2 ? R_BASE : V_BASE;
		uint32_t lo = f % 2 ? base + MISBEHAVE : base;
		uint32_t hi = f % 2 ? base + FAN - 1 : base + MISBEHAVE - 1;

		snprintf(listen, sizeof(listen), "%s:%u-%u", pair.b_addr, lo, hi);
		farms[f] = worker_farm_start(&pair.b, listen, args[f]);
		ck_assert_msg(farms[f] > 0, "farm %s", listen);
	}

	sides[0].random = true;
	sides[0].svc = make(&sides[0], R_BASE, SGBPF_DELIVERY_RINGBUF);
	sides[1].svc = make(&sides[1], V_BASE, SGBPF_DELIVERY_CTRL_FD);
	for (int k = 0; k < 2; k++)
		sgbpf_reqtab_set_id_counter(&sides[k].svc->reqs, counter);

	spoofer = netns_fork(&pair.b);
	ck_assert_int_ge(spoofer, 0);
	if (spoofer == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(spoof_loop(sides[0].svc->info.port, sides[1].svc->info.port,
				 counter - 64, (uint32_t)per_side + 128));
	}

	for (;;) {
		struct pollfd pfd[2];
		int t = 10;
		bool left = false;

		for (int k = 0; k < 2; k++) {
			struct side *s = &sides[k];
			int next = sgbpf_next_timeout_ms(s->svc);

			while (s->issued < per_side && sgbpf_inflight(s->svc) < INFLIGHT)
				issue_random(s);
			left |= sgbpf_inflight(s->svc) > 0;
			pfd[k].fd = sgbpf_service_fd(s->svc);
			pfd[k].events = POLLIN;
			if (next >= 0 && next < t)
				t = next;
		}
		if (!left)
			break;
		poll(pfd, 2, t);
		for (int k = 0; k < 2; k++)
			ck_assert_int_ge(sgbpf_poll(sides[k].svc), 0);
	}

	for (int k = 0; k < 2; k++) {
		struct side *s = &sides[k];

		ck_assert_int_eq(sgbpf_service_stats(s->svc, &st[k]), 0);
		fprintf(stderr, "soak %s: %llu requests, %llu complete, %llu expired; kernel: "
			"folded %llu, duplicates %llu, unknown %llu, malformed %llu, stale %llu, "
			"surplus %llu, clone failures %llu\n", s->random ? "random" : "vector",
			(unsigned long long)s->issued, (unsigned long long)s->complete,
			(unsigned long long)s->expired, (unsigned long long)st[k].folded,
			(unsigned long long)st[k].duplicates, (unsigned long long)st[k].unknown_src,
			(unsigned long long)st[k].malformed, (unsigned long long)st[k].stale,
			(unsigned long long)st[k].surplus,
			(unsigned long long)st[k].clone_failures);
		ck_assert_msg(s->bad == 0, "%llu wrong results; last: %s",
			      (unsigned long long)s->bad, s->why);
		ck_assert_uint_eq(s->complete + s->expired, s->issued);
		ck_assert_uint_eq(s->issued, per_side);
		/* The misbehaviours really happened. */
		ck_assert_uint_gt(st[k].duplicates, 0);
		ck_assert_uint_gt(st[k].unknown_src, 0);
		ck_assert_uint_gt(st[k].malformed, 0);
	}
	/* Ids did wrap: the slots' open counters went past their end and restarted. */
	ck_assert_uint_lt(sides[0].svc->reqs.reqs[0].opens, (uint32_t)per_side);
	/* The checks were exercised: most patient requests completed. */
	ck_assert_uint_gt(sides[0].by_kind_complete[R_N63], sides[0].issued / 2);
	ck_assert_uint_eq(sides[0].by_kind_complete[R_ALL], 0);
	ck_assert_uint_gt(sides[0].by_kind_expired[R_ALL], 0);
	ck_assert_uint_gt(sides[1].complete, sides[1].issued / 2);
	fprintf(stderr, "soak: %llu requests in %.1f s\n", (unsigned long long)total,
		(sgbpf_now_ns() - t0) / 1e9);
	for (int k = 0; k < 2; k++)
		sgbpf_service_destroy(sides[k].svc);
}
END_TEST

static void setup(void)
{
	ck_assert_int_eq(netns_pair_create(&pair, "soak", 11), 0);
	ck_assert_int_eq(netns_enter(&pair.a, NULL), 0);
}

static void teardown(void)
{
	if (spoofer > 0) {
		kill(spoofer, SIGKILL);
		waitpid(spoofer, NULL, 0);
	}
	for (int k = 0; k < 4; k++)
		worker_farm_stop(farms[k]);
	netns_pair_delete(&pair);
}

int main(void)
{
	Suite *s = suite_create("soak");
	TCase *tc = tcase_create("soak");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 900);
	tcase_add_test(tc, test_soak);
	suite_add_tcase(s, tc);
	return netns_suite_run(s);
}
