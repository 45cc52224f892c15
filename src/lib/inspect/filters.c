// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The netlink fallback's side of the scan: its cls_bpf filters, named
 * "sgbpf:<program>", are dumped over netlink from both clsact parents of
 * each interface and added to the scan.  The same dump, with no scan,
 * counts the filters that are not ours for sgbpf_inspect_clsact(), which
 * also tells whether an interface has a clsact qdisc at all.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>

#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>

#include "error.h"
#include "inspect/inspect_priv.h"
#include "netdev.h"

/* The fallback's filter names (attach.c): "sgbpf:<program>". */
#define FILTER_PREFIX "sgbpf:"

/* ---- netlink-fallback filters ----------------------------------------- */

struct filter_dump {
	struct scan *s;
	int ifindex;
	uint32_t parent;
	int err;
	/* For sgbpf_inspect_clsact(): filters not ours. */
	int foreign;
};

static int filter_parse(struct nl_msg *msg, void *arg)
{
	struct filter_dump *d = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct nlattr *tb[TCA_MAX + 1], *opt[TCA_BPF_MAX + 1];
	struct sgbpf_inspect_attach a = { .netlink = true };
	struct tcmsg *t = nlmsg_data(nlh);
	struct prog_facts pf;
	const char *name;
	int err;

	if (nlh->nlmsg_type != RTM_NEWTFILTER ||
	    nlmsg_parse(nlh, sizeof(*t), tb, TCA_MAX, NULL) < 0)
		return NL_OK;
	/* A dump lists each classifier instance (handle 0) before its filters. */
	if (!t->tcm_handle || t->tcm_ifindex != d->ifindex)
		return NL_OK;
	if (!tb[TCA_KIND] || strcmp(nla_get_string(tb[TCA_KIND]), "bpf") || !tb[TCA_OPTIONS] ||
	    nla_parse_nested(opt, TCA_BPF_MAX, tb[TCA_OPTIONS], NULL) < 0 || !opt[TCA_BPF_NAME] ||
	    strncmp(nla_get_string(opt[TCA_BPF_NAME]), FILTER_PREFIX, strlen(FILTER_PREFIX))) {
		d->foreign++;
		return NL_OK;
	}
	if (!d->s)
		return NL_OK;
	name = nla_get_string(opt[TCA_BPF_NAME]) + strlen(FILTER_PREFIX);
	a.ifindex = d->ifindex;
	a.hook = d->parent == TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS) ? SGBPF_HOOK_TC_INGRESS :
									    SGBPF_HOOK_TC_EGRESS;
	a.tc_parent = d->parent;
	a.tc_handle = t->tcm_handle;
	a.tc_prio = TC_H_MAJ(t->tcm_info) >> 16;
	a.tc_proto = TC_H_MIN(t->tcm_info);
	a.prog_id = opt[TCA_BPF_ID] ? nla_get_u32(opt[TCA_BPF_ID]) : 0;
	snprintf(a.prog, sizeof(a.prog), "%s", name);
	memset(&pf, 0, sizeof(pf));
	if (a.prog_id) {
		err = sgbpf_inspect_prog_facts(a.prog_id, &pf);
		if (err && err != -ENOENT) {
			d->err = err;
			return NL_STOP;
		}
		if (!err)
			snprintf(a.prog, sizeof(a.prog), "%s", pf.name);
	}
	err = sgbpf_inspect_service_add(d->s, &pf, &a);
	if (err) {
		d->err = err;
		return NL_STOP;
	}
	return NL_OK;
}

/* Dumps the filters of one clsact parent of ifindex through filter_parse(). */
static int filter_dump_parent(struct nl_sock *sk, struct filter_dump *d)
{
	struct tcmsg t = {
		.tcm_family = AF_UNSPEC,
		.tcm_ifindex = d->ifindex,
		.tcm_parent = d->parent,
	};
	int err;

	err = nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, filter_parse, d);
	if (err < 0)
		return -ENOMEM;
	err = sgbpf_nl_errno(nl_send_simple(sk, RTM_GETTFILTER, NLM_F_DUMP, &t, sizeof(t)));
	if (err < 0)
		return err;
	err = sgbpf_nl_errno(nl_recvmsgs_default(sk));
	if (d->err)
		return d->err;
	/* No clsact qdisc: nothing hangs there. */
	if (err == -EINVAL || err == -ENOENT)
		return 0;
	return err < 0 ? err : 0;
}

