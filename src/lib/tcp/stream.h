/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Driver of bpf-tcp/stream.bpf.c: the sockmap of accepted worker
 * connections, their parse state, the request slots and results the verdict
 * program folds into, and its ring buffer.  Internal to libsgbpf.
 *
 * Slots are opened and expired here by writing the mmap'ed slot array, the
 * way the backend-neutral core will; nothing here sends a request.
 */
#ifndef SGBPF_TCP_STREAM_H
#define SGBPF_TCP_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sgbpf/sgbpf.h>
#include <sgbpf/tcp_state.h>

struct sgbpf_tcp_stream;

struct sgbpf_tcp_stream_opts {
	size_t sz;			/* sizeof(struct sgbpf_tcp_stream_opts) */
	enum sgbpf_reduce reduce;	/* built-in, or SGBPF_REDUCE_CUSTOM from reduce_obj */
	const char *reduce_obj;		/* custom: path of the object */
	const char *reduce_prog;	/* custom: NAME of SGBPF_ELEMENTWISE_REDUCER(NAME...), or NULL */
	uint32_t reduce_elem_size;	/* custom: the element size expected, 0 for any */
	uint32_t slots;			/* request slots, a power of two (0: 64) */
	uint32_t max_reply;		/* largest reply body in bytes; larger is a protocol error */
	bool fate_pass;			/* SK_PASS parsed bytes to the application (fate allow) */
	/*
	 * Completions as notes to a control socket (sgbpf_tcp_stream_set_ctrl)
	 * instead of ring buffer events; not with fate_pass.
	 */
	bool ctrl_notes;
};

/*
 * Loads the verdict program of opts->reduce (only that one; for a custom
 * reduction, the object's TCP program, on the skeleton's maps), sizes the
 * result area to slots x max_reply, maps the slots and results, and
 * attaches the program to the sockmap.  Everything goes with the handle.
 * Returns 0 and *out, or a negative errno.
 */
int sgbpf_tcp_stream_create(const struct sgbpf_tcp_stream_opts *opts,
			    struct sgbpf_tcp_stream **out);

/* Removes every socket still in the map, frees everything.  NULL is a no-op. */
void sgbpf_tcp_stream_destroy(struct sgbpf_tcp_stream *st);

/*
 * Puts the accepted socket fd of worker (its index in the service's list)
 * in the sockmap, with fresh parse state.  Call it right after accept() and
 * before the first request: bytes that arrive earlier are held by TCP and
 * parsed with the next ones.  -EEXIST when the worker already has one.
 */
int sgbpf_tcp_stream_add(struct sgbpf_tcp_stream *st, int fd, uint32_t worker);

/*
 * Puts the AF_UNIX datagram socket fd in the sockmap as the control socket
 * that completion notes are redirected to (ctrl_notes); -1 takes it out.
 */
int sgbpf_tcp_stream_set_ctrl(struct sgbpf_tcp_stream *st, int fd);

/* Takes fd out of the sockmap and drops its parse state; call before close(). */
int sgbpf_tcp_stream_remove(struct sgbpf_tcp_stream *st, int fd, uint32_t worker);

/*
 * For a connection the program marked broken: removes it and sets a zero
 * linger, so that the caller's close() sends a reset instead of a FIN.
 */
int sgbpf_tcp_stream_reset(struct sgbpf_tcp_stream *st, int fd, uint32_t worker);

/* Opens req_id's slot for needed replies; -EBUSY if the slot is still active. */
int sgbpf_tcp_stream_open(struct sgbpf_tcp_stream *st, uint32_t req_id, uint32_t needed);

/* Expires req_id: 0, -EALREADY if it completed first, -ESTALE if its slot moved on. */
int sgbpf_tcp_stream_expire(struct sgbpf_tcp_stream *st, uint32_t req_id);

/*
 * The result of completed request req_id: a pointer into the mmap'ed result
 * area (valid until the slot is reopened) and its element count and replies.
 * NULL with errno EAGAIN while it is not complete, ESTALE if the slot moved on.
 */
const void *sgbpf_tcp_stream_result(const struct sgbpf_tcp_stream *st, uint32_t req_id,
				    uint32_t *nelems, uint32_t *responses);

/*
 * Slot s of the mmap'ed slot array (s < slots), for the service core's view
 * of it (tcp_slot.c); NULL when out of range.
 */
struct sgbpf_tcp_slot *sgbpf_tcp_stream_slot(const struct sgbpf_tcp_stream *st, uint32_t s);

/* The element size a custom reduction's object records; 0 for a built-in. */
uint32_t sgbpf_tcp_stream_elem_size(const struct sgbpf_tcp_stream *st);

/* The largest result in bytes a slot holds: max_reply rounded up to chunks. */
size_t sgbpf_tcp_stream_result_bytes(const struct sgbpf_tcp_stream *st);

typedef int (*sgbpf_tcp_event_fn)(void *ctx, const struct sgbpf_tcp_event *ev);

/*
 * Waits up to timeout_ms for ring buffer events and calls fn for each; with
 * 0, reads what is there without a system call.  Returns the number
 * handled, or a negative errno.
 */
int sgbpf_tcp_stream_poll(struct sgbpf_tcp_stream *st, int timeout_ms, sgbpf_tcp_event_fn fn,
			  void *ctx);

/* The ring buffer's descriptor, for an epoll loop (readable: call _poll with 0). */
int sgbpf_tcp_stream_events_fd(const struct sgbpf_tcp_stream *st);

/* A copy of fd's parse state (counters, flags); -ENOENT if fd is not in the map. */
int sgbpf_tcp_stream_conn(const struct sgbpf_tcp_stream *st, int fd, struct sgbpf_tcp_conn *out);

/* Sums the per-CPU counters (enum sgbpf_tcp_stream_stat) into out[]. */
int sgbpf_tcp_stream_stats(const struct sgbpf_tcp_stream *st,
			   uint64_t out[__SGBPF_TCP_STREAM_STATS]);

#endif /* SGBPF_TCP_STREAM_H */
