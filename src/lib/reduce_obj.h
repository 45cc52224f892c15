/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A custom reduction's BPF object (sgbpf_service_opts.reduce_obj), made with
 * SGBPF_ELEMENTWISE_REDUCER(): it holds the programs of both backends and
 * the maps of both.  A backend loads only its own programs, binds the
 * object's maps of its own to the service's (same names, reused before
 * load) and leaves the other backend's maps uncreated.  Internal to
 * libsgbpf.
 */
#ifndef SGBPF_LIB_REDUCE_OBJ_H
#define SGBPF_LIB_REDUCE_OBJ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bpf/libbpf.h>

/*
 * The verifier's log of a program the kernel refused, so that the error
 * can end with its last lines.  libbpf fills it per object (open option
 * kernel_log_buf): no process-wide print callback is touched, so services
 * may be created in several threads at once and the application's own
 * callback stays in place.  With log level 0, libbpf asks the kernel for a
 * log only when a load fails, and then retries that program with level 1
 * into this buffer.  It lives only while an object loads; pages the kernel
 * does not write are never touched.  A truncated log turns the error into
 * -ENOSPC (kernel 6.4+), hence its size.
 */
#define SGBPF_LOAD_LOG_BYTES (4u << 20)

/*
 * Opens path with the kernel's verifier log going to log (log_size bytes;
 * NULL for none).  Returns 0 and *out, or a negative errno with the reason
 * recorded for sgbpf_last_error().
 */
int sgbpf_reduce_obj_open(const char *path, char *log, size_t log_size, struct bpf_object **out);

/*
 * Reads and checks the record NAME__sgbpf_abi of reduction name: built for
 * this libsgbpf's layouts, a supported element size, and the one asked for
 * (asked_elem_size, 0 for any).  Returns 0 and the element size in
 * *elem_size, or a negative errno with the reason recorded.
 */
int sgbpf_reduce_obj_check_abi(const struct bpf_object *obj, const char *path, const char *name,
			       uint32_t asked_elem_size, uint32_t *elem_size);

/*
 * Binds the object's maps before load: a map named sgbpf_* for which
 * is_ours(name) holds reuses the map of that name in ours; one for which it
 * does not belongs to the other backend and is not created.  The object's
 * other maps stay its own.  Returns 0 or a negative errno with the reason.
 */
int sgbpf_reduce_obj_bind_maps(struct bpf_object *obj, const char *path,
			       const struct bpf_object *ours, bool (*is_ours)(const char *name));

/*
 * The program of type the backend runs: the one called name (NULL: the
 * object's only program of that type).  Returns NULL with errno ENOENT
 * when there is none, EINVAL when several match.
 */
struct bpf_program *sgbpf_reduce_obj_prog(struct bpf_object *obj, enum bpf_prog_type type,
					  const char *name);

/* Loads only the n programs given: the rest are not verified. */
void sgbpf_reduce_obj_keep(struct bpf_object *obj, struct bpf_program *const *keep, size_t n);

/*
 * Sets the read-only global var (size bytes) before load; -ENOENT when the
 * object has no such variable of that size.
 */
int sgbpf_reduce_obj_set_rodata(struct bpf_object *obj, const char *var, const void *val,
				size_t size);

/*
 * Loads the object; on failure records why, with the last lines of the
 * verifier's log (the buffer given to sgbpf_reduce_obj_open, or NULL).
 */
int sgbpf_reduce_obj_load(struct bpf_object *obj, const char *path, const char *log,
			  size_t log_size);

/* A libbpf or plain errno as a sentence (libbpf's own numbers start at 4000). */
const char *sgbpf_bpf_errstr(int err, char *buf, size_t len);

/* Appends the last lines of a verifier log to the current error message. */
void sgbpf_err_append_log_tail(const char *log, size_t log_size, int lines);

#endif /* SGBPF_LIB_REDUCE_OBJ_H */
