// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Loss injection for test_tcp_loss: a TC ingress program on the
 * coordinator's veth that drops or duplicates the workers' TCP data
 * segments, so that the service's stream fold is exercised under
 * retransmission, reordering (SACK recovery queues data out of order) and
 * duplicate delivery.
 *
 * Why ingress on the receiving side: a TC egress program on the worker's
 * veth runs before segmentation and sees GSO super-packets even with TSO and
 * GSO off; at the peer's ingress each skb is one segment as it went on the
 * wire, so "drop the k-th segment" means one segment (brief §5.1).
 *
 * Configured through loss_cfg (one entry, written by the test):
 *   mode LOSS_OFF    pass everything, count nothing.
 *   mode LOSS_EVERY  drop data segment n when n % k == k - 1.
 *   mode LOSS_BURST  drop data segments n with n % k >= k - b: b in a row
 *                    every k.
 *   mode LOSS_DUP    deliver data segment n twice when n % k == k - 1: a
 *                    clone goes back to this device's ingress with
 *                    bpf_clone_redirect(); it carries LOSS_MARK in skb->mark
 *                    so that it is passed (and counted) when it comes
 *                    through here again, never cloned once more.
 * n counts the data segments (TCP payload > 0) from addr (the workers'
 * address) to port (the service's port) since the mode was set, including
 * retransmissions and those the program drops.  Pure ACKs, SYNs, FINs and
 * every other packet pass untouched and uncounted: losing them would test
 * the handshake, not the fold.
 *
 * loss_stats counts what was done, for the test to assert that loss really
 * happened and that each skb was a single segment (gso: skbs that carried
 * more than one, which would make a "segment" drop a burst).
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "tcp_loss.h"

#define ETH_P_IP_BE	bpf_htons(0x0800)
#define TC_ACT_OK	0
#define TC_ACT_SHOT	2

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct loss_cfg);
} loss_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct loss_stats);
} loss_stats SEC(".maps");

/* The TCP payload length of an IPv4 segment from cfg's workers, or -1. */
static __always_inline int data_len(struct __sk_buff *skb, const struct loss_cfg *cfg)
{
	struct iphdr ip;
	struct tcphdr th;
	__u32 ihl;

	if (skb->protocol != ETH_P_IP_BE)
		return -1;
	if (bpf_skb_load_bytes(skb, sizeof(struct ethhdr), &ip, sizeof(ip)))
		return -1;
	if (ip.protocol != IPPROTO_TCP || ip.saddr != cfg->addr)
		return -1;
	ihl = ip.ihl * 4;
	if (ihl < sizeof(ip) || ihl > 60)
		return -1;
	if (bpf_skb_load_bytes(skb, sizeof(struct ethhdr) + ihl, &th, sizeof(th)))
		return -1;
	if (th.dest != cfg->port)
		return -1;
	return (int)bpf_ntohs(ip.tot_len) - (int)ihl - (int)th.doff * 4;
}

SEC("tc")
int tcp_loss(struct __sk_buff *skb)
{
	struct loss_stats *st;
	struct loss_cfg *cfg;
	__u32 zero = 0;
	__u64 n;
	int len;

	cfg = bpf_map_lookup_elem(&loss_cfg, &zero);
	st = bpf_map_lookup_elem(&loss_stats, &zero);
	if (!cfg || !st || cfg->mode == LOSS_OFF || cfg->k == 0)
		return TC_ACT_OK;
	if (skb->mark == LOSS_MARK) {
		/* Our own clone, back again: deliver it as the duplicate it is. */
		skb->mark = 0;
		__sync_fetch_and_add(&st->dup_delivered, 1);
		return TC_ACT_OK;
	}
	len = data_len(skb, cfg);
	if (len <= 0)
		return TC_ACT_OK;
	n = __sync_fetch_and_add(&st->segments, 1);
	__sync_fetch_and_add(&st->bytes, len);
	if (skb->gso_segs > 1)
		__sync_fetch_and_add(&st->gso, 1);

	switch (cfg->mode) {
	case LOSS_EVERY:
		if (n % cfg->k == cfg->k - 1)
			goto drop;
		break;
	case LOSS_BURST:
		if (n % cfg->k >= cfg->k - cfg->b)
			goto drop;
		break;
	case LOSS_DUP:
		if (n % cfg->k == cfg->k - 1) {
			/* The clone takes the mark; the original goes on without it. */
			skb->mark = LOSS_MARK;
			if (bpf_clone_redirect(skb, skb->ifindex, BPF_F_INGRESS) == 0)
				__sync_fetch_and_add(&st->duplicated, 1);
			else
				__sync_fetch_and_add(&st->dup_failed, 1);
			skb->mark = 0;
		}
		break;
	}
	return TC_ACT_OK;
drop:
	__sync_fetch_and_add(&st->dropped, 1);
	__sync_fetch_and_add(&st->dropped_bytes, len);
	return TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
