// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * TCP backend, I/O half: one io_uring carries every operation the service
 * does on its sockets.
 *
 *  - a multishot accept on each worker's listener: a connection of worker i
 *    can only arrive on listener i (SK_LOOKUP steers it there), so which
 *    completion it is says which worker it is;
 *  - a multishot poll for hang-up on each accepted connection: with fate
 *    discard nobody reads the sockets (the stream program consumes their
 *    bytes), so this is how a worker's leaving is seen;
 *  - the sends of one scatter, one per connected worker, all in one
 *    io_uring_enter() that also waits for them.  They are MSG_DONTWAIT: a
 *    worker whose socket cannot take the request now is absent from it
 *    rather than a reason to block every other one;
 *  - fate allow: a multishot receive on each connection (tcp_rx.c);
 *  - a multishot poll on the stream program's ring buffer, so that one
 *    io_uring wait sleeps until either a completion event or a socket event;
 *  - control-fd delivery: a multishot poll on the control socket that
 *    completion notes arrive on (tcp_ctrl.c), read at the next reap.
 *
 * The library waits in io_uring_enter(), not in epoll_wait(): completions of
 * sockets run as task work that interrupts the thread, which makes a
 * sleeping epoll_wait() return EINTR as if a signal had come, while
 * io_uring's own wait runs the task work and sleeps on; only a real signal
 * ends it with EINTR.  sgbpf_service_fd() is an epoll set of the ring's
 * descriptor (readable while completions wait in it) and the ring buffer's,
 * for an application's own loop: both are level-triggered on memory the
 * library drains without a system call.
 */
#define _GNU_SOURCE	/* POLLRDHUP */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <sgbpf/protocol.h>

#include "error.h"
#include "service.h"
#include "stream.h"
#include "steer.h"
#include "tcp_backend.h"

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

/* io_uring user_data: kind (63..56), worker (55..32), connection generation (31..0). */
enum tcp_op { OP_IGNORE = 0, OP_ACCEPT, OP_HANGUP, OP_SEND, OP_RECV, OP_EVENTS, OP_CTRL };

#define UD(op, w, gen)	((uint64_t)(op) << 56 | (uint64_t)((w) & 0xffffff) << 32 | (uint32_t)(gen))
#define UD_OP(ud)	((enum tcp_op)((ud) >> 56))
#define UD_WORKER(ud)	((uint32_t)((ud) >> 32) & 0xffffff)
#define UD_GEN(ud)	((uint32_t)(ud))

#define HANGUP_EVENTS	(POLLRDHUP | POLLERR | POLLHUP)

/* An SQE, submitting what is queued when the ring is full. */
static struct io_uring_sqe *get_sqe(struct sgbpf_tcp_backend *b)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);

	if (!sqe && io_uring_submit(&b->ring) >= 0)
		sqe = io_uring_get_sqe(&b->ring);
	return sqe;
}

static int arm_accept(struct sgbpf_tcp_backend *b, uint32_t w)
{
	struct io_uring_sqe *sqe = get_sqe(b);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_multishot_accept(sqe, sgbpf_tcp_steer_listener(b->steer, w), NULL, NULL,
				       SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, UD(OP_ACCEPT, w, 0));
	return 0;
}

/* Completion events of the stream program: a poll on its ring buffer. */
static int arm_events(struct sgbpf_tcp_backend *b)
{
	struct io_uring_sqe *sqe = get_sqe(b);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_multishot(sqe, sgbpf_tcp_stream_events_fd(b->stream), POLLIN);
	io_uring_sqe_set_data64(sqe, UD(OP_EVENTS, 0, 0));
	return 0;
}

/* Completion notes of control-fd delivery: a poll on the control socket. */
static int arm_ctrl(struct sgbpf_tcp_backend *b)
{
	struct io_uring_sqe *sqe = get_sqe(b);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_multishot(sqe, b->ctrl.fd, POLLIN);
	io_uring_sqe_set_data64(sqe, UD(OP_CTRL, 0, 0));
	return 0;
}

