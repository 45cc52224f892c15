// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The stream program's completion notes (bpf-tcp/stream_notify.bpf.h)
 * against crafted byte streams over real TCP connections on the lo of a
 * namespace the test creates, read from the control socket by a parser of
 * the test's own: which skb becomes a note, what it says, and what is left
 * to the scan.  Cuts are made exact by waiting until the program has seen
 * every byte sent so far, so that the next part is a new skb.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <sgbpf/protocol.h>
#include "netns_util.h"
#include "suite_run.h"
#include "tcp/stream.h"
#include "tcp_rig.h"

#define SVC_PORT 7000
#define SRC_PORT 21500

static struct netns ns;
static int lfd = -1, wfd = -1, cfd = -1, ctl[2] = { -1, -1 };
static struct sgbpf_tcp_stream *st;

static void setup(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = RIG_LO,
				   .sin_port = htons(SVC_PORT) };
	struct sgbpf_tcp_stream_opts o = { .sz = sizeof(o), .reduce = SGBPF_REDUCE_SUM_U32,
					   .slots = 32, .max_reply = 4096, .ctrl_notes = true };

	ck_assert_int_eq(netns_create(&ns, "tcpnotes"), 0);
	ck_assert_int_eq(netns_enter(&ns, NULL), 0);
	ck_assert_int_eq(netns_link_up(&ns, "lo"), 0);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(lfd, 8), 0);
	ck_assert_int_eq(sgbpf_tcp_stream_create(&o, &st), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, ctl), 0);
	ck_assert_int_eq(sgbpf_tcp_stream_set_ctrl(st, ctl[0]), 0);
	wfd = rig_connect(SRC_PORT, SVC_PORT);
	ck_assert_int_ge(wfd, 0);
	cfd = rig_accept(lfd, 2000);
	ck_assert_int_ge(cfd, 0);
	ck_assert_int_eq(sgbpf_tcp_stream_add(st, cfd, 0), 0);
}

static void teardown(void)
{
	/* Every socket out of the map before it closes. */
	sgbpf_tcp_stream_destroy(st);
	st = NULL;
	rig_close_rst(wfd);
	rig_close_rst(cfd);
	for (int i = 0; i < 2; i++)
		if (ctl[i] >= 0)
			close(ctl[i]);
	ctl[0] = ctl[1] = wfd = cfd = -1;
	if (lfd >= 0)
		close(lfd);
	lfd = -1;
	netns_delete(&ns);
}

static uint32_t val(uint32_t req, uint32_t i)
{
	return req * 977u + i * 2654435761u;
}

static size_t msg(uint8_t *buf, uint32_t req, uint32_t body_len)
{
	struct sgbpf_hdr h = { .req_id = req, .body_len = body_len, .msg_type = SGBPF_MSG_GATHER };

	memcpy(buf, &h, sizeof(h));
	for (uint32_t i = 0; i < body_len / 4; i++) {
		uint32_t v = val(req, i);

		memcpy(buf + SGBPF_HDR_LEN + 4 * i, &v, 4);
	}
	return SGBPF_HDR_LEN + body_len;
}

static uint64_t seen(void)
{
	struct sgbpf_tcp_conn c;

	ck_assert_int_eq(sgbpf_tcp_stream_conn(st, cfd, &c), 0);
	return c.bytes_seen;
}

/* Sends buf in parts ending at cuts[], each one skb. */
static void send_cut(const uint8_t *buf, size_t len, const size_t *cuts, int ncuts)
{
	uint64_t base = seen();
	size_t from = 0;

	for (int k = 0; k <= ncuts; k++) {
		size_t to = k < ncuts ? cuts[k] : len;

		if (to <= from)
			continue;
		ck_assert_int_eq(rig_send_all(wfd, buf + from, to - from), 0);
		for (int t = 0; t < 4000 && seen() < base + to; t++)
			usleep(500);
		ck_assert_uint_ge(seen(), base + to);
		from = to;
	}
}

static uint64_t stat(int k)
{
	uint64_t s[__SGBPF_TCP_STREAM_STATS];

	ck_assert_int_eq(sgbpf_tcp_stream_stats(st, s), 0);
	return s[k];
}

/* What the control socket held: notes in order, each its length and ids. */
struct note_seen {
	uint32_t n;
	uint32_t len[8];
	uint32_t nreq[8];
	uint32_t ids[8][SGBPF_TCP_NOTE_IDS];
};

/* Reads every note that arrives within 100 ms of the last one. */
static void read_notes(struct note_seen *out)
{
	static uint8_t buf[1 << 17];
	struct pollfd p = { .fd = ctl[0], .events = POLLIN };
	size_t have = 0, off = 0;
	ssize_t r;

	memset(out, 0, sizeof(*out));
	while (poll(&p, 1, 100) == 1) {
		r = recv(ctl[0], buf + have, sizeof(buf) - have, MSG_DONTWAIT);
		ck_assert_int_gt(r, 0);
		have += (size_t)r;
	}
	while (off < have) {
		struct sgbpf_tcp_note h;

		ck_assert_uint_ge(have - off, sizeof(h));
		memcpy(&h, buf + off, sizeof(h));
		ck_assert_uint_eq(h.magic, SGBPF_TCP_NOTE_MAGIC);
		ck_assert_uint_le(h.nreq, SGBPF_TCP_NOTE_IDS);
		ck_assert_uint_ge(h.len, sizeof(h) + 4 * h.nreq);
		ck_assert_uint_le(h.len, have - off);
		ck_assert_uint_lt(out->n, 8);
		out->len[out->n] = h.len;
		out->nreq[out->n] = h.nreq;
		memcpy(out->ids[out->n], buf + off + sizeof(h), 4 * h.nreq);
		out->n++;
		off += h.len;
	}
}

