// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The UDP backend's TC egress scatter program (bpf-udp/scatter.bpf.c),
 * driven through BPF_PROG_TEST_RUN with crafted scatter datagrams: the
 * trailer is read and stripped, the request's slot opened, and the datagram
 * retargeted at the workers, with both checksums kept right.
 *
 * bpf_clone_redirect() needs a real device, so every test runs in a fresh
 * network namespace and the programs' ifindex is that namespace's lo.  The
 * clones leave through it (a packet socket on lo captures them for a look)
 * and die in the namespace's stack: their addresses are nobody's there.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <linux/if_packet.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <sgbpf/udp_state.h>

#include "netns_util.h"
#include "pkt_build.h"
#include "sgbpf_udp.skel.h"

#define NSLOTS		8u
#define REQ		0x7a0013u		/* slot 3 */
#define SVC_PORT	7000
#define TRIGGER_PORT	9999
#define BODY_LEN	40u
#define MAX_WORKERS	8u
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

typedef uint64_t stats_t[__SGBPF_STAT_MAX];

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
};

static uint32_t ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	return htonl((uint32_t)a << 24 | (uint32_t)b << 16 | (uint32_t)c << 8 | d);
}

#define COORD_IP	ip4(10, 211, 0, 1)
#define TRIGGER_IP	ip4(10, 211, 0, 250)

static uint32_t worker_addr(uint32_t i)
{
	return ip4(10, 211, 0, 2 + i);
}

static uint16_t worker_port(uint32_t i)
{
	return 9000 + 3 * i;
}

/* ---- fixture: a namespace, the loaded programs, a capture on lo -------- */

static struct netns ns;

static struct sx {
	struct sgbpf_udp *skel;
	struct sgbpf_slot *slots;
	size_t slots_len;
	int lo;			/* ifindex of the namespace's lo */
	int cap;		/* AF_PACKET socket on lo */
	int ncpus;
} sx = { .cap = -1 };

static void sx_setup(void)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };

	sx.cap = -1;
	ck_assert_int_eq(netns_create(&ns, "bpfscatter"), 0);
	/* The forked test process moves in for good: nothing to restore. */
	ck_assert_int_eq(netns_enter(&ns, NULL), 0);
	ck_assert_int_eq(netns_link_up(&ns, "lo"), 0);
	sx.lo = netns_ifindex(&ns, "lo");
	ck_assert_int_gt(sx.lo, 0);
	sx.cap = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
	ck_assert_msg(sx.cap >= 0, "packet socket: %s", strerror(errno));
	sll.sll_ifindex = sx.lo;
	ck_assert_int_eq(bind(sx.cap, (struct sockaddr *)&sll, sizeof(sll)), 0);
}

static void sx_teardown(void)
{
	if (sx.cap >= 0)
		close(sx.cap);
	if (sx.slots && sx.slots != MAP_FAILED)
		munmap(sx.slots, sx.slots_len);
	sgbpf_udp__destroy(sx.skel);
	memset(&sx, 0, sizeof(sx));
	sx.cap = -1;
	netns_delete(&ns);
}

