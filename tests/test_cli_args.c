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
#include <sys/stat.h>
#include <sys/wait.h>

#include <sgbpf/sgbpf.h>

#include "cli_common.h"
#include "suite_run.h"

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
	{ { "worker", "--help" }, 0, NULL, "--shuffle" },
	{ { "worker", "--listen", "127.0.0.1:9", "--shuffle=yes" }, 2, "try 'sgbpf worker --help'" },
	{ { "run", "--packets", "33" }, 2, "bad --packets '33' (1..32)" },
	{ { "run", "--help" }, 0, NULL, "--packets K" },
	{ { "gather", "--help" }, 0, NULL, "--packets K" },
	{ { "worker", "--listen", "127.0.0.1:9", "--count-limit", "-1" }, 2, "try 'sgbpf worker --help'" },
	{ { "worker", "--listen", "127.0.0.1:9", "--count-limit", "0" }, 2, "try 'sgbpf worker --help'" },
	{ { "worker", "--listen", "127.0.0.1:9", "--cpu", "abc" }, 2, "try 'sgbpf worker --help'" },
	{ { "worker", "--listen", "127.0.0.1:9", "--cpu", "100000" }, 2, "try 'sgbpf worker --help'" },
	{ { "worker", "--listen", "127.0.0.1:9", "--delay-us", "x" }, 2, "try 'sgbpf worker --help'" },
	{ { "worker", "--listen", "127.0.0.1:9", "--delay-us", "99999999999" }, 2, "try 'sgbpf worker --help'" },
	{ { "worker", "--listen", "127.0.0.1:9", "--ignore-first", "x" }, 2, "unexpected argument" },
	{ { "worker", "--xdp", "--dev", "lo", "--listen", "127.0.0.1:9", "--ignore-first" }, 2,
	  "--ignore-first" },
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

/* ---- files and values the CLI must refuse at once, with exit 2 ---------- */

static char tmp_dir[64];

/* Writes len bytes to tmp_dir/name and returns its path (static buffer per call site). */
static const char *tmp_file(const char *name, const void *data, size_t len)
{
	static char paths[8][128];
	static int next;
	char *p = paths[next++ % 8];
	FILE *f;

	if (!tmp_dir[0]) {
		strcpy(tmp_dir, "/tmp/sgbpf-cli-XXXXXX");
		ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
	}
	snprintf(p, 128, "%s/%s", tmp_dir, name);
	f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	fclose(f);
	return p;
}

static void rm_tmp(void)
{
	char cmd[128];

	if (tmp_dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_dir);
		ck_assert_int_eq(system(cmd), 0);
		tmp_dir[0] = '\0';
	}
}

/* A worker list of n loopback workers. */
static const char *good_list(unsigned int n)
{
	char buf[2048];
	size_t len = 0;

	for (unsigned int i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "127.0.0.1:%u\n", 9000 + i);
	return tmp_file("good", buf, len);
}

/*
 * Runs "sgbpf gather --dev NOSUCH ARGS..." (an interface that does not
 * exist, so that nothing reaches a real one even when the check under test
 * is missing) and checks the exit code and stderr.
 */
static void gather_case(int status, const char *in_err, const char *const *args)
{
	const char *argv[MAX_ARGS] = { "gather", "--dev", "sgbpf-none0" };
	char desc[512] = "sgbpf gather";
	struct run r;
	int n = 3;

	for (int i = 0; args[i] && n < MAX_ARGS - 1; i++) {
		argv[n++] = args[i];
		strncat(desc, " ", sizeof(desc) - strlen(desc) - 1);
		strncat(desc, args[i], sizeof(desc) - strlen(desc) - 1);
	}
	argv[n] = NULL;
	run_cli(&r, argv);
	ck_assert_msg(r.status == status, "%s: exit %d, want %d; stderr: %s", desc, r.status,
		      status, r.err);
	if (in_err)
		ck_assert_msg(strstr(r.err, in_err), "%s: stderr \"%s\" lacks \"%s\"", desc, r.err,
			      in_err);
	/* Whatever the file held, the terminal sees printable text only. */
	for (const char *c = r.err; *c; c++)
		ck_assert_msg((*c >= 0x20 && *c < 0x7f) || *c == '\n', "%s: byte %#x on stderr",
			      desc, (unsigned char)*c);
}

#define GATHER(status, in_err, ...) gather_case(status, in_err, (const char *const[]){ __VA_ARGS__, NULL })

