// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * TC and XDP attachments owned by a descriptor.
 *
 * A bpf_link lives exactly as long as its last descriptor: when the process
 * dies, by exit or by SIGKILL, the kernel closes the descriptor and takes
 * the program off the hook.  That is what we want for every hook, and what
 * TCX (Linux 6.6) gives TC programs.  On older kernels TC programs can only
 * be attached as cls_bpf filters under a clsact qdisc; those stay until
 * somebody deletes them, so the fallback keeps what it needs to delete
 * exactly its own filter, and the qdisc only when this process created it
 * and nothing else hangs off it.
 */
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>

#include "attach.h"
#include "inspect.h"
#include "error.h"
#include "netdev.h"

/* libbpf 1.1's headers predate TCX; these are the kernel's values. */
#define SGBPF_BPF_TCX_INGRESS 46
#define SGBPF_BPF_TCX_EGRESS 47

/*
 * The fallback's cls_bpf filters all sit at this priority (tc prints it as
 * "pref 21319"), away from the 49152 and below that tc picks on its own, so
 * that a foreign filter never shares a chain slot with ours by accident.
 * Each of our filters then gets the first free handle at that priority.
 */
#define SGBPF_CLS_PRIO 0x5347u
#define SGBPF_CLS_MAX_HANDLE 4096u

enum attach_kind {
	ATTACH_LINK,		/* TCX or XDP bpf_link: closing link_fd detaches */
	ATTACH_CLS_BPF,		/* netlink cls_bpf filter: must be deleted */
};

/* Identifies a network namespace by its nsfs inode. */
struct netns_id {
	dev_t dev;
	ino_t ino;
};

struct sgbpf_attachment {
	enum attach_kind kind;
	int ifindex;
	int link_fd;
	/* ATTACH_CLS_BPF only. */
	struct nl_sock *sk;	/* opened in the namespace that holds the filter */
	struct netns_id ns;
	uint32_t parent;
	uint32_t handle;
	bool qdisc_ref;		/* holds a reference on a clsact qdisc we created */
	int token_fd;		/* proves this process alive (sgbpf_owner_token_hold()) */
};

/*
 * clsact qdiscs this process created, with the number of our fallback
 * filters that rely on each.  Several services in one process may share an
 * interface: the qdisc goes when the last of them detaches, not with the
 * one that happened to create it.
 */
struct clsact_owner {
	struct clsact_owner *next;
	struct netns_id ns;
	int ifindex;
	unsigned int users;
};

static struct clsact_owner *clsact_owners;
static pthread_mutex_t clsact_owners_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *tc_dir_name(enum sgbpf_tc_dir dir)
{
	return dir == SGBPF_TC_INGRESS ? "ingress" : "egress";
}

static bool force_netlink(void)
{
	const char *v = getenv(SGBPF_ATTACH_FORCE_NETLINK_ENV);

	return v && v[0] && strcmp(v, "0") != 0;
}

static int netns_current(struct netns_id *id)
{
	struct stat st;

	if (stat("/proc/thread-self/ns/net", &st) < 0)
		return sgbpf_err(-errno, "cannot identify the current network namespace "
				 "(/proc/thread-self/ns/net): %s", strerror(errno));
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	return 0;
}

static struct clsact_owner **clsact_owner_find(const struct netns_id *ns, int ifindex)
{
	struct clsact_owner **p;

	for (p = &clsact_owners; *p; p = &(*p)->next)
		if ((*p)->ifindex == ifindex && (*p)->ns.dev == ns->dev && (*p)->ns.ino == ns->ino)
			return p;
	return NULL;
}

/* Call with clsact_owners_lock held. */
static int clsact_owner_get(const struct netns_id *ns, int ifindex, bool created, bool *ref)
{
	struct clsact_owner **p = clsact_owner_find(ns, ifindex), *o;

	*ref = false;
	if (p) {
		(*p)->users++;
		*ref = true;
		return 0;
	}
	if (!created)
		return 0;	/* somebody else's qdisc: never ours to delete */
	o = calloc(1, sizeof(*o));
	if (!o)
		return sgbpf_err(-ENOMEM, "out of memory");
	o->ns = *ns;
	o->ifindex = ifindex;
	o->users = 1;
	o->next = clsact_owners;
	clsact_owners = o;
	*ref = true;
	return 0;
}

