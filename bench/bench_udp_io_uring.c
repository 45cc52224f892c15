// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * io_uring contender: every send of every request started at once goes into
 * the submission ring and leaves with the same io_uring_enter that waits for
 * replies; successful sends post no completion (IOSQE_CQE_SKIP_SUCCESS).
 * Replies arrive through one multishot receive per socket that picks its
 * buffers from a ring-mapped provided-buffer ring, so a reply costs no
 * system call at all.  The reduction is done in user space.
 *
 * --sockets S as in the epoll contender: the default is one connected
 * socket per worker; with fewer sockets the sends are sendmsg with an
 * address and the receives are multishot recvmsg, which report the source.
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

#include "bench_common.h"

#define BGID		0
#define BUF_SIZE	2048u
#define SQ_ENTRIES	4096u
#define MAX_BUFS	32768u	/* buffer ids are 16 bits */
#define MIN_BUFS	256u

/* user_data: the top byte says what completed. */
#define TAG_RECV	(1ull << 56)
#define TAG_SEND	(2ull << 56)
#define TAG_MASK	(0xffull << 56)

struct ur_ctx {
	struct io_uring ring;
	bool ring_ready;
	int *fds;
	uint32_t nfds;
	bool connected;
	const struct bench_opts *o;
	size_t msg_len;
	/* provided-buffer ring */
	struct io_uring_buf_ring *br;
	size_t br_len;
	uint8_t *bufs;
	uint32_t nbufs;
	int br_mask;
	bool br_registered;
	/* shared sockets: one msghdr per (slot, worker), one iovec per slot */
	struct msghdr *smsg;
	struct iovec *siov;
	struct msghdr rmsg;	/* template for multishot recvmsg */
	uint32_t *rearm;	/* sockets whose multishot receive ended */
	uint32_t nrearm;
};

/* Hands out an SQE, flushing the ring to the kernel when it is full. */
static struct io_uring_sqe *get_sqe(struct ur_ctx *c)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&c->ring);

	if (!sqe && io_uring_submit(&c->ring) >= 0)
		sqe = io_uring_get_sqe(&c->ring);
	return sqe;
}

static int arm_recv(struct ur_ctx *c, uint32_t k)
{
	struct io_uring_sqe *sqe = get_sqe(c);

	if (!sqe)
		return -EBUSY;
	if (c->connected)
		io_uring_prep_recv_multishot(sqe, c->fds[k], NULL, 0, 0);
	else
		io_uring_prep_recvmsg_multishot(sqe, c->fds[k], &c->rmsg, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID;
	io_uring_sqe_set_data64(sqe, TAG_RECV | k);
	return 0;
}

static int ur_send(void *ctx, struct bench_table *t, struct bench_slot **slots, uint32_t n)
{
	struct ur_ctx *c = ctx;
	uint32_t i, w;

	for (i = 0; i < n; i++) {
		struct bench_slot *s = slots[i];
		uint32_t idx = (uint32_t)(s - t->slots);

		for (w = 0; w < c->o->nworkers; w++) {
			struct io_uring_sqe *sqe = get_sqe(c);

			if (!sqe)
				return -EBUSY;
			if (c->connected) {
				io_uring_prep_send(sqe, c->fds[w], &s->msg, c->msg_len, 0);
			} else {
				struct msghdr *m = &c->smsg[(size_t)idx * c->o->nworkers + w];

				c->siov[idx] = (struct iovec){ .iov_base = &s->msg,
							       .iov_len = c->msg_len };
				*m = (struct msghdr){
					.msg_name = &c->o->workers[w],
					.msg_namelen = sizeof(struct sockaddr_in),
					.msg_iov = &c->siov[idx],
					.msg_iovlen = 1,
				};
				io_uring_prep_sendmsg(sqe, c->fds[w % c->nfds], m, 0);
			}
			sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
			io_uring_sqe_set_data64(sqe, TAG_SEND | ((uint64_t)s->req_id << 16) | w);
		}
	}
	/* Submitted by the next ur_poll(), together with its wait. */
	return 0;
}

/* Folds one received datagram held in buffer bid. */
static void fold_buffer(struct ur_ctx *c, struct bench_table *t, uint32_t k, uint32_t bid,
			int len)
{
	uint8_t *buf = c->bufs + (size_t)bid * BUF_SIZE;
	struct io_uring_recvmsg_out *out;
	int w;

	if (c->connected) {
		bench_table_fold(t, buf, (size_t)len, k);
		return;
	}
	out = io_uring_recvmsg_validate(buf, len, &c->rmsg);
	if (!out || out->namelen < sizeof(struct sockaddr_in) ||
	    (out->flags & MSG_TRUNC)) {
		t->c.bad_replies++;
		return;
	}
	w = bench_table_worker(t, io_uring_recvmsg_name(out));
	if (w < 0) {
		t->c.bad_replies++;
		return;
	}
	bench_table_fold(t, io_uring_recvmsg_payload(out, &c->rmsg),
			 io_uring_recvmsg_payload_length(out, len, &c->rmsg), (uint32_t)w);
}

static void handle_send_error(struct bench_table *t, uint64_t data)
{
	struct bench_slot *s = bench_table_find(t, (uint32_t)(data >> 16));

	if (s)
		bench_table_fail(t, s);
}

/* Reaps every CQE; returns buffers to the ring and notes receives to re-arm. */
static void reap(struct ur_ctx *c, struct bench_table *t)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0, returned = 0;

	io_uring_for_each_cqe(&c->ring, head, cqe) {
		uint64_t data = cqe->user_data;
		uint32_t k = (uint32_t)(data & 0xffffffffu);

		seen++;
		if ((data & TAG_MASK) == TAG_SEND) {
			handle_send_error(t, data & ~TAG_MASK);
			continue;
		}
		if ((data & TAG_MASK) != TAG_RECV || k >= c->nfds)
			continue;
		if (cqe->flags & IORING_CQE_F_BUFFER) {
			uint32_t bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;

			if (cqe->res > 0)
				fold_buffer(c, t, k, bid, cqe->res);
			io_uring_buf_ring_add(c->br, c->bufs + (size_t)bid * BUF_SIZE, BUF_SIZE,
					      (unsigned short)bid, c->br_mask, (int)returned++);
		}
		/* -ENOBUFS (ring ran dry) or any other end: refill first, then re-arm. */
		if (!(cqe->flags & IORING_CQE_F_MORE))
			c->rearm[c->nrearm++] = k;
	}
	if (returned)
		io_uring_buf_ring_advance(c->br, (int)returned);
	io_uring_cq_advance(&c->ring, seen);
}

