#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# UDP scatter-gather benchmark runner.
#
# Two topologies, one after the other (docs/performance.md says which
# question each answers):
#   veth  coordinator-bound: the coordinator in a namespace of its own on one
#         end of a veth pair, its receive work in a threaded NAPI pinned to
#         the coordinator's CPU; the workers answered in the kernel by
#         `sgbpf worker --xdp` on the other end;
#   lo    one host: a user-space worker farm (`sgbpf worker`) on 127.0.0.1.
# For each fan-out it starts the workers, then runs every contender back to
# back on the coordinator's CPU: unloaded latency (1 request in flight) and
# throughput (16 in flight), plus a short run under `strace -c -f` to count
# system calls per request.  It writes results.csv, results.md (a table per
# fan-out with ratios to the best baseline and to the floor) and PNG charts
# into one directory per topology.
#
# Traffic goes only to 127.0.0.1 or into the namespaces the runner creates.
# Every contender run is bounded in count and time; the workers are stopped
# and the namespaces deleted on exit, whatever happens.
set -uo pipefail

usage() {
	cat <<'EOF'
usage: bench/run.sh [--quick | --smoke] [--fanouts "8 32 128 512"] [--out DIR]
                    [--topology "veth lo"]
       bench/run.sh --backend tcp [bench/run_tcp.sh's options]

  --quick          fewer requests (whole run under 5 minutes on 2 cores)
  --smoke          a few seconds: fan-out 8, tiny counts (for CI)
  --fanouts LIST   fan-outs to measure (default "8 32 128 512", at most 1024)
  --out DIR        output directory (default bench/results/<date>)
  --only LIST      run only these contenders (names as in the table)
  --backend B      udp (default) or tcp (the TCP contenders: bench/run_tcp.sh)
  --report-only    measure nothing: rewrite the tables and charts of --out DIR
                   from its CSV files (after an interrupted run)
  --topology LIST  veth (coordinator-bound: two namespaces, threaded NAPI on the
                   coordinator's CPU, in-kernel XDP workers), lo (one host:
                   user-space worker farm on lo), or both (default "veth lo")

Environment:
  SGBPF_BUILD_DIR       an existing build directory to use (default: configure
                        and build into build-bench next to this repository's sources)
  SGBPF_BENCH_FARM      worker farm command instead of "<build>/sgbpf worker"; it
                        gets --listen 127.0.0.1:P1-P2 --cpu N and must print
                        "worker: listening on N ports" on stderr when ready
  SGBPF_BENCH_CPU       CPU of the contenders (default 0)
  SGBPF_BENCH_FARM_CPU  CPU of the farm (default 1)
  SGBPF_BENCH_PORT      first farm port (default 9000)
  SGBPF_BENCH_VETH_QUEUES  queues of each veth end (default 1)
EOF
}

die() {
	echo "run.sh: $*" >&2
	exit 1
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# --backend tcp: the TCP contenders have a runner of their own (one
# topology, reply sizes as a second axis); hand it the other arguments.
ARGS=()
BACKEND=udp
while [ $# -gt 0 ]; do
	case "$1" in
	--backend) [ $# -ge 2 ] || die "--backend needs a value"; BACKEND=$2; shift ;;
	*) ARGS+=("$1") ;;
	esac
	shift
done
case "$BACKEND" in
udp) set -- ${ARGS[@]+"${ARGS[@]}"} ;;
tcp) exec "$ROOT/bench/run_tcp.sh" ${ARGS[@]+"${ARGS[@]}"} ;;
*) die "unknown backend '$BACKEND' (udp or tcp)" ;;
esac

PROFILE=full
FANOUTS="8 32 128 512"
OUT=""
ONLY=""
FANOUTS_SET=0
TOPOLOGIES="veth lo"
REPORT_ONLY=0

while [ $# -gt 0 ]; do
	case "$1" in
	--quick) PROFILE=quick ;;
	--smoke) PROFILE=smoke ;;
	--fanouts) [ $# -ge 2 ] || die "--fanouts needs a value"; FANOUTS=$2; FANOUTS_SET=1; shift ;;
	--out) [ $# -ge 2 ] || die "--out needs a value"; OUT=$2; shift ;;
	--only) [ $# -ge 2 ] || die "--only needs a value"; ONLY=$2; shift ;;
	--topology) [ $# -ge 2 ] || die "--topology needs a value"; TOPOLOGIES=$2; shift ;;
	--report-only) REPORT_ONLY=1 ;;
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

for t in $TOPOLOGIES; do
	case "$t" in veth | lo) ;; *) die "unknown topology '$t' (veth or lo)" ;; esac
