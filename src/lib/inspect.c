// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sgbpf services as the kernel sees them.
 *
 * Nothing is pinned, so there is no directory to list: services are found
 * the way bpftool finds links.  Every bpf_link in the system is walked by
 * id; XDP and TCX links whose program is one of ours are kept; the maps of
 * that program give the service's configuration and counters; the processes
 * holding the link (or, for the netlink fallback, the program) in their
 * descriptor tables are its owners.  Descriptors obtained by id are closed
 * before /proc is scanned, so that this process never counts as an owner.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>

#include "error.h"
#include "inspect.h"
#include "netdev.h"

/* Link types and TCX attach types; libbpf 1.1's headers predate TCX. */
#define LINK_TYPE_XDP 6
#define LINK_TYPE_TCX 11
#define ATTACH_TCX_INGRESS 46
#define ATTACH_TCX_EGRESS 47

/* The fallback's filter names (attach.c): "sgbpf:<program>". */
#define FILTER_PREFIX "sgbpf:"

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

/* What one program tells about the service it belongs to. */
struct prog_facts {
	char name[16];
	uint32_t cfg_map;
	uint32_t stats_map;
	uint32_t reducer_map;
};

/* Per-service ids gathered while scanning, used to fill the details. */
struct svc_maps {
	uint32_t stats_map;
	uint32_t reducer_map;
};

struct scan {
	int ifindex;		/* 0: every interface */
	struct sgbpf_inspect out;
	struct svc_maps *maps;	/* parallel to out.svc */
	size_t cap;
};

static const char *const our_progs[] = { "sgbpf_gather", "sgbpf_gather_tc", "sgbpf_scatter" };

const char *sgbpf_inspect_hook_name(enum sgbpf_inspect_hook h)
{
	switch (h) {
	case SGBPF_HOOK_XDP_NATIVE:	return "xdp native";
	case SGBPF_HOOK_XDP_GENERIC:	return "xdp generic";
	case SGBPF_HOOK_XDP_OFFLOAD:	return "xdp offload";
	case SGBPF_HOOK_TC_INGRESS:	return "tc ingress";
	case SGBPF_HOOK_TC_EGRESS:	return "tc egress";
	}
	return "?";
}

static bool is_our_prog_name(const char *name)
{
	for (size_t i = 0; i < sizeof(our_progs) / sizeof(our_progs[0]); i++)
		if (!strcmp(name, our_progs[i]))
			return true;
	return false;
}

void sgbpf_inspect_free(struct sgbpf_inspect *in)
{
	free(in->svc);
	in->svc = NULL;
	in->n = 0;
}

/* ---- programs and maps ------------------------------------------------ */

static int map_name_by_id(uint32_t id, char *name, size_t len)
{
	struct bpf_map_info info = {};
	__u32 ilen = sizeof(info);
	int fd, err = 0;

	fd = bpf_map_get_fd_by_id(id);
	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &ilen))
		err = -errno;
	else
		snprintf(name, len, "%s", info.name);
	close(fd);
	return err;
}

/*
 * Reads the name and the sgbpf maps of program id.  Returns 0, -ENOENT
 * when the program is gone, or another negative errno.
 */
static int prog_facts(uint32_t id, struct prog_facts *pf)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), nmaps, *ids = NULL;
	int fd, err = 0;

	memset(pf, 0, sizeof(*pf));
	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return -errno;
	/* Twice: the first call says how many maps, the second lists them. */
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		err = -errno;
		goto out;
	}
	snprintf(pf->name, sizeof(pf->name), "%s", info.name);
	nmaps = info.nr_map_ids;
	if (!nmaps)
		goto out;
	ids = calloc(nmaps, sizeof(*ids));
	if (!ids) {
		err = -ENOMEM;
		goto out;
	}
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = nmaps;
	info.map_ids = (__u64)(unsigned long)ids;
	len = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		err = -errno;
		goto out;
	}
	if (info.nr_map_ids < nmaps)
		nmaps = info.nr_map_ids;
	for (__u32 i = 0; i < nmaps; i++) {
		char name[16];

		if (map_name_by_id(ids[i], name, sizeof(name)))
			continue;	/* freed meanwhile */
		if (!strcmp(name, "sgbpf_cfg"))
			pf->cfg_map = ids[i];
		else if (!strcmp(name, "sgbpf_stats"))
			pf->stats_map = ids[i];
		else if (!strcmp(name, "sgbpf_reducer") || !strcmp(name, "sgbpf_reducer_t"))
			pf->reducer_map = ids[i];
	}
out:
	free(ids);
	close(fd);
	return err;
}

/*
 * The program's full name from its BTF: the kernel keeps only 15
 * characters in bpf_prog_info.name, too few for "sgbpf_reduce_sum_u32".
 */
