// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The TCP stream program (bpf-tcp/stream.bpf.c) against crafted byte
 * streams over real TCP connections on the lo of a namespace the test
 * creates.  Cuts are made exact by waiting, after each part, until the
 * program has seen every byte sent so far: the next part is then a new skb.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <time.h>

#include <sgbpf/protocol.h>
#include "netns_suite.h"
#include "netns_util.h"
#include "tcp/stream.h"
#include "tcp_rig.h"

#define SVC_PORT 7000
#define SRC_PORT 21000
#define MAXW 64

static struct netns ns;
static int lfd = -1;
static struct sgbpf_tcp_stream *st;
static int wfd[MAXW], cfd[MAXW];
static int nw;

static void setup(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = RIG_LO,
				   .sin_port = htons(SVC_PORT) };

	ck_assert_int_eq(netns_create(&ns, "tcpstream"), 0);
	ck_assert_int_eq(netns_enter(&ns, NULL), 0);
	ck_assert_int_eq(netns_link_up(&ns, "lo"), 0);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(lfd, 128), 0);
}

static void teardown(void)
{
	/* Out of the map before close, as the driver requires. */
	sgbpf_tcp_stream_destroy(st);
	st = NULL;
	for (int i = 0; i < nw; i++) {
		rig_close_rst(wfd[i]);
		rig_close_rst(cfd[i]);
	}
	nw = 0;
	if (lfd >= 0)
		close(lfd);
	lfd = -1;
	netns_delete(&ns);
}

/* A stream service made with o and n worker connections in its sockmap. */
static void rig_up_opts(int n, const struct sgbpf_tcp_stream_opts *o)
{
	ck_assert_int_eq(sgbpf_tcp_stream_create(o, &st), 0);
	for (int i = 0; i < n; i++) {
		wfd[i] = rig_connect(SRC_PORT + i, SVC_PORT);
		ck_assert_int_ge(wfd[i], 0);
		cfd[i] = rig_accept(lfd, 2000);
		ck_assert_int_ge(cfd[i], 0);
		nw = i + 1;
		ck_assert_int_eq(sgbpf_tcp_stream_add(st, cfd[i], i), 0);
	}
}

static void rig_up(int n, enum sgbpf_reduce r, uint32_t max_reply, uint32_t slots, bool pass)
{
	struct sgbpf_tcp_stream_opts o = { .sz = sizeof(o), .reduce = r, .slots = slots,
					   .max_reply = max_reply, .fate_pass = pass };

	rig_up_opts(n, &o);
}

static uint32_t val(uint32_t w, uint32_t req, uint32_t i)
{
	return w * 7919u + req * 31u + i * 2654435761u;
}

/* Writes one message into buf; returns its length. */
static size_t msg(uint8_t *buf, uint32_t req, uint32_t body_len, uint8_t type, uint32_t w)
{
	struct sgbpf_hdr h = { .req_id = req, .body_len = body_len, .msg_type = type };

	memcpy(buf, &h, sizeof(h));
	for (uint32_t i = 0; i < body_len / 4; i++) {
		uint32_t v = val(w, req, i);

		memcpy(buf + SGBPF_HDR_LEN + 4 * i, &v, 4);
	}
	memset(buf + SGBPF_HDR_LEN + body_len / 4 * 4, 0xab, body_len % 4);
	return SGBPF_HDR_LEN + body_len;
}

static struct sgbpf_tcp_conn conn_of(int i)
{
	struct sgbpf_tcp_conn c;

	ck_assert_int_eq(sgbpf_tcp_stream_conn(st, cfd[i], &c), 0);
	return c;
}

/* Waits until the program has seen n bytes of worker i's connection. */
static void wait_seen(int i, uint64_t n)
{
	for (int t = 0; t < 4000; t++) {
		if (conn_of(i).bytes_seen >= n)
			return;
		usleep(500);
	}
	ck_abort_msg("worker %d: program saw %llu of %llu bytes", i,
		     (unsigned long long)conn_of(i).bytes_seen, (unsigned long long)n);
}

/* Sends buf from worker i in parts ending at cuts[], each a skb of its own. */
static void send_cut(int i, const uint8_t *buf, size_t len, const size_t *cuts, int ncuts)
{
	uint64_t base = conn_of(i).bytes_seen;
	size_t from = 0;

	for (int k = 0; k <= ncuts; k++) {
		size_t to = k < ncuts ? cuts[k] : len;

		if (to <= from)
			continue;
		ck_assert_int_eq(rig_send_all(wfd[i], buf + from, to - from), 0);
		wait_seen(i, base + to);
		from = to;
	}
}

