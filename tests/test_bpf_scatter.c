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
#include "suite_run.h"

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
	[SGBPF_STAT_SCATTER_FRAGMENTS] = "scatter_fragments",
	[SGBPF_STAT_CLONE_FAILURES] = "clone_failures",
	[SGBPF_STAT_RETRY_COPIES] = "retry_copies",
	[SGBPF_STAT_RETRY_IDLE] = "retry_idle",
	[SGBPF_STAT_ALLGATHER_COPIES] = "allgather_copies",
	[SGBPF_STAT_EVENTS_LOST] = "events_lost",
	[SGBPF_STAT_WAKEUPS_SKIPPED] = "wakeups_skipped",
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
 * A scatter datagram from the service socket to worker 0 (the first trigger
 * of a request), with body_len bytes of body; edit(msg, len) may change the
 * message before the UDP checksum is taken.
 */
static void scatter_pkt_ex(struct pkt *p, uint32_t body_len, unsigned int flags,
			   int (*edit)(uint8_t *msg, int len), const struct pkt_flow *flow)
{
	const struct pkt_flow def = {
		.saddr = COORD_IP, .daddr = worker_addr(0),
		.sport = SVC_PORT, .dport = worker_port(0),
	};
	uint8_t body[SGBPF_UDP_MSG_LEN], msg[SGBPF_UDP_MSG_LEN + 16];
	int len;

	fill_body(body, body_len);
	len = pkt_scatter_msg(msg, sizeof(msg), REQ, body, body_len);
	ck_assert_int_gt(len, 0);
	if (edit)
		len = edit(msg, len);
	ck_assert_int_eq(pkt_udp(p, flow ? flow : &def, msg, len, PKT_IP_DF | flags), 0);
}

static void scatter_pkt(struct pkt *p, uint32_t body_len)
{
	scatter_pkt_ex(p, body_len, 0, NULL, NULL);
}

static void b_basic(struct pkt *p)
{
	scatter_pkt(p, BODY_LEN);
}

static void b_no_csum(struct pkt *p)
{
	scatter_pkt_ex(p, BODY_LEN, PKT_NO_UDP_CSUM, NULL, NULL);
}

static void b_odd(struct pkt *p)
{
	scatter_pkt(p, 7);
}

static void b_odd_no_csum(struct pkt *p)
{
	scatter_pkt_ex(p, 7, PKT_NO_UDP_CSUM, NULL, NULL);
}

static void b_empty(struct pkt *p)
{
	scatter_pkt(p, 0);
}

/* The original 1472-byte message: what a 1500-byte MTU carries. */
static void b_largest(struct pkt *p)
{
	scatter_pkt(p, SGBPF_UDP_BODY_MAX);
}

static void b_largest_odd(struct pkt *p)
{
	scatter_pkt(p, SGBPF_UDP_BODY_MAX - 1);
}

static void b_ip_options(struct pkt *p)
{
	scatter_pkt_ex(p, BODY_LEN, PKT_IP_OPTIONS, NULL, NULL);
}

/* Addressed to nobody the service knows: not a trigger of this service. */
static void b_to_stranger(struct pkt *p)
{
	const struct pkt_flow f = {
		.saddr = COORD_IP, .daddr = TRIGGER_IP,
		.sport = SVC_PORT, .dport = TRIGGER_PORT,
	};

	scatter_pkt_ex(p, BODY_LEN, 0, NULL, &f);
}

static int set_type_gather(uint8_t *msg, int len)
{
	msg[offsetof(struct sgbpf_hdr, msg_type)] = SGBPF_MSG_GATHER;
	return len;
}

static void b_type_gather(struct pkt *p)
{
	scatter_pkt_ex(p, BODY_LEN, 0, set_type_gather, NULL);
}

/* body_len four bytes shorter than the datagram. */
static int shrink_body_len(uint8_t *msg, int len)
{
	uint32_t bl = sgbpf_le32(BODY_LEN - 4);

	memcpy(msg + offsetof(struct sgbpf_hdr, body_len), &bl, 4);
	return len;
}

