/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libsgbpf: scatter one request to N workers and gather one reduced result,
 * with the fan-out and the reduction done by eBPF programs in the kernel.
 *
 * Conventions (those of libbpf):
 *  - handles are opaque;
 *  - option structs start with their size (use SGBPF_OPTS) so they can grow;
 *  - functions returning int return 0 (or a count) on success and a negative
 *    errno on failure; functions returning a pointer return NULL and set errno;
 *  - nothing is allocated on the request path once a service exists.
 *
 * A service is used from one thread at a time (any thread, one after the
 * other; the caller serialises).  Several services may live in one process,
 * be created in several threads at once, or run in several processes on one
 * interface.  The library changes no process-wide state (it never calls
 * libbpf_set_print()).
 */
#ifndef SGBPF_SGBPF_H
#define SGBPF_SGBPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sgbpf/protocol.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SGBPF_API __attribute__((visibility("default")))

#define SGBPF_VERSION_MAJOR 0
#define SGBPF_VERSION_MINOR 1
#define SGBPF_VERSION_PATCH 0

/* Most workers one service gathers from. */
#define SGBPF_MAX_WORKERS 1024u
/* Largest value accepted for sgbpf_service_opts.max_inflight. */
#define SGBPF_MAX_INFLIGHT 65536u
#define SGBPF_DEFAULT_INFLIGHT 8192u
/* Largest sgbpf_scatter_opts.retry_us: an hour. */
#define SGBPF_MAX_RETRY_US 3600000000ull

/* Declare and zero an options struct with its size filled in. */
#define SGBPF_OPTS(TYPE, NAME, ...)				\
	struct TYPE NAME = ({					\
		struct TYPE __o;				\
		__builtin_memset(&__o, 0, sizeof(__o));		\
		__o = (struct TYPE){ .sz = sizeof(struct TYPE),	\
				     __VA_ARGS__ };		\
		__o;						\
	})

/* Returns the library version as "MAJOR.MINOR.PATCH". */
SGBPF_API const char *sgbpf_version(void);

enum sgbpf_backend {
	SGBPF_BACKEND_UDP = 0,	/* one datagram per reply */
	SGBPF_BACKEND_TCP = 1,	/* reliable replies of any size, one connection per worker */
};

/* Built-in in-kernel reductions over the reply body, element-wise. */
enum sgbpf_reduce {
	SGBPF_REDUCE_COUNT = 0,	/* count replies only; no result body */
	SGBPF_REDUCE_SUM_U32, SGBPF_REDUCE_SUM_U64, SGBPF_REDUCE_SUM_I32, SGBPF_REDUCE_SUM_I64,
	SGBPF_REDUCE_MIN_U32, SGBPF_REDUCE_MIN_U64, SGBPF_REDUCE_MIN_I32, SGBPF_REDUCE_MIN_I64,
	SGBPF_REDUCE_MAX_U32, SGBPF_REDUCE_MAX_U64, SGBPF_REDUCE_MAX_I32, SGBPF_REDUCE_MAX_I64,
	SGBPF_REDUCE_OR_U32, SGBPF_REDUCE_AND_U32, SGBPF_REDUCE_OR_U64, SGBPF_REDUCE_AND_U64,
	SGBPF_REDUCE_CUSTOM,	/* a program loaded from sgbpf_service_opts.reduce_obj */
	__SGBPF_REDUCE_MAX,
};

/* What happens to a reply once the kernel has counted and reduced it. */
enum sgbpf_fate {
	SGBPF_FATE_DISCARD = 0,	/* dropped by the gather program (native XDP: before any socket buffer) */
	SGBPF_FATE_ALLOW = 1,	/* also delivered to user space, readable per reply */
};

/* How the application learns that a request has completed. */
enum sgbpf_delivery {
	/* A BPF ring buffer; sgbpf_wait() epolls it and runs the callback. */
	SGBPF_DELIVERY_RINGBUF = 0,
	/*
	 * A control socket: sgbpf_service_fd() is a real descriptor that becomes
	 * readable on completion; put it in any event loop, then sgbpf_poll().
	 */
	SGBPF_DELIVERY_CTRL_FD = 1,
	/* sgbpf_scatter() returns only once its request completed or expired. */
	SGBPF_DELIVERY_BLOCK = 2,
	/* sgbpf_wait() spins on shared memory without system calls. */
	SGBPF_DELIVERY_BUSY_WAIT = 3,
};

