# TCP scatter-gather contenders (bench_tcp_*) and their shared code.
# Built into ${CMAKE_BINARY_DIR}/bench; run by bench/run_tcp.sh; never installed.
add_library(bench_tcp_common STATIC ${CMAKE_CURRENT_SOURCE_DIR}/bench_tcp_common.c)
target_link_libraries(bench_tcp_common PUBLIC bench_common)

function(sgbpf_bench_tcp NAME)
  add_executable(bench_tcp_${NAME} ${CMAKE_CURRENT_SOURCE_DIR}/bench_tcp_${NAME}.c)
  target_link_libraries(bench_tcp_${NAME} PRIVATE bench_tcp_common ${ARGN})
endfunction()

sgbpf_bench_tcp(epoll)
sgbpf_bench_tcp(io_uring PkgConfig::LIBURING)

# The library through its public API, TCP backend.
sgbpf_bench_tcp(sgbpf sgbpf_static)
