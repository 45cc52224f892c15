/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Control-fd delivery for the TCP stream program: the completions one skb's
 * parse committed are written over the head of that skb, which is then
 * redirected into the AF_UNIX datagram control socket in the same sockmap
 * (key SGBPF_TCP_CTRL_KEY) instead of being dropped.
 *
 * Why this is sound:
 *   - never early: the redirect is the verdict of the run that published the
 *     results (sgbpf_tcp_commit() stored COMPLETE before the id was noted),
 *     and the note only reaches the socket after the program returned;
 *   - the skb's bytes are all parsed before its head is overwritten: with
 *     fate discard they were consumed anyway, and the parse state lives in
 *     sgbpf_tcp_conns, not in the skb, so bytes of the next reply in the
 *     same skb lose nothing;
 *   - its length is not changed: tcp_eat_skb() advances copied_seq by the
 *     skb's length after the program ran, so a shrunk skb would leave TCP
 *     believing unread bytes remain;
 *   - a completion no note carries (an skb shorter than a note, more
 *     completions than a note holds, a refused rewrite or redirect) is
 *     counted here and found by the library's periodic look at the slots.
 * Fate allow passes the bytes to the application, so it has no notes.
 */
#ifndef SGBPF_TCP_NOTIFY_BPF_H
#define SGBPF_TCP_NOTIFY_BPF_H

#include <sgbpf/tcp_maps.bpf.h>

/* Records a completion of the current skb's walk in its socket's state. */
static __always_inline void sgbpf_tcp_note_add(struct sgbpf_tcp_conn *c, __u32 req_id)
{
	__u32 i = c->note_n;

	if (i < SGBPF_TCP_NOTE_IDS)
		c->note_ids[i] = req_id;
	c->note_n = i + 1;
}

static __always_inline int sgbpf_tcp_note_fail(struct sgbpf_tcp_conn *c)
{
	sgbpf_tcp_stat_add(SGBPF_TCP_S_NOTE_FAILED, 1);
	sgbpf_tcp_stat_add(SGBPF_TCP_S_UNNOTED, c->note_n);
	return SK_DROP;
}

/*
 * The verdict of an skb that completed requests and would otherwise be
 * dropped: SK_PASS with the redirect set, or SK_DROP when no note could be
 * made (the completions are then the scan's).
 */
static __always_inline int sgbpf_tcp_note_send(struct __sk_buff *skb, struct sgbpf_tcp_conn *c)
{
	struct sgbpf_tcp_note h = { .len = skb->len, .magic = SGBPF_TCP_NOTE_MAGIC };
	__u32 n = c->note_n, fit;

	if (skb->len < SGBPF_TCP_NOTE_MIN) {
		sgbpf_tcp_stat_add(SGBPF_TCP_S_UNNOTED, n);
		return SK_DROP;
	}
	fit = (skb->len - sizeof(h)) / sizeof(__u32);
	if (n > SGBPF_TCP_NOTE_IDS)
		n = SGBPF_TCP_NOTE_IDS;
	if (n > fit)
		n = fit;
	SGBPF_TCP_OPAQUE(n);
	if (n == 0 || n > SGBPF_TCP_NOTE_IDS)
		return sgbpf_tcp_note_fail(c);
	h.nreq = n;
	if (bpf_skb_store_bytes(skb, 0, &h, sizeof(h), 0) ||
	    bpf_skb_store_bytes(skb, sizeof(h), c->note_ids, n * sizeof(__u32), 0))
		return sgbpf_tcp_note_fail(c);
	if (bpf_sk_redirect_map(skb, &sgbpf_tcp_socks, SGBPF_TCP_CTRL_KEY, BPF_F_INGRESS) != SK_PASS)
		return sgbpf_tcp_note_fail(c);
	sgbpf_tcp_stat_add(SGBPF_TCP_S_NOTES, 1);
	sgbpf_tcp_stat_add(SGBPF_TCP_S_UNNOTED, c->note_n - n);
	return SK_PASS;
}

/* The verdict of a walk that ended with verdict, notes considered. */
static __always_inline int sgbpf_tcp_settle(struct __sk_buff *skb, struct sgbpf_tcp_conn *c,
					    int verdict)
{
	if (!c->note_n)
		return verdict;
	if (verdict != SK_DROP || !sgbpf_tcp_ctrl_notes) {
		/* Cannot happen (user space refuses notes with fate allow); never lose bytes. */
		sgbpf_tcp_stat_add(SGBPF_TCP_S_UNNOTED, c->note_n);
		return verdict;
	}
	return sgbpf_tcp_note_send(skb, c);
}

#endif /* SGBPF_TCP_NOTIFY_BPF_H */
