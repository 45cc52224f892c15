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
#include <sgbpf/aggregation.bpf.h>

#include "packet.bpf.h"

enum admit_result {
	ADMIT_OK = 0,
	ADMIT_STALE,		/* request finished or expired, or the slot moved on meanwhile */
	ADMIT_DUPLICATE,	/* this worker was already counted */
	ADMIT_SURPLUS,		/* the policy is already met */
	ADMIT_UNSOLICITED,	/* the slot does not hold this request id */
	ADMIT_CONTENDED,	/* a compare-and-swap bound ran out (never: see SGBPF_CAS_TRIES) */
};

/* Worker index of the reply's source, or -1 for an unregistered source. */
static __always_inline int worker_of(const struct iphdr *ip, const struct udphdr *udp)
{
	struct sgbpf_worker_key key = { .addr = ip->saddr, .port = udp->source };
	__u32 *idx = bpf_map_lookup_elem(&sgbpf_worker_index, &key);

	return idx ? (int)*idx : -1;
}

/*
 * A reply is well formed when it carries a gather header whose body_len fits
 * the datagram: either exactly (short form) or within the 1472-byte padded
 * form of the original workers.  Replies span one datagram: num_pks is 1, or
 * 0, which the original system's workers send and treated alike.
 */
static __always_inline bool reply_well_formed(const struct sgbpf_hdr *h, __u32 payload_len)
{
	__u32 body_len = sgbpf_le32(h->body_len);

	if (h->msg_type != SGBPF_MSG_GATHER)
		return false;
	if (sgbpf_le32(h->num_pks) > 1 || sgbpf_le32(h->seq_num) != 0)
		return false;
	if (body_len > SGBPF_UDP_BODY_MAX)
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
	__u32 payload_len, req, slot;
	__u64 gen = 0;
	int worker, ret;

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
	if (!reply_well_formed(h, payload_len)) {
		sgbpf_stat_inc(SGBPF_STAT_MALFORMED);
		return sgbpf_verdict(tc, false);
	}

	req = sgbpf_le32(h->req_id);
	slot = req & cfg->slot_mask;
	s = bpf_map_lookup_elem(&sgbpf_slots, &slot);
	if (!s)
		return reject(ADMIT_STALE, tc);
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
