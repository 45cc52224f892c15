// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The UDP backend's gather programs (bpf-udp/gather.bpf.c) and the built-in
 * reductions they tail-call, driven packet by packet through
 * BPF_PROG_TEST_RUN: no interface, no attachment.  Every test runs twice:
 * against the XDP program (sgbpf_gather) and against its TC ingress twin
 * (sgbpf_gather_tc), which must decide alike.  Each test loads the
 * embedded object the way libsgbpf does (sizing the maps, loading only the
 * reduction in use and its TC twin, writing sgbpf_cfg, the worker maps and
 * the reducer prog arrays), opens request slots by writing them through the mmap as the TC
 * scatter program would, then checks verdicts, output frames, counters and
 * slot contents.
 *
 * BPF_PROG_TEST_RUN runs a program on the calling CPU.  Tests that fold
 * several replies pin themselves to one allowed CPU after another, so that
 * per-CPU partial results are really merged (on a one-CPU machine
 * everything folds into one partial and the results must be the same).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
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
#define REQ		0x51234u		/* slot 4 */
#define SVC_PORT	7000
#define CTRL_PORT	7001
#define BODY_LEN	40u			/* short-form body: 10 u32 */
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static const char *const stat_names[__SGBPF_STAT_MAX] = {
	[SGBPF_STAT_SCATTERS] = "scatters",
	[SGBPF_STAT_CLONES] = "clones",
	[SGBPF_STAT_FOLDED] = "folded",
	[SGBPF_STAT_COMPLETED] = "completed",
	[SGBPF_STAT_DUPLICATES] = "duplicates",
	[SGBPF_STAT_UNKNOWN_SRC] = "unknown_src",
	[SGBPF_STAT_MALFORMED] = "malformed",
	[SGBPF_STAT_STALE] = "stale",
	[SGBPF_STAT_SURPLUS] = "surplus",
	[SGBPF_STAT_SCATTER_ERRORS] = "scatter_errors",
	[SGBPF_STAT_UNSOLICITED] = "unsolicited",
	[SGBPF_STAT_SCATTER_FRAGMENTS] = "scatter_fragments",
	[SGBPF_STAT_CLONE_FAILURES] = "clone_failures",
	[SGBPF_STAT_RETRY_COPIES] = "retry_copies",
	[SGBPF_STAT_RETRY_IDLE] = "retry_idle",
	[SGBPF_STAT_ALLGATHER_COPIES] = "allgather_copies",
	[SGBPF_STAT_EVENTS_LOST] = "events_lost",
	[SGBPF_STAT_WAKEUPS_SKIPPED] = "wakeups_skipped",
};

/* ---- addresses ---------------------------------------------------------- */

static uint32_t ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	return htonl((uint32_t)a << 24 | (uint32_t)b << 16 | (uint32_t)c << 8 | d);
}

#define COORD_IP	ip4(10, 211, 0, 1)

/* Workers share a few addresses and differ by port, as a worker farm does. */
static uint32_t worker_addr(uint32_t i)
{
	return ip4(10, 211, 0, 2 + i % 4);
}

static uint16_t worker_port(uint32_t i)
{
	return 9000 + i;
}

/* ---- the hook under test ---------------------------------------------- */

enum hook { HOOK_XDP, HOOK_TC };

/* Set by the test case's fixture, before the test runs. */
static enum hook hook;

static void on_xdp(void)
{
	hook = HOOK_XDP;
}

static void on_tc(void)
{
	hook = HOOK_TC;
}

/* Verdicts as the tests state them; hook_verdict() says what each hook returns. */
enum verdict {
	V_DROP,		/* consumed */
	V_KEEP,		/* the service's, passed up the stack */
	V_NEXT,		/* not the service's: left to whatever comes next */
};

static int hook_verdict(enum verdict v)
{
	static const int xdp[] = { [V_DROP] = XDP_DROP, [V_KEEP] = XDP_PASS, [V_NEXT] = XDP_PASS };
	static const int tc[] = {
		[V_DROP] = TC_ACT_SHOT, [V_KEEP] = TC_ACT_OK, [V_NEXT] = TC_ACT_UNSPEC,
	};

	return hook == HOOK_TC ? tc[v] : xdp[v];
}

/* What happens to a folded reply under fate (XDP_DROP or XDP_PASS, as in sgbpf_cfg). */
static enum verdict fate_verdict(uint32_t fate)
{
	return fate == XDP_PASS ? V_KEEP : V_DROP;
}

/* ---- the loaded programs ----------------------------------------------- */

struct fx_opts {
	const char *reducer;	/* built-in program name; NULL: count only */
	uint32_t nworkers;
	uint32_t fate;		/* XDP_DROP or XDP_PASS once folded */
	uint32_t notify;	/* enum sgbpf_notify */
	uint32_t elem_size;
	bool no_install;	/* load the reduction but leave the prog arrays empty */
};

static struct fx {
	struct sgbpf_udp *skel;
	struct sgbpf_slot *slots;	/* the mmap'ed sgbpf_slots */
	size_t slots_len;
	struct sgbpf_config cfg;
	int ncpus;
} fx;

static void load_objects(const struct fx_opts *o)
{
	struct bpf_program *prog;
	int err;

	fx.skel = sgbpf_udp__open();
	ck_assert_msg(fx.skel, "cannot open the embedded object: %s", strerror(errno));
	/* Like select_builtin(): only the reduction in use (both twins) is loaded. */
	bpf_object__for_each_program(prog, fx.skel->obj) {
		const char *name = bpf_program__name(prog);
		size_t n = o->reducer ? strlen(o->reducer) : 0;
		bool want = o->reducer && strncmp(name, o->reducer, n) == 0 &&
			    (name[n] == '\0' || strcmp(name + n, "_tc") == 0);

		if (strncmp(name, "sgbpf_reduce_", 13) == 0)
			bpf_program__set_autoload(prog, want);
	}
	ck_assert_int_eq(bpf_map__set_max_entries(fx.skel->maps.sgbpf_slots, NSLOTS), 0);
	ck_assert_int_eq(bpf_map__set_max_entries(fx.skel->maps.sgbpf_partials,
						  o->reducer ? NSLOTS : 1), 0);
	err = sgbpf_udp__load(fx.skel);
	ck_assert_msg(err == 0, "loading the programs: %s", strerror(-err));
}

static void install_reducer(const char *name, const struct bpf_map *prog_array)
{
	struct bpf_program *prog = bpf_object__find_program_by_name(fx.skel->obj, name);
	uint32_t zero = 0;
	int fd;

	ck_assert_msg(prog, "no program %s", name);
	fd = bpf_program__fd(prog);
	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(prog_array), &zero, &fd, BPF_ANY), 0);
}

static void write_maps(const struct fx_opts *o)
{
	int wfd = bpf_map__fd(fx.skel->maps.sgbpf_workers);
	int ifd = bpf_map__fd(fx.skel->maps.sgbpf_worker_index);
	char tc_name[64];
	uint32_t zero = 0;

	fx.cfg = (struct sgbpf_config){
		.ifindex = 1,
		.nworkers = o->nworkers,
		.slot_mask = NSLOTS - 1,
		.ncpus = fx.ncpus,
		.port = htons(SVC_PORT),
		.ctrl_port = htons(CTRL_PORT),
		.notify = o->notify,
		.fate = o->fate ? o->fate : XDP_DROP,
		.elem_size = o->elem_size,
	};
	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(fx.skel->maps.sgbpf_cfg), &zero,
					     &fx.cfg, BPF_ANY), 0);
	for (uint32_t i = 0; i < o->nworkers; i++) {
		struct sgbpf_worker w = { .addr = worker_addr(i), .port = htons(worker_port(i)) };
		struct sgbpf_worker_key k = { .addr = w.addr, .port = w.port };

		ck_assert_int_eq(bpf_map_update_elem(wfd, &i, &w, BPF_ANY), 0);
		ck_assert_int_eq(bpf_map_update_elem(ifd, &k, &i, BPF_NOEXIST), 0);
	}
	if (o->reducer && !o->no_install) {
		install_reducer(o->reducer, fx.skel->maps.sgbpf_reducer);
		snprintf(tc_name, sizeof(tc_name), "%s_tc", o->reducer);
		install_reducer(tc_name, fx.skel->maps.sgbpf_reducer_tc);
	}
}

static void map_slots(void)
{
	size_t page = sysconf(_SC_PAGESIZE);

	ck_assert_uint_eq(bpf_map__value_size(fx.skel->maps.sgbpf_slots),
			  sizeof(struct sgbpf_slot));
	fx.slots_len = (sizeof(struct sgbpf_slot) * NSLOTS + page - 1) / page * page;
	fx.slots = mmap(NULL, fx.slots_len, PROT_READ | PROT_WRITE, MAP_SHARED,
			bpf_map__fd(fx.skel->maps.sgbpf_slots), 0);
	ck_assert_msg(fx.slots != MAP_FAILED, "mmap of the slots: %s", strerror(errno));
}

static void fx_open(const struct fx_opts *o)
{
	fx.ncpus = libbpf_num_possible_cpus();
	ck_assert_int_gt(fx.ncpus, 0);
	ck_assert_int_le(fx.ncpus, SGBPF_MAX_CPUS);
	cpu_pin_init();
	load_objects(o);
	write_maps(o);
	map_slots();
}

