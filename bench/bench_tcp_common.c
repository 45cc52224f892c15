// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Shared pieces of the TCP scatter-gather contenders; see bench_tcp_common.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "bench_tcp_common.h"

/* ---- options -------------------------------------------------------------- */

/* Above any contender's own option values (those start at 512). */
enum { OPT_LISTEN = 1024, OPT_REPLY_SIZE, OPT_REPLY, OPT_ACCEPT_MS };

static const struct option tcp_longopts[] = {
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "reply-size", required_argument, NULL, OPT_REPLY_SIZE },
	{ "reply", required_argument, NULL, OPT_REPLY },
	{ "accept-ms", required_argument, NULL, OPT_ACCEPT_MS },
};
#define NTCP (sizeof(tcp_longopts) / sizeof(tcp_longopts[0]))

static const char tcp_usage[] =
	"  --listen A:P       where the workers connect (required); --workers lists\n"
	"                     their source endpoints\n"
	"  --reply-size B     reply body bytes the farm sends (default 65536)\n"
	"  --reply K          vector (default: element i = i) or zeros, as the farm's --reply\n"
	"  --accept-ms T      wait for every worker to connect (default 5000)\n";

static int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > max)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int parse_endpoint(const char *s, struct sockaddr_in *sa)
{
	char host[INET_ADDRSTRLEN];
	const char *colon = strrchr(s, ':');
	uint32_t port;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1 || parse_u32(colon + 1, 1, 65535, &port))
		return -EINVAL;
	sa->sin_port = htons((uint16_t)port);
	return 0;
}

static int tcp_handle(int val, const char *arg, void *ctx)
{
	struct btcp_args *a = ctx;

	switch (val) {
	case OPT_LISTEN:
		a->has_listen = true;
		return parse_endpoint(arg, &a->listen);
	case OPT_REPLY_SIZE:
		return parse_u32(arg, 0, BTCP_REPLY_MAX, &a->reply_size);
	case OPT_REPLY:
		if (!strcmp(arg, "vector"))
			a->reply = BTCP_REPLY_VECTOR;
		else if (!strcmp(arg, "zeros"))
			a->reply = BTCP_REPLY_ZEROS;
		else
			return -EINVAL;
		return 0;
	case OPT_ACCEPT_MS:
		return parse_u32(arg, 1, 600000, &a->accept_ms);
	}
	if (a->own && a->own->handle)
		return a->own->handle(val, arg, a->own->ctx);
	return -EINVAL;
}

int btcp_parse_opts(int argc, char **argv, const char *name, struct bench_opts *o,
		    struct btcp_args *a)
{
	struct bench_extra_opts extra = { .handle = tcp_handle, .ctx = a };
	size_t nown = 0;
	struct option *all;
	char *usage;
	int err;

	a->reply_size = BTCP_REPLY_DEFAULT;
	a->accept_ms = 5000;
	while (a->own && a->own->longopts && a->own->longopts[nown].name)
		nown++;
	all = calloc(NTCP + nown + 1, sizeof(*all));
	usage = malloc(sizeof(tcp_usage) + (a->own && a->own->usage ? strlen(a->own->usage) : 0));
	if (!all || !usage) {
		free(all);
		free(usage);
		return -ENOMEM;
	}
	memcpy(all, tcp_longopts, sizeof(tcp_longopts));
	if (nown)
		memcpy(all + NTCP, a->own->longopts, nown * sizeof(*all));
	strcpy(usage, tcp_usage);
	if (a->own && a->own->usage)
		strcat(usage, a->own->usage);
	extra.longopts = all;
	extra.usage = usage;
	err = bench_parse_opts(argc, argv, name, o, &extra);
	if (!err && !a->has_listen) {
		fprintf(stderr, "bench_%s: --listen is required\n", name);
		bench_opts_free(o);
		err = -EINVAL;
	}
	free(all);
	free(usage);
	return err;
}

/* ---- the fold -------------------------------------------------------------- */

