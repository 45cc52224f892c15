// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <sgbpf/udp_maps.bpf.h>

SEC("xdp") int stub_scatter(struct xdp_md *ctx) { sgbpf_stat_inc(0); return XDP_PASS; }
char LICENSE[] SEC("license") = "Dual BSD/GPL";
