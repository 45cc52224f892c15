/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Framing, admission and completion for the TCP stream program.
 *
 * The verdict program runs once per skb that TCP has put in order
 * (tcp_read_skb() pops only the in-order receive queue), so the bytes of a
 * socket arrive here in order, and exactly once after sgbpf_tcp_trim() has
 * cut what an skb repeats of the one before, but cut anywhere: a header
 * may be split at any byte, an element across two skbs, and one skb may
 * carry the tail of one reply, several whole ones and the head of the next.
 * The parser is a loop of steps over the skb, each step consuming one of:
 *   - header bytes (up to the 18 the header needs),
 *   - the rest of an element split across skbs (folded on its own),
 *   - up to one result chunk of whole elements (folded),
 *   - body bytes that are not folded (a reply not admitted, a count-only
 *     service, the partial element that ends a body),
 * and the end of a message is settled right after the step that ends it.
 * Runs for one socket never overlap: tcp_read_skb() runs under the socket
 * lock.  Folds of different sockets into one request do, on different
 * CPUs; they meet only in the request's slot (compare-and-swap on tagged
 * words, as in the UDP backend) and in the result chunks (a spin lock each).
 */
#ifndef SGBPF_TCP_PARSE_BPF_H
#define SGBPF_TCP_PARSE_BPF_H

#include <sgbpf/tcp_maps.bpf.h>

/* Enough for a 64 KB skb of 1-byte replies (2 steps per 19 bytes) many times over. */
#define SGBPF_TCP_MAX_STEPS	(1u << 16)
/* Bound of the compare-and-swap loops; see SGBPF_CAS_TRIES in udp_aggregation.bpf.h. */
#define SGBPF_TCP_CAS_TRIES	(4 * SGBPF_TCP_MAX_WORKERS + 1)

/* Hides a value from clang so that a bounds check the verifier needs stays. */
#define SGBPF_TCP_OPAQUE(x)	__asm__ __volatile__("" : "+r"(x))

#include <sgbpf/tcp_notify.bpf.h>

enum sgbpf_tcp_step {
	SGBPF_TCP_STEP_DONE = 0,	/* the skb is consumed, or the connection broke */
	SGBPF_TCP_STEP_MORE,		/* bytes consumed, nothing to fold */
	SGBPF_TCP_STEP_FOLD,		/* fold the piece, then go on */
};

/* The walk over one skb, shared by the steps. */
struct sgbpf_tcp_walk {
	struct __sk_buff *skb;
	struct sgbpf_tcp_conn *c;
	__u64 cookie;
	__u32 off;		/* next skb byte to parse */
	__u32 len;		/* skb->len */
};

/* What one FOLD step hands to the reduction: elements [from, to) of one chunk. */
struct sgbpf_tcp_piece {
	struct sgbpf_tcp_chunk *res;	/* the result chunk */
	struct sgbpf_tcp_lock *lk;	/* its lock */
	struct sgbpf_tcp_scratch *in;	/* the bytes, at their offset in the chunk */
	__u64 gen;
	__u32 from, to;
};

static __always_inline void sgbpf_tcp_event(__u32 type, const struct sgbpf_tcp_conn *c,
					    __u64 cookie)
{
	struct sgbpf_tcp_event ev = {
		.type = type, .req_id = c->req_id, .slot = c->slot,
		.worker = c->worker, .cookie = cookie,
	};

	bpf_ringbuf_output(&sgbpf_tcp_events, &ev, sizeof(ev), 0);
}

/* The connection cannot be parsed any further: user space resets it. */
static __always_inline int sgbpf_tcp_break(struct sgbpf_tcp_walk *w, __u32 stat)
{
	w->c->flags |= SGBPF_TCP_CONN_BROKEN;
	sgbpf_tcp_stat_add(stat, 1);
	sgbpf_tcp_event(SGBPF_TCP_EV_CONN_BROKEN, w->c, w->cookie);
	return SGBPF_TCP_STEP_DONE;
}

/* ---- the slot's tagged words (compare-and-swap under bpf_loop) ---- */

struct sgbpf_tcp_cas {
	struct sgbpf_tcp_slot *s;
	__u32 req;
	__u32 word, bit;
	__u32 len;		/* extent: body length */
	__u32 gen32;		/* extent: generation */
	int ret;
};