static int arm_hangup(struct sgbpf_tcp_backend *b, uint32_t w)
{
	struct io_uring_sqe *sqe = get_sqe(b);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_multishot(sqe, b->conns[w].fd, HANGUP_EVENTS);
	io_uring_sqe_set_data64(sqe, UD(OP_HANGUP, w, b->conns[w].gen));
	return 0;
}

/*
 * Ends worker w's connection: out of the sockmap first (the kernel's
 * sockmap history asks for it before close), its hang-up poll cancelled
 * (the poll holds the socket open), and a reset rather than a FIN, so that
 * the worker's next connection from the same source port finds no
 * TIME_WAIT here.
 */
static void conn_close(struct sgbpf_tcp_backend *b, uint32_t w)
{
	struct tcp_conn *c = &b->conns[w];
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct io_uring_sqe *sqe;

	if (c->fd < 0)
		return;
	sgbpf_tcp_stream_remove(b->stream, c->fd, w);
	sqe = get_sqe(b);
	if (sqe) {
		io_uring_prep_poll_remove(sqe, UD(OP_HANGUP, w, c->gen));
		io_uring_sqe_set_data64(sqe, UD(OP_IGNORE, 0, 0));
	}
	/* Fate allow: the receive holds the socket open too. */
	sqe = b->rx.arena ? get_sqe(b) : NULL;
	if (sqe) {
		io_uring_prep_cancel64(sqe, UD(OP_RECV, w, c->gen), 0);
		io_uring_sqe_set_data64(sqe, UD(OP_IGNORE, 0, 0));
	}
	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(c->fd);
	c->fd = -1;
	b->connected--;
	sgbpf_tcp_rx_conn_gone(b->svc, b, w);
}

/*
 * A new connection of worker w.  Into the sockmap at once, before any
 * request can be sent on it (docs/tcp.md): bytes that reach the socket
 * before are held, not lost, but the coordinator speaks first anyway.  A
 * worker that connects again while its previous connection is still
 * registered (its hang-up not yet reaped) replaces it.
 */
static void conn_accepted(struct sgbpf_tcp_backend *b, uint32_t w, int fd)
{
	struct tcp_conn *c = &b->conns[w];
	int one = 1, err;

	if (c->fd >= 0) {
		conn_close(b, w);
		b->reconnects++;
	} else if (c->gen) {
		b->reconnects++;
	}
	/* Requests are small and latency-bound: never hold one back for an ACK. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	err = sgbpf_tcp_stream_add(b->stream, fd, w);
	if (err) {
		b->accept_errors++;
		close(fd);
		return;
	}
	c->fd = fd;
	c->gen++;
	b->connected++;
	if (b->rx.arena) {
		sgbpf_tcp_rx_set_rcvbuf(b, fd);
		sgbpf_tcp_rx_conn_reset(b, w);
		if (sgbpf_tcp_rx_arm(b, w, UD(OP_RECV, w, c->gen))) {
			conn_close(b, w);
			b->accept_errors++;
			return;
		}
	}
	if (arm_hangup(b, w)) {
		/* Without its poll a hang-up would go unseen: refuse the connection. */
		conn_close(b, w);
		b->accept_errors++;
	}
}

