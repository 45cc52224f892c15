// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * TC egress scatter: the service sends one datagram; this program opens the
 * request's slot from the trailer libsgbpf appended, strips the trailer, and
 * sends one copy to every worker.  The original datagram itself leaves as the
 * last worker's copy, so nothing extra goes out.
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
#define IP_LEN_OFF(l3)		((l3) + offsetof(struct iphdr, tot_len))
#define UDP_CSUM_OFF(l4)	((l4) + offsetof(struct udphdr, check))
#define UDP_DPORT_OFF(l4)	((l4) + offsetof(struct udphdr, dest))
#define UDP_LEN_OFF(l4)		((l4) + offsetof(struct udphdr, len))

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
	int err;
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

static long clone_to_worker(__u32 i, void *arg)
{
	struct fanout *fo = arg;

	if (retarget(fo, i) || bpf_clone_redirect(fo->skb, fo->ifindex, 0)) {
		fo->err = 1;
		return 1;
	}
	return 0;
}

/*
 * Reads and removes the trailer.  libsgbpf puts one zero byte before it when
 * the message length is odd, so that the trailer starts at an even offset and
 * its one's-complement sum can be taken out of the checksum as it is.
 */
static __always_inline int strip_trailer(struct __sk_buff *skb, __u32 l3, __u32 l4, __u32 udp_len,
					 __u32 pad, struct sgbpf_scatter_trailer *t)
{
	__u32 off = l4 + udp_len - sizeof(*t), tlen = sizeof(*t) + pad;
	__u16 old_udp_len, new_udp_len, old_ip_len, new_ip_len;
	__s64 sum;

	if (bpf_skb_load_bytes(skb, off, t, sizeof(*t)) || t->magic != SGBPF_TRAILER_MAGIC)
		return -1;
	if (bpf_skb_load_bytes(skb, IP_LEN_OFF(l3), &old_ip_len, 2))
		return -1;
	old_udp_len = bpf_htons(udp_len);
	new_udp_len = bpf_htons(udp_len - tlen);
	new_ip_len = bpf_htons(bpf_ntohs(old_ip_len) - tlen);

	/* Payload bytes leave the sum; a no-op while the sum is still partial. */
	sum = bpf_csum_diff((__be32 *)t, sizeof(*t), NULL, 0, 0);
	if (sum < 0 || bpf_l4_csum_replace(skb, UDP_CSUM_OFF(l4), 0, sum, BPF_F_MARK_MANGLED_0))
		return -1;
	/* The UDP length sits in the pseudo-header and in the UDP header. */
	if (bpf_l4_csum_replace(skb, UDP_CSUM_OFF(l4), old_udp_len, new_udp_len, L4_PSEUDO | 2) ||
	    bpf_l4_csum_replace(skb, UDP_CSUM_OFF(l4), old_udp_len, new_udp_len,
				BPF_F_MARK_MANGLED_0 | 2) ||
	    bpf_skb_store_bytes(skb, UDP_LEN_OFF(l4), &new_udp_len, 2, 0))
		return -1;
	if (bpf_l3_csum_replace(skb, IP_CSUM_OFF(l3), old_ip_len, new_ip_len, 2) ||
	    bpf_skb_store_bytes(skb, IP_LEN_OFF(l3), &new_ip_len, 2, 0))
		return -1;
	if (bpf_skb_change_tail(skb, skb->len - tlen, 0))
		return -1;
	return 0;
}

/*
 * Opens the request's slot before any copy can reach a worker.  A new
 * generation, cleared seen words and fresh tickets make the opening
 * independent of every earlier one, including one with the same request id
 * (ids wrap): nothing a late reply or an idle CPU's partial holds can count.
 */
static __always_inline int open_request(const struct sgbpf_config *cfg, __u32 req, __u32 needed)
{
	__u32 slot = req & cfg->slot_mask;
	struct sgbpf_slot *s = bpf_map_lookup_elem(&sgbpf_slots, &slot);

	if (!s)
		return -1;
	if (needed == 0 || needed > cfg->nworkers)
		needed = cfg->nworkers;
	s->gen++;
	s->needed = needed;
	s->responses = 0;
	s->nelems = 0;
	s->duplicates = 0;
	for (__u32 i = 0; i < SGBPF_SEEN_WORDS; i++) {
		if (i * 32 >= cfg->nworkers)
			break;
		s->seen[i] = 0;
	}
	s->tickets = SGBPF_TAG(req, 0);
	/* Last: replies are admitted only once the slot says ACTIVE for req. */
	__sync_lock_test_and_set(&s->state, SGBPF_TAG(req, SGBPF_SLOT_ACTIVE));
	return 0;
}

SEC("tc")
int sgbpf_scatter(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *data_end = (void *)(long)skb->data_end;
	const struct sgbpf_config *cfg;
	struct sgbpf_scatter_trailer t;
	struct sgbpf_hdr h;
	struct sgbpf_l4 pkt;
	struct fanout fo = {};
	__u32 udp_len, n, pad;

	/*
	 * Only sgbpf service sockets send with this priority; clones have 0.
	 * Another service's scatter on the same interface is left to its own
	 * program, next in the chain.
	 */
	if (skb->priority != SGBPF_SCATTER_PRIORITY)
		return TC_ACT_NEXT;
	cfg = sgbpf_config_get();
	if (!cfg || sgbpf_parse_udp(data, data_end, &pkt) || pkt.udp->source != cfg->port)
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
	    h.msg_type != SGBPF_MSG_SCATTER)
		goto bad;
	pad = sgbpf_le32(h.body_len) & 1;
	if (udp_len != sizeof(struct udphdr) + SGBPF_HDR_LEN + sgbpf_le32(h.body_len) + pad + sizeof(t))
		goto bad;
	if (strip_trailer(skb, pkt.l3_off, pkt.l4_off, udp_len, pad, &t))
		goto bad;
	if (open_request(cfg, sgbpf_le32(h.req_id), t.needed))
		goto bad;

	if (n > 1 && (bpf_loop(n - 1, clone_to_worker, &fo, 0) < 0 || fo.err))
		goto bad;
	if (retarget(&fo, n - 1))
		goto bad;
	sgbpf_stat_inc(SGBPF_STAT_SCATTERS);
	{
		__u32 key = SGBPF_STAT_CLONES;
		__u64 *c = bpf_map_lookup_elem(&sgbpf_stats, &key);

		if (c)
			*c += n;
	}
	return TC_ACT_OK;
bad:
	/* The request stays closed; the library reports it as expired. */
	sgbpf_stat_inc(SGBPF_STAT_SCATTER_ERRORS);
	return TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
