# A help desk of 60 agents: a support queue that routes printer and network
# problems to sub-queues, and a sales queue. Run it with
#   acdbridge simulate --scenario configs/simulator/helpdesk.hcl
seed        = 42
speed       = 1
history     = "30d"
utilization = 0.85
start_busy  = 0.6 # share of on-duty agents already in a session at start
code_ttl    = "15m"

sessions {
  median_duration     = "9m"
  p90_duration        = "30m"
  survey_share        = 0.6
  negative_share      = 0.15
  unresolved_share    = 0.1
  recording_min_bytes = 8192
  recording_max_bytes = 2097152
}

customers {
  patience_median = "4m"
}

shifts {
  length       = "8h"
  off          = "4h"
  break_every  = "2h"
  break_length = "15m"
}

queue "support" {
  name = "Support"
  # Office hours, UTC: quiet at night, busiest late morning.
  profile = [0.1, 0.1, 0.1, 0.1, 0.1, 0.2, 0.4, 0.8, 1.2, 1.5, 1.6, 1.5,
             1.3, 1.4, 1.4, 1.3, 1.1, 0.8, 0.5, 0.3, 0.2, 0.1, 0.1, 0.1]

  route {
    field  = "product"
    equals = "printer"
    to     = "support/printers"
  }
  route {
    field  = "product"
    equals = "router"
    to     = "support/network"
  }
}

queue "support/printers" {
  name            = "Printers"
  required_fields = ["serial_number"]
}

queue "support/network" {
  name = "Network"
}

queue "sales" {
  name            = "Sales"
  rate_per_minute = 0.5
}

agents "generalists" {
  count        = 30
  queues       = ["support"]
  max_sessions = 2
}

agents "printer-techs" {
  count  = 12
  queues = ["support/printers", "support"]
}

agents "network-techs" {
  count  = 10
  queues = ["support/network", "support"]
}

agents "sales" {
  count  = 8
  queues = ["sales"]
}
