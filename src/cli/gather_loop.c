// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_common.h"
#include "gather_loop.h"

/* The signal that asked the loop to stop; written by the handler only. */
static volatile sig_atomic_t stop_signal;

/* After a signal, how long requests with no timeout get to finish. */
#define STOP_GRACE_NS 1000000000ull

static void on_stop_signal(int sig)
{
	stop_signal = sig;
}

void gather_loop_catch_signals(void)
{
	/* No SA_RESTART: a blocking wait returns at once with EINTR. */
	struct sigaction sa = { .sa_handler = on_stop_signal, .sa_flags = SA_RESETHAND };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static const char *status_name(enum sgbpf_status s)
{
	switch (s) {
	case SGBPF_STATUS_COMPLETE:
		return "complete";
	case SGBPF_STATUS_EXPIRED:
		return "expired";
	default:
		return "failed";
	}
}

static void print_json(const struct gather_loop *g, const struct sgbpf_result *res, bool correct)
{
	printf("{\"request\": %" PRIu32 ", \"status\": \"%s\", \"responses\": %" PRIu32,
	       res->req_id, status_name(res->status), res->responses);
	if (g->check && res->status == SGBPF_STATUS_COMPLETE)
		printf(", \"correct\": %s", correct ? "true" : "false");
	if (res->duplicates)
		printf(", \"duplicates\": %" PRIu32, res->duplicates);
	if (g->sopts.retry_us)
		printf(", \"retries\": %" PRIu32, res->retries);
	printf(", \"result\": [");
	for (uint32_t i = 0; i < res->nelems && res->data; i++) {
		const uint8_t *p = (const uint8_t *)res->data + (size_t)i * res->elem_size;
		uint64_t v = 0;
		int64_t sv;

		memcpy(&v, p, res->elem_size <= 8 ? res->elem_size : 8);	/* little-endian */
		/* Sign-extend from the element's width. */
		sv = res->elem_size >= 8 ? (int64_t)v :
		     (int64_t)(v << (64 - 8 * res->elem_size)) >> (64 - 8 * res->elem_size);
		if (g->is_signed)
			printf("%s%" PRId64, i ? ", " : "", sv);
		else
			printf("%s%" PRIu64, i ? ", " : "", v);
	}
	printf("]}\n");
}

int gather_loop_check_inflight(const char *cmd, const struct gather_loop *g)
{
	struct sgbpf_service_info info;

	if (sgbpf_service_info(g->svc, &info) == 0 && g->inflight > info.max_inflight)
		return cli_usage_error(cmd, "--inflight %u exceeds the %u requests this service "
				       "holds in flight (with --allow: receive ring / workers)",
				       g->inflight, info.max_inflight);
	return 0;
}

void gather_loop_on_complete(const struct sgbpf_result *res, void *ctx)
{
	struct gather_loop *g = ctx;
	bool correct = true;

	/* After the summary (requests abandoned at a stop, reported at destroy). */
	if (g->finished)
		return;
	g->done++;
	switch (res->status) {
	case SGBPF_STATUS_COMPLETE:
		g->complete++;
		if (g->check) {
			correct = g->check(res, g->check_ctx);
			if (!correct)
				g->incorrect++;
		}
		lat_hist_add(g->lat, res->latency_ns);
		break;
	case SGBPF_STATUS_EXPIRED:
		g->expired++;
		break;
	default:
		g->failed++;
		break;
	}
	if (g->json)
		print_json(g, res, correct);
}

int gather_loop_run(struct gather_loop *g)
{
	uint64_t start, stop_by = 0;
	int err;

	g->lat = calloc(1, sizeof(*g->lat));
	if (!g->lat)
		return -ENOMEM;
	if (g->inflight == 0)
		g->inflight = 1;
	start = now_ns();
	while (g->done < g->count) {
		if (stop_signal && !g->stopped_by) {
			/*
			 * Stop sending; what is in flight completes or expires by
			 * its own timeout (plus a margin for the expiry scan), or
			 * within STOP_GRACE_NS when it has none.
			 */
			g->stopped_by = stop_signal;
			stop_by = now_ns() + (g->sopts.timeout_us ? g->sopts.timeout_us * 1000 +
					      100000000ull : STOP_GRACE_NS);
		}
		if (g->stopped_by) {
			if (g->done >= g->sent)
				break;
			if (now_ns() >= stop_by) {
				g->abandoned = g->sent - g->done;
				break;
			}
		}
		while (!g->stopped_by && g->sent < g->count &&
		       sgbpf_inflight(g->svc) < g->inflight) {
			err = sgbpf_scatter(g->svc, g->msg, g->msg_len, &g->sopts, NULL);
			if (err == -EBUSY)
				break;
			if (err == -EINTR) {
				/* Block mode: the request is in flight; the top of the loop stops. */
				g->sent++;
				break;
			}
			if (err)
				return err;
			g->sent++;
		}
		if (g->done >= g->count)
			break;
		err = sgbpf_wait(g->svc, g->stopped_by ? 100 : 1000);
		if (err == -EINTR)
			continue;	/* the signal: the top of the loop sees it */
		if (err < 0)
			return err;
	}
	g->elapsed_ns = now_ns() - start;
	g->finished = true;
	return 0;
}

double gather_loop_percentile_us(struct gather_loop *g, double p)
{
	return g->lat ? lat_hist_percentile(g->lat, p) / 1000.0 : 0;
}

void gather_loop_summary(struct gather_loop *g, FILE *out)
{
	struct sgbpf_stats st = { 0 };
	double p50 = gather_loop_percentile_us(g, 50), p99 = gather_loop_percentile_us(g, 99);
	double rps = g->elapsed_ns ? g->done * 1e9 / g->elapsed_ns : 0;

	sgbpf_service_stats(g->svc, &st);
	if (g->json) {
		fprintf(out,
			"{\"summary\": {\"requests\": %" PRIu64 ", \"complete\": %" PRIu64
			", \"expired\": %" PRIu64 ", \"failed\": %" PRIu64,
			g->done, g->complete, g->expired, g->failed);
		if (g->check)
			fprintf(out, ", \"incorrect\": %" PRIu64, g->incorrect);
		if (g->stopped_by)
			fprintf(out, ", \"stopped_by\": \"%s\", \"abandoned\": %" PRIu64,
				g->stopped_by == SIGINT ? "SIGINT" : "SIGTERM", g->abandoned);
		if (g->sopts.retry_us)
			fprintf(out, ", \"retries\": %" PRIu64 ", \"retry_copies\": %" PRIu64
				", \"retry_idle\": %" PRIu64 ", \"retry_failures\": %" PRIu64,
				st.retries, st.retry_copies, st.retry_idle, st.retry_failures);
		if (st.deferred)
			fprintf(out, ", \"deferred\": %" PRIu64, st.deferred);
		if (g->sopts.all_gather)
			fprintf(out, ", \"allgathers\": %" PRIu64 ", \"allgather_copies\": %" PRIu64
				", \"allgather_failures\": %" PRIu64, st.allgathers,
				st.allgather_copies, st.allgather_failures);
		fprintf(out,
			", \"latency_p50_us\": %.1f, \"latency_p99_us\": %.1f"
			", \"requests_per_second\": %.0f, \"kernel\": {\"scatters\": %" PRIu64
			", \"folded\": %" PRIu64 ", \"completed\": %" PRIu64
			", \"duplicates\": %" PRIu64 ", \"unknown_sources\": %" PRIu64
			", \"malformed\": %" PRIu64 ", \"stale\": %" PRIu64
			", \"surplus\": %" PRIu64 ", \"unsolicited\": %" PRIu64
			", \"clone_failures\": %" PRIu64 ", \"scatter_fragments\": %" PRIu64 "}}}\n",
			p50, p99, rps, st.scatters, st.folded, st.completed, st.duplicates,
			st.unknown_src, st.malformed, st.stale, st.surplus, st.unsolicited,
			st.clone_failures, st.scatter_fragments);
		return;
	}
	if (g->stopped_by)
		fprintf(out, "stopped by %s after %" PRIu64 " of %" PRIu64 " requests%s\n",
			g->stopped_by == SIGINT ? "SIGINT" : "SIGTERM", g->done, g->count,
			g->abandoned ? "; some still in flight were abandoned" : "");
	fprintf(out, "requests: %" PRIu64 " complete, %" PRIu64 " expired, %" PRIu64 " failed",
		g->complete, g->expired, g->failed);
	if (g->check)
		fprintf(out, "; correct %" PRIu64 "/%" PRIu64, g->complete - g->incorrect, g->done);
	fprintf(out, "\nlatency:  p50 %.1f us, p99 %.1f us; throughput %.0f requests/s\n", p50,
		p99, rps);
	fprintf(out,
		"kernel:   %" PRIu64 " replies folded, %" PRIu64 " duplicates, %" PRIu64
		" from unknown sources, %" PRIu64 " malformed, %" PRIu64 " stale, %" PRIu64
		" surplus, %" PRIu64 " unsolicited\n",
		st.folded, st.duplicates, st.unknown_src, st.malformed, st.stale, st.surplus,
		st.unsolicited);
	if (g->sopts.retry_us)
		fprintf(out, "retry:    %" PRIu64 " re-scatters, %" PRIu64 " copies to stragglers, %"
			PRIu64 " with nothing left to send, %" PRIu64 " failed sends\n", st.retries,
			st.retry_copies, st.retry_idle, st.retry_failures);
	if (st.deferred)
		fprintf(out, "budget:   %" PRIu64 " requests waited for the reply budget\n",
			st.deferred);
	if (g->sopts.all_gather)
		fprintf(out, "all-gather: %" PRIu64 " results sent back in %" PRIu64 " copies, %"
			PRIu64 " failed sends\n", st.allgathers, st.allgather_copies,
			st.allgather_failures);
	/* Only when it happened: copies the kernel refused, scatters cut in fragments. */
	if (st.clone_failures || st.scatter_fragments)
		fprintf(out, "scatter:  %" PRIu64 " copies refused by the kernel, %" PRIu64
			" fragmented scatters dropped\n", st.clone_failures, st.scatter_fragments);
}

void gather_loop_free(struct gather_loop *g)
{
	free(g->lat);
	g->lat = NULL;
}
