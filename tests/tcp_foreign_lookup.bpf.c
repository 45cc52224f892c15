// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A foreign SK_LOOKUP program, as another application on the host might
 * attach: every TCP SYN to port 8000 goes to the one socket in its map.
 * test_tcp_steer checks that sgbpf's steering and it work side by side.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} foreign_socks SEC(".maps");

SEC("sk_lookup")
int foreign_lookup(struct bpf_sk_lookup *ctx)
{
	struct bpf_sock *sk;
	__u32 zero = 0;
	long err;

	if (ctx->protocol != 6 || ctx->local_port != 8000)
		return SK_PASS;
	sk = bpf_map_lookup_elem(&foreign_socks, &zero);
	if (!sk)
		return SK_PASS;
	err = bpf_sk_assign(ctx, sk, 0);
	bpf_sk_release(sk);
	return err ? SK_DROP : SK_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
