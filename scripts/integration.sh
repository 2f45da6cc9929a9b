#!/usr/bin/env bash
# The integration suite: installs the real servers it needs with apt-get,
# starts them on 127.0.0.1, runs the Go tests tagged `integration` against
# them and against the built binary, and stops them on the way out.
#
# Servers by issue: none yet beyond the acdbridge binary itself; Kamailio,
# PostgreSQL, MariaDB, Request Tracker, Alertmanager and Chromium join here
# as the adapters that talk to them land.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(curl)

need=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "integration: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_=sudo
  $sudo_ apt-get update -qq
  $sudo_ apt-get install -y -qq "${need[@]}"
fi

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

ACDBRIDGE_BIN="$(pwd)/bin/acdbridge" go test -count=1 -tags integration -timeout 20m ./...
