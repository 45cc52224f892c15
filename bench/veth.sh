# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The coordinator-bound veth pair of bench/run.sh and bench/run_tcp.sh,
# sourced by both.  The caller sets NS_C, NS_W (namespaces), VETH_C, VETH_W
# (the coordinator's and the workers' ends), VETH_NET (a /24 prefix: .1 is
# the coordinator, .2 the workers), VETH_QUEUES, COORD_CPU, FARM_CPU, BENCH
# (where bench_gro is) and NS_UP=0.  Both ends get GRO (a NAPI context) and
# threaded NAPI, the coordinator's NAPI threads pinned to the coordinator's
# CPU, the workers' to the farm's: the coordinator pays its receive work
# itself, as behind a NIC.

veth_down() {
	[ "$NS_UP" = 1 ] || return 0
	ip netns del "$NS_C" 2>/dev/null
	ip netns del "$NS_W" 2>/dev/null
	NS_UP=0
}

# Pins every napi/DEV-* kernel thread to a CPU.
pin_napi() {
	local dev=$1 cpu=$2 pid found=0
	for pid in $(ps -eo pid=,comm= | awk -v d="napi/$dev-" 'index($2, d) == 1 { print $1 }'); do
		taskset -p -c "$cpu" "$pid" >/dev/null 2>&1 && found=1
	done
	[ "$found" = 1 ] || echo "bench: no napi/$dev-* thread to pin" >&2
}

veth_up() {
	local q=$VETH_QUEUES
	ip netns add "$NS_C" && ip netns add "$NS_W" || return 1
	NS_UP=1
	ip link add "$VETH_C" netns "$NS_C" numtxqueues "$q" numrxqueues "$q" type veth \
		peer name "$VETH_W" netns "$NS_W" numtxqueues "$q" numrxqueues "$q" || return 1
	ip -n "$NS_C" addr add "$VETH_NET.1/24" dev "$VETH_C" &&
		ip -n "$NS_W" addr add "$VETH_NET.2/24" dev "$VETH_W" &&
		ip -n "$NS_C" link set lo up && ip -n "$NS_W" link set lo up &&
		ip -n "$NS_C" link set "$VETH_C" up && ip -n "$NS_W" link set "$VETH_W" up || return 1
	ip netns exec "$NS_C" "$BENCH/bench_gro" "$VETH_C" on &&
		ip netns exec "$NS_W" "$BENCH/bench_gro" "$VETH_W" on || return 1
	ip netns exec "$NS_C" sh -c "echo 1 > /sys/class/net/$VETH_C/threaded" &&
		ip netns exec "$NS_W" sh -c "echo 1 > /sys/class/net/$VETH_W/threaded" || return 1
	pin_napi "$VETH_C" "$COORD_CPU"
	pin_napi "$VETH_W" "$FARM_CPU"
	# Static neighbours: no ARP in the measurements.
	local mac_c mac_w
	mac_c=$(ip -n "$NS_C" -o link show "$VETH_C" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
	mac_w=$(ip -n "$NS_W" -o link show "$VETH_W" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
	ip -n "$NS_C" neigh replace "$VETH_NET.2" lladdr "$mac_w" dev "$VETH_C" nud permanent &&
		ip -n "$NS_W" neigh replace "$VETH_NET.1" lladdr "$mac_c" dev "$VETH_W" nud permanent
}
