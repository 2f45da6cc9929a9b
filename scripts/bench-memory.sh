#!/usr/bin/env bash
# The bridge's resident memory at 100,000 agents: `acdbridge simulate` with
# 100,000 agents and 5,000 queues in one process, `acdbridge run` following
# it in another; once the bridge holds every agent, its VmRSS is sampled for
# SECONDS (default 60) and the peak printed.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${ACDBRIDGE_BIN:-bin/acdbridge}
secs=${1:-60}
dir=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$dir"' EXIT

ACDBRIDGE_SIMULATOR_TOKEN=bench "$bin" simulate --agents 100000 --queues 5000 --listen 127.0.0.1:18089 >"$dir/sim.out" 2>"$dir/sim.err" &
pids+=($!)
cat >"$dir/bench.hcl" <<HCL
data_dir = "$dir/data"
source "remote_support" {
  url   = "http://127.0.0.1:18089"
  token = env("ACDBRIDGE_SOURCE_TOKEN")
}
bus {
  listen = "127.0.0.1:0"
}
api {
  listen = "127.0.0.1:18080"
}
HCL
for _ in $(seq 100); do curl -sf -o /dev/null -H 'Authorization: Bearer bench' http://127.0.0.1:18089/v1/monitors/queues && break; sleep 0.2; done
ACDBRIDGE_SOURCE_TOKEN=bench "$bin" run --config "$dir/bench.hcl" >"$dir/run.out" 2>"$dir/run.err" &
bridge=$!
pids+=($bridge)
start=$(date +%s.%N)
for _ in $(seq 600); do
  n=$(curl -sf http://127.0.0.1:18080/metrics 2>/dev/null | awk '/^acdbridge_agents\{/ {s+=$2} END {print s+0}' || true)
  [ "$n" = 100000 ] && break
  sleep 0.5
done
[ "$n" = 100000 ] || { echo "the bridge holds $n agents, not 100000"; tail "$dir/run.err"; exit 1; }
ready=$(echo "$(date +%s.%N) - $start" | bc)
peak=0
for _ in $(seq "$secs"); do
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$bridge/status")
  [ "$rss" -gt "$peak" ] && peak=$rss
  sleep 1
done
changes=$(curl -sf http://127.0.0.1:18080/metrics | awk '/^acdbridge_availability_changes_total\{/ {s+=$2} END {print s+0}')
printf 'bridge at 100000 agents, 5000 queues: all agents held after %.1f s; peak VmRSS over %d s: %d MiB; availability changes published: %d\n' "$ready" "$secs" $((peak / 1024)) "$changes"