/* Completion events per request id (mod 1024), however many a poll returns. */
static int completed[1024];

struct seen_ev {
	int complete, broken;
	uint32_t last_req;
};

static int on_ev(void *ctx, const struct sgbpf_tcp_event *ev)
{
	struct seen_ev *s = ctx;

	if (ev->type == SGBPF_TCP_EV_COMPLETE) {
		s->complete++;
		completed[ev->req_id & 1023]++;
		s->last_req = ev->req_id;
	} else if (ev->type == SGBPF_TCP_EV_CONN_BROKEN) {
		s->broken++;
	}
	return 0;
}

/* The completed result of req, after its ring buffer event. */
static const uint32_t *wait_result(uint32_t req, uint32_t *nelems, uint32_t *responses)
{
	struct seen_ev ev = {};
	const uint32_t *r;

	for (int t = 0; t < 500; t++) {
		r = sgbpf_tcp_stream_result(st, req, nelems, responses);
		if (r) {
			/* The event is written after the state: it is there now or soon. */
			for (int k = 0; k < 100 && !completed[req & 1023]; k++)
				sgbpf_tcp_stream_poll(st, 10, on_ev, &ev);
			ck_assert_int_eq(completed[req & 1023], 1);
			completed[req & 1023] = 0;
			return r;
		}
		sgbpf_tcp_stream_poll(st, 10, on_ev, &ev);
	}
	ck_abort_msg("request %u did not complete", req);
	return NULL;
}

/* result[i] must be the wrapping sum over workers ws[] of their elements. */
static void check_sum(const uint32_t *r, const uint32_t *nelemsp, uint32_t req, const int *ws, int n,
		      uint32_t body_len)
{
	/* By pointer: the result call sets it, and argument order is unspecified. */
	uint32_t nelems = *nelemsp;

	ck_assert_uint_eq(nelems, body_len / 4);
	for (uint32_t i = 0; i < nelems; i++) {
		uint32_t want = 0;

		for (int k = 0; k < n; k++)
			want += val(ws[k], req, i);
		if (r[i] != want)
			ck_abort_msg("req %u element %u: %u, want %u", req, i, r[i], want);
	}
}

static uint64_t stat(int k)
{
	uint64_t s[__SGBPF_TCP_STREAM_STATS];

	ck_assert_int_eq(sgbpf_tcp_stream_stats(st, s), 0);
	return s[k];
}

START_TEST(test_header_split_every_offset)
{
	uint8_t buf[SGBPF_HDR_LEN + 64];
	int w0 = 0;

	rig_up(1, SGBPF_REDUCE_SUM_U32, 4096, 32, false);
	for (size_t k = 0; k <= SGBPF_HDR_LEN; k++) {
		uint32_t req = 100 + k, n, resp;
		size_t len = msg(buf, req, 64, SGBPF_MSG_GATHER, 0), cut = k;
		uint64_t runs = conn_of(0).runs;
		const uint32_t *r;

		ck_assert_int_eq(sgbpf_tcp_stream_open(st, req, 1), 0);
		send_cut(0, buf, len, &cut, 1);
		r = wait_result(req, &n, &resp);
		ck_assert_uint_eq(resp, 1);
		check_sum(r, &n, req, &w0, 1, 64);
		/* A cut inside the message made two skbs of it. */
		ck_assert_uint_eq(conn_of(0).runs - runs, k == 0 ? 1 : 2);
	}
	ck_assert_uint_eq(conn_of(0).bytes_framed, conn_of(0).bytes_seen);
	ck_assert_uint_eq(stat(SGBPF_TCP_S_COMPLETED), SGBPF_HDR_LEN + 1);
}
END_TEST

