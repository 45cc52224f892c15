# Wire format, worker lists, the CLI and its reference worker.
sgbpf_test(test_protocol SOURCES test_protocol.c LIBS sgbpf_reply_gen TIMEOUT 30)
sgbpf_test(test_workers_file SOURCES test_workers_file.c TIMEOUT 30)
sgbpf_test(test_cli_args SOURCES test_cli_args.c ${PROJECT_SOURCE_DIR}/src/cli/cli_common.c
  TIMEOUT 60)
sgbpf_test(test_worker_e2e SOURCES test_worker_e2e.c LIBS sgbpf_reply_gen TIMEOUT 60)
# These two run the sgbpf binary ($SGBPF_CLI).
add_dependencies(test_cli_args sgbpf_cli)
add_dependencies(test_worker_e2e sgbpf_cli)
# The latency histogram the CLI and the benchmarks share.
sgbpf_test(test_lat_hist SOURCES test_lat_hist.c ${PROJECT_SOURCE_DIR}/src/common/lat_hist.c
  LIBS m TIMEOUT 30)
target_include_directories(test_lat_hist PRIVATE ${PROJECT_SOURCE_DIR}/src/common)
# The CLI at run time in a namespace: signals, memory over a long run, messages.
sgbpf_test(test_cli_runtime SOURCES test_cli_runtime.c LIBS sgbpf_netns_util TIMEOUT 300
  LABELS root)
add_dependencies(test_cli_runtime sgbpf_cli)
# 'gather --backend tcp' against 'worker --backend tcp', and 'run --backend tcp' (root only).
sgbpf_test(test_cli_tcp SOURCES test_cli_tcp.c LIBS sgbpf_netns_util TIMEOUT 120 LABELS root)
add_dependencies(test_cli_tcp sgbpf_cli sgbpf_example_sum_sat)
