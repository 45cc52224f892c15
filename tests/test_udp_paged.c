// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Replies whose bytes are not all in the skb's linear part.  A worker that
 * sends its header and its body as two corked writes (MSG_MORE), as many
 * hand-written workers do, produces on veth an skb whose payload sits in
 * page fragments.  XDP sees such a frame linearised; the TC ingress gather,
 * which a service falls back to when the XDP hook is taken, sees it as it
 * is, and must validate it against skb->len and read it with
 * bpf_skb_load_bytes.  Each case runs both hooks against the same workers;
 * every result must be exact and nothing may be counted malformed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>
#include <sgbpf/sgbpf.h>

#include "netns_util.h"
#include "suite_run.h"

#define NWORKERS	3
#define BASE_PORT	36000
#define NREQ		50
#define NELEMS		300		/* a 1200-byte body: past any linear head */

static struct netns_pair pair;
static pid_t worker_pid = -1;

/* Element i of worker w's reply to req: different per request and worker. */
static uint32_t elem(uint32_t w, uint32_t req, uint32_t i)
{
	return (req * 2654435761u) ^ ((w + 1) * 40503u) ^ (i * 2246822519u);
}

/*
 * The workers: one socket per port, each reply sent as header + body in two
 * corked sends.  Ends by itself after two quiet seconds.
 */
static int run_workers(void *arg)
{
	struct pollfd pfd[NWORKERS];
	uint32_t body[NELEMS];

	(void)arg;
	for (int w = 0; w < NWORKERS; w++) {
		struct sockaddr_in a = {
			.sin_family = AF_INET, .sin_port = htons(BASE_PORT + w),
			.sin_addr.s_addr = pair.b_ip,
		};

		pfd[w].fd = socket(AF_INET, SOCK_DGRAM, 0);
		pfd[w].events = POLLIN;
		if (pfd[w].fd < 0 || bind(pfd[w].fd, (struct sockaddr *)&a, sizeof(a)))
			return 2;
	}
	while (poll(pfd, NWORKERS, 2000) > 0) {
		for (int w = 0; w < NWORKERS; w++) {
			struct sgbpf_hdr req, h = { .num_pks = 1, .msg_type = SGBPF_MSG_GATHER };
			struct sockaddr_in from;
			socklen_t flen = sizeof(from);
			uint8_t buf[2048];
			ssize_t n;

			if (!(pfd[w].revents & POLLIN))
				continue;
			n = recvfrom(pfd[w].fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
			if (n < (ssize_t)sizeof(req))
				continue;
			memcpy(&req, buf, sizeof(req));
			h.req_id = req.req_id;
			h.body_len = sizeof(body);
			for (uint32_t i = 0; i < NELEMS; i++)
				body[i] = elem(w, req.req_id, i);
			if (sendto(pfd[w].fd, &h, sizeof(h), MSG_MORE, (struct sockaddr *)&from,
				   flen) < 0 ||
			    sendto(pfd[w].fd, body, sizeof(body), 0, (struct sockaddr *)&from,
				   flen) < 0)
				return 3;
		}
	}
	return 0;
}

static void setup(void)
{
	ck_assert_int_eq(netns_pair_create(&pair, "paged", 9), 0);
	worker_pid = netns_fork(&pair.b);
	ck_assert_int_ge(worker_pid, 0);
	if (worker_pid == 0)
		_exit(run_workers(NULL));
	ck_assert_int_eq(netns_enter(&pair.a, NULL), 0);
}

static void teardown(void)
{
	if (worker_pid > 0) {
		kill(worker_pid, SIGKILL);
		waitpid(worker_pid, NULL, 0);
		worker_pid = -1;
	}
	netns_pair_delete(&pair);
}

struct tally {
	uint32_t complete, wrong, other;
	char why[160];
};

static void on_done(const struct sgbpf_result *res, void *ctx)
{
	struct tally *t = ctx;
	const uint32_t *sum = res->data;

	if (res->status != SGBPF_STATUS_COMPLETE) {
		t->other++;
		return;
	}
	t->complete++;
	if (res->nelems != NELEMS || res->responses != NWORKERS) {
		t->wrong++;
		snprintf(t->why, sizeof(t->why), "%u elements from %u workers", res->nelems,
			 res->responses);
		return;
	}
	for (uint32_t i = 0; i < NELEMS; i++) {
		uint32_t want = 0;

		for (uint32_t w = 0; w < NWORKERS; w++)
			want += elem(w, res->req_id, i);
		if (sum[i] != want) {
			t->wrong++;
			snprintf(t->why, sizeof(t->why), "request %u element %u: %u, expected %u",
				 res->req_id, i, sum[i], want);
			return;
		}
	}
}

static void gather_with(enum sgbpf_xdp_mode mode, enum sgbpf_gather_hook hook)
{
	struct sgbpf_endpoint eps[NWORKERS] = { 0 };
	struct tally t = { 0 };
	struct sgbpf_service_info info;
	struct sgbpf_stats st;
	struct sgbpf_service *svc;

	for (int w = 0; w < NWORKERS; w++)
		eps[w] = (struct sgbpf_endpoint){ .addr = pair.b_ip, .port = BASE_PORT + w };
	{
		SGBPF_OPTS(sgbpf_service_opts, o, .ifname = pair.a_if, .workers = eps,
			   .nworkers = NWORKERS, .reduce = SGBPF_REDUCE_SUM_U32, .xdp_mode = mode,
			   .delivery = SGBPF_DELIVERY_RINGBUF, .on_complete = on_done,
			   .cb_ctx = &t, .max_inflight = 16);

		svc = sgbpf_service_create(&o);
	}
	ck_assert_msg(svc, "service: %s", sgbpf_last_error());
	ck_assert_int_eq(sgbpf_service_info(svc, &info), 0);
	ck_assert_int_eq(info.gather_hook, hook);
	for (int k = 0; k < NREQ; k++) {
		SGBPF_OPTS(sgbpf_scatter_opts, so, .timeout_us = 500000);

		ck_assert_int_eq(sgbpf_scatter(svc, "q", 1, &so, NULL), 0);
		while (sgbpf_inflight(svc))
			ck_assert_int_ge(sgbpf_wait(svc, 1000), 0);
	}
	ck_assert_int_eq(sgbpf_service_stats(svc, &st), 0);
	sgbpf_service_destroy(svc);
	ck_assert_msg(t.complete == NREQ && t.wrong == 0,
		      "%u of %u complete, %u wrong (%s), %u expired or failed; kernel: %llu folded, "
		      "%llu malformed",
		      t.complete, NREQ, t.wrong, t.why, t.other, (unsigned long long)st.folded,
		      (unsigned long long)st.malformed);
	ck_assert_uint_eq(st.malformed, 0);
	ck_assert_uint_eq(st.folded, (uint64_t)NREQ * NWORKERS);
}

/* The fallback hook: TC ingress, where the body stays in page fragments. */
START_TEST(test_corked_replies_tc)
{
	gather_with(SGBPF_XDP_OFF, SGBPF_GATHER_TC_INGRESS);
}
END_TEST

/* The same workers at native XDP, which sees the frames linearised. */
START_TEST(test_corked_replies_xdp)
{
	gather_with(SGBPF_XDP_NATIVE, SGBPF_GATHER_XDP_NATIVE);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("udp_paged");
	TCase *tc = tcase_create("veth");
	int skip = netns_check_privileges();

	if (skip)
		return skip;
	netns_reap_stale();
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_corked_replies_tc);
	tcase_add_test(tc, test_corked_replies_xdp);
	suite_add_tcase(s, tc);
	return suite_run(s);
}
