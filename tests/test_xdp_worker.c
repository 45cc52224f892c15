// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The in-kernel reference worker (sgbpf worker --xdp).
 *
 * BPF_PROG_TEST_RUN on crafted frames: a scatter to a listened port becomes
 * exactly the reply the user-space worker sends (reply_gen.c), addresses
 * and ports swapped, XDP_TX; anything not addressed to a listened port
 * passes untouched; short or malformed messages to a listened port are
 * dropped and counted.  Then end to end in two namespaces joined by veth:
 * `sgbpf gather` against `sgbpf worker --xdp` gives exact sums.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "netns_suite.h"
#include "netns_util.h"
#include "pkt_build.h"
#include "reply_gen.h"
#include "xdp_worker.h"
#include "xdp_worker_bpf.skel.h"

#define PORT_LO 9000
#define PORT_HI 9003

static struct xdp_worker_bpf *skel;
static uint32_t worker_ip, coord_ip;

static void load(uint32_t kind, bool pad)
{
	worker_ip = inet_addr("10.1.0.2");
	coord_ip = inet_addr("10.1.0.1");
	skel = xdp_worker_bpf__open();
	ck_assert_msg(skel, "open: %s", strerror(errno));
	skel->rodata->ranges[0].addr = worker_ip;
	skel->rodata->ranges[0].port_lo = PORT_LO;
	skel->rodata->ranges[0].port_hi = PORT_HI;
	skel->rodata->nranges = 1;
	skel->rodata->reply_kind = kind;
	skel->rodata->pad = pad;
	ck_assert_int_eq(xdp_worker_bpf__load(skel), 0);
}

static void unload(void)
{
	xdp_worker_bpf__destroy(skel);
	skel = NULL;
}

static struct xdp_worker_stats stats(void)
{
	int ncpu = libbpf_num_possible_cpus(), i;
	struct xdp_worker_stats v[ncpu], sum = { 0 };
	uint32_t key = 0;

	ck_assert_int_eq(bpf_map_lookup_elem(bpf_map__fd(skel->maps.stats), &key, v), 0);
	for (i = 0; i < ncpu; i++) {
		sum.scatters += v[i].scatters;
		sum.replies += v[i].replies;
		sum.malformed += v[i].malformed;
		sum.tx_errors += v[i].tx_errors;
		sum.passed += v[i].passed;
	}
	return sum;
}

/* Runs the program on in; returns its verdict, the output frame in *out. */
static int run(const struct pkt *in, struct pkt *out)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in->data, .data_size_in = in->len,
		    .data_out = out->data, .data_size_out = sizeof(out->data), .repeat = 1);

	memset(out, 0, sizeof(*out));
	ck_assert_int_eq(bpf_prog_test_run_opts(bpf_program__fd(skel->progs.xdp_worker), &o), 0);
	out->len = o.data_size_out;
	return (int)o.retval;
}

static void scatter(struct pkt *p, uint32_t daddr, uint16_t dport, uint32_t req_id,
		    uint32_t body_len, uint8_t msg_type)
{
	uint8_t msg[SGBPF_UDP_MSG_LEN], body[SGBPF_UDP_BODY_MAX];
	struct sgbpf_hdr h = { .req_id = req_id, .num_pks = 1, .body_len = body_len,
			       .msg_type = msg_type };
	const struct pkt_flow f = { .saddr = coord_ip, .daddr = daddr, .sport = 7000,
				    .dport = dport };
	int len;

	/* A request body the reply must not echo. */
	memset(body, 0xa5, sizeof(body));
	len = pkt_msg(msg, sizeof(msg), &h, body, body_len, 0);
	ck_assert_int_gt(len, 0);
	ck_assert_int_eq(pkt_udp(p, &f, msg, (uint32_t)len, 0), 0);
}

static const struct {
	uint32_t kind;
	const char *gen;
	bool pad;
} reply_cases[] = {
	{ XDP_WORKER_VECTOR, "vector", true },
	{ XDP_WORKER_SCALAR, "scalar", true },
	{ XDP_WORKER_ZEROS, "zeros", true },
	{ XDP_WORKER_VECTOR, "vector", false },
	{ XDP_WORKER_SCALAR, "scalar", false },
};