static void b_body_len_mismatch(struct pkt *p)
{
	scatter_pkt_ex(p, BODY_LEN, 0, shrink_body_len, NULL);
}

/* What the trailer of older versions made of a message: 8 bytes more. */
static int add_8(uint8_t *msg, int len)
{
	memset(msg + len, 0, 8);
	return len + 8;
}

static void b_trailing_bytes(struct pkt *p)
{
	scatter_pkt_ex(p, BODY_LEN, 0, add_8, NULL);
}

static int cut_to_10(uint8_t *msg, int len)
{
	return 10;
}

static void b_short_payload(struct pkt *p)
{
	scatter_pkt_ex(p, BODY_LEN, 0, cut_to_10, NULL);
}

static void b_other_sport_ex(struct pkt *p, unsigned int flags)
{
	const struct pkt_flow f = {
		.saddr = COORD_IP, .daddr = worker_addr(0),
		.sport = SVC_PORT + 1, .dport = worker_port(0),
	};

	scatter_pkt_ex(p, BODY_LEN, flags, NULL, &f);
}

static void b_other_sport(struct pkt *p)
{
	b_other_sport_ex(p, 0);
}

/* First fragment of a scatter too large for the MTU: the UDP header is in it. */
static void b_fragment(struct pkt *p)
{
	scatter_pkt_ex(p, BODY_LEN, PKT_IP_MF, NULL, NULL);
}

/* A later fragment: no UDP header, only the scatter priority says whose. */
static void b_fragment_later(struct pkt *p)
{
	scatter_pkt_ex(p, BODY_LEN, PKT_IP_FRAG_LATER, NULL, NULL);
}

static void b_fragment_other_sport(struct pkt *p)
{
	b_other_sport_ex(p, PKT_IP_MF);
}

static void b_tcp(struct pkt *p)
{
	const struct pkt_flow f = {
		.saddr = COORD_IP, .daddr = worker_addr(0),
		.sport = SVC_PORT, .dport = worker_port(0),
	};
	uint8_t msg[128];
	int len = pkt_scatter_msg(msg, sizeof(msg), REQ, NULL, BODY_LEN);

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
	FRAGMENT,		/* TC_ACT_SHOT, scatter_fragments, slot closed */
	FRAGMENT_LATER,		/* TC_ACT_SHOT, no counter, slot closed */
};

/* What user space left in the slot's scatter word before the trigger. */
enum tag_kind {
	TAG_THIS,		/* SGBPF_TAG(REQ, needed) */
	TAG_OLDER,		/* an older request of the same slot */
	TAG_NONE,		/* never written: 0 */
};

struct scatter_case {
	const char *desc;
	void (*build)(struct pkt *p);
	uint32_t nworkers;	/* 0: 1 */
	bool no_priority;	/* sent without SGBPF_SCATTER_PRIORITY */
	enum outcome outcome;
	uint32_t tag_needed;	/* the needed user space wrote */
	enum tag_kind tag;
	uint32_t needed;	/* SCATTERED: the slot's needed */
	bool config_nworkers_0;	/* sgbpf_cfg says 0 workers */
};