/* Checked fixture: runs in the forked test process, even after a failure. */
static void fx_close(void)
{
	if (fx.slots && fx.slots != MAP_FAILED)
		munmap(fx.slots, fx.slots_len);
	sgbpf_udp__destroy(fx.skel);
	memset(&fx, 0, sizeof(fx));
}

/* ---- request slots ----------------------------------------------------- */

static struct sgbpf_slot *slot_of(uint32_t req)
{
	return &fx.slots[req & (NSLOTS - 1)];
}

/*
 * What sgbpf_scatter's open_request() does when a request goes out
 * (test_bpf_scatter checks that it does): a new generation, cleared seen
 * words, fresh tickets, then ACTIVE.
 */
static void slot_open(uint32_t req, uint32_t needed)
{
	struct sgbpf_slot *s = slot_of(req);

	s->gen++;
	s->needed = needed;
	s->responses = 0;
	s->nelems = 0;
	s->duplicates = 0;
	memset(s->seen, 0, sizeof(s->seen));
	s->tickets = SGBPF_TAG(req, 0);
	__atomic_store_n(&s->state, SGBPF_TAG(req, SGBPF_SLOT_ACTIVE), __ATOMIC_RELEASE);
}

static uint32_t slot_status(uint32_t req)
{
	uint64_t st = __atomic_load_n(&slot_of(req)->state, __ATOMIC_ACQUIRE);

	ck_assert_uint_eq(SGBPF_TAG_REQ(st), req);
	return SGBPF_TAG_LOW(st);
}

static void expect_tickets(uint32_t req, uint32_t admitted, uint32_t folded, const char *desc)
{
	uint64_t t = slot_of(req)->tickets;

	ck_assert_msg(SGBPF_TAG_REQ(t) == req, "%s: tickets tagged %#x", desc, SGBPF_TAG_REQ(t));
	ck_assert_msg(SGBPF_TICKET_ADMITTED(t) == admitted && SGBPF_TICKET_FOLDED(t) == folded,
		      "%s: admitted %u folded %u, expected %u and %u", desc,
		      SGBPF_TICKET_ADMITTED(t), SGBPF_TICKET_FOLDED(t), admitted, folded);
}

/* ---- counters ---------------------------------------------------------- */

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

/* Every counter moved by exactly delta since before. */
static void stats_expect(const stats_t before, const stats_t delta, const char *desc)
{
	stats_t now;

	stats_read(now);
	for (int k = 0; k < __SGBPF_STAT_MAX; k++)
		ck_assert_msg(now[k] - before[k] == delta[k],
			      "%s: counter %s moved by %llu, expected %llu", desc, stat_names[k],
			      (unsigned long long)(now[k] - before[k]),
			      (unsigned long long)delta[k]);
}

/* ---- packets ----------------------------------------------------------- */

/* Element i of worker w's body: distinct per worker, large enough to wrap sums. */
static uint32_t body_u32(uint32_t w, uint32_t i)
{
	uint32_t x = (w + 1) * 0x9e3779b1u ^ (i + 1) * 0x85ebca6bu;

	return x ^ (x >> 15);
}

static void fill_body(uint8_t *body, uint32_t w, uint32_t len)
{
	for (uint32_t i = 0; i < len; i += 4) {
		uint32_t v = sgbpf_le32(body_u32(w, i / 4));

		memcpy(body + i, &v, len - i < 4 ? len - i : 4);
	}
}

/*
 * A reply from worker w to req: header h (NULL: a well-formed gather header
 * for body_len), body_len bytes of w's body, padded to total (0: short form).
 */
static void reply_as(struct pkt *p, uint32_t w, uint32_t body_of, const struct sgbpf_hdr *h,
		     uint32_t body_len, uint32_t total, unsigned int ip_flags)
{
	const struct pkt_flow f = {
		.saddr = worker_addr(w), .daddr = COORD_IP,
		.sport = worker_port(w), .dport = SVC_PORT,
	};
	uint8_t body[SGBPF_UDP_MSG_LEN + 64], msg[SGBPF_UDP_MSG_LEN + 64];
	struct sgbpf_hdr def = pkt_gather_hdr(REQ, body_len);
	int len;

	ck_assert_uint_le(body_len, sizeof(body));
	fill_body(body, body_of, body_len);
	len = pkt_msg(msg, sizeof(msg), h ? h : &def, body, body_len, total);
	ck_assert_int_ge(len, 0);
	ck_assert_int_eq(pkt_udp(p, &f, msg, len, PKT_IP_DF | ip_flags), 0);
}

static void reply_pkt(struct pkt *p, uint32_t w, const struct sgbpf_hdr *h, uint32_t body_len,
		      uint32_t total)
{
	reply_as(p, w, w, h, body_len, total, 0);
}

static void reply_for(struct pkt *p, uint32_t w, uint32_t req, uint32_t body_len, uint32_t total)
{
	struct sgbpf_hdr h = pkt_gather_hdr(req, body_len);

	reply_pkt(p, w, &h, body_len, total);
}

/* Runs the gather program of the hook under test; returns its verdict. */
static int gather_run(const struct pkt *in, struct pkt *out)
{
	struct bpf_program *prog = hook == HOOK_TC ? fx.skel->progs.sgbpf_gather_tc :
						     fx.skel->progs.sgbpf_gather;
	LIBBPF_OPTS(bpf_test_run_opts, o,
		.data_in = in->data,
		.data_size_in = in->len,
		.data_out = out->data,
		.data_size_out = sizeof(out->data),
		.repeat = 1,
	);
	int err;

	err = bpf_prog_test_run_opts(bpf_program__fd(prog), &o);
	ck_assert_msg(err == 0, "BPF_PROG_TEST_RUN of a %u-byte frame (%02x%02x %02x): %s", in->len,
		      in->data[12], in->data[13], in->len > 14 ? in->data[14] : 0, strerror(-err));
	out->len = o.data_size_out;
	return o.retval;
}

/* Runs one reply and checks the verdict. */
static void deliver(const struct pkt *in, enum verdict v, const char *desc)
{
	struct pkt out;
	int ret = gather_run(in, &out);

	ck_assert_msg(ret == hook_verdict(v), "%s: verdict %d, expected %d", desc, ret,
		      hook_verdict(v));
}

/* ---- single packets against an open request: the table ----------------- */

/* How REQ's slot looks before the packet. */
enum prep {
	PREP_OPEN,		/* ACTIVE, needed 4, nobody replied yet */
	PREP_COMPLETE,		/* finished: all four counted */
	PREP_MERGING,		/* the last reply is being merged on another CPU */
	PREP_EXPIRED,		/* user space gave up after worker 1's reply */
	PREP_REUSED,		/* the slot now holds REQ + NSLOTS, worker 1 replied */
	PREP_OLDER,		/* the slot holds REQ - NSLOTS: the reply is from the future */
	PREP_NEVER,		/* never opened */
	PREP_ADMITTING,		/* needed 1, worker 1 admitted and still folding */
};

struct gather_case {
	const char *desc;
	void (*build)(struct pkt *p);
	enum prep prep;
	uint32_t fate;		/* 0: XDP_DROP */
	enum verdict verdict;
	bool untouched;		/* the output frame equals the input */
	bool folds;		/* worker 0 counted once; else the slot is left as it was */
	stats_t stats;		/* counter deltas */
};

/* Payload sizes: the historic padded form, and the short one. */
static void b_full(struct pkt *p)
{
	reply_pkt(p, 0, NULL, SGBPF_UDP_BODY_MAX, SGBPF_UDP_MSG_LEN);
}

static void b_full_small_body(struct pkt *p)
{
	reply_pkt(p, 0, NULL, BODY_LEN, SGBPF_UDP_MSG_LEN);
}

static void b_short(struct pkt *p)
{
	reply_pkt(p, 0, NULL, BODY_LEN, 0);
}

static void b_short_odd(struct pkt *p)
{
	reply_pkt(p, 0, NULL, 7, 0);
}

static void b_empty_body(struct pkt *p)
{
	reply_pkt(p, 0, NULL, 0, 0);
}

static void b_largest_short(struct pkt *p)
{
	reply_pkt(p, 0, NULL, SGBPF_UDP_BODY_MAX - 4, 0);
}

static void b_no_udp_csum(struct pkt *p)
{
	const struct pkt_flow f = {
		.saddr = worker_addr(0), .daddr = COORD_IP,
		.sport = worker_port(0), .dport = SVC_PORT,
	};
	struct sgbpf_hdr h = pkt_gather_hdr(REQ, 8);
	uint8_t msg[64];
	int len = pkt_msg(msg, sizeof(msg), &h, NULL, 8, 0);

	ck_assert_int_eq(pkt_udp(p, &f, msg, len, PKT_NO_UDP_CSUM), 0);
}

static void b_ip_options(struct pkt *p)
{
	const struct pkt_flow f = {
		.saddr = worker_addr(0), .daddr = COORD_IP,
		.sport = worker_port(0), .dport = SVC_PORT,
	};
	struct sgbpf_hdr h = pkt_gather_hdr(REQ, BODY_LEN);
	uint8_t msg[128], body[BODY_LEN];
	int len;

	fill_body(body, 0, BODY_LEN);
	len = pkt_msg(msg, sizeof(msg), &h, body, BODY_LEN, 0);
	ck_assert_int_eq(pkt_udp(p, &f, msg, len, PKT_IP_OPTIONS), 0);
}

