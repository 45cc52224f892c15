/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kernel state of the UDP backend: every structure that crosses the boundary
 * between the BPF programs (bpf-udp/, custom reductions) and libsgbpf.
 * Included by both sides; docs/architecture.md explains each field's life.
 *
 * Applications do not use this directly: custom reductions include
 * <sgbpf/aggregation.bpf.h>, which hides it behind a few helpers.
 */
#ifndef SGBPF_UDP_STATE_H
#define SGBPF_UDP_STATE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif
#include <sgbpf/protocol.h>

#define SGBPF_STATE_MAX_WORKERS	1024u
#define SGBPF_SEEN_WORDS	(SGBPF_STATE_MAX_WORKERS / 32)
/* Room for one reduced body; a multiple of 8 large enough for 363 u32. */
#define SGBPF_RESULT_BYTES	1456u
#define SGBPF_MAX_CPUS		512u
/*
 * Most packets of one multi-packet reply (sgbpf_service_opts.max_packets):
 * a worker's received packets are one 32-bit bitmap in a tagged word.
 */
#define SGBPF_MAX_PACKETS	32u

/*
 * Status of a request slot, in the low 32 bits of sgbpf_slot.state; the high
 * 32 bits hold the request id the status belongs to.  Tagging every shared
 * word with the request id is what keeps a late reply from touching a newer
 * request that reuses the slot: its compare-and-swap simply fails.
 */
enum sgbpf_slot_status {
	SGBPF_SLOT_FREE = 0,
	SGBPF_SLOT_ACTIVE = 1,		/* scattered, replies are folded */
	SGBPF_SLOT_MERGING = 2,		/* a CPU is writing the result */
	SGBPF_SLOT_COMPLETE = 3,	/* result ready */
	SGBPF_SLOT_EXPIRED = 4,		/* user space gave up on it */
};

#define SGBPF_TAG(req_id, low)	(((__u64)(req_id) << 32) | (__u32)(low))
#define SGBPF_TAG_REQ(word)	((__u32)((word) >> 32))
#define SGBPF_TAG_LOW(word)	((__u32)(word))

/*
 * sgbpf_slot.tickets: request id (bits 63..32), replies folded (31..16),
 * replies admitted (15..0).  A reply is admitted only while admitted < needed,
 * so exactly 'needed' replies are folded; the one whose fold brings 'folded'
 * to 'needed' merges the per-CPU partial results and completes the request.
 */
#define SGBPF_TICKET_ADMITTED(w)	((__u32)(w) & 0xffff)
#define SGBPF_TICKET_FOLDED(w)		(((__u32)(w) >> 16) & 0xffff)

/*
 * One in-flight request: an element of the BPF_F_MMAPABLE array 'slots',
 * indexed by req_id & (max_inflight - 1).  User space reads the result and
 * the state through the mapping without system calls.
 */
struct sgbpf_slot {
	__u64 state;			/* SGBPF_TAG(req_id, enum sgbpf_slot_status) */
	__u64 tickets;			/* see SGBPF_TICKET_* */
	/*
	 * Times the slot was opened.  Request ids repeat after 2^32 requests
	 * (sooner for one slot), so state that outlives a request -- the
	 * per-CPU partials -- is tagged with this instead: it never repeats.
	 */
	__u64 gen;
	__u32 needed;			/* workers that complete the request */
	__u32 responses;		/* workers counted when it completed */
	__u32 nelems;			/* elements in result */
	__u32 elem_size;		/* bytes per element in result */
	__u32 duplicates;		/* second replies of counted workers */
	/*
	 * Packets folded, written when the request completes: every admitted
	 * worker's K packets (== responses when replies are one packet).
	 * With fate allow, user space waits until it has read as many.
	 */
	__u32 packets;
	/*
	 * Worker i has replied: bit i%32 of word i/32, tagged with req_id.
	 * Opening the slot clears them, so bits of an earlier request with the
	 * same id (after a wrap) never count.
	 */
	__u64 seen[SGBPF_SEEN_WORDS];
	/*
	 * Chunk 0 of the result: the reduced bytes [0, chunk).  Chunks 1.. of
	 * a multi-packet result are rows of the array 'chunks' (struct
	 * sgbpf_chunk), so a one-packet service keeps its result in the slot.
	 */
	__u8 result[SGBPF_RESULT_BYTES];
	/*
	 * The scatter of this slot's next request, written by user space before
	 * it sends the triggers: SGBPF_TAG(req_id, needed), see SGBPF_SCATTER_*.
	 * TC egress takes a trigger only when the tag is its req_id (a delayed
	 * trigger of an older request finds a newer tag and is dropped), and the
	 * first trigger to arrive sets SGBPF_SCATTER_OPENED with compare-and-swap
	 * and opens the slot: exactly once per request, whatever the order in
	 * which the triggers of one request run.
	 */
	__u64 scatter;
};

