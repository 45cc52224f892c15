// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "netns_topo.h"

void netns_topo_create(struct netns_topo *t, bool veth, const char *tag, unsigned int subnet)
{
	char lo_tag[NETNS_NAME_MAX];

	memset(t, 0, sizeof(*t));
	t->veth = veth;
	if (veth) {
		ck_assert_int_eq(netns_pair_create(&t->pair, tag, subnet), 0);
		t->coord = &t->pair.a;
		t->work = &t->pair.b;
		t->ifname = t->pair.a_if;
		t->worker_ip = t->pair.b_ip;
	} else {
		snprintf(lo_tag, sizeof(lo_tag), "%slo", tag);
		ck_assert_int_eq(netns_create(&t->lo_ns, lo_tag), 0);
		ck_assert_int_eq(netns_link_up(&t->lo_ns, "lo"), 0);
		t->coord = t->work = &t->lo_ns;
		t->ifname = "lo";
		t->worker_ip = htonl(INADDR_LOOPBACK);
	}
}

void netns_topo_delete(struct netns_topo *t)
{
	if (t->veth)
		netns_pair_delete(&t->pair);
	else
		netns_delete(&t->lo_ns);
}
