# The asterisk adapter pauses an agent's queue member in Asterisk (app_queue)
# over the Manager Interface while the agent is busy in a remote-support
# session, and unpauses it afterwards: only pauses it set itself, so an
# agent's own break stays. README.md shows the manager.conf user it needs.
adapter "asterisk" "pbx" {
  address  = "pbx.example.com:5038"
  username = "bridge"
  secret   = env("AMI_SECRET")
  queues   = ["support", "sales"] # default: all the member's queues
  # The agent directory identity naming the member, like "PJSIP/1001".
  interface_identity = "interface"
  auth               = "md5" # or "plain": the secret itself is sent
  timeout            = "5s"  # per action, 100ms to 1m
}
