/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The fuzzers' invariant check: abort() makes libFuzzer keep the input. */
#ifndef SGBPF_FUZZ_CHECK_H
#define SGBPF_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "invariant failed: %s\n", #cond); \
			abort();					\
		}							\
	} while (0)

#endif
