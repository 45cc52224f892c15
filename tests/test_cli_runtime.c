// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The CLI at run time, inside a namespace of its own with reference workers
 * on its lo: SIGINT and SIGTERM stop 'sgbpf gather' cleanly (whole JSON
 * lines, a summary, exit 130/143), also from inside a block-mode scatter
 * that has no timeout, its memory stays flat over a long run,
 * and a bad --reduce-obj gets a message in words.
 *
 * SGBPF_SOAK_FULL=1 runs the memory soak at full size (5 M requests instead
 * of 300 000).
 */
#define _GNU_SOURCE	/* pipe2 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include <arpa/inet.h>

#include <sgbpf/sgbpf.h>

#include "netns_suite.h"
#include "netns_util.h"
#include "worker_farm.h"

#define NWORKERS 4

static struct netns ns;
static pid_t farm;
static char workers_path[64];
static char text_path[64];

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void write_file(char *path, const char *text)
{
	int fd;

	strcpy(path, "/tmp/sgbpf-clirt-XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void setup(void)
{
	ck_assert_int_eq(netns_create(&ns, "clirt"), 0);
	ck_assert_int_eq(netns_link_up(&ns, "lo"), 0);
	farm = worker_farm_start(&ns, "127.0.0.1:37000-37003",
				 (const char *const[]){ "--reply", "vector", NULL });
	ck_assert_int_gt(farm, 0);
	write_file(workers_path, "127.0.0.1:37000\n127.0.0.1:37001\n127.0.0.1:37002\n"
				 "127.0.0.1:37003\n");
	write_file(text_path, "this is not a BPF object\n");
}

static void teardown(void)
{
	unlink(workers_path);
	unlink(text_path);
	worker_farm_stop(farm);
	netns_delete(&ns);
}

/* Starts the CLI inside the namespace with stdout on a pipe (*out) and stderr on *err. */
static pid_t start_cli(const char *const *args, int *out, int *err)
{
	char *argv[24];
	int po[2], pe[2], n = 0;
	pid_t pid;

	argv[n++] = getenv("SGBPF_CLI");
	ck_assert_ptr_nonnull(argv[0]);
	while (*args && n < 23)
		argv[n++] = (char *)*args++;
	argv[n] = NULL;
	ck_assert_int_eq(pipe2(po, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(pe, O_CLOEXEC), 0);
	pid = netns_fork(&ns);
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(po[1], STDOUT_FILENO);
		dup2(pe[1], STDERR_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	*out = po[0];
	*err = pe[0];
	return pid;
}

/* What a stream of JSON lines looked like: whole lines only, and the last one. */
struct lines {
	uint64_t n, broken;
	char first;		/* first byte of the current line */
	char prev;		/* last byte seen */
	size_t cur_len;
	char cur[8192];		/* the current line (start of it) */
	char last[8192];	/* the last whole line */
};

static void feed(struct lines *l, const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = buf[i];

		if (c == '\n') {
			l->n++;
			if (l->first != '{' || l->prev != '}')
				l->broken++;
			l->cur[l->cur_len < sizeof(l->cur) ? l->cur_len : sizeof(l->cur) - 1] = '\0';
			memcpy(l->last, l->cur, sizeof(l->last));
			l->cur_len = 0;
			l->first = 0;
			l->prev = 0;
			continue;
		}
		if (!l->cur_len)
			l->first = c;
		if (l->cur_len < sizeof(l->cur) - 1)
			l->cur[l->cur_len] = c;
		l->cur_len++;
		l->prev = c;
	}
}

/* Drains out and err until both close or deadline; out goes to l, err to errbuf. */
static void drain(int *out, int *err, struct lines *l, char *errbuf, size_t errcap, long until)
{
	size_t eused = strlen(errbuf);
	char buf[65536];

	while ((*out >= 0 || *err >= 0) && now_ms() < until) {
		struct pollfd pf[2] = { { *out, POLLIN, 0 }, { *err, POLLIN, 0 } };
		ssize_t got;

		if (poll(pf, 2, 50) <= 0)
			continue;
		if (pf[0].revents) {
			got = read(*out, buf, sizeof(buf));
			if (got <= 0)
				*out = (close(*out), -1);
			else if (l)
				feed(l, buf, (size_t)got);
		}
		if (pf[1].revents) {
			got = read(*err, buf, sizeof(buf));
			if (got <= 0) {
				*err = (close(*err), -1);
			} else {
				size_t k = (size_t)got < errcap - 1 - eused ? (size_t)got :
					   errcap - 1 - eused;

				memcpy(errbuf + eused, buf, k);
				eused += k;
				errbuf[eused] = '\0';
			}
		}
	}
}

static const int stop_signals[] = { SIGINT, SIGTERM };

START_TEST(test_signal_stops_cleanly)
{
	int sig = stop_signals[_i], out, err, status;
	static struct lines l;
	char errbuf[4096] = "";
	pid_t pid;
	long t0;

	memset(&l, 0, sizeof(l));
	pid = start_cli((const char *const[]){ "gather", "--dev", "lo", "--workers", workers_path,
					       "--count", "1000000000", "--inflight", "8",
					       "--json", NULL }, &out, &err);
	drain(&out, &err, &l, errbuf, sizeof(errbuf), now_ms() + 700);
	ck_assert_msg(l.n > 10, "only %llu lines in 0.7 s; stderr: %s", (unsigned long long)l.n,
		      errbuf);
	ck_assert_int_eq(kill(pid, sig), 0);
	t0 = now_ms();
	drain(&out, &err, &l, errbuf, sizeof(errbuf), now_ms() + 5000);
	if (out >= 0 || err >= 0)
		kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "killed by signal %d instead of stopping (stderr: %s)",
		      WIFSIGNALED(status) ? WTERMSIG(status) : 0, errbuf);
	ck_assert_int_eq(WEXITSTATUS(status), 128 + sig);
	ck_assert_msg(now_ms() - t0 < 3000, "took %ld ms to stop", now_ms() - t0);
	ck_assert_msg(l.broken == 0 && l.cur_len == 0, "%llu broken lines, %zu bytes unfinished",
		      (unsigned long long)l.broken, l.cur_len);
	ck_assert_msg(strncmp(l.last, "{\"summary\": ", 12) == 0, "last line: %s", l.last);
	ck_assert_ptr_nonnull(strstr(l.last, sig == SIGINT ? "\"stopped_by\": \"SIGINT\"" :
							     "\"stopped_by\": \"SIGTERM\""));
	/* Every request sent was reported: one line each before the summary. */
	ck_assert_ptr_nonnull(strstr(l.last, "\"abandoned\": 0"));
}
END_TEST

/*
 * Block mode waits inside the scatter; with no timeout and a worker that
 * never answers, only the signal can end that wait.
 */
START_TEST(test_signal_stops_block_mode)
{
	int out, err, status;
	char errbuf[4096] = "", silent[64];
	static struct lines l;
	pid_t pid;
	long t0;

	memset(&l, 0, sizeof(l));
	write_file(silent, "127.0.0.1:37100\n");	/* nobody listens there */
	pid = start_cli((const char *const[]){ "gather", "--dev", "lo", "--workers", silent,
					       "--count", "5", "--delivery", "block",
					       "--timeout-us", "0", "--json", NULL }, &out, &err);
	drain(&out, &err, &l, errbuf, sizeof(errbuf), now_ms() + 700);
	unlink(silent);
	ck_assert_int_eq(kill(pid, SIGINT), 0);
	t0 = now_ms();
	drain(&out, &err, &l, errbuf, sizeof(errbuf), now_ms() + 5000);
	if (out >= 0 || err >= 0)
		kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 130,
		      "status 0x%x after SIGINT in block mode (stderr: %s)", status, errbuf);
	ck_assert_msg(now_ms() - t0 < 4000, "took %ld ms to stop", now_ms() - t0);
	ck_assert_msg(strncmp(l.last, "{\"summary\": ", 12) == 0, "last line: %s", l.last);
	/* The one request in flight could not finish: it is abandoned, and said so. */
	ck_assert_msg(strstr(l.last, "\"abandoned\": 1"), "summary: %s", l.last);
}
END_TEST

static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

/* Memory does not grow with the number of requests (latencies in a histogram). */
START_TEST(test_memory_flat_over_a_long_run)
{
	const char *count = getenv("SGBPF_SOAK_FULL") ? "5000000" : "300000";
	/* The first sample once set-up (BPF load, ring and buffer mappings) is over. */
	long first = -1, peak = -1, t0 = now_ms(), next = t0 + 1500;
	char errbuf[4096] = "";
	int out, err, status;
	pid_t pid;

	pid = start_cli((const char *const[]){ "gather", "--dev", "lo", "--workers", workers_path,
					       "--count", count, "--inflight", "16", NULL },
			&out, &err);
	while (out >= 0 || err >= 0) {
		drain(&out, &err, NULL, errbuf, sizeof(errbuf), next);
		if (now_ms() >= next) {
			long kb = rss_kb(pid);

			if (kb > 0 && first < 0)
				first = kb;
			if (kb > peak)
				peak = kb;
			next = now_ms() + 200;
		}
		if (now_ms() - t0 > 280000) {
			kill(pid, SIGKILL);
			break;
		}
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "gather failed: %s", errbuf);
	ck_assert_msg(first > 0, "no RSS sample");
	fprintf(stderr, "gather --count %s: RSS %ld kB at 1.5 s, peak %ld kB, %.1f s\n", count,
		first, peak, (now_ms() - t0) / 1000.0);
	/* Today's array grew 8 bytes a request: 2.4 MB over the CI run. */
	ck_assert_msg(peak - first < 512, "RSS grew from %ld kB to %ld kB", first, peak);
}
END_TEST

static void no_result(const struct sgbpf_result *res, void *ctx)
{
}

/* libbpf's own error numbers come out in words, with the file named. */
START_TEST(test_reduce_obj_message)
{
	struct sgbpf_endpoint ep = { .addr = htonl(0x7f000001), .port = 37000 };
	SGBPF_OPTS(sgbpf_service_opts, so, .ifname = "lo", .workers = &ep, .nworkers = 1,
		   .reduce = SGBPF_REDUCE_CUSTOM, .reduce_obj = text_path, .reduce_elem_size = 4,
		   .on_complete = no_result);
	struct sgbpf_service *svc;

	ck_assert_int_eq(netns_enter(&ns, NULL), 0);
	svc = sgbpf_service_create(&so);
	ck_assert_ptr_null(svc);
	ck_assert_msg(!strstr(sgbpf_last_error(), "Unknown error"), "%s", sgbpf_last_error());
	ck_assert_msg(strstr(sgbpf_last_error(), text_path), "%s", sgbpf_last_error());
	so.reduce_obj = "/tmp";
	ck_assert_ptr_null(sgbpf_service_create(&so));
	ck_assert_msg(!strstr(sgbpf_last_error(), "Unknown error"), "%s", sgbpf_last_error());
}
END_TEST

/*
 * A worker that answers twice: every complete record says so
 * ("duplicates": 1 per such worker), and the result is still exact.
 */
START_TEST(test_json_duplicates)
{
	static char outbuf[1 << 20];
	char dup_path[64], errbuf[4096] = "";
	size_t used = 0;
	pid_t dup_farm, pid;
	int out, err, status, records = 0, with_dups = 0;
	ssize_t got;

	dup_farm = worker_farm_start(&ns, "127.0.0.1:37010-37011",
				     (const char *const[]){ "--reply", "vector", "--duplicate", NULL });
	ck_assert_int_gt(dup_farm, 0);
	write_file(dup_path, "127.0.0.1:37000\n127.0.0.1:37010\n127.0.0.1:37011\n");
	pid = start_cli((const char *const[]){ "gather", "--dev", "lo", "--workers", dup_path,
					       "--count", "20", "--json", "--timeout-us", "500000",
					       NULL },
			&out, &err);
	while ((got = read(out, outbuf + used, sizeof(outbuf) - 1 - used)) > 0)
		used += (size_t)got;
	outbuf[used] = '\0';
	close(out);
	drain(&(int){ -1 }, &err, NULL, errbuf, sizeof(errbuf), now_ms() + 5000);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	worker_farm_stop(dup_farm);
	unlink(dup_path);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "gather: %s", errbuf);
	for (const char *p = outbuf; (p = strstr(p, "\"request\": ")); p++) {
		const char *eol = strchr(p, '\n'), *d = strstr(p, "\"duplicates\": ");

		records++;
		if (d && (!eol || d < eol)) {
			ck_assert_msg(strtoul(d + 14, NULL, 10) >= 1, "record: %.80s", p);
			with_dups++;
		}
	}
	ck_assert_int_eq(records, 20);
	/* Each copy may arrive after the request completed (then it is stale). */
	ck_assert_msg(with_dups > 0, "no record carries duplicates: %.200s", outbuf);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cli_runtime");
	TCase *tc = tcase_create("runtime");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_signal_stops_cleanly, 0, 2);
	tcase_add_test(tc, test_signal_stops_block_mode);
	tcase_add_test(tc, test_memory_flat_over_a_long_run);
	tcase_add_test(tc, test_reduce_obj_message);
	tcase_add_test(tc, test_json_duplicates);
	tcase_set_timeout(tc, 300);
	suite_add_tcase(s, tc);
	return netns_suite_run(s);
}
