// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * End to end through the kernel: a coordinator namespace and a worker
 * namespace joined by veth (native XDP), and a namespace's own lo (generic
 * XDP).  Reference workers run inside the namespaces; results are checked
 * against what the workers must have sent.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <sgbpf/sgbpf.h>

#include "netdev.h"
#include "netns_suite.h"
#include "netns_topo.h"
#include "netns_util.h"
#include "worker_farm.h"
#include "reply_gen.h"
#include "service.h"

#define RANDOM_BASE 30000	/* farm replying random:SEED (exact sums) */
#define VECTOR_BASE 31000	/* farm replying vector (element i = i) */
#define MAX_FARM 256
#define SEED 4242

/* libbpf 1.1's headers predate TCX; the kernel's attach type number. */
#define SGBPF_TCX_EGRESS 47

struct topo {
	struct netns_topo net;
	pid_t farms[4];
	uint64_t start_ns;
	int nfarms;
};

static struct topo T;
/* Gather hook for make_service(); tests of the TC path set SGBPF_XDP_OFF. */
static enum sgbpf_xdp_mode xdp_mode = SGBPF_XDP_AUTO;

/* Starts 'sgbpf worker' inside ns on base..base+n-1; extra: more arguments. */
static pid_t start_farm(const struct netns *ns, uint32_t ip, uint16_t base, uint32_t n,
			const char *reply, const char *const *extra)
{
	const char *args[12] = { "--reply", reply };
	char listen[64], addr[16];
	pid_t pid;
	int k = 2;

	for (; extra && *extra && k < 11; extra++)
		args[k++] = *extra;
	args[k] = NULL;
	inet_ntop(AF_INET, &ip, addr, sizeof(addr));
	snprintf(listen, sizeof(listen), "%s:%u-%u", addr, base, base + n - 1);
	pid = worker_farm_start(ns, listen, args);
	ck_assert_msg(pid > 0, "worker farm on %s did not start", listen);
	T.farms[T.nfarms++] = pid;
	return pid;
}

static void stop_farms(void)
{
	for (int i = 0; i < T.nfarms; i++)
		worker_farm_stop(T.farms[i]);
	T.nfarms = 0;
}

static void setup_topo(bool veth)
{
	memset(&T, 0, sizeof(T));
	T.start_ns = sgbpf_now_ns();
	netns_topo_create(&T.net, veth, "e2e", 7);
	start_farm(T.net.work, T.net.worker_ip, RANDOM_BASE, MAX_FARM, "random:4242", NULL);
	start_farm(T.net.work, T.net.worker_ip, VECTOR_BASE, MAX_FARM, "vector", NULL);
	ck_assert_int_eq(netns_enter(T.net.coord, NULL), 0);
	if (getenv("SGBPF_TEST_TIMING"))
		fprintf(stderr, "setup took %.2f s\n", (sgbpf_now_ns() - T.start_ns) / 1e9);
	T.start_ns = sgbpf_now_ns();
}

static void setup_veth(void) { setup_topo(true); }
static void setup_lo(void) { setup_topo(false); }

static void teardown(void)
{
	if (getenv("SGBPF_TEST_TIMING"))
		fprintf(stderr, "test took %.2f s\n", (sgbpf_now_ns() - T.start_ns) / 1e9);
	stop_farms();
	netns_topo_delete(&T.net);
}

/* What one service run saw. */
struct run {
	uint32_t fanout, needed, base;
	bool vector, allow;
	uint32_t complete, bad, expired;
	char why[256];
};

static uint16_t ports[MAX_FARM];

static void check_result(const struct sgbpf_result *res, void *ctx)
{
	struct run *r = ctx;
	struct reply_gen g;
	uint32_t expect[REPLY_GEN_NELEMS];
	const uint32_t *v = res->data;

	if (res->status != SGBPF_STATUS_COMPLETE) {
		r->expired++;
		return;
	}
	r->complete++;
	if (res->responses != r->needed || res->nelems != REPLY_GEN_NELEMS || res->elem_size != 4) {
		r->bad++;
		snprintf(r->why, sizeof(r->why), "responses %u nelems %u, want %u and %u",
			 res->responses, res->nelems, r->needed, REPLY_GEN_NELEMS);
		return;
	}
	if (r->allow && res->nresp != r->needed) {
		r->bad++;
		snprintf(r->why, sizeof(r->why), "%u replies read, want %u", res->nresp, r->needed);
		return;
	}
	if (r->vector) {
		for (uint32_t i = 0; i < REPLY_GEN_NELEMS; i++) {
			if (v[i] != i * r->needed) {
				r->bad++;
				snprintf(r->why, sizeof(r->why), "elem %u = %u, want %u", i, v[i],
					 i * r->needed);
				return;
			}
		}
		return;
	}
	reply_gen_parse("random:4242", &g);
	for (uint32_t i = 0; i < r->fanout; i++)
		ports[i] = r->base + i;
	reply_gen_expected_sum_u32(&g, ports, r->fanout, res->req_id, 0, expect);
	if (memcmp(v, expect, sizeof(expect))) {
		r->bad++;
		snprintf(r->why, sizeof(r->why), "request %u: sum differs from the workers' replies",
			 res->req_id);
	}
}

