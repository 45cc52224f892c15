// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The floor contender: what the coordinator pays per reply when an XDP
 * program on its interface only counts the replies and drops them
 * (bench_floor.bpf.c), so that sgbpf's modes can be read against the hook
 * itself.  Requests go out as one sendmmsg batch over one unconnected
 * socket; a request completes when the program has counted a reply from
 * every worker and says so through its ring buffer.  Nothing is reduced:
 * the result is not checked, only the count of replies.
 *
 * --pass-only attaches a program that passes every frame to --ifname and
 * waits for SIGINT/SIGTERM: the baselines run with it, because on veth the
 * peer's XDP_TX frames are only delivered to a device with an XDP program.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench_common.h"
#include "bench_floor.h"
#include "bench_floor_bpf.skel.h"

#define SEND_BATCH 64

struct fl_ctx {
	struct bench_floor_bpf *skel;
	struct bpf_link *link;
	struct ring_buffer *rb;
	struct bench_floor_slot *slots;	/* the mmap'ed counters */
	struct bench_table *t;
	const struct bench_opts *o;
	int fd;
	struct mmsghdr smsg[SEND_BATCH];
	struct iovec siov[SEND_BATCH];
};

struct fl_args {
	const char *ifname;
	bool pass_only;
};

static int flush(struct fl_ctx *c, uint32_t n)
{
	uint32_t done = 0, tries = 0;

	while (done < n) {
		int r = sendmmsg(c->fd, c->smsg + done, n - done, 0);

		if (r > 0) {
			done += (uint32_t)r;
			continue;
		}
		if (r < 0 && (errno == EINTR || (errno == EAGAIN && tries++ < 100)))
			continue;
		return r < 0 ? -errno : -EIO;
	}
	return 0;
}

static int fl_send(void *ctx, struct bench_table *t, struct bench_slot **slots, uint32_t n)
{
	struct fl_ctx *c = ctx;
	size_t len = bench_msg_len(c->o);
	uint32_t i, w, q = 0;
	int err = 0, e;

	for (i = 0; i < n; i++) {
		struct bench_floor_slot *fs = &c->slots[slots[i]->req_id & (BENCH_FLOOR_SLOTS - 1)];

		/* Count from zero before the id is published: the program checks the id. */
		__atomic_store_n(&fs->replies, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&fs->req_id, slots[i]->req_id, __ATOMIC_RELEASE);
		for (w = 0; w < c->o->nworkers; w++) {
			c->siov[q] = (struct iovec){ .iov_base = &slots[i]->msg, .iov_len = len };
			c->smsg[q].msg_hdr = (struct msghdr){
				.msg_name = &c->o->workers[w],
				.msg_namelen = sizeof(struct sockaddr_in),
				.msg_iov = &c->siov[q],
				.msg_iovlen = 1,
			};
			if (++q < SEND_BATCH)
				continue;
			e = flush(c, q);
			err = err ? err : e;
			q = 0;
		}
	}
	e = q ? flush(c, q) : 0;
	return err ? err : e;
}

static int on_done(void *ctx, void *data, size_t size)
{
	struct fl_ctx *c = ctx;
	struct bench_slot *s;
	uint32_t req_id;

	if (size < sizeof(req_id))
		return 0;
	memcpy(&req_id, data, sizeof(req_id));
	s = bench_table_find(c->t, req_id);
	if (!s) {
		c->t->c.stale++;
		return 0;
	}
	bench_table_complete(c->t, s, c->o->nworkers, NULL, 0);
	return 0;
}

static int fl_poll(void *ctx, struct bench_table *t, int timeout_ms)
{
	struct fl_ctx *c = ctx;
	int r = ring_buffer__poll(c->rb, timeout_ms);

	return r < 0 && r != -EINTR ? r : 0;
}

static const struct bench_ops fl_ops = { .send = fl_send, .poll = fl_poll };

/* Workers must be one port range: the program matches replies by source port. */
static int port_range(const struct bench_opts *o, uint16_t *lo, uint16_t *hi)
{
	uint32_t i;

	*lo = *hi = ntohs(o->workers[0].sin_port);
	for (i = 1; i < o->nworkers; i++) {
		uint16_t p = ntohs(o->workers[i].sin_port);

		*lo = p < *lo ? p : *lo;
		*hi = p > *hi ? p : *hi;
	}
	return (uint32_t)(*hi - *lo) + 1 == o->nworkers ? 0 : -EINVAL;
}

