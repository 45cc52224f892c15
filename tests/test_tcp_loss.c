// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The TCP backend over veth under injected loss: the service (this process)
 * in one namespace, `sgbpf worker --backend tcp` farms in another, and
 * tcp_loss.bpf.c at TC ingress of the coordinator's veth dropping every k-th
 * of the workers' data segments, dropping bursts, or delivering segments
 * twice.  TCP recovers (SACK, fast retransmit, tail-loss probes, RTO); the
 * stream fold must see every byte once and in order whatever happened on
 * the wire, so every sum must be exact and every request complete.
 *
 * Cases: exact sums at fan-outs 1, 8 and 64 with 1 B, 1 KiB, 64 KiB and
 * 1 MiB replies under each pattern (a matrix that covers every size and
 * fan-out under each pattern by default; SGBPF_TCP_LOSS_FULL=1 runs all 36
 * combinations), requests expiring with their replies still on the way,
 * fate allow (every reply read byte for byte), a worker killed and started
 * again under loss, unlisted sources refused over veth, and nothing of ours
 * left after destroy.  docs/testing.md lists what each case asserts.
 *
 * The injector counts what it did; each case asserts that loss or
 * duplication really happened, that each dropped skb was one segment, and
 * that every reply byte went through it at least once.
 */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sgbpf/sgbpf.h>

#include <sgbpf/tcp_state.h>

#include "netns_util.h"
#include "reply_gen.h"
#include "tcp_loss_rig.h"
#include "worker_farm.h"

#define SEED 424242u
#define SUBNET 41

static struct netns_pair pair;

/* ---- the topology and the injector ---------------------------------- */

static void setup(void)
{
	loss_rig_setup(&pair, "tcploss", SUBNET);
}

static void teardown(void)
{
	loss_rig_teardown();
}

static const struct loss_pattern EVERY = { "every 13th", { .mode = LOSS_EVERY, .k = 13 } };
static const struct loss_pattern BURST = { "4 in a row every 60",
					   { .mode = LOSS_BURST, .k = 60, .b = 4 } };
static const struct loss_pattern DUP = { "every 7th twice", { .mode = LOSS_DUP, .k = 7 } };

/* ---- service, workers, results -------------------------------------- */

struct seen {
	uint32_t done, complete, expired, failed, wrong;
	uint32_t last_responses;
	const struct reply_gen *gen;	/* random replies: exact per worker; NULL: vector */
	uint16_t first_port;		/* random: the workers are first_port.. */
	uint32_t nports;		/* .. + nports - 1, all answering */
	uint32_t reply_size;
	char why[160];			/* what the first wrong result got wrong */
};

/* Element i of the sum over the listed workers' random replies to req. */
static uint32_t expected_random(const struct seen *s, uint32_t req, uint32_t i)
{
	uint32_t v = 0;

	for (uint32_t w = 0; w < s->nports; w++)
		v += reply_gen_elem(s->gen, s->first_port + w, req, i / REPLY_GEN_NELEMS,
				    i % REPLY_GEN_NELEMS);
	return v;
}

/*
 * Every element there, each the sum over the workers counted: random
 * replies over every listed worker, vector replies responses x i.
 */
static bool result_exact(struct seen *s, const struct sgbpf_result *r)
{
	const uint32_t *d = r->data;

	if (r->elem_size != 4 || r->nelems != s->reply_size / 4 || (r->nelems && !d) ||
	    (s->gen && r->responses != s->nports)) {
		snprintf(s->why, sizeof(s->why), "req %u: %u elements of %u B, %u responses",
			 r->req_id, r->nelems, r->elem_size, r->responses);
		return false;
	}
	for (uint32_t i = 0; i < r->nelems; i++) {
		uint32_t want = s->gen ? expected_random(s, r->req_id, i) : r->responses * i;

		if (d[i] != want) {
			uint32_t bad = 0;

			for (uint32_t j = i; j < r->nelems; j++)
				bad += d[j] != (s->gen ? expected_random(s, r->req_id, j) :
						 r->responses * j);
			snprintf(s->why, sizeof(s->why),
				 "req %u: element %u of %u is %#x, not %#x; %u wrong from there",
				 r->req_id, i, r->nelems, d[i], want, bad);
			return false;
		}
	}
	return true;
}

