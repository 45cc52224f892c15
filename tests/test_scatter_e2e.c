// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The scatter path at its edges, end to end: the largest bodies a 1500-byte
 * MTU carries, fan-outs up to SGBPF_MAX_WORKERS on lo and over veth, and a
 * loaded veth where sgbpf must lose no more than a plain socket gather.
 * Reference workers (sgbpf worker) run in namespaces the test creates;
 * results are checked exactly against reply_gen.h.
 */
#define _GNU_SOURCE /* sendmmsg, recvmmsg */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sgbpf/sgbpf.h>

#include "netns_suite.h"
#include "netns_util.h"
#include "reply_gen.h"
#include "service.h"
#include "svc_wait.h"
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

static void check_sum(const struct sgbpf_result *res, void *ctx)
{
	struct tally *t = ctx;

	if (!svc_tally_status(res, &t->complete, &t->expired, &t->other))
		return;
	if (!svc_sum_matches(res, SEED_SPEC, BASE, t->fanout)) {
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

/* ---- under load: sgbpf against a plain socket gather -------------------- */

#define LOAD_FAN_MAX 1024u
#define LOAD_INFLIGHT 16u
#define LOAD_TIMEOUT_NS 1000000000ull

struct plain_req {
	uint32_t id;		/* 0: free */
	uint32_t replies;
	uint64_t start_ns;
};

/*
 * The reference: one UDP socket sends the message to every worker
 * (sendmmsg) and counts the replies per request id; a request with fewer
 * than every reply after the timeout is expired.  Returns the expired count.
 */
static uint32_t plain_gather(uint32_t nreq, uint32_t fan)
{
	static struct sgbpf_hdr msgs[LOAD_INFLIGHT];
	static uint8_t rx[64][2048];
	static struct sockaddr_in to[LOAD_FAN_MAX];
	static struct mmsghdr out[LOAD_FAN_MAX], in[64];
	static struct iovec iov[LOAD_FAN_MAX], riov[64];
	struct plain_req reqs[LOAD_INFLIGHT] = { 0 };
	uint32_t sent = 0, done = 0, expired = 0, next_id = 1;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0), big = 16 << 20;

	ck_assert_int_ge(fd, 0);
	/* As big as sgbpf's own socket: the reference must not lose replies itself. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	for (uint32_t w = 0; w < fan; w++) {
		to[w] = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = worker_ip,
					      .sin_port = htons(BASE + w) };
		memset(&out[w], 0, sizeof(out[w]));
		out[w].msg_hdr.msg_name = &to[w];
		out[w].msg_hdr.msg_namelen = sizeof(to[w]);
		out[w].msg_hdr.msg_iov = &iov[w];
		out[w].msg_hdr.msg_iovlen = 1;
	}
	for (int i = 0; i < 64; i++) {
		riov[i].iov_base = rx[i];
		riov[i].iov_len = sizeof(rx[i]);
		memset(&in[i], 0, sizeof(in[i]));
		in[i].msg_hdr.msg_iov = &riov[i];
		in[i].msg_hdr.msg_iovlen = 1;
	}
	while (done < nreq) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint64_t now = sgbpf_now_ns();
		int n;

		for (uint32_t k = 0; k < LOAD_INFLIGHT; k++) {
			struct plain_req *r = &reqs[k];

			if (r->id && now - r->start_ns > LOAD_TIMEOUT_NS) {
				r->id = 0;
				expired++;
				done++;
			}
			if (r->id || sent >= nreq)
				continue;
			r->id = next_id++;
			r->replies = 0;
			r->start_ns = now;
			msgs[k] = (struct sgbpf_hdr){ .req_id = sgbpf_le32(r->id),
						      .num_pks = sgbpf_le32(1),
						      .msg_type = SGBPF_MSG_SCATTER };
			for (uint32_t w = 0; w < fan; w++) {
				iov[w].iov_base = &msgs[k];
				iov[w].iov_len = SGBPF_HDR_LEN;
			}
			for (uint32_t w = 0; w < fan;) {
				int m = sendmmsg(fd, out + w, fan - w, 0);

				if (m > 0)
					w += m;
				else
					poll(&(struct pollfd){ .fd = fd, .events = POLLOUT }, 1, 1);
			}
			sent++;
		}
		poll(&pfd, 1, 10);
		while ((n = recvmmsg(fd, in, 64, MSG_DONTWAIT, NULL)) > 0) {
			for (int i = 0; i < n; i++) {
				struct sgbpf_hdr h;

				if (in[i].msg_len < SGBPF_HDR_LEN)
					continue;
				memcpy(&h, rx[i], sizeof(h));
				for (uint32_t k = 0; k < LOAD_INFLIGHT; k++) {
					if (reqs[k].id && reqs[k].id == sgbpf_le32(h.req_id) &&
					    ++reqs[k].replies == fan) {
						reqs[k].id = 0;
						done++;
					}
				}
			}
		}
	}
	close(fd);
	return expired;
}

/* A two-instruction "return XDP_PASS" on the workers' veth: it gives that end NAPI. */
static int peer_xdp(void *arg)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "peer_pass", "GPL", insns, 2, NULL);

	(void)arg;
	return fd < 0 || bpf_xdp_attach(pair.b_ifindex, fd, XDP_FLAGS_DRV_MODE, NULL) ? 1 : 0;
}