/* Loads the object as a count-only service with nworkers workers. */
static void sx_load(uint32_t nworkers)
{
	size_t page = sysconf(_SC_PAGESIZE);
	struct bpf_program *prog;
	struct sgbpf_config cfg;
	uint32_t zero = 0;
	int err, wfd, ifd;

	sx.ncpus = libbpf_num_possible_cpus();
	ck_assert_int_gt(sx.ncpus, 0);
	ck_assert_int_le(sx.ncpus, SGBPF_MAX_CPUS);
	sx.skel = sgbpf_udp__open();
	ck_assert_msg(sx.skel, "cannot open the embedded object: %s", strerror(errno));
	bpf_object__for_each_program(prog, sx.skel->obj)
		if (strncmp(bpf_program__name(prog), "sgbpf_reduce_", 13) == 0)
			bpf_program__set_autoload(prog, false);
	ck_assert_int_eq(bpf_map__set_max_entries(sx.skel->maps.sgbpf_slots, NSLOTS), 0);
	err = sgbpf_udp__load(sx.skel);
	ck_assert_msg(err == 0, "loading the programs: %s", strerror(-err));

	cfg = (struct sgbpf_config){
		.ifindex = sx.lo,
		.nworkers = nworkers,
		.slot_mask = NSLOTS - 1,
		.ncpus = sx.ncpus,
		.port = htons(SVC_PORT),
		.fate = XDP_DROP,
	};
	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(sx.skel->maps.sgbpf_cfg), &zero, &cfg,
					     BPF_ANY), 0);
	wfd = bpf_map__fd(sx.skel->maps.sgbpf_workers);
	ifd = bpf_map__fd(sx.skel->maps.sgbpf_worker_index);
	for (uint32_t i = 0; i < nworkers; i++) {
		struct sgbpf_worker w = { .addr = worker_addr(i), .port = htons(worker_port(i)) };
		struct sgbpf_worker_key k = { .addr = w.addr, .port = w.port };

		ck_assert_int_eq(bpf_map_update_elem(wfd, &i, &w, BPF_ANY), 0);
		ck_assert_int_eq(bpf_map_update_elem(ifd, &k, &i, BPF_NOEXIST), 0);
	}

	sx.slots_len = (sizeof(struct sgbpf_slot) * NSLOTS + page - 1) / page * page;
	sx.slots = mmap(NULL, sx.slots_len, PROT_READ | PROT_WRITE, MAP_SHARED,
			bpf_map__fd(sx.skel->maps.sgbpf_slots), 0);
	ck_assert_msg(sx.slots != MAP_FAILED, "mmap of the slots: %s", strerror(errno));
}

static struct sgbpf_slot *slot_of(uint32_t req)
{
	return &sx.slots[req & (NSLOTS - 1)];
}

/* The slot as an older request left it: opening must reset what matters. */
static void slot_leftover(uint32_t req)
{
	struct sgbpf_slot *s = slot_of(req);
	uint32_t old = req - NSLOTS;

	s->needed = 5;
	s->responses = 5;
	s->nelems = 7;
	s->elem_size = 4;
	s->tickets = SGBPF_TAG(old, 5 << 16 | 5);
	s->seen[0] = SGBPF_TAG(old, 0x1f);
	memset(s->result, 0x5a, sizeof(s->result));
	s->state = SGBPF_TAG(old, SGBPF_SLOT_COMPLETE);
}

static void stats_read(stats_t out)
{
	int fd = bpf_map__fd(sx.skel->maps.sgbpf_stats);
	uint64_t vals[SGBPF_MAX_CPUS];

	for (uint32_t k = 0; k < __SGBPF_STAT_MAX; k++) {
		ck_assert_int_eq(bpf_map_lookup_elem(fd, &k, vals), 0);
		out[k] = 0;
		for (int c = 0; c < sx.ncpus; c++)
			out[k] += vals[c];
	}
}

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

/* Runs sgbpf_scatter on in as TC egress would, with skb->priority = prio. */
static int tc_run(const struct pkt *in, struct pkt *out, uint32_t prio, struct __sk_buff *ctx_out)
{
	struct __sk_buff ctx = { .priority = prio };
	LIBBPF_OPTS(bpf_test_run_opts, o,
		.data_in = in->data,
		.data_size_in = in->len,
		.data_out = out->data,
		.data_size_out = sizeof(out->data),
		.ctx_in = &ctx,
		.ctx_size_in = sizeof(ctx),
		.ctx_out = ctx_out,
		.ctx_size_out = sizeof(*ctx_out),
		.repeat = 1,
	);
	int err;

	err = bpf_prog_test_run_opts(bpf_program__fd(sx.skel->progs.sgbpf_scatter), &o);
	ck_assert_msg(err == 0, "BPF_PROG_TEST_RUN: %s", strerror(-err));
	out->len = o.data_size_out;
	return o.retval;
}