START_TEST(test_reply_exact)
{
	struct pkt in, out;
	uint8_t want[SGBPF_UDP_MSG_LEN];
	struct reply_gen g;
	struct ethhdr *ei, *eo;
	struct iphdr *ip;
	struct udphdr *udp;
	uint32_t want_len, plen, body_len;
	uint8_t *payload;

	load(reply_cases[_i].kind, reply_cases[_i].pad);
	ck_assert_int_eq(reply_gen_parse(reply_cases[_i].gen, &g), 0);
	for (body_len = 0; body_len <= 64; body_len += 64) {
		scatter(&in, worker_ip, PORT_LO + 1, 0xabc0 + body_len, body_len, SGBPF_MSG_SCATTER);
		ck_assert_int_eq(run(&in, &out), XDP_TX);

		want_len = reply_gen_fill_msg(&g, PORT_LO + 1, 0xabc0 + body_len, 0, 1,
					      reply_cases[_i].pad, want);
		ck_assert_uint_eq(out.len, sizeof(struct ethhdr) + 28 + want_len);
		ei = (struct ethhdr *)in.data;
		eo = (struct ethhdr *)out.data;
		ck_assert_mem_eq(eo->h_dest, ei->h_source, 6);
		ck_assert_mem_eq(eo->h_source, ei->h_dest, 6);
		ip = pkt_iph(&out);
		udp = pkt_udph(&out);
		ck_assert_ptr_nonnull(ip);
		ck_assert_ptr_nonnull(udp);
		ck_assert(pkt_ip_csum_ok(&out));
		ck_assert_uint_eq(ip->saddr, worker_ip);
		ck_assert_uint_eq(ip->daddr, coord_ip);
		ck_assert_uint_eq(ntohs(ip->tot_len), 28 + want_len);
		ck_assert_uint_eq(ip->protocol, IPPROTO_UDP);
		ck_assert_uint_eq(ntohs(udp->source), PORT_LO + 1);
		ck_assert_uint_eq(ntohs(udp->dest), 7000);
		ck_assert_uint_eq(udp->check, 0);
		payload = pkt_udp_payload(&out, &plen);
		ck_assert_uint_eq(plen, want_len);
		ck_assert_mem_eq(payload, want, want_len);
	}
	ck_assert_uint_eq(stats().replies, 2);
	ck_assert_uint_eq(stats().scatters, 2);
	unload();
}
END_TEST

/* Not addressed to a listened port: XDP_PASS, the frame untouched. */
START_TEST(test_pass_untouched)
{
	struct pkt in[5], out;
	const struct pkt_flow tcp = { .saddr = coord_ip, .daddr = inet_addr("10.1.0.2"),
				      .sport = 7000, .dport = PORT_LO };
	unsigned int i;

	load(XDP_WORKER_VECTOR, true);
	scatter(&in[0], worker_ip, PORT_HI + 1, 1, 0, SGBPF_MSG_SCATTER);	/* other port */
	scatter(&in[1], inet_addr("10.1.0.3"), PORT_LO, 2, 0, SGBPF_MSG_SCATTER); /* other address */
	scatter(&in[2], worker_ip, PORT_LO - 1, 3, 0, SGBPF_MSG_SCATTER);
	ck_assert_int_eq(pkt_tcp(&in[3], &tcp, "sgbpf-request-000", 18), 0);
	ck_assert_int_eq(pkt_arp(&in[4], coord_ip, worker_ip), 0);
	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(run(&in[i], &out), XDP_PASS);
		ck_assert_uint_eq(out.len, in[i].len);
		ck_assert_mem_eq(out.data, in[i].data, in[i].len);
	}
	ck_assert_uint_eq(stats().passed, 5);
	ck_assert_uint_eq(stats().replies, 0);
	unload();
}
END_TEST

/* To a listened port but not a scatter: dropped and counted. */
START_TEST(test_malformed_dropped)
{
	const struct pkt_flow f = { .saddr = coord_ip, .daddr = inet_addr("10.1.0.2"),
				    .sport = 7000, .dport = PORT_LO };
	struct sgbpf_hdr h = { .req_id = 9, .num_pks = 1, .body_len = 100,
			       .msg_type = SGBPF_MSG_SCATTER };
	uint8_t msg[64] = { 0 };
	struct pkt in, out;
	int len;

	load(XDP_WORKER_VECTOR, true);
	/* A header cut short. */
	ck_assert_int_eq(pkt_udp(&in, &f, msg, 10, 0), 0);
	ck_assert_int_eq(run(&in, &out), XDP_DROP);
	/* A gather reply, not a scatter. */
	scatter(&in, worker_ip, PORT_LO, 4, 0, SGBPF_MSG_GATHER);
	ck_assert_int_eq(run(&in, &out), XDP_DROP);
	/* body_len beyond the datagram. */
	len = pkt_msg(msg, sizeof(msg), &h, NULL, 20, 0);
	ck_assert_int_eq(pkt_udp(&in, &f, msg, (uint32_t)len, 0), 0);
	ck_assert_int_eq(run(&in, &out), XDP_DROP);
	/* A UDP length beyond the frame. */
	scatter(&in, worker_ip, PORT_LO, 5, 0, SGBPF_MSG_SCATTER);
	pkt_udph(&in)->len = htons(ntohs(pkt_udph(&in)->len) + 100);
	ck_assert_int_eq(run(&in, &out), XDP_DROP);
	ck_assert_uint_eq(stats().malformed, 4);
	ck_assert_uint_eq(stats().replies, 0);
	ck_assert_uint_eq(stats().scatters, 0);
	unload();
}
END_TEST

/* ---- end to end ------------------------------------------------------- */

#define E2E_PORTS 8
#define E2E_REQUESTS 50

