// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `sgbpf gather --backend tcp` against workers that are not sgbpf's: the
 * Python workers of tests/workers/sgbpf_worker.py, written from the
 * documentation alone (docs/protocol.md, docs/tcp.md, docs/cli.md).  The
 * gather runs in one namespace, the workers in another, joined by veth with
 * the loss injector of tcp_loss_rig.h at the coordinator's ingress.
 *
 * Every JSON record must be complete, with every worker counted and every
 * element the exact sum of what the workers' documented formula gives for
 * that request id: at fan-outs 8 and 32 with 1 KiB, 64 KiB and 1 MiB
 * replies without loss, then under dropped bursts, dropped single segments
 * and duplicated segments.  The expected sums are computed here from the
 * formula, not by any code of sgbpf's.
 */
#define _GNU_SOURCE
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_run.h"
#include "netns_suite.h"
#include "tcp_loss_rig.h"
#include "worker_farm.h"

#define PYTHON "/usr/bin/python3"
#define SUBNET 44
#define HDR_LEN 18

static struct netns_pair pair;
static char workers_path[64];

static void setup(void)
{
	workers_path[0] = '\0';
	loss_rig_setup(&pair, "tcppy", SUBNET);
}

static void teardown(void)
{
	if (workers_path[0])
		unlink(workers_path);
	loss_rig_teardown();
}

static const struct loss_pattern NONE = { "none", { .mode = LOSS_OFF } };
static const struct loss_pattern BURST = { "4 in a row every 60",
					   { .mode = LOSS_BURST, .k = 60, .b = 4 } };
static const struct loss_pattern EVERY = { "every 13th", { .mode = LOSS_EVERY, .k = 13 } };
static const struct loss_pattern DUP = { "every 7th twice", { .mode = LOSS_DUP, .k = 7 } };

/* ---- the workers' documented reply ------------------------------------ */

/* mix32() of sgbpf_worker.py: element i of the table reply bodies are cut from. */
static uint32_t mix32(uint32_t x)
{
	x *= 0x9E3779B1u;
	x ^= x >> 16;
	x *= 0x85EBCA6Bu;
	x ^= x >> 13;
	x *= 0xC2B2AE35u;
	x ^= x >> 16;
	return x;
}

/*
 * Element j of the sum over nw workers for request req, n elements a body:
 * worker w sends Q((j + req + 7919 w) mod n).
 */
static uint32_t expected(const uint32_t *q, uint32_t n, uint32_t nw, uint32_t req, uint32_t j)
{
	uint32_t v = 0;

	for (uint32_t w = 0; w < nw; w++)
		v += q[(j + (uint64_t)req + 7919ull * w) % n];
	return v;
}

/* ---- one gather ----------------------------------------------------------- */

static uint16_t next_listen = 7200, next_src = 21000;

/* The workers file: nw source endpoints of the workers' address, with a comment. */
static void write_workers(uint16_t first, uint32_t nw)
{
	FILE *f;
	int fd;

	strcpy(workers_path, "/tmp/sgbpf-tcppy-XXXXXX");
	fd = mkstemp(workers_path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "# %u TCP workers: their source endpoints\n", nw);
	for (uint32_t i = 0; i < nw; i++)
		fprintf(f, "%s:%u\n", pair.b_addr, first + i);
	ck_assert_int_eq(fclose(f), 0);
}

/* Checks one request record: complete, nw responses, every element exact. */
static void check_record(const char *line, const uint32_t *q, uint32_t n, uint32_t nw,
			 uint64_t *vals, const char *what)
{
	uint32_t req = (uint32_t)cli_json_field(line, "\"request\": ");
	long got;

	ck_assert_msg(strstr(line, "\"status\": \"complete\""), "%s: request %u: %.120s", what,
		      req, line);
	ck_assert_uint_eq(cli_json_field(line, "\"responses\": "), nw);
	got = cli_json_result(line, vals, n);
	ck_assert_msg(got == (long)n, "%s: request %u: %ld elements, want %u", what, req, got, n);
	/* A passing ck_assert is a write to the runner: check first, assert on failure. */
	for (uint32_t j = 0; j < n; j++) {
		uint32_t want = expected(q, n, nw, req, j);

		if (vals[j] != want)
			ck_abort_msg("%s: request %u element %u of %u: %llu, want %u", what, req,
				     j, n, (unsigned long long)vals[j], want);
	}
}

/*
 * `sgbpf gather --backend tcp --json` over count requests, inflight at
 * once, against nw Python workers replying size bytes each, under p.
 */