/*
 * Per-CPU partial result of one slot (array 'partials', BPF_MAP_TYPE_PERCPU_ARRAY).
 * Each CPU folds the replies it receives into its own partial without atomics;
 * gen says which opening of the slot the partial belongs to, so a stale
 * partial is reset lazily by the next request that touches it on that CPU
 * and skipped by the merge of any other request.
 */
struct sgbpf_partial {
	__u64 gen;		/* sgbpf_slot.gen of the request it belongs to */
	__u32 nelems;
	__u32 pad;
	__u8 data[SGBPF_RESULT_BYTES];
};

/*
 * Chunk seq (1 <= seq < max_packets) of slot's result: row
 * slot * (max_packets - 1) + seq - 1 of the BPF_F_MMAPABLE array 'chunks'.
 */
struct sgbpf_chunk {
	__u8 data[SGBPF_RESULT_BYTES];
};

/*
 * A worker's multi-packet reply to the request in one slot (array 'replies',
 * row slot * nworkers + worker), used when max_packets > 1.
 *
 * owner is the slot generation the record belongs to, shifted left by one,
 * with SGBPF_REPLY_READY in bit 0.  The first packet of a worker for an
 * opening takes the record over with compare-and-swap (owner = gen << 1),
 * initialises rx and st, takes the admission ticket, writes the outcome in
 * st and only then sets READY: every other packet of the worker waits for
 * READY and then reads a settled K and admission.  rx and st carry the
 * generation's low 32 bits as their tag, so a packet of an earlier opening
 * that raced past the owner check fails its compare-and-swap.  Nothing is
 * cleared when the slot opens: a record of an older generation is stale by
 * its owner word.
 */
struct sgbpf_reply {
	__u64 owner;
	__u64 rx;		/* SGBPF_TAG(gen, packets received: bit seq) */
	__u64 st;		/* SGBPF_TAG(gen, SGBPF_REPLY_*): K, outcome, folded */
	__u64 pad;
};

#define SGBPF_REPLY_READY		1ull
/* sgbpf_reply.st, low 32 bits: folded (7..0), K (15..8), outcome (bits 16, 17). */
#define SGBPF_REPLY_FOLDED(w)		((__u32)(w) & 0xff)
#define SGBPF_REPLY_K(w)		(((__u32)(w) >> 8) & 0xff)
#define SGBPF_REPLY_ADMITTED		(1u << 16)	/* holds a ticket: its packets fold */
#define SGBPF_REPLY_REFUSED		(1u << 17)	/* surplus, or the slot moved on */

/*
 * Handed from the gather program to the reduction it tail-calls, through the
 * per-CPU array 'fold_ctx' (same CPU, no preemption in between).
 */
struct sgbpf_fold {
	__u64 gen;		/* sgbpf_slot.gen when the reply was admitted */
	__u32 req_id;
	__u32 slot;
	__u32 worker;
	__u32 body_off;		/* offset of the body from the packet's start */
	__u32 body_len;		/* bytes of body, <= SGBPF_UDP_BODY_MAX */
	__u32 l4_off;		/* offset of the UDP header */
	__u32 tail_len;		/* datagram bytes after the sgbpf header */
	__u32 seq;		/* packet index within the worker's reply */
	__u32 row;		/* partial of this packet: slot * max_packets + seq */
	__u32 multi;		/* 1: multi-packet bookkeeping (max_packets > 1) */
	__u32 pad;
};

/* sgbpf_slot.scatter, low 32 bits: needed (15..0) and the opened flag. */
#define SGBPF_SCATTER_NEEDED(w)		((__u32)(w) & 0xffff)
#define SGBPF_SCATTER_OPENED		0x80000000u

/*
 * Workers one trigger datagram covers.  A request to N workers is sent as
 * ceil(N / SGBPF_SCATTER_BATCH) triggers, each addressed to the first worker
 * of its range [first, min(first + SGBPF_SCATTER_BATCH, N)); TC egress finds
 * 'first' from the destination.  Every trigger is its own dev_queue_xmit(),
 * so the softirq drains the copies of one batch before the next is cloned:
 * a batch must fit an empty queue with room to spare, the smallest being a
 * veth peer's 256-frame NAPI ring (docs/architecture.md, "Fan-out").
 */
#define SGBPF_SCATTER_BATCH	64u
/*
 * skb->priority of a scatter datagram (set with SO_PRIORITY on the service
 * socket): lets TC egress skip every other packet with one compare, and tells
 * the trigger apart from its own clones, which are sent with priority 0.
 */
#define SGBPF_SCATTER_PRIORITY	0x5e5e0001u

/*
 * The reduction ABI: the layouts above, the map names and the fold hand-over
 * as a reduction object sees them.  SGBPF_ELEMENTWISE_REDUCER records this
 * version and the element size in every reduction object, as the read-only
 * global NAME__sgbpf_abi; libsgbpf refuses an object whose record is missing
 * or differs, and takes the element size from it.  Raise the version with
 * every change of those layouts.
 */