/*
 * Outgoing copies of our scatter datagrams seen on lo since the last call,
 * up to max; waits up to 200 ms for want of them.
 */
static int capture(struct pkt *frames, int max, int want)
{
	struct timespec t0, now;
	int n = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct sockaddr_ll from;
		socklen_t flen = sizeof(from);
		struct pkt *f = &frames[n < max ? n : max - 1];
		struct pollfd pfd = { .fd = sx.cap, .events = POLLIN };
		const struct udphdr *udp;
		ssize_t len;
		long ms;

		len = recvfrom(sx.cap, f->data, sizeof(f->data), 0, (struct sockaddr *)&from,
			       &flen);
		if (len >= 0) {
			f->len = len;
			udp = pkt_udph(f);
			if (from.sll_pkttype == PACKET_OUTGOING && udp &&
			    ntohs(udp->source) == SVC_PORT && n < max)
				n++;
			continue;
		}
		ck_assert_int_eq(errno, EAGAIN);
		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
		if (n >= want || ms >= 200)
			return n;
		poll(&pfd, 1, 200 - ms);
	}
}

/* ---- scatter datagrams ------------------------------------------------- */

static void fill_body(uint8_t *body, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		body[i] = (uint8_t)(i * 37 + 11);
}

/*
 * A scatter datagram from the service socket to the trigger address, with
 * body_len bytes of body and the trailer { needed, magic }; edit(msg, len)
 * may change the message before the UDP checksum is taken.
 */
static void scatter_pkt_ex(struct pkt *p, uint32_t body_len, uint32_t needed, uint32_t magic,
			   unsigned int flags, int (*edit)(uint8_t *msg, int len),
			   const struct pkt_flow *flow)
{
	const struct pkt_flow def = {
		.saddr = COORD_IP, .daddr = TRIGGER_IP,
		.sport = SVC_PORT, .dport = TRIGGER_PORT,
	};
	uint8_t body[SGBPF_UDP_MSG_LEN], msg[SGBPF_UDP_MSG_LEN + 16];
	int len;

	fill_body(body, body_len);
	len = pkt_scatter_msg(msg, sizeof(msg), REQ, body, body_len, needed, magic);
	ck_assert_int_gt(len, 0);
	if (edit)
		len = edit(msg, len);
	ck_assert_int_eq(pkt_udp(p, flow ? flow : &def, msg, len, PKT_IP_DF | flags), 0);
}

static void scatter_pkt(struct pkt *p, uint32_t body_len, uint32_t needed)
{
	scatter_pkt_ex(p, body_len, needed, SGBPF_TRAILER_MAGIC, 0, NULL, NULL);
}

static void b_basic(struct pkt *p)
{
	scatter_pkt(p, BODY_LEN, 1);
}

static void b_no_csum(struct pkt *p)
{
	scatter_pkt_ex(p, BODY_LEN, 1, SGBPF_TRAILER_MAGIC, PKT_NO_UDP_CSUM, NULL, NULL);
}

static void b_odd(struct pkt *p)
{
	scatter_pkt(p, 7, 1);
}

static void b_odd_no_csum(struct pkt *p)
{
	scatter_pkt_ex(p, 7, 1, SGBPF_TRAILER_MAGIC, PKT_NO_UDP_CSUM, NULL, NULL);
}

static void b_empty(struct pkt *p)
{
	scatter_pkt(p, 0, 1);
}

static void b_large(struct pkt *p)
{
	scatter_pkt(p, 1401, 1);
}

/* The library's own trigger: already addressed to worker 0. */
static void b_to_worker0(struct pkt *p)
{
	const struct pkt_flow f = {
		.saddr = COORD_IP, .daddr = worker_addr(0),
		.sport = SVC_PORT, .dport = worker_port(0),
	};

	scatter_pkt_ex(p, BODY_LEN, 1, SGBPF_TRAILER_MAGIC, 0, NULL, &f);
}

