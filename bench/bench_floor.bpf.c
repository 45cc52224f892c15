// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The floor of the coordinator-bound benchmark: what the XDP hook itself
 * costs per reply.  bench_floor_drop counts each reply from a worker port
 * into its request's slot, reports a request once all its replies are in
 * (one ring-buffer record, as sgbpf's ring-buffer delivery does) and drops
 * the reply: no admission, no per-worker state, no fold, no merge.
 * bench_floor_pass only passes frames on, for the baselines: on veth an
 * XDP program is what makes the peer's XDP_TX frames arrive at all.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include <sgbpf/protocol.h>

#include "packet.bpf.h"
#include "bench_floor.h"

const volatile __u16 port_lo, port_hi;	/* the workers' ports, host order */
const volatile __u32 nworkers;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BENCH_FLOOR_SLOTS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct bench_floor_slot);
} slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} done SEC(".maps");

SEC("xdp")
int bench_floor_drop(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct bench_floor_slot *s;
	struct sgbpf_l4 l4;
	struct sgbpf_hdr *h;
	__u16 sport;
	__u32 key, req_id;

	if (sgbpf_parse_udp(data, data_end, &l4))
		return XDP_PASS;
	sport = bpf_ntohs(l4.udp->source);
	if (sport < port_lo || sport > port_hi)
		return XDP_PASS;
	h = (void *)(l4.udp + 1);
	if ((void *)(h + 1) > data_end || h->msg_type != SGBPF_MSG_GATHER)
		return XDP_DROP;
	req_id = h->req_id;
	key = req_id & (BENCH_FLOOR_SLOTS - 1);
	s = bpf_map_lookup_elem(&slots, &key);
	if (!s || s->req_id != req_id)
		return XDP_DROP;	/* late, for a request that expired */
	if (__sync_add_and_fetch(&s->replies, 1) == nworkers)
		bpf_ringbuf_output(&done, &req_id, sizeof(req_id), 0);
	return XDP_DROP;
}

SEC("xdp")
int bench_floor_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
