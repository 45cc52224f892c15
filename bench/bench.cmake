# UDP scatter-gather contenders (bench_udp_*) and their shared code.
# Built into ${CMAKE_BINARY_DIR}/bench; run by bench/run.sh; never installed.
add_library(bench_common STATIC ${CMAKE_CURRENT_SOURCE_DIR}/bench_common.c
  ${PROJECT_SOURCE_DIR}/src/common/lat_hist.c)
target_include_directories(bench_common PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}
  ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/src/common)
target_link_libraries(bench_common PUBLIC m)

function(sgbpf_bench NAME)
  add_executable(bench_udp_${NAME} ${CMAKE_CURRENT_SOURCE_DIR}/bench_udp_${NAME}.c)
  target_link_libraries(bench_udp_${NAME} PRIVATE bench_common ${ARGN})
endfunction()

sgbpf_bench(naive)
sgbpf_bench(epoll)
sgbpf_bench(io_uring PkgConfig::LIBURING)

# The sgbpf contender takes the whole archive: its references to the API are
# weak (so it links while the library is incomplete), and weak references
# alone would not pull any member out of a static library.
sgbpf_bench(sgbpf "$<LINK_LIBRARY:WHOLE_ARCHIVE,sgbpf_static>")

# GRO switch for the veth topology of bench/run.sh.
add_executable(bench_gro ${CMAKE_CURRENT_SOURCE_DIR}/bench_gro.c)

# The floor contender: an XDP program that counts and drops the replies.
sgbpf_bpf_skeleton(bench_floor_bpf
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bench_floor.bpf.c
  INCLUDES ${CMAKE_CURRENT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/bpf-udp)
sgbpf_bench(floor bench_floor_bpf_skel PkgConfig::LIBBPF)

# Does the reduction scale with CPUs?  The gather programs twice: as libsgbpf
# embeds them, and built with per-CPU partials replaced by one shared partial
# under a spin lock (only here), driven by BPF_PROG_TEST_RUN.
sgbpf_bpf_skeleton(sgbpf_udp_single_lock
  SOURCES ${PROJECT_SOURCE_DIR}/bpf-udp/scatter.bpf.c ${PROJECT_SOURCE_DIR}/bpf-udp/gather.bpf.c
          ${PROJECT_SOURCE_DIR}/bpf-udp/reduce_builtin.bpf.c
  INCLUDES ${PROJECT_SOURCE_DIR}/bpf-udp
  DEFINES SGBPF_BENCH_SINGLE_LOCK)
add_executable(bench_fold_scaling ${CMAKE_CURRENT_SOURCE_DIR}/bench_fold_scaling.c
  ${PROJECT_SOURCE_DIR}/tests/pkt_build.c)
target_include_directories(bench_fold_scaling PRIVATE ${PROJECT_SOURCE_DIR}/include
  ${PROJECT_SOURCE_DIR}/tests)
target_link_libraries(bench_fold_scaling PRIVATE sgbpf_udp_skel sgbpf_udp_single_lock_skel
  PkgConfig::LIBBPF pthread)
