// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * TC egress scatter: the service sends one trigger datagram per batch of up
 * to SGBPF_SCATTER_BATCH workers, addressed to the batch's first worker.  The
 * first trigger of a request to arrive opens the request's slot with the
 * completion policy libsgbpf left in it; each trigger then sends one copy to
 * every worker of its batch.  The trigger itself leaves as the batch's last
 * copy, so nothing extra goes out, and the datagram is never resized: the
 * message is exactly what the workers get.
 *
 * A trigger flagged SGBPF_FLAG_RETRY is a re-scatter of a request that is
 * still gathering: it never opens the slot, and goes only to the workers of
 * its batch whose seen bit for the request is not set.  A trigger of type
 * SGBPF_MSG_ALLGATHER carries a complete request's result back to every
 * worker of its batch, and opens nothing either.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <sgbpf/udp_maps.bpf.h>

#include "packet.bpf.h"

#define TC_ACT_OK	0
#define TC_ACT_SHOT	2
/* Not ours: on to the next TCX program or cls_bpf filter. */
#define TC_ACT_NEXT	(-1)

#define IP_CSUM_OFF(l3)		((l3) + offsetof(struct iphdr, check))
#define IP_DADDR_OFF(l3)	((l3) + offsetof(struct iphdr, daddr))
#define UDP_CSUM_OFF(l4)	((l4) + offsetof(struct udphdr, check))
#define UDP_DPORT_OFF(l4)	((l4) + offsetof(struct udphdr, dest))

/* Replacing a 4-byte pseudo-header field of UDP: mark a zero sum as mangled. */
#define L4_PSEUDO	(BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0)

struct fanout {
	struct __sk_buff *skb;
	__u32 l3_off;
	__u32 l4_off;
	__u32 ifindex;
	__u32 daddr;		/* currently in the packet, network order */
	__u16 dport;		/* currently in the packet, network order */
	__u16 pad;
	__u32 first;		/* first worker of this trigger's batch */
	__u32 end;		/* one past its last worker */
	__u64 missing;		/* re-scatters: bit i, worker first + i has not answered */
	__u32 sent;		/* copies cloned so far */
	__u32 failed;		/* copies the kernel refused */
	int err;		/* the packet could not be rewritten: stop */
};

/* Points the packet at worker i, keeping the IP and UDP checksums right. */
static __always_inline int retarget(struct fanout *fo, __u32 i)
{
	struct sgbpf_worker *w = bpf_map_lookup_elem(&sgbpf_workers, &i);
	struct __sk_buff *skb = fo->skb;

	if (!w)
		return -1;
	if (w->addr != fo->daddr) {
		if (bpf_l3_csum_replace(skb, IP_CSUM_OFF(fo->l3_off), fo->daddr, w->addr, 4) ||
		    bpf_l4_csum_replace(skb, UDP_CSUM_OFF(fo->l4_off), fo->daddr, w->addr,
					L4_PSEUDO | 4) ||
		    bpf_skb_store_bytes(skb, IP_DADDR_OFF(fo->l3_off), &w->addr, 4, 0))
			return -1;
		fo->daddr = w->addr;
	}
	if (w->port != fo->dport) {
		if (bpf_l4_csum_replace(skb, UDP_CSUM_OFF(fo->l4_off), fo->dport, w->port,
					BPF_F_MARK_MANGLED_0 | 2) ||
		    bpf_skb_store_bytes(skb, UDP_DPORT_OFF(fo->l4_off), &w->port, 2, 0))
			return -1;
		fo->dport = w->port;
	}
	return 0;
}

/*
 * One copy to worker first + i.  A copy the kernel refuses (a full backlog or
 * veth ring: bpf_clone_redirect() returns the positive NET_XMIT_DROP, or an
 * error) costs that worker only: it is counted and the batch goes on, since
 * the other workers' replies may still meet the request's policy.  Only a
 * packet that cannot be rewritten stops the batch.
 */
static long clone_to_worker(__u32 i, void *arg)
{
	struct fanout *fo = arg;

	if (retarget(fo, fo->first + i)) {
		fo->err = 1;
		return 1;
	}
	if (bpf_clone_redirect(fo->skb, fo->ifindex, 0))
		fo->failed++;
	else
		fo->sent++;
	return 0;
}

/*
 * The seen bits of req in word `word` of s: a worker's bit is set once its
 * reply is complete.  A word tagged with another id belongs to an older
 * request of the slot (opening the slot cleared the words) and says nothing
 * about req, like a word past the end.
 */
