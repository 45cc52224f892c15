# sgbpf setup / status / teardown, kernel feature probes and privilege checks,
# against services in namespaces the test creates (root only).
sgbpf_test(test_ops SOURCES test_ops.c LIBS sgbpf_netns_util TIMEOUT 120 LABELS root)
add_dependencies(test_ops sgbpf_cli)
