#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# UDP scatter-gather benchmark runner.
#
# For each fan-out it starts one worker farm (`sgbpf worker`, many ports in
# one process, pinned to one CPU), then runs every contender back to back on
# another CPU: unloaded latency (1 request in flight) and throughput (16 in
# flight), plus a short run under `strace -c -f` to count system calls per
# request.  It writes results.csv, results.md (a table per fan-out with
# ratios to the best baseline) and PNG charts into the output directory.
#
# Traffic goes only to 127.0.0.1.  Every contender run is bounded in count
# and time; the farm is stopped on exit, whatever happens.
set -uo pipefail

usage() {
	cat <<'EOF'
usage: bench/run.sh [--quick | --smoke] [--fanouts "8 32 128 512"] [--out DIR]

  --quick          fewer requests (whole run under 5 minutes on 2 cores)
  --smoke          a few seconds: fan-out 8, tiny counts (for CI)
  --fanouts LIST   fan-outs to measure (default "8 32 128 512", at most 1024)
  --out DIR        output directory (default bench/results/<date>)
  --only LIST      run only these contenders (names as in the table)

Environment:
  SGBPF_BUILD_DIR       an existing build directory to use (default: configure
                        and build into build-bench next to this repository's sources)
  SGBPF_BENCH_FARM      worker farm command instead of "<build>/sgbpf worker"; it
                        gets --listen 127.0.0.1:P1-P2 --cpu N and must print
                        "worker: listening on N ports" on stderr when ready
  SGBPF_BENCH_CPU       CPU of the contenders (default 0)
  SGBPF_BENCH_FARM_CPU  CPU of the farm (default 1)
  SGBPF_BENCH_PORT      first farm port (default 9000)
EOF
}

die() {
	echo "run.sh: $*" >&2
	exit 1
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROFILE=full
FANOUTS="8 32 128 512"
OUT=""
ONLY=""
FANOUTS_SET=0

while [ $# -gt 0 ]; do
	case "$1" in
	--quick) PROFILE=quick ;;
	--smoke) PROFILE=smoke ;;
	--fanouts) [ $# -ge 2 ] || die "--fanouts needs a value"; FANOUTS=$2; FANOUTS_SET=1; shift ;;
	--out) [ $# -ge 2 ] || die "--out needs a value"; OUT=$2; shift ;;
	--only) [ $# -ge 2 ] || die "--only needs a value"; ONLY=$2; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done

# Requests per run.  Latency: 1 in flight; throughput: 16 in flight.
INFLIGHT=16
# Before each contender, wait (QUIET_TRIES half-second samples at most) for
# the machine's busy share to fall to QUIET_PCT: a shared machine is noisy.
QUIET_PCT=${SGBPF_BENCH_QUIET_PCT:-10}
case "$PROFILE" in
full) LAT_COUNT=5000; TPUT_COUNT=8000; WARMUP=200; STRACE_COUNT=200; MAX_SECONDS=600; QUIET_TRIES=60 ;;
quick) LAT_COUNT=1000; TPUT_COUNT=2000; WARMUP=100; STRACE_COUNT=50; MAX_SECONDS=60; QUIET_TRIES=2 ;;
smoke) LAT_COUNT=100; TPUT_COUNT=200; WARMUP=10; STRACE_COUNT=20; MAX_SECONDS=20; QUIET_TRIES=1
	[ "$FANOUTS_SET" = 1 ] || FANOUTS=8 ;;
esac

for f in $FANOUTS; do
	case "$f" in '' | *[!0-9]*) die "bad fan-out '$f'" ;; esac
	if [ "$f" -lt 1 ] || [ "$f" -gt 1024 ]; then die "fan-out $f out of range 1..1024"; fi
done

NCPU=$(nproc)
COORD_CPU=${SGBPF_BENCH_CPU:-0}
FARM_CPU=${SGBPF_BENCH_FARM_CPU:-1}
[ "$NCPU" -gt 1 ] || FARM_CPU=0
BASE_PORT=${SGBPF_BENCH_PORT:-9000}
[ -n "$OUT" ] || OUT="$ROOT/bench/results/$(date +%Y-%m-%d-%H%M%S)"
mkdir -p "$OUT/logs" "$OUT/strace" "$OUT/plot" || die "cannot create $OUT"
OUT=$(cd "$OUT" && pwd)