static void on_cqe(struct sgbpf_service *svc, struct sgbpf_tcp_backend *b,
		   const struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	uint32_t w = UD_WORKER(ud);
	bool more = cqe->flags & IORING_CQE_F_MORE;

	switch (UD_OP(ud)) {
	case OP_ACCEPT:
		if (cqe->res >= 0)
			conn_accepted(b, w, cqe->res);
		else if (cqe->res != -ECANCELED)
			b->accept_errors++;
		/* A multishot accept ends on errors (e.g. EMFILE): arm it again. */
		if (!more && cqe->res != -ECANCELED && arm_accept(b, w))
			b->accept_errors++;
		break;
	case OP_HANGUP:
		if (w >= svc->nworkers || b->conns[w].fd < 0 || b->conns[w].gen != UD_GEN(ud))
			break;	/* an earlier connection of the worker */
		/*
		 * Only hang-up events are asked for.  A poll that ended
		 * without one (the completion queue was full) is armed again;
		 * if that fails nothing would see this connection leave.
		 * With fate allow the receive reads what the worker sent
		 * before it left and its end closes the connection: closing
		 * here would drop replies still in the socket.
		 */
		if (b->rx.arena && cqe->res > 0 && (cqe->res & HANGUP_EVENTS))
			break;
		if (cqe->res < 0 || (cqe->res & HANGUP_EVENTS) || (!more && arm_hangup(b, w)))
			conn_close(b, w);
		break;
	case OP_RECV: {
		bool current = w < svc->nworkers && b->conns[w].fd >= 0 &&
			       b->conns[w].gen == UD_GEN(ud);
		int r = sgbpf_tcp_rx_cqe(svc, b, w, current, cqe);

		if (r > 0 && sgbpf_tcp_rx_arm(b, w, ud))
			r = -1;
		if (r < 0)
			conn_close(b, w);	/* end of stream or error: the worker left */
		break;
	}
	case OP_EVENTS:
		/* The records themselves are read by reap(); only keep the poll armed. */
		if (!more && cqe->res != -ECANCELED && arm_events(b))
			b->accept_errors++;
		break;
	case OP_CTRL:
		b->ctrl.ready = true;
		/* Without its poll the notes would wait for the scan: arm it again. */
		if (!more && cqe->res != -ECANCELED && arm_ctrl(b)) {
			b->accept_errors++;
			sgbpf_service_lost_events(svc);
		}
		break;
	case OP_SEND:
		if (b->tx_left && UD_GEN(ud) == b->tx_req) {
			b->tx_left--;
			if (cqe->res == (int)(SGBPF_HDR_LEN + b->tx_ok_len)) {
				b->tx_ok++;
				b->sends++;
				break;
			}
			b->send_failures++;
			/*
			 * A part of the message went: the worker would take the
			 * next bytes for the rest of it.  Its stream has lost its
			 * framing, so the connection goes (the worker comes back).
			 */
			if (cqe->res > 0 && w < svc->nworkers)
				conn_close(b, w);
		}
		break;
	default:
		break;
	}
}

/* Handles every completion the ring holds; no system call. */
static void drain_cq(struct sgbpf_service *svc, struct sgbpf_tcp_backend *b)
{
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;

	io_uring_for_each_cqe(&b->ring, head, cqe) {
		on_cqe(svc, b, cqe);
		n++;
	}
	io_uring_cq_advance(&b->ring, n);
}

/* What the ring buffer says: completions, and connections that lost their framing. */
static int on_event(void *ctx, const struct sgbpf_tcp_event *ev)
{
	struct sgbpf_service *svc = ctx;
	struct sgbpf_tcp_backend *b = svc->backend;
	uint64_t cookie = 0;
	socklen_t len = sizeof(cookie);
	uint32_t w = ev->worker;

	switch (ev->type) {
	case SGBPF_TCP_EV_COMPLETE:
		sgbpf_service_on_complete(svc, ev->req_id);
		break;
	case SGBPF_TCP_EV_CONN_BROKEN:
		/* Only the connection the event names: the worker may have a newer one. */
		if (w >= svc->nworkers || b->conns[w].fd < 0 ||
		    getsockopt(b->conns[w].fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) ||
		    cookie != ev->cookie)
			break;
		sgbpf_tcp_stream_reset(b->stream, b->conns[w].fd, w);
		b->resets++;
		conn_close(b, w);
		break;
	default:
		break;
	}
	return 0;
}

/*
 * The sockets' half of a reap: connections, hang-ups, send results and
 * fate-allow receives, then what handling them queued (re-arms,
 * cancellations).  Runs no callback, so sgbpf_scatter() can use it.
 */
static int reap_sockets(struct sgbpf_service *svc, struct sgbpf_tcp_backend *b)
{
	int n;

	drain_cq(svc, b);
	if (io_uring_sq_ready(&b->ring)) {
		n = io_uring_submit(&b->ring);
		if (n < 0)
			return sgbpf_err(n, "io_uring submit failed: %s", strerror(-n));
	}
	return 0;
}