static int fl_open(struct fl_ctx *c, const struct bench_opts *o, const struct fl_args *a)
{
	struct bench_floor_bpf *s;
	uint16_t lo = 0, hi = 0;
	int ifindex = (int)if_nametoindex(a->ifname), err;

	if (!ifindex)
		return -errno;
	if (!a->pass_only && port_range(o, &lo, &hi))
		return -EINVAL;
	s = bench_floor_bpf__open();
	if (!s)
		return -errno;
	c->skel = s;
	s->rodata->port_lo = lo;
	s->rodata->port_hi = hi;
	s->rodata->nworkers = o ? o->nworkers : 0;
	err = bench_floor_bpf__load(s);
	if (err)
		return err;
	c->link = bpf_program__attach_xdp(a->pass_only ? s->progs.bench_floor_pass :
				       s->progs.bench_floor_drop, ifindex);
	if (!c->link)
		return -errno;
	if (a->pass_only)
		return 0;
	c->slots = mmap(NULL, BENCH_FLOOR_SLOTS * sizeof(*c->slots), PROT_READ | PROT_WRITE,
			MAP_SHARED, bpf_map__fd(s->maps.slots), 0);
	if (c->slots == MAP_FAILED) {
		c->slots = NULL;
		return -errno;
	}
	c->rb = ring_buffer__new(bpf_map__fd(s->maps.done), on_done, c, NULL);
	if (!c->rb)
		return -errno;
	/* Blocking: a burst of N sends waits for socket buffer room instead of failing. */
	c->fd = bench_udp_socket(NULL, 0, false);
	return c->fd < 0 ? c->fd : 0;
}

static void fl_close(struct fl_ctx *c)
{
	if (c->fd >= 0)
		close(c->fd);
	ring_buffer__free(c->rb);
	if (c->slots)
		munmap(c->slots, BENCH_FLOOR_SLOTS * sizeof(*c->slots));
	bpf_link__destroy(c->link);
	bench_floor_bpf__destroy(c->skel);
}

/* --pass-only: hold the pass program until told to stop. */
static int hold_pass(const char *ifname)
{
	struct fl_ctx c = { .fd = -1 };
	struct fl_args a = { .ifname = ifname, .pass_only = true };
	sigset_t mask;
	int sig, err;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	err = fl_open(&c, NULL, &a);
	if (err) {
		fprintf(stderr, "bench_udp_floor: --pass-only on %s: %s\n", ifname, strerror(-err));
		fl_close(&c);
		return BENCH_EXIT_FAIL;
	}
	fprintf(stderr, "floor: passing on %s\n", ifname);
	sigwait(&mask, &sig);
	fl_close(&c);
	return BENCH_EXIT_OK;
}

enum { OPT_IFNAME = 600, OPT_PASS_ONLY };

static const struct option fl_longopts[] = {
	{ "ifname", required_argument, NULL, OPT_IFNAME },
	{ "pass-only", required_argument, NULL, OPT_PASS_ONLY },
	{ NULL, 0, NULL, 0 },
};

static int fl_handle(int val, const char *arg, void *ctx)
{
	struct fl_args *a = ctx;

	if (val == OPT_IFNAME)
		a->ifname = arg;
	else if (val == OPT_PASS_ONLY)
		a->ifname = arg, a->pass_only = true;
	else
		return -EINVAL;
	return 0;
}

int main(int argc, char **argv)
{
	struct fl_args a = { .ifname = "lo" };
	const struct bench_extra_opts extra = {
		.longopts = fl_longopts,
		.handle = fl_handle,
		.ctx = &a,
		.usage = "  --ifname IF        interface the replies arrive on (default lo)\n"
			 "  --pass-only IF     attach an XDP program that passes everything to IF\n"
			 "                     and wait for SIGTERM (the baselines' receive path)\n",
	};
	struct fl_ctx c = { .fd = -1 };
	struct bench_result res;
	struct bench_table t;
	struct bench_opts o;
	int i, err, ret = BENCH_EXIT_FAIL;

	/* --pass-only needs no workers: look for it before the common parser. */
	for (i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], "--pass-only"))
			return hold_pass(argv[i + 1]);
	err = bench_parse_opts(argc, argv, "floor", &o, &extra);
	if (err)
		return err > 0 ? BENCH_EXIT_OK : BENCH_EXIT_USAGE;
	c.o = &o;
	err = bench_pin_cpu(o.cpu);
	if (!err)
		err = bench_table_init(&t, &o);
	if (err) {
		fprintf(stderr, "%s: setup: %s\n", o.label, strerror(-err));
		bench_opts_free(&o);
		return BENCH_EXIT_FAIL;
	}
	t.check_sum = false;
	c.t = &t;
	err = fl_open(&c, &o, &a);
	if (err) {
		fprintf(stderr, "%s: XDP on %s: %s\n", o.label, a.ifname, strerror(-err));
		goto out;
	}
	err = bench_drive(&t, &o, &fl_ops, &c, &res);
	if (err) {
		fprintf(stderr, "%s: run: %s\n", o.label, strerror(-err));
		goto out;
	}
	if (o.count)
		bench_report(&o, &res);
	ret = BENCH_EXIT_OK;
out:
	fl_close(&c);
	bench_table_free(&t);
	bench_opts_free(&o);
	return ret;
}
