// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The TCP backend with fate allow, over lo in a namespace of the test's
 * own: every reply the kernel counted reaches the callback whole, byte for
 * byte, whatever user space is doing when the kernel completes, and a
 * worker that hangs up right after its reply still has it read.
 */
#define _GNU_SOURCE	/* accept4, in tcp_rig.h */
#include <check.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sgbpf/sgbpf.h>

#include "netns_util.h"
#include "reply_gen.h"
#include "suite_run.h"
#include "tcp_rig.h"
#include "worker_farm.h"

#define SEED 12345u

static struct netns ns;

static void setup(void)
{
	ck_assert_int_eq(netns_create(&ns, "tcpallow"), 0);
	ck_assert_int_eq(netns_enter(&ns, NULL), 0);
	ck_assert_int_eq(netns_link_up(&ns, "lo"), 0);
}

static void teardown(void)
{
	netns_delete(&ns);
}

/* What the callback saw. */
struct allow_seen {
	const struct reply_gen *gen;	/* replies: random per worker, or NULL: vector */
	const uint16_t *ports;		/* the workers' source ports, by index */
	uint32_t nworkers, reply_size;
	uint32_t done, complete, expired, other;
	uint32_t nresp_ok;		/* complete with a reply read per reply counted */
	uint32_t bodies_ok, bodies_bad;
	uint32_t sums_bad;		/* complete, and data is not the sum of the bodies */
	uint32_t sleep_first_ms;	/* the first callback sleeps this long */
	bool count_only;		/* the kernel counts, no sum to compare */
	uint64_t deadline_ns;		/* complete later than this: counted in late */
	uint32_t late;
};

/* Element i of the reply of the worker at port to req. */
static uint32_t reply_elem(const struct allow_seen *a, uint16_t port, uint32_t req, uint32_t i)
{
	if (!a->gen)
		return i;
	return reply_gen_elem(a->gen, port, req, i / REPLY_GEN_NELEMS, i % REPLY_GEN_NELEMS);
}

static bool body_ok(const struct allow_seen *a, const struct sgbpf_result *r,
		    const struct sgbpf_response *p)
{
	const uint8_t *body = p->body;

	if (p->worker >= a->nworkers || p->body_len != a->reply_size ||
	    sgbpf_le32(p->hdr->req_id) != r->req_id || p->hdr->msg_type != SGBPF_MSG_GATHER)
		return false;
	for (uint32_t i = 0; i < a->reply_size / 4; i++) {
		uint32_t v;

		memcpy(&v, body + 4 * i, 4);
		if (v != reply_elem(a, a->ports[p->worker], r->req_id, i))
			return false;
	}
	return true;
}

/* The kernel's sum against the sum of the bodies the callback got. */
static bool sum_matches(const struct allow_seen *a, const struct sgbpf_result *r)
{
	const uint32_t *d = r->data;

	if (r->elem_size != 4 || r->nelems != a->reply_size / 4 || (r->nelems && !d))
		return false;
	for (uint32_t i = 0; i < r->nelems; i++) {
		uint32_t want = 0;

		for (uint32_t k = 0; k < r->nresp; k++)
			want += reply_elem(a, a->ports[r->resp[k].worker], r->req_id, i);
		if (d[i] != want)
			return false;
	}
	return true;
}

static void on_allow(const struct sgbpf_result *r, void *ctx)
{
	struct allow_seen *a = ctx;

	if (getenv("SGBPF_TEST_DEBUG"))
		fprintf(stderr, "req %u: status %d nresp %u responses %u latency %llu us\n",
			r->req_id, r->status, r->nresp, r->responses,
			(unsigned long long)r->latency_ns / 1000);
	if (a->done++ == 0 && a->sleep_first_ms)
		usleep(a->sleep_first_ms * 1000);
	if (r->status == SGBPF_STATUS_EXPIRED) {
		a->expired++;
		return;
	}
	if (r->status != SGBPF_STATUS_COMPLETE) {
		a->other++;
		return;
	}
	a->complete++;
	if (a->deadline_ns && r->latency_ns > a->deadline_ns)
		a->late++;
	if (r->nresp == r->responses)
		a->nresp_ok++;
	else if (getenv("SGBPF_TEST_DEBUG"))
		fprintf(stderr, "req %u: nresp %u responses %u latency %llu us\n", r->req_id,
			r->nresp, r->responses, (unsigned long long)r->latency_ns / 1000);
	for (uint32_t k = 0; k < r->nresp; k++) {
		if (body_ok(a, r, &r->resp[k]))
			a->bodies_ok++;
		else
			a->bodies_bad++;
	}
	if (!a->count_only && !sum_matches(a, r))
		a->sums_bad++;
}

