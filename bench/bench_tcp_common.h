/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Shared pieces of the TCP scatter-gather contenders (bench_tcp_*).
 *
 * Over TCP the roles of connect and listen are the other way round from
 * UDP: the coordinator listens on one address and port (--listen), and
 * each worker of the farm (`sgbpf worker --backend tcp`) connects there
 * from its own bound source endpoint, which is what --workers lists.  A
 * connection's worker is therefore known from its peer address.
 *
 * A reply is the 18-byte header of docs/protocol.md followed by body_len
 * bytes, in one byte stream per worker with nothing between messages.  The
 * farm's bodies are --reply-size bytes of u32 elements (--reply vector:
 * element i = i; zeros: all 0), so the element-wise sum over N workers is
 * N * i (or 0), which every contender checks element by element.
 *
 * The request bookkeeping (slots, ids, seen bits, latency, timeouts) is
 * bench_common's table; what is TCP's own is here: options, listening and
 * accepting, the per-connection framer and the user-space fold of bodies of
 * any size.
 */
#ifndef SGBPF_BENCH_TCP_COMMON_H
#define SGBPF_BENCH_TCP_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench_common.h"

/* Largest reply body the contenders accept: the farm's own limit is 16 MiB. */
#define BTCP_REPLY_MAX		(16u << 20)
/* Default: 64 KiB replies. */
#define BTCP_REPLY_DEFAULT	65536u

enum btcp_reply { BTCP_REPLY_VECTOR, BTCP_REPLY_ZEROS };

/* The TCP options every contender takes, and room for a contender's own. */
struct btcp_args {
	struct sockaddr_in listen;	/* --listen A.B.C.D:PORT */
	bool has_listen;
	uint32_t reply_size;		/* --reply-size: body bytes of each reply */
	enum btcp_reply reply;		/* --reply vector|zeros: what the farm sends */
	uint32_t accept_ms;		/* --accept-ms: how long to wait for the farm */
	const struct bench_extra_opts *own;	/* the contender's own options, or NULL */
};

/*
 * bench_parse_opts() with the TCP options added (and a->own's).  Same
 * returns: 0, 1 after --help, -EINVAL after saying why.
 */
int btcp_parse_opts(int argc, char **argv, const char *name, struct bench_opts *o,
		    struct btcp_args *a);

/* Element i of the sum over n workers: what every result is checked against. */
static inline uint32_t btcp_expected(const struct btcp_args *a, uint32_t n, uint32_t i)
{
	return a->reply == BTCP_REPLY_ZEROS ? 0 : n * i;
}

/* True when sum[0..nelems) is the exact sum over n workers of a->reply_size bodies. */
bool btcp_sum_ok(const struct btcp_args *a, uint32_t n, const uint32_t *sum, uint32_t nelems);

/* Adds n little-endian u32 elements at p (any alignment) into acc. */
void btcp_fold_u32(uint32_t *acc, const uint8_t *p, size_t n);

/* The framer of one worker's byte stream. */
struct btcp_conn {
	int fd;
	uint32_t worker;
	uint8_t hdr[SGBPF_HDR_LEN];
	uint32_t hdr_have;
	bool in_body;
	uint32_t body_left;	/* bytes of the current body still to come */
	uint32_t pos;		/* bytes of the current body already consumed */
	uint8_t carry[4];	/* an element split between two reads */
	struct bench_slot *s;	/* the request being folded into; NULL: skip the body */
	uint32_t req_id;	/* ... whose id, re-checked before every fold */
	uint64_t bytes;		/* received on this connection */
};

/* The baselines' shared state: the connections and one sum per slot. */
struct btcp {
	const struct btcp_args *a;
	struct bench_table *t;
	struct btcp_conn *conns;	/* by worker index */
	uint32_t nconns;
	uint32_t nelems;		/* u32 elements of one body */
	uint32_t *acc;			/* nslots * nelems */
	int lfd;
};

/* Allocates the connections and sums; no socket yet.  0 or -errno. */
int btcp_init(struct btcp *b, struct bench_table *t, const struct btcp_args *a);

/*
 * Listens on a->listen and accepts one connection from every worker of the
 * table (identified by its source endpoint; anyone else is refused with a
 * reset), within a->accept_ms.  The accepted sockets are non-blocking with
 * TCP_NODELAY and a zero linger (closing sends a reset, so no TIME_WAIT of
 * ours holds a worker's next connection from the same port).  Returns 0,
 * -ETIMEDOUT (saying how many came), or -errno.
 */
int btcp_accept_all(struct btcp *b);

void btcp_close(struct btcp *b);

/* Zeroes the sum of a request just started; call before its sends. */
void btcp_start(struct btcp *b, const struct bench_slot *s);

/*
 * Sends the scatter message of s to every connection with one send() each.
 * Returns 0 or -errno (the request then failed).
 */
int btcp_send_all(struct btcp *b, const struct bench_slot *s);

/*
 * Frames len received bytes of connection c: headers are checked (a reply,
 * to a request in flight, from a worker that has not answered it yet, of
 * --reply-size bytes), bodies are folded into their request's sum, and a
 * request whose last reply is in is checked and completed.  Invalid replies
 * are counted and their bodies skipped.  Returns 0, or -EPROTO when the
 * stream cannot be framed any more (a body longer than any reply).
 */
int btcp_feed(struct btcp *b, struct btcp_conn *c, const uint8_t *p, size_t len);

#endif /* SGBPF_BENCH_TCP_COMMON_H */