/* Sets the worker's seen bit: ret 1 taken, 0 duplicate, -1 slot moved on. */
static long sgbpf_tcp_cas_see(__u32 i, void *arg)
{
	struct sgbpf_tcp_cas *a = arg;
	__u32 word = a->word;
	__u64 old, new, *p;

	if (word >= SGBPF_TCP_SEEN_WORDS)
		return 1;
	p = &a->s->seen[word];
	old = *(volatile __u64 *)p;
	if (SGBPF_TCP_TAG_REQ(old) == a->req) {
		if (SGBPF_TCP_TAG_LOW(old) & a->bit) {
			a->ret = 0;
			return 1;
		}
		new = old | a->bit;
	} else {
		/* Tagged with an earlier request: empty for this one. */
		new = SGBPF_TCP_TAG(a->req, a->bit);
	}
	if (__sync_val_compare_and_swap(p, old, new) == old) {
		a->ret = 1;
		return 1;
	}
	return 0;
}

static long sgbpf_tcp_cas_unsee(__u32 i, void *arg)
{
	struct sgbpf_tcp_cas *a = arg;
	__u32 word = a->word;
	__u64 old, *p;

	if (word >= SGBPF_TCP_SEEN_WORDS)
		return 1;
	p = &a->s->seen[word];
	old = *(volatile __u64 *)p;
	if (SGBPF_TCP_TAG_REQ(old) != a->req || !(SGBPF_TCP_TAG_LOW(old) & a->bit))
		return 1;
	return __sync_val_compare_and_swap(p, old, old & ~(__u64)a->bit) == old;
}

/* Takes an admission: ret 1 taken, 0 policy met, -1 slot moved on. */
static long sgbpf_tcp_cas_admit(__u32 i, void *arg)
{
	struct sgbpf_tcp_cas *a = arg;
	__u64 old = *(volatile __u64 *)&a->s->tickets;

	if (SGBPF_TCP_TAG_REQ(old) != a->req) {
		a->ret = -1;
		return 1;
	}
	if (SGBPF_TCP_TICKET_ADMITTED(old) >= a->s->needed) {
		a->ret = 0;
		return 1;
	}
	if (__sync_val_compare_and_swap(&a->s->tickets, old, old + 1) == old) {
		a->ret = 1;
		return 1;
	}
	return 0;
}

static long sgbpf_tcp_cas_unadmit(__u32 i, void *arg)
{
	struct sgbpf_tcp_cas *a = arg;
	__u64 old = *(volatile __u64 *)&a->s->tickets;

	if (SGBPF_TCP_TAG_REQ(old) != a->req || SGBPF_TCP_TICKET_ADMITTED(old) == 0)
		return 1;
	return __sync_val_compare_and_swap(&a->s->tickets, old, old - 1) == old;
}

/* Folded count + 1: ret the new count, or -1 when the slot moved on. */
static long sgbpf_tcp_cas_folded(__u32 i, void *arg)
{
	struct sgbpf_tcp_cas *a = arg;
	__u64 old = *(volatile __u64 *)&a->s->tickets;

	if (SGBPF_TCP_TAG_REQ(old) != a->req) {
		a->ret = -1;
		return 1;
	}
	if (__sync_val_compare_and_swap(&a->s->tickets, old, old + (1u << 16)) == old) {
		a->ret = SGBPF_TCP_TICKET_FOLDED(old) + 1;
		return 1;
	}
	return 0;
}

/* extent = max(extent, len) within one generation; a newer generation wins. */
static long sgbpf_tcp_cas_extent(__u32 i, void *arg)
{
	struct sgbpf_tcp_cas *a = arg;
	__u64 old = *(volatile __u64 *)&a->s->extent;
	__u32 g = SGBPF_TCP_TAG_REQ(old);

	if ((__s32)(g - a->gen32) > 0)
		return 1;	/* a later opening owns it: leave it alone */
	if (g == a->gen32 && SGBPF_TCP_TAG_LOW(old) >= a->len)
		return 1;
	return __sync_val_compare_and_swap(&a->s->extent, old,
					   SGBPF_TCP_TAG(a->gen32, a->len)) == old;
}

/* ---- one message's life: admission at its header, completion at its end ---- */

