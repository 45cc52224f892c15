// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Deterministic reply contents of the reference worker; see reply_gen.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reply_gen.h"

/* The golden-ratio increment of splitmix64. */
#define GOLDEN_GAMMA 0x9e3779b97f4a7c15ull

/* splitmix64's finaliser: a bijection on 64 bits with good avalanche. */
static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/*
 * The per-reply key of REPLY_RANDOM (docs/protocol.md spells it out):
 *   k1 = mix64(seed + GAMMA)
 *   k2 = mix64(k1 ^ (port << 32 | req_id))
 * Element j (j = seq * 363 + i) is then the high half of mix64(k2 + GAMMA * (j + 1)).
 */
static uint64_t random_key(uint64_t seed, uint16_t port, uint32_t req_id)
{
	uint64_t k1 = mix64(seed + GOLDEN_GAMMA);

	return mix64(k1 ^ ((uint64_t)port << 32 | req_id));
}

static uint32_t random_elem(uint64_t key, uint64_t j)
{
	return (uint32_t)(mix64(key + GOLDEN_GAMMA * (j + 1)) >> 32);
}

/* Decimal or 0x-hex, the whole string, no sign. */
static int parse_seed(const char *s, uint64_t *seed)
{
	unsigned long long v;
	char *end;
	int base = 10;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		/* strtoull() would take a second "0x" in base 16. */
		if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
			return -EINVAL;
	}
	if (!((s[0] >= '0' && s[0] <= '9') ||
	      (base == 16 && ((s[0] >= 'a' && s[0] <= 'f') || (s[0] >= 'A' && s[0] <= 'F')))))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno || *end)
		return -EINVAL;
	*seed = v;
	return 0;
}

int reply_gen_parse(const char *s, struct reply_gen *out)
{
	struct reply_gen g = { .kind = REPLY_VECTOR };

	if (!s || !out)
		return -EINVAL;
	if (!strcmp(s, "vector"))
		g.kind = REPLY_VECTOR;
	else if (!strcmp(s, "scalar"))
		g.kind = REPLY_SCALAR;
	else if (!strcmp(s, "zeros"))
		g.kind = REPLY_ZEROS;
	else if (!strncmp(s, "random:", 7)) {
		g.kind = REPLY_RANDOM;
		if (parse_seed(s + 7, &g.seed))
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	*out = g;
	return 0;
}

int reply_gen_format(const struct reply_gen *g, char *buf, size_t len)
{
	switch (g->kind) {
	case REPLY_VECTOR:
		return snprintf(buf, len, "vector");
	case REPLY_SCALAR:
		return snprintf(buf, len, "scalar");
	case REPLY_ZEROS:
		return snprintf(buf, len, "zeros");
	case REPLY_RANDOM:
		return snprintf(buf, len, "random:%" PRIu64, g->seed);
	}
	return snprintf(buf, len, "?");
}

uint32_t reply_gen_nelems(const struct reply_gen *g)
{
	return g->kind == REPLY_SCALAR ? 1 : REPLY_GEN_NELEMS;
}

uint32_t reply_gen_elem(const struct reply_gen *g, uint16_t port, uint32_t req_id,
			uint32_t seq, uint32_t i)
{
	uint64_t j = (uint64_t)seq * REPLY_GEN_NELEMS + i;

	switch (g->kind) {
	case REPLY_VECTOR:
		/* Wraps after 2^32 elements, i.e. beyond any sensible packet count. */
		return (uint32_t)j;
	case REPLY_SCALAR:
		return 1;
	case REPLY_ZEROS:
		return 0;
	case REPLY_RANDOM:
		return random_elem(random_key(g->seed, port, req_id), j);
	}
	return 0;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	v = sgbpf_le32(v);
	memcpy(p, &v, sizeof(v));
}

uint32_t reply_gen_fill_body(const struct reply_gen *g, uint16_t port, uint32_t req_id,
			     uint32_t seq, void *body)
{
	uint32_t n = reply_gen_nelems(g), i;
	uint64_t base = (uint64_t)seq * REPLY_GEN_NELEMS;
	uint8_t *p = body;
	uint64_t key;

	switch (g->kind) {
	case REPLY_VECTOR:
		for (i = 0; i < n; i++)
			put_le32(p + 4 * i, (uint32_t)(base + i));
		break;
	case REPLY_SCALAR:
		put_le32(p, 1);
		break;
	case REPLY_ZEROS:
		memset(p, 0, 4 * n);
		break;
	case REPLY_RANDOM:
		/* The key depends only on the reply, not on the element. */
		key = random_key(g->seed, port, req_id);
		for (i = 0; i < n; i++)
			put_le32(p + 4 * i, random_elem(key, base + i));
		break;
	}
	return 4 * n;
}

uint32_t reply_gen_fill_msg(const struct reply_gen *g, uint16_t port, uint32_t req_id,
			    uint32_t seq, uint32_t num_pks, bool pad, void *buf)
{
	struct sgbpf_hdr *hdr = buf;
	uint8_t *body = (uint8_t *)buf + SGBPF_HDR_LEN;
	uint32_t body_len;

	body_len = reply_gen_fill_body(g, port, req_id, seq, body);
	hdr->req_id = sgbpf_le32(req_id);
	hdr->seq_num = sgbpf_le32(seq);
	hdr->num_pks = sgbpf_le32(num_pks);
	hdr->body_len = sgbpf_le32(body_len);
	hdr->msg_type = SGBPF_MSG_GATHER;
	hdr->flags = 0;
	if (!pad)
		return SGBPF_HDR_LEN + body_len;
	memset(body + body_len, 0, SGBPF_UDP_BODY_MAX - body_len);
	return SGBPF_UDP_MSG_LEN;
}

uint32_t reply_gen_expected_sum_u32(const struct reply_gen *g, const uint16_t *ports,
				    size_t nports, uint32_t req_id, uint32_t seq,
				    uint32_t *out)
{
	uint32_t n = reply_gen_nelems(g), i;
	size_t w;

	memset(out, 0, n * sizeof(*out));
	for (w = 0; w < nports; w++) {
		for (i = 0; i < n; i++)
			out[i] += reply_gen_elem(g, ports[w], req_id, seq, i);
	}
	return n;
}
