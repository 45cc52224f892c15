// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The CLI's TCP pair at run time, in a namespace of its own: 'sgbpf gather
 * --backend tcp' against 'sgbpf worker --backend tcp'.  Every JSON result
 * must hold the whole reply body's elements, each the exact sum of what the
 * eight workers sent for that request; and the TCP options' usage errors.
 */
#define _GNU_SOURCE	/* pipe2 */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "netns_util.h"
#include "reply_gen.h"
#include "suite_run.h"
#include "worker_farm.h"

#define NW 8
#define FIRST 38000
#define REPLY 65536u
#define SEED 4242u

static struct netns ns;
static char workers_path[64];

static void setup(void)
{
	FILE *f;
	int fd;

	ck_assert_int_eq(netns_create(&ns, "clitcp"), 0);
	ck_assert_int_eq(netns_link_up(&ns, "lo"), 0);
	strcpy(workers_path, "/tmp/sgbpf-clitcp-XXXXXX");
	fd = mkstemp(workers_path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < NW; i++)
		fprintf(f, "127.0.0.1:%d\n", FIRST + i);
	fclose(f);
}

static void teardown(void)
{
	unlink(workers_path);
	netns_delete(&ns);
}

/* Runs the CLI in the namespace; returns its exit code, stdout in *out (malloc'ed). */
static int run_cli(const char *const *args, char **out, size_t *len)
{
	char *argv[32], *buf = NULL;
	size_t cap = 0, n = 0;
	int po[2], k = 0, status;
	pid_t pid;

	argv[k++] = getenv("SGBPF_CLI");
	ck_assert_ptr_nonnull(argv[0]);
	while (*args && k < 31)
		argv[k++] = (char *)*args++;
	argv[k] = NULL;
	ck_assert_int_eq(pipe2(po, O_CLOEXEC), 0);
	pid = netns_fork(&ns);
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(po[1], STDOUT_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	close(po[1]);
	for (;;) {
		ssize_t r;

		if (n + 65536 > cap) {
			cap = cap ? 2 * cap : 1 << 20;
			buf = realloc(buf, cap + 1);
			ck_assert_ptr_nonnull(buf);
		}
		r = read(po[0], buf + n, cap - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(po[0]);
	buf[n] = '\0';
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	*out = buf;
	if (len)
		*len = n;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static unsigned long field(const char *line, const char *name)
{
	const char *p = strstr(line, name);

	ck_assert_msg(p, "no %s in %.200s", name, line);
	return strtoul(p + strlen(name), NULL, 10);
}

static uint32_t add_saturating(uint32_t a, uint32_t b)
{
	return a + b < a ? UINT32_MAX : a + b;
}

/*
 * Checks one request line: complete, 8 responses, every element exact --
 * the wrapping sum, or with saturate the example custom reduction's.
 */
static void check_line(const char *line, const struct reply_gen *g, bool saturate)
{
	unsigned long req = field(line, "\"request\": ");
	const char *p = strstr(line, "\"result\": [");
	uint32_t i = 0;

	ck_assert_ptr_nonnull(strstr(line, "\"status\": \"complete\""));
	ck_assert_uint_eq(field(line, "\"responses\": "), NW);
	ck_assert_ptr_nonnull(p);
	p += strlen("\"result\": [");
	while (*p && *p != ']') {
		char *end;
		unsigned long v = strtoul(p, &end, 10);
		uint32_t want = 0;

		ck_assert_ptr_ne(end, p);
		for (int w = 0; w < NW; w++) {
			uint32_t e = reply_gen_elem(g, FIRST + w, (uint32_t)req,
						    i / REPLY_GEN_NELEMS, i % REPLY_GEN_NELEMS);

			want = saturate ? add_saturating(want, e) : want + e;
		}
		ck_assert_msg(v == want, "request %lu element %u: %lu, want %u", req, i, v, want);
		i++;
		p = end;
		while (*p == ',' || *p == ' ')
			p++;
	}
	/* As many elements as the reply bodies hold. */
	ck_assert_uint_eq(i, REPLY / 4);
}

/*
 * 12 requests of `sgbpf gather --backend tcp --json`, delivered as delivery
 * says, reduced by the built-in sum or by the custom object reduce_obj
 * (the example's saturating sum).
 */
static void gather_json(const char *delivery, uint16_t port, uint16_t first,
			const char *reduce_obj)
{
	struct reply_gen g = { .kind = REPLY_RANDOM, .seed = SEED };
	char size[16], seed[32];
	char to[32], bind[48];
	const char *wargs[] = { "--backend", "tcp", "--connect", to, "--bind", bind,
				"--reply-size", size, "--reply", seed, NULL };
	const char *gargs[] = { "gather", "--backend", "tcp", "--listen", to,
				"--workers", workers_path, "--count", "12", "--inflight", "4",
				"--max-reply", size, "--delivery", delivery, "--json",
				reduce_obj ? "--reduce-obj" : NULL, reduce_obj, NULL };
	char *out, *line, *save = NULL;
	unsigned int lines = 0;
	pid_t farm;
	int rc;

	snprintf(to, sizeof(to), "127.0.0.1:%u", port);
	snprintf(bind, sizeof(bind), "127.0.0.1:%u-%u", first, first + NW - 1);
	snprintf(size, sizeof(size), "%u", REPLY);
	snprintf(seed, sizeof(seed), "random:%u", SEED);
	farm = worker_farm_start_argv(&ns, wargs);
	ck_assert_int_gt(farm, 0);
	rc = run_cli(gargs, &out, NULL);
	worker_farm_stop(farm);
	ck_assert_int_eq(rc, 0);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "{\"summary\"", 10)) {
			ck_assert_uint_eq(field(line, "\"complete\": "), 12);
			ck_assert_uint_eq(field(line, "\"folded\": "), 12 * NW);
			ck_assert_uint_eq(field(line, "\"malformed\": "), 0);
			continue;
		}
		check_line(line, &g, reduce_obj != NULL);
		lines++;
	}
	ck_assert_uint_eq(lines, 12);
	free(out);
}

START_TEST(test_gather_tcp_json)
{
	gather_json("ringbuf", 7900, FIRST, NULL);
}
END_TEST

/* A custom reduction over TCP: the object written once for both backends. */
START_TEST(test_gather_tcp_custom)
{
	char path[4096];
	const char *dir = getenv("SGBPF_BUILD_DIR");

	ck_assert_msg(dir, "SGBPF_BUILD_DIR is not set");
	snprintf(path, sizeof(path), "%s/bpf-udp/sum_sat_u32.bpf.o", dir);
	gather_json("ringbuf", 7902, FIRST, path);
}
END_TEST

/* Control-fd delivery: the same exact lines, announced by the control socket's notes. */
START_TEST(test_gather_tcp_ctrl_fd)
{
	gather_json("ctrl-fd", 7901, FIRST, NULL);
}
END_TEST

/* The TCP options without their backend, and the backend without --listen. */
START_TEST(test_tcp_usage_errors)
{
	const char *no_listen[] = { "gather", "--backend", "tcp", "--workers", workers_path, NULL };
	const char *udp_listen[] = { "gather", "--listen", "127.0.0.1:7900", "--workers",
				     workers_path, NULL };
	const char *worker_no_connect[] = { "worker", "--backend", "tcp", "--bind",
					    "127.0.0.1:38000", NULL };
	const char *worker_listen[] = { "worker", "--backend", "tcp", "--connect",
					"127.0.0.1:7900", "--listen", "127.0.0.1:38000", NULL };
	char *out;

	ck_assert_int_eq(run_cli(no_listen, &out, NULL), 2);
	free(out);
	ck_assert_int_eq(run_cli(udp_listen, &out, NULL), 2);
	free(out);
	ck_assert_int_eq(run_cli(worker_no_connect, &out, NULL), 2);
	free(out);
	ck_assert_int_eq(run_cli(worker_listen, &out, NULL), 2);
	free(out);
}
END_TEST

/*
 * `worker --backend tcp --cpu N` runs on CPU N only, as the UDP worker does:
 * the TCP benchmark's farm is pinned so, away from the coordinator's CPU.
 */
START_TEST(test_tcp_worker_cpu)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	char cpu[24], want[32], path[64], line[256], got[64] = "";
	const char *wargs[] = { "--backend", "tcp", "--connect", "127.0.0.1:7903", "--bind",
				"127.0.0.1:38100", "--cpu", cpu, NULL };
	pid_t farm;
	FILE *f;

	snprintf(cpu, sizeof(cpu), "%ld", cpus > 1 ? cpus - 1 : 0);
	snprintf(want, sizeof(want), "%s\n", cpu);
	farm = worker_farm_start_argv(&ns, wargs);
	ck_assert_int_gt(farm, 0);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)farm);
	f = fopen(path, "re");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Cpus_allowed_list: %63s", got) == 1)
			break;
	fclose(f);
	worker_farm_stop(farm);
	ck_assert_str_eq(got, cpu);
}
END_TEST

/* The demo over TCP checks its own results and says so. */
START_TEST(test_run_tcp)
{
	const char *args[] = { "run", "--backend", "tcp", "--workers", "8", "--count", "200",
			       "--inflight", "4", NULL };
	char *out;

	ck_assert_int_eq(run_cli(args, &out, NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "all 200 results correct"));
	free(out);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cli_tcp");
	TCase *tc = tcase_create("cli_tcp");

	if (netns_check_privileges())
		return 77;
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_gather_tcp_json);
	tcase_add_test(tc, test_gather_tcp_ctrl_fd);
	tcase_add_test(tc, test_gather_tcp_custom);
	tcase_add_test(tc, test_tcp_usage_errors);
	tcase_add_test(tc, test_run_tcp);
	tcase_add_test(tc, test_tcp_worker_cpu);
	suite_add_tcase(s, tc);
	return suite_run(s);
}
