// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sgbpf setup: get an interface ready for services and say what to expect.
 * sgbpf teardown: remove what sgbpf attached to an interface, and only that.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <sgbpf/sgbpf.h>

#include "cli.h"
#include "cli_common.h"
#include "inspect.h"
#include "netdev.h"
#include "probe.h"
#include "status_tcp.h"

/* IPv4 + UDP + the padded 1472-byte message. */
#define SGBPF_FRAME_MTU 1500u

/*
 * Drivers with native XDP that sgbpf's gather can use.  Only a guess for a
 * report: the real test is the attach at service creation, which falls back
 * to generic XDP when the driver refuses.
 */
static const char *const xdp_native_drivers[] = {
	"veth", "virtio_net", "tun", "ixgbe", "ixgbevf", "i40e", "ice", "igb", "igc",
	"mlx4_en", "mlx5_core", "bnxt_en", "qede", "nfp", "ena", "sfc", "hv_netvsc",
	"gve", "stmmac", "fec", "bond", "netkit", "virtio-net",
};

/* ---- setup ------------------------------------------------------------ */

#define SETUP "setup"

static void setup_usage(FILE *out)
{
	fprintf(out,
"Usage: sgbpf setup --dev IFACE [--json]\n"
"\n"
"Gets IFACE ready for sgbpf services and reports what they will find there:\n"
"brings the link up, checks its MTU against sgbpf's 1500-byte frames, says\n"
"which XDP mode and which TC attachment services will get, and probes the\n"
"kernel for every BPF and io_uring feature the UDP backend uses.  On kernels\n"
"without TCX it also adds the clsact qdisc the TC programs need.\n"
"Needs root (CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN).\n"
"\n"
"Options:\n"
"  -d, --dev IFACE   interface to prepare (required)\n"
"  -j, --json        print the report as one JSON object\n"
"  -h, --help        show this help and exit\n"
"  -V, --version     show the version and exit\n"
"\n"
"Exit codes: 0 ready, 1 not ready (a feature or privilege is missing, the\n"
"MTU is too small, or a runtime error), 2 usage error.\n");
}

struct setup_report {
	struct sgbpf_netdev dev;
	bool was_up;
	const char *xdp;		/* what the gather will likely get */
	uint32_t xdp_prog_id;		/* a program holding the XDP hook, or 0 */
	char xdp_prog[16];
	bool tcx;
	bool clsact_created;
	uint64_t missing;
};

static bool driver_has_native_xdp(const char *driver)
{
	for (size_t i = 0; i < sizeof(xdp_native_drivers) / sizeof(xdp_native_drivers[0]); i++)
		if (!strcmp(driver, xdp_native_drivers[i]))
			return true;
	return false;
}

/* Which XDP hook a service would get, and who holds it now. */
static void setup_xdp(struct setup_report *r)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	if (r->dev.loopback || !r->dev.driver[0])
		r->xdp = "generic";
	else if (driver_has_native_xdp(r->dev.driver))
		r->xdp = "native";
	else
		r->xdp = "unknown";
	if (bpf_xdp_query(r->dev.ifindex, 0, &q))
		return;
	r->xdp_prog_id = q.drv_prog_id ? q.drv_prog_id : q.skb_prog_id ? q.skb_prog_id :
			 q.hw_prog_id ? q.hw_prog_id : q.prog_id;
	if (r->xdp_prog_id) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_prog_get_fd_by_id(r->xdp_prog_id);

		snprintf(r->xdp_prog, sizeof(r->xdp_prog), "?");
		if (fd >= 0) {
			if (!bpf_obj_get_info_by_fd(fd, &info, &len))
				snprintf(r->xdp_prog, sizeof(r->xdp_prog), "%s", info.name);
			close(fd);
		}
	}
}

static const char *xdp_sentence(const struct setup_report *r)
{
	if (r->xdp_prog_id)
		return "held by another program: services gather at TC ingress";
	if (!strcmp(r->xdp, "native"))
		return "native likely (the driver supports it); generic if it refuses";
	if (!strcmp(r->xdp, "generic"))
		return "generic (no native XDP on this device)";
	return "native: tried at service creation, generic otherwise";
}

