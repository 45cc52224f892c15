// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * UDP backend, request path: the service socket, scatters through io_uring,
 * completion events (ring buffer or control socket) and, for fate allow, the
 * replies read through a ring-mapped provided-buffer ring.
 */
#define _GNU_SOURCE /* recvmmsg */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <sgbpf/udp_state.h>

#include "error.h"
#include "service.h"
#include "sgbpf_udp.skel.h"
#include "udp_backend.h"

/* io_uring user_data: kind in bits 0..7, slot in 8..31, request id in 32..63. */
enum { UD_TX = 1, UD_RX = 2 };
#define UD(kind, slot, req) ((uint64_t)(req) << 32 | (uint64_t)(slot) << 8 | (kind))
#define UD_KIND(u) ((u) & 0xff)
#define UD_REQ(u) ((uint32_t)((u) >> 32))
#define UD_SLOT(u) ((uint32_t)((u) >> 8) & 0xffffff)

#define RX_BGID 7
/* recvmsg header, source address and a 1472-byte datagram. */
#define RX_BUF_SIZE 1536
/* Fate allow: requests in flight the reply buffers are sized for. */
#define RX_INFLIGHT 64
#define SOCK_BUF_BYTES (16 << 20)
#define CTRL_BATCH SGBPF_CTRL_BATCH

/* epoll data of the members of the service's event set (the ring buffer's is 0). */
enum { EV_RING = 0, EV_CTRL = 1, EV_LINK = 2, EV_KICK = 3 };

static int set_buf(int fd, int force_opt, int opt, int bytes)
{
	/* As root the FORCE variant ignores rmem_max/wmem_max. */
	if (setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof(bytes)) == 0)
		return 0;
	return setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof(bytes)) ? -errno : 0;
}

static int udp_socket(const char *ifname, uint16_t port, uint16_t *bound)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	socklen_t alen = sizeof(a);
	int fd, err;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Pin the route to the service's interface, where the programs are. */
	if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, strlen(ifname) + 1) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &alen)) {
		err = -errno;
		close(fd);
		return err;
	}
	set_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF, SOCK_BUF_BYTES);
	*bound = ntohs(a.sin_port);
	return fd;
}

/*
 * Registers the reply buffers with the ring and hands it every buffer no
 * request holds (all of them at creation; fewer when a ring is replaced).
 */
static int rx_register(struct sgbpf_service *svc, struct sgbpf_udp_backend *b)
{
	struct udp_rx *rx = &b->rx;
	struct io_uring_buf_reg reg = { 0 };
	uint32_t added = 0;
	int err;

	memset(rx->held, 0, rx->nbufs);
	for (uint32_t slot = 0; slot < svc->reqs.nslots; slot++)
		for (uint32_t bid = rx->head[slot]; bid != UINT32_MAX; bid = rx->entries[bid].next)
			rx->held[bid] = 1;
	io_uring_buf_ring_init(rx->ring);
	reg.ring_addr = (unsigned long)rx->ring;
	reg.ring_entries = rx->nbufs;
	reg.bgid = RX_BGID;
	err = io_uring_register_buf_ring(&b->ring, &reg, 0);
	if (err)
		return sgbpf_err(err, "cannot register the reply buffer ring: %s", strerror(-err));
	for (uint32_t i = 0; i < rx->nbufs; i++)
		if (!rx->held[i])
			io_uring_buf_ring_add(rx->ring, rx->bufs + (size_t)i * rx->buf_size,
					      rx->buf_size, i, io_uring_buf_ring_mask(rx->nbufs),
					      added++);
	io_uring_buf_ring_advance(rx->ring, added);
	return 0;
}

/* Fate allow: provided buffers for the replies, registered with io_uring. */
static int rx_setup(struct sgbpf_service *svc, struct sgbpf_udp_backend *b)
{
	struct udp_rx *rx = &b->rx;
	/* Multi-packet replies hold a buffer per packet. */
	uint32_t per_req = svc->nworkers * svc->max_packets, want = per_req * RX_INFLIGHT, n = 64;
	size_t page = sysconf(_SC_PAGESIZE);

	/*
	 * A request's replies keep their buffers until its callback returns, so
	 * the ring must hold every reply of every request in flight, or the
	 * receive stops with buffers all held by requests waiting for the rest
	 * of their replies.  Rings have at most 32768 entries: past that, fewer
	 * requests may be in flight (sgbpf_scatter() says -EBUSY).
	 */
	while (n < want && n < 32768)
		n <<= 1;
	if (n / per_req == 0)
		return sgbpf_err(-EINVAL, "fate allow keeps every packet of a request: %u workers "
					  "x %u packets exceed the %u receive buffers of a ring",
				 svc->nworkers, svc->max_packets, n);
	if (n / per_req < svc->reqs.limit)
		svc->reqs.limit = n / per_req;
	/*
	 * Replies wait in the socket until the thread next collects completions
	 * (deferred task work): let it hold all of them, at up to 4 KiB of
	 * kernel memory each, rather than drop some.
	 */
	if ((size_t)n * 4096 > SOCK_BUF_BYTES)
		set_buf(b->sock, SO_RCVBUFFORCE, SO_RCVBUF, n * 4096);
	rx->nbufs = n;
	rx->buf_size = RX_BUF_SIZE;
	rx->ring_bytes = (n * sizeof(struct io_uring_buf) + page - 1) / page * page;
	rx->ring = mmap(NULL, rx->ring_bytes, PROT_READ | PROT_WRITE,
			MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (rx->ring == MAP_FAILED) {
		rx->ring = NULL;
		return -errno;
	}
	rx->bufs = aligned_alloc(page, (size_t)n * RX_BUF_SIZE);
	rx->entries = calloc(n, sizeof(*rx->entries));
	rx->head = malloc(svc->reqs.nslots * sizeof(*rx->head));
	rx->count = calloc(svc->reqs.nslots, sizeof(*rx->count));
	rx->view = calloc(per_req, sizeof(*rx->view));
	rx->held = calloc(n, 1);
	if (!rx->bufs || !rx->entries || !rx->head || !rx->count || !rx->view || !rx->held)
		return -ENOMEM;
	if (svc->delivery == SGBPF_DELIVERY_CTRL_FD) {
		rx->last = malloc((size_t)svc->reqs.nslots * SGBPF_UDP_MSG_LEN);
		rx->last_len = calloc(svc->reqs.nslots, sizeof(*rx->last_len));
		rx->last_worker = calloc(svc->reqs.nslots, sizeof(*rx->last_worker));
		if (!rx->last || !rx->last_len || !rx->last_worker)
			return -ENOMEM;
	}
	memset(rx->head, 0xff, svc->reqs.nslots * sizeof(*rx->head));
	/* recvmsg multishot lays out each buffer from this template. */
	rx->mh.msg_namelen = sizeof(struct sockaddr_in);
	return rx_register(svc, b);
}

static void rx_recycle(struct udp_rx *rx, uint16_t bid)
{
	io_uring_buf_ring_add(rx->ring, rx->bufs + (size_t)bid * rx->buf_size, rx->buf_size, bid,
			      io_uring_buf_ring_mask(rx->nbufs), 0);
	io_uring_buf_ring_advance(rx->ring, 1);
}

static int rx_arm(struct sgbpf_udp_backend *b)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);

	if (!sqe)
		return -EAGAIN;	/* retried at the next reap */
	io_uring_prep_recvmsg_multishot(sqe, b->sock, &b->rx.mh, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = RX_BGID;
	sqe->user_data = UD(UD_RX, 0, 0);
	b->rx.armed = true;
	return 0;
}

