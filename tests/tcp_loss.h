/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Shared by tcp_loss.bpf.c and test_tcp_loss.c: the loss injector's map values. */
#ifndef SGBPF_TESTS_TCP_LOSS_H
#define SGBPF_TESTS_TCP_LOSS_H

enum loss_mode {
	LOSS_OFF = 0,
	LOSS_EVERY = 1,		/* drop every k-th data segment */
	LOSS_BURST = 2,		/* drop b consecutive data segments every k */
	LOSS_DUP = 3,		/* deliver every k-th data segment twice */
};

/* skb->mark of a duplicate on its second pass through the program. */
#define LOSS_MARK 0x5e6b10ccu

struct loss_cfg {
	__u32 mode;		/* enum loss_mode */
	__u32 k;		/* period, in data segments; 0: off */
	__u32 b;		/* LOSS_BURST: segments dropped per period (< k) */
	__u32 addr;		/* the workers' IPv4 address, network order */
	__u16 port;		/* the service's port, network order */
	__u16 pad;
};

struct loss_stats {
	__u64 segments;		/* data segments from the workers seen (first pass) */
	__u64 bytes;		/* their payload bytes */
	__u64 dropped;		/* of them dropped */
	__u64 dropped_bytes;	/* their payload bytes */
	__u64 duplicated;	/* clones sent back to ingress */
	__u64 dup_delivered;	/* clones seen again and passed */
	__u64 dup_failed;	/* bpf_clone_redirect() errors */
	__u64 gso;		/* skbs that carried more than one segment */
};

#endif