START_TEST(test_element_split)
{
	static uint8_t buf[SGBPF_HDR_LEN + 2048];
	/* Inside element 0, inside element 10, across the first chunk's end, two in a row. */
	const size_t cuts[] = { SGBPF_HDR_LEN + 2, SGBPF_HDR_LEN + 43, SGBPF_HDR_LEN + 255,
				SGBPF_HDR_LEN + 257, SGBPF_HDR_LEN + 258, SGBPF_HDR_LEN + 1001 };
	uint32_t n, resp;
	size_t len;
	int w0 = 0;

	rig_up(1, SGBPF_REDUCE_SUM_U32, 4096, 8, false);
	len = msg(buf, 7, 2048, SGBPF_MSG_GATHER, 0);
	ck_assert_int_eq(sgbpf_tcp_stream_open(st, 7, 1), 0);
	send_cut(0, buf, len, cuts, 6);
	check_sum(wait_result(7, &n, &resp), &n, 7, &w0, 1, 2048);
	ck_assert_uint_eq(conn_of(0).runs, 7);
}
END_TEST

START_TEST(test_replies_in_one_segment)
{
	static uint8_t buf[4 * (SGBPF_HDR_LEN + 100)];
	size_t len = 0, cut;
	uint32_t n, resp;
	int w0 = 0;

	rig_up(1, SGBPF_REDUCE_SUM_U32, 4096, 8, false);
	for (uint32_t req = 1; req <= 3; req++) {
		ck_assert_int_eq(sgbpf_tcp_stream_open(st, req, 1), 0);
		len += msg(buf + len, req, 100, SGBPF_MSG_GATHER, 0);
	}
	/* Two whole replies and the head of the third's header in one skb. */
	cut = 2 * (SGBPF_HDR_LEN + 100) + 5;
	send_cut(0, buf, len, &cut, 1);
	for (uint32_t req = 1; req <= 3; req++)
		check_sum(wait_result(req, &n, &resp), &n, req, &w0, 1, 100);
	ck_assert_uint_eq(conn_of(0).runs, 2);
	ck_assert_uint_eq(conn_of(0).messages, 3);
}
END_TEST

START_TEST(test_one_byte_writes)
{
	static uint8_t buf[SGBPF_HDR_LEN + 1024];
	size_t len;
	uint32_t n, resp;
	int w0 = 0;

	rig_up(1, SGBPF_REDUCE_SUM_U32, 4096, 8, false);
	len = msg(buf, 9, 1024, SGBPF_MSG_GATHER, 0);
	ck_assert_int_eq(sgbpf_tcp_stream_open(st, 9, 1), 0);
	for (size_t i = 0; i < len; i++)
		ck_assert_int_eq(rig_send_all(wfd[0], buf + i, 1), 0);
	check_sum(wait_result(9, &n, &resp), &n, 9, &w0, 1, 1024);
	printf("1-byte writes: %zu bytes in %llu skbs\n", len, (unsigned long long)conn_of(0).runs);
}
END_TEST

/* A bad header breaks the connection: counted, event, later bytes dropped unread. */
static void bad_header(uint32_t body_len, uint8_t type)
{
	static uint8_t buf[SGBPF_HDR_LEN + 256];
	struct seen_ev ev = {};
	size_t len;
	char c;

	rig_up(2, SGBPF_REDUCE_SUM_U32, 128, 8, false);
	ck_assert_int_eq(sgbpf_tcp_stream_open(st, 3, 2), 0);
	len = msg(buf, 3, 64, type, 0);
	((struct sgbpf_hdr *)buf)->body_len = body_len;
	ck_assert_int_eq(rig_send_all(wfd[0], buf, len), 0);
	wait_seen(0, len);
	ck_assert(conn_of(0).flags & SGBPF_TCP_CONN_BROKEN);
	ck_assert_uint_eq(stat(SGBPF_TCP_S_PROTO_ERRORS), 1);
	for (int k = 0; k < 100 && !ev.broken; k++)
		sgbpf_tcp_stream_poll(st, 10, on_ev, &ev);
	ck_assert_int_eq(ev.broken, 1);
	/* A valid reply after it is not parsed: the stream cannot be trusted. */
	len = msg(buf, 3, 64, SGBPF_MSG_GATHER, 0);
	ck_assert_int_eq(rig_send_all(wfd[0], buf, len), 0);
	wait_seen(0, 2 * len);
	ck_assert_uint_eq(stat(SGBPF_TCP_S_ADMITTED), 0);
	ck_assert_uint_eq(stat(SGBPF_TCP_S_BROKEN_BYTES), len);
	/* The other worker's connection is unaffected. */
	len = msg(buf, 3, 64, SGBPF_MSG_GATHER, 1);
	ck_assert_int_eq(rig_send_all(wfd[1], buf, len), 0);
	wait_seen(1, len);
	ck_assert_uint_eq(stat(SGBPF_TCP_S_ADMITTED), 1);
	/* Reset: the worker sees its connection reset. */
	ck_assert_int_eq(sgbpf_tcp_stream_reset(st, cfd[0], 0), 0);
	close(cfd[0]);
	cfd[0] = -1;
	ck_assert_int_lt(recv(wfd[0], &c, 1, 0), 0);
	ck_assert_int_eq(errno, ECONNRESET);
}

