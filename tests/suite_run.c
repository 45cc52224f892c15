// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "suite_run.h"

int suite_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
