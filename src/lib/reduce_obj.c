// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Loading a custom reduction's object for either backend: open, check its
 * ABI record, bind its maps to the service's, pick and configure the
 * programs the backend runs, load.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <sgbpf/udp_state.h>

#include "error.h"
#include "reduce_obj.h"

const char *sgbpf_bpf_errstr(int err, char *buf, size_t len)
{
	if (libbpf_strerror(err, buf, len))
		snprintf(buf, len, "error %d", -err);
	return buf;
}

void sgbpf_err_append_log_tail(const char *log, size_t log_size, int lines)
{
	size_t len = log ? strnlen(log, log_size) : 0;
	const char *p = log + len;
	int seen = 0;

	while (p > log && seen <= lines)
		if (*--p == '\n')
			seen++;
	if (len) {
		sgbpf_err_append(":\n");
		sgbpf_err_append(*p == '\n' ? p + 1 : p);
	}
}

int sgbpf_reduce_obj_open(const char *path, char *log, size_t log_size, struct bpf_object **out)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .kernel_log_buf = log,
		    .kernel_log_size = log ? log_size : 0);
	struct bpf_object *obj;
	char why[128];
	int err;

	obj = bpf_object__open_file(path, &oo);
	err = obj ? 0 : -errno;
	if (!obj)
		return sgbpf_err(err, "cannot open reduction object %s: %s", path,
				 sgbpf_bpf_errstr(err, why, sizeof(why)));
	*out = obj;
	return 0;
}

/* The internal map holding an object's read-only globals, or NULL. */
static struct bpf_map *rodata_map(const struct bpf_object *obj)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, obj) {
		const char *name = bpf_map__name(map);
		size_t n = strlen(name);

		if (bpf_map__is_internal(map) && n >= 7 && strcmp(name + n - 7, ".rodata") == 0)
			return map;
	}
	return NULL;
}

/*
 * Where the read-only global var of size bytes sits in .rodata: its place
 * comes from the object's BTF.  Returns its offset, or -ENOENT.
 */
static long rodata_offset(const struct bpf_object *obj, const char *var, size_t size,
			  size_t rodata_size)
{
	const struct btf *btf = bpf_object__btf(obj);
	const struct btf_var_secinfo *vs;
	const struct btf_type *sec;
	int var_id, sec_id;

	if (!btf)
		return -ENOENT;
	var_id = btf__find_by_name_kind(btf, var, BTF_KIND_VAR);
	sec_id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
	if (var_id < 0 || sec_id < 0)
		return -ENOENT;
	sec = btf__type_by_id(btf, sec_id);
	if (!sec)
		return -ENOENT;
	vs = btf_var_secinfos(sec);
	for (unsigned int i = 0; i < btf_vlen(sec); i++, vs++) {
		if (vs->type != (uint32_t)var_id)
			continue;
		if (vs->size != size || vs->offset + size > rodata_size)
			return -ENOENT;
		return vs->offset;
	}
	return -ENOENT;
}

/* Reads the reduction's ABI record (see SGBPF_REDUCER_ABI); -ENOENT if there is none. */
static int read_abi(const struct bpf_object *obj, const char *name, struct sgbpf_reducer_abi *abi)
{
	struct bpf_map *map = rodata_map(obj);
	const uint8_t *data;
	char var[160];
	size_t size;
	long off;

	if (!map)
		return -ENOENT;
	data = bpf_map__initial_value(map, &size);
	if (!data)
		return -ENOENT;
	snprintf(var, sizeof(var), "%s__sgbpf_abi", name);
	off = rodata_offset(obj, var, sizeof(*abi), size);
	if (off < 0)
		return (int)off;
	memcpy(abi, data + off, sizeof(*abi));
	return 0;
}

/*
 * A reduction object must have been built against this version's layouts:
 * a different one would read and write the shared maps at the wrong
 * offsets, which the verifier cannot see.  Its element size is what the
 * results are made of.
 */
