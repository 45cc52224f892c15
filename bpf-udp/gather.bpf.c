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
	ADMIT_STALE,		/* request finished, expired, or slot reused */
	ADMIT_DUPLICATE,	/* this worker was already counted */
	ADMIT_SURPLUS,		/* the policy is already met */
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
 * form of the original workers.  Replies span one datagram.
 */
static __always_inline bool reply_well_formed(const struct sgbpf_hdr *h, __u32 payload_len)
{
	__u32 body_len = sgbpf_le32(h->body_len);

	if (h->msg_type != SGBPF_MSG_GATHER)
		return false;
	if (sgbpf_le32(h->num_pks) != 1 || sgbpf_le32(h->seq_num) != 0)
		return false;
	if (body_len > SGBPF_UDP_BODY_MAX)
		return false;
	if (payload_len == SGBPF_HDR_LEN + body_len)
		return true;
	return payload_len == SGBPF_UDP_MSG_LEN;
}

/* Sets worker w's bit for req; the bit words carry req in their high half. */
static __always_inline int mark_seen(struct sgbpf_slot *s, __u32 req, __u32 w)
{
	__u32 word = w / 32, bit = 1u << (w % 32);
	__u64 *p;

	if (word >= SGBPF_SEEN_WORDS)
		return ADMIT_STALE;
	p = &s->seen[word];
	for (int i = 0; i < SGBPF_CAS_TRIES; i++) {
		__u64 old = *p;
		__u32 tag = SGBPF_TAG_REQ(old);
		__u32 bits = tag == req ? SGBPF_TAG_LOW(old) : 0;

		/*
		 * A word tagged with another request is reused lazily, unless that
		 * request is the slot's current one: then the slot moved on and
		 * this reply is the late one.  (Ids are not ordered across the
		 * 2^32 wrap, so "current" is the only safe test.)
		 */
		if (tag != req && tag == SGBPF_TAG_REQ(s->state))
			return ADMIT_STALE;
		if (bits & bit)
			return ADMIT_DUPLICATE;
		if (__sync_val_compare_and_swap(p, old, SGBPF_TAG(req, bits | bit)) == old)
			return ADMIT_OK;
	}
	return ADMIT_STALE;
}

/* Takes one of the request's 'needed' admissions. */
static __always_inline int take_ticket(struct sgbpf_slot *s, __u32 req)
{
	for (int i = 0; i < SGBPF_CAS_TRIES; i++) {
		__u64 old = s->tickets;

		if (SGBPF_TAG_REQ(old) != req)
			return ADMIT_STALE;
		if (SGBPF_TICKET_ADMITTED(old) >= s->needed)
			return ADMIT_SURPLUS;
		if (__sync_val_compare_and_swap(&s->tickets, old, old + 1) == old)
			return ADMIT_OK;
	}
	return ADMIT_SURPLUS;
}

static __always_inline int admit(struct sgbpf_slot *s, __u32 req, __u32 worker)
{
	int ret;

	/* Cheap rejection first: most late replies fail here. */
	if (s->state != SGBPF_TAG(req, SGBPF_SLOT_ACTIVE))
		return ADMIT_STALE;
	ret = mark_seen(s, req, worker);
	if (ret != ADMIT_OK)
		return ret;
	return take_ticket(s, req);
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

static __always_inline int gather(void *ctx, void *data, void *data_end, bool tc)
{
	const struct sgbpf_config *cfg;
	struct sgbpf_hdr *h;
	struct sgbpf_fold *f;
	struct sgbpf_slot *s;
	struct sgbpf_l4 pkt;
	__u32 payload_len, req, slot;
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
	    (void *)pkt.udp + payload_len > data_end) {
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
	ret = admit(s, req, worker);
	if (ret != ADMIT_OK)
		return reject(ret, tc);

	f = sgbpf_agg_fold();
	if (!f)
		return sgbpf_verdict(tc, false);
	f->req_id = req;
	f->slot = slot;
	f->worker = worker;
	f->l4_off = pkt.l4_off;
	f->body_off = pkt.l4_off + sizeof(struct udphdr) + SGBPF_HDR_LEN;
	f->body_len = sgbpf_le32(h->body_len);
	f->tail_len = payload_len - SGBPF_HDR_LEN;

	bpf_tail_call(ctx, tc ? (void *)&sgbpf_reducer_tc : (void *)&sgbpf_reducer, 0);
	/* No reduction installed: the service only counts. */
	return sgbpf_agg_finish(ctx, f, NULL, tc);
}

SEC("xdp")
int sgbpf_gather(struct xdp_md *ctx)
{
	return gather(ctx, (void *)(long)ctx->data, (void *)(long)ctx->data_end, false);
}

/*
 * TC ingress sees the reply as an skb whose headers are normally linear; a
 * reply whose headers are not is pulled into the linear part first.
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
	return gather(skb, data, data_end, true);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
