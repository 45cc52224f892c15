/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A service over reference workers on lo: their endpoints, waiting for
 * every request in flight, and checking a result against what the workers
 * (`sgbpf worker --reply random:SEED`) sent.
 */
#ifndef SGBPF_TESTS_SVC_WAIT_H
#define SGBPF_TESTS_SVC_WAIT_H

#include <stdbool.h>
#include <stdint.h>

#include <sgbpf/sgbpf.h>

/* The most workers svc_sum_matches() checks a result against. */
#define SVC_MAX_WORKERS 1024

/* Fills EPS[0..N) with 127.0.0.1 and the ports BASE, BASE + 1, ... */
void svc_lo_workers(struct sgbpf_endpoint *eps, uint32_t n, uint16_t base);

/* Waits (up to MS a call) until nothing is in flight; fails the test on an error. */
void svc_wait_all(struct sgbpf_service *svc, int ms);

/*
 * Counts RES in *COMPLETE, *EXPIRED or *OTHER by its status; returns
 * whether it completed (and so has a result to check).
 */
bool svc_tally_status(const struct sgbpf_result *res, uint32_t *complete, uint32_t *expired,
		      uint32_t *other);

/*
 * Whether RES carries the replies of all NWORKERS workers on ports BASE,
 * BASE + 1, ... answering with the generator SPEC: that many responses,
 * REPLY_GEN_NELEMS elements, and their u32 sum to the element.
 */
bool svc_sum_matches(const struct sgbpf_result *res, const char *spec, uint16_t base,
		     uint32_t nworkers);

#endif