/*
 * Over veth with one user-space farm and 16 requests in flight, sgbpf loses
 * no more requests than a plain socket gather does over the same link and
 * farm.  Defaults: fan-out 64, 8000 requests, the workers' veth without NAPI
 * (clones then go through this CPU's backlog).  SGBPF_LOAD_FANOUT,
 * SGBPF_LOAD_REQUESTS and SGBPF_LOAD_PEER_XDP=1 (an XDP program on the
 * workers' end, whose 256-frame ring then takes the clones) vary it.
 */
static void load_case(uint32_t fan, uint32_t nreq, bool xdp)
{
	struct tally t = { .fanout = fan };
	struct sgbpf_service *svc;
	struct sgbpf_stats st;
	uint32_t plain_expired;

	ck_assert(fan >= 1 && fan <= LOAD_FAN_MAX);
	start_workers(fan, NULL);
	if (xdp)
		ck_assert_int_eq(netns_run(&pair.b, peer_xdp, NULL), 0);
	plain_expired = plain_gather(nreq, fan);
	svc = service(&t, LOAD_INFLIGHT);
	run(svc, &t, nreq, LOAD_INFLIGHT, 3, LOAD_TIMEOUT_NS / 1000);
	ck_assert_int_eq(sgbpf_service_stats(svc, &st), 0);
	fprintf(stderr, "load over veth, fan-out %u, %u in flight, %u requests%s: plain sockets "
		"%u expired; sgbpf %u expired (folded %llu of %llu, clone failures %llu)\n",
		fan, LOAD_INFLIGHT, nreq, xdp ? ", XDP on the workers' end" : "",
		plain_expired, t.expired, (unsigned long long)st.folded,
		(unsigned long long)nreq * fan, (unsigned long long)st.clone_failures);
	ck_assert_msg(t.bad == 0, "%s", t.why);
	ck_assert_msg(t.expired <= plain_expired,
		      "sgbpf expired %u of %u requests, plain sockets %u", t.expired, nreq,
		      plain_expired);
	sgbpf_service_destroy(svc);
}

START_TEST(test_load_veth_no_worse_than_sockets)
{
	const char *env = getenv("SGBPF_LOAD_REQUESTS"), *fan_env = getenv("SGBPF_LOAD_FANOUT");
	const char *xdp_env = getenv("SGBPF_LOAD_PEER_XDP");

	load_case(fan_env ? (uint32_t)strtoul(fan_env, NULL, 10) : 64,
		  env ? (uint32_t)strtoul(env, NULL, 10) : 8000, xdp_env && *xdp_env == '1');
}
END_TEST

/* The same when the workers' end has NAPI: its 256-frame ring takes the clones. */
START_TEST(test_load_veth_peer_ring)
{
	load_case(256, 2000, true);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("scatter_e2e");
	TCase *v = tcase_create("veth"), *l = tcase_create("lo");

	tcase_add_checked_fixture(v, setup_veth, teardown);
	tcase_add_checked_fixture(l, setup_lo, teardown);
	tcase_set_timeout(v, 120);
	tcase_set_timeout(l, 120);
	tcase_add_test(v, test_largest_bodies);
	tcase_add_test(v, test_max_fanout_veth);
	tcase_add_test(v, test_load_veth_no_worse_than_sockets);
	tcase_add_test(v, test_load_veth_peer_ring);
	tcase_add_test(l, test_max_fanout_lo);
	suite_add_tcase(s, v);
	suite_add_tcase(s, l);
	return netns_suite_run(s);
}
