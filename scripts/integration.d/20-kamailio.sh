# Kamailio 5.6 as a SIP presence server for adapters/sip, and sipp as a
# watcher: two Kamailio instances on 127.0.0.1 (one without auth, one whose
# auth_db challenges PUBLISH and SUBSCRIBE with 407), each with its own
# SQLite database under $IT_DIR, loaded with the standard schema, then the
# presence schema (and auth_db's subscriber table with the test users).
# Exports ACDBRIDGE_IT_KAMAILIO, ACDBRIDGE_IT_KAMAILIO_AUTH (host:port,
# UDP and TCP on the same port) and ACDBRIDGE_IT_SIPP (the sipp binary).
APT_PACKAGES+=(kamailio kamailio-presence-modules kamailio-sqlite-modules sip-tester sqlite3)
STARTERS+=(start_kamailio)
STOPPERS+=(stop_kamailio)


# kamailio_instance NAME PORT [WITH_AUTH]: a database and a Kamailio in
# the foreground of a background job.
kamailio_instance() {
  local name=$1 port=$2 auth=${3:-} dir="$IT_DIR/kamailio-$1" share=/usr/share/kamailio/db_sqlite
  mkdir -p "$dir"
  sqlite3 "$dir/kamailio.db" <"$share/standard-create.sql"
  sqlite3 "$dir/kamailio.db" <"$share/presence-create.sql"
  local defs=(-A "DBURL=\"sqlite:///$dir/kamailio.db\"")
  if [ -n "$auth" ]; then
    sqlite3 "$dir/kamailio.db" <"$share/auth_db-create.sql"
    sqlite3 "$dir/kamailio.db" "INSERT INTO subscriber (username, domain, password) VALUES ('alice', 'example.test', 'alicepw'), ('bob', 'example.test', 'bobpw');"
    defs+=(-A WITH_AUTH)
  fi
  # WAL lets Kamailio's processes read while one writes.
  sqlite3 "$dir/kamailio.db" 'PRAGMA journal_mode=WAL;' >/dev/null
  # -m: shared memory (MB) for the in-memory presentities and transactions.
  kamailio -DD -E -m 256 -M 16 -f adapters/sip/testdata/kamailio/kamailio.cfg "${defs[@]}" \
    -l "udp:127.0.0.1:$port" -l "tcp:127.0.0.1:$port" -w "$dir" -P "$dir/kamailio.pid" \
    >"$dir/kamailio.log" 2>&1 &
  pids+=($!)
  if ! wait_port 127.0.0.1 "$port" 60; then
    tail -n 30 "$dir/kamailio.log" >&2
    return 1
  fi
}

start_kamailio() {
  local plain auth
  free_port plain
  kamailio_instance plain "$plain"
  free_port auth
  kamailio_instance auth "$auth" WITH_AUTH
  export ACDBRIDGE_IT_KAMAILIO="127.0.0.1:$plain"
  export ACDBRIDGE_IT_KAMAILIO_AUTH="127.0.0.1:$auth"
  ACDBRIDGE_IT_SIPP="$(command -v sipp)"
  export ACDBRIDGE_IT_SIPP
}

stop_kamailio() {
  local f
  for f in "$IT_DIR"/kamailio-*/kamailio.pid; do
    [ -e "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
  done
}
