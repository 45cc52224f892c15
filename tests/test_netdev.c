// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Interface lookup, link state and the clsact qdisc, in namespaces of our own. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <check.h>
#include <linux/pkt_sched.h>
#include <netlink/netlink.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/tc.h>

#include <sgbpf/sgbpf.h>

#include "netdev.h"
#include "netns_suite.h"
#include "netns_util.h"

static struct netns ns;
static struct netns_pair pair;
static int saved_ns = -1;

static void ns_setup(void)
{
	ck_assert_int_eq(netns_create(&ns, "netdev"), 0);
	ck_assert_int_eq(netns_enter(&ns, &saved_ns), 0);
}

static void ns_teardown(void)
{
	if (saved_ns >= 0)
		netns_restore(saved_ns);
	saved_ns = -1;
	netns_delete(&ns);
}

static void pair_setup(void)
{
	ck_assert_int_eq(netns_pair_create(&pair, "netdev", 1), 0);
	ck_assert_int_eq(netns_enter(&pair.a, &saved_ns), 0);
}

static void pair_teardown(void)
{
	if (saved_ns >= 0)
		netns_restore(saved_ns);
	saved_ns = -1;
	netns_pair_delete(&pair);
}

/*
 * The kind of the qdisc in the ingress/clsact slot of ifindex, read with a
 * plain qdisc dump, independent of the code under test; "" when none.
 */
static void slot_kind(int ifindex, char *kind, size_t len)
{
	struct nl_cache *cache = NULL;
	struct rtnl_qdisc *q;
	struct nl_sock *sk = nl_socket_alloc();

	ck_assert_ptr_nonnull(sk);
	ck_assert_int_eq(nl_connect(sk, NETLINK_ROUTE), 0);
	ck_assert_int_eq(rtnl_qdisc_alloc_cache(sk, &cache), 0);
	kind[0] = '\0';
	q = rtnl_qdisc_get_by_parent(cache, ifindex, TC_H_CLSACT);
	if (q) {
		snprintf(kind, len, "%s", rtnl_tc_get_kind(TC_CAST(q)));
		rtnl_qdisc_put(q);
	}
	nl_cache_free(cache);
	nl_socket_free(sk);
}

START_TEST(lo_starts_down_and_comes_up)
{
	struct sgbpf_netdev dev;

	ck_assert_int_eq(sgbpf_netdev_open("lo", &dev), 0);
	ck_assert_str_eq(dev.name, "lo");
	ck_assert_int_gt(dev.ifindex, 0);
	ck_assert(dev.loopback);
	ck_assert(!dev.up);
	ck_assert_uint_gt(dev.mtu, 0);
	ck_assert_str_eq(dev.driver, "");

	ck_assert_int_eq(sgbpf_netdev_set_up(dev.ifindex), 0);
	ck_assert_int_eq(sgbpf_netdev_open("lo", &dev), 0);
	ck_assert(dev.up);
	/* Already up: nothing to do, still success. */
	ck_assert_int_eq(sgbpf_netdev_set_up(dev.ifindex), 0);
	ck_assert_int_eq(sgbpf_netdev_open("lo", &dev), 0);
	ck_assert(dev.up);
}
END_TEST

START_TEST(missing_interface_is_enodev)
{
	struct sgbpf_netdev dev;

	ck_assert_int_eq(sgbpf_netdev_open("sgnope0", &dev), -ENODEV);
	ck_assert_ptr_nonnull(strstr(sgbpf_last_error(), "sgnope0"));
	ck_assert_int_eq(sgbpf_netdev_open("", &dev), -EINVAL);
	ck_assert_int_eq(sgbpf_netdev_open("a-name-far-too-long-for-linux", &dev), -EINVAL);
	ck_assert_int_eq(sgbpf_netdev_open(NULL, &dev), -EINVAL);
	ck_assert_int_eq(sgbpf_netdev_set_up(4242), -ENODEV);
	ck_assert_ptr_nonnull(strstr(sgbpf_last_error(), "4242"));
}
END_TEST