static const struct scatter_case scatter_cases[] = {
	{ "one worker, UDP checksum", b_basic, .outcome = SCATTERED, .tag_needed = 1, .needed = 1 },
	{ "one worker, UDP checksum 0", b_no_csum, .outcome = SCATTERED, .tag_needed = 1,
	  .needed = 1 },
	{ "odd body", b_odd, .outcome = SCATTERED, .tag_needed = 1, .needed = 1 },
	{ "odd body, UDP checksum 0", b_odd_no_csum, .outcome = SCATTERED, .tag_needed = 1,
	  .needed = 1 },
	{ "empty body", b_empty, .outcome = SCATTERED, .tag_needed = 1, .needed = 1 },
	{ "1454-byte body (1500 MTU)", b_largest, .outcome = SCATTERED, .tag_needed = 1,
	  .needed = 1 },
	{ "1453-byte body", b_largest_odd, .nworkers = 3, .outcome = SCATTERED, .needed = 3 },
	{ "IPv4 header with options", b_ip_options, .outcome = SCATTERED, .tag_needed = 1,
	  .needed = 1 },
	{ "three workers, needed 0 (all)", b_basic, .nworkers = 3, .outcome = SCATTERED,
	  .needed = 3 },
	{ "three workers, needed 2", b_basic, .nworkers = 3, .outcome = SCATTERED,
	  .tag_needed = 2, .needed = 2 },
	{ "three workers, needed 9 (capped)", b_basic, .nworkers = 3, .outcome = SCATTERED,
	  .tag_needed = 9, .needed = 3 },
	{ "eight workers", b_odd, .nworkers = 8, .outcome = SCATTERED, .tag_needed = 1,
	  .needed = 1 },

	{ "no scatter priority", b_basic, .no_priority = true, .outcome = PASS_UNTOUCHED },
	{ "no priority, three workers", b_basic, .nworkers = 3, .no_priority = true,
	  .outcome = PASS_UNTOUCHED },
	{ "another source port", b_other_sport, .outcome = PASS_UNTOUCHED },
	{ "first fragment, another source port", b_fragment_other_sport,
	  .outcome = PASS_UNTOUCHED },
	{ "TCP", b_tcp, .outcome = PASS_UNTOUCHED },
	{ "ARP", b_arp, .outcome = PASS_UNTOUCHED },

	{ "first IPv4 fragment of a scatter", b_fragment, .nworkers = 3, .outcome = FRAGMENT },
	{ "later IPv4 fragment of a scatter", b_fragment_later, .nworkers = 3,
	  .outcome = FRAGMENT_LATER },

	{ "slot tagged for an older request", b_basic, .tag = TAG_OLDER, .outcome = REFUSED },
	{ "slot never tagged", b_basic, .tag = TAG_NONE, .outcome = REFUSED },
	{ "addressed to no worker", b_to_stranger, .outcome = REFUSED },
	{ "msg_type gather", b_type_gather, .outcome = REFUSED },
	{ "body_len disagrees with the datagram", b_body_len_mismatch, .outcome = REFUSED },
	{ "bytes after the body", b_trailing_bytes, .outcome = REFUSED },
	{ "10-byte payload", b_short_payload, .outcome = REFUSED },
	{ "no workers configured", b_basic, .config_nworkers_0 = true, .outcome = REFUSED },
};

/* The scatter message of in: what workers must get. */
static const uint8_t *expected_msg(const struct pkt *in, uint32_t *len)
{
	uint32_t plen, body_len;
	const uint8_t *pl = pkt_udp_payload(in, &plen);

	ck_assert_ptr_nonnull(pl);
	memcpy(&body_len, pl + offsetof(struct sgbpf_hdr, body_len), 4);
	*len = SGBPF_HDR_LEN + sgbpf_le32(body_len);
	return pl;
}

/* out is in, sent to worker w with correct checksums. */
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
	slot_of(REQ)->scatter = c->tag == TAG_THIS ? SGBPF_TAG(REQ, c->tag_needed) :
				c->tag == TAG_OLDER ? SGBPF_TAG(REQ - NSLOTS, c->tag_needed) : 0;
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
	case FRAGMENT:
	case FRAGMENT_LATER:
		ck_assert_msg(ret == TC_ACT_SHOT, "%s: verdict %d", c->desc, ret);
		ck_assert_msg(memcmp(&before, slot_of(REQ), sizeof(before)) == 0,
			      "%s: the slot was modified", c->desc);
		if (c->outcome == REFUSED)
			delta[SGBPF_STAT_SCATTER_ERRORS] = 1;
		else if (c->outcome == FRAGMENT)
			delta[SGBPF_STAT_SCATTER_FRAGMENTS] = 1;
		break;
	case SCATTERED:
		ck_assert_msg(ret == TC_ACT_OK, "%s: verdict %d", c->desc, ret);
		/* The datagram itself goes to the last worker. */
		check_copy(&in, &out, n - 1, c->desc);
		check_opened(c->needed, c->desc);
		ck_assert_uint_eq(slot_of(REQ)->scatter,
				  SGBPF_TAG(REQ, c->tag_needed | SGBPF_SCATTER_OPENED));
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

