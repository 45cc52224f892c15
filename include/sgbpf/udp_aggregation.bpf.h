/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The UDP half of an in-kernel reduction; a reduction's source includes
 * <sgbpf/aggregation.bpf.h>, which makes both halves from one definition.
 *
 * Over UDP a reduction is a program that the service's gather program
 * tail-calls for every reply it has validated and admitted (registered
 * worker, first reply of that worker, request still open, policy not yet
 * met).  The gather runs at XDP when the interface's XDP hook is free and
 * at TC ingress (TCX) when it is not, so this half is a pair: an XDP
 * program NAME and a TC program NAME_tc.  The reduction folds the reply
 * body into this CPU's partial result; the helpers below do the rest:
 * request bookkeeping, merging the per-CPU partials when the last needed
 * reply is folded, completion notification, and the packet's fate (dropped
 * or passed on).  No locks are taken: each CPU owns its partial, and the
 * shared counters are updated with compare-and-swap.
 *
 * The combine function must be associative and commutative (the per-CPU
 * partials are merged with it too), and the identity must satisfy
 * combine(identity, x) == x.
 */
#ifndef SGBPF_UDP_AGGREGATION_BPF_H
#define SGBPF_UDP_AGGREGATION_BPF_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <sgbpf/udp_maps.bpf.h>

/*
 * Bound of every compare-and-swap loop on a slot's shared words.  It is never
 * reached: an attempt fails only when another CPU changed the word in
 * between, and while a word belongs to one request it changes a bounded
 * number of times -- a seen word once per worker, the tickets once per
 * admission, fold and give-back (each at most once per worker and reply
 * that passed validation; a give-back happens only when a fold could not
 * read its reply).  A reply for another request fails on the tag and stops.
 * The loops run under bpf_loop(), so the bound costs nothing to verify.
 */
#define SGBPF_CAS_TRIES (4 * SGBPF_STATE_MAX_WORKERS + 1)

/* One's-complement update of a 16-bit checksum for a 16-bit field change. */
static __always_inline __u16 sgbpf_csum_replace16(__u16 check, __u16 old, __u16 new)
{
	__u32 sum = (__u16)~check + (__u16)~old + new;

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

#define SGBPF_TC_ACT_OK	0
#define SGBPF_TC_ACT_SHOT	2
#define SGBPF_TC_ACT_NEXT	(-1)	/* TC_ACT_UNSPEC: on to the next program */

/* The hook's verdict for a reply we keep (pass) or consume (drop). */
static __always_inline int sgbpf_verdict(bool tc, bool pass)
{
	if (tc)
		return pass ? SGBPF_TC_ACT_OK : SGBPF_TC_ACT_SHOT;
	return pass ? XDP_PASS : XDP_DROP;
}

/* The verdict the service's fate gives a folded reply. */
static __always_inline int sgbpf_fate_verdict(const struct sgbpf_config *cfg, bool tc)
{
	return sgbpf_verdict(tc, cfg->fate == XDP_PASS);
}

/* The reply being folded, as the gather program handed it over. */
static __always_inline struct sgbpf_fold *sgbpf_agg_fold(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&sgbpf_fold_ctx, &zero);
}

/*
 * This CPU's partial result for the reply's request.  When the partial still
 * belongs to an earlier opening of the slot (another request, or the same
 * request id before it wrapped) it is reset: the caller must then store the
 * identity in every element.
 */
static __always_inline struct sgbpf_partial *
sgbpf_agg_partial(const struct sgbpf_fold *f, bool *fresh)
{
	struct sgbpf_partial *p;
	__u32 row = f->row;
#ifndef SGBPF_BENCH_SINGLE_LOCK
	p = bpf_map_lookup_elem(&sgbpf_partials, &row);
	if (!p)
		return NULL;
#else
	struct sgbpf_locked_partial *lp = bpf_map_lookup_elem(&sgbpf_partials, &row);

	if (!lp)
		return NULL;
	bpf_spin_lock(&lp->lock);
	p = &lp->p;
#endif
	*fresh = p->gen != f->gen;
	if (*fresh) {
		p->gen = f->gen;
		p->nelems = 0;
	}
	return p;
}

