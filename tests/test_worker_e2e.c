// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The reference worker end to end: start '$SGBPF_CLI worker' on free ports
 * of 127.0.0.1, talk to it with hand-built datagrams, stop it with SIGTERM.
 *
 * The worker is always killed when a test fails: it dies with the test
 * process (PR_SET_PDEATHSIG), and an exit handler kills it too.
 */
#define _GNU_SOURCE	/* pipe2 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <liburing.h>

#include <sgbpf/sgbpf.h>

#include "reply_gen.h"
#include "suite_run.h"

#define NPORTS		4
#define READY_MS	5000
#define STOP_MS		5000
#define RECV_MS		2000
#define ERR_MAX		4096

struct worker_proc {
	pid_t pid;
	int err_fd;		/* the worker's stderr */
	uint16_t base;		/* first of NPORTS listened ports */
	char err[ERR_MAX];	/* what it printed */
	size_t err_len;
};

static pid_t live_worker = -1;

static void kill_live_worker(void)
{
	if (live_worker > 0) {
		kill(live_worker, SIGKILL);
		waitpid(live_worker, NULL, 0);
		live_worker = -1;
	}
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * A base port with NPORTS free consecutive UDP ports on 127.0.0.1, below the
 * ephemeral range so that no client socket grabs one before the worker binds.
 */
static uint16_t find_free_range(void)
{
	int attempt;

	for (attempt = 0; attempt < 200; attempt++) {
		uint16_t base = (uint16_t)(20000 + (rand() % 1200) * 10);
		int fds[NPORTS], i, ok = 1;

		for (i = 0; i < NPORTS; i++) {
			struct sockaddr_in sin = {
				.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				.sin_port = htons((uint16_t)(base + i)),
			};

			fds[i] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			ck_assert_int_ge(fds[i], 0);
			if (bind(fds[i], (struct sockaddr *)&sin, sizeof(sin))) {
				ok = 0;
				close(fds[i]);
				break;
			}
		}
		while (--i >= 0)
			close(fds[i]);
		if (ok)
			return base;
	}
	ck_abort_msg("no %d free consecutive UDP ports on 127.0.0.1", NPORTS);
	return 0;
}

static void read_err(struct worker_proc *w, int timeout_ms)
{
	struct pollfd pf = { w->err_fd, POLLIN, 0 };
	ssize_t got;

	if (w->err_fd < 0 || poll(&pf, 1, timeout_ms) <= 0)
		return;
	got = read(w->err_fd, w->err + w->err_len, ERR_MAX - 1 - w->err_len);
	if (got <= 0) {
		close(w->err_fd);
		w->err_fd = -1;
		return;
	}
	w->err_len += (size_t)got;
	w->err[w->err_len] = '\0';
}

/* Starts the worker on 127.0.0.1:base..base+NPORTS-1; false if it did not get ready. */
static bool try_start(struct worker_proc *w, const char *const *extra)
{
	const char *cli = getenv("SGBPF_CLI");
	char listen[64], port1[16], *argv[32];
	long deadline;
	int pipefd[2], n = 0, i;

	ck_assert_msg(cli && *cli, "SGBPF_CLI is not set");
	memset(w, 0, sizeof(*w));
	w->base = find_free_range();
	snprintf(listen, sizeof(listen), "127.0.0.1:%u-%u", w->base, w->base + NPORTS - 1);
	argv[n++] = (char *)cli;
	argv[n++] = "worker";
	argv[n++] = "--listen";
	argv[n++] = listen;
	/* "@PORT1" in extra stands for the second listened port, known only now. */
	snprintf(port1, sizeof(port1), "%u", w->base + 1);
	for (i = 0; extra && extra[i] && n < 30; i++)
		argv[n++] = strcmp(extra[i], "@PORT1") ? (char *)extra[i] : port1;
	argv[n] = NULL;

	ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
	w->pid = fork();
	ck_assert_int_ge(w->pid, 0);
	if (w->pid == 0) {
		/* Die with the test, whatever path the test takes. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(pipefd[1], STDERR_FILENO);
		execv(cli, argv);
		_exit(127);
	}
	live_worker = w->pid;
	close(pipefd[1]);
	w->err_fd = pipefd[0];

	deadline = now_ms() + READY_MS;
	while (now_ms() < deadline && w->err_fd >= 0) {
		if (strstr(w->err, "worker: listening on 4 ports\n"))
			return true;
		read_err(w, 100);
	}
	kill_live_worker();
	if (w->err_fd >= 0)
		close(w->err_fd);
	return false;
}

static void start_worker(struct worker_proc *w, const char *const *extra)
{
	int attempt;

	/* Another process may take a port between our probe and the worker's bind. */
	for (attempt = 0; attempt < 5; attempt++) {
		if (try_start(w, extra))
			return;
		if (!strstr(w->err, "Address already in use"))
			break;
	}
	ck_abort_msg("worker did not get ready; stderr: %s", w->err);
}

/* SIGTERM, then the exit status; the rest of stderr lands in w->err. */
static int stop_worker(struct worker_proc *w)
{
	long deadline = now_ms() + STOP_MS;
	int st = 0;
	pid_t got = 0;

	ck_assert_int_eq(kill(w->pid, SIGTERM), 0);
	while (now_ms() < deadline) {
		read_err(w, 50);
		got = waitpid(w->pid, &st, WNOHANG);
		if (got == w->pid)
			break;
	}
	ck_assert_msg(got == w->pid, "worker ignored SIGTERM for %d ms", STOP_MS);
	live_worker = -1;
	while (w->err_fd >= 0)
		read_err(w, 200);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int client_socket(void)
{
	struct timeval tv = { .tv_sec = RECV_MS / 1000, .tv_usec = (RECV_MS % 1000) * 1000 };
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	return fd;
}

static void send_raw(int fd, uint16_t port, const void *buf, size_t len)
{
	struct sockaddr_in to = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
		.sin_port = htons(port),
	};

	ck_assert_int_eq(sendto(fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to)), (ssize_t)len);
}

/* A scatter message built by hand: 18 header bytes, little-endian, padded to 1472. */
static void send_scatter(int fd, uint16_t port, uint32_t req_id)
{
	uint8_t msg[1472] = { 0 };

	msg[0] = (uint8_t)req_id;
	msg[1] = (uint8_t)(req_id >> 8);
	msg[2] = (uint8_t)(req_id >> 16);
	msg[3] = (uint8_t)(req_id >> 24);
	msg[8] = 1;		/* num_pks */
	msg[12] = 4;		/* body_len: one u32 */
	msg[16] = 0;		/* msg_type: scatter */
	msg[18] = 0x2a;		/* the body, which the worker ignores */
	send_raw(fd, port, msg, sizeof(msg));
}

struct reply {
	uint16_t from_port;
	size_t len;
	uint32_t req_id, seq_num, num_pks, body_len;
	uint8_t msg_type, flags;
	uint8_t raw[2048];
};

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Receives one datagram; false on timeout. */
static bool recv_reply(int fd, struct reply *r)
{
	struct sockaddr_in from;
	socklen_t flen = sizeof(from);
	ssize_t n;

	n = recvfrom(fd, r->raw, sizeof(r->raw), 0, (struct sockaddr *)&from, &flen);
	if (n < 0)
		return false;
	r->len = (size_t)n;
	r->from_port = ntohs(from.sin_port);
	if (r->len >= 18) {
		r->req_id = get_le32(r->raw);
		r->seq_num = get_le32(r->raw + 4);
		r->num_pks = get_le32(r->raw + 8);
		r->body_len = get_le32(r->raw + 12);
		r->msg_type = r->raw[16];
		r->flags = r->raw[17];
	}
	return true;
}

/* Nothing more arrives within ms. */
static void assert_quiet(int fd, int ms)
{
	struct pollfd pf = { fd, POLLIN, 0 };

	ck_assert_msg(poll(&pf, 1, ms) == 0, "unexpected extra datagram");
}

/* A padded vector reply to req_id, checked element by element. */
static void assert_vector_reply(const struct reply *r, uint32_t req_id, uint32_t seq,
				uint32_t num_pks)
{
	uint32_t i;

	ck_assert_uint_eq(r->len, 1472);
	ck_assert_uint_eq(r->req_id, req_id);
	ck_assert_uint_eq(r->seq_num, seq);
	ck_assert_uint_eq(r->num_pks, num_pks);
	ck_assert_uint_eq(r->body_len, 363 * 4);
	ck_assert_uint_eq(r->msg_type, 1);
	ck_assert_uint_eq(r->flags, 0);
	for (i = 0; i < 363; i++)
		ck_assert_uint_eq(get_le32(r->raw + 18 + 4 * i), seq * 363 + i);
	ck_assert_uint_eq(r->raw[1470], 0);
	ck_assert_uint_eq(r->raw[1471], 0);
}

START_TEST(test_vector_replies)
{
	uint8_t bad_len[18] = { 0 };
	struct worker_proc w;
	struct reply r;
	bool seen[NPORTS] = { false };
	int fd, i;

	start_worker(&w, NULL);
	fd = client_socket();

	for (i = 0; i < NPORTS; i++)
		send_scatter(fd, (uint16_t)(w.base + i), 1000 + (uint32_t)i);
	for (i = 0; i < NPORTS; i++) {
		int port_idx;

		ck_assert_msg(recv_reply(fd, &r), "reply %d of %d missing", i + 1, NPORTS);
		port_idx = r.from_port - w.base;
		ck_assert_int_ge(port_idx, 0);
		ck_assert_int_lt(port_idx, NPORTS);
		ck_assert(!seen[port_idx]);
		seen[port_idx] = true;
		/* Each port echoes the req_id it was sent. */
		assert_vector_reply(&r, 1000 + (uint32_t)port_idx, 0, 1);
	}
	assert_quiet(fd, 100);

	/* Malformed datagrams are ignored: a 2-byte one, and a body_len past the end. */
	send_raw(fd, w.base, "hi", 2);
	bad_len[12] = 1;
	send_raw(fd, w.base, bad_len, sizeof(bad_len));
	assert_quiet(fd, 100);
	ck_assert_int_eq(waitpid(w.pid, NULL, WNOHANG), 0);

	/* And the worker still answers, on the same port. */
	send_scatter(fd, w.base, 2000);
	ck_assert(recv_reply(fd, &r));
	ck_assert_uint_eq(r.from_port, w.base);
	assert_vector_reply(&r, 2000, 0, 1);

	ck_assert_int_eq(stop_worker(&w), 0);
	ck_assert_msg(strstr(w.err, "worker: 4 ports, 5 requests, 5 replies, 2 malformed\n"),
		      "summary missing: %s", w.err);
	close(fd);
}
END_TEST

START_TEST(test_packets)
{
	static const char *const extra[] = { "--packets", "3", NULL };
	struct worker_proc w;
	struct reply r;
	unsigned int seen = 0;
	int fd, i;

	start_worker(&w, extra);
	fd = client_socket();
	send_scatter(fd, (uint16_t)(w.base + 2), 77);
	for (i = 0; i < 3; i++) {
		ck_assert_msg(recv_reply(fd, &r), "packet %d of 3 missing", i + 1);
		ck_assert_uint_eq(r.from_port, w.base + 2);
		ck_assert_uint_lt(r.seq_num, 3);
		ck_assert(!(seen & (1u << r.seq_num)));
		seen |= 1u << r.seq_num;
		assert_vector_reply(&r, 77, r.seq_num, 3);
	}
	ck_assert_uint_eq(seen, 0x7);
	assert_quiet(fd, 100);
	ck_assert_int_eq(stop_worker(&w), 0);
	ck_assert_ptr_nonnull(strstr(w.err, "worker: 4 ports, 1 requests, 1 replies, 0 malformed"));
	close(fd);
}
END_TEST

START_TEST(test_duplicate)
{
	static const char *const extra[] = { "--duplicate", NULL };
	struct worker_proc w;
	struct reply r;
	int fd, i;

	start_worker(&w, extra);
	fd = client_socket();
	send_scatter(fd, w.base, 5);
	for (i = 0; i < 2; i++) {
		ck_assert_msg(recv_reply(fd, &r), "copy %d of 2 missing", i + 1);
		assert_vector_reply(&r, 5, 0, 1);
	}
	assert_quiet(fd, 100);
	ck_assert_int_eq(stop_worker(&w), 0);
	close(fd);
}
END_TEST

/*
 * --ignore-first: each port drops the first copy of every request id it
 * receives and answers every later one, as a straggler that only a
 * re-scatter gets an answer from.  Ports and ids are independent.
 */
START_TEST(test_ignore_first)
{
	static const char *const extra[] = { "--ignore-first", NULL };
	struct worker_proc w;
	struct reply r;
	int fd;

	start_worker(&w, extra);
	fd = client_socket();
	send_scatter(fd, w.base, 5);
	assert_quiet(fd, 100);
	send_scatter(fd, w.base, 5);
	ck_assert_msg(recv_reply(fd, &r), "no answer to the second copy");
	assert_vector_reply(&r, 5, 0, 1);
	ck_assert_uint_eq(r.from_port, w.base);
	/* Another port has not had request 5 yet; another id is new at the first. */
	send_scatter(fd, (uint16_t)(w.base + 1), 5);
	send_scatter(fd, w.base, 6);
	assert_quiet(fd, 100);
	/* Every copy after the first is answered. */
	send_scatter(fd, w.base, 5);
	ck_assert_msg(recv_reply(fd, &r), "no answer to the third copy");
	assert_vector_reply(&r, 5, 0, 1);
	send_scatter(fd, (uint16_t)(w.base + 1), 5);
	ck_assert_msg(recv_reply(fd, &r), "no answer on the second port");
	assert_vector_reply(&r, 5, 0, 1);
	ck_assert_uint_eq(r.from_port, w.base + 1);
	assert_quiet(fd, 100);
	ck_assert_int_eq(stop_worker(&w), 0);
	ck_assert_msg(strstr(w.err, ", 3 ignored"), "summary: %s", w.err);
	close(fd);
}
END_TEST

/* An all-gather message (type 2) for req_id with a body of n u32. */
static void send_allgather(int fd, uint16_t port, uint32_t req_id, uint32_t n)
{
	uint8_t msg[18 + 64] = { 0 };

	memcpy(msg, &req_id, 4);	/* the test runs little-endian, like the wire */
	msg[8] = 1;
	msg[12] = (uint8_t)(4 * n);
	msg[16] = 2;
	send_raw(fd, port, msg, 18 + 4 * n);
}

/*
 * --expect-allgather: all-gathers of requests the worker answered are
 * counted, never answered; one for an id it never saw is counted apart.
 * Without it an all-gather is malformed, as before.
 */
START_TEST(test_expect_allgather)
{
	static const char *const extra[] = { "--expect-allgather", NULL };
	struct worker_proc w;
	struct reply r;
	int fd;

	start_worker(&w, extra);
	fd = client_socket();
	send_scatter(fd, w.base, 7);
	ck_assert(recv_reply(fd, &r));
	send_allgather(fd, w.base, 7, 3);
	send_allgather(fd, w.base, 7, 0);
	send_allgather(fd, w.base, 8, 3);
	assert_quiet(fd, 100);
	ck_assert_int_eq(stop_worker(&w), 0);
	ck_assert_msg(strstr(w.err, " 0 malformed, 2 all-gathers, 1 for unknown requests"),
		      "summary: %s", w.err);
	close(fd);

	start_worker(&w, NULL);
	fd = client_socket();
	send_allgather(fd, w.base, 7, 3);
	assert_quiet(fd, 100);
	ck_assert_int_eq(stop_worker(&w), 0);
	ck_assert_msg(strstr(w.err, " 1 malformed"), "summary: %s", w.err);
	close(fd);
}
END_TEST

START_TEST(test_scalar_unpadded)
{
	static const char *const extra[] = { "--reply", "scalar", "--no-pad", NULL };
	struct worker_proc w;
	struct reply r;
	int fd;

	start_worker(&w, extra);
	fd = client_socket();
	send_scatter(fd, (uint16_t)(w.base + 1), 9);
	ck_assert(recv_reply(fd, &r));
	ck_assert_uint_eq(r.len, 18 + 4);
	ck_assert_uint_eq(r.req_id, 9);
	ck_assert_uint_eq(r.num_pks, 1);
	ck_assert_uint_eq(r.body_len, 4);
	ck_assert_uint_eq(r.msg_type, 1);
	ck_assert_uint_eq(get_le32(r.raw + 18), 1);
	ck_assert_int_eq(stop_worker(&w), 0);
	close(fd);
}
END_TEST

START_TEST(test_random_matches_reply_gen)
{
	static const char *const extra[] = { "--reply", "random:12345", NULL };
	struct reply_gen g = { .kind = REPLY_RANDOM, .seed = 12345 };
	struct worker_proc w;
	struct reply r;
	uint32_t i;
	int fd;

	start_worker(&w, extra);
	fd = client_socket();
	send_scatter(fd, (uint16_t)(w.base + 3), 0xabcdef);
	ck_assert(recv_reply(fd, &r));
	ck_assert_uint_eq(r.req_id, 0xabcdef);
	ck_assert_uint_eq(r.body_len, 363 * 4);
	for (i = 0; i < 363; i++)
		ck_assert_uint_eq(get_le32(r.raw + 18 + 4 * i),
				  reply_gen_elem(&g, (uint16_t)(w.base + 3), 0xabcdef, 0, i));
	ck_assert_int_eq(stop_worker(&w), 0);
	close(fd);
}
END_TEST

START_TEST(test_count_limit)
{
	static const char *const extra[] = { "--count-limit", "2", NULL };
	struct worker_proc w;
	struct reply r;
	long deadline;
	int fd, st = 0;
	pid_t got = 0;

	start_worker(&w, extra);
	fd = client_socket();
	send_scatter(fd, w.base, 1);
	send_scatter(fd, (uint16_t)(w.base + 1), 1);
	ck_assert(recv_reply(fd, &r));
	ck_assert(recv_reply(fd, &r));

	/* It leaves by itself after the second reply, with exit code 0. */
	deadline = now_ms() + STOP_MS;
	while (now_ms() < deadline && got != w.pid) {
		read_err(&w, 50);
		got = waitpid(w.pid, &st, WNOHANG);
	}
	ck_assert_msg(got == w.pid, "worker still running after --count-limit 2");
	live_worker = -1;
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
	while (w.err_fd >= 0)
		read_err(&w, 200);
	ck_assert_ptr_nonnull(strstr(w.err, "worker: 4 ports, 1 requests, 2 replies, 0 malformed"));
	close(fd);
}
END_TEST

START_TEST(test_misbehaviour)
{
	static const char *const extra[] = { "--junk", "--stray", "--silent-port", "@PORT1", NULL };
	struct worker_proc w;
	struct reply r;
	int fd, i, replies = 0, strays = 0, junk = 0;
	uint16_t stray_port = 0;

	start_worker(&w, extra);
	fd = client_socket();

	send_scatter(fd, w.base, 31);
	for (i = 0; i < 3; i++) {
		ck_assert_msg(recv_reply(fd, &r), "datagram %d of 3 missing", i + 1);
		if (r.len == 5) {
			ck_assert_uint_eq(r.from_port, w.base);
			junk++;
			continue;
		}
		assert_vector_reply(&r, 31, 0, 1);
		if (r.from_port == w.base) {
			replies++;
		} else {
			/* The stray copy comes from a port outside the listened range. */
			ck_assert(r.from_port < w.base || r.from_port >= w.base + NPORTS);
			stray_port = r.from_port;
			strays++;
		}
	}
	ck_assert_int_eq(replies, 1);
	ck_assert_int_eq(strays, 1);
	ck_assert_int_eq(junk, 1);
	ck_assert_uint_ne(stray_port, 0);
	assert_quiet(fd, 100);

	/* The silent port takes the request and says nothing. */
	send_scatter(fd, (uint16_t)(w.base + 1), 32);
	assert_quiet(fd, 300);

	ck_assert_int_eq(stop_worker(&w), 0);
	ck_assert_msg(strstr(w.err, "worker: 4 ports, 2 requests, 1 replies, 0 malformed\n"),
		      "summary: %s", w.err);
	close(fd);
}
END_TEST

START_TEST(test_delay)
{
	static const char *const extra[] = { "--delay-us", "200000", NULL };
	struct worker_proc w;
	struct reply r;
	long start, took;
	int fd, i;

	start_worker(&w, extra);
	fd = client_socket();
	start = now_ms();
	for (i = 0; i < NPORTS; i++)
		send_scatter(fd, (uint16_t)(w.base + i), 40);
	/* All four wait 200 ms, side by side rather than one after another. */
	for (i = 0; i < NPORTS; i++) {
		ck_assert_msg(recv_reply(fd, &r), "reply %d missing", i + 1);
		assert_vector_reply(&r, 40, 0, 1);
	}
	took = now_ms() - start;
	ck_assert_msg(took >= 190, "replies after %ld ms, before the 200 ms delay", took);
	ck_assert_msg(took < 700, "4 delayed replies took %ld ms: delays are serialised", took);
	ck_assert_int_eq(stop_worker(&w), 0);
	close(fd);
}
END_TEST

static void teardown(void)
{
	kill_live_worker();
}

int main(void)
{
	Suite *s = suite_create("worker_e2e");
	TCase *tc = tcase_create("udp");

	/* The worker is built on io_uring; a kernel with it disabled skips. */
	{
		struct io_uring ring;
		int err = io_uring_queue_init(8, &ring, 0);

		if (err) {
			fprintf(stderr, "io_uring unavailable (%s): skipping\n", strerror(-err));
			return 77;
		}
		io_uring_queue_exit(&ring);
	}
	srand((unsigned int)(getpid() ^ time(NULL)));
	atexit(kill_live_worker);
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_vector_replies);
	tcase_add_test(tc, test_packets);
	tcase_add_test(tc, test_duplicate);
	tcase_add_test(tc, test_ignore_first);
	tcase_add_test(tc, test_expect_allgather);
	tcase_add_test(tc, test_scalar_unpadded);
	tcase_add_test(tc, test_random_matches_reply_gen);
	tcase_add_test(tc, test_count_limit);
	tcase_add_test(tc, test_misbehaviour);
	tcase_add_test(tc, test_delay);
	suite_add_tcase(s, tc);

	return suite_run(s);
}