static struct sgbpf_service *make_service(struct run *r, enum sgbpf_delivery d,
					  struct sgbpf_endpoint *eps)
{
	SGBPF_OPTS(sgbpf_service_opts, so, .ifname = T.net.ifname, .workers = eps,
		   .nworkers = r->fanout, .reduce = SGBPF_REDUCE_SUM_U32, .delivery = d,
		   .fate = r->allow ? SGBPF_FATE_ALLOW : SGBPF_FATE_DISCARD,
		   .on_complete = check_result, .cb_ctx = r, .max_inflight = 64,
		   .xdp_mode = xdp_mode);
	struct sgbpf_service *svc;

	for (uint32_t i = 0; i < r->fanout; i++) {
		eps[i].addr = T.net.worker_ip;
		eps[i].port = r->base + i;
	}
	svc = sgbpf_service_create(&so);
	ck_assert_msg(svc, "create on %s: %s", T.net.ifname, sgbpf_last_error());
	return svc;
}

/* Runs nreq requests with up to 4 in flight (1 for block). */
static void run_requests(struct sgbpf_service *svc, struct run *r, enum sgbpf_policy pol,
			 uint32_t n, int nreq)
{
	SGBPF_OPTS(sgbpf_scatter_opts, so, .policy = pol, .n = n, .timeout_us = 2000000);
	int sent = 0, inflight_max = sgbpf_service_fd(svc) == -EINVAL ? 1 : 4;

	while (r->complete + r->expired < (uint32_t)nreq) {
		while (sent < nreq && (int)sgbpf_inflight(svc) < inflight_max) {
			ck_assert_int_eq(sgbpf_scatter(svc, "e2e", 3, &so, NULL), 0);
			sent++;
		}
		ck_assert_int_ge(sgbpf_wait(svc, 3000), 0);
	}
}

static const enum sgbpf_delivery deliveries[] = {
	SGBPF_DELIVERY_RINGBUF, SGBPF_DELIVERY_CTRL_FD, SGBPF_DELIVERY_BLOCK,
	SGBPF_DELIVERY_BUSY_WAIT,
};
static const char *const dnames[] = { "ringbuf", "ctrl-fd", "block", "busy-wait" };
static const uint32_t fanouts[] = { 1, 8, 64, 256 };

/* Nothing of ours stays on the interface once the service is gone. */
static void assert_clean(void)
{
	int ifindex = if_nametoindex(T.net.ifname);
	__u32 prog_ids[4], count = 4, flags = 0;
	LIBBPF_OPTS(bpf_xdp_query_opts, xq);

	ck_assert_int_gt(ifindex, 0);
	ck_assert_int_eq(bpf_xdp_query(ifindex, 0, &xq), 0);
	ck_assert_msg(xq.prog_id == 0 && xq.skb_prog_id == 0 && xq.drv_prog_id == 0,
		      "an XDP program is still attached to %s", T.net.ifname);
	ck_assert_int_eq(bpf_prog_query(ifindex, SGBPF_TCX_EGRESS, 0, &flags, prog_ids, &count), 0);
	ck_assert_msg(count == 0, "a TC egress program is still attached to %s", T.net.ifname);
}

/* Every completion policy x delivery mode x fate x fan-out. */
static int matrix_over(const uint32_t *fans, unsigned int nfans)
{
	static struct sgbpf_endpoint eps[MAX_FARM];
	int combos = 0;

	for (unsigned int fi = 0; fi < nfans; fi++) {
		uint32_t fanout = fans[fi];

		for (int pol = SGBPF_POLICY_ALL; pol <= SGBPF_POLICY_N; pol++) {
			for (unsigned int di = 0; di < 4; di++) {
				for (int allow = 0; allow <= 1; allow++) {
					uint32_t n = fanout > 1 ? fanout / 2 : 1;
					struct run r = {
						.fanout = fanout,
						.allow = allow,
						.needed = pol == SGBPF_POLICY_ALL ? fanout :
							  pol == SGBPF_POLICY_ANY ? 1 : n,
						.vector = pol != SGBPF_POLICY_ALL,
					};
					struct sgbpf_service *svc;

					uint64_t t0 = sgbpf_now_ns(), t1, t2;

					r.base = r.vector ? VECTOR_BASE : RANDOM_BASE;
					svc = make_service(&r, deliveries[di], eps);
					t1 = sgbpf_now_ns();
					run_requests(svc, &r, pol, n, 3);
					t2 = sgbpf_now_ns();
					sgbpf_service_destroy(svc);
					if (getenv("SGBPF_TEST_TIMING"))
						fprintf(stderr, "fanout %u pol %d %s %d: %.0f %.0f %.0f ms\n",
							fanout, pol, dnames[di], allow, (t1 - t0) / 1e6,
							(t2 - t1) / 1e6, (sgbpf_now_ns() - t2) / 1e6);
					ck_assert_msg(r.bad == 0 && r.expired == 0 && r.complete == 3,
						      "%s fan-out %u policy %d %s %s: %u complete, "
						      "%u bad, %u expired: %s",
						      T.net.ifname, fanout, pol, dnames[di],
						      allow ? "allow" : "discard", r.complete, r.bad,
						      r.expired, r.why);
					combos++;
				}
			}
		}
	}
	assert_clean();
	return combos;
}

