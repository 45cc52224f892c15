/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Network namespaces for tests: every test that touches the kernel's network
 * state does it inside namespaces it created, never on the host's
 * interfaces, and leaves nothing behind, even when it fails.
 *
 * Build: in tests/<area>.cmake,
 *	sgbpf_test(test_x SOURCES test_x.c LIBS sgbpf_netns_util ...)
 * and #include "netns_util.h".  Tests using it need root; see
 * netns_check_privileges() for the skip.
 *
 * What it gives
 *   - netns_create(): a fresh namespace named "sgbpf-<tag>-<pid>-<seq>"
 *     under /run/netns, so `ip netns exec NAME ...` and `ip -n NAME ...`
 *     work on it too (handy when debugging, or from a test that needs a
 *     tool).  Its lo is down, as in any new namespace.
 *   - netns_enter()/netns_restore(): move the calling thread in and back out;
 *     netns_fork()/netns_run(): a child process that lives inside.
 *   - netns_veth(), netns_link_up(), netns_addr_add(), netns_ifindex(),
 *     netns_sysctl(): set-up inside a namespace without entering it
 *     (rtnetlink through libnl-route-3, no `ip` needed).
 *   - netns_pair_create(): the usual topology in one call: two namespaces
 *     joined by a veth pair, addressed 10.211.<subnet>.1/24 and .2/24, lo
 *     and both veth ends up.
 *
 * Clean-up, in layers
 *   1. netns_delete() / netns_pair_delete() in your teardown.
 *   2. An atexit() handler deletes every namespace the exiting process
 *      created and did not delete.  Namespaces are owned by the process that
 *      created them; a forked child never deletes its parent's on exit.
 *   3. The first netns_create() in a process starts a small detached reaper
 *      process that waits for that process (and the children it forked) to
 *      be gone, however they went, and then deletes what is left of its
 *      namespaces.  This is what cleans up after a failed Check test (Check
 *      ends it with _exit(), which skips atexit) and after a timeout (Check
 *      sends SIGKILL).  It runs within milliseconds of the death, in its
 *      own session, outside every test namespace, with no pipe of ctest's
 *      open; tests never see it in wait().
 *   4. netns_reap_stale() deletes "sgbpf-*" namespaces whose creating
 *      process no longer exists, e.g. left by a machine crash or a reaper
 *      that was killed.  Calling it at the start and end of main() is
 *      cheap; namespaces of test programs still running are left alone.
 *
 * Typical use with Check
 *
 *	static struct netns ns;
 *
 *	static void setup(void)
 *	{
 *		ck_assert_int_eq(netns_create(&ns, "mytest"), 0);
 *		ck_assert_int_eq(netns_enter(&ns, NULL), 0);
 *	}
 *
 *	static void teardown(void)
 *	{
 *		netns_delete(&ns);
 *	}
 *	...
 *	tcase_add_checked_fixture(tc, setup, teardown);
 *	...
 *	int main(void)
 *	{
 *		...
 *		// 77 if not root or no namespaces; reaps before and after the run
 *		return netns_suite_run(s);	// netns_suite.h
 *	}
 *
 * A checked fixture runs in the forked test process, so entering the
 * namespace there (without saving the old one) only moves that process.
 * When the runner may run without fork (CK_FORK=no), save and restore
 * instead: netns_enter(&ns, &saved) ... netns_restore(saved).
 *
 * Two namespaces joined by veth:
 *
 *	struct netns_pair p;
 *
 *	ck_assert_int_eq(netns_pair_create(&p, "udp", 0), 0);
 *	// p.a: coordinator side, p.a_if / p.a_ifindex / p.a_ip (10.211.0.1)
 *	// p.b: worker side,      p.b_if / p.b_ifindex / p.b_ip (10.211.0.2)
 *	pid_t w = netns_fork(&p.b);	// a worker inside b
 *	...
 *	netns_pair_delete(&p);
 *
 * Every function returns 0 (or a value as documented) on success and a
 * negative errno on failure, after printing one line saying what failed on
 * stderr, so that a failed ck_assert_int_eq(..., 0) in a test log comes
 * with its reason.  Functions taking a namespace never touch the caller's
 * own namespace.  Not thread-safe: call from one thread.
 */
#ifndef SGBPF_TESTS_NETNS_UTIL_H
#define SGBPF_TESTS_NETNS_UTIL_H

#include <stdint.h>
#include <sys/types.h>

/* Longest tag kept in a namespace name; longer tags are cut. */
#define NETNS_TAG_MAX 24
#define NETNS_NAME_MAX 64
/* Exit code that CTest counts as "skipped". */
#define NETNS_SKIP 77

