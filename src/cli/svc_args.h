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
/* "udp" or "tcp". */
int svc_parse_backend(const char *s, enum sgbpf_backend *out);

/*
 * The options 'gather' and 'run' share, by short option letter: -b backend,
 * -t timeout-us, -n count, -i inflight, -D delivery, -a allow, and the
 * long-only --retry-us, --retries, --all-gather, --reply-budget and --packets
 * (SVC_OPT_*).  Returns -1
 * when c is not one of them, 0 when it was parsed, or CLI_EXIT_USAGE after
 * printing the error.
 */
int svc_common_option(const char *cmd, int c, const char *arg, struct sgbpf_service_opts *so,
		      struct sgbpf_scatter_opts *sc, uint64_t *count, uint32_t *inflight);

/* Long-only shared options (above any short option letter). */
enum {
	SVC_OPT_RETRY_US = 0x1000, SVC_OPT_RETRIES, SVC_OPT_ALL_GATHER, SVC_OPT_REPLY_BUDGET,
	SVC_OPT_PACKETS,
};
/* Largest --retries. */
#define SVC_RETRIES_MAX 1000u

/* Largest --count. */
#define SVC_COUNT_MAX 1000000000ull

/*
 * Checks between the shared options once all are parsed; 0 or CLI_EXIT_USAGE.
 * --inflight may not exceed --max-inflight, given or default.
 */
int svc_common_check(const char *cmd, const struct sgbpf_service_opts *so, uint32_t inflight);

/* --retries without --retry-us: a usage error (nothing would be re-sent). */
int svc_retry_check(const char *cmd, const struct sgbpf_scatter_opts *sc);

/* --policy N with more than nworkers: a usage error, never "all". */
/* --all-gather needs a result to send. */
int svc_allgather_check(const char *cmd, const struct sgbpf_service_opts *so,
			const struct sgbpf_scatter_opts *sc);

int svc_policy_check(const char *cmd, const struct sgbpf_scatter_opts *sc, uint32_t nworkers);

/* Their long forms, for getopt_long tables. */
#define SVC_COMMON_LONGOPTS						\
	{ "backend", required_argument, NULL, 'b' },			\
	{ "timeout-us", required_argument, NULL, 't' },			\
	{ "count", required_argument, NULL, 'n' },			\
	{ "inflight", required_argument, NULL, 'i' },			\
	{ "delivery", required_argument, NULL, 'D' },			\
	{ "allow", no_argument, NULL, 'a' },				\
	{ "retry-us", required_argument, NULL, SVC_OPT_RETRY_US },	\
	{ "retries", required_argument, NULL, SVC_OPT_RETRIES },	\
	{ "all-gather", no_argument, NULL, SVC_OPT_ALL_GATHER },	\
	{ "reply-budget", required_argument, NULL, SVC_OPT_REPLY_BUDGET },	\
	{ "packets", required_argument, NULL, SVC_OPT_PACKETS }
#define SVC_COMMON_SHORTOPTS "b:t:n:i:D:a"

#endif
