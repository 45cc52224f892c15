// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sgbpf/sgbpf.h>

#include "error.h"

/* Thread-local: a service is used from one thread, errors stay with it. */
static __thread char last_error[2048];

int sgbpf_err(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return err;
}

void sgbpf_err_append(const char *text)
{
	size_t used = strlen(last_error);

	if (used < sizeof(last_error) - 1)
		snprintf(last_error + used, sizeof(last_error) - used, "%s", text);
}

const char *sgbpf_last_error(void)
{
	return last_error[0] ? last_error : "no error recorded";
}

const char *sgbpf_version(void)
{
	return SGBPF_VERSION_STRING;
}
