// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sgbpf contender: the same scatter-gather through the public API.  One
 * sgbpf_scatter() per request; the kernel clones it to every worker at TC
 * egress and counts and reduces the replies at XDP.  Completion arrives the
 * way --delivery says:
 *
 *   ringbuf    sgbpf_wait() on the ring buffer
 *   ctrl-fd    the control socket in this program's own epoll set, then sgbpf_poll()
 *   block      sgbpf_scatter() returns when its request is done (1 in flight only)
 *   busy-wait  sgbpf_wait(svc, 0) in a spin loop: no system call while waiting
 *
 * --allow lets replies through to user space (fate allow) and reduces them
 * here from sgbpf_result.resp, as an application that needs every reply
 * would; the kernel then only counts.  --reduce count measures the ceiling:
 * completion with no reduction work at all.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <sgbpf/sgbpf.h>

#include "bench_common.h"

/*
 * The contender is built while the library is still growing.  Weak
 * references let it link (against the whole archive, see bench.cmake) even
 * when a function is not there yet; main() then reports the contender as
 * unavailable instead of breaking the build.
 */
#pragma weak sgbpf_service_create
#pragma weak sgbpf_service_destroy
#pragma weak sgbpf_scatter
#pragma weak sgbpf_wait
#pragma weak sgbpf_poll
#pragma weak sgbpf_service_fd
#pragma weak sgbpf_service_info
#pragma weak sgbpf_service_stats
#pragma weak sgbpf_last_error
#pragma weak sgbpf_reduce_parse
#pragma weak sgbpf_reduce_name

/* Slack between the library's timeout and the table's own, so the library reports first. */
#define TABLE_GRACE_US	1000000ull
/* Spins of busy-wait between two looks at the clock. */
#define SPINS_PER_CLOCK	64

struct sg_args {
	enum sgbpf_delivery delivery;
	enum sgbpf_reduce reduce;
	bool reduce_set;
	bool allow;
	enum sgbpf_xdp_mode xdp_mode;
	const char *ifname;
	bool stats;
	uint32_t reply_budget;	/* 0: none */
};

struct sg_ctx {
	struct sgbpf_service *svc;
	struct bench_table *t;
	const struct sg_args *a;
	const struct bench_opts *o;
	int ep;				/* ctrl-fd: our own event loop */
	uint8_t body[BENCH_BODY_MAX];
	uint32_t acc[BENCH_NELEMS];	/* --allow: user-space reduction */
};

static bool api_present(void)
{
	return sgbpf_service_create && sgbpf_service_destroy && sgbpf_scatter && sgbpf_wait &&
	       sgbpf_poll && sgbpf_service_fd && sgbpf_last_error;
}

/* --allow: validate and reduce every reply the library hands over. */
static void reduce_responses(struct sg_ctx *c, struct bench_slot *s,
			     const struct sgbpf_result *res)
{
	struct bench_table *t = c->t;
	uint32_t i, n = 0;
	bool bad = false;

	memset(c->acc, 0, sizeof(c->acc));
	for (i = 0; i < res->nresp; i++) {
		const struct sgbpf_response *r = &res->resp[i];

		if (r->worker >= t->nworkers || !bench_slot_mark(s, r->worker) ||
		    r->body_len < BENCH_REPLY_BODY_LEN || !r->body) {
			bad = true;
			continue;
		}
		bench_fold_u32(c->acc, r->body);
		n++;
	}
	if (bad)
		t->c.bad_replies++;
	bench_table_complete(t, s, n, c->acc, BENCH_NELEMS);
}

static void complete_sum(struct bench_table *t, struct bench_slot *s,
			 const struct sgbpf_result *res)
{
	static const uint32_t none[BENCH_NELEMS];

	/* A result of the wrong shape is a mismatch: zero elements never match. */
	if (res->elem_size != 4 || !res->data)
		bench_table_complete(t, s, res->responses, none, 0);
	else
		bench_table_complete(t, s, res->responses, res->data, res->nelems);
}