static struct sgbpf_service *allow_service(uint16_t listen_port, const uint16_t *ports,
					   uint32_t n, uint32_t max_reply, uint32_t inflight,
					   struct allow_seen *a)
{
	struct sgbpf_endpoint *w = calloc(n, sizeof(*w));
	struct sgbpf_service *svc;

	ck_assert_ptr_nonnull(w);
	for (uint32_t i = 0; i < n; i++)
		w[i] = (struct sgbpf_endpoint){ .addr = RIG_LO, .port = ports[i] };
	{
		SGBPF_OPTS(sgbpf_service_opts, o, .backend = SGBPF_BACKEND_TCP, .workers = w,
			   .nworkers = n,
			   .reduce = a->count_only ? SGBPF_REDUCE_COUNT : SGBPF_REDUCE_SUM_U32,
			   .fate = SGBPF_FATE_ALLOW, .max_inflight = inflight,
			   .on_complete = on_allow, .cb_ctx = a,
			   .listen = { .addr = RIG_LO, .port = listen_port },
			   .connect_timeout_ms = 5000, .max_reply = max_reply);

		svc = sgbpf_service_create(&o);
	}
	free(w);
	ck_assert_msg(svc, "create: %s", sgbpf_last_error());
	return svc;
}

/* `sgbpf worker --backend tcp` from 127.0.0.1:first..first+n-1 to listen_port. */
static pid_t farm(uint16_t listen_port, uint16_t first, uint32_t n, uint32_t reply_size,
		  const char *reply)
{
	char to[32], bind[48], size[16];
	const char *args[] = { "--backend", "tcp", "--connect", to, "--bind", bind,
			       "--reply-size", size, "--reply", reply, NULL };
	pid_t pid;

	snprintf(to, sizeof(to), "127.0.0.1:%u", listen_port);
	snprintf(bind, sizeof(bind), "127.0.0.1:%u-%u", first, first + n - 1);
	snprintf(size, sizeof(size), "%u", reply_size);
	pid = worker_farm_start_argv(&ns, args);
	ck_assert_int_gt(pid, 0);
	return pid;
}

/* Runs count requests, at most inflight at once, and waits for them all. */
static void run(struct sgbpf_service *svc, struct allow_seen *a, uint32_t count,
		uint32_t inflight, const struct sgbpf_scatter_opts *so)
{
	uint32_t sent = 0, start = a->done;

	while (a->done - start < count) {
		while (sent < count && sgbpf_inflight(svc) < inflight) {
			int err = sgbpf_scatter(svc, "go", 2, so, NULL);

			ck_assert_msg(err == 0, "scatter: %d %s", err, sgbpf_last_error());
			sent++;
		}
		ck_assert_int_ge(sgbpf_wait(svc, 1000), 0);
	}
}

static void assert_clean_streams(struct sgbpf_service *svc)
{
	struct sgbpf_stats st;

	ck_assert_int_eq(sgbpf_service_stats(svc, &st), 0);
	ck_assert_uint_eq(st.malformed, 0);	/* protocol and framing errors */
	ck_assert_uint_eq(st.conn_resets, 0);
}

static void assert_exact(const struct allow_seen *a, uint32_t count)
{
	ck_assert_msg(a->complete == count, "%u of %u complete (%u expired)", a->complete,
		      count, a->expired);
	ck_assert_msg(a->nresp_ok == count, "%u of %u complete with every reply read",
		      a->nresp_ok, count);
	ck_assert_uint_eq(a->bodies_ok, a->nworkers * count);
	ck_assert_uint_eq(a->bodies_bad, 0);
	ck_assert_uint_eq(a->sums_bad, 0);
}

/* Each reply as the worker sent it, beside the exact sum, at three sizes. */
START_TEST(test_fate_allow)
{
	static const uint32_t sizes[] = { 1024, 65536, 1u << 20 };
	struct reply_gen gen = { .kind = REPLY_RANDOM, .seed = SEED };
	uint16_t ports[8];

	for (int i = 0; i < 8; i++)
		ports[i] = 37000 + i;
	for (unsigned int z = 0; z < 3; z++) {
		struct allow_seen a = { .gen = &gen, .ports = ports, .nworkers = 8,
					.reply_size = sizes[z] };
		uint32_t count = sizes[z] > 65536 ? 3 : 10;
		SGBPF_OPTS(sgbpf_scatter_opts, so, .timeout_us = 10000000);
		struct sgbpf_service *svc;
		pid_t pid = farm(7950 + z, 37000, 8, sizes[z], "random:12345");

		svc = allow_service(7950 + z, ports, 8, sizes[z], 4, &a);
		run(svc, &a, count, 2, &so);
		assert_exact(&a, count);
		assert_clean_streams(svc);
		sgbpf_service_destroy(svc);
		worker_farm_stop(pid);
	}
}
END_TEST

