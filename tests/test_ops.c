// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Operating sgbpf: `sgbpf setup`, `status` and `teardown` against services
 * running in namespaces the tests create, kernel feature probes, and the
 * privilege check at service creation.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <linux/capability.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <sgbpf/sgbpf.h>

#include "attach.h"
#include "cli_run.h"
#include "inspect.h"
#include "netdev.h"
#include "netns_suite.h"
#include "netns_util.h"
#include "worker_farm.h"
#include "probe.h"
#include "svc_wait.h"

#define BASE_PORT 35000
#define NWORKERS 4
#define NREQUESTS 5

/* libbpf 1.1's headers predate TCX; the kernel's attach type numbers. */
#define TCX_INGRESS 46
#define TCX_EGRESS 47

static struct netns ns;
static pid_t farm = -1;
static struct sgbpf_endpoint eps[NWORKERS];
static uint32_t completed;

/* ---- helpers ---------------------------------------------------------- */

/* Starts `sgbpf worker` inside n on 127.0.0.1:BASE_PORT..+3; waits until it listens. */
static pid_t start_farm(const struct netns *n)
{
	char listen[64];
	pid_t pid;

	snprintf(listen, sizeof(listen), "127.0.0.1:%u-%u", BASE_PORT, BASE_PORT + NWORKERS - 1);
	pid = worker_farm_start(n, listen, NULL);
	ck_assert_msg(pid > 0, "worker farm on %s did not start", listen);
	return pid;
}

static void count_completion(const struct sgbpf_result *res, void *ctx)
{
	if (res->status == SGBPF_STATUS_COMPLETE)
		completed++;
}

static struct sgbpf_service *make_service(void)
{
	SGBPF_OPTS(sgbpf_service_opts, so, .ifname = "lo", .workers = eps, .nworkers = NWORKERS,
		   .reduce = SGBPF_REDUCE_SUM_U32, .on_complete = count_completion,
		   .max_inflight = 64);
	struct sgbpf_service *svc;

	svc_lo_workers(eps, NWORKERS, BASE_PORT);
	svc = sgbpf_service_create(&so);
	ck_assert_msg(svc, "service on lo: %s", sgbpf_last_error());
	return svc;
}

static void run_requests(struct sgbpf_service *svc, int n)
{
	SGBPF_OPTS(sgbpf_scatter_opts, so, .timeout_us = 2000000);

	completed = 0;
	for (int i = 0; i < n; i++) {
		ck_assert_int_eq(sgbpf_scatter(svc, "ops", 3, &so, NULL), 0);
		svc_wait_all(svc, 3000);
	}
	ck_assert_uint_eq(completed, (uint32_t)n);
}

/* Nothing runs at XDP of lo, nor on its TCX hooks. */
static void assert_lo_clean(void)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, xq);
	__u32 ids[8], count, flags = 0;
	int ifindex = if_nametoindex("lo");

	ck_assert_int_eq(bpf_xdp_query(ifindex, 0, &xq), 0);
	ck_assert_msg(xq.prog_id == 0 && xq.skb_prog_id == 0 && xq.drv_prog_id == 0,
		      "an XDP program is still attached to lo");
	count = 8;
	ck_assert_int_eq(bpf_prog_query(ifindex, TCX_EGRESS, 0, &flags, ids, &count), 0);
	ck_assert_msg(count == 0, "a program is still attached to TCX egress of lo");
	count = 8;
	ck_assert_int_eq(bpf_prog_query(ifindex, TCX_INGRESS, 0, &flags, ids, &count), 0);
	ck_assert_msg(count == 0, "a program is still attached to TCX ingress of lo");
}

/* A "return XDP_PASS" program that is not ours. */
static int foreign_xdp(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return bpf_prog_load(BPF_PROG_TYPE_XDP, "not_sgbpf", "GPL", insns, 2, NULL);
}

/* ---- fixture: a namespace with lo up and four workers ----------------- */

static void setup(void)
{
	ck_assert_int_eq(netns_create(&ns, "ops"), 0);
	ck_assert_int_eq(netns_link_up(&ns, "lo"), 0);
	farm = start_farm(&ns);
	ck_assert_int_eq(netns_enter(&ns, NULL), 0);
}

