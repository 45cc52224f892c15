/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Private state of the TCP backend, shared by its control half
 * (tcp_backend.c: create, destroy, slots, counters) and its I/O half
 * (tcp_io.c: connections, scatter, completions).
 */
#ifndef SGBPF_LIB_TCP_BACKEND_H
#define SGBPF_LIB_TCP_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include <liburing.h>

#include <sgbpf/protocol.h>
#include <sgbpf/sgbpf.h>
#include <sgbpf/tcp_state.h>

#include "service.h"

struct sgbpf_service;
struct sgbpf_slot_result;
struct sgbpf_tcp_steer;
struct sgbpf_tcp_stream;

/* Largest scatter body over TCP: the service keeps one message buffer. */
#define SGBPF_TCP_SCATTER_MAX	65536u
/* Defaults of the TCP options in sgbpf_service_opts. */
#define SGBPF_TCP_DEFAULT_MAX_REPLY	65536u
#define SGBPF_TCP_DEFAULT_CONNECT_MS	2000u

/* One worker's current connection. */
struct tcp_conn {
	int fd;			/* accepted socket in the sockmap; -1: none */
	/*
	 * Bumped at every accepted connection: tags its io_uring requests, so
	 * that a completion of an earlier connection of the worker (whose
	 * descriptor number may be reused) is recognised and ignored.
	 */
	uint32_t gen;
};

/* Fate allow: where a fold passed a reply on, per worker (tcp_rx.c). */
struct tcp_rx_conn {
	uint8_t hdr[SGBPF_HDR_LEN];
	uint32_t hdr_have;
	bool in_body;
	bool filing;		/* the body goes to place */
	uint32_t req_id;
	uint32_t body_left;
	uint32_t pos;		/* body bytes copied so far */
	uint32_t place;		/* slot * nworkers + worker */
};

/* Largest reply area fate allow maps (virtual; only touched where replies land). */
#define SGBPF_TCP_RX_MAX	(1ull << 30)
/* With fate allow and max_inflight 0, slots are halved until the area fits this. */
#define SGBPF_TCP_RX_BUDGET	(256ull << 20)

struct tcp_rx {
	struct io_uring_buf_ring *ring;	/* ring-mapped provided buffers */
	size_t ring_len;
	uint8_t *bufs;
	bool registered;
	uint8_t *arena;			/* one place per (slot, worker): header + body */
	size_t arena_len;
	uint8_t *state;			/* per place: empty, filling, whole, lost */
	uint32_t *owner;		/* per place: the request it is filed for */
	uint32_t *count;		/* per slot: whole replies filed */
	uint32_t *lost;			/* per slot: counted replies whose connection went */
	struct tcp_rx_conn *conn;	/* per worker */
	struct sgbpf_response *view;	/* nworkers, filled when a request is reported */
	uint64_t rearms;		/* multishot receives armed again (ring ran dry) */
};

/* Control-fd delivery: the note socket and the reader's place in its stream (tcp_ctrl.c). */
struct tcp_ctrl {
	int fd;			/* AF_UNIX datagram socket in the sockmap; -1: other modes */
	int peer;		/* the other end of its pair, never used; -1 */
	uint8_t *buf;
	uint8_t head[sizeof(struct sgbpf_tcp_note) + SGBPF_TCP_NOTE_IDS * sizeof(uint32_t)];
	uint32_t have;		/* bytes of head gathered */
	uint32_t skip;		/* bytes of the current note still to pass over */
	bool ready;		/* its poll fired: read it at the next reap */
	bool lost;		/* a note did not parse: notes are ignored, the scan finds all */
	uint64_t notes, ids, recvs, bad;
};

struct sgbpf_tcp_backend {
	struct sgbpf_service *svc;	/* the service this is the backend of */
	struct sgbpf_tcp_steer *steer;
	struct sgbpf_tcp_stream *stream;
	struct io_uring ring;
	bool ring_ready;
	int ev_fd;		/* epoll of the ring's and the ring buffer's fds (sgbpf_service_fd()); -1 */
	struct tcp_conn *conns;	/* per worker */
	uint32_t connected;	/* workers with a connection */
	uint32_t max_reply;
	uint32_t connect_timeout_ms;
	bool waited;		/* the first scatter's wait for the workers is over */
	uint8_t *tx;		/* the scatter message being sent */
	uint32_t tx_left;	/* sends of the current scatter not reaped yet */
	uint32_t tx_ok;		/* ... and those that sent the whole message */
	uint32_t tx_req;	/* request id of the current scatter */
	uint32_t tx_ok_len;	/* its body length */
	struct tcp_rx rx;	/* fate allow only */
	struct tcp_ctrl ctrl;	/* control-fd delivery only */
	/* Counters apart from the kernel's. */
	uint64_t requests, sends, send_failures, resets, reconnects, accept_errors;
};