START_TEST(test_oversized_body_len)
{
	bad_header(129, SGBPF_MSG_GATHER);
}
END_TEST

START_TEST(test_wrong_type)
{
	bad_header(64, SGBPF_MSG_SCATTER);
}
END_TEST

START_TEST(test_expired_then_live)
{
	static uint8_t buf[2 * (SGBPF_HDR_LEN + 512)];
	uint32_t n, resp;
	size_t len;
	int w0 = 0;

	rig_up(1, SGBPF_REDUCE_SUM_U32, 1024, 8, false);
	/* Request 5 expires; 13 reuses its slot; 6 expires and its slot stays. */
	ck_assert_int_eq(sgbpf_tcp_stream_open(st, 5, 1), 0);
	ck_assert_int_eq(sgbpf_tcp_stream_expire(st, 5), 0);
	ck_assert_int_eq(sgbpf_tcp_stream_open(st, 13, 1), 0);
	ck_assert_int_eq(sgbpf_tcp_stream_open(st, 6, 1), 0);
	ck_assert_int_eq(sgbpf_tcp_stream_expire(st, 6), 0);
	len = msg(buf, 5, 512, SGBPF_MSG_GATHER, 0);
	len += msg(buf + len, 6, 512, SGBPF_MSG_GATHER, 0);
	ck_assert_int_eq(rig_send_all(wfd[0], buf, len), 0);
	wait_seen(0, len);
	ck_assert_uint_eq(stat(SGBPF_TCP_S_UNSOLICITED), 1);
	ck_assert_uint_eq(stat(SGBPF_TCP_S_STALE), 1);
	ck_assert_uint_eq(stat(SGBPF_TCP_S_ADMITTED), 0);
	len = msg(buf, 13, 512, SGBPF_MSG_GATHER, 0);
	ck_assert_int_eq(rig_send_all(wfd[0], buf, len), 0);
	check_sum(wait_result(13, &n, &resp), &n, 13, &w0, 1, 512);
	ck_assert_uint_eq(resp, 1);
}
END_TEST

START_TEST(test_duplicate_and_surplus)
{
	static uint8_t a[SGBPF_HDR_LEN + 1024], b[SGBPF_HDR_LEN + 1024];
	int ws[] = { 0, 1 };
	uint32_t n, resp;
	size_t la, lb;

	rig_up(3, SGBPF_REDUCE_SUM_U32, 1024, 8, false);
	/* Needed 2 of 3: worker 0 twice (one counts), worker 1, worker 2 surplus. */
	ck_assert_int_eq(sgbpf_tcp_stream_open(st, 4, 2), 0);
	la = msg(a, 4, 1024, SGBPF_MSG_GATHER, 0);
	send_cut(0, a, la, NULL, 0);
	send_cut(0, a, la, NULL, 0);
	ck_assert_uint_eq(stat(SGBPF_TCP_S_DUPLICATES), 1);
	/* Worker 1 is admitted but stops half-way; worker 2 is then surplus. */
	lb = msg(b, 4, 1024, SGBPF_MSG_GATHER, 1);
	send_cut(1, b, 500, NULL, 0);
	lb = msg(b, 4, 1024, SGBPF_MSG_GATHER, 2);
	send_cut(2, b, lb, NULL, 0);
	ck_assert_uint_eq(stat(SGBPF_TCP_S_SURPLUS), 1);
	lb = msg(b, 4, 1024, SGBPF_MSG_GATHER, 1);
	send_cut(1, b + 500, lb - 500, NULL, 0);
	check_sum(wait_result(4, &n, &resp), &n, 4, ws, 2, 1024);
	ck_assert_uint_eq(resp, 2);
}
END_TEST