/*
 * Every namespace netns_create() makes numbers its sockets bound to port 0
 * from this range, so test ports below it are never taken by the kernel
 * first; worker_farm_start() refuses ports inside it.
 */
#define NETNS_EPHEMERAL_FIRST 50000
#define NETNS_EPHEMERAL_LAST 60999

struct netns {
	char name[NETNS_NAME_MAX];	/* under /run/netns; "" once deleted */
	int fd;				/* open on the namespace; -1 once deleted */
};

/*
 * Returns 0 when this process can create network namespaces (root, with
 * CAP_SYS_ADMIN and CAP_NET_ADMIN), else NETNS_SKIP after saying why on
 * stderr, for main() to return as is.
 */
int netns_check_privileges(void);

/*
 * Creates a new, empty network namespace named "sgbpf-<tag>-<pid>-<seq>"
 * and fills *ns.  tag says which test made it (letters, digits, '_', '.',
 * '-'; anything else becomes '_').  The calling thread stays where it was.
 */
int netns_create(struct netns *ns, const char *tag);

/*
 * Deletes the namespace: closes ns->fd and removes the name.  The kernel
 * frees the namespace (and its interfaces; a veth pair goes with either
 * end) once no process is inside and no descriptor refers to it.
 * Idempotent; a zeroed or already deleted struct is a no-op.
 */
void netns_delete(struct netns *ns);

/*
 * Moves the calling thread into ns.  When saved is not NULL, stores there a
 * descriptor of the namespace it was in, for netns_restore().
 */
int netns_enter(const struct netns *ns, int *saved);

/* Moves the calling thread back into the namespace saved by netns_enter()
 * and closes the descriptor. */
int netns_restore(int saved);

/*
 * fork() whose child runs inside ns (it _exit(127)s when it cannot enter).
 * Returns the child's pid in the parent, 0 in the child, or a negative
 * errno.  The parent waits for it (waitpid) as with fork().
 */
pid_t netns_fork(const struct netns *ns);

/*
 * Runs fn(arg) in a child inside ns and waits for it.  Returns fn's return
 * value (as an exit status, 0-255), 128 + signal when the child was killed,
 * or a negative errno when it could not be started.
 */
int netns_run(const struct netns *ns, int (*fn)(void *arg), void *arg);

/* Index of ifname inside ns, or a negative errno (-ENODEV when absent). */
int netns_ifindex(const struct netns *ns, const char *ifname);

/* Sets ifname up inside ns. */
int netns_link_up(const struct netns *ns, const char *ifname);

/* Adds an IPv4 address such as "10.211.0.1/24" to ifname inside ns. */
int netns_addr_add(const struct netns *ns, const char *ifname, const char *cidr);

/*
 * Creates a veth pair: a_if inside a and b_if inside b (a and b may be the
 * same namespace, never NULL: tests do not touch the host).  When a_cidr /
 * b_cidr are not NULL, adds them as addresses.  Both ends are set up.
 */
int netns_veth(const struct netns *a, const char *a_if, const char *a_cidr,
	       const struct netns *b, const char *b_if, const char *b_cidr);

/*
 * Writes value to /proc/sys/<key> as seen inside ns, e.g.
 * netns_sysctl(&ns, "net/ipv4/conf/all/route_localnet", "1").
 */
int netns_sysctl(const struct netns *ns, const char *key, const char *value);

/* Reads a sysctl of ns into buf (NUL-terminated); 0 or a negative errno. */
int netns_sysctl_read(const struct netns *ns, const char *key, char *buf, size_t size);

/*
 * Deletes the "sgbpf-*" namespaces left by processes that no longer exist.
 * Returns how many it deleted, or a negative errno.
 */
int netns_reap_stale(void);

/* Two namespaces joined by a veth pair; see netns_pair_create(). */
struct netns_pair {
	struct netns a, b;
	char a_if[16], b_if[16];	/* "sga0" in a, "sgb0" in b */
	int a_ifindex, b_ifindex;	/* each as seen inside its namespace */
	char a_addr[16], b_addr[16];	/* "10.211.<subnet>.1", "10.211.<subnet>.2" */
	uint32_t a_ip, b_ip;		/* the same, network byte order */
};

/*
 * Creates namespaces "<tag>a" and "<tag>b", a veth pair sga0 (in a) <->
 * sgb0 (in b), addresses 10.211.<subnet>.1/24 on sga0 and .2/24 on sgb0,
 * and sets lo and the veth ends up in both.  On failure nothing is left.
 */
int netns_pair_create(struct netns_pair *p, const char *tag, unsigned int subnet);

/* Deletes both namespaces (and with them the veth pair).  Idempotent. */
void netns_pair_delete(struct netns_pair *p);

#endif /* SGBPF_TESTS_NETNS_UTIL_H */
