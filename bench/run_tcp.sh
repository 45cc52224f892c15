#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# TCP scatter-gather benchmark runner (bench/run.sh --backend tcp runs it).
#
# A worker farm (`sgbpf worker --backend tcp`, pinned to the farm's CPU)
# whose workers connect from WORK_ADDR:20000.. to the coordinator's
# COORD_ADDR:LISTEN, and the contenders one after the other on the
# coordinator's CPU.  Topology veth (the default): the two in namespaces of
# their own joined by a veth pair (bench/veth.sh); its threaded NAPI does
# not get the farm's TSO packets, so over TCP the receive work still runs
# on the farm's CPU (docs/performance.md, Topology).  Topology lo: one
# namespace's lo, where the receive work runs on the sending CPU, the farm's.  Each contender accepts
# the farm's connections in its own way (the farm reconnects
# whenever a contender leaves).  For each fan-out and reply size: unloaded
# latency (1 request in flight), throughput (16 in flight), a short run
# under `strace -c -f` for system calls per request.  It writes
# results.csv, results.md (tables with ratios to the best baseline, and the
# issue's targets) and PNG charts.
#
# Request counts follow a byte budget per run, so that a 128 x 1 MiB row
# takes seconds, not hours, and a 8 x 1 KiB row still has thousands of
# samples.  Every run is bounded in time; the farm is stopped and the
# namespace deleted on exit, whatever happens.
set -uo pipefail

usage() {
	cat <<'EOF'
usage: bench/run_tcp.sh [--quick | --smoke] [--fanouts "8 32 128"]
                        [--sizes "1024 65536 1048576"] [--topology veth|lo]
                        [--out DIR] [--only LIST] [--report-only]

  --quick          smaller byte budgets (about 10 minutes on 2 cores)
  --smoke          seconds: fan-out 8, 64 KiB, the baselines and sgbpf ring
                   buffer and allow, tiny counts, no quiet wait (for CI)
  --fanouts LIST   fan-outs to measure (default "8 32 128", at most 1024)
  --sizes LIST     reply body sizes in bytes (default "1024 65536 1048576")
  --topology T     veth (default: the coordinator and the farm in two
                   namespaces joined by a veth pair; TCP receive work still
                   runs on the farm's CPU, see docs/performance.md) or lo
                   (one namespace: the receive work, the stream program's
                   folds included, runs on the farm's CPU); --smoke
                   defaults to lo
  --out DIR        output directory (default bench/results/tcp-<date>)
  --only LIST      run only these contenders (names as in the table)
  --report-only    measure nothing: rewrite results.md and the charts of --out DIR

Environment: SGBPF_BUILD_DIR, SGBPF_BENCH_CPU (default 0),
SGBPF_BENCH_FARM_CPU (default 1), SGBPF_BENCH_QUIET_PCT (default 10) as for
bench/run.sh; SGBPF_BENCH_TCP_PORT (first worker source port, default 20000: below the
ephemeral port range),
SGBPF_BENCH_TCP_LISTEN (coordinator port, default 7000).
EOF
}

die() {
	echo "run_tcp.sh: $*" >&2
	exit 1
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROFILE=full
FANOUTS="8 32 128"
SIZES="1024 65536 1048576"
FANOUTS_SET=0
SIZES_SET=0
OUT=""
ONLY=""
REPORT_ONLY=0
TOPO=""

while [ $# -gt 0 ]; do
	case "$1" in
	--quick) PROFILE=quick ;;
	--smoke) PROFILE=smoke ;;
	--fanouts) [ $# -ge 2 ] || die "--fanouts needs a value"; FANOUTS=$2; FANOUTS_SET=1; shift ;;
	--sizes) [ $# -ge 2 ] || die "--sizes needs a value"; SIZES=$2; SIZES_SET=1; shift ;;
	--out) [ $# -ge 2 ] || die "--out needs a value"; OUT=$2; shift ;;
	--only) [ $# -ge 2 ] || die "--only needs a value"; ONLY=$2; shift ;;
	--report-only) REPORT_ONLY=1 ;;
	--topology) [ $# -ge 2 ] || die "--topology needs a value"; TOPO=$2; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done

INFLIGHT=16
QUIET_PCT=${SGBPF_BENCH_QUIET_PCT:-10}
# Per run: bytes of replies to move (LAT_BYTES unloaded, TPUT_BYTES under
# load), turned into a request count within [MIN_COUNT, *_MAX].
case "$PROFILE" in
full) LAT_BYTES=$((8 << 30)); TPUT_BYTES=$((16 << 30)); LAT_MAX=5000; TPUT_MAX=8000; MIN_COUNT=100
	WARMUP_BYTES=$((512 << 20)); STRACE_BYTES=$((1 << 30)); MAX_SECONDS=120; QUIET_TRIES=60 ;;