static void on_complete(const struct sgbpf_result *r, void *ctx)
{
	struct seen *s = ctx;

	s->done++;
	switch (r->status) {
	case SGBPF_STATUS_COMPLETE:
		s->complete++;
		s->last_responses = r->responses;
		if (!result_exact(s, r) && !s->wrong++)
			fprintf(stderr, "wrong result: %s\n", s->why);
		break;
	case SGBPF_STATUS_EXPIRED:
		s->expired++;
		break;
	default:
		s->failed++;
		break;
	}
}

static struct sgbpf_service *service(uint16_t listen_port, uint16_t first, uint32_t n,
				     uint32_t max_reply, struct seen *s)
{
	struct sgbpf_endpoint *w = calloc(n, sizeof(*w));
	struct sgbpf_service *svc;

	ck_assert_ptr_nonnull(w);
	for (uint32_t i = 0; i < n; i++)
		w[i] = (struct sgbpf_endpoint){ .addr = pair.b_ip, .port = first + i };
	{
		SGBPF_OPTS(sgbpf_service_opts, o, .backend = SGBPF_BACKEND_TCP, .workers = w,
			   .nworkers = n, .reduce = SGBPF_REDUCE_SUM_U32,
			   .delivery = SGBPF_DELIVERY_RINGBUF, .max_inflight = 4,
			   .on_complete = on_complete, .cb_ctx = s,
			   .listen = { .addr = pair.a_ip, .port = listen_port },
			   .connect_timeout_ms = 5000, .max_reply = max_reply);

		svc = sgbpf_service_create(&o);
	}
	free(w);
	ck_assert_msg(svc, "create: %s", sgbpf_last_error());
	return svc;
}

/* `sgbpf worker --backend tcp` in the workers' namespace, from addr:first.. */
static pid_t farm_from(const char *addr, uint16_t listen_port, uint16_t first, uint32_t n,
		       uint32_t reply_size, const char *reply)
{
	char to[32], bind[48], size[16];
	const char *args[] = { "--backend", "tcp", "--connect", to, "--bind", bind,
			       "--reply-size", size, "--reply", reply, NULL };
	pid_t pid;

	snprintf(to, sizeof(to), "%s:%u", pair.a_addr, listen_port);
	snprintf(bind, sizeof(bind), "%s:%u-%u", addr, first, first + n - 1);
	snprintf(size, sizeof(size), "%u", reply_size);
	pid = worker_farm_start_argv(&pair.b, args);
	ck_assert_int_gt(pid, 0);
	return pid;
}

static pid_t farm(uint16_t listen_port, uint16_t first, uint32_t n, uint32_t reply_size,
		  const char *reply)
{
	return farm_from(pair.b_addr, listen_port, first, n, reply_size, reply);
}

/* Runs count requests, at most inflight at once, and waits for them all. */
static void run(struct sgbpf_service *svc, struct seen *s, uint32_t count, uint32_t inflight,
		const struct sgbpf_scatter_opts *so)
{
	uint32_t sent = 0, start = s->done;

	while (s->done - start < count) {
		while (sent < count && sgbpf_inflight(svc) < inflight) {
			int err = sgbpf_scatter(svc, "go", 2, so, NULL);

			ck_assert_msg(err == 0, "scatter: %d %s", err, sgbpf_last_error());
			sent++;
		}
		ck_assert_int_ge(sgbpf_wait(svc, 1000), 0);
	}
}

static void assert_clean_streams(struct sgbpf_service *svc, const char *what)
{
	struct sgbpf_stats st;

	ck_assert_int_eq(sgbpf_service_stats(svc, &st), 0);
	ck_assert_msg(st.malformed == 0 && st.conn_resets == 0,
		      "%s: %llu malformed, %llu connection resets", what,
		      (unsigned long long)st.malformed, (unsigned long long)st.conn_resets);
}

/*
 * A counter of the service's stream program (enum sgbpf_tcp_stream_stat),
 * summed over CPUs, read from its map among this process's descriptors;
 * for the report only (sgbpf_stats does not carry every one).
 */
