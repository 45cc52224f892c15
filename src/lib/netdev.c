// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Interfaces and the clsact qdisc through rtnetlink (libnl-route-3).
 *
 * libnl folds kernel errors into its own NLE_* codes, and the mapping loses
 * information we need (ENOENT and ENODEV both become NLE_OBJ_NOTFOUND).  So
 * every socket opened here carries an error callback that keeps the errno
 * the kernel sent, per thread, and sgbpf_nl_errno() prefers it.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/ethtool.h>
#include <linux/pkt_sched.h>
#include <linux/sockios.h>

#include <netlink/netlink.h>
#include <netlink/route/classifier.h>
#include <netlink/route/link.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/tc.h>

#include "error.h"
#include "netdev.h"

#define CLSACT_KIND "clsact"
#define CLSACT_HANDLE TC_H_MAKE(TC_H_CLSACT, 0)

/* The errno of the last error message the kernel sent to this thread. */
static __thread int nl_kernel_errno;

static int nl_record_error(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	nl_kernel_errno = e->error;
	return NL_STOP;
}

int sgbpf_nl_open(struct nl_sock **out)
{
	struct nl_sock *sk;
	int err;

	*out = NULL;
	sk = nl_socket_alloc();
	if (!sk)
		return sgbpf_err(-ENOMEM, "cannot allocate a netlink socket: out of memory");
	err = nl_connect(sk, NETLINK_ROUTE);
	if (err < 0) {
		err = sgbpf_nl_errno(err);
		nl_socket_free(sk);
		return sgbpf_err(err, "cannot open a NETLINK_ROUTE socket: %s", strerror(-err));
	}
	err = nl_socket_modify_err_cb(sk, NL_CB_CUSTOM, nl_record_error, NULL);
	if (err < 0) {
		nl_socket_free(sk);
		return sgbpf_err(-ENOMEM, "cannot set up a netlink socket: out of memory");
	}
	nl_kernel_errno = 0;
	*out = sk;
	return 0;
}

void sgbpf_nl_close(struct nl_sock *sk)
{
	if (sk)
		nl_socket_free(sk);	/* closes too */
}

static int nle_to_errno(int nle)
{
	switch (nle) {
	case NLE_NOMEM:		return ENOMEM;
	case NLE_PERM:		return EPERM;
	case NLE_NOACCESS:	return EACCES;
	case NLE_OBJ_NOTFOUND:	return ENOENT;
	case NLE_NODEV:		return ENODEV;
	case NLE_EXIST:		return EEXIST;
	case NLE_INVAL:
	case NLE_MISSING_ATTR:	return EINVAL;
	case NLE_OPNOTSUPP:	return EOPNOTSUPP;
	case NLE_BUSY:		return EBUSY;
	case NLE_AGAIN:		return EAGAIN;
	case NLE_INTR:		return EINTR;
	case NLE_BAD_SOCK:	return EBADF;
	case NLE_RANGE:		return ERANGE;
	case NLE_MSGSIZE:	return EMSGSIZE;
	case NLE_AF_NOSUPPORT:	return EAFNOSUPPORT;
	case NLE_PROTO_MISMATCH: return EPROTONOSUPPORT;
	case NLE_NOADDR:	return EADDRNOTAVAIL;
	default:		return EIO;
	}
}

int sgbpf_nl_errno(int nlerr)
{
	int kernel = nl_kernel_errno;

	nl_kernel_errno = 0;
	if (nlerr >= 0)
		return nlerr;
	if (kernel < 0)
		return kernel;
	return -nle_to_errno(-nlerr);
}

const char *sgbpf_netdev_label(int ifindex, char *buf, unsigned int len)
{
	char name[IF_NAMESIZE];

	if (if_indextoname(ifindex, name))
		snprintf(buf, len, "%s", name);
	else
		snprintf(buf, len, "ifindex %d", ifindex);
	return buf;
}

/* The driver name ethtool reports; "" for devices without one (lo). */
static void netdev_driver(const char *ifname, char *driver, size_t len)
{
	struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr = {};
	int fd;

	driver[0] = '\0';
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&info;
	if (ioctl(fd, SIOCETHTOOL, &ifr) == 0) {
		size_t n = strnlen(info.driver, sizeof(info.driver));

		if (n >= len)
			n = len - 1;
		memcpy(driver, info.driver, n);
		driver[n] = '\0';
	}
	close(fd);
}