static void b_ip_options(struct pkt *p)
{
	scatter_pkt_ex(p, BODY_LEN, 1, SGBPF_TRAILER_MAGIC, PKT_IP_OPTIONS, NULL, NULL);
}

static void b_needed_0(struct pkt *p)
{
	scatter_pkt(p, BODY_LEN, 0);
}

static void b_needed_2(struct pkt *p)
{
	scatter_pkt(p, BODY_LEN, 2);
}

static void b_needed_9(struct pkt *p)
{
	scatter_pkt(p, BODY_LEN, 9);
}

static void b_bad_magic(struct pkt *p)
{
	scatter_pkt_ex(p, BODY_LEN, 1, SGBPF_TRAILER_MAGIC ^ 0x100, 0, NULL, NULL);
}

static int set_type_gather(uint8_t *msg, int len)
{
	msg[offsetof(struct sgbpf_hdr, msg_type)] = SGBPF_MSG_GATHER;
	return len;
}

static void b_type_gather(struct pkt *p)
{
	scatter_pkt_ex(p, BODY_LEN, 1, SGBPF_TRAILER_MAGIC, 0, set_type_gather, NULL);
}

/* An odd body with the trailer right after it: misplaced by one byte. */
static int drop_pad(uint8_t *msg, int len)
{
	uint32_t off = SGBPF_HDR_LEN + 7;

	memmove(msg + off, msg + off + 1, sizeof(struct sgbpf_scatter_trailer));
	return len - 1;
}

static void b_odd_no_pad(struct pkt *p)
{
	scatter_pkt_ex(p, 7, 1, SGBPF_TRAILER_MAGIC, 0, drop_pad, NULL);
}

/* body_len four bytes shorter than what precedes the trailer. */
static int shrink_body_len(uint8_t *msg, int len)
{
	uint32_t bl = sgbpf_le32(BODY_LEN - 4);

	memcpy(msg + offsetof(struct sgbpf_hdr, body_len), &bl, 4);
	return len;
}

static void b_body_len_mismatch(struct pkt *p)
{
	scatter_pkt_ex(p, BODY_LEN, 1, SGBPF_TRAILER_MAGIC, 0, shrink_body_len, NULL);
}

static int cut_trailer(uint8_t *msg, int len)
{
	return len - (int)sizeof(struct sgbpf_scatter_trailer);
}

static void b_no_trailer(struct pkt *p)
{
	scatter_pkt_ex(p, BODY_LEN, 1, SGBPF_TRAILER_MAGIC, 0, cut_trailer, NULL);
}

static int cut_to_10(uint8_t *msg, int len)
{
	return 10;
}

static void b_short_payload(struct pkt *p)
{
	scatter_pkt_ex(p, BODY_LEN, 1, SGBPF_TRAILER_MAGIC, 0, cut_to_10, NULL);
}

static void b_other_sport(struct pkt *p)
{
	const struct pkt_flow f = {
		.saddr = COORD_IP, .daddr = TRIGGER_IP,
		.sport = SVC_PORT + 1, .dport = TRIGGER_PORT,
	};

	scatter_pkt_ex(p, BODY_LEN, 1, SGBPF_TRAILER_MAGIC, 0, NULL, &f);
}

static void b_fragment(struct pkt *p)
{
	scatter_pkt_ex(p, BODY_LEN, 1, SGBPF_TRAILER_MAGIC, PKT_IP_MF, NULL, NULL);
}

static void b_tcp(struct pkt *p)
{
	const struct pkt_flow f = {
		.saddr = COORD_IP, .daddr = TRIGGER_IP,
		.sport = SVC_PORT, .dport = TRIGGER_PORT,
	};
	uint8_t msg[128];
	int len = pkt_scatter_msg(msg, sizeof(msg), REQ, NULL, BODY_LEN, 1, SGBPF_TRAILER_MAGIC);

	ck_assert_int_eq(pkt_tcp(p, &f, msg, len), 0);
}

static void b_arp(struct pkt *p)
{
	ck_assert_int_eq(pkt_arp(p, COORD_IP, TRIGGER_IP), 0);
}

