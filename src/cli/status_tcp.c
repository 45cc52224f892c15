// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The TCP services of sgbpf status and the note of sgbpf teardown (status_tcp.h). */
#include <stdio.h>

#include <arpa/inet.h>

#include "cli_common.h"
#include "status_tcp.h"

/* Steering counters as the report names them, in enum sgbpf_tcp_steer_stat order. */
static const struct {
	const char *json;
	const char *text;
} steer_counters[__SGBPF_TCP_STEER_STATS] = {
	[SGBPF_TCP_STEERED] = { "steered", "steered" },
	[SGBPF_TCP_REFUSED] = { "refused", "refused" },
	[SGBPF_TCP_NO_LISTENER] = { "no_listener", "no listener" },
	[SGBPF_TCP_ASSIGN_FAILED] = { "assign_failed", "assign failed" },
};

/* "127.0.0.1:7100", or "?" when the steer program's data was unreadable. */
static const char *listen_str(const struct sgbpf_inspect_tcp *t, char *buf, size_t len)
{
	char addr[INET_ADDRSTRLEN];

	if (!t->have_listen || !inet_ntop(AF_INET, &t->addr, addr, sizeof(addr)))
		return "?";
	snprintf(buf, len, "%s:%u", addr, t->port);
	return buf;
}

static void print_owners(const struct sgbpf_inspect_tcp *t)
{
	if (!t->nowners)
		printf(" none");
	for (unsigned int k = 0; k < t->nowners; k++)
		printf("%s %d (%s)", k ? "," : "", (int)t->owners[k].pid,
		       t->owners[k].comm[0] ? t->owners[k].comm : "?");
	printf("%s", t->more_owners ? ", ..." : "");
}

void status_tcp_text(const struct sgbpf_inspect_tcp_list *l, bool first)
{
	for (size_t i = 0; i < l->n; i++, first = false) {
		const struct sgbpf_inspect_tcp *t = &l->svc[i];
		char where[32];

		printf("%stcp service on %s\n", first ? "" : "\n",
		       listen_str(t, where, sizeof(where)));
		if (t->workers >= 0)
			printf("  workers %d", t->workers);
		else
			printf("  workers ?");
		if (t->connected >= 0)
			printf(" (%d connected)", t->connected);
		printf(", reduction %s\n", t->reduce);
		printf("  steer   sk_lookup link %u, program sgbpf_steer id %u\n", t->link_id,
		       t->steer_prog_id);
		if (t->verdict_prog_id)
			printf("  verdict sockmap %u, program %s id %u\n", t->sockmap_id, t->verdict,
			       t->verdict_prog_id);
		else
			printf("  verdict not found (held by no process in sight)\n");
		printf("  owners ");
		print_owners(t);
		printf("\n");
		if (!t->have_steer_stats)
			continue;
		printf("  counters");
		for (int c = 0; c < __SGBPF_TCP_STEER_STATS; c++)
			printf("%s %s %llu", c ? "," : "", steer_counters[c].text,
			       (unsigned long long)t->steer_stats[c]);
		printf("\n");
	}
}

void status_json_owners(const struct sgbpf_inspect_owner *o, unsigned int n)
{
	printf("\"owners\":[");
	for (unsigned int k = 0; k < n; k++) {
		printf("%s{\"pid\":%d,\"comm\":", k ? "," : "", (int)o[k].pid);
		cli_json_str(stdout, o[k].comm);
		printf("}");
	}
	printf("]");
}

static void json_service(const struct sgbpf_inspect_tcp *t)
{
	char addr[INET_ADDRSTRLEN];

	printf("{\"backend\":\"tcp\"");
	if (t->have_listen && inet_ntop(AF_INET, &t->addr, addr, sizeof(addr)))
		printf(",\"address\":\"%s\",\"port\":%u", addr, t->port);
	if (t->workers >= 0)
		printf(",\"workers\":%d", t->workers);
	if (t->connected >= 0)
		printf(",\"connected\":%d", t->connected);
	printf(",\"reduce\":");
	cli_json_str(stdout, t->reduce);
	printf(",\"link_id\":%u,\"steer_prog_id\":%u,\"steer_prog\":\"sgbpf_steer\"", t->link_id,
	       t->steer_prog_id);
	if (t->verdict_prog_id) {
		printf(",\"verdict_prog_id\":%u,\"verdict_prog\":", t->verdict_prog_id);
		cli_json_str(stdout, t->verdict);
		printf(",\"sockmap_id\":%u", t->sockmap_id);
	}
	printf(",");
	status_json_owners(t->owners, t->nowners);
	if (t->have_steer_stats) {
		printf(",\"counters\":{");
		for (int c = 0; c < __SGBPF_TCP_STEER_STATS; c++)
			printf("%s\"%s\":%llu", c ? "," : "", steer_counters[c].json,
			       (unsigned long long)t->steer_stats[c]);
		printf("}");
	}
	printf("}");
}

void status_tcp_json(const struct sgbpf_inspect_tcp_list *l, bool first)
{
	for (size_t i = 0; i < l->n; i++, first = false) {
		if (!first)
			printf(",");
		json_service(&l->svc[i]);
	}
}

void status_tcp_teardown_note(const struct sgbpf_inspect_tcp_list *l)
{
	/*
	 * Left alone: detaching the sk_lookup link would only refuse new
	 * connections while the verdict program kept folding the open ones, a
	 * half-dead service.  Everything of it goes with its owner's descriptors.
	 */
	for (size_t i = 0; i < l->n; i++) {
		const struct sgbpf_inspect_tcp *t = &l->svc[i];
		char where[32];

		printf("kept the tcp service on %s (sk_lookup link %u): it is on no interface and "
		       "goes with its owner", listen_str(t, where, sizeof(where)), t->link_id);
		if (t->nowners) {
			print_owners(t);
			printf("; stop that process to remove it\n");
		} else {
			printf("; no owning process is in sight\n");
		}
	}
}
