// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Taking services down: one attachment at a time for `sgbpf teardown`, a
 * bpf_link by forced detach and a netlink-fallback filter by deleting it,
 * and, for attach.c, the reaping of fallback filters whose owner is proven
 * dead, found with a scan and the owner tokens.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>

#include <bpf/bpf.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>

#include "error.h"
#include "inspect.h"
#include "netdev.h"

/* ---- removal ---------------------------------------------------------- */

static int filter_delete(const struct sgbpf_inspect_attach *a)
{
	struct tcmsg t = {
		.tcm_family = AF_UNSPEC,
		.tcm_ifindex = a->ifindex,
		.tcm_handle = a->tc_handle,
		.tcm_parent = a->tc_parent,
		.tcm_info = TC_H_MAKE((uint32_t)a->tc_prio << 16, a->tc_proto),
	};
	struct nl_sock *sk;
	struct nl_msg *msg;
	int err;

	err = sgbpf_nl_open(&sk);
	if (err)
		return err;
	msg = nlmsg_alloc_simple(RTM_DELTFILTER, NLM_F_ACK);
	if (!msg || nlmsg_append(msg, &t, sizeof(t), NLMSG_ALIGNTO) < 0 ||
	    nla_put_string(msg, TCA_KIND, "bpf") < 0) {
		nlmsg_free(msg);
		sgbpf_nl_close(sk);
		return sgbpf_err(-ENOMEM, "out of memory");
	}
	err = sgbpf_nl_errno(nl_send_sync(sk, msg));	/* frees msg */
	sgbpf_nl_close(sk);
	if (err == -ENOENT || err == -ENODEV)
		return 0;	/* already gone */
	if (err == -EPERM || err == -EACCES)
		return sgbpf_err(err, "deleting tc filters needs CAP_NET_ADMIN (run as root)");
	if (err)
		return sgbpf_err(err, "cannot delete tc filter %u (pref %u) of ifindex %d: %s",
				 a->tc_handle, a->tc_prio, a->ifindex, strerror(-err));
	return 0;
}

static int link_force_detach(const struct sgbpf_inspect_attach *a)
{
	int fd, err = 0;

	fd = bpf_link_get_fd_by_id(a->link_id);
	if (fd < 0) {
		err = -errno;
		if (err == -ENOENT)
			return 0;	/* its owner closed it meanwhile */
		if (err == -EPERM || err == -EACCES)
			return sgbpf_err(err, "detaching BPF links needs CAP_SYS_ADMIN and "
					 "CAP_NET_ADMIN (run as root)");
		return sgbpf_err(err, "cannot open BPF link %u: %s", a->link_id, strerror(-err));
	}
	/*
	 * The owner's descriptor stays valid but points at a link with no
	 * hook; its traffic simply stops being scattered and gathered.
	 */
	if (bpf_link_detach(fd)) {
		err = -errno;
		err = sgbpf_err(err, "cannot detach BPF link %u (%s on ifindex %d): %s", a->link_id,
				sgbpf_inspect_hook_name(a->hook), a->ifindex, strerror(-err));
	}
	close(fd);
	return err;
}

int sgbpf_inspect_remove(const struct sgbpf_inspect_attach *a)
{
	return a->netlink ? filter_delete(a) : link_force_detach(a);
}

/* A service whose owner is proven dead: nobody seen holding it, no token held. */
static bool owner_dead(const struct sgbpf_inspect_service *svc)
{
	if (svc->nowners || svc->more_owners)
		return false;
	for (unsigned int k = 0; k < svc->natt; k++) {
		const struct sgbpf_inspect_attach *a = &svc->att[k];
		struct sgbpf_owner_token t = { .prog_id = a->prog_id, .ifindex = a->ifindex,
					       .parent = a->tc_parent, .handle = a->tc_handle };

		/* Without the program's id there is no token to look at: no proof. */
		if (a->netlink && (!a->prog_id || sgbpf_owner_token_held(&t) != 0))
			return false;
	}
	return true;
}

/*
 * The netlink fallback's filters outlive their process.  A service whose
 * owner is proven dead (owner_dead()) is a dead instance of ours: its
 * filters go.  /proc alone proves nothing: it shows the processes of one
 * PID namespace, and a live service in another one, sharing this network
 * namespace, would look dead.  Links are left alone: a link whose owner
 * died is already gone.
 */
int sgbpf_inspect_reap_orphans(int ifindex, unsigned int *removed)
{
	struct sgbpf_inspect in = { 0 };
	unsigned int n = 0;
	int err;

	err = sgbpf_inspect_scan(ifindex, &in);
	if (err)
		return err;
	for (size_t i = 0; i < in.n; i++) {
		struct sgbpf_inspect_service *svc = &in.svc[i];

		if (!owner_dead(svc))
			continue;
		for (unsigned int k = 0; k < svc->natt; k++) {
			if (!svc->att[k].netlink)
				continue;
			err = sgbpf_inspect_remove(&svc->att[k]);
			if (err)
				break;
			n++;
		}
		if (err)
			break;
	}
	sgbpf_inspect_free(&in);
	if (removed)
		*removed = n;
	return err;
}