/* ---- the table --------------------------------------------------------- */

enum outcome {
	/*
	 * TC_ACT_UNSPEC, frame and slot as they were: not this service's, so
	 * the next program on the hook (another service's scatter) decides.
	 */
	PASS_UNTOUCHED,
	SCATTERED,		/* TC_ACT_OK, retargeted, slot opened */
	REFUSED,		/* TC_ACT_SHOT, scatter_errors, slot closed */
};

struct scatter_case {
	const char *desc;
	void (*build)(struct pkt *p);
	uint32_t nworkers;	/* 0: 1 */
	bool no_priority;	/* sent without SGBPF_SCATTER_PRIORITY */
	enum outcome outcome;
	uint32_t needed;	/* SCATTERED: the slot's needed */
	bool config_nworkers_0;	/* sgbpf_cfg says 0 workers */
};

static const struct scatter_case scatter_cases[] = {
	{ "one worker, UDP checksum", b_basic, .outcome = SCATTERED, .needed = 1 },
	{ "one worker, UDP checksum 0", b_no_csum, .outcome = SCATTERED, .needed = 1 },
	{ "odd body with its pad byte", b_odd, .outcome = SCATTERED, .needed = 1 },
	{ "odd body, UDP checksum 0", b_odd_no_csum, .outcome = SCATTERED, .needed = 1 },
	{ "empty body", b_empty, .outcome = SCATTERED, .needed = 1 },
	{ "1401-byte body", b_large, .outcome = SCATTERED, .needed = 1 },
	{ "already addressed to worker 0", b_to_worker0, .outcome = SCATTERED, .needed = 1 },
	{ "IPv4 header with options", b_ip_options, .outcome = SCATTERED, .needed = 1 },
	{ "three workers, needed 0 (all)", b_needed_0, .nworkers = 3, .outcome = SCATTERED,
	  .needed = 3 },
	{ "three workers, needed 2", b_needed_2, .nworkers = 3, .outcome = SCATTERED,
	  .needed = 2 },
	{ "three workers, needed 9 (capped)", b_needed_9, .nworkers = 3, .outcome = SCATTERED,
	  .needed = 3 },
	{ "eight workers", b_odd, .nworkers = 8, .outcome = SCATTERED, .needed = 1 },

	{ "no scatter priority", b_basic, .no_priority = true, .outcome = PASS_UNTOUCHED },
	{ "no priority, three workers", b_needed_0, .nworkers = 3, .no_priority = true,
	  .outcome = PASS_UNTOUCHED },
	{ "another source port", b_other_sport, .outcome = PASS_UNTOUCHED },
	{ "IPv4 fragment", b_fragment, .outcome = PASS_UNTOUCHED },
	{ "TCP", b_tcp, .outcome = PASS_UNTOUCHED },
	{ "ARP", b_arp, .outcome = PASS_UNTOUCHED },

	{ "wrong trailer magic", b_bad_magic, .outcome = REFUSED },
	{ "msg_type gather", b_type_gather, .outcome = REFUSED },
	{ "odd body without the pad byte", b_odd_no_pad, .outcome = REFUSED },
	{ "body_len disagrees with the datagram", b_body_len_mismatch, .outcome = REFUSED },
	{ "no trailer", b_no_trailer, .outcome = REFUSED },
	{ "10-byte payload", b_short_payload, .outcome = REFUSED },
	{ "no workers configured", b_basic, .config_nworkers_0 = true, .outcome = REFUSED },
};

/* The scatter message of in, without pad and trailer: what workers must get. */
static const uint8_t *expected_msg(const struct pkt *in, uint32_t *len)
{
	uint32_t plen, body_len;
	const uint8_t *pl = pkt_udp_payload(in, &plen);

	ck_assert_ptr_nonnull(pl);
	memcpy(&body_len, pl + offsetof(struct sgbpf_hdr, body_len), 4);
	*len = SGBPF_HDR_LEN + sgbpf_le32(body_len);
	return pl;
}