/* Call with clsact_owners_lock held.  Returns true when the last user left. */
static bool clsact_owner_put(const struct netns_id *ns, int ifindex)
{
	struct clsact_owner **p = clsact_owner_find(ns, ifindex), *o;

	if (!p)
		return false;
	o = *p;
	if (--o->users)
		return false;
	*p = o->next;
	free(o);
	return true;
}

/*
 * Drops a reference on a clsact qdisc we created and deletes the qdisc once
 * no user in this process is left and no filter, ours or foreign, hangs
 * off it.  With a foreign filter present we leave the qdisc: deleting it
 * would take that filter with it.
 */
static void clsact_release(struct nl_sock *sk, const struct netns_id *ns, int ifindex)
{
	pthread_mutex_lock(&clsact_owners_lock);
	if (clsact_owner_put(ns, ifindex) && sgbpf_netdev_clsact_filters_sk(sk, ifindex) == 0)
		sgbpf_netdev_clsact_remove_sk(sk, ifindex);
	pthread_mutex_unlock(&clsact_owners_lock);
}

/* Reads the program's info; checks that it is of the type the hook runs. */
static int prog_info(int prog_fd, enum bpf_prog_type want, const char *hook,
		     struct bpf_prog_info *info)
{
	__u32 len = sizeof(*info);
	int err;

	memset(info, 0, sizeof(*info));
	/* libbpf 1.1 has no bpf_prog_get_info_by_fd(); this is the same call. */
	err = bpf_obj_get_info_by_fd(prog_fd, info, &len);
	if (err)
		return sgbpf_err(-EBADF, "descriptor %d is not a BPF program: %s",
				 prog_fd, strerror(-err));
	if (info->type != want)
		return sgbpf_err(-EINVAL, "program '%s' (id %u) has type %u, which cannot run at %s",
				 info->name, info->id, info->type, hook);
	return 0;
}

/* Checks that ifindex exists here and writes its name into label. */
static int ifindex_check(int ifindex, char *label, size_t len)
{
	char name[IF_NAMESIZE];

	if (ifindex <= 0 || !if_indextoname(ifindex, name)) {
		snprintf(label, len, "ifindex %d", ifindex);
		return sgbpf_err(-ENODEV, "no interface with index %d in this network namespace",
				 ifindex);
	}
	snprintf(label, len, "%s", name);
	return 0;
}

static struct sgbpf_attachment *attachment_new(enum attach_kind kind, int ifindex)
{
	struct sgbpf_attachment *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->kind = kind;
	a->ifindex = ifindex;
	a->link_fd = -1;
	a->token_fd = -1;
	return a;
}

/* ---- TC over TCX ------------------------------------------------------ */

static int tcx_link_create(int prog_fd, int ifindex, enum sgbpf_tc_dir dir)
{
	int type = dir == SGBPF_TC_INGRESS ? SGBPF_BPF_TCX_INGRESS : SGBPF_BPF_TCX_EGRESS;
	int fd;

	fd = bpf_link_create(prog_fd, ifindex, (enum bpf_attach_type)type, NULL);
	return fd < 0 ? -errno : fd;
}

/* ---- TC over netlink (clsact + cls_bpf) ------------------------------- */