static void prog_full_name(uint32_t id, char *buf, size_t len)
{
	struct bpf_func_info finfo = {};
	struct bpf_prog_info info = {};
	__u32 ilen = sizeof(info);
	const struct btf_type *t;
	struct btf *btf;
	int fd;

	buf[0] = '\0';
	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return;
	info.nr_func_info = 1;
	info.func_info_rec_size = sizeof(finfo);
	info.func_info = (__u64)(unsigned long)&finfo;
	if (bpf_obj_get_info_by_fd(fd, &info, &ilen)) {
		close(fd);
		return;
	}
	close(fd);
	snprintf(buf, len, "%s", info.name);
	if (!info.btf_id || !info.nr_func_info)
		return;
	btf = btf__load_from_kernel_by_id(info.btf_id);
	if (!btf)
		return;
	t = btf__type_by_id(btf, finfo.type_id);
	if (t && t->name_off)
		snprintf(buf, len, "%s", btf__name_by_offset(btf, t->name_off));
	btf__free(btf);
}

/* ---- services --------------------------------------------------------- */

static struct sgbpf_inspect_service *service_find(struct scan *s, uint32_t cfg_map)
{
	for (size_t i = 0; cfg_map && i < s->out.n; i++)
		if (s->out.svc[i].cfg_map_id == cfg_map)
			return &s->out.svc[i];
	return NULL;
}

/* The service of a program, created on first sight; NULL when out of memory. */
static struct sgbpf_inspect_service *service_get(struct scan *s, const struct prog_facts *pf)
{
	struct sgbpf_inspect_service *svc = service_find(s, pf->cfg_map);
	struct svc_maps *m;

	/* Attachments without a known configuration stay alone (cfg_map 0). */
	if (!svc) {
		if (s->out.n == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 8;
			void *p = realloc(s->out.svc, cap * sizeof(*s->out.svc));

			if (!p)
				return NULL;
			s->out.svc = p;
			p = realloc(s->maps, cap * sizeof(*s->maps));
			if (!p)
				return NULL;
			s->maps = p;
			s->cap = cap;
		}
		svc = &s->out.svc[s->out.n];
		memset(svc, 0, sizeof(*svc));
		memset(&s->maps[s->out.n], 0, sizeof(s->maps[0]));
		svc->cfg_map_id = pf->cfg_map;
		svc->ifindex = -1;
		s->out.n++;
	}
	m = &s->maps[svc - s->out.svc];
	if (!m->stats_map)
		m->stats_map = pf->stats_map;
	if (!m->reducer_map)
		m->reducer_map = pf->reducer_map;
	return svc;
}

static int service_add(struct scan *s, const struct prog_facts *pf,
		       const struct sgbpf_inspect_attach *a)
{
	struct sgbpf_inspect_service *svc = service_get(s, pf);

	if (!svc)
		return sgbpf_err(-ENOMEM, "out of memory");
	if (svc->natt == SGBPF_INSPECT_MAX_ATTACH)
		return 0;	/* cannot happen with our programs; keep what fits */
	svc->att[svc->natt++] = *a;
	if (svc->ifindex < 0) {
		svc->ifindex = a->ifindex;
		if (!if_indextoname(a->ifindex, svc->ifname))
			snprintf(svc->ifname, sizeof(svc->ifname), "ifindex %d", a->ifindex);
	}
	return 0;
}

/* ---- links ------------------------------------------------------------ */

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

/* Keeps link id when it is an XDP or TCX link of ours in this namespace. */
static int link_consider(struct scan *s, uint32_t id)
{
	struct sgbpf_inspect_attach a = { .link_id = id };
	struct link_info_raw li;
	struct prog_facts pf;
	__u32 len = sizeof(li);
	int fd, err;

	fd = bpf_link_get_fd_by_id(id);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;	/* gone meanwhile */
	memset(&li, 0, sizeof(li));
	err = bpf_obj_get_info_by_fd(fd, &li, &len) ? -errno : 0;
	close(fd);
	if (err)
		return err == -ENOENT ? 0 : err;
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

	err = prog_facts(li.prog_id, &pf);
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
	return service_add(s, &pf, &a);
}

static int links_walk(struct scan *s)
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
		err = link_consider(s, id);
		if (err == -EPERM || err == -EACCES)
			return sgbpf_err(err, "reading BPF links and programs needs CAP_SYS_ADMIN "
					 "(run as root)");
		if (err)
			return sgbpf_err(err, "cannot read BPF link %u: %s", id, strerror(-err));
	}
}

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
		err = prog_facts(a.prog_id, &pf);
		if (err && err != -ENOENT) {
			d->err = err;
			return NL_STOP;
		}
		if (!err)
			snprintf(a.prog, sizeof(a.prog), "%s", pf.name);
	}
	err = service_add(d->s, &pf, &a);
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

