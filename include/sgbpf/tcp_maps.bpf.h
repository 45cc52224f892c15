/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Maps and configuration of the TCP stream program (bpf-tcp/stream.bpf.c).
 * In a header of their own so that every verdict program made with
 * SGBPF_TCP_ELEMENTWISE_REDUCER() -- the built-ins, and a user's own object
 * whose maps are reused from the service's -- sees the same ones.
 */
#ifndef SGBPF_TCP_MAPS_BPF_H
#define SGBPF_TCP_MAPS_BPF_H

#include <bpf/bpf_helpers.h>
#include <sgbpf/protocol.h>
#include <sgbpf/tcp_state.h>

/* Set before load by src/lib/tcp/stream.c. */
const volatile __u32 sgbpf_tcp_slot_mask;	/* slots - 1, slots a power of two */
const volatile __u32 sgbpf_tcp_chunks_per_slot;	/* result chunks of one slot */
const volatile __u32 sgbpf_tcp_body_max;	/* largest body_len accepted */
const volatile __u32 sgbpf_tcp_fate_pass;	/* 1: SK_PASS what was parsed (fate allow) */
const volatile __u32 sgbpf_tcp_ctrl_notes;	/* 1: completions go to the control socket */

/* Request slots; user space maps them (struct sgbpf_tcp_slot). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);		/* sized by user space */
	__type(key, __u32);
	__type(value, struct sgbpf_tcp_slot);
} sgbpf_tcp_slots SEC(".maps");

/*
 * Results: slot s owns entries [s * chunks_per_slot, (s + 1) * chunks_per_slot),
 * one contiguous area of the mmap per slot, as large as the largest reply.
 */
struct sgbpf_tcp_chunk {
	__u8 data[SGBPF_TCP_CHUNK];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);		/* sized by user space */
	__type(key, __u32);
	__type(value, struct sgbpf_tcp_chunk);
} sgbpf_tcp_results SEC(".maps");

/*
 * One lock per result chunk, with the slot generation the chunk's contents
 * belong to.  An mmap-able map cannot hold a spin lock, hence a map apart.
 * Folds of different workers into one request contend only when they are
 * in the same chunk at the same moment.
 */
struct sgbpf_tcp_lock {
	struct bpf_spin_lock lock;
	__u32 pad;
	__u64 gen;	/* the chunk holds data of this slot generation */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);		/* sized like sgbpf_tcp_results */
	__type(key, __u32);
	__type(value, struct sgbpf_tcp_lock);
} sgbpf_tcp_locks SEC(".maps");

/* Socket cookie -> parse state; created by user space before the sockmap insert. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * SGBPF_TCP_MAX_WORKERS);
	__type(key, __u64);
	__type(value, struct sgbpf_tcp_conn);
} sgbpf_tcp_conns SEC(".maps");

/*
 * Worker index -> accepted socket; the verdict program is attached here.
 * Key SGBPF_TCP_CTRL_KEY holds the control socket of control-fd delivery.
 */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, SGBPF_TCP_MAX_WORKERS + 1);
	__type(key, __u32);
	__type(value, __u64);
} sgbpf_tcp_socks SEC(".maps");

/* Bytes of one chunk read from the skb, at their offset within the chunk. */
struct sgbpf_tcp_scratch {
	/* Twice a chunk: the verifier then bounds offset (< a chunk) + length (<= a chunk). */
	__u8 data[2 * SGBPF_TCP_CHUNK];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sgbpf_tcp_scratch);
} sgbpf_tcp_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} sgbpf_tcp_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, __SGBPF_TCP_STREAM_STATS);
	__type(key, __u32);
	__type(value, __u64);
} sgbpf_tcp_stream_stats SEC(".maps");

static __always_inline void sgbpf_tcp_stat_add(__u32 which, __u64 n)
{
	__u64 *c = bpf_map_lookup_elem(&sgbpf_tcp_stream_stats, &which);

	if (c)
		*c += n;	/* per-CPU: no other writer */
}

#endif /* SGBPF_TCP_MAPS_BPF_H */
