#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The main job: install, build, and run the zero-configuration demo in every
# delivery mode (16 local workers on loopback, 1000 checked requests each),
# over UDP and over TCP (which has no control-fd delivery yet).
# Needs root: the demo attaches BPF programs to lo.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
for mode in ringbuf ctrl-fd block busy-wait; do
	echo
	./build/sgbpf run --workers 16 --count 1000 --delivery "$mode"
done
for mode in ringbuf block busy-wait; do
	echo
	./build/sgbpf run --backend tcp --workers 16 --count 1000 --delivery "$mode"
done
