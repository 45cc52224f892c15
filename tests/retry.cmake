# Re-scatters to stragglers end to end, in a namespace the test creates (root only).
sgbpf_test(test_retry SOURCES test_retry.c LIBS sgbpf_netns_util TIMEOUT 300 LABELS root)
add_dependencies(test_retry sgbpf_cli)

# All-gather end to end: the test plays the workers, in a namespace it creates (root only).
sgbpf_test(test_allgather SOURCES test_allgather.c LIBS sgbpf_netns_util TIMEOUT 120 LABELS root)
add_dependencies(test_allgather sgbpf_cli)
