// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Multi-packet replies in the UDP gather (bpf-udp/gather.bpf.c with
 * max_packets > 1), driven packet by packet through BPF_PROG_TEST_RUN like
 * test_bpf_gather: the embedded object loaded with sum-u32, request slots
 * opened through the mmap as the TC scatter program opens them.  Every test
 * runs against the XDP gather and its TC twin, and spreads its packets over
 * the allowed CPUs so that per-CPU partials of every chunk are merged.
 *
 * What must hold (docs/protocol.md, docs/architecture.md): each (worker,
 * seq) counts once per request; a worker counts only when all its K packets
 * are folded; order does not matter; the result is exact and has
 * K * C / 4 elements, fewer when the last packet is short; packets that
 * break the rules are malformed and never change a result; a packet of a
 * finished or expired request never touches the next request of its slot.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <check.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <sgbpf/udp_state.h>

#include "cpu_pin.h"
#include "pkt_build.h"
#include "sgbpf_udp.skel.h"
#include "suite_run.h"

#define NSLOTS		8u
#define NWORKERS	8u
#define MAXP		8u		/* max_packets of the fixture */
#define CHUNK		1452u		/* the default C for u32 */
#define CHUNK_ELEMS	(CHUNK / 4)
#define REQ		0x61234u	/* slot 4 */
#define SVC_PORT	7000
#define MAX_ELEMS	(MAXP * CHUNK_ELEMS)

static uint32_t ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	return htonl((uint32_t)a << 24 | (uint32_t)b << 16 | (uint32_t)c << 8 | d);
}

#define COORD_IP ip4(10, 212, 0, 1)

static uint32_t worker_addr(uint32_t i)
{
	return ip4(10, 212, 0, 2 + i % 4);
}

static uint16_t worker_port(uint32_t i)
{
	return 9100 + i;
}

/* ---- hooks ------------------------------------------------------------- */

enum hook { HOOK_XDP, HOOK_TC };
static enum hook hook;

static void on_xdp(void)
{
	hook = HOOK_XDP;
}

static void on_tc(void)
{
	hook = HOOK_TC;
}

static int drop_verdict(void)
{
	return hook == HOOK_TC ? TC_ACT_SHOT : XDP_DROP;
}

/* ---- the loaded object -------------------------------------------------- */

static struct fx {
	struct sgbpf_udp *skel;
	struct sgbpf_slot *slots;
	size_t slots_len;
	int ncpus;
	uint32_t chunk;
} fx;

static void install(const char *name, const struct bpf_map *prog_array)
{
	struct bpf_program *prog = bpf_object__find_program_by_name(fx.skel->obj, name);
	uint32_t zero = 0;
	int fd;

	ck_assert_msg(prog, "no program %s", name);
	fd = bpf_program__fd(prog);
	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(prog_array), &zero, &fd, BPF_ANY), 0);
}

/*
 * Loads sum-u32 (or, with count, no reduction at all) for a service of
 * NWORKERS workers with max_packets MAXP and chunk bytes.
 */
