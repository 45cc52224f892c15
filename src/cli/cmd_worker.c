// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sgbpf worker: a reference UDP worker serving many ports in one process.
 *
 * Every listened port answers each well-formed scatter message with a reply
 * whose contents come from reply_gen.h, so that whoever gathers the replies
 * can check the reduced result.  Switches make it misbehave on purpose
 * (duplicates, junk, replies from a stray port, silent ports, delays) for
 * robustness tests.
 *
 * Why io_uring and not epoll: this process stands in for hundreds of workers
 * on a 2-core machine while the coordinator under test runs on the same
 * cores, so its own cost must stay small.  One scatter makes every listened
 * socket readable at once.  With epoll, even with recvmmsg/sendmmsg batching,
 * each ready socket costs a receive call and a send call: about two system
 * calls per reply, ~1000 per request at 512 workers.  With a multishot
 * recvmsg armed on every socket and one provided-buffer ring shared by all of
 * them, the kernel posts each datagram as a completion, and one
 * io_uring_enter() both submits the replies to all sockets and reaps the next
 * requests: system calls per request fall to a handful, and the farm's cost
 * is the datagrams themselves.
 */
#define _GNU_SOURCE	/* sched_setaffinity, CPU_SET */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

#include <liburing.h>

#include "cli.h"
#include "cli_common.h"
#include "reply_gen.h"
#include "worker.h"

#define CMD "worker"

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

static const uint8_t junk_bytes[5] = { 0xde, 0xad, 0xbe, 0xef, 0x00 };

/* One listened port; its fixed-file index is its index in worker.socks. */
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

struct worker {
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

/* ---- set-up ---------------------------------------------------------- */

/* Reports "WHAT: strerror(errno)" and returns -errno. */
static int fail_errno(const char *what)
{
	int err = errno;

	cli_fail(CMD, "%s: %s", what, strerror(err));
	return -err;
}

static int set_sock_buf(int fd, int force_opt, int opt, int bytes)
{
	/* SO_*BUFFORCE ignores the sysctl caps but needs CAP_NET_ADMIN. */
	if (!setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof(bytes)))
		return 0;
	if (setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof(bytes)))
		return -errno;
	return 0;
}

static int open_udp(uint32_t addr, uint16_t port)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = addr,
		.sin_port = htons(port),
	};
	char abuf[16];
	int fd, err;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail_errno("socket");
	err = set_sock_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF, SOCK_BUF_BYTES);
	if (!err)
		err = set_sock_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF, SOCK_BUF_BYTES);
	if (err) {
		cli_fail(CMD, "cannot size socket buffers: %s", strerror(-err));
		goto fail;
	}
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin))) {
		err = -errno;
		cli_fail(CMD, "cannot bind %s:%u: %s", cli_addr_str(addr, abuf), port,
			 strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return err;
}

/* One descriptor per socket, plus the signalfd, the ring and some slack. */
static int raise_nofile(uint32_t nfds)
{
	rlim_t want = (rlim_t)nfds + 64;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	if (rl.rlim_cur >= want)
		return 0;
	if (rl.rlim_max < want)
		rl.rlim_max = want;	/* only root may; the error says so below */
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl)) {
		int err = errno;

		cli_fail(CMD, "need %llu open files, RLIMIT_NOFILE refuses: %s",
			 (unsigned long long)want, strerror(err));
		return -err;
	}
	return 0;
}

static int stray_index_for(struct worker *w, uint32_t addr)
{
	uint32_t i;

	for (i = 0; i < w->nstray; i++) {
		if (w->stray_addr[i] == addr)
			return (int)i;
	}
	return -1;
}

