/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Maps of the UDP backend, as BPF code declares them.  The built-in programs
 * and every custom reduction include this file; libsgbpf makes a custom
 * reduction's maps point at the service's own (bpf_map__reuse_fd by name),
 * so the names and layouts here are part of the reduction ABI.
 *
 * Sizes are placeholders: libsgbpf sets max_entries before loading.
 */
#ifndef SGBPF_UDP_MAPS_BPF_H
#define SGBPF_UDP_MAPS_BPF_H

#include <bpf/bpf_helpers.h>
#include <sgbpf/udp_state.h>

/* In-flight requests, indexed by req_id & slot_mask; mmap'ed by libsgbpf. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sgbpf_slot);
} sgbpf_slots SEC(".maps") __weak;

/*
 * Chunks 1.. of multi-packet results (struct sgbpf_chunk), max_packets - 1
 * rows per slot; one unused row when max_packets is 1.  mmap'ed by libsgbpf.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sgbpf_chunk);
} sgbpf_chunks SEC(".maps") __weak;

/* Multi-packet replies in progress: slot * nworkers + worker (max_packets > 1). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sgbpf_reply);
} sgbpf_replies SEC(".maps") __weak;

/*
 * Per-CPU partial results: row slot * max_packets + seq, one per packet of
 * a reply (max_packets 1: indexed like sgbpf_slots).
 */
#ifndef SGBPF_BENCH_SINGLE_LOCK
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sgbpf_partial);
} sgbpf_partials SEC(".maps") __weak;
#else
/*
 * Built only for bench/bench_fold_scaling.c: one partial per row shared by
 * every CPU and folded under its spin lock, the original system's design,
 * to measure what the per-CPU partials buy.
 */
struct sgbpf_locked_partial {
	struct bpf_spin_lock lock;
	__u32 pad;
	struct sgbpf_partial p;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sgbpf_locked_partial);
} sgbpf_partials SEC(".maps") __weak;
#endif

/* Gather -> reduction hand-over, and a scratch copy of the reply body. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sgbpf_fold);
} sgbpf_fold_ctx SEC(".maps") __weak;

struct sgbpf_body_buf {
	__u8 data[SGBPF_RESULT_BYTES];
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sgbpf_body_buf);
} sgbpf_body_scratch SEC(".maps") __weak;

/* Service configuration, one element, written once before attaching. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sgbpf_config);
} sgbpf_cfg SEC(".maps") __weak;

/* Counters, enum sgbpf_stat, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, __SGBPF_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} sgbpf_stats SEC(".maps") __weak;

/* Completion events (SGBPF_NOTIFY_RINGBUF). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);
} sgbpf_events SEC(".maps") __weak;

/* Whether user space is awake (struct sgbpf_wake), read by the completion. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct sgbpf_wake);
} sgbpf_wake SEC(".maps") __weak;

/* Worker list for the fan-out, and reply source -> worker index. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SGBPF_STATE_MAX_WORKERS);
	__type(key, __u32);
	__type(value, struct sgbpf_worker);
} sgbpf_workers SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SGBPF_STATE_MAX_WORKERS);
	__type(key, struct sgbpf_worker_key);
	__type(value, __u32);
} sgbpf_worker_index SEC(".maps") __weak;

/*
 * The service's reduction, tail-called by the gather program (index 0): the
 * XDP variant from the XDP gather, the TC variant from the TC gather.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} sgbpf_reducer SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} sgbpf_reducer_tc SEC(".maps") __weak;

static __always_inline void sgbpf_stat_inc(__u32 which)
{
	__u64 *c = bpf_map_lookup_elem(&sgbpf_stats, &which);

	if (c)
		*c += 1;	/* per-CPU: no other writer */
}

static __always_inline const struct sgbpf_config *sgbpf_config_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&sgbpf_cfg, &zero);
}

#endif /* SGBPF_UDP_MAPS_BPF_H */