/* Runs a trigger of req to worker first with header flags, as libsgbpf sends it. */
static int trigger_flags(uint32_t req, uint32_t first, uint8_t flags, struct pkt *in,
			 struct pkt *out)
{
	const struct pkt_flow f = {
		.saddr = COORD_IP, .daddr = worker_addr(first),
		.sport = SVC_PORT, .dport = worker_port(first),
	};
	struct __sk_buff ctx_out;
	uint8_t msg[128];
	int len = pkt_scatter_msg(msg, sizeof(msg), req, NULL, 5);

	msg[offsetof(struct sgbpf_hdr, flags)] = flags;
	ck_assert_int_eq(pkt_udp(in, &f, msg, len, PKT_IP_DF), 0);
	return tc_run(in, out, SGBPF_SCATTER_PRIORITY, &ctx_out);
}

static int trigger(uint32_t req, uint32_t first, struct pkt *in, struct pkt *out)
{
	return trigger_flags(req, first, 0, in, out);
}

/* A re-scatter trigger: the same message with SGBPF_FLAG_RETRY. */
static int retry_trigger(uint32_t req, uint32_t first, struct pkt *in, struct pkt *out)
{
	return trigger_flags(req, first, SGBPF_FLAG_RETRY, in, out);
}

/* Two scatters in a row open two slots; a reused slot is opened afresh. */
START_TEST(test_scatter_sequence)
{
	struct pkt in, out;
	uint32_t req2 = REQ + 1, req3 = REQ + NSLOTS;

	sx_load(2);
	slot_of(REQ)->scatter = SGBPF_TAG(REQ, 1);
	slot_of(req2)->scatter = SGBPF_TAG(req2, 2);
	ck_assert_int_eq(trigger(REQ, 0, &in, &out), TC_ACT_OK);
	ck_assert_int_eq(trigger(req2, 0, &in, &out), TC_ACT_OK);
	check_opened(1, "first");
	ck_assert_uint_eq(slot_of(req2)->state, SGBPF_TAG(req2, SGBPF_SLOT_ACTIVE));
	ck_assert_uint_eq(slot_of(req2)->needed, 2);

	/* The first request completes; a later one reuses its slot. */
	slot_of(REQ)->state = SGBPF_TAG(REQ, SGBPF_SLOT_COMPLETE);
	slot_of(req3)->scatter = SGBPF_TAG(req3, 0);
	ck_assert_int_eq(trigger(req3, 0, &in, &out), TC_ACT_OK);
	ck_assert_uint_eq(slot_of(req3)->state, SGBPF_TAG(req3, SGBPF_SLOT_ACTIVE));
	ck_assert_uint_eq(slot_of(req3)->tickets, SGBPF_TAG(req3, 0));
	ck_assert_uint_eq(slot_of(req3)->needed, 2);
	/* A delayed trigger of the first request finds req3's tag: dropped. */
	ck_assert_int_eq(trigger(REQ, 0, &in, &out), TC_ACT_SHOT);
	ck_assert_uint_eq(slot_of(req3)->state, SGBPF_TAG(req3, SGBPF_SLOT_ACTIVE));
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
	struct sgbpf_slot *s;
	struct pkt in, out;
	uint64_t gen;

	sx_load(40);
	s = slot_of(REQ);
	s->scatter = SGBPF_TAG(REQ, 0);
	ck_assert_int_eq(trigger(REQ, 0, &in, &out), TC_ACT_OK);
	gen = s->gen;
	ck_assert_uint_eq(s->state, SGBPF_TAG(REQ, SGBPF_SLOT_ACTIVE));
	/* As if every worker had replied, some twice, and the request completed. */
	s->seen[0] = SGBPF_TAG(REQ, 0xffffffffu);
	s->seen[1] = SGBPF_TAG(REQ, 0xffu);
	s->tickets = SGBPF_TAG(REQ, 40u << 16 | 40u);
	s->duplicates = 3;
	s->state = SGBPF_TAG(REQ, SGBPF_SLOT_COMPLETE);

	s->scatter = SGBPF_TAG(REQ, 0);	/* what sgbpf_scatter() writes before sending */
	ck_assert_int_eq(trigger(REQ, 0, &in, &out), TC_ACT_OK);
	ck_assert_uint_eq(s->gen, gen + 1);
	ck_assert_uint_eq(s->state, SGBPF_TAG(REQ, SGBPF_SLOT_ACTIVE));
	ck_assert_uint_eq(s->tickets, SGBPF_TAG(REQ, 0));
	ck_assert_uint_eq(s->seen[0], 0);
	ck_assert_uint_eq(s->seen[1], 0);
	ck_assert_uint_eq(s->duplicates, 0);
	ck_assert_uint_eq(s->needed, 40);
}
END_TEST

