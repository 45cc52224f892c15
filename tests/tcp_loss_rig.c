// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sgbpf_test_tcp_loss.skel.h"
#include "tcp_loss_rig.h"

/* libbpf 1.1's headers predate TCX; the kernel's value. */
#define TCX_INGRESS 46

static struct netns_pair *pair;
static struct sgbpf_test_tcp_loss *skel;
static int loss_link = -1;

static int ethtool_off(int fd, const char *ifname, __u32 cmd)
{
	struct ethtool_value v = { .cmd = cmd, .data = 0 };
	struct ifreq ifr = { 0 };

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (char *)&v;
	return ioctl(fd, SIOCETHTOOL, &ifr) ? -errno : 0;
}

/*
 * Inside the workers' namespace: no TSO and no GSO on their veth end, so
 * that TCP builds MSS-sized segments and each skb the injector sees is one
 * segment on the wire.
 */
static int segments_only(void *arg)
{
	const char *ifname = arg;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err;

	if (fd < 0)
		return 1;
	err = ethtool_off(fd, ifname, ETHTOOL_STSO) ?: ethtool_off(fd, ifname, ETHTOOL_SGSO);
	close(fd);
	return err ? 2 : 0;
}

void loss_rig_setup(struct netns_pair *p, const char *tag, unsigned int subnet)
{
	pair = p;
	ck_assert_int_eq(netns_pair_create(pair, tag, subnet), 0);
	ck_assert_int_eq(netns_run(&pair->b, segments_only, pair->b_if), 0);
	ck_assert_int_eq(netns_enter(&pair->a, NULL), 0);
	skel = sgbpf_test_tcp_loss__open_and_load();
	ck_assert_ptr_nonnull(skel);
	/* A TCX link: it goes with this process however the test ends. */
	loss_link = bpf_link_create(bpf_program__fd(skel->progs.tcp_loss), pair->a_ifindex,
				    (enum bpf_attach_type)TCX_INGRESS, NULL);
	ck_assert_msg(loss_link >= 0, "TCX ingress on %s: %s", pair->a_if, strerror(errno));
}

void loss_rig_teardown(void)
{
	if (loss_link >= 0)
		close(loss_link);
	loss_link = -1;
	sgbpf_test_tcp_loss__destroy(skel);
	skel = NULL;
	if (pair)
		netns_pair_delete(pair);
	pair = NULL;
}

void loss_set(const struct loss_pattern *p, uint16_t listen_port)
{
	struct loss_cfg cfg = p->cfg;
	struct loss_stats zs = { 0 };
	__u32 zero = 0;

	cfg.addr = pair->b_ip;
	cfg.port = htons(listen_port);
	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(skel->maps.loss_stats), &zero, &zs, 0),
			 0);
	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(skel->maps.loss_cfg), &zero, &cfg, 0),
			 0);
}

struct loss_stats loss_get(void)
{
	struct loss_stats st;
	__u32 zero = 0;

	ck_assert_int_eq(bpf_map_lookup_elem(bpf_map__fd(skel->maps.loss_stats), &zero, &st), 0);
	return st;
}

void assert_loss_happened(const struct loss_pattern *p, uint64_t wire_bytes, const char *what)
{
	struct loss_stats st = loss_get();

	if (getenv("SGBPF_TEST_DEBUG") || getenv("SGBPF_TCP_LOSS_FULL"))
		fprintf(stderr,
			"%s, loss %s: segments %llu bytes %llu (replies %llu) dropped %llu "
			"dropped bytes %llu duplicated %llu (delivered %llu, failed %llu) gso %llu\n",
			what, p->name, (unsigned long long)st.segments,
			(unsigned long long)st.bytes, (unsigned long long)wire_bytes,
			(unsigned long long)st.dropped, (unsigned long long)st.dropped_bytes,
			(unsigned long long)st.duplicated, (unsigned long long)st.dup_delivered,
			(unsigned long long)st.dup_failed, (unsigned long long)st.gso);
	if (p->cfg.mode == LOSS_OFF)
		return;
	ck_assert_msg(st.gso == 0, "%s: %llu skbs of several segments", what,
		      (unsigned long long)st.gso);
	ck_assert_msg(st.bytes - st.dropped_bytes >= wire_bytes,
		      "%s: %llu bytes delivered of %llu sent", what,
		      (unsigned long long)(st.bytes - st.dropped_bytes),
		      (unsigned long long)wire_bytes);
	switch (p->cfg.mode) {
	case LOSS_EVERY:
	case LOSS_BURST:
		ck_assert_msg(st.dropped >= 1, "%s: nothing dropped in %llu segments", what,
			      (unsigned long long)st.segments);
		ck_assert_msg(st.bytes > wire_bytes, "%s: nothing retransmitted", what);
		break;
	case LOSS_DUP:
		ck_assert_msg(st.duplicated >= 1 && st.dup_delivered >= 1,
			      "%s: no duplicate in %llu segments (%llu failed)", what,
			      (unsigned long long)st.segments, (unsigned long long)st.dup_failed);
		ck_assert_uint_eq(st.dropped, 0);
		break;
	}
}