static int worker_index(const struct sgbpf_service *svc, const struct sockaddr_in *src)
{
	return sgbpf_service_worker(svc, src->sin_addr.s_addr, ntohs(src->sin_port));
}

/* Files one received reply under its request, or gives the buffer back. */
static void rx_complete(struct sgbpf_service *svc, struct sgbpf_udp_backend *b,
			const struct io_uring_cqe *cqe)
{
	struct udp_rx *rx = &b->rx;
	struct io_uring_recvmsg_out *o;
	const struct sgbpf_hdr *h;
	struct sgbpf_req *r;
	uint16_t bid;
	uint32_t len, slot;
	int w;

	if (!(cqe->flags & IORING_CQE_F_MORE))
		rx->armed = false;	/* ended (e.g. -ENOBUFS): re-armed by reap */
	if (cqe->res < 0 || !(cqe->flags & IORING_CQE_F_BUFFER))
		return;
	bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
	o = io_uring_recvmsg_validate(rx->bufs + (size_t)bid * rx->buf_size, cqe->res, &rx->mh);
	if (!o || o->namelen < sizeof(struct sockaddr_in))
		goto recycle;
	len = io_uring_recvmsg_payload_length(o, cqe->res, &rx->mh);
	h = io_uring_recvmsg_payload(o, &rx->mh);
	if (len < SGBPF_HDR_LEN || (o->flags & MSG_TRUNC))
		goto recycle;
	w = worker_index(svc, io_uring_recvmsg_name(o));
	r = sgbpf_reqtab_find(&svc->reqs, sgbpf_le32(h->req_id));
	if (w < 0 || !r)
		goto recycle;
	slot = sgbpf_reqtab_slot(&svc->reqs, r->req_id);
	rx->entries[bid].worker = w;
	rx->entries[bid].len = len;
	rx->entries[bid].next = rx->head[slot];
	rx->head[slot] = bid;
	rx->count[slot]++;
	r->nresp = rx->count[slot];
	return;
recycle:
	rx_recycle(rx, bid);
}

/* Worker, then seq_num: the order a multi-packet reply's body is read in. */
static bool response_before(const struct sgbpf_response *x, const struct sgbpf_response *y)
{
	if (x->worker != y->worker)
		return x->worker < y->worker;
	return sgbpf_le32(x->hdr->seq_num) < sgbpf_le32(y->hdr->seq_num);
}

static void sift_down(struct sgbpf_response *v, uint32_t i, uint32_t n)
{
	for (;;) {
		uint32_t c = 2 * i + 1;
		struct sgbpf_response t;

		if (c >= n)
			return;
		if (c + 1 < n && response_before(&v[c], &v[c + 1]))
			c++;
		if (!response_before(&v[i], &v[c]))
			return;
		t = v[i];
		v[i] = v[c];
		v[c] = t;
		i = c;
	}
}

/*
 * Heap sort, in place: qsort() may allocate a buffer for arrays past a few
 * hundred bytes, and nothing is allocated on the request path.
 */
static void sort_responses(struct sgbpf_response *v, uint32_t n)
{
	for (uint32_t i = n / 2; i-- > 0;)
		sift_down(v, i, n);
	for (uint32_t end = n; end > 1; end--) {
		struct sgbpf_response t = v[0];

		v[0] = v[end - 1];
		v[end - 1] = t;
		sift_down(v, 0, end - 1);
	}
}

const struct sgbpf_response *sgbpf_udp_responses(struct sgbpf_service *svc, uint32_t slot,
						 uint32_t *n)
{
	struct sgbpf_udp_backend *b = svc->backend;
	struct udp_rx *rx = &b->rx;
	uint32_t k = 0, max = svc->nworkers * svc->max_packets;

	for (uint32_t bid = rx->head[slot]; bid != UINT32_MAX && k < max;
	     bid = rx->entries[bid].next) {
		struct io_uring_recvmsg_out *o = (void *)(rx->bufs + (size_t)bid * rx->buf_size);
		const struct sgbpf_hdr *h = io_uring_recvmsg_payload(o, &rx->mh);
		uint32_t body = rx->entries[bid].len - SGBPF_HDR_LEN;

		rx->view[k].worker = rx->entries[bid].worker;
		rx->view[k].hdr = h;
		rx->view[k].body = h + 1;
		rx->view[k].body_len = sgbpf_le32(h->body_len) < body ? sgbpf_le32(h->body_len) : body;
		k++;
	}
	if (rx->last_len && rx->last_len[slot] && k < max) {
		const struct sgbpf_hdr *h = (void *)(rx->last + (size_t)slot * SGBPF_UDP_MSG_LEN);
		uint32_t body = rx->last_len[slot] - SGBPF_HDR_LEN;

		rx->view[k].worker = rx->last_worker[slot];
		rx->view[k].hdr = h;
		rx->view[k].body = h + 1;
		rx->view[k].body_len = sgbpf_le32(h->body_len) < body ? sgbpf_le32(h->body_len) : body;
		k++;
	}
	/* The kernel passes packets in arrival order; a reply is read in seq order. */
	if (svc->max_packets > 1)
		sort_responses(rx->view, k);
	*n = k;
	return rx->view;
}

