#!/usr/bin/env bash
# The integration suite: installs the real servers it needs with apt-get,
# starts them on 127.0.0.1, runs the Go tests tagged `integration` against
# them and against the built binary, and stops them on the way out.
#
# Each real server has one file in scripts/integration.d/, sourced here in
# name order. A file appends its Debian packages to APT_PACKAGES and its
# start and stop functions to STARTERS and STOPPERS; a start function
# starts the server in the foreground of a background job (or as a cluster
# the package manages), waits until it answers, and exports the variables
# its tests read (ACDBRIDGE_IT_*). A test whose server is missing fails: it
# does not skip. `integration.sh bench` starts the same servers and runs the
# benchmarks that need them instead of the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(curl)
STARTERS=()
STOPPERS=()
pids=()
IT_DIR="$(mktemp -d /tmp/acdbridge-it.XXXXXX)"
export IT_DIR

# free_port VAR: sets VAR to a port for one server, below the kernel's
# ephemeral range (so no outgoing connection takes it meanwhile), that no
# TCP or UDP socket uses, and not handed out before in this run. (It sets a
# variable rather than printing: a $(...) subshell would forget the ports
# already handed out.)
GIVEN_PORTS=" "
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((10000 + RANDOM % 22000))
    case "$GIVEN_PORTS" in *" $p "*) continue ;; esac
    if [ -z "$(ss -Htuan "( sport = :$p )" 2>/dev/null)" ]; then
      GIVEN_PORTS+="$p "
      printf -v "$1" '%s' "$p"
      return 0
    fi
  done
  echo "integration: no free port found" >&2
  return 1
}

for f in scripts/integration.d/*.sh; do
  [ -e "$f" ] || continue
  # shellcheck source=/dev/null
  . "$f"
done

sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_=sudo
need=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "integration: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_ apt-get -o DPkg::Lock::Timeout=900 update -qq
  $sudo_ apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${need[@]}"
fi

cleanup() {
  for stop in "${STOPPERS[@]}"; do "$stop" || true; done
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$IT_DIR"
}
trap cleanup EXIT

# wait_port HOST PORT SECONDS: until something accepts TCP there.
wait_port() {
  local deadline=$((SECONDS + $3))
  until (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      echo "integration: nothing listens on $1:$2 after $3 s" >&2
      return 1
    fi
    sleep 0.2
  done
}

for start in "${STARTERS[@]}"; do
  echo "integration: $start"
  "$start"
done

if [ "${1:-}" = "bench" ]; then
  # `make bench`: the benchmarks that need a real server (Kamailio,
  # PostgreSQL, MariaDB), tagged integration like the tests.
  ACDBRIDGE_BIN="$(pwd)/bin/acdbridge" go test -count=1 -tags integration -run '^$' -bench "${BENCH:-.}" -benchmem -timeout 30m \
    $(grep -rl --include='*_test.go' '^//go:build integration' . | xargs grep -l '^func Benchmark' | xargs -n1 dirname | sort -u)
  exit
fi
ACDBRIDGE_BIN="$(pwd)/bin/acdbridge" go test -count=1 -tags integration -timeout 30m ./...