static void fx_load_as(uint32_t chunk, bool count)
{
	size_t page = sysconf(_SC_PAGESIZE);
	struct bpf_program *prog;
	struct sgbpf_config cfg;
	uint32_t zero = 0;
	int err;

	fx.ncpus = libbpf_num_possible_cpus();
	ck_assert_int_gt(fx.ncpus, 0);
	cpu_pin_init();
	fx.chunk = chunk;
	fx.skel = sgbpf_udp__open();
	ck_assert_ptr_nonnull(fx.skel);
	bpf_object__for_each_program(prog, fx.skel->obj) {
		const char *name = bpf_program__name(prog);

		if (strncmp(name, "sgbpf_reduce_", 13) == 0)
			bpf_program__set_autoload(prog, strncmp(name, "sgbpf_reduce_sum_u32", 20) == 0);
	}
	ck_assert_int_eq(bpf_map__set_max_entries(fx.skel->maps.sgbpf_slots, NSLOTS), 0);
	ck_assert_int_eq(bpf_map__set_max_entries(fx.skel->maps.sgbpf_partials, NSLOTS * MAXP), 0);
	ck_assert_int_eq(bpf_map__set_max_entries(fx.skel->maps.sgbpf_chunks,
						  NSLOTS * (MAXP - 1)), 0);
	ck_assert_int_eq(bpf_map__set_max_entries(fx.skel->maps.sgbpf_replies,
						  NSLOTS * NWORKERS), 0);
	err = sgbpf_udp__load(fx.skel);
	ck_assert_msg(err == 0, "loading: %s", strerror(-err));

	cfg = (struct sgbpf_config){
		.ifindex = 1, .nworkers = NWORKERS, .slot_mask = NSLOTS - 1, .ncpus = fx.ncpus,
		.port = htons(SVC_PORT), .ctrl_port = htons(SVC_PORT + 1),
		.notify = SGBPF_NOTIFY_NONE, .fate = XDP_DROP, .elem_size = count ? 0 : 4,
		.max_packets = MAXP, .chunk = chunk,
	};
	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(fx.skel->maps.sgbpf_cfg), &zero, &cfg,
					     BPF_ANY), 0);
	for (uint32_t i = 0; i < NWORKERS; i++) {
		struct sgbpf_worker w = { .addr = worker_addr(i), .port = htons(worker_port(i)) };
		struct sgbpf_worker_key k = { .addr = w.addr, .port = w.port };

		ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(fx.skel->maps.sgbpf_workers), &i,
						     &w, BPF_ANY), 0);
		ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(fx.skel->maps.sgbpf_worker_index),
						     &k, &i, BPF_NOEXIST), 0);
	}
	if (!count) {
		install("sgbpf_reduce_sum_u32", fx.skel->maps.sgbpf_reducer);
		install("sgbpf_reduce_sum_u32_tc", fx.skel->maps.sgbpf_reducer_tc);
	}
	fx.slots_len = (sizeof(struct sgbpf_slot) * NSLOTS + page - 1) / page * page;
	fx.slots = mmap(NULL, fx.slots_len, PROT_READ | PROT_WRITE, MAP_SHARED,
			bpf_map__fd(fx.skel->maps.sgbpf_slots), 0);
	ck_assert(fx.slots != MAP_FAILED);
}

static void fx_load(uint32_t chunk)
{
	fx_load_as(chunk, false);
}

static void fx_open(void)
{
	fx_load(CHUNK);
}

static void fx_close(void)
{
	if (fx.slots && fx.slots != MAP_FAILED)
		munmap(fx.slots, fx.slots_len);
	sgbpf_udp__destroy(fx.skel);
	memset(&fx, 0, sizeof(fx));
}

static struct sgbpf_slot *slot_of(uint32_t req)
{
	return &fx.slots[req & (NSLOTS - 1)];
}

/* What the TC scatter program's open_request() does. */
static void slot_open(uint32_t req, uint32_t needed)
{
	struct sgbpf_slot *s = slot_of(req);

	s->gen++;
	s->needed = needed;
	s->responses = 0;
	s->nelems = 0;
	s->duplicates = 0;
	s->packets = 0;
	memset(s->seen, 0, sizeof(s->seen));
	s->tickets = SGBPF_TAG(req, 0);
	__atomic_store_n(&s->state, SGBPF_TAG(req, SGBPF_SLOT_ACTIVE), __ATOMIC_RELEASE);
}