void sgbpf_udp_release_responses(struct sgbpf_service *svc, uint32_t slot)
{
	struct sgbpf_udp_backend *b = svc->backend;
	struct udp_rx *rx = &b->rx;
	uint32_t bid = rx->head[slot];

	while (bid != UINT32_MAX) {
		uint32_t next = rx->entries[bid].next;

		rx_recycle(rx, bid);
		bid = next;
	}
	rx->head[slot] = UINT32_MAX;
	rx->count[slot] = 0;
	if (rx->last_len)
		rx->last_len[slot] = 0;
}

uint32_t sgbpf_udp_rx_count(struct sgbpf_service *svc, uint32_t slot)
{
	struct sgbpf_udp_backend *b = svc->backend;

	if (!b->rx.count)
		return 0;
	return b->rx.count[slot] + (b->rx.last_len && b->rx.last_len[slot] ? 1 : 0);
}

static int on_event(void *ctx, void *data, size_t len)
{
	struct sgbpf_service *svc = ctx;
	const struct sgbpf_event *ev = data;

	if (len >= sizeof(*ev))
		sgbpf_service_on_complete(svc, ev->req_id);
	return 0;
}

/*
 * With fate allow, a multishot receive posts a completion per reply.  By
 * default each one is run as task work that interrupts the thread, which
 * breaks every epoll_wait() of a ring-buffer wait with EINTR, a system call
 * per reply.  Deferred task work (6.1) posts them only when the thread asks
 * (io_uring_get_events(), which reap() calls when IORING_SQ_TASKRUN says
 * there is work).  It requires a single issuer: the ring starts disabled and
 * the first thread to use it enables it and becomes that issuer; another
 * thread that uses the service later gets a ring of its own (ring_adopt()).
 * Older kernels get the default behaviour.
 */
static int ring_setup(struct sgbpf_service *svc, struct sgbpf_udp_backend *b)
{
	struct io_uring_params p = { .flags = IORING_SETUP_CQSIZE, .cq_entries = 8192 };
	int err;

	if (svc->fate == SGBPF_FATE_ALLOW) {
		p.flags |= IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
			   IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_R_DISABLED;
		err = io_uring_queue_init_params(1024, &b->ring, &p);
		if (!err) {
			b->ring_ready = true;
			b->ring_disabled = true;
			b->single_issuer = true;
			return 0;
		}
		if (err != -EINVAL)
			return err;
		p.flags = IORING_SETUP_CQSIZE;
		p.cq_entries = 8192;
	}
	err = io_uring_queue_init_params(1024, &b->ring, &p);
	b->ring_ready = !err;
	return err;
}

/*
 * A number for the calling thread, never reused by another: pthread_self()
 * values are (a joined thread's successor often gets the same one), and
 * gettid() is a system call.  Eight bytes of TLS per thread.
 */
static uint64_t thread_serial(void)
{
	static uint64_t next;
	static __thread uint64_t mine;

	if (!mine)
		mine = __atomic_add_fetch(&next, 1, __ATOMIC_RELAXED);
	return mine;
}

/* First use: enable a ring created disabled, from the thread that will use it. */
static int ring_enable(struct sgbpf_udp_backend *b)
{
	/* liburing 2.3 declares io_uring_enable_rings() but does not export it. */
	int err = syscall(__NR_io_uring_register, b->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS,
			  NULL, 0);

	if (err)
		return sgbpf_err(-errno, "cannot enable io_uring: %s", strerror(errno));
	b->ring_disabled = false;
	b->issuer = thread_serial();
	err = rx_arm(b);
	return err ? sgbpf_err(err, "cannot start receiving replies") : 0;
}

static void reap_cqes(struct sgbpf_service *svc, struct sgbpf_udp_backend *b);

/*
 * Another thread uses the service now (one thread at a time, as sgbpf.h
 * promises): a single-issuer ring refuses it (-EEXIST), so it gets a ring of
 * its own.  Nothing is lost on the way.  Completions already posted are read
 * from the shared queue first.  Sends are never pending (each one completes
 * inside sgbpf_udp_scatter()).  Replies not yet posted have not been
 * received either: with deferred task work the receive itself runs in the
 * issuer's task work, which closing the ring cancels, so they are still in
 * the socket for the new ring's receive.  Buffers held by requests in
 * flight stay theirs; the new ring gets the others.
 */
static int ring_adopt(struct sgbpf_service *svc, struct sgbpf_udp_backend *b)
{
	int err;

	reap_cqes(svc, b);
	io_uring_queue_exit(&b->ring);
	b->ring_ready = false;
	b->rx.armed = false;
	err = ring_setup(svc, b);
	if (err)
		return sgbpf_err(err, "cannot set up io_uring for this thread: %s", strerror(-err));
	if (svc->fate == SGBPF_FATE_ALLOW) {
		err = rx_register(svc, b);
		if (err)
			return err;
	}
	if (b->ring_disabled) {
		err = ring_enable(b);
		if (err)
			return err;
	} else if (svc->fate == SGBPF_FATE_ALLOW) {
		err = rx_arm(b);
		if (err)
			return sgbpf_err(err, "cannot start receiving replies");
	}
	err = io_uring_submit(&b->ring);
	return err < 0 ? sgbpf_err(err, "cannot start receiving replies: %s", strerror(-err)) : 0;
}

/* Makes the calling thread the ring's user; a no-op unless the thread changed. */
static int ring_own(struct sgbpf_service *svc, struct sgbpf_udp_backend *b)
{
	if (!b->single_issuer || b->ring_disabled || b->issuer == thread_serial())
		return 0;
	return ring_adopt(svc, b);
}

/*
 * Link events of the service's network namespace (rtnetlink, RTMGRP_LINK):
 * the interface's removal, its going down and its MTU shrinking are seen at
 * once instead of through one failed request after another.
 *
 * A socket filter keeps the events of the namespace's other interfaces out
 * of the queue, so they never make the service's descriptor readable.  The
 * kernel sends each link event in a datagram of its own, so looking at the
 * first message's ifi_index is enough; anything too short to hold one is
 * let through for link_read() to judge.
 */
