// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The TCP contenders' framer and fold (bench/bench_tcp_common.c), fed by
 * hand: replies cut at every byte boundary sum exactly; a duplicate, a
 * wrong size, a stray message type and a reply to an expired request are
 * counted and never folded, and the stream stays framed after each.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "bench_tcp_common.h"

#define NW	3u
#define BODY	1030u	/* not a multiple of 4: a trailing partial element */

struct rig {
	struct sockaddr_in w[NW];
	struct bench_opts o;
	struct btcp_args a;
	struct bench_table t;
	struct btcp b;
};

static void rig_init(struct rig *r, uint32_t inflight)
{
	memset(r, 0, sizeof(*r));
	for (uint32_t i = 0; i < NW; i++)
		r->w[i] = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(40000 + i),
						.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	r->o = (struct bench_opts){ .name = "tcp_t", .label = "tcp_t", .mode = "latency",
				    .workers = r->w, .nworkers = NW, .inflight = inflight,
				    .cpu = -1, .timeout_us = 1000000, .max_seconds = 10 };
	r->a = (struct btcp_args){ .reply_size = BODY, .reply = BTCP_REPLY_VECTOR };
	ck_assert_int_eq(bench_table_init(&r->t, &r->o), 0);
	ck_assert_int_eq(btcp_init(&r->b, &r->t, &r->a), 0);
}

static void rig_free(struct rig *r)
{
	btcp_close(&r->b);
	bench_table_free(&r->t);
}

/* A reply as the farm sends it: header, then u32 element i = i, little-endian. */
static size_t reply(uint8_t *buf, uint32_t req_id, uint32_t body_len, uint8_t type)
{
	struct sgbpf_hdr h = { .req_id = sgbpf_le32(req_id), .num_pks = sgbpf_le32(1),
			       .body_len = sgbpf_le32(body_len), .msg_type = type };

	memcpy(buf, &h, SGBPF_HDR_LEN);
	for (uint32_t i = 0; i < body_len; i++) {
		uint32_t v = sgbpf_le32(i / 4);

		buf[SGBPF_HDR_LEN + i] = ((uint8_t *)&v)[i % 4];
	}
	return SGBPF_HDR_LEN + body_len;
}

START_TEST(test_every_cut_sums_exactly)
{
	static uint8_t buf[SGBPF_HDR_LEN + BODY];
	struct rig r;

	rig_init(&r, 1);
	/* One request per cut position: each reply arrives in two pieces cut there. */
	for (size_t cut = 0; cut <= sizeof(buf); cut++) {
		struct bench_slot *s = bench_table_start(&r.t);
		size_t len;

		ck_assert_ptr_nonnull(s);
		btcp_start(&r.b, s);
		for (uint32_t w = 0; w < NW; w++) {
			len = reply(buf, s->req_id, BODY, SGBPF_MSG_GATHER);
			ck_assert_int_eq(btcp_feed(&r.b, &r.b.conns[w], buf, cut), 0);
			ck_assert_int_eq(btcp_feed(&r.b, &r.b.conns[w], buf + cut, len - cut), 0);
		}
		ck_assert(!s->active);
	}
	ck_assert_uint_eq(r.t.c.ok, sizeof(buf) + 1);
	ck_assert_uint_eq(r.t.c.mismatches + r.t.c.bad_replies + r.t.c.stale, 0);
	rig_free(&r);
}
END_TEST

START_TEST(test_byte_at_a_time)
{
	static uint8_t buf[SGBPF_HDR_LEN + BODY];
	struct rig r;
	struct bench_slot *s;

	rig_init(&r, 1);
	s = bench_table_start(&r.t);
	btcp_start(&r.b, s);
	for (uint32_t w = 0; w < NW; w++) {
		size_t len = reply(buf, s->req_id, BODY, SGBPF_MSG_GATHER);

		for (size_t i = 0; i < len; i++)
			ck_assert_int_eq(btcp_feed(&r.b, &r.b.conns[w], buf + i, 1), 0);
	}
	ck_assert_uint_eq(r.t.c.ok, 1);
	rig_free(&r);
}
END_TEST

