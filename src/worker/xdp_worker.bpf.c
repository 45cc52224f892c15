// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The in-kernel reference worker: an XDP program on the workers' interface
 * that turns every scatter message addressed to a listened port into the
 * reference reply, in place, and transmits it back out of the interface it
 * came in on (XDP_TX).
 *
 * Why in the kernel: a user-space worker pays a receive and a send system
 * call path per reply, so on a small machine the farm, not the coordinator,
 * bounds every benchmark.  Here a reply costs one program run and one
 * frame, so one CPU can answer a coordinator at fan-out 512.
 *
 * The frame is resized to the reply's length with bpf_xdp_adjust_tail, and
 * every byte of the reply is written from scratch (addresses and ports
 * swapped), so what the request carried beyond its header never leaks into
 * the reply.  Growing needs tailroom the driver may not give: veth copies a
 * cloned or headroom-less skb into a buffer sized to it, so there a small
 * request cannot grow into a 1514-byte reply and is counted as a tx error;
 * a full-size (1472-byte) scatter needs no growth.
 * The UDP checksum is 0 ("none", legal over IPv4): computing it would cost
 * a pass over 1472 bytes per reply for nothing a veth can lose.
 *
 * Contents match the user-space worker's (src/worker/reply_gen.c): vector
 * (element i = i), scalar (one element, 1) or zeros, padded to 1472 bytes
 * unless the loader says not to.  One datagram per reply (seq_num 0,
 * num_pks 1): XDP can send exactly one frame for each frame it receives.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include <sgbpf/protocol.h>

#include "packet.bpf.h"
#include "xdp_worker.h"

#define ETH_HLEN_	14
#define IP_HLEN_	20
#define UDP_HLEN_	8
#define REPLY_OFF	(ETH_HLEN_ + IP_HLEN_ + UDP_HLEN_)
#define IP_DF_		0x4000

/* Set by the loader before the program is loaded. */
const volatile struct xdp_worker_range ranges[XDP_WORKER_MAX_RANGES];
const volatile __u32 nranges;
const volatile __u32 reply_kind;	/* enum xdp_worker_reply */
const volatile __u32 pad = 1;		/* pad the datagram to 1472 bytes */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdp_worker_stats);
} stats SEC(".maps");

static __always_inline bool listened(__u32 daddr, __u16 dport)
{
	__u32 i;

	for (i = 0; i < XDP_WORKER_MAX_RANGES; i++) {
		if (i >= nranges)
			break;
		if ((ranges[i].addr == 0 || ranges[i].addr == daddr) &&
		    dport >= ranges[i].port_lo && dport <= ranges[i].port_hi)
			return true;
	}
	return false;
}

static __always_inline __u16 ip_csum(const __u16 *w)
{
	__u32 sum = 0;
	int i;

#pragma unroll
	for (i = 0; i < IP_HLEN_ / 2; i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

static __always_inline __u32 elem(__u32 i)
{
	if (reply_kind == XDP_WORKER_VECTOR)
		return i;
	if (reply_kind == XDP_WORKER_SCALAR)
		return i == 0;
	return 0;
}

SEC("xdp")
int xdp_worker(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct xdp_worker_stats *st;
	struct sgbpf_l4 l4;
	struct sgbpf_hdr *h;
	struct ethhdr *eth;
	struct iphdr *ip;
	struct udphdr *udp;
	__u8 mac_src[6], mac_dst[6];
	__u32 saddr, daddr, req_id, plen, body_len, msg_len, frame_len, i, key = 0;
	__u16 sport, dport;
	__u8 *body;

	st = bpf_map_lookup_elem(&stats, &key);
	if (!st)
		return XDP_PASS;
	if (sgbpf_parse_udp(data, data_end, &l4) ||
	    !listened(l4.ip->daddr, bpf_ntohs(l4.udp->dest))) {
		st->passed++;
		return XDP_PASS;
	}

	/* Addressed to a listened port: a scatter, or dropped as malformed. */
	udp = l4.udp;
	plen = bpf_ntohs(udp->len);
	h = (void *)(udp + 1);
	if (plen < UDP_HLEN_ + SGBPF_HDR_LEN || (void *)udp + plen > data_end ||
	    (void *)(h + 1) > data_end)
		goto malformed;
	plen -= UDP_HLEN_;
	if (h->msg_type != SGBPF_MSG_SCATTER || sgbpf_le32(h->body_len) > plen - SGBPF_HDR_LEN)
		goto malformed;
	st->scatters++;

	eth = data;
	__builtin_memcpy(mac_src, eth->h_source, 6);
	__builtin_memcpy(mac_dst, eth->h_dest, 6);
	saddr = l4.ip->saddr;
	daddr = l4.ip->daddr;
	sport = udp->source;
	dport = udp->dest;
	req_id = h->req_id;

	body_len = reply_kind == XDP_WORKER_SCALAR ? 4 : SGBPF_UDP_BODY_U32 * 4;
	msg_len = pad ? SGBPF_UDP_MSG_LEN : SGBPF_HDR_LEN + body_len;
	frame_len = REPLY_OFF + msg_len;
	if (bpf_xdp_adjust_tail(ctx, (int)frame_len - (int)(data_end - data))) {
		st->tx_errors++;
		return XDP_DROP;
	}
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (data + REPLY_OFF + SGBPF_HDR_LEN > data_end) {
		st->tx_errors++;
		return XDP_DROP;
	}

	eth = data;
	__builtin_memcpy(eth->h_dest, mac_src, 6);
	__builtin_memcpy(eth->h_source, mac_dst, 6);
	eth->h_proto = bpf_htons(SGBPF_ETH_P_IP);

	ip = (void *)(eth + 1);
	*(__u8 *)ip = 0x45;	/* version 4, 20-byte header */
	ip->tos = 0;
	ip->tot_len = bpf_htons(IP_HLEN_ + UDP_HLEN_ + msg_len);
	ip->id = 0;
	ip->frag_off = bpf_htons(IP_DF_);
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->check = 0;
	ip->saddr = daddr;
	ip->daddr = saddr;
	ip->check = ip_csum((const __u16 *)ip);

	udp = (void *)(ip + 1);
	udp->source = dport;
	udp->dest = sport;
	udp->len = bpf_htons(UDP_HLEN_ + msg_len);
	udp->check = 0;

	h = (void *)(udp + 1);
	h->req_id = req_id;
	h->seq_num = 0;
	h->num_pks = sgbpf_le32(1);
	h->body_len = sgbpf_le32(body_len);
	h->msg_type = SGBPF_MSG_GATHER;
	h->flags = 0;

	/* Every body word, then the padding: nothing of the request survives. */
	body = (__u8 *)(h + 1);
	for (i = 0; i < SGBPF_UDP_BODY_U32; i++) {
		__u32 *w = (__u32 *)(body + 4 * i);

		if ((void *)(w + 1) > data_end)
			break;
		*w = 4 * i < body_len ? sgbpf_le32(elem(i)) : 0;
	}
	for (i = SGBPF_UDP_BODY_U32 * 4; i < SGBPF_UDP_BODY_MAX; i++) {
		if ((void *)(body + i + 1) > data_end)
			break;
		body[i] = 0;
	}
	st->replies++;
	return XDP_TX;

malformed:
	st->malformed++;
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