static int link_open(int ifindex)
{
	/* Absolute loads are big-endian: ifi_index as host bytes reads as htonl(). */
	const uint32_t index_off = NLMSG_HDRLEN + offsetof(struct ifinfomsg, ifi_index);
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, index_off + sizeof(__u32), 1, 0),
		BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, index_off),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htonl((uint32_t)ifindex), 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { .len = sizeof(code) / sizeof(code[0]), .filter = code };
	struct sockaddr_nl a = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (fd < 0)
		return -errno;
	/* Before bind(): no event of another interface is ever queued. */
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* What the interface's state means for the service: 0 or a negative errno and msg. */
static int link_verdict(const struct sgbpf_udp_backend *b, bool gone, unsigned int flags,
			uint32_t mtu, char *msg, size_t len)
{
	if (gone) {
		snprintf(msg, len, "interface %s was removed", b->ifname);
		return -ENODEV;
	}
	if (!(flags & IFF_UP) || !(flags & IFF_RUNNING)) {
		snprintf(msg, len, "interface %s is %s", b->ifname,
			 flags & IFF_UP ? "up but has no carrier" : "down");
		return -ENETDOWN;
	}
	if (mtu && mtu < b->mtu_min) {
		snprintf(msg, len, "the MTU of %s dropped to %u; the service needs %u", b->ifname,
			 mtu, b->mtu_min);
		return -EMSGSIZE;
	}
	return 0;
}

/* After lost link events (ENOBUFS): ask for the interface's state instead. */
static int link_query(const struct sgbpf_udp_backend *b, char *msg, size_t len)
{
	struct ifreq ifr = { 0 };

	if (!if_indextoname(b->ifindex, ifr.ifr_name))
		return link_verdict(b, true, 0, 0, msg, len);
	if (ioctl(b->sock, SIOCGIFFLAGS, &ifr))
		return 0;	/* cannot tell: keep what we know */
	{
		unsigned int flags = (unsigned short)ifr.ifr_flags;

		if (ioctl(b->sock, SIOCGIFMTU, &ifr))
			ifr.ifr_mtu = 0;
		return link_verdict(b, false, flags, ifr.ifr_mtu, msg, len);
	}
}

/* Reads pending link events without blocking and tells the core what changed. */
static int link_read(struct sgbpf_service *svc, struct sgbpf_udp_backend *b)
{
	char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
	char msg[sizeof(svc->link_msg)];
	bool seen = false, lost = false;
	int verdict = svc->link_err;

	if (b->link_sock < 0)
		return 0;
	for (;;) {
		ssize_t n = recv(b->link_sock, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				lost = true;
				continue;
			}
			break;	/* EAGAIN: all read */
		}
		for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			struct ifinfomsg *ifi = NLMSG_DATA(h);
			uint32_t mtu = 0;
			int alen;

			if ((h->nlmsg_type != RTM_NEWLINK && h->nlmsg_type != RTM_DELLINK) ||
			    h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)) || ifi->ifi_index != b->ifindex)
				continue;
			alen = IFLA_PAYLOAD(h);
			for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, alen); a = RTA_NEXT(a, alen))
				if (a->rta_type == IFLA_MTU && RTA_PAYLOAD(a) >= sizeof(mtu))
					memcpy(&mtu, RTA_DATA(a), sizeof(mtu));
			verdict = link_verdict(b, h->nlmsg_type == RTM_DELLINK, ifi->ifi_flags, mtu,
					       msg, sizeof(msg));
			seen = true;
		}
	}
	if (lost) {
		verdict = link_query(b, msg, sizeof(msg));
		seen = true;
	}
	if (seen && verdict != svc->link_err)
		sgbpf_service_link_changed(svc, verdict, msg);
	return 0;
}

int sgbpf_udp_maintain(struct sgbpf_service *svc)
{
	return link_read(svc, svc->backend);
}

/* Adds fd to the epoll set ep, tagged with what it is. */
static int ev_add(int ep, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int sgbpf_udp_io_open(struct sgbpf_service *svc, struct sgbpf_udp_backend *b,
		      const struct sgbpf_service_opts *opts)
{
	const char *ifname = opts->ifname ? opts->ifname : "lo";
	uint32_t prio = SGBPF_SCATTER_PRIORITY;
	uint16_t ctrl_port;
	int err;

	b->sock = udp_socket(ifname, opts->port, &b->port);
	if (b->sock < 0)
		return sgbpf_err(b->sock, "cannot open the service socket on %s port %u: %s",
				 ifname, opts->port, strerror(-b->sock));
	if (setsockopt(b->sock, SOL_SOCKET, SO_PRIORITY, &prio, sizeof(prio)))
		return sgbpf_err(-errno, "cannot mark scatters (SO_PRIORITY needs CAP_NET_ADMIN): %s",
				 strerror(errno));
	set_buf(b->sock, SO_SNDBUFFORCE, SO_SNDBUF, SOCK_BUF_BYTES);
	b->nbatch = (svc->nworkers + SGBPF_SCATTER_BATCH - 1) / SGBPF_SCATTER_BATCH;
	b->batch_addr = calloc(b->nbatch, sizeof(*b->batch_addr));
	if (!b->batch_addr)
		return -ENOMEM;
	for (uint32_t k = 0; k < b->nbatch; k++) {
		const struct sgbpf_endpoint *w = &svc->workers[k * SGBPF_SCATTER_BATCH];

		b->batch_addr[k].sin_family = AF_INET;
		b->batch_addr[k].sin_addr.s_addr = w->addr;
		b->batch_addr[k].sin_port = htons(w->port);
	}

	snprintf(b->ifname, sizeof(b->ifname), "%s", ifname);
	b->link_sock = link_open(b->ifindex);
	if (b->link_sock < 0)
		return sgbpf_err(b->link_sock, "cannot watch the interface (rtnetlink): %s",
				 strerror(-b->link_sock));

	if (svc->delivery == SGBPF_DELIVERY_CTRL_FD) {
		int one = 1;

		b->ctrl_sock = udp_socket(ifname, 0, &ctrl_port);
		if (b->ctrl_sock < 0)
			return sgbpf_err(b->ctrl_sock, "cannot open the control socket: %s",
					 strerror(-b->ctrl_sock));
		/* Its drop counter says when completion datagrams were lost. */
		if (setsockopt(b->ctrl_sock, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one)))
			return sgbpf_err(-errno, "cannot count the control socket's drops: %s",
					 strerror(errno));
		b->ctrl_bufs = malloc((size_t)CTRL_BATCH * SGBPF_UDP_MSG_LEN);
		if (!b->ctrl_bufs)
			return -ENOMEM;
		/*
		 * The descriptor an event loop watches: the control socket and
		 * the link events, in one epoll set.
		 */
		b->ev_fd = epoll_create1(EPOLL_CLOEXEC);
		if (b->ev_fd < 0)
			return sgbpf_err(-errno, "cannot create an epoll set: %s", strerror(errno));
		err = ev_add(b->ev_fd, b->ctrl_sock, EV_CTRL);
		if (!err)
			err = ev_add(b->ev_fd, b->link_sock, EV_LINK);
		if (err)
			return sgbpf_err(err, "cannot watch the control socket: %s", strerror(-err));
		svc->notify_fd = b->ev_fd;
	}

	err = ring_setup(svc, b);
	if (err)
		return sgbpf_err(err, "cannot set up io_uring: %s", strerror(-err));
	/* One send buffer per slot: a send may complete after scatter returns. */
	b->tx = calloc(svc->reqs.nslots, sizeof(*b->tx));
	b->next_batch = calloc(svc->reqs.nslots, sizeof(*b->next_batch));
	if (!b->tx || !b->next_batch)
		return -ENOMEM;
	if (svc->fate == SGBPF_FATE_ALLOW) {
		err = rx_setup(svc, b);
		if (err)
			return err;
	}
	return 0;
}

