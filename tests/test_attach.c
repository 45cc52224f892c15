// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * TC and XDP attachments: TCX links, the netlink fallback, XDP modes,
 * foreign programs, and what is left after the owner is SIGKILLed.
 * Everything runs in a namespace pair the test creates.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <linux/capability.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <netlink/netlink.h>
#include <netlink/route/classifier.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/tc.h>

#include <sgbpf/sgbpf.h>

#include "attach.h"
#include "netdev.h"
#include "netns_suite.h"
#include "netns_util.h"

#define TCX_INGRESS 46
#define TCX_EGRESS 47
#define LINK_TYPE_TCX 11
#define LINK_TYPE_XDP 6
#define OUR_CLS_PRIO 0x5347		/* the fallback's priority (attach.c) */
#define PARENT_INGRESS TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS)
#define PARENT_EGRESS TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS)

static struct netns_pair pair;
static int saved_ns = -1;
static int tc_prog = -1, xdp_prog = -1;
static int veth;	/* pair.a_if, inside pair.a where the tests run */
static int lo;

/* r0 = imm; exit: the smallest valid program of any type. */
static int load_return(enum bpf_prog_type type, const char *name, int verdict)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = verdict },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return bpf_prog_load(type, name, "GPL", insns, 2, NULL);
}

static unsigned int prog_id(int fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	ck_assert_int_eq(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
	return info.id;
}

static void setup(void)
{
	unsetenv(SGBPF_ATTACH_FORCE_NETLINK_ENV);
	ck_assert_int_eq(netns_pair_create(&pair, "attach", 2), 0);
	ck_assert_int_eq(netns_enter(&pair.a, &saved_ns), 0);
	veth = pair.a_ifindex;
	lo = netns_ifindex(&pair.a, "lo");
	ck_assert_int_gt(lo, 0);
	tc_prog = load_return(BPF_PROG_TYPE_SCHED_CLS, "sg_test_tc", TC_ACT_OK);
	ck_assert_int_ge(tc_prog, 0);
	xdp_prog = load_return(BPF_PROG_TYPE_XDP, "sg_test_xdp", XDP_PASS);
	ck_assert_int_ge(xdp_prog, 0);
}

static void teardown(void)
{
	if (tc_prog >= 0)
		close(tc_prog);
	if (xdp_prog >= 0)
		close(xdp_prog);
	tc_prog = xdp_prog = -1;
	unsetenv(SGBPF_ATTACH_FORCE_NETLINK_ENV);
	if (saved_ns >= 0)
		netns_restore(saved_ns);
	saved_ns = -1;
	netns_pair_delete(&pair);
}

/* Programs on a TCX hook; stores the first id in *first when not NULL. */
static unsigned int tcx_count(int ifindex, int type, unsigned int *first)
{
	__u32 ids[8] = {}, cnt = 8, flags = 0;

	ck_assert_int_eq(bpf_prog_query(ifindex, type, 0, &flags, ids, &cnt), 0);
	if (first)
		*first = cnt ? ids[0] : 0;
	return cnt;
}

/* bpf_links of the given type that run program id (any namespace). */
static unsigned int links_of(unsigned int id, unsigned int type)
{
	__u32 link_id = 0, n = 0;

	while (bpf_link_get_next_id(link_id, &link_id) == 0) {
		struct bpf_link_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_link_get_fd_by_id(link_id);

		if (fd < 0)
			continue;	/* gone meanwhile */
		if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
		    info.prog_id == id && info.type == type)
			n++;
		close(fd);
	}
	return n;
}

static struct bpf_xdp_query_opts xdp_state(int ifindex)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	ck_assert_int_eq(bpf_xdp_query(ifindex, 0, &q), 0);
	return q;
}

static struct nl_sock *nl_open(void)
{
	struct nl_sock *sk = nl_socket_alloc();

	ck_assert_ptr_nonnull(sk);
	ck_assert_int_eq(nl_connect(sk, NETLINK_ROUTE), 0);
	return sk;
}

/* Filters under parent: all of them, and those of kind "bpf" at our priority. */
static int cls_count(int ifindex, uint32_t parent, int *ours)
{
	struct nl_sock *sk = nl_open();
	struct nl_cache *cache = NULL;
	struct nl_object *o;
	int n = 0;

	*ours = 0;
	if (rtnl_cls_alloc_cache(sk, ifindex, parent, &cache) == 0) {
		for (o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
			struct rtnl_cls *c = (struct rtnl_cls *)o;
			const char *kind = rtnl_tc_get_kind(TC_CAST(c));

			/* Skip the classifier instance itself (handle 0). */
			if (!rtnl_tc_get_handle(TC_CAST(c)))
				continue;
			n++;
			if (kind && !strcmp(kind, "bpf") && rtnl_cls_get_prio(c) == OUR_CLS_PRIO)
				(*ours)++;
		}
		nl_cache_free(cache);
	}
	nl_socket_free(sk);
	return n;
}