static int filters_of(struct nl_sock *sk, struct scan *s, int ifindex, int *foreign)
{
	static const uint32_t parents[] = {
		TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS),
		TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS),
	};

	for (size_t i = 0; i < 2; i++) {
		struct filter_dump d = { .s = s, .ifindex = ifindex, .parent = parents[i] };
		int err = filter_dump_parent(sk, &d);

		if (err)
			return err;
		if (foreign)
			*foreign += d.foreign;
	}
	return 0;
}

int sgbpf_inspect_filters_walk(struct scan *s)
{
	struct if_nameindex *ifs = NULL, *p;
	struct nl_sock *sk;
	char label[32];
	int err;

	err = sgbpf_nl_open(&sk);
	if (err)
		return err;
	if (s->ifindex) {
		err = filters_of(sk, s, s->ifindex, NULL);
		goto out;
	}
	ifs = if_nameindex();
	if (!ifs) {
		err = sgbpf_err(-errno, "cannot list interfaces: %s", strerror(errno));
		goto out;
	}
	for (p = ifs; p->if_index && !err; p++)
		err = filters_of(sk, s, (int)p->if_index, NULL);
out:
	if (err && err != -ENOMEM)
		err = sgbpf_err(err, "cannot list the tc filters of %s: %s",
				s->ifindex ? sgbpf_netdev_label(s->ifindex, label, sizeof(label)) :
					     "the interfaces", strerror(-err));
	if (ifs)
		if_freenameindex(ifs);
	sgbpf_nl_close(sk);
	return err;
}

/* ---- the clsact qdisc ------------------------------------------------- */

struct qdisc_dump {
	int ifindex;
	bool clsact;
};

static int qdisc_parse(struct nl_msg *msg, void *arg)
{
	struct qdisc_dump *d = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct tcmsg *t = nlmsg_data(nlh);
	struct nlattr *tb[TCA_MAX + 1];

	if (nlh->nlmsg_type != RTM_NEWQDISC ||
	    nlmsg_parse(nlh, sizeof(*t), tb, TCA_MAX, NULL) < 0)
		return NL_OK;
	if (t->tcm_ifindex == d->ifindex && t->tcm_parent == TC_H_CLSACT && tb[TCA_KIND] &&
	    !strcmp(nla_get_string(tb[TCA_KIND]), "clsact"))
		d->clsact = true;
	return NL_OK;
}

int sgbpf_inspect_clsact(int ifindex, bool *has_clsact, int *foreign_filters)
{
	struct tcmsg t = { .tcm_family = AF_UNSPEC, .tcm_ifindex = ifindex };
	struct qdisc_dump d = { .ifindex = ifindex };
	struct nl_sock *sk;
	int err, foreign = 0;

	*has_clsact = false;
	*foreign_filters = 0;
	err = sgbpf_nl_open(&sk);
	if (err)
		return err;
	err = nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, qdisc_parse, &d);
	if (err < 0) {
		err = -ENOMEM;
		goto out;
	}
	err = sgbpf_nl_errno(nl_send_simple(sk, RTM_GETQDISC, NLM_F_DUMP, &t, sizeof(t)));
	if (err >= 0)
		err = sgbpf_nl_errno(nl_recvmsgs_default(sk));
	if (err < 0)
		goto out;
	*has_clsact = d.clsact;
	err = *has_clsact ? filters_of(sk, NULL, ifindex, &foreign) : 0;
	*foreign_filters = foreign;
out:
	sgbpf_nl_close(sk);
	if (err < 0)
		return sgbpf_err(err, "cannot list the qdiscs of ifindex %d: %s", ifindex,
				 strerror(-err));
	return 0;
}
