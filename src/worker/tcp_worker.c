// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sgbpf worker --backend tcp: many TCP workers in one process.
 *
 * Each worker is one connection to the service, made from its own bound
 * source endpoint (the service tells workers apart by it: docs/tcp.md).
 * It answers every scatter message it reads with one reply message of
 * --reply-size body bytes, in the order the requests came, and connects
 * again whenever the connection fails or drops.
 *
 * Why epoll here and io_uring in the UDP worker: a TCP reply of up to
 * megabytes leaves in several partial writes whatever the interface, and
 * the requests of one connection arrive as one byte stream; a readiness loop
 * with per-connection cursors says that most plainly, and at the fan-outs
 * this worker stands in for, the system calls per request are one read and
 * one or a few writes per connection either way.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <sgbpf/protocol.h>

#include "cli.h"
#include "cli_common.h"
#include "reply_gen.h"
#include "worker.h"
#include "worker_process.h"

#define CMD "worker"

/* Replies one connection may owe at once; reading pauses when they are owed. */
#define TX_QUEUE	1024u
/* A scatter body larger than this is not a scatter: the stream lost its framing. */
#define RX_BODY_MAX	(16u << 20)
#define RX_BUF		65536u
/* Reconnect back-off: first wait, and the longest. */
#define RETRY_MIN_NS	(10 * 1000 * 1000ull)
#define RETRY_MAX_NS	(200 * 1000 * 1000ull)
/* epoll data: the signalfd, else a connection index. */
#define EV_SIGNAL	UINT32_MAX

enum tconn_state { TC_WAIT, TC_CONNECTING, TC_UP };

struct tconn {
	int fd;
	enum tconn_state state;
	uint32_t addr;			/* source, network order */
	uint16_t port;			/* source, host order */
	uint64_t retry_at;		/* TC_WAIT: when to connect again */
	uint64_t backoff;
	bool ever_up;
	/* The request being read. */
	uint8_t hdr[SGBPF_HDR_LEN];
	uint32_t hdr_have;
	uint32_t skip;			/* body bytes of the current message still to read */
	bool in_body;
	bool is_scatter;
	uint32_t req_id;
	/* Replies owed: request ids, oldest first; the first one is being written. */
	uint32_t q[TX_QUEUE];
	uint32_t qhead, qlen;
	uint64_t tx_off;		/* bytes of the current reply already written */
	struct sgbpf_hdr txhdr;
	uint8_t *body;			/* random replies: this connection's own body */
	uint32_t events;		/* what epoll watches now */
};