/*
 * Where replies are gathered.  XDP is preferred: replies are reduced and
 * dropped before the kernel allocates a socket buffer (native mode).  An
 * interface has one XDP program, though; when another program already holds
 * the hook (a foreign one, or another sgbpf service), SGBPF_XDP_AUTO gathers
 * at TC ingress instead, where programs chain, so both keep working.
 */
enum sgbpf_xdp_mode {
	SGBPF_XDP_AUTO = 0,	/* native where the driver supports it, else generic, else TC */
	SGBPF_XDP_NATIVE = 1,	/* XDP driver mode or fail */
	SGBPF_XDP_GENERIC = 2,	/* XDP generic mode or fail */
	SGBPF_XDP_OFF = 3,	/* gather at TC ingress */
};

/* Where a service's gather program runs (sgbpf_service_info.gather_hook). */
enum sgbpf_gather_hook {
	SGBPF_GATHER_XDP_NATIVE = 0,
	SGBPF_GATHER_XDP_GENERIC = 1,
	SGBPF_GATHER_TC_INGRESS = 2,
};

/*
 * A worker's address.  family 0 means AF_INET, so that an endpoint built
 * as { .addr = ..., .port = ... } is IPv4; AF_INET6 (addr6) is reserved for
 * a later version and refused today with -EAFNOSUPPORT.
 */
struct sgbpf_endpoint {
	uint32_t addr;		/* IPv4, network byte order */
	uint16_t port;		/* host byte order */
	uint16_t family;	/* 0 or AF_INET; AF_INET6 not yet supported */
	uint8_t addr6[16];	/* IPv6, network byte order (family AF_INET6) */
};

enum sgbpf_status {
	SGBPF_STATUS_COMPLETE = 1,	/* the completion policy was met */
	SGBPF_STATUS_EXPIRED = 2,	/* the timeout passed first */
	/*
	 * The request could not complete: the interface was removed, went down
	 * or shrank below the MTU the service needs (every request in flight
	 * fails at once), or its send failed after it was accepted.
	 */
	SGBPF_STATUS_FAILED = 3,
	/* sgbpf_service_destroy() ran while the request was in flight. */
	SGBPF_STATUS_CANCELLED = 4,
};

/* One reply as user space received it (SGBPF_FATE_ALLOW only). */
struct sgbpf_response {
	uint32_t worker;		/* index into the service's worker list */
	const struct sgbpf_hdr *hdr;	/* points into a receive buffer */
	const void *body;
	uint32_t body_len;
};

/*
 * A finished request, handed to the completion callback.  Every pointer
 * points into memory shared with the kernel or into receive buffers and is
 * valid only until the callback returns; copy what you keep.
 */
struct sgbpf_result {
	uint32_t req_id;
	enum sgbpf_status status;
	uint32_t responses;	/* workers counted for this request */
	uint32_t elem_size;	/* bytes per element of the reduction (0: count) */
	uint32_t nelems;	/* elements in data */
	const void *data;	/* the reduced body */
	uint64_t latency_ns;	/* scatter to completion as seen by the library */
	void *user_ctx;		/* sgbpf_scatter_opts.user_ctx */
	const struct sgbpf_response *resp;	/* SGBPF_FATE_ALLOW: replies read */
	uint32_t nresp;
	/*
	 * Second replies from workers already counted for this request.  They
	 * are never folded, but a non-zero count says that someone else may
	 * have answered in a worker's name first (docs/architecture.md, trust).
	 */
	uint32_t duplicates;
	/* Re-scatters sent for this request (sgbpf_scatter_opts.retry_us). */
	uint32_t retries;
};

typedef void (*sgbpf_complete_fn)(const struct sgbpf_result *res, void *ctx);

