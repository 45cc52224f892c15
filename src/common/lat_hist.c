// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <math.h>
#include <string.h>

#include "lat_hist.h"

void lat_hist_reset(struct lat_hist *h)
{
	memset(h, 0, sizeof(*h));
}

/* Smallest value of bucket i and its width. */
static void bucket_range(uint32_t i, uint64_t *low, uint64_t *width)
{
	uint32_t shift;

	if (i < 2u << LAT_HIST_SUB_BITS) {
		*low = i;
		*width = 1;
		return;
	}
	shift = (i >> LAT_HIST_SUB_BITS) - 1;
	*low = (uint64_t)(i - (shift << LAT_HIST_SUB_BITS)) << shift;
	*width = 1ull << shift;
}

uint64_t lat_hist_percentile(const struct lat_hist *h, double p)
{
	uint64_t rank, seen = 0, low, width, v;

	if (!h->count)
		return 0;
	rank = (uint64_t)ceil(p / 100.0 * (double)h->count);
	if (rank < 1)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	for (uint32_t i = 0; i < LAT_HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen < rank)
			continue;
		bucket_range(i, &low, &width);
		v = low + (width - 1) / 2;
		if (v < h->min_ns)
			v = h->min_ns;
		if (v > h->max_ns)
			v = h->max_ns;
		return v;
	}
	return h->max_ns;
}

double lat_hist_mean(const struct lat_hist *h)
{
	return h->count ? (double)h->sum_ns / (double)h->count : 0;
}