/* What user space's expiry does: ACTIVE -> EXPIRED. */
static void slot_expire(uint32_t req)
{
	uint64_t want = SGBPF_TAG(req, SGBPF_SLOT_ACTIVE);

	ck_assert(__atomic_compare_exchange_n(&slot_of(req)->state, &want,
					      SGBPF_TAG(req, SGBPF_SLOT_EXPIRED), false,
					      __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
}

static uint32_t slot_status(uint32_t req)
{
	uint64_t st = __atomic_load_n(&slot_of(req)->state, __ATOMIC_ACQUIRE);

	return SGBPF_TAG_REQ(st) == req ? SGBPF_TAG_LOW(st) : 0xffffffffu;
}

/* ---- counters ------------------------------------------------------------ */

typedef uint64_t stats_t[__SGBPF_STAT_MAX];

static void stats_read(stats_t out)
{
	int fd = bpf_map__fd(fx.skel->maps.sgbpf_stats);
	uint64_t vals[SGBPF_MAX_CPUS];

	for (uint32_t k = 0; k < __SGBPF_STAT_MAX; k++) {
		ck_assert_int_eq(bpf_map_lookup_elem(fd, &k, vals), 0);
		out[k] = 0;
		for (int c = 0; c < fx.ncpus; c++)
			out[k] += vals[c];
	}
}

static uint64_t stat_delta(const stats_t before, enum sgbpf_stat k)
{
	stats_t now;

	stats_read(now);
	return now[k] - before[k];
}

/* ---- packets --------------------------------------------------------------- */

/* Element j of worker w's whole reply to req: distinct per worker, request and index. */
static uint32_t elem(uint32_t req, uint32_t w, uint32_t j)
{
	uint32_t x = (w + 1) * 0x9e3779b1u ^ (j + 1) * 0x85ebca6bu ^ req * 0xc2b2ae35u;

	return x ^ (x >> 15);
}

struct pk {
	uint32_t req, w, seq, k;
	uint32_t body_len;	/* bytes this packet carries */
	uint32_t num_pks;	/* declared K (normally k) */
	bool pad;		/* padded to 1472 bytes */
};

/* Body bytes packet seq of a k-packet reply of total bytes carries, by the chunk rule. */
static uint32_t chunk_len(uint32_t seq, uint32_t k, uint32_t total)
{
	(void)k;
	return total - seq * fx.chunk < fx.chunk ? total - seq * fx.chunk : fx.chunk;
}

static int send_pk(const struct pk *p)
{
	const struct pkt_flow f = {
		.saddr = worker_addr(p->w), .daddr = COORD_IP,
		.sport = worker_port(p->w), .dport = SVC_PORT,
	};
	uint8_t body[SGBPF_UDP_MSG_LEN], msg[SGBPF_UDP_MSG_LEN + 64];
	struct sgbpf_hdr h = pkt_gather_hdr(p->req, p->body_len);
	struct pkt in, out;
	struct bpf_program *prog = hook == HOOK_TC ? fx.skel->progs.sgbpf_gather_tc :
						     fx.skel->progs.sgbpf_gather;
	int len, err;

	for (uint32_t i = 0; i * 4 < p->body_len; i++) {
		uint32_t v = elem(p->req, p->w, p->seq * (fx.chunk / 4) + i);

		memcpy(body + i * 4, &v, 4);
	}
	h.seq_num = p->seq;
	h.num_pks = p->num_pks;
	len = pkt_msg(msg, sizeof(msg), &h, body, p->body_len, p->pad ? SGBPF_UDP_MSG_LEN : 0);
	ck_assert_int_ge(len, 0);
	ck_assert_int_eq(pkt_udp(&in, &f, msg, len, PKT_IP_DF), 0);
	{
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in.data, .data_size_in = in.len,
			    .data_out = out.data, .data_size_out = sizeof(out.data), .repeat = 1);

		err = bpf_prog_test_run_opts(bpf_program__fd(prog), &o);
		ck_assert_msg(err == 0, "BPF_PROG_TEST_RUN: %s", strerror(-err));
		return o.retval;
	}
}

/* All packets of worker w's k-packet reply of total body bytes, in order. */
static uint32_t reply_pks(struct pk *out, uint32_t req, uint32_t w, uint32_t k, uint32_t total)
{
	for (uint32_t s = 0; s < k; s++)
		out[s] = (struct pk){ .req = req, .w = w, .seq = s, .k = k, .num_pks = k,
				      .body_len = chunk_len(s, k, total), .pad = (s + w) % 2 };
	return k;
}

/* A deterministic shuffle (xorshift), so a failure can be replayed. */
static void shuffle(struct pk *p, uint32_t n, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (uint32_t i = n - 1; i > 0; i--) {
		uint32_t j;
		struct pk t;

		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		j = x % (i + 1);
		t = p[i];
		p[i] = p[j];
		p[j] = t;
	}
}

/* Delivers n packets, each on the next allowed CPU; every one is consumed. */
static void deliver_all(const struct pk *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		cpu_pin_run_on(i);
		ck_assert_int_eq(send_pk(&p[i]), drop_verdict());
	}
}