# ---- build ---------------------------------------------------------------

TARGETS="bench_udp_naive bench_udp_epoll bench_udp_io_uring bench_udp_sgbpf sgbpf_cli"
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
# Build each target on its own so that one broken target (say, the library
# while it is being written) does not keep the baselines from running.
for t in $TARGETS; do
	cmake --build "$BUILD" --target "$t" >>"$OUT/logs/build.log" 2>&1 ||
		echo "run.sh: building $t failed (see $OUT/logs/build.log)" >&2
done
BENCH="$BUILD/bench"

# ---- contenders ------------------------------------------------------------

# name|binary|extra arguments|modes
CONTENDERS=(
	"naive|bench_udp_naive||latency throughput"
	"epoll|bench_udp_epoll||latency throughput"
	"io_uring|bench_udp_io_uring||latency throughput"
	"sgbpf-ringbuf|bench_udp_sgbpf|--delivery ringbuf|latency throughput"
	"sgbpf-ctrl-fd|bench_udp_sgbpf|--delivery ctrl-fd|latency throughput"
	"sgbpf-busy-wait|bench_udp_sgbpf|--delivery busy-wait|latency throughput"
	"sgbpf-block|bench_udp_sgbpf|--delivery block|latency"
	"sgbpf-allow|bench_udp_sgbpf|--delivery ringbuf --allow|latency throughput"
	"sgbpf-count|bench_udp_sgbpf|--delivery ringbuf --reduce count|latency throughput"
)
BASELINES="naive epoll io_uring"

selected() {
	[ -z "$ONLY" ] && return 0
	case " $ONLY " in *" $1 "*) return 0 ;; esac
	return 1
}

# ---- the farm --------------------------------------------------------------

FARM_PID=""

stop_farm() {
	if [ -n "$FARM_PID" ]; then
		kill "$FARM_PID" 2>/dev/null
		for _ in $(seq 50); do
			kill -0 "$FARM_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$FARM_PID" 2>/dev/null
		wait "$FARM_PID" 2>/dev/null
		FARM_PID=""
	fi
}
trap stop_farm EXIT
trap 'exit 130' INT TERM

start_farm() {
	local fanout=$1 last=$((BASE_PORT + $1 - 1)) log="$OUT/logs/farm-$1.log"
	local cmd=${SGBPF_BENCH_FARM:-"$BUILD/sgbpf worker"}

	# The previous farm's sockets may take a moment to be released: retry a
	# start that failed on a port still in use.
	for _ in $(seq 20); do
		# shellcheck disable=SC2086 # the farm command may carry its own arguments
		$cmd --listen "127.0.0.1:$BASE_PORT-$last" --cpu "$FARM_CPU" 2>"$log" >/dev/null &
		FARM_PID=$!
		for _ in $(seq 100); do
			grep -q "^worker: listening on $fanout ports" "$log" 2>/dev/null && return 0
			kill -0 "$FARM_PID" 2>/dev/null || break
			sleep 0.1
		done
		grep -q "Address already in use" "$log" 2>/dev/null || break
		wait "$FARM_PID" 2>/dev/null
		FARM_PID=""
		sleep 0.5
	done
	echo "run.sh: the worker farm did not come up for fan-out $fanout:" >&2
	cat "$log" >&2
	stop_farm
	return 1
}

# Busy share (%) of the whole machine over half a second with only the idle
# farm running: anything else on the machine shows up here, and in every
# machine-wide CPU figure measured after it.
background_busy() {
	local a b
	a=$(awk '/^cpu /{print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8+$9; exit}' /proc/stat)
	sleep 0.5
	b=$(awk '/^cpu /{print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8+$9; exit}' /proc/stat)
	echo "$a $b" | awk '{ t = $4 - $2; printf "%.0f", (t > 0 ? 100 * ($3 - $1) / t : 0) }'
}

