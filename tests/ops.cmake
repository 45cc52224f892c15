# sgbpf setup / status / teardown, kernel feature probes and privilege checks,
# against services in namespaces the test creates (root only).
sgbpf_test(test_ops SOURCES test_ops.c LIBS sgbpf_netns_util TIMEOUT 120 LABELS root)
add_dependencies(test_ops sgbpf_cli)

# status and teardown with TCP services (sk_lookup link, sockmap verdict),
# owned by a child process over TCP workers (root only).
sgbpf_test(test_status_tcp SOURCES test_status_tcp.c LIBS sgbpf_netns_util TIMEOUT 120 LABELS root)
add_dependencies(test_status_tcp sgbpf_cli sgbpf_example_sum_sat)
