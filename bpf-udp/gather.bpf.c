// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Gather: validate a reply, count its worker at most once per request, admit
 * it while the completion policy is unmet, then tail-call the service's
 * reduction.  Everything not addressed to the service's port passes
 * untouched.  The same logic runs at XDP (sgbpf_gather) or, when the XDP hook
 * is taken, at TC ingress (sgbpf_gather_tc).  docs/architecture.md walks
 * through the decisions.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <sgbpf/udp_aggregation.bpf.h>

#include "packet.bpf.h"

enum admit_result {
	ADMIT_OK = 0,
	ADMIT_STALE,		/* request finished or expired, or the slot moved on meanwhile */
	ADMIT_DUPLICATE,	/* this worker was already counted */
	ADMIT_SURPLUS,		/* the policy is already met */
	ADMIT_UNSOLICITED,	/* the slot does not hold this request id */
	ADMIT_CONTENDED,	/* a compare-and-swap bound ran out (never: see SGBPF_CAS_TRIES) */
	ADMIT_MALFORMED,	/* num_pks differs from the worker's first packet */
};

/* Worker index of the reply's source, or -1 for an unregistered source. */
static __always_inline int worker_of(const struct iphdr *ip, const struct udphdr *udp)
{
	struct sgbpf_worker_key key = { .addr = ip->saddr, .port = udp->source };
	__u32 *idx = bpf_map_lookup_elem(&sgbpf_worker_index, &key);

	return idx ? (int)*idx : -1;
}

/* Packets a reply may have: max_packets, where 0 means 1 (the original rules). */
static __always_inline __u32 max_packets(const struct sgbpf_config *cfg)
{
	return cfg->max_packets > 1 ? cfg->max_packets : 1;
}

/*
 * A reply is well formed when it carries a gather header whose body_len fits
 * the datagram: either exactly (short form) or within the 1472-byte padded
 * form of the original workers.  num_pks 0 is the original workers'
 * spelling of a one-packet reply.  With max_packets 1 every reply is one
 * packet; otherwise packet seq of a K-packet reply (K <= max_packets,
 * seq < K) carries the body bytes [seq * C, seq * C + body_len): exactly C
 * of them unless it is the last, at most C when it is (docs/protocol.md).
 */
static __always_inline bool reply_well_formed(const struct sgbpf_config *cfg,
					      const struct sgbpf_hdr *h, __u32 payload_len)
{
	__u32 body_len = sgbpf_le32(h->body_len);
	__u32 k = sgbpf_le32(h->num_pks), seq = sgbpf_le32(h->seq_num);

	if (h->msg_type != SGBPF_MSG_GATHER)
		return false;
	if (k == 0)
		k = 1;
	if (k > max_packets(cfg) || seq >= k)
		return false;
	if (body_len > SGBPF_UDP_BODY_MAX)
		return false;
	if (k > 1 && (seq + 1 < k ? body_len != cfg->chunk : body_len > cfg->chunk))
		return false;
	if (payload_len == SGBPF_HDR_LEN + body_len)
		return true;
	return payload_len == SGBPF_UDP_MSG_LEN;
}

struct see_ctx {
	struct sgbpf_slot *s;
	__u32 req;
	__u32 word;
	__u32 bit;
	int ret;
};

/* One attempt at setting worker's bit in its seen word (bpf_loop callback). */
static long try_mark_seen(__u32 i, void *arg)
{
	struct see_ctx *c = arg;
	struct sgbpf_slot *s = c->s;
	__u32 word = c->word;
	__u64 old, *p;
	__u32 tag, bits;

	if (word >= SGBPF_SEEN_WORDS)
		return 1;
	p = &s->seen[word];
	old = *(volatile __u64 *)p;
	tag = SGBPF_TAG_REQ(old);
	bits = tag == c->req ? SGBPF_TAG_LOW(old) : 0;
	/*
	 * A word tagged with another request is taken over (opening the slot
	 * cleared it; another tag is a late reply's, which counts for nothing),
	 * unless that request is the slot's current one: then the slot moved on
	 * and this reply is the late one.
	 */
	if (tag != c->req && tag == SGBPF_TAG_REQ(*(volatile __u64 *)&s->state)) {
		c->ret = ADMIT_STALE;
		return 1;
	}
	if (bits & c->bit) {
		c->ret = ADMIT_DUPLICATE;
		return 1;
	}
	if (__sync_val_compare_and_swap(p, old, SGBPF_TAG(c->req, bits | c->bit)) == old) {
		c->ret = ADMIT_OK;
		return 1;
	}
	return 0;
}

