#!/usr/bin/env bash
# The bridge's resident memory at 100,000 agents: `acdbridge simulate` with
# 100,000 agents and 5,000 queues in one process, `acdbridge run` following
# it in another; once the bridge holds every agent, its VmRSS is sampled every
# second for SECONDS (default 75, so that the window holds at least one of
# the 60 s reconcile polls) and the peak and the median printed, with the
# number of full agent polls (GET /v1/monitors/agents) that fell in the window.
#
# With ACDBRIDGE_PPROF=127.0.0.1:6060 in the environment the bridge serves
# /debug/pprof/ there, and the script saves heap profiles into
# $ACDBRIDGE_BENCH_PROFILES (default: a new temporary folder): one when all
# agents are held, one at the peak sample, one at the end. Read them with
# `go tool pprof -top -inuse_space bin/acdbridge FILE`.
# ACDBRIDGE_BENCH_SAMPLES=FILE keeps the samples (KiB, one a line). It also
# prints the bridge's CPU seconds and GC cycles in the window, and GOMEMLIMIT
# as it was given (`acdbridge run` sets a 240 MiB soft limit unless told).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${ACDBRIDGE_BIN:-bin/acdbridge}
secs=${1:-75}
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
agent_polls() {
  curl -sf http://127.0.0.1:18080/metrics | awk '/^acdbridge_source_requests_total\{/ && /endpoint="agents"/ {s+=$NF} END {print s+0}'
}
profiles=""
if [ -n "${ACDBRIDGE_PPROF:-}" ]; then
  profiles=${ACDBRIDGE_BENCH_PROFILES:-$(mktemp -d -t bench-memory-profiles.XXXXXX)}
  mkdir -p "$profiles"
fi
heap() { [ -z "$profiles" ] || curl -sf -o "$profiles/$1.pb.gz" "http://$ACDBRIDGE_PPROF/debug/pprof/heap" || true; }
heap ready
polls0=$(agent_polls)
gc_cpu() {
  curl -sf http://127.0.0.1:18080/metrics | awk '/^process_cpu_seconds_total / {c=$2} /^go_gc_duration_seconds_count / {g=$2} END {print c+0, g+0}'
}
read -r cpu0 gc0 < <(gc_cpu)
peak=0
: >"$dir/samples"
for _ in $(seq "$secs"); do
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$bridge/status")
  echo "$rss" >>"$dir/samples"
  if [ "$rss" -gt "$peak" ]; then
    peak=$rss
    heap peak
  fi
  sleep 1
done
heap end
polls=$(($(agent_polls) - polls0))
read -r cpu1 gc1 < <(gc_cpu)
file_kib=$(awk '/^RssFile/ {print $2}' "/proc/$bridge/status")
median=$(sort -n "$dir/samples" | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2] + a[NR/2+1]) / 2)}')
changes=$(curl -sf http://127.0.0.1:18080/metrics | awk '/^acdbridge_availability_changes_total\{/ {s+=$2} END {print s+0}')
printf 'bridge at 100000 agents, 5000 queues: all agents held after %.1f s; VmRSS over %d s (%d full agent polls in the window): peak %d MiB, median %d MiB; availability changes published: %d\n' "$ready" "$secs" "$polls" $((peak / 1024)) $((median / 1024)) "$changes"
printf 'in the window: %.1f s of CPU, %d GC cycles; of the last VmRSS, %d MiB are file-backed (the binary); GOMEMLIMIT=%s\n' "$(echo "$cpu1 - $cpu0" | bc)" $((${gc1%.*} - ${gc0%.*})) $((file_kib / 1024)) "${GOMEMLIMIT:-unset}"
[ -z "${ACDBRIDGE_BENCH_SAMPLES:-}" ] || cp "$dir/samples" "$ACDBRIDGE_BENCH_SAMPLES"
[ -z "$profiles" ] || echo "heap profiles in $profiles/"
