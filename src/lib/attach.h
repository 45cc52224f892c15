/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Attaching TC and XDP programs so that they go away with their owner.
 *
 * TC programs go on a TCX bpf_link and XDP programs on an XDP bpf_link: the
 * kernel removes both when the last descriptor of the link closes, which
 * includes the process dying by any signal.  Only on kernels without TCX is
 * a TC program attached the old way (clsact qdisc + cls_bpf filter over
 * netlink), which outlives the process; sgbpf_detach() undoes it.
 * docs/attach.md tells the whole story.
 *
 * Every function works on ifindex in the calling thread's current network
 * namespace and returns 0 or a negative errno, with a sentence for
 * sgbpf_last_error().
 */
#ifndef SGBPF_LIB_ATTACH_H
#define SGBPF_LIB_ATTACH_H

#include <stdbool.h>

#include <sgbpf/sgbpf.h>

enum sgbpf_tc_dir { SGBPF_TC_INGRESS, SGBPF_TC_EGRESS };

/* Owns one attachment; released by sgbpf_detach(). */
struct sgbpf_attachment;

/*
 * Environment variable that, set to anything but "" or "0", makes
 * sgbpf_attach_tc() skip TCX and use the netlink fallback.
 */
#define SGBPF_ATTACH_FORCE_NETLINK_ENV "SGBPF_ATTACH_FORCE_NETLINK"

/*
 * Attaches the SCHED_CLS program prog_fd to the ingress or egress hook of
 * ifindex and stores the new attachment in *out.  prog_fd stays the
 * caller's; the attachment holds its own reference to the program.
 *
 * Preferred: a TCX bpf_link, which the kernel removes when the process
 * dies.  When the kernel has no TCX (it answers -EINVAL or -EOPNOTSUPP), or
 * when SGBPF_ATTACH_FORCE_NETLINK is set, it falls back silently to a clsact
 * qdisc plus a direct-action cls_bpf filter added over netlink at a
 * priority of our own.  That filter survives the process; sgbpf_detach()
 * deletes exactly it, and the qdisc when this process created it and no
 * filter is left on it.
 *
 * Returns 0, -EINVAL for a program that is not SCHED_CLS, -ENODEV for a
 * missing interface, -EPERM without CAP_NET_ADMIN/CAP_BPF, or another
 * negative errno.
 */
int sgbpf_attach_tc(int prog_fd, int ifindex, enum sgbpf_tc_dir dir,
		    struct sgbpf_attachment **out);

/*
 * Attaches the XDP program prog_fd to ifindex with an XDP bpf_link, in
 * driver mode (SGBPF_XDP_NATIVE), generic mode (SGBPF_XDP_GENERIC) or the
 * first of the two that works (SGBPF_XDP_AUTO).  Stores the attachment in
 * *out and, when native is not NULL, whether it runs in driver mode.
 *
 * Never replaces a program: when ifindex already has an XDP program in any
 * mode it returns -EBUSY with a message naming that program (name and id).
 * Returns -EOPNOTSUPP when NATIVE is forced on a driver without XDP
 * support, -ENODEV, -EPERM, -EINVAL or another negative errno otherwise.
 */
int sgbpf_attach_xdp(int prog_fd, int ifindex, enum sgbpf_xdp_mode mode,
		     struct sgbpf_attachment **out, bool *native);

/*
 * Removes the attachment (closes the link, or deletes the fallback filter
 * in the network namespace it was added in) and frees it.  NULL is a no-op.
 * Failures cannot be returned; they are recorded for sgbpf_last_error().
 */
void sgbpf_detach(struct sgbpf_attachment *a);

#endif /* SGBPF_LIB_ATTACH_H */
