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

#include <stdbool.h>
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
int sgbpf_inspect_map_name(uint32_t id, char *name, size_t len);
/* The program's full name from its BTF (the kernel keeps 15 characters); "" when gone. */
void sgbpf_inspect_prog_full_name(uint32_t id, char *buf, size_t len);
void sgbpf_inspect_read_config(struct sgbpf_inspect_service *svc);
void sgbpf_inspect_read_stats(struct sgbpf_inspect_service *svc, uint32_t map_id);
/* Sums entries 0..n-1 of the per-CPU u64 array fd over CPUs into out[]; 0 or -errno. */
int sgbpf_inspect_sum_percpu(int fd, uint32_t n, uint64_t *out);
void sgbpf_inspect_read_reduce(struct sgbpf_inspect_service *svc, uint32_t map_id);

/* links.c */
int sgbpf_inspect_links_walk(struct scan *s);
/*
 * Calls fn for every bpf_link id in the system until fn returns an error
 * (0 for a link it leaves out or that went away); returns that error with
 * a sentence for sgbpf_last_error(), or 0.
 */
int sgbpf_inspect_for_each_link(int (*fn)(void *ctx, uint32_t id), void *ctx);
/* Link id's info, len bytes of it; 0, -ENOENT when the link is gone, or -errno. */
int sgbpf_inspect_link_info(uint32_t id, void *info, uint32_t len);

/* filters.c */
int sgbpf_inspect_filters_walk(struct scan *s);

/* owners.c */
void sgbpf_inspect_owners_walk(struct scan *s);

/*
 * Calls fn for every BPF link or program descriptor of every process this
 * PID namespace shows, with the ids its fdinfo gives (link_id 0 for a
 * program descriptor).  The TCP scan uses it too, with owners of its own.
 */
typedef void (*sgbpf_inspect_bpf_fd_fn)(void *ctx, pid_t pid, uint32_t link_id,
					uint32_t prog_id);
void sgbpf_inspect_bpf_fds_walk(sgbpf_inspect_bpf_fd_fn fn, void *ctx);

/* Adds pid, with its comm, to owners[*n] unless it is there; *more when full. */
void sgbpf_inspect_owner_add(struct sgbpf_inspect_owner *owners, unsigned int *n, bool *more,
			     pid_t pid);

/* tcp_maps.c */
struct bpf_prog_info;
/* Whether a name as the kernel keeps it (15 characters) is full's. */
bool sgbpf_inspect_name_is(const char *kernel_name, const char *full);
/* Program id's info and up to *nids of its map ids; *nids becomes how many. */
int sgbpf_inspect_prog_maps(uint32_t id, struct bpf_prog_info *info, uint32_t *ids,
			    uint32_t *nids);
/* Listening address and port, workers and counters from the steer program's maps. */
void sgbpf_inspect_tcp_read_steer(struct sgbpf_inspect_tcp *t, const uint32_t *map_ids,
				  uint32_t nmaps);
/* Worker connections in the sockmap, or -1 when it cannot be read. */
int sgbpf_inspect_tcp_connected(uint32_t sockmap_id);

#endif /* SGBPF_LIB_INSPECT_PRIV_H */
