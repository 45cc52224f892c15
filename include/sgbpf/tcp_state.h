/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The TCP backend's kernel state: every structure that crosses the boundary
 * between the BPF programs in bpf-tcp/ and their drivers in src/lib/tcp/.
 *
 * Two programs, two jobs:
 *   - steer.bpf.c (SK_LOOKUP, on the network namespace): each listed worker's
 *     SYN to that worker's own listening socket; unlisted sources refused.
 *   - stream.bpf.c (sk_skb verdict on a SOCKMAP of accepted sockets, no
 *     stream parser): frames each socket's in-order byte stream into
 *     messages and folds every admitted reply body into its request's result.
 *
 * Included by BPF programs (after vmlinux.h) and by user-space C (after
 * <linux/types.h>); only fixed-width types.  docs/tcp.md explains the
 * mechanisms and their figures.
 */
#ifndef SGBPF_TCP_STATE_H
#define SGBPF_TCP_STATE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* ---- steering (steer.bpf.c) ---- */

/* Key of sgbpf_tcp_workers: a worker's source endpoint, both in network order. */
struct sgbpf_tcp_src {
	__u32 addr;
	__u16 port;
	__u16 pad;	/* zero */
};

enum sgbpf_tcp_steer_stat {
	SGBPF_TCP_STEERED = 0,		/* SYN of a listed worker given its listener */
	SGBPF_TCP_REFUSED,		/* SYN to the service from an unlisted source */
	SGBPF_TCP_NO_LISTENER,		/* listed, but its listener is gone: refused */
	SGBPF_TCP_ASSIGN_FAILED,	/* bpf_sk_assign() refused the listener: refused */
	__SGBPF_TCP_STEER_STATS,
};

/* ---- framing and reduction (stream.bpf.c) ---- */

/* Most workers a stream service can register; sockmap keys are worker indices. */
#define SGBPF_TCP_MAX_WORKERS	1024u
#define SGBPF_TCP_SEEN_WORDS	(SGBPF_TCP_MAX_WORKERS / 32)

/*
 * Results are kept in chunks of this many bytes: the unit of one
 * bpf_skb_load_bytes() in the fold and of one spin lock.  A multiple of
 * every element size, so elements never straddle two chunks.  1 KiB rather
 * than 256 bytes: a quarter of the locks and loop steps per byte (+30 % to
 * +40 % requests/s at 32 x 64 KiB, docs/performance.md); the verifier's cost
 * of the fold grows with it (117 k processed instructions for the example
 * custom reduction, against a budget of 250 k in test_verifier_budget).
 */
#define SGBPF_TCP_CHUNK		1024u

/* Tags as in the UDP backend: a request id above, a value below. */
#define SGBPF_TCP_TAG(req, low)	(((__u64)(req) << 32) | (__u32)(low))
#define SGBPF_TCP_TAG_REQ(w)	((__u32)((w) >> 32))
#define SGBPF_TCP_TAG_LOW(w)	((__u32)(w))

enum sgbpf_tcp_slot_status {
	SGBPF_TCP_SLOT_FREE = 0,
	SGBPF_TCP_SLOT_ACTIVE = 1,	/* replies are admitted and folded */
	SGBPF_TCP_SLOT_COMPLETE = 3,	/* result ready */
	SGBPF_TCP_SLOT_EXPIRED = 4,	/* user space gave up on it */
};

/* sgbpf_tcp_slot.tickets: req id (63..32), replies folded (31..16), admitted (15..0). */
#define SGBPF_TCP_TICKET_ADMITTED(w)	((__u32)(w) & 0xffff)
#define SGBPF_TCP_TICKET_FOLDED(w)	(((__u32)(w) >> 16) & 0xffff)

/*
 * One request slot, indexed by req_id & slot_mask, in an mmap-able array:
 * user space opens and expires slots by writing it, the stream program
 * admits and completes.  Opening: gen += 1, needed, tickets = TAG(req, 0),
 * then (release) state = TAG(req, ACTIVE).  The seen words need no reset:
 * a word tagged with another request counts as empty.
 */
struct sgbpf_tcp_slot {
	__u64 state;		/* SGBPF_TCP_TAG(req_id, enum sgbpf_tcp_slot_status) */
	__u64 gen;		/* bumped at every opening; tags the result chunks */
	__u64 tickets;		/* see SGBPF_TCP_TICKET_* */
	__u32 needed;		/* replies that complete the request */
	__u32 responses;	/* folded replies, written at completion */
	/*
	 * Largest folded body, tagged with the low 32 bits of gen (above) and
	 * updated only by newer or equal generations: a late fold of an
	 * earlier opening can never lower or raise a later one's.
	 */
	__u64 extent;
	__u32 nelems;		/* result elements, written at completion */
	__u32 elem_size;
	__u64 seen[SGBPF_TCP_SEEN_WORDS];	/* TAG(req, 32 worker bits) */
};

/* Most request ids one note carries: completions of one skb past these are left to the scan. */
#define SGBPF_TCP_NOTE_IDS	8u

/* sgbpf_tcp_conn.flags */
enum sgbpf_tcp_conn_flags {
	/* A protocol or framing error: every later byte is dropped unread, and
	 * user space must reset the connection (it got an event). */
	SGBPF_TCP_CONN_BROKEN = 1 << 0,
	/* next_seq holds where the bytes taken so far end (set by the first run). */
	SGBPF_TCP_CONN_SEQ = 1 << 1,
};

/*
 * Per-socket parse state, keyed by socket cookie.  User space creates it
 * (worker index, the rest zero) before it puts the socket in the sockmap.
 * Only the stream program writes it afterwards; its runs for one socket are
 * serialised by the socket lock (tcp_read_skb() runs under it).
 */