static void on_complete(const struct sgbpf_result *res, void *ctx)
{
	struct sg_ctx *c = ctx;
	struct bench_table *t = c->t;
	struct bench_slot *s;

	/* user_ctx carries the table's own request id, not a pointer that could go stale. */
	s = bench_table_find(t, (uint32_t)(uintptr_t)res->user_ctx);
	if (!s) {
		t->c.stale++;
		return;
	}
	switch (res->status) {
	case SGBPF_STATUS_COMPLETE:
		if (c->a->allow)
			reduce_responses(c, s, res);
		else if (c->a->reduce == SGBPF_REDUCE_SUM_U32)
			complete_sum(t, s, res);
		else
			bench_table_complete(t, s, res->responses, NULL, 0);
		break;
	case SGBPF_STATUS_EXPIRED:
		bench_table_timeout(t, s);
		break;
	default:
		bench_table_fail(t, s);
		break;
	}
}

static int sg_send(void *ctx, struct bench_table *t, struct bench_slot **slots, uint32_t n)
{
	struct sg_ctx *c = ctx;
	uint32_t i;

	for (i = 0; i < n; i++) {
		SGBPF_OPTS(sgbpf_scatter_opts, so,
			   .policy = SGBPF_POLICY_ALL,
			   .timeout_us = c->o->timeout_us,
			   .user_ctx = (void *)(uintptr_t)slots[i]->req_id);
		uint32_t lib_id;
		int err;

		err = sgbpf_scatter(c->svc, c->body, c->o->body_len, &so, &lib_id);
		/* In block mode the callback already freed the slot. */
		if (err && slots[i]->active)
			bench_table_fail(t, slots[i]);
	}
	return 0;
}

static int sg_poll(void *ctx, struct bench_table *t, int timeout_ms)
{
	struct sg_ctx *c = ctx;
	struct epoll_event ev;
	uint64_t end;
	uint32_t spin;
	int r;

	switch (c->a->delivery) {
	case SGBPF_DELIVERY_BLOCK:
		return 0;
	case SGBPF_DELIVERY_CTRL_FD:
		r = epoll_wait(c->ep, &ev, 1, timeout_ms);
		if (r < 0)
			return errno == EINTR ? 0 : -errno;
		/* Poll even without an event: expiries are reported from here too. */
		r = sgbpf_poll(c->svc);
		return r < 0 ? r : 0;
	case SGBPF_DELIVERY_BUSY_WAIT:
		end = bench_now_ns() + (uint64_t)timeout_ms * 1000000ull;
		do {
			for (spin = 0; spin < SPINS_PER_CLOCK; spin++) {
				r = sgbpf_wait(c->svc, 0);
				if (r)
					return r < 0 ? r : 0;
			}
		} while (bench_now_ns() < end);
		return 0;
	default:
		r = sgbpf_wait(c->svc, timeout_ms);
		return r < 0 && r != -EINTR ? r : 0;
	}
}

static const struct bench_ops sg_ops = {
	.send = sg_send,
	.poll = sg_poll,
};

static int sg_open(struct sg_ctx *c, const struct bench_opts *o, const struct sg_args *a)
{
	struct sgbpf_endpoint *eps;
	struct epoll_event ev = { .events = EPOLLIN };
	uint32_t i;
	int fd;

	eps = calloc(o->nworkers, sizeof(*eps));
	if (!eps)
		return -ENOMEM;
	for (i = 0; i < o->nworkers; i++) {
		eps[i].addr = o->workers[i].sin_addr.s_addr;
		eps[i].port = ntohs(o->workers[i].sin_port);
	}
	SGBPF_OPTS(sgbpf_service_opts, so,
		   .backend = SGBPF_BACKEND_UDP,
		   .ifname = a->ifname,
		   .workers = eps,
		   .nworkers = o->nworkers,
		   .reduce = a->reduce,
		   .fate = a->allow ? SGBPF_FATE_ALLOW : SGBPF_FATE_DISCARD,
		   .delivery = a->delivery,
		   .max_inflight = o->inflight,
		   .xdp_mode = a->xdp_mode,
		   .reply_budget = a->reply_budget,
		   .on_complete = on_complete,
		   .cb_ctx = c);
	c->svc = sgbpf_service_create(&so);
	free(eps);
	if (!c->svc)
		return errno ? -errno : -EIO;
	if (a->delivery != SGBPF_DELIVERY_CTRL_FD)
		return 0;
	c->ep = epoll_create1(EPOLL_CLOEXEC);
	if (c->ep < 0)
		return -errno;
	fd = sgbpf_service_fd(c->svc);
	if (fd < 0)
		return fd;
	if (epoll_ctl(c->ep, EPOLL_CTL_ADD, fd, &ev))
		return -errno;
	return 0;
}

