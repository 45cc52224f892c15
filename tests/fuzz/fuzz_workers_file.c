// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target: the worker-list parser on arbitrary bytes.  Either a
 * list of 1..SGBPF_MAX_WORKERS distinct, usable endpoints, or an error whose
 * message is printable text of bounded length naming a line that exists.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sgbpf/sgbpf.h>

#include "workers_file.h"

#include "fuzz_check.h"

static int cmp_ep(const void *a, const void *b)
{
	const struct sgbpf_endpoint *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->port < y->port ? -1 : x->port > y->port;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sgbpf_endpoint *eps = NULL;
	unsigned int line = 0, lines = 1;
	size_t n = 0;
	int err;

	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	err = sgbpf_workers_parse_buf((const char *)data, size, &eps, &n, &line);
	if (err == 0) {
		CHECK(eps && n >= 1 && n <= SGBPF_MAX_WORKERS);
		for (size_t i = 0; i < n; i++)
			CHECK(!sgbpf_endpoint_unusable(&eps[i]));
		qsort(eps, n, sizeof(*eps), cmp_ep);
		for (size_t i = 1; i < n; i++)
			CHECK(cmp_ep(&eps[i - 1], &eps[i]) != 0);
		free(eps);
		return 0;
	}
	CHECK(err < 0 && !eps && n == 0);
	CHECK(line <= lines);
	{
		const char *msg = sgbpf_last_error();
		size_t len = strlen(msg);

		CHECK(len > 0 && len < 512);
		for (size_t i = 0; i < len; i++)
			CHECK(msg[i] >= 0x20 && msg[i] < 0x7f);
	}
	return 0;
}