int sgbpf_reduce_obj_check_abi(const struct bpf_object *obj, const char *path, const char *name,
			       uint32_t asked_elem_size, uint32_t *elem_size)
{
	struct sgbpf_reducer_abi abi;

	if (read_abi(obj, name, &abi))
		return sgbpf_err(-EPROTO, "%s: reduction %s carries no ABI record (%s__sgbpf_abi); "
					  "define it with SGBPF_ELEMENTWISE_REDUCER from this "
					  "sgbpf's <sgbpf/aggregation.bpf.h> and rebuild it",
				 path, name, name);
	if (abi.version != SGBPF_REDUCER_ABI)
		return sgbpf_err(-EPROTO, "%s: reduction %s was built for reduction ABI %u, this "
					  "libsgbpf has ABI %u; rebuild it against this sgbpf's "
					  "headers",
				 path, name, abi.version, SGBPF_REDUCER_ABI);
	if (abi.elem_size != 1 && abi.elem_size != 2 && abi.elem_size != 4 && abi.elem_size != 8)
		return sgbpf_err(-EPROTO, "%s: reduction %s records an element size of %u bytes; "
					  "1, 2, 4 or 8 are supported",
				 path, name, abi.elem_size);
	if (asked_elem_size && asked_elem_size != abi.elem_size)
		return sgbpf_err(-EINVAL, "%s: reduction %s folds %u-byte elements, but "
					  "reduce_elem_size says %u",
				 path, name, abi.elem_size, asked_elem_size);
	*elem_size = abi.elem_size;
	return 0;
}

int sgbpf_reduce_obj_bind_maps(struct bpf_object *obj, const char *path,
			       const struct bpf_object *ours, bool (*is_ours)(const char *name))
{
	struct bpf_map *map;
	char why[128];
	int err;

	bpf_object__for_each_map(map, obj) {
		const struct bpf_map *theirs;
		const char *name = bpf_map__name(map);

		if (strncmp(name, "sgbpf_", 6) != 0)
			continue;	/* the program's own maps stay its own */
		if (!is_ours(name)) {
			/* The other backend's: none of the programs loaded here uses it. */
			err = bpf_map__set_autocreate(map, false);
			if (err)
				return sgbpf_err(err, "%s: map %s: %s", path, name,
						 sgbpf_bpf_errstr(err, why, sizeof(why)));
			continue;
		}
		theirs = bpf_object__find_map_by_name(ours, name);
		if (!theirs)
			return sgbpf_err(-EINVAL, "%s: map %s is not a map of this sgbpf version",
					 path, name);
		err = bpf_map__reuse_fd(map, bpf_map__fd(theirs));
		if (err)
			return sgbpf_err(err, "%s: map %s does not match the service's: %s", path,
					 name, sgbpf_bpf_errstr(err, why, sizeof(why)));
	}
	return 0;
}

struct bpf_program *sgbpf_reduce_obj_prog(struct bpf_object *obj, enum bpf_prog_type type,
					  const char *name)
{
	struct bpf_program *p, *found = NULL;

	bpf_object__for_each_program(p, obj) {
		if (bpf_program__type(p) != type)
			continue;
		if (name && strcmp(bpf_program__name(p), name) != 0)
			continue;
		if (found) {
			errno = EINVAL;
			return NULL;
		}
		found = p;
	}
	if (!found)
		errno = ENOENT;
	return found;
}

void sgbpf_reduce_obj_keep(struct bpf_object *obj, struct bpf_program *const *keep, size_t n)
{
	struct bpf_program *p;

	bpf_object__for_each_program(p, obj) {
		bool kept = false;

		for (size_t i = 0; i < n; i++)
			kept |= keep[i] == p;
		bpf_program__set_autoload(p, kept);
	}
}

int sgbpf_reduce_obj_set_rodata(struct bpf_object *obj, const char *var, const void *val,
				size_t size)
{
	struct bpf_map *map = rodata_map(obj);
	const void *data;
	size_t len;
	long off;

	if (!map)
		return -ENOENT;
	data = bpf_map__initial_value(map, &len);
	if (!data)
		return -ENOENT;
	off = rodata_offset(obj, var, size, len);
	if (off < 0)
		return (int)off;
	/* libbpf 1.1 hands out the initial value read-only; before load it is plain memory. */
	memcpy((uint8_t *)data + off, val, size);
	return 0;
}

int sgbpf_reduce_obj_load(struct bpf_object *obj, const char *path, const char *log,
			  size_t log_size)
{
	char why[128];
	int err = bpf_object__load(obj);

	if (err) {
		sgbpf_err(err, "the kernel refused reduction %s (%s)", path,
			  sgbpf_bpf_errstr(err, why, sizeof(why)));
		sgbpf_err_append_log_tail(log, log_size, 12);
	}
	return err;
}