/* Every worker sends its reply; half from a second thread, so that folds run on both CPUs. */
struct sender {
	int from, to;
	const uint8_t *bufs[MAXW];
	size_t len;
};

static void *send_range(void *arg)
{
	struct sender *s = arg;

	for (int i = s->from; i < s->to; i++)
		if (rig_send_all(wfd[i], s->bufs[i], s->len))
			return (void *)1;
	return NULL;
}

static void exact_sums(int n, uint32_t body)
{
	struct sender lo = {}, hi = {};
	uint8_t *bufs[MAXW];
	int ws[MAXW];
	pthread_t t;
	void *ret;

	rig_up(n, SGBPF_REDUCE_SUM_U32, body, 2, false);
	for (uint32_t req = 1; req <= 3; req++) {
		uint32_t ne, resp;

		ck_assert_int_eq(sgbpf_tcp_stream_open(st, req, n), 0);
		for (int i = 0; i < n; i++) {
			bufs[i] = malloc(SGBPF_HDR_LEN + body);
			ck_assert_ptr_nonnull(bufs[i]);
			lo.len = msg(bufs[i], req, body, SGBPF_MSG_GATHER, i);
			lo.bufs[i] = hi.bufs[i] = bufs[i];
			ws[i] = i;
		}
		hi.len = lo.len;
		lo.from = 0;
		lo.to = hi.from = n / 2;
		hi.to = n;
		ck_assert_int_eq(pthread_create(&t, NULL, send_range, &hi), 0);
		ck_assert_ptr_null(send_range(&lo));
		pthread_join(t, &ret);
		ck_assert_ptr_null(ret);
		check_sum(wait_result(req, &ne, &resp), &ne, req, ws, n, body);
		ck_assert_uint_eq(resp, n);
		for (int i = 0; i < n; i++)
			free(bufs[i]);
	}
	for (int i = 0; i < n; i++)
		ck_assert_uint_eq(conn_of(i).bytes_framed, conn_of(i).bytes_seen);
	ck_assert_uint_eq(stat(SGBPF_TCP_S_FRAMING_ERRORS), 0);
}

static const uint32_t sizes[] = { 1, 1024, 65536, 1u << 20 };

START_TEST(test_exact_fanout1)
{
	exact_sums(1, sizes[_i]);
}
END_TEST

START_TEST(test_exact_fanout8)
{
	exact_sums(8, sizes[_i]);
}
END_TEST

START_TEST(test_exact_fanout64)
{
	exact_sums(64, sizes[_i]);
}
END_TEST

START_TEST(test_fate_allow)
{
	static uint8_t buf[SGBPF_HDR_LEN + 4096], got[sizeof(buf)];
	uint32_t n, resp;
	size_t len, have = 0;
	int w0 = 0;

	rig_up(1, SGBPF_REDUCE_SUM_U32, 4096, 8, true);
	ck_assert_int_eq(sgbpf_tcp_stream_open(st, 2, 1), 0);
	len = msg(buf, 2, 4096, SGBPF_MSG_GATHER, 0);
	ck_assert_int_eq(rig_send_all(wfd[0], buf, len), 0);
	check_sum(wait_result(2, &n, &resp), &n, 2, &w0, 1, 4096);
	/* SK_PASS: the application reads the reply byte for byte. */
	while (have < len) {
		ssize_t r = recv(cfd[0], got + have, len - have, 0);

		ck_assert_int_gt(r, 0);
		have += r;
	}
	ck_assert_mem_eq(got, buf, len);
}
END_TEST

/* A BPF object of the build tree: the example reduction, or a test's. */
static const char *build_obj(const char *rel)
{
	static char path[4096];
	const char *dir = getenv("SGBPF_BUILD_DIR");

	ck_assert_msg(dir, "SGBPF_BUILD_DIR is not set");
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	return path;
}

static uint32_t add_saturating(uint32_t a, uint32_t b)
{
	return a + b < a ? UINT32_MAX : a + b;
}

/*
 * A custom reduction, written once with SGBPF_ELEMENTWISE_REDUCER
 * (examples/sum_sat_u32), folds over TCP: its NAME_tcp program on the
 * service's maps.  Two workers' sums of these values overflow about half
 * the time, so saturated and plain elements are both checked; one reply
 * comes with its header and an element split across skbs.
 */
