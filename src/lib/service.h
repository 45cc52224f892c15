/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The backend-neutral core of a service and the small interface a transport
 * implements.  The core owns requests, completion policies, delivery modes
 * and results; a backend owns sockets, BPF programs and the kernel's slots.
 */
#ifndef SGBPF_LIB_SERVICE_H
#define SGBPF_LIB_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sgbpf/sgbpf.h>

#include "request_table.h"

/* Does an options struct of size sz include the field? (libbpf's OPTS_HAS) */
#define OPTS_HAS(opts, field) \
	((opts) && (opts)->sz >= offsetof(typeof(*(opts)), field) + sizeof((opts)->field))
#define OPTS_GET(opts, field, fallback) (OPTS_HAS(opts, field) ? (opts)->field : (fallback))

struct sgbpf_service;

/*
 * A request's kernel slot as the core sees it.  Each backend keeps its own
 * slot words (tagged with the request id, so that a slot reused by a newer
 * request reads as OTHER); the core only needs these states.
 */
enum sgbpf_slot_view {
	SGBPF_VIEW_OTHER = 0,		/* not this request's: never opened, or moved on */
	SGBPF_VIEW_ACTIVE,		/* gathering */
	SGBPF_VIEW_MERGING,		/* the kernel is writing the result */
	SGBPF_VIEW_COMPLETE,		/* result ready */
	SGBPF_VIEW_CLOSED,		/* user space expired it */
};

/* What a slot holds for its request; data, nelems and elem_size when complete. */
struct sgbpf_slot_result {
	const void *data;		/* valid until the slot is released */
	uint32_t nelems;
	uint32_t elem_size;
	uint32_t responses;		/* counted at completion, else folded so far */
	uint32_t duplicates;		/* second replies of counted workers */
	/*
	 * Packets of the counted workers' replies, once complete (responses
	 * times K for K-packet replies): with fate allow, what user space
	 * reads before it reports the request.
	 */
	uint32_t packets;
};

struct sgbpf_backend_ops {
	const char *name;
	/* Sets up the transport; sets svc->body_max and the notification fd. */
	int (*create)(struct sgbpf_service *svc, const struct sgbpf_service_opts *opts);
	void (*destroy)(struct sgbpf_service *svc);
	/*
	 * The kernel's slot for req_id, read with acquire ordering so that a
	 * result is visible once COMPLETE is seen.  Shared memory, no system call.
	 */
	enum sgbpf_slot_view (*slot_view)(const struct sgbpf_service *svc, uint32_t slot,
					  uint32_t req_id);
	/*
	 * ACTIVE -> CLOSED for req_id, in one compare-and-swap that races with
	 * the kernel's own ACTIVE -> MERGING; true when this one won, after
	 * which no reply of req_id touches the slot again.
	 */
	bool (*slot_close)(struct sgbpf_service *svc, uint32_t slot, uint32_t req_id);
	/* Fills *out for req_id; the result itself only when complete is true. */
	void (*slot_result)(const struct sgbpf_service *svc, uint32_t slot, uint32_t req_id,
			    bool complete, struct sgbpf_slot_result *out);
	/* Queues and submits the scatter of one request (one system call). */
	int (*scatter)(struct sgbpf_service *svc, uint32_t slot, uint32_t req_id, uint32_t needed,
		       const void *body, size_t len);
	/*
	 * A scatter in parts, for requests the reply budget holds back: stage
	 * copies the message and writes the policy (nothing sent); launch sends
	 * the staged request's next copies, possibly much later: as many whole
	 * transport batches as fit in room copies, at least one when must is
	 * set, and returns the copies sent (0: none fit) or a negative errno.
	 * Optional: without them reply_budget is refused.
	 */
	int (*stage)(struct sgbpf_service *svc, uint32_t slot, uint32_t req_id, uint32_t needed,
		     const void *body, size_t len);
	int (*launch)(struct sgbpf_service *svc, uint32_t slot, uint32_t req_id, uint32_t room,
		      bool must);
	/*
	 * Sends the slot's request again, to the workers that have not answered
	 * it; the kernel sends nothing for a request no longer gathering.
	 * Returns the datagrams sent (0: everybody had answered) or a negative
	 * errno.  Optional: without it, retry_us is refused.
	 */
	int (*rescatter)(struct sgbpf_service *svc, uint32_t slot, uint32_t req_id);
	/*
	 * Sends the complete slot's result to every worker as an all-gather;
	 * called before the slot is released.  Returns 0 or a negative errno.
	 * Optional: without it, all_gather is refused.
	 */
	int (*allgather)(struct sgbpf_service *svc, uint32_t slot, uint32_t req_id,
			 const void *result, size_t len);
	/* Reaps transport completions (send errors, received replies) without blocking. */
	int (*reap)(struct sgbpf_service *svc);
	/*
	 * Sleeps up to timeout_ms for kernel completion events and reports each
	 * through sgbpf_service_on_complete().
	 */
	int (*wait_events)(struct sgbpf_service *svc, int timeout_ms);
	/* Fate allow: the replies read for a slot, and their release. */
	const struct sgbpf_response *(*responses)(struct sgbpf_service *svc, uint32_t slot,
						  uint32_t *n);
	void (*release_responses)(struct sgbpf_service *svc, uint32_t slot);
	uint32_t (*rx_count)(struct sgbpf_service *svc, uint32_t slot);
	/*
	 * Optional: replies the kernel counted for the slot's request that can
	 * no longer be read (their connection went).  A backend that has it
	 * loses no reply it let through otherwise, so a completion waits for
	 * its replies however long they take; one without it may lose them on
	 * the way up (a full socket buffer) and waits ALLOW_GRACE_NS at most.
	 */
	uint32_t (*rx_lost)(struct sgbpf_service *svc, uint32_t slot);
	int (*stats)(const struct sgbpf_service *svc, struct sgbpf_stats *out);
	/* Requests in flight when the caller leaves max_inflight at 0; optional. */
	uint32_t (*default_inflight)(const struct sgbpf_service *svc,
				     const struct sgbpf_service_opts *opts);
	/*
	 * Periodic, non-blocking look at what has no notification of its own
	 * (the interface's state); reports through sgbpf_service_link_changed().
	 */
	int (*maintain)(struct sgbpf_service *svc);
};

