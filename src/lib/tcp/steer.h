/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Driver of bpf-tcp/steer.bpf.c: per-worker listening sockets and the
 * SK_LOOKUP program that steers each listed worker's SYN to its own.
 * Internal to libsgbpf (the TCP backend builds on it).
 */
#ifndef SGBPF_TCP_STEER_H
#define SGBPF_TCP_STEER_H

#include <stddef.h>
#include <stdint.h>

#include <sgbpf/sgbpf.h>
#include <sgbpf/tcp_state.h>

struct sgbpf_tcp_steer;

/*
 * Loads the steering program for the service at *service, creates one
 * listening socket per worker (bound to the service's address, port chosen
 * by the kernel but never one of the workers' source ports, which on one
 * host they could then not bind; the workers connect to the service's port
 * and never see it) and attaches the program to the calling thread's
 * network namespace with a bpf_link, which goes away with the last
 * descriptor of it (this handle, or the process).  workers[i] is worker i's source endpoint.
 * Returns 0 and *out, or a negative errno; nothing is left on failure.
 */
int sgbpf_tcp_steer_create(const struct sgbpf_endpoint *service,
			   const struct sgbpf_endpoint *workers, size_t nworkers,
			   struct sgbpf_tcp_steer **out);

/* Worker i's listening socket (owned by the handle), or -EINVAL. */
int sgbpf_tcp_steer_listener(const struct sgbpf_tcp_steer *st, size_t i);

/* Sums the per-CPU counters (enum sgbpf_tcp_steer_stat) into out[]. */
int sgbpf_tcp_steer_stats(const struct sgbpf_tcp_steer *st,
			  uint64_t out[__SGBPF_TCP_STEER_STATS]);

/* Detaches the program, closes the listeners, frees the handle.  NULL is a no-op. */
void sgbpf_tcp_steer_destroy(struct sgbpf_tcp_steer *st);

#endif /* SGBPF_TCP_STEER_H */
