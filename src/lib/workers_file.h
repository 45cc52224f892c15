/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Endpoint checks shared by the worker-list parser, the service and the CLI. */
#ifndef SGBPF_LIB_WORKERS_FILE_H
#define SGBPF_LIB_WORKERS_FILE_H

#include <sgbpf/sgbpf.h>

/*
 * Why ep cannot be a worker ("broadcast address", "multicast address",
 * "unspecified address", "port 0"), or NULL when it can: requests sent there
 * would never get one reply each from one unicast source.
 */
const char *sgbpf_endpoint_unusable(const struct sgbpf_endpoint *ep);

/*
 * "A.B.C.D:port" with any address (0.0.0.0 included): an address to bind,
 * not a worker.  Returns 0 or -EINVAL.
 */
int sgbpf_bind_endpoint_parse(const char *s, struct sgbpf_endpoint *ep);

#endif