# Waits (boundedly) for the machine to be quiet before a measurement and
# prints the busy share it settled at.
wait_quiet() {
	local bg _
	for _ in $(seq "$QUIET_TRIES"); do
		bg=$(background_busy)
		[ "$bg" -le "$QUIET_PCT" ] && break
	done
	echo "$bg"
}

# ---- one contender ---------------------------------------------------------

HAVE_STRACE=1
command -v strace >/dev/null 2>&1 || HAVE_STRACE=0
[ "$HAVE_STRACE" = 1 ] || echo "run.sh: strace not found: syscalls per request left empty" >&2

CSV="$OUT/results.csv"
STATUS="$OUT/status.csv"
echo "contender,fanout,mode,requests,inflight,mean_us,p50_us,p99_us,rps,coord_cpu_us_per_req,machine_cpu_us_per_req,syscalls_per_req,errors" >"$CSV"
echo "contender,fanout,mode,status,busy_before_pct" >"$STATUS"

describe_rc() {
	case "$1" in
	0) echo ok ;;
	77) echo unavailable ;;
	124) echo "timed out" ;;
	*) echo "failed (exit $1)" ;;
	esac
}

# Total system calls in an strace -c summary; empty when there is none.
strace_total() {
	awk '$NF == "total" { print $4 }' "$1" 2>/dev/null
}

# run_one NAME BIN "ARGS" FANOUT MODE SETUP_CALLS BUSY -> appends to CSV and STATUS
run_one() {
	local name=$1 bin=$2 args=$3 fanout=$4 mode=$5 setup_calls=$6 busy=$7
	local count inflight row rc sc="" tag="$1-$4-$5" calls
	local workers="127.0.0.1:$BASE_PORT-$((BASE_PORT + fanout - 1))"

	if [ "$mode" = latency ]; then count=$LAT_COUNT; inflight=1; else count=$TPUT_COUNT; inflight=$INFLIGHT; fi
	# shellcheck disable=SC2086 # args is a list of options
	set -- --workers "$workers" --inflight "$inflight" --cpu "$COORD_CPU" \
		--label "$name" --mode "$mode" --max-seconds "$MAX_SECONDS" $args

	timeout $((MAX_SECONDS + 30)) "$BENCH/$bin" "$@" --count "$count" --warmup "$WARMUP" \
		--csv >"$OUT/logs/$tag.csv" 2>"$OUT/logs/$tag.log"
	rc=$?
	row=$(grep -m1 "^$name,$fanout," "$OUT/logs/$tag.csv")
	if [ "$rc" = 0 ] && [ -z "$row" ]; then rc=1; fi
	echo "$name,$fanout,$mode,$(describe_rc "$rc"),$busy" >>"$STATUS"
	if [ "$rc" != 0 ]; then
		printf '  %-16s %-10s %s\n' "$name" "$mode" "$(describe_rc "$rc")" >&2
		return 0
	fi

	if [ "$HAVE_STRACE" = 1 ] && [ -n "$setup_calls" ]; then
		timeout $((MAX_SECONDS + 30)) strace -c -f -o "$OUT/strace/$tag.txt" \
			"$BENCH/$bin" "$@" --count "$STRACE_COUNT" --warmup 0 \
			>/dev/null 2>"$OUT/logs/$tag.strace.log"
		calls=$(strace_total "$OUT/strace/$tag.txt")
		if [ -n "$calls" ]; then
			sc=$(awk -v a="$calls" -v b="$setup_calls" -v n="$STRACE_COUNT" \
				'BEGIN { printf "%.2f", (a - b) / n }')
		fi
	fi
	echo "$row" | awk -F, -v OFS=, -v sc="$sc" '{ $12 = sc; print }' >>"$CSV"
	printf '  %-16s %-10s %s\n' "$name" "$mode" \
		"$(echo "$row" | awk -F, '{ printf "p50 %s us, p99 %s us, %s req/s, machine CPU %s us/req, errors %s", $7, $8, $9, $11, $13 }')" >&2
}