static struct nl_msg *cls_msg(int type, int flags, int ifindex, uint32_t parent,
			      uint32_t handle)
{
	struct tcmsg t = {
		.tcm_family = AF_UNSPEC,
		.tcm_ifindex = ifindex,
		.tcm_handle = handle,
		.tcm_parent = parent,
		.tcm_info = TC_H_MAKE(SGBPF_CLS_PRIO << 16, htons(ETH_P_ALL)),
	};
	struct nl_msg *msg = nlmsg_alloc_simple(type, flags | NLM_F_ACK);

	if (!msg)
		return NULL;
	if (nlmsg_append(msg, &t, sizeof(t), NLMSG_ALIGNTO) < 0 ||
	    nla_put_string(msg, TCA_KIND, "bpf") < 0) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

/* Adds our filter under handle; returns 0 or the kernel's negative errno. */
static int cls_bpf_add(struct nl_sock *sk, int prog_fd, const char *name, int ifindex,
		       uint32_t parent, uint32_t handle)
{
	struct nlattr *opts;
	struct nl_msg *msg;

	/* Exclusive, so that a handle already in use is never replaced. */
	msg = cls_msg(RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL, ifindex, parent, handle);
	if (!msg)
		return -ENOMEM;
	opts = nla_nest_start(msg, TCA_OPTIONS);
	if (!opts ||
	    nla_put_u32(msg, TCA_BPF_FD, prog_fd) < 0 ||
	    nla_put_string(msg, TCA_BPF_NAME, name) < 0 ||
	    nla_put_u32(msg, TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT) < 0) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	nla_nest_end(msg, opts);
	return sgbpf_nl_errno(nl_send_sync(sk, msg));	/* frees msg */
}

static int cls_bpf_del(struct nl_sock *sk, int ifindex, uint32_t parent, uint32_t handle)
{
	struct nl_msg *msg = cls_msg(RTM_DELTFILTER, 0, ifindex, parent, handle);

	if (!msg)
		return -ENOMEM;
	return sgbpf_nl_errno(nl_send_sync(sk, msg));
}

/*
 * Adds the filter at the first free handle of our priority.  The owner
 * token of that place is bound first: the filter never exists without
 * proof that its owner lives, or another service could take it for an
 * orphan (sgbpf_inspect_reap_orphans()).
 */
static int cls_bpf_add_free_handle(struct sgbpf_attachment *a, int prog_fd, uint32_t prog_id,
				   const char *name, const char *label)
{
	uint32_t handle;
	int err = -EEXIST;

	for (handle = 1; handle <= SGBPF_CLS_MAX_HANDLE && err == -EEXIST; handle++) {
		struct sgbpf_owner_token t = { .prog_id = prog_id, .ifindex = a->ifindex,
					       .parent = a->parent, .handle = handle };

		a->token_fd = sgbpf_owner_token_hold(&t);
		if (a->token_fd == -EADDRINUSE)
			continue;	/* err stays -EEXIST: that place is somebody's */
		if (a->token_fd < 0)
			return a->token_fd;
		err = cls_bpf_add(a->sk, prog_fd, name, a->ifindex, a->parent, handle);
		if (!err) {
			a->handle = handle;
		} else {
			close(a->token_fd);
			a->token_fd = -1;
		}
	}
	if (!err)
		return 0;
	if (err == -EEXIST)
		return sgbpf_err(-ENOSPC, "%s already has %u tc filters at priority %u",
				 label, SGBPF_CLS_MAX_HANDLE, SGBPF_CLS_PRIO);
	if (err == -EPERM || err == -EACCES)
		return sgbpf_err(err, "adding a tc filter to %s needs CAP_NET_ADMIN and CAP_BPF "
				 "(run as root)", label);
	if (err == -EINVAL)
		return sgbpf_err(err, "the kernel refused a cls_bpf filter on %s at priority %u "
				 "(is a filter of another kind using that priority?)",
				 label, SGBPF_CLS_PRIO);
	return sgbpf_err(err, "cannot add a cls_bpf filter to %s: %s", label, strerror(-err));
}

static int attach_tc_netlink(int prog_fd, const struct bpf_prog_info *info, int ifindex,
			     enum sgbpf_tc_dir dir, const char *label,
			     struct sgbpf_attachment **out)
{
	struct sgbpf_attachment *a;
	char name[64];
	bool created = false;
	int err;

	a = attachment_new(ATTACH_CLS_BPF, ifindex);
	if (!a)
		return sgbpf_err(-ENOMEM, "out of memory");
	a->parent = TC_H_MAKE(TC_H_CLSACT,
			      dir == SGBPF_TC_INGRESS ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS);
	/* The name shows in `tc filter show`: say who put the filter there. */
	snprintf(name, sizeof(name), "sgbpf:%s", info->name[0] ? info->name : "prog");

	err = netns_current(&a->ns);
	if (err)
		goto err_free;
	err = sgbpf_nl_open(&a->sk);
	if (err)
		goto err_free;

	pthread_mutex_lock(&clsact_owners_lock);
	err = sgbpf_netdev_clsact_ensure_sk(a->sk, ifindex, &created);
	if (!err)
		err = clsact_owner_get(&a->ns, ifindex, created, &a->qdisc_ref);
	if (err && created)
		sgbpf_netdev_clsact_remove_sk(a->sk, ifindex);
	pthread_mutex_unlock(&clsact_owners_lock);
	if (err)
		goto err_close;

	/*
	 * Filters of a dead instance of ours would keep steering traffic:
	 * remove them first.  Best effort: a scan that fails (no CAP_SYS_ADMIN
	 * to read BPF objects by id) must not stop a working set-up.
	 */
	sgbpf_inspect_reap_orphans(ifindex, NULL);
	err = cls_bpf_add_free_handle(a, prog_fd, info->id, name, label);
	if (err)
		goto err_release;
	*out = a;
	return 0;

err_release:
	if (a->qdisc_ref)
		clsact_release(a->sk, &a->ns, ifindex);
err_close:
	sgbpf_nl_close(a->sk);
err_free:
	free(a);
	return err;
}

int sgbpf_attach_tc(int prog_fd, int ifindex, enum sgbpf_tc_dir dir,
		    struct sgbpf_attachment **out)
{
	struct bpf_prog_info info;
	struct sgbpf_attachment *a;
	char label[IF_NAMESIZE + 16], hook[64];
	int fd, err;

	*out = NULL;
	if (dir != SGBPF_TC_INGRESS && dir != SGBPF_TC_EGRESS)
		return sgbpf_err(-EINVAL, "unknown TC direction %d", dir);
	err = ifindex_check(ifindex, label, sizeof(label));
	if (err)
		return err;
	snprintf(hook, sizeof(hook), "TC %s of %s", tc_dir_name(dir), label);
	err = prog_info(prog_fd, BPF_PROG_TYPE_SCHED_CLS, hook, &info);
	if (err)
		return err;

	if (force_netlink())
		return attach_tc_netlink(prog_fd, &info, ifindex, dir, label, out);

	fd = tcx_link_create(prog_fd, ifindex, dir);
	/* A kernel without TCX does not know the attach type. */
	if (fd == -EINVAL || fd == -EOPNOTSUPP)
		return attach_tc_netlink(prog_fd, &info, ifindex, dir, label, out);
	if (fd == -EPERM || fd == -EACCES)
		return sgbpf_err(fd, "attaching a program to the %s needs CAP_NET_ADMIN and "
				 "CAP_BPF (run as root)", hook);
	if (fd == -ENODEV)
		return sgbpf_err(fd, "no interface with index %d in this network namespace",
				 ifindex);
	if (fd < 0)
		return sgbpf_err(fd, "cannot attach program '%s' to the %s: %s",
				 info.name, hook, strerror(-fd));

	a = attachment_new(ATTACH_LINK, ifindex);
	if (!a) {
		close(fd);
		return sgbpf_err(-ENOMEM, "out of memory");
	}
	a->link_fd = fd;
	*out = a;
	return 0;
}

/* ---- XDP -------------------------------------------------------------- */

/* Refuses with -EBUSY when ifindex already runs an XDP program. */
static int xdp_check_free(int ifindex, const char *label)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct bpf_prog_info info = {};
	__u32 id, len = sizeof(info);
	const char *mode;
	int err, fd;

	err = bpf_xdp_query(ifindex, 0, &q);
	if (err == -EPERM || err == -EACCES)
		return sgbpf_err(err, "querying XDP on %s needs CAP_NET_ADMIN (run as root)", label);
	if (err)
		return sgbpf_err(err, "cannot query the XDP program of %s: %s", label,
				 strerror(-err));

	if (q.drv_prog_id) {
		id = q.drv_prog_id;
		mode = "native";
	} else if (q.skb_prog_id) {
		id = q.skb_prog_id;
		mode = "generic";
	} else if (q.hw_prog_id) {
		id = q.hw_prog_id;
		mode = "offloaded";
	} else if (q.prog_id) {
		id = q.prog_id;
		mode = "some";
	} else {
		return 0;
	}

	fd = bpf_prog_get_fd_by_id(id);
	if (fd >= 0) {
		if (bpf_obj_get_info_by_fd(fd, &info, &len))
			info.name[0] = '\0';
		close(fd);
	}
	return sgbpf_err(-EBUSY, "%s already runs XDP program '%s' (id %u) in %s mode; "
			 "it is not ours to replace: detach it first "
			 "(e.g. `ip link set dev %s xdp off`)",
			 label, info.name[0] ? info.name : "?", id, mode, label);
}