/* The fold into p is over (the benchmark's single-lock variant unlocks it). */
static __always_inline void sgbpf_agg_partial_put(struct sgbpf_partial *p)
{
#ifdef SGBPF_BENCH_SINGLE_LOCK
	struct sgbpf_locked_partial *lp = (void *)((char *)p -
					 __builtin_offsetof(struct sgbpf_locked_partial, p));

	bpf_spin_unlock(&lp->lock);
#endif
}

/* CPU cpu's partial of row, for the merge; NULL when there is none. */
static __always_inline const struct sgbpf_partial *sgbpf_agg_cpu_partial(__u32 row, __u32 cpu)
{
#ifndef SGBPF_BENCH_SINGLE_LOCK
	return bpf_map_lookup_percpu_elem(&sgbpf_partials, &row, cpu);
#else
	struct sgbpf_locked_partial *lp;

	/* One partial for every CPU: merged once, as CPU 0's. */
	if (cpu)
		return NULL;
	lp = bpf_map_lookup_elem(&sgbpf_partials, &row);
	return lp ? &lp->p : NULL;
#endif
}

/*
 * Copies the reply body into a per-CPU scratch buffer, so that reductions
 * index plain memory instead of proving packet bounds element by element.
 * Returns the buffer and stores the body length (0 for an empty body), or
 * NULL when the body cannot be read: the caller must then abandon the fold
 * (sgbpf_agg_abandon), never count it.
 */
static __always_inline const void *sgbpf_agg_body(void *ctx, const struct sgbpf_fold *f,
						  __u32 *len, bool tc)
{
	struct sgbpf_body_buf *buf;
	__u32 zero = 0, n = f->body_len;

	buf = bpf_map_lookup_elem(&sgbpf_body_scratch, &zero);
	if (!buf || n > SGBPF_UDP_BODY_MAX)
		return NULL;
	*len = n;
	if (n == 0)
		return buf->data;
	if (tc ? bpf_skb_load_bytes(ctx, f->body_off, buf->data, n) :
		 bpf_xdp_load_bytes(ctx, f->body_off, buf->data, n))
		return NULL;
	return buf->data;
}

/* State of a compare-and-swap loop on a slot's tagged words, for bpf_loop(). */
struct sgbpf_cas {
	struct sgbpf_slot *s;
	__u32 req;		/* the tag the word must carry */
	__u32 word;		/* seen word index */
	__u32 bit;		/* in that word */
	int ret;
};

/* Folded count + 1, tagged with req; ret = the new folded count or -1. */
static long sgbpf_cas_fold_done(__u32 i, void *arg)
{
	struct sgbpf_cas *c = arg;
	__u64 old = *(volatile __u64 *)&c->s->tickets;

	if (SGBPF_TAG_REQ(old) != c->req) {
		c->ret = -1;
		return 1;
	}
	if (__sync_val_compare_and_swap(&c->s->tickets, old, old + (1u << 16)) == old) {
		c->ret = SGBPF_TICKET_FOLDED(old) + 1;
		return 1;
	}
	return 0;
}

/* Admitted count - 1, tagged with req: an admission handed back. */
static long sgbpf_cas_ticket_back(__u32 i, void *arg)
{
	struct sgbpf_cas *c = arg;
	__u64 old = *(volatile __u64 *)&c->s->tickets;

	if (SGBPF_TAG_REQ(old) != c->req || SGBPF_TICKET_ADMITTED(old) == 0)
		return 1;
	return __sync_val_compare_and_swap(&c->s->tickets, old, old - 1) == old;
}

/* Clears a worker's bit in a seen word tagged with req. */
static long sgbpf_cas_unsee(__u32 i, void *arg)
{
	struct sgbpf_cas *c = arg;
	__u32 word = c->word;
	__u64 old, *p;

	if (word >= SGBPF_SEEN_WORDS)
		return 1;
	p = &c->s->seen[word];
	old = *(volatile __u64 *)p;
	if (SGBPF_TAG_REQ(old) != c->req || !(SGBPF_TAG_LOW(old) & c->bit))
		return 1;
	return __sync_val_compare_and_swap(p, old, old & ~(__u64)c->bit) == old;
}

