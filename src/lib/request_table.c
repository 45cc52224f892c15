// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "error.h"
#include "request_table.h"

#define NO_POS UINT32_MAX
/* Feistel rounds: four make a keyed pseudo-random permutation of a PRF. */
#define ID_ROUNDS 4

static uint64_t rotl64(uint64_t x, unsigned int r)
{
	return x << r | x >> (64 - r);
}

#define SIP_ROUND(v0, v1, v2, v3)					\
	do {								\
		v0 += v1; v1 = rotl64(v1, 13); v1 ^= v0; v0 = rotl64(v0, 32); \
		v2 += v3; v3 = rotl64(v3, 16); v3 ^= v2;		\
		v0 += v3; v3 = rotl64(v3, 21); v3 ^= v0;		\
		v2 += v1; v1 = rotl64(v1, 17); v1 ^= v2; v2 = rotl64(v2, 32); \
	} while (0)

/*
 * SipHash-1-3 of one 8-byte word: a keyed pseudo-random function, cheap
 * enough to run a few times per request (the round function of the id
 * permutation).
 */
static uint64_t siphash13_u64(const uint64_t key[2], uint64_t m)
{
	uint64_t v0 = key[0] ^ 0x736f6d6570736575ull, v1 = key[1] ^ 0x646f72616e646f6dull;
	uint64_t v2 = key[0] ^ 0x6c7967656e657261ull, v3 = key[1] ^ 0x7465646279746573ull;
	const uint64_t last = 8ull << 56;	/* length byte, no tail */

	v3 ^= m;
	SIP_ROUND(v0, v1, v2, v3);
	v0 ^= m;
	v3 ^= last;
	SIP_ROUND(v0, v1, v2, v3);
	v0 ^= last;
	v2 ^= 0xff;
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

/*
 * The keyed permutation of [0, 2^id_bits): a Feistel network whose halves
 * may differ by one bit (id_bits is odd for an odd number of slot bits).
 * Rounds alternate direction — the high half is XORed with F of the low one,
 * then the low half with F of the high one — so every round is invertible
 * whatever the widths, and the whole is a bijection with no cycle walking.
 * The slot is part of the round function's input: every slot has its own
 * permutation, and ids seen on one slot say nothing about another's.
 */
static uint32_t permute(const struct sgbpf_reqtab *t, uint32_t slot, uint32_t x)
{
	uint32_t lo_bits = t->id_bits / 2, hi_bits = t->id_bits - lo_bits;
	uint64_t lo_mask = (1ull << lo_bits) - 1, hi_mask = (1ull << hi_bits) - 1;
	uint64_t hi = x >> lo_bits, lo = x & lo_mask;

	for (uint64_t i = 0; i < ID_ROUNDS; i++) {
		if (i % 2 == 0)
			hi ^= siphash13_u64(t->key, i << 56 | (uint64_t)slot << 24 | lo) & hi_mask;
		else
			lo ^= siphash13_u64(t->key, i << 56 | (uint64_t)slot << 24 | hi) & lo_mask;
	}
	return (uint32_t)(hi << lo_bits | lo);
}

static uint32_t counter_mask(const struct sgbpf_reqtab *t)
{
	return t->id_bits == 32 ? UINT32_MAX : (1u << t->id_bits) - 1;
}

uint32_t sgbpf_reqtab_id_at(const struct sgbpf_reqtab *t, uint32_t slot, uint32_t counter)
{
	uint32_t high = permute(t, slot & t->mask, counter & counter_mask(t));

	/* A shift by 32 is undefined: with one slot the id is all permutation. */
	return t->slot_bits ? high << t->slot_bits | (slot & t->mask) : high;
}

int sgbpf_reqtab_init(struct sgbpf_reqtab *t, uint32_t nslots)
{
	if (nslots == 0 || (nslots & (nslots - 1)))
		return -EINVAL;
	t->reqs = calloc(nslots, sizeof(*t->reqs));
	t->heap = calloc(nslots, sizeof(*t->heap));
	t->live = calloc(nslots, sizeof(*t->live));
	if (!t->reqs || !t->heap || !t->live) {
		sgbpf_reqtab_free(t);
		return -ENOMEM;
	}
	/* A short read cannot happen for 16 bytes; EINTR only before any entropy. */
	if (getrandom(t->key, sizeof(t->key), 0) != sizeof(t->key)) {
		int err = -errno;

		sgbpf_reqtab_free(t);
		return sgbpf_err(err, "getrandom: %s", strerror(-err));
	}
	for (uint32_t i = 0; i < nslots; i++)
		t->reqs[i].heap_pos = NO_POS;
	t->nslots = nslots;
	t->mask = nslots - 1;
	t->slot_bits = (uint32_t)__builtin_ctz(nslots);
	t->id_bits = 32 - t->slot_bits;
	t->next_slot = 0;
	t->heap_len = 0;
	t->inflight = 0;
	t->limit = nslots;
	return 0;
}

void sgbpf_reqtab_free(struct sgbpf_reqtab *t)
{
	free(t->reqs);
	free(t->heap);
	free(t->live);
	t->reqs = NULL;
	t->heap = NULL;
	t->live = NULL;
}

/* A request's next timer: the earlier of its deadline and its next re-scatter. */
static uint64_t timer_of(const struct sgbpf_req *r)
{
	if (!r->retry_ns)
		return r->deadline_ns;
	if (!r->deadline_ns)
		return r->retry_ns;
	return r->retry_ns < r->deadline_ns ? r->retry_ns : r->deadline_ns;
}

static uint64_t deadline_at(const struct sgbpf_reqtab *t, uint32_t i)
{
	return timer_of(&t->reqs[t->heap[i]]);
}

static void heap_swap(struct sgbpf_reqtab *t, uint32_t a, uint32_t b)
{
	uint32_t sa = t->heap[a], sb = t->heap[b];

	t->heap[a] = sb;
	t->heap[b] = sa;
	t->reqs[sb].heap_pos = a;
	t->reqs[sa].heap_pos = b;
}

static void heap_up(struct sgbpf_reqtab *t, uint32_t i)
{
	while (i > 0) {
		uint32_t parent = (i - 1) / 2;

		if (deadline_at(t, parent) <= deadline_at(t, i))
			break;
		heap_swap(t, parent, i);
		i = parent;
	}
}

static void heap_down(struct sgbpf_reqtab *t, uint32_t i)
{
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, min = i;

		if (l < t->heap_len && deadline_at(t, l) < deadline_at(t, min))
			min = l;
		if (r < t->heap_len && deadline_at(t, r) < deadline_at(t, min))
			min = r;
		if (min == i)
			return;
		heap_swap(t, i, min);
		i = min;
	}
}

