// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * epoll contender: non-blocking sockets in a level-triggered epoll set.
 * Sends go out with sendmmsg, batched over every request started at once
 * (and over every worker when a socket is shared); every readable socket is
 * drained with recvmmsg until it is empty, so no wake-up is lost.  The
 * reduction is done in user space.
 *
 * --sockets S spreads the workers over S sockets (worker w uses socket
 * w mod S).  The default, one socket per worker, lets each socket be
 * connected so the kernel filters replies by source; a single shared socket
 * sends a whole scatter in one sendmmsg and identifies workers by the
 * replies' source addresses.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_common.h"

/* Messages per sendmmsg/recvmmsg call (the kernel caps vlen at UIO_MAXIOV). */
#define SEND_BATCH	512
#define RECV_BATCH	64
#define RECV_BUF	2048
/* recvmmsg calls per readable socket per wake-up; level triggering re-reports the rest. */
#define MAX_DRAIN	256
/* How long a sender waits for room in a full socket buffer, in 10 ms steps. */
#define SEND_RETRIES	100

struct ep_ctx {
	int ep;
	int *fds;
	uint32_t nfds;
	bool connected;		/* one connected socket per worker */
	const struct bench_opts *o;
	size_t msg_len;
	struct epoll_event *evs;
	struct mmsghdr smsg[SEND_BATCH];
	struct iovec siov[SEND_BATCH];
	struct mmsghdr rmsg[RECV_BATCH];
	struct iovec riov[RECV_BATCH];
	struct sockaddr_in rname[RECV_BATCH];
	uint8_t rbuf[RECV_BATCH][RECV_BUF];
};

/* Sends the first n queued messages of socket fd, waiting for room if needed. */
static int flush_sends(struct ep_ctx *c, int fd, uint32_t n)
{
	uint32_t done = 0, tries = 0;

	while (done < n) {
		int r = sendmmsg(fd, c->smsg + done, n - done, 0);

		if (r > 0) {
			done += (uint32_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN && tries++ < SEND_RETRIES) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };

			poll(&pfd, 1, 10);
			continue;
		}
		return r < 0 ? -errno : -EIO;
	}
	return 0;
}

static void queue_send(struct ep_ctx *c, uint32_t i, struct bench_slot *s, uint32_t w)
{
	c->siov[i] = (struct iovec){ .iov_base = &s->msg, .iov_len = c->msg_len };
	c->smsg[i].msg_hdr = (struct msghdr){
		.msg_name = c->connected ? NULL : &c->o->workers[w],
		.msg_namelen = c->connected ? 0 : sizeof(struct sockaddr_in),
		.msg_iov = &c->siov[i],
		.msg_iovlen = 1,
	};
}

static int ep_send(void *ctx, struct bench_table *t, struct bench_slot **slots, uint32_t n)
{
	struct ep_ctx *c = ctx;
	uint32_t k, w, i, q;
	int err = 0, e;

	for (k = 0; k < c->nfds; k++) {
		q = 0;
		for (i = 0; i < n; i++) {
			for (w = k; w < c->o->nworkers; w += c->nfds) {
				queue_send(c, q++, slots[i], w);
				if (q < SEND_BATCH)
					continue;
				e = flush_sends(c, c->fds[k], q);
				err = err ? err : e;
				q = 0;
			}
		}
		e = q ? flush_sends(c, c->fds[k], q) : 0;
		err = err ? err : e;
	}
	return err;
}

/* Reads everything queued on socket k; returns 0 or a fatal -errno. */
static int drain(struct ep_ctx *c, struct bench_table *t, uint32_t k)
{
	uint32_t round, i;

	for (round = 0; round < MAX_DRAIN; round++) {
		int r;

		for (i = 0; i < RECV_BATCH; i++) {
			c->riov[i] = (struct iovec){ .iov_base = c->rbuf[i], .iov_len = RECV_BUF };
			c->rmsg[i].msg_hdr = (struct msghdr){
				.msg_name = c->connected ? NULL : &c->rname[i],
				.msg_namelen = c->connected ? 0 : sizeof(c->rname[i]),
				.msg_iov = &c->riov[i],
				.msg_iovlen = 1,
			};
		}
		r = recvmmsg(c->fds[k], c->rmsg, RECV_BATCH, MSG_DONTWAIT, NULL);
		if (r < 0) {
			if (errno == EAGAIN)
				return 0;
			/* An ICMP error from a dead worker: nothing to read, keep going. */
			if (errno == EINTR || errno == ECONNREFUSED)
				continue;
			return -errno;
		}
		for (i = 0; i < (uint32_t)r; i++) {
			int w = c->connected ? (int)k : bench_table_worker(t, &c->rname[i]);

			if (w < 0) {
				t->c.bad_replies++;
				continue;
			}
			bench_table_fold(t, c->rbuf[i], c->rmsg[i].msg_len, (uint32_t)w);
		}
		/* A short batch means the queue was empty: the next call would say EAGAIN. */
		if (r < RECV_BATCH)
			return 0;
	}
	return 0;
}