static void teardown(void)
{
	if (farm > 0) {
		worker_farm_stop(farm);
		farm = -1;
	}
	netns_delete(&ns);
}

/* ---- probes, without a network ---------------------------------------- */

START_TEST(probe_passes_here)
{
	uint64_t missing = ~0ull;
	char list[1024];

	ck_assert_int_eq(sgbpf_probe_features(&missing), 0);
	ck_assert_msg(missing == 0, "missing: %s",
		      sgbpf_probe_describe_missing(missing, list, sizeof(list)));
	ck_assert_int_eq(sgbpf_probe_udp_backend(), 0);
	/* Cached after the first success: still 0, still only the capability check. */
	ck_assert_int_eq(sgbpf_probe_udp_backend(), 0);
	for (int f = 0; f < __SGBPF_FEAT_MAX; f++)
		ck_assert_msg(sgbpf_probe_feature(f) == 1, "%s", sgbpf_probe_name(f));
	ck_assert_int_eq(sgbpf_probe_feature(__SGBPF_FEAT_MAX), -EINVAL);
}
END_TEST

START_TEST(describe_names_kernel_version)
{
	static const struct {
		enum sgbpf_feature f;
		const char *name, *version;
	} cases[] = {
		{ SGBPF_FEAT_HELPER_LOOP, "bpf_loop", "Linux 5.17" },
		{ SGBPF_FEAT_HELPER_LOOKUP_PERCPU, "bpf_map_lookup_percpu_elem", "Linux 5.19" },
		{ SGBPF_FEAT_HELPER_XDP_LOAD_BYTES, "bpf_xdp_load_bytes", "Linux 5.18" },
		{ SGBPF_FEAT_HELPER_RINGBUF_OUTPUT, "bpf_ringbuf_output", "Linux 5.8" },
		{ SGBPF_FEAT_MAP_RINGBUF, "ring buffer", "Linux 5.8" },
		{ SGBPF_FEAT_MAP_ARRAY_MMAP, "BPF_F_MMAPABLE", "Linux 5.5" },
		{ SGBPF_FEAT_IO_URING_SENDMSG, "IORING_OP_SENDMSG", "Linux 5.3" },
		{ SGBPF_FEAT_IO_URING_RECVMSG, "IORING_OP_RECVMSG", "Linux 5.3" },
		{ SGBPF_FEAT_PROG_XDP, "XDP", "Linux 4.8" },
	};
	char buf[256], list[2048], want[32];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sgbpf_probe_describe(cases[i].f, buf, sizeof(buf));
		ck_assert_msg(strstr(buf, cases[i].name) && strstr(buf, cases[i].version),
			      "feature %d: \"%s\"", cases[i].f, buf);
	}
	/* Every feature names a release, in the "Linux X.Y" form. */
	for (int f = 0; f < __SGBPF_FEAT_MAX; f++) {
		unsigned int major, minor;

		ck_assert_int_eq(sscanf(sgbpf_probe_since(f), "%u.%u", &major, &minor), 2);
		snprintf(want, sizeof(want), "(Linux %u.%u)", major, minor);
		ck_assert_msg(strstr(sgbpf_probe_describe(f, buf, sizeof(buf)), want), "%s", buf);
	}
	sgbpf_probe_describe_missing(SGBPF_FEAT_BIT(SGBPF_FEAT_HELPER_LOOP) |
				     SGBPF_FEAT_BIT(SGBPF_FEAT_MAP_RINGBUF), list, sizeof(list));
	ck_assert_msg(strstr(list, "bpf_loop") && strstr(list, "5.17") && strstr(list, "; ") &&
		      strstr(list, "5.8"), "%s", list);
	ck_assert_str_eq(sgbpf_probe_describe_missing(0, list, sizeof(list)), "");
	ck_assert_str_eq(sgbpf_probe_describe(__SGBPF_FEAT_MAX, buf, sizeof(buf)),
			 "unknown feature 16");
	ck_assert_ptr_null(sgbpf_probe_since(__SGBPF_FEAT_MAX));
	/* A buffer too small is cut, never overrun. */
	sgbpf_probe_describe(SGBPF_FEAT_HELPER_LOOP, buf, 8);
	ck_assert_uint_eq(strlen(buf), 7);
}
END_TEST