done
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
mkdir -p "$OUT/logs" || die "cannot create $OUT"
OUT=$(cd "$OUT" && pwd)
TOP_OUT=$OUT

# ---- build ---------------------------------------------------------------

TARGETS="bench_udp_naive bench_udp_epoll bench_udp_io_uring bench_udp_sgbpf bench_udp_floor bench_gro bench_fold_scaling sgbpf_cli"
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

# name|binary|extra arguments|modes.  In the veth topology the runner adds
# the interface (@IF) and full-size requests (see veth_args).
CONTENDERS=(
	"naive|bench_udp_naive||latency throughput"
	"epoll|bench_udp_epoll||latency throughput"
	"io_uring|bench_udp_io_uring||latency throughput"
	"floor|bench_udp_floor|--ifname @IF|latency throughput"
	"sgbpf-ringbuf|bench_udp_sgbpf|--delivery ringbuf --ifname @IF|latency throughput"
	"sgbpf-paced|bench_udp_sgbpf|--delivery ringbuf --ifname @IF --reply-budget @BUDGET|latency throughput"
	"sgbpf-ctrl-fd|bench_udp_sgbpf|--delivery ctrl-fd --ifname @IF|latency throughput"
	"sgbpf-busy-wait|bench_udp_sgbpf|--delivery busy-wait --ifname @IF|latency throughput"
	"sgbpf-block|bench_udp_sgbpf|--delivery block --ifname @IF|latency"
	"sgbpf-allow|bench_udp_sgbpf|--delivery ringbuf --allow --ifname @IF|latency throughput"
	"sgbpf-count|bench_udp_sgbpf|--delivery ringbuf --reduce count --ifname @IF|latency throughput"
)
BASELINES="naive epoll io_uring"
FLOOR=floor

# ---- topologies ----------------------------------------------------------

# veth: the coordinator in namespace NS_C on VETH_C, the workers in NS_W on
# VETH_W, answered by `sgbpf worker --xdp`.  Both ends have GRO on (a NAPI
# context) and threaded NAPI, the coordinator's NAPI threads pinned to the
# coordinator's CPU, the workers' to the farm's: the coordinator pays its
# receive work itself, as behind a NIC.
NS_C="sgbpf-bench-c-$$"
NS_W="sgbpf-bench-w-$$"
VETH_C=sgbc0
VETH_W=sgbw0
VETH_QUEUES=${SGBPF_BENCH_VETH_QUEUES:-1}
VETH_NET=10.212.0
TOPO=""
NS_UP=0
PASS_PID=""

# veth_up, veth_down, pin_napi (they read the variables above).
# shellcheck source=bench/veth.sh
. "$ROOT/bench/veth.sh"

# Prefix of a command that runs where the coordinator lives (set per topology).
IN_COORD=""

# Arguments of one contender in the current topology.
topo_args() {
	local args=$1
	if [ "$TOPO" = veth ]; then
		# veth copies each received request into a buffer sized to it, so
		# the XDP worker can only answer a request as large as its reply:
		# 1472-byte datagrams for every contender.
		args="${args//@IF/$VETH_C} --body-len 1454"
		args="$args --timeout-ms $VETH_TIMEOUT_MS"
		# veth rings hold 256 frames, and the replies of the in-kernel
		# worker share one (the queue of the CPU that answered them).
		args="${args//@BUDGET/256}"
	else
		args="${args//@IF/lo}"
		# lo queues received packets in the per-CPU backlog.
		args="${args//@BUDGET/$(cat /proc/sys/net/core/netdev_max_backlog)}"
	fi
	echo "$args"
}

