// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * TCP io_uring contender: the sends of every request started at once go
 * into the submission ring and leave with the io_uring_enter() that waits;
 * successful sends post no completion.  Each connection has one multishot
 * recv drawing from a ring-mapped provided-buffer ring, so received bytes
 * cost no system call of their own; they are framed and summed in user
 * space (bench_tcp_common.c) and the buffer goes straight back to the ring.
 * A multishot recv ends when the ring runs dry (-ENOBUFS): it is armed again
 * after the buffers of that batch were returned.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <liburing.h>

#include "bench_tcp_common.h"

#define BGID		0
#define BUF_SIZE	(64u * 1024u)
#define NBUFS		256u		/* 16 MiB of receive buffers */
#define SQ_ENTRIES	4096u

/* user_data: the top byte says what completed. */
#define TAG_RECV	(1ull << 56)
#define TAG_SEND	(2ull << 56)
#define TAG_MASK	(0xffull << 56)

struct ur_ctx {
	struct btcp b;
	struct io_uring ring;
	bool ring_ready;
	struct io_uring_buf_ring *br;
	size_t br_len;
	uint8_t *bufs;
	int br_mask;
	bool br_registered;
	uint32_t *rearm;		/* connections whose multishot recv ended */
	uint32_t nrearm;
	size_t msg_len;
};

static struct io_uring_sqe *get_sqe(struct ur_ctx *c)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&c->ring);

	if (!sqe && io_uring_submit(&c->ring) >= 0)
		sqe = io_uring_get_sqe(&c->ring);
	return sqe;
}

static int arm_recv(struct ur_ctx *c, uint32_t w)
{
	struct io_uring_sqe *sqe = get_sqe(c);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_recv_multishot(sqe, c->b.conns[w].fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID;
	io_uring_sqe_set_data64(sqe, TAG_RECV | w);
	return 0;
}

static int ur_send(void *ctx, struct bench_table *t, struct bench_slot **slots, uint32_t n)
{
	struct ur_ctx *c = ctx;

	(void)t;
	for (uint32_t i = 0; i < n; i++) {
		struct bench_slot *s = slots[i];

		btcp_start(&c->b, s);
		for (uint32_t w = 0; w < c->b.nconns; w++) {
			struct io_uring_sqe *sqe = get_sqe(c);

			if (!sqe)
				return -EBUSY;
			/*
			 * MSG_WAITALL: io_uring retries a short send on a stream
			 * socket itself, so a completion is only ever all or an
			 * error, and the worker's stream stays framed.
			 */
			io_uring_prep_send(sqe, c->b.conns[w].fd, &s->msg, c->msg_len, MSG_WAITALL);
			sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
			io_uring_sqe_set_data64(sqe, TAG_SEND | s->req_id);
		}
	}
	/* Submitted by the next ur_poll(), together with its wait. */
	return 0;
}

/* Reaps every CQE; returns the buffers to the ring.  0 or -errno (ends the run). */
static int reap(struct ur_ctx *c, struct bench_table *t)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0, returned = 0;
	int err = 0;

	io_uring_for_each_cqe(&c->ring, head, cqe) {
		uint64_t data = cqe->user_data;
		uint32_t w = (uint32_t)(data & 0xffffffffu);

		seen++;
		if ((data & TAG_MASK) == TAG_SEND) {
			struct bench_slot *s = bench_table_find(t, (uint32_t)data);

			t->c.send_errors++;
			if (s)
				bench_table_fail(t, s);
			continue;
		}
		if ((data & TAG_MASK) != TAG_RECV || w >= c->b.nconns)
			continue;
		if (cqe->flags & IORING_CQE_F_BUFFER) {
			uint32_t bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
			uint8_t *buf = c->bufs + (size_t)bid * BUF_SIZE;

			if (cqe->res > 0 && !err)
				err = btcp_feed(&c->b, &c->b.conns[w], buf, (size_t)cqe->res);
			io_uring_buf_ring_add(c->br, buf, BUF_SIZE, (unsigned short)bid, c->br_mask,
					      (int)returned++);
		}
		if (cqe->res == 0 && !err)
			err = -ECONNRESET;	/* a worker left: the run cannot go on */
		else if (cqe->res < 0 && cqe->res != -ENOBUFS && !err)
			err = cqe->res;
		if (!(cqe->flags & IORING_CQE_F_MORE))
			c->rearm[c->nrearm++] = w;
	}
	if (returned)
		io_uring_buf_ring_advance(c->br, (int)returned);
	io_uring_cq_advance(&c->ring, seen);
	return err;
}

static int ur_poll(void *ctx, struct bench_table *t, int timeout_ms)
{
	struct ur_ctx *c = ctx;
	struct __kernel_timespec ts = {
		.tv_sec = timeout_ms / 1000,
		.tv_nsec = (long long)(timeout_ms % 1000) * 1000000,
	};
	struct io_uring_cqe *cqe;
	int err;

	/*
	 * One io_uring_enter(): submit what is queued, wait for one completion.
	 * A TCP reply arrives in an unknown number of pieces, so there is no
	 * count of completions that means "a request is done" to wait for.
	 */
	err = io_uring_submit_and_wait_timeout(&c->ring, &cqe, 1, &ts, NULL);
	if (err < 0 && err != -ETIME && err != -EINTR && err != -EAGAIN && err != -EBUSY)
		return err;
	err = reap(c, t);
	for (uint32_t i = 0; i < c->nrearm && !err; i++)
		err = arm_recv(c, c->rearm[i]);
	c->nrearm = 0;
	return err;
}

