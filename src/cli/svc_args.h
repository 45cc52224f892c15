/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Parsers for the service options that 'gather' and 'run' share. */
#ifndef SGBPF_CLI_SVC_ARGS_H
#define SGBPF_CLI_SVC_ARGS_H

#include <sgbpf/sgbpf.h>

/* "ringbuf", "ctrl-fd", "block", "busy-wait"; returns 0 or -EINVAL. */
int svc_parse_delivery(const char *s, enum sgbpf_delivery *out);
const char *svc_delivery_name(enum sgbpf_delivery d);
/* "all", "any" or a number N >= 1. */
int svc_parse_policy(const char *s, struct sgbpf_scatter_opts *so);
/* "auto", "native", "generic", "off" (gather at TC ingress). */
int svc_parse_xdp_mode(const char *s, enum sgbpf_xdp_mode *out);
/* "XDP native", "XDP generic", "TC ingress". */
const char *svc_gather_hook_name(enum sgbpf_gather_hook h);
/* "udp" (or "tcp", refused later by the library with a clear message). */
int svc_parse_backend(const char *s, enum sgbpf_backend *out);

#endif
