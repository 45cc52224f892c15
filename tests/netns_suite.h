/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The end of main() for a test that makes network namespaces. */
#ifndef SGBPF_TESTS_NETNS_SUITE_H
#define SGBPF_TESTS_NETNS_SUITE_H

#include "suite_run.h"

/*
 * Returns netns_check_privileges()'s exit code when it says to skip;
 * otherwise removes the namespaces an earlier, killed run left, runs S with
 * suite_run(), removes what this run left and returns suite_run()'s code.
 */
int netns_suite_run(Suite *s);

#endif
