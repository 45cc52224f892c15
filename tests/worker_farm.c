// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "worker_farm.h"

#define MAX_ARGS 16

/* The worker's ready line: UDP ports listening, or TCP workers started. */
static bool is_ready_line(const char *line)
{
	return strstr(line, "listening on") || strstr(line, "connecting to");
}

pid_t worker_farm_exec(const struct netns *ns, const char *path, const char *const *argv)
{
	char line[256] = "";
	int pipefd[2];
	FILE *in;
	pid_t pid;

	if (pipe(pipefd))
		return -errno;
	fflush(NULL);
	pid = netns_fork(ns);
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return pid;
	}
	if (pid == 0) {
		/* The farm must not outlive the test, however the test ends. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(pipefd[0]);
		dup2(pipefd[1], STDERR_FILENO);
		execv(path, (char *const *)argv);
		_exit(127);
	}
	close(pipefd[1]);
	in = fdopen(pipefd[0], "r");
	if (!in) {
		close(pipefd[0]);
		worker_farm_stop(pid);
		return -ENOMEM;
	}
	while (fgets(line, sizeof(line), in))
		if (is_ready_line(line))
			break;
	fclose(in);
	if (!is_ready_line(line)) {
		fprintf(stderr, "worker_farm: %s did not start: %s\n", path, line);
		worker_farm_stop(pid);
		return -ECHILD;
	}
	return pid;
}

pid_t worker_farm_start_argv(const struct netns *ns, const char *const *argv)
{
	const char *cli = getenv("SGBPF_CLI");
	const char *args[MAX_ARGS] = { "sgbpf", "worker" };
	int k = 2;

	if (!cli) {
		fprintf(stderr, "worker_farm: SGBPF_CLI is not set\n");
		return -EINVAL;
	}
	for (; argv && *argv && k < MAX_ARGS - 1; argv++)
		args[k++] = *argv;
	args[k] = NULL;
	return worker_farm_exec(ns, cli, args);
}

/*
 * A farm's ports must lie outside the namespace's ephemeral range: a socket
 * bound to port 0 there (a stray-reply socket, a client) could take one of
 * them before the farm binds it, and the farm would fail to start at random.
 */
static int check_outside_ephemeral(const struct netns *ns, const char *listen)
{
	const char *colon = strrchr(listen, ':');
	unsigned long first, last, lo, hi;
	char range[64], *end;
	int err;

	if (!colon)
		return 0;
	err = netns_sysctl_read(ns, "net/ipv4/ip_local_port_range", range, sizeof(range));
	if (err)
		return err;
	if (sscanf(range, "%lu %lu", &lo, &hi) != 2)
		return -EINVAL;
	first = strtoul(colon + 1, &end, 10);
	last = *end == '-' ? strtoul(end + 1, NULL, 10) : first;
	if (last < lo || first > hi)
		return 0;
	fprintf(stderr, "worker_farm: %s overlaps the namespace's ephemeral ports %lu-%lu\n",
		listen, lo, hi);
	return -ERANGE;
}

pid_t worker_farm_start(const struct netns *ns, const char *listen, const char *const *extra)
{
	const char *args[MAX_ARGS] = { "--listen", listen };
	int k = 2, err;

	err = check_outside_ephemeral(ns, listen);
	if (err)
		return err;

	for (; extra && *extra && k < MAX_ARGS - 3; extra++)
		args[k++] = *extra;
	args[k] = NULL;
	return worker_farm_start_argv(ns, args);
}

void worker_farm_stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

pid_t worker_farm_start_silent(const struct netns *ns, uint16_t port)
{
	char listen[32], num[8];

	snprintf(num, sizeof(num), "%u", port);
	snprintf(listen, sizeof(listen), "127.0.0.1:%s", num);
	return worker_farm_start(ns, listen, (const char *const[]){ "--silent-port", num, NULL });
}