static int ep_poll(void *ctx, struct bench_table *t, int timeout_ms)
{
	struct ep_ctx *c = ctx;
	int n, i, err;

	n = epoll_wait(c->ep, c->evs, (int)c->nfds, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (i = 0; i < n; i++) {
		err = drain(c, t, c->evs[i].data.u32);
		if (err)
			return err;
	}
	return 0;
}

static const struct bench_ops ep_ops = {
	.send = ep_send,
	.poll = ep_poll,
};

static int ep_open(struct ep_ctx *c, const struct bench_opts *o, uint32_t nsockets)
{
	uint32_t k, per_sock;
	int rcvbuf;

	c->o = o;
	c->msg_len = bench_msg_len(o);
	c->nfds = nsockets && nsockets < o->nworkers ? nsockets : o->nworkers;
	c->connected = c->nfds == o->nworkers;
	per_sock = (o->nworkers + c->nfds - 1) / c->nfds;
	/* Room for every outstanding reply of the socket's workers, with slack. */
	rcvbuf = (int)(per_sock * o->inflight * 4096u + 65536u);
	c->ep = epoll_create1(EPOLL_CLOEXEC);
	if (c->ep < 0)
		return -errno;
	c->fds = calloc(c->nfds, sizeof(*c->fds));
	c->evs = calloc(c->nfds, sizeof(*c->evs));
	if (!c->fds || !c->evs)
		return -ENOMEM;
	for (k = 0; k < c->nfds; k++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = k };
		int fd = bench_udp_socket(c->connected ? &o->workers[k] : NULL, rcvbuf, true);

		if (fd < 0)
			return fd;
		c->fds[k] = fd;
		if (epoll_ctl(c->ep, EPOLL_CTL_ADD, fd, &ev)) {
			close(fd);
			return -errno;
		}
	}
	return 0;
}

static void ep_close(struct ep_ctx *c)
{
	uint32_t k;

	for (k = 0; c->fds && k < c->nfds && c->fds[k] > 0; k++)
		close(c->fds[k]);
	free(c->fds);
	free(c->evs);
	if (c->ep >= 0)
		close(c->ep);
}

int main(int argc, char **argv)
{
	uint32_t nsockets = 0;
	const struct bench_extra_opts extra = bench_sockets_option(&nsockets);
	struct bench_result res;
	struct bench_table t;
	struct bench_opts o;
	struct ep_ctx *c;
	int err, ret = BENCH_EXIT_FAIL;

	err = bench_parse_opts(argc, argv, "epoll", &o, &extra);
	if (err)
		return err > 0 ? BENCH_EXIT_OK : BENCH_EXIT_USAGE;
	c = calloc(1, sizeof(*c));
	if (!c)
		goto out_opts;
	c->ep = -1;
	err = bench_pin_cpu(o.cpu);
	if (!err)
		err = bench_raise_nofile();
	if (!err)
		err = bench_table_init(&t, &o);
	if (err) {
		fprintf(stderr, "%s: setup: %s\n", o.label, strerror(-err));
		goto out_free;
	}
	err = ep_open(c, &o, nsockets);
	if (err) {
		fprintf(stderr, "%s: sockets: %s\n", o.label, strerror(-err));
		goto out_close;
	}
	err = bench_drive(&t, &o, &ep_ops, c, &res);
	if (err) {
		fprintf(stderr, "%s: run: %s\n", o.label, strerror(-err));
		goto out_close;
	}
	if (o.count)
		bench_report(&o, &res);
	ret = BENCH_EXIT_OK;

out_close:
	ep_close(c);
	bench_table_free(&t);
out_free:
	free(c);
out_opts:
	bench_opts_free(&o);
	return ret;
}