static void matrix(void)
{
	ck_assert_int_eq(matrix_over(fanouts, 4), 4 * 3 * 4 * 2);
}

/* The same at TC ingress, where the gather runs when the XDP hook is taken. */
START_TEST(test_matrix_tc_gather)
{
	static const uint32_t some[] = { 8, 64 };
	struct sgbpf_endpoint eps[8] = { 0 };
	struct run r = { .fanout = 8, .needed = 8, .base = RANDOM_BASE };
	struct sgbpf_service_info info;
	struct sgbpf_service *svc;

	xdp_mode = SGBPF_XDP_OFF;
	svc = make_service(&r, SGBPF_DELIVERY_RINGBUF, eps);
	ck_assert_int_eq(sgbpf_service_info(svc, &info), 0);
	ck_assert_int_eq(info.gather_hook, SGBPF_GATHER_TC_INGRESS);
	sgbpf_service_destroy(svc);
	ck_assert_int_eq(matrix_over(some, 2), 2 * 3 * 4 * 2);
	xdp_mode = SGBPF_XDP_AUTO;
}
END_TEST

START_TEST(test_matrix_veth)
{
	matrix();
}
END_TEST

START_TEST(test_matrix_lo)
{
	matrix();
}
END_TEST

/* Unrelated UDP traffic crosses the interface unchanged while a service runs. */
static int send_unrelated(void *arg)
{
	const uint32_t *dst = arg;
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = dst[0],
				  .sin_port = htons(dst[1]) };
	char msg[1472];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (char)(i * 7 + 1);
	/* Looks like an sgbpf reply, but goes to another port. */
	msg[16] = SGBPF_MSG_GATHER;
	for (int i = 0; i < 20; i++)
		if (sendto(fd, msg, sizeof(msg), 0, (struct sockaddr *)&to, sizeof(to)) < 0)
			return 1;
	close(fd);
	return 0;
}

START_TEST(test_unrelated_traffic)
{
	struct sgbpf_endpoint eps[8] = { 0 };
	struct run r = { .fanout = 8, .needed = 8, .base = RANDOM_BASE };
	struct sgbpf_service *svc = make_service(&r, SGBPF_DELIVERY_RINGBUF, eps);
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	uint32_t dst[2];
	char expect[1472], got[2048];
	int fd, got_count = 0;

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	dst[0] = T.net.veth ? T.net.pair.a_ip : htonl(INADDR_LOOPBACK);
	dst[1] = ntohs(a.sin_port);
	ck_assert_int_eq(netns_run(T.net.work, send_unrelated, dst), 0);

	for (size_t i = 0; i < sizeof(expect); i++)
		expect[i] = (char)(i * 7 + 1);
	expect[16] = SGBPF_MSG_GATHER;
	for (;;) {
		ssize_t n = recv(fd, got, sizeof(got), MSG_DONTWAIT);

		if (n < 0)
			break;
		ck_assert_int_eq(n, sizeof(expect));
		ck_assert_mem_eq(got, expect, sizeof(expect));
		got_count++;
	}
	ck_assert_int_eq(got_count, 20);
	/* And the service still works next to it. */
	run_requests(svc, &r, SGBPF_POLICY_ALL, 0, 5);
	ck_assert_int_eq(r.bad, 0);
	close(fd);
	sgbpf_service_destroy(svc);
	assert_clean();
}
END_TEST

/* Workers that send duplicates, junk, and copies from unlisted ports. */
START_TEST(test_misbehaving_workers)
{
	struct sgbpf_endpoint eps[16] = { 0 };
	struct run r = { .fanout = 16, .needed = 16, .base = 32000 };
	struct sgbpf_stats st;
	struct sgbpf_service *svc;

	start_farm(T.net.work, T.net.worker_ip, 32000, 16, "random:4242",
		   (const char *const[]){ "--duplicate", "--junk", "--stray", NULL });
	svc = make_service(&r, SGBPF_DELIVERY_RINGBUF, eps);
	run_requests(svc, &r, SGBPF_POLICY_ALL, 0, 50);
	ck_assert_msg(r.bad == 0 && r.complete == 50, "%u complete, %u bad: %s", r.complete, r.bad,
		      r.why);
	ck_assert_int_eq(sgbpf_service_stats(svc, &st), 0);
	ck_assert_uint_gt(st.duplicates, 0);
	ck_assert_uint_gt(st.unknown_src, 0);
	ck_assert_uint_gt(st.malformed, 0);
	ck_assert_uint_eq(st.folded, 50 * 16);
	sgbpf_service_destroy(svc);
}
END_TEST