START_TEST(caps_are_named)
{
	char buf[128];

	ck_assert_str_eq(sgbpf_probe_caps_str(SGBPF_PRIV_NET_ADMIN, buf, sizeof(buf)),
			 "CAP_NET_ADMIN");
	ck_assert_str_eq(sgbpf_probe_caps_str(SGBPF_PRIV_BPF | SGBPF_PRIV_NET_ADMIN, buf,
					      sizeof(buf)), "CAP_BPF and CAP_NET_ADMIN");
	ck_assert_str_eq(sgbpf_probe_caps_str(SGBPF_PRIV_SERVICE, buf, sizeof(buf)),
			 "CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN");
	ck_assert_str_eq(sgbpf_probe_caps_str(0, buf, sizeof(buf)), "");
	/* Root here: nothing is missing. */
	ck_assert_int_eq(sgbpf_probe_caps_missing(SGBPF_PRIV_SERVICE | SGBPF_PRIV_SYS_ADMIN), 0);
	ck_assert_int_eq(sgbpf_probe_privileges(SGBPF_PRIV_SERVICE, "testing"), 0);
}
END_TEST

/* ---- privileges at service creation ----------------------------------- */

/* Child: drops every capability (still uid 0) and tries to create a service. */
static int create_without_caps(void *arg)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};
	const char *msg;

	if (syscall(SYS_capset, &hdr, data))
		return 10;
	if (sgbpf_probe_caps_missing(SGBPF_PRIV_SERVICE) != SGBPF_PRIV_SERVICE)
		return 11;
	svc_lo_workers(eps, NWORKERS, BASE_PORT);
	SGBPF_OPTS(sgbpf_service_opts, so, .ifname = "lo", .workers = eps, .nworkers = NWORKERS,
		   .on_complete = count_completion);
	errno = 0;
	if (sgbpf_service_create(&so))
		return 12;
	if (errno != EPERM)
		return 13;
	msg = sgbpf_last_error();
	fprintf(stderr, "unprivileged: %s\n", msg);
	if (!strstr(msg, "needs CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN (run as root)") ||
	    !strstr(msg, "lacks CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN"))
		return 14;
	return 0;
}

START_TEST(unprivileged_create_fails)
{
	ck_assert_int_eq(netns_run(&ns, create_without_caps, NULL), 0);
}
END_TEST

/* Child: keeps CAP_BPF and CAP_NET_ADMIN but not CAP_PERFMON. */
static int create_without_perfmon(void *arg)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};
	const char *msg;

	data[CAP_BPF / 32].effective |= 1u << (CAP_BPF % 32);
	data[CAP_NET_ADMIN / 32].effective |= 1u << (CAP_NET_ADMIN % 32);
	data[0].permitted = data[0].effective;
	data[1].permitted = data[1].effective;
	if (syscall(SYS_capset, &hdr, data))
		return 10;
	SGBPF_OPTS(sgbpf_service_opts, so, .ifname = "lo", .workers = eps, .nworkers = 1,
		   .on_complete = count_completion);
	eps[0].addr = htonl(INADDR_LOOPBACK);
	eps[0].port = BASE_PORT;
	errno = 0;
	if (sgbpf_service_create(&so) || errno != EPERM)
		return 11;
	msg = sgbpf_last_error();
	if (!strstr(msg, "lacks CAP_PERFMON") || strstr(msg, "lacks CAP_BPF"))
		return 12;
	return 0;
}

START_TEST(missing_perfmon_is_named)
{
	ck_assert_int_eq(netns_run(&ns, create_without_perfmon, NULL), 0);
}
END_TEST

/* ---- status ----------------------------------------------------------- */

