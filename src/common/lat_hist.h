/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Latency statistics in bounded memory, for the CLI's request loop and the
 * benchmark contenders: a log-linear histogram.  Values below 2^(S+1) ns get
 * a bucket each; above, every power of two is split into 2^S equal buckets,
 * so a bucket's width is at most 1/2^S of its values and a percentile read
 * at the bucket's middle is within 1/2^(S+1) (0.4 % for S = 7) of the true
 * sample.  Values up to 2^42 ns (73 minutes) are kept apart; longer ones
 * fall into the last bucket.  About 37 KB, whatever the number of samples.
 */
#ifndef SGBPF_COMMON_LAT_HIST_H
#define SGBPF_COMMON_LAT_HIST_H

#include <stdint.h>

#define LAT_HIST_SUB_BITS 7u
#define LAT_HIST_MAX_BITS 42u
/* Index of the last bucket: the one of 2^LAT_HIST_MAX_BITS - 1. */
#define LAT_HIST_BUCKETS \
	(((LAT_HIST_MAX_BITS - 1 - LAT_HIST_SUB_BITS) << LAT_HIST_SUB_BITS) + \
	 (2u << LAT_HIST_SUB_BITS))

struct lat_hist {
	uint64_t count;
	uint64_t sum_ns;	/* for the mean; 2^64 ns is 584 years */
	uint64_t min_ns, max_ns;
	uint64_t buckets[LAT_HIST_BUCKETS];
};

/* Empties the histogram. */
void lat_hist_reset(struct lat_hist *h);

/* Bucket of a value. */
static inline uint32_t lat_hist_index(uint64_t ns)
{
	uint32_t msb, shift;

	if (ns >= 1ull << LAT_HIST_MAX_BITS)
		ns = (1ull << LAT_HIST_MAX_BITS) - 1;
	if (ns < 2ull << LAT_HIST_SUB_BITS)
		return (uint32_t)ns;
	msb = 63u - (uint32_t)__builtin_clzll(ns);
	shift = msb - LAT_HIST_SUB_BITS;
	return (shift << LAT_HIST_SUB_BITS) + (uint32_t)(ns >> shift);
}

static inline void lat_hist_add(struct lat_hist *h, uint64_t ns)
{
	h->buckets[lat_hist_index(ns)]++;
	if (!h->count || ns < h->min_ns)
		h->min_ns = ns;
	if (ns > h->max_ns)
		h->max_ns = ns;
	h->count++;
	h->sum_ns += ns;
}

/*
 * Nearest-rank percentile p (0..100] in nanoseconds: the middle of the
 * bucket holding the ceil(p% * count)-th smallest sample, kept within
 * [min, max].  0 when empty.
 */
uint64_t lat_hist_percentile(const struct lat_hist *h, double p);

/* Mean in nanoseconds; 0 when empty. */
double lat_hist_mean(const struct lat_hist *h);

#endif
