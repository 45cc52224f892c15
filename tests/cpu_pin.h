/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Pinning the test to one of the CPUs it may run on, so that per-CPU BPF
 * state is touched from the CPU a test chooses.
 */
#ifndef SGBPF_TESTS_CPU_PIN_H
#define SGBPF_TESTS_CPU_PIN_H

#include <stdint.h>

/* Notes the CPUs the test may run on (at least one, or the test fails). */
void cpu_pin_init(void);

/* Moves the test (and so the next test run) to the k-th allowed CPU, cyclically. */
void cpu_pin_run_on(uint32_t k);

#endif