/* After the maps are ready: event sources and the first receive. */
int sgbpf_udp_io_start(struct sgbpf_service *svc, struct sgbpf_udp_backend *b)
{
	if (svc->delivery == SGBPF_DELIVERY_RINGBUF || svc->delivery == SGBPF_DELIVERY_BLOCK) {
		b->rb = ring_buffer__new(bpf_map__fd(b->skel->maps.sgbpf_events), on_event, svc,
					 NULL);
		if (!b->rb)
			return sgbpf_err(-errno, "cannot open the completion ring buffer: %s",
					 strerror(errno));
		svc->notify_fd = ring_buffer__epoll_fd(b->rb);
		/*
		 * The link events join the ring buffer's epoll set, the descriptor
		 * an event loop watches.  Ring 0 is tagged 0 by libbpf, which is
		 * EV_RING; sgbpf_udp_wait_events() epolls the set itself.
		 */
		{
			int err = ev_add(svc->notify_fd, b->link_sock, EV_LINK);

			if (err)
				return sgbpf_err(err, "cannot watch the interface: %s",
						 strerror(-err));
			err = sgbpf_udp_wake_open(svc, b, EV_KICK);
			if (err)
				return err;
		}
	}
	/* A disabled ring is armed by the first scatter (ring_enable()). */
	if (svc->fate == SGBPF_FATE_ALLOW && !b->ring_disabled) {
		int err = rx_arm(b);

		if (!err)
			err = io_uring_submit(&b->ring);
		if (err < 0)
			return sgbpf_err(err, "cannot start receiving replies: %s", strerror(-err));
	}
	return 0;
}

void sgbpf_udp_io_close(struct sgbpf_service *svc, struct sgbpf_udp_backend *b)
{
	sgbpf_udp_wake_close(b);
	ring_buffer__free(b->rb);
	if (b->ring_ready)
		io_uring_queue_exit(&b->ring);	/* also cancels the receive */
	if (b->rx.ring)
		munmap(b->rx.ring, b->rx.ring_bytes);
	free(b->rx.bufs);
	free(b->rx.entries);
	free(b->rx.head);
	free(b->rx.count);
	free(b->rx.view);
	free(b->rx.last);
	free(b->rx.last_len);
	free(b->rx.last_worker);
	free(b->rx.held);
	free(b->tx);
	free(b->next_batch);
	free(b->batch_addr);
	free(b->ctrl_bufs);
	if (b->ev_fd >= 0)
		close(b->ev_fd);
	if (b->link_sock >= 0)
		close(b->link_sock);
	if (b->ctrl_sock >= 0)
		close(b->ctrl_sock);
	if (b->sock >= 0)
		close(b->sock);
	svc->notify_fd = -1;
}

/* An SQE, reaping completions to make room when the submission queue is full. */
static struct io_uring_sqe *tx_sqe(struct sgbpf_service *svc, struct sgbpf_udp_backend *b)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);

	if (!sqe) {
		io_uring_submit(&b->ring);
		sgbpf_udp_reap(svc);
		sqe = io_uring_get_sqe(&b->ring);
	}
	return sqe;
}

/*
 * Sends the message in the slot's buffer as one trigger per batch of
 * workers in `batches` (bit k: the batch starting at worker k *
 * SGBPF_SCATTER_BATCH), all in one io_uring_enter(), and waits for every
 * send to complete.  Returns 0 or a negative errno.
 */