struct tcp_worker {
	const struct worker_opts *o;
	struct tconn *c;
	uint32_t n;
	int ep, sigfd;
	uint8_t *rxbuf;
	uint8_t *body;			/* the body every reply shares (not random) */
	uint64_t requests, replies, malformed, connects, drops;
	bool stop;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/*
 * The body of a TCP reply: u32 element i is reply_gen_elem() of element
 * i % 363 of packet i / 363, i.e. the bytes a UDP worker would send in
 * consecutive datagrams, here in one message (vector: element i = i;
 * scalar: every element 1).  A trailing partial element is zero.
 */
static void fill_body(const struct reply_gen *g, uint16_t port, uint32_t req_id, uint8_t *body,
		      uint32_t len)
{
	uint32_t n = len / 4;

	for (uint32_t i = 0; i < n; i++) {
		uint32_t v = sgbpf_le32(reply_gen_elem(g, port, req_id, i / REPLY_GEN_NELEMS,
						       i % REPLY_GEN_NELEMS));

		memcpy(body + 4 * (size_t)i, &v, 4);
	}
	memset(body + 4 * (size_t)n, 0, len - 4 * n);
}

int tcp_worker_check_opts(const struct worker_opts *o)
{
	if (!o->has_connect)
		return cli_usage_error(CMD, "--backend tcp needs --connect ADDR:PORT");
	if (!o->nlisten)
		return cli_usage_error(CMD, "--backend tcp needs --bind IP:PORT[-PORT]");
	if (o->xdp || o->dev)
		return cli_usage_error(CMD, "--xdp and --dev are for UDP workers");
	if (o->packets != 1 || !o->pad || o->duplicate || o->junk || o->stray || o->has_silent ||
	    o->delay_us || o->ignore_first || o->expect_allgather)
		return cli_usage_error(CMD, "--packets, --no-pad and the misbehaviour switches are "
				       "for UDP workers");
	return -1;
}

static int watch(struct tcp_worker *w, uint32_t i, uint32_t events)
{
	struct tconn *c = &w->c[i];
	struct epoll_event ev = { .events = events, .data.u32 = i };

	if (c->events == events)
		return 0;
	if (epoll_ctl(w->ep, c->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &ev))
		return -errno;
	c->events = events;
	return 0;
}

/* Gives up the connection (a reset: the source port is free again at once). */
static void drop(struct tcp_worker *w, uint32_t i)
{
	struct tconn *c = &w->c[i];

	if (c->fd >= 0) {
		if (c->state == TC_UP)
			w->drops++;
		close(c->fd);	/* SO_LINGER 0 was set: a RST, no TIME_WAIT */
	}
	c->fd = -1;
	c->events = 0;
	c->state = TC_WAIT;
	c->hdr_have = 0;
	c->in_body = false;
	c->skip = 0;
	c->qhead = c->qlen = 0;
	c->tx_off = 0;
	c->backoff = c->backoff ? c->backoff * 2 : RETRY_MIN_NS;
	if (c->backoff > RETRY_MAX_NS)
		c->backoff = RETRY_MAX_NS;
	c->retry_at = now_ns() + c->backoff;
}

static void start_connect(struct tcp_worker *w, uint32_t i)
{
	struct tconn *c = &w->c[i];
	struct sockaddr_in src = { .sin_family = AF_INET, .sin_addr.s_addr = c->addr,
				   .sin_port = htons(c->port) };
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_addr.s_addr = w->o->connect.addr,
				   .sin_port = htons(w->o->connect.port) };
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		c->state = TC_CONNECTING;	/* so that drop() schedules the retry */
		drop(w, i);
		return;
	}
	setsockopt(c->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->state = TC_CONNECTING;
	if (bind(c->fd, (struct sockaddr *)&src, sizeof(src)) ||
	    (connect(c->fd, (struct sockaddr *)&dst, sizeof(dst)) && errno != EINPROGRESS) ||
	    watch(w, i, EPOLLOUT)) {
		drop(w, i);
		return;
	}
}

static void connected(struct tcp_worker *w, uint32_t i)
{
	struct tconn *c = &w->c[i];
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
		drop(w, i);
		return;
	}
	c->state = TC_UP;
	c->backoff = 0;
	c->ever_up = true;
	w->connects++;
	if (watch(w, i, EPOLLIN | EPOLLRDHUP))
		drop(w, i);
}

/* The reply at the head of the queue: its header, and its body if it has one of its own. */
static void begin_reply(struct tcp_worker *w, struct tconn *c)
{
	uint32_t req = c->q[c->qhead];

	c->txhdr = (struct sgbpf_hdr){
		.req_id = sgbpf_le32(req),
		.seq_num = 0,
		.num_pks = sgbpf_le32(1),
		.body_len = sgbpf_le32(w->o->reply_size),
		.msg_type = SGBPF_MSG_GATHER,
	};
	if (c->body)
		fill_body(&w->o->reply, c->port, req, c->body, w->o->reply_size);
	c->tx_off = 0;
}

/* Writes what the socket takes; returns 0, or -1 when the connection was dropped. */
static int flush(struct tcp_worker *w, uint32_t i)
{
	struct tconn *c = &w->c[i];
	uint64_t total = SGBPF_HDR_LEN + (uint64_t)w->o->reply_size;
	const uint8_t *body = c->body ? c->body : w->body;

	while (c->qlen) {
		struct iovec iov[2];
		int n = 0;
		ssize_t r;

		if (c->tx_off == 0)
			begin_reply(w, c);
		if (c->tx_off < SGBPF_HDR_LEN) {
			iov[n].iov_base = (uint8_t *)&c->txhdr + c->tx_off;
			iov[n++].iov_len = SGBPF_HDR_LEN - c->tx_off;
			iov[n].iov_base = (void *)body;
			iov[n++].iov_len = w->o->reply_size;
		} else {
			iov[n].iov_base = (void *)(body + (c->tx_off - SGBPF_HDR_LEN));
			iov[n++].iov_len = total - c->tx_off;
		}
		r = writev(c->fd, iov, n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return watch(w, i, EPOLLOUT | EPOLLRDHUP) ? (drop(w, i), -1) : 0;
			drop(w, i);
			return -1;
		}
		c->tx_off += (uint64_t)r;
		if (c->tx_off < total)
			continue;
		c->tx_off = 0;
		c->qhead = (c->qhead + 1) % TX_QUEUE;
		c->qlen--;
		w->replies++;
		if (w->o->count_limit && w->replies >= w->o->count_limit)
			w->stop = true;
	}
	/* Nothing owed: read requests again. */
	return watch(w, i, EPOLLIN | EPOLLRDHUP) ? (drop(w, i), -1) : 0;
}