static bool has_clsact(int ifindex)
{
	struct nl_sock *sk = nl_open();
	struct nl_cache *cache = NULL;
	struct rtnl_qdisc *q;
	bool found = false;

	ck_assert_int_eq(rtnl_qdisc_alloc_cache(sk, &cache), 0);
	q = rtnl_qdisc_get_by_parent(cache, ifindex, TC_H_CLSACT);
	if (q) {
		found = !strcmp(rtnl_tc_get_kind(TC_CAST(q)), "clsact");
		rtnl_qdisc_put(q);
	}
	nl_cache_free(cache);
	nl_socket_free(sk);
	return found;
}

/* A filter that is not ours: an empty u32 (just its root hash table). */
static void add_foreign_filter(int ifindex, uint32_t parent)
{
	struct nl_sock *sk = nl_open();
	struct rtnl_cls *c = rtnl_cls_alloc();

	ck_assert_ptr_nonnull(c);
	rtnl_tc_set_ifindex(TC_CAST(c), ifindex);
	rtnl_tc_set_parent(TC_CAST(c), parent);
	ck_assert_int_eq(rtnl_tc_set_kind(TC_CAST(c), "u32"), 0);
	rtnl_cls_set_prio(c, 100);
	rtnl_cls_set_protocol(c, ETH_P_ALL);
	ck_assert_int_eq(rtnl_cls_add(sk, c, NLM_F_CREATE | NLM_F_EXCL), 0);
	rtnl_cls_put(c);
	nl_socket_free(sk);
}

START_TEST(tcx_ingress_and_egress)
{
	struct sgbpf_attachment *in = NULL, *eg = NULL;
	unsigned int id = prog_id(tc_prog), got;
	int ours;

	ck_assert_int_eq(sgbpf_attach_tc(tc_prog, veth, SGBPF_TC_EGRESS, &eg), 0);
	ck_assert_ptr_nonnull(eg);
	ck_assert_int_eq(sgbpf_attach_tc(tc_prog, veth, SGBPF_TC_INGRESS, &in), 0);
	ck_assert_ptr_nonnull(in);

	ck_assert_uint_eq(tcx_count(veth, TCX_EGRESS, &got), 1);
	ck_assert_uint_eq(got, id);
	ck_assert_uint_eq(tcx_count(veth, TCX_INGRESS, &got), 1);
	ck_assert_uint_eq(got, id);
	ck_assert_uint_eq(links_of(id, LINK_TYPE_TCX), 2);
	/* A TCX link needs no qdisc and adds no filter. */
	ck_assert(!has_clsact(veth));
	ck_assert_int_eq(cls_count(veth, PARENT_EGRESS, &ours), 0);

	sgbpf_detach(eg);
	ck_assert_uint_eq(tcx_count(veth, TCX_EGRESS, NULL), 0);
	ck_assert_uint_eq(tcx_count(veth, TCX_INGRESS, NULL), 1);
	sgbpf_detach(in);
	ck_assert_uint_eq(tcx_count(veth, TCX_INGRESS, NULL), 0);
	ck_assert_uint_eq(links_of(id, LINK_TYPE_TCX), 0);
	sgbpf_detach(NULL);
}
END_TEST

START_TEST(tcx_coexists_with_foreign_tcx)
{
	struct sgbpf_attachment *a = NULL, *b = NULL;
	int other = load_return(BPF_PROG_TYPE_SCHED_CLS, "sg_test_other", TC_ACT_UNSPEC);

	/* Another owner's TCX program stays where it is, before and after ours. */
	ck_assert_int_ge(other, 0);
	ck_assert_int_eq(sgbpf_attach_tc(other, veth, SGBPF_TC_INGRESS, &a), 0);
	ck_assert_int_eq(sgbpf_attach_tc(tc_prog, veth, SGBPF_TC_INGRESS, &b), 0);
	unsigned int first;

	ck_assert_uint_eq(tcx_count(veth, TCX_INGRESS, &first), 2);
	ck_assert_uint_eq(first, prog_id(other));	/* ours went after it */
	sgbpf_detach(b);
	ck_assert_uint_eq(tcx_count(veth, TCX_INGRESS, NULL), 1);
	ck_assert_uint_eq(links_of(prog_id(other), LINK_TYPE_TCX), 1);
	sgbpf_detach(a);
	close(other);
}
END_TEST