struct sgbpf_service_opts {
	size_t sz;
	enum sgbpf_backend backend;
	const char *ifname;		/* default "lo" */
	/* Workers: an array, or a file of "IPv4:port" lines (not both). */
	const struct sgbpf_endpoint *workers;
	size_t nworkers;
	const char *workers_file;
	enum sgbpf_reduce reduce;
	const char *reduce_obj;		/* SGBPF_REDUCE_CUSTOM: path of a BPF object */
	const char *reduce_prog;	/* NAME given to SGBPF_ELEMENTWISE_REDUCER; NULL: its only one */
	/*
	 * SGBPF_REDUCE_CUSTOM: 0 takes the element size the object records;
	 * otherwise it must match it (creation fails with -EINVAL).
	 */
	uint32_t reduce_elem_size;
	enum sgbpf_fate fate;
	enum sgbpf_delivery delivery;
	/*
	 * Requests in flight at once, rounded up to a power of two.  0: 8192,
	 * except that a reducing UDP service then keeps its per-CPU partial
	 * results (slots x possible CPUs x 1472 bytes) within 32 MiB, halving
	 * the default down to 64 on machines with many possible CPUs; an
	 * explicit value is used as given.  sgbpf_service_info() reports the
	 * kernel memory the service holds.
	 * With SGBPF_FATE_ALLOW, every reply of every request in flight holds a
	 * receive buffer of a ring of at most 32768: requests in flight are then
	 * also limited to ring size / workers (64 or more up to 512 workers, 32
	 * at 1024).  sgbpf_service_info() reports the limit in force.
	 */
	uint32_t max_inflight;
	enum sgbpf_xdp_mode xdp_mode;
	sgbpf_complete_fn on_complete;	/* required */
	void *cb_ctx;
	/* Local UDP port of the service; 0 picks a free one. */
	uint16_t port;
	/*
	 * Replies that may be on their way at once: copies of a request go out
	 * only while the replies awaited (copies sent, less the replies folded)
	 * stay within the budget; the rest waits in the library, its timeout
	 * running, and goes out in whole scatter batches as replies are folded
	 * -- a fan-out above the budget in parts.  Set it to the receive ring
	 * the replies arrive in, so that a burst of replies (an incast) never
	 * overflows it.  0: no limit.
	 */
	uint32_t reply_budget;
	/*
	 * SGBPF_BACKEND_TCP: the address and port the service listens on (a
	 * local address); every worker connects there from the source
	 * endpoint the worker list gives for it.  Required for TCP.
	 */
	struct sgbpf_endpoint listen;
	/* TCP: how long the first scatter waits for the workers to connect; 0: 2000 ms. */
	uint32_t connect_timeout_ms;
	/*
	 * TCP: the largest reply body, in bytes; a longer one is a protocol
	 * error that resets its connection.  The kernel holds this much per
	 * request slot for the results.  0: 65536.
	 */
	uint32_t max_reply;
	/*
	 * Multi-packet replies (UDP): the most packets one worker's reply may
	 * span, at most SGBPF_MAX_PACKETS_PER_REPLY; 0 or 1: one-packet replies only.
	 * Packet seq of a K-packet reply carries the reply body's bytes
	 * [seq * C, seq * C + body_len), every packet but the last exactly C
	 * (docs/protocol.md), and the result has up to max_packets * C bytes.
	 * Kernel memory for partial results grows with it (x max_packets).
	 */
	uint32_t max_packets;
	/*
	 * C, the chunk size in bytes: a multiple of the element size, at most
	 * SGBPF_UDP_BODY_MAX.  0: the largest multiple of the element size
	 * that fits SGBPF_UDP_BODY_MAX (1452 for 4-byte elements, 1448 for
	 * 8-byte ones, 1452 for count).
	 */
	uint32_t chunk_bytes;
	size_t :0;
};
#define sgbpf_service_opts__last_field chunk_bytes

/* Largest sgbpf_service_opts.max_packets. */
#define SGBPF_MAX_PACKETS_PER_REPLY 32u

enum sgbpf_policy {
	SGBPF_POLICY_ALL = 0,	/* every worker */
	SGBPF_POLICY_ANY = 1,	/* the first worker */
	SGBPF_POLICY_N = 2,	/* the first n workers */
};

struct sgbpf_scatter_opts {
	size_t sz;
	enum sgbpf_policy policy;
	uint32_t n;		/* SGBPF_POLICY_N */
	uint64_t timeout_us;	/* 0: no timeout */
	void *user_ctx;		/* handed back in sgbpf_result.user_ctx */
	/*
	 * Re-scatter to stragglers: when the request has not completed
	 * retry_us microseconds after its scatter (and after each re-scatter),
	 * it is sent again, with the same request id, only to the workers that
	 * have not answered it, at most `retries` times (0 means 1).  A worker
	 * that answers both copies counts once.  0: never.
	 */
	uint64_t retry_us;	/* at most SGBPF_MAX_RETRY_US */
	uint32_t retries;
	/*
	 * All-gather: when the request completes, the kernel sends its result
	 * to every worker of the service as an SGBPF_MSG_ALLGATHER message with
	 * the same request id (chunked like a multi-packet reply when it does
	 * not fit one datagram), before the callback runs.  Needs a reduction
	 * (not SGBPF_REDUCE_COUNT); an expired request sends nothing.
	 */
	bool all_gather;
	size_t :0;
};
#define sgbpf_scatter_opts__last_field all_gather