/*
 * Decides whether the reply whose header was just read is folded: its
 * request must be open in its slot, this worker not yet counted for it, and
 * the policy not yet met.  Anything else is parsed and discarded.
 */
static __always_inline void sgbpf_tcp_admit(struct sgbpf_tcp_conn *c)
{
	struct sgbpf_tcp_cas a = {};
	struct sgbpf_tcp_slot *s;
	__u32 slot = c->slot;
	__u64 gen, state;

	s = bpf_map_lookup_elem(&sgbpf_tcp_slots, &slot);
	if (!s)
		return;
	/*
	 * gen first: a change between here and the ticket means a reopening.
	 * The compare-and-swaps in between are full barriers (BPF atomics with
	 * a fetch are fully ordered), which is what orders the two reads.
	 */
	gen = *(volatile __u64 *)&s->gen;
	state = *(volatile __u64 *)&s->state;
	if (SGBPF_TCP_TAG_REQ(state) != c->req_id) {
		sgbpf_tcp_stat_add(SGBPF_TCP_S_UNSOLICITED, 1);
		return;
	}
	if (SGBPF_TCP_TAG_LOW(state) != SGBPF_TCP_SLOT_ACTIVE) {
		sgbpf_tcp_stat_add(SGBPF_TCP_S_STALE, 1);
		return;
	}
	a.s = s;
	a.req = c->req_id;
	a.word = c->worker / 32;
	a.bit = 1u << (c->worker % 32);
	a.ret = -1;
	bpf_loop(SGBPF_TCP_CAS_TRIES, sgbpf_tcp_cas_see, &a, 0);
	if (a.ret == 0) {
		sgbpf_tcp_stat_add(SGBPF_TCP_S_DUPLICATES, 1);
		return;
	}
	if (a.ret < 0) {
		sgbpf_tcp_stat_add(SGBPF_TCP_S_STALE, 1);
		return;
	}
	a.ret = -1;
	bpf_loop(SGBPF_TCP_CAS_TRIES, sgbpf_tcp_cas_admit, &a, 0);
	if (a.ret <= 0) {
		/* A worker counts only while it holds an admission. */
		bpf_loop(SGBPF_TCP_CAS_TRIES, sgbpf_tcp_cas_unsee, &a, 0);
		sgbpf_tcp_stat_add(a.ret == 0 ? SGBPF_TCP_S_SURPLUS : SGBPF_TCP_S_STALE, 1);
		return;
	}
	if (*(volatile __u64 *)&s->gen != gen) {
		/* Expired and reopened meanwhile: the ticket is not ours to use. */
		bpf_loop(SGBPF_TCP_CAS_TRIES, sgbpf_tcp_cas_unadmit, &a, 0);
		bpf_loop(SGBPF_TCP_CAS_TRIES, sgbpf_tcp_cas_unsee, &a, 0);
		sgbpf_tcp_stat_add(SGBPF_TCP_S_STALE, 1);
		return;
	}
	c->folding = 1;
	c->gen = gen;
	sgbpf_tcp_stat_add(SGBPF_TCP_S_ADMITTED, 1);
}

/*
 * The whole body of an admitted reply is folded: count it and, if it is the
 * last one the policy needs, publish the result and notify.  The count goes
 * up only after every chunk of the body was folded and unlocked, so whoever
 * sees the last count sees every fold of the request.
 */
