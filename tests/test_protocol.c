// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The wire format (include/sgbpf/protocol.h, docs/protocol.md) and the
 * reference worker's reply contents (src/worker/reply_gen.h).
 */
#include <check.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sgbpf/sgbpf.h>

#include "reply_gen.h"
#include "suite_run.h"

START_TEST(test_sizes)
{
	ck_assert_uint_eq(sizeof(struct sgbpf_hdr), 18);
	ck_assert_uint_eq(SGBPF_HDR_LEN, 18);
	ck_assert_uint_eq(sizeof(struct sgbpf_udp_msg), 1472);
	ck_assert_uint_eq(SGBPF_UDP_MSG_LEN, 1472);
	ck_assert_uint_eq(SGBPF_UDP_BODY_MAX, 1454);
	ck_assert_uint_eq(SGBPF_UDP_BODY_U32, 363);
	ck_assert_uint_eq(SGBPF_UDP_BODY_U64, 181);
	ck_assert_uint_eq(offsetof(struct sgbpf_udp_msg, body), 18);
}
END_TEST

START_TEST(test_offsets)
{
	ck_assert_uint_eq(offsetof(struct sgbpf_hdr, req_id), 0);
	ck_assert_uint_eq(offsetof(struct sgbpf_hdr, seq_num), 4);
	ck_assert_uint_eq(offsetof(struct sgbpf_hdr, num_pks), 8);
	ck_assert_uint_eq(offsetof(struct sgbpf_hdr, body_len), 12);
	ck_assert_uint_eq(offsetof(struct sgbpf_hdr, msg_type), 16);
	ck_assert_uint_eq(offsetof(struct sgbpf_hdr, flags), 17);
}
END_TEST

START_TEST(test_constants)
{
	ck_assert_int_eq(SGBPF_MSG_SCATTER, 0);
	ck_assert_int_eq(SGBPF_MSG_GATHER, 1);
	ck_assert_int_eq(SGBPF_MSG_ALLGATHER, 2);
	ck_assert_int_eq(SGBPF_FLAG_COMPLETE, 1);
}
END_TEST

/* A message written byte by byte, little-endian, then read through the struct. */
START_TEST(test_decode_bytes)
{
	static const uint8_t wire[] = {
		0x78, 0x56, 0x34, 0x12,		/* req_id 0x12345678 */
		0x02, 0x00, 0x00, 0x00,		/* seq_num 2 */
		0x03, 0x00, 0x00, 0x00,		/* num_pks 3 */
		0x08, 0x00, 0x00, 0x00,		/* body_len 8 */
		0x01,				/* msg_type gather */
		0x01,				/* flags COMPLETE */
		0xef, 0xbe, 0xad, 0xde,		/* body u32 0xdeadbeef */
		0x01, 0x00, 0x00, 0x80,		/* body u32 0x80000001 */
	};
	const struct sgbpf_hdr *hdr = (const void *)wire;
	struct sgbpf_hdr copy;
	uint32_t v;

	ck_assert_uint_eq(sgbpf_le32(hdr->req_id), 0x12345678);
	ck_assert_uint_eq(sgbpf_le32(hdr->seq_num), 2);
	ck_assert_uint_eq(sgbpf_le32(hdr->num_pks), 3);
	ck_assert_uint_eq(sgbpf_le32(hdr->body_len), 8);
	ck_assert_uint_eq(hdr->msg_type, SGBPF_MSG_GATHER);
	ck_assert_uint_eq(hdr->flags, SGBPF_FLAG_COMPLETE);

	/* The same through a copy, as code that must not alias would do. */
	memcpy(&copy, wire, sizeof(copy));
	ck_assert_uint_eq(copy.req_id, hdr->req_id);
	ck_assert_uint_eq(copy.body_len, 8);
	memcpy(&v, wire + SGBPF_HDR_LEN, 4);
	ck_assert_uint_eq(sgbpf_le32(v), 0xdeadbeef);
	memcpy(&v, wire + SGBPF_HDR_LEN + 4, 4);
	ck_assert_uint_eq(sgbpf_le32(v), 0x80000001);
}
END_TEST

/* And back: fields set through the struct land at the documented bytes. */
START_TEST(test_encode_bytes)
{
	struct sgbpf_hdr hdr = {
		.req_id = sgbpf_le32(0xa1b2c3d4),
		.seq_num = sgbpf_le32(1),
		.num_pks = sgbpf_le32(0x0100),
		.body_len = sgbpf_le32(1452),
		.msg_type = SGBPF_MSG_ALLGATHER,
		.flags = 0x80,
	};
	uint8_t b[18];

	memcpy(b, &hdr, sizeof(b));
	ck_assert_uint_eq(b[0], 0xd4);
	ck_assert_uint_eq(b[3], 0xa1);
	ck_assert_uint_eq(b[4], 1);
	ck_assert_uint_eq(b[8], 0x00);
	ck_assert_uint_eq(b[9], 0x01);
	ck_assert_uint_eq(b[12], 1452 & 0xff);
	ck_assert_uint_eq(b[13], 1452 >> 8);
	ck_assert_uint_eq(b[16], 2);
	ck_assert_uint_eq(b[17], 0x80);
}
END_TEST

