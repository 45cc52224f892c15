/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Shared pieces of the UDP scatter-gather benchmark contenders: options,
 * timing, latency statistics, CPU accounting, the table of outstanding
 * requests that validates and reduces replies, the loop that keeps M
 * requests in flight, and the CSV row every contender prints.
 *
 * Every contender talks to a worker farm that answers a scatter message
 * (an 18-byte header, msg_type 0) with a 1472-byte reply whose body holds
 * 363 u32 elements, element i = i.  The element-wise sum over N workers is
 * therefore N * i, which is what every contender checks.
 */
#ifndef SGBPF_BENCH_COMMON_H
#define SGBPF_BENCH_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <getopt.h>
#include <netinet/in.h>
#include <linux/types.h>

#include <sgbpf/protocol.h>

#define BENCH_MAX_WORKERS	1024u
#define BENCH_MAX_INFLIGHT	4096u
/* The reply body the reference worker sends: 363 u32, element i = i. */
#define BENCH_NELEMS		SGBPF_UDP_BODY_U32
#define BENCH_REPLY_BODY_LEN	(BENCH_NELEMS * 4u)
/* Largest scatter body a contender sends (--body-len). */
#define BENCH_BODY_MAX		SGBPF_UDP_BODY_MAX

/* Exit codes the runner understands. */
#define BENCH_EXIT_OK		0
#define BENCH_EXIT_FAIL		1
#define BENCH_EXIT_USAGE	2
#define BENCH_EXIT_UNAVAILABLE	77

/* Monotonic clock in nanoseconds. */
uint64_t bench_now_ns(void);

/* Pins the calling thread to one CPU; cpu < 0 leaves it alone.  0 or -errno. */
int bench_pin_cpu(int cpu);

/* Raises the soft limit on open files to the hard limit (one socket per worker). */
int bench_raise_nofile(void);

/*
 * Opens a UDP socket bound to an ephemeral port on 127.0.0.1, connected to
 * peer when peer is not NULL, with a receive buffer of at least rcvbuf
 * bytes when rcvbuf > 0.  Returns the descriptor or -errno.
 */
int bench_udp_socket(const struct sockaddr_in *peer, int rcvbuf, bool nonblock);

#include "lat_hist.h"

/*
 * Latencies of one run: a log-linear histogram (src/common/lat_hist.h), so
 * memory stays ~37 KB however long the run; percentiles within 1 %.
 */
struct bench_lat {
	struct lat_hist *h;
};

struct bench_lat_stats {
	double mean_us;
	double p50_us;
	double p99_us;
};

int bench_lat_init(struct bench_lat *l);
void bench_lat_free(struct bench_lat *l);
/* Forgets the samples (between the warm-up and the measured phase). */
void bench_lat_reset(struct bench_lat *l);

static inline void bench_lat_add(struct bench_lat *l, uint64_t ns)
{
	lat_hist_add(l->h, ns);
}

/* Fills *out from the samples; all zero when there are none. */
void bench_lat_stats(const struct bench_lat *l, struct bench_lat_stats *out);

/*
 * CPU time consumed so far: by this process (getrusage, user + system, all
 * threads) and by the whole machine (/proc/stat, all CPUs, user + nice +
 * system + irq + softirq).  XDP, TC and loopback delivery run in softirq on
 * whichever CPU handles the packet, often not the coordinator's, so only the
 * machine-wide figure sees all the work a request causes.
 */
struct bench_cpu {
	uint64_t self_us;
	uint64_t machine_us;
	uint64_t coord_cpu_us;		/* busy time of CPU `cpu` (0 when cpu < 0) */
};

int bench_cpu_sample(struct bench_cpu *c, int cpu);