/* Sets worker w's bit for req; the bit words carry req in their high half. */
static __always_inline int mark_seen(struct sgbpf_slot *s, __u32 req, __u32 w)
{
	/* Out of tries (never, see SGBPF_CAS_TRIES): nothing was set. */
	struct see_ctx c = {
		.s = s, .req = req, .word = w / 32, .bit = 1u << (w % 32), .ret = ADMIT_STALE,
	};

	if (c.word >= SGBPF_SEEN_WORDS)
		return ADMIT_STALE;
	bpf_loop(SGBPF_CAS_TRIES, try_mark_seen, &c, 0);
	return c.ret;
}

struct ticket_ctx {
	struct sgbpf_slot *s;
	__u32 req;
	__u32 needed;
	int ret;
};

/* One attempt at taking an admission (bpf_loop callback). */
static long try_take_ticket(__u32 i, void *arg)
{
	struct ticket_ctx *c = arg;
	__u64 old = *(volatile __u64 *)&c->s->tickets;

	if (SGBPF_TAG_REQ(old) != c->req) {
		c->ret = ADMIT_STALE;
		return 1;
	}
	if (SGBPF_TICKET_ADMITTED(old) >= c->needed) {
		c->ret = ADMIT_SURPLUS;
		return 1;
	}
	if (__sync_val_compare_and_swap(&c->s->tickets, old, old + 1) == old) {
		c->ret = ADMIT_OK;
		return 1;
	}
	return 0;
}

/* Takes one of the request's 'needed' admissions. */
static __always_inline int take_ticket(struct sgbpf_slot *s, __u32 req)
{
	struct ticket_ctx c = { .s = s, .req = req, .needed = s->needed, .ret = ADMIT_CONTENDED };

	bpf_loop(SGBPF_CAS_TRIES, try_take_ticket, &c, 0);
	return c.ret;
}

/*
 * Counts worker for req at most once and takes an admission for it.  *gen is
 * set to the slot's generation, which the fold tags its partial with.  The
 * generation is read before the checks and again after the admission (a
 * full barrier): if user space expired the request and the slot was opened
 * again in between, the two differ and the reply is stale -- it must not fold
 * into the new request's partial.
 */
static __always_inline int admit(struct sgbpf_slot *s, __u32 req, __u32 worker, __u64 *gen)
{
	__u64 state, g = *(volatile __u64 *)&s->gen;
	int ret;

	/* Cheap rejection first: most late replies fail here. */
	state = *(volatile __u64 *)&s->state;
	if (SGBPF_TAG_REQ(state) != req)
		return ADMIT_UNSOLICITED;
	if (SGBPF_TAG_LOW(state) != SGBPF_SLOT_ACTIVE)
		return ADMIT_STALE;
	ret = mark_seen(s, req, worker);
	if (ret == ADMIT_DUPLICATE)
		__sync_fetch_and_add(&s->duplicates, 1);
	if (ret != ADMIT_OK)
		return ret;
	ret = take_ticket(s, req);
	if (ret == ADMIT_OK && *(volatile __u64 *)&s->gen != g) {
		/*
		 * Reopened meanwhile.  With the same id (after a wrap) the bit and
		 * the ticket were taken from the new opening: hand them back.
		 */
		sgbpf_slot_unadmit(s, req, worker);
		return ADMIT_STALE;
	}
	if (ret != ADMIT_OK) {
		/*
		 * A worker counts only while it holds an admission: a surplus
		 * reply leaves no seen bit, so that if an admitted fold is ever
		 * handed back, the surplus worker's next reply can take its place.
		 */
		sgbpf_slot_unsee(s, req, worker);
		return ret == ADMIT_CONTENDED ? ADMIT_STALE : ret;
	}
	*gen = g;
	return ADMIT_OK;
}

