// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Forged replies: a process that can send from a registered worker's address
 * (here a raw socket on the coordinator's host) but cannot see the requests
 * must not get a forgery folded by guessing the request id.  Inside a
 * namespace of its own, on its lo: a farm of reference workers answering 20 ms
 * late, and a forger answering at once, from every worker's port, with the id
 * the request would have if ids were predictable (sequential from 1, or the
 * slot's previous id plus the slot count).  Every result must stay exact and
 * every forgery be counted as stale or unknown.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/udp.h>

#include <sgbpf/sgbpf.h>

#include "netns_suite.h"
#include "netns_util.h"
#include "pkt_build.h"
#include "reply_gen.h"
#include "svc_wait.h"
#include "worker_farm.h"

#define BASE 36000
#define FANOUT 16
#define SLOTS 8			/* --max-inflight of the service */
#define DELAY_US "20000"	/* the real replies; the forger is faster */

static struct netns ns;
static pid_t farm;

struct tally {
	uint32_t complete, expired, bad;
	char why[160];
};

static void check_result(const struct sgbpf_result *res, void *ctx)
{
	struct tally *t = ctx;

	if (res->status != SGBPF_STATUS_COMPLETE) {
		t->expired++;
		return;
	}
	t->complete++;
	if (!svc_sum_matches(res, "random:4242", BASE, FANOUT)) {
		t->bad++;
		snprintf(t->why, sizeof(t->why), "request %#x: %u responses, sum differs from the "
			 "workers' replies", res->req_id, res->responses);
	}
}

static void setup(void)
{
	ck_assert_int_eq(netns_create(&ns, "spoof"), 0);
	ck_assert_int_eq(netns_link_up(&ns, "lo"), 0);
	farm = worker_farm_start(&ns, "127.0.0.1:36000-36015",
				 (const char *const[]){ "--reply", "random:4242", "--delay-us",
							DELAY_US, NULL });
	ck_assert_int_gt(farm, 0);
	ck_assert_int_eq(netns_enter(&ns, NULL), 0);
}

static void teardown(void)
{
	worker_farm_stop(farm);
	netns_delete(&ns);
}

/*
 * Sends, from every worker's port to the service's port, a reply for req_id
 * whose body is all ones: folded, it would make the sum wrong.
 */
static uint32_t forge(int raw, uint16_t svc_port, uint32_t req_id)
{
	uint8_t dgram[sizeof(struct udphdr) + SGBPF_UDP_MSG_LEN];
	uint8_t body[REPLY_GEN_NELEMS * 4];
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct udphdr *uh = (struct udphdr *)dgram;
	struct sgbpf_hdr h = pkt_gather_hdr(req_id, sizeof(body));
	int len;
	uint32_t sent = 0;

	memset(body, 0x01, sizeof(body));
	len = pkt_msg(dgram + sizeof(*uh), SGBPF_UDP_MSG_LEN, &h, body, sizeof(body), 0);
	ck_assert_int_gt(len, 0);
	for (uint32_t w = 0; w < FANOUT; w++) {
		uh->source = htons(BASE + w);
		uh->dest = htons(svc_port);
		uh->len = htons(sizeof(*uh) + len);
		uh->check = 0;	/* "no checksum", legal over IPv4 */
		if (sendto(raw, dgram, sizeof(*uh) + len, 0, (struct sockaddr *)&to,
			   sizeof(to)) == (ssize_t)(sizeof(*uh) + len))
			sent++;
	}
	return sent;
}

START_TEST(test_predicted_ids_do_not_land)
{
	enum { NREQ = 60 };
	SGBPF_OPTS(sgbpf_scatter_opts, sc, .timeout_us = 2000000);
	struct sgbpf_endpoint eps[FANOUT] = { 0 };
	struct sgbpf_service_info info;
	struct sgbpf_service *svc;
	struct sgbpf_stats st;
	struct tally t = { 0 };
	uint32_t prev_of_slot[SLOTS] = { 0 }, forged = 0, id;
	int raw;

	svc_lo_workers(eps, FANOUT, BASE);
	SGBPF_OPTS(sgbpf_service_opts, so, .ifname = "lo", .workers = eps, .nworkers = FANOUT,
		   .reduce = SGBPF_REDUCE_SUM_U32, .on_complete = check_result, .cb_ctx = &t,
		   .max_inflight = SLOTS);
	svc = sgbpf_service_create(&so);
	ck_assert_msg(svc, "create: %s", sgbpf_last_error());
	ck_assert_int_eq(sgbpf_service_info(svc, &info), 0);
	raw = socket(AF_INET, SOCK_RAW, IPPROTO_UDP);
	ck_assert_int_ge(raw, 0);

	for (uint32_t i = 1; i <= NREQ; i++) {
		uint32_t slot;

		ck_assert_int_eq(sgbpf_scatter(svc, "spoof", 5, &sc, &id), 0);
		/* What a sequential scheme gives request i, and the slot's next id. */
		forged += forge(raw, info.port, i);
		slot = id & (SLOTS - 1);
		if (prev_of_slot[slot] && prev_of_slot[slot] + SLOTS != i)
			forged += forge(raw, info.port, prev_of_slot[slot] + SLOTS);
		prev_of_slot[slot] = id;
		while (sgbpf_inflight(svc))
			ck_assert_int_ge(sgbpf_wait(svc, 3000), 0);
	}
	close(raw);
	ck_assert_int_eq(sgbpf_service_stats(svc, &st), 0);
	sgbpf_service_destroy(svc);
	ck_assert_msg(t.bad == 0 && t.complete == NREQ, "%u complete, %u wrong, %u expired: %s",
		      t.complete, t.bad, t.expired, t.why);
	ck_assert_uint_ge(forged, NREQ * FANOUT);
	ck_assert_uint_eq(st.folded, (uint64_t)NREQ * FANOUT);
	ck_assert_msg(st.stale + st.unsolicited + st.unknown_src >= forged,
		      "%u forged, %llu stale, %llu unsolicited, %llu unknown", forged,
		      (unsigned long long)st.stale, (unsigned long long)st.unsolicited,
		      (unsigned long long)st.unknown_src);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("spoof");
	TCase *tc = tcase_create("ids");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_predicted_ids_do_not_land);
	suite_add_tcase(s, tc);
	return netns_suite_run(s);
}