static void setup_print_text(const struct setup_report *r)
{
	char desc[256];

	printf("interface:  %s (ifindex %d)\n", r->dev.name, r->dev.ifindex);
	printf("link:       up%s\n", r->was_up ? "" : " (was down; brought up)");
	printf("mtu:        %u (%s)\n", r->dev.mtu,
	       r->dev.mtu >= SGBPF_FRAME_MTU ? "fits sgbpf's 1500-byte frames" :
					       "too small for sgbpf's 1500-byte frames");
	printf("driver:     %s\n", r->dev.driver[0] ? r->dev.driver : "(none)");
	if (r->xdp_prog_id)
		printf("xdp:        %s (program '%s', id %u)\n", xdp_sentence(r), r->xdp_prog,
		       r->xdp_prog_id);
	else
		printf("xdp:        %s\n", xdp_sentence(r));
	printf("tc:         %s\n", r->tcx ? "TCX links (detach when their owner exits)" :
		r->clsact_created ? "no TCX: clsact qdisc added for the netlink fallback" :
				    "no TCX: netlink fallback on the existing clsact qdisc");
	if (!r->missing) {
		printf("features:   all present\n");
		return;
	}
	printf("features:   missing:\n");
	for (int f = 0; f < __SGBPF_FEAT_MAX; f++)
		if (r->missing & SGBPF_FEAT_BIT(f))
			printf("  - %s\n", sgbpf_probe_describe(f, desc, sizeof(desc)));
}

static void setup_print_json(const struct setup_report *r)
{
	char desc[256];
	bool first = true;

	printf("{\"interface\":");
	cli_json_str(stdout, r->dev.name);
	printf(",\"ifindex\":%d,\"up\":true,\"was_up\":%s,\"mtu\":%u,\"mtu_ok\":%s,\"driver\":",
	       r->dev.ifindex, r->was_up ? "true" : "false", r->dev.mtu,
	       r->dev.mtu >= SGBPF_FRAME_MTU ? "true" : "false");
	cli_json_str(stdout, r->dev.driver);
	printf(",\"xdp\":");
	cli_json_str(stdout, r->xdp_prog_id ? "taken" : r->xdp);
	if (r->xdp_prog_id) {
		printf(",\"xdp_prog_id\":%u,\"xdp_prog\":", r->xdp_prog_id);
		cli_json_str(stdout, r->xdp_prog);
	}
	printf(",\"tcx\":%s,\"clsact_created\":%s,\"features_ok\":%s,\"missing\":[",
	       r->tcx ? "true" : "false", r->clsact_created ? "true" : "false",
	       r->missing ? "false" : "true");
	for (int f = 0; f < __SGBPF_FEAT_MAX; f++) {
		if (!(r->missing & SGBPF_FEAT_BIT(f)))
			continue;
		printf("%s{\"feature\":", first ? "" : ",");
		cli_json_str(stdout, sgbpf_probe_name(f));
		printf(",\"since\":");
		cli_json_str(stdout, sgbpf_probe_since(f));
		printf(",\"message\":");
		cli_json_str(stdout, sgbpf_probe_describe(f, desc, sizeof(desc)));
		printf("}");
		first = false;
	}
	printf("]}\n");
}