static void sg_print_stats(const struct sg_ctx *c)
{
	struct sgbpf_stats st;

	if (!sgbpf_service_stats || sgbpf_service_stats(c->svc, &st))
		return;
	fprintf(stderr,
		"kernel: scatters %llu clones %llu folded %llu completed %llu duplicates %llu "
		"unknown %llu malformed %llu stale %llu surplus %llu expired %llu deferred %llu\n",
		(unsigned long long)st.scatters, (unsigned long long)st.clones,
		(unsigned long long)st.folded, (unsigned long long)st.completed,
		(unsigned long long)st.duplicates, (unsigned long long)st.unknown_src,
		(unsigned long long)st.malformed, (unsigned long long)st.stale,
		(unsigned long long)st.surplus, (unsigned long long)st.expired,
		(unsigned long long)st.deferred);
}

static void sg_close(struct sg_ctx *c)
{
	if (c->ep >= 0)
		close(c->ep);
	if (c->svc)
		sgbpf_service_destroy(c->svc);
}

enum {
	OPT_DELIVERY = 512, OPT_ALLOW, OPT_REDUCE, OPT_IFNAME, OPT_XDP_MODE, OPT_STATS,
	OPT_REPLY_BUDGET,
};

static const struct option sg_longopts[] = {
	{ "delivery", required_argument, NULL, OPT_DELIVERY },
	{ "allow", no_argument, NULL, OPT_ALLOW },
	{ "reduce", required_argument, NULL, OPT_REDUCE },
	{ "ifname", required_argument, NULL, OPT_IFNAME },
	{ "xdp-mode", required_argument, NULL, OPT_XDP_MODE },
	{ "stats", no_argument, NULL, OPT_STATS },
	{ "reply-budget", required_argument, NULL, OPT_REPLY_BUDGET },
	{ NULL, 0, NULL, 0 },
};

static const char *const delivery_names[] = {
	[SGBPF_DELIVERY_RINGBUF] = "ringbuf",
	[SGBPF_DELIVERY_CTRL_FD] = "ctrl-fd",
	[SGBPF_DELIVERY_BLOCK] = "block",
	[SGBPF_DELIVERY_BUSY_WAIT] = "busy-wait",
};

static const char *const xdp_mode_names[] = {
	[SGBPF_XDP_AUTO] = "auto",
	[SGBPF_XDP_NATIVE] = "native",
	[SGBPF_XDP_GENERIC] = "generic",
};

static int lookup(const char *const *names, int n, const char *s)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(names[i], s))
			return i;
	return -EINVAL;
}

/* The reductions this contender can verify, parsed without the library. */
static int parse_reduce(const char *s)
{
	if (!strcmp(s, "sum-u32"))
		return SGBPF_REDUCE_SUM_U32;
	if (!strcmp(s, "count"))
		return SGBPF_REDUCE_COUNT;
	return -EINVAL;
}

static int sg_handle(int val, const char *arg, void *ctx)
{
	struct sg_args *a = ctx;
	int v;

	switch (val) {
	case OPT_DELIVERY:
		v = lookup(delivery_names, 4, arg);
		if (v < 0)
			return v;
		a->delivery = (enum sgbpf_delivery)v;
		return 0;
	case OPT_ALLOW:
		a->allow = true;
		return 0;
	case OPT_REDUCE:
		v = parse_reduce(arg);
		if (v < 0)
			return v;
		a->reduce = (enum sgbpf_reduce)v;
		a->reduce_set = true;
		return 0;
	case OPT_IFNAME:
		a->ifname = arg;
		return 0;
	case OPT_XDP_MODE:
		v = lookup(xdp_mode_names, 3, arg);
		if (v < 0)
			return v;
		a->xdp_mode = (enum sgbpf_xdp_mode)v;
		return 0;
	case OPT_STATS:
		a->stats = true;
		return 0;
	case OPT_REPLY_BUDGET: {
		char *end;
		unsigned long v = strtoul(arg, &end, 10);

		if (*arg == '\0' || *end || v == 0 || v > UINT32_MAX)
			return -EINVAL;
		a->reply_budget = (uint32_t)v;
		return 0;
	}
	}
	return -EINVAL;
}