/* Adds one to the folded count of req; returns the new count, or -1 if the slot moved on. */
static __always_inline int sgbpf_slot_fold_done(struct sgbpf_slot *s, __u32 req)
{
	struct sgbpf_cas c = { .s = s, .req = req, .ret = -1 };

	bpf_loop(SGBPF_CAS_TRIES, sgbpf_cas_fold_done, &c, 0);
	return c.ret;
}

/*
 * Hands back an admission whose reply could not be folded (its body could
 * not be read, or the service's reduction is missing): the worker's seen bit
 * and its ticket are released, so the request can still complete -- with
 * another worker under policy N, or when the worker answers again.  Without
 * this the ticket would be held by a fold that never happens.
 */
static __always_inline void sgbpf_slot_unsee(struct sgbpf_slot *s, __u32 req, __u32 worker)
{
	struct sgbpf_cas c = { .s = s, .req = req, .word = worker / 32, .bit = 1u << (worker % 32) };

	bpf_loop(SGBPF_CAS_TRIES, sgbpf_cas_unsee, &c, 0);
}

static __always_inline void sgbpf_slot_unadmit(struct sgbpf_slot *s, __u32 req, __u32 worker)
{
	struct sgbpf_cas c = { .s = s, .req = req };

	bpf_loop(SGBPF_CAS_TRIES, sgbpf_cas_ticket_back, &c, 0);
	sgbpf_slot_unsee(s, req, worker);
}

/* A compare-and-swap loop on a reply record, whose words carry (__u32)gen as tag. */
struct sgbpf_rcas {
	struct sgbpf_reply *r;
	__u32 tag;
	__u32 bit;
	int ret;
};

/* Clears packet seq's bit in a reply record's rx word. */
static long sgbpf_cas_unrx(__u32 i, void *arg)
{
	struct sgbpf_rcas *c = arg;
	__u64 old = *(volatile __u64 *)&c->r->rx;

	if (SGBPF_TAG_REQ(old) != c->tag || !(SGBPF_TAG_LOW(old) & c->bit))
		return 1;
	return __sync_val_compare_and_swap(&c->r->rx, old, old & ~(__u64)c->bit) == old;
}

/* The reply record of the worker f came from (max_packets > 1), or NULL. */
static __always_inline struct sgbpf_reply *sgbpf_agg_reply(const struct sgbpf_fold *f)
{
	const struct sgbpf_config *cfg = sgbpf_config_get();
	__u32 row;

	if (!cfg || f->worker >= cfg->nworkers)
		return NULL;
	row = f->slot * cfg->nworkers + f->worker;
	return bpf_map_lookup_elem(&sgbpf_replies, &row);
}

/*
 * The admitted reply f cannot be folded: release what it holds, drop it.
 * A packet of a multi-packet reply gives back only its rx bit (a resent
 * copy may take its place): the worker's other packets may already be in
 * the partials, so its ticket stays with it.
 */
static __always_inline int sgbpf_agg_abandon(const struct sgbpf_fold *f, bool tc)
{
	__u32 slot = f->slot;
	struct sgbpf_slot *s = bpf_map_lookup_elem(&sgbpf_slots, &slot);

	if (f->multi) {
		struct sgbpf_rcas c = { .r = sgbpf_agg_reply(f), .tag = (__u32)f->gen,
					.bit = 1u << (f->seq & 31) };

		if (c.r)
			bpf_loop(SGBPF_CAS_TRIES, sgbpf_cas_unrx, &c, 0);
	} else if (s) {
		sgbpf_slot_unadmit(s, f->req_id, f->worker);
	}
	sgbpf_stat_inc(SGBPF_STAT_MALFORMED);
	return sgbpf_verdict(tc, false);
}

/*
 * Turns the reply that completed a request into a datagram for the control
 * socket: same header with SGBPF_FLAG_COMPLETE, sent to the control port,
 * body cut off unless replies are passed on (the application may want it).
 */
