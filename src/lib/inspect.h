/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Finding the sgbpf services that run on this machine, from the kernel's
 * own records and without any pinning: the BPF links of every process, the
 * programs behind them, the maps of those programs, and the tc filters the
 * netlink fallback left on interfaces.  `sgbpf status` reports what it
 * finds and `sgbpf teardown` removes it.
 *
 * What counts as ours:
 *   - an XDP or TCX bpf_link whose program is named sgbpf_gather,
 *     sgbpf_gather_tc or sgbpf_scatter and uses a map named sgbpf_cfg;
 *   - a cls_bpf filter whose name starts with "sgbpf:" (the fallback's);
 *   - for TCP services, a netns (SK_LOOKUP) bpf_link of program sgbpf_steer
 *     with a map named sgbpf_tcp_workers (sgbpf_inspect_tcp_scan() below).
 * Attachments whose programs share one sgbpf_cfg map belong to one service.
 *
 * Links are global but interface indexes are per network namespace: an
 * attachment is reported only when the interface with its index in the
 * calling thread's namespace really runs its program (bpf_xdp_query or the
 * TCX program list), so services of other namespaces are left out.
 *
 * Reading BPF objects by id needs CAP_SYS_ADMIN; deleting filters needs
 * CAP_NET_ADMIN.  Functions return 0 or a negative errno with a sentence
 * for sgbpf_last_error().
 */
#ifndef SGBPF_LIB_INSPECT_H
#define SGBPF_LIB_INSPECT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <sgbpf/tcp_state.h>
#include <sgbpf/udp_state.h>

enum sgbpf_inspect_hook {
	SGBPF_HOOK_XDP_NATIVE,
	SGBPF_HOOK_XDP_GENERIC,
	SGBPF_HOOK_XDP_OFFLOAD,
	SGBPF_HOOK_TC_INGRESS,
	SGBPF_HOOK_TC_EGRESS,
};

/* One program on one hook. */
struct sgbpf_inspect_attach {
	enum sgbpf_inspect_hook hook;
	bool netlink;		/* a cls_bpf filter of the fallback, not a bpf_link */
	uint32_t link_id;	/* the bpf_link; 0 for a filter */
	uint32_t prog_id;
	char prog[16];		/* program name as the kernel keeps it */
	int ifindex;
	/* Netlink filters: where tc shows them. */
	uint32_t tc_parent;
	uint32_t tc_handle;
	uint16_t tc_prio;
	uint16_t tc_proto;	/* network order */
};

/* A process holding one of the service's links or programs. */
struct sgbpf_inspect_owner {
	pid_t pid;
	char comm[16];
};

#define SGBPF_INSPECT_MAX_ATTACH 8
#define SGBPF_INSPECT_MAX_OWNERS 16

struct sgbpf_inspect_service {
	uint32_t cfg_map_id;	/* the service's sgbpf_cfg map; 0: unknown */
	int ifindex;
	char ifname[16];
	bool have_cfg;
	struct sgbpf_config cfg;
	bool have_stats;
	uint64_t stats[__SGBPF_STAT_MAX];	/* summed over CPUs */
	char reduce[32];	/* "sum-u32", "count", or a custom program's name */
	struct sgbpf_inspect_attach att[SGBPF_INSPECT_MAX_ATTACH];
	unsigned int natt;
	struct sgbpf_inspect_owner owners[SGBPF_INSPECT_MAX_OWNERS];
	unsigned int nowners;
	bool more_owners;	/* owners[] was too small */
};

struct sgbpf_inspect {
	struct sgbpf_inspect_service *svc;
	size_t n;
};

/*
 * Fills *out with the services attached to ifindex (0: to any interface)
 * of the calling thread's network namespace, ordered by interface and
 * port.  On success the caller frees *out with sgbpf_inspect_free().
 * Returns 0, -EPERM without CAP_SYS_ADMIN, or another negative errno.
 */
int sgbpf_inspect_scan(int ifindex, struct sgbpf_inspect *out);

/* Frees what sgbpf_inspect_scan() stored.  Safe on a zeroed struct. */
void sgbpf_inspect_free(struct sgbpf_inspect *in);

/*
 * Removes one attachment: a link is detached by force (bpf_link_detach; the
 * process that owns it keeps a dead link and its traffic stops), a filter
 * is deleted over netlink.  Returns 0, also when it was already gone, or a
 * negative errno.
 */