#define RANGE_WORKERS 150u	/* three batches: 64 + 64 + 22 */
static struct pkt range_frames[SGBPF_SCATTER_BATCH + 1];

/* A trigger to worker first reaches exactly [first, first + batch) and no more. */
static void expect_range(uint32_t first, const struct pkt *in, const struct pkt *out)
{
	uint32_t end = first + SGBPF_SCATTER_BATCH < RANGE_WORKERS ?
		       first + SGBPF_SCATTER_BATCH : RANGE_WORKERS;
	char desc[64];
	int got;

	snprintf(desc, sizeof(desc), "batch at worker %u", first);
	check_copy(in, out, end - 1, desc);
	got = capture(range_frames, SGBPF_SCATTER_BATCH + 1, end - first - 1);
	ck_assert_msg(got == (int)(end - first - 1), "%s: %d clones, expected %u", desc, got,
		      end - first - 1);
	for (int k = 0; k < got; k++)
		check_copy(in, &range_frames[k], first + k, desc);
}

/*
 * A request to more workers than one batch is several triggers, each
 * addressed to the first worker of its range.  Whichever comes first opens
 * the slot, once; the others only fan out.
 */
START_TEST(test_scatter_ranges)
{
	struct pkt in, out;
	stats_t s0, delta = { 0 };

	sx_load(RANGE_WORKERS);
	slot_leftover(REQ);
	slot_of(REQ)->scatter = SGBPF_TAG(REQ, 100);
	capture(range_frames, SGBPF_SCATTER_BATCH + 1, 0);
	stats_read(s0);

	/* The last batch arrives first (a resent trigger): it opens the slot. */
	ck_assert_int_eq(trigger(REQ, 128, &in, &out), TC_ACT_OK);
	check_opened(100, "last batch first");
	expect_range(128, &in, &out);

	/* Replies are being counted: the next triggers must not reset that. */
	slot_of(REQ)->tickets = SGBPF_TAG(REQ, 3 << 16 | 3);
	ck_assert_int_eq(trigger(REQ, 0, &in, &out), TC_ACT_OK);
	expect_range(0, &in, &out);
	ck_assert_int_eq(trigger(REQ, 64, &in, &out), TC_ACT_OK);
	expect_range(64, &in, &out);
	ck_assert_uint_eq(slot_of(REQ)->tickets, SGBPF_TAG(REQ, 3 << 16 | 3));
	ck_assert_uint_eq(slot_of(REQ)->state, SGBPF_TAG(REQ, SGBPF_SLOT_ACTIVE));
	ck_assert_uint_eq(slot_of(REQ)->needed, 100);

	delta[SGBPF_STAT_SCATTERS] = 1;
	delta[SGBPF_STAT_CLONES] = RANGE_WORKERS;
	stats_expect(s0, delta, "three batches");
}
END_TEST

/*
 * Copies the kernel refuses cost their workers only: the rest still go out,
 * the slot is open, and the failures are counted.  An ifindex that does not
 * exist makes every bpf_clone_redirect() fail.
 */