static __always_inline __u64 answered_bits(const struct sgbpf_slot *s, __u32 req, __u32 word)
{
	__u64 v;

	/* One register for the check and the access, or the verifier sees no bound. */
	asm volatile("" : "+r"(word));
	if (word >= SGBPF_SEEN_WORDS)
		return 0;
	v = *(const volatile __u64 *)&s->seen[word];
	return SGBPF_TAG_REQ(v) == req ? SGBPF_TAG_LOW(v) : 0;
}

/*
 * The workers of [first, first + n), n <= SGBPF_SCATTER_BATCH = 64, that
 * have not answered req: bit i for worker first + i.  Read once, before any
 * copy goes out, so the clone loop needs no map access; from any first a
 * batch spans at most three seen words.
 */
static __always_inline __u64 stragglers(const struct sgbpf_slot *s, __u32 req, __u32 first,
					__u32 n)
{
	__u32 word = first / 32, shift = first % 32;
	__u64 answered = (answered_bits(s, req, word) |
			  answered_bits(s, req, word + 1) << 32) >> shift;

	if (shift)
		answered |= answered_bits(s, req, word + 2) << (64 - shift);
	return ~answered & (n >= 64 ? ~0ull : (1ull << n) - 1);
}

/* Index of the highest bit set in v != 0 (no count-leading-zeros in BPF). */
static __always_inline __u32 highest_bit(__u64 v)
{
	__u32 r = 0;

	if (v >> 32) {
		v >>= 32;
		r += 32;
	}
	if (v >> 16) {
		v >>= 16;
		r += 16;
	}
	if (v >> 8) {
		v >>= 8;
		r += 8;
	}
	if (v >> 4) {
		v >>= 4;
		r += 4;
	}
	if (v >> 2) {
		v >>= 2;
		r += 2;
	}
	return r + (v >> 1 ? 1 : 0);
}

/*
 * One copy to worker first + i when it has not answered.  Refused copies
 * and broken packets as in clone_to_worker().
 */
static long clone_to_straggler(__u32 i, void *arg)
{
	struct fanout *fo = arg;

	if (i >= 64 || !((fo->missing >> i) & 1))
		return 0;
	if (retarget(fo, fo->first + i)) {
		fo->err = 1;
		return 1;
	}
	if (bpf_clone_redirect(fo->skb, fo->ifindex, 0))
		fo->failed++;
	else
		fo->sent++;
	return 0;
}

/*
 * Opens the request's slot before any copy can reach a worker, once per
 * request: the trigger that flips SGBPF_SCATTER_OPENED in the tag user space
 * left does it.  Returns 1 when this trigger opened the slot, 0 when another
 * one of the same request already had, -1 when the tag is not this
 * request's (a delayed trigger of an older request, or no scatter at all).
 * A new generation, cleared seen words and fresh tickets make the opening
 * independent of every earlier one, including one with the same request id
 * (ids wrap): nothing a late reply or an idle CPU's partial holds can count.
 */
static __always_inline int open_request(const struct sgbpf_config *cfg, __u32 req)
{
	__u32 slot = req & cfg->slot_mask, needed;
	struct sgbpf_slot *s = bpf_map_lookup_elem(&sgbpf_slots, &slot);
	__u64 tag;

	if (!s)
		return -1;
	tag = *(volatile __u64 *)&s->scatter;
	if (SGBPF_TAG_REQ(tag) != req)
		return -1;
	if (SGBPF_TAG_LOW(tag) & SGBPF_SCATTER_OPENED)
		return 0;
	if (__sync_val_compare_and_swap(&s->scatter, tag, tag | SGBPF_SCATTER_OPENED) != tag)
		return 0;	/* another trigger of req won the race and opens it */
	needed = SGBPF_SCATTER_NEEDED(tag);
	if (needed == 0 || needed > cfg->nworkers)
		needed = cfg->nworkers;
	s->gen++;
	s->needed = needed;
	s->responses = 0;
	s->nelems = 0;
	s->duplicates = 0;
	s->packets = 0;
	for (__u32 i = 0; i < SGBPF_SEEN_WORDS; i++) {
		if (i * 32 >= cfg->nworkers)
			break;
		s->seen[i] = 0;
	}
	s->tickets = SGBPF_TAG(req, 0);
	/* Last: replies are admitted only once the slot says ACTIVE for req. */
	__sync_lock_test_and_set(&s->state, SGBPF_TAG(req, SGBPF_SLOT_ACTIVE));
	return 1;
}

static __always_inline void stat_add(__u32 which, __u64 n)
{
	__u64 *c = bpf_map_lookup_elem(&sgbpf_stats, &which);

	if (c)
		*c += n;
}

