// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "netns_suite.h"
#include "netns_util.h"

int netns_suite_run(Suite *s)
{
	int failed, skip = netns_check_privileges();

	if (skip) {
		/* Nothing runs; the runner frees the suite. */
		srunner_free(srunner_create(s));
		return skip;
	}
	netns_reap_stale();
	failed = suite_run(s);
	netns_reap_stale();
	return failed;
}