static int setup_run(const char *ifname, bool json)
{
	struct setup_report r = {};
	int err;

	err = sgbpf_netdev_open(ifname, &r.dev);
	if (err)
		return cli_fail(SETUP, "%s", sgbpf_last_error());
	err = sgbpf_probe_privileges(SGBPF_PRIV_SERVICE, "setting up an interface for sgbpf");
	if (err)
		return cli_fail(SETUP, "%s", sgbpf_last_error());

	r.was_up = r.dev.up;
	if (!r.dev.up) {
		err = sgbpf_netdev_set_up(r.dev.ifindex);
		if (!err)
			err = sgbpf_netdev_open(ifname, &r.dev);
		if (err)
			return cli_fail(SETUP, "%s", sgbpf_last_error());
	}
	setup_xdp(&r);

	err = sgbpf_probe_tcx(r.dev.ifindex);
	if (err < 0)
		return cli_fail(SETUP, "%s", sgbpf_last_error());
	r.tcx = err == 1;
	/* Only the netlink fallback needs a qdisc; TCX links need none. */
	if (!r.tcx) {
		err = sgbpf_netdev_clsact_ensure(r.dev.ifindex, &r.clsact_created);
		if (err)
			return cli_fail(SETUP, "%s", sgbpf_last_error());
	}

	err = sgbpf_probe_features(&r.missing);
	if (err)
		return cli_fail(SETUP, "cannot probe the kernel's features: %s", strerror(-err));

	if (json)
		setup_print_json(&r);
	else
		setup_print_text(&r);
	if (r.missing)
		return cli_fail(SETUP, "%s is not ready: this kernel lacks features sgbpf needs",
				r.dev.name);
	if (r.dev.mtu < SGBPF_FRAME_MTU)
		return cli_fail(SETUP, "%s is not ready: MTU %u is below %u", r.dev.name, r.dev.mtu,
				SGBPF_FRAME_MTU);
	return CLI_EXIT_OK;
}

