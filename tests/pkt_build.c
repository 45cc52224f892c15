// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Crafted frames for BPF_PROG_TEST_RUN; see pkt_build.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include <linux/tcp.h>

#include <sgbpf/udp_state.h>

#include "pkt_build.h"

#define IP_OPT_NOP 1
#define ARP_OP_REQUEST 1
#define ARP_HW_ETHER 1

/* Locally administered addresses: nothing real answers to them. */
static const uint8_t mac_dst[ETH_ALEN] = { 0x02, 0x53, 0x47, 0x00, 0x00, 0x01 };
static const uint8_t mac_src[ETH_ALEN] = { 0x02, 0x53, 0x47, 0x00, 0x00, 0x02 };

/* An ARP packet for IPv4 over Ethernet, as on the wire (no padding). */
struct arp_ipv4 {
	uint16_t htype, ptype;
	uint8_t hlen, plen;
	uint16_t op;
	uint8_t sha[ETH_ALEN];
	uint32_t spa;
	uint8_t tha[ETH_ALEN];
	uint32_t tpa;
} __attribute__((packed));

uint32_t pkt_csum_add(uint32_t sum, const void *data, uint32_t len)
{
	const uint8_t *b = data;
	uint32_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)b[i] << 8 | b[i + 1];
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	/* Fold as we go so that chained calls never overflow. */
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

uint16_t pkt_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

static void put_eth(struct pkt *p, uint16_t proto)
{
	struct ethhdr *eth = (struct ethhdr *)p->data;

	memcpy(eth->h_dest, mac_dst, ETH_ALEN);
	memcpy(eth->h_source, mac_src, ETH_ALEN);
	eth->h_proto = htons(proto);
}

/* Writes the IPv4 header; returns its length (20 or 24 with options). */
static uint32_t put_ip(struct pkt *p, const struct pkt_flow *f, uint8_t proto, uint32_t l4_len,
		       unsigned int flags)
{
	struct iphdr *ip = (struct iphdr *)(p->data + ETH_HLEN);
	uint32_t ihl = flags & PKT_IP_OPTIONS ? 24 : 20;
	uint16_t frag = 0;

	if (flags & PKT_IP_DF)
		frag |= 0x4000;
	if (flags & PKT_IP_MF)
		frag |= 0x2000;
	if (flags & PKT_IP_FRAG_LATER)
		frag |= 1480 / 8;
	memset(ip, 0, ihl);
	ip->version = 4;
	ip->ihl = ihl / 4;
	ip->tot_len = htons(ihl + l4_len);
	ip->id = htons(0x5347);
	ip->frag_off = htons(frag);
	ip->ttl = 64;
	ip->protocol = proto;
	ip->saddr = f->saddr;
	ip->daddr = f->daddr;
	if (ihl > 20)
		memset(ip + 1, IP_OPT_NOP, ihl - 20);
	ip->check = pkt_csum_fold(pkt_csum_add(0, ip, ihl));
	return ihl;
}

/* Sum of the IPv4 pseudo-header for an L4 segment of len bytes. */
static uint32_t pseudo_sum(const struct iphdr *ip, uint32_t len)
{
	uint8_t ph[12];
	uint16_t l = htons(len);

	memcpy(ph, &ip->saddr, 4);
	memcpy(ph + 4, &ip->daddr, 4);
	ph[8] = 0;
	ph[9] = ip->protocol;
	memcpy(ph + 10, &l, 2);
	return pkt_csum_add(0, ph, sizeof(ph));
}

int pkt_udp(struct pkt *p, const struct pkt_flow *f, const void *payload, uint32_t len,
	    unsigned int flags)
{
	uint32_t ihl = flags & PKT_IP_OPTIONS ? 24 : 20, l4_len = sizeof(struct udphdr) + len;
	struct udphdr *udp;
	struct iphdr *ip;
	uint16_t check;

	if (ETH_HLEN + ihl + l4_len > sizeof(p->data) || l4_len > 0xffff)
		return -EMSGSIZE;
	memset(p, 0, sizeof(*p));
	put_eth(p, ETH_P_IP);
	ihl = put_ip(p, f, IPPROTO_UDP, l4_len, flags);
	ip = (struct iphdr *)(p->data + ETH_HLEN);
	udp = (struct udphdr *)((uint8_t *)ip + ihl);
	udp->source = htons(f->sport);
	udp->dest = htons(f->dport);
	udp->len = htons(l4_len);
	udp->check = 0;
	if (len)
		memcpy(udp + 1, payload, len);
	if (!(flags & PKT_NO_UDP_CSUM)) {
		check = pkt_csum_fold(pkt_csum_add(pseudo_sum(ip, l4_len), udp, l4_len));
		/* A computed zero is sent as all ones: zero means "no checksum". */
		udp->check = check ? check : 0xffff;
	}
	p->len = ETH_HLEN + ihl + l4_len;
	return 0;
}

int pkt_tcp(struct pkt *p, const struct pkt_flow *f, const void *payload, uint32_t len)
{
	uint32_t l4_len = sizeof(struct tcphdr) + len, ihl;
	struct tcphdr *tcp;
	struct iphdr *ip;

	if (ETH_HLEN + 20 + l4_len > sizeof(p->data))
		return -EMSGSIZE;
	memset(p, 0, sizeof(*p));
	put_eth(p, ETH_P_IP);
	ihl = put_ip(p, f, IPPROTO_TCP, l4_len, PKT_IP_DF);
	ip = (struct iphdr *)(p->data + ETH_HLEN);
	tcp = (struct tcphdr *)((uint8_t *)ip + ihl);
	tcp->source = htons(f->sport);
	tcp->dest = htons(f->dport);
	tcp->seq = htonl(1000);
	tcp->ack_seq = htonl(2000);
	tcp->doff = sizeof(*tcp) / 4;
	tcp->psh = 1;
	tcp->ack = 1;
	tcp->window = htons(65535);
	if (len)
		memcpy(tcp + 1, payload, len);
	tcp->check = pkt_csum_fold(pkt_csum_add(pseudo_sum(ip, l4_len), tcp, l4_len));
	p->len = ETH_HLEN + ihl + l4_len;
	return 0;
}

