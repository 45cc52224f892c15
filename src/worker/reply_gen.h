/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Deterministic reply contents of the reference worker.
 *
 * The worker (sgbpf worker) fills its replies with these functions, and
 * whoever checks a gathered result (tests, the demo, benchmarks) recomputes
 * what the workers must have sent with the same functions.  The formulas are
 * part of the documented protocol (docs/protocol.md, "Reference worker
 * replies"); changing one breaks every checker written against it.
 *
 * Not part of libsgbpf: the static library sgbpf_reply_gen, linked by the
 * workers, the CLI and the tests; not installed.
 */
#ifndef SGBPF_WORKER_REPLY_GEN_H
#define SGBPF_WORKER_REPLY_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sgbpf/protocol.h>

/* Elements of one full reply body: 363 u32, the original benchmark's reply. */
#define REPLY_GEN_NELEMS SGBPF_UDP_BODY_U32

enum reply_kind {
	REPLY_VECTOR = 0,	/* element i = i (+ seq * 363) */
	REPLY_SCALAR,		/* one element equal to 1 */
	REPLY_ZEROS,		/* 363 zeros */
	REPLY_RANDOM,		/* a hash of (seed, port, req_id, i) */
};

struct reply_gen {
	enum reply_kind kind;
	uint64_t seed;		/* REPLY_RANDOM only */
};

/*
 * Parses "vector", "scalar", "zeros" or "random:SEED" (SEED decimal or
 * 0x-hex, 0..2^64-1).  Returns 0 or -EINVAL.
 */
int reply_gen_parse(const char *s, struct reply_gen *out);

/* Writes the spelling reply_gen_parse() accepts; returns snprintf's result. */
int reply_gen_format(const struct reply_gen *g, char *buf, size_t len);

/* u32 elements in each packet's body: 1 for scalar, 363 otherwise. */
uint32_t reply_gen_nelems(const struct reply_gen *g);

/*
 * Element i (0 <= i < reply_gen_nelems()) of packet seq of the reply that
 * the worker listening on port sends for req_id.
 */
uint32_t reply_gen_elem(const struct reply_gen *g, uint16_t port, uint32_t req_id,
			uint32_t seq, uint32_t i);

/*
 * Fills body (room for SGBPF_UDP_BODY_MAX bytes) with packet seq's elements,
 * little-endian, and returns body_len in bytes.  Bytes past body_len are
 * left alone.
 */
uint32_t reply_gen_fill_body(const struct reply_gen *g, uint16_t port, uint32_t req_id,
			     uint32_t seq, void *body);

/*
 * Fills a whole reply datagram (room for SGBPF_UDP_MSG_LEN bytes): header
 * (msg_type SGBPF_MSG_GATHER, flags 0) and body.  With pad, the datagram is
 * zero-padded to SGBPF_UDP_MSG_LEN bytes as the original workers sent it.
 * Returns the datagram length.
 */
uint32_t reply_gen_fill_msg(const struct reply_gen *g, uint16_t port, uint32_t req_id,
			    uint32_t seq, uint32_t num_pks, bool pad, void *buf);

/*
 * The element-wise u32 sum (wrapping) of packet seq's bodies over the
 * workers listening on ports[0..nports-1], for req_id: what a sum-u32
 * reduction of their replies must produce.  Writes reply_gen_nelems()
 * elements to out and returns that count.
 */
uint32_t reply_gen_expected_sum_u32(const struct reply_gen *g, const uint16_t *ports,
				    size_t nports, uint32_t req_id, uint32_t seq,
				    uint32_t *out);

#endif /* SGBPF_WORKER_REPLY_GEN_H */
