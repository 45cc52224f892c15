// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * TCP backend, fate allow: the stream program folds each reply and passes
 * its bytes on (SK_PASS); here they are read with a multishot recv per
 * connection from one ring-mapped provided-buffer ring, framed again, and
 * each reply to a request in flight is filed whole under that request.
 *
 * A reply is handed to the application as one contiguous body
 * (struct sgbpf_response), and a TCP reply may be megabytes spread over
 * many receive buffers, so replies are copied out of the buffers, which go
 * straight back to the ring, into an area with a place per (slot, worker).
 * That area is mapped once at creation and only touched where replies
 * land: it is what bounds the requests in flight with fate allow.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <sgbpf/protocol.h>

#include "error.h"
#include "service.h"
#include "tcp_backend.h"

#define RX_BGID		1
#define RX_NBUFS	128u		/* a power of two, as the ring requires */
#define RX_BUF_SIZE	(32u << 10)

/*
 * Filing state of one (slot, worker) place.  Lost: the stream program
 * counted the worker's reply, and its connection ended before the reply
 * was read whole.
 */
enum { PLACE_EMPTY = 0, PLACE_FILLING, PLACE_WHOLE, PLACE_LOST };

/*
 * A place is 64 bytes of header room, the 18-byte header at its end, then
 * the body: bodies start 64-byte aligned, so that elements of any size can
 * be read from them in place.
 */
#define PLACE_BODY	64u
#define PLACE_HDR	(PLACE_BODY - SGBPF_HDR_LEN)

static uint64_t place_bytes(uint32_t max_reply)
{
	return (PLACE_BODY + (uint64_t)max_reply + 63) & ~63ull;
}

static size_t place_size(const struct sgbpf_tcp_backend *b)
{
	return (size_t)place_bytes(b->max_reply);
}

uint64_t sgbpf_tcp_rx_bytes(uint32_t nslots, uint32_t nworkers, uint32_t max_reply)
{
	return (uint64_t)nslots * nworkers * place_bytes(max_reply);
}

int sgbpf_tcp_rx_open(struct sgbpf_service *svc, struct sgbpf_tcp_backend *b)
{
	struct tcp_rx *rx = &b->rx;
	struct io_uring_buf_reg reg = { 0 };
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uint32_t places = svc->reqs.nslots * svc->nworkers;
	int err;

	rx->arena_len = sgbpf_tcp_rx_bytes(svc->reqs.nslots, svc->nworkers, b->max_reply);
	if (rx->arena_len > SGBPF_TCP_RX_MAX)
		return sgbpf_err(-E2BIG, "fate allow keeps every reply of every request in flight: "
				 "%u slots x %u workers x %u bytes is above %llu MiB; lower "
				 "max_inflight or max_reply", svc->reqs.nslots, svc->nworkers,
				 b->max_reply, (unsigned long long)(SGBPF_TCP_RX_MAX >> 20));
	rx->arena = mmap(NULL, rx->arena_len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (rx->arena == MAP_FAILED) {
		rx->arena = NULL;
		return sgbpf_err(-errno, "cannot map the reply area: %s", strerror(errno));
	}
	rx->state = calloc(places, 1);
	rx->owner = calloc(places, sizeof(*rx->owner));
	rx->count = calloc(svc->reqs.nslots, sizeof(*rx->count));
	rx->lost = calloc(svc->reqs.nslots, sizeof(*rx->lost));
	rx->conn = calloc(svc->nworkers, sizeof(*rx->conn));
	rx->view = calloc(svc->nworkers, sizeof(*rx->view));
	if (!rx->state || !rx->owner || !rx->count || !rx->lost || !rx->conn || !rx->view)
		return -ENOMEM;

	rx->ring_len = (RX_NBUFS * sizeof(struct io_uring_buf) + page - 1) / page * page;
	rx->ring = mmap(NULL, rx->ring_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			-1, 0);
	rx->bufs = malloc((size_t)RX_NBUFS * RX_BUF_SIZE);
	if (rx->ring == MAP_FAILED || !rx->bufs) {
		if (rx->ring == MAP_FAILED)
			rx->ring = NULL;
		return -ENOMEM;
	}
	/* liburing 2.3 has no io_uring_setup_buf_ring(): map, init, register (brief §5). */
	io_uring_buf_ring_init(rx->ring);
	reg.ring_addr = (unsigned long)rx->ring;
	reg.ring_entries = RX_NBUFS;
	reg.bgid = RX_BGID;
	err = io_uring_register_buf_ring(&b->ring, &reg, 0);
	if (err)
		return sgbpf_err(err, "cannot register the reply buffer ring: %s", strerror(-err));
	rx->registered = true;
	for (uint32_t i = 0; i < RX_NBUFS; i++)
		io_uring_buf_ring_add(rx->ring, rx->bufs + (size_t)i * RX_BUF_SIZE, RX_BUF_SIZE, i,
				      io_uring_buf_ring_mask(RX_NBUFS), i);
	io_uring_buf_ring_advance(rx->ring, RX_NBUFS);
	return 0;
}

void sgbpf_tcp_rx_close(struct sgbpf_tcp_backend *b)
{
	struct tcp_rx *rx = &b->rx;

	if (rx->registered && b->ring_ready)
		io_uring_unregister_buf_ring(&b->ring, RX_BGID);
	if (rx->ring)
		munmap(rx->ring, rx->ring_len);
	if (rx->arena)
		munmap(rx->arena, rx->arena_len);
	free(rx->bufs);
	free(rx->state);
	free(rx->owner);
	free(rx->count);
	free(rx->lost);
	free(rx->conn);
	free(rx->view);
	memset(rx, 0, sizeof(*rx));
}

int sgbpf_tcp_rx_arm(struct sgbpf_tcp_backend *b, uint32_t w, uint64_t user_data)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);

	if (!sqe && io_uring_submit(&b->ring) >= 0)
		sqe = io_uring_get_sqe(&b->ring);
	if (!sqe)
		return -EBUSY;
	io_uring_prep_recv_multishot(sqe, b->conns[w].fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = RX_BGID;
	io_uring_sqe_set_data64(sqe, user_data);
	return 0;
}

