// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The stop signals of the UDP and XDP workers (worker_signals.h). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>

#include "cli_common.h"
#include "worker_signals.h"

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
