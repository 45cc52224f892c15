# The UDP backend end to end, in namespaces the tests create (root only).
sgbpf_test(test_request_table SOURCES test_request_table.c TIMEOUT 30)
sgbpf_test(test_udp_e2e SOURCES test_udp_e2e.c LIBS sgbpf_netns_util TIMEOUT 900 LABELS root)
add_dependencies(test_udp_e2e sgbpf_cli)
