// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The latency histogram: percentiles within 1 % of the exact ones, bounded size. */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "lat_hist.h"
#include "suite_run.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Exact nearest-rank percentile of sorted samples. */
static uint64_t exact(const uint64_t *v, size_t n, double p)
{
	size_t rank = (size_t)ceil(p / 100.0 * (double)n);

	return v[(rank ? rank : 1) - 1];
}

static void check_against_exact(uint64_t *v, size_t n)
{
	static const double ps[] = { 1, 10, 50, 90, 99, 99.9, 100 };
	static struct lat_hist h;
	double sum = 0;

	lat_hist_reset(&h);
	for (size_t i = 0; i < n; i++) {
		lat_hist_add(&h, v[i]);
		sum += (double)v[i];
	}
	qsort(v, n, sizeof(*v), cmp_u64);
	ck_assert_uint_eq(h.count, n);
	ck_assert_uint_eq(h.min_ns, v[0]);
	ck_assert_uint_eq(h.max_ns, v[n - 1]);
	ck_assert(fabs(lat_hist_mean(&h) - sum / (double)n) < 1e-6 * sum / (double)n + 1);
	for (size_t k = 0; k < sizeof(ps) / sizeof(ps[0]); k++) {
		double want = (double)exact(v, n, ps[k]), got = (double)lat_hist_percentile(&h, ps[k]);

		ck_assert_msg(fabs(got - want) <= 0.01 * want + 0.5, "p%g: %.0f, exact %.0f", ps[k],
			      got, want);
	}
}

START_TEST(test_random_spreads)
{
	enum { N = 200000 };
	uint64_t *v = malloc(N * sizeof(*v));
	unsigned int seed = 42;

	ck_assert_ptr_nonnull(v);
	/* Log-uniform from 1 ns to ~1 s: every octave, small and large values. */
	for (size_t i = 0; i < N; i++)
		v[i] = (uint64_t)exp((double)rand_r(&seed) / RAND_MAX * log(1e9));
	check_against_exact(v, N);
	/* A tight cluster around 30 us with a tail: what a run looks like. */
	for (size_t i = 0; i < N; i++)
		v[i] = 30000 + rand_r(&seed) % 2000 + (i % 100 == 0 ? rand_r(&seed) % 1000000 : 0);
	check_against_exact(v, N);
	/* Small exact values. */
	for (size_t i = 0; i < N; i++)
		v[i] = (uint64_t)(rand_r(&seed) % 300);
	check_against_exact(v, N);
	free(v);
}
END_TEST

START_TEST(test_edges)
{
	static struct lat_hist h;

	lat_hist_reset(&h);
	ck_assert_uint_eq(lat_hist_percentile(&h, 50), 0);
	ck_assert(lat_hist_mean(&h) == 0);
	lat_hist_add(&h, 0);
	lat_hist_add(&h, UINT64_MAX / 2);	/* beyond the range: the last bucket */
	ck_assert_uint_eq(lat_hist_percentile(&h, 50), 0);
	ck_assert_uint_eq(h.buckets[LAT_HIST_BUCKETS - 1], 1);
	ck_assert_uint_eq(lat_hist_index((1ull << LAT_HIST_MAX_BITS) - 1), LAT_HIST_BUCKETS - 1);
	/* Buckets are contiguous and ordered. */
	for (uint64_t v = 1; v < (1ull << 20); v++) {
		if (lat_hist_index(v) != lat_hist_index(v - 1) &&
		    lat_hist_index(v) != lat_hist_index(v - 1) + 1)
			ck_abort_msg("bucket of %llu jumps", (unsigned long long)v);
	}
	ck_assert_uint_lt(sizeof(h), 40 * 1024);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("lat_hist");
	TCase *tc = tcase_create("hist");

	tcase_add_test(tc, test_random_spreads);
	tcase_add_test(tc, test_edges);
	suite_add_tcase(s, tc);
	return suite_run(s);
}