/* out is in, minus pad and trailer, sent to worker w with correct checksums. */
static void check_copy(const struct pkt *in, const struct pkt *out, uint32_t w, const char *desc)
{
	const struct iphdr *ip = pkt_iph(out), *ip_in = pkt_iph(in);
	const struct udphdr *udp = pkt_udph(out), *udp_in = pkt_udph(in);
	uint32_t want_len, got_len;
	const uint8_t *want = expected_msg(in, &want_len), *got;

	ck_assert_msg(ip && udp, "%s: copy for worker %u is not UDP/IPv4", desc, w);
	got = pkt_udp_payload(out, &got_len);
	ck_assert_ptr_nonnull(got);
	ck_assert_msg(ip->daddr == worker_addr(w) && ntohs(udp->dest) == worker_port(w),
		      "%s: copy sent to %#x:%u, expected worker %u", desc, ntohl(ip->daddr),
		      ntohs(udp->dest), w);
	ck_assert_uint_eq(ip->saddr, ip_in->saddr);
	ck_assert_uint_eq(udp->source, udp_in->source);
	ck_assert_msg(got_len == want_len, "%s: %u bytes of payload, expected %u", desc,
		      got_len, want_len);
	ck_assert_msg(memcmp(got, want, want_len) == 0, "%s: payload differs", desc);
	ck_assert_uint_eq(ntohs(ip->tot_len), ip->ihl * 4 + sizeof(*udp) + want_len);
	ck_assert_uint_eq(out->len, ETH_HLEN + ntohs(ip->tot_len));
	ck_assert_msg(pkt_ip_csum_ok(out), "%s: bad IPv4 header checksum", desc);
	if (udp_in->check)
		ck_assert_msg(pkt_udp_csum_ok(out), "%s: bad UDP checksum %#x", desc,
			      ntohs(udp->check));
	else
		ck_assert_msg(udp->check == 0, "%s: UDP checksum %#x appeared", desc,
			      ntohs(udp->check));
}

static void check_opened(uint32_t needed, const char *desc)
{
	const struct sgbpf_slot *s = slot_of(REQ);

	ck_assert_msg(s->state == SGBPF_TAG(REQ, SGBPF_SLOT_ACTIVE), "%s: state %#llx", desc,
		      (unsigned long long)s->state);
	ck_assert_msg(s->tickets == SGBPF_TAG(REQ, 0), "%s: tickets %#llx", desc,
		      (unsigned long long)s->tickets);
	ck_assert_msg(s->needed == needed, "%s: needed %u, expected %u", desc, s->needed, needed);
	ck_assert_uint_eq(s->responses, 0);
	ck_assert_uint_eq(s->nelems, 0);
}