static int xdp_link_create(int prog_fd, int ifindex, __u32 mode_flag)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = mode_flag);
	int fd;

	fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &opts);
	return fd < 0 ? -errno : fd;
}

static int xdp_error(int err, const char *label, bool native, const char *prog)
{
	const char *mode = native ? "native" : "generic";

	switch (err) {
	case -EPERM:
	case -EACCES:
		return sgbpf_err(err, "attaching XDP to %s needs CAP_NET_ADMIN and CAP_BPF "
				 "(run as root)", label);
	case -EBUSY:
	case -EEXIST:
		return sgbpf_err(-EBUSY, "%s got another XDP program while '%s' was being "
				 "attached; it is not ours to replace", label, prog);
	case -ENODEV:
		return sgbpf_err(err, "no interface %s in this network namespace", label);
	case -EOPNOTSUPP:
		if (native)
			return sgbpf_err(err, "the driver of %s has no native XDP support; "
					 "use generic mode", label);
		break;
	case -EINVAL:
		if (native)
			return sgbpf_err(err, "the driver of %s refused native XDP for '%s' "
					 "(MTU or queue limits?); use generic mode", label, prog);
		return sgbpf_err(err, "the kernel refused an XDP bpf_link on %s in %s mode: "
				 "XDP links need Linux 5.9 or later", label, mode);
	}
	return sgbpf_err(err, "cannot attach XDP program '%s' to %s in %s mode: %s",
			 prog, label, mode, strerror(-err));
}