int cmd_setup(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	const char *dev = NULL;
	bool json = false;
	int c;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, ":d:jhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dev = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			setup_usage(stdout);
			return CLI_EXIT_OK;
		case 'V':
			cli_print_version();
			return CLI_EXIT_OK;
		default:
			return cli_getopt_error(SETUP, c, argc, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error(SETUP, "unexpected argument '%s'", argv[optind]);
	if (!dev)
		return cli_usage_error(SETUP, "--dev IFACE is required");
	return setup_run(dev, json);
}

/* ---- teardown --------------------------------------------------------- */

#define TEARDOWN "teardown"

static void teardown_usage(FILE *out)
{
	fprintf(out,
"Usage: sgbpf teardown --dev IFACE\n"
"\n"
"Removes every sgbpf attachment from IFACE: the XDP and TCX links of the\n"
"services running there (detached by force: their processes keep running\n"
"but scatter and gather nothing more) and the tc filters named \"sgbpf:...\"\n"
"that the netlink fallback leaves behind.  Programs and filters that are not\n"
"sgbpf's are never touched, and neither is a clsact qdisc, since sgbpf cannot\n"
"tell who added it.  TCP services are on no interface and are left alone:\n"
"their sk_lookup link and verdict program go with the process that owns\n"
"them, so a line names each one's owner, to stop.  Prints one line per\n"
"thing removed or kept.\n"
"Needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN).\n"
"\n"
"Options:\n"
"  -d, --dev IFACE   interface to clean (required)\n"
"  -h, --help        show this help and exit\n"
"  -V, --version     show the version and exit\n"
"\n"
"Exit codes: 0 done (also when there was nothing to remove), 1 something\n"
"could not be removed or a runtime error, 2 usage error.\n");
}

/* Scatter first: no new request goes out while its gather is still there. */
static int hook_order(enum sgbpf_inspect_hook h)
{
	return h == SGBPF_HOOK_TC_EGRESS ? 0 : 1;
}

static void print_owners(const struct sgbpf_inspect_service *svc)
{
	if (!svc->nowners) {
		printf(", no owning process");
		return;
	}
	printf(", owner");
	for (unsigned int i = 0; i < svc->nowners; i++)
		printf("%s %d (%s)", i ? "," : "", (int)svc->owners[i].pid,
		       svc->owners[i].comm[0] ? svc->owners[i].comm : "?");
}

static int teardown_service(const struct sgbpf_inspect_service *svc)
{
	int failed = 0;

	for (int pass = 0; pass < 2; pass++) {
		for (unsigned int i = 0; i < svc->natt; i++) {
			const struct sgbpf_inspect_attach *a = &svc->att[i];

			if (hook_order(a->hook) != pass)
				continue;
			if (sgbpf_inspect_remove(a)) {
				fprintf(stderr, "sgbpf %s: %s\n", TEARDOWN, sgbpf_last_error());
				failed++;
				continue;
			}
			if (a->netlink)
				printf("removed %s tc filter pref %u handle %u (%s, program id %u)",
				       sgbpf_inspect_hook_name(a->hook), a->tc_prio, a->tc_handle,
				       a->prog, a->prog_id);
			else
				printf("removed %s link %u (%s, program id %u)",
				       sgbpf_inspect_hook_name(a->hook), a->link_id, a->prog,
				       a->prog_id);
			if (svc->have_cfg)
				printf(" of the service on port %u", ntohs(svc->cfg.port));
			print_owners(svc);
			printf("\n");
		}
	}
	return failed;
}

static int teardown_run(const char *ifname)
{
	struct sgbpf_inspect_tcp_list tcp;
	struct sgbpf_inspect in;
	struct sgbpf_netdev dev;
	bool clsact = false;
	int err, foreign = 0, failed = 0;
	size_t removed = 0;

	err = sgbpf_netdev_open(ifname, &dev);
	if (err)
		return cli_fail(TEARDOWN, "%s", sgbpf_last_error());
	err = sgbpf_probe_privileges(SGBPF_PRIV_SYS_ADMIN | SGBPF_PRIV_NET_ADMIN,
				     "removing sgbpf attachments");
	if (err)
		return cli_fail(TEARDOWN, "%s", sgbpf_last_error());
	err = sgbpf_inspect_scan(dev.ifindex, &in);
	if (err)
		return cli_fail(TEARDOWN, "%s", sgbpf_last_error());
	for (size_t i = 0; i < in.n; i++) {
		failed += teardown_service(&in.svc[i]);
		removed += in.svc[i].natt;
	}
	sgbpf_inspect_free(&in);
	if (!removed)
		printf("nothing of sgbpf's on %s\n", dev.name);
	err = sgbpf_inspect_tcp_scan(&tcp);
	if (err) {
		fprintf(stderr, "sgbpf %s: %s\n", TEARDOWN, sgbpf_last_error());
		failed++;
	} else {
		status_tcp_teardown_note(&tcp);
		sgbpf_inspect_tcp_free(&tcp);
	}

	/*
	 * The qdisc stays: the fallback's own qdisc goes with its last filter
	 * when the process that added it detaches, and a qdisc still here may
	 * be somebody else's; deleting it would delete their filters too.
	 */
	err = sgbpf_inspect_clsact(dev.ifindex, &clsact, &foreign);
	if (err) {
		fprintf(stderr, "sgbpf %s: %s\n", TEARDOWN, sgbpf_last_error());
		failed++;
	} else if (clsact && foreign) {
		printf("kept the clsact qdisc of %s: %d filter%s that %s not sgbpf's use%s it\n",
		       dev.name, foreign, foreign == 1 ? "" : "s", foreign == 1 ? "is" : "are",
		       foreign == 1 ? "s" : "");
	} else if (clsact) {
		printf("kept the clsact qdisc of %s: sgbpf cannot tell whether it added it "
		       "(`tc qdisc del dev %s clsact` removes it)\n", dev.name, dev.name);
	}
	return failed ? cli_fail(TEARDOWN, "the teardown of %s is incomplete (see above)",
				 dev.name) : CLI_EXIT_OK;
}

int cmd_teardown(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	const char *dev = NULL;
	int c;

	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, ":d:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dev = optarg;
			break;
		case 'h':
			teardown_usage(stdout);
			return CLI_EXIT_OK;
		case 'V':
			cli_print_version();
			return CLI_EXIT_OK;
		default:
			return cli_getopt_error(TEARDOWN, c, argc, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error(TEARDOWN, "unexpected argument '%s'", argv[optind]);
	if (!dev)
		return cli_usage_error(TEARDOWN, "--dev IFACE is required");
	return teardown_run(dev);
}