/* ---- multi-packet replies (max_packets > 1), struct sgbpf_reply ---- */

struct claim_ctx {
	struct sgbpf_reply *r;
	__u64 gen;
	int ret;		/* 1: this packet took the record over, 0: someone else did */
};

/* One attempt at taking the worker's record for generation gen (bpf_loop callback). */
static long try_claim(__u32 i, void *arg)
{
	struct claim_ctx *c = arg;
	__u64 old = *(volatile __u64 *)&c->r->owner;

	if ((old >> 1) == c->gen) {
		c->ret = 0;
		return 1;
	}
	if ((old >> 1) > c->gen) {	/* a newer opening has it: this packet is late */
		c->ret = -1;
		return 1;
	}
	if (__sync_val_compare_and_swap(&c->r->owner, old, c->gen << 1) == old) {
		c->ret = 1;
		return 1;
	}
	return 0;
}

/*
 * Waits for the packet that took the record over to settle K and the
 * admission (bpf_loop callback).  That packet runs on another CPU (runs on
 * one CPU do not interleave) and sets READY a few compare-and-swaps after
 * its claim; the bound only keeps the verifier and an interrupted CPU honest.
 */
static long wait_ready(__u32 i, void *arg)
{
	struct claim_ctx *c = arg;
	__u64 o = *(volatile __u64 *)&c->r->owner;

	if (o == ((c->gen << 1) | SGBPF_REPLY_READY)) {
		c->ret = 1;
		return 1;
	}
	if ((o >> 1) != c->gen) {
		c->ret = -1;
		return 1;
	}
	return 0;
}

#define SGBPF_READY_SPINS (1u << 20)

struct rx_ctx {
	struct sgbpf_reply *r;
	__u32 tag;
	__u32 bit;
	int ret;
};

/* One attempt at setting the packet's bit in the record's rx word (bpf_loop callback). */
static long try_mark_rx(__u32 i, void *arg)
{
	struct rx_ctx *c = arg;
	__u64 old = *(volatile __u64 *)&c->r->rx;

	if (SGBPF_TAG_REQ(old) != c->tag) {
		c->ret = ADMIT_STALE;
		return 1;
	}
	if (SGBPF_TAG_LOW(old) & c->bit) {
		c->ret = ADMIT_DUPLICATE;
		return 1;
	}
	if (__sync_val_compare_and_swap(&c->r->rx, old, old | c->bit) == old) {
		c->ret = ADMIT_OK;
		return 1;
	}
	return 0;
}

/*
 * Admission of packet seq of worker's k-packet reply.  Each (worker, seq)
 * counts once per opening of the slot (the record's rx bits); the worker
 * takes one ticket, with its first packet, and every later packet folds only
 * if that ticket was granted and declares the same k.  *gen is the opening
 * the packet belongs to, as in admit().
 */
