// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * SK_LOOKUP steering (bpf-tcp/steer.bpf.c) over lo in a namespace the test
 * creates: listed sources land on their own listener, unlisted ones are
 * refused and counted, a reconnect lands on its listener again, and two
 * services' programs chain on one namespace, each passing on the other's.
 */
#define _GNU_SOURCE
#include <check.h>
#include <fcntl.h>
#include <stdio.h>

#include <bpf/bpf.h>
#include "netns_suite.h"
#include "netns_util.h"
#include "tcp/steer.h"
#include "tcp_rig.h"
#include "sgbpf_test_foreign_lookup.skel.h"

#define NW 4

static struct netns ns;

static void setup(void)
{
	ck_assert_int_eq(netns_create(&ns, "tcpsteer"), 0);
	ck_assert_int_eq(netns_enter(&ns, NULL), 0);
	ck_assert_int_eq(netns_link_up(&ns, "lo"), 0);
}

static void teardown(void)
{
	netns_delete(&ns);
}

static struct sgbpf_tcp_steer *steer(uint16_t port, uint16_t first_src)
{
	struct sgbpf_endpoint svc = { .addr = RIG_LO, .port = port }, w[NW];
	struct sgbpf_tcp_steer *st = NULL;

	for (int i = 0; i < NW; i++)
		w[i] = (struct sgbpf_endpoint){ .addr = RIG_LO, .port = first_src + i };
	ck_assert_int_eq(sgbpf_tcp_steer_create(&svc, w, NW, &st), 0);
	return st;
}

static uint64_t stat(struct sgbpf_tcp_steer *st, int k)
{
	uint64_t s[__SGBPF_TCP_STEER_STATS];

	ck_assert_int_eq(sgbpf_tcp_steer_stats(st, s), 0);
	return s[k];
}

/* Connects worker i and checks it is accepted by listener i and no other. */
static int land(struct sgbpf_tcp_steer *st, int i, uint16_t port, uint16_t src)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int c = rig_connect(src, port), s;

	ck_assert_int_ge(c, 0);
	for (int j = 0; j < NW; j++) {
		if (j == i)
			continue;
		ck_assert_int_eq(rig_accept(sgbpf_tcp_steer_listener(st, j), 0), -ETIMEDOUT);
	}
	s = rig_accept(sgbpf_tcp_steer_listener(st, i), 1000);
	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(getpeername(s, (struct sockaddr *)&a, &al), 0);
	ck_assert_uint_eq(ntohs(a.sin_port), src);
	/* Measured: the accepted socket carries the service's address, not its listener's. */
	ck_assert_int_eq(getsockname(s, (struct sockaddr *)&a, &al), 0);
	ck_assert_uint_eq(ntohs(a.sin_port), port);
	rig_close_rst(s);
	return c;
}

START_TEST(test_listed_land_on_own_listener)
{
	struct sgbpf_tcp_steer *st = steer(7000, 22000);
	int c[NW];

	for (int i = NW - 1; i >= 0; i--)
		c[i] = land(st, i, 7000, 22000 + i);
	ck_assert_uint_eq(stat(st, SGBPF_TCP_STEERED), NW);
	for (int i = 0; i < NW; i++)
		rig_close_rst(c[i]);
	sgbpf_tcp_steer_destroy(st);
}
END_TEST

START_TEST(test_unlisted_refused)
{
	struct sgbpf_tcp_steer *st = steer(7000, 22000);

	ck_assert_int_eq(rig_connect(22999, 7000), -ECONNREFUSED);
	ck_assert_uint_eq(stat(st, SGBPF_TCP_REFUSED), 1);
	ck_assert_uint_eq(stat(st, SGBPF_TCP_STEERED), 0);
	sgbpf_tcp_steer_destroy(st);
}
END_TEST

START_TEST(test_reconnect_lands_again)
{
	struct sgbpf_tcp_steer *st = steer(7000, 22000);

	for (int k = 0; k < 3; k++)
		rig_close_rst(land(st, 2, 7000, 22002));
	ck_assert_uint_eq(stat(st, SGBPF_TCP_STEERED), 3);
	sgbpf_tcp_steer_destroy(st);
}
END_TEST

static int lookup_progs(void)
{
	int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	__u32 ids[8], cnt = 8;
	int err;

	ck_assert_int_ge(fd, 0);
	err = bpf_prog_query(fd, BPF_SK_LOOKUP, 0, NULL, ids, &cnt);
	close(fd);
	ck_assert_int_eq(err, 0);
	return cnt;
}

