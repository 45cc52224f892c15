/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Crafted packets for BPF_PROG_TEST_RUN: Ethernet + IPv4 + UDP (or TCP, or
 * ARP) frames with correct checksums, and the sgbpf messages they carry.
 *
 * Typical use:
 *
 *	struct pkt p;
 *	uint8_t msg[SGBPF_UDP_MSG_LEN];
 *	struct sgbpf_hdr h = pkt_gather_hdr(42, 8);
 *	uint32_t len = pkt_msg(msg, sizeof(msg), &h, body, 8, SGBPF_UDP_MSG_LEN);
 *	const struct pkt_flow f = { .saddr = worker_ip, .daddr = coord_ip,
 *				    .sport = 9000, .dport = 7000 };
 *
 *	pkt_udp(&p, &f, msg, len, 0);
 *	... bpf_prog_test_run_opts(fd, data_in = p.data, data_size_in = p.len)
 *	ck_assert(pkt_ip_csum_ok(&out) && pkt_udp_csum_ok(&out));
 *
 * Addresses are IPv4 in network byte order; ports are in host byte order
 * (the builders convert).  Every function that can fail returns a negative
 * errno (-EMSGSIZE when a buffer is too small) and touches nothing else.
 * Only the C library and kernel UAPI headers are used, so any test can link
 * pkt_build.c.
 */
#ifndef SGBPF_TESTS_PKT_BUILD_H
#define SGBPF_TESTS_PKT_BUILD_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>

#include <sgbpf/protocol.h>

/* Room for the largest frame a test crafts: a full 1500-byte MTU and more. */
#define PKT_MAX 2048

/*
 * One frame, starting with its Ethernet header.  data sits 2 bytes into an
 * aligned struct, as the kernel aligns its buffers (NET_IP_ALIGN), so that
 * the IPv4 header behind the 14-byte Ethernet header is 4-byte aligned and
 * struct iphdr may be used in place.
 */
struct pkt {
	uint8_t align_ip[2];
	uint8_t data[PKT_MAX];
	uint32_t len;
} __attribute__((aligned(8)));

/* The two ends of a datagram or segment. */
struct pkt_flow {
	uint32_t saddr, daddr;	/* network order */
	uint16_t sport, dport;	/* host order */
};

enum pkt_flags {
	PKT_NO_UDP_CSUM = 1 << 0,	/* UDP checksum 0 ("none", legal over IPv4) */
	PKT_IP_MF = 1 << 1,		/* first fragment: More Fragments set */
	PKT_IP_FRAG_LATER = 1 << 2,	/* a later fragment: non-zero offset */
	PKT_IP_OPTIONS = 1 << 3,	/* 4 bytes of IPv4 options (ihl 6) */
	PKT_IP_DF = 1 << 4,		/* Don't Fragment, as Linux sends */
};

/* Ethernet + IPv4 + UDP frame around payload; the checksums are correct. */
int pkt_udp(struct pkt *p, const struct pkt_flow *f, const void *payload, uint32_t len,
	    unsigned int flags);

/* Ethernet + IPv4 + TCP (20-byte header, PSH|ACK) frame around payload. */
int pkt_tcp(struct pkt *p, const struct pkt_flow *f, const void *payload, uint32_t len);

/* Ethernet ARP request: who has tip? tell sip. */
int pkt_arp(struct pkt *p, uint32_t sip, uint32_t tip);

/* A gather reply header: num_pks 1, seq_num 0, no flags. */
struct sgbpf_hdr pkt_gather_hdr(uint32_t req_id, uint32_t body_len);

/*
 * Writes an sgbpf message to buf: the header h (host-order fields, written
 * little-endian), then body_bytes of body (zeros when body is NULL), then
 * zeros up to total.  total == 0 means no padding; a total below the
 * header's 18 bytes cuts the header short.  Returns the message length.
 * body_bytes need not equal h->body_len: that is how lying headers are made.
 */
int pkt_msg(void *buf, uint32_t cap, const struct sgbpf_hdr *h, const void *body,
	    uint32_t body_bytes, uint32_t total);

/*
 * Writes a scatter message as libsgbpf sends it to its TC program: header
 * (msg_type SCATTER, num_pks 1) and body, nothing appended (the completion
 * policy is in the slot's 'scatter' word).  Returns the length.
 */
int pkt_scatter_msg(void *buf, uint32_t cap, uint32_t req_id, const void *body, uint32_t body_len);

/* Headers of a frame built here (or returned by a program); NULL when cut short. */
struct iphdr *pkt_iph(const struct pkt *p);
struct udphdr *pkt_udph(const struct pkt *p);
/* The UDP payload and its length according to the UDP header. */
uint8_t *pkt_udp_payload(const struct pkt *p, uint32_t *len);

/* One's-complement sum of data into sum (16-bit words in network order). */
uint32_t pkt_csum_add(uint32_t sum, const void *data, uint32_t len);
/* Folds a sum into the 16-bit checksum field value, network order. */
uint16_t pkt_csum_fold(uint32_t sum);

/* True when the IPv4 header checksum of p verifies. */
bool pkt_ip_csum_ok(const struct pkt *p);
/*
 * True when the UDP checksum of p verifies over the pseudo-header, the
 * header and udp->len bytes.  False for a zero ("no checksum") field.
 */
bool pkt_udp_csum_ok(const struct pkt *p);
/* Recomputes and stores the IPv4 header checksum (after editing the header). */
void pkt_fix_ip_csum(struct pkt *p);

#endif /* SGBPF_TESTS_PKT_BUILD_H */