/*
 * Receive buffers full for long: 8 workers x 1 MiB, 16 requests in flight,
 * the farm on another CPU than the reader, the kernel only counting (its
 * fastest program, so the replies come in fastest).  TCP then drops what does not
 * fit and retransmits it cut anew, so skbs arrive repeating up to 64 KB of
 * what the stream program already took.  The program must cut all of it
 * off the skb (in steps: bpf_skb_adjust_room() takes at most 4095 bytes a
 * call); when it could not, fate allow broke the connection and requests
 * were reported with a reply missing (6 of 256 in a benchmark run).
 */
START_TEST(test_allow_full_buffers)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	char to[32], bind[48], size[16], cpu[24];
	const char *args[] = { "--backend", "tcp", "--connect", to, "--bind", bind,
			       "--reply-size", size, "--reply", "vector", "--cpu", cpu, NULL };
	uint16_t ports[8];
	struct allow_seen a = { .gen = NULL, .ports = ports, .nworkers = 8,
				.reply_size = 1u << 20, .count_only = true };
	SGBPF_OPTS(sgbpf_scatter_opts, so, .timeout_us = 10000000);
	struct sgbpf_service *svc;
	cpu_set_t set;
	pid_t pid;

	for (int i = 0; i < 8; i++)
		ports[i] = 37200 + i;
	snprintf(to, sizeof(to), "127.0.0.1:%u", 7970);
	snprintf(bind, sizeof(bind), "127.0.0.1:%u-%u", 37200, 37207);
	snprintf(size, sizeof(size), "%u", 1u << 20);
	snprintf(cpu, sizeof(cpu), "%ld", cpus > 1 ? 1L : 0L);
	pid = worker_farm_start_argv(&ns, args);
	ck_assert_int_gt(pid, 0);
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	ck_assert_int_eq(sched_setaffinity(0, sizeof(set), &set), 0);
	svc = allow_service(7970, ports, 8, 1u << 20, 16, &a);
	run(svc, &a, 320, 16, &so);
	assert_exact(&a, 320);
	assert_clean_streams(svc);
	sgbpf_service_destroy(svc);
	worker_farm_stop(pid);
}
END_TEST

/*
 * The kernel completes a request while the application sits in a callback
 * past that request's deadline: its replies are still in the sockets, and
 * TCP does not lose them, so the request is complete with all of them, not
 * complete with some.  8 workers x 1 MiB, four in flight, so that more is
 * waiting in the sockets than the receive buffers hold; the first callback
 * sleeps 300 ms, the deadline is 150 ms.  A request the kernel could not
 * complete in time (its workers' windows closed while nobody read) expires,
 * rightly; at least one must have completed past its deadline.
 */
START_TEST(test_allow_reader_late)
{
	struct reply_gen gen = { .kind = REPLY_RANDOM, .seed = SEED };
	uint16_t ports[8];
	struct allow_seen a = { .gen = &gen, .ports = ports, .nworkers = 8,
				.reply_size = 1u << 20, .sleep_first_ms = 300 };
	SGBPF_OPTS(sgbpf_scatter_opts, so, .timeout_us = 150000);
	SGBPF_OPTS(sgbpf_scatter_opts, warm, .timeout_us = 10000000);
	struct sgbpf_service *svc;
	pid_t pid;

	for (int i = 0; i < 8; i++)
		ports[i] = 37100 + i;
	pid = farm(7960, 37100, 8, 1u << 20, "random:12345");
	svc = allow_service(7960, ports, 8, 1u << 20, 4, &a);
	/* Connections up and warm, with a deadline nothing will reach. */
	run(svc, &a, 1, 1, &warm);
	a.done = a.complete = a.nresp_ok = a.bodies_ok = 0;
	a.deadline_ns = 150000000ull;
	run(svc, &a, 8, 4, &so);
	ck_assert_uint_eq(a.complete + a.expired, 8);
	ck_assert_msg(a.nresp_ok == a.complete, "%u of %u complete with every reply read",
		      a.nresp_ok, a.complete);
	ck_assert_msg(a.late >= 1, "no request completed past its deadline (%u complete, %u "
		      "expired): the case did not happen", a.complete, a.expired);
	ck_assert_uint_eq(a.bodies_ok, 8 * a.complete);
	ck_assert_uint_eq(a.bodies_bad, 0);
	ck_assert_uint_eq(a.sums_bad, 0);
	assert_clean_streams(svc);
	sgbpf_service_destroy(svc);
	worker_farm_stop(pid);
}
END_TEST