START_TEST(status_reports_service)
{
	static const char *const args[] = { "status", "--json", NULL };
	static const char *const text_args[] = { "status", "--dev", "lo", NULL };
	struct sgbpf_service *svc = make_service();
	struct sgbpf_service_info info;
	char out[8192], err[1024], pid[64];
	int rc;

	run_requests(svc, NREQUESTS);
	ck_assert_int_eq(sgbpf_service_info(svc, &info), 0);

	rc = cli_run_ns(&ns, args, out, sizeof(out), err, sizeof(err));
	ck_assert_msg(rc == 0, "status exited %d: %s", rc, err);
	ck_assert_msg(!strncmp(out, "{\"services\":[{", 14), "%s", out);
	ck_assert_int_eq(cli_json_number(out, "port"), info.port);
	ck_assert_int_eq(cli_json_number(out, "workers"), NWORKERS);
	ck_assert_int_eq(cli_json_number(out, "ifindex"), if_nametoindex("lo"));
	snprintf(pid, sizeof(pid), "{\"pid\":%d,", (int)getpid());
	ck_assert_msg(strstr(out, pid), "owner %d not reported: %s", (int)getpid(), out);
	ck_assert_int_ge(cli_json_number(out, "folded"), NREQUESTS * NWORKERS);
	ck_assert_int_ge(cli_json_number(out, "completed"), NREQUESTS);
	ck_assert_int_ge(cli_json_number(out, "scatters"), NREQUESTS);
	ck_assert_int_eq(cli_json_number(out, "duplicates"), 0);
	ck_assert_int_ge(cli_json_number(out, "wakeups_skipped"), 0);
	ck_assert_msg(!strstr(out, "(null)"), "a counter without a name: %s", out);
	ck_assert_msg(strstr(out, "\"hook\":\"xdp\",\"mode\":\"generic\"") &&
		      strstr(out, "\"hook\":\"tc_egress\"") &&
		      strstr(out, "\"prog\":\"sgbpf_gather\"") &&
		      strstr(out, "\"prog\":\"sgbpf_scatter\"") &&
		      strstr(out, "\"reduce\":\"sum-u32\""), "%s", out);
	/* Exactly one service. */
	ck_assert_ptr_null(strstr(strstr(out, "\"port\":") + 1, "\"port\":"));

	rc = cli_run_ns(&ns, text_args, out, sizeof(out), err, sizeof(err));
	ck_assert_msg(rc == 0, "status exited %d: %s", rc, err);
	ck_assert_msg(strstr(out, "service on lo") && strstr(out, "xdp generic") &&
		      strstr(out, "replies folded"), "%s", out);
	sgbpf_service_destroy(svc);

	rc = cli_run_ns(&ns, args, out, sizeof(out), err, sizeof(err));
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(out, "{\"services\":[]}\n");
}
END_TEST

/* Two services: the second gathers at TC ingress; status groups each one's hooks. */
START_TEST(status_two_services)
{
	struct sgbpf_service *a = make_service(), *b = make_service();
	struct sgbpf_service_info ia, ib;
	struct sgbpf_inspect in;
	unsigned int tc_in = 0;

	ck_assert_int_eq(sgbpf_service_info(a, &ia), 0);
	ck_assert_int_eq(sgbpf_service_info(b, &ib), 0);
	ck_assert_int_eq(sgbpf_inspect_scan(0, &in), 0);
	ck_assert_uint_eq(in.n, 2);
	for (size_t i = 0; i < in.n; i++) {
		ck_assert(in.svc[i].have_cfg && in.svc[i].have_stats);
		ck_assert_uint_eq(in.svc[i].natt, 2);
		ck_assert_uint_eq(in.svc[i].nowners, 1);
		ck_assert_int_eq(in.svc[i].owners[0].pid, getpid());
		for (unsigned int k = 0; k < in.svc[i].natt; k++)
			tc_in += in.svc[i].att[k].hook == SGBPF_HOOK_TC_INGRESS;
	}
	ck_assert_uint_eq(tc_in, 1);
	/* Ordered by port. */
	ck_assert_uint_eq(ntohs(in.svc[0].cfg.port), ia.port < ib.port ? ia.port : ib.port);
	sgbpf_inspect_free(&in);
	/* Another interface index: nothing. */
	ck_assert_int_eq(sgbpf_inspect_scan(1000, &in), 0);
	ck_assert_uint_eq(in.n, 0);
	sgbpf_inspect_free(&in);
	sgbpf_service_destroy(b);
	sgbpf_service_destroy(a);
}
END_TEST

/* ---- teardown --------------------------------------------------------- */

