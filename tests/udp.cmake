# The UDP backend end to end, in namespaces the tests create (root only).
sgbpf_test(test_request_table SOURCES test_request_table.c TIMEOUT 30)
sgbpf_test(test_udp_e2e SOURCES test_udp_e2e.c LIBS sgbpf_netns_util TIMEOUT 900 LABELS root)
add_dependencies(test_udp_e2e sgbpf_cli)
# Counts malloc/calloc/realloc calls from the library with --wrap.
sgbpf_test(test_no_alloc SOURCES test_no_alloc.c LIBS sgbpf_netns_util TIMEOUT 120 LABELS root)
target_link_options(test_no_alloc PRIVATE -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc)
add_dependencies(test_no_alloc sgbpf_cli)
# Replies whose body is in page fragments (corked sends), at TC ingress and XDP.
sgbpf_test(test_udp_paged SOURCES test_udp_paged.c LIBS sgbpf_netns_util TIMEOUT 180 LABELS root)
# Reduction objects that load or must be refused, by their ABI record.
sgbpf_add_reduction(sgbpf_test_reducer_u16 ${CMAKE_CURRENT_SOURCE_DIR}/reducers/sum_u16.bpf.c)
sgbpf_add_reduction(sgbpf_test_reducer_no_abi ${CMAKE_CURRENT_SOURCE_DIR}/reducers/no_abi.bpf.c)
sgbpf_add_reduction(sgbpf_test_reducer_old_abi ${CMAKE_CURRENT_SOURCE_DIR}/reducers/old_abi.bpf.c)
sgbpf_test(test_udp_create SOURCES test_udp_create.c LIBS sgbpf_netns_util TIMEOUT 60 LABELS root)
add_dependencies(test_udp_create sgbpf_test_reducer_u16 sgbpf_test_reducer_no_abi
  sgbpf_test_reducer_old_abi sgbpf_example_sum_sat)
# Forged replies with guessed request ids, from a raw socket in a namespace.
sgbpf_test(test_spoof SOURCES test_spoof.c LIBS sgbpf_netns_util sgbpf_pkt_build TIMEOUT 60
  LABELS root)
add_dependencies(test_spoof sgbpf_cli)
# Slot fencing, lost notifications, destroy, threads, interface changes (root only).
sgbpf_test(test_service_core SOURCES test_service_core.c LIBS sgbpf_netns_util pthread TIMEOUT 300 LABELS root)
add_dependencies(test_service_core sgbpf_cli sgbpf)
# Multi-packet replies through the kernel: fan-outs x packets x delivery modes (root only).
sgbpf_test(test_udp_multipkt_e2e SOURCES test_udp_multipkt_e2e.c LIBS sgbpf_netns_util
  TIMEOUT 300 LABELS root)
add_dependencies(test_udp_multipkt_e2e sgbpf_cli)