/*
 * Passed bytes are charged to the socket's receive memory until they are
 * read, and a pass over the limit is deferred to the kernel's backlog
 * worker: room for a few whole replies keeps it out of that path.
 */
void sgbpf_tcp_rx_set_rcvbuf(struct sgbpf_tcp_backend *b, int fd)
{
	uint64_t want = 4 * ((uint64_t)b->max_reply + SGBPF_HDR_LEN);
	int v = want > (64u << 20) ? (64 << 20) : (int)want;

	if (v > (1 << 20) && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
}

void sgbpf_tcp_rx_conn_reset(struct sgbpf_tcp_backend *b, uint32_t w)
{
	memset(&b->rx.conn[w], 0, sizeof(b->rx.conn[w]));
}

/* Is the place still the one this connection started filing (not released since)? */
static bool place_ours(const struct tcp_rx *rx, const struct tcp_rx_conn *c, uint32_t place)
{
	return rx->state[place] == PLACE_FILLING && rx->owner[place] == c->req_id;
}

/*
 * The header of the next reply is in: file it when its request is in
 * flight and the stream program counted this worker's reply to it (not a
 * duplicate, surplus or stale one; the program saw these bytes before they
 * were passed up, so its word is final), and it fits.  Anything else is
 * framed and skipped.
 */
static void begin_reply(struct sgbpf_service *svc, struct sgbpf_tcp_backend *b, uint32_t w)
{
	struct tcp_rx *rx = &b->rx;
	struct tcp_rx_conn *c = &rx->conn[w];
	struct sgbpf_hdr h;
	uint32_t slot, place;

	memcpy(&h, c->hdr, sizeof(h));
	c->req_id = sgbpf_le32(h.req_id);
	c->body_left = sgbpf_le32(h.body_len);
	c->pos = 0;
	c->filing = false;
	slot = sgbpf_reqtab_slot(&svc->reqs, c->req_id);
	place = slot * svc->nworkers + w;
	if (!sgbpf_reqtab_find(&svc->reqs, c->req_id) || c->body_left > b->max_reply ||
	    rx->state[place] != PLACE_EMPTY || !sgbpf_tcp_slot_seen(svc, slot, c->req_id, w))
		return;
	rx->state[place] = PLACE_FILLING;
	rx->owner[place] = c->req_id;
	memcpy(rx->arena + place * place_size(b) + PLACE_HDR, c->hdr, SGBPF_HDR_LEN);
	c->place = place;
	c->filing = true;
}

static void end_reply(struct sgbpf_service *svc, struct sgbpf_tcp_backend *b, uint32_t w)
{
	struct tcp_rx *rx = &b->rx;
	struct tcp_rx_conn *c = &rx->conn[w];

	if (c->filing && place_ours(rx, c, c->place)) {
		rx->state[c->place] = PLACE_WHOLE;
		rx->count[c->place / svc->nworkers]++;
	}
	c->filing = false;
	c->hdr_have = 0;
	c->in_body = false;
}

/* Frames len bytes of worker w's stream, copying filed bodies into their places. */
static void parse(struct sgbpf_service *svc, struct sgbpf_tcp_backend *b, uint32_t w,
		  const uint8_t *p, size_t len)
{
	struct tcp_rx *rx = &b->rx;
	struct tcp_rx_conn *c = &rx->conn[w];

	while (len) {
		if (!c->in_body) {
			size_t k = SGBPF_HDR_LEN - c->hdr_have;

			k = len < k ? len : k;
			memcpy(c->hdr + c->hdr_have, p, k);
			c->hdr_have += (uint32_t)k;
			p += k;
			len -= k;
			if (c->hdr_have < SGBPF_HDR_LEN)
				return;
			c->in_body = true;
			begin_reply(svc, b, w);
		} else {
			size_t k = len < c->body_left ? len : c->body_left;

			/* A place released meanwhile (the request went) is not written. */
			if (c->filing && place_ours(rx, c, c->place))
				memcpy(rx->arena + c->place * place_size(b) + PLACE_BODY + c->pos,
				       p, k);
			c->pos += (uint32_t)k;
			c->body_left -= (uint32_t)k;
			p += k;
			len -= k;
		}
		if (c->in_body && c->body_left == 0)
			end_reply(svc, b, w);
	}
}

static void recycle(struct tcp_rx *rx, uint32_t bid)
{
	io_uring_buf_ring_add(rx->ring, rx->bufs + (size_t)bid * RX_BUF_SIZE, RX_BUF_SIZE, bid,
			      io_uring_buf_ring_mask(RX_NBUFS), 0);
	io_uring_buf_ring_advance(rx->ring, 1);
}

int sgbpf_tcp_rx_cqe(struct sgbpf_service *svc, struct sgbpf_tcp_backend *b, uint32_t w,
		     bool current, const struct io_uring_cqe *cqe)
{
	struct tcp_rx *rx = &b->rx;

	if (cqe->flags & IORING_CQE_F_BUFFER) {
		uint32_t bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;

		if (current && cqe->res > 0 && bid < RX_NBUFS)
			parse(svc, b, w, rx->bufs + (size_t)bid * RX_BUF_SIZE, (size_t)cqe->res);
		if (bid < RX_NBUFS)
			recycle(rx, bid);
	}
	if (!current || (cqe->flags & IORING_CQE_F_MORE))
		return 0;
	/*
	 * The multishot ended.  With data (the completion queue was full) or
	 * out of buffers it is armed again; end of stream or an error: the
	 * worker left.
	 */
	if (cqe->res > 0 || cqe->res == -ENOBUFS) {
		rx->rearms++;
		return 1;
	}
	return -1;
}

void sgbpf_tcp_rx_conn_gone(struct sgbpf_service *svc, struct sgbpf_tcp_backend *b, uint32_t w)
{
	struct tcp_rx *rx = &b->rx;

	if (!rx->arena || w >= svc->nworkers)
		return;
	for (uint32_t i = 0; i < svc->reqs.inflight; i++) {
		uint32_t slot = sgbpf_reqtab_live(&svc->reqs, i);
		uint32_t place = slot * svc->nworkers + w;

		if (rx->state[place] == PLACE_WHOLE || rx->state[place] == PLACE_LOST ||
		    !sgbpf_tcp_slot_seen(svc, slot, svc->reqs.reqs[slot].req_id, w))
			continue;
		rx->state[place] = PLACE_LOST;
		rx->lost[slot]++;
	}
}

uint32_t sgbpf_tcp_rx_lost(struct sgbpf_service *svc, uint32_t slot)
{
	struct sgbpf_tcp_backend *b = svc->backend;

	return b->rx.lost ? b->rx.lost[slot] : 0;
}

uint32_t sgbpf_tcp_rx_count(struct sgbpf_service *svc, uint32_t slot)
{
	struct sgbpf_tcp_backend *b = svc->backend;

	return b->rx.count ? b->rx.count[slot] : 0;
}

const struct sgbpf_response *sgbpf_tcp_responses(struct sgbpf_service *svc, uint32_t slot,
						 uint32_t *n)
{
	struct sgbpf_tcp_backend *b = svc->backend;
	struct tcp_rx *rx = &b->rx;
	uint32_t k = 0;

	*n = 0;
	if (!rx->arena)
		return NULL;
	for (uint32_t w = 0; w < svc->nworkers; w++) {
		uint32_t place = slot * svc->nworkers + w;
		const uint8_t *at = rx->arena + place * place_size(b);
		struct sgbpf_hdr h;

		if (rx->state[place] != PLACE_WHOLE)
			continue;
		memcpy(&h, at + PLACE_HDR, sizeof(h));
		rx->view[k++] = (struct sgbpf_response){
			.worker = w,
			.hdr = (const struct sgbpf_hdr *)(at + PLACE_HDR),
			.body = at + PLACE_BODY,
			.body_len = sgbpf_le32(h.body_len),
		};
	}
	*n = k;
	return k ? rx->view : NULL;
}

void sgbpf_tcp_release_responses(struct sgbpf_service *svc, uint32_t slot)
{
	struct sgbpf_tcp_backend *b = svc->backend;
	struct tcp_rx *rx = &b->rx;

	if (!rx->arena)
		return;
	/* A reply still being filed stops being written here (place_ours()). */
	memset(rx->state + (size_t)slot * svc->nworkers, PLACE_EMPTY, svc->nworkers);
	rx->count[slot] = 0;
	rx->lost[slot] = 0;
}