static int send_triggers(struct sgbpf_service *svc, struct sgbpf_udp_backend *b, uint32_t slot,
			 uint32_t req_id, size_t msg_len, uint32_t batches, bool again)
{
	struct udp_tx *tx = &b->tx[slot];
	uint32_t nsend = (uint32_t)__builtin_popcount(batches);
	int ret;

	/*
	 * Set before the first SQE: tx_sqe() may reap this scatter's first
	 * completions when the submission queue fills.
	 */
	b->tx_wait = UD(UD_TX, slot, req_id);
	b->tx_left = nsend;
	b->tx_res = 0;
	for (uint32_t k = 0, queued = 0; k < b->nbatch; k++) {
		struct io_uring_sqe *sqe;

		if (!(batches & (1u << k)))
			continue;
		sqe = tx_sqe(svc, b);
		if (!sqe) {
			/* The sends queued so far still complete; wait for them below. */
			b->tx_left -= nsend - queued;
			b->tx_res = sgbpf_err(-EBUSY, "io_uring submission queue full");
			break;
		}
		/*
		 * MSG_DONTWAIT: a full send buffer fails the send at once instead of
		 * leaving it to io_uring's poll retry, which would send it later, from
		 * a buffer the slot's next request may have rewritten by then.  So
		 * every send completes inside this call, and the slot is never
		 * released while the kernel may still read its buffer or open it.
		 */
		io_uring_prep_send(sqe, b->sock, tx->buf, msg_len, MSG_DONTWAIT);
		io_uring_prep_send_set_addr(sqe, (const struct sockaddr *)&b->batch_addr[k],
					    sizeof(b->batch_addr[k]));
		sqe->user_data = UD(UD_TX, slot, req_id);
		queued++;
	}
	ret = io_uring_submit(&b->ring);
	if (ret < 0)
		return sgbpf_err(ret, "cannot submit the %sscatter: %s", again ? "re-" : "",
				 strerror(-ret));
	/* Inline completions are posted before io_uring_enter() returns. */
	reap_cqes(svc, b);
	while (b->tx_left) {
		struct io_uring_cqe *cqe;

		/* Not expected with MSG_DONTWAIT; but a pending send must be waited for. */
		ret = io_uring_wait_cqe(&b->ring, &cqe);
		if (ret < 0 && ret != -EINTR && ret != -ETIME)
			return sgbpf_err(ret, "cannot collect the scatter's send: %s", strerror(-ret));
		reap_cqes(svc, b);
	}
	if (b->tx_res < 0) {
		if (b->tx_res == -EAGAIN || b->tx_res == -ENOBUFS)
			return sgbpf_err(b->tx_res, "the send buffer of the service socket on %s is "
					 "full; report some requests and retry", b->ifname);
		return sgbpf_err(b->tx_res, "cannot %ssend request %u on %s: %s",
				 again ? "re-" : "", req_id, b->ifname, strerror(-b->tx_res));
	}
	return 0;
}

/* Every batch: a request's scatter. */
static uint32_t all_batches(const struct sgbpf_udp_backend *b)
{
	return b->nbatch >= 32 ? UINT32_MAX : (1u << b->nbatch) - 1;
}

/* Room for every batch of SGBPF_MAX_WORKERS in a batch mask. */
_Static_assert(SGBPF_MAX_WORKERS / SGBPF_SCATTER_BATCH <= 32, "batch masks are 32 bits");

/*
 * Sends one trigger per batch of workers.  The completion policy does not
 * travel in the datagram: it is written to the slot first (tagged with
 * req_id), so the message is exactly what workers get and a 1454-byte body
 * fits a 1500-byte MTU.
 */
int sgbpf_udp_scatter(struct sgbpf_service *svc, uint32_t slot, uint32_t req_id, uint32_t needed,
		      const void *body, size_t len)
{
	int ret = sgbpf_udp_stage(svc, slot, req_id, needed, body, len);

	ret = ret ? ret : sgbpf_udp_launch(svc, slot, req_id, UINT32_MAX, true);
	return ret < 0 ? ret : 0;
}

/*
 * The first half of a scatter: the message in the slot's send buffer and
 * the policy in the kernel's slot, nothing sent.  The slot's buffer holds
 * it until the launch, however late (the core's reply budget).
 */
int sgbpf_udp_stage(struct sgbpf_service *svc, uint32_t slot, uint32_t req_id, uint32_t needed,
		    const void *body, size_t len)
{
	struct sgbpf_udp_backend *b = svc->backend;
	struct udp_tx *tx = &b->tx[slot];
	struct sgbpf_hdr *h = (struct sgbpf_hdr *)tx->buf;

	b->next_batch[slot] = 0;
	h->req_id = sgbpf_le32(req_id);
	h->seq_num = 0;
	h->num_pks = sgbpf_le32(1);
	h->body_len = sgbpf_le32((uint32_t)len);
	h->msg_type = SGBPF_MSG_SCATTER;
	h->flags = 0;
	if (len)
		memcpy(h + 1, body, len);
	/* Before any trigger can reach TC egress; the system call orders it. */
	__atomic_store_n(&b->slots[slot].scatter, SGBPF_TAG(req_id, needed), __ATOMIC_RELEASE);
	return 0;
}

/*
 * The second half: the staged message's triggers for the next batches that
 * fit in room copies (at least one batch with must), in one system call.
 * Returns the copies they reach.
 */
int sgbpf_udp_launch(struct sgbpf_service *svc, uint32_t slot, uint32_t req_id, uint32_t room,
		     bool must)
{
	struct sgbpf_udp_backend *b = svc->backend;
	const struct sgbpf_hdr *h = (const struct sgbpf_hdr *)b->tx[slot].buf;
	uint32_t k = b->next_batch[slot], batches = 0, copies = 0;
	int ret;

	for (; k < b->nbatch; k++) {
		uint32_t first = k * SGBPF_SCATTER_BATCH;
		uint32_t n = svc->nworkers - first < SGBPF_SCATTER_BATCH ? svc->nworkers - first :
									  SGBPF_SCATTER_BATCH;

		if (copies + n > room && !(must && !batches))
			break;
		batches |= 1u << k;
		copies += n;
	}
	if (!batches)
		return 0;

	if (b->ring_disabled) {
		ret = ring_enable(b);
		if (ret)
			return ret;
	} else {
		ret = ring_own(svc, b);
		if (ret)
			return ret;
	}
	/*
	 * The clone loop runs in this system call, long enough at large
	 * fan-outs for replies to complete requests meanwhile: their events
	 * need no wake-up, the next wait reads them (or the kick says so).
	 */
	sgbpf_udp_awake(b);
	ret = send_triggers(svc, b, slot, req_id, SGBPF_HDR_LEN + sgbpf_le32(h->body_len),
			    batches, false);
	if (b->rb) {
		int err = sgbpf_udp_wake_leave(b, false);

		ret = ret ? ret : err < 0 ? err : 0;
	}
	if (ret)
		return ret;
	b->next_batch[slot] = (uint8_t)k;
	return (int)copies;
}

/*
 * Does batch k have a worker whose seen bit for req_id is not set?  Batches
 * start at multiples of 64, so each covers whole seen words (the last one
 * only its workers' bits).
 */
