// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * TCP epoll contender: one accepted non-blocking connection per worker in a
 * level-triggered epoll set.  A request is one send() per connection; each
 * readable connection is read with recv() into one buffer and framed and
 * summed in user space (bench_tcp_common.c) as the bytes come.
 *
 * Each wake-up reads at most READS_PER_EVENT buffers per connection: a
 * worker streaming a megabyte must not starve the others, and level
 * triggering reports whatever is left at the next epoll_wait().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_tcp_common.h"

#define RX_BUF			(256u * 1024u)
#define READS_PER_EVENT		4
#define MAX_EVENTS		1024

struct ep_ctx {
	struct btcp b;
	int ep;
	uint8_t *buf;
	struct epoll_event ev[MAX_EVENTS];
};

static int ep_send(void *ctx, struct bench_table *t, struct bench_slot **slots, uint32_t n)
{
	struct ep_ctx *c = ctx;

	for (uint32_t i = 0; i < n; i++) {
		btcp_start(&c->b, slots[i]);
		if (btcp_send_all(&c->b, slots[i])) {
			t->c.send_errors++;
			bench_table_fail(t, slots[i]);
		}
	}
	return 0;
}

/* Reads what connection w has, a few buffers at most.  0 or -errno (ends the run). */
static int drain(struct ep_ctx *c, uint32_t w)
{
	struct btcp_conn *conn = &c->b.conns[w];

	for (int round = 0; round < READS_PER_EVENT; round++) {
		ssize_t r = recv(conn->fd, c->buf, RX_BUF, 0);
		int err;

		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			return -errno;
		}
		if (r == 0)
			return -ECONNRESET;	/* a worker left: the run cannot go on */
		err = btcp_feed(&c->b, conn, c->buf, (size_t)r);
		if (err)
			return err;
		if ((size_t)r < RX_BUF)
			return 0;	/* most likely empty now; saves the EAGAIN call */
	}
	return 0;
}

static int ep_poll(void *ctx, struct bench_table *t, int timeout_ms)
{
	struct ep_ctx *c = ctx;
	int n, err;

	(void)t;
	n = epoll_wait(c->ep, c->ev, MAX_EVENTS, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		err = drain(c, c->ev[i].data.u32);
		if (err)
			return err;
	}
	return 0;
}

static const struct bench_ops ep_ops = {
	.send = ep_send,
	.poll = ep_poll,
};

static int ep_open(struct ep_ctx *c)
{
	int err = btcp_accept_all(&c->b);

	if (err)
		return err;
	c->ep = epoll_create1(EPOLL_CLOEXEC);
	if (c->ep < 0)
		return -errno;
	for (uint32_t w = 0; w < c->b.nconns; w++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = w };

		if (epoll_ctl(c->ep, EPOLL_CTL_ADD, c->b.conns[w].fd, &ev))
			return -errno;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct btcp_args a = { 0 };
	struct bench_result res;
	struct bench_table t;
	struct bench_opts o;
	struct ep_ctx *c;
	int err, ret = BENCH_EXIT_FAIL;

	err = btcp_parse_opts(argc, argv, "tcp_epoll", &o, &a);
	if (err)
		return err > 0 ? BENCH_EXIT_OK : BENCH_EXIT_USAGE;
	c = calloc(1, sizeof(*c));
	if (!c)
		goto out_opts;
	c->ep = -1;
	c->buf = malloc(RX_BUF);
	err = c->buf ? bench_pin_cpu(o.cpu) : -ENOMEM;
	if (!err)
		err = bench_raise_nofile();
	if (!err)
		err = bench_table_init(&t, &o);
	if (err) {
		fprintf(stderr, "%s: setup: %s\n", o.label, strerror(-err));
		goto out_free;
	}
	err = btcp_init(&c->b, &t, &a);
	if (!err)
		err = ep_open(c);
	if (!err)
		err = bench_drive(&t, &o, &ep_ops, c, &res);
	if (err) {
		fprintf(stderr, "%s: %s\n", o.label, strerror(-err));
		goto out_close;
	}
	if (o.count)
		bench_report(&o, &res);
	ret = BENCH_EXIT_OK;

out_close:
	if (c->ep >= 0)
		close(c->ep);
	btcp_close(&c->b);
	bench_table_free(&t);
out_free:
	free(c->buf);
	free(c);
out_opts:
	bench_opts_free(&o);
	return ret;
}