START_TEST(clsact_ensure_twice_then_remove)
{
	struct sgbpf_netdev dev;
	bool created = false;
	char kind[32];

	ck_assert_int_eq(sgbpf_netdev_open("lo", &dev), 0);
	slot_kind(dev.ifindex, kind, sizeof(kind));
	ck_assert_str_eq(kind, "");

	ck_assert_int_eq(sgbpf_netdev_clsact_ensure(dev.ifindex, &created), 0);
	ck_assert(created);
	slot_kind(dev.ifindex, kind, sizeof(kind));
	ck_assert_str_eq(kind, "clsact");

	ck_assert_int_eq(sgbpf_netdev_clsact_ensure(dev.ifindex, &created), 0);
	ck_assert(!created);
	ck_assert_int_eq(sgbpf_netdev_clsact_filters(dev.ifindex), 0);

	ck_assert_int_eq(sgbpf_netdev_clsact_remove(dev.ifindex), 0);
	slot_kind(dev.ifindex, kind, sizeof(kind));
	ck_assert_str_eq(kind, "");
	ck_assert_int_eq(sgbpf_netdev_clsact_remove(dev.ifindex), -ENOENT);
	ck_assert_int_eq(sgbpf_netdev_clsact_filters(dev.ifindex), 0);
}
END_TEST

START_TEST(clsact_refuses_foreign_ingress_qdisc)
{
	struct rtnl_qdisc *q = rtnl_qdisc_alloc();
	struct nl_sock *sk = nl_socket_alloc();
	struct sgbpf_netdev dev;
	bool created = true;
	char kind[32];

	ck_assert_int_eq(sgbpf_netdev_open("lo", &dev), 0);
	/* Somebody else's "ingress" qdisc holds the slot clsact would use. */
	ck_assert_ptr_nonnull(q);
	ck_assert_ptr_nonnull(sk);
	ck_assert_int_eq(nl_connect(sk, NETLINK_ROUTE), 0);
	rtnl_tc_set_ifindex(TC_CAST(q), dev.ifindex);
	rtnl_tc_set_parent(TC_CAST(q), TC_H_INGRESS);
	rtnl_tc_set_handle(TC_CAST(q), TC_H_MAKE(TC_H_INGRESS, 0));
	ck_assert_int_eq(rtnl_tc_set_kind(TC_CAST(q), "ingress"), 0);
	ck_assert_int_eq(rtnl_qdisc_add(sk, q, NLM_F_CREATE | NLM_F_EXCL), 0);

	ck_assert_int_eq(sgbpf_netdev_clsact_ensure(dev.ifindex, &created), -EBUSY);
	ck_assert(!created);
	ck_assert_ptr_nonnull(strstr(sgbpf_last_error(), "ingress"));
	/* Not ours: remove must not delete it either. */
	ck_assert_int_eq(sgbpf_netdev_clsact_remove(dev.ifindex), -ENOENT);
	slot_kind(dev.ifindex, kind, sizeof(kind));
	ck_assert_str_eq(kind, "ingress");

	rtnl_qdisc_put(q);
	nl_socket_free(sk);
}
END_TEST

START_TEST(veth_reports_driver_and_mtu)
{
	struct sgbpf_netdev dev;

	ck_assert_int_eq(sgbpf_netdev_open(pair.a_if, &dev), 0);
	ck_assert_int_eq(dev.ifindex, pair.a_ifindex);
	ck_assert_str_eq(dev.name, pair.a_if);
	ck_assert_str_eq(dev.driver, "veth");
	ck_assert_uint_eq(dev.mtu, 1500);
	ck_assert(dev.up);
	ck_assert(!dev.loopback);
	/* The peer is in the other namespace, invisible from here. */
	ck_assert_int_eq(sgbpf_netdev_open(pair.b_if, &dev), -ENODEV);

	/* clsact on a real device, through the same calls. */
	bool created = false;

	ck_assert_int_eq(sgbpf_netdev_clsact_ensure(pair.a_ifindex, &created), 0);
	ck_assert(created);
	ck_assert_int_eq(sgbpf_netdev_clsact_remove(pair.a_ifindex), 0);
}
END_TEST

/* ---- the namespace helpers themselves, since other tests build on them ---- */

