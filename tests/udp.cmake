# The UDP backend end to end, in namespaces the tests create (root only).
sgbpf_test(test_request_table SOURCES test_request_table.c TIMEOUT 30)
sgbpf_test(test_udp_e2e SOURCES test_udp_e2e.c LIBS sgbpf_netns_util TIMEOUT 900 LABELS root)
add_dependencies(test_udp_e2e sgbpf_cli)
# Counts malloc/calloc/realloc calls from the library with --wrap.
sgbpf_test(test_no_alloc SOURCES test_no_alloc.c LIBS sgbpf_netns_util TIMEOUT 120 LABELS root)
target_link_options(test_no_alloc PRIVATE -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc)
add_dependencies(test_no_alloc sgbpf_cli)
# Forged replies with guessed request ids, from a raw socket in a namespace.
sgbpf_test(test_spoof SOURCES test_spoof.c LIBS sgbpf_netns_util sgbpf_pkt_build TIMEOUT 60
  LABELS root)
add_dependencies(test_spoof sgbpf_cli)
