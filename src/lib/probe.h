/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kernel features and privileges the UDP backend relies on, found out by
 * trying them (libbpf's probes, io_uring's opcode probe, capget) rather than
 * by reading version strings.  A missing feature becomes a sentence that
 * names it and the first Linux release that has it, so that a user on an
 * old kernel learns what to upgrade instead of reading a verifier log.
 */
#ifndef SGBPF_LIB_PROBE_H
#define SGBPF_LIB_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Everything sgbpf_probe_udp_backend() checks, one bit each in a mask. */
enum sgbpf_feature {
	SGBPF_FEAT_PROG_XDP,
	SGBPF_FEAT_PROG_SCHED_CLS,
	SGBPF_FEAT_MAP_ARRAY_MMAP,
	SGBPF_FEAT_MAP_PERCPU_ARRAY,
	SGBPF_FEAT_MAP_HASH,
	SGBPF_FEAT_MAP_PROG_ARRAY,
	SGBPF_FEAT_MAP_RINGBUF,
	SGBPF_FEAT_HELPER_LOOP,
	SGBPF_FEAT_HELPER_LOOKUP_PERCPU,
	SGBPF_FEAT_HELPER_XDP_LOAD_BYTES,
	SGBPF_FEAT_HELPER_CLONE_REDIRECT,
	SGBPF_FEAT_HELPER_SKB_CHANGE_TAIL,
	SGBPF_FEAT_HELPER_RINGBUF_OUTPUT,
	SGBPF_FEAT_IO_URING,
	SGBPF_FEAT_IO_URING_SENDMSG,
	SGBPF_FEAT_IO_URING_RECVMSG,
	__SGBPF_FEAT_MAX,
};

#define SGBPF_FEAT_BIT(f) (UINT64_C(1) << (f))

/*
 * Short name of a feature ("bpf_loop", "ringbuf", "io_uring sendmsg"), for
 * tables and JSON; NULL for an unknown value.
 */
const char *sgbpf_probe_name(enum sgbpf_feature f);

/*
 * First Linux release with the feature, as "5.17"; NULL for an unknown
 * value.
 */
const char *sgbpf_probe_since(enum sgbpf_feature f);

/*
 * Writes one sentence about a missing feature into buf, naming it, the
 * Linux release that brought it and what sgbpf uses it for, e.g.
 * "BPF helper bpf_loop() (Linux 5.17), to merge per-CPU partial results".
 * Returns buf; an unknown value gives "unknown feature N".
 */
const char *sgbpf_probe_describe(enum sgbpf_feature f, char *buf, size_t len);

/*
 * Joins the descriptions of every feature set in missing (SGBPF_FEAT_BIT)
 * with "; " into buf.  Returns buf ("" when missing is 0).
 */
const char *sgbpf_probe_describe_missing(uint64_t missing, char *buf, size_t len);

/*
 * Tries one feature.  Returns 1 when the kernel has it, 0 when it does not,
 * or a negative errno when the probe itself could not run.  Needs the
 * privileges sgbpf_probe_privileges(SGBPF_PRIV_SERVICE) checks: without
 * them the kernel's answers say nothing about the features.
 */
int sgbpf_probe_feature(enum sgbpf_feature f);

/*
 * Tries every feature and stores the missing ones in *missing.  Returns 0
 * (also when some are missing) or the first negative errno of a probe that
 * could not run.
 */
int sgbpf_probe_features(uint64_t *missing);

/* Capabilities, one bit each; CAP_SYS_ADMIN stands in for BPF and PERFMON. */
enum sgbpf_priv {
	SGBPF_PRIV_BPF = 1 << 0,	/* CAP_BPF: maps and programs */
	SGBPF_PRIV_PERFMON = 1 << 1,	/* CAP_PERFMON: the verifier accepts our programs */
	SGBPF_PRIV_NET_ADMIN = 1 << 2,	/* CAP_NET_ADMIN: networking programs, tc, links */
	SGBPF_PRIV_SYS_ADMIN = 1 << 3,	/* CAP_SYS_ADMIN: BPF objects by id (inspection) */
};

/* What creating a UDP service takes. */
#define SGBPF_PRIV_SERVICE (SGBPF_PRIV_BPF | SGBPF_PRIV_PERFMON | SGBPF_PRIV_NET_ADMIN)

/*
 * The subset of need that the effective capability set of the calling
 * thread lacks.  CAP_SYS_ADMIN satisfies SGBPF_PRIV_BPF and
 * SGBPF_PRIV_PERFMON, as the kernel has it.  Returns the mask, or a
 * negative errno when capget() fails.
 */
int sgbpf_probe_caps_missing(unsigned int need);

/*
 * Writes "CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN" for a mask of enum
 * sgbpf_priv into buf.  Returns buf.
 */
const char *sgbpf_probe_caps_str(unsigned int caps, char *buf, size_t len);

/*
 * Checks that the calling thread holds the capabilities in need.  Returns
 * 0, or -EPERM with a message for sgbpf_last_error() that says what needs
 * them (action, e.g. "creating an sgbpf service"), which ones, and which
 * are missing: "... needs CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN (run as
 * root); this process lacks CAP_BPF and CAP_NET_ADMIN".
 */
int sgbpf_probe_privileges(unsigned int need, const char *action);

/*
 * What a UDP service needs before its programs are loaded: the privileges,
 * then every feature.  Returns 0, -EPERM (privileges), -EOPNOTSUPP (a
 * feature is missing; the message lists each with its Linux release), or
 * another negative errno.  Once the features have been found, later calls
 * in the process only check the privileges.
 */
int sgbpf_probe_udp_backend(void);

/*
 * Whether the kernel has TCX (Linux 6.6), tried on ifindex: a program that
 * lets every packet through (TC_ACT_UNSPEC) is attached to TCX ingress
 * through a bpf_link and closed at once.  Returns 1 (TCX available), 0 (no
 * TCX: TC programs use the netlink fallback), or a negative errno with a
 * message.
 */
int sgbpf_probe_tcx(int ifindex);

#endif /* SGBPF_LIB_PROBE_H */
