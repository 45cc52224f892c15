# The scatter path at its edges (largest bodies, fan-out 1024, load) and the
# long randomized soak, in namespaces the tests create (root only).
sgbpf_test(test_scatter_e2e SOURCES test_scatter_e2e.c LIBS sgbpf_netns_util TIMEOUT 300
  LABELS root)
add_dependencies(test_scatter_e2e sgbpf_cli)
