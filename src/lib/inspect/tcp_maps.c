// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What the maps of a TCP service tell: the listening address and port from
 * the steer program's read-only data (set before load, so they are what
 * the program compares SYNs with), the number of workers from its worker
 * table, its counters, and the worker connections in the verdict program's
 * sockmap.  Objects are opened by id and closed before returning.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "inspect/inspect_priv.h"

bool sgbpf_inspect_name_is(const char *kernel_name, const char *full)
{
	/* The kernel keeps BPF_OBJ_NAME_LEN - 1 characters of a name. */
	size_t n = strlen(full) < BPF_OBJ_NAME_LEN - 1 ? strlen(full) : BPF_OBJ_NAME_LEN - 1;

	return strlen(kernel_name) == n && !strncmp(kernel_name, full, n);
}

int sgbpf_inspect_prog_maps(uint32_t id, struct bpf_prog_info *info, uint32_t *ids,
			    uint32_t *nids)
{
	__u32 len = sizeof(*info), cap = *nids;
	int fd, err = 0;

	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return -errno;
	memset(info, 0, sizeof(*info));
	info->nr_map_ids = cap;
	info->map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(fd, info, &len))
		err = -errno;
	else
		*nids = info->nr_map_ids < cap ? info->nr_map_ids : cap;
	close(fd);
	return err;
}

/* Copies the variable named var of the .rodata section value into out. */
static bool rodata_var(const struct btf *btf, const struct btf_type *sec, const uint8_t *val,
		       size_t vlen, const char *var, void *out, size_t size)
{
	const struct btf_var_secinfo *vs = btf_var_secinfos(sec);

	for (unsigned int i = 0; i < btf_vlen(sec); i++, vs++) {
		const struct btf_type *v = btf__type_by_id(btf, vs->type);

		if (!v || strcmp(btf__name_by_offset(btf, v->name_off), var))
			continue;
		if (vs->size != size || vs->offset + size > vlen)
			return false;
		memcpy(out, val + vs->offset, size);
		return true;
	}
	return false;
}

/*
 * The address and port from a .rodata map, found by its BTF (a section
 * named ".rodata" with our variables): the map's own name is cut to 15
 * characters of the object's name and says little.
 */
static void read_listen(struct sgbpf_inspect_tcp *t, int fd, const struct bpf_map_info *mi)
{
	const struct btf_type *sec;
	struct btf *btf;
	uint8_t *val;
	__u32 zero = 0;

	if (mi->type != BPF_MAP_TYPE_ARRAY || !mi->btf_id || !mi->btf_value_type_id)
		return;
	btf = btf__load_from_kernel_by_id(mi->btf_id);
	if (!btf)
		return;
	sec = btf__type_by_id(btf, mi->btf_value_type_id);
	val = malloc(mi->value_size);
	if (sec && btf_is_datasec(sec) && val &&
	    !strcmp(btf__name_by_offset(btf, sec->name_off), ".rodata") &&
	    !bpf_map_lookup_elem(fd, &zero, val) &&
	    rodata_var(btf, sec, val, mi->value_size, "sgbpf_steer_addr", &t->addr,
		       sizeof(t->addr)) &&
	    rodata_var(btf, sec, val, mi->value_size, "sgbpf_steer_port", &t->port,
		       sizeof(t->port)))
		t->have_listen = true;
	free(val);
	btf__free(btf);
}

/* Entries of a hash map, walked by key. */
static int count_keys(int fd, __u32 key_size)
{
	uint8_t *key = calloc(2, key_size ? key_size : 1), *next = key + key_size;
	int n = 0, err;

	if (!key)
		return -1;
	for (err = bpf_map_get_next_key(fd, NULL, next); !err;
	     err = bpf_map_get_next_key(fd, key, next)) {
		memcpy(key, next, key_size);
		n++;
	}
	free(key);
	return errno == ENOENT ? n : -1;
}

static void read_steer_stats(struct sgbpf_inspect_tcp *t, int fd, const struct bpf_map_info *mi)
{
	if (mi->value_size == sizeof(uint64_t) && mi->max_entries >= __SGBPF_TCP_STEER_STATS)
		t->have_steer_stats =
			sgbpf_inspect_sum_percpu(fd, __SGBPF_TCP_STEER_STATS, t->steer_stats) == 0;
}

void sgbpf_inspect_tcp_read_steer(struct sgbpf_inspect_tcp *t, const uint32_t *map_ids,
				  uint32_t nmaps)
{
	t->workers = -1;
	for (uint32_t i = 0; i < nmaps; i++) {
		struct bpf_map_info mi = {};
		__u32 len = sizeof(mi);
		int fd = bpf_map_get_fd_by_id(map_ids[i]);

		if (fd < 0)
			continue;	/* freed meanwhile */
		if (!bpf_obj_get_info_by_fd(fd, &mi, &len)) {
			if (sgbpf_inspect_name_is(mi.name, "sgbpf_tcp_workers"))
				t->workers = count_keys(fd, mi.key_size);
			else if (sgbpf_inspect_name_is(mi.name, "sgbpf_tcp_steer_stats"))
				read_steer_stats(t, fd, &mi);
			else
				read_listen(t, fd, &mi);
		}
		close(fd);
	}
}

int sgbpf_inspect_tcp_connected(uint32_t sockmap_id)
{
	struct bpf_map_info mi = {};
	__u32 len = sizeof(mi), n = 0;
	int fd = bpf_map_get_fd_by_id(sockmap_id);
	__u64 cookie;

	if (fd < 0)
		return -1;
	if (bpf_obj_get_info_by_fd(fd, &mi, &len) || mi.value_size != sizeof(cookie)) {
		close(fd);
		return -1;
	}
	/*
	 * A sockmap is an array: every key exists, and a lookup from user space
	 * gives the socket's cookie or fails with ENOENT when the slot is empty.
	 * Keys from SGBPF_TCP_CTRL_KEY on are not worker connections.
	 */
	for (__u32 k = 0; k < mi.max_entries && k < SGBPF_TCP_CTRL_KEY; k++)
		if (!bpf_map_lookup_elem(fd, &k, &cookie))
			n++;
	close(fd);
	return (int)n;
}
