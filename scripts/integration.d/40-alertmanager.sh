# Prometheus Alertmanager for adapters/alertmanager, and promtool (from the
# prometheus package) for configs/prometheus-rules.yml. Two Alertmanagers
# run on 127.0.0.1, each on a free port, without gossip (--cluster.listen-address
# empty), with their config and storage under $IT_DIR, grouping fast so that
# the tests see alerts within seconds. The Debian packages' own services are
# not used.
# Exports ACDBRIDGE_IT_ALERTMANAGER and ACDBRIDGE_IT_ALERTMANAGER_2 (two
# Alertmanagers' base URLs) and ACDBRIDGE_IT_PROMTOOL.
APT_PACKAGES+=(prometheus-alertmanager prometheus)
STARTERS+=(start_alertmanager)

start_alertmanager() {
  local i port dir
  # Two, as an HA pair would be (without their gossip: the adapter's job is
  # to send to each).
  for i in 1 2; do
    dir="$IT_DIR/alertmanager-$i"
    free_port port
    mkdir -p "$dir/data"
    cat >"$dir/alertmanager.yml" <<'YAML'
global:
  resolve_timeout: 5m
route:
  receiver: default
  group_by: [alertname, queue]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: default
YAML
    prometheus-alertmanager --config.file="$dir/alertmanager.yml" --storage.path="$dir/data" \
      --web.listen-address="127.0.0.1:$port" --cluster.listen-address= \
      >"$dir/alertmanager.log" 2>&1 &
    pids+=($!)
    if ! wait_port 127.0.0.1 "$port" 60; then
      tail -n 30 "$dir/alertmanager.log" >&2
      return 1
    fi
    if [ "$i" = 1 ]; then
      export ACDBRIDGE_IT_ALERTMANAGER="http://127.0.0.1:$port"
    else
      export ACDBRIDGE_IT_ALERTMANAGER_2="http://127.0.0.1:$port"
    fi
  done
  ACDBRIDGE_IT_PROMTOOL="$(command -v promtool)"
  export ACDBRIDGE_IT_PROMTOOL
}