static int udp_socket_in(const struct netns *where)
{
	int saved, fd;

	ck_assert_int_eq(netns_enter(where, &saved), 0);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(netns_restore(saved), 0);
	ck_assert_int_ge(fd, 0);
	return fd;
}

START_TEST(pair_carries_udp)
{
	struct timeval tv = { .tv_sec = 2 };
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(47001) };
	int rx = udp_socket_in(&pair.b), tx = udp_socket_in(&pair.a);
	char buf[16] = "";

	/* A socket stays in the namespace it was created in. */
	to.sin_addr.s_addr = pair.b_ip;
	ck_assert_int_eq(bind(rx, (struct sockaddr *)&to, sizeof(to)), 0);
	ck_assert_int_eq(setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	ck_assert_int_eq(sendto(tx, "ping", 4, 0, (struct sockaddr *)&to, sizeof(to)), 4);
	ck_assert_int_eq(recv(rx, buf, sizeof(buf), 0), 4);
	ck_assert_str_eq(buf, "ping");
	close(rx);
	close(tx);
}
END_TEST

static int sees_b_if(void *arg)
{
	const struct netns_pair *p = arg;

	return if_nametoindex(p->b_if) == (unsigned int)p->b_ifindex ? 7 : 1;
}

START_TEST(run_and_sysctl_act_inside)
{
	char path[128], val[8] = "";
	int fd, saved;

	ck_assert_int_eq(netns_run(&pair.b, sees_b_if, &pair), 7);
	ck_assert_int_eq(sees_b_if(&pair), 1);	/* we are in a, which has no sgb0 */

	ck_assert_int_eq(netns_sysctl(&pair.b, "net/ipv4/conf/all/route_localnet", "1"), 0);
	ck_assert_int_eq(netns_enter(&pair.b, &saved), 0);
	fd = open("/proc/sys/net/ipv4/conf/all/route_localnet", O_RDONLY);
	ck_assert_int_eq(netns_restore(saved), 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_gt(read(fd, val, sizeof(val) - 1), 0);
	close(fd);
	ck_assert_str_eq(val, "1\n");
	/* Not in a. */
	fd = open("/proc/sys/net/ipv4/conf/all/route_localnet", O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_gt(read(fd, val, sizeof(val) - 1), 0);
	close(fd);
	ck_assert_str_eq(val, "0\n");

	snprintf(path, sizeof(path), "/run/netns/%s", pair.b.name);
	ck_assert_int_eq(access(path, F_OK), 0);
}
END_TEST

START_TEST(delete_is_idempotent_and_reap_spares_the_living)
{
	struct netns extra, zero = {};
	char path[128];

	ck_assert_int_eq(netns_create(&extra, "extra"), 0);
	snprintf(path, sizeof(path), "/run/netns/%s", extra.name);
	ck_assert_int_ge(netns_reap_stale(), 0);
	ck_assert_int_eq(access(path, F_OK), 0);	/* our own: alive */
	netns_delete(&extra);
	ck_assert_int_ne(access(path, F_OK), 0);
	netns_delete(&extra);
	netns_delete(&zero);
	ck_assert_int_lt(netns_ifindex(&pair.a, "sgnope0"), 0);
}
END_TEST

static Suite *netdev_suite(void)
{
	Suite *s = suite_create("netdev");
	TCase *tc = tcase_create("netns");
	TCase *veth = tcase_create("veth");

	tcase_add_checked_fixture(tc, ns_setup, ns_teardown);
	tcase_add_test(tc, lo_starts_down_and_comes_up);
	tcase_add_test(tc, missing_interface_is_enodev);
	tcase_add_test(tc, clsact_ensure_twice_then_remove);
	tcase_add_test(tc, clsact_refuses_foreign_ingress_qdisc);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(veth, pair_setup, pair_teardown);
	tcase_add_test(veth, veth_reports_driver_and_mtu);
	tcase_add_test(veth, pair_carries_udp);
	tcase_add_test(veth, run_and_sysctl_act_inside);
	tcase_add_test(veth, delete_is_idempotent_and_reap_spares_the_living);
	suite_add_tcase(s, veth);
	return s;
}

int main(void)
{
	return netns_suite_run(netdev_suite());
}
