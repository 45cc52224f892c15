/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Private state of the UDP backend, shared by its loader and its I/O half. */
#ifndef SGBPF_LIB_UDP_BACKEND_H
#define SGBPF_LIB_UDP_BACKEND_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <liburing.h>

#include <sgbpf/sgbpf.h>
#include <sgbpf/udp_state.h>

struct sgbpf_udp;
struct sgbpf_service;
struct sgbpf_attachment;
struct ring_buffer;

/* One scatter message being sent: lives until its sends complete. */
struct udp_tx {
	uint8_t buf[SGBPF_HDR_LEN + SGBPF_UDP_BODY_MAX];
};

/* Fate allow: one received reply, filed under its request's slot. */
struct udp_rx_entry {
	uint32_t next;		/* next buffer id of the same slot, UINT32_MAX ends */
	uint32_t worker;
	uint32_t len;		/* payload bytes */
};

/* Fate allow: replies read from the service socket through provided buffers. */
struct udp_rx {
	struct io_uring_buf_ring *ring;	/* ring-mapped provided buffers */
	uint8_t *bufs;
	size_t ring_bytes;
	uint32_t nbufs;
	uint32_t buf_size;
	bool armed;			/* a multishot recvmsg is outstanding */
	struct msghdr mh;		/* layout template for recvmsg multishot */
	struct udp_rx_entry *entries;	/* per buffer id */
	uint32_t *head;			/* per slot: first buffer id, UINT32_MAX if none */
	uint32_t *count;		/* per slot: replies filed */
	struct sgbpf_response *view;	/* nworkers entries, filled at report time */
	/*
	 * Control fd + fate allow: the reply that completed a request arrives on
	 * the control socket, whole; it is kept here, one per slot, so that it is
	 * listed with the others.
	 */
	uint8_t *last;			/* nslots * SGBPF_UDP_MSG_LEN */
	uint32_t *last_len;		/* per slot, 0: none */
	uint32_t *last_worker;
	uint8_t *held;			/* per buffer id, scratch for ring_adopt() */
};

/* Control datagrams read per recvmmsg(). */
#define SGBPF_CTRL_BATCH 64

struct sgbpf_udp_backend {
	struct sgbpf_udp *skel;
	struct bpf_object *custom_obj;	/* a custom reduction's object, or NULL */
	char *load_log;			/* while loading: the verifier's log (udp_backend.c) */
	struct sgbpf_attachment *gather;	/* XDP, or TC ingress */
	struct sgbpf_attachment *scatter;	/* TC egress */
	int ifindex;

	int sock;			/* service socket: scatters out, allowed replies in */
	int ctrl_sock;			/* control socket, SGBPF_DELIVERY_CTRL_FD; -1 */
	/*
	 * Where a scatter's triggers go: batch k to worker k * SGBPF_SCATTER_BATCH,
	 * the first of the workers its copies reach (TC egress looks it up).
	 */
	struct sockaddr_in *batch_addr;
	uint32_t nbatch;
	uint8_t *ctrl_bufs;		/* SGBPF_CTRL_BATCH datagrams, for drain_ctrl() */
	uint32_t ctrl_drops;		/* the control socket's SO_RXQ_OVFL count seen last */
	/* Control fd mode: the epoll set sgbpf_service_fd() returns; -1. */
	int ev_fd;
	/* rtnetlink link events: the interface going away, down, or shrinking; -1. */
	int link_sock;
	char ifname[IF_NAMESIZE];
	uint32_t mtu_min;		/* smallest MTU the service works with */
	uint16_t port;			/* host order */

	struct sgbpf_slot *slots;	/* mmap of the slots map */
	size_t slots_len;
	struct sgbpf_chunk *chunks;	/* mmap of the result chunks (max_packets > 1) */
	size_t chunks_len;
	uint8_t *result_buf;		/* a multi-chunk result laid out whole */
	struct ring_buffer *rb;
	/* Wake-up batching (udp_wake.c): the awake word, the ring's positions, the kick. */
	struct sgbpf_wake *wake;
	const unsigned long *rb_cons, *rb_prod;
	int kick_fd;
	bool kicked;			/* kick_fd holds a count: read it back */