/*
 * Completions worth waking up for: the fewest replies that would complete
 * some outstanding request.  With deferred task running the kernel then
 * wakes this task once per request instead of once per reply.
 */
static unsigned replies_to_wait_for(const struct bench_table *t)
{
	uint32_t i, best = t->nworkers;

	for (i = 0; i < t->nslots; i++) {
		const struct bench_slot *s = &t->slots[i];

		if (s->active && t->nworkers - s->replies < best)
			best = t->nworkers - s->replies;
	}
	return best ? best : 1;
}

static int ur_poll(void *ctx, struct bench_table *t, int timeout_ms)
{
	struct ur_ctx *c = ctx;
	struct __kernel_timespec ts = {
		.tv_sec = timeout_ms / 1000,
		.tv_nsec = (long long)(timeout_ms % 1000) * 1000000,
	};
	struct io_uring_cqe *cqe;
	uint32_t i;
	int err;

	/* One io_uring_enter: submit everything queued and wait for replies. */
	err = io_uring_submit_and_wait_timeout(&c->ring, &cqe, replies_to_wait_for(t), &ts, NULL);
	if (err < 0 && err != -ETIME && err != -EINTR && err != -EAGAIN && err != -EBUSY)
		return err;
	reap(c, t);
	for (i = 0; i < c->nrearm; i++) {
		err = arm_recv(c, c->rearm[i]);
		if (err)
			return err;
	}
	c->nrearm = 0;
	return 0;
}

static const struct bench_ops ur_ops = {
	.send = ur_send,
	.poll = ur_poll,
};