struct sgbpf_tcp_conn {
	__u32 worker;
	__u32 flags;			/* enum sgbpf_tcp_conn_flags */
	__u64 bytes_seen;		/* sum of skb->len over all runs */
	__u64 bytes_framed;		/* bytes the parser accounted to messages */
	__u64 messages;			/* whole messages framed */
	__u64 runs;			/* program runs (skbs) */
	/* The message being parsed. */
	__u32 hdr_have;			/* header bytes gathered, 0..18 (18: in its body) */
	__u32 body_left;		/* body bytes still to come */
	__u32 body_pos;			/* body bytes already consumed */
	__u32 body_len;
	__u32 req_id;
	__u32 slot;
	__u32 folding;			/* 1: admitted, the body is folded */
	__u32 carry_have;		/* bytes of a split element gathered */
	__u64 gen;			/* slot generation at admission */
	/*
	 * The header being gathered.  Larger than 18 bytes so that the
	 * verifier can bound a load of up to 18 bytes at offset up to 17.
	 */
	__u8 hdr[40];
	__u8 carry[16];			/* the first bytes of a split element */
	/*
	 * TCP sequence number just past the last byte the program took;
	 * valid once SGBPF_TCP_CONN_SEQ is set (the first run sets it).
	 */
	__u32 next_seq;
	__u32 pad;
	/*
	 * Control-fd delivery: the requests the current skb's walk completed,
	 * sent as one note by its verdict (stream_notify.bpf.h).  Here rather
	 * than on the stack, where the verifier could not follow it through
	 * the walk's bpf_loop.
	 */
	__u32 note_ids[SGBPF_TCP_NOTE_IDS];
	__u32 note_n;		/* completions, also those past note_ids[] */
	__u32 note_pad;
};

enum sgbpf_tcp_stream_stat {
	SGBPF_TCP_S_RUNS = 0,		/* program runs */
	SGBPF_TCP_S_BYTES,		/* bytes seen */
	SGBPF_TCP_S_MESSAGES,		/* messages framed */
	SGBPF_TCP_S_ADMITTED,		/* replies admitted to a request */
	SGBPF_TCP_S_FOLDED,		/* admitted replies whose whole body was folded */
	SGBPF_TCP_S_COMPLETED,		/* requests completed */
	SGBPF_TCP_S_STALE,		/* for a finished/expired request, or a late fold */
	SGBPF_TCP_S_UNSOLICITED,	/* for a request the slot does not hold */
	SGBPF_TCP_S_DUPLICATES,		/* a worker's second reply to one request */
	SGBPF_TCP_S_SURPLUS,		/* the policy was already met */
	SGBPF_TCP_S_PROTO_ERRORS,	/* bad msg_type or body_len over the limit */
	SGBPF_TCP_S_FRAMING_ERRORS,	/* bytes seen != bytes framed after a run */
	SGBPF_TCP_S_UNKNOWN_SOCK,	/* a socket without parse state */
	SGBPF_TCP_S_BROKEN_BYTES,	/* bytes dropped on a broken connection */
	SGBPF_TCP_S_OVERLAP_BYTES,	/* repeated bytes cut off the head of an skb */
	SGBPF_TCP_S_REPEATED_SKBS,	/* skbs wholly seen before, dropped */
	SGBPF_TCP_S_NOTES,		/* control fd: skbs redirected as completion notes */
	SGBPF_TCP_S_UNNOTED,		/* control fd: completions no note could carry */
	SGBPF_TCP_S_NOTE_FAILED,	/* control fd: a note's rewrite or redirect refused */
	__SGBPF_TCP_STREAM_STATS,
};

enum sgbpf_tcp_event_type {
	SGBPF_TCP_EV_COMPLETE = 1,	/* req_id completed; its result is ready */
	SGBPF_TCP_EV_CONN_BROKEN = 2,	/* the worker's connection must be reset */
};

/* Ring buffer record of sgbpf_tcp_events. */
struct sgbpf_tcp_event {
	__u32 type;		/* enum sgbpf_tcp_event_type */
	__u32 req_id;
	__u32 slot;
	__u32 worker;
	__u64 cookie;		/* socket cookie (CONN_BROKEN) */
};

/* ---- control-fd delivery (stream_notify.bpf.h, src/lib/tcp/tcp_ctrl.c) ---- */

/* Sockmap key of the AF_UNIX datagram control socket, past every worker's. */
#define SGBPF_TCP_CTRL_KEY	SGBPF_TCP_MAX_WORKERS
#define SGBPF_TCP_NOTE_MAGIC	0x5347u		/* "SG" */

/*
 * The head of a completion note.  The skb whose parse completed requests
 * is redirected whole to the control socket with this written over its
 * first bytes (those bytes were parsed already): its length is what TCP
 * accounts as read, so it is not shrunk (docs/tcp.md).  The control
 * socket, read through its sockmap entry, joins notes like a byte stream,
 * so a reader finds each note's end by len.  nreq request ids follow the
 * head, as many as fit the skb, at most SGBPF_TCP_NOTE_IDS.
 */
struct sgbpf_tcp_note {
	__u32 len;		/* bytes of the whole note, this head included */
	__u16 magic;		/* SGBPF_TCP_NOTE_MAGIC */
	__u16 nreq;		/* request ids that follow */
};

/* The shortest skb that can carry a note: its head and one request id. */
#define SGBPF_TCP_NOTE_MIN	(sizeof(struct sgbpf_tcp_note) + sizeof(__u32))

#endif /* SGBPF_TCP_STATE_H */