static void b_payload_10(struct pkt *p)
{
	reply_pkt(p, 0, NULL, 0, 10);
}

static void b_payload_17(struct pkt *p)
{
	reply_pkt(p, 0, NULL, 0, SGBPF_HDR_LEN - 1);
}

static void b_udp_only(struct pkt *p)
{
	const struct pkt_flow f = {
		.saddr = worker_addr(0), .daddr = COORD_IP,
		.sport = worker_port(0), .dport = SVC_PORT,
	};

	ck_assert_int_eq(pkt_udp(p, &f, NULL, 0, 0), 0);
}

/* body_len 200, but only 100 bytes follow the header. */
static void b_body_past_end(struct pkt *p)
{
	struct sgbpf_hdr h = pkt_gather_hdr(REQ, 200);

	reply_pkt(p, 0, &h, 100, 0);
}

/* Short form one byte longer than body_len says. */
static void b_body_one_short(struct pkt *p)
{
	struct sgbpf_hdr h = pkt_gather_hdr(REQ, BODY_LEN);

	reply_pkt(p, 0, &h, BODY_LEN + 1, 0);
}

/* More than 1472 bytes of payload that body_len does not account for. */
static void b_overlong(struct pkt *p)
{
	struct sgbpf_hdr h = pkt_gather_hdr(REQ, 100);

	reply_pkt(p, 0, &h, 100, SGBPF_UDP_MSG_LEN + 8);
}

/* An exact short form, but past the largest body. */
static void b_overlong_exact(struct pkt *p)
{
	reply_pkt(p, 0, NULL, SGBPF_UDP_BODY_MAX + 2, 0);
}

/* The padded size, but body_len claims more than fits in it. */
static void b_full_body_too_big(struct pkt *p)
{
	struct sgbpf_hdr h = pkt_gather_hdr(REQ, SGBPF_UDP_BODY_MAX + 1);

	reply_pkt(p, 0, &h, SGBPF_UDP_BODY_MAX, SGBPF_UDP_MSG_LEN);
}

static void b_type_scatter(struct pkt *p)
{
	struct sgbpf_hdr h = pkt_gather_hdr(REQ, BODY_LEN);

	h.msg_type = SGBPF_MSG_SCATTER;
	reply_pkt(p, 0, &h, BODY_LEN, 0);
}

static void b_type_allgather(struct pkt *p)
{
	struct sgbpf_hdr h = pkt_gather_hdr(REQ, BODY_LEN);

	h.msg_type = SGBPF_MSG_ALLGATHER;
	reply_pkt(p, 0, &h, BODY_LEN, 0);
}

static void b_num_pks_2(struct pkt *p)
{
	struct sgbpf_hdr h = pkt_gather_hdr(REQ, BODY_LEN);

	h.num_pks = 2;
	reply_pkt(p, 0, &h, BODY_LEN, 0);
}

static void b_num_pks_0(struct pkt *p)
{
	struct sgbpf_hdr h = pkt_gather_hdr(REQ, BODY_LEN);

	h.num_pks = 0;
	reply_pkt(p, 0, &h, BODY_LEN, 0);
}

static void b_seq_1(struct pkt *p)
{
	struct sgbpf_hdr h = pkt_gather_hdr(REQ, BODY_LEN);

	h.seq_num = 1;
	reply_pkt(p, 0, &h, BODY_LEN, 0);
}

/* The UDP length claims more bytes than the frame holds. */
static void b_udp_len_past_frame(struct pkt *p)
{
	reply_pkt(p, 0, NULL, BODY_LEN, 0);
	pkt_udph(p)->len = htons(ntohs(pkt_udph(p)->len) + 64);
}

static void b_unknown_addr(struct pkt *p)
{
	reply_pkt(p, 0, NULL, BODY_LEN, 0);
	pkt_iph(p)->saddr = ip4(10, 211, 0, 200);
	pkt_fix_ip_csum(p);
}

static void b_unknown_port(struct pkt *p)
{
	reply_pkt(p, 0, NULL, BODY_LEN, 0);
	/* A registered address, from a port no worker has. */
	pkt_udph(p)->source = htons(worker_port(0) + 4000);
}

/* A registered worker's address and port swapped between two workers. */
static void b_mixed_worker(struct pkt *p)
{
	reply_pkt(p, 0, NULL, BODY_LEN, 0);
	pkt_iph(p)->saddr = worker_addr(1);
	pkt_fix_ip_csum(p);
}

static void b_other_port(struct pkt *p)
{
	reply_pkt(p, 0, NULL, BODY_LEN, 0);
	pkt_udph(p)->dest = htons(SVC_PORT + 10);
}

static void b_tcp(struct pkt *p)
{
	const struct pkt_flow f = {
		.saddr = worker_addr(0), .daddr = COORD_IP,
		.sport = worker_port(0), .dport = SVC_PORT,
	};
	uint8_t msg[128];
	struct sgbpf_hdr h = pkt_gather_hdr(REQ, BODY_LEN);
	int len = pkt_msg(msg, sizeof(msg), &h, NULL, BODY_LEN, 0);

	ck_assert_int_eq(pkt_tcp(p, &f, msg, len), 0);
}

static void b_arp(struct pkt *p)
{
	ck_assert_int_eq(pkt_arp(p, worker_addr(0), COORD_IP), 0);
}

static void b_first_fragment(struct pkt *p)
{
	const struct pkt_flow f = {
		.saddr = worker_addr(0), .daddr = COORD_IP,
		.sport = worker_port(0), .dport = SVC_PORT,
	};
	struct sgbpf_hdr h = pkt_gather_hdr(REQ, BODY_LEN);
	uint8_t msg[128];
	int len = pkt_msg(msg, sizeof(msg), &h, NULL, BODY_LEN, 0);

	ck_assert_int_eq(pkt_udp(p, &f, msg, len, PKT_IP_MF), 0);
}

static void b_later_fragment(struct pkt *p)
{
	const struct pkt_flow f = {
		.saddr = worker_addr(0), .daddr = COORD_IP,
		.sport = worker_port(0), .dport = SVC_PORT,
	};
	struct sgbpf_hdr h = pkt_gather_hdr(REQ, BODY_LEN);
	uint8_t msg[128];
	int len = pkt_msg(msg, sizeof(msg), &h, NULL, BODY_LEN, 0);

	/* Bytes that happen to look like a reply to the service port. */
	ck_assert_int_eq(pkt_udp(p, &f, msg, len, PKT_IP_FRAG_LATER), 0);
}

static void b_req_newer(struct pkt *p)
{
	reply_for(p, 0, REQ + NSLOTS, BODY_LEN, 0);
}

#define S(stat) [SGBPF_STAT_##stat] = 1

