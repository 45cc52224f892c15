# The benchmark driver shared by the contenders (bench/bench_common.c).
if(TARGET bench_common)
  sgbpf_test(test_bench_drive SOURCES test_bench_drive.c LIBS bench_common TIMEOUT 30)
endif()