static __always_inline int sgbpf_agg_to_ctrl_xdp(struct xdp_md *ctx,
						 const struct sgbpf_config *cfg,
						 const struct sgbpf_fold *f)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	__u32 l3 = sizeof(struct ethhdr), l4 = f->l4_off;
	struct iphdr *ip;
	struct udphdr *udp;
	struct sgbpf_hdr *h;
	__u16 old_len, new_len;
	int cut = 0;

	if (cfg->fate != XDP_PASS)
		cut = f->tail_len;
	if (cut > 0 && bpf_xdp_adjust_tail(ctx, -cut))
		return XDP_DROP;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (l4 > 80)
		return XDP_DROP;
	ip = data + l3;
	udp = data + l4;
	h = data + l4 + sizeof(struct udphdr);
	if ((void *)(ip + 1) > data_end || (void *)(udp + 1) > data_end || (void *)(h + 1) > data_end)
		return XDP_DROP;
	if (cut > 0) {
		old_len = ip->tot_len;
		new_len = bpf_htons(bpf_ntohs(old_len) - cut);
		ip->check = sgbpf_csum_replace16(ip->check, old_len, new_len);
		ip->tot_len = new_len;
		udp->len = bpf_htons(bpf_ntohs(udp->len) - cut);
	}
	h->flags |= SGBPF_FLAG_COMPLETE;
	udp->dest = cfg->ctrl_port;
	/* Zero means "no checksum" for IPv4 UDP; the datagram is delivered locally. */
	udp->check = 0;
	return XDP_PASS;
}

/* The same at TC ingress, through helpers that keep skb->csum right. */
static __always_inline int sgbpf_agg_to_ctrl_tc(struct __sk_buff *skb,
						const struct sgbpf_config *cfg,
						const struct sgbpf_fold *f)
{
	__u32 l3 = sizeof(struct ethhdr), l4 = f->l4_off;
	__u32 flags_off = l4 + sizeof(struct udphdr) + 17;
	__u16 old_len, new_len, zero = 0;
	__u8 flags;
	int cut = cfg->fate != XDP_PASS ? f->tail_len : 0;

	if (cut > 0) {
		if (bpf_skb_change_tail(skb, skb->len - cut, 0) ||
		    bpf_skb_load_bytes(skb, l3 + offsetof(struct iphdr, tot_len), &old_len, 2))
			return SGBPF_TC_ACT_SHOT;
		new_len = bpf_htons(bpf_ntohs(old_len) - cut);
		if (bpf_l3_csum_replace(skb, l3 + offsetof(struct iphdr, check), old_len, new_len,
					2) ||
		    bpf_skb_store_bytes(skb, l3 + offsetof(struct iphdr, tot_len), &new_len, 2,
					BPF_F_RECOMPUTE_CSUM) ||
		    bpf_skb_load_bytes(skb, l4 + offsetof(struct udphdr, len), &old_len, 2))
			return SGBPF_TC_ACT_SHOT;
		new_len = bpf_htons(bpf_ntohs(old_len) - cut);
		if (bpf_skb_store_bytes(skb, l4 + offsetof(struct udphdr, len), &new_len, 2,
					BPF_F_RECOMPUTE_CSUM))
			return SGBPF_TC_ACT_SHOT;
	}
	if (bpf_skb_load_bytes(skb, flags_off, &flags, 1))
		return SGBPF_TC_ACT_SHOT;
	flags |= SGBPF_FLAG_COMPLETE;
	if (bpf_skb_store_bytes(skb, flags_off, &flags, 1, BPF_F_RECOMPUTE_CSUM) ||
	    bpf_skb_store_bytes(skb, l4 + offsetof(struct udphdr, dest), &cfg->ctrl_port, 2,
				BPF_F_RECOMPUTE_CSUM) ||
	    bpf_skb_store_bytes(skb, l4 + offsetof(struct udphdr, check), &zero, 2,
				BPF_F_RECOMPUTE_CSUM))
		return SGBPF_TC_ACT_SHOT;
	return SGBPF_TC_ACT_OK;
}