static const struct gather_case gather_cases[] = {
	/* Well formed: worker 0 is counted once and its body folded. */
	{ "1472-byte reply, fate discard", b_full, .verdict = V_DROP, .folds = true,
	  .stats = { S(FOLDED) } },
	{ "1472-byte reply, fate allow", b_full, .fate = XDP_PASS, .verdict = V_KEEP,
	  .folds = true, .stats = { S(FOLDED) } },
	{ "1472-byte reply with a short body_len", b_full_small_body, .verdict = V_DROP,
	  .folds = true, .stats = { S(FOLDED) } },
	{ "short form (18 + body_len)", b_short, .verdict = V_DROP, .folds = true,
	  .stats = { S(FOLDED) } },
	{ "short form with an odd body_len", b_short_odd, .verdict = V_DROP, .folds = true,
	  .stats = { S(FOLDED) } },
	{ "short form, empty body", b_empty_body, .verdict = V_DROP, .folds = true,
	  .stats = { S(FOLDED) } },
	{ "short form, 1450-byte body", b_largest_short, .verdict = V_DROP, .folds = true,
	  .stats = { S(FOLDED) } },
	{ "UDP checksum 0", b_no_udp_csum, .verdict = V_DROP, .folds = true,
	  .stats = { S(FOLDED) } },
	{ "IPv4 header with options", b_ip_options, .verdict = V_DROP, .folds = true,
	  .stats = { S(FOLDED) } },
	/* The original system's workers leave num_pks at 0 for one packet. */
	{ "num_pks 0 (original workers)", b_num_pks_0, .verdict = V_DROP, .folds = true,
	  .stats = { S(FOLDED) } },

	/* Malformed: dropped, counted, and the request does not see them. */
	{ "10-byte payload", b_payload_10, .verdict = V_DROP, .stats = { S(MALFORMED) } },
	{ "17-byte payload", b_payload_17, .verdict = V_DROP, .stats = { S(MALFORMED) } },
	{ "empty UDP payload", b_udp_only, .verdict = V_DROP, .stats = { S(MALFORMED) } },
	{ "body_len past the datagram's end", b_body_past_end, .verdict = V_DROP,
	  .stats = { S(MALFORMED) } },
	{ "one byte more than body_len", b_body_one_short, .verdict = V_DROP,
	  .stats = { S(MALFORMED) } },
	{ "1480-byte payload, body_len 100", b_overlong, .verdict = V_DROP,
	  .stats = { S(MALFORMED) } },
	{ "short form with a 1456-byte body", b_overlong_exact, .verdict = V_DROP,
	  .stats = { S(MALFORMED) } },
	{ "1472-byte reply, body_len 1455", b_full_body_too_big, .verdict = V_DROP,
	  .stats = { S(MALFORMED) } },
	{ "msg_type scatter", b_type_scatter, .verdict = V_DROP, .stats = { S(MALFORMED) } },
	{ "msg_type allgather", b_type_allgather, .verdict = V_DROP,
	  .stats = { S(MALFORMED) } },
	{ "num_pks 2", b_num_pks_2, .verdict = V_DROP, .stats = { S(MALFORMED) } },
	{ "seq_num 1", b_seq_1, .verdict = V_DROP, .stats = { S(MALFORMED) } },
	{ "UDP length past the frame", b_udp_len_past_frame, .verdict = V_DROP,
	  .stats = { S(MALFORMED) } },

	/* Spoofed: only registered (address, port) pairs count. */
	{ "unknown source address", b_unknown_addr, .verdict = V_DROP,
	  .stats = { S(UNKNOWN_SRC) } },
	{ "unknown source port", b_unknown_port, .verdict = V_DROP,
	  .stats = { S(UNKNOWN_SRC) } },
	{ "one worker's address, another's port", b_mixed_worker, .verdict = V_DROP,
	  .stats = { S(UNKNOWN_SRC) } },

	/* Not for the service: passed on byte for byte. */
	{ "UDP to another port", b_other_port, .verdict = V_NEXT, .untouched = true },
	{ "TCP to the service port", b_tcp, .verdict = V_NEXT, .untouched = true },
	{ "ARP", b_arp, .verdict = V_NEXT, .untouched = true },
	{ "first IPv4 fragment", b_first_fragment, .verdict = V_NEXT, .untouched = true },
	{ "later IPv4 fragment", b_later_fragment, .verdict = V_NEXT, .untouched = true },

	/* Late or misdirected: the slot, result included, is left as it was. */
	{ "request complete", b_short, .prep = PREP_COMPLETE, .verdict = V_DROP,
	  .stats = { S(STALE) } },
	{ "request being merged", b_short, .prep = PREP_MERGING, .verdict = V_DROP,
	  .stats = { S(STALE) } },
	{ "request expired by user space", b_short, .prep = PREP_EXPIRED, .verdict = V_DROP,
	  .stats = { S(STALE) } },
	/* The slot does not hold the id at all: never sent, or long gone. */
	{ "slot reused by REQ + nslots", b_short, .prep = PREP_REUSED, .verdict = V_DROP,
	  .stats = { S(UNSOLICITED) } },
	{ "req_id newer than the slot's", b_req_newer, .prep = PREP_OLDER, .verdict = V_DROP,
	  .stats = { S(UNSOLICITED) } },
	{ "slot never opened", b_short, .prep = PREP_NEVER, .verdict = V_DROP,
	  .stats = { S(UNSOLICITED) } },
	/*
	 * A surplus reply leaves no trace: a worker is counted only while it
	 * holds an admission, so its seen bit is taken and handed back.
	 */
	{ "policy met, last admitted reply still folding", b_short, .prep = PREP_ADMITTING,
	  .verdict = V_DROP, .stats = { S(SURPLUS) } },
};

/* A recognisable result: any write to it shows. */
static void fill_result(struct sgbpf_slot *s)
{
	for (uint32_t i = 0; i < SGBPF_RESULT_BYTES; i++)
		s->result[i] = (uint8_t)(0xa5 ^ i);
}

static void prep_slot(enum prep prep)
{
	struct sgbpf_slot *s = slot_of(REQ);
	uint32_t newer = REQ + NSLOTS, older = REQ - NSLOTS;

	switch (prep) {
	case PREP_OPEN:
		slot_open(REQ, 4);
		break;
	case PREP_COMPLETE:
		slot_open(REQ, 4);
		s->tickets = SGBPF_TAG(REQ, 4 << 16 | 4);
		s->seen[0] = SGBPF_TAG(REQ, 0xf);
		s->responses = 4;
		s->nelems = BODY_LEN / 4;
		s->elem_size = 4;
		fill_result(s);
		s->state = SGBPF_TAG(REQ, SGBPF_SLOT_COMPLETE);
		break;
	case PREP_MERGING:
		slot_open(REQ, 4);
		s->tickets = SGBPF_TAG(REQ, 4 << 16 | 4);
		s->seen[0] = SGBPF_TAG(REQ, 0xe);
		s->state = SGBPF_TAG(REQ, SGBPF_SLOT_MERGING);
		break;
	case PREP_EXPIRED:
		slot_open(REQ, 4);
		s->tickets = SGBPF_TAG(REQ, 1 << 16 | 1);
		s->seen[0] = SGBPF_TAG(REQ, 0x2);
		fill_result(s);
		s->state = SGBPF_TAG(REQ, SGBPF_SLOT_EXPIRED);
		break;
	case PREP_REUSED:
		slot_open(newer, 4);
		s->tickets = SGBPF_TAG(newer, 1 << 16 | 1);
		s->seen[0] = SGBPF_TAG(newer, 0x2);
		break;
	case PREP_OLDER:
		slot_open(older, 4);
		s->tickets = SGBPF_TAG(older, 1 << 16 | 1);
		s->seen[0] = SGBPF_TAG(older, 0x2);
		break;
	case PREP_NEVER:
		break;
	case PREP_ADMITTING:
		slot_open(REQ, 1);
		s->tickets = SGBPF_TAG(REQ, 1);
		s->seen[0] = SGBPF_TAG(REQ, 0x2);
		break;
	}
}

START_TEST(test_gather_table)
{
	const struct gather_case *c = &gather_cases[_i];
	const struct fx_opts o = {
		.reducer = "sgbpf_reduce_sum_u32", .nworkers = 4, .fate = c->fate, .elem_size = 4,
	};
	struct sgbpf_slot before;
	struct pkt in, out;
	stats_t s0;
	int ret;

	fx_open(&o);
	prep_slot(c->prep);
	before = *slot_of(REQ);
	c->build(&in);
	stats_read(s0);

	ret = gather_run(&in, &out);
	ck_assert_msg(ret == hook_verdict(c->verdict), "%s: verdict %d, expected %d", c->desc, ret,
		      hook_verdict(c->verdict));
	stats_expect(s0, c->stats, c->desc);
	if (c->untouched)
		ck_assert_msg(out.len == in.len && memcmp(out.data, in.data, in.len) == 0,
			      "%s: the frame was modified", c->desc);
	if (c->folds) {
		struct sgbpf_slot *s = slot_of(REQ);

		ck_assert_msg(s->state == SGBPF_TAG(REQ, SGBPF_SLOT_ACTIVE), "%s: state %#llx",
			      c->desc, (unsigned long long)s->state);
		expect_tickets(REQ, 1, 1, c->desc);
		ck_assert_msg(s->seen[0] == SGBPF_TAG(REQ, 1), "%s: seen %#llx", c->desc,
			      (unsigned long long)s->seen[0]);
		/* Only a completed request publishes a result. */
		ck_assert_uint_eq(s->nelems, 0);
		ck_assert_uint_eq(s->responses, 0);
	} else {
		struct sgbpf_slot after = *slot_of(REQ);

		ck_assert_msg(memcmp(&before, &after, sizeof(before)) == 0,
			      "%s: the slot was modified", c->desc);
	}
}
END_TEST

/* ---- requests from scatter to completion ------------------------------- */

/* Expected u32 sum over workers [0, n) of bodies of body_len bytes. */
static void expect_sum_u32(const struct sgbpf_slot *s, const uint32_t *workers, uint32_t n,
			   uint32_t body_len)
{
	uint32_t nelems = body_len / 4;

	ck_assert_uint_eq(s->nelems, nelems);
	ck_assert_uint_eq(s->elem_size, 4);
	for (uint32_t i = 0; i < nelems; i++) {
		uint32_t want = 0, got;

		for (uint32_t k = 0; k < n; k++)
			want += body_u32(workers[k], i);
		memcpy(&got, s->result + i * 4, 4);
		ck_assert_msg(sgbpf_le32(got) == want, "element %u: %#x, expected %#x", i,
			      sgbpf_le32(got), want);
	}
}

static const struct {
	uint32_t nworkers;
	uint32_t fate;
} fanouts[] = {
	{ 4, XDP_DROP }, { 64, XDP_DROP }, { 4, XDP_PASS }, { 33, XDP_PASS },
};

/* Every worker replies once with a 1472-byte reply: the exact element-wise sum. */
START_TEST(test_full_request)
{
	const uint32_t n = fanouts[_i].nworkers, fate = fanouts[_i].fate;
	const struct fx_opts o = {
		.reducer = "sgbpf_reduce_sum_u32", .nworkers = n, .fate = fate, .elem_size = 4,
	};
	const stats_t delta = { [SGBPF_STAT_FOLDED] = n, [SGBPF_STAT_COMPLETED] = 1 };
	uint32_t order[64];
	struct pkt p;
	stats_t s0;

	fx_open(&o);
	slot_open(REQ, n);
	stats_read(s0);
	/* Out of order, so that the last worker is not the one that completes. */
	for (uint32_t k = 0; k < n; k++)
		order[k] = (k * 7 + 3) % n;
	for (uint32_t k = 0; k < n; k++) {
		cpu_pin_run_on(k);
		reply_pkt(&p, order[k], NULL, SGBPF_UDP_BODY_MAX, SGBPF_UDP_MSG_LEN);
		deliver(&p, fate_verdict(fate), "reply");
		if (k + 1 < n)
			ck_assert_uint_eq(slot_status(REQ), SGBPF_SLOT_ACTIVE);
	}
	ck_assert_uint_eq(slot_status(REQ), SGBPF_SLOT_COMPLETE);
	ck_assert_uint_eq(slot_of(REQ)->responses, n);
	expect_tickets(REQ, n, n, "complete");
	expect_sum_u32(slot_of(REQ), order, n, SGBPF_UDP_BODY_MAX);
	stats_expect(s0, delta, "full request");
}
END_TEST

