# The scatter path at its edges (largest bodies, fan-out 1024, load) and the
# long randomized soak, in namespaces the tests create (root only).
sgbpf_test(test_scatter_e2e SOURCES test_scatter_e2e.c LIBS sgbpf_netns_util TIMEOUT 300
  LABELS root)
add_dependencies(test_scatter_e2e sgbpf_cli)
# SGBPF_SOAK_FULL=1 (10^6 requests, < 10 minutes) or SGBPF_SOAK_REQUESTS=N;
# the default size takes seconds.
sgbpf_test(test_soak SOURCES test_soak.c LIBS sgbpf_netns_util sgbpf_pkt_build TIMEOUT 900
  LABELS root)
add_dependencies(test_soak sgbpf_cli)

# The reply budget end to end, in a namespace the test creates (root only).
sgbpf_test(test_reply_budget SOURCES test_reply_budget.c LIBS sgbpf_netns_util TIMEOUT 120 LABELS root)
add_dependencies(test_reply_budget sgbpf_cli)
