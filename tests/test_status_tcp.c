// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `sgbpf status` and `sgbpf teardown` with TCP services, in a namespace the
 * test creates: a service owned by a child process, over `sgbpf worker
 * --backend tcp`, is listed with its port, reduction, workers, connections
 * and owner, is left alone by teardown, and is gone once its owner exits;
 * two services of one process each get their own verdict program.
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <sgbpf/sgbpf.h>

#include "cli_run.h"
#include "inspect.h"
#include "netns_suite.h"
#include "netns_util.h"
#include "worker_farm.h"

#define LISTEN_PORT 7910
#define SRC_BASE 39100
#define NW 3

static struct netns ns;
static pid_t farm = -1, owner = -1;

static void setup(void)
{
	ck_assert_int_eq(netns_create(&ns, "sttcp"), 0);
	ck_assert_int_eq(netns_link_up(&ns, "lo"), 0);
}

/* Runs also when a test failed: nothing of it may outlive the test. */
static void teardown(void)
{
	if (owner > 0) {
		kill(owner, SIGKILL);
		waitpid(owner, NULL, 0);
		owner = -1;
	}
	worker_farm_stop(farm);
	farm = -1;
	netns_delete(&ns);
}

static void on_complete(const struct sgbpf_result *res, void *ctx)
{
	(void)res;
	(void)ctx;	/* the owner waits for nothing in flight, not for results */
}

static struct sgbpf_service *tcp_service(uint16_t port, enum sgbpf_reduce reduce)
{
	static char obj[4096];
	const char *dir = getenv("SGBPF_BUILD_DIR");
	struct sgbpf_endpoint w[NW];
	struct sgbpf_service *svc;

	for (int i = 0; i < NW; i++)
		w[i] = (struct sgbpf_endpoint){ .addr = htonl(INADDR_LOOPBACK), .port = SRC_BASE + i };
	{
		SGBPF_OPTS(sgbpf_service_opts, o, .backend = SGBPF_BACKEND_TCP, .workers = w,
			   .nworkers = NW, .reduce = reduce, .max_inflight = 8,
			   .on_complete = on_complete,
			   .listen = { .addr = htonl(INADDR_LOOPBACK), .port = port },
			   .connect_timeout_ms = 5000, .max_reply = 64);

		/* The custom one: the example reduction of the build tree. */
		if (reduce == SGBPF_REDUCE_CUSTOM) {
			ck_assert_msg(dir, "SGBPF_BUILD_DIR is not set");
			snprintf(obj, sizeof(obj), "%s/bpf-udp/sum_sat_u32.bpf.o", dir);
			o.reduce_obj = obj;
		}
		svc = sgbpf_service_create(&o);
	}
	return svc;
}

/*
 * The owner: a child in the namespace that creates the service, completes
 * one request (so every worker is connected) and says so on ready_fd, then
 * waits to be killed.  Dies with the test process.
 */