START_TEST(test_clone_failures_skipped)
{
	struct sgbpf_config cfg;
	struct pkt in, out;
	stats_t s0, delta = { 0 };
	uint32_t zero = 0;
	int fd;

	sx_load(8);
	fd = bpf_map__fd(sx.skel->maps.sgbpf_cfg);
	ck_assert_int_eq(bpf_map_lookup_elem(fd, &zero, &cfg), 0);
	cfg.ifindex = 0x7ffffff0;
	ck_assert_int_eq(bpf_map_update_elem(fd, &zero, &cfg, BPF_ANY), 0);
	slot_leftover(REQ);
	slot_of(REQ)->scatter = SGBPF_TAG(REQ, 0);
	stats_read(s0);
	ck_assert_int_eq(trigger(REQ, 0, &in, &out), TC_ACT_OK);
	check_copy(&in, &out, 7, "all clones refused");
	check_opened(8, "all clones refused");
	delta[SGBPF_STAT_SCATTERS] = 1;
	delta[SGBPF_STAT_CLONES] = 1;
	delta[SGBPF_STAT_CLONE_FAILURES] = 7;
	stats_expect(s0, delta, "all clones refused");
}
END_TEST


/* ---- re-scatters ------------------------------------------------------- */

#define RETRY_WORKERS 150u	/* three batches: 64 + 64 + 22 */
static struct pkt retry_frames[SGBPF_SCATTER_BATCH + 1];

/* Opens REQ's slot for nworkers workers, as the request's first trigger does. */
static void retry_open(uint32_t nworkers)
{
	struct pkt in, out;

	sx_load(nworkers);
	slot_leftover(REQ);
	slot_of(REQ)->scatter = SGBPF_TAG(REQ, 0);
	ck_assert_int_eq(trigger(REQ, 0, &in, &out), TC_ACT_OK);
	ck_assert_uint_eq(slot_of(REQ)->state, SGBPF_TAG(REQ, SGBPF_SLOT_ACTIVE));
	capture(retry_frames, SGBPF_SCATTER_BATCH + 1, 0);	/* the first copies */
}

/*
 * A re-scatter reaches exactly the workers of its batch without a seen bit
 * for the request, in order, the trigger itself going to the last of them;
 * the slot is left as it was, byte for byte.
 */
static void expect_retry(uint32_t first, const uint32_t *want, int nwant, const char *desc)
{
	struct sgbpf_slot before = *slot_of(REQ);
	stats_t s0, delta = { 0 };
	struct pkt in, out;
	int got;

	stats_read(s0);
	ck_assert_msg(retry_trigger(REQ, first, &in, &out) == TC_ACT_OK, "%s: verdict", desc);
	check_copy(&in, &out, want[nwant - 1], desc);
	got = capture(retry_frames, SGBPF_SCATTER_BATCH + 1, nwant - 1);
	ck_assert_msg(got == nwant - 1, "%s: %d copies cloned, expected %d", desc, got,
		      nwant - 1);
	for (int k = 0; k < got; k++)
		check_copy(&in, &retry_frames[k], want[k], desc);
	ck_assert_msg(memcmp(&before, slot_of(REQ), sizeof(before)) == 0,
		      "%s: the re-scatter changed the slot", desc);
	delta[SGBPF_STAT_CLONES] = nwant;
	delta[SGBPF_STAT_RETRY_COPIES] = nwant;
	stats_expect(s0, delta, desc);
}

START_TEST(test_retry_only_stragglers)
{
	const uint32_t want[] = { 1, 4, 5, 6 };

	retry_open(8);
	/* Workers 0, 2, 3 and 7 answered. */
	slot_of(REQ)->seen[0] = SGBPF_TAG(REQ, 1u << 0 | 1u << 2 | 1u << 3 | 1u << 7);
	slot_of(REQ)->tickets = SGBPF_TAG(REQ, 4u << 16 | 4u);
	expect_retry(0, want, 4, "workers 1, 4, 5, 6 missing");
}
END_TEST

/* Bits left by an older request with the same slot say nothing about this one. */
START_TEST(test_retry_older_seen_bits)
{
	const uint32_t want[] = { 0, 1, 2, 3, 4, 5, 6, 7 };

	retry_open(8);
	slot_of(REQ)->seen[0] = SGBPF_TAG(REQ - NSLOTS, 0xff);
	expect_retry(0, want, 8, "seen bits of an older request");
}
END_TEST