static uint64_t stream_stat(unsigned int which)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	uint64_t sum = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		struct bpf_map_info info = { 0 };
		__u32 len = sizeof(info), key = which;
		int fd = atoi(e->d_name), ncpu = libbpf_num_possible_cpus();
		uint64_t v[ncpu > 0 ? ncpu : 1];

		if (e->d_name[0] == '.' || fd == dirfd(d) || ncpu <= 0)
			continue;
		if (bpf_obj_get_info_by_fd(fd, &info, &len) ||
		    strncmp(info.name, "sgbpf_tcp_strea", 15) || info.value_size != 8)
			continue;
		if (!bpf_map_lookup_elem(fd, &key, v))
			for (int c = 0; c < ncpu; c++)
				sum += v[c];
		break;
	}
	closedir(d);
	return sum;
}

/* ---- exact sums under loss ------------------------------------------ */

/* Requests per case: enough segments for several periods of every pattern. */
static uint32_t requests_for(uint32_t size)
{
	if (size >= (1u << 20))
		return 2;
	if (size >= 65536)
		return 6;
	return 60;
}

static uint16_t next_listen = 7100, next_src = 20000;

/*
 * One case: n workers with random replies of size bytes (each worker's
 * differs, so a byte folded twice, lost or misplaced shows), under p.
 */