static bool batch_has_straggler(const struct sgbpf_service *svc, uint32_t slot, uint32_t req_id,
				uint32_t k)
{
	const struct sgbpf_udp_backend *b = svc->backend;
	const struct sgbpf_slot *ks = &b->slots[slot];
	uint32_t first = k * SGBPF_SCATTER_BATCH;
	uint32_t end = first + SGBPF_SCATTER_BATCH < svc->nworkers ? first + SGBPF_SCATTER_BATCH :
								     svc->nworkers;

	for (uint32_t w = first; w < end; w += 32) {
		uint64_t v = __atomic_load_n(&ks->seen[w / 32], __ATOMIC_RELAXED);
		uint32_t bits = SGBPF_TAG_REQ(v) == req_id ? SGBPF_TAG_LOW(v) : 0;
		uint32_t want = end - w >= 32 ? UINT32_MAX : (1u << (end - w)) - 1;

		if ((bits & want) != want)
			return true;
	}
	return false;
}

/*
 * Sends the slot's request again, flagged SGBPF_FLAG_RETRY, to the batches
 * with a worker that has not answered; TC egress then skips, within each,
 * the workers that have (and sends nothing for a request no longer
 * gathering).  The message is still in the slot's send buffer: the slot is
 * the request's until it is reported.
 */
/*
 * All-gather: the result of a complete request, as SGBPF_MSG_ALLGATHER
 * triggers that TC egress clones to every worker (it takes them only while
 * the slot holds the request complete, which the core guarantees until the
 * report).  A result larger than one datagram goes as packets of the
 * largest whole number of elements that fits, numbered like a multi-packet
 * reply: packet seq carries bytes [seq x chunk, seq x chunk + body_len).
 */
int sgbpf_udp_allgather(struct sgbpf_service *svc, uint32_t slot, uint32_t req_id,
			const void *result, size_t len)
{
	struct sgbpf_udp_backend *b = svc->backend;
	struct sgbpf_hdr *h = (struct sgbpf_hdr *)b->tx[slot].buf;
	uint32_t esz = svc->elem_size ? svc->elem_size : 1;
	size_t chunk = svc->body_max / esz * esz;

	/* A multi-packet service's results go back in the chunks they came in. */
	if (svc->max_packets > 1 && svc->chunk && svc->chunk < chunk)
		chunk = svc->chunk;
	uint32_t npkts;
	int ret;

	if (chunk == 0)
		return -EMSGSIZE;
	npkts = len ? (uint32_t)((len + chunk - 1) / chunk) : 1;
	ret = ring_own(svc, b);
	if (ret)
		return ret;
	for (uint32_t seq = 0; seq < npkts; seq++) {
		size_t off = (size_t)seq * chunk;
		size_t n = len - off < chunk ? len - off : chunk;

		h->req_id = sgbpf_le32(req_id);
		h->seq_num = sgbpf_le32(seq);
		h->num_pks = sgbpf_le32(npkts);
		h->body_len = sgbpf_le32((uint32_t)n);
		h->msg_type = SGBPF_MSG_ALLGATHER;
		h->flags = 0;
		if (n)
			memcpy(h + 1, (const uint8_t *)result + off, n);
		ret = send_triggers(svc, b, slot, req_id, SGBPF_HDR_LEN + n, all_batches(b), false);
		if (ret)
			return ret;
	}
	return 0;
}

int sgbpf_udp_rescatter(struct sgbpf_service *svc, uint32_t slot, uint32_t req_id)
{
	struct sgbpf_udp_backend *b = svc->backend;
	struct sgbpf_hdr *h = (struct sgbpf_hdr *)b->tx[slot].buf;
	uint32_t batches = 0;
	int ret;

	for (uint32_t k = 0; k < b->nbatch; k++)
		if (batch_has_straggler(svc, slot, req_id, k))
			batches |= 1u << k;
	if (!batches)
		return 0;
	ret = ring_own(svc, b);
	if (ret)
		return ret;
	h->flags = SGBPF_FLAG_RETRY;
	ret = send_triggers(svc, b, slot, req_id, SGBPF_HDR_LEN + sgbpf_le32(h->body_len), batches,
			    true);
	return ret < 0 ? ret : __builtin_popcount(batches);
}

/* Handles the completions in the shared queue; no system call. */
static void reap_cqes(struct sgbpf_service *svc, struct sgbpf_udp_backend *b)
{
	struct io_uring_cqe *cqe;
	unsigned int head, seen = 0;

	io_uring_for_each_cqe(&b->ring, head, cqe) {
		seen++;
		if (UD_KIND(cqe->user_data) == UD_TX) {
			if (cqe->user_data == b->tx_wait && b->tx_left) {
				/* One of this scatter's batches: keep the first error. */
				b->tx_left--;
				if (cqe->res < 0 && b->tx_res == 0)
					b->tx_res = cqe->res;
			} else if (cqe->res < 0) {
				sgbpf_service_send_failed(svc, UD_REQ(cqe->user_data));
			}
		} else if (UD_KIND(cqe->user_data) == UD_RX) {
			rx_complete(svc, b, cqe);
		}
	}
	io_uring_cq_advance(&b->ring, seen);
}

int sgbpf_udp_reap(struct sgbpf_service *svc)
{
	struct sgbpf_udp_backend *b = svc->backend;
	int err;

	if (b->ring_disabled)
		return 0;	/* nothing was submitted yet */
	err = ring_own(svc, b);
	if (err)
		return err;
	/* Completions waiting for the thread to ask (deferred task work). */
	if (IO_URING_READ_ONCE(*b->ring.sq.kflags) & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW))
		io_uring_get_events(&b->ring);
	reap_cqes(svc, b);
	if (svc->fate == SGBPF_FATE_ALLOW && !b->rx.armed && rx_arm(b) == 0)
		io_uring_submit(&b->ring);
	return 0;
}