int pkt_arp(struct pkt *p, uint32_t sip, uint32_t tip)
{
	struct arp_ipv4 *arp;

	memset(p, 0, sizeof(*p));
	put_eth(p, ETH_P_ARP);
	arp = (struct arp_ipv4 *)(p->data + ETH_HLEN);
	arp->htype = htons(ARP_HW_ETHER);
	arp->ptype = htons(ETH_P_IP);
	arp->hlen = ETH_ALEN;
	arp->plen = 4;
	arp->op = htons(ARP_OP_REQUEST);
	memcpy(arp->sha, mac_src, ETH_ALEN);
	arp->spa = sip;
	arp->tpa = tip;
	p->len = ETH_HLEN + sizeof(*arp);
	return 0;
}

struct sgbpf_hdr pkt_gather_hdr(uint32_t req_id, uint32_t body_len)
{
	return (struct sgbpf_hdr){
		.req_id = req_id,
		.seq_num = 0,
		.num_pks = 1,
		.body_len = body_len,
		.msg_type = SGBPF_MSG_GATHER,
	};
}

int pkt_msg(void *buf, uint32_t cap, const struct sgbpf_hdr *h, const void *body,
	    uint32_t body_bytes, uint32_t total)
{
	uint32_t full = SGBPF_HDR_LEN + body_bytes;
	struct sgbpf_hdr le = {
		.req_id = sgbpf_le32(h->req_id),
		.seq_num = sgbpf_le32(h->seq_num),
		.num_pks = sgbpf_le32(h->num_pks),
		.body_len = sgbpf_le32(h->body_len),
		.msg_type = h->msg_type,
		.flags = h->flags,
	};
	uint8_t *b = buf;
	uint32_t len;

	len = total ? total : full;
	if (len > cap)
		return -EMSGSIZE;
	memset(b, 0, len);
	if (len < SGBPF_HDR_LEN) {
		memcpy(b, &le, len);
		return len;
	}
	memcpy(b, &le, SGBPF_HDR_LEN);
	if (body_bytes > len - SGBPF_HDR_LEN)
		body_bytes = len - SGBPF_HDR_LEN;
	if (body && body_bytes)
		memcpy(b + SGBPF_HDR_LEN, body, body_bytes);
	return len;
}

int pkt_scatter_msg(void *buf, uint32_t cap, uint32_t req_id, const void *body, uint32_t body_len)
{
	struct sgbpf_hdr h = {
		.req_id = req_id,
		.num_pks = 1,
		.body_len = body_len,
		.msg_type = SGBPF_MSG_SCATTER,
	};

	return pkt_msg(buf, cap, &h, body, body_len, 0);
}

struct iphdr *pkt_iph(const struct pkt *p)
{
	const struct ethhdr *eth = (const struct ethhdr *)p->data;
	struct iphdr *ip = (struct iphdr *)(p->data + ETH_HLEN);

	if (p->len < ETH_HLEN + sizeof(*ip) || eth->h_proto != htons(ETH_P_IP))
		return NULL;
	if (ip->ihl < 5 || p->len < ETH_HLEN + ip->ihl * 4u)
		return NULL;
	return ip;
}

struct udphdr *pkt_udph(const struct pkt *p)
{
	struct iphdr *ip = pkt_iph(p);
	uint32_t off;

	if (!ip || ip->protocol != IPPROTO_UDP)
		return NULL;
	off = ETH_HLEN + ip->ihl * 4u;
	if (p->len < off + sizeof(struct udphdr))
		return NULL;
	return (struct udphdr *)(p->data + off);
}

uint8_t *pkt_udp_payload(const struct pkt *p, uint32_t *len)
{
	struct udphdr *udp = pkt_udph(p);
	uint32_t room, ulen;

	if (!udp)
		return NULL;
	room = p->len - (uint32_t)((uint8_t *)(udp + 1) - p->data);
	ulen = ntohs(udp->len);
	if (ulen < sizeof(*udp) || ulen - sizeof(*udp) > room)
		return NULL;
	*len = ulen - sizeof(*udp);
	return (uint8_t *)(udp + 1);
}

bool pkt_ip_csum_ok(const struct pkt *p)
{
	const struct iphdr *ip = pkt_iph(p);

	return ip && pkt_csum_fold(pkt_csum_add(0, ip, ip->ihl * 4u)) == 0;
}

bool pkt_udp_csum_ok(const struct pkt *p)
{
	const struct iphdr *ip = pkt_iph(p);
	const struct udphdr *udp = pkt_udph(p);
	uint32_t len;

	if (!ip || !udp || udp->check == 0 || !pkt_udp_payload(p, &len))
		return false;
	len += sizeof(*udp);
	return pkt_csum_fold(pkt_csum_add(pseudo_sum(ip, len), udp, len)) == 0;
}

void pkt_fix_ip_csum(struct pkt *p)
{
	struct iphdr *ip = pkt_iph(p);

	if (!ip)
		return;
	ip->check = 0;
	ip->check = pkt_csum_fold(pkt_csum_add(0, ip, ip->ihl * 4u));
}
