// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>

#include "request_table.h"

#define NO_POS UINT32_MAX

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
	for (uint32_t i = 0; i < nslots; i++)
		t->reqs[i].heap_pos = NO_POS;
	t->nslots = nslots;
	t->mask = nslots - 1;
	t->next_id = 1;
	t->heap_len = 0;
	t->inflight = 0;
	t->limit = nslots;
	return 0;
}

void sgbpf_reqtab_set_id_counter(struct sgbpf_reqtab *t, uint32_t counter)
{
	/* Ids are issued in sequence from next_id, 0 skipped. */
	t->next_id = counter;
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

static uint64_t deadline_at(const struct sgbpf_reqtab *t, uint32_t i)
{
	return t->reqs[t->heap[i]].deadline_ns;
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
	struct sgbpf_req *r;
	uint32_t id = t->next_id;

	if (t->inflight >= t->limit)
		return -EBUSY;
	/*
	 * Ids need not be consecutive: skip those whose slot is still held by a
	 * slow request, and skip 0.  With one slot free this ends in < nslots+1
	 * steps.
	 */
	while (id == 0 || t->reqs[id & t->mask].busy)
		id++;
	t->next_id = id + 1;

	r = &t->reqs[id & t->mask];
	r->req_id = id;
	r->busy = true;
	r->failed = false;
	r->start_ns = now_ns;
	r->deadline_ns = timeout_ns ? now_ns + timeout_ns : 0;
	r->user_ctx = user_ctx;
	r->nresp = 0;
	r->kernel_done = false;
	if (r->deadline_ns) {
		r->heap_pos = t->heap_len;
		t->heap[t->heap_len++] = id & t->mask;
		heap_up(t, r->heap_pos);
	}
	r->live_pos = t->inflight;
	t->live[t->inflight++] = id & t->mask;
	*req_id = id;
	return id & t->mask;
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

uint64_t sgbpf_reqtab_next_deadline(const struct sgbpf_reqtab *t)
{
	return t->heap_len ? deadline_at(t, 0) : 0;
}

int sgbpf_reqtab_due(const struct sgbpf_reqtab *t, uint64_t now_ns)
{
	if (!t->heap_len || deadline_at(t, 0) > now_ns)
		return -1;
	return t->heap[0];
}