# Waits (10 s at most) for a line matching PATTERN in LOG while PID lives.
wait_line() {
	local log=$1 pattern=$2 pid=$3
	for _ in $(seq 100); do
		grep -q "$pattern" "$log" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# The baselines' receive path on veth: an XDP program that passes frames on.
start_pass() {
	[ "$TOPO" = veth ] || return 0
	ip netns exec "$NS_C" "$BENCH/bench_udp_floor" --pass-only "$VETH_C" 2>"$OUT/logs/pass.log" &
	PASS_PID=$!
	wait_line "$OUT/logs/pass.log" "^floor: passing" "$PASS_PID" && return 0
	echo "run.sh: the pass program did not attach:" >&2
	cat "$OUT/logs/pass.log" >&2
	return 1
}

stop_pass() {
	[ -n "$PASS_PID" ] || return 0
	kill "$PASS_PID" 2>/dev/null
	wait "$PASS_PID" 2>/dev/null
	PASS_PID=""
}

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
trap 'stop_pass; stop_farm; veth_down' EXIT
trap 'exit 130' INT TERM

start_farm() {
	local fanout=$1 last=$((BASE_PORT + $1 - 1)) log="$OUT/logs/farm-$1.log"
	local cmd=${SGBPF_BENCH_FARM:-"$BUILD/sgbpf worker"}

	if [ "$TOPO" = veth ]; then
		# In the kernel: its cost lands on the workers' NAPI thread (CPU
		# $FARM_CPU); the process only holds the attachment.
		ip netns exec "$NS_W" "$BUILD/sgbpf" worker --xdp --dev "$VETH_W" \
			--listen "$VETH_NET.2:$BASE_PORT-$last" 2>"$log" >/dev/null &
		FARM_PID=$!
		wait_line "$log" "^worker: listening on $fanout ports" "$FARM_PID" && return 0
		echo "run.sh: the XDP worker did not come up for fan-out $fanout:" >&2
		cat "$log" >&2
		stop_farm
		return 1
	fi

	# The previous farm's sockets may take a moment to be released: retry a
	# start that failed on a port still in use.
	for _ in $(seq 20); do
		# shellcheck disable=SC2086 # the farm command may carry its own arguments
		$cmd --listen "127.0.0.1:$BASE_PORT-$last" --cpu "$FARM_CPU" 2>"$log" >/dev/null &
		FARM_PID=$!
		wait_line "$log" "^worker: listening on $fanout ports" "$FARM_PID" && return 0
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

# Per-request timeout on veth: a request whose reply the receive ring dropped
# is counted as lost after this long instead of holding its slot for a second.
VETH_TIMEOUT_MS=${SGBPF_BENCH_VETH_TIMEOUT_MS:-100}

# Starts the output of one topology: $TOP_OUT/<topology>/.
topology_begin() {
	OUT="$TOP_OUT/$TOPO"
	mkdir -p "$OUT/logs" "$OUT/strace" "$OUT/plot" || die "cannot create $OUT"
	CSV="$OUT/results.csv"
	STATUS="$OUT/status.csv"
	echo "contender,fanout,mode,requests,inflight,mean_us,p50_us,p99_us,rps,coord_cpu_us_per_req,machine_cpu_us_per_req,syscalls_per_req,errors,lost,coord_cpu_ns_per_reply" >"$CSV"
	echo "contender,fanout,mode,status,busy_before_pct" >"$STATUS"
	if [ "$TOPO" = veth ]; then
		WADDR="$VETH_NET.2"
		IN_COORD="ip netns exec $NS_C"
	else
		WADDR=127.0.0.1
		IN_COORD=""
	fi
}

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
	local workers="$WADDR:$BASE_PORT-$((BASE_PORT + fanout - 1))"

	if [ "$mode" = latency ]; then count=$LAT_COUNT; inflight=1; else count=$TPUT_COUNT; inflight=$INFLIGHT; fi
	# shellcheck disable=SC2086 # args is a list of options
	set -- --workers "$workers" --inflight "$inflight" --cpu "$COORD_CPU" \
		--label "$name" --mode "$mode" --max-seconds "$MAX_SECONDS" $args

	timeout $((MAX_SECONDS + 30)) $IN_COORD "$BENCH/$bin" "$@" --count "$count" --warmup "$WARMUP" \
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
		timeout $((MAX_SECONDS + 30)) $IN_COORD strace -c -f -o "$OUT/strace/$tag.txt" \
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
		"$(echo "$row" | awk -F, '{ printf "p50 %s us, p99 %s us, %s req/s, machine CPU %s us/req, coordinator %s ns/reply, errors %s (lost %s)", $7, $8, $9, $11, $15, $13, $14 }')" >&2
}

# System calls of setting up and tearing down, with no request at all.
setup_calls() {
	local name=$1 bin=$2 args=$3 fanout=$4 f="$OUT/strace/$1-$4-setup.txt"

	[ "$HAVE_STRACE" = 1 ] || return 0
	# shellcheck disable=SC2086
	timeout 60 $IN_COORD strace -c -f -o "$f" "$BENCH/$bin" --workers "$WADDR:$BASE_PORT-$((BASE_PORT + fanout - 1))" \
		--cpu "$COORD_CPU" --count 0 --warmup 0 $args >/dev/null 2>&1 || return 0
	strace_total "$f"
}

# ---- main loop -------------------------------------------------------------

run_topology() {
START=$(date +%s)
echo "run.sh: $TOPO topology, $PROFILE run, fan-outs: $FANOUTS; contenders on CPU $COORD_CPU, farm on CPU $FARM_CPU; output in $OUT" >&2
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
		args=$(topo_args "$args" "$bin")
		pass=0
		case " $BASELINES " in *" $name "*) pass=1 ;; esac
		if [ "$pass" = 1 ] && ! start_pass; then
			for mode in $modes; do echo "$name,$fanout,$mode,no receive path," >>"$STATUS"; done
			continue
		fi
		sc=$(setup_calls "$name" "$bin" "$args" "$fanout")
		for mode in $modes; do
			busy=$(wait_quiet)
			[ "$busy" -le "$QUIET_PCT" ] ||
				echo "  (machine still ${busy}% busy with something else)" >&2
			run_one "$name" "$bin" "$args" "$fanout" "$mode" "$sc" "$busy"
		done
		stop_pass
	done
	stop_farm
done
ELAPSED=$(($(date +%s) - START))
write_report
echo "run.sh: $TOPO done in ${ELAPSED} s: $OUT/results.md" >&2
}