static void check_result(uint32_t req, uint32_t body_len)
{
	uint32_t n = 0, resp = 0;
	const uint32_t *r = sgbpf_tcp_stream_result(st, req, &n, &resp);

	ck_assert_msg(r, "request %u not complete", req);
	ck_assert_uint_eq(resp, 1);
	ck_assert_uint_eq(n, body_len / 4);
	for (uint32_t i = 0; i < n; i++)
		ck_assert_uint_eq(r[i], val(req, i));
}

/* One reply in one skb: one note, as long as that skb, naming the request. */
START_TEST(test_note_is_the_skb)
{
	uint8_t buf[SGBPF_HDR_LEN + 100];
	size_t len = msg(buf, 3, 100);
	struct note_seen ns_;

	ck_assert_int_eq(sgbpf_tcp_stream_open(st, 3, 1), 0);
	send_cut(buf, len, NULL, 0);
	read_notes(&ns_);
	ck_assert_uint_eq(ns_.n, 1);
	ck_assert_uint_eq(ns_.len[0], len);
	ck_assert_uint_eq(ns_.nreq[0], 1);
	ck_assert_uint_eq(ns_.ids[0][0], 3);
	check_result(3, 100);
	ck_assert_uint_eq(stat(SGBPF_TCP_S_NOTES), 1);
	ck_assert_uint_eq(stat(SGBPF_TCP_S_UNNOTED), 0);
}
END_TEST

/*
 * The skb that completes request 1 also holds the head of request 2's
 * header: that header's parse goes on in the next skb, and request 2 gets a
 * note of its own, exact.
 */
START_TEST(test_note_keeps_the_next_reply)
{
	static uint8_t buf[2 * (SGBPF_HDR_LEN + 256)];
	size_t len = msg(buf, 1, 256), cut = len + 5;
	struct note_seen ns_;

	len += msg(buf + len, 2, 256);
	ck_assert_int_eq(sgbpf_tcp_stream_open(st, 1, 1), 0);
	ck_assert_int_eq(sgbpf_tcp_stream_open(st, 2, 1), 0);
	send_cut(buf, len, &cut, 1);
	read_notes(&ns_);
	ck_assert_uint_eq(ns_.n, 2);
	ck_assert_uint_eq(ns_.len[0], cut);
	ck_assert_uint_eq(ns_.ids[0][0], 1);
	ck_assert_uint_eq(ns_.len[1], len - cut);
	ck_assert_uint_eq(ns_.ids[1][0], 2);
	check_result(1, 256);
	check_result(2, 256);
}
END_TEST

/* Ten completions in one skb: the note names eight, two are left to the scan. */
START_TEST(test_note_holds_eight)
{
	static uint8_t buf[10 * (SGBPF_HDR_LEN + 16)];
	struct note_seen ns_;
	size_t len = 0;

	for (uint32_t req = 1; req <= 10; req++) {
		ck_assert_int_eq(sgbpf_tcp_stream_open(st, req, 1), 0);
		len += msg(buf + len, req, 16);
	}
	send_cut(buf, len, NULL, 0);
	read_notes(&ns_);
	ck_assert_uint_eq(ns_.n, 1);
	ck_assert_uint_eq(ns_.nreq[0], SGBPF_TCP_NOTE_IDS);
	for (uint32_t k = 0; k < SGBPF_TCP_NOTE_IDS; k++)
		ck_assert_uint_eq(ns_.ids[0][k], k + 1);
	for (uint32_t req = 1; req <= 10; req++)
		check_result(req, 16);
	ck_assert_uint_eq(stat(SGBPF_TCP_S_UNNOTED), 10 - SGBPF_TCP_NOTE_IDS);
}
END_TEST

/* The last 3 bytes of a reply alone in an skb: too short for a note; dropped, counted. */
START_TEST(test_short_skb_unnoted)
{
	uint8_t buf[SGBPF_HDR_LEN + 64];
	size_t len = msg(buf, 5, 64), cut = len - 3;
	struct note_seen ns_;

	ck_assert_int_eq(sgbpf_tcp_stream_open(st, 5, 1), 0);
	send_cut(buf, len, &cut, 1);
	read_notes(&ns_);
	ck_assert_uint_eq(ns_.n, 0);
	check_result(5, 64);
	ck_assert_uint_eq(stat(SGBPF_TCP_S_UNNOTED), 1);
	ck_assert_uint_eq(stat(SGBPF_TCP_S_NOTES), 0);
}
END_TEST

/* Notes with fate pass are refused by the driver: the skb's bytes are the application's. */
START_TEST(test_notes_not_with_pass)
{
	struct sgbpf_tcp_stream_opts o = { .sz = sizeof(o), .reduce = SGBPF_REDUCE_SUM_U32,
					   .slots = 32, .max_reply = 4096, .ctrl_notes = true,
					   .fate_pass = true };
	struct sgbpf_tcp_stream *other = NULL;

	ck_assert_int_eq(sgbpf_tcp_stream_create(&o, &other), -EINVAL);
	ck_assert_ptr_null(other);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tcp_notes");
	TCase *tc = tcase_create("crafted");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_note_is_the_skb);
	tcase_add_test(tc, test_note_keeps_the_next_reply);
	tcase_add_test(tc, test_note_holds_eight);
	tcase_add_test(tc, test_short_skb_unnoted);
	tcase_add_test(tc, test_notes_not_with_pass);
	suite_add_tcase(s, tc);
	return suite_run(s);
}
