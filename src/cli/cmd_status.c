// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* sgbpf status: the services on this namespace's interfaces, and its TCP services. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include <sgbpf/sgbpf.h>
#include <sgbpf/udp_state.h>

#include "cli.h"
#include "cli_common.h"
#include "inspect.h"
#include "netdev.h"
#include "probe.h"
#include "status_tcp.h"

#define CMD "status"

/* XDP_PASS, as the gather's configuration stores the fate "allow". */
#define FATE_PASS 2

static void usage(FILE *out)
{
	fprintf(out,
"Usage: sgbpf status [--dev IFACE] [--json]\n"
"\n"
"Lists the sgbpf services attached to this network namespace's interfaces,\n"
"found from the kernel's BPF links and tc filters (nothing is pinned): for\n"
"each, its interface, hooks and modes, program and link ids, owning\n"
"processes, port, workers, reduction and live counters.  Then the TCP\n"
"services of the namespace (their sk_lookup links): listening address,\n"
"workers and connections, reduction, link and program ids, owners and\n"
"steering counters.\n"
"Needs root (CAP_SYS_ADMIN, to read BPF objects by id).\n"
"\n"
"Options:\n"
"  -d, --dev IFACE   only the services on IFACE (no TCP service is on one)\n"
"  -j, --json        print one JSON object: {\"services\": [...]}\n"
"  -h, --help        show this help and exit\n"
"  -V, --version     show the version and exit\n"
"\n"
"Exit codes: 0 success (also when no service runs), 1 runtime error,\n"
"2 usage error.\n");
}

/* Counters as the report names them, in enum sgbpf_stat order. */
static const struct {
	const char *json;
	const char *text;
} counters[__SGBPF_STAT_MAX] = {
	[SGBPF_STAT_SCATTERS] = { "scatters", "scatters" },
	[SGBPF_STAT_CLONES] = { "clones", "clones" },
	[SGBPF_STAT_FOLDED] = { "folded", "replies folded" },
	[SGBPF_STAT_COMPLETED] = { "completed", "completed" },
	[SGBPF_STAT_DUPLICATES] = { "duplicates", "duplicates" },
	[SGBPF_STAT_UNKNOWN_SRC] = { "unknown_src", "unknown sources" },
	[SGBPF_STAT_MALFORMED] = { "malformed", "malformed" },
	[SGBPF_STAT_STALE] = { "stale", "stale" },
	[SGBPF_STAT_SURPLUS] = { "surplus", "surplus" },
	[SGBPF_STAT_SCATTER_ERRORS] = { "scatter_errors", "scatter errors" },
	[SGBPF_STAT_UNSOLICITED] = { "unsolicited", "unsolicited" },
	[SGBPF_STAT_SCATTER_FRAGMENTS] = { "scatter_fragments", "scatter fragments" },
	[SGBPF_STAT_CLONE_FAILURES] = { "clone_failures", "clone failures" },
	[SGBPF_STAT_RETRY_COPIES] = { "retry_copies", "retry copies" },
	[SGBPF_STAT_RETRY_IDLE] = { "retry_idle", "idle retries" },
	[SGBPF_STAT_ALLGATHER_COPIES] = { "allgather_copies", "all-gather copies" },
	[SGBPF_STAT_EVENTS_LOST] = { "events_lost", "events lost" },
	[SGBPF_STAT_WAKEUPS_SKIPPED] = { "wakeups_skipped", "wake-ups skipped" },
};

static const char *notify_name(uint32_t notify)
{
	switch (notify) {
	case SGBPF_NOTIFY_NONE:		return "poll";
	case SGBPF_NOTIFY_RINGBUF:	return "ringbuf";
	case SGBPF_NOTIFY_CTRL:		return "ctrl-fd";
	}
	return "?";
}

/* The hook as "xdp"/"tc_ingress"/"tc_egress", and the XDP mode. */
static const char *hook_json(enum sgbpf_inspect_hook h, const char **mode)
{
	*mode = NULL;
	switch (h) {
	case SGBPF_HOOK_XDP_NATIVE:
		*mode = "native";
		return "xdp";
	case SGBPF_HOOK_XDP_GENERIC:
		*mode = "generic";
		return "xdp";
	case SGBPF_HOOK_XDP_OFFLOAD:
		*mode = "offload";
		return "xdp";
	case SGBPF_HOOK_TC_INGRESS:
		return "tc_ingress";
	case SGBPF_HOOK_TC_EGRESS:
		return "tc_egress";
	}
	return "?";
}