quick) LAT_BYTES=$((1 << 30)); TPUT_BYTES=$((2 << 30)); LAT_MAX=1000; TPUT_MAX=2000; MIN_COUNT=30
	WARMUP_BYTES=$((128 << 20)); STRACE_BYTES=$((256 << 20)); MAX_SECONDS=60; QUIET_TRIES=2 ;;
smoke) LAT_BYTES=$((16 << 20)); TPUT_BYTES=$((32 << 20)); LAT_MAX=100; TPUT_MAX=200; MIN_COUNT=10
	WARMUP_BYTES=$((1 << 20)); STRACE_BYTES=$((4 << 20)); MAX_SECONDS=20; QUIET_TRIES=0
	[ "$FANOUTS_SET" = 1 ] || FANOUTS=8
	[ "$SIZES_SET" = 1 ] || SIZES=65536
	# The baselines and the library's two fates: what CI needs to see work.
	[ -n "$ONLY" ] || ONLY="epoll io_uring sgbpf-ringbuf sgbpf-allow"
	[ -n "$TOPO" ] || TOPO=lo ;;
esac
[ -n "$TOPO" ] || TOPO=veth
case "$TOPO" in veth | lo) ;; *) die "unknown topology '$TOPO' (veth or lo)" ;; esac

for f in $FANOUTS; do
	case "$f" in '' | *[!0-9]*) die "bad fan-out '$f'" ;; esac
	[ "$f" -ge 1 ] && [ "$f" -le 1024 ] || die "fan-out $f out of range 1..1024"
done
for s in $SIZES; do
	case "$s" in '' | *[!0-9]*) die "bad size '$s'" ;; esac
	[ "$s" -le $((16 << 20)) ] || die "size $s above 16 MiB"
done

COORD_CPU=${SGBPF_BENCH_CPU:-0}
FARM_CPU=${SGBPF_BENCH_FARM_CPU:-1}
[ "$(nproc)" -gt 1 ] || FARM_CPU=0
# The workers' source ports lie below the ephemeral range (32768-60999 by
# default): the library's per-worker listeners bind kernel-chosen ports on
# the same address, and a listener that drew a worker's port would keep
# that worker from binding it for as long as the service lives (seen at
# fan-out 128: one or two workers in most runs never connected).
BASE_PORT=${SGBPF_BENCH_TCP_PORT:-20000}
LISTEN_PORT=${SGBPF_BENCH_TCP_LISTEN:-7000}
[ -n "$OUT" ] || OUT="$ROOT/bench/results/tcp-$(date +%Y-%m-%d-%H%M%S)"
mkdir -p "$OUT/logs" "$OUT/strace" "$OUT/plot" || die "cannot create $OUT"
OUT=$(cd "$OUT" && pwd)
CSV="$OUT/results.csv"
STATUS="$OUT/status.csv"

# name|binary|extra arguments|modes
CONTENDERS=(
	"epoll|bench_tcp_epoll||latency throughput"
	"io_uring|bench_tcp_io_uring||latency throughput"
	"sgbpf-ringbuf|bench_tcp_sgbpf|--delivery ringbuf|latency throughput"
	"sgbpf-busy-wait|bench_tcp_sgbpf|--delivery busy-wait|latency throughput"
	"sgbpf-block|bench_tcp_sgbpf|--delivery block|latency"
	"sgbpf-ctrl-fd|bench_tcp_sgbpf|--delivery ctrl-fd|latency throughput"
	"sgbpf-allow|bench_tcp_sgbpf|--delivery ringbuf --allow|latency throughput"
	"sgbpf-count|bench_tcp_sgbpf|--delivery ringbuf --reduce count|latency throughput"
)
BASELINES="epoll io_uring"

selected() {
	[ -z "$ONLY" ] && return 0
	case " $ONLY " in *" $1 "*) return 0 ;; esac
	return 1
}