void btcp_fold_u32(uint32_t *acc, const uint8_t *p, size_t n)
{
	size_t i = 0;

	/*
	 * Eight elements per step through a local block: GCC's -O2 vectorises
	 * the straight-line block (SLP) where it would not vectorise a loop of
	 * unknown trip count, and the baselines deserve a fast user-space sum.
	 */
	for (; i + 8 <= n; i += 8) {
		uint32_t v[8];

		memcpy(v, p + 4 * i, sizeof(v));
		for (int k = 0; k < 8; k++)
			acc[i + k] += sgbpf_le32(v[k]);
	}
	for (; i < n; i++) {
		uint32_t v;

		memcpy(&v, p + 4 * i, sizeof(v));
		acc[i] += sgbpf_le32(v);
	}
}

bool btcp_sum_ok(const struct btcp_args *a, uint32_t n, const uint32_t *sum, uint32_t nelems)
{
	if (nelems != a->reply_size / 4 || (nelems && !sum))
		return false;
	for (uint32_t i = 0; i < nelems; i++)
		if (sum[i] != btcp_expected(a, n, i))
			return false;
	return true;
}

/* ---- connections ------------------------------------------------------------ */

int btcp_init(struct btcp *b, struct bench_table *t, const struct btcp_args *a)
{
	memset(b, 0, sizeof(*b));
	b->a = a;
	b->t = t;
	b->lfd = -1;
	b->nconns = t->nworkers;
	b->nelems = a->reply_size / 4;
	b->conns = calloc(b->nconns, sizeof(*b->conns));
	/* At least one element per slot, so that a zero-byte reply needs no special case. */
	b->acc = calloc((size_t)t->nslots * (b->nelems ? b->nelems : 1), sizeof(*b->acc));
	if (!b->conns || !b->acc)
		return -ENOMEM;
	for (uint32_t w = 0; w < b->nconns; w++) {
		b->conns[w].fd = -1;
		b->conns[w].worker = w;
	}
	return 0;
}

static int listen_on(const struct sockaddr_in *sa)
{
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) || listen(fd, 4096)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* Close with a reset: no TIME_WAIT on the worker's 4-tuple. */
static void close_reset(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

static int take(struct btcp *b, int fd, uint32_t *have)
{
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int one = 1, w;

	if (getpeername(fd, (struct sockaddr *)&peer, &len) ||
	    (w = bench_table_worker(b->t, &peer)) < 0) {
		close_reset(fd);	/* not one of ours */
		return 0;
	}
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)))
		return -errno;
	/* A worker that connected again (its first attempt met the previous run): keep the newest. */
	if (b->conns[w].fd >= 0)
		close_reset(b->conns[w].fd);
	else
		(*have)++;
	b->conns[w].fd = fd;
	return 0;
}

int btcp_accept_all(struct btcp *b)
{
	uint64_t end = bench_now_ns() + (uint64_t)b->a->accept_ms * 1000000ull;
	uint32_t have = 0;
	int fd, err;

	b->lfd = listen_on(&b->a->listen);
	if (b->lfd < 0)
		return b->lfd;
	while (have < b->nconns) {
		struct pollfd pfd = { .fd = b->lfd, .events = POLLIN };
		uint64_t now = bench_now_ns();

		if (now >= end) {
			fprintf(stderr, "tcp: %u of %u workers connected within %u ms\n", have,
				b->nconns, b->a->accept_ms);
			return -ETIMEDOUT;
		}
		if (poll(&pfd, 1, (int)((end - now) / 1000000ull) + 1) < 0 && errno != EINTR)
			return -errno;
		fd = accept4(b->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
				continue;
			return -errno;
		}
		err = take(b, fd, &have);
		if (err) {
			close(fd);
			return err;
		}
	}
	/* Nobody else needs to get in: the listener is done. */
	close(b->lfd);
	b->lfd = -1;
	return 0;
}

void btcp_close(struct btcp *b)
{
	for (uint32_t w = 0; b->conns && w < b->nconns; w++)
		if (b->conns[w].fd >= 0)
			close_reset(b->conns[w].fd);
	if (b->lfd >= 0)
		close(b->lfd);
	free(b->conns);
	free(b->acc);
	b->conns = NULL;
	b->acc = NULL;
}

/* ---- requests ---------------------------------------------------------------- */

static uint32_t *slot_acc(struct btcp *b, const struct bench_slot *s)
{
	return b->acc + (size_t)(s - b->t->slots) * (b->nelems ? b->nelems : 1);
}