/* Frames the bytes read into messages; a scatter's reply joins the queue. */
static int parse(struct tcp_worker *w, uint32_t i, const uint8_t *p, size_t len)
{
	struct tconn *c = &w->c[i];

	while (len) {
		if (c->in_body) {
			size_t k = len < c->skip ? len : c->skip;

			c->skip -= (uint32_t)k;
			p += k;
			len -= k;
		} else {
			size_t k = SGBPF_HDR_LEN - c->hdr_have;
			struct sgbpf_hdr h;

			k = len < k ? len : k;
			memcpy(c->hdr + c->hdr_have, p, k);
			c->hdr_have += (uint32_t)k;
			p += k;
			len -= k;
			if (c->hdr_have < SGBPF_HDR_LEN)
				break;
			memcpy(&h, c->hdr, sizeof(h));
			c->req_id = sgbpf_le32(h.req_id);
			c->skip = sgbpf_le32(h.body_len);
			c->is_scatter = h.msg_type == SGBPF_MSG_SCATTER;
			c->in_body = true;
			if (c->skip > RX_BODY_MAX) {
				w->malformed++;
				return -1;	/* no framing left to trust */
			}
		}
		if (c->in_body && c->skip == 0) {
			c->in_body = false;
			c->hdr_have = 0;
			if (!c->is_scatter) {
				w->malformed++;
				continue;
			}
			w->requests++;
			if (c->qlen == TX_QUEUE)
				return -1;	/* the service ignores its window: give up */
			c->q[(c->qhead + c->qlen) % TX_QUEUE] = c->req_id;
			c->qlen++;
		}
	}
	return 0;
}

static void readable(struct tcp_worker *w, uint32_t i)
{
	struct tconn *c = &w->c[i];
	ssize_t r;

	/* Up to a few buffers per wake-up, so that one busy connection starves none. */
	for (int round = 0; round < 4 && c->qlen < TX_QUEUE / 2; round++) {
		r = read(c->fd, w->rxbuf, RX_BUF);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			break;
		if (r <= 0 || parse(w, i, w->rxbuf, (size_t)r)) {
			drop(w, i);
			return;
		}
		if ((size_t)r < RX_BUF)
			break;
	}
	if (c->qlen)
		flush(w, i);
}

static int raise_nofile(uint32_t n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	if (rl.rlim_cur >= n + 64)
		return 0;
	rl.rlim_cur = rl.rlim_max < n + 64 ? rl.rlim_max : n + 64;
	return setrlimit(RLIMIT_NOFILE, &rl) ? -errno : 0;
}

static int setup(struct tcp_worker *w)
{
	const struct worker_opts *o = w->o;
	uint32_t k = 0;
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = EV_SIGNAL };

	for (uint32_t r = 0; r < o->nlisten; r++)
		w->n += cli_range_len(&o->listen[r]);
	w->c = calloc(w->n, sizeof(*w->c));
	w->rxbuf = malloc(RX_BUF);
	if (!w->c || !w->rxbuf)
		return -ENOMEM;
	raise_nofile(w->n);
	for (uint32_t r = 0; r < o->nlisten; r++)
		for (uint32_t p = o->listen[r].first; p <= o->listen[r].last; p++, k++) {
			w->c[k].fd = -1;
			w->c[k].addr = o->listen[r].addr;
			w->c[k].port = (uint16_t)p;
			if (o->reply.kind == REPLY_RANDOM) {
				w->c[k].body = malloc(o->reply_size ? o->reply_size : 1);
				if (!w->c[k].body)
					return -ENOMEM;
			}
		}
	/* Bodies that depend on neither port nor request are built once for all. */
	if (o->reply.kind != REPLY_RANDOM) {
		w->body = malloc(o->reply_size ? o->reply_size : 1);
		if (!w->body)
			return -ENOMEM;
		fill_body(&o->reply, 0, 0, w->body, o->reply_size);
	}
	w->sigfd = worker_signalfd();
	if (w->sigfd < 0)
		return w->sigfd;
	if (o->cpu >= 0) {
		int err = worker_pin_cpu(o->cpu);

		if (err)
			return err;
	}
	w->ep = epoll_create1(EPOLL_CLOEXEC);
	if (w->ep < 0)
		return -errno;
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->sigfd, &ev))
		return -errno;
	return 0;
}