/*
 * State of the merge: a bpf_loop() over the result's chunks, each a
 * bpf_loop() over CPUs that folds every CPU's partial of that chunk into it.
 * The innermost loop runs over blocks of SGBPF_MERGE_BLOCK elements.
 * Each nesting level is a callback the verifier checks a few times, not per
 * element: written as plain loops over 364 elements, the merge of chunks x
 * CPUs cost the verifier 10 times a one-packet merge (and over 1M
 * instructions for a combine with a branch).
 */
struct sgbpf_merge_args {
	__u64 gen;
	__u32 slot;
	__u32 nelems;		/* elements in the result */
	__u32 ncpus;
	__u32 nrows;		/* chunks a result may have: max_packets, at least 1 */
	__u32 chunk_elems;	/* elements of one full chunk */
	__u32 seq;		/* chunk being merged */
	__u32 row;		/* its partials: slot * nrows + seq */
	__u32 base;		/* its first element: seq * chunk_elems */
	__u32 first;		/* no partial merged into this chunk yet */
	__u32 pad;
	void *res;		/* the chunk being merged into */
	const void *in;		/* the partial being merged */
};

/*
 * Announces a completion in the ring buffer; without waking user space when
 * it is awake and will read the ring anyway (struct sgbpf_wake).  awake is
 * read with a full barrier after the reserve has moved the producer
 * position, so user space, which clears awake before it compares the
 * positions, either sees this record or is woken for it.
 */
static __always_inline void sgbpf_agg_notify(__u32 req, __u32 slot)
{
	struct sgbpf_event *ev = bpf_ringbuf_reserve(&sgbpf_events, sizeof(*ev), 0);
	struct sgbpf_wake *w;
	__u32 zero = 0;
	__u64 flags = 0;

	if (!ev) {
		sgbpf_stat_inc(SGBPF_STAT_EVENTS_LOST);
		return;
	}
	ev->req_id = req;
	ev->slot = slot;
	w = bpf_map_lookup_elem(&sgbpf_wake, &zero);
	if (w && __sync_fetch_and_add(&w->awake, 0)) {
		flags = BPF_RB_NO_WAKEUP;
		sgbpf_stat_inc(SGBPF_STAT_WAKEUPS_SKIPPED);
	}
	bpf_ringbuf_submit(ev, flags);
}

/*
 * Elements one innermost merge step handles.  It divides the element count
 * of a partial for every element size (1456 = 14 * 104): no remainder.
 */
#define SGBPF_MERGE_BLOCK 14

/*
 * Where chunk seq of slot's result lives: chunk 0 in the slot, the others
 * in sgbpf_chunks.
 */
static __always_inline void *sgbpf_agg_result(__u32 slot, __u32 seq, __u32 nrows)
{
	struct sgbpf_chunk *c;
	struct sgbpf_slot *s;
	__u32 row;

	if (seq == 0) {
		s = bpf_map_lookup_elem(&sgbpf_slots, &slot);
		return s ? s->result : NULL;
	}
	row = slot * (nrows - 1) + seq - 1;
	c = bpf_map_lookup_elem(&sgbpf_chunks, &row);
	return c ? c->data : NULL;
}

struct sgbpf_seen_ctx {
	struct sgbpf_slot *s;
	__u32 req;
	__u32 word;
	__u32 bit;
};

/*
 * Sets a completed multi-packet worker's seen bit (re-scatters skip it).
 * Its record, not this bit, kept it from counting twice; a word tagged with
 * an older request is taken over, as in the gather's admission.
 */
static long sgbpf_cas_see(__u32 i, void *arg)
{
	struct sgbpf_seen_ctx *c = arg;
	__u32 word = c->word, bits;
	__u64 old, *p;

	if (word >= SGBPF_SEEN_WORDS)
		return 1;
	p = &c->s->seen[word];
	old = *(volatile __u64 *)p;
	bits = SGBPF_TAG_REQ(old) == c->req ? SGBPF_TAG_LOW(old) : 0;
	if (SGBPF_TAG_REQ(old) != c->req &&
	    SGBPF_TAG_REQ(old) == SGBPF_TAG_REQ(*(volatile __u64 *)&c->s->state))
		return 1;
	return __sync_val_compare_and_swap(p, old, SGBPF_TAG(c->req, bits | c->bit)) == old;
}