START_TEST(teardown_removes_service)
{
	static const char *const args[] = { "teardown", "--dev", "lo", NULL };
	SGBPF_OPTS(sgbpf_scatter_opts, so, .timeout_us = 50000);
	struct sgbpf_service *svc = make_service();
	char out[4096], err[1024];
	int rc;

	run_requests(svc, NREQUESTS);
	rc = cli_run_ns(&ns, args, out, sizeof(out), err, sizeof(err));
	ck_assert_msg(rc == 0, "teardown exited %d: %s", rc, err);
	ck_assert_msg(strstr(out, "removed tc egress link") && strstr(out, "removed xdp generic link"),
		      "%s", out);
	assert_lo_clean();

	/* The service lives on with dead links: its requests expire, nothing breaks. */
	completed = 0;
	ck_assert_int_eq(sgbpf_scatter(svc, "x", 1, &so, NULL), 0);
	svc_wait_all(svc, 1000);
	ck_assert_uint_eq(completed, 0);
	sgbpf_service_destroy(svc);

	/* A second run finds nothing. */
	rc = cli_run_ns(&ns, args, out, sizeof(out), err, sizeof(err));
	ck_assert_int_eq(rc, 0);
	ck_assert_msg(strstr(out, "nothing of sgbpf's on lo"), "%s", out);
}
END_TEST

START_TEST(teardown_keeps_foreign_xdp)
{
	static const char *const args[] = { "teardown", "--dev", "lo", NULL };
	int ifindex = if_nametoindex("lo"), prog = foreign_xdp();
	struct bpf_prog_info pinfo = {};
	__u32 plen = sizeof(pinfo), ids[8], count = 8, flags = 0;
	struct sgbpf_service_info info;
	LIBBPF_OPTS(bpf_xdp_query_opts, xq);
	struct sgbpf_service *svc;
	char out[4096], err[1024];
	int rc;

	ck_assert_int_ge(prog, 0);
	ck_assert_int_eq(bpf_obj_get_info_by_fd(prog, &pinfo, &plen), 0);
	ck_assert_int_eq(bpf_xdp_attach(ifindex, prog, XDP_FLAGS_SKB_MODE, NULL), 0);
	svc = make_service();
	ck_assert_int_eq(sgbpf_service_info(svc, &info), 0);
	ck_assert_int_eq(info.gather_hook, SGBPF_GATHER_TC_INGRESS);
	run_requests(svc, NREQUESTS);

	rc = cli_run_ns(&ns, args, out, sizeof(out), err, sizeof(err));
	ck_assert_msg(rc == 0, "teardown exited %d: %s", rc, err);
	ck_assert_msg(strstr(out, "removed tc ingress link") && !strstr(out, "not_sgbpf"),
		      "%s", out);
	/* The foreign program is still there; ours are gone. */
	ck_assert_int_eq(bpf_xdp_query(ifindex, 0, &xq), 0);
	ck_assert_uint_eq(xq.skb_prog_id, pinfo.id);
	ck_assert_int_eq(bpf_prog_query(ifindex, TCX_INGRESS, 0, &flags, ids, &count), 0);
	ck_assert_uint_eq(count, 0);
	sgbpf_service_destroy(svc);
	ck_assert_int_eq(bpf_xdp_detach(ifindex, XDP_FLAGS_SKB_MODE, NULL), 0);
	close(prog);
	assert_lo_clean();
}
END_TEST

/* The netlink fallback's filters, which outlive their process, go too. */
START_TEST(teardown_removes_fallback_filters)
{
	static const char *const args[] = { "teardown", "--dev", "lo", NULL };
	static const char *const status[] = { "status", "--json", NULL };
	int ifindex = if_nametoindex("lo");
	struct sgbpf_service *svc;
	char out[4096], err[1024];
	int rc;

	setenv(SGBPF_ATTACH_FORCE_NETLINK_ENV, "1", 1);
	svc = make_service();
	unsetenv(SGBPF_ATTACH_FORCE_NETLINK_ENV);
	run_requests(svc, NREQUESTS);
	ck_assert_int_eq(sgbpf_netdev_clsact_filters(ifindex), 1);

	rc = cli_run_ns(&ns, status, out, sizeof(out), err, sizeof(err));
	ck_assert_int_eq(rc, 0);
	ck_assert_msg(strstr(out, "\"attach\":\"netlink\",\"tc_prio\":21319"), "%s", out);

	rc = cli_run_ns(&ns, args, out, sizeof(out), err, sizeof(err));
	ck_assert_msg(rc == 0, "teardown exited %d: %s", rc, err);
	ck_assert_msg(strstr(out, "removed tc egress tc filter pref 21319") &&
		      strstr(out, "kept the clsact qdisc of lo"), "%s", out);
	ck_assert_int_eq(sgbpf_netdev_clsact_filters(ifindex), 0);
	assert_lo_clean();
	sgbpf_service_destroy(svc);
	sgbpf_netdev_clsact_remove(ifindex);
}
END_TEST

