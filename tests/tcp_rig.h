/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Worker connections over the lo of a test namespace, for the TCP tests. */
#ifndef SGBPF_TESTS_TCP_RIG_H
#define SGBPF_TESTS_TCP_RIG_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* accept4 */
#endif
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sgbpf/protocol.h>

#define RIG_LO htonl(INADDR_LOOPBACK)

/* A client socket bound to 127.0.0.1:sport, connected to 127.0.0.1:dport; -errno on failure. */
static inline int rig_connect(uint16_t sport, uint16_t dport)
{
	struct sockaddr_in src = { .sin_family = AF_INET, .sin_addr.s_addr = RIG_LO,
				   .sin_port = htons(sport) };
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_addr.s_addr = RIG_LO,
				   .sin_port = htons(dport) };
	int one = 1, fd, err;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) ||
	    connect(fd, (struct sockaddr *)&dst, sizeof(dst))) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* accept() with a timeout; -ETIMEDOUT when nothing is pending. */
static inline int rig_accept(int lfd, int timeout_ms)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	int fd;

	if (poll(&p, 1, timeout_ms) != 1)
		return -ETIMEDOUT;
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Closes with a reset, so that the source port can be bound again at once. */
static inline void rig_close_rst(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);
	}
}

static inline int rig_send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= n;
	}
	return 0;
}

/* Reads exactly len bytes from fd within a second; 0 or -errno. */
static inline int rig_read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pf, 1, 1000) != 1)
			return -ETIMEDOUT;
		n = recv(fd, p, len, 0);
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The request a rig worker reads: its id. */
static inline uint32_t rig_request(int fd)
{
	uint8_t m[SGBPF_HDR_LEN + 2];
	struct sgbpf_hdr h;

	ck_assert_int_eq(rig_read_full(fd, m, sizeof(m)), 0);
	memcpy(&h, m, sizeof(h));
	ck_assert_uint_eq(h.msg_type, SGBPF_MSG_SCATTER);
	ck_assert_uint_eq(h.body_len, 2);
	return h.req_id;
}

#endif