# ---- reports -----------------------------------------------------------------

# results.md and the charts from $CSV.
write_report() {
	local cmdline="bench/run_tcp.sh"
	[ "$PROFILE" = full ] || cmdline="$cmdline --$PROFILE"
	cmdline="$cmdline --fanouts \"$FANOUTS\" --sizes \"$SIZES\""
	[ -z "$ONLY" ] || cmdline="$cmdline --only \"$ONLY\""
	{
		echo "# TCP scatter-gather benchmark"
		echo
		echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'), $PROFILE profile, ${ELAPSED:-?} s"
		echo "- command: \`$cmdline\`"
		echo "- machine: $(nproc) CPUs ($(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)), kernel $(uname -r)"
		echo "- commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
		if [ "$TOPO" = veth ]; then
			echo "- topology veth: contenders in a namespace on $VETH_C (GRO on, threaded NAPI pinned to CPU $COORD_CPU)," \
				"\`sgbpf worker --backend tcp --reply vector\` farm in another on the peer (NAPI and farm on CPU $FARM_CPU);" \
				"the farm's TSO packets bypass the coordinator's NAPI, so TCP receive work, the stream program's folds included," \
				"runs on the farm's CPU (docs/performance.md, Topology)"
		else
			echo "- topology lo: one namespace's lo, \`sgbpf worker --backend tcp --reply vector\` farm on CPU $FARM_CPU, contenders on CPU $COORD_CPU" \
				"(loopback receive work, the stream program's folds included, runs on the sending CPU: the farm's)"
		fi
		echo "- latency: 1 request in flight, throughput: $INFLIGHT in flight; request counts from a byte budget per run" \
			"(latency $((LAT_BYTES >> 20)) MiB, throughput $((TPUT_BYTES >> 20)) MiB of replies, within $MIN_COUNT..$LAT_MAX / $MIN_COUNT..$TPUT_MAX requests)"
		echo "- MB/s: reply body bytes gathered per second (10^6 bytes); CPU: µs per request, \"own\" the contender (getrusage)," \
			"\"machine\" all CPUs (/proc/stat, softirq included, the farm too); \"busy %\": the machine before the run, farm idle"
		echo
		echo "Ratios against the best baseline ($BASELINES) of the same fan-out, size and mode:"
		echo "p50 and CPU below 1, MB/s above 1 are better."
		echo
		awk -F, -v baselines="$BASELINES" -v fanouts="$FANOUTS" -v sizes="$SIZES" '
		function fmt(v) { return v == "" ? "–" : v }
		function ratio(a, b) { return (a == "" || b == "" || b + 0 == 0) ? "–" : sprintf("%.2f", a / b) }
		function hsize(s) { return s >= 1048576 ? (s / 1048576) " MiB" : s >= 1024 ? (s / 1024) " KiB" : s " B" }
		BEGIN { nb = split(baselines, bl, " "); for (i = 1; i <= nb; i++) isbase[bl[i]] = 1 }
		FNR == 1 { next }
		{
			n++; line[n] = $0
			b = $2 SUBSEP $3 SUBSEP $4
			if (isbase[$1] && $15 == 0 && $10 > 0) {
				if (!(b in bp50) || $8 < bp50[b]) bp50[b] = $8
				if (!(b in bmbs) || $11 > bmbs[b]) { bmbs[b] = $11; bname[b] = $1 }
				if (!(b in bcpu) || $13 < bcpu[b]) bcpu[b] = $13
			}
			if ($1 == "sgbpf-ringbuf") { rb[b] = $0 }
		}
		END {
			nf = split(fanouts, fo, " "); ns = split(sizes, sz, " ")
			for (f = 1; f <= nf; f++) for (s = 1; s <= ns; s++) {
				printf "## Fan-out %s, %s replies\n\n", fo[f], hsize(sz[s])
				print "| contender | mode | p50 µs | p99 µs | req/s | MB/s | CPU own µs/req | CPU machine µs/req | syscalls/req | errors | lost | p50 ÷ best | MB/s ÷ best | machine CPU ÷ best | busy % |"
				print "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
				for (i = 1; i <= n; i++) {
					split(line[i], r, ",")
					if (r[2] != fo[f] || r[3] != sz[s]) continue
					b = r[2] SUBSEP r[3] SUBSEP r[4]
					printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
						r[1], r[4], r[8], r[9], r[10], r[11], r[12], r[13], fmt(r[14]), r[15], r[16],
						ratio(r[8], bp50[b]), ratio(r[11], bmbs[b]), ratio(r[13], bcpu[b]), fmt(r[18])
				}
				print ""
			}
			print "## Against the targets (sgbpf ring buffer, fate discard, 16 in flight)"
			print ""
			print "| fan-out | size | best baseline MB/s | sgbpf MB/s | ÷ best (target) | machine CPU ÷ best (≤ 0.7) |"
			print "|--:|--:|--|--:|--|--|"
			for (f = 1; f <= nf; f++) for (s = 1; s <= ns; s++) {
				b = fo[f] SUBSEP sz[s] SUBSEP "throughput"
				if (!(b in rb)) continue
				split(rb[b], r, ",")
				if (r[15] - r[16] > 0) {
					printf "| %s | %s | %s (%s) | – | %s wrong results: not comparable | – |\n", fo[f], hsize(sz[s]), fmt(bmbs[b]), fmt(bname[b]), r[15] - r[16]
					continue
				}
				t = sz[s] >= 1048576 ? 1.5 : sz[s] >= 65536 ? 1.0 : 0
				tr = ratio(r[11], bmbs[b]); cr = ratio(r[13], bcpu[b])
				printf "| %s | %s | %s (%s) | %s | %s%s | %s%s |\n", fo[f], hsize(sz[s]), fmt(bmbs[b]), fmt(bname[b]), r[11],
					tr, (t && fo[f] >= 32 && tr != "–") ? (tr + 0 >= t ? " (≥ " t ": met)" : " (≥ " t ": missed)") : "",
					cr, cr == "–" ? "" : (cr + 0 <= 0.7 ? " met" : " missed")
			}
		}' "$CSV"
	} >"$OUT/results.md"

	# Charts: one set per reply size; series per contender against fan-out.
	local names size name
	command -v gnuplot >/dev/null 2>&1 || { echo "run_tcp.sh: gnuplot missing: no charts" >&2; return 0; }
	for size in $SIZES; do
		names=""
		mkdir -p "$OUT/plot/$size"
		for c in "${CONTENDERS[@]}"; do
			IFS='|' read -r name _ <<<"$c"
			awk -F, -v name="$name" -v size="$size" '
			# A run with wrong results has no figure worth drawing.
			FNR > 1 && $1 == name && $3 == size && $15 - $16 == 0 {
				f[$2] = 1
				if ($4 == "latency") { p50[$2] = $8; p99[$2] = $9 } else { mbs[$2] = $11; cpu[$2] = $13 }
			}
			function v(a, k) { return (k in a) ? a[k] : "NaN" }
			END { for (k in f) printf "%s %s %s %s %s\n", k, v(p50, k), v(p99, k), v(mbs, k), v(cpu, k) }' \
				"$CSV" | sort -n >"$OUT/plot/$size/$name.dat"
			[ -s "$OUT/plot/$size/$name.dat" ] && names="$names $name"
		done
		[ -n "$names" ] || continue
		gnuplot -e "datadir='$OUT/plot/$size'; outdir='$OUT'; names='${names# }'; size='$size'" \
			"$ROOT/bench/plot_tcp.gp" >>"$OUT/logs/gnuplot.log" 2>&1 ||
			echo "run_tcp.sh: gnuplot failed, see $OUT/logs/gnuplot.log" >&2
	done
}

