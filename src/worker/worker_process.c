// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The stop signals and the CPU of the workers (worker_process.h). */
#define _GNU_SOURCE	/* sched_setaffinity, CPU_SET */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>

#include "cli_common.h"
#include "worker_process.h"

#define CMD "worker"

int worker_signalfd(void)
{
	sigset_t mask;
	int fd, err;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	if (pthread_sigmask(SIG_BLOCK, &mask, NULL))
		return cli_fail(CMD, "cannot block signals"), -EINVAL;
	fd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (fd < 0) {
		err = errno;
		cli_fail(CMD, "signalfd: %s", strerror(err));
		return -err;
	}
	signal(SIGPIPE, SIG_IGN);
	return fd;
}

int worker_pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		int err = errno;

		cli_fail(CMD, "cannot pin to CPU %d: %s", cpu, strerror(err));
		return -err;
	}
	return 0;
}