START_TEST(test_bad_replies_skipped_and_framed)
{
	static uint8_t buf[4 * (SGBPF_HDR_LEN + BODY + 8)];
	struct rig r;
	struct bench_slot *s, *old;
	size_t len;

	rig_init(&r, 2);
	old = bench_table_start(&r.t);
	btcp_start(&r.b, old);
	{
		uint32_t old_id = old->req_id;

		/* Expire it: its replies are now late, and must not touch the next request. */
		bench_table_expire(&r.t, bench_now_ns() + 2000000000ull);
		s = bench_table_start(&r.t);
		btcp_start(&r.b, s);
		/* Worker 0: a late reply, a wrong size, a stray type, then its real reply. */
		len = reply(buf, old_id, BODY, SGBPF_MSG_GATHER);
		len += reply(buf + len, s->req_id, BODY + 8, SGBPF_MSG_GATHER);
		len += reply(buf + len, s->req_id, BODY, SGBPF_MSG_SCATTER);
		len += reply(buf + len, s->req_id, BODY, SGBPF_MSG_GATHER);
		ck_assert_int_eq(btcp_feed(&r.b, &r.b.conns[0], buf, len), 0);
	}
	ck_assert_uint_eq(r.t.c.stale, 1);
	ck_assert_uint_eq(r.t.c.bad_replies, 2);
	/* Worker 1 answers twice: the second is a duplicate, not a completion. */
	len = reply(buf, s->req_id, BODY, SGBPF_MSG_GATHER);
	len += reply(buf + len, s->req_id, BODY, SGBPF_MSG_GATHER);
	ck_assert_int_eq(btcp_feed(&r.b, &r.b.conns[1], buf, len), 0);
	ck_assert_uint_eq(r.t.c.bad_replies, 3);
	ck_assert(s->active);
	len = reply(buf, s->req_id, BODY, SGBPF_MSG_GATHER);
	ck_assert_int_eq(btcp_feed(&r.b, &r.b.conns[2], buf, len), 0);
	ck_assert(!s->active);
	ck_assert_uint_eq(r.t.c.ok, 1);
	ck_assert_uint_eq(r.t.c.mismatches, 0);
	rig_free(&r);
}
END_TEST

START_TEST(test_unframeable_stream)
{
	uint8_t buf[SGBPF_HDR_LEN];
	struct rig r;

	rig_init(&r, 1);
	reply(buf, 0, 0, SGBPF_MSG_GATHER);
	((struct sgbpf_hdr *)buf)->body_len = sgbpf_le32(BTCP_REPLY_MAX + 1);
	ck_assert_int_eq(btcp_feed(&r.b, &r.b.conns[0], buf, sizeof(buf)), -EPROTO);
	rig_free(&r);
}
END_TEST

START_TEST(test_fold_matches_bytes)
{
	uint8_t p[4 * 37 + 1];
	uint32_t acc[37] = { 0 };

	for (size_t i = 0; i < sizeof(p); i++)
		p[i] = (uint8_t)(i * 7 + 1);
	/* Unaligned source, a length that is not a multiple of the eight-element step. */
	btcp_fold_u32(acc, p + 1, 37);
	for (uint32_t i = 0; i < 37; i++) {
		const uint8_t *q = p + 1 + 4 * i;

		ck_assert_uint_eq(acc[i], (uint32_t)q[0] | (uint32_t)q[1] << 8 |
					  (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("bench_tcp_frame");
	TCase *tc = tcase_create("frame");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_every_cut_sums_exactly);
	tcase_add_test(tc, test_byte_at_a_time);
	tcase_add_test(tc, test_bad_replies_skipped_and_framed);
	tcase_add_test(tc, test_unframeable_stream);
	tcase_add_test(tc, test_fold_matches_bytes);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