static __always_inline void sgbpf_tcp_commit(struct sgbpf_tcp_walk *w, __u32 esize)
{
	struct sgbpf_tcp_conn *c = w->c;
	struct sgbpf_tcp_cas a = {};
	struct sgbpf_tcp_slot *s;
	__u32 slot = c->slot, req = c->req_id;
	__u64 active = SGBPF_TCP_TAG(req, SGBPF_TCP_SLOT_ACTIVE);
	__u64 merging = SGBPF_TCP_TAG(req, 2);
	__u64 ext;

	s = bpf_map_lookup_elem(&sgbpf_tcp_slots, &slot);
	if (!s)
		return;
	a.s = s;
	a.req = req;
	a.len = c->body_len;
	a.gen32 = (__u32)c->gen;
	bpf_loop(SGBPF_TCP_CAS_TRIES, sgbpf_tcp_cas_extent, &a, 0);
	a.ret = -1;
	bpf_loop(SGBPF_TCP_CAS_TRIES, sgbpf_tcp_cas_folded, &a, 0);
	if (a.ret < 0) {
		sgbpf_tcp_stat_add(SGBPF_TCP_S_STALE, 1);
		return;
	}
	sgbpf_tcp_stat_add(SGBPF_TCP_S_FOLDED, 1);
	if ((__u32)a.ret != s->needed)
		return;
	/* Last reply: publish unless user space expired (or reopened) the slot. */
	if (*(volatile __u64 *)&s->gen != c->gen ||
	    __sync_val_compare_and_swap(&s->state, active, merging) != active)
		return;
	ext = *(volatile __u64 *)&s->extent;
	s->responses = a.ret;
	s->elem_size = esize;
	s->nelems = esize && SGBPF_TCP_TAG_REQ(ext) == (__u32)c->gen ?
			    SGBPF_TCP_TAG_LOW(ext) / esize : 0;
	__sync_val_compare_and_swap(&s->state, merging,
				    SGBPF_TCP_TAG(req, SGBPF_TCP_SLOT_COMPLETE));
	sgbpf_tcp_stat_add(SGBPF_TCP_S_COMPLETED, 1);
	if (sgbpf_tcp_ctrl_notes)
		sgbpf_tcp_note_add(c, req);	/* sent by the verdict */
	else
		sgbpf_tcp_event(SGBPF_TCP_EV_COMPLETE, c, w->cookie);
}

/* ---- the steps ---- */

static __always_inline void sgbpf_tcp_consume(struct sgbpf_tcp_walk *w, __u32 n, bool body)
{
	struct sgbpf_tcp_conn *c = w->c;

	w->off += n;
	c->bytes_framed += n;
	if (body) {
		c->body_left -= n;
		c->body_pos += n;
	}
}

/* Gathers header bytes; at the 18th, validates the header and admits the reply. */
static __always_inline int sgbpf_tcp_step_header(struct sgbpf_tcp_walk *w, __u32 room)
{
	struct sgbpf_tcp_conn *c = w->c;
	struct sgbpf_hdr h;
	__u32 have = c->hdr_have, n;

	if (have >= SGBPF_HDR_LEN)
		return SGBPF_TCP_STEP_DONE;
	n = SGBPF_HDR_LEN - have;
	if (n > room)
		n = room;
	SGBPF_TCP_OPAQUE(n);
	if (n == 0 || n > SGBPF_HDR_LEN)
		return SGBPF_TCP_STEP_DONE;
	if (bpf_skb_load_bytes(w->skb, w->off, &c->hdr[have], n))
		return sgbpf_tcp_break(w, SGBPF_TCP_S_FRAMING_ERRORS);
	sgbpf_tcp_consume(w, n, false);
	c->hdr_have = have + n;
	if (have + n < SGBPF_HDR_LEN)
		return SGBPF_TCP_STEP_MORE;

	__builtin_memcpy(&h, c->hdr, sizeof(h));
	c->req_id = sgbpf_le32(h.req_id);
	c->slot = c->req_id & sgbpf_tcp_slot_mask;
	c->body_len = sgbpf_le32(h.body_len);
	if (h.msg_type != SGBPF_MSG_GATHER || c->body_len > sgbpf_tcp_body_max)
		return sgbpf_tcp_break(w, SGBPF_TCP_S_PROTO_ERRORS);
	c->body_left = c->body_len;
	c->body_pos = 0;
	c->carry_have = 0;
	c->folding = 0;
	sgbpf_tcp_admit(c);
	return SGBPF_TCP_STEP_MORE;
}

/* Points the piece at the result chunk holding body byte pos of this reply. */
static __always_inline int sgbpf_tcp_piece_at(struct sgbpf_tcp_walk *w,
					      struct sgbpf_tcp_piece *pc, __u32 pos)
{
	__u32 idx = w->c->slot * sgbpf_tcp_chunks_per_slot + pos / SGBPF_TCP_CHUNK, zero = 0;

