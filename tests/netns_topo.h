/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The two places an end-to-end test runs its workers: across a veth pair
 * (coordinator in one namespace, workers in the other) or on the lo of a
 * single namespace.
 */
#ifndef SGBPF_TESTS_NETNS_TOPO_H
#define SGBPF_TESTS_NETNS_TOPO_H

#include <stdbool.h>
#include <stdint.h>

#include "netns_util.h"

struct netns_topo {
	bool veth;
	struct netns_pair pair;
	struct netns lo_ns;
	const struct netns *coord, *work;	/* where the service and the workers run */
	const char *ifname;			/* the coordinator's interface */
	uint32_t worker_ip;			/* network byte order */
};

/*
 * With VETH, the pair netns_pair_create(TAG, SUBNET) makes; without, one
 * namespace "<TAG>lo" with lo up.  Fails the test if it cannot be made.
 */
void netns_topo_create(struct netns_topo *t, bool veth, const char *tag, unsigned int subnet);

/* Deletes what netns_topo_create() made. */
void netns_topo_delete(struct netns_topo *t);

#endif