static void exact_case(uint32_t n, uint32_t size, const struct loss_pattern *p)
{
	struct reply_gen gen = { .kind = REPLY_RANDOM, .seed = SEED };
	uint16_t listen_port = next_listen++, first = next_src;
	uint32_t count = requests_for(size);
	struct seen s = { .gen = &gen, .first_port = first, .nports = n, .reply_size = size };
	SGBPF_OPTS(sgbpf_scatter_opts, so, .timeout_us = 20000000);
	struct sgbpf_service *svc;
	struct sgbpf_stats st;
	char reply[32], what[64];
	struct timespec t0, t1;
	uint64_t overlap, repeated;
	pid_t pid;

	next_src += n;
	snprintf(reply, sizeof(reply), "random:%u", SEED);
	snprintf(what, sizeof(what), "fan-out %u, %u B", n, size);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	loss_set(p, listen_port);
	pid = farm(listen_port, first, n, size, reply);
	svc = service(listen_port, first, n, size, &s);
	run(svc, &s, count, 2, &so);
	ck_assert_msg(s.complete == count && s.wrong == 0,
		      "%s, loss %s: %u of %u complete, %u wrong, %u expired, %u failed", what,
		      p->name, s.complete, count, s.wrong, s.expired, s.failed);
	assert_clean_streams(svc, what);
	ck_assert_int_eq(sgbpf_service_stats(svc, &st), 0);
	ck_assert_uint_eq(st.folded, (uint64_t)n * count);
	ck_assert_uint_eq(st.completed, count);
	assert_loss_happened(p, (uint64_t)n * count * (SGBPF_HDR_LEN + size), what);
	overlap = stream_stat(SGBPF_TCP_S_OVERLAP_BYTES);
	repeated = stream_stat(SGBPF_TCP_S_REPEATED_SKBS);
	sgbpf_service_destroy(svc);
	worker_farm_stop(pid);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (getenv("SGBPF_TEST_DEBUG"))
		fprintf(stderr,
			"%s, loss %s: %u requests in %.2f s, %llu bytes seen twice, %llu skbs\n",
			what, p->name, count,
			(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
			(unsigned long long)overlap, (unsigned long long)repeated);
}

/*
 * Every fan-out and every reply size under each pattern: three cases per
 * pattern, arranged so that each (fan-out, size) pair of a row differs.
 */
START_TEST(test_exact_under_loss)
{
	static const struct {
		const struct loss_pattern *p;
		uint32_t n, size;
	} m[] = {
		{ &EVERY, 1, 1u << 20 }, { &EVERY, 8, 1 },	   { &EVERY, 64, 65536 },
		{ &BURST, 1, 1024 },	 { &BURST, 8, 1u << 20 },  { &BURST, 64, 1 },
		{ &DUP, 1, 65536 },	 { &DUP, 8, 1024 },	   { &DUP, 64, 1u << 20 },
	};

	for (unsigned int i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		exact_case(m[i].n, m[i].size, m[i].p);
}
END_TEST

/* SGBPF_TCP_LOSS_FULL=1: every fan-out x size x pattern. */
START_TEST(test_exact_under_loss_full)
{
	static const uint32_t fanouts[] = { 1, 8, 64 };
	static const uint32_t sizes[] = { 1, 1024, 65536, 1u << 20 };
	const struct loss_pattern *pats[] = { &EVERY, &BURST, &DUP };

	for (unsigned int p = 0; p < 3; p++)
		for (unsigned int f = 0; f < 3; f++)
			for (unsigned int z = 0; z < 4; z++)
				exact_case(fanouts[f], sizes[z], pats[p]);
}
END_TEST

/* ---- requests that expire under loss, and those after ------------------ */

/*
 * Timeouts shorter than a request takes, with 30 segments in a row dropped
 * every 1000: requests expire while their replies are still on the way or
 * being retransmitted.
 * Their late bytes are folded into nothing newer: every request that
 * completes is exact, in slots reused all along (4 in flight), and once the
 * loss stops with a long timeout every request completes, exact.
 */
START_TEST(test_expire_under_loss)
{
	static const struct loss_pattern HEAVY = { "30 in a row every 1000",
					      { .mode = LOSS_BURST, .k = 1000, .b = 30 } };
	struct reply_gen gen = { .kind = REPLY_RANDOM, .seed = SEED };
	struct seen s = { .gen = &gen, .first_port = 35000, .nports = 8, .reply_size = 65536 };
	SGBPF_OPTS(sgbpf_scatter_opts, quick);
	SGBPF_OPTS(sgbpf_scatter_opts, patient, .timeout_us = 10000000);
	struct sgbpf_service *svc;
	struct sgbpf_stats st;
	uint32_t before;
	pid_t pid;

	loss_set(&HEAVY, 7700);
	pid = farm(7700, 35000, 8, 65536, "random:424242");
	svc = service(7700, 35000, 8, 65536, &s);
	/*
	 * Timeouts of 1 ms to 1 s in turn, 4 in flight: the shortest expire
	 * with their replies on the way (their slots reused at once by the
	 * next), the longest complete.
	 */
	for (uint32_t sent = 0; s.done < 80;) {
		static const uint32_t tmo_us[] = { 1000, 5000, 50000, 1000000 };

		while (sent < 80 && sgbpf_inflight(svc) < 4) {
			quick.timeout_us = tmo_us[sent % 4];
			ck_assert_int_eq(sgbpf_scatter(svc, "go", 2, &quick, NULL), 0);
			sent++;
		}
		ck_assert_int_ge(sgbpf_wait(svc, 1000), 0);
	}
	ck_assert_uint_eq(s.complete + s.expired, 80);
	ck_assert_uint_eq(s.wrong, 0);
	ck_assert_msg(s.expired >= 1 && s.complete >= 1, "%u expired, %u complete", s.expired,
		      s.complete);
	assert_loss_happened(&HEAVY, 0, "expire");

	loss_set(&EVERY, 7700);
	before = s.complete;
	run(svc, &s, 30, 4, &patient);
	ck_assert_uint_eq(s.complete - before, 30);
	ck_assert_uint_eq(s.wrong, 0);
	ck_assert_uint_eq(s.last_responses, 8);
	ck_assert_int_eq(sgbpf_service_stats(svc, &st), 0);
	/* Late replies of expired requests were parsed and refused, not folded. */
	ck_assert_uint_ge(st.stale + st.unsolicited, 1);
	assert_clean_streams(svc, "expire");
	assert_loss_happened(&EVERY, 30 * 8 * (SGBPF_HDR_LEN + 65536ull), "after expiry");
	if (getenv("SGBPF_TEST_DEBUG"))
		fprintf(stderr, "expire: %u complete, %u expired; stale %llu unsolicited %llu\n",
			before, s.expired, (unsigned long long)st.stale,
			(unsigned long long)st.unsolicited);
	sgbpf_service_destroy(svc);
	worker_farm_stop(pid);
}
END_TEST

/* ---- fate allow under loss ------------------------------------------ */

/* Fate allow: each reply as the worker sent it, beside the exact sum. */
struct allow_seen {
	struct seen s;
	uint32_t nresp_ok, bodies_ok, bodies_bad;
};

static void on_allow(const struct sgbpf_result *r, void *ctx)
{
	struct allow_seen *a = ctx;
	const struct seen *s = &a->s;

	on_complete(r, &a->s);
	if (r->status != SGBPF_STATUS_COMPLETE)
		return;
	if (r->nresp == r->responses)
		a->nresp_ok++;
	for (uint32_t k = 0; k < r->nresp; k++) {
		const struct sgbpf_response *p = &r->resp[k];
		const uint32_t *body = p->body;
		bool ok = p->worker < s->nports && p->body_len == s->reply_size &&
			  p->hdr->req_id == r->req_id && p->hdr->msg_type == SGBPF_MSG_GATHER;

		for (uint32_t i = 0; ok && i < s->reply_size / 4; i++)
			ok = body[i] == reply_gen_elem(s->gen, s->first_port + p->worker,
						       r->req_id, i / REPLY_GEN_NELEMS,
						       i % REPLY_GEN_NELEMS);
		if (ok)
			a->bodies_ok++;
		else
			a->bodies_bad++;
	}
}

/*
 * Fate allow reads every reply through io_uring besides folding it: under
 * drops and duplicates each reply read is the worker's, byte for byte, and
 * the sum is exact.
 */
START_TEST(test_fate_allow_under_loss)
{
	static const uint32_t sizes[] = { 1024, 65536, 1u << 20 };
	const struct loss_pattern *pats[] = { &BURST, &EVERY, &DUP };
	struct reply_gen gen = { .kind = REPLY_RANDOM, .seed = SEED };

	for (unsigned int z = 0; z < 3; z++) {
		uint16_t listen_port = 7950 + z, first = 37000 + 8 * z;
		struct allow_seen a = { .s = { .gen = &gen, .first_port = first, .nports = 8,
					       .reply_size = sizes[z] } };
		uint32_t count = sizes[z] > 65536 ? 3 : 20;
		SGBPF_OPTS(sgbpf_scatter_opts, so, .timeout_us = 20000000);
		struct sgbpf_endpoint w[8];
		struct sgbpf_service *svc;
		char what[32];
		pid_t pid;

		snprintf(what, sizeof(what), "allow %u B", sizes[z]);
		loss_set(pats[z], listen_port);
		pid = farm(listen_port, first, 8, sizes[z], "random:424242");
		for (int i = 0; i < 8; i++)
			w[i] = (struct sgbpf_endpoint){ .addr = pair.b_ip, .port = first + i };
		{
			SGBPF_OPTS(sgbpf_service_opts, o, .backend = SGBPF_BACKEND_TCP,
				   .workers = w, .nworkers = 8, .reduce = SGBPF_REDUCE_SUM_U32,
				   .fate = SGBPF_FATE_ALLOW, .max_inflight = 4,
				   .on_complete = on_allow, .cb_ctx = &a,
				   .listen = { .addr = pair.a_ip, .port = listen_port },
				   .connect_timeout_ms = 5000, .max_reply = sizes[z]);

			svc = sgbpf_service_create(&o);
		}
		ck_assert_msg(svc, "create: %s", sgbpf_last_error());
		run(svc, &a.s, count, 2, &so);
		ck_assert_msg(a.s.complete == count && a.s.wrong == 0,
			      "%s, loss %s: %u of %u complete, %u wrong, %u expired", what,
			      pats[z]->name, a.s.complete, count, a.s.wrong, a.s.expired);
		ck_assert_uint_eq(a.nresp_ok, count);
		ck_assert_uint_eq(a.bodies_ok, 8 * count);
		ck_assert_uint_eq(a.bodies_bad, 0);
		assert_clean_streams(svc, what);
		assert_loss_happened(pats[z], 8ull * count * (SGBPF_HDR_LEN + sizes[z]), what);
		if (getenv("SGBPF_TEST_DEBUG"))
			fprintf(stderr, "%s: %llu bytes seen twice, %llu skbs\n", what,
				(unsigned long long)stream_stat(SGBPF_TCP_S_OVERLAP_BYTES),
				(unsigned long long)stream_stat(SGBPF_TCP_S_REPEATED_SKBS));
		sgbpf_service_destroy(svc);
		worker_farm_stop(pid);
	}
}
END_TEST

/* ---- a worker killed and started again under loss --------------------- */

/* Runs requests until one completes with want responses; false after limit_ms. */
static bool until_responses(struct sgbpf_service *svc, struct seen *s, uint32_t want,
			    int limit_ms, const struct sgbpf_scatter_opts *so)
{
	for (int t = 0; t < limit_ms; t += 20) {
		run(svc, s, 1, 1, so);
		if (s->last_responses == want && s->complete)
			return true;
		usleep(20000);
	}
	return false;
}

/*
 * One worker of eight killed with requests in flight, every 13th segment
 * dropped throughout: requests complete, fail or expire, never wrong;
 * started again, it is counted in later requests, which are exact.
 */
START_TEST(test_worker_restart_under_loss)
{
	struct seen s = { .reply_size = 65536 };
	SGBPF_OPTS(sgbpf_scatter_opts, so, .timeout_us = 2000000);
	struct sgbpf_service *svc;
	struct sgbpf_stats st;
	pid_t seven, one;
	uint32_t before;

	loss_set(&EVERY, 7500);
	seven = farm(7500, 33000, 7, 65536, "vector");
	one = farm(7500, 33007, 1, 65536, "vector");
	svc = service(7500, 33000, 8, 65536, &s);
	run(svc, &s, 20, 4, &so);
	ck_assert_msg(s.complete == 20 && s.wrong == 0 && s.last_responses == 8,
		      "%u of 20 complete, %u wrong, %u expired, %u failed, %u responses (%s)",
		      s.complete, s.wrong, s.expired, s.failed, s.last_responses, s.why);

	for (int k = 0; k < 4; k++)
		ck_assert_int_eq(sgbpf_scatter(svc, "go", 2, &so, NULL), 0);
	kill(one, SIGKILL);
	waitpid(one, NULL, 0);
	while (sgbpf_inflight(svc))
		ck_assert_int_ge(sgbpf_wait(svc, 1000), 0);
	ck_assert_uint_eq(s.done, 24);
	run(svc, &s, 20, 4, &so);
	ck_assert_uint_eq(s.done, 44);
	ck_assert_uint_eq(s.wrong, 0);
	ck_assert_msg(until_responses(svc, &s, 7, 5000, &so), "never completed without it");

	one = farm(7500, 33007, 1, 65536, "vector");
	ck_assert_msg(until_responses(svc, &s, 8, 10000, &so), "the worker never came back");
	before = s.complete;
	/*
	 * A connection made a moment ago starts with a 1 s retransmission
	 * timeout: one segment lost twice in a row waits 1 + 2 s, longer than
	 * the 2 s above.  The exactness check does not depend on the timeout.
	 */
	so.timeout_us = 10000000;
	run(svc, &s, 20, 4, &so);
	ck_assert_uint_eq(s.complete - before, 20);
	ck_assert_uint_eq(s.last_responses, 8);
	ck_assert_uint_eq(s.wrong, 0);
	ck_assert_int_eq(sgbpf_service_stats(svc, &st), 0);
	ck_assert_uint_ge(st.reconnects, 1);
	/* The killed worker's connection may be reset; the others' streams stay clean. */
	ck_assert_uint_eq(st.malformed, 0);
	assert_loss_happened(&EVERY, 0, "restart");
	sgbpf_service_destroy(svc);
	worker_farm_stop(one);
	worker_farm_stop(seven);
}
END_TEST

/* ---- unlisted sources over veth ------------------------------------- */

/*
 * Unlisted ports of the listed address and a listed port from another
 * address of the workers' host: none gets a connection (their farms keep
 * trying); the listed workers stay exact under loss.
 */
START_TEST(test_unlisted_refused)
{
	struct reply_gen gen = { .kind = REPLY_RANDOM, .seed = SEED };
	struct seen s = { .gen = &gen, .first_port = 34000, .nports = 4, .reply_size = 4096 };
	SGBPF_OPTS(sgbpf_scatter_opts, so, .timeout_us = 10000000);
	char other[16], cidr[24];
	struct sgbpf_service *svc;
	struct sgbpf_stats st;
	pid_t pid, stray, alien;

	snprintf(other, sizeof(other), "10.211.%u.3", SUBNET);
	snprintf(cidr, sizeof(cidr), "%s/24", other);
	ck_assert_int_eq(netns_addr_add(&pair.b, pair.b_if, cidr), 0);
	loss_set(&EVERY, 7600);
	pid = farm(7600, 34000, 4, 4096, "random:424242");
	stray = farm(7600, 34100, 2, 4096, "random:424242");
	/* Port 34000 is listed, but only from the listed address. */
	alien = farm_from(other, 7600, 34000, 1, 4096, "random:424242");
	svc = service(7600, 34000, 4, 4096, &s);
	run(svc, &s, 40, 2, &so);
	usleep(100000);	/* the strays retry meanwhile */
	run(svc, &s, 40, 2, &so);
	ck_assert_uint_eq(s.complete, 80);
	ck_assert_uint_eq(s.wrong, 0);
	ck_assert_int_eq(sgbpf_service_stats(svc, &st), 0);
	/* At least one attempt of each stray connection. */
	ck_assert_uint_ge(st.unknown_src, 3);
	ck_assert_uint_eq(st.folded, 4 * 80);
	ck_assert_uint_eq(st.reconnects, 0);
	assert_clean_streams(svc, "unlisted");
	assert_loss_happened(&EVERY, 4 * 80 * (SGBPF_HDR_LEN + 4096ull), "unlisted");
	sgbpf_service_destroy(svc);
	worker_farm_stop(alien);
	worker_farm_stop(stray);
	worker_farm_stop(pid);
}
END_TEST

/* ---- nothing of ours left after destroy ------------------------------ */

#define MAX_IDS 256

struct ids {
	__u32 prog[MAX_IDS], map[MAX_IDS], link[MAX_IDS];
	unsigned int nprog, nmap, nlink, nsock;
};

static void add_id(__u32 *v, unsigned int *n, __u32 id)
{
	if (*n < MAX_IDS)
		v[(*n)++] = id;
}

/* The BPF objects and sockets this process holds descriptors of. */
static void collect(struct ids *o)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	memset(o, 0, sizeof(*o));
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		char path[64], target[64] = "";
		int fd = atoi(e->d_name);
		union {
			struct bpf_prog_info p;
			struct bpf_map_info m;
			struct bpf_link_info l;
		} info;
		__u32 len = sizeof(info);

		if (e->d_name[0] == '.' || fd == dirfd(d))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (readlink(path, target, sizeof(target) - 1) < 0)
			continue;
		memset(&info, 0, sizeof(info));
		if (!strncmp(target, "socket:", 7))
			o->nsock++;
		else if (!strcmp(target, "anon_inode:bpf-prog") &&
			 !bpf_obj_get_info_by_fd(fd, &info.p, &len))
			add_id(o->prog, &o->nprog, info.p.id);
		else if (!strcmp(target, "anon_inode:bpf-map") &&
			 !bpf_obj_get_info_by_fd(fd, &info.m, &len))
			add_id(o->map, &o->nmap, info.m.id);
		else if (!strcmp(target, "anon_inode:bpf_link") &&
			 !bpf_obj_get_info_by_fd(fd, &info.l, &len))
			add_id(o->link, &o->nlink, info.l.id);
	}
	closedir(d);
}