static void heap_remove(struct sgbpf_reqtab *t, uint32_t slot)
{
	uint32_t i = t->reqs[slot].heap_pos, last;

	if (i == NO_POS)
		return;
	last = --t->heap_len;
	if (i != last) {
		heap_swap(t, i, last);
		heap_down(t, i);
		heap_up(t, i);
	}
	t->reqs[slot].heap_pos = NO_POS;
}

int sgbpf_reqtab_alloc(struct sgbpf_reqtab *t, uint64_t now_ns, uint64_t timeout_ns,
		       void *user_ctx, uint32_t *req_id)
{
	uint32_t slot = t->next_slot, id;
	struct sgbpf_req *r;

	if (t->inflight >= t->limit)
		return -EBUSY;
	/*
	 * Round-robin over the slots, skipping those still held by a slow
	 * request: a slot is reused as late as possible, which gives late
	 * replies to its previous request the longest time to be recognised as
	 * stale.  With one slot free this ends in < nslots steps.
	 */
	while (t->reqs[slot].busy)
		slot = (slot + 1) & t->mask;
	t->next_slot = (slot + 1) & t->mask;

	r = &t->reqs[slot];
	id = sgbpf_reqtab_id_at(t, slot, r->opens);
	r->opens = (r->opens + 1) & counter_mask(t);
	if (id == 0) {
		/* Only slot 0 can meet it, once per cycle of its counter. */
		id = sgbpf_reqtab_id_at(t, slot, r->opens);
		r->opens = (r->opens + 1) & counter_mask(t);
	}
	r->req_id = id;
	r->busy = true;
	r->failed = false;
	r->start_ns = now_ns;
	r->deadline_ns = timeout_ns ? now_ns + timeout_ns : 0;
	r->retry_ns = 0;
	r->retry_interval_ns = 0;
	r->retries_left = 0;
	r->retries = 0;
	r->all_gather = false;
	r->held = false;
	r->on_wire = false;
	r->launched = 0;
	r->user_ctx = user_ctx;
	r->nresp = 0;
	r->kernel_done = false;
	if (r->deadline_ns) {
		r->heap_pos = t->heap_len;
		t->heap[t->heap_len++] = slot;
		heap_up(t, r->heap_pos);
	}
	r->live_pos = t->inflight;
	t->live[t->inflight++] = slot;
	*req_id = id;
	return (int)slot;
}

