/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Reference workers for tests: `$SGBPF_CLI worker` started inside a network
 * namespace, killed with its parent whatever happens to the test.
 */
#ifndef SGBPF_TESTS_WORKER_FARM_H
#define SGBPF_TESTS_WORKER_FARM_H

#include <stdint.h>
#include <sys/types.h>

#include "netns_util.h"

/*
 * Starts `sgbpf worker --listen LISTEN [EXTRA...]` inside ns (EXTRA a
 * NULL-terminated list, or NULL) and returns its pid once it printed its
 * ready line, or a negative errno after saying on stderr what went wrong.
 */
pid_t worker_farm_start(const struct netns *ns, const char *listen, const char *const *extra);

/*
 * Starts `sgbpf worker ARGV...` (a NULL-terminated list) inside ns, e.g. TCP
 * workers; returns its pid once it printed its ready line.
 */
pid_t worker_farm_start_argv(const struct netns *ns, const char *const *argv);

/*
 * Starts the program PATH with ARGV (NULL-terminated, ARGV[0] its name)
 * inside ns, killed with its parent, and returns its pid once it printed a
 * ready line on stderr ("... listening on ..." or "... connecting to ..."):
 * workers other than sgbpf's.
 */
pid_t worker_farm_exec(const struct netns *ns, const char *path, const char *const *argv);

/*
 * Starts a worker on 127.0.0.1:PORT inside ns that never answers
 * (--silent-port PORT); returns what worker_farm_start() returns.
 */
pid_t worker_farm_start_silent(const struct netns *ns, uint16_t port);

/* Stops a farm with SIGTERM and reaps it; pid <= 0 is a no-op. */
void worker_farm_stop(pid_t pid);

#endif
