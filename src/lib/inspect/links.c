// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The bpf_link walk: every link in the system is visited by id, and the
 * XDP and TCX links whose program is one of ours (by name, and using an
 * sgbpf_cfg map) are added to the scan, provided the interface with their
 * index in the calling thread's namespace really runs their program, so
 * that links of other namespaces are left out.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "error.h"
#include "inspect/inspect_priv.h"

/* Link types and TCX attach types; libbpf 1.1's headers predate TCX. */
#define LINK_TYPE_XDP 6
#define LINK_TYPE_TCX 11
#define ATTACH_TCX_INGRESS 46
#define ATTACH_TCX_EGRESS 47

/*
 * The head of the kernel's struct bpf_link_info as far as XDP and TCX
 * links go.  The union after prog_id holds 64-bit members, hence starts at
 * offset 16.  The tail is room for the larger union members of other link
 * types; it goes in zeroed, as the kernel requires of bytes it does not know.
 */
struct link_info_raw {
	__u32 type;
	__u32 id;
	__u32 prog_id;
	__u32 pad;
	union {
		struct {
			__u32 ifindex;
		} xdp;
		struct {
			__u32 ifindex;
			__u32 attach_type;
		} tcx;
		__u8 room[112];
	};
} __attribute__((aligned(8)));

static const char *const our_progs[] = { "sgbpf_gather", "sgbpf_gather_tc", "sgbpf_scatter" };

static bool is_our_prog_name(const char *name)
{
	for (size_t i = 0; i < sizeof(our_progs) / sizeof(our_progs[0]); i++)
		if (!strcmp(name, our_progs[i]))
			return true;
	return false;
}

/*
 * Where an XDP program runs on ifindex of this namespace, or -ENOENT when
 * it does not run there (the link is in another namespace, or detached).
 */
static int xdp_hook_here(int ifindex, uint32_t prog_id, enum sgbpf_inspect_hook *hook)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	if (ifindex <= 0 || bpf_xdp_query(ifindex, 0, &q))
		return -ENOENT;
	if (q.drv_prog_id == prog_id)
		*hook = SGBPF_HOOK_XDP_NATIVE;
	else if (q.skb_prog_id == prog_id)
		*hook = SGBPF_HOOK_XDP_GENERIC;
	else if (q.hw_prog_id == prog_id)
		*hook = SGBPF_HOOK_XDP_OFFLOAD;
	else
		return -ENOENT;
	return 0;
}

/* Whether prog_id is on the TCX list of ifindex of this namespace. */
static bool tcx_runs_here(int ifindex, uint32_t attach_type, uint32_t prog_id)
{
	__u32 ids[256], cnt = 256, flags = 0;

	if (ifindex <= 0 ||
	    bpf_prog_query(ifindex, (enum bpf_attach_type)attach_type, 0, &flags, ids, &cnt))
		return false;
	for (__u32 i = 0; i < cnt && i < 256; i++)
		if (ids[i] == prog_id)
			return true;
	return false;
}

int sgbpf_inspect_link_info(uint32_t id, void *info, uint32_t len)
{
	int fd = bpf_link_get_fd_by_id(id), err;

	if (fd < 0)
		return -errno;
	/* Zeroed: the kernel refuses bytes it does not know unless they are 0. */
	memset(info, 0, len);
	err = bpf_obj_get_info_by_fd(fd, info, &len) ? -errno : 0;
	close(fd);
	return err;
}

/* Keeps link id when it is an XDP or TCX link of ours in this namespace. */
static int link_consider(struct scan *s, uint32_t id)
{
	struct sgbpf_inspect_attach a = { .link_id = id };
	struct link_info_raw li;
	struct prog_facts pf;
	int err = sgbpf_inspect_link_info(id, &li, sizeof(li));

	if (err)
		return err == -ENOENT ? 0 : err;	/* gone meanwhile */
	if (li.type == LINK_TYPE_XDP) {
		a.ifindex = (int)li.xdp.ifindex;
	} else if (li.type == LINK_TYPE_TCX) {
		a.ifindex = (int)li.tcx.ifindex;
		if (li.tcx.attach_type == ATTACH_TCX_INGRESS)
			a.hook = SGBPF_HOOK_TC_INGRESS;
		else if (li.tcx.attach_type == ATTACH_TCX_EGRESS)
			a.hook = SGBPF_HOOK_TC_EGRESS;
		else
			return 0;
	} else {
		return 0;
	}
	/* A link detached by force keeps existing with ifindex 0. */
	if (a.ifindex <= 0 || (s->ifindex && a.ifindex != s->ifindex))
		return 0;

	err = sgbpf_inspect_prog_facts(li.prog_id, &pf);
	if (err)
		return err == -ENOENT ? 0 : err;
	/* A program that merely shares a name with ours has no sgbpf_cfg map. */
	if (!is_our_prog_name(pf.name) || !pf.cfg_map)
		return 0;
	a.prog_id = li.prog_id;
	snprintf(a.prog, sizeof(a.prog), "%s", pf.name);

	if (li.type == LINK_TYPE_XDP) {
		if (xdp_hook_here(a.ifindex, a.prog_id, &a.hook))
			return 0;
	} else if (!tcx_runs_here(a.ifindex, li.tcx.attach_type, a.prog_id)) {
		return 0;
	}
	return sgbpf_inspect_service_add(s, &pf, &a);
}

int sgbpf_inspect_for_each_link(int (*fn)(void *ctx, uint32_t id), void *ctx)
{
	__u32 id = 0;
	int err;

	for (;;) {
		if (bpf_link_get_next_id(id, &id)) {
			if (errno == ENOENT)
				return 0;
			err = -errno;
			if (err == -EPERM || err == -EACCES)
				return sgbpf_err(err, "listing BPF links needs CAP_SYS_ADMIN "
						 "(run as root)");
			return sgbpf_err(err, "cannot list BPF links: %s", strerror(-err));
		}
		err = fn(ctx, id);
		if (err == -EPERM || err == -EACCES)
			return sgbpf_err(err, "reading BPF links and programs needs CAP_SYS_ADMIN "
					 "(run as root)");
		if (err)
			return sgbpf_err(err, "cannot read BPF link %u: %s", id, strerror(-err));
	}
}

static int link_consider_cb(void *ctx, uint32_t id)
{
	return link_consider(ctx, id);
}

int sgbpf_inspect_links_walk(struct scan *s)
{
	return sgbpf_inspect_for_each_link(link_consider_cb, s);
}
