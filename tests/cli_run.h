/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Running the command line from a test: a workers file for it,
 * `$SGBPF_CLI gather ARGS...` with its stdout collected, any subcommand
 * inside a namespace, and reading numbers and records of a --json run.
 */
#ifndef SGBPF_TESTS_CLI_RUN_H
#define SGBPF_TESTS_CLI_RUN_H

#include <stddef.h>
#include <stdint.h>

/*
 * Runs `$SGBPF_CLI gather ARGS...` (ARGS ends with NULL) and collects its
 * stdout into OUT (at most CAP - 1 bytes, NUL-terminated); returns its exit
 * code, or 128 + the signal that ended it.  Fails the test if SGBPF_CLI is
 * not set or the process cannot be started or reaped.
 */
int cli_run_gather(const char *const *args, char *out, size_t cap);

/*
 * Makes a workers file from the mkstemp() template PATH (which then names
 * it): N lines "127.0.0.1:PORT", the ports BASE, BASE + 1, ...  Fails the
 * test if it cannot be made; the caller unlinks it.
 */
void cli_lo_workers_file(char *path, uint32_t n, uint16_t base);

/* Counts the per-request records of a --json run and how many say "key": value. */
int cli_count_records(const char *out, const char *kv, int *with);

/*
 * The unsigned number after KEY (e.g. "\"folded\": ") in LINE, one record
 * of a --json run; fails the test when KEY is not there.
 */
unsigned long long cli_json_field(const char *line, const char *key);

/*
 * The "result" array of one --json record: stores up to CAP elements in
 * VALS and returns how many the array holds, or -1 when LINE has none.
 */
long cli_json_result(const char *line, uint64_t *vals, size_t cap);

struct netns;

/*
 * Runs `$SGBPF_CLI ARGS...` (ARGS ends with NULL) inside n, stores its
 * stdout and stderr (cut to the buffers, NUL-terminated) and returns its
 * exit code, or -1 when it did not exit.
 */
int cli_run_ns(const struct netns *n, const char *const *args, char *out, size_t outlen,
	       char *err, size_t errlen);

/* The number after "key": in a JSON text (its first such key), or -1. */
long long cli_json_number(const char *json, const char *key);

#endif
