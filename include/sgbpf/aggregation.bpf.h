/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Writing an in-kernel reduction for sgbpf, once for both backends.
 *
 * An element-wise reduction is one line:
 *
 *	#include "vmlinux.h"
 *	#include <sgbpf/aggregation.bpf.h>
 *
 *	static __always_inline __u32 add(__u32 a, __u32 b) { return a + b; }
 *	SGBPF_ELEMENTWISE_REDUCER(my_sum, __u32, 0, add)
 *	char LICENSE[] SEC("license") = "Dual BSD/GPL";
 *
 * The combine function must be associative and commutative (partial
 * results are combined in whatever order replies and CPUs produce them),
 * and the identity must satisfy combine(identity, x) == x.  Build the
 * object with sgbpf_add_reduction() from sgbpf's CMake package, and load it
 * with sgbpf_service_opts.reduce_obj, for a UDP or a TCP service alike:
 * each backend loads only its own programs of the object and binds the
 * object's sgbpf_* maps to the service's.
 */
#ifndef SGBPF_AGGREGATION_BPF_H
#define SGBPF_AGGREGATION_BPF_H

#include <sgbpf/udp_aggregation.bpf.h>
#include <sgbpf/tcp_aggregation.bpf.h>

/*
 * SGBPF_ELEMENTWISE_REDUCER(NAME, TYPE, IDENTITY, COMBINE) defines, from one
 * COMBINE(acc, value) (a function or a function-like macro):
 *   - NAME and NAME_tc, the UDP backend's XDP and TC programs
 *     (udp_aggregation.bpf.h);
 *   - NAME_tcp, the TCP backend's sk_skb verdict program
 *     (tcp_aggregation.bpf.h);
 *   - NAME__sgbpf_abi, the record libsgbpf checks when it loads the object:
 *     the layout version the programs were built for, and sizeof(TYPE).
 */
#define SGBPF_ELEMENTWISE_REDUCER(NAME, TYPE, IDENTITY, COMBINE)			\
const volatile struct sgbpf_reducer_abi NAME##__sgbpf_abi = {				\
	.version = SGBPF_REDUCER_ABI,							\
	.elem_size = sizeof(TYPE),							\
};											\
SGBPF_UDP_ELEMENTWISE_REDUCER(NAME, TYPE, IDENTITY, COMBINE)				\
SGBPF_TCP_ELEMENTWISE_REDUCER(NAME##_tcp, TYPE, IDENTITY, COMBINE)

#endif /* SGBPF_AGGREGATION_BPF_H */