	pc->res = bpf_map_lookup_elem(&sgbpf_tcp_results, &idx);
	pc->lk = bpf_map_lookup_elem(&sgbpf_tcp_locks, &idx);
	pc->in = bpf_map_lookup_elem(&sgbpf_tcp_scratch, &zero);
	pc->gen = w->c->gen;
	return pc->res && pc->lk && pc->in ? 0 : -1;
}

/*
 * One step into the body.  esize is the reduction's element size, a
 * constant of each program (0: count only, nothing is folded).
 */
static __always_inline int sgbpf_tcp_step_body(struct sgbpf_tcp_walk *w, struct sgbpf_tcp_piece *pc,
					       __u32 room, __u32 esize)
{
	struct sgbpf_tcp_conn *c = w->c;
	__u32 n = c->body_left, have, o, m;

	if (n > room)
		n = room;
	if (!c->folding || esize == 0) {
		sgbpf_tcp_consume(w, n, true);
		return SGBPF_TCP_STEP_MORE;
	}

	have = c->carry_have;
	if (have) {
		/* Finish the element the previous skb began. */
		m = esize - have;
		if (m > n)
			m = n;
		SGBPF_TCP_OPAQUE(m);
		SGBPF_TCP_OPAQUE(have);
		if (m == 0 || m > 8 || have >= 8)
			return sgbpf_tcp_break(w, SGBPF_TCP_S_FRAMING_ERRORS);
		if (bpf_skb_load_bytes(w->skb, w->off, &c->carry[have], m))
			return sgbpf_tcp_break(w, SGBPF_TCP_S_FRAMING_ERRORS);
		sgbpf_tcp_consume(w, m, true);
		c->carry_have = have + m;
		if (have + m < esize)
			return SGBPF_TCP_STEP_MORE;
		c->carry_have = 0;
		if (sgbpf_tcp_piece_at(w, pc, c->body_pos - esize))
			return sgbpf_tcp_break(w, SGBPF_TCP_S_FRAMING_ERRORS);
		o = (c->body_pos - esize) % SGBPF_TCP_CHUNK;
		SGBPF_TCP_OPAQUE(o);
		if (o > SGBPF_TCP_CHUNK - esize)
			return sgbpf_tcp_break(w, SGBPF_TCP_S_FRAMING_ERRORS);
		__builtin_memcpy(&pc->in->data[o], c->carry, esize);
		pc->from = o / esize;
		pc->to = pc->from + 1;
		return SGBPF_TCP_STEP_FOLD;
	}

	/* Whole elements up to the end of the chunk or of what this skb holds. */
	o = c->body_pos % SGBPF_TCP_CHUNK;
	m = SGBPF_TCP_CHUNK - o;
	if (m > n)
		m = n;
	m -= m % esize;
	if (m == 0) {
		/* Less than an element here: the start of a split one, or a body's odd tail. */
		if (n == c->body_left) {
			sgbpf_tcp_consume(w, n, true);
			return SGBPF_TCP_STEP_MORE;
		}
		SGBPF_TCP_OPAQUE(n);
		if (n == 0 || n > 8)
			return sgbpf_tcp_break(w, SGBPF_TCP_S_FRAMING_ERRORS);
		if (bpf_skb_load_bytes(w->skb, w->off, c->carry, n))
			return sgbpf_tcp_break(w, SGBPF_TCP_S_FRAMING_ERRORS);
		sgbpf_tcp_consume(w, n, true);
		c->carry_have = n;
		return SGBPF_TCP_STEP_MORE;
	}
	if (sgbpf_tcp_piece_at(w, pc, c->body_pos))
		return sgbpf_tcp_break(w, SGBPF_TCP_S_FRAMING_ERRORS);
	SGBPF_TCP_OPAQUE(o);
	SGBPF_TCP_OPAQUE(m);
	if (o >= SGBPF_TCP_CHUNK || m == 0 || m > SGBPF_TCP_CHUNK)
		return sgbpf_tcp_break(w, SGBPF_TCP_S_FRAMING_ERRORS);
	if (bpf_skb_load_bytes(w->skb, w->off, &pc->in->data[o], m))
		return sgbpf_tcp_break(w, SGBPF_TCP_S_FRAMING_ERRORS);
	sgbpf_tcp_consume(w, m, true);
	pc->from = o / esize;
	pc->to = (o + m) / esize;
	return SGBPF_TCP_STEP_FOLD;
}