START_TEST(test_scatter_table)
{
	const struct scatter_case *c = &scatter_cases[_i];
	uint32_t n = c->nworkers ? c->nworkers : 1;
	struct pkt in, out, clones[MAX_WORKERS + 1];
	struct __sk_buff ctx_out = { 0 };
	struct sgbpf_slot before;
	stats_t s0, delta = { 0 };
	int ret, got;

	sx_load(n);
	if (c->config_nworkers_0) {
		struct sgbpf_config cfg;
		uint32_t zero = 0;
		int fd = bpf_map__fd(sx.skel->maps.sgbpf_cfg);

		ck_assert_int_eq(bpf_map_lookup_elem(fd, &zero, &cfg), 0);
		cfg.nworkers = 0;
		ck_assert_int_eq(bpf_map_update_elem(fd, &zero, &cfg, BPF_ANY), 0);
	}
	slot_leftover(REQ);
	before = *slot_of(REQ);
	c->build(&in);
	capture(clones, MAX_WORKERS, 0);	/* nothing else is on lo, but be sure */
	stats_read(s0);

	ret = tc_run(&in, &out, c->no_priority ? 0 : SGBPF_SCATTER_PRIORITY, &ctx_out);
	switch (c->outcome) {
	case PASS_UNTOUCHED:
		ck_assert_msg(ret == TC_ACT_UNSPEC, "%s: verdict %d", c->desc, ret);
		ck_assert_msg(out.len == in.len && memcmp(out.data, in.data, in.len) == 0,
			      "%s: the frame was modified", c->desc);
		ck_assert_msg(memcmp(&before, slot_of(REQ), sizeof(before)) == 0,
			      "%s: the slot was modified", c->desc);
		break;
	case REFUSED:
		ck_assert_msg(ret == TC_ACT_SHOT, "%s: verdict %d", c->desc, ret);
		ck_assert_msg(memcmp(&before, slot_of(REQ), sizeof(before)) == 0,
			      "%s: the slot was modified", c->desc);
		delta[SGBPF_STAT_SCATTER_ERRORS] = 1;
		break;
	case SCATTERED:
		ck_assert_msg(ret == TC_ACT_OK, "%s: verdict %d", c->desc, ret);
		/* The datagram itself goes to the last worker. */
		check_copy(&in, &out, n - 1, c->desc);
		check_opened(c->needed, c->desc);
		/* Clones are told apart from scatters by priority 0. */
		ck_assert_uint_eq(ctx_out.priority, 0);
		delta[SGBPF_STAT_SCATTERS] = 1;
		delta[SGBPF_STAT_CLONES] = n;
		break;
	}
	stats_expect(s0, delta, c->desc);

	/* One clone per worker but the last left through lo, in order. */
	got = capture(clones, MAX_WORKERS + 1, c->outcome == SCATTERED ? n - 1 : 0);
	ck_assert_msg(got == (c->outcome == SCATTERED ? (int)n - 1 : 0), "%s: %d clones on lo",
		      c->desc, got);
	for (int k = 0; k < got; k++)
		check_copy(&in, &clones[k], k, c->desc);
}
END_TEST

/* Two scatters in a row open two slots; a reused slot is opened afresh. */
START_TEST(test_scatter_sequence)
{
	struct __sk_buff ctx_out;
	struct pkt in, out;
	uint32_t req2 = REQ + 1, req3 = REQ + NSLOTS;
	uint8_t msg[128];
	const struct pkt_flow f = {
		.saddr = COORD_IP, .daddr = TRIGGER_IP, .sport = SVC_PORT, .dport = TRIGGER_PORT,
	};
	int len;

	sx_load(2);
	scatter_pkt(&in, BODY_LEN, 1);
	ck_assert_int_eq(tc_run(&in, &out, SGBPF_SCATTER_PRIORITY, &ctx_out), TC_ACT_OK);
	len = pkt_scatter_msg(msg, sizeof(msg), req2, NULL, 5, 2, SGBPF_TRAILER_MAGIC);
	ck_assert_int_eq(pkt_udp(&in, &f, msg, len, 0), 0);
	ck_assert_int_eq(tc_run(&in, &out, SGBPF_SCATTER_PRIORITY, &ctx_out), TC_ACT_OK);
	check_opened(1, "first");
	ck_assert_uint_eq(slot_of(req2)->state, SGBPF_TAG(req2, SGBPF_SLOT_ACTIVE));
	ck_assert_uint_eq(slot_of(req2)->needed, 2);

	/* The first request completes; a later one reuses its slot. */
	slot_of(REQ)->state = SGBPF_TAG(REQ, SGBPF_SLOT_COMPLETE);
	len = pkt_scatter_msg(msg, sizeof(msg), req3, NULL, 3, 0, SGBPF_TRAILER_MAGIC);
	ck_assert_int_eq(pkt_udp(&in, &f, msg, len, 0), 0);
	ck_assert_int_eq(tc_run(&in, &out, SGBPF_SCATTER_PRIORITY, &ctx_out), TC_ACT_OK);
	ck_assert_uint_eq(slot_of(req3)->state, SGBPF_TAG(req3, SGBPF_SLOT_ACTIVE));
	ck_assert_uint_eq(slot_of(req3)->tickets, SGBPF_TAG(req3, 0));
	ck_assert_uint_eq(slot_of(req3)->needed, 2);
	/* req2's slot is another one and stays as it was. */
	ck_assert_uint_eq(slot_of(req2)->state, SGBPF_TAG(req2, SGBPF_SLOT_ACTIVE));
}
END_TEST

