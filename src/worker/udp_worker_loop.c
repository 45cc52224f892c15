// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The UDP reference worker's loop: multishot receives on every socket, each
 * scatter checked and backlogged with its buffer, its reply queued as
 * sendmsg operations from prepared slots (with the misbehaviour asked for),
 * all of it submitted and reaped by one io_uring_enter() per round.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli_common.h"
#include "reply_gen.h"
#include "udp_worker.h"

#define CMD "worker"

static const uint8_t junk_bytes[5] = { 0xde, 0xad, 0xbe, 0xef, 0x00 };

static int arm_recv(struct udp_worker *w, uint32_t si)
{
	struct io_uring_sqe *sqe = udp_worker_get_sqe(w);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_recvmsg_multishot(sqe, (int)si, &w->rx_tmpl, 0);
	sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
	sqe->buf_group = RX_BGID;
	io_uring_sqe_set_data64(sqe, MKTAG(TAG_RECV, si));
	w->socks[si].armed = true;
	return 0;
}

static int arm_signal(struct udp_worker *w)
{
	struct io_uring_sqe *sqe = udp_worker_get_sqe(w);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_read(sqe, w->sigfd, &w->siginfo, sizeof(w->siginfo), 0);
	io_uring_sqe_set_data64(sqe, MKTAG(TAG_SIGNAL, 0));
	return 0;
}

static void recycle_buf(struct udp_worker *w, uint16_t bid)
{
	io_uring_buf_ring_add(w->br, w->rx_bufs + (size_t)bid * RX_BUF_SIZE, RX_BUF_SIZE, bid,
			      io_uring_buf_ring_mask(RX_NBUFS), 0);
	io_uring_buf_ring_advance(w->br, 1);
}

/* A scatter message: msg_type 0, a whole header, a body_len that fits. */
static bool parse_scatter(const uint8_t *p, uint32_t len, uint32_t *req_id)
{
	struct sgbpf_hdr hdr;

	if (len < SGBPF_HDR_LEN)
		return false;
	memcpy(&hdr, p, sizeof(hdr));
	if (hdr.msg_type != SGBPF_MSG_SCATTER)
		return false;
	if (sgbpf_le32(hdr.body_len) > len - SGBPF_HDR_LEN)
		return false;
	*req_id = sgbpf_le32(hdr.req_id);
	return true;
}

/*
 * Counts distinct request ids: the same id arrives once per port.  A
 * direct-mapped table of recent ids is exact while fewer than SEEN_SLOTS
 * requests are in flight, which SGBPF_MAX_INFLIGHT guarantees per service.
 */
static void note_request(struct udp_worker *w, uint32_t req_id)
{
	uint64_t tagged = 1ull << 32 | req_id;
	uint64_t *e = &w->seen[req_id & (SEEN_SLOTS - 1)];

	if (*e != tagged) {
		*e = tagged;
		w->requests++;
	}
}

/* Was req_id one of the requests received lately (note_request())? */
static bool request_seen(const struct udp_worker *w, uint32_t req_id)
{
	return w->seen[req_id & (SEEN_SLOTS - 1)] == (1ull << 32 | req_id);
}

/*
 * --expect-allgather: is the datagram an all-gather (type 2, a whole header,
 * a body_len that fits)?  Counted by whether its request came here first.
 */
static bool take_allgather(struct udp_worker *w, const uint8_t *p, uint32_t len)
{
	struct sgbpf_hdr hdr;

	if (len < SGBPF_HDR_LEN)
		return false;
	memcpy(&hdr, p, sizeof(hdr));
	if (hdr.msg_type != SGBPF_MSG_ALLGATHER || sgbpf_le32(hdr.body_len) > len - SGBPF_HDR_LEN)
		return false;
	if (request_seen(w, sgbpf_le32(hdr.req_id)))
		w->allgathers++;
	else
		w->allgather_unknown++;
	return true;
}

