// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The reference UDP worker (sgbpf worker) serving many ports in one process.
 *
 * Every listened port answers each well-formed scatter message with a reply
 * whose contents come from reply_gen.h, so that whoever gathers the replies
 * can check the reduced result.  Switches make it misbehave on purpose
 * (duplicates, junk, replies from a stray port, silent ports, delays) for
 * robustness tests.
 *
 * Why io_uring and not epoll: this process stands in for hundreds of workers
 * on a 2-core machine while the coordinator under test runs on the same
 * cores, so its own cost must stay small.  One scatter makes every listened
 * socket readable at once.  With epoll, even with recvmmsg/sendmmsg batching,
 * each ready socket costs a receive call and a send call: about two system
 * calls per reply, ~1000 per request at 512 workers.  With a multishot
 * recvmsg armed on every socket and one provided-buffer ring shared by all of
 * them, the kernel posts each datagram as a completion, and one
 * io_uring_enter() both submits the replies to all sockets and reaps the next
 * requests: system calls per request fall to a handful, and the farm's cost
 * is the datagrams themselves.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli_common.h"
#include "udp_worker.h"

static void notify_ready(struct udp_worker *w)
{
	const struct worker_opts *o = w->o;

	if (!o->quiet)
		fprintf(stderr, "worker: listening on %u ports\n", w->nsocks);
	if (o->ready_fd >= 0) {
		if (write(o->ready_fd, "ready\n", 6) != 6 && !o->quiet)
			fprintf(stderr, "worker: cannot signal readiness: %s\n", strerror(errno));
		close(o->ready_fd);
		w->ready_sent = true;
	}
}

/* One write, so that the line arrives whole even on an unbuffered stderr. */
static void print_summary(const struct udp_worker *w)
{
	char line[256];
	int len;

	len = snprintf(line, sizeof(line),
		       "worker: %u ports, %" PRIu64 " requests, %" PRIu64 " replies, %" PRIu64
		       " malformed", w->nsocks, w->requests, w->replies, w->malformed);
	if (w->o->expect_allgather)
		len += snprintf(line + len, sizeof(line) - (size_t)len, ", %" PRIu64
				" all-gathers, %" PRIu64 " for unknown requests", w->allgathers,
				w->allgather_unknown);
	if (w->o->ignore_first)
		len += snprintf(line + len, sizeof(line) - (size_t)len, ", %" PRIu64 " ignored",
				w->ignored);
	if (w->send_errors)
		len += snprintf(line + len, sizeof(line) - (size_t)len, ", %" PRIu64 " send errors",
				w->send_errors);
	snprintf(line + len, sizeof(line) - (size_t)len, "\n");
	fputs(line, stderr);
}

int udp_worker_run(const struct worker_opts *o)
{
	struct udp_worker w = { .o = o, .sigfd = -1 };
	int err;

	err = udp_worker_setup(&w);
	if (!err)
		err = udp_worker_arm(&w);
	if (err)
		goto cleanup;
	notify_ready(&w);

	err = udp_worker_loop(&w);
	udp_worker_drain(&w);
	if (!o->quiet)
		print_summary(&w);
cleanup:
	/* A parent waiting for readiness must see the pipe close, not hang. */
	if (o->ready_fd >= 0 && !w.ready_sent)
		close(o->ready_fd);
	udp_worker_cleanup(&w);
	return err ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