# System calls of setting up and tearing down, with no request at all.
setup_calls() {
	local name=$1 bin=$2 args=$3 fanout=$4 f="$OUT/strace/$1-$4-setup.txt"

	[ "$HAVE_STRACE" = 1 ] || return 0
	# shellcheck disable=SC2086
	timeout 60 strace -c -f -o "$f" "$BENCH/$bin" --workers "127.0.0.1:$BASE_PORT-$((BASE_PORT + fanout - 1))" \
		--cpu "$COORD_CPU" --count 0 --warmup 0 $args >/dev/null 2>&1 || return 0
	strace_total "$f"
}

# ---- main loop -------------------------------------------------------------

START=$(date +%s)
echo "run.sh: $PROFILE run, fan-outs: $FANOUTS; contenders on CPU $COORD_CPU, farm on CPU $FARM_CPU; output in $OUT" >&2
for fanout in $FANOUTS; do
	echo "fan-out $fanout:" >&2
	if ! start_farm "$fanout"; then
		for c in "${CONTENDERS[@]}"; do
			IFS='|' read -r name bin args modes <<<"$c"
			selected "$name" || continue
			for mode in $modes; do echo "$name,$fanout,$mode,no worker farm," >>"$STATUS"; done
		done
		continue
	fi
	for c in "${CONTENDERS[@]}"; do
		IFS='|' read -r name bin args modes <<<"$c"
		selected "$name" || continue
		if [ ! -x "$BENCH/$bin" ]; then
			for mode in $modes; do echo "$name,$fanout,$mode,not built," >>"$STATUS"; done
			printf '  %-16s not built\n' "$name" >&2
			continue
		fi
		sc=$(setup_calls "$name" "$bin" "$args" "$fanout")
		for mode in $modes; do
			busy=$(wait_quiet)
			[ "$busy" -le "$QUIET_PCT" ] ||
				echo "  (machine still ${busy}% busy with something else)" >&2
			run_one "$name" "$bin" "$args" "$fanout" "$mode" "$sc" "$busy"
		done
	done
	stop_farm
done
ELAPSED=$(($(date +%s) - START))

# ---- reports ---------------------------------------------------------------

CMDLINE="bench/run.sh"
[ "$PROFILE" = full ] || CMDLINE="$CMDLINE --$PROFILE"
CMDLINE="$CMDLINE --fanouts \"$FANOUTS\""
[ -z "$ONLY" ] || CMDLINE="$CMDLINE --only \"$ONLY\""
{
	echo "# UDP scatter-gather benchmark"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'), $PROFILE profile, ${ELAPSED} s"
	echo "- command: \`$CMDLINE\`"
	echo "- machine: $(nproc) CPUs ($(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)), kernel $(uname -r)"
	echo "- commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
	echo "- contenders on CPU $COORD_CPU, one worker farm on CPU $FARM_CPU; latency: $LAT_COUNT requests, 1 in flight;" \
		"throughput: $TPUT_COUNT requests, $INFLIGHT in flight; $WARMUP warm-up requests; syscalls from $STRACE_COUNT requests under strace"
	echo "- before each run the machine was sampled for other activity (\"busy %\" column; the runner takes up to $QUIET_TRIES samples of 0.5 s waiting for it to fall to ${QUIET_PCT}%)"
	echo
	echo "Ratios compare each row with the best baseline ($BASELINES) of the same fan-out and mode:"
	echo "p50 and CPU below 1 and req/s above 1 are better.  CPU is microseconds per request:"
	echo "\"own\" is the coordinator process (getrusage), \"machine\" all CPUs (/proc/stat, softirq included)."
	echo
	awk -F, -v baselines="$BASELINES" -v fanouts="$FANOUTS" '
	function fmt(v) { return v == "" ? "–" : v }
	function ratio(a, b) { return (a == "" || b == "" || b + 0 == 0) ? "–" : sprintf("%.2f", a / b) }
	BEGIN { nb = split(baselines, bl, " "); for (i = 1; i <= nb; i++) isbase[bl[i]] = 1 }
	FNR == 1 { next }
	FILENAME ~ /results.csv$/ {
		k = $1 SUBSEP $2 SUBSEP $3
		row[k] = $0
		if (isbase[$1] && $13 == 0) {
			b = $2 SUBSEP $3
			if (!(b in bp50) || $7 < bp50[b]) bp50[b] = $7
			if (!(b in brps) || $9 > brps[b]) brps[b] = $9
			if (!(b in bcpu) || $11 < bcpu[b]) bcpu[b] = $11
		}
		next
	}
	{ order[++n] = $0 }
	END {
		nf = split(fanouts, fo, " ")
		for (f = 1; f <= nf; f++) {
			printf "## Fan-out %s\n\n", fo[f]
			print "| contender | mode | p50 µs | p99 µs | mean µs | req/s | CPU own µs/req | CPU machine µs/req | syscalls/req | errors | p50 ÷ best | req/s ÷ best | machine CPU ÷ best | busy % |"
			print "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
			for (i = 1; i <= n; i++) {
				split(order[i], s, ",")
				if (s[2] != fo[f]) continue
				k = s[1] SUBSEP s[2] SUBSEP s[3]; b = s[2] SUBSEP s[3]
				if (s[4] != "ok" || !(k in row)) {
					printf "| %s | %s | %s | | | | | | | | | | | %s |\n", s[1], s[3], s[4], s[5]
					continue
				}
				split(row[k], r, ",")
				printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
					r[1], r[3], r[7], r[8], r[6], r[9], r[10], r[11], fmt(r[12]), r[13],
					ratio(r[7], bp50[b]), ratio(r[9], brps[b]), ratio(r[11], bcpu[b]), s[5]
			}
			print ""
		}
	}' "$CSV" "$STATUS"
} >"$OUT/results.md"

