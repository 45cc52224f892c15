// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gather_loop.h"

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

void gather_loop_on_complete(const struct sgbpf_result *res, void *ctx)
{
	struct gather_loop *g = ctx;
	bool correct = true;

	g->done++;
	switch (res->status) {
	case SGBPF_STATUS_COMPLETE:
		g->complete++;
		if (g->check) {
			correct = g->check(res, g->check_ctx);
			if (!correct)
				g->incorrect++;
		}
		g->lat_ns[g->complete - 1] = res->latency_ns;
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
	uint64_t start;
	int err;

	g->lat_ns = calloc(g->count ? g->count : 1, sizeof(*g->lat_ns));
	if (!g->lat_ns)
		return -ENOMEM;
	if (g->inflight == 0)
		g->inflight = 1;
	start = now_ns();
	while (g->done < g->count) {
		while (g->sent < g->count && sgbpf_inflight(g->svc) < g->inflight) {
			err = sgbpf_scatter(g->svc, g->msg, g->msg_len, &g->sopts, NULL);
			if (err == -EBUSY)
				break;
			if (err)
				return err;
			g->sent++;
		}
		if (g->done >= g->count)
			break;
		err = sgbpf_wait(g->svc, 1000);
		if (err < 0)
			return err;
	}
	g->elapsed_ns = now_ns() - start;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

double gather_loop_percentile_us(struct gather_loop *g, double p)
{
	uint64_t n = g->complete, idx;

	if (!n)
		return 0;
	qsort(g->lat_ns, n, sizeof(*g->lat_ns), cmp_u64);
	idx = (uint64_t)(p / 100.0 * (double)(n - 1) + 0.5);
	return g->lat_ns[idx] / 1000.0;
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
		fprintf(out,
			", \"latency_p50_us\": %.1f, \"latency_p99_us\": %.1f"
			", \"requests_per_second\": %.0f, \"kernel\": {\"scatters\": %" PRIu64
			", \"folded\": %" PRIu64 ", \"completed\": %" PRIu64
			", \"duplicates\": %" PRIu64 ", \"unknown_sources\": %" PRIu64
			", \"malformed\": %" PRIu64 ", \"stale\": %" PRIu64
			", \"surplus\": %" PRIu64 ", \"unsolicited\": %" PRIu64 "}}}\n",
			p50, p99, rps, st.scatters, st.folded, st.completed, st.duplicates,
			st.unknown_src, st.malformed, st.stale, st.surplus, st.unsolicited);
		return;
	}
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
}

void gather_loop_free(struct gather_loop *g)
{
	free(g->lat_ns);
	g->lat_ns = NULL;
}
