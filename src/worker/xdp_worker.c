// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sgbpf worker --xdp: loads xdp_worker.bpf.c, attaches it to one interface
 * through a bpf_link (which the kernel detaches when this process dies, however
 * it dies), waits for SIGINT or SIGTERM and prints the program's counters.
 *
 * The loader does nothing per reply: the program answers in the kernel.
 */
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cli.h"
#include "cli_common.h"
#include "worker.h"
#include "worker_process.h"
#include "xdp_worker.h"
#include "xdp_worker_bpf.skel.h"

#define CMD "worker"

struct xdp_worker {
	const struct worker_opts *o;
	struct xdp_worker_bpf *skel;
	struct bpf_link *link;
	int ifindex;
	int sigfd;
	uint32_t nports;
};

static int reply_kind(const struct reply_gen *g, uint32_t *kind)
{
	switch (g->kind) {
	case REPLY_VECTOR:
		*kind = XDP_WORKER_VECTOR;
		return 0;
	case REPLY_SCALAR:
		*kind = XDP_WORKER_SCALAR;
		return 0;
	case REPLY_ZEROS:
		*kind = XDP_WORKER_ZEROS;
		return 0;
	default:
		return -EOPNOTSUPP;
	}
}

int xdp_worker_check_opts(const struct worker_opts *o)
{
	uint32_t kind;

	if (!o->dev)
		return cli_usage_error(CMD, "--xdp needs --dev IF");
	if (o->nlisten > XDP_WORKER_MAX_RANGES)
		return cli_usage_error(CMD, "--xdp matches at most %u --listen ranges",
				       XDP_WORKER_MAX_RANGES);
	if (reply_kind(&o->reply, &kind))
		return cli_usage_error(CMD, "--xdp replies with vector, scalar or zeros");
	/* XDP sends exactly one frame for each frame it receives. */
	if (o->packets != 1)
		return cli_usage_error(CMD, "--xdp sends one datagram per reply (--packets 1)");
	if (o->duplicate || o->junk || o->stray || o->delay_us || o->count_limit || o->cpu >= 0 ||
	    o->has_silent || o->ignore_first || o->expect_allgather)
		return cli_usage_error(CMD, "--xdp takes none of --duplicate, --junk, --stray, "
				       "--silent-port, --delay-us, --ignore-first, "
				       "--expect-allgather, --count-limit, --cpu");
	return -1;
}

static int load_and_attach(struct xdp_worker *w)
{
	const struct worker_opts *o = w->o;
	struct xdp_worker_bpf *s;
	uint32_t i, kind = 0;
	int err;

	w->ifindex = (int)if_nametoindex(o->dev);
	if (!w->ifindex) {
		err = -errno;
		cli_fail(CMD, "--dev %s: %s", o->dev, strerror(-err));
		return err;
	}
	s = xdp_worker_bpf__open();
	if (!s) {
		err = -errno;
		cli_fail(CMD, "cannot open the XDP worker program: %s", strerror(-err));
		return err;
	}
	w->skel = s;
	reply_kind(&o->reply, &kind);
	for (i = 0; i < o->nlisten; i++) {
		s->rodata->ranges[i].addr = o->listen[i].addr;
		s->rodata->ranges[i].port_lo = o->listen[i].first;
		s->rodata->ranges[i].port_hi = o->listen[i].last;
		w->nports += cli_range_len(&o->listen[i]);
	}
	s->rodata->nranges = o->nlisten;
	s->rodata->reply_kind = kind;
	s->rodata->pad = o->pad;
	err = xdp_worker_bpf__load(s);
	if (err) {
		cli_fail(CMD, "cannot load the XDP worker program: %s", strerror(-err));
		return err;
	}
	w->link = bpf_program__attach_xdp(s->progs.xdp_worker, w->ifindex);
	if (!w->link) {
		err = -errno;
		cli_fail(CMD, "cannot attach XDP to %s: %s%s", o->dev, strerror(-err),
			 err == -EBUSY || err == -EEXIST ? " (another XDP program holds the hook)" : "");
		return err;
	}
	return 0;
}

static int read_stats(const struct xdp_worker *w, struct xdp_worker_stats *sum)
{
	int ncpu = libbpf_num_possible_cpus(), i, err;
	struct xdp_worker_stats *v;
	uint32_t key = 0;

	memset(sum, 0, sizeof(*sum));
	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	err = bpf_map_lookup_elem(bpf_map__fd(w->skel->maps.stats), &key, v);
	if (err)
		err = -errno;
	for (i = 0; !err && i < ncpu; i++) {
		sum->scatters += v[i].scatters;
		sum->replies += v[i].replies;
		sum->malformed += v[i].malformed;
		sum->tx_errors += v[i].tx_errors;
		sum->passed += v[i].passed;
	}
	free(v);
	return err;
}

/* One write, so that the line arrives whole even on an unbuffered stderr. */
static void print_summary(const struct xdp_worker *w)
{
	struct xdp_worker_stats st;
	char line[256];
	int err = read_stats(w, &st);

	if (err) {
		cli_fail(CMD, "cannot read the XDP worker's counters: %s", strerror(-err));
		return;
	}
	snprintf(line, sizeof(line),
		 "worker: xdp on %s, %u ports, %llu requests, %llu replies, %llu malformed, "
		 "%llu tx errors, %llu passed\n",
		 w->o->dev, w->nports, (unsigned long long)st.scatters,
		 (unsigned long long)st.replies, (unsigned long long)st.malformed,
		 (unsigned long long)st.tx_errors, (unsigned long long)st.passed);
	fputs(line, stderr);
}

static void notify_ready(const struct xdp_worker *w)
{
	const struct worker_opts *o = w->o;

	if (!o->quiet)
		fprintf(stderr, "worker: listening on %u ports (xdp on %s)\n", w->nports, o->dev);
	if (o->ready_fd >= 0) {
		if (write(o->ready_fd, "ready\n", 6) != 6 && !o->quiet)
			fprintf(stderr, "worker: cannot signal readiness: %s\n", strerror(errno));
		close(o->ready_fd);
	}
}

/* Nothing to do per reply: sleep until a signal says stop. */
static int wait_for_signal(const struct xdp_worker *w)
{
	struct pollfd pfd = { .fd = w->sigfd, .events = POLLIN };
	struct signalfd_siginfo si;

	for (;;) {
		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return cli_fail(CMD, "poll: %s", strerror(errno)), -errno;
		}
		if (read(w->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			return 0;
	}
}

int xdp_worker_run(const struct worker_opts *o)
{
	struct xdp_worker w = { .o = o, .sigfd = -1 };
	int err;

	w.sigfd = worker_signalfd();
	err = w.sigfd < 0 ? w.sigfd : load_and_attach(&w);
	if (!err) {
		notify_ready(&w);
		err = wait_for_signal(&w);
		/* Detach first, so the counters read afterwards are final. */
		bpf_link__destroy(w.link);
		w.link = NULL;
		if (!o->quiet)
			print_summary(&w);
	} else if (o->ready_fd >= 0) {
		/* A parent waiting for readiness must see the pipe close, not hang. */
		close(o->ready_fd);
	}
	bpf_link__destroy(w.link);
	xdp_worker_bpf__destroy(w.skel);
	if (w.sigfd >= 0)
		close(w.sigfd);
	return err ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