/* A batch past the first seen word: its own words decide. */
START_TEST(test_retry_batch_words)
{
	const uint32_t want[] = { 70, 100, 127 };

	retry_open(RETRY_WORKERS);
	slot_of(REQ)->seen[2] = SGBPF_TAG(REQ, ~(1u << (70 - 64)));
	slot_of(REQ)->seen[3] = SGBPF_TAG(REQ, ~(1u << (100 - 96) | 1u << (127 - 96)));
	expect_retry(64, want, 3, "second batch, three missing");
	/* The last batch, where nobody answered: all 22. */
	{
		uint32_t all[RETRY_WORKERS - 128];

		for (uint32_t i = 0; i < RETRY_WORKERS - 128; i++)
			all[i] = 128 + i;
		expect_retry(128, all, RETRY_WORKERS - 128, "last batch, nobody answered");
	}
}
END_TEST

/* What a re-scatter may find in the slot instead of its active request. */
enum retry_stale {
	RS_COMPLETE,		/* completed in the kernel */
	RS_MERGING,		/* completing right now */
	RS_EXPIRED,		/* fenced by user space */
	RS_REUSED,		/* the slot was opened by a newer request */
	RS_NEVER_OPENED,	/* no trigger of the request opened the slot */
	RS_ALL_ANSWERED,	/* active, but every worker of the batch answered */
};

static const char *const retry_stale_desc[] = {
	[RS_COMPLETE] = "request complete",
	[RS_MERGING] = "request merging",
	[RS_EXPIRED] = "request expired",
	[RS_REUSED] = "slot reopened by a newer request",
	[RS_NEVER_OPENED] = "slot never opened",
	[RS_ALL_ANSWERED] = "every worker answered",
};

/* A re-scatter with nothing to do sends nothing and touches nothing. */
START_TEST(test_retry_sends_nothing)
{
	const char *desc = retry_stale_desc[_i];
	struct sgbpf_slot *s, before;
	stats_t s0, delta = { 0 };
	struct pkt in, out;
	int got;

	retry_open(8);
	s = slot_of(REQ);
	switch (_i) {
	case RS_COMPLETE:
		s->state = SGBPF_TAG(REQ, SGBPF_SLOT_COMPLETE);
		break;
	case RS_MERGING:
		s->state = SGBPF_TAG(REQ, SGBPF_SLOT_MERGING);
		break;
	case RS_EXPIRED:
		s->state = SGBPF_TAG(REQ, SGBPF_SLOT_EXPIRED);
		break;
	case RS_REUSED:
		s->scatter = SGBPF_TAG(REQ + NSLOTS, SGBPF_SCATTER_OPENED);
		s->state = SGBPF_TAG(REQ + NSLOTS, SGBPF_SLOT_ACTIVE);
		s->tickets = SGBPF_TAG(REQ + NSLOTS, 0);
		break;
	case RS_NEVER_OPENED:
		slot_leftover(REQ);
		s->scatter = SGBPF_TAG(REQ, 0);
		break;
	case RS_ALL_ANSWERED:
		s->seen[0] = SGBPF_TAG(REQ, 0xff);
		break;
	}
	before = *s;
	stats_read(s0);
	ck_assert_msg(retry_trigger(REQ, 0, &in, &out) == TC_ACT_SHOT, "%s: verdict", desc);
	got = capture(retry_frames, SGBPF_SCATTER_BATCH + 1, 0);
	ck_assert_msg(got == 0, "%s: %d copies went out", desc, got);
	ck_assert_msg(memcmp(&before, s, sizeof(before)) == 0, "%s: the slot was modified", desc);
	delta[SGBPF_STAT_RETRY_IDLE] = 1;
	stats_expect(s0, delta, desc);
}
END_TEST

/* ---- all-gathers ------------------------------------------------------ */

/* An all-gather trigger of req to worker first: the result as its body. */
static int allgather_trigger(uint32_t req, uint32_t first, struct pkt *in, struct pkt *out)
{
	const struct pkt_flow f = {
		.saddr = COORD_IP, .daddr = worker_addr(first),
		.sport = SVC_PORT, .dport = worker_port(first),
	};
	struct __sk_buff ctx_out;
	uint8_t msg[128], body[12] = { 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0 };
	int len = pkt_scatter_msg(msg, sizeof(msg), req, body, sizeof(body));

	msg[offsetof(struct sgbpf_hdr, msg_type)] = SGBPF_MSG_ALLGATHER;
	ck_assert_int_eq(pkt_udp(in, &f, msg, len, PKT_IP_DF), 0);
	return tc_run(in, out, SGBPF_SCATTER_PRIORITY, &ctx_out);
}