static __always_inline int admit_multi(const struct sgbpf_config *cfg, struct sgbpf_slot *s,
				       __u32 slot, __u32 req, __u32 worker, __u32 seq, __u32 k,
				       __u64 *gen)
{
	__u64 state, st, g = *(volatile __u64 *)&s->gen;
	struct claim_ctx c = { .gen = g, .ret = -1 };
	struct rx_ctx x;
	__u32 row, out;
	int ret;

	state = *(volatile __u64 *)&s->state;
	if (SGBPF_TAG_REQ(state) != req)
		return ADMIT_UNSOLICITED;
	if (SGBPF_TAG_LOW(state) != SGBPF_SLOT_ACTIVE)
		return ADMIT_STALE;
	if (seq >= SGBPF_MAX_PACKETS || worker >= cfg->nworkers)
		return ADMIT_MALFORMED;
	row = slot * cfg->nworkers + worker;
	c.r = bpf_map_lookup_elem(&sgbpf_replies, &row);
	if (!c.r)
		return ADMIT_STALE;
	bpf_loop(SGBPF_CAS_TRIES, try_claim, &c, 0);
	if (c.ret < 0)
		return ADMIT_STALE;
	if (c.ret == 1) {
		/* First packet of this worker: settle K and the admission, then READY. */
		c.r->rx = SGBPF_TAG((__u32)g, 1u << seq);
		ret = take_ticket(s, req);
		if (ret == ADMIT_OK && *(volatile __u64 *)&s->gen != g) {
			struct sgbpf_cas back = { .s = s, .req = req };

			bpf_loop(SGBPF_CAS_TRIES, sgbpf_cas_ticket_back, &back, 0);
			ret = ADMIT_STALE;
		}
		out = ret == ADMIT_OK ? SGBPF_REPLY_ADMITTED : SGBPF_REPLY_REFUSED;
		c.r->st = SGBPF_TAG((__u32)g, (k << 8) | out);
		/* An atomic or: a full barrier, so rx and st are visible first. */
		__sync_fetch_and_or(&c.r->owner, SGBPF_REPLY_READY);
		if (ret != ADMIT_OK)
			return ret == ADMIT_CONTENDED ? ADMIT_STALE : ret;
		*gen = g;
		return ADMIT_OK;
	}

	c.ret = -1;
	bpf_loop(SGBPF_READY_SPINS, wait_ready, &c, 0);
	if (c.ret != 1)
		return ADMIT_STALE;
	st = *(volatile __u64 *)&c.r->st;
	if (SGBPF_TAG_REQ(st) != (__u32)g)
		return ADMIT_STALE;
	if (SGBPF_REPLY_K(st) != k)
		return ADMIT_MALFORMED;
	if (!(SGBPF_TAG_LOW(st) & SGBPF_REPLY_ADMITTED))
		return ADMIT_SURPLUS;
	x = (struct rx_ctx){ .r = c.r, .tag = (__u32)g, .bit = 1u << seq, .ret = ADMIT_STALE };
	bpf_loop(SGBPF_CAS_TRIES, try_mark_rx, &x, 0);
	if (x.ret == ADMIT_DUPLICATE)
		__sync_fetch_and_add(&s->duplicates, 1);
	if (x.ret != ADMIT_OK)
		return x.ret;
	/*
	 * Records are not cleared when the slot opens, so the rx bit can be
	 * taken from an opening that user space has expired and the slot
	 * reopened since.  Read gen again after the compare-and-swap (a full
	 * barrier): unchanged, no newer opening can have folded on this CPU
	 * before this packet does, as in admit().
	 */
	if (*(volatile __u64 *)&s->gen != g) {
		struct sgbpf_rcas back = { .r = c.r, .tag = (__u32)g, .bit = 1u << seq };

		bpf_loop(SGBPF_CAS_TRIES, sgbpf_cas_unrx, &back, 0);
		return ADMIT_STALE;
	}
	*gen = g;
	return ADMIT_OK;
}

static __always_inline int reject(int why, bool tc)
{
	switch (why) {
	case ADMIT_DUPLICATE:
		sgbpf_stat_inc(SGBPF_STAT_DUPLICATES);
		break;
	case ADMIT_SURPLUS:
		sgbpf_stat_inc(SGBPF_STAT_SURPLUS);
		break;
	case ADMIT_UNSOLICITED:
		sgbpf_stat_inc(SGBPF_STAT_UNSOLICITED);
		break;
	case ADMIT_MALFORMED:
		sgbpf_stat_inc(SGBPF_STAT_MALFORMED);
		break;
	default:
		sgbpf_stat_inc(SGBPF_STAT_STALE);
		break;
	}
	return sgbpf_verdict(tc, false);
}

/* Verdict for a packet that is not the service's: leave it to whoever is next. */
static __always_inline int not_ours(bool tc)
{
	return tc ? SGBPF_TC_ACT_NEXT : XDP_PASS;
}

/*
 * pkt_len is the packet's length, which for TC may exceed data_end: the
 * headers are in the linear part (pulled if needed), the body may be in
 * fragments, and it is read with bpf_skb_load_bytes.
 */