/* ---- results ---------------------------------------------------------------- */

/* Element j of req's result, from the slot (chunk 0) or the chunks map. */
static uint32_t result_elem(uint32_t req, uint32_t j)
{
	uint32_t ce = fx.chunk / 4, seq = j / ce, off = (j % ce) * 4, v;
	struct sgbpf_chunk c;

	if (seq == 0) {
		memcpy(&v, slot_of(req)->result + off, 4);
		return v;
	}
	{
		uint32_t row = (req & (NSLOTS - 1)) * (MAXP - 1) + seq - 1;

		ck_assert_int_eq(bpf_map_lookup_elem(bpf_map__fd(fx.skel->maps.sgbpf_chunks), &row,
						     &c), 0);
	}
	memcpy(&v, c.data + off, 4);
	return v;
}

/* req completed with the workers ws[0..n) of k packets, total bytes each: check it all. */
static void expect_result(uint32_t req, const uint32_t *ws, uint32_t n, uint32_t k,
			  uint32_t total)
{
	struct sgbpf_slot *s = slot_of(req);
	uint32_t nelems = total / 4;

	ck_assert_uint_eq(slot_status(req), SGBPF_SLOT_COMPLETE);
	ck_assert_uint_eq(s->responses, n);
	ck_assert_uint_eq(s->packets, n * k);
	ck_assert_uint_eq(s->elem_size, 4);
	ck_assert_uint_eq(s->nelems, nelems);
	for (uint32_t j = 0; j < nelems; j++) {
		uint32_t want = 0, got = result_elem(req, j);

		for (uint32_t i = 0; i < n; i++)
			want += elem(req, ws[i], j);
		ck_assert_msg(got == want, "element %u of %u: %#x, expected %#x", j, nelems, got,
			      want);
	}
}

static const uint32_t all8[NWORKERS] = { 0, 1, 2, 3, 4, 5, 6, 7 };

/* ---- tests -------------------------------------------------------------------- */

/* K in {1, 2, 4, 8}, full or short last packets, shuffled over CPUs: exact. */
START_TEST(test_shuffled)
{
	static const uint32_t ks[] = { 1, 2, 4, 8 };
	uint32_t k = ks[_i % 4], total = k * CHUNK - (_i >= 4 ? CHUNK - 40 : 0);
	struct pk p[NWORKERS * MAXP];
	uint32_t n = 0;
	stats_t before;

	stats_read(before);
	slot_open(REQ, NWORKERS);
	for (uint32_t w = 0; w < NWORKERS; w++)
		n += reply_pks(p + n, REQ, w, k, total);
	shuffle(p, n, _i + 1);
	/* Nothing completes before the last packet. */
	deliver_all(p, n - 1);
	ck_assert_uint_eq(slot_status(REQ), SGBPF_SLOT_ACTIVE);
	deliver_all(p + n - 1, 1);
	expect_result(REQ, all8, NWORKERS, k, total);
	ck_assert_uint_eq(stat_delta(before, SGBPF_STAT_FOLDED), n);
	ck_assert_uint_eq(stat_delta(before, SGBPF_STAT_MALFORMED), 0);
	ck_assert_uint_eq(stat_delta(before, SGBPF_STAT_COMPLETED), 1);
}
END_TEST