START_TEST(test_reply_parse)
{
	static const char *const bad[] = {
		"", "Vector", "vector ", "random", "random:", "random:x", "random:-1",
		"random: 1", "random:1x", "random:0x", "random:0x0x1",
		"random:18446744073709551616", "zero", NULL,
	};
	struct reply_gen g;
	char buf[64];
	int i;

	ck_assert_int_eq(reply_gen_parse("vector", &g), 0);
	ck_assert_int_eq(g.kind, REPLY_VECTOR);
	ck_assert_int_eq(reply_gen_parse("scalar", &g), 0);
	ck_assert_int_eq(g.kind, REPLY_SCALAR);
	ck_assert_int_eq(reply_gen_parse("zeros", &g), 0);
	ck_assert_int_eq(g.kind, REPLY_ZEROS);
	ck_assert_int_eq(reply_gen_parse("random:42", &g), 0);
	ck_assert_int_eq(g.kind, REPLY_RANDOM);
	ck_assert_uint_eq(g.seed, 42);
	ck_assert_int_eq(reply_gen_parse("random:0xFFFFFFFFFFFFFFFF", &g), 0);
	ck_assert_uint_eq(g.seed, UINT64_MAX);
	reply_gen_format(&g, buf, sizeof(buf));
	ck_assert_str_eq(buf, "random:18446744073709551615");

	for (i = 0; bad[i]; i++) {
		g.kind = REPLY_SCALAR;
		ck_assert_msg(reply_gen_parse(bad[i], &g) == -EINVAL, "accepted \"%s\"", bad[i]);
		ck_assert_int_eq(g.kind, REPLY_SCALAR);
	}
}
END_TEST

START_TEST(test_reply_vector)
{
	struct reply_gen g = { .kind = REPLY_VECTOR };
	uint8_t msg[SGBPF_UDP_MSG_LEN];
	struct sgbpf_hdr hdr;
	uint32_t len, v, i;

	memset(msg, 0xaa, sizeof(msg));
	len = reply_gen_fill_msg(&g, 9000, 77, 0, 1, true, msg);
	ck_assert_uint_eq(len, 1472);
	memcpy(&hdr, msg, sizeof(hdr));
	ck_assert_uint_eq(hdr.req_id, 77);
	ck_assert_uint_eq(hdr.seq_num, 0);
	ck_assert_uint_eq(hdr.num_pks, 1);
	ck_assert_uint_eq(hdr.body_len, 363 * 4);
	ck_assert_uint_eq(hdr.msg_type, SGBPF_MSG_GATHER);
	ck_assert_uint_eq(hdr.flags, 0);
	for (i = 0; i < 363; i++) {
		memcpy(&v, msg + 18 + 4 * i, 4);
		ck_assert_uint_eq(v, i);
	}
	/* The two bytes past 363 elements are padding, zeroed. */
	ck_assert_uint_eq(msg[1470], 0);
	ck_assert_uint_eq(msg[1471], 0);

	/* Packet 2 of 3 continues the sequence; unpadded it is 18 + 1452 bytes. */
	len = reply_gen_fill_msg(&g, 9000, 77, 2, 3, false, msg);
	ck_assert_uint_eq(len, 18 + 1452);
	memcpy(&hdr, msg, sizeof(hdr));
	ck_assert_uint_eq(hdr.seq_num, 2);
	ck_assert_uint_eq(hdr.num_pks, 3);
	memcpy(&v, msg + 18, 4);
	ck_assert_uint_eq(v, 2 * 363);
	memcpy(&v, msg + 18 + 4 * 362, 4);
	ck_assert_uint_eq(v, 2 * 363 + 362);
	ck_assert_uint_eq(reply_gen_elem(&g, 1, 2, 2, 362), 2 * 363 + 362);
}
END_TEST

START_TEST(test_reply_scalar_zeros)
{
	struct reply_gen g = { .kind = REPLY_SCALAR };
	uint8_t msg[SGBPF_UDP_MSG_LEN];
	uint32_t v, i;

	ck_assert_uint_eq(reply_gen_nelems(&g), 1);
	ck_assert_uint_eq(reply_gen_fill_msg(&g, 1, 5, 1, 2, false, msg), 22);
	memcpy(&v, msg + 12, 4);
	ck_assert_uint_eq(v, 4);
	memcpy(&v, msg + 18, 4);
	ck_assert_uint_eq(v, 1);
	ck_assert_uint_eq(reply_gen_fill_msg(&g, 1, 5, 0, 1, true, msg), 1472);

	g.kind = REPLY_ZEROS;
	memset(msg, 0xff, sizeof(msg));
	ck_assert_uint_eq(reply_gen_fill_msg(&g, 1, 5, 0, 1, true, msg), 1472);
	for (i = 18; i < 1472; i++)
		ck_assert_uint_eq(msg[i], 0);
}
END_TEST

