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

/*
 * The first index of group g of a piece starting at element from, or e (out
 * of the chunk: stop) once the piece's groups are done.  Out of line of the
 * loop's arithmetic on purpose: the verifier must see the bound k <= e - 4
 * checked on k itself, and the barrier keeps clang from rewriting k as a
 * pointer it steps, whose bound the verifier could not follow.
 */
static __always_inline __u32 sgbpf_tcp_fold_group(__u32 from, __u32 g, __u32 groups, __u32 e)
{
	__u32 k = from + g * 4;

	__asm__ __volatile__("" : "+r"(k));
	if (g >= groups || k > e - 4)
		return e;
	return k;
}

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
	 * The loops count the piece's elements and leave by one exit when	\
	 * they are done, so that the verifier's paths through them grow with	\
	 * the elements, not with the branches of COMBINE times the ways an	\
	 * element can fall outside [from, to).  Four elements per turn of the	\
	 * first loop: the per-element cost is then mostly the combine, not	\
	 * the loop (sgbpf_tcp_fold_group()); the rest go one by one, their	\
	 * index masked into the chunk (a no-op: to <= elements of a chunk).	\
	 */										\
	if (pc.lk->gen == pc.gen) {							\
		const __u32 e = SGBPF_TCP_CHUNK / sizeof(TYPE);				\
		__u32 n = to - from, groups = n / 4, k;					\
		const TYPE *b;								\
		TYPE *a;								\
											\
		for (__u32 g = 0; g < e / 4; g++) {					\
			k = sgbpf_tcp_fold_group(from, g, groups, e);			\
			if (k >= e)							\
				break;							\
			a = &acc[k];							\
			b = &in[k];							\
			a[0] = COMBINE(a[0], b[0]);					\
			a[1] = COMBINE(a[1], b[1]);					\
			a[2] = COMBINE(a[2], b[2]);					\
			a[3] = COMBINE(a[3], b[3]);					\
		}									\
		from += groups * 4;							\
		n -= groups * 4;							\
		for (__u32 j = 0; j < 3; j++) {						\
			k = (from + j) & (e - 1);					\
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
