/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * SGBPF_TCP_ELEMENTWISE_REDUCER(NAME, TYPE, IDENTITY, COMBINE): the TCP
 * backend's twin of SGBPF_ELEMENTWISE_REDUCER() in <sgbpf/aggregation.bpf.h>,
 * taking the same three things a reduction is made of -- element type,
 * identity, and an associative, commutative combine -- so that one
 * definition of COMBINE serves both backends.
 *
 * Why a twin and not that macro: the UDP one folds a whole (at most
 * 1454-byte) body handed over by a tail call into a per-CPU partial and
 * merges the partials at completion.  A TCP reply is megabytes arriving in
 * pieces cut anywhere, folded as it streams past, so the fold works on one
 * 256-byte result chunk at a time, directly in the shared result under that
 * chunk's spin lock; a per-CPU partial of a multi-megabyte result would cost
 * its size per CPU and per slot, and a merge of megabytes at completion.
 *
 * It defines the sk_skb verdict program NAME, to be attached to the
 * service's sockmap, with the whole parser (stream_parse.bpf.h) inlined.
 */
#ifndef SGBPF_TCP_STREAM_REDUCE_BPF_H
#define SGBPF_TCP_STREAM_REDUCE_BPF_H

#include "stream_parse.bpf.h"

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
	/* A later opening owns the chunk: this fold is late, leave it. */		\
	if (pc.lk->gen == pc.gen) {							\
		for (__u32 k = 0; k < SGBPF_TCP_CHUNK / sizeof(TYPE); k++) {		\
			if (k < from)							\
				continue;						\
			if (k >= to)							\
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

#endif /* SGBPF_TCP_STREAM_REDUCE_BPF_H */