# results.md and the charts of one topology from $CSV and $STATUS.
write_report() {

# ---- reports ---------------------------------------------------------------

CMDLINE="bench/run.sh"
[ "$PROFILE" = full ] || CMDLINE="$CMDLINE --$PROFILE"
CMDLINE="$CMDLINE --fanouts \"$FANOUTS\""
[ -z "$ONLY" ] || CMDLINE="$CMDLINE --only \"$ONLY\""
CMDLINE="$CMDLINE --topology $TOPO"
{
	echo "# UDP scatter-gather benchmark"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'), $PROFILE profile, ${ELAPSED} s"
	echo "- command: \`$CMDLINE\`"
	echo "- machine: $(nproc) CPUs ($(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)), kernel $(uname -r)"
	echo "- commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
	if [ "$TOPO" = veth ]; then
		echo "- topology veth (coordinator-bound): coordinator in a namespace on $VETH_C ($VETH_QUEUES queue(s), GRO on, threaded NAPI pinned to CPU $COORD_CPU), workers answered in the kernel by \`sgbpf worker --xdp\` on the peer (NAPI on CPU $FARM_CPU); 1472-byte requests; per-request timeout $VETH_TIMEOUT_MS ms; baselines receive through an XDP program that passes every frame; floor = XDP counts and drops the replies"
	else
		echo "- topology lo (one host): user-space worker farm on 127.0.0.1; replies received in softirq on the farm's CPU"
	fi
	echo "- contenders on CPU $COORD_CPU, worker farm on CPU $FARM_CPU; latency: $LAT_COUNT requests, 1 in flight;" \
		"throughput: $TPUT_COUNT requests, $INFLIGHT in flight; $WARMUP warm-up requests; syscalls from $STRACE_COUNT requests under strace"
	echo "- before each run the machine was sampled for other activity (\"busy %\" column; the runner takes up to $QUIET_TRIES samples of 0.5 s waiting for it to fall to ${QUIET_PCT}%)"
	echo
	echo "Ratios compare each row with the best baseline ($BASELINES) of the same fan-out and mode:"
	echo "p50 and CPU below 1 and req/s above 1 are better.  CPU is microseconds per request:"
	echo "\"own\" is the coordinator process (getrusage), \"machine\" all CPUs (/proc/stat, softirq included);"
	echo "coordinator CPU per reply is the busy time of CPU $COORD_CPU over the replies received; \"lost\" counts requests that timed out."
	echo
	awk -F, -v baselines="$BASELINES" -v fanouts="$FANOUTS" -v floor="$FLOOR" '
	function fmt(v) { return v == "" ? "–" : v }
	function ratio(a, b) { return (a == "" || b == "" || b + 0 == 0) ? "–" : sprintf("%.2f", a / b) }
	BEGIN { nb = split(baselines, bl, " "); for (i = 1; i <= nb; i++) isbase[bl[i]] = 1 }
	FNR == 1 { next }
	FILENAME ~ /results.csv$/ {
		k = $1 SUBSEP $2 SUBSEP $3
		row[k] = $0
		if (isbase[$1] && $13 - $14 == 0 && $9 > 0) {
			b = $2 SUBSEP $3
			if (!(b in bp50) || $7 < bp50[b]) bp50[b] = $7
			if (!(b in brps) || $9 > brps[b]) brps[b] = $9
			if (!(b in bcpu) || $11 < bcpu[b]) bcpu[b] = $11
		}
		if ($1 == floor) fl[$2 SUBSEP $3] = $15
		next
	}
	{ order[++n] = $0 }
	END {
		nf = split(fanouts, fo, " ")
		for (f = 1; f <= nf; f++) {
			printf "## Fan-out %s\n\n", fo[f]
			print "| contender | mode | p50 µs | p99 µs | mean µs | req/s | CPU own µs/req | CPU machine µs/req | coordinator CPU ns/reply | syscalls/req | errors | lost | p50 ÷ best | req/s ÷ best | machine CPU ÷ best | ns/reply ÷ floor | busy % |"
			print "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
			for (i = 1; i <= n; i++) {
				split(order[i], s, ",")
				if (s[2] != fo[f]) continue
				k = s[1] SUBSEP s[2] SUBSEP s[3]; b = s[2] SUBSEP s[3]
				if (s[4] != "ok" || !(k in row)) {
					printf "| %s | %s | %s | | | | | | | | | | | | | | %s |\n", s[1], s[3], s[4], s[5]
					continue
				}
				split(row[k], r, ",")
				printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
					r[1], r[3], r[7], r[8], r[6], r[9], r[10], r[11], fmt(r[15]), fmt(r[12]), r[13],
					fmt(r[14]), ratio(r[7], bp50[b]), ratio(r[9], brps[b]), ratio(r[11], bcpu[b]),
					ratio(r[15], fl[b]), s[5]
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

}

TOTAL_START=$(date +%s)
for TOPO in $TOPOLOGIES; do
	if [ "$REPORT_ONLY" = 1 ]; then
		OUT="$TOP_OUT/$TOPO" CSV="$TOP_OUT/$TOPO/results.csv" STATUS="$TOP_OUT/$TOPO/status.csv"
		[ -f "$CSV" ] || continue
		ELAPSED="(interrupted run)"
		write_report
		continue
	fi
	if [ "$TOPO" = veth ]; then
		[ -x "$BENCH/bench_gro" ] && [ -x "$BUILD/sgbpf" ] || { echo "run.sh: veth topology needs bench_gro and sgbpf" >&2; continue; }
		if ! veth_up; then
			echo "run.sh: cannot set up the veth topology (root needed)" >&2
			veth_down
			continue
		fi
	fi
	topology_begin
	run_topology
	veth_down
done
# Does the reduction scale with CPUs: the gather programs driven from one
# thread per CPU, per-CPU partials against the single-lock variant.
SCALING_REQ=1024
[ "$PROFILE" = smoke ] && SCALING_REQ=16
[ "$PROFILE" = quick ] && SCALING_REQ=256
if [ "$REPORT_ONLY" = 0 ] && [ -x "$BENCH/bench_fold_scaling" ]; then
	"$BENCH/bench_fold_scaling" --workers 512 --requests "$SCALING_REQ" >"$TOP_OUT/scaling.md" \
		2>"$TOP_OUT/logs/scaling.log" ||
		echo "run.sh: bench_fold_scaling failed, see $TOP_OUT/logs/scaling.log" >&2
fi
TOTAL=$(($(date +%s) - TOTAL_START))
{
	echo "# UDP scatter-gather benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), ${TOTAL} s in all"
	echo
	for TOPO in $TOPOLOGIES; do
		[ -f "$TOP_OUT/$TOPO/results.md" ] || continue
		echo "# Topology: $TOPO"
		echo
		sed 's/^# /## /; s/^## Fan-out/### Fan-out/' "$TOP_OUT/$TOPO/results.md"
		echo
	done
	if [ -s "$TOP_OUT/scaling.md" ]; then
		echo "# Reduction across CPUs (BPF_PROG_TEST_RUN, bench_fold_scaling)"
		echo
		sed 's/^# /## /' "$TOP_OUT/scaling.md"
	fi
} >"$TOP_OUT/results.md"
echo "run.sh: done in ${TOTAL} s: $TOP_OUT/results.md" >&2

# A baseline that counted errors other than lost requests means the farm or
# the machine misbehaved.
if awk -F, -v baselines="$BASELINES" 'BEGIN { split(baselines, b, " "); for (i in b) base[b[i]] = 1 }
	FNR > 1 && base[$1] && $13 - $14 > 0 { bad = 1 } END { exit !bad }' "$TOP_OUT"/*/results.csv; then
	echo "run.sh: a baseline reported errors (see results.md)" >&2
	[ "$PROFILE" = smoke ] && exit 1
fi
# Exit non-zero when no baseline produced a row: the run measured nothing.
if ! awk -F, -v baselines="$BASELINES" 'BEGIN { split(baselines, b, " "); for (i in b) base[b[i]] = 1 }
	FNR > 1 && base[$1] { found = 1 } END { exit !found }' "$TOP_OUT"/*/results.csv; then
	echo "run.sh: no baseline completed" >&2
	exit 1
fi
exit 0