/*
 * The same request id opens its slot again (ids wrap after 2^32 requests):
 * the opening must owe nothing to the earlier one -- a new generation (which
 * the per-CPU partials are tagged with), cleared seen words, fresh tickets
 * and a zero duplicate count.
 */
START_TEST(test_scatter_reopen_same_id)
{
	struct __sk_buff ctx_out;
	struct sgbpf_slot *s;
	struct pkt in, out;
	uint64_t gen;

	sx_load(40);
	s = slot_of(REQ);
	scatter_pkt(&in, BODY_LEN, 0);
	ck_assert_int_eq(tc_run(&in, &out, SGBPF_SCATTER_PRIORITY, &ctx_out), TC_ACT_OK);
	gen = s->gen;
	ck_assert_uint_eq(s->state, SGBPF_TAG(REQ, SGBPF_SLOT_ACTIVE));
	/* As if every worker had replied, some twice, and the request completed. */
	s->seen[0] = SGBPF_TAG(REQ, 0xffffffffu);
	s->seen[1] = SGBPF_TAG(REQ, 0xffu);
	s->tickets = SGBPF_TAG(REQ, 40u << 16 | 40u);
	s->duplicates = 3;
	s->state = SGBPF_TAG(REQ, SGBPF_SLOT_COMPLETE);

	ck_assert_int_eq(tc_run(&in, &out, SGBPF_SCATTER_PRIORITY, &ctx_out), TC_ACT_OK);
	ck_assert_uint_eq(s->gen, gen + 1);
	ck_assert_uint_eq(s->state, SGBPF_TAG(REQ, SGBPF_SLOT_ACTIVE));
	ck_assert_uint_eq(s->tickets, SGBPF_TAG(REQ, 0));
	ck_assert_uint_eq(s->seen[0], 0);
	ck_assert_uint_eq(s->seen[1], 0);
	ck_assert_uint_eq(s->duplicates, 0);
	ck_assert_uint_eq(s->needed, 40);
}
END_TEST

static Suite *scatter_suite(void)
{
	Suite *s = suite_create("bpf_scatter");
	TCase *tc = tcase_create("scatter");

	tcase_add_checked_fixture(tc, sx_setup, sx_teardown);
	tcase_add_loop_test(tc, test_scatter_table, 0, ARRAY_SIZE(scatter_cases));
	tcase_add_test(tc, test_scatter_sequence);
	tcase_add_test(tc, test_scatter_reopen_same_id);
	suite_add_tcase(s, tc);
	return s;
}

/* 0 when this process may load and test-run TC programs, else 77. */
static int check_bpf(void)
{
	const struct bpf_insn ret_ok[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = TC_ACT_OK },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	struct pkt p;
	int fd, err;

	fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "sg_probe", "GPL", ret_ok, 2, NULL);
	if (fd < 0) {
		fprintf(stderr, "skipped: cannot load a TC program: %s\n", strerror(-fd));
		return NETNS_SKIP;
	}
	pkt_arp(&p, 0, 0);
	{
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p.data, .data_size_in = p.len);

		err = bpf_prog_test_run_opts(fd, &o);
	}
	close(fd);
	if (err) {
		fprintf(stderr, "skipped: BPF_PROG_TEST_RUN unavailable: %s\n", strerror(-err));
		return NETNS_SKIP;
	}
	return 0;
}

int main(void)
{
	SRunner *sr;
	int failed, skip = netns_check_privileges();

	if (!skip)
		skip = check_bpf();
	if (skip)
		return skip;
	netns_reap_stale();
	sr = srunner_create(scatter_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	netns_reap_stale();
	return failed ? 1 : 0;
}