static int filters_walk(struct scan *s)
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

/* ---- details: configuration, counters, reduction ---------------------- */

static void read_config(struct sgbpf_inspect_service *svc)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), zero = 0;
	int fd = bpf_map_get_fd_by_id(svc->cfg_map_id);

	if (fd < 0)
		return;
	/* A service of another sgbpf version may lay its config out differently. */
	if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.value_size == sizeof(svc->cfg) &&
	    !bpf_map_lookup_elem(fd, &zero, &svc->cfg))
		svc->have_cfg = true;
	close(fd);
}

static void read_stats(struct sgbpf_inspect_service *svc, uint32_t map_id)
{
	int ncpus = libbpf_num_possible_cpus(), fd;
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), n;
	uint64_t *vals;

	if (!map_id || ncpus <= 0)
		return;
	fd = bpf_map_get_fd_by_id(map_id);
	if (fd < 0)
		return;
	vals = calloc((size_t)ncpus, sizeof(*vals));
	if (!vals || bpf_obj_get_info_by_fd(fd, &info, &len) || info.value_size != sizeof(*vals))
		goto out;
	n = info.max_entries < __SGBPF_STAT_MAX ? info.max_entries : __SGBPF_STAT_MAX;
	for (__u32 k = 0; k < n; k++) {
		if (bpf_map_lookup_elem(fd, &k, vals))
			goto out;
		for (int c = 0; c < ncpus; c++)
			svc->stats[k] += vals[c];
	}
	svc->have_stats = true;
out:
	free(vals);
	close(fd);
}

/*
 * The reduction: the program in slot 0 of the service's program array
 * (user space reads a program array's entries as program ids).  Built-in
 * ones are named sgbpf_reduce_<op>_<type>[_tc]; they print as "<op>-<type>".
 */
static void read_reduce(struct sgbpf_inspect_service *svc, uint32_t map_id)
{
	const char *prefix = "sgbpf_reduce_";
	char name[128];
	__u32 zero = 0, prog_id = 0;
	size_t n;
	int fd;

	snprintf(svc->reduce, sizeof(svc->reduce), "?");
	if (!map_id)
		return;
	fd = bpf_map_get_fd_by_id(map_id);
	if (fd < 0)
		return;
	if (bpf_map_lookup_elem(fd, &zero, &prog_id)) {
		/* An empty slot: count-only services install no reduction. */
		if (errno == ENOENT)
			snprintf(svc->reduce, sizeof(svc->reduce), "count");
		close(fd);
		return;
	}
	close(fd);
	prog_full_name(prog_id, name, sizeof(name));
	if (!name[0])
		return;
	n = strlen(name);
	if (n > 3 && !strcmp(name + n - 3, "_tc"))
		name[n - 3] = '\0';
	if (strncmp(name, prefix, strlen(prefix))) {
		snprintf(svc->reduce, sizeof(svc->reduce), "custom:%.24s", name);
		return;
	}
	snprintf(svc->reduce, sizeof(svc->reduce), "%.31s", name + strlen(prefix));
	for (char *c = svc->reduce; *c; c++)
		if (*c == '_')
			*c = '-';
}

/* ---- owners ----------------------------------------------------------- */

static void owner_add(struct sgbpf_inspect_service *svc, pid_t pid)
{
	char path[64];
	FILE *f;

	for (unsigned int i = 0; i < svc->nowners; i++)
		if (svc->owners[i].pid == pid)
			return;
	if (svc->nowners == SGBPF_INSPECT_MAX_OWNERS) {
		svc->more_owners = true;
		return;
	}
	svc->owners[svc->nowners].pid = pid;
	svc->owners[svc->nowners].comm[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "re");
	if (f) {
		char *comm = svc->owners[svc->nowners].comm;

		if (fgets(comm, sizeof(svc->owners[0].comm), f))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	}
	svc->nowners++;
}

/* Who holds link_id (a link descriptor) or prog_id (a program descriptor)? */
static void owners_match(struct scan *s, pid_t pid, uint32_t link_id, uint32_t prog_id)
{
	for (size_t i = 0; i < s->out.n; i++) {
		struct sgbpf_inspect_service *svc = &s->out.svc[i];

		for (unsigned int k = 0; k < svc->natt; k++) {
			const struct sgbpf_inspect_attach *a = &svc->att[k];

			if ((link_id && a->link_id == link_id) ||
			    (!link_id && prog_id && a->prog_id == prog_id)) {
				owner_add(svc, pid);
				break;
			}
		}
	}
}

