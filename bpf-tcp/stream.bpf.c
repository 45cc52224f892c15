// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The TCP stream program: sk_skb verdict (no stream parser) on the sockmap
 * of accepted worker connections.  One program per reduction, each with the
 * whole parser inlined; libsgbpf loads only the one a service asks for.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <sgbpf/tcp_aggregation.bpf.h>

#define OP_SUM(a, b) ((a) + (b))
#define OP_MIN(a, b) ((a) < (b) ? (a) : (b))
#define OP_MAX(a, b) ((a) > (b) ? (a) : (b))
#define OP_OR(a, b) ((a) | (b))
#define OP_AND(a, b) ((a) & (b))

/* Count only: replies are framed and counted, bodies skipped. */
static long sgbpf_tcp_count__step(__u32 i, void *arg)
{
	struct sgbpf_tcp_walk *w = arg;
	struct sgbpf_tcp_piece pc = {};

	if (sgbpf_tcp_step(w, &pc, 0) == SGBPF_TCP_STEP_DONE)
		return 1;
	return sgbpf_tcp_step_end(w, 0);
}

SEC("sk_skb")
int sgbpf_tcp_count(struct __sk_buff *skb)
{
	return sgbpf_tcp_verdict(skb, sgbpf_tcp_count__step);
}

SGBPF_TCP_ELEMENTWISE_REDUCER(sgbpf_tcp_sum_u32, __u32, 0, OP_SUM)
SGBPF_TCP_ELEMENTWISE_REDUCER(sgbpf_tcp_sum_u64, __u64, 0, OP_SUM)
SGBPF_TCP_ELEMENTWISE_REDUCER(sgbpf_tcp_min_u32, __u32, 0xffffffffu, OP_MIN)
SGBPF_TCP_ELEMENTWISE_REDUCER(sgbpf_tcp_min_u64, __u64, 0xffffffffffffffffull, OP_MIN)
SGBPF_TCP_ELEMENTWISE_REDUCER(sgbpf_tcp_min_i32, __s32, 0x7fffffff, OP_MIN)
SGBPF_TCP_ELEMENTWISE_REDUCER(sgbpf_tcp_min_i64, __s64, 0x7fffffffffffffffll, OP_MIN)
SGBPF_TCP_ELEMENTWISE_REDUCER(sgbpf_tcp_max_u32, __u32, 0, OP_MAX)
SGBPF_TCP_ELEMENTWISE_REDUCER(sgbpf_tcp_max_u64, __u64, 0, OP_MAX)
SGBPF_TCP_ELEMENTWISE_REDUCER(sgbpf_tcp_max_i32, __s32, (-0x7fffffff - 1), OP_MAX)
SGBPF_TCP_ELEMENTWISE_REDUCER(sgbpf_tcp_max_i64, __s64, (-0x7fffffffffffffffll - 1), OP_MAX)
SGBPF_TCP_ELEMENTWISE_REDUCER(sgbpf_tcp_or_u32, __u32, 0, OP_OR)
SGBPF_TCP_ELEMENTWISE_REDUCER(sgbpf_tcp_and_u32, __u32, 0xffffffffu, OP_AND)
SGBPF_TCP_ELEMENTWISE_REDUCER(sgbpf_tcp_or_u64, __u64, 0, OP_OR)
SGBPF_TCP_ELEMENTWISE_REDUCER(sgbpf_tcp_and_u64, __u64, 0xffffffffffffffffull, OP_AND)

char LICENSE[] SEC("license") = "Dual BSD/GPL";