int sgbpf_tcp_reap(struct sgbpf_service *svc)
{
	struct sgbpf_tcp_backend *b = svc->backend;
	int n;

	drain_cq(svc, b);
	/* Completion events: the core reports (and calls back) from here. */
	n = sgbpf_tcp_stream_poll(b->stream, 0, on_event, svc);
	if (n < 0 && n != -EINTR)
		return sgbpf_err(n, "cannot read the TCP completion events: %s", strerror(-n));
	if (b->ctrl.ready) {
		b->ctrl.ready = false;
		n = sgbpf_tcp_ctrl_drain(svc, b);
		if (n < 0)
			return sgbpf_err(n, "cannot read the control socket: %s", strerror(-n));
	}
	return reap_sockets(svc, b);
}

/*
 * Sleeps in io_uring until a completion is queued or timeout_ms passed
 * (-1: no limit).  0, -EINTR for a real signal, or another negative errno.
 */
static int ring_wait(struct sgbpf_tcp_backend *b, int timeout_ms)
{
	struct __kernel_timespec ts = {
		.tv_sec = timeout_ms / 1000,
		.tv_nsec = (long long)(timeout_ms % 1000) * 1000000,
	};
	struct io_uring_cqe *cqe;
	int err;

	if (io_uring_cq_ready(&b->ring) || timeout_ms == 0)
		return 0;
	err = io_uring_wait_cqe_timeout(&b->ring, &cqe, timeout_ms < 0 ? NULL : &ts);
	if (err == -ETIME || err == -EINTR || !err)
		return err == -EINTR ? -EINTR : 0;
	return sgbpf_err(err, "io_uring wait failed: %s", strerror(-err));
}

int sgbpf_tcp_wait_events(struct sgbpf_service *svc, int timeout_ms)
{
	int err = ring_wait(svc->backend, timeout_ms), r;

	if (err && err != -EINTR)
		return err;
	/* A real signal: what arrived is still handled, and the core hears of it. */
	r = sgbpf_tcp_reap(svc);
	return err ? err : r;
}

int sgbpf_tcp_wait_workers(struct sgbpf_service *svc, int timeout_ms)
{
	struct sgbpf_tcp_backend *b = svc->backend;
	uint64_t until = sgbpf_now_ns() + (uint64_t)timeout_ms * 1000000, now;
	int err;

	for (;;) {
		err = reap_sockets(svc, b);
		if (err)
			return err;
		if (b->connected == svc->nworkers)
			return 0;
		now = sgbpf_now_ns();
		if (now >= until)
			return -ETIMEDOUT;
		err = ring_wait(b, (int)((until - now + 999999) / 1000000));
		if (err && err != -EINTR)
			return err;
		/*
		 * No request is in flight yet, so the ring buffer can only say
		 * that a connection broke (a worker that sent garbage first).
		 */
		err = sgbpf_tcp_stream_poll(b->stream, 0, on_event, svc);
		if (err < 0)
			return sgbpf_err(err, "cannot read the TCP completion events: %s",
					 strerror(-err));
	}
}

/* "a.b.c.d:p, ..." of the workers without a connection, at most 8 of them. */
static void missing_workers(const struct sgbpf_service *svc, const struct sgbpf_tcp_backend *b,
			    char *buf, size_t len)
{
	size_t off = 0;
	uint32_t shown = 0, missing = svc->nworkers - b->connected;

	buf[0] = '\0';
	for (uint32_t w = 0; w < svc->nworkers && shown < 8; w++) {
		char a[INET_ADDRSTRLEN];

		if (b->conns[w].fd >= 0)
			continue;
		inet_ntop(AF_INET, &svc->workers[w].addr, a, sizeof(a));
		off += snprintf(buf + off, off < len ? len - off : 0, "%s%s:%u", shown ? ", " : "",
				a, svc->workers[w].port);
		shown++;
	}
	if (missing > shown && off < len)
		snprintf(buf + off, len - off, " and %u more", missing - shown);
}

/*
 * The first scatter waits (at most connect_timeout_ms) for the workers:
 * requests sent before they connect would leave them out.  Those still
 * missing then are named once, as this scatter's error; later scatters go
 * to whoever is connected.
 */
