// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * All-gather (sgbpf_scatter_opts.all_gather, gather --all-gather): inside a
 * namespace of its own, on its lo, the test itself plays eight workers with
 * plain UDP sockets, so that it knows every reply and can check, byte for
 * byte, what each worker gets back: exactly one SGBPF_MSG_ALLGATHER per
 * complete request, with the request's id and the reduced result as body;
 * nothing for a request that expired; every worker, also those that did not
 * count under policy any.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sgbpf/protocol.h>
#include <sgbpf/sgbpf.h>

#include "cli_run.h"
#include "netns_suite.h"
#include "netns_util.h"
#include "svc_wait.h"
#include "worker_farm.h"

#define BASE		39000
#define FANOUT		8
#define NELEMS		363
#define NREQ		10

static struct netns ns;
static int wfd[FANOUT];

struct outcome {
	uint32_t complete, expired, other;
	uint32_t req_id, nelems, responses;
	uint32_t result[NELEMS];
};

static void on_result(const struct sgbpf_result *res, void *ctx)
{
	struct outcome *o = ctx;

	o->req_id = res->req_id;
	o->responses = res->responses;
	if (res->status == SGBPF_STATUS_COMPLETE) {
		o->complete++;
		o->nelems = res->nelems;
		if (res->nelems <= NELEMS && res->data)
			memcpy(o->result, res->data, (size_t)res->nelems * 4);
	} else if (res->status == SGBPF_STATUS_EXPIRED) {
		o->expired++;
	} else {
		o->other++;
	}
}

static void setup(void)
{
	ck_assert_int_eq(netns_create(&ns, "allgather"), 0);
	ck_assert_int_eq(netns_link_up(&ns, "lo"), 0);
	ck_assert_int_eq(netns_enter(&ns, NULL), 0);
	for (int i = 0; i < FANOUT; i++) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(BASE + i),
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

		wfd[i] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		ck_assert_int_ge(wfd[i], 0);
		ck_assert_int_eq(bind(wfd[i], (struct sockaddr *)&a, sizeof(a)), 0);
	}
}

static void teardown(void)
{
	for (int i = 0; i < FANOUT; i++)
		if (wfd[i] >= 0)
			close(wfd[i]);
	netns_delete(&ns);
}

static struct sgbpf_service *make_service(enum sgbpf_reduce reduce, struct outcome *o)
{
	struct sgbpf_endpoint eps[FANOUT] = { 0 };
	struct sgbpf_service *svc;

	svc_lo_workers(eps, FANOUT, BASE);
	SGBPF_OPTS(sgbpf_service_opts, so, .ifname = "lo", .workers = eps, .nworkers = FANOUT,
		   .reduce = reduce, .on_complete = on_result, .cb_ctx = o);
	svc = sgbpf_service_create(&so);
	ck_assert_msg(svc, "create: %s", sgbpf_last_error());
	return svc;
}

/* Waits up to ms for a datagram on fd; returns its length, or -1 if none came. */
static ssize_t recv_within(int fd, void *buf, size_t cap, int ms,
			   struct sockaddr_in *from)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	socklen_t alen = sizeof(*from);

	if (poll(&p, 1, ms) != 1)
		return -1;
	return recvfrom(fd, buf, cap, 0, (struct sockaddr *)from, &alen);
}

/* Element k of worker i's reply to request id: known to the test only. */
static uint32_t elem(uint32_t id, int i, int k)
{
	return id * 2654435761u + (uint32_t)i * 40503u + (uint32_t)k * 7u;
}

/*
 * Worker i takes the scatter of one request and, when answering, replies
 * with its NELEMS elements.  Returns the request id.
 */
static uint32_t serve(int i, bool answer)
{
	uint8_t buf[2048];
	struct sockaddr_in from;
	struct sgbpf_hdr h;
	uint32_t body[NELEMS];
	ssize_t n = recv_within(wfd[i], buf, sizeof(buf), 2000, &from);
	uint32_t id;

	ck_assert_msg(n >= (ssize_t)SGBPF_HDR_LEN, "worker %d: no scatter", i);
	memcpy(&h, buf, sizeof(h));
	ck_assert_uint_eq(h.msg_type, SGBPF_MSG_SCATTER);
	id = sgbpf_le32(h.req_id);
	if (!answer)
		return id;
	for (int k = 0; k < NELEMS; k++)
		body[k] = sgbpf_le32(elem(id, i, k));
	memset(&h, 0, sizeof(h));
	h.req_id = sgbpf_le32(id);
	h.num_pks = sgbpf_le32(1);
	h.body_len = sgbpf_le32(sizeof(body));
	h.msg_type = SGBPF_MSG_GATHER;
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + SGBPF_HDR_LEN, body, sizeof(body));
	ck_assert_int_eq(sendto(wfd[i], buf, SGBPF_HDR_LEN + sizeof(body), 0,
				(struct sockaddr *)&from, sizeof(from)),
			 (ssize_t)(SGBPF_HDR_LEN + sizeof(body)));
	return id;
}