/* Folded + 1 in a reply record's st word tagged with the generation; ret = new count or -1. */
static long sgbpf_cas_reply_folded(__u32 i, void *arg)
{
	struct sgbpf_rcas *c = arg;
	__u64 old = *(volatile __u64 *)&c->r->st;

	if (SGBPF_TAG_REQ(old) != c->tag) {
		c->ret = -1;
		return 1;
	}
	if (__sync_val_compare_and_swap(&c->r->st, old, old + 1) == old) {
		c->ret = SGBPF_REPLY_FOLDED(old) + 1;
		return 1;
	}
	return 0;
}

/*
 * A packet of a multi-packet reply is folded.  Returns 1 when it was the
 * worker's last one (the worker now counts), 0 when packets are still to
 * come, -1 when the record moved on to another opening.  The worker's K
 * packets are added to the slot's packet count before the worker counts,
 * so the count is whole when the request completes.
 */
static __always_inline int sgbpf_agg_packet_done(struct sgbpf_slot *s, const struct sgbpf_fold *f)
{
	struct sgbpf_reply *r = sgbpf_agg_reply(f);
	struct sgbpf_rcas c = { .r = r, .tag = (__u32)f->gen, .ret = -1 };
	struct sgbpf_seen_ctx see = { .s = s, .req = f->req_id, .word = f->worker / 32,
				      .bit = 1u << (f->worker % 32) };
	__u32 k;

	if (!r)
		return -1;
	bpf_loop(SGBPF_CAS_TRIES, sgbpf_cas_reply_folded, &c, 0);
	if (c.ret < 0)
		return -1;
	k = SGBPF_REPLY_K(*(volatile __u64 *)&r->st);
	if ((__u32)c.ret < k)
		return 0;
	__sync_fetch_and_add(&s->packets, k);
	bpf_loop(SGBPF_CAS_TRIES, sgbpf_cas_see, &see, 0);
	return 1;
}

/*
 * Finishes one admitted reply: counts it as folded and, if it was the last
 * one needed, merges the per-CPU partials with merge_row (NULL for count-only
 * reductions), publishes the result and notifies user space.  Returns the
 * hook's verdict for the packet (tc: TC ingress, else XDP).
 */
