/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The request loop shared by 'sgbpf gather' and 'sgbpf run': K requests with
 * up to M outstanding, latencies in a fixed-size histogram (memory does not
 * grow with K), per-request JSON lines and a summary.  SIGINT and SIGTERM
 * stop it cleanly: no new request, those in flight finish or expire, then
 * the summary, and the caller exits 128 + the signal.
 */
#ifndef SGBPF_CLI_GATHER_LOOP_H
#define SGBPF_CLI_GATHER_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <sgbpf/sgbpf.h>

#include "lat_hist.h"

struct gather_loop;

/* Checks one completed result; returns true when it is right. */
typedef bool (*gather_check_fn)(const struct sgbpf_result *res, void *ctx);

struct gather_loop {
	/* Set by the caller. */
	struct sgbpf_service *svc;
	uint64_t count;
	uint32_t inflight;
	struct sgbpf_scatter_opts sopts;
	const void *msg;
	size_t msg_len;
	bool json;
	bool is_signed;			/* print result elements as signed */
	gather_check_fn check;		/* NULL: no check */
	void *check_ctx;

	/* Filled by the loop. */
	uint64_t sent, done, complete, expired, failed, incorrect;
	struct lat_hist *lat;		/* latencies of completed requests */
	uint64_t elapsed_ns;
	int stopped_by;			/* SIGINT or SIGTERM that stopped the loop, or 0 */
	uint64_t abandoned;		/* in flight when the grace after a signal ran out */
	bool finished;			/* the loop is over: later results are ignored */
};

/*
 * Catches SIGINT and SIGTERM for gather_loop_run(); a second one of either
 * kills the process as usual (SA_RESETHAND).
 */
void gather_loop_catch_signals(void);

/* Exit code after a stop by signal (128 + signal), or 0 when not stopped. */
static inline int gather_loop_signal_exit(const struct gather_loop *g)
{
	return g->stopped_by ? 128 + g->stopped_by : 0;
}

/*
 * Once the service exists: g->inflight may not exceed the in-flight limit it
 * reports (lower with fate allow).  0, or CLI_EXIT_USAGE after a message.
 */
int gather_loop_check_inflight(const char *cmd, const struct gather_loop *g);

/* The completion callback to put in sgbpf_service_opts (cb_ctx = the loop). */
void gather_loop_on_complete(const struct sgbpf_result *res, void *ctx);

/* Runs the loop; returns 0 or a negative errno (message in sgbpf_last_error()). */
int gather_loop_run(struct gather_loop *g);

/* Latency percentile p (0..100) in microseconds over completed requests. */
double gather_loop_percentile_us(struct gather_loop *g, double p);

/* Prints the {"summary": ...} line (json) or a short human summary. */
void gather_loop_summary(struct gather_loop *g, FILE *out);

void gather_loop_free(struct gather_loop *g);

#endif