static __always_inline int gather(void *ctx, void *data, void *data_end, __u32 pkt_len, bool tc)
{
	const struct sgbpf_config *cfg;
	struct sgbpf_hdr *h;
	struct sgbpf_fold *f;
	struct sgbpf_slot *s;
	struct sgbpf_l4 pkt;
	__u32 payload_len, req, slot, seq, k;
	__u64 gen = 0;
	int worker, ret;
	bool multi;

	if (sgbpf_parse_udp(data, data_end, &pkt))
		return not_ours(tc);
	cfg = sgbpf_config_get();
	if (!cfg || pkt.udp->dest != cfg->port)
		return not_ours(tc);

	worker = worker_of(pkt.ip, pkt.udp);
	if (worker < 0) {
		sgbpf_stat_inc(SGBPF_STAT_UNKNOWN_SRC);
		return sgbpf_verdict(tc, false);
	}

	h = (void *)(pkt.udp + 1);
	payload_len = bpf_ntohs(pkt.udp->len);
	if ((void *)(h + 1) > data_end || payload_len < sizeof(struct udphdr) + SGBPF_HDR_LEN ||
	    pkt.l4_off + payload_len > pkt_len) {
		sgbpf_stat_inc(SGBPF_STAT_MALFORMED);
		return sgbpf_verdict(tc, false);
	}
	payload_len -= sizeof(struct udphdr);
	if (!reply_well_formed(cfg, h, payload_len)) {
		sgbpf_stat_inc(SGBPF_STAT_MALFORMED);
		return sgbpf_verdict(tc, false);
	}

	req = sgbpf_le32(h->req_id);
	slot = req & cfg->slot_mask;
	s = bpf_map_lookup_elem(&sgbpf_slots, &slot);
	if (!s)
		return reject(ADMIT_STALE, tc);
	seq = sgbpf_le32(h->seq_num);
	k = sgbpf_le32(h->num_pks) ? sgbpf_le32(h->num_pks) : 1;
	multi = max_packets(cfg) > 1;
	if (multi)
		ret = admit_multi(cfg, s, slot, req, worker, seq, k, &gen);
	else
		ret = admit(s, req, worker, &gen);
	if (ret != ADMIT_OK)
		return reject(ret, tc);

	f = sgbpf_agg_fold();
	if (!f)
		return sgbpf_verdict(tc, false);
	f->gen = gen;
	f->req_id = req;
	f->slot = slot;
	f->worker = worker;
	f->l4_off = pkt.l4_off;
	f->body_off = pkt.l4_off + sizeof(struct udphdr) + SGBPF_HDR_LEN;
	f->body_len = sgbpf_le32(h->body_len);
	f->tail_len = payload_len - SGBPF_HDR_LEN;
	f->seq = seq;
	f->row = slot * max_packets(cfg) + seq;
	f->multi = multi;

	bpf_tail_call(ctx, tc ? (void *)&sgbpf_reducer_tc : (void *)&sgbpf_reducer, 0);
	/*
	 * Still here: no reduction installed.  A count-only service counts the
	 * reply; a reducing one must not, or the result would miss its body.
	 */
	if (cfg->elem_size)
		return sgbpf_agg_abandon(f, tc);
	return sgbpf_agg_finish(ctx, f, NULL, tc);
}

SEC("xdp")
int sgbpf_gather(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;

	/* Not a frags-aware program: the kernel hands it linear frames only. */
	return gather(ctx, data, data_end, data_end - data, false);
}

/*
 * TC ingress sees the reply as an skb whose headers are normally linear; a
 * reply whose headers are not is pulled into the linear part first.  Its
 * body may stay in page fragments (a worker's corked send, GRO, a driver's
 * paged receive): it is validated against skb->len and read with
 * bpf_skb_load_bytes, never through data_end.
 */
SEC("tc")
int sgbpf_gather_tc(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *data_end = (void *)(long)skb->data_end;
	__u32 need = sizeof(struct ethhdr) + 60 + sizeof(struct udphdr) + SGBPF_HDR_LEN;

	if (data + need > data_end && skb->len > data_end - data) {
		if (bpf_skb_pull_data(skb, skb->len < need ? skb->len : need))
			return SGBPF_TC_ACT_NEXT;
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
	}
	return gather(skb, data, data_end, skb->len, true);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