static int open_sockets(struct worker *w)
{
	const struct worker_opts *o = w->o;
	uint32_t total = 0, i, p;
	int fd, s;

	for (i = 0; i < o->nlisten; i++)
		total += cli_range_len(&o->listen[i]);
	/* Room for a stray socket per distinct address: at most one per range. */
	w->fds = calloc((size_t)total + o->nlisten, sizeof(*w->fds));
	w->socks = calloc(total, sizeof(*w->socks));
	w->stray_addr = calloc(o->nlisten, sizeof(*w->stray_addr));
	if (!w->fds || !w->socks || !w->stray_addr)
		return cli_fail(CMD, "out of memory"), -ENOMEM;
	if (raise_nofile(total + o->nlisten))
		return -EMFILE;

	for (i = 0; i < o->nlisten; i++) {
		const struct cli_port_range *r = &o->listen[i];

		if (o->stray && stray_index_for(w, r->addr) < 0)
			w->stray_addr[w->nstray++] = r->addr;
		for (p = r->first; p <= r->last; p++) {
			struct wsock *ws = &w->socks[w->nsocks];

			fd = open_udp(r->addr, (uint16_t)p);
			if (fd < 0)
				return fd;
			w->fds[w->nfds++] = fd;
			ws->addr = r->addr;
			ws->port = (uint16_t)p;
			ws->silent = worker_opts_is_silent(o, (uint16_t)p);
			w->nsocks++;
		}
	}
	/* Port 0: the kernel picks a port no listed range holds, since those are bound. */
	for (i = 0; i < w->nstray; i++) {
		fd = open_udp(w->stray_addr[i], 0);
		if (fd < 0)
			return fd;
		w->fds[w->nfds++] = fd;
	}
	for (i = 0; i < w->nsocks; i++) {
		s = stray_index_for(w, w->socks[i].addr);
		w->socks[i].stray = s < 0 ? 0 : w->nsocks + (uint32_t)s;
	}
	return 0;
}