/* Every packet twice, the copies interleaved: counted once, duplicates counted. */
START_TEST(test_duplicated)
{
	struct pk p[2 * NWORKERS * 4];
	uint32_t n = 0;
	stats_t before;

	stats_read(before);
	slot_open(REQ, NWORKERS);
	for (uint32_t w = 0; w < NWORKERS; w++)
		n += reply_pks(p + n, REQ, w, 4, 4 * CHUNK);
	memcpy(p + n, p, n * sizeof(*p));
	/* The copies of the last worker's packets go first: no early completion. */
	shuffle(p, 2 * n, 7);
	for (uint32_t i = 0; i < 2 * n; i++) {
		cpu_pin_run_on(i);
		ck_assert_int_eq(send_pk(&p[i]), drop_verdict());
	}
	expect_result(REQ, all8, NWORKERS, 4, 4 * CHUNK);
	/* Copies that came after completion are stale, the others duplicates. */
	ck_assert_uint_eq(stat_delta(before, SGBPF_STAT_DUPLICATES) +
			  stat_delta(before, SGBPF_STAT_STALE), n);
	ck_assert_uint_eq(slot_of(REQ)->duplicates, stat_delta(before, SGBPF_STAT_DUPLICATES));
	ck_assert_uint_eq(stat_delta(before, SGBPF_STAT_FOLDED), n);
}
END_TEST

/* Rule breakers: each malformed, none changes what the request completes with. */
enum bad { BAD_K_MISMATCH, BAD_K_ABOVE_MAX, BAD_SEQ_GE_K, BAD_SHORT_MIDDLE, BAD_LONG_LAST,
	   BAD_LONG_MIDDLE, __BAD_MAX };

START_TEST(test_rule_breakers)
{
	struct pk p[NWORKERS * 4], bad;
	uint32_t n = 0;
	stats_t before;

	slot_open(REQ, 2);
	n += reply_pks(p + n, REQ, 0, 4, 4 * CHUNK);
	n += reply_pks(p + n, REQ, 1, 4, 4 * CHUNK);
	/* Worker 0's first packet settles K = 4. */
	deliver_all(p, 1);
	stats_read(before);
	bad = p[1];
	switch (_i) {
	case BAD_K_MISMATCH:
		bad.num_pks = 3;	/* a well-formed packet 1 of 3, but worker 0 said 4 */
		bad.body_len = CHUNK;
		break;
	case BAD_K_ABOVE_MAX:
		bad.w = 2;
		bad.num_pks = MAXP + 1;
		break;
	case BAD_SEQ_GE_K:
		bad.seq = 4;
		bad.body_len = 40;
		break;
	case BAD_SHORT_MIDDLE:
		bad.body_len = CHUNK - 4;
		break;
	case BAD_LONG_LAST:
		bad.seq = 3;
		bad.body_len = CHUNK + 2;
		break;
	case BAD_LONG_MIDDLE:
		bad.body_len = CHUNK + 2;
		break;
	}
	ck_assert_int_eq(send_pk(&bad), drop_verdict());
	ck_assert_uint_eq(stat_delta(before, SGBPF_STAT_MALFORMED), 1);
	ck_assert_uint_eq(stat_delta(before, SGBPF_STAT_FOLDED), 0);
	/* The real packets still complete the request, exactly. */
	deliver_all(p + 1, n - 1);
	expect_result(REQ, all8, 2, 4, 4 * CHUNK);
}
END_TEST

/* A K mismatch within one worker: that worker never counts, the request waits. */
START_TEST(test_k_mismatch_blocks_worker)
{
	struct pk p[4];
	stats_t before;

	stats_read(before);
	slot_open(REQ, 1);
	reply_pks(p, REQ, 3, 4, 4 * CHUNK);
	deliver_all(p, 1);
	/* The rest claim K = 2: packet 1 (full) is then the last one of 2. */
	for (uint32_t s = 1; s < 4; s++) {
		p[s].num_pks = 2;
		if (s >= 2)
			continue;	/* seq >= K as well */
		ck_assert_int_eq(send_pk(&p[s]), drop_verdict());
	}
	ck_assert_uint_eq(stat_delta(before, SGBPF_STAT_MALFORMED), 1);
	ck_assert_uint_eq(slot_status(REQ), SGBPF_SLOT_ACTIVE);
	ck_assert_uint_eq(SGBPF_TICKET_FOLDED(slot_of(REQ)->tickets), 0);
	ck_assert_uint_eq(SGBPF_TICKET_ADMITTED(slot_of(REQ)->tickets), 1);
}
END_TEST

