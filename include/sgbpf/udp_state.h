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
	__u32 pad;
	/*
	 * Worker i has replied: bit i%32 of word i/32, tagged with req_id.
	 * Opening the slot clears them, so bits of an earlier request with the
	 * same id (after a wrap) never count.
	 */
	__u64 seen[SGBPF_SEEN_WORDS];
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
#define SGBPF_REDUCER_ABI	2u

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
};

#endif /* SGBPF_UDP_STATE_H */
