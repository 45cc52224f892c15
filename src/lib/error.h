/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Per-thread error messages behind sgbpf_last_error(). */
#ifndef SGBPF_LIB_ERROR_H
#define SGBPF_LIB_ERROR_H

/*
 * Records a sentence for sgbpf_last_error() and returns err (a negative
 * errno), so that a failure path reads: return sgbpf_err(-EINVAL, "...").
 */
int sgbpf_err(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends text to the current message (e.g. verifier output). */
void sgbpf_err_append(const char *text);

#endif
