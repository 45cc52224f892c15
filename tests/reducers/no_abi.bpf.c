// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The two programs of a reduction written by hand, without the macro and so
 * without the ABI record: what an object built against an older sgbpf
 * looks like.  libsgbpf must refuse it.
 */
#include "vmlinux.h"
#include <sgbpf/aggregation.bpf.h>

SEC("xdp")
int no_abi(struct xdp_md *ctx)
{
	return XDP_DROP;
}

SEC("tc")
int no_abi_tc(struct __sk_buff *skb)
{
	return SGBPF_TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
