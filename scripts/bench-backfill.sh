#!/usr/bin/env bash
# The time of a 90-day backfill: `acdbridge simulate` with SESSIONS
# (default 1,000,000) sessions of history spread evenly over the 90-day
# retention, each with a small recording (1 to 4 KiB), and `acdbridge
# sessions sync --since 90d` archiving all of them into SQLite with a high
# source rate limit and concurrency. Prints the sessions archived, the
# seconds, sessions per second, and the archive's size (database and
# recordings folder).
#
#   scripts/bench-backfill.sh 100000     # about 3 minutes
#   scripts/bench-backfill.sh            # 1,000,000: about 30 minutes
#
# The range starts 10 minutes inside the retention (what `--since 90d`
# does), so a few sessions of the oldest 10 minutes are not in it.
# Environment: ACDBRIDGE_BIN (default bin/acdbridge), BENCH_PORT (18090),
# BENCH_CONCURRENCY (64), BENCH_RATE_LIMIT (10000 requests/s, the most the
# config takes), BENCH_DIR (a temporary folder, removed afterwards unless
# set).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${ACDBRIDGE_BIN:-bin/acdbridge}
sessions=${1:-1000000}
port=${BENCH_PORT:-18090}
concurrency=${BENCH_CONCURRENCY:-64}
rate=${BENCH_RATE_LIMIT:-10000}
[[ "$sessions" =~ ^[0-9]+$ && "$sessions" -ge 1000 ]] || { echo "usage: $0 [SESSIONS] (at least 1000, default 1000000)" >&2; exit 2; }
[ -x "$bin" ] || { echo "$bin is missing: run make build first" >&2; exit 1; }
if [ -n "${BENCH_DIR:-}" ]; then
  dir=$BENCH_DIR
  mkdir -p "$dir"
  keep=1
else
  dir=$(mktemp -d)
  keep=0
fi
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ "$keep" = 1 ] || rm -rf "$dir"
}
trap cleanup EXIT

# The simulator's history has rate × 3600 × 0.95 sessions an hour (about
# 5 % of customers give up); the rate that gives SESSIONS over 90 days:
rate_per_minute=$(awk -v n="$sessions" 'BEGIN { printf "%.6f", n / (90 * 24 * 60 * 0.95) }')
# Enough agents for the live sessions at that rate (median 8 minutes).
agents=$(awk -v r="$rate_per_minute" 'BEGIN { a = int(r * 60) + 20; print a }')
cat >"$dir/scenario.hcl" <<HCL
seed    = 7
history = "90d"
sessions {
  recording_min_bytes = 1024
  recording_max_bytes = 4096
}
queue "support" {
  rate_per_minute = $rate_per_minute
}
agents "desk" {
  count        = $agents
  queues       = ["support"]
  max_sessions = 2
}
HCL
cat >"$dir/bridge.hcl" <<HCL
data_dir = "$dir/data"
source "remote_support" {
  url        = "http://127.0.0.1:$port"
  token      = env("ACDBRIDGE_SOURCE_TOKEN")
  rate_limit = $rate
  timeout    = "60s"
}
archive {
  driver      = "sqlite"
  concurrency = $concurrency
}
HCL

ACDBRIDGE_SIMULATOR_TOKEN=bench "$bin" simulate --scenario "$dir/scenario.hcl" --listen "127.0.0.1:$port" >"$dir/sim.out" 2>"$dir/sim.err" &
pids+=($!)
up=0
for _ in $(seq 150); do
  if curl -sf -o /dev/null -H 'Authorization: Bearer bench' "http://127.0.0.1:$port/v1/monitors/queues"; then up=1; break; fi
  sleep 0.2
done
[ "$up" = 1 ] || { echo "the simulator did not start:" >&2; tail "$dir/sim.err" >&2; exit 1; }

echo "backfill of about $sessions sessions over 90 days (queue rate $rate_per_minute/min, $agents agents), concurrency $concurrency, rate limit $rate/s, into SQLite under $dir"
start=$(date +%s.%N)
ACDBRIDGE_SOURCE_TOKEN=bench "$bin" sessions sync --config "$dir/bridge.hcl" --since 90d >"$dir/sync.out" 2>"$dir/sync.err" || {
  echo "sessions sync failed:" >&2
  tail -n 20 "$dir/sync.out" "$dir/sync.err" >&2
  exit 1
}
end=$(date +%s.%N)
# "done: N sessions in the range, A archived now, K already archived, in D"
read -r total archived < <(sed -n 's/^done: \([0-9]*\) sessions in the range, \([0-9]*\) archived now.*/\1 \2/p' "$dir/sync.out")
[ -n "${total:-}" ] || { echo "no summary line from sessions sync:" >&2; tail "$dir/sync.out" >&2; exit 1; }
rows=$(ACDBRIDGE_SOURCE_TOKEN=bench "$bin" report --config "$dir/bridge.hcl" --by queue --since 91d --format csv 2>/dev/null | awk -F, 'NR > 1 { s += $2 } END { print s + 0 }' || echo "?")
db=$(du -cb "$dir"/data/archive.db* | awk 'END { print $1 }')
recs=$(du -sb "$dir/data/recordings" | awk '{ print $1 }')
files=$(find "$dir/data/recordings" -name '*.rec' | wc -l)
awk -v t="$total" -v a="$archived" -v r="$rows" -v s="$start" -v e="$end" -v db="$db" -v rec="$recs" -v f="$files" 'BEGIN {
  sec = e - s
  printf "sessions in the range: %d; archived: %d (report counts %s, recordings %d)\n", t, a, r, f
  printf "seconds: %.1f; sessions/s: %.0f\n", sec, a / sec
  printf "archive: database %.1f MiB, recordings %.1f MiB (%.0f bytes a session in the database)\n", db / 1048576, rec / 1048576, (a > 0 ? db / a : 0)
}'