static uint32_t roundup_pow2(uint32_t v)
{
	uint32_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

static int setup_ring(struct worker *w)
{
	/*
	 * DEFER_TASKRUN runs completion work only when we wait, i.e. in
	 * batches and on our own time; older kernels refuse the flag.
	 */
	static const unsigned int flag_sets[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_COOP_TASKRUN,
		0,
	};
	uint32_t sq = roundup_pow2(w->per_req_sqes > MIN_SQ ? w->per_req_sqes : MIN_SQ);
	struct io_uring_params p;
	size_t i;
	int err = -EINVAL;

	for (i = 0; i < sizeof(flag_sets) / sizeof(flag_sets[0]); i++) {
		memset(&p, 0, sizeof(p));
		p.flags = flag_sets[i] | IORING_SETUP_CQSIZE;
		p.cq_entries = sq * 4;
		err = io_uring_queue_init_params(sq, &w->ring, &p);
		if (!err)
			break;
	}
	if (err)
		return cli_fail(CMD, "io_uring_setup: %s", strerror(-err)), err;
	w->ring_ready = true;

	err = io_uring_register_files(&w->ring, w->fds, w->nfds);
	if (err)
		return cli_fail(CMD, "cannot register %u sockets with io_uring: %s",
				w->nfds, strerror(-err)), err;
	return 0;
}

/*
 * liburing 2.3 has no io_uring_setup_buf_ring(): map a page-aligned ring
 * ourselves, then register it and hand every buffer to the kernel.
 */
static int setup_rx_buffers(struct worker *w)
{
	struct io_uring_buf_reg reg = { 0 };
	int mask = io_uring_buf_ring_mask(RX_NBUFS);
	uint32_t i;
	int err;

	w->br_len = RX_NBUFS * sizeof(struct io_uring_buf);
	w->br = mmap(NULL, w->br_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (w->br == MAP_FAILED) {
		w->br = NULL;
		return fail_errno("mmap");
	}
	w->rx_bufs = aligned_alloc(4096, (size_t)RX_NBUFS * RX_BUF_SIZE);
	w->backlog = calloc(RX_NBUFS, sizeof(*w->backlog));
	if (!w->rx_bufs || !w->backlog)
		return cli_fail(CMD, "out of memory"), -ENOMEM;

	io_uring_buf_ring_init(w->br);
	reg.ring_addr = (uint64_t)(uintptr_t)w->br;
	reg.ring_entries = RX_NBUFS;
	reg.bgid = RX_BGID;
	err = io_uring_register_buf_ring(&w->ring, &reg, 0);
	if (err)
		return cli_fail(CMD, "io_uring provided-buffer rings unavailable (kernel 5.19+): %s",
				strerror(-err)), err;
	for (i = 0; i < RX_NBUFS; i++)
		io_uring_buf_ring_add(w->br, w->rx_bufs + (size_t)i * RX_BUF_SIZE, RX_BUF_SIZE,
				      (unsigned short)i, mask, (int)i);
	io_uring_buf_ring_advance(w->br, RX_NBUFS);

	w->rx_tmpl.msg_namelen = sizeof(struct sockaddr_in);
	w->rx_tmpl.msg_controllen = 0;
	return 0;
}

static int setup_replies(struct worker *w)
{
	const struct worker_opts *o = w->o;
	uint32_t copies = o->duplicate ? 2 : 1, i, k;

	w->per_req_slots = copies * (o->packets * (o->stray ? 2 : 1) + (o->junk ? 1 : 0));
	w->per_req_sqes = w->per_req_slots + (o->delay_us ? 1 : 0);
	w->nslots = w->per_req_slots * 2 > MIN_SLOTS ? w->per_req_slots * 2 : MIN_SLOTS;
	w->body_len = 4 * reply_gen_nelems(&o->reply);
	w->body_wire_len = o->pad ? SGBPF_UDP_BODY_MAX : w->body_len;

	w->slots = calloc(w->nslots, sizeof(*w->slots));
	w->seen = calloc(SEEN_SLOTS, sizeof(*w->seen));
	if (!w->slots || !w->seen)
		return cli_fail(CMD, "out of memory"), -ENOMEM;
	if (o->ignore_first) {
		w->first_copies = calloc((size_t)w->nsocks * IGNORE_IDS, sizeof(*w->first_copies));
		if (!w->first_copies)
			return cli_fail(CMD, "out of memory"), -ENOMEM;
	}
	for (i = 0; i < w->nslots; i++)
		w->slots[i].next_free = i + 1 < w->nslots ? i + 1 : NO_SLOT;
	w->free_head = 0;

	if (o->reply.kind == REPLY_RANDOM) {
		/* Each reply differs: every slot carries its own body. */
		w->slot_bodies = calloc(w->nslots, SGBPF_UDP_BODY_MAX);
		if (!w->slot_bodies)
			return cli_fail(CMD, "out of memory"), -ENOMEM;
		for (i = 0; i < w->nslots; i++)
			w->slots[i].body = w->slot_bodies + (size_t)i * SGBPF_UDP_BODY_MAX;
	} else {
		/* The body depends only on seq: build each once, share it. */
		w->bodies = calloc(o->packets, SGBPF_UDP_BODY_MAX);
		if (!w->bodies)
			return cli_fail(CMD, "out of memory"), -ENOMEM;
		for (k = 0; k < o->packets; k++)
			reply_gen_fill_body(&o->reply, 0, 0, k, w->bodies + (size_t)k * SGBPF_UDP_BODY_MAX);
	}
	if (o->shuffle) {
		w->order = calloc(o->packets, sizeof(*w->order));
		if (!w->order)
			return cli_fail(CMD, "out of memory"), -ENOMEM;
		w->rng = ((uint64_t)getpid() << 32 | (uint64_t)time(NULL)) | 1;
	}
	w->delay_ts.tv_sec = (long long)(o->delay_us / 1000000);
	w->delay_ts.tv_nsec = (long long)(o->delay_us % 1000000) * 1000;
	return 0;
}

static int setup_signals(struct worker *w)
{
	sigset_t mask;

	/* Blocked and read through io_uring: no race with the wait. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	if (pthread_sigmask(SIG_BLOCK, &mask, NULL))
		return cli_fail(CMD, "cannot block signals"), -EINVAL;
	w->sigfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (w->sigfd < 0)
		return fail_errno("signalfd");
	/* A parent gone before the ready line must not kill us on write(). */
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static int pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		int err = errno;

		cli_fail(CMD, "cannot pin to CPU %d: %s", cpu, strerror(err));
		return -err;
	}
	return 0;
}

/* ---- the loop -------------------------------------------------------- */

/* An SQE, submitting what is queued when the ring is full. */
static struct io_uring_sqe *get_sqe(struct worker *w)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);

	if (!sqe) {
		io_uring_submit(&w->ring);
		sqe = io_uring_get_sqe(&w->ring);
	}
	return sqe;
}

