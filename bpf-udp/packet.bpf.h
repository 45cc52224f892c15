/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Packet parsing shared by the UDP backend's programs: Ethernet + IPv4 + UDP,
 * with direct packet access.  Both XDP and TC see the Ethernet header first
 * on the devices we support (lo and Ethernet-like devices such as veth).
 */
#ifndef SGBPF_PACKET_BPF_H
#define SGBPF_PACKET_BPF_H

#include <bpf/bpf_endian.h>

#define SGBPF_ETH_P_IP	0x0800
#define SGBPF_IP_MF	0x2000
#define SGBPF_IP_OFFSET	0x1fff

struct sgbpf_l4 {
	struct iphdr *ip;
	struct udphdr *udp;
	__u32 l3_off;		/* from the start of the packet */
	__u32 l4_off;
};

/*
 * Finds the UDP header of an unfragmented IPv4 datagram between data and
 * data_end.  Returns 0 when found; -1 for anything else, which callers pass
 * on untouched.
 */
static __always_inline int sgbpf_parse_udp(void *data, void *data_end, struct sgbpf_l4 *out)
{
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct udphdr *udp;
	__u32 ihl;

	if ((void *)(eth + 1) > data_end)
		return -1;
	if (eth->h_proto != bpf_htons(SGBPF_ETH_P_IP))
		return -1;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return -1;
	if (ip->protocol != IPPROTO_UDP)
		return -1;
	/* A fragment cannot be counted on its own: leave it to the stack. */
	if (ip->frag_off & bpf_htons(SGBPF_IP_MF | SGBPF_IP_OFFSET))
		return -1;
	ihl = ip->ihl * 4;
	if (ihl < sizeof(*ip) || ihl > 60)
		return -1;
	udp = (void *)ip + ihl;
	if ((void *)(udp + 1) > data_end)
		return -1;
	out->ip = ip;
	out->udp = udp;
	out->l3_off = sizeof(*eth);
	out->l4_off = sizeof(*eth) + ihl;
	return 0;
}

#endif /* SGBPF_PACKET_BPF_H */
