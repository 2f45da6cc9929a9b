# A large scenario for load tests of the bridge: 100,000 agents in one queue.
seed    = 7
history = "0"

shifts {
  length       = "8h"
  off          = "4h"
  break_every  = "2h"
  break_length = "15m"
}

queue "load" {
  name = "Load"
}

agents "load" {
  count        = 100000
  queues       = ["load"]
  max_sessions = 2
}