struct sgbpf_service;

/*
 * Creates a service: loads and attaches the BPF programs, opens the socket,
 * maps the shared state.  Returns NULL with errno set on failure, in which
 * case nothing is left attached.  sgbpf_last_error() gives a sentence.
 */
SGBPF_API struct sgbpf_service *sgbpf_service_create(const struct sgbpf_service_opts *opts);

/*
 * Reports every request still in flight through the callback, with
 * SGBPF_STATUS_CANCELLED (or SGBPF_STATUS_COMPLETE when the kernel had
 * completed it), then detaches everything the service attached and frees
 * it.  NULL is a no-op.  From inside a completion callback it is deferred:
 * the service is destroyed when the library call that ran the callback
 * returns (that call's count includes the cancelled requests); until then
 * sgbpf_scatter(), sgbpf_wait() and sgbpf_poll() return -ESHUTDOWN.
 */
SGBPF_API void sgbpf_service_destroy(struct sgbpf_service *svc);

/*
 * Scatters one message body (at most SGBPF_UDP_BODY_MAX bytes) to every
 * worker.  Stores the request id in *req_id when req_id is not NULL.
 * The send completes before it returns.  Returns 0, or -EBUSY when
 * max_inflight requests are already outstanding, -EMSGSIZE for a body that
 * is too long, -EAGAIN/-ENOBUFS when the socket's send buffer is full,
 * -ENODEV/-ENETDOWN/-EMSGSIZE when the interface was removed, is down or
 * shrank below the MTU the service needs, -ESHUTDOWN while the service is
 * being destroyed, another negative errno otherwise; on error no request was
 * started.  In SGBPF_DELIVERY_BLOCK mode it returns after the request's
 * callback ran, or with -EINTR, the request still in flight, when a signal
 * with a handler interrupted that wait.
 */
SGBPF_API int sgbpf_scatter(struct sgbpf_service *svc, const void *body, size_t len,
			    const struct sgbpf_scatter_opts *opts, uint32_t *req_id);

/*
 * Waits up to timeout_ms (-1: forever, 0: do not wait) for completions and
 * expiries, runs the callback for each, and returns how many it reported,
 * or a negative errno.  Returns 0 at once when no request is in flight.
 * No completion depends on its notification arriving: the shared slots are
 * also looked at, every 20 ms and when notifications were lost.  While the
 * interface is gone, down or too small it returns -ENODEV, -ENETDOWN or
 * -EMSGSIZE, after reporting every request in flight as SGBPF_STATUS_FAILED.
 * A signal with a handler ends a sleeping wait with -EINTR when nothing was
 * reported, as it ends epoll_wait().
 */
SGBPF_API int sgbpf_wait(struct sgbpf_service *svc, int timeout_ms);

/* sgbpf_wait(svc, 0): for when sgbpf_service_fd() polled readable. */
SGBPF_API int sgbpf_poll(struct sgbpf_service *svc);

/*
 * A descriptor that polls readable when sgbpf_poll() has work: an epoll set
 * of the control socket and the interface's link events in
 * SGBPF_DELIVERY_CTRL_FD mode, the ring buffer's epoll descriptor (with the
 * link events added) in SGBPF_DELIVERY_RINGBUF (and SGBPF_DELIVERY_BLOCK)
 * mode, -EINVAL in SGBPF_DELIVERY_BUSY_WAIT mode.  Owned by the service.  With
 * SGBPF_FATE_ALLOW a completion may wait for its replies without the
 * descriptor becoming readable again: poll with sgbpf_next_timeout_ms(),
 * which then says 0.
 */
SGBPF_API int sgbpf_service_fd(const struct sgbpf_service *svc);

/*
 * Milliseconds until sgbpf_poll() has work without the descriptor saying so:
 * the next request's deadline or the next look at the slots (at most 20 ms
 * while requests are in flight), 0 when a completed request waits for its
 * replies (fate allow) or a failure waits to be reported, -1 when no
 * request is in flight.
 */
SGBPF_API int sgbpf_next_timeout_ms(const struct sgbpf_service *svc);

/* Requests scattered but not yet reported. */
SGBPF_API uint32_t sgbpf_inflight(const struct sgbpf_service *svc);