static const struct bench_ops ur_ops = {
	.send = ur_send,
	.poll = ur_poll,
};

static int setup_ring(struct ur_ctx *c)
{
	struct io_uring_params p = {
		.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER |
			 IORING_SETUP_DEFER_TASKRUN,
		.cq_entries = 4 * SQ_ENTRIES,
	};
	int err;

	err = io_uring_queue_init_params(SQ_ENTRIES, &c->ring, &p);
	if (err == -EINVAL) {
		/* Kernels before 6.1 lack deferred task running; the cost is extra wake-ups. */
		p = (struct io_uring_params){
			.flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN,
			.cq_entries = 4 * SQ_ENTRIES,
		};
		err = io_uring_queue_init_params(SQ_ENTRIES, &c->ring, &p);
	}
	if (err)
		return err;
	c->ring_ready = true;
	return 0;
}

/*
 * liburing 2.3 has no io_uring_setup_buf_ring(): map the ring ourselves
 * (page aligned, as the kernel requires), register it, then fill it.
 */
static int setup_buf_ring(struct ur_ctx *c)
{
	struct io_uring_buf_reg reg = { 0 };
	int err;

	c->br_len = (size_t)NBUFS * sizeof(struct io_uring_buf);
	c->br = mmap(NULL, c->br_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c->br == MAP_FAILED) {
		c->br = NULL;
		return -errno;
	}
	c->bufs = malloc((size_t)NBUFS * BUF_SIZE);
	if (!c->bufs)
		return -ENOMEM;
	io_uring_buf_ring_init(c->br);
	reg.ring_addr = (uint64_t)(uintptr_t)c->br;
	reg.ring_entries = NBUFS;
	reg.bgid = BGID;
	err = io_uring_register_buf_ring(&c->ring, &reg, 0);
	if (err)
		return err;
	c->br_registered = true;
	c->br_mask = io_uring_buf_ring_mask(NBUFS);
	for (uint32_t i = 0; i < NBUFS; i++)
		io_uring_buf_ring_add(c->br, c->bufs + (size_t)i * BUF_SIZE, BUF_SIZE,
				      (unsigned short)i, c->br_mask, (int)i);
	io_uring_buf_ring_advance(c->br, (int)NBUFS);
	return 0;
}

static int ur_open(struct ur_ctx *c, const struct bench_opts *o)
{
	int err;

	c->msg_len = bench_msg_len(o);
	c->rearm = calloc(c->b.nconns, sizeof(*c->rearm));
	if (!c->rearm)
		return -ENOMEM;
	err = setup_ring(c);
	if (!err)
		err = setup_buf_ring(c);
	if (!err)
		err = btcp_accept_all(&c->b);
	for (uint32_t w = 0; !err && w < c->b.nconns; w++)
		err = arm_recv(c, w);
	if (err)
		return err;
	err = io_uring_submit(&c->ring);
	return err < 0 ? err : 0;
}

static void ur_close(struct ur_ctx *c)
{
	/* Closing the ring first cancels the multishot receives that use the sockets. */
	if (c->br_registered)
		io_uring_unregister_buf_ring(&c->ring, BGID);
	if (c->ring_ready)
		io_uring_queue_exit(&c->ring);
	btcp_close(&c->b);
	if (c->br)
		munmap(c->br, c->br_len);
	free(c->bufs);
	free(c->rearm);
}

int main(int argc, char **argv)
{
	struct btcp_args a = { 0 };
	struct bench_result res;
	struct bench_table t;
	struct bench_opts o;
	struct ur_ctx *c;
	int err, ret = BENCH_EXIT_FAIL;

	err = btcp_parse_opts(argc, argv, "tcp_io_uring", &o, &a);
	if (err)
		return err > 0 ? BENCH_EXIT_OK : BENCH_EXIT_USAGE;
	c = calloc(1, sizeof(*c));
	if (!c)
		goto out_opts;
	err = bench_pin_cpu(o.cpu);
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
		err = ur_open(c, &o);
	if (err) {
		fprintf(stderr, "%s: setup: %s\n", o.label, strerror(-err));
		/* A kernel without io_uring (or with it disabled) cannot run this contender. */
		if (err == -ENOSYS || err == -EPERM)
			ret = BENCH_EXIT_UNAVAILABLE;
		goto out_close;
	}
	err = bench_drive(&t, &o, &ur_ops, c, &res);
	if (err) {
		fprintf(stderr, "%s: run: %s\n", o.label, strerror(-err));
		goto out_close;
	}
	if (o.count)
		bench_report(&o, &res);
	ret = BENCH_EXIT_OK;

out_close:
	ur_close(c);
	bench_table_free(&t);
out_free:
	free(c);
out_opts:
	bench_opts_free(&o);
	return ret;
}
