// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A custom in-kernel reduction: element-wise sum of u32 that saturates at
 * UINT32_MAX instead of wrapping, for counters that must never look small
 * after an overflow.  Saturating addition of non-negative numbers is
 * associative and commutative, which is all sgbpf asks of a combine function.
 *
 * Build:  sgbpf_add_reduction(sum_sat_u32 sum_sat_u32.bpf.c)   (CMake)
 * Use:    sgbpf gather --workers FILE --reduce-obj sum_sat_u32.bpf.o
 */
#include "vmlinux.h"
#include <sgbpf/aggregation.bpf.h>

static __always_inline __u32 add_saturating(__u32 acc, __u32 v)
{
	__u32 sum = acc + v;

	return sum < acc ? 0xffffffffu : sum;
}

SGBPF_ELEMENTWISE_REDUCER(sum_sat_u32, __u32, 0, add_saturating)

char LICENSE[] SEC("license") = "Dual BSD/GPL";