int main(int argc, char **argv)
{
	struct sg_args a = {
		.delivery = SGBPF_DELIVERY_RINGBUF,
		.reduce = SGBPF_REDUCE_SUM_U32,
		.xdp_mode = SGBPF_XDP_AUTO,
		.ifname = "lo",
	};
	const struct bench_extra_opts extra = {
		.longopts = sg_longopts,
		.handle = sg_handle,
		.ctx = &a,
		.usage =
			"  --delivery D       ringbuf (default), ctrl-fd, block or busy-wait\n"
			"  --allow            let replies through and reduce them in user space\n"
			"  --reduce R         sum-u32 (default; count with --allow) or count\n"
			"  --ifname IF        interface of the service (default lo)\n"
			"  --xdp-mode M       auto (default), native or generic\n"
			"  --stats            print the kernel counters at the end\n"
			"  --reply-budget N   send a request only while at most N replies are\n"
			"                     awaited (sgbpf_service_opts.reply_budget)\n",
	};
	struct bench_result res;
	struct bench_table t;
	struct bench_opts o;
	struct sg_ctx *c;
	int err, ret = BENCH_EXIT_FAIL;

	err = bench_parse_opts(argc, argv, "sgbpf", &o, &extra);
	if (err)
		return err > 0 ? BENCH_EXIT_OK : BENCH_EXIT_USAGE;
	/* With --allow the reduction under test is ours; the kernel only counts. */
	if (a.allow && !a.reduce_set)
		a.reduce = SGBPF_REDUCE_COUNT;
	if (a.delivery == SGBPF_DELIVERY_BLOCK && o.inflight != 1) {
		fprintf(stderr, "%s: --delivery block keeps one request in flight\n", o.label);
		bench_opts_free(&o);
		return BENCH_EXIT_USAGE;
	}
	if (!api_present()) {
		fprintf(stderr, "%s: this libsgbpf lacks the service API\n", o.label);
		bench_opts_free(&o);
		return BENCH_EXIT_UNAVAILABLE;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		goto out_opts;
	c->ep = -1;
	c->a = &a;
	c->o = &o;
	err = bench_pin_cpu(o.cpu);
	if (!err)
		err = bench_raise_nofile();
	if (!err)
		err = bench_table_init(&t, &o);
	if (err) {
		fprintf(stderr, "%s: setup: %s\n", o.label, strerror(-err));
		goto out_free;
	}
	c->t = &t;
	t.check_sum = a.allow || a.reduce == SGBPF_REDUCE_SUM_U32;
	t.timeout_ns = (o.timeout_us + TABLE_GRACE_US) * 1000;
	err = sg_open(c, &o, &a);
	if (err) {
		fprintf(stderr, "%s: service: %s (%s)\n", o.label, strerror(-err),
			sgbpf_last_error());
		/* A library that says "not supported" has no UDP backend yet. */
		if (err == -EOPNOTSUPP || err == -ENOSYS)
			ret = BENCH_EXIT_UNAVAILABLE;
		goto out_close;
	}
	err = bench_drive(&t, &o, &sg_ops, c, &res);
	if (err) {
		fprintf(stderr, "%s: run: %s (%s)\n", o.label, strerror(-err), sgbpf_last_error());
		goto out_close;
	}
	if (o.count)
		bench_report(&o, &res);
	if (a.stats)
		sg_print_stats(c);
	ret = BENCH_EXIT_OK;

out_close:
	sg_close(c);
	bench_table_free(&t);
out_free:
	free(c);
out_opts:
	bench_opts_free(&o);
	return ret;
}