static int setup_ring(struct ur_ctx *c, uint32_t cq_entries)
{
	struct io_uring_params p = {
		.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER |
			 IORING_SETUP_DEFER_TASKRUN,
		.cq_entries = cq_entries,
	};
	int err;

	err = io_uring_queue_init_params(SQ_ENTRIES, &c->ring, &p);
	if (err == -EINVAL) {
		/* Kernels before 6.1 lack deferred task running; the cost is extra wake-ups. */
		p = (struct io_uring_params){
			.flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN,
			.cq_entries = cq_entries,
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
	uint32_t i;
	int err;

	c->br_len = (size_t)c->nbufs * sizeof(struct io_uring_buf);
	c->br = mmap(NULL, c->br_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c->br == MAP_FAILED) {
		c->br = NULL;
		return -errno;
	}
	c->bufs = malloc((size_t)c->nbufs * BUF_SIZE);
	if (!c->bufs)
		return -ENOMEM;
	io_uring_buf_ring_init(c->br);
	reg.ring_addr = (uint64_t)(uintptr_t)c->br;
	reg.ring_entries = c->nbufs;
	reg.bgid = BGID;
	err = io_uring_register_buf_ring(&c->ring, &reg, 0);
	if (err)
		return err;
	c->br_registered = true;
	c->br_mask = io_uring_buf_ring_mask(c->nbufs);
	for (i = 0; i < c->nbufs; i++)
		io_uring_buf_ring_add(c->br, c->bufs + (size_t)i * BUF_SIZE, BUF_SIZE,
				      (unsigned short)i, c->br_mask, (int)i);
	io_uring_buf_ring_advance(c->br, (int)c->nbufs);
	return 0;
}

static int ur_open(struct ur_ctx *c, const struct bench_opts *o, uint32_t nsockets,
		   uint32_t nslots)
{
	uint64_t want = (uint64_t)o->nworkers * o->inflight;
	uint32_t k, per_sock;
	int rcvbuf, err;

	c->o = o;
	c->msg_len = bench_msg_len(o);
	c->nfds = nsockets && nsockets < o->nworkers ? nsockets : o->nworkers;
	c->connected = c->nfds == o->nworkers;
	per_sock = (o->nworkers + c->nfds - 1) / c->nfds;
	rcvbuf = (int)(per_sock * o->inflight * 4096u + 65536u);
	/* Enough buffers for every outstanding reply, within the 16-bit id space. */
	for (c->nbufs = MIN_BUFS; c->nbufs < want && c->nbufs < MAX_BUFS; c->nbufs <<= 1)
		;
	c->rmsg.msg_namelen = sizeof(struct sockaddr_in);

	c->fds = calloc(c->nfds, sizeof(*c->fds));
	c->rearm = calloc(c->nfds, sizeof(*c->rearm));
	if (!c->fds || !c->rearm)
		return -ENOMEM;
	if (!c->connected) {
		c->smsg = calloc((size_t)nslots * o->nworkers, sizeof(*c->smsg));
		c->siov = calloc(nslots, sizeof(*c->siov));
		if (!c->smsg || !c->siov)
			return -ENOMEM;
	}
	/* The kernel wants cq_entries >= sq_entries. */
	err = setup_ring(c, 2 * (c->nbufs > SQ_ENTRIES ? c->nbufs : SQ_ENTRIES));
	if (err)
		return err;
	err = setup_buf_ring(c);
	if (err)
		return err;
	for (k = 0; k < c->nfds; k++) {
		int fd = bench_udp_socket(c->connected ? &o->workers[k] : NULL, rcvbuf, false);

		if (fd < 0)
			return fd;
		c->fds[k] = fd;
		err = arm_recv(c, k);
		if (err)
			return err;
	}
	err = io_uring_submit(&c->ring);
	return err < 0 ? err : 0;
}

static void ur_close(struct ur_ctx *c)
{
	uint32_t k;

	/* Closing the ring first cancels the multishot receives that use the sockets. */
	if (c->br_registered)
		io_uring_unregister_buf_ring(&c->ring, BGID);
	if (c->ring_ready)
		io_uring_queue_exit(&c->ring);
	for (k = 0; c->fds && k < c->nfds && c->fds[k] > 0; k++)
		close(c->fds[k]);
	if (c->br)
		munmap(c->br, c->br_len);
	free(c->bufs);
	free(c->smsg);
	free(c->siov);
	free(c->rearm);
	free(c->fds);
}

int main(int argc, char **argv)
{
	uint32_t nsockets = 0;
	const struct bench_extra_opts extra = bench_sockets_option(&nsockets);
	struct bench_result res;
	struct bench_table t;
	struct bench_opts o;
	struct ur_ctx *c;
	int err, ret = BENCH_EXIT_FAIL;

	err = bench_parse_opts(argc, argv, "io_uring", &o, &extra);
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
	err = ur_open(c, &o, nsockets, t.nslots);
	if (err) {
		fprintf(stderr, "%s: io_uring setup: %s\n", o.label, strerror(-err));
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