void btcp_start(struct btcp *b, const struct bench_slot *s)
{
	memset(slot_acc(b, s), 0, (size_t)b->nelems * sizeof(uint32_t));
}

int btcp_send_all(struct btcp *b, const struct bench_slot *s)
{
	size_t len = bench_msg_len(b->t->o);

	for (uint32_t w = 0; w < b->nconns; w++) {
		ssize_t r = send(b->conns[w].fd, &s->msg, len, MSG_DONTWAIT | MSG_NOSIGNAL);

		/*
		 * A short send would leave the worker's stream unframed.  It does
		 * not happen here: requests are small and the send buffer of a
		 * connection whose data flows the other way is empty.
		 */
		if (r != (ssize_t)len)
			return r < 0 ? -errno : -EIO;
	}
	return 0;
}

/* The header of c is complete: find what its body belongs to. */
static void begin_body(struct btcp *b, struct btcp_conn *c)
{
	struct bench_table *t = b->t;
	struct sgbpf_hdr h;

	memcpy(&h, c->hdr, sizeof(h));
	c->in_body = true;
	c->pos = 0;
	c->body_left = sgbpf_le32(h.body_len);
	c->req_id = sgbpf_le32(h.req_id);
	c->s = bench_table_find(t, c->req_id);
	if (h.msg_type != SGBPF_MSG_GATHER || c->body_left != b->a->reply_size) {
		t->c.bad_replies++;
		c->s = NULL;
	} else if (!c->s) {
		t->c.stale++;		/* its request timed out: not an error of the reply */
	} else if (!bench_slot_mark(c->s, c->worker)) {
		t->c.bad_replies++;	/* a second reply from one worker */
		c->s = NULL;
	}
}

/* Folds k body bytes of c at body offset c->pos into acc. */
static void fold_bytes(struct btcp_conn *c, uint32_t *acc, const uint8_t *p, size_t k)
{
	uint32_t pos = c->pos, v;
	size_t n;

	/* Finish an element begun in the previous read. */
	while (k && (pos & 3)) {
		c->carry[pos & 3] = *p++;
		pos++;
		k--;
		if (!(pos & 3)) {
			memcpy(&v, c->carry, 4);
			acc[pos / 4 - 1] += sgbpf_le32(v);
		}
	}
	n = k / 4;
	btcp_fold_u32(acc + pos / 4, p, n);
	pos += (uint32_t)(4 * n);
	p += 4 * n;
	k -= 4 * n;
	/* Keep the start of a split element (a trailing partial element is never folded). */
	while (k) {
		c->carry[pos & 3] = *p++;
		pos++;
		k--;
	}
	c->pos = pos;
}

static void end_body(struct btcp *b, struct btcp_conn *c)
{
	struct bench_slot *s = c->s;

	c->in_body = false;
	c->hdr_have = 0;
	c->s = NULL;
	if (!s || !s->active || s->req_id != c->req_id)
		return;
	if (++s->replies < b->t->nworkers)
		return;
	bench_table_finish(b->t, s, btcp_sum_ok(b->a, b->t->nworkers, slot_acc(b, s), b->nelems));
}

int btcp_feed(struct btcp *b, struct btcp_conn *c, const uint8_t *p, size_t len)
{
	c->bytes += len;
	while (len) {
		size_t k;

		if (!c->in_body) {
			k = SGBPF_HDR_LEN - c->hdr_have;
			k = len < k ? len : k;
			memcpy(c->hdr + c->hdr_have, p, k);
			c->hdr_have += (uint32_t)k;
			p += k;
			len -= k;
			if (c->hdr_have < SGBPF_HDR_LEN)
				return 0;
			begin_body(b, c);
			if (c->body_left > BTCP_REPLY_MAX)
				return -EPROTO;	/* no framing left to trust */
		}
		k = len < c->body_left ? len : c->body_left;
		/* The request may have timed out since the last read: never fold into its successor. */
		if (c->s && (!c->s->active || c->s->req_id != c->req_id))
			c->s = NULL;
		if (c->s)
			fold_bytes(c, slot_acc(b, c->s), p, k);
		else
			c->pos += (uint32_t)k;
		c->body_left -= (uint32_t)k;
		p += k;
		len -= k;
		if (!c->body_left)
			end_body(b, c);
	}
	return 0;
}
