/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the files of src/lib/inspect/ share: the state of one scan (the
 * services found so far and the map ids their details are read from), what
 * one program tells about its service, and the steps sgbpf_inspect_scan()
 * runs in turn.  Internal to inspect/; the rest of the library and the CLI
 * use inspect.h.
 */
#ifndef SGBPF_LIB_INSPECT_PRIV_H
#define SGBPF_LIB_INSPECT_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "inspect.h"

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

/* scan.c: adds attachment a to the service of the program pf describes. */
int sgbpf_inspect_service_add(struct scan *s, const struct prog_facts *pf,
			      const struct sgbpf_inspect_attach *a);

/* progs.c */
int sgbpf_inspect_prog_facts(uint32_t id, struct prog_facts *pf);
void sgbpf_inspect_read_config(struct sgbpf_inspect_service *svc);
void sgbpf_inspect_read_stats(struct sgbpf_inspect_service *svc, uint32_t map_id);
void sgbpf_inspect_read_reduce(struct sgbpf_inspect_service *svc, uint32_t map_id);

/* links.c */
int sgbpf_inspect_links_walk(struct scan *s);

/* filters.c */
int sgbpf_inspect_filters_walk(struct scan *s);

/* owners.c */
void sgbpf_inspect_owners_walk(struct scan *s);

#endif /* SGBPF_LIB_INSPECT_PRIV_H */