static int first_scatter_wait(struct sgbpf_service *svc, struct sgbpf_tcp_backend *b)
{
	char names[256];
	int err;

	b->waited = true;
	err = sgbpf_tcp_wait_workers(svc, (int)b->connect_timeout_ms);
	if (err != -ETIMEDOUT)
		return err;
	missing_workers(svc, b, names, sizeof(names));
	return sgbpf_err(-ENOTCONN, "%u of %u TCP workers did not connect within %u ms: %s",
			 svc->nworkers - b->connected, svc->nworkers, b->connect_timeout_ms, names);
}

/*
 * How many replies complete this request among the workers connected now.
 * The core asks for every worker (policy all) as nworkers: all means all
 * connected ones, so that a worker that left does not hold every request
 * until its timeout; any and N need as many connected workers as they name.
 */
static int needed_now(struct sgbpf_service *svc, struct sgbpf_tcp_backend *b, uint32_t needed,
		      uint32_t *out)
{
	if (b->connected == 0)
		return sgbpf_err(-ENOTCONN, "no TCP worker is connected");
	if (needed == svc->nworkers) {
		*out = b->connected;
		return 0;
	}
	if (needed > b->connected)
		return sgbpf_err(-ENOTCONN, "the policy needs %u replies but only %u of %u TCP "
				 "workers are connected", needed, b->connected, svc->nworkers);
	*out = needed;
	return 0;
}

int sgbpf_tcp_scatter(struct sgbpf_service *svc, uint32_t slot, uint32_t req_id, uint32_t needed,
		      const void *body, size_t len)
{
	struct sgbpf_tcp_backend *b = svc->backend;
	struct sgbpf_hdr hdr = {
		.req_id = sgbpf_le32(req_id),
		.num_pks = sgbpf_le32(1),
		.body_len = sgbpf_le32((uint32_t)len),
		.msg_type = SGBPF_MSG_SCATTER,
	};
	uint32_t want = 0, targets = 0;
	int err;

	if (!b->waited) {
		err = first_scatter_wait(svc, b);
		if (err)
			return err;
	}
	/*
	 * Connections and hang-ups that arrived since the last look (no
	 * callbacks here); what handling them queues goes in with the sends.
	 */
	drain_cq(svc, b);
	err = needed_now(svc, b, needed, &want);
	if (err)
		return err;
	err = sgbpf_tcp_stream_open(b->stream, req_id, want);
	if (err)
		return sgbpf_err(err, "cannot open the slot of request %u: %s", req_id,
				 strerror(-err));

	memcpy(b->tx, &hdr, SGBPF_HDR_LEN);
	memcpy(b->tx + SGBPF_HDR_LEN, body, len);
	b->tx_ok_len = (uint32_t)len;
	b->tx_req = req_id;
	b->tx_ok = 0;
	for (uint32_t w = 0; w < svc->nworkers; w++) {
		struct io_uring_sqe *sqe;

		if (b->conns[w].fd < 0)
			continue;
		/* Only when many re-arms are queued too: they go first, in a call of their own. */
		sqe = get_sqe(b);
		if (!sqe)
			break;
		io_uring_prep_send(sqe, b->conns[w].fd, b->tx, SGBPF_HDR_LEN + len,
				   MSG_DONTWAIT | MSG_NOSIGNAL);
		io_uring_sqe_set_data64(sqe, UD(OP_SEND, w, req_id));
		targets++;
	}
	b->tx_left = targets;
	b->requests++;
	/* The one system call of the scatter: submit every send and wait for them. */
	err = io_uring_submit_and_wait(&b->ring, targets);
	while (err >= 0 || err == -EINTR) {
		drain_cq(svc, b);
		if (!b->tx_left)
			break;
		err = io_uring_submit_and_wait(&b->ring, 1);
	}
	if (err < 0 && err != -EINTR && b->tx_left) {
		b->tx_left = 0;
		sgbpf_tcp_stream_expire(b->stream, req_id);
		sgbpf_tcp_release_responses(svc, slot);
		return sgbpf_err(err, "io_uring submit failed: %s", strerror(-err));
	}
	if (b->tx_ok == 0) {
		/* Nobody got it: no request was started. */
		sgbpf_tcp_stream_expire(b->stream, req_id);
		sgbpf_tcp_release_responses(svc, slot);
		return sgbpf_err(-ENOTCONN, "the request could not be sent to any TCP worker");
	}
	/*
	 * Workers whose send failed are absent from the request.  When the
	 * others cannot meet its policy, it fails now rather than at its
	 * timeout.
	 */
	if (b->tx_ok < want)
		sgbpf_service_send_failed(svc, req_id);
	return 0;
}

