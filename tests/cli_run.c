// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE	/* pipe2 */
#include <check.h>
#include <stdint.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_run.h"
#include "netns_util.h"

int cli_run_gather(const char *const *args, char *out, size_t cap)
{
	const char *cli = getenv("SGBPF_CLI");
	char *argv[32];
	int pipefd[2], status, n = 0;
	size_t used = 0;
	ssize_t got;
	pid_t pid;

	ck_assert_msg(cli && *cli, "SGBPF_CLI is not set");
	argv[n++] = (char *)cli;
	argv[n++] = "gather";
	for (int i = 0; args[i] && n < 31; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(pipefd[1], STDOUT_FILENO);
		execv(cli, argv);
		_exit(127);
	}
	close(pipefd[1]);
	while (used + 1 < cap && (got = read(pipefd[0], out + used, cap - 1 - used)) > 0)
		used += (size_t)got;
	out[used] = '\0';
	close(pipefd[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void cli_lo_workers_file(char *path, uint32_t n, uint16_t base)
{
	int fd = mkstemp(path);
	FILE *f;

	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	for (uint32_t i = 0; i < n; i++)
		fprintf(f, "127.0.0.1:%u\n", base + i);
	ck_assert_int_eq(fclose(f), 0);
}

int cli_count_records(const char *out, const char *kv, int *with)
{
	int records = 0;

	*with = 0;
	for (const char *p = out; (p = strstr(p, "{\"request\": ")); p++) {
		const char *eol = strchr(p, '\n'), *k = strstr(p, kv);

		records++;
		if (k && (!eol || k < eol))
			(*with)++;
	}
	return records;
}

unsigned long long cli_json_field(const char *line, const char *key)
{
	const char *p = strstr(line, key);

	ck_assert_msg(p, "no %s in %.200s", key, line);
	return strtoull(p + strlen(key), NULL, 10);
}

long cli_json_result(const char *line, uint64_t *vals, size_t cap)
{
	const char *p = strstr(line, "\"result\": [");
	long n = 0;

	if (!p)
		return -1;
	p += strlen("\"result\": [");
	while (*p == ' ')
		p++;
	while (*p && *p != ']') {
		char *end;
		unsigned long long v = strtoull(p, &end, 10);

		if (end == p)
			ck_abort_msg("not a number at %.40s", p);
		if ((size_t)n < cap)
			vals[n] = v;
		n++;
		p = end;
		while (*p == ',' || *p == ' ')
			p++;
	}
	ck_assert_msg(*p == ']', "result array not closed");
	return n;
}

int cli_run_ns(const struct netns *n, const char *const *args, char *out, size_t outlen,
	       char *err, size_t errlen)
{
	const char *cli = getenv("SGBPF_CLI");
	int op[2], ep[2], status;
	char *argv[16];
	size_t k = 0, used;
	ssize_t r;
	pid_t pid;

	ck_assert_msg(cli, "SGBPF_CLI is not set");
	argv[k++] = "sgbpf";
	for (; *args && k < 15; args++)
		argv[k++] = (char *)*args;
	argv[k] = NULL;
	ck_assert_int_eq(pipe(op), 0);
	ck_assert_int_eq(pipe(ep), 0);
	fflush(NULL);
	pid = netns_fork(n);
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(op[1], STDOUT_FILENO);
		dup2(ep[1], STDERR_FILENO);
		close(op[0]);
		close(ep[0]);
		execv(cli, argv);
		_exit(127);
	}
	close(op[1]);
	close(ep[1]);
	/* The outputs are small: stdout first, stderr fits its pipe meanwhile. */
	for (used = 0; (r = read(op[0], out + used, outlen - 1 - used)) > 0;)
		used += (size_t)r;
	out[used] = '\0';
	for (used = 0; (r = read(ep[0], err + used, errlen - 1 - used)) > 0;)
		used += (size_t)r;
	err[used] = '\0';
	close(op[0]);
	close(ep[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

long long cli_json_number(const char *json, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(json, pat);
	return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}