/*
 * The all-gather of a complete request reaches every worker of its batch,
 * the message unchanged (type 2, the result as body), and opens nothing.
 */
START_TEST(test_allgather_complete)
{
	struct sgbpf_slot before;
	stats_t s0, delta = { 0 };
	struct pkt in, out;
	int got;

	retry_open(8);
	slot_of(REQ)->state = SGBPF_TAG(REQ, SGBPF_SLOT_COMPLETE);
	before = *slot_of(REQ);
	stats_read(s0);
	ck_assert_int_eq(allgather_trigger(REQ, 0, &in, &out), TC_ACT_OK);
	check_copy(&in, &out, 7, "all-gather");
	got = capture(retry_frames, SGBPF_SCATTER_BATCH + 1, 7);
	ck_assert_int_eq(got, 7);
	for (int k = 0; k < got; k++)
		check_copy(&in, &retry_frames[k], k, "all-gather");
	ck_assert_msg(memcmp(&before, slot_of(REQ), sizeof(before)) == 0,
		      "the all-gather changed the slot");
	delta[SGBPF_STAT_CLONES] = 8;
	delta[SGBPF_STAT_ALLGATHER_COPIES] = 8;
	stats_expect(s0, delta, "all-gather");
}
END_TEST

/* Only a complete request is all-gathered: anything else is dropped untouched. */
START_TEST(test_allgather_not_complete)
{
	static const char *const desc[] = { "active", "expired", "reused", "never opened" };
	struct sgbpf_slot *s, before;
	stats_t s0, delta = { 0 };
	struct pkt in, out;

	retry_open(8);
	s = slot_of(REQ);
	switch (_i) {
	case 0:
		break;
	case 1:
		s->state = SGBPF_TAG(REQ, SGBPF_SLOT_EXPIRED);
		break;
	case 2:
		s->scatter = SGBPF_TAG(REQ + NSLOTS, SGBPF_SCATTER_OPENED);
		s->state = SGBPF_TAG(REQ + NSLOTS, SGBPF_SLOT_COMPLETE);
		break;
	case 3:
		slot_leftover(REQ);
		s->scatter = SGBPF_TAG(REQ, 0);
		s->state = SGBPF_TAG(REQ, SGBPF_SLOT_COMPLETE);
		break;
	}
	before = *s;
	stats_read(s0);
	ck_assert_msg(allgather_trigger(REQ, 0, &in, &out) == TC_ACT_SHOT, "%s: verdict", desc[_i]);
	ck_assert_msg(capture(retry_frames, SGBPF_SCATTER_BATCH + 1, 0) == 0, "%s: copies sent",
		      desc[_i]);
	ck_assert_msg(memcmp(&before, s, sizeof(before)) == 0, "%s: slot modified", desc[_i]);
	delta[SGBPF_STAT_SCATTER_ERRORS] = 1;
	stats_expect(s0, delta, desc[_i]);
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
	tcase_add_test(tc, test_scatter_ranges);
	tcase_add_test(tc, test_clone_failures_skipped);
	tcase_add_test(tc, test_retry_only_stragglers);
	tcase_add_test(tc, test_retry_older_seen_bits);
	tcase_add_test(tc, test_retry_batch_words);
	tcase_add_loop_test(tc, test_retry_sends_nothing, 0, ARRAY_SIZE(retry_stale_desc));
	tcase_add_test(tc, test_allgather_complete);
	tcase_add_loop_test(tc, test_allgather_not_complete, 0, 4);
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
	int failed, skip = netns_check_privileges();

	if (!skip)
		skip = check_bpf();
	if (skip)
		return skip;
	netns_reap_stale();
	failed = suite_run(scatter_suite());
	netns_reap_stale();
	return failed;
}
