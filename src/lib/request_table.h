/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * User-space side of the request slots: which slots are in flight, their ids,
 * deadlines and contexts.  Backend-neutral and free of system calls, so it is
 * unit-tested on its own.
 *
 * Slot of a request = req_id & mask, with a power-of-two slot count: ids then
 * wrap past 2^32 without changing slots, which is what the kernel computes.
 * Id 0 is never issued (a never-used per-CPU partial carries id 0).
 */
#ifndef SGBPF_LIB_REQUEST_TABLE_H
#define SGBPF_LIB_REQUEST_TABLE_H

#include <stdbool.h>
#include <stdint.h>

struct sgbpf_req {
	uint32_t req_id;
	bool busy;		/* scattered, not yet reported */
	bool failed;		/* the send failed: report SGBPF_STATUS_FAILED */
	uint64_t start_ns;
	uint64_t deadline_ns;	/* 0: none */
	void *user_ctx;
	uint32_t heap_pos;	/* index in the deadline heap, or UINT32_MAX */
	uint32_t live_pos;	/* index in the live array while busy */
	uint32_t nresp;		/* replies read by user space (fate allow) */
	bool kernel_done;	/* fate allow: complete, waiting for its replies */
	uint64_t done_ns;
};

struct sgbpf_reqtab {
	struct sgbpf_req *reqs;
	uint32_t *heap;		/* slots with a deadline, min-heap by deadline */
	uint32_t heap_len;
	uint32_t *live;		/* slots in flight, unordered, for scans */
	uint32_t nslots;
	uint32_t mask;
	uint32_t next_id;
	uint32_t inflight;
	uint32_t limit;		/* most requests in flight, <= nslots */
};

/*
 * Makes ids issued from now on behave as if 'counter' ids had already been
 * issued, so that the id space wraps after (2^32 - counter) more.  For tests
 * that force an id wrap.
 */
void sgbpf_reqtab_set_id_counter(struct sgbpf_reqtab *t, uint32_t counter);

/* nslots must be a power of two.  Returns 0 or -ENOMEM. */
int sgbpf_reqtab_init(struct sgbpf_reqtab *t, uint32_t nslots);
void sgbpf_reqtab_free(struct sgbpf_reqtab *t);

/*
 * Picks the next id whose slot is free and marks it busy.  Returns the slot,
 * or -EBUSY when every slot is in flight.
 */
int sgbpf_reqtab_alloc(struct sgbpf_reqtab *t, uint64_t now_ns, uint64_t timeout_ns,
		       void *user_ctx, uint32_t *req_id);

/* The in-flight request with this id, or NULL (unknown, stale or reported). */
struct sgbpf_req *sgbpf_reqtab_find(struct sgbpf_reqtab *t, uint32_t req_id);

/* Marks the slot's request reported; its slot may be reused. */
void sgbpf_reqtab_release(struct sgbpf_reqtab *t, uint32_t slot);

/* The i-th in-flight slot, 0 <= i < t->inflight (order changes on release). */
static inline uint32_t sgbpf_reqtab_live(const struct sgbpf_reqtab *t, uint32_t i)
{
	return t->live[i];
}

/* The earliest deadline among in-flight requests, or 0 when there is none. */
uint64_t sgbpf_reqtab_next_deadline(const struct sgbpf_reqtab *t);

/* The slot with the earliest deadline if it is <= now, else -1. */
int sgbpf_reqtab_due(const struct sgbpf_reqtab *t, uint64_t now_ns);

static inline uint32_t sgbpf_reqtab_slot(const struct sgbpf_reqtab *t, uint32_t req_id)
{
	return req_id & t->mask;
}

#endif
