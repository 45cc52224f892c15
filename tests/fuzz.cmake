# libFuzzer targets for the user-space parsers (tests/fuzz/): built with clang
# as a separate project under ${CMAKE_BINARY_DIR}/fuzz, so the compiler of the
# main build does not matter; each runs for SGBPF_FUZZ_SECONDS (default 20)
# from its seed corpus in tests/fuzz/corpus/.
find_program(SGBPF_CLANG NAMES clang clang-14)
if(SGBPF_CLANG)
  include(ExternalProject)
  ExternalProject_Add(sgbpf_fuzzers
    SOURCE_DIR ${CMAKE_CURRENT_SOURCE_DIR}/fuzz
    BINARY_DIR ${CMAKE_BINARY_DIR}/fuzz
    CMAKE_ARGS -DCMAKE_C_COMPILER=${SGBPF_CLANG} -DSGBPF_SOURCE_DIR=${PROJECT_SOURCE_DIR}
      -DCMAKE_BUILD_TYPE=RelWithDebInfo
    BUILD_ALWAYS ON
    INSTALL_COMMAND "")
endif()
# The argument parsers print a usage message per bad input: fuzz_cli_args
# runs with its stderr closed (-close_fd_mask=2), which hides ASan's report
# too; a crash still fails the test and leaves crash-* beside the binary, and
# running the binary on that file shows the report.
set(SGBPF_FUZZ_ARGS_cli_args -close_fd_mask=2)
foreach(name workers_file endpoint cli_args)
  add_test(NAME fuzz_${name} COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/run_fuzzer.sh
    ${CMAKE_BINARY_DIR}/fuzz/fuzz_${name} ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/${name}
    ${SGBPF_FUZZ_ARGS_${name}})
  set_tests_properties(fuzz_${name} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900 LABELS fuzz)
endforeach()