/* A silent worker: requests expire, nothing else is disturbed. */
START_TEST(test_silent_worker_expires)
{
	struct sgbpf_endpoint eps[4] = { 0 };
	struct run r = { .fanout = 4, .needed = 4, .base = 33000 };
	SGBPF_OPTS(sgbpf_scatter_opts, so, .timeout_us = 50000);
	struct sgbpf_service *svc;
	struct sgbpf_stats st;

	start_farm(T.net.work, T.net.worker_ip, 33000, 4, "random:4242",
		   (const char *const[]){ "--silent-port", "33002", NULL });
	svc = make_service(&r, SGBPF_DELIVERY_RINGBUF, eps);
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(sgbpf_scatter(svc, "x", 1, &so, NULL), 0);
		while (sgbpf_inflight(svc))
			ck_assert_int_ge(sgbpf_wait(svc, 1000), 0);
	}
	ck_assert_uint_eq(r.expired, 5);
	ck_assert_uint_eq(r.complete, 0);
	ck_assert_int_eq(sgbpf_service_stats(svc, &st), 0);
	ck_assert_uint_eq(st.expired, 5);
	ck_assert_uint_eq(st.completed, 0);
	sgbpf_service_destroy(svc);
}
END_TEST

/* Late replies (slower than the timeout) never reach a newer request. */
START_TEST(test_late_replies_are_stale)
{
	struct sgbpf_endpoint eps[4] = { 0 };
	struct run r = { .fanout = 4, .needed = 4, .base = 34000 };
	SGBPF_OPTS(sgbpf_scatter_opts, quick, .timeout_us = 20000);
	struct sgbpf_service *svc;
	struct sgbpf_stats st;

	/* 40 ms late: every request with a 20 ms timeout expires... */
	start_farm(T.net.work, T.net.worker_ip, 34000, 4, "random:4242",
		   (const char *const[]){ "--delay-us", "40000", NULL });
	svc = make_service(&r, SGBPF_DELIVERY_RINGBUF, eps);
	for (int i = 0; i < 10; i++) {
		ck_assert_int_eq(sgbpf_scatter(svc, "x", 1, &quick, NULL), 0);
		while (sgbpf_inflight(svc))
			ck_assert_int_ge(sgbpf_wait(svc, 1000), 0);
	}
	ck_assert_uint_eq(r.expired, 10);
	/* ...and with a patient timeout the same slots give exact sums again. */
	usleep(100000);
	run_requests(svc, &r, SGBPF_POLICY_ALL, 0, 10 + 8);
	ck_assert_msg(r.bad == 0 && r.complete == 8, "%u complete, %u bad: %s", r.complete, r.bad,
		      r.why);
	ck_assert_int_eq(sgbpf_service_stats(svc, &st), 0);
	ck_assert_uint_ge(st.stale, 10 * 4 - 4);
	sgbpf_service_destroy(svc);
}
END_TEST

/* Request ids wrap past 2^32 without losing a request. */
START_TEST(test_id_wrap_and_busy)
{
	struct sgbpf_endpoint eps[8] = { 0 };
	struct run r = { .fanout = 8, .needed = 8, .base = RANDOM_BASE };
	SGBPF_OPTS(sgbpf_scatter_opts, so, .timeout_us = 2000000);
	struct sgbpf_service *svc = make_service(&r, SGBPF_DELIVERY_RINGBUF, eps);
	uint32_t id = 0;

	/* As if 2^32 - 21 ids had been issued: every slot's ids wrap within 60 requests. */
	sgbpf_reqtab_set_id_counter(&svc->reqs, UINT32_MAX - 20);
	run_requests(svc, &r, SGBPF_POLICY_ALL, 0, 60);
	ck_assert_msg(r.bad == 0 && r.complete == 60, "%s", r.why);
	for (uint32_t s = 0; s < svc->reqs.nslots; s++)
		ck_assert_uint_lt(svc->reqs.reqs[s].opens, 4);

	/* The 65th outstanding request of a 64-slot service is refused. */
	for (int i = 0; i < 64; i++)
		ck_assert_int_eq(sgbpf_scatter(svc, "x", 1, &so, &id), 0);
	ck_assert_int_eq(sgbpf_scatter(svc, "x", 1, &so, &id), -EBUSY);
	while (sgbpf_inflight(svc))
		ck_assert_int_ge(sgbpf_wait(svc, 3000), 0);
	ck_assert_msg(r.bad == 0 && r.complete == 124, "%u complete: %s", r.complete, r.why);
	sgbpf_service_destroy(svc);
}
END_TEST