/* ---- setup ------------------------------------------------------------ */

START_TEST(setup_brings_lo_up)
{
	static const char *const args[] = { "setup", "--dev", "lo", "--json", NULL };
	struct sgbpf_netdev dev;
	struct netns fresh;
	char out[4096], err[1024];
	int rc, saved;

	ck_assert_int_eq(netns_create(&fresh, "opsup"), 0);
	rc = cli_run_ns(&fresh, args, out, sizeof(out), err, sizeof(err));
	ck_assert_msg(rc == 0, "setup exited %d: %s", rc, err);
	ck_assert_msg(strstr(out, "\"was_up\":false") && strstr(out, "\"tcx\":true") &&
		      strstr(out, "\"features_ok\":true") && strstr(out, "\"mtu_ok\":true") &&
		      strstr(out, "\"clsact_created\":false"), "%s", out);
	ck_assert_int_eq(netns_enter(&fresh, &saved), 0);
	ck_assert_int_eq(sgbpf_netdev_open("lo", &dev), 0);
	ck_assert_int_eq(sgbpf_netdev_clsact_filters(dev.ifindex), 0);
	ck_assert_int_eq(netns_restore(saved), 0);
	ck_assert(dev.up);
	/* Nothing was left attached by the TCX probe. */
	{
		__u32 ids[4], count = 4, flags = 0;

		ck_assert_int_eq(netns_enter(&fresh, &saved), 0);
		ck_assert_int_eq(bpf_prog_query(dev.ifindex, TCX_INGRESS, 0, &flags, ids, &count),
				 0);
		ck_assert_int_eq(netns_restore(saved), 0);
		ck_assert_uint_eq(count, 0);
	}
	netns_delete(&fresh);
}
END_TEST

START_TEST(setup_names_missing_interface)
{
	static const char *const args[] = { "setup", "--dev", "nosuchif", NULL };
	static const char *const status[] = { "status", "--dev", "nosuchif", NULL };
	static const char *const usage[] = { "teardown", NULL };
	char out[1024], err[1024];

	ck_assert_int_eq(cli_run_ns(&ns, args, out, sizeof(out), err, sizeof(err)), 1);
	ck_assert_msg(strstr(err, "nosuchif"), "%s", err);
	ck_assert_int_eq(cli_run_ns(&ns, status, out, sizeof(out), err, sizeof(err)), 1);
	ck_assert_msg(strstr(err, "nosuchif"), "%s", err);
	ck_assert_int_eq(cli_run_ns(&ns, usage, out, sizeof(out), err, sizeof(err)), 2);
	ck_assert_msg(strstr(err, "--dev"), "%s", err);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ops");
	TCase *probe = tcase_create("probe"), *net = tcase_create("net");

	tcase_add_test(probe, probe_passes_here);
	tcase_add_test(probe, describe_names_kernel_version);
	tcase_add_test(probe, caps_are_named);
	tcase_add_checked_fixture(net, setup, teardown);
	tcase_set_timeout(net, 60);
	tcase_add_test(net, unprivileged_create_fails);
	tcase_add_test(net, missing_perfmon_is_named);
	tcase_add_test(net, status_reports_service);
	tcase_add_test(net, status_two_services);
	tcase_add_test(net, teardown_removes_service);
	tcase_add_test(net, teardown_keeps_foreign_xdp);
	tcase_add_test(net, teardown_removes_fallback_filters);
	tcase_add_test(net, setup_brings_lo_up);
	tcase_add_test(net, setup_names_missing_interface);
	suite_add_tcase(s, probe);
	suite_add_tcase(s, net);
	return netns_suite_run(s);
}
