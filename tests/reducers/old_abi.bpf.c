// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A reduction whose record names another ABI version: libsgbpf must refuse it. */
#include "vmlinux.h"
#include <sgbpf/aggregation.bpf.h>

const volatile struct sgbpf_reducer_abi old_abi__sgbpf_abi = {
	.version = SGBPF_REDUCER_ABI - 1,
	.elem_size = 4,
};

SEC("xdp")
int old_abi(struct xdp_md *ctx)
{
	return XDP_DROP;
}

SEC("tc")
int old_abi_tc(struct __sk_buff *skb)
{
	return SGBPF_TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