/* The documented formula, written out again independently of reply_gen.c. */
static uint64_t doc_mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t doc_random(uint64_t seed, uint16_t port, uint32_t req_id, uint32_t seq,
			   uint32_t i)
{
	const uint64_t gamma = 0x9e3779b97f4a7c15ull;
	uint64_t k1 = doc_mix(seed + gamma);
	uint64_t k2 = doc_mix(k1 ^ ((uint64_t)port << 32 | req_id));
	uint64_t j = (uint64_t)seq * 363 + i;

	return (uint32_t)(doc_mix(k2 + gamma * (j + 1)) >> 32);
}

START_TEST(test_reply_random)
{
	struct reply_gen g = { .kind = REPLY_RANDOM, .seed = 1 };
	uint8_t body[SGBPF_UDP_BODY_MAX];
	uint32_t v, i;

	/* Known answers: a checker in another language must reproduce these. */
	g.seed = 0;
	ck_assert_uint_eq(reply_gen_elem(&g, 9000, 0, 0, 0), 0x6fb8e8a3);
	g.seed = 1;
	ck_assert_uint_eq(reply_gen_elem(&g, 9000, 7, 0, 0), 0x83ec1405);
	ck_assert_uint_eq(reply_gen_elem(&g, 9000, 7, 0, 362), 0x18b6ca26);
	ck_assert_uint_eq(reply_gen_elem(&g, 9001, 7, 0, 0), 0x84f75627);
	g.seed = 42;
	ck_assert_uint_eq(reply_gen_elem(&g, 12345, 0xdeadbeef, 2, 5), 0x848cfda3);

	g.seed = 0x1234;
	ck_assert_uint_eq(reply_gen_fill_body(&g, 9100, 99, 1, body), 1452);
	for (i = 0; i < 363; i++) {
		memcpy(&v, body + 4 * i, 4);
		ck_assert_uint_eq(v, doc_random(0x1234, 9100, 99, 1, i));
	}
	/* Different workers and requests get different bodies. */
	ck_assert_uint_ne(reply_gen_elem(&g, 9100, 99, 0, 0), reply_gen_elem(&g, 9101, 99, 0, 0));
	ck_assert_uint_ne(reply_gen_elem(&g, 9100, 99, 0, 0), reply_gen_elem(&g, 9100, 100, 0, 0));
}
END_TEST

START_TEST(test_expected_sum)
{
	static const uint16_t ports[] = { 9000, 9001, 9002, 9003, 9004 };
	struct reply_gen g = { .kind = REPLY_VECTOR };
	uint32_t sum[REPLY_GEN_NELEMS], want, i, p;

	ck_assert_uint_eq(reply_gen_expected_sum_u32(&g, ports, 5, 3, 0, sum), 363);
	for (i = 0; i < 363; i++)
		ck_assert_uint_eq(sum[i], 5 * i);
	reply_gen_expected_sum_u32(&g, ports, 5, 3, 1, sum);
	ck_assert_uint_eq(sum[0], 5 * 363);

	g.kind = REPLY_SCALAR;
	ck_assert_uint_eq(reply_gen_expected_sum_u32(&g, ports, 5, 3, 0, sum), 1);
	ck_assert_uint_eq(sum[0], 5);

	g.kind = REPLY_RANDOM;
	g.seed = 9;
	reply_gen_expected_sum_u32(&g, ports, 5, 11, 0, sum);
	for (i = 0; i < 363; i++) {
		want = 0;
		for (p = 0; p < 5; p++)
			want += doc_random(9, ports[p], 11, 0, i);
		ck_assert_uint_eq(sum[i], want);
	}

	/* No workers: all zeros. */
	g.kind = REPLY_VECTOR;
	sum[5] = 1;
	reply_gen_expected_sum_u32(&g, ports, 0, 3, 0, sum);
	ck_assert_uint_eq(sum[5], 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("protocol");
	TCase *tc = tcase_create("wire");
	TCase *tr = tcase_create("replies");

	tcase_add_test(tc, test_sizes);
	tcase_add_test(tc, test_offsets);
	tcase_add_test(tc, test_constants);
	tcase_add_test(tc, test_decode_bytes);
	tcase_add_test(tc, test_encode_bytes);
	suite_add_tcase(s, tc);
	tcase_add_test(tr, test_reply_parse);
	tcase_add_test(tr, test_reply_vector);
	tcase_add_test(tr, test_reply_scalar_zeros);
	tcase_add_test(tr, test_reply_random);
	tcase_add_test(tr, test_expected_sum);
	suite_add_tcase(s, tr);

	return suite_run(s);
}
