// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The TCP backend's request slots as the core sees them: struct
 * sgbpf_tcp_slot (tcp_state.h), shared with bpf-tcp/stream.bpf.c through
 * the mmap'ed slot array, and results as large as the largest reply in the
 * mmap'ed result area.  Words are tagged with the request id as in the UDP
 * backend, so a slot that moved on reads as SGBPF_VIEW_OTHER.
 */
#include <stdbool.h>
#include <stdint.h>

#include <sgbpf/tcp_state.h>

#include "service.h"
#include "stream.h"
#include "tcp_backend.h"

/* stream.bpf.c's transient state while the last fold publishes the result. */
#define TCP_SLOT_MERGING 2u

static struct sgbpf_tcp_slot *tcp_slot(const struct sgbpf_service *svc, uint32_t slot)
{
	const struct sgbpf_tcp_backend *b = svc->backend;

	return sgbpf_tcp_stream_slot(b->stream, slot);
}

enum sgbpf_slot_view sgbpf_tcp_slot_view(const struct sgbpf_service *svc, uint32_t slot,
					 uint32_t req_id)
{
	uint64_t state = __atomic_load_n(&tcp_slot(svc, slot)->state, __ATOMIC_ACQUIRE);

	if (SGBPF_TCP_TAG_REQ(state) != req_id)
		return SGBPF_VIEW_OTHER;
	switch (SGBPF_TCP_TAG_LOW(state)) {
	case SGBPF_TCP_SLOT_ACTIVE:
		return SGBPF_VIEW_ACTIVE;
	case TCP_SLOT_MERGING:
		return SGBPF_VIEW_MERGING;
	case SGBPF_TCP_SLOT_COMPLETE:
		return SGBPF_VIEW_COMPLETE;
	case SGBPF_TCP_SLOT_EXPIRED:
		return SGBPF_VIEW_CLOSED;
	default:
		return SGBPF_VIEW_OTHER;
	}
}

/* The compare-and-swap the stream program's ACTIVE -> MERGING races with. */
bool sgbpf_tcp_slot_close(struct sgbpf_service *svc, uint32_t slot, uint32_t req_id)
{
	uint64_t active = SGBPF_TCP_TAG(req_id, SGBPF_TCP_SLOT_ACTIVE);

	return __atomic_compare_exchange_n(&tcp_slot(svc, slot)->state, &active,
					   SGBPF_TCP_TAG(req_id, SGBPF_TCP_SLOT_EXPIRED), false,
					   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

void sgbpf_tcp_slot_result(const struct sgbpf_service *svc, uint32_t slot, uint32_t req_id,
			   bool complete, struct sgbpf_slot_result *out)
{
	const struct sgbpf_tcp_backend *b = svc->backend;
	const struct sgbpf_tcp_slot *ks = tcp_slot(svc, slot);
	uint32_t nelems = 0, responses = 0;
	uint64_t t;

	/* Over TCP a worker's second reply is counted per service, not per request. */
	out->duplicates = 0;
	if (complete) {
		size_t cap = sgbpf_tcp_stream_result_bytes(b->stream);

		out->data = sgbpf_tcp_stream_result(b->stream, req_id, &nelems, &responses);
		out->responses = responses;
		out->elem_size = svc->elem_size;
		/* The program keeps within the slot's area; never hand out more. */
		if (svc->elem_size && nelems > cap / svc->elem_size)
			nelems = (uint32_t)(cap / svc->elem_size);
		out->nelems = out->data && svc->elem_size ? nelems : 0;
		out->packets = out->responses;	/* over TCP a reply is one message */
		return;
	}
	t = __atomic_load_n(&ks->tickets, __ATOMIC_ACQUIRE);
	out->responses = SGBPF_TCP_TAG_REQ(t) == req_id ? SGBPF_TCP_TICKET_FOLDED(t) : 0;
	out->packets = out->responses;
}

/* Did the stream program count worker w's reply to the slot's request req_id? */
bool sgbpf_tcp_slot_seen(const struct sgbpf_service *svc, uint32_t slot, uint32_t req_id,
			 uint32_t w)
{
	uint64_t seen;

	if (w >= SGBPF_TCP_MAX_WORKERS)
		return false;
	seen = __atomic_load_n(&tcp_slot(svc, slot)->seen[w / 32], __ATOMIC_ACQUIRE);
	return SGBPF_TCP_TAG_REQ(seen) == req_id && (SGBPF_TCP_TAG_LOW(seen) >> (w % 32) & 1);
}