/*
 * Policy N: the first two workers to send a packet hold the admissions;
 * a third worker's packets are surplus and its body is in no chunk.
 */
START_TEST(test_surplus_worker)
{
	struct pk p[3 * 4];
	static const uint32_t ws[] = { 5, 6 };
	stats_t before;

	stats_read(before);
	slot_open(REQ, 2);
	reply_pks(p, REQ, 5, 4, 3 * CHUNK + 8);
	reply_pks(p + 4, REQ, 6, 4, 3 * CHUNK + 8);
	reply_pks(p + 8, REQ, 7, 4, 3 * CHUNK + 8);
	deliver_all(p, 1);
	deliver_all(p + 4, 1);
	deliver_all(p + 8, 4);		/* worker 7: all surplus */
	ck_assert_uint_eq(stat_delta(before, SGBPF_STAT_SURPLUS), 4);
	deliver_all(p + 1, 3);
	deliver_all(p + 5, 3);
	expect_result(REQ, ws, 2, 4, 3 * CHUNK + 8);
}
END_TEST

/*
 * A request expires with worker 0 half done; its slot opens for the next
 * request (REQ + NSLOTS).  Worker 0's remaining packets of the old request,
 * and a completed request's late packets, touch nothing of the new one.
 */
START_TEST(test_late_packets)
{
	const uint32_t next = REQ + NSLOTS;
	struct pk old[4], p[2 * 4];
	static const uint32_t ws[] = { 0, 1 };
	stats_t before;

	slot_open(REQ, 2);
	reply_pks(old, REQ, 0, 4, 4 * CHUNK);
	deliver_all(old, 2);
	slot_expire(REQ);
	slot_open(next, 2);
	stats_read(before);
	deliver_all(old + 2, 2);	/* to an id the slot no longer holds */
	ck_assert_uint_eq(stat_delta(before, SGBPF_STAT_UNSOLICITED), 2);
	reply_pks(p, next, 0, 4, 4 * CHUNK);
	reply_pks(p + 4, next, 1, 4, 4 * CHUNK);
	shuffle(p, 8, 3);
	deliver_all(p, 8);
	expect_result(next, ws, 2, 4, 4 * CHUNK);
	/* After completion, packets of the finished request are stale and change nothing. */
	stats_read(before);
	p[0].seq = 0;
	p[0].w = 2;
	p[0].body_len = CHUNK;
	deliver_all(p, 1);
	ck_assert_uint_eq(stat_delta(before, SGBPF_STAT_STALE), 1);
	expect_result(next, ws, 2, 4, 4 * CHUNK);
}
END_TEST

/*
 * Reopening with the same id (a wrap): the record of the earlier opening
 * carries the earlier generation, so the worker starts afresh.
 */
START_TEST(test_reopen_same_id)
{
	struct pk p[4];
	static const uint32_t ws[] = { 4 };

	slot_open(REQ, 1);
	reply_pks(p, REQ, 4, 4, 4 * CHUNK);
	deliver_all(p, 3);
	slot_expire(REQ);
	slot_open(REQ, 1);
	/* Packet 3 alone must not complete worker 4: its bits 0..2 were the old opening's. */
	deliver_all(p + 3, 1);
	ck_assert_uint_eq(slot_status(REQ), SGBPF_SLOT_ACTIVE);
	deliver_all(p, 3);
	expect_result(REQ, ws, 1, 4, 4 * CHUNK);
}
END_TEST

/* Two requests in two slots, their packets interleaved: each result is its own. */
START_TEST(test_two_interleaved)
{
	const uint32_t r2 = REQ + 1;
	struct pk p[2 * NWORKERS * 4];
	uint32_t n = 0;

	slot_open(REQ, NWORKERS);
	slot_open(r2, NWORKERS);
	for (uint32_t w = 0; w < NWORKERS; w++) {
		n += reply_pks(p + n, REQ, w, 4, 4 * CHUNK);
		n += reply_pks(p + n, r2, w, 3, 2 * CHUNK + 100);
	}
	shuffle(p, n, 11);
	deliver_all(p, n);
	expect_result(REQ, all8, NWORKERS, 4, 4 * CHUNK);
	expect_result(r2, all8, NWORKERS, 3, 2 * CHUNK + 100);
}
END_TEST