/*
 * The slot of req when it was opened for req by one of req's own triggers
 * (the OPENED tag: a slot reopened by a newer request carries that
 * request's id) and is in `status` for req; NULL otherwise.  Re-scatters
 * need ACTIVE (still gathering: not completing, complete, or fenced by user
 * space), all-gathers COMPLETE.  What finds NULL does nothing to the slot:
 * it never opens it, never resets its seen words, tickets or partials, and
 * sends no copy.  Both words carry the request id, so a trigger of an older
 * request whose slot moved on cannot match; the library sends these only
 * while its request holds the slot, and the send completes (TC egress runs
 * inside it) before the request can be released.
 */
static __always_inline struct sgbpf_slot *slot_holding(const struct sgbpf_config *cfg, __u32 req,
						       __u32 status)
{
	__u32 slot = req & cfg->slot_mask;
	struct sgbpf_slot *s = bpf_map_lookup_elem(&sgbpf_slots, &slot);
	__u64 tag;

	if (!s)
		return NULL;
	tag = *(volatile __u64 *)&s->scatter;
	if (SGBPF_TAG_REQ(tag) != req || !(SGBPF_TAG_LOW(tag) & SGBPF_SCATTER_OPENED))
		return NULL;
	if (*(volatile __u64 *)&s->state != SGBPF_TAG(req, status))
		return NULL;
	return s;
}

/*
 * A re-scatter (SGBPF_FLAG_RETRY) of req to the workers of [fo->first,
 * fo->end) that have not answered; the trigger itself leaves as the last
 * one's copy.  A worker answering while the copies go out may still get
 * one; its second reply counts as a duplicate, never twice.  Returns the
 * verdict.
 */
static __always_inline int rescatter(const struct sgbpf_config *cfg, struct fanout *fo, __u32 req)
{
	struct sgbpf_slot *s = slot_holding(cfg, req, SGBPF_SLOT_ACTIVE);
	__u32 last;

	if (s)
		fo->missing = stragglers(s, req, fo->first, fo->end - fo->first);
	if (!s || !fo->missing) {
		sgbpf_stat_inc(SGBPF_STAT_RETRY_IDLE);
		return TC_ACT_SHOT;
	}
	last = highest_bit(fo->missing);
	if (last && (bpf_loop(last, clone_to_straggler, fo, 0) < 0 || fo->err))
		goto broken;
	if (retarget(fo, fo->first + last))
		goto broken;
	stat_add(SGBPF_STAT_CLONES, fo->sent + 1);
	stat_add(SGBPF_STAT_RETRY_COPIES, fo->sent + 1);
	if (fo->failed)
		stat_add(SGBPF_STAT_CLONE_FAILURES, fo->failed);
	return TC_ACT_OK;
broken:
	/* The stragglers before the failure have their copy; the request goes on. */
	stat_add(SGBPF_STAT_CLONES, fo->sent);
	stat_add(SGBPF_STAT_RETRY_COPIES, fo->sent);
	if (fo->failed)
		stat_add(SGBPF_STAT_CLONE_FAILURES, fo->failed);
	sgbpf_stat_inc(SGBPF_STAT_SCATTER_ERRORS);
	return TC_ACT_SHOT;
}

/*
 * A fragment of a scatter: TC egress sees fragments, not the datagram, when
 * a trigger was larger than the route's MTU.  None of them can be fanned out
 * (the header and the rest are in different packets), and letting them out
 * would hand the first worker a partial request: drop them.  The first
 * fragment carries the UDP header and is counted by the service it belongs
 * to; later ones cannot be told apart and are dropped uncounted.  Returns a
 * verdict, or 0 when the packet is not a fragment.
 */
static __always_inline int fragment_verdict(void *data, void *data_end,
					    const struct sgbpf_config *cfg)
{
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp;

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(SGBPF_ETH_P_IP) ||
	    ip->protocol != IPPROTO_UDP ||
	    !(ip->frag_off & bpf_htons(SGBPF_IP_MF | SGBPF_IP_OFFSET)))
		return 0;
	if (ip->frag_off & bpf_htons(SGBPF_IP_OFFSET))
		return TC_ACT_SHOT;
	udp = (void *)ip + ip->ihl * 4;
	if (ip->ihl < 5 || (void *)(udp + 1) > data_end || udp->source != cfg->port)
		return TC_ACT_NEXT;
	sgbpf_stat_inc(SGBPF_STAT_SCATTER_FRAGMENTS);
	return TC_ACT_SHOT;
}

