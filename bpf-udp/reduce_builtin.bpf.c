// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Built-in reductions, written with the UDP half of the macro users have.  libsgbpf
 * loads only the one a service asks for (the others are not autoloaded).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <sgbpf/udp_aggregation.bpf.h>

#define OP_SUM(a, b) ((a) + (b))
#define OP_MIN(a, b) ((a) < (b) ? (a) : (b))
#define OP_MAX(a, b) ((a) > (b) ? (a) : (b))
#define OP_OR(a, b) ((a) | (b))
#define OP_AND(a, b) ((a) & (b))

SGBPF_UDP_ELEMENTWISE_REDUCER(sgbpf_reduce_sum_u32, __u32, 0, OP_SUM)
SGBPF_UDP_ELEMENTWISE_REDUCER(sgbpf_reduce_sum_u64, __u64, 0, OP_SUM)
SGBPF_UDP_ELEMENTWISE_REDUCER(sgbpf_reduce_sum_i32, __s32, 0, OP_SUM)
SGBPF_UDP_ELEMENTWISE_REDUCER(sgbpf_reduce_sum_i64, __s64, 0, OP_SUM)
SGBPF_UDP_ELEMENTWISE_REDUCER(sgbpf_reduce_min_u32, __u32, 0xffffffffu, OP_MIN)
SGBPF_UDP_ELEMENTWISE_REDUCER(sgbpf_reduce_min_u64, __u64, 0xffffffffffffffffull, OP_MIN)
SGBPF_UDP_ELEMENTWISE_REDUCER(sgbpf_reduce_min_i32, __s32, 0x7fffffff, OP_MIN)
SGBPF_UDP_ELEMENTWISE_REDUCER(sgbpf_reduce_min_i64, __s64, 0x7fffffffffffffffll, OP_MIN)
SGBPF_UDP_ELEMENTWISE_REDUCER(sgbpf_reduce_max_u32, __u32, 0, OP_MAX)
SGBPF_UDP_ELEMENTWISE_REDUCER(sgbpf_reduce_max_u64, __u64, 0, OP_MAX)
SGBPF_UDP_ELEMENTWISE_REDUCER(sgbpf_reduce_max_i32, __s32, (-0x7fffffff - 1), OP_MAX)
SGBPF_UDP_ELEMENTWISE_REDUCER(sgbpf_reduce_max_i64, __s64, (-0x7fffffffffffffffll - 1), OP_MAX)
SGBPF_UDP_ELEMENTWISE_REDUCER(sgbpf_reduce_or_u32, __u32, 0, OP_OR)
SGBPF_UDP_ELEMENTWISE_REDUCER(sgbpf_reduce_and_u32, __u32, 0xffffffffu, OP_AND)
SGBPF_UDP_ELEMENTWISE_REDUCER(sgbpf_reduce_or_u64, __u64, 0, OP_OR)
SGBPF_UDP_ELEMENTWISE_REDUCER(sgbpf_reduce_and_u64, __u64, 0xffffffffffffffffull, OP_AND)

char LICENSE[] SEC("license") = "Dual BSD/GPL";
