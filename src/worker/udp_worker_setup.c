// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The UDP reference worker's set-up and teardown: sockets, file limits, the
 * reply slots, the io_uring ring and its provided buffers, signals.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "cli_common.h"
#include "reply_gen.h"
#include "udp_worker.h"
#include "worker_process.h"

#define CMD "worker"

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

static int stray_index_for(struct udp_worker *w, uint32_t addr)
{
	uint32_t i;

	for (i = 0; i < w->nstray; i++) {
		if (w->stray_addr[i] == addr)
			return (int)i;
	}
	return -1;
}

static int open_sockets(struct udp_worker *w)
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

static int setup_ring(struct udp_worker *w)
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
static int setup_rx_buffers(struct udp_worker *w)
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

static int setup_replies(struct udp_worker *w)
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

int udp_worker_setup(struct udp_worker *w)
{
	int err;

	/* Blocked and read through io_uring: no race with the wait. */
	w->sigfd = worker_signalfd();
	err = w->sigfd < 0 ? w->sigfd : 0;
	if (!err && w->o->cpu >= 0)
		err = worker_pin_cpu(w->o->cpu);
	if (!err)
		err = open_sockets(w);
	if (!err)
		err = setup_replies(w);
	if (!err)
		err = setup_ring(w);
	if (!err)
		err = setup_rx_buffers(w);
	return err;
}

/*
 * io_uring tears a ring down asynchronously, and a socket referenced by a
 * pending multishot receive or by the registered file table outlives close()
 * and even exit() by some milliseconds: long enough for a script restarting
 * the worker on the same ports to meet EADDRINUSE.  Cancelling every request
 * and unregistering the files first makes close() really free the ports.
 */
static void release_ring(struct udp_worker *w)
{
	struct __kernel_timespec ts = { .tv_nsec = 100 * 1000 * 1000 };
	struct io_uring_sqe *sqe = udp_worker_get_sqe(w);
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

void udp_worker_cleanup(struct udp_worker *w)
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
