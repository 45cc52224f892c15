/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The end of every test program's main(): run its suite, say how it went. */
#ifndef SGBPF_TESTS_SUITE_RUN_H
#define SGBPF_TESTS_SUITE_RUN_H

#include <check.h>

/*
 * Runs every test of S (CK_NORMAL output) and frees the runner, which frees
 * S; returns the program's exit code: 0 if all passed, 1 otherwise.
 */
int suite_run(Suite *s);

#endif