/* A worker's second reply is counted as a duplicate and never folded. */
START_TEST(test_duplicate)
{
	const struct fx_opts o = {
		.reducer = "sgbpf_reduce_sum_u32", .nworkers = 40, .elem_size = 4,
	};
	const stats_t dups = { [SGBPF_STAT_DUPLICATES] = 1 };
	struct sgbpf_hdr h = pkt_gather_hdr(REQ, BODY_LEN);
	uint32_t workers[40];
	struct pkt first, again;
	stats_t s0;

	fx_open(&o);
	slot_open(REQ, 40);
	for (uint32_t w = 0; w < 40; w++)
		workers[w] = w;

	/* Worker 0 and worker 37 (second seen word) reply twice. */
	for (uint32_t w = 0; w < 38; w += 37) {
		cpu_pin_run_on(0);
		reply_pkt(&first, w, NULL, BODY_LEN, 0);
		deliver(&first, V_DROP, "first reply");
		/* From another CPU: the seen bits are shared, not per CPU. */
		cpu_pin_run_on(1);
		stats_read(s0);
		/* Same worker, another body: folding it would change the sum. */
		reply_as(&again, w, w + 1, &h, BODY_LEN, 0, 0);
		deliver(&again, V_DROP, "duplicate");
		stats_expect(s0, dups, "duplicate");
		deliver(&first, V_DROP, "identical duplicate");
	}
	expect_tickets(REQ, 2, 2, "after duplicates");
	/* Two second replies each, counted for the request too. */
	ck_assert_uint_eq(slot_of(REQ)->duplicates, 4);
	ck_assert_uint_eq(slot_of(REQ)->seen[1], SGBPF_TAG(REQ, 1u << 5));
	for (uint32_t w = 1; w < 40; w++) {
		if (w == 37)
			continue;
		cpu_pin_run_on(w);
		reply_pkt(&first, w, NULL, BODY_LEN, 0);
		deliver(&first, V_DROP, "reply");
	}
	ck_assert_uint_eq(slot_status(REQ), SGBPF_SLOT_COMPLETE);
	ck_assert_uint_eq(slot_of(REQ)->responses, 40);
	expect_sum_u32(slot_of(REQ), workers, 40, BODY_LEN);
}
END_TEST

/*
 * Policy "any": the first reply completes the request with its own body.
 * A later reply from another worker finds the request complete; gather.bpf.c
 * counts every reply to a finished request as stale (ADMIT_STALE: "request
 * finished, expired, or slot reused") and keeps "surplus" for replies that
 * pass the state check while the last needed reply is still being folded
 * (the PREP_ADMITTING row of the table).
 */
START_TEST(test_policy_any)
{
	const struct fx_opts o = {
		.reducer = "sgbpf_reduce_sum_u32", .nworkers = 4, .elem_size = 4,
	};
	const stats_t first = { [SGBPF_STAT_FOLDED] = 1, [SGBPF_STAT_COMPLETED] = 1 };
	const stats_t late = { [SGBPF_STAT_STALE] = 1 };
	const uint32_t w2 = 2;
	struct sgbpf_slot done;
	struct pkt p;
	stats_t s0;

	fx_open(&o);
	slot_open(REQ, 1);
	stats_read(s0);
	reply_pkt(&p, w2, NULL, BODY_LEN, 0);
	deliver(&p, V_DROP, "first reply");
	stats_expect(s0, first, "first reply");
	ck_assert_uint_eq(slot_status(REQ), SGBPF_SLOT_COMPLETE);
	ck_assert_uint_eq(slot_of(REQ)->responses, 1);
	expect_sum_u32(slot_of(REQ), &w2, 1, BODY_LEN);

	done = *slot_of(REQ);
	stats_read(s0);
	reply_pkt(&p, 0, NULL, BODY_LEN, 0);
	deliver(&p, V_DROP, "second worker");
	stats_expect(s0, late, "second worker");
	ck_assert(memcmp(&done, slot_of(REQ), sizeof(done)) == 0);
}
END_TEST

/* Policy N of M: exactly N bodies are folded. */
START_TEST(test_policy_n_of_m)
{
	const struct fx_opts o = {
		.reducer = "sgbpf_reduce_sum_u32", .nworkers = 5, .elem_size = 4,
	};
	const uint32_t counted[] = { 4, 1, 3 };
	struct pkt p;

	fx_open(&o);
	slot_open(REQ, 3);
	for (uint32_t k = 0; k < 3; k++) {
		reply_pkt(&p, counted[k], NULL, BODY_LEN, 0);
		deliver(&p, V_DROP, "counted reply");
	}
	ck_assert_uint_eq(slot_status(REQ), SGBPF_SLOT_COMPLETE);
	ck_assert_uint_eq(slot_of(REQ)->responses, 3);
	expect_sum_u32(slot_of(REQ), counted, 3, BODY_LEN);
	reply_pkt(&p, 0, NULL, BODY_LEN, 0);
	deliver(&p, V_DROP, "fourth reply");
	expect_sum_u32(slot_of(REQ), counted, 3, BODY_LEN);
}
END_TEST

/*
 * A request expires after one fold; the next request in the same slot must
 * not inherit that fold from the per-CPU partial it left behind, whether
 * it leaves that partial alone (_i == 0: the merge must skip it) or folds
 * into it (_i == 1: the fold must reset it first).
 */
START_TEST(test_reuse_after_expiry)
{
	const struct fx_opts o = {
		.reducer = "sgbpf_reduce_sum_u32", .nworkers = 3, .elem_size = 4,
	};
	const uint32_t next = REQ + NSLOTS, workers[] = { 1, 2 };
	struct pkt p;

	fx_open(&o);
	slot_open(REQ, 3);
	cpu_pin_run_on(1);
	reply_pkt(&p, 0, NULL, BODY_LEN, 0);
	deliver(&p, V_DROP, "reply before expiry");
	cpu_pin_run_on(_i);
	__atomic_store_n(&slot_of(REQ)->state, SGBPF_TAG(REQ, SGBPF_SLOT_EXPIRED),
			 __ATOMIC_RELEASE);

	slot_open(next, 2);
	for (uint32_t k = 0; k < 2; k++) {
		reply_for(&p, workers[k], next, BODY_LEN, 0);
		deliver(&p, V_DROP, "reply to the next request");
	}
	/* A late reply to the expired request changes nothing. */
	reply_for(&p, 2, REQ, BODY_LEN, 0);
	deliver(&p, V_DROP, "late reply");
	ck_assert_uint_eq(slot_status(next), SGBPF_SLOT_COMPLETE);
	ck_assert_uint_eq(slot_of(next)->responses, 2);
	expect_sum_u32(slot_of(next), workers, 2, BODY_LEN);
}
END_TEST

/*
 * Request ids wrap: after 2^32 requests (with one slot, after 2^32) the same
 * id opens the same slot again.  A CPU that folded the id's earlier opening
 * and has not touched the slot since still holds that partial; it must count
 * neither when the merge skips it (_i == 0) nor when the fold reuses it
 * (_i == 1).
 */
START_TEST(test_reopen_same_id)
{
	const struct fx_opts o = {
		.reducer = "sgbpf_reduce_sum_u32", .nworkers = 3, .elem_size = 4,
	};
	const uint32_t workers[] = { 1, 2 };
	struct pkt p;

	fx_open(&o);
	slot_open(REQ, 3);
	cpu_pin_run_on(1);
	reply_pkt(&p, 0, NULL, BODY_LEN, 0);
	deliver(&p, V_DROP, "reply before expiry");
	__atomic_store_n(&slot_of(REQ)->state, SGBPF_TAG(REQ, SGBPF_SLOT_EXPIRED),
			 __ATOMIC_RELEASE);

	/* The same id again, 2^32 requests later. */
	slot_open(REQ, 2);
	for (uint32_t k = 0; k < 2; k++) {
		cpu_pin_run_on(_i + k);
		reply_for(&p, workers[k], REQ, BODY_LEN, 0);
		deliver(&p, V_DROP, "reply to the reopened id");
	}
	ck_assert_uint_eq(slot_status(REQ), SGBPF_SLOT_COMPLETE);
	ck_assert_uint_eq(slot_of(REQ)->responses, 2);
	expect_sum_u32(slot_of(REQ), workers, 2, BODY_LEN);
}
END_TEST

/*
 * A reducing service whose reduction is not (yet) in the prog array: the
 * reply must not be counted without its body.  The admission is handed
 * back -- no seen bit, no ticket -- so the same reply folds once the
 * reduction is there, and the request completes with the exact sum.
 */