/*
 * --ignore-first: is this the first copy of req_id port si received?  A
 * direct-mapped table per port, by the id's low bits: exact while at most
 * IGNORE_IDS requests are in flight, since the ids a service has in flight
 * differ in their low bits (their slot).  Past that, an evicted id's next
 * copy counts as a first one again.
 */
static bool first_copy(struct udp_worker *w, uint32_t si, uint32_t req_id)
{
	uint64_t tagged = 1ull << 32 | req_id;
	uint64_t *e = &w->first_copies[(size_t)si * IGNORE_IDS + (req_id & (IGNORE_IDS - 1))];

	if (*e == tagged)
		return false;
	*e = tagged;
	return true;
}

static void on_recv(struct udp_worker *w, uint32_t si, const struct io_uring_cqe *cqe)
{
	struct io_uring_recvmsg_out *out;
	struct pending *pd;
	uint32_t req_id, plen;
	uint8_t *buf;
	uint16_t bid;

	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		w->socks[si].armed = false;
		w->need_rearm++;
	}
	if (cqe->res < 0) {
		/* Out of buffers or CQ overflow end a multishot: just re-arm. */
		if (cqe->res == -ENOBUFS || cqe->res == -ECANCELED)
			return;
		if (cqe->res == -EINVAL || cqe->res == -EOPNOTSUPP) {
			cli_fail(CMD, "multishot recvmsg unsupported by this kernel (6.0+): %s",
				 strerror(-cqe->res));
			w->fatal = cqe->res;
		}
		return;
	}
	if (!(cqe->flags & IORING_CQE_F_BUFFER))
		return;
	bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
	buf = w->rx_bufs + (size_t)bid * RX_BUF_SIZE;

	out = io_uring_recvmsg_validate(buf, cqe->res, &w->rx_tmpl);
	if (!out || out->namelen < sizeof(struct sockaddr_in) || (out->flags & MSG_TRUNC))
		goto malformed;
	plen = io_uring_recvmsg_payload_length(out, cqe->res, &w->rx_tmpl);
	if (w->o->expect_allgather &&
	    take_allgather(w, io_uring_recvmsg_payload(out, &w->rx_tmpl), plen)) {
		recycle_buf(w, bid);
		return;
	}
	if (!parse_scatter(io_uring_recvmsg_payload(out, &w->rx_tmpl), plen, &req_id))
		goto malformed;
	note_request(w, req_id);
	if (w->socks[si].silent) {
		recycle_buf(w, bid);
		return;
	}
	if (w->o->ignore_first && first_copy(w, si, req_id)) {
		w->ignored++;
		recycle_buf(w, bid);
		return;
	}

	/* The backlog has one entry per receive buffer, so it cannot overflow. */
	pd = &w->backlog[w->bl_tail++ & (RX_NBUFS - 1)];
	memcpy(&pd->from, io_uring_recvmsg_name(out), sizeof(pd->from));
	pd->sock = si;
	pd->req_id = req_id;
	pd->bid = bid;
	w->held++;
	return;

malformed:
	w->malformed++;
	recycle_buf(w, bid);
}

static uint32_t take_slot(struct udp_worker *w)
{
	uint32_t i = w->free_head;

	w->free_head = w->slots[i].next_free;
	w->used++;
	return i;
}

static void put_slot(struct udp_worker *w, uint32_t i)
{
	w->slots[i].next_free = w->free_head;
	w->free_head = i;
	w->used--;
}

static uint32_t free_slots(const struct udp_worker *w)
{
	return w->nslots - w->used;
}

static void on_send(struct udp_worker *w, uint32_t slot, int res)
{
	if (res < 0)
		w->send_errors++;
	put_slot(w, slot);
}

/* Queues one sendmsg of a prepared slot from fixed file fi. */
static struct io_uring_sqe *queue_slot(struct udp_worker *w, uint32_t fi, uint32_t slot)
{
	struct io_uring_sqe *sqe = udp_worker_get_sqe(w);

	/* answer_backlog() made room for the whole reply first. */
	io_uring_prep_sendmsg(sqe, (int)fi, &w->slots[slot].msg, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, MKTAG(TAG_SEND, slot));
	return sqe;
}