/* Options common to every contender. */
struct bench_opts {
	const char *name;		/* contender name, default label */
	const char *label;		/* first CSV column */
	const char *mode;		/* "latency" (1 in flight) or "throughput" */
	struct sockaddr_in *workers;	/* owned; free with bench_opts_free() */
	uint32_t nworkers;
	uint64_t count;			/* measured requests; 0 = set up only */
	uint64_t warmup;		/* requests before measuring */
	uint32_t inflight;
	int cpu;			/* -1: no pinning */
	bool csv;
	bool csv_header;		/* print the header line before the row */
	bool verbose;			/* describe the first few failures on stderr */
	uint32_t body_len;		/* bytes of scatter body after the header */
	uint64_t timeout_us;		/* per request */
	uint64_t max_seconds;		/* whole run, warm-up included */
};

/*
 * A contender's own options: a getopt_long table (terminated by a zeroed
 * entry) and a handler called with each option's val and argument.  The
 * handler returns 0 or a negative errno.
 */
struct bench_extra_opts {
	const struct option *longopts;
	int (*handle)(int val, const char *arg, void *ctx);
	void *ctx;
	const char *usage;		/* lines appended to --help */
};

/*
 * Parses argv into *o (and the extras).  Returns 0, 1 when --help was
 * printed, or -EINVAL after printing why.
 */
int bench_parse_opts(int argc, char **argv, const char *name, struct bench_opts *o,
		     const struct bench_extra_opts *extra);
void bench_opts_free(struct bench_opts *o);

/*
 * The --sockets S option of the contenders that can spread workers over
 * fewer sockets than workers (0: one per worker): extras that store S in
 * *nsockets.
 */
struct bench_extra_opts bench_sockets_option(uint32_t *nsockets);

/*
 * Parses a worker list: "A.B.C.D:P", "A.B.C.D:P1-P2", several of those
 * separated by commas, or the path of a file with one such item per line
 * ('#' comments allowed).  Only loopback (127.0.0.0/8) addresses are
 * accepted, unless the process runs in a network namespace of its own:
 * benchmarks never send anywhere else.
 */
int bench_parse_workers(const char *spec, struct sockaddr_in **out, uint32_t *n);

/* Bytes of the scatter message: header plus --body-len. */
static inline size_t bench_msg_len(const struct bench_opts *o)
{
	return SGBPF_HDR_LEN + o->body_len;
}

/* One outstanding request. */
struct bench_slot {
	uint32_t req_id;
	bool active;
	uint32_t replies;
	uint64_t start_ns;
	uint32_t seen[BENCH_MAX_WORKERS / 32];
	uint32_t acc[BENCH_NELEMS];
	/* The scatter message; contenders that send asynchronously use it in place. */
	struct sgbpf_udp_msg msg;
};

/* Counters of one phase (warm-up or measured). */
struct bench_counts {
	uint64_t issued;
	uint64_t ok;
	uint64_t timeouts;
	uint64_t mismatches;	/* wrong reduced result or response count */
	uint64_t bad_replies;	/* malformed, duplicate or unknown request */
	uint64_t stale;		/* replies to requests that already timed out */
	uint64_t send_errors;
};

/*
 * Requests in flight.  A request id is (sequence << slot_bits) | slot, so a
 * reply finds its slot in O(1) and a late reply to an expired request can
 * never be folded into the newer request that reuses the slot.
 */
struct bench_table {
	struct bench_slot *slots;
	uint32_t nslots;
	uint32_t slot_bits;
	uint32_t *free_list;
	uint32_t nfree;
	uint32_t inflight;
	uint32_t next_seq;
	uint32_t nworkers;
	uint32_t expect[BENCH_NELEMS];
	bool check_sum;		/* false: count replies only */
	uint64_t timeout_ns;
	struct bench_counts c;
	struct bench_lat lat;
	/* source address -> worker index, for sockets shared by several workers */
	uint64_t *addr_keys;
	uint16_t *addr_vals;
	uint32_t addr_mask;
	const struct bench_opts *o;
};

int bench_table_init(struct bench_table *t, const struct bench_opts *o);
void bench_table_free(struct bench_table *t);

/* Starts a request: takes a free slot, fills its message.  NULL when full. */
struct bench_slot *bench_table_start(struct bench_table *t);