/* Counters kept by the kernel programs of one service. */
struct sgbpf_stats {
	uint64_t scatters;	/* scatter messages fanned out */
	uint64_t clones;	/* packets sent to workers */
	uint64_t folded;	/* replies (multi-packet: packets) counted and reduced */
	uint64_t completed;	/* requests completed in the kernel */
	uint64_t duplicates;	/* a worker's second reply (multi-packet: packet) to one request */
	uint64_t unknown_src;	/* replies from addresses not in the worker list */
	uint64_t malformed;	/* bad length, type or header */
	uint64_t stale;		/* replies to finished, expired or reused requests */
	uint64_t surplus;	/* replies after the policy was already met */
	uint64_t unsolicited;	/* registered workers answering ids their slot does not hold */
	uint64_t expired;	/* requests reported expired by the library */
	uint64_t scatter_fragments;	/* scatters dropped at TC egress: IP-fragmented */
	uint64_t clone_failures;	/* copies the kernel refused; those workers were skipped */
	uint64_t retries;	/* re-scatters the library sent (sgbpf_scatter_opts.retry_us) */
	uint64_t retry_copies;	/* copies they reached stragglers with (also in clones) */
	/*
	 * Re-scatter datagrams that sent nothing: the request completed or
	 * expired meanwhile, or every worker of the batch had answered.
	 */
	uint64_t retry_idle;
	uint64_t retry_failures;	/* re-scatters whose send failed; the request waits on */
	uint64_t deferred;	/* requests that waited for the reply budget before their send */
	uint64_t events_lost;	/* completion events the ring buffer had no room for */
	uint64_t wakeups_skipped;	/* completion events needing no wake-up: the caller was awake */
	/*
	 * Completions found by the library's periodic look at the slots before
	 * their event arrived (ring buffer and control fd): events lost or late.
	 */
	uint64_t unannounced;
	uint64_t allgathers;		/* results sent back (sgbpf_scatter_opts.all_gather) */
	uint64_t allgather_copies;	/* datagrams they reached the workers with */
	uint64_t allgather_failures;	/* all-gathers whose send failed */
	/* TCP: connections reset after a protocol or framing error in their byte stream. */
	uint64_t conn_resets;
	/* TCP: connections accepted from a worker that had been connected before. */
	uint64_t reconnects;
};

/* Sums the per-CPU counters of svc into *out.  Returns 0 or -errno. */
SGBPF_API int sgbpf_service_stats(const struct sgbpf_service *svc, struct sgbpf_stats *out);

/* What the service attached, for reports. */
struct sgbpf_service_info {
	int ifindex;
	uint16_t port;			/* local UDP port of the service */
	bool xdp_native;		/* gather at XDP in driver mode */
	enum sgbpf_gather_hook gather_hook;
	uint32_t nworkers;
	uint32_t max_inflight;
	uint32_t elem_size;
	/* Kernel memory of the service's BPF maps (their memlock), in bytes. */
	uint64_t kernel_bytes;
};
SGBPF_API int sgbpf_service_info(const struct sgbpf_service *svc, struct sgbpf_service_info *out);

/* The last error message of this thread, for people; never NULL. */
SGBPF_API const char *sgbpf_last_error(void);

/* Reduction names as the CLI spells them ("sum-u32", "count", ...). */
SGBPF_API const char *sgbpf_reduce_name(enum sgbpf_reduce r);
/* Returns the reduction named s, or -EINVAL. */
SGBPF_API int sgbpf_reduce_parse(const char *s);
/* Bytes per element of a built-in reduction (0 for count). */
SGBPF_API uint32_t sgbpf_reduce_elem_size(enum sgbpf_reduce r);

/*
 * Worker lists: a file of "IPv4:port" lines, '#' comments and blank lines
 * allowed.  On success stores a malloc'ed array in *out (free() it) and its
 * length in *n, and returns 0.  On a bad line returns -EINVAL and, when
 * bad_line is not NULL, stores its 1-based number there.
 */
SGBPF_API int sgbpf_workers_parse_file(const char *path, struct sgbpf_endpoint **out,
				       size_t *n, unsigned *bad_line);
/* The same over a string holding a file's contents. */
SGBPF_API int sgbpf_workers_parse_buf(const char *buf, size_t len, struct sgbpf_endpoint **out,
				      size_t *n, unsigned *bad_line);
/* Parses "A.B.C.D:port" (the whole string); returns 0 or -EINVAL. */
SGBPF_API int sgbpf_endpoint_parse(const char *s, struct sgbpf_endpoint *ep);

#ifdef __cplusplus
}
#endif

#endif /* SGBPF_SGBPF_H */