static void owner_main(int ready_fd)
{
	SGBPF_OPTS(sgbpf_scatter_opts, so, .timeout_us = 5000000);
	struct sgbpf_service *svc;
	char c = 'r';

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	svc = tcp_service(LISTEN_PORT, SGBPF_REDUCE_MAX_U64);
	if (!svc) {
		fprintf(stderr, "owner: %s\n", sgbpf_last_error());
		_exit(1);
	}
	if (sgbpf_scatter(svc, "go", 2, &so, NULL)) {
		fprintf(stderr, "owner: scatter: %s\n", sgbpf_last_error());
		_exit(1);
	}
	while (sgbpf_inflight(svc) > 0)
		if (sgbpf_wait(svc, 1000) < 0)
			_exit(1);
	if (write(ready_fd, &c, 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

static pid_t start_owner(void)
{
	struct pollfd p;
	int fds[2];
	char c;
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	fflush(NULL);
	pid = netns_fork(&ns);
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		owner_main(fds[1]);
	}
	close(fds[1]);
	p = (struct pollfd){ .fd = fds[0], .events = POLLIN };
	ck_assert_msg(poll(&p, 1, 15000) == 1 && read(fds[0], &c, 1) == 1,
		      "the owner's service did not complete a request");
	close(fds[0]);
	return pid;
}

START_TEST(status_lists_tcp_service)
{
	static const char *const json[] = { "status", "--json", NULL };
	static const char *const text[] = { "status", NULL };
	static const char *const dev[] = { "status", "--dev", "lo", NULL };
	static const char *const down[] = { "teardown", "--dev", "lo", NULL };
	char connect[32], bind[48], out[8192], err[1024], want[128];
	const char *args[] = { "--backend", "tcp", "--connect", connect, "--bind", bind,
			       "--reply-size", "64", NULL };
	int rc;

	snprintf(connect, sizeof(connect), "127.0.0.1:%u", LISTEN_PORT);
	snprintf(bind, sizeof(bind), "127.0.0.1:%u-%u", SRC_BASE, SRC_BASE + NW - 1);
	farm = worker_farm_start_argv(&ns, args);
	ck_assert_int_gt(farm, 0);
	owner = start_owner();

	rc = cli_run_ns(&ns, json, out, sizeof(out), err, sizeof(err));
	ck_assert_msg(rc == 0, "status exited %d: %s", rc, err);
	ck_assert_msg(strstr(out, "{\"backend\":\"tcp\",\"address\":\"127.0.0.1\""), "%s", out);
	ck_assert_int_eq(cli_json_number(out, "port"), LISTEN_PORT);
	ck_assert_int_eq(cli_json_number(out, "workers"), NW);
	ck_assert_int_eq(cli_json_number(out, "connected"), NW);
	ck_assert_int_ge(cli_json_number(out, "steered"), NW);
	ck_assert_int_gt(cli_json_number(out, "link_id"), 0);
	ck_assert_int_gt(cli_json_number(out, "verdict_prog_id"), 0);
	ck_assert_msg(strstr(out, "\"reduce\":\"max-u64\"") &&
		      strstr(out, "\"verdict_prog\":\"sgbpf_tcp_max_u64\""), "%s", out);
	snprintf(want, sizeof(want), "\"owners\":[{\"pid\":%d,", (int)owner);
	ck_assert_msg(strstr(out, want), "owner %d not reported: %s", (int)owner, out);

	rc = cli_run_ns(&ns, text, out, sizeof(out), err, sizeof(err));
	ck_assert_msg(rc == 0, "status exited %d: %s", rc, err);
	snprintf(want, sizeof(want), "tcp service on 127.0.0.1:%u\n  workers %d (%d connected), "
		 "reduction max-u64\n", LISTEN_PORT, NW, NW);
	ck_assert_msg(strstr(out, want), "%s", out);

	/* On no interface: --dev leaves it out, teardown leaves it alone and names the owner. */
	rc = cli_run_ns(&ns, dev, out, sizeof(out), err, sizeof(err));
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(out, "no sgbpf service on lo\n");
	rc = cli_run_ns(&ns, down, out, sizeof(out), err, sizeof(err));
	ck_assert_msg(rc == 0, "teardown exited %d: %s", rc, err);
	snprintf(want, sizeof(want), "kept the tcp service on 127.0.0.1:%u", LISTEN_PORT);
	ck_assert_msg(strstr(out, want), "%s", out);
	snprintf(want, sizeof(want), "its owner %d (", (int)owner);
	ck_assert_msg(strstr(out, want), "%s", out);
	rc = cli_run_ns(&ns, json, out, sizeof(out), err, sizeof(err));
	ck_assert_int_eq(cli_json_number(out, "port"), LISTEN_PORT);

	/*
	 * The link and programs go with the owner's descriptors, whatever ends
	 * it: SIGKILL runs no cleanup of ours (nor the test runner's SIGTERM
	 * handler, which the forked owner inherited).
	 */
	ck_assert_int_eq(kill(owner, SIGKILL), 0);
	ck_assert_int_eq(waitpid(owner, NULL, 0), owner);
	owner = -1;
	rc = cli_run_ns(&ns, json, out, sizeof(out), err, sizeof(err));
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(out, "{\"services\":[]}\n");
}
END_TEST

/*
 * Three services of this process: each steer program is paired with its own
 * verdict, a custom reduction's named as it was defined.
 */
START_TEST(scan_pairs_two_services)
{
	struct sgbpf_service *a, *b, *c;
	struct sgbpf_inspect_tcp_list l;

	ck_assert_int_eq(netns_enter(&ns, NULL), 0);
	a = tcp_service(LISTEN_PORT + 1, SGBPF_REDUCE_COUNT);
	ck_assert_msg(a, "%s", sgbpf_last_error());
	b = tcp_service(LISTEN_PORT + 2, SGBPF_REDUCE_SUM_U32);
	ck_assert_msg(b, "%s", sgbpf_last_error());
	c = tcp_service(LISTEN_PORT + 3, SGBPF_REDUCE_CUSTOM);
	ck_assert_msg(c, "%s", sgbpf_last_error());
	ck_assert_int_eq(sgbpf_inspect_tcp_scan(&l), 0);
	ck_assert_uint_eq(l.n, 3);
	for (size_t i = 0; i < l.n; i++) {
		ck_assert(l.svc[i].have_listen);
		ck_assert_uint_eq(l.svc[i].port, LISTEN_PORT + 1 + i);
		ck_assert_uint_eq(l.svc[i].addr, htonl(INADDR_LOOPBACK));
		ck_assert_int_eq(l.svc[i].workers, NW);
		ck_assert_int_eq(l.svc[i].connected, 0);
		ck_assert_uint_eq(l.svc[i].nowners, 1);
		ck_assert_int_eq(l.svc[i].owners[0].pid, getpid());
	}
	ck_assert_str_eq(l.svc[0].reduce, "count");
	ck_assert_str_eq(l.svc[1].reduce, "sum-u32");
	ck_assert_str_eq(l.svc[2].reduce, "custom:sum_sat_u32");
	ck_assert_uint_ne(l.svc[0].verdict_prog_id, l.svc[1].verdict_prog_id);
	ck_assert_uint_ne(l.svc[1].verdict_prog_id, l.svc[2].verdict_prog_id);
	sgbpf_inspect_tcp_free(&l);
	sgbpf_service_destroy(c);
	sgbpf_service_destroy(b);
	ck_assert_int_eq(sgbpf_inspect_tcp_scan(&l), 0);
	ck_assert_uint_eq(l.n, 1);
	ck_assert_uint_eq(l.svc[0].port, LISTEN_PORT + 1);
	sgbpf_inspect_tcp_free(&l);
	sgbpf_service_destroy(a);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("status_tcp");
	TCase *tc = tcase_create("tcp");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, status_lists_tcp_service);
	tcase_add_test(tc, scan_pairs_two_services);
	suite_add_tcase(s, tc);
	return netns_suite_run(s);
}