START_TEST(test_unusable_workers)
{
	static const char bcast[] = "127.0.0.1:9000\n255.255.255.255:9001\n";
	static const char mcast[] = "# c\n\n224.0.0.251:5353\n";
	static const char any[] = "0.0.0.0:9000\n";
	static const char port0[] = "127.0.0.1:9000\n127.0.0.1:0\n";

	GATHER(2, "2: broadcast", "--workers", tmp_file("b", bcast, sizeof(bcast) - 1));
	GATHER(2, "3: multicast", "--workers", tmp_file("m", mcast, sizeof(mcast) - 1));
	GATHER(2, "1: unspecified", "--workers", tmp_file("a", any, sizeof(any) - 1));
	GATHER(2, "2: bad port", "--workers", tmp_file("p", port0, sizeof(port0) - 1));
	rm_tmp();
}
END_TEST

START_TEST(test_bad_file_messages)
{
	static const char binary[] = "\x7f" "ELF\x02\x01\x1b[31m\xff:80\n";
	static const char nul[] = "127.0.0.1:50000\0junk\n";
	char longline[256], fifo[128];

	GATHER(2, "\\x1b", "--workers", tmp_file("bin", binary, sizeof(binary) - 1));
	GATHER(2, "byte 0x00 at column 16", "--workers", tmp_file("nul", nul, sizeof(nul) - 1));
	/* The offending 'x' is far into the line: the message shows it and says where. */
	snprintf(longline, sizeof(longline), "127.0.0.1:%0150d9x\n", 0);
	GATHER(2, "9x\"", "--workers", tmp_file("long", longline, strlen(longline)));
	GATHER(2, "column 162", "--workers", tmp_file("long", longline, strlen(longline)));
	GATHER(2, "directory", "--workers", tmp_dir);
	GATHER(2, "No such file", "--workers", "/nonexistent/sgbpf/workers");
	/* A FIFO with no writer must not block. */
	snprintf(fifo, sizeof(fifo), "%s/fifo", tmp_dir);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	GATHER(2, "not a regular file", "--workers", fifo);
	rm_tmp();
}
END_TEST

START_TEST(test_no_silent_clamping)
{
	const char *w16 = good_list(16);

	GATHER(2, "--policy 17", "--workers", w16, "--policy", "17");
	/* Multi-packet replies: 1..32 packets, refused beyond, never clamped. */
	GATHER(2, "bad --packets '0' (1..32)", "--workers", w16, "--packets", "0");
	GATHER(2, "bad --packets '33' (1..32)", "--workers", w16, "--packets", "33");
	GATHER(2, "1..1000000000", "--workers", w16, "--count", "0");
	GATHER(2, "--inflight", "--workers", w16, "--inflight", "10000");
	GATHER(2, "--inflight", "--workers", w16, "--max-inflight", "1", "--inflight", "16");
	GATHER(2, "--retries needs --retry-us", "--workers", w16, "--retries", "2");
	GATHER(2, "bad --retry-us '0'", "--workers", w16, "--retry-us", "0");
	GATHER(2, "bad --retry-us 'x'", "--workers", w16, "--retry-us", "x");
	GATHER(2, "bad --retry-us", "--workers", w16, "--retry-us", "3600000001");
	GATHER(2, "bad --retries '0'", "--workers", w16, "--retry-us", "10", "--retries", "0");
	GATHER(2, "bad --retries", "--workers", w16, "--retry-us", "10", "--retries", "1001");
	GATHER(2, "alternatives", "--workers", w16, "--reduce", "sum-u64", "--reduce-obj", w16);
	GATHER(2, "alternatives", "--workers", w16, "--reduce-obj", w16, "--reduce", "sum-u64");
	/* A text file is not a BPF object: say so, name it. */
	GATHER(2, "not an ELF", "--workers", w16, "--reduce-obj", w16);
	GATHER(2, "directory", "--workers", w16, "--reduce-obj", tmp_dir);
	rm_tmp();
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

	tcase_add_loop_test(tb, test_cli_case, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tb, test_version_string);
	tcase_add_test(tb, test_unusable_workers);
	tcase_add_test(tb, test_bad_file_messages);
	tcase_add_test(tb, test_no_silent_clamping);
	suite_add_tcase(s, tb);
	tcase_add_test(tp, test_parse_numbers);
	tcase_add_test(tp, test_parse_ranges);
	tcase_add_test(tp, test_reduce_names);
	suite_add_tcase(s, tp);

	return suite_run(s);
}