	struct io_uring ring;
	bool ring_ready;
	bool ring_disabled;		/* created disabled: enabled by the first scatter */
	bool single_issuer;		/* only the thread in issuer may enter the ring */
	uint64_t issuer;		/* thread_serial() of that thread */
	/*
	 * The sends sgbpf_udp_scatter() waits for (one per batch of workers):
	 * their user_data, how many are not reaped yet, and the first error.
	 */
	uint64_t tx_wait;
	int tx_res;
	uint32_t tx_left;
	struct udp_tx *tx;		/* one per slot */
	uint8_t *next_batch;		/* per slot: first batch a staged request has not sent */
	struct udp_rx rx;
};

/* udp_io.c */
int sgbpf_udp_io_open(struct sgbpf_service *svc, struct sgbpf_udp_backend *b,
		      const struct sgbpf_service_opts *opts);
void sgbpf_udp_io_close(struct sgbpf_service *svc, struct sgbpf_udp_backend *b);
int sgbpf_udp_io_start(struct sgbpf_service *svc, struct sgbpf_udp_backend *b);
/*
 * udp_wake.c: ring-buffer wake-up batching.  awake() marks the library
 * busy on the application's behalf; wake_leave() ends that before a sleep
 * or a return, reading what came unannounced when may_read (else making the
 * descriptor readable), and returns the events read or a negative errno;
 * wake_kicked() clears the kick once the ring is being read.
 */
int sgbpf_udp_wake_open(struct sgbpf_service *svc, struct sgbpf_udp_backend *b, uint64_t tag);
void sgbpf_udp_wake_close(struct sgbpf_udp_backend *b);
void sgbpf_udp_awake(struct sgbpf_udp_backend *b);
int sgbpf_udp_wake_leave(struct sgbpf_udp_backend *b, bool may_read);
void sgbpf_udp_wake_kicked(struct sgbpf_udp_backend *b);

/* udp_slot.c: the slot words, for the core. */
enum sgbpf_slot_view sgbpf_udp_slot_view(const struct sgbpf_service *svc, uint32_t slot,
					 uint32_t req_id);
bool sgbpf_udp_slot_close(struct sgbpf_service *svc, uint32_t slot, uint32_t req_id);
void sgbpf_udp_slot_result(const struct sgbpf_service *svc, uint32_t slot, uint32_t req_id,
			   bool complete, struct sgbpf_slot_result *out);

int sgbpf_udp_scatter(struct sgbpf_service *svc, uint32_t slot, uint32_t req_id, uint32_t needed,
		      const void *body, size_t len);
int sgbpf_udp_stage(struct sgbpf_service *svc, uint32_t slot, uint32_t req_id, uint32_t needed,
		    const void *body, size_t len);
int sgbpf_udp_launch(struct sgbpf_service *svc, uint32_t slot, uint32_t req_id, uint32_t room,
		     bool must);
int sgbpf_udp_rescatter(struct sgbpf_service *svc, uint32_t slot, uint32_t req_id);
int sgbpf_udp_allgather(struct sgbpf_service *svc, uint32_t slot, uint32_t req_id,
			const void *result, size_t len);
int sgbpf_udp_reap(struct sgbpf_service *svc);
int sgbpf_udp_wait_events(struct sgbpf_service *svc, int timeout_ms);
const struct sgbpf_response *sgbpf_udp_responses(struct sgbpf_service *svc, uint32_t slot,
						 uint32_t *n);
void sgbpf_udp_release_responses(struct sgbpf_service *svc, uint32_t slot);
uint32_t sgbpf_udp_rx_count(struct sgbpf_service *svc, uint32_t slot);
int sgbpf_udp_maintain(struct sgbpf_service *svc);

#endif