/* A chunk size set at creation (400 bytes = 100 elements) is the rule instead. */
START_TEST(test_custom_chunk)
{
	struct pk p[NWORKERS * 5];
	uint32_t n = 0;
	struct pk wrong;
	stats_t before;

	fx_close();
	fx_load(400);
	slot_open(REQ, NWORKERS);
	for (uint32_t w = 0; w < NWORKERS; w++)
		n += reply_pks(p + n, REQ, w, 5, 4 * 400 + 12);
	/* A 1452-byte middle packet breaks a 400-byte chunk rule. */
	wrong = p[0];
	wrong.body_len = CHUNK;
	stats_read(before);
	ck_assert_int_eq(send_pk(&wrong), drop_verdict());
	ck_assert_uint_eq(stat_delta(before, SGBPF_STAT_MALFORMED), 1);
	shuffle(p, n, 5);
	deliver_all(p, n);
	expect_result(REQ, all8, NWORKERS, 5, 4 * 400 + 12);
}
END_TEST

/* A count-only service counts a worker once its K packets are in, and no more. */
START_TEST(test_count_only)
{
	struct pk p[NWORKERS * 4 + 4];
	uint32_t n = 0;
	stats_t before;

	fx_close();
	fx_load_as(CHUNK, true);
	stats_read(before);
	slot_open(REQ, NWORKERS);
	for (uint32_t w = 0; w < NWORKERS; w++)
		n += reply_pks(p + n, REQ, w, 4, 3 * CHUNK + 4);
	memcpy(p + n, p, 4 * sizeof(*p));	/* worker 0 twice */
	shuffle(p, n + 4, 9);
	/* The last of the 36 packets may be a copy: count until complete. */
	for (uint32_t i = 0; i < n + 4 && slot_status(REQ) == SGBPF_SLOT_ACTIVE; i++) {
		cpu_pin_run_on(i);
		ck_assert_int_eq(send_pk(&p[i]), drop_verdict());
	}
	ck_assert_uint_eq(slot_status(REQ), SGBPF_SLOT_COMPLETE);
	ck_assert_uint_eq(slot_of(REQ)->responses, NWORKERS);
	ck_assert_uint_eq(slot_of(REQ)->packets, NWORKERS * 4);
	ck_assert_uint_eq(slot_of(REQ)->nelems, 0);
	ck_assert_uint_eq(stat_delta(before, SGBPF_STAT_FOLDED), n);
}
END_TEST

static Suite *multipkt_suite(void)
{
	Suite *s = suite_create("bpf_multipkt");
	const struct {
		const char *name;
		void (*setup)(void);
	} hooks[] = { { "xdp", on_xdp }, { "tc", on_tc } };

	for (size_t h = 0; h < 2; h++) {
		TCase *tc = tcase_create(hooks[h].name);

		tcase_add_unchecked_fixture(tc, hooks[h].setup, NULL);
		tcase_add_checked_fixture(tc, fx_open, fx_close);
		tcase_set_timeout(tc, 120);
		tcase_add_loop_test(tc, test_shuffled, 0, 8);
		tcase_add_test(tc, test_duplicated);
		tcase_add_loop_test(tc, test_rule_breakers, 0, __BAD_MAX);
		tcase_add_test(tc, test_k_mismatch_blocks_worker);
		tcase_add_test(tc, test_surplus_worker);
		tcase_add_test(tc, test_late_packets);
		tcase_add_test(tc, test_reopen_same_id);
		tcase_add_test(tc, test_two_interleaved);
		tcase_add_test(tc, test_custom_chunk);
		tcase_add_test(tc, test_count_only);
		suite_add_tcase(s, tc);
	}
	return s;
}

int main(void)
{

	if (geteuid() != 0) {
		fprintf(stderr, "skipped: loading BPF programs needs root\n");
		return 77;
	}
	return suite_run(multipkt_suite());
}
