# The UDP backend's BPF programs on crafted packets (BPF_PROG_TEST_RUN, root only).
# pkt_build.c crafts Ethernet/IPv4/UDP frames and sgbpf messages for any test:
# link sgbpf_pkt_build and include "pkt_build.h".  cpu_pin.h, in the same
# library, moves the test from CPU to CPU to reach per-CPU state.
add_library(sgbpf_pkt_build STATIC ${CMAKE_CURRENT_SOURCE_DIR}/pkt_build.c
  ${CMAKE_CURRENT_SOURCE_DIR}/cpu_pin.c)
target_include_directories(sgbpf_pkt_build PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}
  ${PROJECT_SOURCE_DIR}/include)
target_link_libraries(sgbpf_pkt_build PUBLIC PkgConfig::CHECK)

sgbpf_test(test_bpf_gather SOURCES test_bpf_gather.c LIBS sgbpf_pkt_build TIMEOUT 120
  LABELS root)
# bpf_clone_redirect needs a device: the scatter test runs in a namespace of its own.
sgbpf_test(test_bpf_scatter SOURCES test_bpf_scatter.c LIBS sgbpf_pkt_build sgbpf_netns_util
  TIMEOUT 120 LABELS root)
# What each program costs the verifier, against a budget well below its 1M limit.
sgbpf_test(test_verifier_budget SOURCES test_verifier_budget.c TIMEOUT 120 LABELS root)
add_dependencies(test_verifier_budget sgbpf_example_sum_sat)
# Multi-packet replies (max_packets > 1) in the gather, on crafted packets.
sgbpf_test(test_bpf_multipkt SOURCES test_bpf_multipkt.c LIBS sgbpf_pkt_build TIMEOUT 120
  LABELS root)