static void gather_case(uint32_t nw, uint32_t size, uint32_t count, uint32_t inflight,
			const struct loss_pattern *p)
{
	uint16_t listen_port = next_listen++, first = next_src;
	uint32_t n = size / 4, records = 0;
	char to[32], ssize[16], scount[16], sinflight[16], what[64];
	const char *wargv[] = { "python3", SGBPF_PY_WORKER, "--connect", to, "--workers",
				workers_path, "--reply-size", ssize, NULL };
	const char *gargs[] = { "--backend", "tcp", "--listen", to, "--workers", workers_path,
				"--reduce", "sum-u32", "--count", scount, "--inflight", sinflight,
				"--max-reply", ssize, "--timeout-us", "30000000",
				"--connect-timeout-ms", "10000", "--json", NULL };
	/* Each element at most 10 digits and ", "; a record's other keys and the summary. */
	size_t cap = (size_t)count * (12ull * n + 256) + 4096;
	char *out = malloc(cap), *line, *save = NULL;
	uint32_t *q = malloc((n ? n : 1) * sizeof(*q));
	uint64_t *vals = malloc((n ? n : 1) * sizeof(*vals));
	bool summary = false;
	struct timespec t0, t1;
	pid_t workers;
	int rc;

	ck_assert(out && q && vals);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	next_src += nw;
	snprintf(to, sizeof(to), "%s:%u", pair.a_addr, listen_port);
	snprintf(ssize, sizeof(ssize), "%u", size);
	snprintf(scount, sizeof(scount), "%u", count);
	snprintf(sinflight, sizeof(sinflight), "%u", inflight);
	snprintf(what, sizeof(what), "fan-out %u, %u B", nw, size);
	for (uint32_t i = 0; i < n; i++)
		q[i] = mix32(i);
	write_workers(first, nw);
	loss_set(p, listen_port);
	workers = worker_farm_exec(&pair.b, PYTHON, wargv);
	ck_assert_msg(workers > 0, "%s: the Python workers did not start", what);
	rc = cli_run_gather(gargs, out, cap);
	worker_farm_stop(workers);
	unlink(workers_path);
	workers_path[0] = '\0';
	ck_assert_msg(rc == 0, "%s: gather exited %d: %.300s", what, rc, out);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "{\"summary\"", 10)) {
			ck_assert_uint_eq(cli_json_field(line, "\"complete\": "), count);
			ck_assert_uint_eq(cli_json_field(line, "\"folded\": "), (uint64_t)count * nw);
			ck_assert_uint_eq(cli_json_field(line, "\"malformed\": "), 0);
			ck_assert_uint_eq(cli_json_field(line, "\"unknown_sources\": "), 0);
			/* Present only when connections were reset or made again. */
			ck_assert_msg(!strstr(line, "\"conn_resets\"") && !strstr(line, "\"reconnects\""),
				      "%s: %.300s", what, line);
			summary = true;
			continue;
		}
		check_record(line, q, n, nw, vals, what);
		records++;
	}
	ck_assert_msg(summary, "%s: no summary", what);
	ck_assert_uint_eq(records, count);
	assert_loss_happened(p, (uint64_t)nw * count * (HDR_LEN + size), what);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (getenv("SGBPF_TEST_DEBUG"))
		fprintf(stderr, "%s, loss %s: %u requests exact in %.2f s\n", what, p->name, count,
			(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	free(vals);
	free(q);
	free(out);
}

/* ---- cases --------------------------------------------------------------- */

START_TEST(test_exact_sums)
{
	static const struct {
		uint32_t nw, size, count, inflight;
	} m[] = {
		{ 8, 1024, 200, 4 },  { 8, 65536, 40, 4 },  { 8, 1u << 20, 6, 2 },
		{ 32, 1024, 100, 4 }, { 32, 65536, 20, 4 }, { 32, 1u << 20, 3, 2 },
	};

	for (unsigned int i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		gather_case(m[i].nw, m[i].size, m[i].count, m[i].inflight, &NONE);
}
END_TEST

START_TEST(test_exact_sums_under_loss)
{
	gather_case(32, 1024, 100, 4, &BURST);
	gather_case(8, 65536, 40, 4, &EVERY);
	gather_case(32, 65536, 20, 4, &BURST);
	gather_case(8, 1u << 20, 4, 2, &DUP);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tcp_pyworker");
	TCase *tc = tcase_create("pyworker");

	if (netns_check_privileges())
		return NETNS_SKIP;
	if (access(PYTHON, X_OK)) {
		fprintf(stderr, "test_tcp_pyworker: %s is missing (scripts/install-deps.sh)\n",
			PYTHON);
		return 1;
	}
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_exact_sums);
	tcase_add_test(tc, test_exact_sums_under_loss);
	suite_add_tcase(s, tc);
	return netns_suite_run(s);
}