static pid_t spawn(const struct netns *ns, char *const argv[], int out_fd, int err_fd)
{
	pid_t pid = netns_fork(ns);

	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (out_fd >= 0)
			dup2(out_fd, 1);
		if (err_fd >= 0)
			dup2(err_fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static bool wait_for_line(int fd, const char *line, int ms)
{
	char buf[1024];
	ssize_t n;
	size_t len = 0;

	for (; ms > 0; ms -= 20) {
		n = pread(fd, buf + len, sizeof(buf) - 1 - len, (off_t)len);
		if (n > 0)
			len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, line))
			return true;
		usleep(20000);
	}
	return false;
}

START_TEST(test_gather_exact_sums)
{
	const char *cli = getenv("SGBPF_CLI");
	char listen[64], wfile[] = "/tmp/sgbpf-xdpw-XXXXXX", werr[] = "/tmp/sgbpf-xdpw-err-XXXXXX";
	char gout[] = "/tmp/sgbpf-xdpw-out-XXXXXX", message[1447], count[16], summary[512];
	struct netns_pair p;
	pid_t worker, gather;
	int wfd, efd, ofd, status, i, complete = 0;
	FILE *f;
	char *line = NULL;
	size_t cap = 0;

	ck_assert_msg(cli && *cli, "SGBPF_CLI is not set");
	ck_assert_int_eq(netns_pair_create(&p, "xdpw", 7), 0);
	wfd = mkstemp(wfile);
	efd = mkstemp(werr);
	ofd = mkstemp(gout);
	ck_assert(wfd >= 0 && efd >= 0 && ofd >= 0);
	for (i = 0; i < E2E_PORTS; i++)
		dprintf(wfd, "%s:%d\n", p.b_addr, PORT_LO + i);
	close(wfd);

	snprintf(listen, sizeof(listen), "%s:%d-%d", p.b_addr, PORT_LO, PORT_LO + E2E_PORTS - 1);
	{
		char *argv[] = { (char *)cli, "worker", "--xdp", "--dev", p.b_if, "--listen", listen,
				 NULL };

		worker = spawn(&p.b, argv, -1, efd);
	}
	ck_assert_int_gt(worker, 0);
	ck_assert_msg(wait_for_line(efd, "worker: listening on 8 ports", 5000),
		      "the XDP worker did not come up");

	/*
	 * veth copies a received skb that lacks XDP headroom (or is a clone, as
	 * every scatter is) into a page-pool buffer sized to it, so a small
	 * request leaves no room to grow into a 1514-byte reply (measured: the
	 * grow fails below ~1300 bytes, and for clones even at 1400).  A
	 * 1446-byte body makes the scatter datagram 1472 bytes, the reply's size.
	 */
	memset(message, 'm', 1446);
	message[1446] = '\0';
	snprintf(count, sizeof(count), "%d", E2E_REQUESTS);
	{
		char *argv[] = { (char *)cli, "gather", "--workers", wfile, "--dev", p.a_if,
				 "--count", count, "--inflight", "4", "--json", "--message", message,
				 NULL };

		gather = spawn(&p.a, argv, ofd, -1);
	}
	ck_assert_int_gt(gather, 0);
	ck_assert_int_eq(waitpid(gather, &status, 0), gather);
	kill(worker, SIGTERM);
	waitpid(worker, NULL, 0);

	f = fdopen(ofd, "r");
	ck_assert_ptr_nonnull(f);
	rewind(f);
	while (getline(&line, &cap, f) > 0) {
		char *r;
		unsigned long v;

		if (!strstr(line, "\"request\""))
			continue;
		if (!strstr(line, "\"status\": \"complete\""))
			continue;
		ck_assert_msg(strstr(line, "\"responses\": 8"), "%s", line);
		/* Element i of the sum over 8 vector workers is 8 * i. */
		r = strstr(line, "\"result\": [");
		ck_assert_ptr_nonnull(r);
		r += strlen("\"result\": [");
		for (i = 0; i < (int)SGBPF_UDP_BODY_U32; i++) {
			v = strtoul(r, &r, 10);
			ck_assert_msg(v == 8ul * (unsigned long)i, "element %d is %lu", i, v);
			while (*r == ',' || *r == ' ')
				r++;
		}
		complete++;
	}
	free(line);
	fclose(f);
	memset(summary, 0, sizeof(summary));
	if (pread(efd, summary, sizeof(summary) - 1, 0) > 0)
		fprintf(stderr, "%s", summary);
	ck_assert_int_eq(complete, E2E_REQUESTS);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* The summary counts every reply it sent. */
	memset(summary, 0, sizeof(summary));
	ck_assert_int_gt(pread(efd, summary, sizeof(summary) - 1, 0), 0);
	ck_assert_msg(strstr(summary, "400 replies"), "%s", summary);
	close(efd);
	unlink(wfile);
	unlink(werr);
	unlink(gout);
	netns_pair_delete(&p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("xdp_worker");
	TCase *tc = tcase_create("prog_test_run");
	TCase *e2e = tcase_create("netns");

	tcase_add_loop_test(tc, test_reply_exact, 0, sizeof(reply_cases) / sizeof(reply_cases[0]));
	tcase_add_test(tc, test_pass_untouched);
	tcase_add_test(tc, test_malformed_dropped);
	tcase_add_test(e2e, test_gather_exact_sums);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, e2e);
	return netns_suite_run(s);
}