/* A child process that runs a service until told to stop, checking its sums. */
static int service_child(uint32_t base, int count, int ready_fd)
{
	static struct sgbpf_endpoint eps[16];
	struct run r = { .fanout = 16, .needed = 16, .base = base,
			 .vector = base == VECTOR_BASE };
	struct sgbpf_service *svc;
	char c = 1;

	for (uint32_t i = 0; i < 16; i++) {
		eps[i].addr = T.net.worker_ip;
		eps[i].port = base + i;
	}
	SGBPF_OPTS(sgbpf_service_opts, so, .ifname = T.net.ifname, .workers = eps, .nworkers = 16,
		   .reduce = SGBPF_REDUCE_SUM_U32, .on_complete = check_result, .cb_ctx = &r);
	svc = sgbpf_service_create(&so);
	if (!svc) {
		fprintf(stderr, "child: %s\n", sgbpf_last_error());
		return 2;
	}
	if (ready_fd >= 0 && write(ready_fd, &c, 1) != 1)
		return 3;
	SGBPF_OPTS(sgbpf_scatter_opts, sc, .timeout_us = 2000000);
	for (int i = 0; i < count; i++) {
		if (sgbpf_scatter(svc, "two", 3, &sc, NULL))
			return 4;
		while (sgbpf_inflight(svc))
			if (sgbpf_wait(svc, 3000) < 0)
				return 5;
	}
	sgbpf_service_destroy(svc);
	if (r.bad || r.complete != (uint32_t)count) {
		fprintf(stderr, "child: %u complete, %u bad: %s\n", r.complete, r.bad, r.why);
		return 1;
	}
	return 0;
}

/*
 * Forks a process running service_child(base, count) and returns its pid once
 * its service is attached.  The child dies with the test.
 */
static pid_t fork_service(uint32_t base, int count)
{
	int p[2];
	pid_t pid;
	char c;

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(p[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(service_child(base, count, p[1]));
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	close(p[0]);
	return pid;
}

/* Two services, in two processes, on one interface at once: both exact. */
START_TEST(test_two_services_one_interface)
{
	pid_t pids[2];
	int status;

	/* The first holds the hooks before the second starts: it must share them. */
	for (int k = 0; k < 2; k++)
		pids[k] = fork_service(k ? VECTOR_BASE : RANDOM_BASE, 2000);
	for (int k = 0; k < 2; k++) {
		ck_assert_int_eq(waitpid(pids[k], &status, 0), pids[k]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			      "service %d ended with status %#x", k, status);
	}
	assert_clean();
}
END_TEST

/* An XDP program of someone else's: a two-instruction "return XDP_PASS". */
static int foreign_xdp(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return bpf_prog_load(BPF_PROG_TYPE_XDP, "not_sgbpf", "GPL", insns, 2, NULL);
}

/* A foreign XDP program stays, and the service gathers at TC ingress beside it. */
START_TEST(test_foreign_xdp_kept)
{
	int ifindex = if_nametoindex(T.net.ifname), prog = foreign_xdp();
	__u32 flags = T.net.veth ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE, foreign_id;
	struct bpf_prog_info pinfo = {};
	__u32 plen = sizeof(pinfo);
	struct sgbpf_endpoint eps[8] = { 0 };
	struct run r = { .fanout = 8, .needed = 8, .base = RANDOM_BASE };
	struct sgbpf_service_info info;
	struct sgbpf_service *svc;
	LIBBPF_OPTS(bpf_xdp_query_opts, xq);

	ck_assert_int_ge(prog, 0);
	ck_assert_int_eq(bpf_obj_get_info_by_fd(prog, &pinfo, &plen), 0);
	foreign_id = pinfo.id;
	ck_assert_int_eq(bpf_xdp_attach(ifindex, prog, flags, NULL), 0);

	/* Forced XDP: refused, naming the program that holds the hook. */
	xdp_mode = T.net.veth ? SGBPF_XDP_NATIVE : SGBPF_XDP_GENERIC;
	{
		SGBPF_OPTS(sgbpf_service_opts, so, .ifname = T.net.ifname, .workers = eps,
			   .nworkers = 8, .on_complete = check_result, .cb_ctx = &r,
			   .xdp_mode = xdp_mode);

		for (uint32_t i = 0; i < 8; i++) {
			eps[i].addr = T.net.worker_ip;
			eps[i].port = RANDOM_BASE + i;
		}
		ck_assert_ptr_null(sgbpf_service_create(&so));
		ck_assert_int_eq(errno, EBUSY);
		ck_assert_msg(strstr(sgbpf_last_error(), "not_sgbpf"), "message: %s",
			      sgbpf_last_error());
	}
	/* Automatic: the service works beside it, at TC ingress. */
	xdp_mode = SGBPF_XDP_AUTO;
	svc = make_service(&r, SGBPF_DELIVERY_RINGBUF, eps);
	ck_assert_int_eq(sgbpf_service_info(svc, &info), 0);
	ck_assert_int_eq(info.gather_hook, SGBPF_GATHER_TC_INGRESS);
	run_requests(svc, &r, SGBPF_POLICY_ALL, 0, 20);
	ck_assert_msg(r.bad == 0 && r.complete == 20, "%s", r.why);
	sgbpf_service_destroy(svc);

	/* The foreign program was never replaced nor removed. */
	ck_assert_int_eq(bpf_xdp_query(ifindex, 0, &xq), 0);
	ck_assert_uint_eq(T.net.veth ? xq.drv_prog_id : xq.skb_prog_id, foreign_id);
	ck_assert_int_eq(bpf_xdp_detach(ifindex, flags, NULL), 0);
	close(prog);
	assert_clean();
}
END_TEST

/* A coordinator killed with SIGKILL leaves nothing attached. */
START_TEST(test_sigkill_leaves_nothing)
{
	pid_t pid = fork_service(RANDOM_BASE, 1000000);
	int status;

	usleep(50000);	/* mid-traffic */
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status));
	assert_clean();
}
END_TEST