if [ "$REPORT_ONLY" = 1 ]; then
	[ -f "$CSV" ] || die "no $CSV"
	ELAPSED="(earlier run)"
	write_report
	exit 0
fi

# ---- build -------------------------------------------------------------------

if [ -n "${SGBPF_BUILD_DIR:-}" ]; then
	BUILD=$SGBPF_BUILD_DIR
	[ -f "$BUILD/CMakeCache.txt" ] || die "SGBPF_BUILD_DIR=$BUILD is not a CMake build directory"
else
	BUILD="$ROOT/build-bench"
	if [ ! -f "$BUILD/CMakeCache.txt" ]; then
		cmake -S "$ROOT" -B "$BUILD" -G Ninja -DBUILD_TESTING=OFF >"$OUT/logs/cmake.log" 2>&1 ||
			die "cmake configure failed, see $OUT/logs/cmake.log"
	fi
fi
for t in bench_tcp_epoll bench_tcp_io_uring bench_tcp_sgbpf bench_gro sgbpf_cli; do
	cmake --build "$BUILD" --target "$t" >>"$OUT/logs/build.log" 2>&1 ||
		echo "run_tcp.sh: building $t failed (see $OUT/logs/build.log)" >&2
done
BENCH="$BUILD/bench"
[ -x "$BUILD/sgbpf" ] || die "no $BUILD/sgbpf: the farm is needed"