/*
 * Worker i must now hold exactly one all-gather of id carrying result, and
 * nothing else.
 */
static void expect_allgather(int i, uint32_t id, const uint32_t *result, uint32_t nelems)
{
	uint8_t buf[2048];
	struct sockaddr_in from;
	struct sgbpf_hdr h;
	ssize_t n = recv_within(wfd[i], buf, sizeof(buf), 2000, &from);

	ck_assert_msg(n >= (ssize_t)SGBPF_HDR_LEN, "worker %d: no all-gather for %#x", i, id);
	memcpy(&h, buf, sizeof(h));
	ck_assert_uint_eq(h.msg_type, SGBPF_MSG_ALLGATHER);
	ck_assert_uint_eq(sgbpf_le32(h.req_id), id);
	ck_assert_uint_eq(sgbpf_le32(h.seq_num), 0);
	ck_assert_uint_eq(sgbpf_le32(h.num_pks), 1);
	ck_assert_uint_eq(sgbpf_le32(h.body_len), nelems * 4);
	ck_assert_int_eq(n, (ssize_t)(SGBPF_HDR_LEN + nelems * 4));
	ck_assert_msg(!memcmp(buf + SGBPF_HDR_LEN, result, nelems * 4),
		      "worker %d: the all-gather of %#x is not the result", i, id);
	/* Exactly one. */
	ck_assert_int_lt(recv_within(wfd[i], buf, sizeof(buf), 20, &from), 0);
}

/* Every worker answers; each gets the exact reduced result back, once per request. */
START_TEST(test_allgather_exact)
{
	SGBPF_OPTS(sgbpf_scatter_opts, sc, .timeout_us = 1000000, .all_gather = true);
	struct outcome o = { 0 };
	struct sgbpf_service *svc = make_service(SGBPF_REDUCE_SUM_U32, &o);
	struct sgbpf_stats st;

	for (int r = 0; r < NREQ; r++) {
		uint32_t id, sent, expect[NELEMS];

		ck_assert_int_eq(sgbpf_scatter(svc, "ag", 2, &sc, &sent), 0);
		for (int i = 0; i < FANOUT; i++) {
			id = serve(i, true);
			ck_assert_uint_eq(id, sent);
		}
		while (o.complete + o.expired + o.other < (uint32_t)r + 1)
			ck_assert_int_ge(sgbpf_wait(svc, 2000), 0);
		ck_assert_uint_eq(o.complete, r + 1);
		ck_assert_uint_eq(o.nelems, NELEMS);
		for (int k = 0; k < NELEMS; k++) {
			expect[k] = 0;
			for (int i = 0; i < FANOUT; i++)
				expect[k] += elem(sent, i, k);
		}
		ck_assert_msg(!memcmp(o.result, expect, sizeof(expect)), "request %#x: wrong sum",
			      sent);
		for (int i = 0; i < FANOUT; i++)
			expect_allgather(i, sent, o.result, NELEMS);
	}
	ck_assert_int_eq(sgbpf_service_stats(svc, &st), 0);
	sgbpf_service_destroy(svc);
	ck_assert_uint_eq(st.allgathers, NREQ);
	ck_assert_uint_eq(st.allgather_copies, NREQ * FANOUT);
	ck_assert_uint_eq(st.allgather_failures, 0);
}
END_TEST

/*
 * Policy any: the first reply completes the request, and the result still
 * reaches all eight workers, those that never answered included.
 */
START_TEST(test_allgather_policy_any)
{
	SGBPF_OPTS(sgbpf_scatter_opts, sc, .timeout_us = 1000000, .all_gather = true,
		   .policy = SGBPF_POLICY_ANY);
	struct outcome o = { 0 };
	struct sgbpf_service *svc = make_service(SGBPF_REDUCE_SUM_U32, &o);
	uint32_t sent, expect[NELEMS];

	ck_assert_int_eq(sgbpf_scatter(svc, "ag", 2, &sc, &sent), 0);
	ck_assert_uint_eq(serve(3, true), sent);
	for (int i = 0; i < FANOUT; i++)
		if (i != 3)
			ck_assert_uint_eq(serve(i, false), sent);
	while (!o.complete && !o.expired)
		ck_assert_int_ge(sgbpf_wait(svc, 2000), 0);
	ck_assert_uint_eq(o.complete, 1);
	ck_assert_uint_eq(o.responses, 1);
	for (int k = 0; k < NELEMS; k++)
		expect[k] = elem(sent, 3, k);
	ck_assert(!memcmp(o.result, expect, sizeof(expect)));
	for (int i = 0; i < FANOUT; i++)
		expect_allgather(i, sent, expect, NELEMS);
	sgbpf_service_destroy(svc);
}
END_TEST