START_TEST(test_reduction_missing)
{
	const struct fx_opts o = {
		.reducer = "sgbpf_reduce_sum_u32", .nworkers = 2, .elem_size = 4,
		.no_install = true,
	};
	const stats_t abandoned = { [SGBPF_STAT_MALFORMED] = 1 };
	const uint32_t workers[] = { 0, 1 };
	char tc_name[64];
	struct pkt p;
	stats_t s0;

	fx_open(&o);
	slot_open(REQ, 2);
	stats_read(s0);
	reply_pkt(&p, 0, NULL, BODY_LEN, 0);
	deliver(&p, V_DROP, "reply without a reduction");
	stats_expect(s0, abandoned, "reply without a reduction");
	expect_tickets(REQ, 0, 0, "handed back");
	ck_assert_uint_eq(slot_of(REQ)->seen[0], SGBPF_TAG(REQ, 0));
	ck_assert_uint_eq(slot_status(REQ), SGBPF_SLOT_ACTIVE);

	install_reducer("sgbpf_reduce_sum_u32", fx.skel->maps.sgbpf_reducer);
	snprintf(tc_name, sizeof(tc_name), "%s_tc", "sgbpf_reduce_sum_u32");
	install_reducer(tc_name, fx.skel->maps.sgbpf_reducer_tc);
	for (uint32_t w = 0; w < 2; w++) {
		reply_pkt(&p, w, NULL, BODY_LEN, 0);
		deliver(&p, V_DROP, "reply");
	}
	ck_assert_uint_eq(slot_status(REQ), SGBPF_SLOT_COMPLETE);
	expect_sum_u32(slot_of(REQ), workers, 2, BODY_LEN);
}
END_TEST

/* A completed request's slot reused: the new result has only new bodies. */
START_TEST(test_reuse_after_complete)
{
	const struct fx_opts o = {
		.reducer = "sgbpf_reduce_sum_u32", .nworkers = 2, .elem_size = 4,
	};
	const uint32_t next = REQ + NSLOTS, workers[] = { 0, 1 };
	struct pkt p;

	fx_open(&o);
	slot_open(REQ, 2);
	for (uint32_t w = 0; w < 2; w++) {
		cpu_pin_run_on(w);
		reply_for(&p, w, REQ, SGBPF_UDP_BODY_MAX, SGBPF_UDP_MSG_LEN);
		deliver(&p, V_DROP, "first request");
	}
	/* The second request folds on one CPU; the other keeps the old partial. */
	cpu_pin_run_on(0);
	ck_assert_uint_eq(slot_status(REQ), SGBPF_SLOT_COMPLETE);
	/* Shorter bodies this time: the old tail must not come back. */
	slot_open(next, 2);
	for (uint32_t w = 0; w < 2; w++) {
		reply_for(&p, w, next, BODY_LEN, 0);
		deliver(&p, V_DROP, "second request");
	}
	ck_assert_uint_eq(slot_status(next), SGBPF_SLOT_COMPLETE);
	expect_sum_u32(slot_of(next), workers, 2, BODY_LEN);
}
END_TEST

/* ---- the other built-in reductions ------------------------------------ */

enum red_op { OP_SUM, OP_MIN, OP_MAX, OP_OR, OP_AND };
enum red_type { T_U32, T_I32, T_U64, T_I64 };

static const struct red_case {
	const char *prog;
	enum red_op op;
	enum red_type type;
} red_cases[] = {
	{ "sgbpf_reduce_sum_u32", OP_SUM, T_U32 },
	{ "sgbpf_reduce_sum_i32", OP_SUM, T_I32 },
	{ "sgbpf_reduce_sum_u64", OP_SUM, T_U64 },
	{ "sgbpf_reduce_sum_i64", OP_SUM, T_I64 },
	{ "sgbpf_reduce_min_u32", OP_MIN, T_U32 },
	{ "sgbpf_reduce_min_i32", OP_MIN, T_I32 },
	{ "sgbpf_reduce_min_u64", OP_MIN, T_U64 },
	{ "sgbpf_reduce_min_i64", OP_MIN, T_I64 },
	{ "sgbpf_reduce_max_u32", OP_MAX, T_U32 },
	{ "sgbpf_reduce_max_i32", OP_MAX, T_I32 },
	{ "sgbpf_reduce_max_u64", OP_MAX, T_U64 },
	{ "sgbpf_reduce_max_i64", OP_MAX, T_I64 },
	{ "sgbpf_reduce_or_u32", OP_OR, T_U32 },
	{ "sgbpf_reduce_and_u32", OP_AND, T_U32 },
	{ "sgbpf_reduce_or_u64", OP_OR, T_U64 },
	{ "sgbpf_reduce_and_u64", OP_AND, T_U64 },
};

static uint32_t type_size(enum red_type t)
{
	return t == T_U32 || t == T_I32 ? 4 : 8;
}

/* Raw element bits of worker w: both signs, and and/or that keep some bits. */
static uint64_t elem_bits(uint32_t w, uint32_t i)
{
	uint64_t x = (uint64_t)body_u32(w, i) << 32 | body_u32(w + 100, i);

	return x | 0x0100000001000000ull;	/* a bit every worker shares */
}

static uint64_t combine(enum red_op op, enum red_type t, uint64_t a, uint64_t b)
{
	bool sgn = t == T_I32 || t == T_I64;
	int64_t sa, sb;

	if (type_size(t) == 4) {
		a = (uint32_t)a;
		b = (uint32_t)b;
	}
	sa = t == T_I32 ? (int32_t)a : (int64_t)a;
	sb = t == T_I32 ? (int32_t)b : (int64_t)b;
	switch (op) {
	case OP_SUM:
		return a + b;
	case OP_MIN:
		return (sgn ? sa < sb : a < b) ? a : b;
	case OP_MAX:
		return (sgn ? sa > sb : a > b) ? a : b;
	case OP_OR:
		return a | b;
	case OP_AND:
		return a & b;
	}
	return 0;
}

/* Worker bodies of different lengths: elements past a short body keep the others'. */
static const uint32_t red_nelems[] = { 16, 9, 16, 12 };

START_TEST(test_reducers)
{
	const struct red_case *c = &red_cases[_i];
	const uint32_t es = type_size(c->type), nw = ARRAY_SIZE(red_nelems);
	const struct fx_opts o = {
		.reducer = c->prog, .nworkers = nw, .elem_size = es,
	};
	uint8_t body[256], msg[SGBPF_UDP_MSG_LEN];
	const struct sgbpf_slot *s;
	struct pkt p;

	fx_open(&o);
	slot_open(REQ, nw);
	for (uint32_t w = 0; w < nw; w++) {
		const struct pkt_flow f = {
			.saddr = worker_addr(w), .daddr = COORD_IP,
			.sport = worker_port(w), .dport = SVC_PORT,
		};
		uint32_t blen = red_nelems[w] * es;
		struct sgbpf_hdr h = pkt_gather_hdr(REQ, blen);
		int len;

		for (uint32_t i = 0; i < red_nelems[w]; i++) {
			uint64_t v = elem_bits(w, i);

			memcpy(body + i * es, &v, es);	/* little-endian host */
		}
		/*
		 * Worker 0 sends the padded 1472-byte form, the others the short
		 * one.  The shorter bodies fold on the CPU merged first, so that
		 * the merge has to extend the result past that CPU's length.
		 */
		cpu_pin_run_on(w % 2 ? 0 : 1);
		len = pkt_msg(msg, sizeof(msg), &h, body, blen, w == 0 ? SGBPF_UDP_MSG_LEN : 0);
		ck_assert_int_gt(len, 0);
		ck_assert_int_eq(pkt_udp(&p, &f, msg, len, 0), 0);
		deliver(&p, V_DROP, c->prog);
	}
	s = slot_of(REQ);
	ck_assert_uint_eq(slot_status(REQ), SGBPF_SLOT_COMPLETE);
	ck_assert_uint_eq(s->nelems, 16);
	ck_assert_uint_eq(s->elem_size, es);
	for (uint32_t i = 0; i < 16; i++) {
		uint64_t want = 0, got = 0;
		bool any = false;

		for (uint32_t w = 0; w < nw; w++) {
			if (i >= red_nelems[w])
				continue;
			want = any ? combine(c->op, c->type, want, elem_bits(w, i)) :
				     elem_bits(w, i);
			any = true;
		}
		if (es == 4)
			want = (uint32_t)want;
		memcpy(&got, s->result + i * es, es);
		ck_assert_msg(got == want, "%s element %u: %#llx, expected %#llx", c->prog, i,
			      (unsigned long long)got, (unsigned long long)want);
	}
}
END_TEST

/* No reduction in the prog array: the gather program only counts. */
START_TEST(test_count_only)
{
	const struct fx_opts o = { .reducer = NULL, .nworkers = 3 };
	const stats_t delta = { [SGBPF_STAT_FOLDED] = 3, [SGBPF_STAT_COMPLETED] = 1 };
	struct pkt p;
	stats_t s0;

	fx_open(&o);
	slot_open(REQ, 3);
	stats_read(s0);
	for (uint32_t w = 0; w < 3; w++) {
		reply_pkt(&p, w, NULL, SGBPF_UDP_BODY_MAX, SGBPF_UDP_MSG_LEN);
		deliver(&p, V_DROP, "reply");
	}
	ck_assert_uint_eq(slot_status(REQ), SGBPF_SLOT_COMPLETE);
	ck_assert_uint_eq(slot_of(REQ)->responses, 3);
	ck_assert_uint_eq(slot_of(REQ)->nelems, 0);
	ck_assert_uint_eq(slot_of(REQ)->elem_size, 0);
	stats_expect(s0, delta, "count only");
}
END_TEST

