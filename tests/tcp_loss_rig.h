/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The loss injector of tcp_loss.bpf.c on a veth pair, for the TCP tests
 * that run a service under loss: the pair (the coordinator in a, the
 * workers in b, TSO and GSO off on b's end so that each skb is one segment),
 * the injector at TCX ingress of a's veth, its pattern and its counters.
 *
 * Build: link sgbpf_tcp_loss_rig (tests/tcp.cmake).  Every function fails
 * the calling Check test on error.
 */
#ifndef SGBPF_TESTS_TCP_LOSS_RIG_H
#define SGBPF_TESTS_TCP_LOSS_RIG_H

#include <stdint.h>
#include <linux/types.h>

#include "netns_util.h"
#include "tcp_loss.h"

struct loss_pattern {
	const char *name;
	struct loss_cfg cfg;
};

/*
 * Creates *pair (netns_pair_create(pair, tag, subnet)), turns TSO and GSO
 * off on the workers' veth end, moves the calling process into pair->a and
 * attaches the injector, passing everything until loss_set().  For a
 * checked fixture's setup.
 */
void loss_rig_setup(struct netns_pair *pair, const char *tag, unsigned int subnet);

/* Detaches the injector and deletes the pair; for the fixture's teardown. */
void loss_rig_teardown(void);

/* Sets the pattern for the workers' data segments to listen_port, counters zeroed. */
void loss_set(const struct loss_pattern *p, uint16_t listen_port);

/* The injector's counters since the last loss_set(). */
struct loss_stats loss_get(void);

/*
 * That the pattern did what it says: for drops, at least one skb dropped and
 * more bytes through the injector than the replies hold (what was dropped
 * came again); for duplicates, at least one clone delivered.  Always: every
 * skb one segment, and at least wire_bytes of reply through the injector.
 * With SGBPF_TEST_DEBUG or SGBPF_TCP_LOSS_FULL set, prints the counters.
 */
void assert_loss_happened(const struct loss_pattern *p, uint64_t wire_bytes, const char *what);

#endif