# ---- namespace and farm --------------------------------------------------------

NS="sgbpf-bench-tcp-$$"
NS_C="sgbpf-bench-tcpc-$$"
NS_W="sgbpf-bench-tcpw-$$"
VETH_C=sgtc0
VETH_W=sgtw0
VETH_QUEUES=1
VETH_NET=10.214.0
NS_UP=0
FARM_PID=""
# veth_up, veth_down, pin_napi
# shellcheck source=bench/veth.sh
. "$ROOT/bench/veth.sh"

stop_farm() {
	[ -n "$FARM_PID" ] || return 0
	kill "$FARM_PID" 2>/dev/null
	for _ in $(seq 50); do
		kill -0 "$FARM_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$FARM_PID" 2>/dev/null
	wait "$FARM_PID" 2>/dev/null
	FARM_PID=""
}

cleanup() {
	stop_farm
	if [ "$TOPO" = veth ]; then
		veth_down
	else
		[ "$NS_UP" = 1 ] && ip netns del "$NS" 2>/dev/null
		NS_UP=0
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# IN_NS runs a contender, IN_FARM the farm; COORD_ADDR is the service's
# address, WORK_ADDR the workers' sources.
if [ "$TOPO" = veth ]; then
	veth_up || die "cannot set up the veth pair (root needed)"
	IN_NS="ip netns exec $NS_C"
	IN_FARM="ip netns exec $NS_W"
	COORD_ADDR=$VETH_NET.1
	WORK_ADDR=$VETH_NET.2
else
	ip netns add "$NS" && NS_UP=1 && ip -n "$NS" link set lo up ||
		die "cannot create network namespace $NS (root needed)"
	IN_NS="ip netns exec $NS"
	IN_FARM=$IN_NS
	COORD_ADDR=127.0.0.1
	WORK_ADDR=127.0.0.1
fi

start_farm() {
	local fanout=$1 size=$2 log="$OUT/logs/farm-$1-$2.log"

	$IN_FARM "$BUILD/sgbpf" worker --backend tcp --connect "$COORD_ADDR:$LISTEN_PORT" \
		--bind "$WORK_ADDR:$BASE_PORT-$((BASE_PORT + fanout - 1))" --reply-size "$size" \
		--reply vector --cpu "$FARM_CPU" 2>"$log" >/dev/null &
	FARM_PID=$!
	for _ in $(seq 100); do
		grep -q "TCP workers connecting" "$log" 2>/dev/null && return 0
		kill -0 "$FARM_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "run_tcp.sh: the worker farm did not start:" >&2
	cat "$log" >&2
	stop_farm
	return 1
}

# The farm of the current fan-out and size, started when none runs (or the
# last one died).
ensure_farm() {
	[ -n "$FARM_PID" ] && kill -0 "$FARM_PID" 2>/dev/null && return 0
	stop_farm
	start_farm "$@"
}

background_busy() {
	local a b
	a=$(awk '/^cpu /{print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8+$9; exit}' /proc/stat)
	sleep 0.5
	b=$(awk '/^cpu /{print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8+$9; exit}' /proc/stat)
	echo "$a $b" | awk '{ t = $4 - $2; printf "%.0f", (t > 0 ? 100 * ($3 - $1) / t : 0) }'
}

wait_quiet() {
	local bg="" _
	for _ in $(seq "$QUIET_TRIES"); do
		bg=$(background_busy)
		[ "$bg" -le "$QUIET_PCT" ] && break
	done
	echo "$bg"
}

# Requests for a byte budget: budget / (fanout * size) within [LO, HI]
# (LO: MIN_COUNT unless given).
count_for() {
	awk -v b="$1" -v f="$2" -v s="$3" -v lo="${5:-$MIN_COUNT}" -v hi="$4" \
		'BEGIN { n = int(b / (f * (s > 0 ? s : 1))); n = n < lo ? lo : n > hi ? hi : n; print n }'
}

# Per-request timeout: one second plus the replies of every request in
# flight at a pessimistic 100 MB/s, so that a slow contender is measured,
# not counted as lost.
timeout_for() {
	echo $((1000 + $1 * $2 * $3 / 100000))
}

HAVE_STRACE=1
command -v strace >/dev/null 2>&1 || HAVE_STRACE=0
[ "$HAVE_STRACE" = 1 ] || echo "run_tcp.sh: strace not found: syscalls per request left empty" >&2

strace_total() {
	awk '$NF == "total" { print $4 }' "$1" 2>/dev/null
}

describe_rc() {
	case "$1" in
	0) echo ok ;;
	77) echo unavailable ;;
	124) echo "timed out" ;;
	*) echo "failed (exit $1)" ;;
	esac
}