static int arm_recv(struct worker *w, uint32_t si)
{
	struct io_uring_sqe *sqe = get_sqe(w);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_recvmsg_multishot(sqe, (int)si, &w->rx_tmpl, 0);
	sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
	sqe->buf_group = RX_BGID;
	io_uring_sqe_set_data64(sqe, MKTAG(TAG_RECV, si));
	w->socks[si].armed = true;
	return 0;
}

static int arm_signal(struct worker *w)
{
	struct io_uring_sqe *sqe = get_sqe(w);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_read(sqe, w->sigfd, &w->siginfo, sizeof(w->siginfo), 0);
	io_uring_sqe_set_data64(sqe, MKTAG(TAG_SIGNAL, 0));
	return 0;
}

static void recycle_buf(struct worker *w, uint16_t bid)
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
static void note_request(struct worker *w, uint32_t req_id)
{
	uint64_t tagged = 1ull << 32 | req_id;
	uint64_t *e = &w->seen[req_id & (SEEN_SLOTS - 1)];

	if (*e != tagged) {
		*e = tagged;
		w->requests++;
	}
}

/* Was req_id one of the requests received lately (note_request())? */
static bool request_seen(const struct worker *w, uint32_t req_id)
{
	return w->seen[req_id & (SEEN_SLOTS - 1)] == (1ull << 32 | req_id);
}

/*
 * --expect-allgather: is the datagram an all-gather (type 2, a whole header,
 * a body_len that fits)?  Counted by whether its request came here first.
 */
static bool take_allgather(struct worker *w, const uint8_t *p, uint32_t len)
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
static bool first_copy(struct worker *w, uint32_t si, uint32_t req_id)
{
	uint64_t tagged = 1ull << 32 | req_id;
	uint64_t *e = &w->first_copies[(size_t)si * IGNORE_IDS + (req_id & (IGNORE_IDS - 1))];

	if (*e == tagged)
		return false;
	*e = tagged;
	return true;
}

static void on_recv(struct worker *w, uint32_t si, const struct io_uring_cqe *cqe)
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

static uint32_t take_slot(struct worker *w)
{
	uint32_t i = w->free_head;

	w->free_head = w->slots[i].next_free;
	w->used++;
	return i;
}

static void put_slot(struct worker *w, uint32_t i)
{
	w->slots[i].next_free = w->free_head;
	w->free_head = i;
	w->used--;
}

static uint32_t free_slots(const struct worker *w)
{
	return w->nslots - w->used;
}

static void on_send(struct worker *w, uint32_t slot, int res)
{
	if (res < 0)
		w->send_errors++;
	put_slot(w, slot);
}

/* Queues one sendmsg of a prepared slot from fixed file fi. */
static struct io_uring_sqe *queue_slot(struct worker *w, uint32_t fi, uint32_t slot)
{
	struct io_uring_sqe *sqe = get_sqe(w);

	/* answer_backlog() made room for the whole reply first. */
	io_uring_prep_sendmsg(sqe, (int)fi, &w->slots[slot].msg, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, MKTAG(TAG_SEND, slot));
	return sqe;
}

