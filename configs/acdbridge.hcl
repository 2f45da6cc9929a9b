# What `acdbridge run` does with no --config, written out: the in-process
# simulator as the source, the embedded NATS server, everything on 127.0.0.1.
data_dir = "./data"

simulator {
  agents  = 50
  queues  = 6
  seed    = 1
  speed   = 10 # simulated time runs 10x faster, so the first run shows changes at once
  history = "0"
}

bus {
  # No url: the embedded NATS server with JetStream, storing under data_dir.
  listen = "127.0.0.1:4222"
}

availability {
  unavailable_when = ["in_session", "away", "offline"]
  reason           = "remote-support"
  # Which state speaks when several hold (away with a session still open):
  precedence = ["offline", "in_session", "away", "available"]
  min_dwell  = "0s"
}

api {
  listen = "127.0.0.1:8080"
}

# Ended sessions: whole records into a database, recordings into a folder
# (docs/schema.md). Without dsn and recordings_dir: data_dir/archive.db
# (SQLite) and data_dir/recordings.
archive {
  driver      = "sqlite" # sqlite | postgres | mysql (with dsn = env("..."))
  realtime    = true     # archive each session as it ends
  concurrency = 8        # downloads at once, within the source's rate limit
  # schedule  = "0 2 * * *" # a nightly range sync inside acdbridge run
}

# External adapter executables; one named like a built-in overrides it.
plugins_dir = "./plugins"

# The log adapter prints every call it gets (adapters/log/README.md).
adapter "log" "console" {
}