/* Reads "link_id:" and "prog_id:" from /proc/PID/fdinfo/FD. */
static void fdinfo_ids(int dirfd, const char *fd, uint32_t *link_id, uint32_t *prog_id)
{
	char path[300], line[128];
	FILE *f;
	int ffd;

	*link_id = *prog_id = 0;
	snprintf(path, sizeof(path), "fdinfo/%s", fd);
	ffd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (ffd < 0)
		return;
	f = fdopen(ffd, "re");
	if (!f) {
		close(ffd);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned int v;

		if (sscanf(line, "link_id: %u", &v) == 1)
			*link_id = v;
		else if (sscanf(line, "prog_id: %u", &v) == 1)
			*prog_id = v;
	}
	fclose(f);
}

static void owners_of_pid(struct scan *s, pid_t pid)
{
	char path[64], target[64];
	struct dirent *e;
	DIR *fds;
	int dirfd;

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	fds = opendir(path);
	if (!fds) {
		close(dirfd);
		return;
	}
	while ((e = readdir(fds))) {
		uint32_t link_id, prog_id;
		char lpath[300];
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(lpath, sizeof(lpath), "fd/%s", e->d_name);
		/* Only BPF descriptors are worth opening their fdinfo. */
		n = readlinkat(dirfd, lpath, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, "anon_inode:bpf-link") && strcmp(target, "anon_inode:bpf-prog"))
			continue;
		fdinfo_ids(dirfd, e->d_name, &link_id, &prog_id);
		owners_match(s, pid, link_id, prog_id);
	}
	closedir(fds);
	close(dirfd);
}

static void owners_walk(struct scan *s)
{
	struct dirent *e;
	DIR *proc;

	if (!s->out.n)
		return;
	proc = opendir("/proc");
	if (!proc)
		return;
	while ((e = readdir(proc))) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		owners_of_pid(s, (pid_t)atoi(e->d_name));
	}
	closedir(proc);
}

/* ---- scan ------------------------------------------------------------- */

static int service_cmp(const void *pa, const void *pb)
{
	const struct sgbpf_inspect_service *a = pa, *b = pb;
	unsigned int pa_port = a->have_cfg ? ntohs(a->cfg.port) : 0;
	unsigned int pb_port = b->have_cfg ? ntohs(b->cfg.port) : 0;

	if (a->ifindex != b->ifindex)
		return a->ifindex < b->ifindex ? -1 : 1;
	if (pa_port != pb_port)
		return pa_port < pb_port ? -1 : 1;
	return a->cfg_map_id < b->cfg_map_id ? -1 : a->cfg_map_id > b->cfg_map_id;
}

int sgbpf_inspect_scan(int ifindex, struct sgbpf_inspect *out)
{
	struct scan s = { .ifindex = ifindex };
	int err;

	memset(out, 0, sizeof(*out));
	err = links_walk(&s);
	if (!err)
		err = filters_walk(&s);
	if (err)
		goto err;
	for (size_t i = 0; i < s.out.n; i++) {
		struct sgbpf_inspect_service *svc = &s.out.svc[i];

		if (svc->cfg_map_id)
			read_config(svc);
		read_stats(svc, s.maps[i].stats_map);
		read_reduce(svc, s.maps[i].reducer_map);
	}
	/* Every descriptor taken by id is closed by now: we are nobody's owner. */
	owners_walk(&s);
	free(s.maps);
	if (s.out.n > 1)
		qsort(s.out.svc, s.out.n, sizeof(*s.out.svc), service_cmp);
	*out = s.out;
	return 0;
err:
	free(s.maps);
	sgbpf_inspect_free(&s.out);
	return err;
}

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

/* ---- owner tokens ----------------------------------------------------- */

static socklen_t token_addr(const struct sgbpf_owner_token *t, struct sockaddr_un *a)
{
	int n;

	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	/* sun_path[0] = '\0': the abstract namespace, no file anywhere. */
	n = snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, "sgbpf-owner-%u-%d-%x-%u",
		     t->prog_id, t->ifindex, t->parent, t->handle);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

int sgbpf_owner_token_hold(const struct sgbpf_owner_token *t)
{
	struct sockaddr_un a;
	socklen_t len = token_addr(t, &a);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), err;

	if (fd < 0)
		return sgbpf_err(-errno, "cannot create an owner token: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&a, len)) {
		err = -errno;
		close(fd);
		if (err == -EADDRINUSE)
			return err;	/* the caller tries another handle */
		return sgbpf_err(err, "cannot bind the owner token of program %u: %s", t->prog_id,
				 strerror(-err));
	}
	return fd;
}

int sgbpf_owner_token_held(const struct sgbpf_owner_token *t)
{
	struct sockaddr_un a;
	socklen_t len = token_addr(t, &a);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret;

	if (fd < 0)
		return -errno;
	/* Binding succeeds only when nobody holds the name; we let go at once. */
	ret = bind(fd, (struct sockaddr *)&a, len) == 0 ? 0 : errno == EADDRINUSE ? 1 : -errno;
	close(fd);
	return ret;
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