static void print_text(const struct sgbpf_inspect *in)
{
	for (size_t i = 0; i < in->n; i++) {
		const struct sgbpf_inspect_service *svc = &in->svc[i];

		printf("%sservice on %s (ifindex %d)", i ? "\n" : "", svc->ifname, svc->ifindex);
		if (svc->have_cfg)
			printf(", port %u\n  workers %u, max in flight %u, reduction %s, "
			       "delivery %s, fate %s\n", ntohs(svc->cfg.port), svc->cfg.nworkers,
			       svc->cfg.slot_mask + 1, svc->reduce, notify_name(svc->cfg.notify),
			       svc->cfg.fate == FATE_PASS ? "allow" : "discard");
		else
			printf(" (configuration unreadable)\n");
		for (unsigned int k = 0; k < svc->natt; k++) {
			const struct sgbpf_inspect_attach *a = &svc->att[k];

			printf("  %-7s %-12s ", k ? "" : "hooks", sgbpf_inspect_hook_name(a->hook));
			if (a->netlink)
				printf("tc filter pref %u handle %u", a->tc_prio, a->tc_handle);
			else
				printf("link %u", a->link_id);
			printf(", program %s id %u\n", a->prog, a->prog_id);
		}
		printf("  owners ");
		if (!svc->nowners)
			printf(" none%s", svc->natt && svc->att[0].netlink ?
			       " (a netlink filter outlives its process)" : "");
		for (unsigned int k = 0; k < svc->nowners; k++)
			printf("%s %d (%s)", k ? "," : "", (int)svc->owners[k].pid,
			       svc->owners[k].comm[0] ? svc->owners[k].comm : "?");
		printf("%s\n", svc->more_owners ? ", ..." : "");
		if (!svc->have_stats)
			continue;
		printf("  counters");
		/* A counter added to enum sgbpf_stat but not named above is left out. */
		for (int c = 0, n = 0; c < __SGBPF_STAT_MAX; c++)
			if (counters[c].text)
				printf("%s %s %llu", n++ ? "," : "", counters[c].text,
				       (unsigned long long)svc->stats[c]);
		printf("\n");
	}
}

static void print_json_service(const struct sgbpf_inspect_service *svc)
{
	printf("{\"backend\":\"udp\",\"interface\":");
	cli_json_str(stdout, svc->ifname);
	printf(",\"ifindex\":%d", svc->ifindex);
	if (svc->have_cfg) {
		printf(",\"port\":%u,\"workers\":%u,\"max_inflight\":%u,\"reduce\":",
		       ntohs(svc->cfg.port), svc->cfg.nworkers, svc->cfg.slot_mask + 1);
		cli_json_str(stdout, svc->reduce);
		printf(",\"delivery\":\"%s\",\"fate\":\"%s\"", notify_name(svc->cfg.notify),
		       svc->cfg.fate == FATE_PASS ? "allow" : "discard");
	}
	printf(",\"hooks\":[");
	for (unsigned int k = 0; k < svc->natt; k++) {
		const struct sgbpf_inspect_attach *a = &svc->att[k];
		const char *mode, *hook = hook_json(a->hook, &mode);

		printf("%s{\"hook\":\"%s\"", k ? "," : "", hook);
		if (mode)
			printf(",\"mode\":\"%s\"", mode);
		if (a->netlink)
			printf(",\"attach\":\"netlink\",\"tc_prio\":%u,\"tc_handle\":%u", a->tc_prio,
			       a->tc_handle);
		else
			printf(",\"attach\":\"link\",\"link_id\":%u", a->link_id);
		printf(",\"prog_id\":%u,\"prog\":", a->prog_id);
		cli_json_str(stdout, a->prog);
		printf("}");
	}
	printf("],");
	status_json_owners(svc->owners, svc->nowners);
	if (svc->have_stats) {
		printf(",\"counters\":{");
		for (int c = 0, n = 0; c < __SGBPF_STAT_MAX; c++)
			if (counters[c].json)
				printf("%s\"%s\":%llu", n++ ? "," : "", counters[c].json,
				       (unsigned long long)svc->stats[c]);
		printf("}");
	}
	printf("}");
}

static void print_json(const struct sgbpf_inspect *in, const struct sgbpf_inspect_tcp_list *tcp)
{
	printf("{\"services\":[");
	for (size_t i = 0; i < in->n; i++) {
		if (i)
			printf(",");
		print_json_service(&in->svc[i]);
	}
	status_tcp_json(tcp, in->n == 0);
	printf("]}\n");
}

static int status_run(const char *ifname, bool json)
{
	struct sgbpf_inspect_tcp_list tcp = {};
	struct sgbpf_inspect in;
	struct sgbpf_netdev dev = {};
	int err;

	if (ifname) {
		err = sgbpf_netdev_open(ifname, &dev);
		if (err)
			return cli_fail(CMD, "%s", sgbpf_last_error());
	}
	err = sgbpf_probe_privileges(SGBPF_PRIV_SYS_ADMIN, "listing sgbpf services");
	if (!err)
		err = sgbpf_inspect_scan(dev.ifindex, &in);
	if (err)
		return cli_fail(CMD, "%s", sgbpf_last_error());
	/* TCP services are on no interface: --dev leaves them out. */
	if (!ifname && (err = sgbpf_inspect_tcp_scan(&tcp))) {
		sgbpf_inspect_free(&in);
		return cli_fail(CMD, "%s", sgbpf_last_error());
	}
	if (json) {
		print_json(&in, &tcp);
	} else if (!in.n && !tcp.n) {
		printf("no sgbpf service%s%s\n", ifname ? " on " : "", ifname ? dev.name : "");
	} else {
		print_text(&in);
		status_tcp_text(&tcp, in.n == 0);
	}
	sgbpf_inspect_tcp_free(&tcp);
	sgbpf_inspect_free(&in);
	return CLI_EXIT_OK;
}

int cmd_status(int argc, char **argv)
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
			usage(stdout);
			return CLI_EXIT_OK;
		case 'V':
			cli_print_version();
			return CLI_EXIT_OK;
		default:
			return cli_getopt_error(CMD, c, argc, argv);
		}
	}
	if (optind < argc)
		return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
	return status_run(dev, json);
}