# run_one NAME BIN "ARGS" FANOUT SIZE MODE SETUP_CALLS
run_one() {
	local name=$1 bin=$2 args=$3 fanout=$4 size=$5 mode=$6 setup=$7 busy
	local count inflight warmup tag="$1-$4-$5-$6" rc row sc="" calls scount mbs

	if [ "$mode" = latency ]; then
		inflight=1; count=$(count_for "$LAT_BYTES" "$fanout" "$size" "$LAT_MAX")
	else
		inflight=$INFLIGHT; count=$(count_for "$TPUT_BYTES" "$fanout" "$size" "$TPUT_MAX")
	fi
	ensure_farm "$fanout" "$size" || { echo "$name,$fanout,$size,$mode,no worker farm," >>"$STATUS"; return 0; }
	busy=$(wait_quiet)
	# Warm-up and strace runs need a few requests, not a latency distribution.
	warmup=$(count_for "$WARMUP_BYTES" "$fanout" "$size" 200 2)
	warmup=$((warmup > count ? count : warmup))
	# shellcheck disable=SC2086 # args is a list of options
	set -- --listen "$COORD_ADDR:$LISTEN_PORT" --workers "$WORK_ADDR:$BASE_PORT-$((BASE_PORT + fanout - 1))" \
		--reply-size "$size" --inflight "$inflight" --cpu "$COORD_CPU" --label "$name" --mode "$mode" \
		--max-seconds "$MAX_SECONDS" --timeout-ms "$(timeout_for "$fanout" "$size" "$inflight")" \
		--accept-ms 10000 $args
	timeout $((MAX_SECONDS + 30)) $IN_NS "$BENCH/$bin" "$@" --count "$count" --warmup "$warmup" \
		--csv --verbose >"$OUT/logs/$tag.csv" 2>"$OUT/logs/$tag.log"
	rc=$?
	row=$(grep -m1 "^$name,$fanout," "$OUT/logs/$tag.csv")
	if [ "$rc" = 0 ] && [ -z "$row" ]; then rc=1; fi
	echo "$name,$fanout,$size,$mode,$(describe_rc "$rc"),$busy" >>"$STATUS"
	if [ "$rc" != 0 ]; then
		printf '  %-16s %-8s %-10s %s\n' "$name" "$size" "$mode" "$(describe_rc "$rc")" >&2
		return 0
	fi
	if [ "$HAVE_STRACE" = 1 ] && [ -n "$setup" ]; then
		scount=$(count_for "$STRACE_BYTES" "$fanout" "$size" 200 8)
		ensure_farm "$fanout" "$size" || return 0
		timeout $((MAX_SECONDS + 30)) $IN_NS strace -c -f -o "$OUT/strace/$tag.txt" \
			"$BENCH/$bin" "$@" --count "$scount" --warmup 1 >/dev/null 2>"$OUT/logs/$tag.strace.log"
		calls=$(strace_total "$OUT/strace/$tag.txt")
		[ -z "$calls" ] || sc=$(awk -v a="$calls" -v b="$setup" -v n="$scount" 'BEGIN { printf "%.2f", (a - b) / n }')
	fi
	# The contender's row with the reply size, MB/s, syscalls and busy share added.
	echo "$row" | awk -F, -v OFS=, -v size="$size" -v sc="$sc" -v busy="$busy" '{
		mbs = sprintf("%.1f", $9 * $2 * size / 1e6)
		print $1, $2, size, $3, $4, $5, $6, $7, $8, $9, mbs, $10, $11, sc, $13, $14, $15, busy }' >>"$CSV"
	printf '  %-16s %-8s %-10s %s\n' "$name" "$size" "$mode" \
		"$(tail -1 "$CSV" | awk -F, '{ printf "p50 %s us, p99 %s us, %s req/s, %s MB/s, machine CPU %s us/req, syscalls %s/req, errors %s (lost %s)", $8, $9, $10, $11, $13, $14, $15, $16 }')" >&2
}