/* tcp_slot.c: the core's view of the stream program's slots */
enum sgbpf_slot_view sgbpf_tcp_slot_view(const struct sgbpf_service *svc, uint32_t slot,
					 uint32_t req_id);
bool sgbpf_tcp_slot_close(struct sgbpf_service *svc, uint32_t slot, uint32_t req_id);
void sgbpf_tcp_slot_result(const struct sgbpf_service *svc, uint32_t slot, uint32_t req_id,
			   bool complete, struct sgbpf_slot_result *out);
bool sgbpf_tcp_slot_seen(const struct sgbpf_service *svc, uint32_t slot, uint32_t req_id,
			 uint32_t w);

/* tcp_rx.c: fate allow */
uint64_t sgbpf_tcp_rx_bytes(uint32_t nslots, uint32_t nworkers, uint32_t max_reply);
int sgbpf_tcp_rx_open(struct sgbpf_service *svc, struct sgbpf_tcp_backend *b);
void sgbpf_tcp_rx_close(struct sgbpf_tcp_backend *b);
int sgbpf_tcp_rx_arm(struct sgbpf_tcp_backend *b, uint32_t w, uint64_t user_data);
void sgbpf_tcp_rx_conn_reset(struct sgbpf_tcp_backend *b, uint32_t w);
/*
 * Worker w's connection ended: the replies to requests in flight that the
 * stream program counted from it and that were not read whole are lost.
 */
void sgbpf_tcp_rx_conn_gone(struct sgbpf_service *svc, struct sgbpf_tcp_backend *b, uint32_t w);
void sgbpf_tcp_rx_set_rcvbuf(struct sgbpf_tcp_backend *b, int fd);
/*
 * A receive completion of worker w (current: of its current connection).
 * Returns 0, 1 when the receive must be armed again, -1 when the
 * connection's stream ended.
 */
int sgbpf_tcp_rx_cqe(struct sgbpf_service *svc, struct sgbpf_tcp_backend *b, uint32_t w,
		     bool current, const struct io_uring_cqe *cqe);
uint32_t sgbpf_tcp_rx_count(struct sgbpf_service *svc, uint32_t slot);
uint32_t sgbpf_tcp_rx_lost(struct sgbpf_service *svc, uint32_t slot);
const struct sgbpf_response *sgbpf_tcp_responses(struct sgbpf_service *svc, uint32_t slot,
						 uint32_t *n);
void sgbpf_tcp_release_responses(struct sgbpf_service *svc, uint32_t slot);

/* tcp_ctrl.c: control-fd delivery */
int sgbpf_tcp_ctrl_open(struct sgbpf_tcp_backend *b);
void sgbpf_tcp_ctrl_close(struct sgbpf_tcp_backend *b);
/* Reads every note queued and reports their requests; the notes read, or -errno. */
int sgbpf_tcp_ctrl_drain(struct sgbpf_service *svc, struct sgbpf_tcp_backend *b);

/* tcp_io.c */
int sgbpf_tcp_io_open(struct sgbpf_service *svc, struct sgbpf_tcp_backend *b);
void sgbpf_tcp_io_close(struct sgbpf_service *svc, struct sgbpf_tcp_backend *b);
int sgbpf_tcp_scatter(struct sgbpf_service *svc, uint32_t slot, uint32_t req_id, uint32_t needed,
		      const void *body, size_t len);
int sgbpf_tcp_reap(struct sgbpf_service *svc);
int sgbpf_tcp_wait_events(struct sgbpf_service *svc, int timeout_ms);
/* Waits up to timeout_ms for every worker to connect; 0 or -ETIMEDOUT. */
int sgbpf_tcp_wait_workers(struct sgbpf_service *svc, int timeout_ms);

#endif
