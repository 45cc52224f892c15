# The benchmark driver shared by the contenders (bench/bench_common.c).
if(TARGET bench_common)
  sgbpf_test(test_bench_drive SOURCES test_bench_drive.c LIBS bench_common TIMEOUT 30)
endif()
# The TCP contenders' framer and user-space fold (bench/bench_tcp_common.c).
if(TARGET bench_tcp_common)
  sgbpf_test(test_bench_tcp_frame SOURCES test_bench_tcp_frame.c LIBS bench_tcp_common TIMEOUT 30)
endif()
