#!/usr/bin/env bash
# Three Parley nodes on this machine against one (docs/benchmarks.md,
# "Several nodes"): the same binary runs once as a lone node and once as
# three cluster nodes on loopback ports (embedded NATS routes), and
# `parley load` fills K rooms of 8 through every node's URL. For each run it
# prints what the load tool saw (join → first frame, loss), the rooms each
# node held, and the CPU all server processes used per packet the
# subscribers received. Then, on the three nodes, a light call of 3 rooms of
# 4 entered through one node only (every join local to its room) against
# the same entered through all three (two joins in three relayed).
#
#   scripts/cluster-bench.sh [K ...]        (default K: 3 6)
#
# Run it on an otherwise idle machine: its CPU figures are per packet.
# Needs: go, jq, curl. Everything listens on 127.0.0.1 only.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
ks=("$@")
[ ${#ks[@]} -gt 0 ] || ks=(3 6)
out=$(mktemp -d /tmp/parley-cluster-bench.XXXXXX)
bin="$out/parley"
token=bench-admin-token
pids=()

fail() { echo "cluster-bench: $*" >&2; exit 1; }
for c in go jq curl; do command -v "$c" >/dev/null || fail "$c is missing"; done

stop_all() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
trap stop_all EXIT

(cd "$root" && go build -o "$bin" ./cmd/parley)

# start_node NAME HTTP_PORT SFU_PORT METRICS_PORT [cluster flags…]
start_node() {
  local name=$1 http=$2 sfu=$3 metrics=$4
  shift 4
  PARLEY_ADMIN_TOKEN=$token PARLEY_ROOM_MAX=200 PARLEY_CLUSTER_SECRET=bench-route-secret \
    "$bin" --sfu-loopback=true --http "127.0.0.1:$http" --turn off --sfu-port "$sfu" \
    --metrics "127.0.0.1:$metrics" --log-level warn --unencrypted-rooms 'load-*' "$@" \
    >"$out/$name.log" 2>&1 &
  pids+=($!)
}

# wait_ready URL [want]: /readyz answers 200 (and contains want).
wait_ready() {
  for _ in $(seq 300); do
    if body=$(curl -sf "$1/readyz") && [[ $body == *"${2:-ready}"* ]]; then return 0; fi
    sleep 0.1
  done
  fail "$1 not ready: $(curl -s "$1/readyz")"
}

# cpu_ticks: user+system clock ticks of every running node, summed.
cpu_ticks() {
  local sum=0
  for p in "${pids[@]}"; do
    read -r -a f <"/proc/$p/stat"
    # fields after the command name: utime is the 14th field, stime the 15th
    sum=$((sum + f[13] + f[14]))
  done
  echo "$sum"
}

# rooms_per_node METRICS_URL: "node:rooms" for each node, from its load reports.
rooms_per_node() {
  curl -s "$1" | awk -F'[{}"]' '/^parley_cluster_rooms\{/ { split($0, v, " "); printf "%s:%s ", $3, v[2] }'
}

# run_load LABEL METRICS_URL URLS [load flags…]: one load run, summarised.
run_load() {
  local label=$1 metrics=$2 urls=$3
  shift 3
  local before after hz rooms
  hz=$(getconf CLK_TCK)
  before=$(cpu_ticks)
  # the rooms each node holds, sampled once every room is full
  (sleep "$(awk -v a="$*" 'BEGIN { n = split(a, w, " "); r = 1; p = 8; for (i = 1; i <= n; i++) { if (w[i] == "--rooms") r = w[i+1]; if (w[i] == "--participants") p = w[i+1] } print r * p / 10 + 4 }')"
   rooms_per_node "$metrics" >"$out/$label.rooms") &
  local sampler=$!
  "$bin" load --url "$urls" --json --quiet --ramp 10 "$@" >"$out/$label.json" || true
  after=$(cpu_ticks)
  wait "$sampler" || true
  rooms=$(cat "$out/$label.rooms" 2>/dev/null || true)
  jq -r --arg what "$label" --arg rooms "${rooms:-n/a}" --argjson cpu "$(( after - before ))" --argjson hz "$hz" '
    "\($what): joined \(.joined)/\(.participants), join→all tracks p50 \(.joinMs.p50|floor) ms p95 \(.joinMs.p95|floor) ms, " +
    "loss p50 \(.lossPercent.p50*100|round/100) % max \(.lossPercent.max*100|round/100) %, latency p99 \(.latencyMs.p99*10|round/10) ms, " +
    "received \(.totals.received) pkts in \(.wallSeconds|floor) s, servers \($cpu/$hz*100|round/100) CPU-s = \(if .totals.received > 0 then ($cpu/$hz*1e6/.totals.received*10|round/10) else "n/a" end) µs/pkt, " +
    "rooms per node: \($rooms), verdict: \(.verdict)"' "$out/$label.json"
}

echo "cluster-bench: $(date -u +%FT%TZ), $(uptime)"
echo "cluster-bench: output in $out"

# One node, no cluster.
for k in "${ks[@]}"; do
  start_node one 18180 18190 18170
  wait_ready http://127.0.0.1:18180
  run_load "one node, K=$k" http://127.0.0.1:18170/metrics http://127.0.0.1:18180 --rooms "$k" --participants 8 --duration 15s
  stop_all
done

# Three nodes, each naming the other two.
start_three() {
  for i in 1 2 3; do
    local peers=()
    for j in 1 2 3; do [ "$j" = "$i" ] || peers+=("nats://127.0.0.1:1842$j"); done
    start_node "n$i" "1818$i" "1819$i" "1817$i" --node-name "n$i" \
      --cluster-listen "127.0.0.1:1842$i" --cluster-peers "$(IFS=,; echo "${peers[*]}")"
  done
  for i in 1 2 3; do wait_ready "http://127.0.0.1:1818$i" ": 3 nodes"; done
}
three=http://127.0.0.1:18181,http://127.0.0.1:18182,http://127.0.0.1:18183
for k in "${ks[@]}"; do
  start_three
  run_load "three nodes, K=$k" http://127.0.0.1:18171/metrics "$three" --rooms "$k" --participants 8 --duration 15s
  stop_all
done

# Join → first frame, entering through the room's node or through others.
start_three
for entry in "one node:http://127.0.0.1:18181" "all three:$three"; do
  run_load "3 rooms of 4 entered through ${entry%%:*}" http://127.0.0.1:18171/metrics "${entry#*:}" \
    --rooms 3 --participants 4 --duration 5s --room-prefix "load-join-${entry%% *}-$RANDOM"
done
echo "cluster-bench: done $(date -u +%FT%TZ), $(uptime)"
