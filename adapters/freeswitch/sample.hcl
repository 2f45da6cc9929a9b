# The freeswitch adapter sets an agent of FreeSWITCH's mod_callcenter to
# "On Break" over the event socket while the agent is busy in a
# remote-support session, and back to "Available" afterwards: only a break
# it set itself, so an agent's own break stays. README.md shows the
# event_socket.conf.xml settings it needs.
adapter "freeswitch" "pbx" {
  address  = "127.0.0.1:8021" # event_socket.conf.xml's listen-ip:listen-port
  password = env("FREESWITCH_ESL_PASSWORD")
  # The agent directory identity naming the mod_callcenter agent, like "1001@default".
  agent_identity   = "callcenter_agent"
  available_status = "Available" # or "Available (On Demand)"
  busy_status      = "On Break"  # or "Logged Out"
  # Remembers which breaks the adapter set, across its restarts.
  state_file = "./data/freeswitch-pbx.state"
  timeout    = "5s" # per command, 100ms to 1m
}
