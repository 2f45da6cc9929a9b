# PostgreSQL and MariaDB for bridge/archive: each on 127.0.0.1 on a port of
# its own, with its data under $IT_DIR, and an empty database for the
# archive's tests. CI runs as root: PostgreSQL runs as the postgres user
# the package creates; MariaDB runs with --user=root.
# Exports ACDBRIDGE_IT_POSTGRES_DSN (a pgx URL) and ACDBRIDGE_IT_MYSQL_DSN
# (a go-sql-driver DSN) for bridge/archive's tests, which drop and make the
# tables, and ACDBRIDGE_IT_POSTGRES_SESSIONS_DSN and
# ACDBRIDGE_IT_MYSQL_SESSIONS_DSN, another database on each server, for
# bridge/sessions' tests, which go test runs at the same time.
APT_PACKAGES+=(postgresql mariadb-server mariadb-client iproute2)
STARTERS+=(start_sql)
STOPPERS+=(stop_sql)


start_sql() {
  local pgbin pgport myport pgdir="$IT_DIR/postgres" mydir="$IT_DIR/mariadb"
  pgbin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  free_port pgport
  chmod o+x "$IT_DIR"
  mkdir -p "$pgdir"
  chown postgres:postgres "$pgdir"
  runuser -u postgres -- "$pgbin/initdb" -D "$pgdir/data" -A trust -U acdbridge -E UTF8 >"$pgdir/initdb.log" 2>&1
  runuser -u postgres -- "$pgbin/postgres" -D "$pgdir/data" -k "$pgdir" -p "$pgport" \
    -c listen_addresses=127.0.0.1 -c fsync=off >"$pgdir/postgres.log" 2>&1 &
  pids+=($!)
  if ! wait_port 127.0.0.1 "$pgport" 60; then
    tail -n 30 "$pgdir/postgres.log" >&2
    return 1
  fi
  runuser -u postgres -- "$pgbin/createdb" -h 127.0.0.1 -p "$pgport" -U acdbridge acdbridge_it
  runuser -u postgres -- "$pgbin/createdb" -h 127.0.0.1 -p "$pgport" -U acdbridge acdbridge_it_sessions
  export ACDBRIDGE_IT_POSTGRES_DSN="postgres://acdbridge@127.0.0.1:$pgport/acdbridge_it?sslmode=disable"
  export ACDBRIDGE_IT_POSTGRES_SESSIONS_DSN="postgres://acdbridge@127.0.0.1:$pgport/acdbridge_it_sessions?sslmode=disable"

  free_port myport
  mkdir -p "$mydir"
  mariadb-install-db --no-defaults --datadir="$mydir/data" --user=root --auth-root-authentication-method=socket \
    >"$mydir/install.log" 2>&1
  mariadbd --no-defaults --datadir="$mydir/data" --socket="$mydir/mariadb.sock" --port="$myport" \
    --bind-address=127.0.0.1 --user=root --pid-file="$mydir/mariadb.pid" --skip-log-bin \
    --innodb-flush-log-at-trx-commit=2 >"$mydir/mariadb.log" 2>&1 &
  pids+=($!)
  if ! wait_port 127.0.0.1 "$myport" 60; then
    tail -n 30 "$mydir/mariadb.log" >&2
    return 1
  fi
  mariadb --no-defaults --socket="$mydir/mariadb.sock" -u root -e \
    "CREATE DATABASE acdbridge_it CHARACTER SET utf8mb4; CREATE DATABASE acdbridge_it_sessions CHARACTER SET utf8mb4;
     CREATE USER 'acdbridge'@'127.0.0.1' IDENTIFIED BY 'acdbridge-it';
     GRANT ALL ON acdbridge_it.* TO 'acdbridge'@'127.0.0.1'; GRANT ALL ON acdbridge_it_sessions.* TO 'acdbridge'@'127.0.0.1';"
  export ACDBRIDGE_IT_MYSQL_DSN="acdbridge:acdbridge-it@tcp(127.0.0.1:$myport)/acdbridge_it"
  export ACDBRIDGE_IT_MYSQL_SESSIONS_DSN="acdbridge:acdbridge-it@tcp(127.0.0.1:$myport)/acdbridge_it_sessions"
}

stop_sql() {
  local pgbin
  pgbin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  if [ -n "$pgbin" ] && [ -d "$IT_DIR/postgres/data" ]; then
    runuser -u postgres -- "$pgbin/pg_ctl" -D "$IT_DIR/postgres/data" -m fast stop >/dev/null 2>&1 || true
  fi
  if [ -f "$IT_DIR/mariadb/mariadb.pid" ]; then
    kill "$(cat "$IT_DIR/mariadb/mariadb.pid")" 2>/dev/null || true
  fi
}