static struct io_uring_sqe *queue_packet(struct udp_worker *w, uint32_t fi, const struct pending *pd,
					 uint32_t seq)
{
	const struct worker_opts *o = w->o;
	uint32_t i = take_slot(w);
	struct send_slot *s = &w->slots[i];
	uint8_t *body;

	s->hdr.req_id = sgbpf_le32(pd->req_id);
	s->hdr.seq_num = sgbpf_le32(seq);
	s->hdr.num_pks = sgbpf_le32(o->packets);
	s->hdr.body_len = sgbpf_le32(w->body_len);
	s->hdr.msg_type = SGBPF_MSG_GATHER;
	s->hdr.flags = 0;
	if (s->body) {
		reply_gen_fill_body(&o->reply, w->socks[pd->sock].port, pd->req_id, seq, s->body);
		body = s->body;
	} else {
		body = w->bodies + (size_t)seq * SGBPF_UDP_BODY_MAX;
	}
	s->iov[0] = (struct iovec){ &s->hdr, SGBPF_HDR_LEN };
	s->iov[1] = (struct iovec){ body, w->body_wire_len };
	s->to = pd->from;
	s->msg = (struct msghdr){
		.msg_name = &s->to, .msg_namelen = sizeof(s->to),
		.msg_iov = s->iov, .msg_iovlen = 2,
	};
	return queue_slot(w, fi, i);
}

static struct io_uring_sqe *queue_junk(struct udp_worker *w, uint32_t fi, const struct pending *pd)
{
	uint32_t i = take_slot(w);
	struct send_slot *s = &w->slots[i];

	s->iov[0] = (struct iovec){ (void *)junk_bytes, sizeof(junk_bytes) };
	s->to = pd->from;
	s->msg = (struct msghdr){
		.msg_name = &s->to, .msg_namelen = sizeof(s->to),
		.msg_iov = s->iov, .msg_iovlen = 1,
	};
	return queue_slot(w, fi, i);
}

/* --shuffle: a fresh random permutation of 0..packets-1 in w->order (Fisher-Yates). */
static void shuffle_order(struct udp_worker *w, uint32_t packets)
{
	for (uint32_t k = 0; k < packets; k++)
		w->order[k] = k;
	for (uint32_t k = packets - 1; k > 0; k--) {
		uint32_t j, t;

		w->rng ^= w->rng << 13;
		w->rng ^= w->rng >> 7;
		w->rng ^= w->rng << 17;
		j = (uint32_t)(w->rng % (k + 1));
		t = w->order[k];
		w->order[k] = w->order[j];
		w->order[j] = t;
	}
}

/*
 * Queues the reply to one scatter message: num_pks datagrams (each also from
 * the stray socket with --stray), a junk datagram with --junk, all of it
 * twice with --duplicate.  With --delay-us a timeout heads a linked chain
 * holding every datagram of the reply; IORING_TIMEOUT_ETIME_SUCCESS makes
 * its expiry start the chain rather than cancel it.
 */
static void queue_reply(struct udp_worker *w, const struct pending *pd)
{
	const struct worker_opts *o = w->o;
	uint32_t fi = pd->sock, copies = o->duplicate ? 2 : 1, c, k;
	struct io_uring_sqe *sqe, *last = NULL;
	bool link = o->delay_us > 0;

	if (link) {
		sqe = udp_worker_get_sqe(w);
		io_uring_prep_timeout(sqe, &w->delay_ts, 0, IORING_TIMEOUT_ETIME_SUCCESS);
		io_uring_sqe_set_data64(sqe, MKTAG(TAG_TIMER, 0));
		last = sqe;
	}
	for (c = 0; c < copies; c++) {
		/* Each copy in its own order: duplicates arrive interleaved. */
		if (o->shuffle)
			shuffle_order(w, o->packets);
		for (k = 0; k < o->packets; k++) {
			uint32_t seq = o->shuffle ? w->order[k] : k;

			if (last && link)
				last->flags |= IOSQE_IO_LINK;
			last = queue_packet(w, fi, pd, seq);
			if (o->stray) {
				if (link)
					last->flags |= IOSQE_IO_LINK;
				last = queue_packet(w, w->socks[fi].stray, pd, seq);
			}
		}
		if (o->junk) {
			if (link)
				last->flags |= IOSQE_IO_LINK;
			last = queue_junk(w, fi, pd);
		}
	}
}