START_TEST(test_custom_reduction)
{
	struct sgbpf_tcp_stream_opts o = {
		.sz = sizeof(o), .reduce = SGBPF_REDUCE_CUSTOM, .slots = 8, .max_reply = 4096,
		.reduce_obj = build_obj("bpf-udp/sum_sat_u32.bpf.o"),
	};
	static uint8_t buf[2][SGBPF_HDR_LEN + 4096];
	const size_t cuts[] = { 7, SGBPF_HDR_LEN + 5, SGBPF_HDR_LEN + 1001 };
	uint32_t n, resp, saturated = 0;
	const uint32_t *r;
	size_t len[2];

	rig_up_opts(2, &o);
	ck_assert_uint_eq(sgbpf_tcp_stream_elem_size(st), 4);
	ck_assert_int_eq(sgbpf_tcp_stream_open(st, 5, 2), 0);
	for (int w = 0; w < 2; w++)
		len[w] = msg(buf[w], 5, 4096, SGBPF_MSG_GATHER, w);
	send_cut(0, buf[0], len[0], cuts, 3);
	ck_assert_int_eq(rig_send_all(wfd[1], buf[1], len[1]), 0);
	r = wait_result(5, &n, &resp);
	ck_assert_uint_eq(n, 1024);
	ck_assert_uint_eq(resp, 2);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t want = add_saturating(val(0, 5, i), val(1, 5, i));

		if (r[i] != want)
			ck_abort_msg("element %u: %u, want %u", i, r[i], want);
		saturated += want == UINT32_MAX;
	}
	ck_assert_uint_gt(saturated, 0);
	ck_assert_uint_lt(saturated, n);
	for (int w = 0; w < 2; w++)
		ck_assert_uint_eq(conn_of(w).bytes_framed, conn_of(w).bytes_seen);
}
END_TEST

/* What a custom object must be, each refusal with its errno and nothing left behind. */
START_TEST(test_custom_refused)
{
	struct sgbpf_tcp_stream_opts o = {
		.sz = sizeof(o), .reduce = SGBPF_REDUCE_CUSTOM, .slots = 8, .max_reply = 4096,
		.reduce_obj = build_obj("bpf-udp/sum_sat_u32.bpf.o"),
	};

	o.reduce_prog = "sum_sat_u32";
	ck_assert_int_eq(sgbpf_tcp_stream_create(&o, &st), 0);
	sgbpf_tcp_stream_destroy(st);
	st = NULL;
	o.reduce_prog = "no_such_reduction";
	ck_assert_int_eq(sgbpf_tcp_stream_create(&o, &st), -ENOENT);
	o.reduce_prog = NULL;
	o.reduce_elem_size = 8;
	ck_assert_int_eq(sgbpf_tcp_stream_create(&o, &st), -EINVAL);
	o.reduce_elem_size = 0;
	o.reduce_obj = NULL;
	ck_assert_int_eq(sgbpf_tcp_stream_create(&o, &st), -EINVAL);
	/* UDP programs only, as objects written by hand or for an older sgbpf are. */
	o.reduce_obj = build_obj("tests/no_abi.bpf.o");
	ck_assert_int_eq(sgbpf_tcp_stream_create(&o, &st), -ENOENT);
	o.reduce_obj = build_obj("tests/no_such_object.bpf.o");
	ck_assert_int_eq(sgbpf_tcp_stream_create(&o, &st), -ENOENT);
	ck_assert_ptr_null(st);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tcp_stream");
	TCase *tc = tcase_create("crafted");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_header_split_every_offset);
	tcase_add_test(tc, test_element_split);
	tcase_add_test(tc, test_replies_in_one_segment);
	tcase_add_test(tc, test_one_byte_writes);
	tcase_add_test(tc, test_oversized_body_len);
	tcase_add_test(tc, test_wrong_type);
	tcase_add_test(tc, test_expired_then_live);
	tcase_add_test(tc, test_duplicate_and_surplus);
	tcase_add_test(tc, test_fate_allow);
	tcase_add_test(tc, test_custom_reduction);
	tcase_add_test(tc, test_custom_refused);
	tcase_add_loop_test(tc, test_exact_fanout1, 0, 4);
	tcase_add_loop_test(tc, test_exact_fanout8, 0, 4);
	tcase_add_loop_test(tc, test_exact_fanout64, 0, 4);
	suite_add_tcase(s, tc);
	return netns_suite_run(s);
}