/* ---- completion notification ------------------------------------------ */

struct ev_log {
	struct sgbpf_event ev[4];
	int n;
};

static int on_event(void *ctx, void *data, size_t len)
{
	struct ev_log *log = ctx;

	if (len != sizeof(struct sgbpf_event) || log->n >= (int)ARRAY_SIZE(log->ev))
		return -EINVAL;
	memcpy(&log->ev[log->n++], data, sizeof(struct sgbpf_event));
	return 0;
}

START_TEST(test_notify_ringbuf)
{
	const struct fx_opts o = {
		.reducer = "sgbpf_reduce_sum_u32", .nworkers = 3, .elem_size = 4,
		.notify = SGBPF_NOTIFY_RINGBUF,
	};
	struct ev_log log = { 0 };
	struct ring_buffer *rb;
	struct pkt p;

	fx_open(&o);
	rb = ring_buffer__new(bpf_map__fd(fx.skel->maps.sgbpf_events), on_event, &log, NULL);
	ck_assert_ptr_nonnull(rb);
	slot_open(REQ, 2);

	reply_pkt(&p, 1, NULL, BODY_LEN, 0);
	deliver(&p, V_DROP, "first reply");
	ck_assert_int_eq(ring_buffer__consume(rb), 0);
	reply_pkt(&p, 0, NULL, BODY_LEN, 0);
	deliver(&p, V_DROP, "completing reply");
	ck_assert_int_eq(ring_buffer__consume(rb), 1);
	ck_assert_int_eq(log.n, 1);
	ck_assert_uint_eq(log.ev[0].req_id, REQ);
	ck_assert_uint_eq(log.ev[0].slot, REQ & (NSLOTS - 1));
	/* One event per request, however many replies follow. */
	reply_pkt(&p, 2, NULL, BODY_LEN, 0);
	deliver(&p, V_DROP, "late reply");
	ck_assert_int_eq(ring_buffer__consume(rb), 0);
	ring_buffer__free(rb);
}
END_TEST

/*
 * SGBPF_NOTIFY_CTRL: the completing reply becomes a datagram to the control
 * port with SGBPF_FLAG_COMPLETE set; with fate discard its body is cut off.
 */
static void check_ctrl_frame(const struct pkt *in, const struct pkt *out, bool keep_body)
{
	const struct iphdr *ip = pkt_iph(out), *ip_in = pkt_iph(in);
	const struct udphdr *udp = pkt_udph(out), *udp_in = pkt_udph(in);
	uint32_t in_len, out_len;
	const uint8_t *pl_in = pkt_udp_payload(in, &in_len), *pl;
	struct sgbpf_hdr h;

	ck_assert_ptr_nonnull(ip);
	ck_assert_ptr_nonnull(udp);
	pl = pkt_udp_payload(out, &out_len);
	ck_assert_ptr_nonnull(pl);
	ck_assert_uint_eq(ntohs(udp->dest), CTRL_PORT);
	ck_assert_uint_eq(udp->source, udp_in->source);
	ck_assert_uint_eq(ip->saddr, ip_in->saddr);
	ck_assert_uint_eq(ip->daddr, ip_in->daddr);
	ck_assert_uint_eq(udp->check, 0);
	ck_assert_msg(pkt_ip_csum_ok(out), "bad IPv4 header checksum");
	if (keep_body) {
		ck_assert_uint_eq(out->len, in->len);
		ck_assert_uint_eq(out_len, in_len);
		ck_assert(memcmp(pl + SGBPF_HDR_LEN, pl_in + SGBPF_HDR_LEN,
				 in_len - SGBPF_HDR_LEN) == 0);
	} else {
		ck_assert_uint_eq(out_len, SGBPF_HDR_LEN);
		ck_assert_uint_eq(ntohs(udp->len), sizeof(*udp) + SGBPF_HDR_LEN);
		ck_assert_uint_eq(ntohs(ip->tot_len), ip->ihl * 4 + sizeof(*udp) + SGBPF_HDR_LEN);
		ck_assert_uint_eq(out->len, ETH_HLEN + ip->ihl * 4 + sizeof(*udp) + SGBPF_HDR_LEN);
	}
	memcpy(&h, pl, sizeof(h));
	ck_assert_uint_eq(sgbpf_le32(h.req_id), REQ);
	ck_assert_uint_eq(h.msg_type, SGBPF_MSG_GATHER);
	ck_assert_uint_eq(h.flags, SGBPF_FLAG_COMPLETE);
	/* The rest of the header is the reply's own. */
	ck_assert(memcmp(pl, pl_in, offsetof(struct sgbpf_hdr, flags)) == 0);
}

static const struct {
	uint32_t fate;
	uint32_t body_len, total;
	unsigned int ip_flags;
} ctrl_cases[] = {
	{ XDP_DROP, SGBPF_UDP_BODY_MAX, SGBPF_UDP_MSG_LEN },
	{ XDP_DROP, BODY_LEN, 0 },
	{ XDP_DROP, 0, 0 },
	{ XDP_DROP, BODY_LEN, SGBPF_UDP_MSG_LEN, PKT_IP_OPTIONS },
	{ XDP_PASS, SGBPF_UDP_BODY_MAX, SGBPF_UDP_MSG_LEN },
	{ XDP_PASS, BODY_LEN, 0 },
	{ XDP_PASS, BODY_LEN, 0, PKT_IP_OPTIONS },
};

START_TEST(test_notify_ctrl)
{
	const uint32_t fate = ctrl_cases[_i].fate;
	const struct fx_opts o = {
		.reducer = "sgbpf_reduce_sum_u32", .nworkers = 3, .elem_size = 4,
		.notify = SGBPF_NOTIFY_CTRL, .fate = fate,
	};
	struct pkt in, out;

	fx_open(&o);
	slot_open(REQ, 2);
	reply_as(&in, 2, 2, NULL, ctrl_cases[_i].body_len, ctrl_cases[_i].total,
		 ctrl_cases[_i].ip_flags);
	ck_assert_int_eq(gather_run(&in, &out), hook_verdict(fate_verdict(fate)));
	/* Not the last one: it goes where the fate says, unchanged. */
	ck_assert(out.len == in.len && memcmp(out.data, in.data, in.len) == 0);

	reply_as(&in, 0, 0, NULL, ctrl_cases[_i].body_len, ctrl_cases[_i].total,
		 ctrl_cases[_i].ip_flags);
	ck_assert_int_eq(gather_run(&in, &out), hook_verdict(V_KEEP));
	check_ctrl_frame(&in, &out, fate == XDP_PASS);
	ck_assert_uint_eq(slot_status(REQ), SGBPF_SLOT_COMPLETE);
}
END_TEST

/* ---- main -------------------------------------------------------------- */

/* A test case of the given name running its tests against hook h. */
/* ---- fuzzing: random and mutated frames --------------------------------- */

static uint64_t fuzz_state;

static uint32_t fuzz_rand(void)
{
	/* xorshift64*: reproducible from the seed printed on failure. */
	fuzz_state ^= fuzz_state >> 12;
	fuzz_state ^= fuzz_state << 25;
	fuzz_state ^= fuzz_state >> 27;
	return (uint32_t)((fuzz_state * 0x2545f4914f6cdd1dull) >> 32);
}

/*
 * Would the gather program accept this frame as a reply from a registered
 * worker to REQ?  The rules of gather.bpf.c, written again from
 * docs/protocol.md; the fuzzer feeds only frames for which this says no, so
 * none of them may change REQ's slot or count as a reply.
 */
static bool fuzz_is_reply_to_req(const struct pkt *p, uint32_t nworkers)
{
	const uint8_t *d = p->data;
	uint32_t ihl, l4, udp_len, payload, body_len;
	struct sgbpf_hdr h;
	uint16_t frag, sport, dport;
	uint32_t saddr;

	if (p->len < 14 + 20 || d[12] != 0x08 || d[13] != 0x00 || d[14 + 9] != IPPROTO_UDP)
		return false;
	memcpy(&frag, d + 14 + 6, 2);
	if (ntohs(frag) & 0x3fff)
		return false;
	ihl = (d[14] & 0xf) * 4u;
	l4 = 14 + ihl;
	if (ihl < 20 || l4 + 8 + sizeof(h) > p->len)
		return false;
	memcpy(&dport, d + l4 + 2, 2);
	memcpy(&sport, d + l4, 2);
	memcpy(&saddr, d + 14 + 12, 4);
	if (ntohs(dport) != SVC_PORT)
		return false;
	for (uint32_t w = 0;; w++) {
		if (w == nworkers)
			return false;
		if (saddr == worker_addr(w) && ntohs(sport) == worker_port(w))
			break;
	}
	udp_len = (uint32_t)d[l4 + 4] << 8 | d[l4 + 5];
	if (udp_len < 8 + sizeof(h) || l4 + udp_len > p->len)
		return false;
	payload = udp_len - 8;
	memcpy(&h, d + l4 + 8, sizeof(h));
	body_len = sgbpf_le32(h.body_len);
	if (h.msg_type != SGBPF_MSG_GATHER || sgbpf_le32(h.num_pks) > 1 ||
	    sgbpf_le32(h.seq_num) != 0 || body_len > SGBPF_UDP_BODY_MAX)
		return false;
	if (payload != SGBPF_HDR_LEN + body_len && payload != SGBPF_UDP_MSG_LEN)
		return false;
	return sgbpf_le32(h.req_id) == REQ;
}