struct sgbpf_service {
	const struct sgbpf_backend_ops *ops;
	void *backend;			/* transport private state */

	enum sgbpf_delivery delivery;
	enum sgbpf_fate fate;
	enum sgbpf_reduce reduce;
	uint32_t elem_size;
	uint32_t nworkers;
	/* Packets a reply may span (>= 1) and the chunk each carries (0: the default). */
	uint32_t max_packets;
	uint32_t chunk;
	uint32_t body_max;		/* largest body sgbpf_scatter() takes (interface MTU) */
	uint32_t mtu;			/* of the interface, for messages */
	struct sgbpf_endpoint *workers;
	/* Open-addressing index of workers by endpoint: slot -> worker + 1, 0 empty. */
	uint32_t *worker_hash;
	uint32_t worker_hash_mask;
	sgbpf_complete_fn on_complete;
	void *cb_ctx;

	/* Requests in flight; the backends' kernel slots are indexed like it. */
	struct sgbpf_reqtab reqs;

	int notify_fd;			/* ring buffer epoll fd or control socket; -1 */
	uint64_t expired;		/* requests reported expired */
	uint64_t retries;		/* re-scatters sent */
	uint64_t retry_failures;	/* re-scatters whose send failed */
	/*
	 * Reply budget (sgbpf_service_opts.reply_budget): the replies that the
	 * requests on the wire may still send, at most reply_budget (0: no
	 * limit); requests beyond it wait, staged, in a FIFO of (slot, id).
	 */
	uint32_t reply_budget;
	uint32_t wire_replies;
	uint64_t *held;			/* nslots entries: slot << 32 | req_id */
	uint32_t held_head, held_len;
	uint64_t deferred;		/* requests that waited for the budget */
	uint64_t unannounced;		/* completions the slot scan found before their event */
	uint64_t allgathers;		/* all-gathers sent */
	uint64_t allgather_failures;	/* all-gathers whose send failed */
	uint32_t pending;		/* completed in the kernel, replies still arriving */
	uint32_t send_failures;		/* sends failed since the last scan for them */
	int reported;			/* completions reported by the current wait */
	uint32_t block_wait_id;		/* SGBPF_DELIVERY_BLOCK: request being waited for */
	bool block_done;
	/*
	 * Next look at the in-flight slots themselves: a completion whose
	 * notification was lost (full control socket, failed ring buffer
	 * output) is found there.  0: at the next opportunity.
	 */
	uint64_t next_scan_ns;
	/* Library calls in progress on this service that may run callbacks. */
	int depth;
	bool destroy_pending;		/* destroyed from a callback: at the outermost return */
	bool destroying;		/* reporting the requests in flight, then freeing */
	/* The interface is gone, down or too small: a negative errno, else 0. */
	int link_err;
	char link_msg[160];

	struct sgbpf_service_info info;
};

/* Index of the worker at addr (network order):port (host order), or -1. */
int sgbpf_service_worker(const struct sgbpf_service *svc, uint32_t addr, uint16_t port);

/* Called by backends when the send of req_id failed: it is reported as failed. */
void sgbpf_service_send_failed(struct sgbpf_service *svc, uint32_t req_id);

/* Called by backends when the kernel says req_id completed (ring buffer, control socket). */
void sgbpf_service_on_complete(struct sgbpf_service *svc, uint32_t req_id);

/* Called by backends when notifications may have been lost: the slots are looked at. */
void sgbpf_service_lost_events(struct sgbpf_service *svc);

/*
 * Called by backends when the interface changed: err is -ENODEV (removed),
 * -ENETDOWN (down), -EMSGSIZE (MTU too small) with a sentence in msg, or 0
 * when it works again.  Every request in flight fails at once.
 */
void sgbpf_service_link_changed(struct sgbpf_service *svc, int err, const char *msg);

uint64_t sgbpf_now_ns(void);

extern const struct sgbpf_backend_ops sgbpf_udp_backend;
extern const struct sgbpf_backend_ops sgbpf_tcp_backend;

#endif
