# Wire format, worker lists, the CLI and its reference worker.
sgbpf_test(test_protocol SOURCES test_protocol.c TIMEOUT 30)
sgbpf_test(test_workers_file SOURCES test_workers_file.c TIMEOUT 30)
sgbpf_test(test_cli_args SOURCES test_cli_args.c ${PROJECT_SOURCE_DIR}/src/cli/cli_common.c
  TIMEOUT 60)
sgbpf_test(test_worker_e2e SOURCES test_worker_e2e.c TIMEOUT 60)
# These two run the sgbpf binary ($SGBPF_CLI).
add_dependencies(test_cli_args sgbpf_cli)
add_dependencies(test_worker_e2e sgbpf_cli)