/* The shipped custom reduction (examples/sum_sat_u32.bpf.c), loaded from its object. */
struct sat_run {
	uint32_t n, complete, bad;
	char why[128];
};

static void check_saturating(const struct sgbpf_result *res, void *ctx)
{
	struct sat_run *r = ctx;
	struct reply_gen g;
	const uint32_t *v = res->data;

	reply_gen_parse("random:4242", &g);
	if (res->status != SGBPF_STATUS_COMPLETE || res->nelems != REPLY_GEN_NELEMS) {
		r->bad++;
		snprintf(r->why, sizeof(r->why), "status %d nelems %u", res->status, res->nelems);
		return;
	}
	r->complete++;
	for (uint32_t i = 0; i < REPLY_GEN_NELEMS; i++) {
		uint64_t sum = 0;

		for (uint32_t w = 0; w < r->n; w++)
			sum += reply_gen_elem(&g, RANDOM_BASE + w, res->req_id, 0, i);
		if (v[i] != (sum > UINT32_MAX ? UINT32_MAX : sum)) {
			r->bad++;
			snprintf(r->why, sizeof(r->why), "element %u = %u, want %llu", i, v[i],
				 (unsigned long long)sum);
			return;
		}
	}
}

START_TEST(test_custom_reduction)
{
	const char *build = getenv("SGBPF_BUILD_DIR");
	char obj[512];
	struct sgbpf_endpoint eps[16] = { 0 };
	struct sat_run r = { .n = 16 };
	struct sgbpf_service *svc;
	bool saturated = false;

	ck_assert_ptr_nonnull(build);
	snprintf(obj, sizeof(obj), "%s/bpf-udp/sum_sat_u32.bpf.o", build);
	for (uint32_t i = 0; i < 16; i++) {
		eps[i].addr = T.net.worker_ip;
		eps[i].port = RANDOM_BASE + i;
	}
	/* A missing object is an error that names it. */
	{
		SGBPF_OPTS(sgbpf_service_opts, so, .ifname = T.net.ifname, .workers = eps,
			   .nworkers = 16, .reduce = SGBPF_REDUCE_CUSTOM,
			   .reduce_obj = "/nonexistent/reduce.bpf.o", .on_complete = check_saturating,
			   .cb_ctx = &r);

		ck_assert_ptr_null(sgbpf_service_create(&so));
		ck_assert_ptr_nonnull(strstr(sgbpf_last_error(), "/nonexistent/reduce.bpf.o"));
	}
	SGBPF_OPTS(sgbpf_service_opts, so, .ifname = T.net.ifname, .workers = eps, .nworkers = 16,
		   .reduce = SGBPF_REDUCE_CUSTOM, .reduce_obj = obj,
		   .on_complete = check_saturating, .cb_ctx = &r);
	SGBPF_OPTS(sgbpf_scatter_opts, sc, .timeout_us = 2000000);
	svc = sgbpf_service_create(&so);
	ck_assert_msg(svc, "%s", sgbpf_last_error());
	for (int k = 0; k < 20; k++) {
		ck_assert_int_eq(sgbpf_scatter(svc, "c", 1, &sc, NULL), 0);
		while (sgbpf_inflight(svc))
			ck_assert_int_ge(sgbpf_wait(svc, 3000), 0);
	}
	sgbpf_service_destroy(svc);
	ck_assert_msg(r.bad == 0 && r.complete == 20, "%s", r.why);
	/* Random 32-bit replies from 16 workers: most sums do overflow, so saturation was exercised. */
	{
		struct reply_gen g;
		uint64_t sum = 0;

		reply_gen_parse("random:4242", &g);
		for (uint32_t w = 0; w < 16; w++)
			sum += reply_gen_elem(&g, RANDOM_BASE + w, 1, 0, 0);
		saturated = sum > UINT32_MAX;
	}
	ck_assert(saturated);
}
END_TEST

