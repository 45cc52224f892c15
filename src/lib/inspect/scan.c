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
 *
 * This file holds the table of services found so far, which the walks of
 * links.c and filters.c fill, and runs the scan: links, filters, then the
 * details of progs.c, then the owners of owners.c.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "error.h"
#include "inspect/inspect_priv.h"

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

void sgbpf_inspect_free(struct sgbpf_inspect *in)
{
	free(in->svc);
	in->svc = NULL;
	in->n = 0;
}

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

int sgbpf_inspect_service_add(struct scan *s, const struct prog_facts *pf,
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
	err = sgbpf_inspect_links_walk(&s);
	if (!err)
		err = sgbpf_inspect_filters_walk(&s);
	if (err)
		goto err;
	for (size_t i = 0; i < s.out.n; i++) {
		struct sgbpf_inspect_service *svc = &s.out.svc[i];

		if (svc->cfg_map_id)
			sgbpf_inspect_read_config(svc);
		sgbpf_inspect_read_stats(svc, s.maps[i].stats_map);
		sgbpf_inspect_read_reduce(svc, s.maps[i].reducer_map);
	}
	/* Every descriptor taken by id is closed by now: we are nobody's owner. */
	sgbpf_inspect_owners_walk(&s);
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