#define SGBPF_REDUCER_ABI	3u

struct sgbpf_reducer_abi {
	__u32 version;		/* SGBPF_REDUCER_ABI when the object was built */
	__u32 elem_size;	/* bytes per element the reduction folds */
};

/* Record written to the ring buffer when a request completes. */
struct sgbpf_event {
	__u32 req_id;
	__u32 slot;
};

/*
 * Ring-buffer wake-up batching: element 0 of the BPF_F_MMAPABLE array
 * 'wake'.  User space sets awake while it is inside the library and will
 * read the ring buffer before it sleeps or returns; a completion event
 * written meanwhile needs no wake-up (BPF_RB_NO_WAKEUP), which saves the
 * kernel's irq_work and its self-interrupt per completion.  The protocol
 * is a pair of full barriers: the program reads awake after reserving its
 * record (the reserve moves the producer position), user space clears it
 * with an exchange and then compares the positions, so at least one side
 * sees the other -- a record is either announced or found.
 */
struct sgbpf_wake {
	__u32 awake;
	__u32 pad;
};

/* A worker as the BPF programs see it (array 'workers'). */
struct sgbpf_worker {
	__u32 addr;		/* IPv4, network order */
	__u16 port;		/* network order */
	__u16 pad;
};

/* Key of the hash map 'worker_index': reply source -> worker index. */
struct sgbpf_worker_key {
	__u32 addr;		/* network order */
	__u16 port;		/* network order */
	__u16 pad;
};

enum sgbpf_stat {
	SGBPF_STAT_SCATTERS,
	SGBPF_STAT_CLONES,
	SGBPF_STAT_FOLDED,
	SGBPF_STAT_COMPLETED,
	SGBPF_STAT_DUPLICATES,
	SGBPF_STAT_UNKNOWN_SRC,
	SGBPF_STAT_MALFORMED,
	SGBPF_STAT_STALE,
	SGBPF_STAT_SURPLUS,
	SGBPF_STAT_SCATTER_ERRORS,
	/*
	 * A registered worker answered a request id its slot does not hold:
	 * an id that was never sent, or a reply so late that the slot moved on.
	 */
	SGBPF_STAT_UNSOLICITED,
	SGBPF_STAT_SCATTER_FRAGMENTS,	/* IP-fragmented scatters, dropped */
	SGBPF_STAT_CLONE_FAILURES,	/* copies the kernel refused; worker skipped */
	/* Copies sent by re-scatters (SGBPF_FLAG_RETRY triggers), also in CLONES. */
	SGBPF_STAT_RETRY_COPIES,
	/*
	 * Re-scatter triggers that sent nothing: the request was no longer
	 * active (completed, expired, never opened, or its slot holds another
	 * request), or every worker of the batch had answered.
	 */
	SGBPF_STAT_RETRY_IDLE,
	/* Copies of all-gathers (SGBPF_MSG_ALLGATHER triggers) sent to workers. */
	SGBPF_STAT_ALLGATHER_COPIES,
	/* Completion events the ring buffer had no room for (the slot scan finds them). */
	SGBPF_STAT_EVENTS_LOST,
	/* Completion events written without waking user space: it was awake (sgbpf_wake). */
	SGBPF_STAT_WAKEUPS_SKIPPED,
	__SGBPF_STAT_MAX,
};

/* Delivery of completions from the kernel (mirrors enum sgbpf_delivery). */
enum sgbpf_notify {
	SGBPF_NOTIFY_NONE = 0,		/* user space polls sgbpf_slot.state */
	SGBPF_NOTIFY_RINGBUF = 1,	/* a struct sgbpf_event in 'events' */
	SGBPF_NOTIFY_CTRL = 2,		/* the last reply goes to the control port */
};

/*
 * Read-only configuration of one loaded service, in the programs' .rodata
 * (set by libsgbpf before load, so the verifier sees constants).
 */
struct sgbpf_config {
	__u32 ifindex;
	__u32 nworkers;
	__u32 slot_mask;	/* max_inflight - 1 */
	__u32 ncpus;		/* possible CPUs, for merging partials */
	__u16 port;		/* service port, network order */
	__u16 ctrl_port;	/* control socket port, network order */
	__u32 notify;		/* enum sgbpf_notify */
	__u32 fate;		/* XDP_DROP or XDP_PASS once folded */
	__u32 elem_size;	/* of the reduction; 0 for count */
	/*
	 * Multi-packet replies: packets a reply may have (0 or 1: one-packet
	 * replies only, the original rules) and the chunk size C, the body
	 * bytes every packet but the last of a reply carries.
	 */
	__u32 max_packets;
	__u32 chunk;
};

#endif /* SGBPF_UDP_STATE_H */