int sgbpf_netdev_open(const char *ifname, struct sgbpf_netdev *out)
{
	struct rtnl_link *link = NULL;
	struct nl_sock *sk;
	unsigned int flags;
	int err;

	memset(out, 0, sizeof(*out));
	if (!ifname || !ifname[0] || strlen(ifname) >= sizeof(out->name))
		return sgbpf_err(-EINVAL, "'%s' is not a valid interface name (1 to %zu characters)",
				 ifname ? ifname : "(null)", sizeof(out->name) - 1);

	err = sgbpf_nl_open(&sk);
	if (err)
		return err;
	err = sgbpf_nl_errno(rtnl_link_get_kernel(sk, 0, ifname, &link));
	if (err == -ENODEV || err == -ENOENT) {
		err = sgbpf_err(-ENODEV, "no interface named %s in this network namespace "
				"(list them with `ip link`)", ifname);
		goto out;
	}
	if (err) {
		err = sgbpf_err(err, "cannot look up interface %s: %s", ifname, strerror(-err));
		goto out;
	}

	flags = rtnl_link_get_flags(link);
	out->ifindex = rtnl_link_get_ifindex(link);
	snprintf(out->name, sizeof(out->name), "%s", rtnl_link_get_name(link));
	out->mtu = rtnl_link_get_mtu(link);
	out->up = flags & IFF_UP;
	out->loopback = flags & IFF_LOOPBACK;
	netdev_driver(out->name, out->driver, sizeof(out->driver));
out:
	rtnl_link_put(link);
	sgbpf_nl_close(sk);
	return err;
}

int sgbpf_netdev_set_up(int ifindex)
{
	struct rtnl_link *link = NULL, *change = NULL;
	struct nl_sock *sk;
	char label[32];
	int err;

	err = sgbpf_nl_open(&sk);
	if (err)
		return err;
	err = sgbpf_nl_errno(rtnl_link_get_kernel(sk, ifindex, NULL, &link));
	if (err) {
		if (err == -ENOENT)
			err = -ENODEV;
		err = sgbpf_err(err, "cannot look up interface index %d in this network namespace: %s",
				ifindex, strerror(-err));
		goto out;
	}
	if (rtnl_link_get_flags(link) & IFF_UP)
		goto out;

	change = rtnl_link_alloc();
	if (!change) {
		err = sgbpf_err(-ENOMEM, "cannot bring %s up: out of memory",
				rtnl_link_get_name(link));
		goto out;
	}
	rtnl_link_set_flags(change, IFF_UP);
	err = sgbpf_nl_errno(rtnl_link_change(sk, link, change, 0));
	if (err == -EPERM || err == -EACCES)
		err = sgbpf_err(err, "bringing %s up needs CAP_NET_ADMIN (run as root)",
				sgbpf_netdev_label(ifindex, label, sizeof(label)));
	else if (err)
		err = sgbpf_err(err, "cannot bring %s up: %s",
				sgbpf_netdev_label(ifindex, label, sizeof(label)), strerror(-err));
out:
	rtnl_link_put(change);
	rtnl_link_put(link);
	sgbpf_nl_close(sk);
	return err;
}

/* A qdisc object describing the clsact qdisc of ifindex. */
static struct rtnl_qdisc *clsact_describe(int ifindex)
{
	struct rtnl_qdisc *q = rtnl_qdisc_alloc();

	if (!q)
		return NULL;
	rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
	rtnl_tc_set_parent(TC_CAST(q), TC_H_CLSACT);
	rtnl_tc_set_handle(TC_CAST(q), CLSACT_HANDLE);
	if (rtnl_tc_set_kind(TC_CAST(q), CLSACT_KIND) < 0) {
		rtnl_qdisc_put(q);
		return NULL;
	}
	return q;
}

/*
 * The kind of the qdisc occupying the ingress/clsact slot of ifindex, copied
 * into kind; "" when the slot is empty.
 */
static int clsact_slot_kind(struct nl_sock *sk, int ifindex, char *kind, size_t len)
{
	struct nl_cache *cache = NULL;
	struct rtnl_qdisc *q;
	int err;

	kind[0] = '\0';
	err = sgbpf_nl_errno(rtnl_qdisc_alloc_cache(sk, &cache));
	if (err)
		return err;
	q = rtnl_qdisc_get_by_parent(cache, ifindex, TC_H_CLSACT);
	if (q) {
		snprintf(kind, len, "%s", rtnl_tc_get_kind(TC_CAST(q)) ?: "?");
		rtnl_qdisc_put(q);
	}
	nl_cache_free(cache);
	return 0;
}