int udp_worker_arm(struct udp_worker *w)
{
	uint32_t i;
	int err = 0;

	for (i = 0; i < w->nsocks && !err; i++)
		err = arm_recv(w, i);
	if (!err)
		err = arm_signal(w);
	if (!err) {
		err = io_uring_submit(&w->ring);
		err = err < 0 ? err : 0;
	}
	if (err)
		cli_fail(CMD, "cannot arm receives: %s", strerror(-err));
	return err;
}

/* Answers backlogged scatter messages while slots and SQEs allow. */
static void answer_backlog(struct udp_worker *w)
{
	const struct worker_opts *o = w->o;

	while (w->bl_head != w->bl_tail && !w->stop) {
		struct pending *pd = &w->backlog[w->bl_head & (RX_NBUFS - 1)];

		if (free_slots(w) < w->per_req_slots)
			break;
		/* A linked chain must not be split across two submissions. */
		if (io_uring_sq_space_left(&w->ring) < w->per_req_sqes) {
			io_uring_submit(&w->ring);
			/* Still full (-EBUSY): reap completions first. */
			if (io_uring_sq_space_left(&w->ring) < w->per_req_sqes)
				break;
		}
		queue_reply(w, pd);
		recycle_buf(w, pd->bid);
		w->held--;
		w->bl_head++;
		w->replies++;
		if (o->count_limit && w->replies >= o->count_limit)
			w->stop = true;
	}
}

/*
 * Re-arms multishot receives that ended.  While the backlog holds more than
 * half the buffers, waiting is better: a re-armed receive would only end
 * again with -ENOBUFS, and the backlog drains as replies complete.
 */
static void rearm(struct udp_worker *w)
{
	uint32_t i;

	if (!w->need_rearm || w->held > RX_NBUFS / 2)
		return;
	for (i = 0; i < w->nsocks && w->need_rearm; i++) {
		if (w->socks[i].armed)
			continue;
		if (arm_recv(w, i))
			return;
		w->need_rearm--;
	}
}

static void reap(struct udp_worker *w)
{
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;

	io_uring_for_each_cqe(&w->ring, head, cqe) {
		uint64_t ud = io_uring_cqe_get_data64(cqe);

		n++;
		switch (TAG_OF(ud)) {
		case TAG_RECV:
			on_recv(w, IDX_OF(ud), cqe);
			break;
		case TAG_SEND:
			on_send(w, IDX_OF(ud), cqe->res);
			break;
		case TAG_SIGNAL:
			w->stop = true;
			break;
		case TAG_TIMER:
		case TAG_CANCEL:
			break;
		}
	}
	io_uring_cq_advance(&w->ring, n);
}

int udp_worker_loop(struct udp_worker *w)
{
	int ret;

	while (!w->stop && !w->fatal) {
		ret = io_uring_submit_and_wait(&w->ring, 1);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
			return cli_fail(CMD, "io_uring_enter: %s", strerror(-ret)), ret;
		reap(w);
		answer_backlog(w);
		rearm(w);
	}
	return w->fatal;
}

/* Lets queued replies leave before the ring and its buffers go away. */
void udp_worker_drain(struct udp_worker *w)
{
	struct timespec start, now;
	struct __kernel_timespec ts = { .tv_nsec = 100 * 1000 * 1000 };
	struct io_uring_cqe *cqe;

	clock_gettime(CLOCK_MONOTONIC, &start);
	io_uring_submit(&w->ring);
	while (w->used) {
		io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts, NULL);
		reap(w);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - start.tv_sec) * 1000 +
		    (now.tv_nsec - start.tv_nsec) / 1000000 > DRAIN_MS)
			break;
	}
}