START_TEST(netlink_fallback_adds_and_removes_filter)
{
	struct sgbpf_attachment *a = NULL;
	int ours;

	setenv(SGBPF_ATTACH_FORCE_NETLINK_ENV, "1", 1);
	ck_assert(!has_clsact(veth));
	ck_assert_int_eq(sgbpf_attach_tc(tc_prog, veth, SGBPF_TC_INGRESS, &a), 0);
	ck_assert_ptr_nonnull(a);

	ck_assert(has_clsact(veth));
	ck_assert_int_eq(cls_count(veth, PARENT_INGRESS, &ours), 1);
	ck_assert_int_eq(ours, 1);
	ck_assert_int_eq(cls_count(veth, PARENT_EGRESS, &ours), 0);
	ck_assert_uint_eq(tcx_count(veth, TCX_INGRESS, NULL), 0);

	sgbpf_detach(a);
	ck_assert_int_eq(cls_count(veth, PARENT_INGRESS, &ours), 0);
	ck_assert(!has_clsact(veth));
}
END_TEST

START_TEST(netlink_fallback_keeps_qdisc_it_did_not_create)
{
	struct sgbpf_attachment *a = NULL;
	bool created = false;
	int ours;

	ck_assert_int_eq(sgbpf_netdev_clsact_ensure(veth, &created), 0);
	ck_assert(created);
	setenv(SGBPF_ATTACH_FORCE_NETLINK_ENV, "1", 1);
	ck_assert_int_eq(sgbpf_attach_tc(tc_prog, veth, SGBPF_TC_EGRESS, &a), 0);
	ck_assert_int_eq(cls_count(veth, PARENT_EGRESS, &ours), 1);
	ck_assert_int_eq(ours, 1);
	sgbpf_detach(a);
	ck_assert_int_eq(cls_count(veth, PARENT_EGRESS, &ours), 0);
	ck_assert(has_clsact(veth));
}
END_TEST

START_TEST(netlink_fallback_qdisc_goes_with_last_user)
{
	struct sgbpf_attachment *in = NULL, *eg = NULL, *in2 = NULL;
	int ours;

	setenv(SGBPF_ATTACH_FORCE_NETLINK_ENV, "1", 1);
	ck_assert_int_eq(sgbpf_attach_tc(tc_prog, veth, SGBPF_TC_INGRESS, &in), 0);	/* creates */
	ck_assert_int_eq(sgbpf_attach_tc(tc_prog, veth, SGBPF_TC_EGRESS, &eg), 0);
	ck_assert_int_eq(sgbpf_attach_tc(tc_prog, veth, SGBPF_TC_INGRESS, &in2), 0);
	/* Two of ours at one priority: distinct handles. */
	ck_assert_int_eq(cls_count(veth, PARENT_INGRESS, &ours), 2);
	ck_assert_int_eq(ours, 2);

	sgbpf_detach(in);	/* the creator goes first */
	ck_assert(has_clsact(veth));
	ck_assert_int_eq(cls_count(veth, PARENT_INGRESS, &ours), 1);
	ck_assert_int_eq(cls_count(veth, PARENT_EGRESS, &ours), 1);
	sgbpf_detach(in2);
	ck_assert(has_clsact(veth));
	ck_assert_int_eq(cls_count(veth, PARENT_INGRESS, &ours), 0);
	sgbpf_detach(eg);
	ck_assert_int_eq(cls_count(veth, PARENT_EGRESS, &ours), 0);
	ck_assert(!has_clsact(veth));
}
END_TEST

START_TEST(netlink_fallback_leaves_foreign_filter)
{
	struct sgbpf_attachment *a = NULL;
	int ours;

	setenv(SGBPF_ATTACH_FORCE_NETLINK_ENV, "1", 1);
	ck_assert_int_eq(sgbpf_attach_tc(tc_prog, veth, SGBPF_TC_INGRESS, &a), 0);
	add_foreign_filter(veth, PARENT_INGRESS);
	ck_assert_int_eq(cls_count(veth, PARENT_INGRESS, &ours), 2);
	ck_assert_int_eq(ours, 1);

	sgbpf_detach(a);
	/* Only our filter went; the qdisc stays for the foreign one. */
	ck_assert_int_eq(cls_count(veth, PARENT_INGRESS, &ours), 1);
	ck_assert_int_eq(ours, 0);
	ck_assert(has_clsact(veth));
}
END_TEST

