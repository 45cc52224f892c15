// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sgbpf TCP contender: the same scatter-gather through the public API with
 * SGBPF_BACKEND_TCP.  The service listens on --listen through SK_LOOKUP,
 * each worker's connection lands on a listener of its own, and the stream
 * program on the SOCKMAP frames and folds every reply in the kernel as its
 * bytes arrive (docs/tcp.md).  One sgbpf_scatter() per request; completion
 * as --delivery says:
 *
 *   ringbuf    sgbpf_wait() (the ring buffer, polled in the service's io_uring)
 *   block      sgbpf_scatter() returns when its request is done (1 in flight)
 *   busy-wait  sgbpf_wait(svc, 0) in a spin loop: no system call while waiting
 *
 * Fate discard by default: the bytes are consumed in the kernel and never
 * copied to user space.  --allow lets them through as well (the kernel still
 * folds; the library reads and files every reply) and sums the replies here
 * from sgbpf_result.resp, as an application that needs each reply would.
 * --reduce count: completion with no fold at all, the ceiling.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sgbpf/sgbpf.h>

#include "bench_tcp_common.h"

/* Slack between the library's timeout and the table's own, so the library reports first. */
#define TABLE_GRACE_US	1000000ull
/* Spins of busy-wait between two looks at the clock. */
#define SPINS_PER_CLOCK	64

struct sg_args {
	enum sgbpf_delivery delivery;
	enum sgbpf_reduce reduce;
	bool reduce_set;
	bool allow;
	bool stats;
};

struct sg_ctx {
	struct sgbpf_service *svc;
	struct bench_table *t;
	const struct sg_args *a;
	const struct btcp_args *ta;
	const struct bench_opts *o;
	uint8_t *body;			/* the scatter body (--body-len) */
	uint32_t *acc;			/* --allow: the user-space sum */
	uint32_t nelems;
};

/* --verbose: why the first few results were wrong. */
static void describe(struct sg_ctx *c, const struct sgbpf_result *res, uint32_t nresp_ok)
{
	static unsigned int told;

	if (!c->o->verbose || told++ >= 5)
		return;
	fprintf(stderr, "%s: request %u: %u responses, %u replies read (%u valid), %u elements%s\n",
		c->o->label, res->req_id, res->responses, res->nresp, nresp_ok, res->nelems,
		res->responses == c->t->nworkers ? ", wrong sum" : "");
}

/* --allow: validate and sum every reply the library hands over. */
static void sum_responses(struct sg_ctx *c, struct bench_slot *s, const struct sgbpf_result *res)
{
	struct bench_table *t = c->t;
	uint32_t n = 0;
	bool good;

	memset(c->acc, 0, (size_t)c->nelems * sizeof(*c->acc));
	for (uint32_t i = 0; i < res->nresp; i++) {
		const struct sgbpf_response *r = &res->resp[i];

		if (r->worker >= t->nworkers || !bench_slot_mark(s, r->worker) ||
		    r->body_len != c->ta->reply_size || (r->body_len && !r->body)) {
			t->c.bad_replies++;
			continue;
		}
		btcp_fold_u32(c->acc, r->body, c->nelems);
		n++;
	}
	good = n == t->nworkers && btcp_sum_ok(c->ta, n, c->acc, c->nelems);
	if (!good)
		describe(c, res, n);
	bench_table_finish(t, s, good);
}

static void on_complete(const struct sgbpf_result *res, void *ctx)
{
	struct sg_ctx *c = ctx;
	struct bench_table *t = c->t;
	struct bench_slot *s;
	bool good;

	/* user_ctx carries the table's own request id, not a pointer that could go stale. */
	s = bench_table_find(t, (uint32_t)(uintptr_t)res->user_ctx);
	if (!s) {
		t->c.stale++;
		return;
	}
	switch (res->status) {
	case SGBPF_STATUS_COMPLETE:
		if (c->a->allow) {
			sum_responses(c, s, res);
			break;
		}
		good = res->responses == t->nworkers;
		if (good && c->a->reduce == SGBPF_REDUCE_SUM_U32)
			good = res->elem_size == 4 &&
			       btcp_sum_ok(c->ta, t->nworkers, res->data, res->nelems);
		if (!good)
			describe(c, res, res->nresp);
		bench_table_finish(t, s, good);
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

	for (uint32_t i = 0; i < n; i++) {
		SGBPF_OPTS(sgbpf_scatter_opts, so,
			   .policy = SGBPF_POLICY_ALL,
			   .timeout_us = c->o->timeout_us,
			   .user_ctx = (void *)(uintptr_t)slots[i]->req_id);
		uint32_t lib_id;
		int err;

		err = sgbpf_scatter(c->svc, c->body, c->o->body_len, &so, &lib_id);
		/* In block mode the callback already freed the slot. */
		if (err && slots[i]->active) {
			t->c.send_errors++;
			if (t->o->verbose && t->c.send_errors < 5)
				fprintf(stderr, "%s: scatter: %s (%s)\n", t->o->label,
					strerror(-err), sgbpf_last_error());
			bench_table_fail(t, slots[i]);
		}
	}
	return 0;
}

static int sg_poll(void *ctx, struct bench_table *t, int timeout_ms)
{
	struct sg_ctx *c = ctx;
	uint64_t end;
	int r;

	(void)t;
	switch (c->a->delivery) {
	case SGBPF_DELIVERY_BLOCK:
		return 0;
	case SGBPF_DELIVERY_BUSY_WAIT:
		end = bench_now_ns() + (uint64_t)timeout_ms * 1000000ull;
		do {
			for (int spin = 0; spin < SPINS_PER_CLOCK; spin++) {
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

static int sg_open(struct sg_ctx *c)
{
	const struct bench_opts *o = c->o;
	struct sgbpf_endpoint *eps;

	eps = calloc(o->nworkers, sizeof(*eps));
	if (!eps)
		return -ENOMEM;
	for (uint32_t i = 0; i < o->nworkers; i++) {
		eps[i].addr = o->workers[i].sin_addr.s_addr;
		eps[i].port = ntohs(o->workers[i].sin_port);
	}
	SGBPF_OPTS(sgbpf_service_opts, so,
		   .backend = SGBPF_BACKEND_TCP,
		   .workers = eps,
		   .nworkers = o->nworkers,
		   .reduce = c->a->reduce,
		   .fate = c->a->allow ? SGBPF_FATE_ALLOW : SGBPF_FATE_DISCARD,
		   .delivery = c->a->delivery,
		   .max_inflight = o->inflight,
		   .listen = { .addr = c->ta->listen.sin_addr.s_addr,
			       .port = ntohs(c->ta->listen.sin_port) },
		   .connect_timeout_ms = c->ta->accept_ms,
		   /* Never below one element: a count-only run of empty replies still needs a size. */
		   .max_reply = c->ta->reply_size ? c->ta->reply_size : 4,
		   .on_complete = on_complete,
		   .cb_ctx = c);
	c->svc = sgbpf_service_create(&so);
	free(eps);
	return c->svc ? 0 : (errno ? -errno : -EIO);
}

static void sg_print_stats(const struct sg_ctx *c)
{
	struct sgbpf_stats st;

	if (sgbpf_service_stats(c->svc, &st))
		return;
	fprintf(stderr,
		"kernel: scatters %llu folded %llu completed %llu duplicates %llu unknown %llu "
		"malformed %llu stale %llu surplus %llu expired %llu\n",
		(unsigned long long)st.scatters, (unsigned long long)st.folded,
		(unsigned long long)st.completed, (unsigned long long)st.duplicates,
		(unsigned long long)st.unknown_src, (unsigned long long)st.malformed,
		(unsigned long long)st.stale, (unsigned long long)st.surplus,
		(unsigned long long)st.expired);
}

enum { OPT_DELIVERY = 512, OPT_ALLOW, OPT_REDUCE, OPT_STATS };

static const struct option sg_longopts[] = {
	{ "delivery", required_argument, NULL, OPT_DELIVERY },
	{ "allow", no_argument, NULL, OPT_ALLOW },
	{ "reduce", required_argument, NULL, OPT_REDUCE },
	{ "stats", no_argument, NULL, OPT_STATS },
	{ NULL, 0, NULL, 0 },
};

static int sg_handle(int val, const char *arg, void *ctx)
{
	struct sg_args *a = ctx;

	switch (val) {
	case OPT_DELIVERY:
		if (!strcmp(arg, "ringbuf"))
			a->delivery = SGBPF_DELIVERY_RINGBUF;
		else if (!strcmp(arg, "block"))
			a->delivery = SGBPF_DELIVERY_BLOCK;
		else if (!strcmp(arg, "busy-wait"))
			a->delivery = SGBPF_DELIVERY_BUSY_WAIT;
		else if (!strcmp(arg, "ctrl-fd"))
			a->delivery = SGBPF_DELIVERY_CTRL_FD;	/* the library says whether it can */
		else
			return -EINVAL;
		return 0;
	case OPT_ALLOW:
		a->allow = true;
		return 0;
	case OPT_REDUCE:
		if (!strcmp(arg, "sum-u32"))
			a->reduce = SGBPF_REDUCE_SUM_U32;
		else if (!strcmp(arg, "count"))
			a->reduce = SGBPF_REDUCE_COUNT;
		else
			return -EINVAL;
		a->reduce_set = true;
		return 0;
	case OPT_STATS:
		a->stats = true;
		return 0;
	}
	return -EINVAL;
}

int main(int argc, char **argv)
{
	struct sg_args a = { .delivery = SGBPF_DELIVERY_RINGBUF, .reduce = SGBPF_REDUCE_SUM_U32 };
	const struct bench_extra_opts own = {
		.longopts = sg_longopts,
		.handle = sg_handle,
		.ctx = &a,
		.usage =
			"  --delivery D       ringbuf (default), block or busy-wait\n"
			"  --allow            let replies through too and sum them in user space\n"
			"  --reduce R         sum-u32 (default; count with --allow) or count\n"
			"  --stats            print the kernel counters at the end\n",
	};
	struct btcp_args ta = { .own = &own };
	struct bench_result res;
	struct bench_table t;
	struct bench_opts o;
	struct sg_ctx *c;
	int err, ret = BENCH_EXIT_FAIL;

	err = btcp_parse_opts(argc, argv, "tcp_sgbpf", &o, &ta);
	if (err)
		return err > 0 ? BENCH_EXIT_OK : BENCH_EXIT_USAGE;
	/* With --allow the sum under test is ours; the kernel only counts. */
	if (a.allow && !a.reduce_set)
		a.reduce = SGBPF_REDUCE_COUNT;
	if (a.delivery == SGBPF_DELIVERY_BLOCK && o.inflight != 1) {
		fprintf(stderr, "%s: --delivery block keeps one request in flight\n", o.label);
		bench_opts_free(&o);
		return BENCH_EXIT_USAGE;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		goto out_opts;
	c->a = &a;
	c->ta = &ta;
	c->o = &o;
	c->nelems = ta.reply_size / 4;
	c->body = calloc(1, o.body_len + 1);
	c->acc = calloc(c->nelems + 1, sizeof(*c->acc));
	err = c->body && c->acc ? bench_pin_cpu(o.cpu) : -ENOMEM;
	if (!err)
		err = bench_raise_nofile();
	if (!err)
		err = bench_table_init(&t, &o);
	if (err) {
		fprintf(stderr, "%s: setup: %s\n", o.label, strerror(-err));
		goto out_free;
	}
	c->t = &t;
	t.timeout_ns = (o.timeout_us + TABLE_GRACE_US) * 1000;
	err = sg_open(c);
	if (err) {
		fprintf(stderr, "%s: service: %s (%s)\n", o.label, strerror(-err),
			sgbpf_last_error());
		/* Something this library cannot do (a delivery mode, a size): not a failure. */
		if (err == -EOPNOTSUPP || err == -ENOSYS || err == -E2BIG)
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
	if (c->svc)
		sgbpf_service_destroy(c->svc);
	bench_table_free(&t);
out_free:
	free(c->body);
	free(c->acc);
	free(c);
out_opts:
	bench_opts_free(&o);
	return ret;
}