void sgbpf_reqtab_set_id_counter(struct sgbpf_reqtab *t, uint32_t counter)
{
	uint32_t per_slot = t->slot_bits ? counter >> t->slot_bits : counter;
	uint32_t rest = counter & t->mask;

	/*
	 * Slots are opened round-robin, so `counter` ids leave every slot with
	 * counter / nslots opens and the first counter % nslots slots with one
	 * more, and the cursor after them.  The slots' remaining opens before
	 * their counters wrap then add up to 2^32 - counter.
	 */
	for (uint32_t s = 0; s < t->nslots; s++)
		t->reqs[s].opens = (per_slot + (s < rest)) & counter_mask(t);
	t->next_slot = rest;
}

struct sgbpf_req *sgbpf_reqtab_find(struct sgbpf_reqtab *t, uint32_t req_id)
{
	struct sgbpf_req *r = &t->reqs[req_id & t->mask];

	return r->busy && r->req_id == req_id ? r : NULL;
}

void sgbpf_reqtab_release(struct sgbpf_reqtab *t, uint32_t slot)
{
	struct sgbpf_req *r = &t->reqs[slot & t->mask];

	if (!r->busy)
		return;
	heap_remove(t, slot & t->mask);
	r->busy = false;
	/* Swap-remove from the live array. */
	t->inflight--;
	if (r->live_pos != t->inflight) {
		uint32_t moved = t->live[t->inflight];

		t->live[r->live_pos] = moved;
		t->reqs[moved].live_pos = r->live_pos;
	}
}

void sgbpf_reqtab_set_retry(struct sgbpf_reqtab *t, uint32_t slot, uint64_t retry_ns)
{
	struct sgbpf_req *r = &t->reqs[slot & t->mask];

	if (!r->busy)
		return;
	r->retry_ns = retry_ns;
	if (!timer_of(r)) {
		heap_remove(t, slot & t->mask);
		return;
	}
	if (r->heap_pos == NO_POS) {
		r->heap_pos = t->heap_len;
		t->heap[t->heap_len++] = slot & t->mask;
	}
	/* Earlier or later than before: one of the two moves it. */
	heap_up(t, r->heap_pos);
	heap_down(t, r->heap_pos);
}

void sgbpf_reqtab_stop_timers(struct sgbpf_reqtab *t, uint32_t slot)
{
	struct sgbpf_req *r = &t->reqs[slot & t->mask];

	if (!r->busy)
		return;
	r->deadline_ns = 0;
	r->retry_ns = 0;
	heap_remove(t, slot & t->mask);
}

uint64_t sgbpf_reqtab_next_timer(const struct sgbpf_reqtab *t)
{
	return t->heap_len ? deadline_at(t, 0) : 0;
}

int sgbpf_reqtab_due(const struct sgbpf_reqtab *t, uint64_t now_ns)
{
	if (!t->heap_len || deadline_at(t, 0) > now_ns)
		return -1;
	return t->heap[0];
}