/* Parses the next step of the skb; FOLD leaves the piece to fold in *pc. */
static __always_inline int sgbpf_tcp_step(struct sgbpf_tcp_walk *w, struct sgbpf_tcp_piece *pc,
					  __u32 esize)
{
	struct sgbpf_tcp_conn *c = w->c;
	__u32 room;

	if (w->off >= w->len || (c->flags & SGBPF_TCP_CONN_BROKEN))
		return SGBPF_TCP_STEP_DONE;
	room = w->len - w->off;
	if (c->hdr_have < SGBPF_HDR_LEN)
		return sgbpf_tcp_step_header(w, room);
	return sgbpf_tcp_step_body(w, pc, room, esize);
}

/* After a step: settles a message whose last byte it consumed; 1 stops the walk. */
static __always_inline long sgbpf_tcp_step_end(struct sgbpf_tcp_walk *w, __u32 esize)
{
	struct sgbpf_tcp_conn *c = w->c;

	if (c->flags & SGBPF_TCP_CONN_BROKEN)
		return 1;
	if (c->hdr_have == SGBPF_HDR_LEN && c->body_left == 0) {
		c->messages++;
		sgbpf_tcp_stat_add(SGBPF_TCP_S_MESSAGES, 1);
		if (c->folding)
			sgbpf_tcp_commit(w, esize);
		c->hdr_have = 0;
		c->folding = 0;
		c->carry_have = 0;
	}
	return w->off >= w->len;
}

/*
 * The verdict for one skb: walk it with STEP (a bpf_loop callback made by
 * SGBPF_TCP_ELEMENTWISE_REDUCER), then check that every byte was framed.
 */
extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

/* The TCP sequence number of the skb's first byte (TCP_SKB_CB(skb)->seq); 0 or -errno. */
static __always_inline int sgbpf_tcp_skb_seq(struct __sk_buff *skb, __u32 *seq)
{
	struct sk_buff *k = bpf_cast_to_kern_ctx(skb);
	struct tcp_skb_cb *cb = (struct tcp_skb_cb *)k->cb;

	return bpf_probe_read_kernel(seq, sizeof(*seq), &cb->seq);
}

/*
 * Bytes at the head of this skb that an earlier run already took, trimmed.
 *
 * tcp_read_skb() hands over each skb of the receive queue whole, but TCP
 * queues a segment that only partly overlaps what it already has (a
 * retransmission cut differently from the original, seq < rcv_nxt <
 * end_seq) without trimming it: its other readers skip the overlap by
 * offset (copied_seq - seq), tcp_read_skb() does not.  Taken as they are,
 * those bytes would be parsed a second time and shift every later byte of
 * the stream.  Measured over veth with segments delivered twice: 2 bytes
 * seen again in the middle of a 1 MiB reply, every later element wrong.
 *
 * The head is cut off the skb (bpf_skb_adjust_room shrinks from the front
 * for sk_skb), so that what the application reads (fate allow) and what
 * tcp_eat_skb() accounts to copied_seq (skb->len) are the new bytes only.
 * When the cut fails, the overlap is skipped by the parser (*skip); under
 * fate allow the application would then read it twice, so the connection
 * is broken instead.  Returns -1 when the whole skb was seen before.
 */
/*
 * bpf_skb_adjust_room() shrinks an sk_skb by at most 0xfff bytes a call
 * (sk_skb_adjust_room() refuses more with -EFAULT), and a retransmission
 * can repeat a whole 64 KB skb but for a few bytes (measured on lo under
 * fate allow, the receive buffer full): the cut goes in steps.
 */
#define SGBPF_TCP_TRIM_STEP	0xfffu
#define SGBPF_TCP_TRIM_STEPS	1024u	/* 4 MiB: more than any skb holds */

struct sgbpf_tcp_cut {
	struct __sk_buff *skb;
	__u32 left;
	int err;
};

static long sgbpf_tcp_cut_step(__u32 i, void *arg)
{
	struct sgbpf_tcp_cut *t = arg;
	__u32 n = t->left < SGBPF_TCP_TRIM_STEP ? t->left : SGBPF_TCP_TRIM_STEP;

	if (!n)
		return 1;
	t->err = bpf_skb_adjust_room(t->skb, -(__s32)n, 0, 0);
	if (t->err)
		return 1;
	t->left -= n;
	return 0;
}

