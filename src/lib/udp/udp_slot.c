// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The UDP backend's kernel slots as the core sees them: struct sgbpf_slot
 * (udp_state.h), shared with bpf-udp/ through the mmap'ed 'slots' array.
 * Every word is tagged with the request id it belongs to, so a slot that
 * moved on to a newer request reads as SGBPF_VIEW_OTHER here.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <sgbpf/udp_state.h>

#include "service.h"
#include "udp/udp_backend.h"

static struct sgbpf_slot *udp_slot(const struct sgbpf_service *svc, uint32_t slot)
{
	const struct sgbpf_udp_backend *b = svc->backend;

	return &b->slots[slot];
}

/*
 * A completed result, contiguous.  Chunk 0 is in the slot; a result that
 * spans more chunks (multi-packet replies) is copied, chunk by chunk, into
 * one buffer of the service: the chunks map's rows are 8-byte aligned and
 * so not back to back when C is not a multiple of 8 (1452).  The callback
 * that reads it runs before the next result is laid out.  One-chunk results
 * are handed out in place, without a copy.
 */
static const void *udp_result(const struct sgbpf_service *svc, uint32_t slot, uint32_t *nelems)
{
	const struct sgbpf_udp_backend *b = svc->backend;
	const struct sgbpf_slot *ks = udp_slot(svc, slot);
	uint32_t es = ks->elem_size, cap, nchunks, bytes;

	if (es == 0) {
		*nelems = 0;
		return ks->result;
	}
	/* The kernel keeps within its chunks; never hand out more than they hold. */
	cap = svc->max_packets > 1 ? svc->max_packets * (svc->chunk / es) :
				     SGBPF_RESULT_BYTES / es;
	if (*nelems > cap)
		*nelems = cap;
	bytes = *nelems * es;
	if (svc->max_packets <= 1 || bytes <= svc->chunk)
		return ks->result;
	nchunks = (bytes + svc->chunk - 1) / svc->chunk;
	memcpy(b->result_buf, ks->result, svc->chunk);
	for (uint32_t c = 1; c < nchunks; c++) {
		const struct sgbpf_chunk *ch =
			&b->chunks[(size_t)slot * (svc->max_packets - 1) + c - 1];
		uint32_t n = c + 1 < nchunks ? svc->chunk : bytes - c * svc->chunk;

		memcpy(b->result_buf + (size_t)c * svc->chunk, ch->data, n);
	}
	return b->result_buf;
}

enum sgbpf_slot_view sgbpf_udp_slot_view(const struct sgbpf_service *svc, uint32_t slot,
					 uint32_t req_id)
{
	uint64_t state = __atomic_load_n(&udp_slot(svc, slot)->state, __ATOMIC_ACQUIRE);

	if (SGBPF_TAG_REQ(state) != req_id)
		return SGBPF_VIEW_OTHER;
	switch (SGBPF_TAG_LOW(state)) {
	case SGBPF_SLOT_ACTIVE:
		return SGBPF_VIEW_ACTIVE;
	case SGBPF_SLOT_MERGING:
		return SGBPF_VIEW_MERGING;
	case SGBPF_SLOT_COMPLETE:
		return SGBPF_VIEW_COMPLETE;
	case SGBPF_SLOT_EXPIRED:
		return SGBPF_VIEW_CLOSED;
	default:
		return SGBPF_VIEW_OTHER;
	}
}

bool sgbpf_udp_slot_close(struct sgbpf_service *svc, uint32_t slot, uint32_t req_id)
{
	uint64_t active = SGBPF_TAG(req_id, SGBPF_SLOT_ACTIVE);

	return __atomic_compare_exchange_n(&udp_slot(svc, slot)->state, &active,
					   SGBPF_TAG(req_id, SGBPF_SLOT_EXPIRED), false,
					   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

void sgbpf_udp_slot_result(const struct sgbpf_service *svc, uint32_t slot, uint32_t req_id,
			   bool complete, struct sgbpf_slot_result *out)
{
	const struct sgbpf_slot *ks = udp_slot(svc, slot);
	uint64_t t;

	out->duplicates = ks->duplicates;
	out->packets = ks->packets;
	if (complete) {
		out->responses = ks->responses;
		out->elem_size = ks->elem_size;
		out->nelems = ks->nelems;
		out->data = udp_result(svc, slot, &out->nelems);
		return;
	}
	t = __atomic_load_n(&ks->tickets, __ATOMIC_ACQUIRE);
	out->responses = SGBPF_TAG_REQ(t) == req_id ? SGBPF_TICKET_FOLDED(t) : 0;
}
