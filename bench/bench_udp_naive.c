// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Naive contender: one blocking socket per worker, one send per worker, then
 * one blocking receive per socket, reduction in user space.  This is what a
 * scatter-gather looks like when nobody has optimised it: 2N system calls
 * per request.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "bench_common.h"

struct naive {
	int *fds;		/* one connected socket per worker */
	uint32_t nfds;
	size_t msg_len;
	uint64_t round_ns;	/* longest a receive round may block */
	uint8_t buf[2048];
};

static int naive_send(void *ctx, struct bench_table *t, struct bench_slot **slots, uint32_t n)
{
	struct naive *nv = ctx;
	uint32_t i, w;
	int err = 0;

	for (i = 0; i < n; i++) {
		for (w = 0; w < nv->nfds; w++) {
			ssize_t r;

			do
				r = send(nv->fds[w], &slots[i]->msg, nv->msg_len, 0);
			while (r < 0 && errno == EINTR);
			/* Keep going: one refused worker must not stop the others. */
			if (r < 0 && !err)
				err = -errno;
		}
	}
	return err;
}

/* Receives one datagram from every socket in turn (a "round"). */
static int naive_poll(void *ctx, struct bench_table *t, int timeout_ms)
{
	struct naive *nv = ctx;
	uint64_t end = bench_now_ns() + nv->round_ns;
	uint32_t w;

	for (w = 0; w < nv->nfds && t->inflight; w++) {
		/* Past the round's budget the rest of the round only takes what is queued. */
		int flags = bench_now_ns() < end ? 0 : MSG_DONTWAIT;
		ssize_t r;

		do
			r = recv(nv->fds[w], nv->buf, sizeof(nv->buf), flags);
		while (r < 0 && errno == EINTR);
		if (r < 0) {
			/* Timed out or refused: the request expires in the table. */
			if (errno == EAGAIN || errno == ECONNREFUSED)
				continue;
			return -errno;
		}
		bench_table_fold(t, nv->buf, (size_t)r, w);
	}
	return 0;
}

static const struct bench_ops naive_ops = {
	.send = naive_send,
	.poll = naive_poll,
};

static int naive_open(struct naive *nv, const struct bench_opts *o)
{
	struct timeval tv = {
		.tv_sec = o->timeout_us / 1000000,
		.tv_usec = o->timeout_us % 1000000,
	};
	/* Room for every outstanding reply of this worker, with slack. */
	int rcvbuf = (int)(o->inflight * 4096u + 65536u);
	uint32_t w;

	nv->fds = calloc(o->nworkers, sizeof(*nv->fds));
	if (!nv->fds)
		return -ENOMEM;
	nv->msg_len = bench_msg_len(o);
	nv->round_ns = o->timeout_us * 1000;
	for (w = 0; w < o->nworkers; w++) {
		int fd = bench_udp_socket(&o->workers[w], rcvbuf, false);

		if (fd < 0)
			return fd;
		nv->fds[nv->nfds++] = fd;
		if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))
			return -errno;
	}
	return 0;
}

static void naive_close(struct naive *nv)
{
	while (nv->nfds)
		close(nv->fds[--nv->nfds]);
	free(nv->fds);
	nv->fds = NULL;
}

int main(int argc, char **argv)
{
	struct bench_result res;
	struct bench_table t;
	struct bench_opts o;
	struct naive *nv;
	int err, ret = BENCH_EXIT_FAIL;

	err = bench_parse_opts(argc, argv, "naive", &o, NULL);
	if (err)
		return err > 0 ? BENCH_EXIT_OK : BENCH_EXIT_USAGE;
	nv = calloc(1, sizeof(*nv));
	if (!nv)
		goto out_opts;
	err = bench_pin_cpu(o.cpu);
	if (!err)
		err = bench_raise_nofile();
	if (!err)
		err = bench_table_init(&t, &o);
	if (err) {
		fprintf(stderr, "naive: setup: %s\n", strerror(-err));
		goto out_free;
	}
	err = naive_open(nv, &o);
	if (err) {
		fprintf(stderr, "naive: sockets: %s\n", strerror(-err));
		goto out_close;
	}
	err = bench_drive(&t, &o, &naive_ops, nv, &res);
	if (err) {
		fprintf(stderr, "naive: run: %s\n", strerror(-err));
		goto out_close;
	}
	if (o.count)
		bench_report(&o, &res);
	ret = BENCH_EXIT_OK;

out_close:
	naive_close(nv);
	bench_table_free(&t);
out_free:
	free(nv);
out_opts:
	bench_opts_free(&o);
	return ret;
}