static bool has(const __u32 *v, unsigned int n, __u32 id)
{
	for (unsigned int i = 0; i < n; i++)
		if (v[i] == id)
			return true;
	return false;
}

/* How many of during's objects that base does not hold still exist. */
static unsigned int alive_new(const struct ids *during, const struct ids *base)
{
	unsigned int n = 0;
	int fd;

	for (unsigned int i = 0; i < during->nprog; i++)
		if (!has(base->prog, base->nprog, during->prog[i]) &&
		    (fd = bpf_prog_get_fd_by_id(during->prog[i])) >= 0 && ++n)
			close(fd);
	for (unsigned int i = 0; i < during->nmap; i++)
		if (!has(base->map, base->nmap, during->map[i]) &&
		    (fd = bpf_map_get_fd_by_id(during->map[i])) >= 0 && ++n)
			close(fd);
	for (unsigned int i = 0; i < during->nlink; i++)
		if (!has(base->link, base->nlink, during->link[i]) &&
		    (fd = bpf_link_get_fd_by_id(during->link[i])) >= 0 && ++n)
			close(fd);
	return n;
}

/*
 * TCP sockets of this namespace on the service's port that are not closed:
 * listening or connected (state 01 ESTABLISHED .. 0A LISTEN, 0B CLOSING;
 * TIME_WAIT, 06, holds no socket of ours and is not counted).
 */
