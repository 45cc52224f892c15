/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What every worker engine sets up in its process before it opens a socket:
 * the stop signals and the CPU it runs on.  Internal to src/worker/.
 */
#ifndef SGBPF_WORKER_WORKER_PROCESS_H
#define SGBPF_WORKER_WORKER_PROCESS_H

/*
 * Blocks SIGINT and SIGTERM in the calling thread and returns a signalfd
 * (close-on-exec) that reads them, or a negative errno after saying why.
 * Blocked and read from a descriptor, a signal cannot race with the wait
 * that should see it.  SIGPIPE is ignored too: a parent gone before the
 * ready line must not kill the worker on write().
 */
int worker_signalfd(void);

/*
 * Pins the calling thread (the engines have one) to cpu (--cpu); 0 or a
 * negative errno after saying why.
 */
int worker_pin_cpu(int cpu);

#endif /* SGBPF_WORKER_WORKER_PROCESS_H */