/* Cuts n bytes off the head of skb; 0, or the bytes still to skip. */
static __always_inline __u32 sgbpf_tcp_cut_head(struct __sk_buff *skb, __u32 n)
{
	struct sgbpf_tcp_cut t = { .skb = skb, .left = n };

	bpf_loop(SGBPF_TCP_TRIM_STEPS, sgbpf_tcp_cut_step, &t, 0);
	return t.left;
}

static __always_inline int sgbpf_tcp_trim(struct __sk_buff *skb, struct sgbpf_tcp_conn *c,
					  __u32 *skip)
{
	__u32 seq, len = skb->len;
	__s32 d;

	*skip = 0;
	if (sgbpf_tcp_skb_seq(skb, &seq)) {
		c->flags &= ~SGBPF_TCP_CONN_SEQ;
		return 0;
	}
	d = (__s32)(c->next_seq - seq);
	if (!(c->flags & SGBPF_TCP_CONN_SEQ) || d <= 0) {
		c->flags |= SGBPF_TCP_CONN_SEQ;
		c->next_seq = seq + len;
		return 0;
	}
	if ((__u32)d >= len) {
		sgbpf_tcp_stat_add(SGBPF_TCP_S_REPEATED_SKBS, 1);
		return -1;
	}
	sgbpf_tcp_stat_add(SGBPF_TCP_S_OVERLAP_BYTES, d);
	c->next_seq = seq + len;
	/*
	 * What a failed step leaves is skipped by the parser; the head
	 * already cut stays cut, so only the rest counts.
	 */
	*skip = sgbpf_tcp_cut_head(skb, (__u32)d);
	return 0;
}

static __always_inline int sgbpf_tcp_verdict(struct __sk_buff *skb,
					     long (*step)(__u32 i, void *w))
{
	struct sgbpf_tcp_walk w = {};
	struct sgbpf_tcp_conn *c;
	__u64 cookie = bpf_get_socket_cookie(skb);
	__u32 skip;

	c = bpf_map_lookup_elem(&sgbpf_tcp_conns, &cookie);
	if (!c) {
		/* Not one of ours to parse: never lose the application's bytes. */
		sgbpf_tcp_stat_add(SGBPF_TCP_S_UNKNOWN_SOCK, 1);
		return SK_PASS;
	}
	if (sgbpf_tcp_trim(skb, c, &skip))
		return SK_DROP;
	c->runs++;
	c->note_n = 0;
	c->bytes_seen += skb->len - skip;
	sgbpf_tcp_stat_add(SGBPF_TCP_S_RUNS, 1);
	sgbpf_tcp_stat_add(SGBPF_TCP_S_BYTES, skb->len - skip);
	w.skb = skb;
	w.c = c;
	w.cookie = cookie;
	if (skip && sgbpf_tcp_fate_pass && !(c->flags & SGBPF_TCP_CONN_BROKEN))
		sgbpf_tcp_break(&w, SGBPF_TCP_S_FRAMING_ERRORS);
	if (c->flags & SGBPF_TCP_CONN_BROKEN) {
		sgbpf_tcp_stat_add(SGBPF_TCP_S_BROKEN_BYTES, skb->len);
		return SK_DROP;
	}
	w.off = skip;
	w.len = skb->len;
	bpf_loop(SGBPF_TCP_MAX_STEPS, step, &w, 0);
	/* Completions this walk committed before a break are still announced. */
	if (c->flags & SGBPF_TCP_CONN_BROKEN)
		return sgbpf_tcp_settle(skb, c, SK_DROP);
	/*
	 * Cheap proof that the parser and TCP agree: a byte not framed here
	 * (the step bound reached, a bug) would shift every later header.
	 */
	if (c->bytes_framed != c->bytes_seen) {
		w.c = c;
		sgbpf_tcp_break(&w, SGBPF_TCP_S_FRAMING_ERRORS);
		return sgbpf_tcp_settle(skb, c, SK_DROP);
	}
	return sgbpf_tcp_settle(skb, c, sgbpf_tcp_fate_pass ? SK_PASS : SK_DROP);
}

#endif /* SGBPF_TCP_PARSE_BPF_H */