/* A frame to throw at the gather: mostly a real reply with a few bytes changed. */
static void fuzz_frame(struct pkt *p, uint32_t nworkers)
{
	uint32_t kind = fuzz_rand() % 8, w = fuzz_rand() % (nworkers + 1);

	if (kind == 0) {
		/* Random bytes, sometimes under an IPv4 + UDP Ethernet header. */
		p->len = 14 + fuzz_rand() % 1600;
		for (uint32_t i = 0; i < p->len; i++)
			p->data[i] = (uint8_t)fuzz_rand();
		if (fuzz_rand() & 1) {
			p->data[12] = 0x08;
			p->data[13] = 0x00;
			if (p->len > 24)
				p->data[23] = IPPROTO_UDP;
		}
		return;
	}
	reply_for(p, w % nworkers, fuzz_rand() % 4 ? REQ : REQ + NSLOTS * (fuzz_rand() % 3),
		  (fuzz_rand() % 2) ? BODY_LEN : fuzz_rand() % (SGBPF_UDP_BODY_MAX + 1),
		  fuzz_rand() % 3 ? 0 : SGBPF_UDP_MSG_LEN);
	/* Flip bytes: anywhere, or within the headers where decisions are made. */
	for (uint32_t k = 1 + fuzz_rand() % 4; k > 0; k--) {
		uint32_t span = fuzz_rand() % 3 ? 14 + 20 + 8 + SGBPF_HDR_LEN : p->len;
		uint32_t at = fuzz_rand() % (span < p->len ? span : p->len);

		p->data[at] = fuzz_rand() % 4 ? (uint8_t)fuzz_rand() : p->data[at] ^ 1;
	}
	if (kind == 1 && p->len > 15)
		p->len = 14 + fuzz_rand() % (p->len - 14);	/* truncated */
	else if (kind == 2 && p->len + 64 <= PKT_MAX)
		p->len += fuzz_rand() % 64;			/* trailing junk */
	if (fuzz_rand() & 1)
		pkt_fix_ip_csum(p);
}

static uint32_t fuzz_iterations(void)
{
	const char *e = getenv("SGBPF_FUZZ_ITERS");

	return e ? (uint32_t)strtoul(e, NULL, 0) : 20000;
}

/*
 * Junk never changes a result or a counter it should not: between the
 * first legitimate replies and the last, every fuzzed frame must leave
 * REQ's slot byte for byte as it was, move no "folded", "completed",
 * "duplicates" or "surplus" counter, and come out untouched when it is
 * passed on; the request then completes with the exact sum.  The seed is
 * printed so that a failure can be replayed (SGBPF_FUZZ_SEED).
 */
START_TEST(test_fuzz_junk)
{
	const uint32_t n = 8;
	const struct fx_opts o = {
		.reducer = "sgbpf_reduce_sum_u32", .nworkers = n, .elem_size = 4,
	};
	const char *seed_env = getenv("SGBPF_FUZZ_SEED");
	uint32_t workers[8], iters = fuzz_iterations(), fed = 0;
	struct pkt in, out;
	stats_t s0, s1;

	fuzz_state = seed_env ? strtoull(seed_env, NULL, 0) : (uint64_t)time(NULL) | 1;
	fprintf(stderr, "fuzz seed %#llx, %u frames\n", (unsigned long long)fuzz_state, iters);
	fx_open(&o);
	slot_open(REQ, n);
	for (uint32_t w = 0; w < n; w++)
		workers[w] = w;
	/* Half the workers first, so that junk meets a partly folded request. */
	for (uint32_t w = 0; w < n / 2; w++) {
		cpu_pin_run_on(w);
		reply_pkt(&in, w, NULL, BODY_LEN, 0);
		deliver(&in, V_DROP, "reply");
	}
	stats_read(s0);
	for (uint32_t k = 0; k < iters; k++) {
		struct sgbpf_slot before = *slot_of(REQ);
		int ret;

		fuzz_frame(&in, n);
		if (fuzz_is_reply_to_req(&in, n))
			continue;	/* a real reply after all */
		/* BPF_PROG_TEST_RUN refuses skbs with a truncated IPv4 header; XDP takes them. */
		if (hook == HOOK_TC && in.len < 14 + 20 && in.data[12] == 0x08 && in.data[13] == 0)
			continue;
		fed++;
		cpu_pin_run_on(k);
		ret = gather_run(&in, &out);
		ck_assert_msg(memcmp(&before, slot_of(REQ), sizeof(before)) == 0,
			      "frame %u (seed above) changed the slot", k);
		if (ret == hook_verdict(V_NEXT))
			ck_assert_msg(out.len == in.len && memcmp(out.data, in.data, in.len) == 0,
				      "frame %u was passed on modified", k);
		else
			ck_assert_msg(ret == hook_verdict(V_DROP), "frame %u: verdict %d", k, ret);
	}
	stats_read(s1);
	ck_assert_uint_eq(s1[SGBPF_STAT_FOLDED], s0[SGBPF_STAT_FOLDED]);
	ck_assert_uint_eq(s1[SGBPF_STAT_COMPLETED], s0[SGBPF_STAT_COMPLETED]);
	ck_assert_uint_eq(s1[SGBPF_STAT_DUPLICATES], s0[SGBPF_STAT_DUPLICATES]);
	ck_assert_uint_eq(s1[SGBPF_STAT_SURPLUS], s0[SGBPF_STAT_SURPLUS]);
	ck_assert_uint_gt(fed, iters / 2);
	for (uint32_t w = n / 2; w < n; w++) {
		cpu_pin_run_on(w);
		reply_pkt(&in, w, NULL, BODY_LEN, 0);
		deliver(&in, V_DROP, "reply");
	}
	ck_assert_uint_eq(slot_status(REQ), SGBPF_SLOT_COMPLETE);
	expect_sum_u32(slot_of(REQ), workers, n, BODY_LEN);
}
END_TEST

static TCase *hook_tcase(Suite *s, const char *name, enum hook h)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, h == HOOK_TC ? on_tc : on_xdp, fx_close);
	suite_add_tcase(s, tc);
	return tc;
}

static Suite *gather_suite(void)
{
	Suite *s = suite_create("bpf_gather");

	for (enum hook h = HOOK_XDP; h <= HOOK_TC; h++) {
		bool x = h == HOOK_XDP;
		TCase *tc;

		tc = hook_tcase(s, x ? "packets_xdp" : "packets_tc", h);
		tcase_add_loop_test(tc, test_gather_table, 0, ARRAY_SIZE(gather_cases));

		tc = hook_tcase(s, x ? "requests_xdp" : "requests_tc", h);
		tcase_add_loop_test(tc, test_full_request, 0, ARRAY_SIZE(fanouts));
		tcase_add_test(tc, test_duplicate);
		tcase_add_test(tc, test_policy_any);
		tcase_add_test(tc, test_policy_n_of_m);
		tcase_add_loop_test(tc, test_reuse_after_expiry, 0, 2);
		tcase_add_test(tc, test_reuse_after_complete);
		tcase_add_loop_test(tc, test_reopen_same_id, 0, 2);
		tcase_add_test(tc, test_reduction_missing);

		tc = hook_tcase(s, x ? "reductions_xdp" : "reductions_tc", h);
		tcase_add_loop_test(tc, test_reducers, 0, ARRAY_SIZE(red_cases));
		tcase_add_test(tc, test_count_only);

		tc = hook_tcase(s, x ? "notify_xdp" : "notify_tc", h);
		tcase_add_test(tc, test_notify_ringbuf);
		tcase_add_loop_test(tc, test_notify_ctrl, 0, ARRAY_SIZE(ctrl_cases));

		tc = hook_tcase(s, x ? "fuzz_xdp" : "fuzz_tc", h);
		/* SGBPF_FUZZ_ITERS=1000000: one to four minutes a hook on two CPUs. */
		tcase_set_timeout(tc, 900);
		tcase_add_test(tc, test_fuzz_junk);
	}
	return s;
}

/* 0 when this process may load and test-run XDP programs, else 77. */
static int check_bpf(void)
{
	const struct bpf_insn ret_pass[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	struct pkt p;
	int fd, err;

	if (geteuid() != 0) {
		fprintf(stderr, "skipped: loading BPF programs needs root\n");
		return 77;
	}
	fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "sg_probe", "GPL", ret_pass, 2, NULL);
	if (fd < 0) {
		fprintf(stderr, "skipped: cannot load an XDP program: %s\n", strerror(-fd));
		return 77;
	}
	pkt_arp(&p, 0, 0);
	{
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p.data, .data_size_in = p.len);

		err = bpf_prog_test_run_opts(fd, &o);
	}
	close(fd);
	if (err) {
		fprintf(stderr, "skipped: BPF_PROG_TEST_RUN unavailable: %s\n", strerror(-err));
		return 77;
	}
	return 0;
}

int main(void)
{
	int skip = check_bpf();

	if (skip)
		return skip;
	return suite_run(gather_suite());
}
