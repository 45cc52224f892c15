// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What the kernel's BPF objects tell about a service: the name and the
 * sgbpf maps of a program (which say whether it is ours and which service
 * it belongs to), then, once the service is known, its configuration from
 * sgbpf_cfg, its counters summed over CPUs from sgbpf_stats, and the name
 * of its reduction from the program array.  Objects are opened by id and
 * closed before returning.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "inspect/inspect_priv.h"

/* ---- programs and maps ------------------------------------------------ */

int sgbpf_inspect_map_name(uint32_t id, char *name, size_t len)
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
int sgbpf_inspect_prog_facts(uint32_t id, struct prog_facts *pf)
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

		if (sgbpf_inspect_map_name(ids[i], name, sizeof(name)))
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
void sgbpf_inspect_prog_full_name(uint32_t id, char *buf, size_t len)
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

/* ---- details: configuration, counters, reduction ---------------------- */

void sgbpf_inspect_read_config(struct sgbpf_inspect_service *svc)
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

int sgbpf_inspect_sum_percpu(int fd, uint32_t n, uint64_t *out)
{
	int ncpus = libbpf_num_possible_cpus(), err = 0;
	uint64_t *vals;

	if (ncpus <= 0)
		return ncpus < 0 ? ncpus : -EINVAL;
	vals = calloc((size_t)ncpus, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (__u32 k = 0; k < n && !err; k++) {
		if (bpf_map_lookup_elem(fd, &k, vals)) {
			err = -errno;
			break;
		}
		out[k] = 0;
		for (int c = 0; c < ncpus; c++)
			out[k] += vals[c];
	}
	free(vals);
	return err;
}

void sgbpf_inspect_read_stats(struct sgbpf_inspect_service *svc, uint32_t map_id)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), n;
	int fd;

	if (!map_id)
		return;
	fd = bpf_map_get_fd_by_id(map_id);
	if (fd < 0)
		return;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.value_size == sizeof(uint64_t)) {
		n = info.max_entries < __SGBPF_STAT_MAX ? info.max_entries : __SGBPF_STAT_MAX;
		svc->have_stats = sgbpf_inspect_sum_percpu(fd, n, svc->stats) == 0;
	}
	close(fd);
}

/*
 * The reduction: the program in slot 0 of the service's program array
 * (user space reads a program array's entries as program ids).  Built-in
 * ones are named sgbpf_reduce_<op>_<type>[_tc]; they print as "<op>-<type>".
 */
void sgbpf_inspect_read_reduce(struct sgbpf_inspect_service *svc, uint32_t map_id)
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
	sgbpf_inspect_prog_full_name(prog_id, name, sizeof(name));
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