START_TEST(test_two_services_chain)
{
	struct sgbpf_tcp_steer *a = steer(7000, 22000), *b = steer(7001, 23000);

	ck_assert_int_eq(lookup_progs(), 2);
	/* Each program passes on the other's SYNs: both steer, neither refuses. */
	rig_close_rst(land(a, 1, 7000, 22001));
	rig_close_rst(land(b, 3, 7001, 23003));
	ck_assert_uint_eq(stat(a, SGBPF_TCP_REFUSED), 0);
	ck_assert_uint_eq(stat(b, SGBPF_TCP_REFUSED), 0);
	/* A's worker is a stranger to B. */
	ck_assert_int_eq(rig_connect(22001, 7001), -ECONNREFUSED);
	ck_assert_uint_eq(stat(b, SGBPF_TCP_REFUSED), 1);
	sgbpf_tcp_steer_destroy(a);
	ck_assert_int_eq(lookup_progs(), 1);
	rig_close_rst(land(b, 0, 7001, 23000));
	sgbpf_tcp_steer_destroy(b);
	ck_assert_int_eq(lookup_progs(), 0);
}
END_TEST

/* A listener of the foreign program's on 127.0.0.1:<kernel's port>, in its map. */
static int foreign_up(struct sgbpf_test_foreign_lookup **fl, struct bpf_link **link)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = RIG_LO };
	int ns_fd, lfd;
	__u32 zero = 0;
	__u64 v;

	*fl = sgbpf_test_foreign_lookup__open_and_load();
	ck_assert_ptr_nonnull(*fl);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(lfd, 16), 0);
	v = lfd;
	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd((*fl)->maps.foreign_socks), &zero, &v,
					     BPF_ANY), 0);
	ns_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(ns_fd, 0);
	*link = bpf_program__attach_netns((*fl)->progs.foreign_lookup, ns_fd);
	close(ns_fd);
	ck_assert_ptr_nonnull(*link);
	return lfd;
}

/* Both work: port 8000 to the foreign listener, ours steered, strangers refused. */
static void both_work(struct sgbpf_tcp_steer *st, int foreign_lfd)
{
	int c = rig_connect(24000, 8000), s;

	ck_assert_int_ge(c, 0);
	s = rig_accept(foreign_lfd, 1000);
	ck_assert_int_ge(s, 0);
	rig_close_rst(s);
	rig_close_rst(c);
	rig_close_rst(land(st, 1, 7000, 22001));
	ck_assert_int_eq(rig_connect(22999, 7000), -ECONNREFUSED);
}

START_TEST(test_foreign_program)
{
	struct sgbpf_test_foreign_lookup *fl;
	struct sgbpf_tcp_steer *st;
	struct bpf_link *link;
	int lfd, ns_fd, c;

	/* Foreign first, ours after it in the chain; then ours first. */
	lfd = foreign_up(&fl, &link);
	st = steer(7000, 22000);
	both_work(st, lfd);
	sgbpf_tcp_steer_destroy(st);
	bpf_link__destroy(link);
	st = steer(7000, 22000);
	ns_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(ns_fd, 0);
	link = bpf_program__attach_netns(fl->progs.foreign_lookup, ns_fd);
	close(ns_fd);
	ck_assert_ptr_nonnull(link);
	both_work(st, lfd);
	ck_assert_uint_eq(stat(st, SGBPF_TCP_REFUSED), 1);
	sgbpf_tcp_steer_destroy(st);
	/* Ours gone, the foreign one goes on. */
	ck_assert_int_eq(lookup_progs(), 1);
	c = rig_connect(24001, 8000);
	ck_assert_int_ge(c, 0);
	rig_close_rst(c);
	bpf_link__destroy(link);
	close(lfd);
	sgbpf_test_foreign_lookup__destroy(fl);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tcp_steer");
	TCase *tc = tcase_create("steer");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_listed_land_on_own_listener);
	tcase_add_test(tc, test_unlisted_refused);
	tcase_add_test(tc, test_reconnect_lands_again);
	tcase_add_test(tc, test_two_services_chain);
	tcase_add_test(tc, test_foreign_program);
	suite_add_tcase(s, tc);
	return netns_suite_run(s);
}