int sgbpf_inspect_remove(const struct sgbpf_inspect_attach *a);

/*
 * Deletes the netlink-fallback filters of sgbpf services on ifindex whose
 * owner is proven dead: no process this PID namespace can see holds their
 * programs, and nobody holds their owner tokens (see above).  Stores how many it deleted in *removed when
 * not NULL.  Returns 0 or a negative errno.
 */
int sgbpf_inspect_reap_orphans(int ifindex, unsigned int *removed);

/*
 * Proof of life for the netlink fallback, whose filters outlive their
 * process.  Before it adds a filter, a service binds a socket to an
 * abstract AF_UNIX name derived from the filter's program id and place
 * (interface, parent, handle) and holds it for as long as the filter is
 * its.  Abstract names belong to the network namespace (the filters' own)
 * and are freed by the kernel when the last descriptor closes, however the
 * process ends; unlike /proc, they are seen from every PID namespace.
 *
 * sgbpf_owner_token_hold() binds the name and returns the descriptor, or a
 * negative errno (-EADDRINUSE: somebody holds it).  sgbpf_owner_token_held()
 * returns 1 when some process holds it, 0 when nobody does (the filter's
 * owner is dead), a negative errno when it cannot tell.
 */
struct sgbpf_owner_token {
	uint32_t prog_id;
	int ifindex;
	uint32_t parent;
	uint32_t handle;
};
int sgbpf_owner_token_hold(const struct sgbpf_owner_token *t);
int sgbpf_owner_token_held(const struct sgbpf_owner_token *t);

/*
 * A TCP service (src/lib/tcp/) is on no interface: its SK_LOOKUP program
 * (sgbpf_steer) is attached to the network namespace by a bpf_link, its
 * sk_skb verdict program (sgbpf_tcp_<reduction>) to a sockmap, and both go
 * with the last descriptor of them, which their process holds.  A service
 * is reported when its link is attached to the calling thread's namespace.
 * The listening address and port come from the steer program's read-only
 * data, the workers from its worker table.  The verdict program has no
 * link: it is the service's when the link's owner holds it (see tcp.c).
 */
struct sgbpf_inspect_tcp {
	uint32_t link_id;		/* the SK_LOOKUP link */
	uint32_t steer_prog_id;
	bool have_listen;
	uint32_t addr;			/* listening address, network order */
	uint16_t port;			/* listening port, host order */
	int workers;			/* entries of the worker table; -1: unreadable */
	bool have_steer_stats;
	uint64_t steer_stats[__SGBPF_TCP_STEER_STATS];	/* summed over CPUs */
	uint32_t verdict_prog_id;	/* 0: not found (its owner is out of sight) */
	uint32_t sockmap_id;		/* the verdict program's sockmap */
	char verdict[32];		/* the verdict program's full name */
	char reduce[32];		/* "sum-u32", "count"; "?" without a verdict */
	int connected;			/* worker connections in the sockmap; -1: unknown */
	struct sgbpf_inspect_owner owners[SGBPF_INSPECT_MAX_OWNERS];
	unsigned int nowners;
	bool more_owners;
};

struct sgbpf_inspect_tcp_list {
	struct sgbpf_inspect_tcp *svc;
	size_t n;
};

/*
 * Fills *out with the TCP services of the calling thread's network
 * namespace, ordered by port.  The caller frees *out with
 * sgbpf_inspect_tcp_free().  Returns 0, -EPERM without CAP_SYS_ADMIN, or
 * another negative errno.
 */
int sgbpf_inspect_tcp_scan(struct sgbpf_inspect_tcp_list *out);

/* Frees what sgbpf_inspect_tcp_scan() stored.  Safe on a zeroed struct. */
void sgbpf_inspect_tcp_free(struct sgbpf_inspect_tcp_list *l);

/* "xdp native", "xdp generic", "xdp offload", "tc ingress", "tc egress". */
const char *sgbpf_inspect_hook_name(enum sgbpf_inspect_hook h);

/*
 * Stores in *has_clsact whether ifindex has a clsact qdisc and in
 * *foreign_filters how many tc filters on it are not the fallback's (their
 * name does not start with "sgbpf:").  Returns 0 or a negative errno.
 */
int sgbpf_inspect_clsact(int ifindex, bool *has_clsact, int *foreign_filters);

#endif /* SGBPF_LIB_INSPECT_H */
