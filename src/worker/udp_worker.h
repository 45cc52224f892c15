/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The socket-based UDP reference worker (sgbpf worker): its state and the
 * calls between its files.  udp_worker_setup.c opens the sockets, the ring
 * and the buffers and releases them; udp_worker_loop.c receives scatters and
 * queues the replies; udp_worker.c runs the two in order (udp_worker_run(),
 * declared in worker.h).  Internal to src/worker/.
 */
#ifndef SGBPF_WORKER_UDP_WORKER_H
#define SGBPF_WORKER_UDP_WORKER_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <liburing.h>
#include <sgbpf/protocol.h>

#include "worker.h"

/*
 * Receive buffers: io_uring_recvmsg_out (16 bytes) + sockaddr_in (16) +
 * payload.  2048 leaves room for any 1472-byte message; a larger datagram
 * arrives truncated (MSG_TRUNC) and is counted as malformed.
 */
#define RX_BUF_SIZE	2048u
#define RX_NBUFS	4096u		/* a power of two, as the ring requires */
#define RX_BGID		1
#define MIN_SLOTS	4096u
#define MIN_SQ		4096u
/* Recently seen request ids, to count distinct requests across ports. */
#define SEEN_SLOTS	65536u
/* --ignore-first: request ids remembered per port (a power of two). */
#define IGNORE_IDS	1024u
/* Socket buffers: bursts of one datagram per port, or pipelined requests. */
#define SOCK_BUF_BYTES	(2 << 20)
/* How long to wait for queued replies to leave once stopping. */
#define DRAIN_MS	2000

/* io_uring user_data: the kind of operation in the top byte. */
#define TAG_SHIFT	56
enum op_tag {
	TAG_RECV = 1,	/* low bits: socket index */
	TAG_SEND = 2,	/* low bits: send slot index */
	TAG_TIMER = 3,	/* the delay before a linked chain of sends */
	TAG_SIGNAL = 4,	/* a read on the signalfd */
	TAG_CANCEL = 5,	/* the cancellation of everything, at exit */
};
#define MKTAG(tag, idx)	((uint64_t)(tag) << TAG_SHIFT | (uint64_t)(idx))
#define TAG_OF(ud)	((enum op_tag)((ud) >> TAG_SHIFT))
#define IDX_OF(ud)	((uint32_t)(ud))

#define NO_SLOT UINT32_MAX

/* One listened port; its fixed-file index is its index in udp_worker.socks. */
struct wsock {
	uint32_t addr;		/* network byte order */
	uint16_t port;
	uint32_t stray;		/* fixed-file index of the stray socket for addr */
	bool silent;
	bool armed;		/* a multishot recvmsg is outstanding */
};

/* Everything one sendmsg needs until its completion arrives. */
struct send_slot {
	struct msghdr msg;
	struct iovec iov[2];
	struct sockaddr_in to;
	struct sgbpf_hdr hdr;
	uint8_t *body;		/* own body (random replies), else NULL */
	uint32_t next_free;
};

/* A scatter message waiting for send slots; it holds its receive buffer. */
struct pending {
	struct sockaddr_in from;
	uint32_t sock;
	uint32_t req_id;
	uint16_t bid;
};

struct udp_worker {
	const struct worker_opts *o;
	struct io_uring ring;
	bool ring_ready;

	int *fds;			/* listened sockets, then stray ones */
	uint32_t nfds;
	struct wsock *socks;
	uint32_t nsocks;
	uint32_t *stray_addr;		/* address of stray socket i */
	uint32_t nstray;

	int sigfd;
	struct signalfd_siginfo siginfo;

	struct msghdr rx_tmpl;
	struct io_uring_buf_ring *br;
	size_t br_len;
	uint8_t *rx_bufs;
	uint32_t held;			/* receive buffers held by the backlog */
	uint32_t need_rearm;		/* sockets whose multishot ended */

	struct send_slot *slots;
	uint8_t *slot_bodies;
	uint32_t nslots, free_head, used;
	uint32_t per_req_slots;		/* slots one reply needs */
	uint32_t per_req_sqes;		/* SQEs one reply needs */

	uint32_t *order;		/* --shuffle: packet order of the reply being queued */
	uint64_t rng;			/* --shuffle: xorshift64 state */
	struct pending *backlog;	/* RX_NBUFS entries: one per buffer */
	uint32_t bl_head, bl_tail;

	uint8_t *bodies;		/* shared bodies per seq (not random) */
	uint32_t body_len, body_wire_len;
	uint64_t *seen;
	/* --ignore-first: per port, IGNORE_IDS ids whose first copy came, tagged. */
	uint64_t *first_copies;
	struct __kernel_timespec delay_ts;

	uint64_t requests, replies, malformed, send_errors;
	uint64_t ignored;		/* first copies dropped (--ignore-first) */
	/* --expect-allgather: results received for requests seen, and for others. */
	uint64_t allgathers, allgather_unknown;
	bool stop;
	bool ready_sent;		/* ready_fd written and closed */
	int fatal;			/* negative errno that ends the loop */
};

/* An SQE, submitting what is queued when the ring is full. */
static inline struct io_uring_sqe *udp_worker_get_sqe(struct udp_worker *w)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);

	if (!sqe) {
		io_uring_submit(&w->ring);
		sqe = io_uring_get_sqe(&w->ring);
	}
	return sqe;
}

/*
 * udp_worker_setup.c: blocks SIGINT and SIGTERM, pins the CPU (o->cpu), opens
 * and binds every socket, prepares the reply slots, the ring and the
 * provided-buffer ring.  Returns 0 or a negative errno after saying why; what
 * it set up is left for udp_worker_cleanup(), which releases all of it (w
 * must start zeroed, sigfd -1).
 */
int udp_worker_setup(struct udp_worker *w);
void udp_worker_cleanup(struct udp_worker *w);

/*
 * udp_worker_loop.c: udp_worker_arm() arms a multishot receive on every
 * socket and the signalfd read, and submits them; udp_worker_loop() answers
 * scatters until a signal, the count limit or a fatal error (returned as a
 * negative errno); udp_worker_drain() lets queued replies leave, for at
 * most DRAIN_MS.
 */
int udp_worker_arm(struct udp_worker *w);
int udp_worker_loop(struct udp_worker *w);
void udp_worker_drain(struct udp_worker *w);

#endif /* SGBPF_WORKER_UDP_WORKER_H */
