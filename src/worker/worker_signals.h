/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* How the UDP and XDP workers learn of SIGINT and SIGTERM. Internal to src/worker/. */
#ifndef SGBPF_WORKER_WORKER_SIGNALS_H
#define SGBPF_WORKER_WORKER_SIGNALS_H

/*
 * Blocks SIGINT and SIGTERM in the calling thread and returns a signalfd
 * (close-on-exec) that reads them, or a negative errno after saying why.
 * Blocked and read from a descriptor, a signal cannot race with the wait
 * that should see it.  SIGPIPE is ignored too: a parent gone before the
 * ready line must not kill the worker on write().
 */
int worker_signalfd(void);

#endif /* SGBPF_WORKER_WORKER_SIGNALS_H */