static __always_inline int sgbpf_agg_finish(void *ctx, const struct sgbpf_fold *f,
					    long (*merge_row)(__u32 seq, void *args), bool tc)
{
	const struct sgbpf_config *cfg = sgbpf_config_get();
	struct sgbpf_merge_args args = {};
	struct sgbpf_slot *s;
	__u32 slot = f->slot, req = f->req_id;
	int folded;

	s = bpf_map_lookup_elem(&sgbpf_slots, &slot);
	if (!s)
		return sgbpf_verdict(tc, false);	/* slot < max_entries: never */
	if (!cfg)
		return sgbpf_agg_abandon(f, tc);
	if (f->multi) {
		folded = sgbpf_agg_packet_done(s, f);
		if (folded < 0) {
			sgbpf_stat_inc(SGBPF_STAT_STALE);
			return sgbpf_verdict(tc, false);
		}
		if (folded == 0) {
			sgbpf_stat_inc(SGBPF_STAT_FOLDED);
			return sgbpf_fate_verdict(cfg, tc);
		}
	}
	folded = sgbpf_slot_fold_done(s, req);
	if (folded < 0) {
		sgbpf_stat_inc(SGBPF_STAT_STALE);
		return sgbpf_verdict(tc, false);
	}
	sgbpf_stat_inc(SGBPF_STAT_FOLDED);
	if ((__u32)folded != s->needed)
		return sgbpf_fate_verdict(cfg, tc);

	/* Last reply: claim the merge unless user space expired the request. */
	if (__sync_val_compare_and_swap(&s->state, SGBPF_TAG(req, SGBPF_SLOT_ACTIVE),
					SGBPF_TAG(req, SGBPF_SLOT_MERGING)) !=
	    SGBPF_TAG(req, SGBPF_SLOT_ACTIVE))
		return sgbpf_fate_verdict(cfg, tc);
	args.slot = slot;
	args.gen = f->gen;
	args.nrows = cfg->max_packets > 1 ? cfg->max_packets : 1;
	if (args.nrows > SGBPF_MAX_PACKETS)
		args.nrows = SGBPF_MAX_PACKETS;
	args.ncpus = cfg->ncpus;
	if (args.ncpus > SGBPF_MAX_CPUS)
		args.ncpus = SGBPF_MAX_CPUS;
	args.chunk_elems = cfg->elem_size ? cfg->chunk / cfg->elem_size : 0;
	if (merge_row)
		bpf_loop(args.nrows, merge_row, &args, 0);
	if (!f->multi)
		s->packets = folded;
	s->responses = folded;
	s->nelems = args.nelems;
	s->elem_size = cfg->elem_size;
	__sync_val_compare_and_swap(&s->state, SGBPF_TAG(req, SGBPF_SLOT_MERGING),
				    SGBPF_TAG(req, SGBPF_SLOT_COMPLETE));
	sgbpf_stat_inc(SGBPF_STAT_COMPLETED);

	if (cfg->notify == SGBPF_NOTIFY_RINGBUF) {
		sgbpf_agg_notify(req, slot);
	} else if (cfg->notify == SGBPF_NOTIFY_CTRL) {
		return tc ? sgbpf_agg_to_ctrl_tc(ctx, cfg, f) : sgbpf_agg_to_ctrl_xdp(ctx, cfg, f);
	}
	return sgbpf_fate_verdict(cfg, tc);
}

/*
 * SGBPF_UDP_ELEMENTWISE_REDUCER(NAME, TYPE, IDENTITY, COMBINE) defines the
 * XDP program NAME and the TC program NAME_tc that fold a reply body of
 * TYPE elements into the result with COMBINE(acc, value), a function or a
 * function-like macro.
 *
 * The loops are written for the verifier as much as for the CPU: a partial
 * is filled with IDENTITY over its whole width when a request first touches
 * it, so folding and merging never branch on lengths inside the loop.
 */
#define SGBPF_UDP_ELEMENTWISE_REDUCER(NAME, TYPE, IDENTITY, COMBINE)		\
static long NAME##__merge_block(__u32 b, void *argp)					\
{											\
	struct sgbpf_merge_args *a = argp;						\
	TYPE *res = a->res;								\
	const TYPE *in = a->in;								\
	__u32 j;									\
											\
	if (b >= SGBPF_RESULT_BYTES / sizeof(TYPE) / SGBPF_MERGE_BLOCK)			\
		return 1;								\
	/* One bounded offset, then constant ones: what the verifier tracks best. */	\
	j = b * SGBPF_MERGE_BLOCK;							\
	res += j;									\
	in += j;									\
	if (a->first) {									\
		for (__u32 k = 0; k < SGBPF_MERGE_BLOCK; k++)				\
			res[k] = in[k];							\
	} else {									\
		for (__u32 k = 0; k < SGBPF_MERGE_BLOCK; k++)				\
			res[k] = COMBINE(res[k], in[k]);				\
	}										\
	return 0;									\
}											\
											\
