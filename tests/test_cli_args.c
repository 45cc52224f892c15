// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Command-line handling: exit codes and messages of the sgbpf binary
 * ($SGBPF_CLI) for good and bad arguments, the shared parsers of
 * src/cli/cli_common.c, and the reduction names the CLI accepts.
 */
#define _GNU_SOURCE	/* pipe2 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/wait.h>

#include <sgbpf/sgbpf.h>

#include "cli_common.h"

#define MAX_ARGS 16
#define OUT_MAX 8192
/* A usage error must be reported at once; anything slower is a hang. */
#define RUN_TIMEOUT_MS 5000

struct run {
	int status;		/* exit code, or -1 when killed */
	char out[OUT_MAX];
	char err[OUT_MAX];
};

static const char *cli_path(void)
{
	const char *p = getenv("SGBPF_CLI");

	ck_assert_msg(p && *p, "SGBPF_CLI is not set");
	return p;
}

/* Reads what is available; returns false at end of file. */
static bool read_into(int fd, char *buf, size_t *used)
{
	char sink[256];
	ssize_t got;

	/* Past OUT_MAX, keep draining so that the child never blocks on a full pipe. */
	if (*used >= OUT_MAX - 1)
		return read(fd, sink, sizeof(sink)) > 0;
	got = read(fd, buf + *used, OUT_MAX - 1 - *used);
	if (got <= 0)
		return false;
	*used += (size_t)got;
	buf[*used] = '\0';
	return true;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs sgbpf with args (NULL-terminated), capturing stdout and stderr. */
static void run_cli(struct run *r, const char *const *args)
{
	char *argv[MAX_ARGS + 2];
	int out[2], err[2], st, n = 0;
	size_t oused = 0, eused = 0;
	long deadline;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	argv[n++] = (char *)cli_path();
	while (args[n - 1] && n <= MAX_ARGS) {
		argv[n] = (char *)args[n - 1];
		n++;
	}
	argv[n] = NULL;

	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		dup2(err[1], STDERR_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);

	/* Both pipes reach end of file when the child exits. */
	deadline = now_ms() + RUN_TIMEOUT_MS;
	while ((out[0] >= 0 || err[0] >= 0) && now_ms() < deadline) {
		struct pollfd pf[2] = { { out[0], POLLIN, 0 }, { err[0], POLLIN, 0 } };

		if (poll(pf, 2, 100) <= 0)
			continue;
		if (pf[0].revents && !read_into(out[0], r->out, &oused))
			out[0] = (close(out[0]), -1);
		if (pf[1].revents && !read_into(err[0], r->err, &eused))
			err[0] = (close(err[0]), -1);
	}
	if (out[0] >= 0 || err[0] >= 0)
		kill(pid, SIGKILL);
	if (out[0] >= 0)
		close(out[0]);
	if (err[0] >= 0)
		close(err[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

struct cli_case {
	const char *args[MAX_ARGS];
	int status;
	const char *in_err;	/* stderr must contain this (NULL: anything) */
	const char *in_out;	/* stdout must contain this (NULL: anything) */
};

static const struct cli_case cases[] = {
	/* Top level. */
	{ { "--help" }, 0, NULL, "Usage: sgbpf" },
	{ { "-h" }, 0, NULL, "worker" },
	{ { "--version" }, 0, NULL, "sgbpf " },
	{ { "-V" }, 0, NULL, "sgbpf " },
	{ { "help" }, 0, NULL, "Commands:" },
	{ { "help", "worker" }, 0, NULL, "--listen" },
	{ { "help", "nosuchcommand" }, 2, "try 'sgbpf --help'" },
	{ { }, 2, "Usage: sgbpf" },
	{ { "nosuchcommand" }, 2, "try 'sgbpf --help'" },
	{ { "--nosuchflag" }, 2, "try 'sgbpf --help'" },
	{ { "-Z" }, 2, "try 'sgbpf --help'" },
	{ { "--help=yes" }, 2, "try 'sgbpf --help'" },
	/* worker: help and version. */
	{ { "worker", "--help" }, 0, NULL, "Usage: sgbpf worker" },
	{ { "worker", "-h" }, 0, NULL, "--silent-port" },
	{ { "worker", "--version" }, 0, NULL, "sgbpf " },
	{ { "worker", "--listen", "127.0.0.1:9", "--help" }, 0, NULL, "Usage: sgbpf worker" },
	/* worker: bad options and values. */
	{ { "worker" }, 2, "--listen is required" },
	{ { "worker", "--nosuchflag" }, 2, "try 'sgbpf worker --help'" },
	{ { "worker", "-Z" }, 2, "try 'sgbpf worker --help'" },
	{ { "worker", "--listen" }, 2, "try 'sgbpf worker --help'" },
	{ { "worker", "--listen", "127.0.0.1" }, 2, "try 'sgbpf worker --help'" },
	{ { "worker", "--listen", "127.0.0.1:0" }, 2, "try 'sgbpf worker --help'" },
	{ { "worker", "--listen", "127.0.0.1:70000" }, 2, "try 'sgbpf worker --help'" },
	{ { "worker", "--listen", "127.0.0.1:9005-9000" }, 2, "ends before it starts" },
	{ { "worker", "--listen", "127.0.0.1:9000-" }, 2, "try 'sgbpf worker --help'" },
	{ { "worker", "--listen", "127.0.0.1:9000-70000" }, 2, "try 'sgbpf worker --help'" },
	{ { "worker", "--listen", "1.2.3:9000" }, 2, "try 'sgbpf worker --help'" },
	{ { "worker", "--listen", "127.0.0.1:1-65535", "--listen", "127.0.0.2:1" }, 2,
	  "at most 65535" },
	{ { "worker", "--listen", "127.0.0.1:9", "--reply", "bogus" }, 2, "--reply bogus" },
	{ { "worker", "--listen", "127.0.0.1:9", "--reply", "random:" }, 2, "try 'sgbpf worker --help'" },
	{ { "worker", "--listen", "127.0.0.1:9", "--reply", "random:abc" }, 2, "try 'sgbpf worker --help'" },
	{ { "worker", "--listen", "127.0.0.1:9", "--packets", "0" }, 2, "--packets 0" },
	{ { "worker", "--listen", "127.0.0.1:9", "--packets", "abc" }, 2, "try 'sgbpf worker --help'" },
	{ { "worker", "--listen", "127.0.0.1:9", "--packets", "100000" }, 2, "try 'sgbpf worker --help'" },
	{ { "worker", "--listen", "127.0.0.1:9", "--packets" }, 2, "needs a value" },
	{ { "worker", "--listen", "127.0.0.1:9", "--count-limit", "-1" }, 2, "try 'sgbpf worker --help'" },
	{ { "worker", "--listen", "127.0.0.1:9", "--count-limit", "0" }, 2, "try 'sgbpf worker --help'" },
	{ { "worker", "--listen", "127.0.0.1:9", "--cpu", "abc" }, 2, "try 'sgbpf worker --help'" },
	{ { "worker", "--listen", "127.0.0.1:9", "--cpu", "100000" }, 2, "try 'sgbpf worker --help'" },
	{ { "worker", "--listen", "127.0.0.1:9", "--delay-us", "x" }, 2, "try 'sgbpf worker --help'" },
	{ { "worker", "--listen", "127.0.0.1:9", "--delay-us", "99999999999" }, 2, "try 'sgbpf worker --help'" },
	{ { "worker", "--listen", "127.0.0.1:9", "--silent-port", "70000" }, 2, "try 'sgbpf worker --help'" },
	{ { "worker", "--listen", "127.0.0.1:9", "--duplicate=yes" }, 2, "takes no value" },
	{ { "worker", "--listen", "127.0.0.1:9", "stray-argument" }, 2, "unexpected argument" },
	/* worker: valid arguments, runtime failure (CPU 1023 is not on this machine). */
	{ { "worker", "--listen", "127.0.0.1:9", "--cpu", "1023", "--quiet" }, 1, "CPU 1023" },
};

START_TEST(test_cli_case)
{
	const struct cli_case *c = &cases[_i];
	char desc[256] = "";
	struct run r;
	int i;

	for (i = 0; c->args[i]; i++) {
		strncat(desc, " ", sizeof(desc) - strlen(desc) - 1);
		strncat(desc, c->args[i], sizeof(desc) - strlen(desc) - 1);
	}
	run_cli(&r, c->args);
	ck_assert_msg(r.status == c->status, "sgbpf%s: exit %d, want %d; stderr: %s", desc,
		      r.status, c->status, r.err);
	if (c->in_err)
		ck_assert_msg(strstr(r.err, c->in_err), "sgbpf%s: stderr \"%s\" lacks \"%s\"",
			      desc, r.err, c->in_err);
	if (c->in_out)
		ck_assert_msg(strstr(r.out, c->in_out), "sgbpf%s: stdout \"%s\" lacks \"%s\"",
			      desc, r.out, c->in_out);
	/* Usage errors: a message and exactly one hint line, nothing on stdout. */
	if (c->status == 2 && c->args[0]) {
		const char *hint = strstr(r.err, "try 'sgbpf");

		ck_assert_msg(hint, "sgbpf%s: no hint in \"%s\"", desc, r.err);
		ck_assert_ptr_null(strstr(hint + 1, "try 'sgbpf"));
		ck_assert_str_eq(r.out, "");
	}
	/* Help and version go to stdout and leave stderr alone. */
	if (c->status == 0)
		ck_assert_msg(r.err[0] == '\0', "sgbpf%s: stderr \"%s\"", desc, r.err);
}
END_TEST

START_TEST(test_version_string)
{
	static const char *const args[] = { "--version", NULL };
	char want[64];
	struct run r;

	run_cli(&r, args);
	snprintf(want, sizeof(want), "sgbpf %d.%d.%d\n", SGBPF_VERSION_MAJOR,
		 SGBPF_VERSION_MINOR, SGBPF_VERSION_PATCH);
	ck_assert_str_eq(r.out, want);
	/* The library reports the same version as its header. */
	want[strlen(want) - 1] = '\0';
	ck_assert_str_eq(sgbpf_version(), want + strlen("sgbpf "));
}
END_TEST

START_TEST(test_parse_numbers)
{
	uint64_t v = 7;
	uint32_t u = 7;
	uint16_t port = 7;

	ck_assert_int_eq(cli_parse_u64("0", 0, 10, &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(cli_parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
	ck_assert_uint_eq(v, UINT64_MAX);
	ck_assert_int_eq(cli_parse_u64("0x10", 0, 100, &v), 0);
	ck_assert_uint_eq(v, 16);
	ck_assert_int_eq(cli_parse_u64("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
	ck_assert_int_eq(cli_parse_u64("11", 0, 10, &v), -ERANGE);
	ck_assert_int_eq(cli_parse_u64("4", 5, 10, &v), -ERANGE);
	ck_assert_int_eq(cli_parse_u64("", 0, 10, &v), -EINVAL);
	ck_assert_int_eq(cli_parse_u64("-1", 0, 10, &v), -EINVAL);
	ck_assert_int_eq(cli_parse_u64("+1", 0, 10, &v), -EINVAL);
	ck_assert_int_eq(cli_parse_u64(" 1", 0, 10, &v), -EINVAL);
	ck_assert_int_eq(cli_parse_u64("1 ", 0, 10, &v), -EINVAL);
	ck_assert_int_eq(cli_parse_u64("1k", 0, 10, &v), -EINVAL);
	ck_assert_int_eq(cli_parse_u64("0x", 0, 10, &v), -EINVAL);
	ck_assert_int_eq(cli_parse_u64("0x0x1", 0, 10, &v), -EINVAL);
	ck_assert_int_eq(cli_parse_u64(NULL, 0, 10, &v), -EINVAL);
	ck_assert_uint_eq(v, 16);	/* failures leave the output alone */

	ck_assert_int_eq(cli_parse_u32("4294967295", 0, UINT32_MAX, &u), 0);
	ck_assert_uint_eq(u, UINT32_MAX);
	ck_assert_int_eq(cli_parse_u32("4294967296", 0, UINT32_MAX, &u), -ERANGE);

	ck_assert_int_eq(cli_parse_port("65535", &port), 0);
	ck_assert_uint_eq(port, 65535);
	ck_assert_int_eq(cli_parse_port("0", &port), -ERANGE);
	ck_assert_int_eq(cli_parse_port("65536", &port), -ERANGE);
	ck_assert_int_eq(cli_parse_port("http", &port), -EINVAL);
}
END_TEST

START_TEST(test_parse_ranges)
{
	struct cli_port_range r = { 0 };
	struct sgbpf_endpoint ep;
	char buf[16];

	ck_assert_int_eq(cli_parse_port_range("127.0.0.1:9000-9127", &r), 0);
	ck_assert_uint_eq(r.addr, htonl(0x7f000001));
	ck_assert_uint_eq(r.first, 9000);
	ck_assert_uint_eq(r.last, 9127);
	ck_assert_uint_eq(cli_range_len(&r), 128);
	ck_assert_str_eq(cli_addr_str(r.addr, buf), "127.0.0.1");

	ck_assert_int_eq(cli_parse_port_range("10.211.0.2:4242", &r), 0);
	ck_assert_uint_eq(r.first, 4242);
	ck_assert_uint_eq(r.last, 4242);
	ck_assert_uint_eq(cli_range_len(&r), 1);

	ck_assert_int_eq(cli_parse_port_range("0.0.0.0:1-65535", &r), 0);
	ck_assert_uint_eq(cli_range_len(&r), 65535);

	ck_assert_int_eq(cli_parse_port_range("127.0.0.1:9001-9000", &r), -ERANGE);
	ck_assert_int_eq(cli_parse_port_range("127.0.0.1:9000-", &r), -EINVAL);
	ck_assert_int_eq(cli_parse_port_range("127.0.0.1:-9000", &r), -EINVAL);
	ck_assert_int_eq(cli_parse_port_range("127.0.0.1:9000-9001-9002", &r), -EINVAL);
	ck_assert_int_eq(cli_parse_port_range("127.0.0.1:9000-0x2330", &r), -EINVAL);
	ck_assert_int_eq(cli_parse_port_range("127.0.0.1", &r), -EINVAL);
	ck_assert_int_eq(cli_parse_port_range("127.0.0-1:9000", &r), -EINVAL);
	ck_assert_int_eq(cli_parse_port_range("", &r), -EINVAL);

	ck_assert_int_eq(cli_parse_endpoint("192.168.0.1:53", &ep), 0);
	ck_assert_uint_eq(ep.port, 53);
	ck_assert_int_eq(cli_parse_endpoint("192.168.0.1:53-54", &ep), -EINVAL);
}
END_TEST

START_TEST(test_reduce_names)
{
	static const struct {
		const char *name;
		enum sgbpf_reduce r;
		uint32_t size;
	} names[] = {
		{ "count", SGBPF_REDUCE_COUNT, 0 },
		{ "sum-u32", SGBPF_REDUCE_SUM_U32, 4 }, { "sum-u64", SGBPF_REDUCE_SUM_U64, 8 },
		{ "sum-i32", SGBPF_REDUCE_SUM_I32, 4 }, { "sum-i64", SGBPF_REDUCE_SUM_I64, 8 },
		{ "min-u32", SGBPF_REDUCE_MIN_U32, 4 }, { "min-u64", SGBPF_REDUCE_MIN_U64, 8 },
		{ "min-i32", SGBPF_REDUCE_MIN_I32, 4 }, { "min-i64", SGBPF_REDUCE_MIN_I64, 8 },
		{ "max-u32", SGBPF_REDUCE_MAX_U32, 4 }, { "max-u64", SGBPF_REDUCE_MAX_U64, 8 },
		{ "max-i32", SGBPF_REDUCE_MAX_I32, 4 }, { "max-i64", SGBPF_REDUCE_MAX_I64, 8 },
		{ "or-u32", SGBPF_REDUCE_OR_U32, 4 }, { "and-u32", SGBPF_REDUCE_AND_U32, 4 },
		{ "or-u64", SGBPF_REDUCE_OR_U64, 8 }, { "and-u64", SGBPF_REDUCE_AND_U64, 8 },
		{ "custom", SGBPF_REDUCE_CUSTOM, 0 },
	};
	size_t i;

	ck_assert_uint_eq(sizeof(names) / sizeof(names[0]), __SGBPF_REDUCE_MAX);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		ck_assert_str_eq(sgbpf_reduce_name(names[i].r), names[i].name);
		ck_assert_int_eq(sgbpf_reduce_parse(names[i].name), names[i].r);
		ck_assert_uint_eq(sgbpf_reduce_elem_size(names[i].r), names[i].size);
	}
	ck_assert_int_eq(sgbpf_reduce_parse("SUM-U32"), SGBPF_REDUCE_SUM_U32);
	ck_assert_int_eq(sgbpf_reduce_parse("sum"), -EINVAL);
	ck_assert_int_eq(sgbpf_reduce_parse("sum_u32"), -EINVAL);
	ck_assert_int_eq(sgbpf_reduce_parse(""), -EINVAL);
	ck_assert_int_eq(sgbpf_reduce_parse(NULL), -EINVAL);
	ck_assert_ptr_null(sgbpf_reduce_name(__SGBPF_REDUCE_MAX));
	ck_assert_ptr_null(sgbpf_reduce_name((enum sgbpf_reduce)-1));
	ck_assert_uint_eq(sgbpf_reduce_elem_size(__SGBPF_REDUCE_MAX), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cli_args");
	TCase *tb = tcase_create("binary");
	TCase *tp = tcase_create("parsers");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tb, test_cli_case, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tb, test_version_string);
	suite_add_tcase(s, tb);
	tcase_add_test(tp, test_parse_numbers);
	tcase_add_test(tp, test_parse_ranges);
	tcase_add_test(tp, test_reduce_names);
	suite_add_tcase(s, tp);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
