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

struct sgbpf_tcp_backend {
	struct sgbpf_tcp_steer *steer;
	struct sgbpf_tcp_stream *stream;
	struct io_uring ring;
	bool ring_ready;
	int efd;		/* eventfd the ring signals completions on; -1 */
	int ev_fd;		/* epoll of the ring buffer and efd (sgbpf_service_fd()); -1 */
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
	/* Counters apart from the kernel's. */
	uint64_t requests, sends, send_failures, resets, reconnects, accept_errors;
};

/* tcp_slot.c: the core's view of the stream program's slots */
enum sgbpf_slot_view sgbpf_tcp_slot_view(const struct sgbpf_service *svc, uint32_t slot,
					 uint32_t req_id);
bool sgbpf_tcp_slot_close(struct sgbpf_service *svc, uint32_t slot, uint32_t req_id);
void sgbpf_tcp_slot_result(const struct sgbpf_service *svc, uint32_t slot, uint32_t req_id,
			   bool complete, struct sgbpf_slot_result *out);

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