int sgbpf_tcp_io_open(struct sgbpf_service *svc, struct sgbpf_tcp_backend *b)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = -1 };
	uint32_t entries = 64;
	int err;

	/* Every worker's send of one scatter fits the ring at once. */
	while (entries < 2 * svc->nworkers + 16)
		entries <<= 1;
	b->tx = malloc(SGBPF_HDR_LEN + SGBPF_TCP_SCATTER_MAX);
	b->conns = calloc(svc->nworkers, sizeof(*b->conns));
	if (!b->tx || !b->conns)
		return -ENOMEM;
	for (uint32_t w = 0; w < svc->nworkers; w++)
		b->conns[w].fd = -1;
	/*
	 * A completion queue that overflows ends multishot requests: with fate
	 * allow each reply is a completion per receive buffer (32 per MiB per
	 * worker), so that queue is made deep.
	 */
	{
		struct io_uring_params p = { 0 };

		if (svc->fate == SGBPF_FATE_ALLOW) {
			p.flags = IORING_SETUP_CQSIZE;
			p.cq_entries = 16384;
		}
		err = io_uring_queue_init_params(entries, &b->ring, &p);
	}
	if (err)
		return sgbpf_err(err, "cannot create an io_uring: %s", strerror(-err));
	b->ring_ready = true;
	b->ev_fd = epoll_create1(EPOLL_CLOEXEC);
	if (b->ev_fd < 0)
		return sgbpf_err(-errno, "cannot create the event descriptor: %s", strerror(errno));
	if (svc->fate == SGBPF_FATE_ALLOW) {
		err = sgbpf_tcp_rx_open(svc, b);
		if (err)
			return err;
	}
	ev.data.fd = b->ring.ring_fd;
	if (epoll_ctl(b->ev_fd, EPOLL_CTL_ADD, b->ring.ring_fd, &ev))
		return sgbpf_err(-errno, "epoll_ctl: %s", strerror(errno));
	ev.data.fd = sgbpf_tcp_stream_events_fd(b->stream);
	if (epoll_ctl(b->ev_fd, EPOLL_CTL_ADD, sgbpf_tcp_stream_events_fd(b->stream), &ev))
		return sgbpf_err(-errno, "epoll_ctl: %s", strerror(errno));
	for (uint32_t w = 0; w < svc->nworkers; w++) {
		err = arm_accept(b, w);
		if (err)
			return sgbpf_err(err, "cannot queue the accepts");
	}
	err = arm_events(b);
	if (err)
		return sgbpf_err(err, "cannot queue the event poll");
	if (svc->delivery == SGBPF_DELIVERY_CTRL_FD) {
		err = sgbpf_tcp_ctrl_open(b);
		if (!err)
			err = arm_ctrl(b);
		if (err)
			return err == -EBUSY ? sgbpf_err(err, "cannot queue the control poll") : err;
	}
	err = io_uring_submit(&b->ring);
	if (err < 0)
		return sgbpf_err(err, "io_uring submit failed: %s", strerror(-err));
	return 0;
}

void sgbpf_tcp_io_close(struct sgbpf_service *svc, struct sgbpf_tcp_backend *b)
{
	/* Sockets leave the map before they close. */
	for (uint32_t w = 0; b->conns && w < svc->nworkers; w++)
		conn_close(b, w);
	/* Cancels the accepts and polls, and drops the references they hold. */
	if (b->ring_ready)
		io_uring_queue_exit(&b->ring);
	b->ring_ready = false;
	/* After the ring: nothing can write into the buffers or the reply area any more. */
	sgbpf_tcp_rx_close(b);
	sgbpf_tcp_ctrl_close(b);
	if (b->ev_fd >= 0)
		close(b->ev_fd);
	b->ev_fd = -1;
	free(b->conns);
	free(b->tx);
	b->conns = NULL;
	b->tx = NULL;
}
