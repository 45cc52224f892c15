// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * SK_LOOKUP steering for one TCP service: the SYN of each listed worker goes
 * to that worker's own listening socket, so that user space knows which
 * worker a connection belongs to by the listener that accepted it, and a
 * source that is not listed gets no socket at all.
 *
 * Attached to the network namespace through a bpf_link: several services
 * and foreign programs chain there, so anything that is not a TCP SYN to
 * this service's address and port is passed on untouched.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <sgbpf/tcp_state.h>

#define AF_INET 2
#define IPPROTO_TCP 6
#define BPF_SK_LOOKUP_F_NO_REUSEPORT (1ULL << 1)

/* Set before load: the service's address (network order) and port (host order). */
const volatile __u32 sgbpf_steer_addr;
const volatile __u16 sgbpf_steer_port;

/* Source endpoint -> worker index (the key into sgbpf_tcp_listeners). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);		/* sized by user space */
	__type(key, struct sgbpf_tcp_src);
	__type(value, __u32);
} sgbpf_tcp_workers SEC(".maps");

/* Worker index -> that worker's listening socket. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 1);		/* sized by user space */
	__type(key, __u32);
	__type(value, __u64);
} sgbpf_tcp_listeners SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, __SGBPF_TCP_STEER_STATS);
	__type(key, __u32);
	__type(value, __u64);
} sgbpf_tcp_steer_stats SEC(".maps");

static __always_inline void steer_stat_inc(__u32 which)
{
	__u64 *c = bpf_map_lookup_elem(&sgbpf_tcp_steer_stats, &which);

	if (c)
		*c += 1;	/* per-CPU: no other writer */
}

/* True when the lookup is for a connection to this service. */
static __always_inline bool is_ours(const struct bpf_sk_lookup *ctx)
{
	return ctx->family == AF_INET && ctx->protocol == IPPROTO_TCP &&
	       ctx->local_ip4 == sgbpf_steer_addr && ctx->local_port == sgbpf_steer_port;
}

SEC("sk_lookup")
int sgbpf_steer(struct bpf_sk_lookup *ctx)
{
	struct sgbpf_tcp_src src = {};
	struct bpf_sock *sk;
	__u32 *idx;
	long err;

	if (!is_ours(ctx))
		return SK_PASS;	/* not ours: the next program, or the normal lookup */

	src.addr = ctx->remote_ip4;
	src.port = (__u16)ctx->remote_port;	/* already network order */
	idx = bpf_map_lookup_elem(&sgbpf_tcp_workers, &src);
	if (!idx) {
		/* SK_DROP makes the lookup fail: the SYN is answered by a RST. */
		steer_stat_inc(SGBPF_TCP_REFUSED);
		return SK_DROP;
	}
	sk = bpf_map_lookup_elem(&sgbpf_tcp_listeners, idx);
	if (!sk) {
		steer_stat_inc(SGBPF_TCP_NO_LISTENER);
		return SK_DROP;
	}
	/*
	 * NO_REUSEPORT: the listener is the worker's identity; a reuseport
	 * group would re-balance the SYN onto another member.
	 */
	err = bpf_sk_assign(ctx, sk, BPF_SK_LOOKUP_F_NO_REUSEPORT);
	bpf_sk_release(sk);
	if (err) {
		steer_stat_inc(SGBPF_TCP_ASSIGN_FAILED);
		return SK_DROP;
	}
	steer_stat_inc(SGBPF_TCP_STEERED);
	return SK_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
