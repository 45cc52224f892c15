// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Names of the built-in reductions, as the CLI and the docs spell them. */
#include <errno.h>
#include <strings.h>

#include <sgbpf/sgbpf.h>

struct reduce_desc {
	const char *name;
	uint32_t elem_size;
};

static const struct reduce_desc reduce_table[__SGBPF_REDUCE_MAX] = {
	[SGBPF_REDUCE_COUNT]	= { "count", 0 },
	[SGBPF_REDUCE_SUM_U32]	= { "sum-u32", 4 },
	[SGBPF_REDUCE_SUM_U64]	= { "sum-u64", 8 },
	[SGBPF_REDUCE_SUM_I32]	= { "sum-i32", 4 },
	[SGBPF_REDUCE_SUM_I64]	= { "sum-i64", 8 },
	[SGBPF_REDUCE_MIN_U32]	= { "min-u32", 4 },
	[SGBPF_REDUCE_MIN_U64]	= { "min-u64", 8 },
	[SGBPF_REDUCE_MIN_I32]	= { "min-i32", 4 },
	[SGBPF_REDUCE_MIN_I64]	= { "min-i64", 8 },
	[SGBPF_REDUCE_MAX_U32]	= { "max-u32", 4 },
	[SGBPF_REDUCE_MAX_U64]	= { "max-u64", 8 },
	[SGBPF_REDUCE_MAX_I32]	= { "max-i32", 4 },
	[SGBPF_REDUCE_MAX_I64]	= { "max-i64", 8 },
	[SGBPF_REDUCE_OR_U32]	= { "or-u32", 4 },
	[SGBPF_REDUCE_AND_U32]	= { "and-u32", 4 },
	[SGBPF_REDUCE_OR_U64]	= { "or-u64", 8 },
	[SGBPF_REDUCE_AND_U64]	= { "and-u64", 8 },
	/* The element size of a custom reduction comes from its options. */
	[SGBPF_REDUCE_CUSTOM]	= { "custom", 0 },
};

const char *sgbpf_reduce_name(enum sgbpf_reduce r)
{
	if ((unsigned int)r >= __SGBPF_REDUCE_MAX)
		return NULL;
	return reduce_table[r].name;
}

int sgbpf_reduce_parse(const char *s)
{
	unsigned int i;

	if (!s)
		return -EINVAL;
	for (i = 0; i < __SGBPF_REDUCE_MAX; i++) {
		if (!strcasecmp(s, reduce_table[i].name))
			return (int)i;
	}
	return -EINVAL;
}

uint32_t sgbpf_reduce_elem_size(enum sgbpf_reduce r)
{
	if ((unsigned int)r >= __SGBPF_REDUCE_MAX)
		return 0;
	return reduce_table[r].elem_size;
}
