# A small, unreliable service for testing clients: one call in ten fails,
# some bodies are malformed or carry an error behind a 200, every call is
# slower, and streams are cut now and then.
seed    = 3
history = "1d"

queue "support" {}
queue "support/printers" {
  required_fields = ["serial_number"]
}

agents "desk" {
  count  = 8
  queues = ["support", "support/printers"]
}

faults {
  error_rate       = 0.1
  latency_ms       = 150
  malformed_rate   = 0.05
  error_body_rate  = 0.05
  stream_drop_rate = 0.01
}
