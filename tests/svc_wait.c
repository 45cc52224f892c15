// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <check.h>
#include <string.h>

#include "reply_gen.h"
#include "svc_wait.h"

void svc_lo_workers(struct sgbpf_endpoint *eps, uint32_t n, uint16_t base)
{
	for (uint32_t i = 0; i < n; i++) {
		eps[i].addr = htonl(INADDR_LOOPBACK);
		eps[i].port = base + i;
	}
}

void svc_wait_all(struct sgbpf_service *svc, int ms)
{
	while (sgbpf_inflight(svc))
		ck_assert_int_ge(sgbpf_wait(svc, ms), 0);
}

bool svc_tally_status(const struct sgbpf_result *res, uint32_t *complete, uint32_t *expired,
		      uint32_t *other)
{
	if (res->status == SGBPF_STATUS_EXPIRED) {
		(*expired)++;
		return false;
	}
	if (res->status != SGBPF_STATUS_COMPLETE) {
		(*other)++;
		return false;
	}
	(*complete)++;
	return true;
}

bool svc_sum_matches(const struct sgbpf_result *res, const char *spec, uint16_t base,
		     uint32_t nworkers)
{
	uint32_t expect[REPLY_GEN_NELEMS];
	uint16_t ports[SVC_MAX_WORKERS];
	struct reply_gen g;

	ck_assert_uint_le(nworkers, SVC_MAX_WORKERS);
	reply_gen_parse(spec, &g);
	for (uint32_t i = 0; i < nworkers; i++)
		ports[i] = base + i;
	reply_gen_expected_sum_u32(&g, ports, nworkers, res->req_id, 0, expect);
	return res->responses == nworkers && res->nelems == REPLY_GEN_NELEMS &&
	       !memcmp(res->data, expect, sizeof(expect));
}
