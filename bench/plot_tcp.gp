# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Charts of one bench/run_tcp.sh invocation, one set per reply size.  Called as
#   gnuplot -e "datadir='DIR/plot/SIZE'; outdir='DIR'; names='epoll ...'; size='SIZE'" bench/plot_tcp.gp
# Each DATADIR/NAME.dat holds, per fan-out:
#   fanout  p50_us  p99_us  MB/s(16 in flight)  machine_cpu_us_per_req(16 in flight)

if (!exists("datadir") || !exists("outdir") || !exists("names") || !exists("size")) {
	print "plot_tcp.gp: set datadir, outdir, names and size with -e"
	exit status 1
}

set terminal pngcairo size 900,560 enhanced font "DejaVu Sans,11"
set datafile missing "NaN"
set key outside right top
set grid
set logscale x 2
set xlabel "fan-out (workers)"
set style data linespoints
set pointsize 1.2

file(n) = sprintf("%s/%s.dat", datadir, n)
s = size + 0
hsize = s >= 1048576 ? sprintf("%d MiB", s / 1048576) : s >= 1024 ? sprintf("%d KiB", s / 1024) : sprintf("%d B", s)

set output sprintf("%s/latency_p50-%s.png", outdir, size)
set title sprintf("TCP, %s replies: unloaded latency (1 request in flight), median", hsize)
set ylabel "p50 latency (µs)"
set logscale y 10
plot for [i = 1:words(names)] file(word(names, i)) using 1:2 title word(names, i) noenhanced lw 2

set output sprintf("%s/throughput-%s.png", outdir, size)
set title sprintf("TCP, %s replies: throughput (16 requests in flight)", hsize)
set ylabel "reply MB/s gathered"
unset logscale y
plot for [i = 1:words(names)] file(word(names, i)) using 1:4 title word(names, i) noenhanced lw 2

set output sprintf("%s/cpu_per_request-%s.png", outdir, size)
set title sprintf("TCP, %s replies: machine CPU per request under load", hsize)
set ylabel "CPU time per request (µs)"
set logscale y 10
plot for [i = 1:words(names)] file(word(names, i)) using 1:5 title word(names, i) noenhanced lw 2

unset output
