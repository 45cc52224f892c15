# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Charts of one bench/run.sh invocation.  Called by run.sh as
#   gnuplot -e "datadir='DIR/plot'; outdir='DIR'; names='naive epoll ...'" bench/plot.gp
# Each DIR/plot/NAME.dat holds, per fan-out:
#   fanout  p50_us  p99_us  rps  machine_cpu_us_per_req(loaded)  machine_cpu_us_per_req(unloaded)

if (!exists("datadir") || !exists("outdir") || !exists("names")) {
	print "plot.gp: set datadir, outdir and names with -e"
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

set output sprintf("%s/latency_p50.png", outdir)
set title "Unloaded latency (1 request in flight), median"
set ylabel "p50 latency (µs)"
set logscale y 10
plot for [i = 1:words(names)] file(word(names, i)) using 1:2 title word(names, i) noenhanced lw 2

set output sprintf("%s/throughput.png", outdir)
set title "Throughput (16 requests in flight)"
set ylabel "completed requests per second"
plot for [i = 1:words(names)] file(word(names, i)) using 1:4 title word(names, i) noenhanced lw 2

set output sprintf("%s/cpu_per_request.png", outdir)
set title "Machine CPU per request under load (all CPUs, softirq included)"
set ylabel "CPU time per request (µs)"
plot for [i = 1:words(names)] file(word(names, i)) using 1:5 title word(names, i) noenhanced lw 2

unset output
