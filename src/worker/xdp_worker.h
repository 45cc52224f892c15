/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The in-kernel reference worker (sgbpf worker --xdp): what its XDP program
 * and its loader share.  Included by xdp_worker.bpf.c (after vmlinux.h) and
 * by user space (after <linux/types.h>).
 *
 * Not part of libsgbpf: a load generator for tests and benchmarks.
 */
#ifndef SGBPF_XDP_WORKER_H
#define SGBPF_XDP_WORKER_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Listen ranges one program matches (repeated --listen). */
#define XDP_WORKER_MAX_RANGES 16

/* Reply contents; the same formulas as the user-space worker's (reply_gen.h). */
enum xdp_worker_reply {
	XDP_WORKER_VECTOR = 0,	/* element i = i */
	XDP_WORKER_SCALAR = 1,	/* one element equal to 1 */
	XDP_WORKER_ZEROS = 2,	/* 363 zeros */
};

/* One --listen range: address (network order; 0 = any) and ports (host order). */
struct xdp_worker_range {
	__u32 addr;
	__u16 port_lo;
	__u16 port_hi;
};

/* Counters, one copy per CPU (a per-CPU array of one entry). */
struct xdp_worker_stats {
	__u64 scatters;		/* well-formed scatters to a listened port */
	__u64 replies;		/* replies transmitted (XDP_TX) */
	__u64 malformed;	/* to a listened port but not a scatter: dropped */
	__u64 tx_errors;	/* the frame could not be grown: dropped */
	__u64 passed;		/* anything else: left to the stack untouched */
};

#endif /* SGBPF_XDP_WORKER_H */
