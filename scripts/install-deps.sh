#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Installs the Debian 12 packages sgbpf needs to build, test and benchmark.
set -euo pipefail

PKGS=(
	build-essential cmake pkg-config
	clang llvm bpftool
	libclang-rt-14-dev	# libFuzzer, for tests/fuzz
	libbpf-dev liburing-dev libelf-dev zlib1g-dev
	libnl-3-dev libnl-route-3-dev
	check
	iproute2 strace gnuplot-nox
	python3		# tests/workers/sgbpf_worker.py, for test_tcp_pyworker
)

SUDO=
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
fi
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all packages present"
	exit 0
fi
echo "install-deps: installing ${missing[*]}"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