START_TEST(netlink_fallback_detach_from_other_namespace)
{
	struct sgbpf_attachment *a = NULL;
	int ours, inner;

	setenv(SGBPF_ATTACH_FORCE_NETLINK_ENV, "1", 1);
	ck_assert_int_eq(sgbpf_attach_tc(tc_prog, veth, SGBPF_TC_INGRESS, &a), 0);
	/* Detaching from elsewhere must act where the filter is. */
	ck_assert_int_eq(netns_enter(&pair.b, &inner), 0);
	sgbpf_detach(a);
	ck_assert_int_eq(netns_restore(inner), 0);
	ck_assert_int_eq(cls_count(veth, PARENT_INGRESS, &ours), 0);
	ck_assert(!has_clsact(veth));
}
END_TEST

START_TEST(xdp_auto_native_on_veth)
{
	struct sgbpf_attachment *a = NULL;
	struct bpf_xdp_query_opts q;
	unsigned int id = prog_id(xdp_prog);
	bool native = false;

	ck_assert_int_eq(sgbpf_attach_xdp(xdp_prog, veth, SGBPF_XDP_AUTO, &a, &native), 0);
	ck_assert(native);
	q = xdp_state(veth);
	ck_assert_uint_eq(q.drv_prog_id, id);
	ck_assert_uint_eq(q.skb_prog_id, 0);
	ck_assert_uint_eq(links_of(id, LINK_TYPE_XDP), 1);
	sgbpf_detach(a);
	q = xdp_state(veth);
	ck_assert_uint_eq(q.prog_id, 0);
	ck_assert_uint_eq(q.drv_prog_id, 0);
	ck_assert_uint_eq(links_of(id, LINK_TYPE_XDP), 0);
}
END_TEST

START_TEST(xdp_auto_generic_on_lo)
{
	struct sgbpf_attachment *a = NULL;
	struct bpf_xdp_query_opts q;
	unsigned int id = prog_id(xdp_prog);
	bool native = true;

	ck_assert_int_eq(sgbpf_attach_xdp(xdp_prog, lo, SGBPF_XDP_AUTO, &a, &native), 0);
	ck_assert(!native);
	q = xdp_state(lo);
	ck_assert_uint_eq(q.skb_prog_id, id);
	ck_assert_uint_eq(q.drv_prog_id, 0);
	sgbpf_detach(a);
	q = xdp_state(lo);
	ck_assert_uint_eq(q.skb_prog_id, 0);
}
END_TEST

START_TEST(xdp_forced_modes)
{
	struct sgbpf_attachment *a = NULL;
	struct bpf_xdp_query_opts q;
	bool native = true;

	/* lo has no driver XDP: forcing native fails and leaves nothing. */
	ck_assert_int_eq(sgbpf_attach_xdp(xdp_prog, lo, SGBPF_XDP_NATIVE, &a, &native),
			 -EOPNOTSUPP);
	ck_assert_ptr_null(a);
	ck_assert_ptr_nonnull(strstr(sgbpf_last_error(), "lo"));
	ck_assert_uint_eq(xdp_state(lo).prog_id, 0);

	/* veth can do native, but generic was asked for. */
	ck_assert_int_eq(sgbpf_attach_xdp(xdp_prog, veth, SGBPF_XDP_GENERIC, &a, &native), 0);
	ck_assert(!native);
	q = xdp_state(veth);
	ck_assert_uint_eq(q.skb_prog_id, prog_id(xdp_prog));
	ck_assert_uint_eq(q.drv_prog_id, 0);
	sgbpf_detach(a);
	ck_assert_uint_eq(xdp_state(veth).prog_id, 0);
}
END_TEST