/* Connects whatever waits and is due; returns ms until the next one is (-1: none). */
static int reconnect_due(struct tcp_worker *w)
{
	uint64_t now = now_ns(), next = 0;

	for (uint32_t i = 0; i < w->n; i++) {
		struct tconn *c = &w->c[i];

		if (c->state != TC_WAIT)
			continue;
		if (c->retry_at <= now)
			start_connect(w, i);
		if (c->state == TC_WAIT && (!next || c->retry_at < next))
			next = c->retry_at;
	}
	if (!next)
		return -1;
	return next <= now ? 0 : (int)((next - now + 999999) / 1000000);
}

static void run(struct tcp_worker *w)
{
	struct epoll_event evs[256];

	while (!w->stop) {
		int t = reconnect_due(w), n;

		n = epoll_wait(w->ep, evs, 256, t);
		if (n < 0 && errno != EINTR)
			break;
		for (int e = 0; e < n && !w->stop; e++) {
			uint32_t i = evs[e].data.u32;
			struct tconn *c;

			if (i == EV_SIGNAL) {
				w->stop = true;
				break;
			}
			c = &w->c[i];
			if (c->fd < 0)
				continue;	/* dropped earlier in this batch */
			if (c->state == TC_CONNECTING) {
				connected(w, i);
				continue;
			}
			if (evs[e].events & (EPOLLERR | EPOLLHUP)) {
				drop(w, i);
				continue;
			}
			if (evs[e].events & EPOLLOUT) {
				if (flush(w, i))
					continue;
			}
			/* RDHUP: read the rest, then the read of 0 drops it. */
			if (evs[e].events & (EPOLLIN | EPOLLRDHUP))
				readable(w, i);
		}
	}
}

static void notify_ready(struct tcp_worker *w)
{
	const struct worker_opts *o = w->o;
	char addr[16];

	if (!o->quiet)
		fprintf(stderr, "worker: %u TCP workers connecting to %s:%u\n", w->n,
			cli_addr_str(o->connect.addr, addr), o->connect.port);
	if (o->ready_fd >= 0) {
		if (write(o->ready_fd, "ready\n", 6) != 6 && !o->quiet)
			fprintf(stderr, "worker: cannot signal readiness: %s\n", strerror(errno));
		close(o->ready_fd);
	}
}

static void cleanup(struct tcp_worker *w)
{
	for (uint32_t i = 0; w->c && i < w->n; i++) {
		if (w->c[i].fd >= 0)
			close(w->c[i].fd);
		free(w->c[i].body);
	}
	free(w->c);
	free(w->rxbuf);
	free(w->body);
	if (w->sigfd >= 0)
		close(w->sigfd);
	if (w->ep >= 0)
		close(w->ep);
}

int tcp_worker_run(const struct worker_opts *o)
{
	struct tcp_worker w = { .o = o, .ep = -1, .sigfd = -1 };
	int err = setup(&w);

	if (err) {
		if (o->ready_fd >= 0)
			close(o->ready_fd);
		cleanup(&w);
		return cli_fail(CMD, "cannot set up the TCP workers: %s", strerror(-err));
	}
	for (uint32_t i = 0; i < w.n; i++)
		start_connect(&w, i);
	notify_ready(&w);
	run(&w);
	if (!o->quiet)
		fprintf(stderr, "worker: %u TCP workers, %" PRIu64 " requests, %" PRIu64
			" replies, %" PRIu64 " malformed, %" PRIu64 " connects, %" PRIu64
			" dropped\n", w.n, w.requests, w.replies, w.malformed, w.connects, w.drops);
	cleanup(&w);
	return CLI_EXIT_OK;
}