/* Runs the CLI inside the coordinator namespace; returns its exit code, output in out. */
static int run_cli(const char *args, char *out, size_t len)
{
	char cmd[1024];
	FILE *p;
	size_t n;
	int st;

	snprintf(cmd, sizeof(cmd), "%s %s 2>/dev/null", getenv("SGBPF_CLI"), args);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* sgbpf gather --json against a worker file: exact results, expiry, exit codes. */
START_TEST(test_cli_gather_json)
{
	static char out[1 << 20];
	char path[] = "/tmp/sgbpf-workers-XXXXXX", args[512], addr[16], want[64];
	FILE *f;
	int fd, lines = 0;

	inet_ntop(AF_INET, &T.net.worker_ip, addr, sizeof(addr));
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	fprintf(f, "# four vector workers\n");
	for (int i = 0; i < 4; i++)
		fprintf(f, "%s:%d\n", addr, VECTOR_BASE + i);
	fclose(f);

	snprintf(args, sizeof(args), "gather --dev %s --workers %s --count 3 --json", T.net.ifname, path);
	ck_assert_int_eq(run_cli(args, out, sizeof(out)), 0);
	for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
		if (strncmp(l, "{\"request\"", 10) == 0) {
			lines++;
			ck_assert_ptr_nonnull(strstr(l, "\"status\": \"complete\""));
			ck_assert_ptr_nonnull(strstr(l, "\"responses\": 4"));
			/* element 362 of 4 vector replies: 4 * 362 */
			ck_assert_ptr_nonnull(strstr(l, "\"result\": [0, 4, 8, 12,"));
			ck_assert_ptr_nonnull(strstr(l, ", 1448]}"));
		} else {
			ck_assert_ptr_nonnull(strstr(l, "{\"summary\""));
			ck_assert_ptr_nonnull(strstr(l, "\"complete\": 3"));
		}
	}
	ck_assert_int_eq(lines, 3);

	/* A worker that never answers: the request expires and the exit code says so. */
	f = fopen(path, "a");
	fprintf(f, "%s:%d\n", addr, 35999);
	fclose(f);
	snprintf(args, sizeof(args), "gather --dev %s --workers %s --timeout-us 20000 --json",
		 T.net.ifname, path);
	ck_assert_int_eq(run_cli(args, out, sizeof(out)), 1);
	snprintf(want, sizeof(want), "\"status\": \"expired\", \"responses\": 4");
	ck_assert_msg(strstr(out, want), "output: %s", out);

	/* Usage errors exit 2. */
	ck_assert_int_eq(run_cli("gather --workers", out, sizeof(out)), 2);
	ck_assert_int_eq(run_cli("gather --workers /x --policy sometimes", out, sizeof(out)), 2);
	unlink(path);
}
END_TEST

/*
 * The netlink fallback (kernels without TCX) leaves filters behind a killed
 * coordinator; the next service on the interface removes them.
 */
START_TEST(test_fallback_orphans_reaped)
{
	struct sgbpf_endpoint eps[4] = { 0 };
	struct run r = { .fanout = 4, .needed = 4, .base = RANDOM_BASE };
	struct sgbpf_service *svc;
	int ifindex = if_nametoindex(T.net.ifname), status;
	pid_t pid;

	setenv("SGBPF_ATTACH_FORCE_NETLINK", "1", 1);
	pid = fork_service(RANDOM_BASE, 1000000);
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	/* Its scatter filter (and the gather one, at TC when XDP is off) stayed. */
	ck_assert_int_ge(sgbpf_netdev_clsact_filters(ifindex), 1);

	svc = make_service(&r, SGBPF_DELIVERY_RINGBUF, eps);
	/* Only the new service's own filter is left, and it works. */
	ck_assert_int_eq(sgbpf_netdev_clsact_filters(ifindex), 1);
	run_requests(svc, &r, SGBPF_POLICY_ALL, 0, 10);
	ck_assert_msg(r.bad == 0 && r.complete == 10, "%s", r.why);
	sgbpf_service_destroy(svc);
	ck_assert_int_eq(sgbpf_netdev_clsact_filters(ifindex), 0);
	unsetenv("SGBPF_ATTACH_FORCE_NETLINK");
}
END_TEST