START_TEST(xdp_second_attach_is_ebusy)
{
	struct sgbpf_attachment *a = NULL, *b = NULL;
	unsigned int id = prog_id(xdp_prog);
	int other = load_return(BPF_PROG_TYPE_XDP, "sg_test_xdp2", XDP_PASS);
	char idstr[32];

	ck_assert_int_ge(other, 0);
	ck_assert_int_eq(sgbpf_attach_xdp(xdp_prog, veth, SGBPF_XDP_AUTO, &a, NULL), 0);
	ck_assert_int_eq(sgbpf_attach_xdp(other, veth, SGBPF_XDP_AUTO, &b, NULL), -EBUSY);
	ck_assert_ptr_null(b);
	snprintf(idstr, sizeof(idstr), "id %u", id);
	ck_assert_ptr_nonnull(strstr(sgbpf_last_error(), "sg_test_xdp"));
	ck_assert_ptr_nonnull(strstr(sgbpf_last_error(), idstr));
	ck_assert_ptr_nonnull(strstr(sgbpf_last_error(), pair.a_if));
	/* Generic mode on top of a native program: refused just the same. */
	ck_assert_int_eq(sgbpf_attach_xdp(other, veth, SGBPF_XDP_GENERIC, &b, NULL), -EBUSY);
	ck_assert_uint_eq(xdp_state(veth).drv_prog_id, id);
	sgbpf_detach(a);
	close(other);
}
END_TEST

START_TEST(xdp_foreign_netlink_program_is_kept)
{
	struct sgbpf_attachment *a = NULL;
	int foreign = load_return(BPF_PROG_TYPE_XDP, "sg_foreign", XDP_PASS);
	unsigned int fid;

	/* Attached the old way, as `ip link set dev X xdp ...` would. */
	ck_assert_int_ge(foreign, 0);
	fid = prog_id(foreign);
	ck_assert_int_eq(bpf_xdp_attach(lo, foreign, XDP_FLAGS_SKB_MODE, NULL), 0);
	ck_assert_int_eq(sgbpf_attach_xdp(xdp_prog, lo, SGBPF_XDP_AUTO, &a, NULL), -EBUSY);
	ck_assert_ptr_nonnull(strstr(sgbpf_last_error(), "sg_foreign"));
	ck_assert_uint_eq(xdp_state(lo).skb_prog_id, fid);
	ck_assert_int_eq(bpf_xdp_detach(lo, XDP_FLAGS_SKB_MODE, NULL), 0);
	close(foreign);
}
END_TEST

START_TEST(bad_arguments)
{
	struct sgbpf_attachment *a = NULL;

	ck_assert_int_eq(sgbpf_attach_tc(xdp_prog, veth, SGBPF_TC_INGRESS, &a), -EINVAL);
	ck_assert_ptr_nonnull(strstr(sgbpf_last_error(), "sg_test_xdp"));
	ck_assert_int_eq(sgbpf_attach_xdp(tc_prog, veth, SGBPF_XDP_AUTO, &a, NULL), -EINVAL);
	ck_assert_int_eq(sgbpf_attach_tc(tc_prog, 4242, SGBPF_TC_INGRESS, &a), -ENODEV);
	ck_assert_ptr_nonnull(strstr(sgbpf_last_error(), "4242"));
	ck_assert_int_eq(sgbpf_attach_xdp(xdp_prog, 4242, SGBPF_XDP_AUTO, &a, NULL), -ENODEV);
	ck_assert_int_lt(sgbpf_attach_tc(-1, veth, SGBPF_TC_INGRESS, &a), 0);
	ck_assert_int_eq(sgbpf_attach_xdp(xdp_prog, veth, (enum sgbpf_xdp_mode)9, &a, NULL),
			 -EINVAL);
	ck_assert_ptr_null(a);
	ck_assert_uint_eq(xdp_state(veth).prog_id, 0);
	ck_assert_uint_eq(tcx_count(veth, TCX_INGRESS, NULL), 0);
}
END_TEST

/*
 * Child: drops every capability (still uid 0) and tries the fallback, whose
 * netlink requests need CAP_NET_ADMIN.  (Links need none once the program
 * is loaded: the kernel checks privileges at load time.)
 */
static int attach_without_caps(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};
	struct sgbpf_attachment *a = NULL;

	if (syscall(SYS_capset, &hdr, data))
		return 10;
	setenv(SGBPF_ATTACH_FORCE_NETLINK_ENV, "1", 1);
	if (sgbpf_attach_tc(tc_prog, veth, SGBPF_TC_INGRESS, &a) != -EPERM)
		return 11;
	if (!strstr(sgbpf_last_error(), "CAP_NET_ADMIN") || !strstr(sgbpf_last_error(), "sga0"))
		return 12;
	return a ? 13 : 0;
}

START_TEST(without_privileges_says_so)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(attach_without_caps());
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert(!has_clsact(veth));
}
END_TEST

/*
 * The child attaches, checks that it worked, tells the parent through a
 * pipe, then dies by SIGKILL: no destructor, no atexit, nothing of ours runs.
 */