# System calls of set-up, one request and tear-down (--count 0 --warmup 1),
# into SETUP_CALLS (not printed: the farm it starts must stay this shell's),
# for subtracting from a run of --warmup 1 and N requests: the library
# accepts the workers' connections at its first scatter, so a run with no
# request at all would leave connecting out of the set-up figure.
setup_calls() {
	local bin=$1 args=$2 fanout=$3 size=$4 f="$OUT/strace/$5-$3-$4-setup.txt"

	SETUP_CALLS=""
	[ "$HAVE_STRACE" = 1 ] || return 0
	ensure_farm "$fanout" "$size" || return 0
	# shellcheck disable=SC2086
	timeout 60 $IN_NS strace -c -f -o "$f" "$BENCH/$bin" --listen "$COORD_ADDR:$LISTEN_PORT" \
		--workers "$WORK_ADDR:$BASE_PORT-$((BASE_PORT + fanout - 1))" --reply-size "$size" \
		--inflight 1 --accept-ms 10000 --cpu "$COORD_CPU" --count 0 --warmup 1 $args \
		>/dev/null 2>&1 || return 0
	SETUP_CALLS=$(strace_total "$f")
}

# ---- main loop -------------------------------------------------------------------

echo "contender,fanout,reply_bytes,mode,requests,inflight,mean_us,p50_us,p99_us,rps,mb_s,coord_cpu_us_per_req,machine_cpu_us_per_req,syscalls_per_req,errors,lost,coord_cpu_ns_per_reply,busy_before_pct" >"$CSV"
echo "contender,fanout,reply_bytes,mode,status,busy_before_pct" >"$STATUS"
START=$(date +%s)
echo "run_tcp.sh: $PROFILE run, fan-outs: $FANOUTS, reply sizes: $SIZES; contenders on CPU $COORD_CPU, farm on CPU $FARM_CPU; output in $OUT" >&2
for fanout in $FANOUTS; do
	for size in $SIZES; do
		echo "fan-out $fanout, $size-byte replies:" >&2
		for c in "${CONTENDERS[@]}"; do
			IFS='|' read -r name bin args modes <<<"$c"
			selected "$name" || continue
			if [ ! -x "$BENCH/$bin" ]; then
				for mode in $modes; do echo "$name,$fanout,$size,$mode,not built," >>"$STATUS"; done
				continue
			fi
			setup_calls "$bin" "$args" "$fanout" "$size" "$name"
			for mode in $modes; do
				run_one "$name" "$bin" "$args" "$fanout" "$size" "$mode" "$SETUP_CALLS"
			done
		done
		stop_farm
	done
done
ELAPSED=$(($(date +%s) - START))
write_report
echo "run_tcp.sh: done in ${ELAPSED} s: $OUT/results.md" >&2

# A baseline with errors means the farm or the machine misbehaved; in the
# smoke run (CI) so does an sgbpf row with a wrong sum.
if awk -F, -v baselines="$BASELINES" -v smoke="$([ "$PROFILE" = smoke ] && echo 1)" '
	BEGIN { split(baselines, b, " "); for (i in b) base[b[i]] = 1 }
	FNR > 1 && (base[$1] || smoke) && $15 - $16 > 0 { bad = 1 } END { exit !bad }' "$CSV"; then
	echo "run_tcp.sh: a contender reported errors (see results.md)" >&2
	[ "$PROFILE" = smoke ] && exit 1
fi
if ! awk -F, -v baselines="$BASELINES" 'BEGIN { split(baselines, b, " "); for (i in b) base[b[i]] = 1 }
	FNR > 1 && base[$1] { found = 1 } END { exit !found }' "$CSV"; then
	echo "run_tcp.sh: no baseline completed" >&2
	exit 1
fi
exit 0