int sgbpf_attach_xdp(int prog_fd, int ifindex, enum sgbpf_xdp_mode mode,
		     struct sgbpf_attachment **out, bool *native)
{
	struct bpf_prog_info info;
	struct sgbpf_attachment *a;
	char label[IF_NAMESIZE + 16], hook[64];
	bool try_native, try_generic;
	int fd = -EINVAL, err;

	*out = NULL;
	if (native)
		*native = false;
	if (mode != SGBPF_XDP_AUTO && mode != SGBPF_XDP_NATIVE && mode != SGBPF_XDP_GENERIC)
		return sgbpf_err(-EINVAL, "unknown XDP mode %d", mode);
	err = ifindex_check(ifindex, label, sizeof(label));
	if (err)
		return err;
	snprintf(hook, sizeof(hook), "XDP of %s", label);
	err = prog_info(prog_fd, BPF_PROG_TYPE_XDP, hook, &info);
	if (err)
		return err;
	err = xdp_check_free(ifindex, label);
	if (err)
		return err;

	try_native = mode != SGBPF_XDP_GENERIC;
	try_generic = mode != SGBPF_XDP_NATIVE;
	if (try_native) {
		fd = xdp_link_create(prog_fd, ifindex, XDP_FLAGS_DRV_MODE);
		/* AUTO: a driver without XDP support gets the generic hook. */
		if (fd < 0 && !(try_generic && (fd == -EOPNOTSUPP || fd == -EINVAL)))
			return xdp_error(fd, label, true, info.name);
		try_native = fd >= 0;
	}
	if (!try_native) {
		fd = xdp_link_create(prog_fd, ifindex, XDP_FLAGS_SKB_MODE);
		if (fd < 0)
			return xdp_error(fd, label, false, info.name);
	}

	a = attachment_new(ATTACH_LINK, ifindex);
	if (!a) {
		close(fd);
		return sgbpf_err(-ENOMEM, "out of memory");
	}
	a->link_fd = fd;
	if (native)
		*native = try_native;
	*out = a;
	return 0;
}

/* ---- detach ----------------------------------------------------------- */

static void detach_cls_bpf(struct sgbpf_attachment *a)
{
	int err;

	/* a->sk lives in the filter's namespace, wherever this thread is now. */
	err = cls_bpf_del(a->sk, a->ifindex, a->parent, a->handle);
	/* ENOENT/ENODEV/EINVAL: the filter, its qdisc or its device is already gone. */
	if (err && err != -ENOENT && err != -ENODEV && err != -EINVAL)
		sgbpf_err(err, "cannot delete tc filter %u of ifindex %d: %s",
			  a->handle, a->ifindex, strerror(-err));
	if (a->qdisc_ref)
		clsact_release(a->sk, &a->ns, a->ifindex);
	sgbpf_nl_close(a->sk);
	/* Last: the filter is gone, nothing is left to prove alive. */
	if (a->token_fd >= 0)
		close(a->token_fd);
}

void sgbpf_detach(struct sgbpf_attachment *a)
{
	if (!a)
		return;
	if (a->kind == ATTACH_CLS_BPF)
		detach_cls_bpf(a);
	else if (a->link_fd >= 0)
		close(a->link_fd);	/* the last reference: the kernel detaches */
	free(a);
}