static void attach_and_die(int wfd, bool netlink)
{
	struct sgbpf_attachment *in = NULL, *eg = NULL, *x = NULL;
	char ok = 0;

	if (netlink)
		setenv(SGBPF_ATTACH_FORCE_NETLINK_ENV, "1", 1);
	if (sgbpf_attach_tc(tc_prog, veth, SGBPF_TC_INGRESS, &in) == 0 &&
	    sgbpf_attach_tc(tc_prog, veth, SGBPF_TC_EGRESS, &eg) == 0 &&
	    (netlink || sgbpf_attach_xdp(xdp_prog, veth, SGBPF_XDP_AUTO, &x, NULL) == 0))
		ok = 1;
	if (write(wfd, &ok, 1) != 1)
		_exit(2);
	raise(SIGKILL);
	_exit(3);
}

static void run_killed_child(bool netlink)
{
	int fds[2], status;
	char ok = 0;
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		attach_and_die(fds[1], netlink);
	}
	close(fds[1]);
	ck_assert_int_eq(read(fds[0], &ok, 1), 1);
	close(fds[0]);
	ck_assert_int_eq(ok, 1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status));
	ck_assert_int_eq(WTERMSIG(status), SIGKILL);
}

START_TEST(links_die_with_their_owner)
{
	struct bpf_xdp_query_opts q;

	run_killed_child(false);
	/* The kernel released the links while the child exited. */
	q = xdp_state(veth);
	ck_assert_uint_eq(q.prog_id, 0);
	ck_assert_uint_eq(q.drv_prog_id, 0);
	ck_assert_uint_eq(q.skb_prog_id, 0);
	ck_assert_uint_eq(tcx_count(veth, TCX_INGRESS, NULL), 0);
	ck_assert_uint_eq(tcx_count(veth, TCX_EGRESS, NULL), 0);
	ck_assert_uint_eq(links_of(prog_id(tc_prog), LINK_TYPE_TCX), 0);
	ck_assert_uint_eq(links_of(prog_id(xdp_prog), LINK_TYPE_XDP), 0);
}
END_TEST

START_TEST(netlink_fallback_outlives_its_owner)
{
	int ours;

	/* What docs/attach.md says: the fallback is not tied to a process. */
	run_killed_child(true);
	ck_assert_int_eq(cls_count(veth, PARENT_INGRESS, &ours), 1);
	ck_assert_int_eq(ours, 1);
	ck_assert_int_eq(cls_count(veth, PARENT_EGRESS, &ours), 1);
	ck_assert_int_eq(ours, 1);
	ck_assert_int_eq(sgbpf_netdev_clsact_remove(veth), 0);
	ck_assert_int_eq(cls_count(veth, PARENT_INGRESS, &ours), 0);
}
END_TEST

static Suite *attach_suite(void)
{
	Suite *s = suite_create("attach");
	TCase *tc = tcase_create("tc");
	TCase *xdp = tcase_create("xdp");
	TCase *kill = tcase_create("kill");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, tcx_ingress_and_egress);
	tcase_add_test(tc, tcx_coexists_with_foreign_tcx);
	tcase_add_test(tc, netlink_fallback_adds_and_removes_filter);
	tcase_add_test(tc, netlink_fallback_keeps_qdisc_it_did_not_create);
	tcase_add_test(tc, netlink_fallback_qdisc_goes_with_last_user);
	tcase_add_test(tc, netlink_fallback_leaves_foreign_filter);
	tcase_add_test(tc, netlink_fallback_detach_from_other_namespace);
	tcase_add_test(tc, bad_arguments);
	tcase_add_test(tc, without_privileges_says_so);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(xdp, setup, teardown);
	tcase_add_test(xdp, xdp_auto_native_on_veth);
	tcase_add_test(xdp, xdp_auto_generic_on_lo);
	tcase_add_test(xdp, xdp_forced_modes);
	tcase_add_test(xdp, xdp_second_attach_is_ebusy);
	tcase_add_test(xdp, xdp_foreign_netlink_program_is_kept);
	suite_add_tcase(s, xdp);

	tcase_add_checked_fixture(kill, setup, teardown);
	tcase_add_test(kill, links_die_with_their_owner);
	tcase_add_test(kill, netlink_fallback_outlives_its_owner);
	suite_add_tcase(s, kill);
	return s;
}

int main(void)
{
	return netns_suite_run(attach_suite());
}