SEC("tc")
int sgbpf_scatter(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *data_end = (void *)(long)skb->data_end;
	const struct sgbpf_config *cfg;
	struct sgbpf_worker_key key = {};
	struct sgbpf_hdr h;
	struct sgbpf_l4 pkt;
	struct fanout fo = {};
	__u32 udp_len, n, end, *first;
	int opened, verdict, allgather;

	/*
	 * Only sgbpf service sockets send with this priority; clones have 0.
	 * Another service's scatter on the same interface is left to its own
	 * program, next in the chain.
	 */
	if (skb->priority != SGBPF_SCATTER_PRIORITY)
		return TC_ACT_NEXT;
	cfg = sgbpf_config_get();
	if (!cfg)
		return TC_ACT_NEXT;
	verdict = fragment_verdict(data, data_end, cfg);
	if (verdict)
		return verdict;
	if (sgbpf_parse_udp(data, data_end, &pkt) || pkt.udp->source != cfg->port)
		return TC_ACT_NEXT;
	skb->priority = 0;

	udp_len = bpf_ntohs(pkt.udp->len);
	fo.daddr = pkt.ip->daddr;
	fo.dport = pkt.udp->dest;
	fo.l3_off = pkt.l3_off;
	fo.l4_off = pkt.l4_off;
	fo.skb = skb;
	fo.ifindex = cfg->ifindex;
	n = cfg->nworkers;
	if (n == 0 || n > SGBPF_STATE_MAX_WORKERS ||
	    bpf_skb_load_bytes(skb, pkt.l4_off + sizeof(struct udphdr), &h, sizeof(h)) ||
	    (h.msg_type != SGBPF_MSG_SCATTER && h.msg_type != SGBPF_MSG_ALLGATHER) ||
	    udp_len != sizeof(struct udphdr) + SGBPF_HDR_LEN + sgbpf_le32(h.body_len))
		goto bad;
	/* The trigger is addressed to the first worker of its batch. */
	key.addr = fo.daddr;
	key.port = fo.dport;
	first = bpf_map_lookup_elem(&sgbpf_worker_index, &key);
	if (!first || *first >= n)
		goto bad;
	fo.first = *first;
	end = fo.first + SGBPF_SCATTER_BATCH < n ? fo.first + SGBPF_SCATTER_BATCH : n;
	fo.end = end;
	allgather = h.msg_type == SGBPF_MSG_ALLGATHER;
	if (allgather) {
		/* The result of a complete request, to every worker: opens nothing. */
		if (!slot_holding(cfg, sgbpf_le32(h.req_id), SGBPF_SLOT_COMPLETE))
			goto bad;
		opened = 0;
	} else if (h.flags & SGBPF_FLAG_RETRY) {
		return rescatter(cfg, &fo, sgbpf_le32(h.req_id));
	} else {
		opened = open_request(cfg, sgbpf_le32(h.req_id));
		if (opened < 0)
			goto bad;
	}

	if (end - fo.first > 1 &&
	    (bpf_loop(end - fo.first - 1, clone_to_worker, &fo, 0) < 0 || fo.err))
		goto broken;
	if (retarget(&fo, end - 1))
		goto broken;
	if (opened)
		sgbpf_stat_inc(SGBPF_STAT_SCATTERS);
	/* The trigger itself leaves as the batch's last copy. */
	stat_add(SGBPF_STAT_CLONES, fo.sent + 1);
	if (allgather)
		stat_add(SGBPF_STAT_ALLGATHER_COPIES, fo.sent + 1);
	if (fo.failed)
		stat_add(SGBPF_STAT_CLONE_FAILURES, fo.failed);
	return TC_ACT_OK;
broken:
	/*
	 * The slot is open and the workers before the failure have the request:
	 * their replies are folded, and the request completes if they meet its
	 * policy; otherwise it expires at its timeout (or never reports, without
	 * one), like a request whose copies were lost on the wire.  An
	 * all-gather cut short reaches only the workers before the failure.
	 */
	stat_add(SGBPF_STAT_CLONES, fo.sent);
	if (allgather)
		stat_add(SGBPF_STAT_ALLGATHER_COPIES, fo.sent);
	if (fo.failed)
		stat_add(SGBPF_STAT_CLONE_FAILURES, fo.failed);
bad:
	/*
	 * Before open_request() this trigger opened nothing.  If no other
	 * trigger of its request opens the slot either, the slot stays as it
	 * was and the library reports the request expired at its timeout; if
	 * another did, the workers of this batch miss the request, as above.
	 * A delayed trigger of an older request (the tag is a newer request's)
	 * touches nothing that is still live.
	 */
	sgbpf_stat_inc(SGBPF_STAT_SCATTER_ERRORS);
	return TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
