#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Runs one libFuzzer target for a bounded time: run_fuzzer.sh BINARY SEEDS
# [FUZZER OPTIONS...].
# SGBPF_FUZZ_SECONDS sets the time (default 20); new inputs go to a scratch
# corpus next to the binary, never into the seeds; a crash leaves its input
# as crash-* there and fails the test.  Exit 77 (skipped) without the binary.
set -euo pipefail
bin=$1 seeds=$2
shift 2
if [[ ! -x $bin ]]; then
	echo "$bin not built (no clang with libFuzzer): skipped" >&2
	exit 77
fi
work=$(dirname "$bin")/corpus-$(basename "$bin")
mkdir -p "$work"
exec "$bin" -max_total_time="${SGBPF_FUZZ_SECONDS:-20}" -timeout=10 -rss_limit_mb=2048 \
	-max_len=4096 -print_final_stats=1 -artifact_prefix="$(dirname "$bin")/" "$@" \
	"$work" "$seeds"
