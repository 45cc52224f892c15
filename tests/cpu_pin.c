// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE /* sched_setaffinity */
#include <check.h>
#include <sched.h>

#include "cpu_pin.h"

static int cpus[CPU_SETSIZE], ncpus_allowed;

void cpu_pin_init(void)
{
	cpu_set_t set;

	ncpus_allowed = 0;
	ck_assert_int_eq(sched_getaffinity(0, sizeof(set), &set), 0);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set))
			cpus[ncpus_allowed++] = c;
	ck_assert_int_gt(ncpus_allowed, 0);
}

void cpu_pin_run_on(uint32_t k)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpus[k % ncpus_allowed], &set);
	ck_assert_int_eq(sched_setaffinity(0, sizeof(set), &set), 0);
}
