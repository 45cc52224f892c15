/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * User-space side of the request slots: which slots are in flight, their ids,
 * deadlines and contexts.  Backend-neutral; its one system call is
 * getrandom(2) at init, so it is unit-tested on its own.
 *
 * Slot of a request = req_id & mask, with a power-of-two slot count, which is
 * what the kernel computes.  The bits above the slot are the slot's open
 * counter passed through a keyed permutation (a Feistel network over their
 * width, key from getrandom(2)): a reply can only be folded when it names the
 * id in flight, and an id must not be guessable by someone who can send from
 * a worker's address but cannot see the requests.  Because the permutation
 * is a bijection of the counter, a slot never sees the same id twice before
 * it has been opened 2^(32 - slot bits) times.  Id 0 is never issued (a
 * never-used per-CPU partial carries id 0).
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
	uint64_t retry_ns;	/* next re-scatter; 0: none */
	/* Re-scatters to stragglers (sgbpf_scatter_opts.retry_us), kept by the core. */
	uint64_t retry_interval_ns;	/* from the scatter to the first, and between them */
	uint32_t retries_left;	/* still allowed */
	uint32_t retries;	/* sent */
	bool all_gather;	/* send the result to every worker when complete */
	bool held;		/* staged, waiting for the reply budget */
	bool on_wire;		/* launched: counts in the service's wire_replies */
	uint32_t launched;	/* copies sent so far (the reply budget sends in parts) */
	void *user_ctx;
	uint32_t heap_pos;	/* index in the timer heap, or UINT32_MAX */
	uint32_t live_pos;	/* index in the live array while busy */
	uint32_t nresp;		/* replies read by user space (fate allow) */
	bool kernel_done;	/* fate allow: complete, waiting for its replies */
	uint64_t done_ns;
	uint32_t opens;		/* times this slot was opened, mod 2^id_bits */
};

struct sgbpf_reqtab {
	struct sgbpf_req *reqs;
	uint32_t *heap;		/* slots with a timer, min-heap by their next one */
	uint32_t heap_len;
	uint32_t *live;		/* slots in flight, unordered, for scans */
	uint32_t nslots;
	uint32_t mask;
	uint32_t slot_bits;	/* log2(nslots) */
	uint32_t id_bits;	/* 32 - slot_bits: the bits the permutation covers */
	uint32_t next_slot;	/* round-robin cursor: a slot rests as long as possible */
	uint32_t inflight;
	uint32_t limit;		/* most requests in flight, <= nslots */
	uint64_t key[2];	/* permutation key, from getrandom(2) */
};

/*
 * nslots must be a power of two.  Returns 0, -EINVAL, -ENOMEM, or the error
 * of getrandom(2) (with a message).
 */
int sgbpf_reqtab_init(struct sgbpf_reqtab *t, uint32_t nslots);
void sgbpf_reqtab_free(struct sgbpf_reqtab *t);

/*
 * Picks the next id whose slot is free and marks it busy.  Returns the slot,
 * or -EBUSY when every slot is in flight.
 */
int sgbpf_reqtab_alloc(struct sgbpf_reqtab *t, uint64_t now_ns, uint64_t timeout_ns,
		       void *user_ctx, uint32_t *req_id);

/*
 * Ids issued from now on behave as if `counter` ids had already been issued,
 * so that the id space wraps after (2^32 - counter) more: every slot's open
 * counter is set to its share of `counter` (slots are opened round-robin), so
 * each slot returns to its first id within that many opens.  For tests that
 * must see ids wrap without 2^32 requests.
 */
void sgbpf_reqtab_set_id_counter(struct sgbpf_reqtab *t, uint32_t counter);

/*
 * The id a slot gets on its counter-th open: (P(counter) << slot_bits) | slot,
 * where P is the table's keyed permutation of [0, 2^id_bits).  0 is possible
 * (slot 0, P = 0); sgbpf_reqtab_alloc() skips that counter.
 */
uint32_t sgbpf_reqtab_id_at(const struct sgbpf_reqtab *t, uint32_t slot, uint32_t counter);

/* The in-flight request with this id, or NULL (unknown, stale or reported). */
struct sgbpf_req *sgbpf_reqtab_find(struct sgbpf_reqtab *t, uint32_t req_id);

/* Marks the slot's request reported; its slot may be reused. */
void sgbpf_reqtab_release(struct sgbpf_reqtab *t, uint32_t slot);

/* The i-th in-flight slot, 0 <= i < t->inflight (order changes on release). */
static inline uint32_t sgbpf_reqtab_live(const struct sgbpf_reqtab *t, uint32_t i)
{
	return t->live[i];
}

/*
 * Sets the next re-scatter time of the slot's request (0: none).  Every
 * request in flight has one timer, the earlier of its deadline and its next
 * re-scatter: the heap orders requests by it, and the caller tells which
 * one fell due.  Releasing the slot clears it.
 */
void sgbpf_reqtab_set_retry(struct sgbpf_reqtab *t, uint32_t slot, uint64_t retry_ns);

/* Clears the slot's deadline and re-scatter time: it leaves the timer heap. */
void sgbpf_reqtab_stop_timers(struct sgbpf_reqtab *t, uint32_t slot);

/* The earliest timer (deadline or re-scatter) in flight, or 0 when there is none. */
uint64_t sgbpf_reqtab_next_timer(const struct sgbpf_reqtab *t);

/* The slot with the earliest timer if it is <= now, else -1. */
int sgbpf_reqtab_due(const struct sgbpf_reqtab *t, uint64_t now_ns);

static inline uint32_t sgbpf_reqtab_slot(const struct sgbpf_reqtab *t, uint32_t req_id)
{
	return req_id & t->mask;
}

#endif