static long NAME##__merge_cpu(__u32 cpu, void *argp)					\
{											\
	struct sgbpf_merge_args *a = argp;						\
	const struct sgbpf_partial *p;							\
	__u32 row = a->row;								\
	void *res;									\
											\
	p = sgbpf_agg_cpu_partial(row, cpu);						\
	if (!p || p->gen != a->gen || p->nelems == 0)					\
		return 0;								\
	res = sgbpf_agg_result(a->slot, a->seq, a->nrows);				\
	if (!res)									\
		return 1;								\
	a->res = res;									\
	a->in = p->data;								\
	bpf_loop(SGBPF_RESULT_BYTES / sizeof(TYPE) / SGBPF_MERGE_BLOCK,			\
		 NAME##__merge_block, a, 0);						\
	if (a->base + p->nelems > a->nelems)						\
		a->nelems = a->base + p->nelems;					\
	a->first = 0;									\
	return 0;									\
}											\
											\
static long NAME##__merge_row(__u32 seq, void *argp)					\
{											\
	struct sgbpf_merge_args *a = argp;						\
											\
	a->seq = seq;									\
	a->row = a->slot * a->nrows + seq;						\
	a->base = seq * a->chunk_elems;							\
	a->first = 1;									\
	bpf_loop(a->ncpus, NAME##__merge_cpu, a, 0);					\
	return 0;									\
}											\
											\
static __always_inline int NAME##__fold(void *ctx, bool tc)				\
{											\
	struct sgbpf_fold *f = sgbpf_agg_fold();					\
	struct sgbpf_partial *p;							\
	const TYPE *in;									\
	TYPE *acc;									\
	__u32 len = 0, n;								\
	bool fresh;									\
											\
	if (!f)										\
		return sgbpf_verdict(tc, false);					\
	in = sgbpf_agg_body(ctx, f, &len, tc);						\
	if (!in)									\
		return sgbpf_agg_abandon(f, tc);					\
	p = sgbpf_agg_partial(f, &fresh);						\
	if (!p)										\
		return sgbpf_agg_abandon(f, tc);					\
	acc = (TYPE *)p->data;								\
	if (fresh) {									\
		for (__u32 i = 0; i < SGBPF_RESULT_BYTES / sizeof(TYPE); i++) {		\
			acc[i] = (TYPE)(IDENTITY);					\
			/* Keeps clang from turning the loop into memset. */		\
			__asm__ __volatile__("" ::: "memory");				\
		}									\
	}										\
	n = len / sizeof(TYPE);								\
	if (n > SGBPF_RESULT_BYTES / sizeof(TYPE))					\
		n = SGBPF_RESULT_BYTES / sizeof(TYPE);					\
	/*										\
	 * Eight elements per iteration: the fold is the hottest code of a		\
	 * service, and the loop's own bookkeeping would otherwise cost more		\
	 * than the additions.  The remainder follows one by one.			\
	 */										\
	for (__u32 c = 0; c < SGBPF_RESULT_BYTES / sizeof(TYPE) / 8; c++) {		\
		__u32 j = c * 8;							\
											\
		if (j + 8 > n)								\
			break;								\
		acc[j] = COMBINE(acc[j], in[j]);					\
		acc[j + 1] = COMBINE(acc[j + 1], in[j + 1]);				\
		acc[j + 2] = COMBINE(acc[j + 2], in[j + 2]);				\
		acc[j + 3] = COMBINE(acc[j + 3], in[j + 3]);				\
		acc[j + 4] = COMBINE(acc[j + 4], in[j + 4]);				\
		acc[j + 5] = COMBINE(acc[j + 5], in[j + 5]);				\
		acc[j + 6] = COMBINE(acc[j + 6], in[j + 6]);				\
		acc[j + 7] = COMBINE(acc[j + 7], in[j + 7]);				\
	}										\
	for (__u32 k = 0; k < 8; k++) {							\
		__u32 j = (n & ~7u) + k;						\
											\
		if (j >= n)								\
			break;								\
		acc[j] = COMBINE(acc[j], in[j]);					\
	}										\
	if (n > p->nelems)								\
		p->nelems = n;								\
	sgbpf_agg_partial_put(p);							\
	return sgbpf_agg_finish(ctx, f, NAME##__merge_row, tc);				\
}											\
											\
SEC("xdp")										\
int NAME(struct xdp_md *ctx)								\
{											\
	return NAME##__fold(ctx, false);						\
}											\
											\
SEC("tc")										\
int NAME##_tc(struct __sk_buff *skb)							\
{											\
	return NAME##__fold(skb, true);							\
}

#endif /* SGBPF_UDP_AGGREGATION_BPF_H */
