/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The TCP half of an in-kernel reduction; a reduction's source includes
 * <sgbpf/aggregation.bpf.h>, which makes both halves from one definition.
 *
 * SGBPF_TCP_ELEMENTWISE_REDUCER(NAME, TYPE, IDENTITY, COMBINE) takes the
 * three things a reduction is made of -- element type, identity, and an
 * associative, commutative combine -- and defines the sk_skb verdict
 * program NAME, to be attached to the service's sockmap, with the whole
 * parser (tcp_parse.bpf.h) inlined: a verdict program cannot tail-call
 * from inside the bpf_loop() that walks the skb.
 *
 * Why a fold of its own and not the UDP half's: that one folds a whole (at
 * most 1454-byte) datagram body into a per-CPU partial and merges the
 * partials at completion.  A TCP reply is megabytes arriving in pieces cut
 * anywhere, folded as it streams past, so the fold works on one result
 * chunk at a time, directly in the shared result under that chunk's spin
 * lock; a per-CPU partial of a multi-megabyte result would cost its size
 * per CPU and per slot, and a merge of megabytes at completion.
 */
#ifndef SGBPF_TCP_AGGREGATION_BPF_H
#define SGBPF_TCP_AGGREGATION_BPF_H

#include <sgbpf/tcp_parse.bpf.h>

#define SGBPF_TCP_ELEMENTWISE_REDUCER(NAME, TYPE, IDENTITY, COMBINE)			\
static long NAME##__step(__u32 i, void *arg)						\
{											\
	struct sgbpf_tcp_walk *w = arg;							\
	struct sgbpf_tcp_piece pc = {};							\
	TYPE *acc;									\
	const TYPE *in;									\
	__u32 from, to;									\
											\
	switch (sgbpf_tcp_step(w, &pc, sizeof(TYPE))) {					\
	case SGBPF_TCP_STEP_DONE:							\
		return 1;								\
	case SGBPF_TCP_STEP_FOLD:							\
		break;									\
	default:									\
		return sgbpf_tcp_step_end(w, sizeof(TYPE));				\
	}										\
	if (!pc.res || !pc.lk || !pc.in)						\
		return 1;								\
	acc = (TYPE *)pc.res->data;							\
	in = (const TYPE *)pc.in->data;							\
	from = pc.from;									\
	to = pc.to;									\
	bpf_spin_lock(&pc.lk->lock);							\
	if (pc.lk->gen != pc.gen && (__s64)(pc.lk->gen - pc.gen) < 0) {			\
		/* First touch of this chunk by this opening of the slot. */		\
		for (__u32 k = 0; k < SGBPF_TCP_CHUNK / sizeof(TYPE); k++) {		\
			acc[k] = (TYPE)(IDENTITY);					\
			/* Keeps clang from turning the loop into memset. */		\
			__asm__ __volatile__("" ::: "memory");				\
		}									\
		pc.lk->gen = pc.gen;							\
	}										\
	/*										\
	 * A later opening owns the chunk: this fold is late, leave it.		\
	 * The loop counts the piece's elements and leaves by the one exit	\
	 * when they are done; the index is masked into the chunk (a no-op:	\
	 * to <= elements of a chunk).  Written so, the verifier's paths	\
	 * through it grow with the elements, not with the branches of COMBINE	\
	 * times the ways an element can fall outside [from, to).		\
	 */										\
	if (pc.lk->gen == pc.gen) {							\
		__u32 n = to - from;							\
											\
		for (__u32 j = 0; j < SGBPF_TCP_CHUNK / sizeof(TYPE); j++) {		\
			__u32 k = (from + j) & (SGBPF_TCP_CHUNK / sizeof(TYPE) - 1);	\
											\
			if (j >= n)							\
				break;							\
			acc[k] = COMBINE(acc[k], in[k]);				\
		}									\
	}										\
	bpf_spin_unlock(&pc.lk->lock);							\
	return sgbpf_tcp_step_end(w, sizeof(TYPE));					\
}											\
											\
SEC("sk_skb")										\
int NAME(struct __sk_buff *skb)								\
{											\
	return sgbpf_tcp_verdict(skb, NAME##__step);					\
}

#endif /* SGBPF_TCP_AGGREGATION_BPF_H */
