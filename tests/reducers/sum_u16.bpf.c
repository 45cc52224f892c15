// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A reduction over 2-byte elements: its object records elem_size 2. */
#include "vmlinux.h"
#include <sgbpf/aggregation.bpf.h>

static __always_inline __u16 add16(__u16 a, __u16 b)
{
	return a + b;
}

SGBPF_ELEMENTWISE_REDUCER(sum_u16, __u16, 0, add16)

char LICENSE[] SEC("license") = "Dual BSD/GPL";
