/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * sgbpf wire format.
 *
 * Every message, over UDP or inside a TCP byte stream, starts with an
 * 18-byte packed little-endian header followed by body_len bytes of body.
 * Over UDP the historic layout pads each message to 1472 bytes (a 1500-byte
 * MTU minus the IPv4 and UDP headers): a 1454-byte body holding 363 u32
 * elements.  Shorter datagrams whose body_len says so are accepted too.
 *
 * This header is included by BPF programs (after vmlinux.h) and by
 * user-space C code (after <linux/types.h>), so it uses only __u8/__u32.
 * docs/protocol.md has the byte-offset table.
 */
#ifndef SGBPF_PROTOCOL_H
#define SGBPF_PROTOCOL_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

enum sgbpf_msg_type {
	SGBPF_MSG_SCATTER = 0,		/* coordinator -> worker request */
	SGBPF_MSG_GATHER = 1,		/* worker -> coordinator reply */
	SGBPF_MSG_ALLGATHER = 2,	/* reduced result broadcast back */
};

/* Bits of sgbpf_hdr.flags. */
enum sgbpf_msg_flags {
	/*
	 * Set by the kernel on the datagram delivered to a service's control
	 * socket: the request named by req_id has completed.
	 */
	SGBPF_FLAG_COMPLETE = 1 << 0,
	/*
	 * Set by the coordinator on a request it sends again, with the same
	 * req_id, to the workers that have not answered it yet (a re-scatter,
	 * sgbpf_scatter_opts.retry_us).  Workers may ignore it: an answer to
	 * either copy counts once.
	 */
	SGBPF_FLAG_RETRY = 1 << 1,
};

struct sgbpf_hdr {
	__u32 req_id;		/* offset 0: request id, echoed by workers */
	__u32 seq_num;		/* offset 4: packet index within one message */
	__u32 num_pks;		/* offset 8: packets in this message */
	__u32 body_len;		/* offset 12: bytes of body that are meaningful */
	__u8 msg_type;		/* offset 16: enum sgbpf_msg_type */
	__u8 flags;		/* offset 17: enum sgbpf_msg_flags */
} __attribute__((packed));

#define SGBPF_HDR_LEN		18u
/* IPv4 over a 1500-byte MTU leaves 1472 bytes of UDP payload. */
#define SGBPF_UDP_MSG_LEN	1472u
#define SGBPF_UDP_BODY_MAX	(SGBPF_UDP_MSG_LEN - SGBPF_HDR_LEN)	/* 1454 */
#define SGBPF_UDP_BODY_U32	(SGBPF_UDP_BODY_MAX / 4)		/* 363 */
#define SGBPF_UDP_BODY_U64	(SGBPF_UDP_BODY_MAX / 8)		/* 181 */

/* A whole padded UDP message, the layout the original workers send. */
struct sgbpf_udp_msg {
	struct sgbpf_hdr hdr;
	__u8 body[SGBPF_UDP_BODY_MAX];
} __attribute__((packed));

#define SGBPF_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
SGBPF_STATIC_ASSERT(sizeof(struct sgbpf_hdr) == 18, "header is 18 bytes");
SGBPF_STATIC_ASSERT(__builtin_offsetof(struct sgbpf_hdr, req_id) == 0, "req_id at 0");
SGBPF_STATIC_ASSERT(__builtin_offsetof(struct sgbpf_hdr, seq_num) == 4, "seq_num at 4");
SGBPF_STATIC_ASSERT(__builtin_offsetof(struct sgbpf_hdr, num_pks) == 8, "num_pks at 8");
SGBPF_STATIC_ASSERT(__builtin_offsetof(struct sgbpf_hdr, body_len) == 12, "body_len at 12");
SGBPF_STATIC_ASSERT(__builtin_offsetof(struct sgbpf_hdr, msg_type) == 16, "msg_type at 16");
SGBPF_STATIC_ASSERT(__builtin_offsetof(struct sgbpf_hdr, flags) == 17, "flags at 17");
SGBPF_STATIC_ASSERT(sizeof(struct sgbpf_udp_msg) == SGBPF_UDP_MSG_LEN, "UDP message is 1472 bytes");
SGBPF_STATIC_ASSERT(SGBPF_UDP_BODY_U32 == 363, "363 u32 elements per UDP body");

/*
 * The fields are little-endian on the wire.  Both supported targets (x86_64
 * and the bpfel BPF target) are little-endian, so these are identities there;
 * they keep big-endian ports honest.
 */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define sgbpf_le32(x) __builtin_bswap32(x)
#else
#define sgbpf_le32(x) (x)
#endif

#endif /* SGBPF_PROTOCOL_H */