int sgbpf_netdev_clsact_ensure_sk(struct nl_sock *sk, int ifindex, bool *created)
{
	struct rtnl_qdisc *q;
	char label[32], kind[32];
	int err;

	if (created)
		*created = false;
	q = clsact_describe(ifindex);
	if (!q)
		return sgbpf_err(-ENOMEM, "cannot describe a clsact qdisc: out of memory");
	/* Exclusive: we must know whether the qdisc is ours to delete later. */
	err = sgbpf_nl_errno(rtnl_qdisc_add(sk, q, NLM_F_CREATE | NLM_F_EXCL));
	rtnl_qdisc_put(q);
	sgbpf_netdev_label(ifindex, label, sizeof(label));
	if (err == 0) {
		if (created)
			*created = true;
		return 0;
	}
	if (err == -EPERM || err == -EACCES)
		return sgbpf_err(err, "adding a clsact qdisc to %s needs CAP_NET_ADMIN (run as root)",
				 label);
	if (err == -ENODEV)
		return sgbpf_err(err, "cannot add a clsact qdisc: no %s in this network namespace",
				 label);
	if (err != -EEXIST)
		return sgbpf_err(err, "cannot add a clsact qdisc to %s: %s", label, strerror(-err));

	/* Something holds the slot: fine if it is clsact, not if it is "ingress". */
	err = clsact_slot_kind(sk, ifindex, kind, sizeof(kind));
	if (err)
		return sgbpf_err(err, "cannot list the qdiscs of %s: %s", label, strerror(-err));
	if (strcmp(kind, CLSACT_KIND) != 0)
		return sgbpf_err(-EBUSY, "%s has an '%s' qdisc where a clsact qdisc is needed; "
				 "it is not ours to replace (tc qdisc del dev %s ingress)",
				 label, kind[0] ? kind : "unknown", label);
	return 0;
}

int sgbpf_netdev_clsact_ensure(int ifindex, bool *created)
{
	struct nl_sock *sk;
	int err;

	if (created)
		*created = false;
	err = sgbpf_nl_open(&sk);
	if (err)
		return err;
	err = sgbpf_netdev_clsact_ensure_sk(sk, ifindex, created);
	sgbpf_nl_close(sk);
	return err;
}

int sgbpf_netdev_clsact_remove_sk(struct nl_sock *sk, int ifindex)
{
	struct rtnl_qdisc *q;
	char label[32];
	int err;

	q = clsact_describe(ifindex);
	if (!q)
		return sgbpf_err(-ENOMEM, "cannot describe a clsact qdisc: out of memory");
	err = sgbpf_nl_errno(rtnl_qdisc_delete(sk, q));
	rtnl_qdisc_put(q);
	if (!err)
		return 0;
	sgbpf_netdev_label(ifindex, label, sizeof(label));
	/*
	 * Without a clsact qdisc the kernel answers ENOENT, or EINVAL when the
	 * slot holds a qdisc of another kind ("ingress"), which is not ours.
	 */
	if (err == -ENOENT || err == -EINVAL)
		return sgbpf_err(-ENOENT, "%s has no clsact qdisc to remove", label);
	if (err == -EPERM || err == -EACCES)
		return sgbpf_err(err, "removing the clsact qdisc of %s needs CAP_NET_ADMIN "
				 "(run as root)", label);
	return sgbpf_err(err, "cannot remove the clsact qdisc of %s: %s", label, strerror(-err));
}

int sgbpf_netdev_clsact_remove(int ifindex)
{
	struct nl_sock *sk;
	int err;

	err = sgbpf_nl_open(&sk);
	if (err)
		return err;
	err = sgbpf_netdev_clsact_remove_sk(sk, ifindex);
	sgbpf_nl_close(sk);
	return err;
}

/*
 * Filters under one clsact parent (ingress or egress).  A dump lists each
 * classifier instance (kind and priority, handle 0) before its filters;
 * only the filters count.
 */
static int clsact_count_parent(struct nl_sock *sk, int ifindex, uint32_t parent)
{
	struct nl_cache *cache = NULL;
	struct nl_object *o;
	int err, n = 0;

	err = sgbpf_nl_errno(rtnl_cls_alloc_cache(sk, ifindex, parent, &cache));
	/* No clsact qdisc, hence no block to list: nothing hangs there. */
	if (err == -EINVAL || err == -ENOENT)
		return 0;
	if (err)
		return err;
	for (o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o))
		if (rtnl_tc_get_handle(TC_CAST(o)))
			n++;
	nl_cache_free(cache);
	return n;
}

int sgbpf_netdev_clsact_filters_sk(struct nl_sock *sk, int ifindex)
{
	char label[32];
	int in, eg;

	in = clsact_count_parent(sk, ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS));
	if (in < 0)
		goto fail;
	eg = clsact_count_parent(sk, ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS));
	if (eg < 0) {
		in = eg;
		goto fail;
	}
	return in + eg;
fail:
	return sgbpf_err(in, "cannot list the tc filters of %s: %s",
			 sgbpf_netdev_label(ifindex, label, sizeof(label)), strerror(-in));
}

int sgbpf_netdev_clsact_filters(int ifindex)
{
	struct nl_sock *sk;
	int err;

	err = sgbpf_nl_open(&sk);
	if (err)
		return err;
	err = sgbpf_netdev_clsact_filters_sk(sk, ifindex);
	sgbpf_nl_close(sk);
	return err;
}