static unsigned int port_sockets(uint16_t port)
{
	FILE *f = fopen("/proc/net/tcp", "r");
	char line[256];
	unsigned int n = 0;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned int lport, st;

		if (sscanf(line, " %*d: %*x:%x %*x:%*x %x", &lport, &st) == 2 && lport == port &&
		    st != 0x06 && st != 0x07)
			n++;
	}
	fclose(f);
	return n;
}

START_TEST(test_destroy_leaves_nothing)
{
	struct reply_gen gen = { .kind = REPLY_RANDOM, .seed = SEED };
	struct seen s = { .gen = &gen, .first_port = 36000, .nports = 8, .reply_size = 65536 };
	SGBPF_OPTS(sgbpf_scatter_opts, so, .timeout_us = 10000000);
	struct sgbpf_service *svc;
	struct ids base, during, after;
	pid_t pid;

	loss_set(&BURST, 7800);
	pid = farm(7800, 36000, 8, 65536, "random:424242");
	/* The injector's program, maps and link are the test's, here before and after. */
	collect(&base);
	ck_assert_uint_eq(port_sockets(7800), 0);
	svc = service(7800, 36000, 8, 65536, &s);
	run(svc, &s, 10, 4, &so);
	ck_assert_uint_eq(s.complete, 10);
	ck_assert_uint_eq(s.wrong, 0);
	collect(&during);
	/* steer + stream programs, their maps, the SK_LOOKUP link; listeners and connections. */
	ck_assert_uint_eq(during.nprog, base.nprog + 2);
	ck_assert_uint_ge(during.nmap, base.nmap + 6);
	ck_assert_uint_eq(during.nlink, base.nlink + 1);
	ck_assert_uint_ge(during.nsock, base.nsock + 16);
	ck_assert_uint_ge(port_sockets(7800), 8);
	sgbpf_service_destroy(svc);
	for (int t = 0; t < 300 && alive_new(&during, &base); t++)
		usleep(10000);
	ck_assert_uint_eq(alive_new(&during, &base), 0);
	collect(&after);
	ck_assert_uint_eq(after.nprog, base.nprog);
	ck_assert_uint_eq(after.nmap, base.nmap);
	ck_assert_uint_eq(after.nlink, base.nlink);
	for (unsigned int i = 0; i < after.nprog; i++)
		ck_assert(has(base.prog, base.nprog, after.prog[i]));
	ck_assert_uint_eq(after.nsock, base.nsock);
	/* The workers keep trying; nothing here listens or stays connected for them. */
	usleep(100000);
	ck_assert_uint_eq(port_sockets(7800), 0);
	assert_loss_happened(&BURST, 0, "destroy");
	worker_farm_stop(pid);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tcp_loss");
	TCase *tc = tcase_create("loss");
	bool full = getenv("SGBPF_TCP_LOSS_FULL") != NULL;
	SRunner *sr;
	int failed;

	if (netns_check_privileges())
		return NETNS_SKIP;
	netns_reap_stale();
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, full ? 1800 : 120);
	tcase_add_test(tc, full ? test_exact_under_loss_full : test_exact_under_loss);
	tcase_add_test(tc, test_expire_under_loss);
	tcase_add_test(tc, test_fate_allow_under_loss);
	tcase_add_test(tc, test_worker_restart_under_loss);
	tcase_add_test(tc, test_unlisted_refused);
	tcase_add_test(tc, test_destroy_leaves_nothing);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	netns_reap_stale();
	return failed ? 1 : 0;
}