/*
 * A worker that sends its reply and hangs up at once (FIN): the bytes are
 * in the socket before the end of the stream, so the reply is read and
 * the request complete with it.  Five times, one worker each, 8 MiB: more
 * than the receive buffers hold, so the hang-up is seen while most of the
 * reply still waits in the socket.
 */
START_TEST(test_allow_reply_then_hangup)
{
	const uint32_t size = 8u << 20;
	uint8_t *reply = malloc(SGBPF_HDR_LEN + size);

	ck_assert_ptr_nonnull(reply);
	for (uint32_t i = 0; i < size / 4; i++)
		memcpy(reply + SGBPF_HDR_LEN + 4 * i, &i, 4);
	for (uint16_t k = 0; k < 5; k++) {
		uint16_t port = 37200 + k;
		struct allow_seen a = { .ports = &port, .nworkers = 1, .reply_size = size };
		struct sgbpf_hdr h = { .num_pks = 1, .body_len = size,
				       .msg_type = SGBPF_MSG_GATHER };
		SGBPF_OPTS(sgbpf_scatter_opts, so, .timeout_us = 2000000);
		struct sgbpf_service *svc = allow_service(7970 + k, &port, 1, size, 2, &a);
		int fd = rig_connect(port, 7970 + k);

		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(sgbpf_scatter(svc, "go", 2, &so, NULL), 0);
		h.req_id = rig_request(fd);
		memcpy(reply, &h, sizeof(h));
		ck_assert_int_eq(rig_send_all(fd, reply, SGBPF_HDR_LEN + size), 0);
		close(fd);	/* a FIN right behind the reply */
		while (sgbpf_inflight(svc))
			ck_assert_int_ge(sgbpf_wait(svc, 1000), 0);
		assert_exact(&a, 1);
		sgbpf_service_destroy(svc);
	}
	free(reply);
}
END_TEST

/*
 * Under policy N the replies past the first n are passed up too (a verdict
 * takes or drops whole segments, which may also hold counted bytes), and
 * only the counted ones are listed: nresp = responses = n, the sum theirs.
 */
START_TEST(test_allow_policy_surplus)
{
	struct reply_gen gen = { .kind = REPLY_RANDOM, .seed = SEED };
	uint16_t ports[8];
	struct allow_seen a = { .gen = &gen, .ports = ports, .nworkers = 8,
				.reply_size = 4096 };
	SGBPF_OPTS(sgbpf_scatter_opts, three, .policy = SGBPF_POLICY_N, .n = 3,
		   .timeout_us = 5000000);
	struct sgbpf_service *svc;
	struct sgbpf_stats st;
	pid_t pid;

	for (int i = 0; i < 8; i++)
		ports[i] = 37300 + i;
	pid = farm(7980, 37300, 8, 4096, "random:12345");
	svc = allow_service(7980, ports, 8, 4096, 4, &a);
	for (int k = 0; k < 10; k++) {
		run(svc, &a, 1, 1, &three);
		usleep(20000);	/* the surplus replies reach the socket too */
	}
	ck_assert_uint_eq(a.complete, 10);
	ck_assert_uint_eq(a.nresp_ok, 10);
	ck_assert_uint_eq(a.bodies_ok, 3 * 10);
	ck_assert_uint_eq(a.bodies_bad, 0);
	ck_assert_uint_eq(a.sums_bad, 0);
	ck_assert_int_eq(sgbpf_service_stats(svc, &st), 0);
	/* Past the policy: refused while the slot is open, stale once it completed. */
	ck_assert_uint_ge(st.surplus + st.stale, 5 * 10);
	assert_clean_streams(svc);
	sgbpf_service_destroy(svc);
	worker_farm_stop(pid);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tcp_allow");
	TCase *tc = tcase_create("allow");

	if (netns_check_privileges())
		return 77;
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_fate_allow);
	tcase_add_test(tc, test_allow_reader_late);
	tcase_add_test(tc, test_allow_reply_then_hangup);
	tcase_add_test(tc, test_allow_policy_surplus);
	tcase_add_test(tc, test_allow_full_buffers);
	suite_add_tcase(s, tc);
	return suite_run(s);
}
