/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Network interfaces as the library sees them: lookup, link state and the
 * clsact qdisc, all through rtnetlink (libnl-route-3), never through `ip` or
 * `tc`.  Every function works in the calling thread's current network
 * namespace and returns 0 or a negative errno; on failure sgbpf_last_error()
 * holds a sentence naming the interface.
 */
#ifndef SGBPF_LIB_NETDEV_H
#define SGBPF_LIB_NETDEV_H

#include <stdbool.h>

struct nl_sock;

struct sgbpf_netdev {
	int ifindex;
	char name[16];		/* IFNAMSIZ */
	unsigned int mtu;
	bool up;		/* IFF_UP */
	bool loopback;		/* IFF_LOOPBACK */
	char driver[32];	/* from ethtool GDRVINFO, "" if unknown ("veth", ...) */
};

/*
 * Looks ifname up in the current network namespace through libnl-route
 * (rtnl_link) and fills *out.  Returns 0, -ENODEV (with a message naming
 * the interface) when there is no such interface, -EINVAL for a name that
 * cannot be an interface name, or another negative errno.
 */
int sgbpf_netdev_open(const char *ifname, struct sgbpf_netdev *out);

/*
 * Sets IFF_UP on the link with index ifindex (rtnl_link_change).  Returns 0,
 * also when the link was already up, or a negative errno.
 */
int sgbpf_netdev_set_up(int ifindex);

/*
 * Makes sure ifindex has a clsact qdisc (kind "clsact", parent TC_H_CLSACT).
 * Stores in *created (which may be NULL) whether this call added it: false
 * when a clsact qdisc was already there.  Returns -EBUSY when another qdisc
 * (e.g. "ingress") holds the clsact slot, since replacing it would drop
 * somebody else's filters.
 */
int sgbpf_netdev_clsact_ensure(int ifindex, bool *created);

/*
 * Deletes the clsact qdisc of ifindex, and with it every filter it holds.
 * Returns 0, -ENOENT when there is none, or a negative errno.
 */
int sgbpf_netdev_clsact_remove(int ifindex);

/*
 * Counts the tc filters (any kind, any chain, ingress and egress) hanging
 * off the clsact qdisc of ifindex.  Returns the count, 0 when there is no
 * clsact qdisc, or a negative errno.
 */
int sgbpf_netdev_clsact_filters(int ifindex);

/*
 * The netlink plumbing below lets a caller keep one socket, e.g. to undo a
 * change later in the namespace where it was made: a netlink socket stays
 * bound to the network namespace it was opened in, whatever namespace the
 * thread moves to afterwards.
 */

/*
 * Opens a NETLINK_ROUTE socket in the calling thread's current network
 * namespace.  Errors the kernel reports on it are kept as errno values, so
 * that sgbpf_nl_errno() can return -ENOENT rather than libnl's coarser
 * codes.  Returns 0 or a negative errno (with a message).
 */
int sgbpf_nl_open(struct nl_sock **out);

/* Closes and frees a socket from sgbpf_nl_open().  NULL is a no-op. */
void sgbpf_nl_close(struct nl_sock *sk);

/*
 * Turns the return value of a libnl call made on a socket from
 * sgbpf_nl_open() into 0 or a negative errno: the errno the kernel sent
 * when there was one, else the nearest errno for libnl's own code.
 * Non-negative values are returned unchanged.
 */
int sgbpf_nl_errno(int nlerr);

/* sgbpf_netdev_clsact_ensure() on an open socket. */
int sgbpf_netdev_clsact_ensure_sk(struct nl_sock *sk, int ifindex, bool *created);
/* sgbpf_netdev_clsact_remove() on an open socket. */
int sgbpf_netdev_clsact_remove_sk(struct nl_sock *sk, int ifindex);
/* sgbpf_netdev_clsact_filters() on an open socket. */
int sgbpf_netdev_clsact_filters_sk(struct nl_sock *sk, int ifindex);

/*
 * Writes the name of ifindex (or "ifindex N" when it has none in this
 * namespace) into buf, for messages.  Returns buf.
 */
const char *sgbpf_netdev_label(int ifindex, char *buf, unsigned int len);

#endif /* SGBPF_LIB_NETDEV_H */