/* What a reduction over n identical vector replies (element i = i) gives. */
static uint64_t vector_expect(enum sgbpf_reduce red, uint32_t n, uint32_t i)
{
	uint64_t e64 = (uint64_t)(2 * i) | (uint64_t)(2 * i + 1) << 32;
	bool wide = sgbpf_reduce_elem_size(red) == 8;
	uint64_t one = wide ? e64 : i;

	switch (red) {
	case SGBPF_REDUCE_SUM_U32:
	case SGBPF_REDUCE_SUM_I32:
		return (uint32_t)(one * n);
	case SGBPF_REDUCE_SUM_U64:
	case SGBPF_REDUCE_SUM_I64:
		return one * n;
	default:		/* min, max, or, and of equal values */
		return one;
	}
}

struct red_run {
	enum sgbpf_reduce red;
	uint32_t n, complete, bad;
	char why[128];
};

static void check_reduction(const struct sgbpf_result *res, void *ctx)
{
	struct red_run *r = ctx;
	uint32_t es = sgbpf_reduce_elem_size(r->red);
	uint32_t want_elems = es ? SGBPF_UDP_BODY_MAX / es : 0;

	if (res->status != SGBPF_STATUS_COMPLETE || res->elem_size != es ||
	    res->nelems != want_elems || res->responses != r->n) {
		r->bad++;
		snprintf(r->why, sizeof(r->why), "status %d elem_size %u nelems %u responses %u",
			 res->status, res->elem_size, res->nelems, res->responses);
		return;
	}
	r->complete++;
	for (uint32_t i = 0; i < res->nelems; i++) {
		uint64_t got = 0, want = vector_expect(r->red, r->n, i);

		memcpy(&got, (const uint8_t *)res->data + i * es, es);
		if (got != want) {
			r->bad++;
			snprintf(r->why, sizeof(r->why), "element %u = %llu, want %llu", i,
				 (unsigned long long)got, (unsigned long long)want);
			return;
		}
	}
}

/* Every built-in reduction loads (verifier limits) and computes the right thing. */
START_TEST(test_builtin_reductions)
{
	struct sgbpf_endpoint eps[8] = { 0 };

	for (uint32_t i = 0; i < 8; i++) {
		eps[i].addr = T.net.worker_ip;
		eps[i].port = VECTOR_BASE + i;
	}
	for (int red = SGBPF_REDUCE_COUNT; red < SGBPF_REDUCE_CUSTOM; red++) {
		struct red_run r = { .red = red, .n = 8 };
		SGBPF_OPTS(sgbpf_service_opts, so, .ifname = T.net.ifname, .workers = eps,
			   .nworkers = 8, .reduce = red, .on_complete = check_reduction,
			   .cb_ctx = &r, .max_inflight = 16);
		SGBPF_OPTS(sgbpf_scatter_opts, sc, .timeout_us = 2000000);
		struct sgbpf_service *svc = sgbpf_service_create(&so);

		ck_assert_msg(svc, "%s: %s", sgbpf_reduce_name(red), sgbpf_last_error());
		for (int k = 0; k < 3; k++) {
			ck_assert_int_eq(sgbpf_scatter(svc, "r", 1, &sc, NULL), 0);
			while (sgbpf_inflight(svc))
				ck_assert_int_ge(sgbpf_wait(svc, 3000), 0);
		}
		sgbpf_service_destroy(svc);
		ck_assert_msg(r.bad == 0 && r.complete == 3, "%s: %s", sgbpf_reduce_name(red),
			      r.why);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("udp_e2e");
	TCase *veth = tcase_create("veth"), *lo = tcase_create("lo");

	tcase_add_checked_fixture(veth, setup_veth, teardown);
	tcase_add_checked_fixture(lo, setup_lo, teardown);
	tcase_set_timeout(veth, 300);
	tcase_set_timeout(lo, 300);
	tcase_add_test(veth, test_matrix_veth);
	tcase_add_test(veth, test_unrelated_traffic);
	tcase_add_test(veth, test_misbehaving_workers);
	tcase_add_test(veth, test_matrix_tc_gather);
	tcase_add_test(veth, test_foreign_xdp_kept);
	tcase_add_test(veth, test_two_services_one_interface);
	tcase_add_test(lo, test_matrix_lo);
	tcase_add_test(lo, test_unrelated_traffic);
	tcase_add_test(lo, test_silent_worker_expires);
	tcase_add_test(lo, test_late_replies_are_stale);
	tcase_add_test(lo, test_id_wrap_and_busy);
	tcase_add_test(lo, test_builtin_reductions);
	tcase_add_test(lo, test_matrix_tc_gather);
	tcase_add_test(lo, test_foreign_xdp_kept);
	tcase_add_test(lo, test_two_services_one_interface);
	tcase_add_test(lo, test_sigkill_leaves_nothing);
	tcase_add_test(lo, test_custom_reduction);
	tcase_add_test(lo, test_fallback_orphans_reaped);
	tcase_add_test(lo, test_cli_gather_json);
	tcase_add_test(veth, test_cli_gather_json);
	suite_add_tcase(s, veth);
	suite_add_tcase(s, lo);
	return netns_suite_run(s);
}