static struct io_uring_sqe *queue_packet(struct worker *w, uint32_t fi, const struct pending *pd,
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

static struct io_uring_sqe *queue_junk(struct worker *w, uint32_t fi, const struct pending *pd)
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

/*
 * Queues the reply to one scatter message: num_pks datagrams (each also from
 * the stray socket with --stray), a junk datagram with --junk, all of it
 * twice with --duplicate.  With --delay-us a timeout heads a linked chain
 * holding every datagram of the reply; IORING_TIMEOUT_ETIME_SUCCESS makes
 * its expiry start the chain rather than cancel it.
 */
/* --shuffle: a fresh random permutation of 0..packets-1 in w->order (Fisher-Yates). */
static void shuffle_order(struct worker *w, uint32_t packets)
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

static void queue_reply(struct worker *w, const struct pending *pd)
{
	const struct worker_opts *o = w->o;
	uint32_t fi = pd->sock, copies = o->duplicate ? 2 : 1, c, k;
	struct io_uring_sqe *sqe, *last = NULL;
	bool link = o->delay_us > 0;

	if (link) {
		sqe = get_sqe(w);
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

/* Answers backlogged scatter messages while slots and SQEs allow. */
static void answer_backlog(struct worker *w)
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
static void rearm(struct worker *w)
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

static void reap(struct worker *w)
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

static int run_loop(struct worker *w)
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
static void drain(struct worker *w)
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

/*
 * io_uring tears a ring down asynchronously, and a socket referenced by a
 * pending multishot receive or by the registered file table outlives close()
 * and even exit() by some milliseconds: long enough for a script restarting
 * the worker on the same ports to meet EADDRINUSE.  Cancelling every request
 * and unregistering the files first makes close() really free the ports.
 */
static void release_ring(struct worker *w)
{
	struct __kernel_timespec ts = { .tv_nsec = 100 * 1000 * 1000 };
	struct io_uring_sqe *sqe = get_sqe(w);
	struct io_uring_cqe *cqe;
	unsigned int head, n;
	bool done = false;
	int rounds;

	if (!sqe)
		return;
	io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
	io_uring_sqe_set_data64(sqe, MKTAG(TAG_CANCEL, 0));
	for (rounds = 0; rounds < 10 && !done; rounds++) {
		io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts, NULL);
		n = 0;
		io_uring_for_each_cqe(&w->ring, head, cqe) {
			n++;
			if (TAG_OF(io_uring_cqe_get_data64(cqe)) == TAG_CANCEL)
				done = true;
		}
		io_uring_cq_advance(&w->ring, n);
	}
	io_uring_unregister_files(&w->ring);
}

static void worker_cleanup(struct worker *w)
{
	uint32_t i;

	if (w->ring_ready) {
		release_ring(w);
		io_uring_queue_exit(&w->ring);
	}
	if (w->br)
		munmap(w->br, w->br_len);
	for (i = 0; i < w->nfds; i++)
		close(w->fds[i]);
	if (w->sigfd >= 0)
		close(w->sigfd);
	free(w->fds);
	free(w->socks);
	free(w->stray_addr);
	free(w->rx_bufs);
	free(w->backlog);
	free(w->slots);
	free(w->slot_bodies);
	free(w->bodies);
	free(w->order);
	free(w->seen);
	free(w->first_copies);
}

static void notify_ready(struct worker *w)
{
	const struct worker_opts *o = w->o;

	if (!o->quiet)
		fprintf(stderr, "worker: listening on %u ports\n", w->nsocks);
	if (o->ready_fd >= 0) {
		if (write(o->ready_fd, "ready\n", 6) != 6 && !o->quiet)
			fprintf(stderr, "worker: cannot signal readiness: %s\n", strerror(errno));
		close(o->ready_fd);
		w->ready_sent = true;
	}
}

/* One write, so that the line arrives whole even on an unbuffered stderr. */
static void print_summary(const struct worker *w)
{
	char line[256];
	int len;

	len = snprintf(line, sizeof(line),
		       "worker: %u ports, %" PRIu64 " requests, %" PRIu64 " replies, %" PRIu64
		       " malformed", w->nsocks, w->requests, w->replies, w->malformed);
	if (w->o->expect_allgather)
		len += snprintf(line + len, sizeof(line) - (size_t)len, ", %" PRIu64
				" all-gathers, %" PRIu64 " for unknown requests", w->allgathers,
				w->allgather_unknown);
	if (w->o->ignore_first)
		len += snprintf(line + len, sizeof(line) - (size_t)len, ", %" PRIu64 " ignored",
				w->ignored);
	if (w->send_errors)
		len += snprintf(line + len, sizeof(line) - (size_t)len, ", %" PRIu64 " send errors",
				w->send_errors);
	snprintf(line + len, sizeof(line) - (size_t)len, "\n");
	fputs(line, stderr);
}

int worker_run(const struct worker_opts *o)
{
	struct worker w = { .o = o, .sigfd = -1 };
	uint32_t i;
	int err;

	err = setup_signals(&w);
	if (!err && o->cpu >= 0)
		err = pin_cpu(o->cpu);
	if (!err)
		err = open_sockets(&w);
	if (!err)
		err = setup_replies(&w);
	if (!err)
		err = setup_ring(&w);
	if (!err)
		err = setup_rx_buffers(&w);
	if (err)
		goto cleanup;

	for (i = 0; i < w.nsocks && !err; i++)
		err = arm_recv(&w, i);
	if (!err)
		err = arm_signal(&w);
	if (!err) {
		err = io_uring_submit(&w.ring);
		err = err < 0 ? err : 0;
	}
	if (err) {
		cli_fail(CMD, "cannot arm receives: %s", strerror(-err));
		goto cleanup;
	}
	notify_ready(&w);

	err = run_loop(&w);
	drain(&w);
	if (!o->quiet)
		print_summary(&w);
cleanup:
	/* A parent waiting for readiness must see the pipe close, not hang. */
	if (o->ready_fd >= 0 && !w.ready_sent)
		close(o->ready_fd);
	worker_cleanup(&w);
	return err ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

/* ---- options --------------------------------------------------------- */

void worker_opts_init(struct worker_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->reply.kind = REPLY_VECTOR;
	o->packets = 1;
	o->reply_size = SGBPF_UDP_BODY_U32 * 4;	/* a UDP reply's body */
	o->pad = true;
	o->cpu = -1;
	o->ready_fd = -1;
}

int worker_opts_add_listen(struct worker_opts *o, const struct cli_port_range *r)
{
	struct cli_port_range *bigger;

	bigger = realloc(o->listen, (o->nlisten + 1) * sizeof(*bigger));
	if (!bigger)
		return -ENOMEM;
	o->listen = bigger;
	o->listen[o->nlisten++] = *r;
	return 0;
}

void worker_opts_free(struct worker_opts *o)
{
	free(o->listen);
	o->listen = NULL;
	o->nlisten = 0;
}

static void worker_usage(void)
{
	printf(
"Usage: sgbpf worker --listen ADDR:PORT[-PORT] [--listen ...] [OPTIONS]\n"
"       sgbpf worker --xdp --dev IF --listen ADDR:PORT[-PORT] [--reply KIND] [--no-pad]\n"
"       sgbpf worker --backend tcp --connect ADDR:PORT --bind IP:PORT[-PORT] [OPTIONS]\n"
"\n"
"A reference UDP worker: every listened port answers each scatter message\n"
"(msg_type 0) with a reply echoing its req_id, from the port it reached,\n"
"to the address it came from.  Many ports, one process.\n"
"\n"
"Options:\n"
"  -l, --listen ADDR:PORT[-PORT]  listen on a port or an inclusive port range\n"
"                                 (repeatable), e.g. 127.0.0.1:9000-9127\n"
"  -r, --reply KIND               reply contents: vector (default), scalar,\n"
"                                 zeros, random:SEED (docs/protocol.md)\n"
"  -k, --packets K                datagrams per reply, 1..%u (default 1)\n"
"      --no-pad                   send 18+body_len bytes, not 1472\n"
"  -n, --count-limit N            exit after answering N scatter messages\n"
"  -c, --cpu N                    pin the worker to CPU N\n"
"  -q, --quiet                    print neither the ready line nor the summary\n"
"\n"
"In the kernel:\n"
"      --xdp                      answer in an XDP program on --dev instead of\n"
"                                 sockets (XDP_TX; vector, scalar or zeros;\n"
"                                 one datagram per reply; no misbehaviour);\n"
"                                 ADDR 0.0.0.0 matches any destination\n"
"  -d, --dev IF                   the interface the scatters arrive on\n"
"\n"
"Misbehaviour, for robustness tests:\n"
"      --duplicate                send every reply twice\n"
"      --shuffle                  send the packets of a reply (--packets) in a\n"
"                                 random order, each copy in its own\n"
"      --junk                     follow each reply with a 5-byte garbage datagram\n"
"      --stray                    also send each datagram from an unlisted port\n"
"      --silent-port PORT         that port receives but never answers (repeatable)\n"
"      --delay-us US              delay every reply by US microseconds\n"
"      --expect-allgather         count the all-gathers (message type 2, gather\n"
"                                 --all-gather) that arrive, apart for requests\n"
"                                 never received; without it they are malformed\n"
"      --ignore-first             never answer the first copy of a request a port\n"
"                                 receives, only later ones (a straggler that a\n"
"                                 re-scatter, gather --retry-us, gets an answer from)\n"
"\n"
"TCP workers (--backend tcp), one connection per bound port:\n"
"  -b, --backend udp|tcp          transport (default udp)\n"
"      --connect ADDR:PORT        the service to connect to (gather --listen)\n"
"      --bind IP:PORT[-PORT]      source endpoints, one worker each (repeatable);\n"
"                                 the service's --workers file lists them\n"
"      --reply-size BYTES         reply body bytes, 0..%u (default 1452); u32\n"
"                                 element i is what a UDP worker's packet\n"
"                                 i / 363 would hold (vector: i); --reply and\n"
"                                 --count-limit as above.  A dropped\n"
"                                 connection is made again.\n"
"\n"
"  -h, --help                     show this help and exit\n"
"  -V, --version                  show the version and exit\n"
"\n"
"Prints 'worker: listening on N ports' on stderr once ready.  SIGINT or\n"
"SIGTERM stops it with a summary line; the exit code is then 0.  With --xdp\n"
"the program detaches when the process ends, however it ends.\n",
	WORKER_MAX_PACKETS, WORKER_MAX_REPLY_SIZE);
}

enum {
	OPT_NO_PAD = 256,
	OPT_DUPLICATE,
	OPT_SHUFFLE,
	OPT_JUNK,
	OPT_STRAY,
	OPT_SILENT_PORT,
	OPT_DELAY_US,
	OPT_XDP,
	OPT_IGNORE_FIRST,
	OPT_EXPECT_ALLGATHER,
	OPT_CONNECT,
	OPT_BIND,
	OPT_REPLY_SIZE,
};

/* Returns -1 when options parsed and the worker should run, else an exit code. */
static int parse_worker_args(int argc, char **argv, struct worker_opts *o)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "reply", required_argument, NULL, 'r' },
		{ "packets", required_argument, NULL, 'k' },
		{ "no-pad", no_argument, NULL, OPT_NO_PAD },
		{ "count-limit", required_argument, NULL, 'n' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "duplicate", no_argument, NULL, OPT_DUPLICATE },
		{ "shuffle", no_argument, NULL, OPT_SHUFFLE },
		{ "junk", no_argument, NULL, OPT_JUNK },
		{ "stray", no_argument, NULL, OPT_STRAY },
		{ "silent-port", required_argument, NULL, OPT_SILENT_PORT },
		{ "delay-us", required_argument, NULL, OPT_DELAY_US },
		{ "ignore-first", no_argument, NULL, OPT_IGNORE_FIRST },
		{ "expect-allgather", no_argument, NULL, OPT_EXPECT_ALLGATHER },
		{ "xdp", no_argument, NULL, OPT_XDP },
		{ "dev", required_argument, NULL, 'd' },
		{ "backend", required_argument, NULL, 'b' },
		{ "connect", required_argument, NULL, OPT_CONNECT },
		{ "bind", required_argument, NULL, OPT_BIND },
		{ "reply-size", required_argument, NULL, OPT_REPLY_SIZE },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	struct cli_port_range r;
	uint32_t u32;
	uint16_t port;
	uint64_t total = 0;
	int c, err;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, ":l:r:k:n:c:d:b:qhV", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			if (strcmp(optarg, "udp") && strcmp(optarg, "tcp"))
				return cli_usage_error(CMD, "unknown backend '%s' (udp, tcp)", optarg);
			o->tcp = !strcmp(optarg, "tcp");
			break;
		case OPT_CONNECT:
			if (cli_parse_endpoint(optarg, &o->connect))
				return cli_usage_error(CMD, "--connect %s: expected IPv4:PORT", optarg);
			o->has_connect = true;
			break;
		case OPT_REPLY_SIZE:
			if (cli_parse_u32(optarg, 0, WORKER_MAX_REPLY_SIZE, &o->reply_size))
				return cli_usage_error(CMD, "--reply-size %s: expected 0..%u", optarg,
						       WORKER_MAX_REPLY_SIZE);
			break;
		case OPT_BIND:
			if (!o->tcp)
				return cli_usage_error(CMD, "--bind is for --backend tcp (give it first)");
			/* A source range is parsed like a listen range. */
			__attribute__((fallthrough));
		case 'l':
			if (c == 'l' && o->tcp)
				return cli_usage_error(CMD, "TCP workers take --bind, not --listen");
			err = cli_parse_port_range(optarg, &r);
			if (err == -ERANGE)
				return cli_usage_error(CMD, "--listen %s: the range ends before it starts",
						       optarg);
			if (err)
				return cli_usage_error(CMD, "--listen %s: expected IPv4:PORT or IPv4:PORT-PORT",
						       optarg);
			if (worker_opts_add_listen(o, &r))
				return cli_fail(CMD, "out of memory");
			total += cli_range_len(&r);
			break;
		case 'r':
			if (reply_gen_parse(optarg, &o->reply))
				return cli_usage_error(CMD, "--reply %s: expected vector, scalar, zeros or random:SEED",
						       optarg);
			break;
		case 'k':
			if (cli_parse_u32(optarg, 1, WORKER_MAX_PACKETS, &o->packets))
				return cli_usage_error(CMD, "--packets %s: expected 1..%u", optarg,
						       WORKER_MAX_PACKETS);
			break;
		case OPT_NO_PAD:
			o->pad = false;
			break;
		case 'n':
			if (cli_parse_u64(optarg, 1, UINT64_MAX, &o->count_limit))
				return cli_usage_error(CMD, "--count-limit %s: expected a positive number",
						       optarg);
			break;
		case 'c':
			if (cli_parse_u32(optarg, 0, CPU_SETSIZE - 1, &u32))
				return cli_usage_error(CMD, "--cpu %s: expected a CPU number 0..%d",
						       optarg, CPU_SETSIZE - 1);
			o->cpu = (int)u32;
			break;
		case 'q':
			o->quiet = true;
			break;
		case OPT_SHUFFLE:
			o->shuffle = true;
			break;
		case OPT_DUPLICATE:
			o->duplicate = true;
			break;
		case OPT_JUNK:
			o->junk = true;
			break;
		case OPT_STRAY:
			o->stray = true;
			break;
		case OPT_SILENT_PORT:
			if (cli_parse_port(optarg, &port))
				return cli_usage_error(CMD, "--silent-port %s: expected a port 1..65535",
						       optarg);
			worker_opts_set_silent(o, port);
			break;
		case OPT_DELAY_US:
			if (cli_parse_u64(optarg, 0, WORKER_MAX_DELAY_US, &o->delay_us))
				return cli_usage_error(CMD, "--delay-us %s: expected 0..%llu", optarg,
						       (unsigned long long)WORKER_MAX_DELAY_US);
			break;
		case OPT_IGNORE_FIRST:
			o->ignore_first = true;
			break;
		case OPT_EXPECT_ALLGATHER:
			o->expect_allgather = true;
			break;
		case OPT_XDP:
			o->xdp = true;
			break;
		case 'd':
			o->dev = optarg;
			break;
		case 'h':
			worker_usage();
			return CLI_EXIT_OK;
		case 'V':
			cli_print_version();
			return CLI_EXIT_OK;
		default:
			return cli_getopt_error(CMD, c, argc, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
	if (o->tcp) {
		if (total > 65535)
			return cli_usage_error(CMD, "%llu ports to bind; at most 65535",
					       (unsigned long long)total);
		return tcp_worker_check_opts(o);
	}
	if (o->has_connect)
		return cli_usage_error(CMD, "--connect is for --backend tcp");
	if (!o->nlisten)
		return cli_usage_error(CMD, "--listen is required");
	if (total > 65535)
		return cli_usage_error(CMD, "%llu ports to listen on; at most 65535",
				       (unsigned long long)total);
	if (o->xdp)
		return xdp_worker_check_opts(o);
	if (o->dev)
		return cli_usage_error(CMD, "--dev is for --xdp");
	return -1;
}

int cmd_worker(int argc, char **argv)
{
	struct worker_opts *o;
	int ret;

	/* 8 KB of silent-port bitmap: keep it off the stack. */
	o = malloc(sizeof(*o));
	if (!o)
		return cli_fail(CMD, "out of memory");
	worker_opts_init(o);
	ret = parse_worker_args(argc, argv, o);
	if (ret < 0)
		ret = o->tcp ? tcp_worker_run(o) : o->xdp ? xdp_worker_run(o) : worker_run(o);
	worker_opts_free(o);
	free(o);
	return ret;
}