/* A request that expires has no result: no worker gets an all-gather. */
START_TEST(test_allgather_not_on_expiry)
{
	SGBPF_OPTS(sgbpf_scatter_opts, sc, .timeout_us = 20000, .all_gather = true);
	struct outcome o = { 0 };
	struct sgbpf_service *svc = make_service(SGBPF_REDUCE_SUM_U32, &o);
	struct sockaddr_in from;
	struct sgbpf_stats st;
	uint8_t buf[2048];
	uint32_t sent;

	ck_assert_int_eq(sgbpf_scatter(svc, "ag", 2, &sc, &sent), 0);
	for (int i = 0; i < FANOUT; i++)
		ck_assert_uint_eq(serve(i, i != 5), sent);
	while (!o.complete && !o.expired)
		ck_assert_int_ge(sgbpf_wait(svc, 2000), 0);
	ck_assert_uint_eq(o.expired, 1);
	for (int i = 0; i < FANOUT; i++)
		ck_assert_msg(recv_within(wfd[i], buf, sizeof(buf), 20, &from) < 0,
			      "worker %d got something for an expired request", i);
	ck_assert_int_eq(sgbpf_service_stats(svc, &st), 0);
	sgbpf_service_destroy(svc);
	ck_assert_uint_eq(st.allgathers, 0);
	ck_assert_uint_eq(st.allgather_copies, 0);
}
END_TEST

/* A count has no result to send: refused at the scatter, nothing sent. */
START_TEST(test_allgather_needs_reduction)
{
	SGBPF_OPTS(sgbpf_scatter_opts, sc, .all_gather = true);
	struct outcome o = { 0 };
	struct sgbpf_service *svc = make_service(SGBPF_REDUCE_COUNT, &o);

	ck_assert_int_eq(sgbpf_scatter(svc, "ag", 2, &sc, NULL), -EINVAL);
	ck_assert_ptr_nonnull(strstr(sgbpf_last_error(), "reduction"));
	ck_assert_uint_eq(sgbpf_inflight(svc), 0);
	sgbpf_service_destroy(svc);
}
END_TEST

/*
 * The command line against reference workers (`sgbpf worker
 * --expect-allgather`, whose own test checks what it counts): every
 * request sends its result back to all eight, as the summary says.
 */
START_TEST(test_cli_all_gather)
{
	static char out[1 << 16];
	char path[] = "/tmp/sgbpf-allgather-workers-XXXXXX", listen[32];
	pid_t farm;
	int code;

	for (int i = 0; i < FANOUT; i++) {
		close(wfd[i]);
		wfd[i] = -1;
	}
	snprintf(listen, sizeof(listen), "127.0.0.1:%u-%u", BASE, BASE + FANOUT - 1);
	farm = worker_farm_start(&ns, listen, (const char *const[]){ "--expect-allgather", NULL });
	ck_assert_int_gt(farm, 0);
	cli_lo_workers_file(path, FANOUT, BASE);
	code = cli_run_gather((const char *const[]){ "--dev", "lo", "--workers", path,
						     "--count", "20", "--inflight", "4", "--json",
						     "--all-gather", NULL },
			      out, sizeof(out));
	unlink(path);
	worker_farm_stop(farm);
	ck_assert_msg(code == 0, "exit %d: %.400s", code, out);
	ck_assert_msg(strstr(out, "\"complete\": 20,") &&
		      strstr(out, "\"allgathers\": 20, \"allgather_copies\": 160, "
				  "\"allgather_failures\": 0"),
		      "summary: %s", strstr(out, "\"summary\"") ? strstr(out, "\"summary\"") : out);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("allgather");
	TCase *tc = tcase_create("lo");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_allgather_exact);
	tcase_add_test(tc, test_allgather_policy_any);
	tcase_add_test(tc, test_allgather_not_on_expiry);
	tcase_add_test(tc, test_allgather_needs_reduction);
	tcase_add_test(tc, test_cli_all_gather);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return netns_suite_run(s);
}
