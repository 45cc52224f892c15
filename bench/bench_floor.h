/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What bench_floor.bpf.c and bench_udp_floor.c share. */
#ifndef SGBPF_BENCH_FLOOR_H
#define SGBPF_BENCH_FLOOR_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Slots of the per-request counters: at least BENCH_MAX_INFLIGHT, a power of two. */
#define BENCH_FLOOR_SLOTS 4096

/* One outstanding request: its id and the replies seen so far. */
struct bench_floor_slot {
	__u32 req_id;
	__u32 replies;
};

#endif /* SGBPF_BENCH_FLOOR_H */