/* Keeps a completing reply that came whole on the control socket (fate allow). */
static void keep_last(struct sgbpf_service *svc, struct sgbpf_udp_backend *b,
		      const struct sgbpf_hdr *h, uint32_t len, const struct sockaddr_in *src)
{
	struct sgbpf_req *r = sgbpf_reqtab_find(&svc->reqs, sgbpf_le32(h->req_id));
	int w = worker_index(svc, src);
	uint32_t slot;

	if (!r || w < 0 || len < SGBPF_HDR_LEN || len > SGBPF_UDP_MSG_LEN)
		return;
	slot = sgbpf_reqtab_slot(&svc->reqs, r->req_id);
	memcpy(b->rx.last + (size_t)slot * SGBPF_UDP_MSG_LEN, h, len);
	b->rx.last_len[slot] = len;
	b->rx.last_worker[slot] = w;
}

static int drain_ctrl(struct sgbpf_service *svc, struct sgbpf_udp_backend *b)
{
	union {
		char buf[CMSG_SPACE(sizeof(uint32_t))];
		struct cmsghdr align;
	} ctl[CTRL_BATCH];
	struct sockaddr_in src[CTRL_BATCH];
	struct mmsghdr msgs[CTRL_BATCH];
	struct iovec iov[CTRL_BATCH];
	/* Whole datagrams only when the application also wants the replies. */
	size_t want = b->rx.last ? SGBPF_UDP_MSG_LEN : SGBPF_HDR_LEN;
	int n;

	for (int i = 0; i < CTRL_BATCH; i++) {
		iov[i].iov_base = b->ctrl_bufs + (size_t)i * SGBPF_UDP_MSG_LEN;
		iov[i].iov_len = want;
		memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &src[i];
		msgs[i].msg_hdr.msg_namelen = sizeof(src[i]);
		msgs[i].msg_hdr.msg_control = ctl[i].buf;
		msgs[i].msg_hdr.msg_controllen = sizeof(ctl[i].buf);
	}
	n = recvmmsg(b->ctrl_sock, msgs, CTRL_BATCH, MSG_DONTWAIT, NULL);
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		const struct sgbpf_hdr *h = iov[i].iov_base;
		struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[i].msg_hdr);

		/* The socket's drop count rose: some completions never came. */
		if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
			uint32_t drops;

			memcpy(&drops, CMSG_DATA(c), sizeof(drops));
			if (drops != b->ctrl_drops) {
				b->ctrl_drops = drops;
				sgbpf_service_lost_events(svc);
			}
		}
		/* Only the kernel's completion datagrams carry the flag. */
		if (msgs[i].msg_len < SGBPF_HDR_LEN || !(h->flags & SGBPF_FLAG_COMPLETE))
			continue;
		if (b->rx.last)
			keep_last(svc, b, h, msgs[i].msg_len, &src[i]);
		sgbpf_service_on_complete(svc, sgbpf_le32(h->req_id));
	}
	return n;
}

/*
 * Fate allow, a completion held for its replies: sleep on the io_uring
 * completion queue, where the replies land, rather than on the event source.
 * Completion events that came meanwhile are read without a system call.
 */
static int wait_replies(struct sgbpf_service *svc, struct sgbpf_udp_backend *b, int timeout_ms)
{
	struct __kernel_timespec ts = { .tv_nsec = (long long)timeout_ms * 1000000 };
	struct io_uring_cqe *cqe;
	int err;

	if (b->rb)
		ring_buffer__consume(b->rb);
	/*
	 * A completion found in its slot before its control datagram was read:
	 * in fate allow that datagram is one of the replies the report waits for.
	 */
	if (b->ctrl_sock >= 0 && drain_ctrl(svc, b) > 0)
		return 0;
	if (timeout_ms <= 0 || io_uring_cq_ready(&b->ring) || b->ring_disabled)
		return 0;
	err = io_uring_wait_cqe_timeout(&b->ring, &cqe, &ts);
	return err == -ETIME || err == -EINTR ? 0 : err;
}

/* Sleeps on the service's event set; returns which members were ready (1 << EV_*). */
static int wait_set(int ep, int timeout_ms)
{
	struct epoll_event evs[4];
	int n = epoll_wait(ep, evs, 4, timeout_ms), ready = 0;

	if (n < 0)
		return -errno;	/* -EINTR too: the core hands it to the caller */
	for (int i = 0; i < n; i++)
		ready |= 1 << (evs[i].data.u64 & 7);
	return ready;
}

int sgbpf_udp_wait_events(struct sgbpf_service *svc, int timeout_ms)
{
	struct sgbpf_udp_backend *b = svc->backend;
	int ready, n, err;

	err = ring_own(svc, b);
	if (err)
		return err;
	if (svc->pending)
		return wait_replies(svc, b, timeout_ms);

	switch (svc->delivery) {
	case SGBPF_DELIVERY_RINGBUF:
	case SGBPF_DELIVERY_BLOCK:
		/*
		 * Awake while reading and reporting: completions folded meanwhile
		 * need no wake-up.  Events written unannounced (here, or during a
		 * scatter) are read before any sleep and before returning.
		 */
		sgbpf_udp_awake(b);
		sgbpf_udp_wake_kicked(b);
		n = ring_buffer__consume(b->rb);
		ready = 0;
		if (n == 0 && timeout_ms != 0) {
			n = sgbpf_udp_wake_leave(b, true);
			if (n == 0) {
				ready = wait_set(svc->notify_fd, timeout_ms);
				if (ready < 0)
					return ready;
				sgbpf_udp_awake(b);
				sgbpf_udp_wake_kicked(b);
				n = ring_buffer__consume(b->rb);
			}
		}
		if (n >= 0) {
			int more = sgbpf_udp_wake_leave(b, true);

			n = more < 0 ? more : n + more;
		}
		if (ready & (1 << EV_LINK))
			link_read(svc, b);
		return n < 0 ? n : 0;
	case SGBPF_DELIVERY_CTRL_FD:
		/* epoll returns at once when completions are queued already. */
		ready = timeout_ms != 0 ? wait_set(b->ev_fd, timeout_ms) : 0;
		if (ready < 0)
			return ready;
		n = drain_ctrl(svc, b);
		/*
		 * A poll that found no completion may have been woken by a link
		 * event: read it, or the descriptor stays readable.
		 */
		if ((ready & (1 << EV_LINK)) || (timeout_ms == 0 && n == 0))
			link_read(svc, b);
		return n < 0 ? n : 0;
	default:
		return 0;
	}
}