/* The slot of an outstanding request, or NULL. */
struct bench_slot *bench_table_find(struct bench_table *t, uint32_t req_id);

/*
 * Validates one reply from worker w and folds its body into the request's
 * sum.  Returns 1 when the reply completed its request, 0 when it was folded
 * or was a late reply to an expired request, -EBADMSG when it was invalid
 * (counted as an error).
 */
int bench_table_fold(struct bench_table *t, const void *buf, size_t len, uint32_t w);

/*
 * Completes a request whose reduction was done elsewhere (in the kernel):
 * checks the number of responses and, when sum is not NULL, the reduced
 * elements, records the latency and frees the slot.
 */
void bench_table_complete(struct bench_table *t, struct bench_slot *s, uint32_t responses,
			  const uint32_t *sum, uint32_t nelems);

/*
 * Completes a request whose result the contender checked itself (a reply
 * shape bench_table_complete() does not know, such as TCP's replies of any
 * size): records the latency, counts it as ok or as a mismatch, frees the slot.
 */
void bench_table_finish(struct bench_table *t, struct bench_slot *s, bool good);

/* Frees a request as failed (send error, library error). */
void bench_table_fail(struct bench_table *t, struct bench_slot *s);

/* Frees a request that timed out (as reported by a library). */
void bench_table_timeout(struct bench_table *t, struct bench_slot *s);

/* Expires requests older than the timeout; returns how many. */
uint32_t bench_table_expire(struct bench_table *t, uint64_t now);

/* Worker index of a source address, or -ENOENT. */
int bench_table_worker(const struct bench_table *t, const struct sockaddr_in *sa);

/* Marks worker w as having answered s; false when it had already. */
static inline bool bench_slot_mark(struct bench_slot *s, uint32_t w)
{
	uint32_t bit = 1u << (w & 31);

	if (s->seen[w / 32] & bit)
		return false;
	s->seen[w / 32] |= bit;
	return true;
}

/* Adds one reply body (363 little-endian u32, any alignment) to acc. */
void bench_fold_u32(uint32_t *acc, const void *body);

/*
 * The transport of one contender.  send() scatters the n requests just
 * started; poll() waits up to timeout_ms for replies and hands each one to
 * bench_table_fold() (or completes requests itself).  Both return 0 or a
 * negative errno; an error from poll() ends the run.
 */
struct bench_ops {
	int (*send)(void *ctx, struct bench_table *t, struct bench_slot **slots, uint32_t n);
	int (*poll)(void *ctx, struct bench_table *t, int timeout_ms);
};

/* Result of one measured phase. */
struct bench_result {
	struct bench_counts c;
	struct bench_lat_stats lat;
	uint64_t elapsed_ns;
	struct bench_cpu cpu;		/* consumed during the measured phase */
	uint64_t requests;		/* measured requests that ran (were issued) */
	uint64_t asked;			/* measured requests asked for (--count) */
	bool stopped_early;		/* --max-seconds ended the run first */
};

/*
 * Runs the warm-up, then the measured phase, keeping o->inflight requests
 * outstanding.  Every loop is bounded by o->max_seconds.  Returns 0 (errors
 * are counted in *res) or the negative errno a transport returned.
 */
int bench_drive(struct bench_table *t, const struct bench_opts *o, const struct bench_ops *ops,
		void *ctx, struct bench_result *res);

/*
 * Errors of a run: every measured request that ran and did not succeed.
 * Requests that --max-seconds kept from running are not errors; the report
 * says how many ran.
 */
uint64_t bench_errors(const struct bench_result *r);

/* Prints the CSV header line. */
void bench_print_csv_header(void);

/*
 * Prints the result: a CSV row on stdout with --csv (syscalls_per_req left
 * empty; the runner measures it; lost = requests that timed out; coordinator
 * CPU per reply = busy time of the pinned CPU over replies received), a
 * summary on stderr always.
 */
void bench_report(const struct bench_opts *o, const struct bench_result *r);

#endif /* SGBPF_BENCH_COMMON_H */