# Per-contender series for gnuplot: fanout, latency p50, p99, throughput
# req/s, machine CPU per request under load, machine CPU unloaded.
NAMES=""
for c in "${CONTENDERS[@]}"; do
	IFS='|' read -r name _ <<<"$c"
	selected "$name" || continue
	awk -F, -v name="$name" '
	FNR > 1 && $1 == name {
		f[$2] = 1
		if ($3 == "latency") { p50[$2] = $7; p99[$2] = $8; lcpu[$2] = $11 }
		else { rps[$2] = $9; tcpu[$2] = $11 }
	}
	function v(a, k) { return (k in a) ? a[k] : "NaN" }
	END {
		for (k in f) printf "%s %s %s %s %s %s\n", k, v(p50, k), v(p99, k), v(rps, k), v(tcpu, k), v(lcpu, k)
	}' "$CSV" | sort -n >"$OUT/plot/$name.dat"
	[ -s "$OUT/plot/$name.dat" ] && NAMES="$NAMES $name"
done
if command -v gnuplot >/dev/null 2>&1 && [ -n "$NAMES" ]; then
	gnuplot -e "datadir='$OUT/plot'; outdir='$OUT'; names='${NAMES# }'" "$ROOT/bench/plot.gp" \
		>"$OUT/logs/gnuplot.log" 2>&1 || echo "run.sh: gnuplot failed, see $OUT/logs/gnuplot.log" >&2
else
	echo "run.sh: no charts (gnuplot missing or nothing measured)" >&2
fi

echo "run.sh: done in ${ELAPSED} s: $OUT/results.md" >&2
# A baseline that counted errors means the farm or the machine misbehaved.
if awk -F, -v baselines="$BASELINES" 'BEGIN { split(baselines, b, " "); for (i in b) base[b[i]] = 1 }
	FNR > 1 && base[$1] && $13 > 0 { bad = 1 } END { exit !bad }' "$CSV"; then
	echo "run.sh: a baseline reported errors (see results.md)" >&2
	[ "$PROFILE" = smoke ] && exit 1
fi
# Exit non-zero when no baseline produced a row: the run measured nothing.
if ! awk -F, -v baselines="$BASELINES" 'BEGIN { split(baselines, b, " "); for (i in b) base[b[i]] = 1 }
	FNR > 1 && base[$1] { found = 1 } END { exit !found }' "$CSV"; then
	echo "run.sh: no baseline completed" >&2
	exit 1
fi
exit 0
